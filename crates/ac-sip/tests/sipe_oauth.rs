//! Online Web sign-in (manual 2.2.5.7) with the OAuth 2.0 device authorization grant
//! (RFC 8628) and token refresh (RFC 6749 6): the RFCs' example messages
//! (`tests/fixtures/sipe/oauth-rfc-examples.txt`), the phone's flow against the Azure AD
//! double on a virtual clock (pending, approval, slow_down, denial, expiry, refresh, a lost
//! connection), the same exchange over real HTTPS on 127.0.0.1 (rustls on both ends, a test
//! CA made with openssl), and proptest round trips of the JSON bodies.

mod sipe_common;

use std::time::{Duration, Instant};

use ac_sip::sipe::aad::{AadConfig, AadDouble, AadEvent};
use ac_sip::sipe::oauth::{
    form_decode, DeviceAuthorization, DeviceFlow, ErrorResponse, HttpRequest, HttpResponse,
    OAuthConfig, OAuthError, OAuthEvent, TokenResponse,
};
use proptest::prelude::*;

const FIXTURE: &str = include_str!("fixtures/sipe/oauth-rfc-examples.txt");

/// The block of the fixture whose title starts with `title`, as (head lines, body).
fn block(title: &str) -> (Vec<String>, String) {
    let text = FIXTURE
        .split("\n=== ")
        .skip(1)
        .find(|b| b.starts_with(title))
        .unwrap_or_else(|| panic!("fixture block {title}"));
    let mut lines = text.lines().skip(1);
    let head: Vec<String> = lines
        .by_ref()
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let body: Vec<&str> = lines.collect();
    (head, body.join("\n"))
}

/// A form body as printed (wrapped) joined into its one line.
fn form_line(body: &str) -> String {
    body.lines().map(str::trim).collect()
}

/// An HTTP response of the fixture as wire bytes (CRLF head, body as printed).
fn response(title: &str) -> HttpResponse {
    let (head, body) = block(title);
    let mut wire = head.join("\r\n");
    wire.push_str(&format!("\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    HttpResponse::parse(wire.as_bytes()).expect("fixture response parses")
}

fn example_cfg() -> OAuthConfig {
    OAuthConfig {
        device_authorization_endpoint: "https://server.example.com/device_authorization".into(),
        token_endpoint: "https://server.example.com/token".into(),
        client_id: "1406020730".into(),
        scope: "example_scope".into(),
        refresh_margin: Duration::from_secs(300),
    }
}

#[test]
fn rfc_examples_parse_and_our_requests_match_them() {
    // RFC 8628 3.2: every member of the example response.
    let r = response("RFC 8628 3.2");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    let da = DeviceAuthorization::parse(&r.body).unwrap();
    assert_eq!(da.device_code, "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS");
    assert_eq!(da.user_code, "WDJB-MJHT");
    assert_eq!(da.verification_uri, "https://example.com/device");
    assert_eq!(
        da.verification_uri_complete.as_deref(),
        Some("https://example.com/device?user_code=WDJB-MJHT")
    );
    assert_eq!((da.expires_in, da.interval), (1800, Some(5)));
    assert_eq!(
        DeviceAuthorization::parse(da.emit().as_bytes()).unwrap(),
        da
    );

    // RFC 6749 5.1 (unknown example_parameter ignored) and 5.2.
    let t = TokenResponse::parse(&response("RFC 6749 5.1").body).unwrap();
    assert_eq!(t.access_token, "2YotnFZFEjr1zCsicMWpAA");
    assert_eq!(t.token_type, "example");
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.refresh_token.as_deref(), Some("tGzv3JOkF0XG5Qx2TlKWIA"));
    let e = ErrorResponse::parse(&response("RFC 6749 5.2").body).unwrap();
    assert_eq!(e.error, "invalid_request");

    // Our device authorization request is the 3.1 example, byte for byte in the body.
    let t0 = Instant::now();
    let mut f = DeviceFlow::new(example_cfg());
    f.start(t0);
    let req = f.poll_request().unwrap();
    let (head, body) = block("RFC 8628 3.1");
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        form_line(&body)
    );
    let wire = String::from_utf8(req.to_bytes()).unwrap();
    assert!(
        wire.starts_with(&format!("{}\r\n{}\r\n", head[0], head[1])),
        "{wire}"
    );
    assert!(wire.contains(&format!("{}\r\n", head[2])));
    // It re-parses as the same request.
    assert_eq!(HttpRequest::parse(&req.to_bytes()).unwrap(), req);

    // The 3.2 response: the phone shows the URL and the pairing code and waits `interval`.
    f.handle_response(t0, &response("RFC 8628 3.2"));
    assert_eq!(
        f.poll_event(),
        Some(OAuthEvent::ShowCode {
            verification_uri: "https://example.com/device".into(),
            user_code: "WDJB-MJHT".into(),
            verification_uri_complete: Some(
                "https://example.com/device?user_code=WDJB-MJHT".into()
            ),
        })
    );
    assert_eq!(f.poll_request(), None);
    assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    f.handle_timeout(t0 + Duration::from_secs(4));
    assert_eq!(f.poll_request(), None, "no poll before the interval");
    f.handle_timeout(t0 + Duration::from_secs(5));
    let poll = f.poll_request().unwrap();
    let (head, body) = block("RFC 8628 3.4");
    assert_eq!(
        String::from_utf8(poll.body.clone()).unwrap(),
        form_line(&body)
    );
    assert!(String::from_utf8(poll.to_bytes())
        .unwrap()
        .starts_with(&format!("{}\r\n{}\r\n", head[0], head[1])));

    // RFC 6749 7.1: the 5.1 example's token_type "example" is not one we understand.
    f.handle_response(t0 + Duration::from_secs(5), &response("RFC 6749 5.1"));
    assert_eq!(
        f.poll_event(),
        Some(OAuthEvent::Failed(OAuthError::TokenType("example".into())))
    );
    assert_eq!(f.token(), None);
    assert_eq!(f.poll_timeout(), None);

    // The refresh request of RFC 6749 6 carries grant_type and refresh_token first, as ours.
    let (_, body) = block("RFC 6749 6");
    let ex = form_decode(&form_line(&body));
    assert_eq!(ex[0], ("grant_type".into(), "refresh_token".into()));
    assert_eq!(ex[1].0, "refresh_token");
}

#[test]
fn invalid_request_error_stops_the_flow() {
    let t0 = Instant::now();
    let mut f = DeviceFlow::new(example_cfg());
    f.start(t0);
    f.poll_request().unwrap();
    f.handle_response(t0, &response("RFC 6749 5.2"));
    assert_eq!(
        f.poll_event(),
        Some(OAuthEvent::Failed(OAuthError::Server {
            error: "invalid_request".into(),
            description: String::new()
        }))
    );
}

const CLIENT: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";

fn aad(interval: u64, lifetime: u64) -> AadDouble {
    AadDouble::new(
        AadConfig {
            device_path: "/common/oauth2/devicecode".into(),
            token_path: "/common/oauth2/token".into(),
            client_id: CLIENT.into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            code_lifetime: Duration::from_secs(900),
            interval: Duration::from_secs(interval),
            token_lifetime: Duration::from_secs(lifetime),
        },
        7,
    )
}

fn flow(host: &str) -> DeviceFlow {
    DeviceFlow::new(OAuthConfig {
        device_authorization_endpoint: format!("https://{host}/common/oauth2/devicecode"),
        token_endpoint: format!("https://{host}/common/oauth2/token"),
        client_id: CLIENT.into(),
        scope: "https://webdir.online.lync.com/.default offline_access".into(),
        refresh_margin: Duration::from_secs(300),
    })
}

/// Runs the flow against the double on a virtual clock until `until` or no more work;
/// every request goes through the wire form (to_bytes / parse) both ways. `on_show` is
/// the user at the browser.
fn run(
    f: &mut DeviceFlow,
    d: &mut AadDouble,
    t0: Instant,
    until: Duration,
    mut on_show: impl FnMut(&mut AadDouble, &str),
    events: &mut Vec<(Duration, OAuthEvent)>,
    requests: &mut Vec<Duration>,
) {
    let mut now = t0;
    loop {
        while let Some(req) = f.poll_request() {
            requests.push(now - t0);
            let wire = req.to_bytes();
            let req = HttpRequest::parse(&wire).unwrap();
            let resp = d.handle(now, &req);
            let resp = HttpResponse::parse(&resp.to_bytes()).unwrap();
            f.handle_response(now, &resp);
        }
        while let Some(e) = f.poll_event() {
            if let OAuthEvent::ShowCode { user_code, .. } = &e {
                on_show(d, user_code);
            }
            events.push((now - t0, e));
        }
        match f.poll_timeout() {
            Some(t) if t - t0 <= until => {
                now = t.max(now);
                f.handle_timeout(now);
            }
            _ => break,
        }
    }
}

#[test]
fn web_sign_in_against_the_double_with_refresh() {
    let t0 = Instant::now();
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    let mut events = Vec::new();
    let mut reqs = Vec::new();
    let mut code = String::new();
    // The user has not gone to the browser yet: 60 s of authorization_pending.
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(60),
        |_, c| code = c.to_string(),
        &mut events,
        &mut reqs,
    );
    assert!(
        matches!(&events[0].1, OAuthEvent::ShowCode { verification_uri, .. } if verification_uri == "https://microsoft.com/devicelogin")
    );
    assert_eq!(code.len(), 9, "XXXX-XXXX pairing code");
    // One device authorization request, then a poll every 5 s (RFC 8628 3.5).
    assert_eq!(reqs.len(), 1 + 12, "{reqs:?}");
    for w in reqs[1..].windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_secs(5));
    }
    let polled = d.take_events();
    assert!(polled
        .iter()
        .filter(|e| matches!(e, AadEvent::Polled { .. }))
        .all(|e| *e
            == AadEvent::Polled {
                outcome: "authorization_pending".into()
            }));
    assert!(f.token().is_none());
    // The user enters the pairing code (lower case, as typed) and signs in.
    assert!(d.approve(&code.to_lowercase(), "alice@contoso.onmicrosoft.com"));
    events.clear();
    reqs.clear();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(66),
        |_, _| {},
        &mut events,
        &mut reqs,
    );
    assert_eq!(
        events,
        vec![(Duration::from_secs(65), OAuthEvent::SignedIn)]
    );
    let tok = f.token().unwrap().clone();
    assert_eq!(tok.token_type, "Bearer");
    assert_eq!(tok.expires_at, Some(t0 + Duration::from_secs(65 + 3600)));
    let auth = f.authorization().unwrap();
    assert_eq!(auth, format!("Bearer {}", tok.access_token));
    assert_eq!(
        d.validate(t0 + Duration::from_secs(70), &tok.access_token),
        Some("alice@contoso.onmicrosoft.com")
    );
    // Refresh 300 s before expiry (RFC 6749 6), with the refresh token; the new refresh
    // token replaces the old, which the double revoked.
    assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(65 + 3300)));
    events.clear();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(65 + 3300),
        |_, _| {},
        &mut events,
        &mut reqs,
    );
    assert_eq!(
        events,
        vec![(Duration::from_secs(3365), OAuthEvent::Refreshed)]
    );
    let tok2 = f.token().unwrap().clone();
    assert_ne!(tok2.access_token, tok.access_token);
    assert_ne!(tok2.refresh_token, tok.refresh_token);
    assert!(d.take_events().contains(&AadEvent::Refreshed {
        user: "alice@contoso.onmicrosoft.com".into()
    }));
    // The old token dies at its expiry, the new one lives on.
    let later = t0 + Duration::from_secs(65 + 3600);
    assert_eq!(d.validate(later, &tok.access_token), None);
    assert!(d.validate(later, &tok2.access_token).is_some());
    // A refresh with a revoked token is refused: the phone must sign in again.
    let stale = HttpRequest::form(
        "https://login.microsoftonline.com/common/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tok.refresh_token.as_deref().unwrap()),
            ("client_id", CLIENT),
        ],
    );
    let r = d.handle(later, &stale);
    assert_eq!(r.status, 400);
    assert_eq!(
        ErrorResponse::parse(&r.body).unwrap().error,
        "invalid_grant"
    );
}

#[test]
fn slow_down_adds_five_seconds_to_every_later_poll() {
    let t0 = Instant::now();
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    // The double grants 5 s; we hand the phone a response claiming 2 s, so it polls too
    // fast and is told slow_down.
    let req = f.poll_request().unwrap();
    let resp = d.handle(t0, &req);
    let mut da = DeviceAuthorization::parse(&resp.body).unwrap();
    da.interval = Some(2);
    f.handle_response(t0, &HttpResponse::json(200, da.emit()));
    let mut events = Vec::new();
    let mut reqs = Vec::new();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(40),
        |_, _| {},
        &mut events,
        &mut reqs,
    );
    let outcomes: Vec<String> = d
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            AadEvent::Polled { outcome } => Some(outcome),
            _ => None,
        })
        .collect();
    // t=2 first poll (pending), t=4 too fast -> slow_down, then every 7 s: pending.
    assert_eq!(outcomes[0], "authorization_pending");
    assert_eq!(outcomes[1], "slow_down");
    assert!(
        outcomes[2..].iter().all(|o| o == "authorization_pending"),
        "{outcomes:?}"
    );
    assert_eq!(f.interval(), Duration::from_secs(7));
    let secs: Vec<u64> = reqs.iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![2, 4, 11, 18, 25, 32, 39]);
}

#[test]
fn denial_expiry_and_lost_connections() {
    // access_denied: the user declined in the browser.
    let t0 = Instant::now();
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    let mut events = Vec::new();
    let mut reqs = Vec::new();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(120),
        |d, c| assert!(d.deny(c)),
        &mut events,
        &mut reqs,
    );
    assert_eq!(
        events.last().unwrap().1,
        OAuthEvent::Failed(OAuthError::Denied)
    );
    assert_eq!(f.poll_timeout(), None, "polling stopped");
    assert_eq!(reqs.len(), 2);

    // Nobody signs in: the code's 900 s run out (the double says expired_token at the
    // first poll after it, or the phone stops on its own at the deadline).
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    events.clear();
    reqs.clear();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(2000),
        |_, _| {},
        &mut events,
        &mut reqs,
    );
    assert_eq!(
        events.last().unwrap(),
        &(
            Duration::from_secs(900),
            OAuthEvent::Failed(OAuthError::Expired)
        )
    );
    assert_eq!(reqs.len(), 1 + 179, "polls at 5..895 s");

    // A connection lost while polling: the interval doubles before the retry (RFC 8628
    // 3.5), and the token still comes.
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    let req = f.poll_request().unwrap();
    let resp = d.handle(t0, &req);
    f.handle_response(t0, &resp);
    let Some(OAuthEvent::ShowCode { user_code, .. }) = f.poll_event() else {
        panic!("no code shown")
    };
    f.handle_timeout(t0 + Duration::from_secs(5));
    assert!(f.poll_request().is_some());
    f.handle_transport_error(t0 + Duration::from_secs(5));
    assert_eq!(f.interval(), Duration::from_secs(10));
    assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(15)));
    assert!(d.approve(&user_code, "bob@contoso.onmicrosoft.com"));
    events.clear();
    reqs.clear();
    run(
        &mut f,
        &mut d,
        t0,
        Duration::from_secs(20),
        |_, _| {},
        &mut events,
        &mut reqs,
    );
    assert_eq!(
        events,
        vec![(Duration::from_secs(15), OAuthEvent::SignedIn)]
    );

    // A 503 from the token endpoint while polling backs off like a lost connection.
    let mut d = aad(5, 3600);
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    let req = f.poll_request().unwrap();
    let resp = d.handle(t0, &req);
    f.handle_response(t0, &resp);
    f.poll_event();
    f.handle_timeout(t0 + Duration::from_secs(5));
    assert!(f.poll_request().is_some());
    let busy = HttpResponse {
        status: 503,
        headers: vec![("Retry-After".into(), "10".into())],
        body: b"<html>busy</html>".to_vec(),
    };
    f.handle_response(t0 + Duration::from_secs(5), &busy);
    assert_eq!(f.poll_event(), None, "not a failure");
    assert_eq!(f.interval(), Duration::from_secs(10));
    assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(15)));

    // Garbage from the token endpoint is a typed error, not a panic.
    let mut f = flow("login.microsoftonline.com");
    f.start(t0);
    f.poll_request().unwrap();
    f.handle_response(t0, &HttpResponse::json(200, "[1,2]".into()));
    assert_eq!(
        f.poll_event(),
        Some(OAuthEvent::Failed(OAuthError::NotObject))
    );
}

#[test]
fn the_double_refuses_bad_requests() {
    let t0 = Instant::now();
    let mut d = aad(5, 3600);
    let url = "https://login.microsoftonline.com/common/oauth2/token";
    let r = d.handle(
        t0,
        &HttpRequest::form(url, &[("grant_type", "password"), ("client_id", CLIENT)]),
    );
    assert_eq!(
        ErrorResponse::parse(&r.body).unwrap().error,
        "unsupported_grant_type"
    );
    let r = d.handle(
        t0,
        &HttpRequest::form(url, &[("client_id", "someone-else")]),
    );
    assert_eq!(
        ErrorResponse::parse(&r.body).unwrap().error,
        "invalid_client"
    );
    let mut get = HttpRequest::form(url, &[]);
    get.method = "GET".into();
    assert_eq!(d.handle(t0, &get).status, 405);
}

#[test]
fn bad_json_and_http_are_typed_errors() {
    assert!(matches!(
        DeviceAuthorization::parse(b"{"),
        Err(OAuthError::Json(_))
    ));
    assert_eq!(
        DeviceAuthorization::parse(
            br#"{"device_code":"a","user_code":"b","verification_uri":"c"}"#
        ),
        Err(OAuthError::Missing("expires_in"))
    );
    assert_eq!(
        TokenResponse::parse(br#"{"access_token":"a","token_type":7}"#),
        Err(OAuthError::BadValue("token_type"))
    );
    // Azure AD's v1 endpoints write expires_in as a string.
    let t =
        TokenResponse::parse(br#"{"access_token":"a","token_type":"Bearer","expires_in":"3599"}"#)
            .unwrap();
    assert_eq!(t.expires_in, Some(3599));
    assert_eq!(
        TokenResponse::parse(br#"{"access_token":"a","token_type":"Bearer","expires_in":-1}"#),
        Err(OAuthError::BadValue("expires_in"))
    );
    assert_eq!(
        ErrorResponse::parse(br#"{"error":"a\"b"}"#),
        Err(OAuthError::BadValue("error"))
    );
    let big = vec![b' '; 70_000];
    assert_eq!(
        TokenResponse::parse(&big),
        Err(OAuthError::TooLarge(70_000))
    );
    let deep = "[".repeat(10_000);
    assert!(matches!(
        TokenResponse::parse(deep.as_bytes()),
        Err(OAuthError::Json(_))
    ));
    assert!(HttpResponse::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").is_err());
    assert!(HttpResponse::parse(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
    assert!(HttpResponse::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
    assert!(
        HttpRequest::parse(b"POST /x HTTP/1.1\r\n\r\n").is_err(),
        "no Host"
    );
}

fn text() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}]{1,40}"
}

proptest! {
    #[test]
    fn device_authorization_round_trips(
        dc in text(), uc in text(), uri in text(), complete in proptest::option::of(text()),
        expires in 0u64..=u32::MAX as u64, interval in proptest::option::of(0u64..100_000),
        message in proptest::option::of(text()),
    ) {
        let v = DeviceAuthorization {
            device_code: dc, user_code: uc, verification_uri: uri,
            verification_uri_complete: complete, expires_in: expires, interval, message,
        };
        let e = v.emit();
        let back = DeviceAuthorization::parse(e.as_bytes()).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.emit(), e);
    }

    #[test]
    fn token_and_error_round_trip(
        at in text(), tt in text(), exp in proptest::option::of(0u64..=u32::MAX as u64),
        rt in proptest::option::of(text()), scope in proptest::option::of(text()),
        err in "[a-z_]{1,20}", desc in proptest::option::of(text()),
    ) {
        let t = TokenResponse { access_token: at, token_type: tt, expires_in: exp, refresh_token: rt, scope };
        prop_assert_eq!(TokenResponse::parse(t.emit().as_bytes()).unwrap(), t);
        let e = ErrorResponse { error: err, error_description: desc, error_uri: None };
        prop_assert_eq!(ErrorResponse::parse(e.emit().as_bytes()).unwrap(), e);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = DeviceAuthorization::parse(&b);
        let _ = TokenResponse::parse(&b);
        let _ = ErrorResponse::parse(&b);
        let _ = HttpResponse::parse(&b);
        let _ = HttpRequest::parse(&b);
        let _ = ac_sip::sipe::oauth::message_len(&b);
    }
}

/// The device code exchange over real HTTPS: the double behind a rustls server on
/// 127.0.0.1, the phone's requests sent by a rustls client that trusts only the test CA.
#[test]
fn web_sign_in_over_https() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    sipe_common::pki(dir.path());
    let load_certs = |p: &str| -> Vec<rustls::pki_types::CertificateDer<'static>> {
        let data = std::fs::read(dir.path().join(p)).unwrap();
        rustls_pemfile::certs(&mut &data[..])
            .map(|c| c.unwrap())
            .collect()
    };
    let key_data = std::fs::read(dir.path().join("srv.key")).unwrap();
    let key = rustls_pemfile::private_key(&mut &key_data[..])
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let srv_cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(load_certs("srv.pem"), key)
            .unwrap(),
    );
    let mut roots = rustls::RootCertStore::empty();
    for c in load_certs("ca.pem") {
        roots.add(c).unwrap();
    }
    let cli_cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t0 = Instant::now();
    // The virtual clock, in seconds since t0, shared with the server thread.
    let clock = Arc::new(AtomicU64::new(0));
    let double = Arc::new(Mutex::new(aad(5, 3600)));
    let server = {
        let (clock, double, srv_cfg) = (clock.clone(), double.clone(), srv_cfg.clone());
        std::thread::spawn(move || {
            // One request per connection; the test makes a bounded number of them.
            for _ in 0..8 {
                let Ok((tcp, _)) = listener.accept() else {
                    return;
                };
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let conn = rustls::ServerConnection::new(srv_cfg.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let len = loop {
                    if let Ok(Some(n)) = ac_sip::sipe::oauth::message_len(&buf) {
                        break n;
                    }
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let req = HttpRequest::parse(&buf[..len]).unwrap();
                let now = t0 + Duration::from_secs(clock.load(Ordering::SeqCst));
                let resp = double.lock().unwrap().handle(now, &req);
                tls.write_all(&resp.to_bytes()).unwrap();
                tls.flush().unwrap();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        })
    };

    let https = |req: &HttpRequest| -> HttpResponse {
        let (host, _) = ac_sip::sipe::oauth::split_url(&req.url).unwrap();
        assert_eq!(host, format!("127.0.0.1:{port}"));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(cli_cfg.clone(), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(&req.to_bytes()).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(n) = ac_sip::sipe::oauth::message_len(&buf).unwrap() {
                return HttpResponse::parse(&buf[..n]).unwrap();
            }
            let n = tls.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed before a whole response");
            buf.extend_from_slice(&chunk[..n]);
        }
    };

    let mut f = flow(&format!("127.0.0.1:{port}"));
    f.start(t0);
    let mut now = t0;
    let mut signed_in = false;
    let mut shown = None;
    for _ in 0..8 {
        while let Some(req) = f.poll_request() {
            let resp = https(&req);
            f.handle_response(now, &resp);
        }
        while let Some(e) = f.poll_event() {
            match e {
                OAuthEvent::ShowCode {
                    user_code,
                    verification_uri,
                    ..
                } => {
                    assert_eq!(verification_uri, "https://microsoft.com/devicelogin");
                    shown = Some(user_code);
                }
                OAuthEvent::SignedIn => signed_in = true,
                other => panic!("{other:?}"),
            }
        }
        if signed_in {
            break;
        }
        // The user approves after the first pending poll.
        if f.polls() == 1 {
            assert!(double
                .lock()
                .unwrap()
                .approve(shown.as_deref().unwrap(), "carol@contoso.onmicrosoft.com"));
        }
        let t = f.poll_timeout().expect("still polling");
        now = t;
        clock.store((t - t0).as_secs(), Ordering::SeqCst);
        f.handle_timeout(now);
    }
    assert!(signed_in, "signed in over HTTPS");
    assert_eq!(f.polls(), 2, "one pending poll, then the token");
    let tok = f.token().unwrap().access_token.clone();
    assert_eq!(
        double.lock().unwrap().validate(now, &tok),
        Some("carol@contoso.onmicrosoft.com")
    );
    // Unblock the server's accept loop and let it finish.
    drop(TcpStream::connect(("127.0.0.1", port)));
    for _ in 0..8 {
        if server.is_finished() {
            break;
        }
        let _ = TcpStream::connect(("127.0.0.1", port));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// HTTPS to 127.0.0.1:`port` with rustls, trusting only `roots`: one request per
/// connection, the response read until complete.
fn https_exchange(
    cfg: &std::sync::Arc<rustls::ClientConfig>,
    port: u16,
    req: &HttpRequest,
) -> HttpResponse {
    use std::io::{Read, Write};
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&req.to_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(n) = ac_sip::sipe::oauth::message_len(&buf).unwrap() {
            return HttpResponse::parse(&buf[..n]).unwrap();
        }
        let n = tls.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before a whole response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The phone's flow against an independent implementation: Authlib's RFC 8628 device
/// authorization endpoint and device code grant and its RFC 6749 refresh grant (Debian
/// `python3-authlib`, driven by `tests/oauth_authlib/server.py`), over HTTPS on 127.0.0.1
/// with a test CA made with openssl. The server's clock follows the test's virtual one.
#[test]
fn web_sign_in_against_authlib() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    sipe_common::pki(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth_authlib/server.py");
    // Debian's interpreter, where python3-authlib is installed (scripts/install-deps).
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(dir.path().join("srv.pem"))
        .arg(dir.path().join("srv.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-authlib (scripts/install-deps)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server's port");

    let data = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &data[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let base = format!("https://127.0.0.1:{port}");
    let control = |params: &[(&str, &str)]| {
        let r = https_exchange(
            &cfg,
            port,
            &HttpRequest::form(&format!("{base}/control"), params),
        );
        assert_eq!(r.status, 200);
    };
    let validate = |token: &str| -> (u16, String) {
        let mut req = HttpRequest::form(&format!("{base}/validate?token={token}"), &[]);
        req.method = "GET".into();
        req.headers.clear();
        let r = https_exchange(&cfg, port, &req);
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    let new_flow = || {
        DeviceFlow::new(OAuthConfig {
            device_authorization_endpoint: format!("{base}/device_authorization"),
            token_endpoint: format!("{base}/token"),
            client_id: CLIENT.into(),
            scope: "https://webdir.online.lync.com/.default".into(),
            refresh_margin: Duration::from_secs(300),
        })
    };
    let t0 = Instant::now();
    // Sends what the flow queued, with the server's clock set to the flow's first.
    let exchange = |f: &mut DeviceFlow, now: Instant| {
        while let Some(req) = f.poll_request() {
            control(&[("clock", &(now - t0).as_secs().to_string())]);
            let resp = https_exchange(&cfg, port, &req);
            f.handle_response(now, &resp);
        }
    };
    let step = |f: &mut DeviceFlow| -> Instant {
        let t = f.poll_timeout().expect("a timer");
        f.handle_timeout(t);
        t
    };

    // Sign in: pending, the user approves, the token; then the refresh.
    let mut f = new_flow();
    f.start(t0);
    exchange(&mut f, t0);
    let Some(OAuthEvent::ShowCode {
        verification_uri,
        user_code,
        verification_uri_complete,
    }) = f.poll_event()
    else {
        panic!("no code shown")
    };
    assert_eq!(verification_uri, "https://microsoft.com/devicelogin");
    assert_eq!(
        verification_uri_complete,
        Some(format!("{verification_uri}?user_code={user_code}"))
    );
    assert_eq!(user_code.len(), 9);
    let t = step(&mut f);
    assert_eq!(t - t0, Duration::from_secs(5));
    exchange(&mut f, t);
    assert_eq!(f.poll_event(), None, "authorization_pending: still waiting");
    assert_eq!(f.polls(), 1);
    control(&[
        ("approve", &user_code),
        ("user", "alice@contoso.onmicrosoft.com"),
    ]);
    let t = step(&mut f);
    assert_eq!(t - t0, Duration::from_secs(10));
    exchange(&mut f, t);
    assert_eq!(f.poll_event(), Some(OAuthEvent::SignedIn));
    let tok = f.token().unwrap().clone();
    assert_eq!(tok.token_type, "Bearer");
    assert_eq!(
        validate(&tok.access_token),
        (200, "alice@contoso.onmicrosoft.com".into())
    );
    assert_eq!(
        f.poll_timeout(),
        Some(t0 + Duration::from_secs(10 + 3600 - 300))
    );
    let t = step(&mut f);
    exchange(&mut f, t);
    assert_eq!(f.poll_event(), Some(OAuthEvent::Refreshed));
    let tok2 = f.token().unwrap().clone();
    assert_ne!(tok2.access_token, tok.access_token);
    assert_ne!(tok2.refresh_token, tok.refresh_token);
    assert_eq!(validate(&tok2.access_token).0, 200);
    // Authlib revoked the old refresh token.
    let stale = HttpRequest::form(
        &format!("{base}/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tok.refresh_token.as_deref().unwrap()),
            ("client_id", CLIENT),
        ],
    );
    let r = https_exchange(&cfg, port, &stale);
    assert_eq!(r.status, 400);
    assert_eq!(
        ErrorResponse::parse(&r.body).unwrap().error,
        "invalid_grant"
    );

    // slow_down: the phone told 2 s polls too fast for Authlib's 5 s; it adds 5 s.
    let mut f = new_flow();
    f.start(t0);
    let req = f.poll_request().unwrap();
    control(&[("clock", "0")]);
    let resp = https_exchange(&cfg, port, &req);
    let mut da = DeviceAuthorization::parse(&resp.body).unwrap();
    assert_eq!(da.interval, Some(5));
    da.interval = Some(2);
    f.handle_response(t0, &HttpResponse::json(200, da.emit()));
    f.poll_event();
    let mut times = Vec::new();
    for _ in 0..4 {
        let t = step(&mut f);
        times.push((t - t0).as_secs());
        exchange(&mut f, t);
    }
    assert_eq!(times, vec![2, 4, 11, 18]);
    assert_eq!(f.interval(), Duration::from_secs(7));
    assert_eq!(f.poll_event(), None, "still pending after slow_down");

    // The user declines: access_denied.
    let mut f = new_flow();
    f.start(t0);
    exchange(&mut f, t0);
    let Some(OAuthEvent::ShowCode { user_code, .. }) = f.poll_event() else {
        panic!("no code shown")
    };
    control(&[("deny", &user_code)]);
    let t = step(&mut f);
    exchange(&mut f, t);
    assert_eq!(f.poll_event(), Some(OAuthEvent::Failed(OAuthError::Denied)));

    // The code expired on the server's side (its clock ran past 900 s): expired_token.
    let mut f = new_flow();
    f.start(t0);
    exchange(&mut f, t0);
    f.poll_event();
    let t = step(&mut f);
    let req = f.poll_request().unwrap();
    control(&[("clock", "1000")]);
    let resp = https_exchange(&cfg, port, &req);
    f.handle_response(t, &resp);
    assert_eq!(
        f.poll_event(),
        Some(OAuthEvent::Failed(OAuthError::Expired))
    );

    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "authlib server exited with {status}");
}
