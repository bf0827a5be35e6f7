//! TLS-DSK sign-in ([MS-SIPAE] over TLS-DSK, Certificate Provisioning GetAndPublishCert)
//! against the doubles: the phone gets a certificate with extension + PIN, user
//! credentials or an OAuth token, runs the TLS handshake inside REGISTER / 401
//! `gssapi-data`, signs its REGISTERs and verifies the signed 200s; all in one thread on
//! a virtual clock, plus one Certificate Provisioning exchange over real HTTPS on
//! 127.0.0.1 (rustls on both ends).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ac_sip::sipe::certprov::{
    self, CertProvResponse, Credentials, GetAndPublishCert, HttpRequest, HttpResponse,
};
use ac_sip::sipe::certprov_server::{Account, CertProvDouble, CertProvEvent};
use ac_sip::sipe::dsk_signin::{DskConfig, DskEvent, DskSignIn, DskSignInState, SignInPolicy};
use ac_sip::sipe::tlsdsk::{self, DskParams};
use ac_sip::sipe::tlsdsk_server::{DskRegistrar, DskServerConfig, DskServerEvent};
use proptest::prelude::*;
use rustls::pki_types::CertificateDer;

const URL: &str = "https://sfb.contoso.com:443/CertProv/CertProvisioningService.svc";
const INVALID: &str = "Invalid address, username or password";

fn wall() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Env {
    certprov: CertProvDouble,
    registrar: DskRegistrar,
    ca: CertificateDer<'static>,
}

fn env(validity: Duration, expires: u32) -> Env {
    let mut certprov = CertProvDouble::new(
        "Contoso Test CA",
        vec![Account {
            sip_uri: "sip:alice@contoso.com".into(),
            user: "CONTOSO\\alice".into(),
            password: "P@ssw0rd!".into(),
            extension: "4201".into(),
            pin: "135790".into(),
        }],
    )
    .unwrap();
    certprov.validity = validity;
    certprov.tokens.insert(
        "eyJ0eXAi.access.token".into(),
        "sip:alice@contoso.com".into(),
    );
    let ca = certprov.ca_der();
    let (chain, key) = certprov.server_cert("sfb.contoso.com").unwrap();
    let tls = tlsdsk::server_config(std::slice::from_ref(&ca), chain, key).unwrap();
    let registrar = DskRegistrar::new(
        DskServerConfig {
            targetname: "sfb.contoso.com".into(),
            version: 4,
            expires,
            sts_uri: URL.into(),
            tls,
        },
        9,
    );
    Env {
        certprov,
        registrar,
        ca,
    }
}

fn phone(
    ca: &CertificateDer<'static>,
    creds: Credentials,
    aor: Option<&str>,
    url: Option<&str>,
) -> DskSignIn {
    DskSignIn::new(
        DskConfig {
            aor: aor.map(str::to_string),
            registrar: "sip:contoso.com".into(),
            contact: "sip:127.0.0.1:5061;transport=tls".into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            epid: "8248ca9ebb".into(),
            instance: "4233FD41-093B-5FD6-B5D2-651ED55969E6".into(),
            expires: 3600,
            user_agent: "AUDC-IPPhone/3.0 (440HD)".into(),
            retry_after: Duration::from_secs(30),
            credentials: creds,
            policy: SignInPolicy::from_schema(),
            certprov_url: url.map(str::to_string),
            device_id: "{4233FD41-093B-5FD6-B5D2-651ED55969E6}".into(),
            roots: vec![ca.clone()],
        },
        7,
    )
}

fn pin(p: &str) -> Credentials {
    Credentials::Pin {
        extension: "4201".into(),
        pin: p.into(),
    }
}

/// Carries HTTP and SIP between the phone and the doubles until neither has more to
/// send; returns (HTTP exchanges, REGISTERs).
fn exchange(p: &mut DskSignIn, e: &mut Env, now: Instant) -> (usize, usize) {
    let (mut h, mut s) = (0, 0);
    loop {
        if let Some(req) = p.poll_http() {
            let resp = e.certprov.handle(&req, wall());
            p.handle_http_response(now, &resp);
            h += 1;
        } else if let Some(req) = p.poll_request() {
            let resp = e
                .registrar
                .handle(&req)
                .expect("the double answers REGISTER");
            p.handle_response(now, &resp);
            s += 1;
        } else {
            return (h, s);
        }
        assert!(h + s < 20, "no loop");
    }
}

fn events(e: &mut Env) -> Vec<DskServerEvent> {
    std::iter::from_fn(|| e.registrar.poll_event()).collect()
}

#[test]
fn signs_in_with_extension_and_pin_and_refreshes() {
    let mut now = Instant::now();
    let mut e = env(Duration::from_secs(8 * 3600), 600);
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(now);
    // One GetAndPublishCert (the URL is known: no REGISTER first), then REGISTER -> 401
    // TLS-DSK challenge -> REGISTER (ClientHello) -> 401 (server flight) -> REGISTER
    // (client flight) -> 401 (ChangeCipherSpec, Finished) -> signed REGISTER -> signed 200.
    assert_eq!(exchange(&mut p, &mut e, now), (1, 4));
    assert!(matches!(
        e.certprov.poll_event(),
        Some(CertProvEvent::Issued { ref sip_uri, how: "pin", .. }) if sip_uri == "sip:alice@contoso.com"
    ));
    assert_eq!(
        p.poll_event(),
        Some(DskEvent::Certificate {
            sip_uri: "sip:alice@contoso.com".into(),
            lifetime: 8 * 3600 + 60
        })
    );
    assert_eq!(p.poll_event(), Some(DskEvent::Registered { expires: 600 }));
    assert_eq!(p.aor(), Some("sip:alice@contoso.com"));
    assert_eq!(
        events(&mut e),
        vec![
            DskServerEvent::Handshake { round: 1 },
            DskServerEvent::Handshake { round: 2 },
            DskServerEvent::Registered {
                sip_uri: "sip:alice@contoso.com".into(),
                cnum: "1".into()
            }
        ]
    );
    // Both ends derived the same keys from the TLS session, and the client's and the
    // server's keys differ.
    let keys = p.sa_mut().unwrap().keys().unwrap().clone();
    assert_ne!(keys.client, keys.server);
    // Refresh at 90 % of the granted 600 s inside the association (cnum 2, no handshake).
    let t = p.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(540));
    now = t;
    p.handle_timeout(now);
    assert_eq!(exchange(&mut p, &mut e, now), (0, 1));
    assert_eq!(p.poll_event(), Some(DskEvent::Registered { expires: 600 }));
    assert_eq!(
        events(&mut e),
        vec![DskServerEvent::Registered {
            sip_uri: "sip:alice@contoso.com".into(),
            cnum: "2".into()
        }]
    );
}

#[test]
fn a_wrong_pin_is_refused_without_retry() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut p = phone(&e.ca, pin("000000"), None, Some(URL));
    p.register(now);
    assert_eq!(exchange(&mut p, &mut e, now), (1, 0));
    assert_eq!(
        e.certprov.poll_event(),
        Some(CertProvEvent::Refused {
            entity: "4201".into()
        })
    );
    match p.poll_event() {
        Some(DskEvent::Failed { code: 500, reason }) => {
            assert!(reason.starts_with(INVALID), "{reason}");
            assert!(reason.contains("FailedAuthentication"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(p.state(), DskSignInState::Failed { .. }));
    // No automatic retry of a wrong PIN.
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn a_tampered_signed_200_is_refused() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(now);
    let req = p.poll_http().unwrap();
    p.handle_http_response(now, &e.certprov.handle(&req, wall()));
    for _ in 0..3 {
        let r = p.poll_request().unwrap();
        p.handle_response(now, &e.registrar.handle(&r).unwrap());
    }
    let r = p.poll_request().unwrap();
    let ok = String::from_utf8(e.registrar.handle(&r).unwrap()).unwrap();
    assert!(ok.starts_with("SIP/2.0 200"));
    assert!(ok.contains("Authentication-Info: TLS-DSK"));
    // Expires is in the signed buffer ([MS-SIPAE] 3.2.5.1).
    let forged = ok.replace("Expires: 600\r\n", "Expires: 6000\r\n");
    assert_ne!(ok, forged);
    p.handle_response(now, forged.as_bytes());
    assert_eq!(
        p.poll_event(),
        Some(DskEvent::Certificate {
            sip_uri: "sip:alice@contoso.com".into(),
            lifetime: 3660
        })
    );
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 200, ref reason }) if reason.contains("signature does not verify")
    ));
    assert!(matches!(p.state(), DskSignInState::Failed { .. }));
}

#[test]
fn the_registrar_refuses_a_bad_request_signature() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(now);
    let req = p.poll_http().unwrap();
    p.handle_http_response(now, &e.certprov.handle(&req, wall()));
    for _ in 0..3 {
        let r = p.poll_request().unwrap();
        p.handle_response(now, &e.registrar.handle(&r).unwrap());
    }
    let r = String::from_utf8(p.poll_request().unwrap()).unwrap();
    let forged = r.replace("Expires: 3600\r\n", "Expires: 7200\r\n");
    assert_ne!(r, forged);
    let resp = String::from_utf8(e.registrar.handle(forged.as_bytes()).unwrap()).unwrap();
    assert!(resp.starts_with("SIP/2.0 401"), "{resp}");
    assert!(events(&mut e).iter().any(
        |ev| matches!(ev, DskServerEvent::Rejected { reason } if reason.contains("signature"))
    ));
    p.handle_response(now, resp.as_bytes());
    assert!(matches!(p.poll_event(), Some(DskEvent::Certificate { .. })));
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 401, ref reason }) if reason == INVALID
    ));
}

#[test]
fn the_certificate_is_renewed_before_it_expires() {
    let start = Instant::now();
    let validity = Duration::from_secs(3600);
    let mut e = env(validity, 1800);
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(start);
    assert_eq!(exchange(&mut p, &mut e, start), (1, 4));
    let mut certs = vec![];
    let mut handshakes = 0;
    let mut now = start;
    // Run the virtual clock for 2.5 lifetimes of the certificate.
    while now < start + validity * 5 / 2 {
        while let Some(ev) = p.poll_event() {
            if let DskEvent::Certificate { .. } = ev {
                certs.push(now - start);
            }
            assert!(!matches!(ev, DskEvent::Failed { .. }), "{ev:?}");
        }
        handshakes += events(&mut e)
            .iter()
            .filter(|ev| matches!(ev, DskServerEvent::Handshake { round: 2 }))
            .count();
        now = p.poll_timeout().unwrap();
        p.handle_timeout(now);
        exchange(&mut p, &mut e, now);
    }
    // Renewed at 80 % of each certificate's lifetime (3,660 s with the double's minute
    // of backdating): always before the previous one expired.
    assert_eq!(
        certs,
        vec![
            Duration::ZERO,
            Duration::from_secs(2928),
            Duration::from_secs(5856),
            Duration::from_secs(8784),
        ]
    );
    for w in certs.windows(2) {
        assert!(w[1] - w[0] < validity);
    }
    // Each certificate got its own TLS-DSK handshake (re-authentication).
    assert_eq!(handshakes, 4);
    assert!(matches!(
        p.state(),
        DskSignInState::Registered { expires: 1800 }
    ));
}

#[test]
fn user_credentials_find_the_service_through_sts_uri() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let creds = Credentials::User {
        user: "CONTOSO\\alice".into(),
        password: "P@ssw0rd!".into(),
    };
    let mut p = phone(&e.ca, creds, Some("sip:alice@contoso.com"), None);
    p.register(now);
    // REGISTER -> 401 TLS-DSK with sts-uri -> GetAndPublishCert -> the handshake.
    assert_eq!(exchange(&mut p, &mut e, now), (1, 5));
    assert!(matches!(
        e.certprov.poll_event(),
        Some(CertProvEvent::Issued { how: "user", .. })
    ));
    assert!(matches!(
        p.state(),
        DskSignInState::Registered { expires: 600 }
    ));
}

#[test]
fn an_oauth_access_token_gets_a_certificate() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut p = phone(
        &e.ca,
        Credentials::Bearer("eyJ0eXAi.access.token".into()),
        Some("sip:alice@contoso.com"),
        Some(URL),
    );
    p.register(now);
    assert_eq!(exchange(&mut p, &mut e, now), (1, 4));
    assert!(matches!(
        e.certprov.poll_event(),
        Some(CertProvEvent::Issued { how: "bearer", .. })
    ));
    assert!(matches!(p.state(), DskSignInState::Registered { .. }));

    let mut bad = phone(
        &e.ca,
        Credentials::Bearer("forged".into()),
        Some("sip:alice@contoso.com"),
        Some(URL),
    );
    bad.register(now);
    assert_eq!(exchange(&mut bad, &mut e, now), (1, 0));
    assert!(matches!(
        bad.poll_event(),
        Some(DskEvent::Failed { ref reason, .. }) if reason.starts_with(INVALID)
    ));
}

#[test]
fn pin_code_only_refuses_user_credentials() {
    let now = Instant::now();
    let e = env(Duration::from_secs(3600), 600);
    let mut p = DskSignIn::new(
        DskConfig {
            aor: Some("sip:alice@contoso.com".into()),
            registrar: "sip:contoso.com".into(),
            contact: "sip:127.0.0.1:5061;transport=tls".into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            epid: "8248ca9ebb".into(),
            instance: "4233FD41-093B-5FD6-B5D2-651ED55969E6".into(),
            expires: 3600,
            user_agent: String::new(),
            retry_after: Duration::from_secs(30),
            credentials: Credentials::User {
                user: "CONTOSO\\alice".into(),
                password: "P@ssw0rd!".into(),
            },
            policy: SignInPolicy::from_values("DEFAULT", "1"),
            certprov_url: Some(URL.into()),
            device_id: "{1}".into(),
            roots: vec![e.ca.clone()],
        },
        1,
    );
    p.register(now);
    assert!(p.poll_http().is_none());
    assert!(p.poll_request().is_none());
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 0, ref reason }) if reason.contains("pin_code_only")
    ));
}

/// A certificate from another CA does not get through the registrar's TLS handshake.
#[test]
fn a_certificate_from_another_ca_fails_the_handshake() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut other = CertProvDouble::new(
        "Evil CA",
        vec![Account {
            sip_uri: "sip:alice@contoso.com".into(),
            user: "x".into(),
            password: "y".into(),
            extension: "4201".into(),
            pin: "135790".into(),
        }],
    )
    .unwrap();
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(now);
    let req = p.poll_http().unwrap();
    p.handle_http_response(now, &other.handle(&req, wall()));
    assert!(matches!(p.poll_event(), Some(DskEvent::Certificate { .. })));
    exchange(&mut p, &mut e, now);
    assert!(events(&mut e)
        .iter()
        .any(|ev| matches!(ev, DskServerEvent::Rejected { reason } if reason.starts_with("TLS"))));
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 401, .. })
    ));
}

#[test]
fn the_fixture_response_parses() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sipe/certprov-response.xml"
    ))
    .unwrap();
    match CertProvResponse::parse(&body).unwrap() {
        CertProvResponse::Issued {
            certificate,
            request_id,
        } => {
            assert_eq!(request_id, "urn:uuid:6f1e2c4a9b7d4e21a3c5d7e9f0b1a2c3");
            // The fixture's certificate: a DER SEQUENCE, read back by x509-parser.
            assert_eq!(certificate[0], 0x30);
            let i = certprov::inspect(&certificate).unwrap();
            assert_eq!(i.sip_uri.as_deref(), Some("sip:alice@contoso.com"));
            let again = CertProvResponse::parse(
                CertProvResponse::Issued {
                    certificate: certificate.clone(),
                    request_id: request_id.clone(),
                }
                .emit()
                .as_bytes(),
            )
            .unwrap();
            assert!(
                matches!(again, CertProvResponse::Issued { certificate: c, .. } if c == certificate)
            );
        }
        other => panic!("{other:?}"),
    }
    let fault = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sipe/certprov-fault.xml"
    ))
    .unwrap();
    assert_eq!(
        CertProvResponse::parse(&fault).unwrap(),
        CertProvResponse::Fault {
            code: "s:Sender/a:FailedAuthentication".into(),
            reason: "The credentials were not accepted.".into()
        }
    );
}

/// GetAndPublishCert over real HTTPS on 127.0.0.1: rustls on both ends, the service's
/// certificate from the double's CA, the request and response through the sans-IO
/// HTTP types.
#[test]
fn certificate_provisioning_over_https() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let (chain, key) = e.certprov.server_cert("localhost").unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let scfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("https://localhost:{port}/CertProv/CertProvisioningService.svc");
    let mut certprov = e.certprov;
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(scfg).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let mut buf = Vec::new();
        let req = loop {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
            if let Some((r, _)) = HttpRequest::decode(&buf).unwrap() {
                break r;
            }
        };
        let resp = certprov.handle(&req, wall());
        s.write_all(&resp.encode()).unwrap();
        s.flush().unwrap();
        s.conn.send_close_notify();
        let _ = s.flush();
        (certprov, req)
    });
    let mut p = phone(&e.ca, pin("135790"), None, Some(&url));
    p.register(now);
    let req = p.poll_http().unwrap();
    let (host, p_port, _) = certprov::split_url(&req.url).unwrap();
    assert_eq!((host.as_str(), p_port), ("localhost", port));
    // The phone's driver: HTTPS POST, the service verified against the CA.
    let resp = ac_sip::sipe::certprov_driver::post(
        &req,
        std::slice::from_ref(&e.ca),
        Some(([127, 0, 0, 1], port).into()),
        Duration::from_secs(10),
    )
    .unwrap();
    let (mut certprov, seen) = server.join().unwrap();
    assert_eq!(resp.status, 200);
    let g = GetAndPublishCert::parse(&seen.body).unwrap();
    assert_eq!(g.entity, "4201");
    p.handle_http_response(now, &resp);
    assert!(matches!(
        certprov.poll_event(),
        Some(CertProvEvent::Issued { how: "pin", .. })
    ));
    assert_eq!(
        p.poll_event(),
        Some(DskEvent::Certificate {
            sip_uri: "sip:alice@contoso.com".into(),
            lifetime: 3660
        })
    );
    // The phone goes on with REGISTER and the certificate it got over HTTPS.
    e.certprov = certprov;
    assert_eq!(exchange(&mut p, &mut e, now), (0, 4));
    assert!(matches!(p.state(), DskSignInState::Registered { .. }));
}

#[test]
fn challenge_values_round_trip() {
    let v = "TLS-DSK realm=\"SIP Communications Service\", targetname=\"sfb.contoso.com\", version=4, sts-uri=\"https://sfb.contoso.com/CertProv/CertProvisioningService.svc\"";
    let p = DskParams::parse(v).unwrap();
    assert_eq!(p.version, 4);
    assert_eq!(
        p.sts_uri.as_deref(),
        Some("https://sfb.contoso.com/CertProv/CertProvisioningService.svc")
    );
    assert_eq!(DskParams::parse(&p.emit()).unwrap(), p);
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9<>&'\"/:._{}-]{0,40}"
}

proptest! {
    #[test]
    fn soap_response_round_trip(cert in proptest::collection::vec(any::<u8>(), 1..600), id in token(), code in token(), reason in token()) {
        let r = CertProvResponse::Issued { certificate: cert, request_id: id };
        prop_assert_eq!(CertProvResponse::parse(r.emit().as_bytes()).unwrap(), r);
        let f = CertProvResponse::Fault { code, reason };
        prop_assert_eq!(CertProvResponse::parse(f.emit().as_bytes()).unwrap(), f);
    }

    #[test]
    fn soap_request_round_trip(csr in proptest::collection::vec(any::<u8>(), 1..600), entity in token(), user in token(), pw in token()) {
        let q = certprov::build_request(URL, "{1}", &entity, &csr, "urn:uuid:2", &Credentials::User { user, password: pw });
        let g = GetAndPublishCert::parse(&q.body).unwrap();
        prop_assert_eq!(&g.csr, &csr);
        prop_assert_eq!(GetAndPublishCert::parse(g.emit().as_bytes()).unwrap(), g);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = CertProvResponse::parse(&body);
        let _ = GetAndPublishCert::parse(&body);
        let _ = HttpResponse::decode(&body);
        let _ = HttpRequest::decode(&body);
    }
}

/// Captures the TLS 1.2 master secret rustls logs (`CLIENT_RANDOM` lines of the NSS key
/// log format) so the test can recompute the key derivation independently.
#[derive(Debug, Default)]
struct KeyCapture(std::sync::Mutex<Option<(Vec<u8>, Vec<u8>)>>);

impl rustls::KeyLog for KeyCapture {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if label == "CLIENT_RANDOM" {
            *self.0.lock().unwrap() = Some((client_random.to_vec(), secret.to_vec()));
        }
    }
}

/// RFC 5246 section 5: PRF(secret, label, seed) = P_<hash>(secret, label + seed), the
/// hash being the cipher suite's PRF hash (SHA-384 for the `*_SHA384` suites rustls
/// prefers, RFC 5289 section 3.2).
fn prf<H: hmac::Mac + hmac::digest::KeyInit>(
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut ls = label.to_vec();
    ls.extend_from_slice(seed);
    let mut a = ls.clone();
    let mut out = Vec::new();
    while out.len() < len {
        let mut m = <H as hmac::digest::KeyInit>::new_from_slice(secret).unwrap();
        m.update(&a);
        a = m.finalize().into_bytes().to_vec();
        let mut m = <H as hmac::digest::KeyInit>::new_from_slice(secret).unwrap();
        m.update(&a);
        m.update(&ls);
        out.extend_from_slice(&m.finalize().into_bytes());
    }
    out.truncate(len);
    out
}

/// The signing keys both ends take from rustls's exporter are the [MS-SIPAE] 3.2.5.1
/// derivation, recomputed here from the logged master secret and the randoms seen on the
/// wire: PRF(master_secret, "client EAP encryption", client_random + server_random), client
/// key = bytes 64..96, server key = 96..128; a request signed with the client key and a
/// response signed with the server key verify against the recomputed keys.
#[test]
fn keys_are_the_eap_tls_key_block_of_the_session() {
    use ac_sip::msg::Message;
    use ac_sip::sipe::tlsdsk::{ClientDskSa, ServerDskSa};
    let mut e = env(Duration::from_secs(3600), 600);
    // A certificate from the double, as the phone gets it.
    let req = certprov::new_cert_request("4201").unwrap();
    let http = certprov::build_request(URL, "{1}", "4201", &req.csr, "r", &pin("135790"));
    let CertProvResponse::Issued { certificate, .. } =
        CertProvResponse::parse(&e.certprov.handle(&http, wall()).body).unwrap()
    else {
        panic!("no certificate")
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(e.ca.clone()).unwrap();
    let mut ccfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from(certificate)],
        rustls::pki_types::PrivateKeyDer::Pkcs8(req.key.serialize_der().into()),
    )
    .unwrap();
    let capture = Arc::new(KeyCapture::default());
    ccfg.key_log = capture.clone();
    let (chain, key) = e.certprov.server_cert("sfb.contoso.com").unwrap();
    let scfg = tlsdsk::server_config(std::slice::from_ref(&e.ca), chain, key).unwrap();
    let ch = DskParams {
        realm: "SIP Communications Service".into(),
        targetname: "sfb.contoso.com".into(),
        version: 4,
        ..Default::default()
    };
    let mut client = ClientDskSa::new(&ch, Arc::new(ccfg), false).unwrap();
    let mut server = ServerDskSa::new(scfg, "sfb.contoso.com", 4, 0x5EED).unwrap();
    let register = "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.com>;tag=1\r\nTo: <sip:alice@contoso.com>\r\nCall-ID: 1\r\nCSeq: 1 REGISTER\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n";
    let m = Message::parse(register.as_bytes()).unwrap();
    let mut server_hello = None;
    for _ in 0..3 {
        if client.keys().is_some() {
            break;
        }
        let flight = DskParams::parse(&client.credentials(&m, 1).unwrap())
            .unwrap()
            .gssapi_data
            .unwrap();
        let out = server.handle_gssapi(&flight).unwrap();
        server_hello.get_or_insert_with(|| out.clone());
        client
            .handle_challenge(&DskParams {
                opaque: Some(server.opaque.clone()),
                gssapi_data: Some(out),
                ..ch.clone()
            })
            .unwrap();
    }
    // The ServerHello opens the server's first flight: record header (5), handshake
    // header (4, type 2), version (2), then the 32-byte random.
    let sh = server_hello.unwrap();
    assert_eq!((sh[0], sh[5]), (0x16, 2));
    let server_random = &sh[11..43];
    let (client_random, master) = capture.0.lock().unwrap().clone().expect("key logged");
    let mut seed = client_random.clone();
    seed.extend_from_slice(server_random);
    // Both ends negotiate TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (rustls's first TLS 1.2
    // suite for an ECDSA server key): its PRF hash is SHA-384.
    let block = prf::<hmac::Hmac<sha2::Sha384>>(&master, b"client EAP encryption", &seed, 128);
    let ck = client.keys().unwrap().clone();
    assert_eq!(&ck.client[..], &block[64..96]);
    assert_eq!(&ck.server[..], &block[96..128]);
    assert_eq!(server.keys(), Some(&ck));
    // A signature made with the recomputed client key is what the association sends.
    let cred = DskParams::parse(&client.credentials(&m, 0xABCD).unwrap()).unwrap();
    let buf = "<TLS-DSK><0000abcd><1><SIP Communications Service><sfb.contoso.com><1><1><REGISTER><sip:alice@contoso.com><1><sip:alice@contoso.com><><><><3600>";
    let mut block_key = [0u8; 32];
    block_key.copy_from_slice(&block[64..96]);
    assert_eq!(
        cred.response.as_deref(),
        Some(tlsdsk::sign(&block_key, buf.as_bytes()).as_str())
    );
    server.verify_request(&m, &cred).unwrap();
}

/// A certificate issued for another SIP URI than the configured sign-in address is not
/// used (the registrar would refuse a From that is not the certificate's URI anyway).
#[test]
fn a_certificate_for_another_user_is_not_used() {
    let now = Instant::now();
    let mut e = env(Duration::from_secs(3600), 600);
    let mut p = phone(&e.ca, pin("135790"), Some("sip:bob@contoso.com"), Some(URL));
    p.register(now);
    assert_eq!(exchange(&mut p, &mut e, now), (1, 0));
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 0, ref reason }) if reason.contains("sip:alice@contoso.com") && reason.contains("sip:bob@contoso.com")
    ));
}

/// A service whose certificate the phone's roots do not vouch for gets no request: the
/// POST fails cleanly (no hang, no response handed on).
#[test]
fn an_untrusted_service_certificate_fails_the_post() {
    let mut e = env(Duration::from_secs(3600), 600);
    let mut stranger = CertProvDouble::new("Stranger CA", vec![]).unwrap();
    let (chain, key) = stranger.server_cert("localhost").unwrap();
    let scfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(scfg).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let mut b = [0u8; 1024];
        // The handshake fails on the client's alert: nothing readable arrives.
        s.read(&mut b).is_err() || s.read(&mut b).map(|n| n == 0).unwrap_or(true)
    });
    let url = format!("https://localhost:{port}/CertProv/CertProvisioningService.svc");
    let mut p = phone(&e.ca, pin("135790"), None, Some(&url));
    let now = Instant::now();
    p.register(now);
    let req = p.poll_http().unwrap();
    let r = ac_sip::sipe::certprov_driver::post(
        &req,
        std::slice::from_ref(&e.ca),
        Some(([127, 0, 0, 1], port).into()),
        Duration::from_secs(10),
    );
    assert!(
        matches!(r, Err(ac_sip::sipe::certprov_driver::PostError::Io(ref io)) if io.to_string().contains("certificate")),
        "{r:?}"
    );
    assert!(server.join().unwrap(), "the server read no request");
    p.handle_http_failure(now);
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 408, ref reason }) if reason == "Failed to connect to Lync server"
    ));
    assert!(e.certprov.poll_event().is_none());
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for c in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s.into_bytes()
}

/// The deployment's shape: TLS-DSK inside a SIP-over-TLS connection (the driver's rustls
/// transport, server certificate from the double's CA). The phone gets its certificate,
/// signs in through the handshake in gssapi-data and refreshes, all over the real socket.
#[test]
fn signs_in_with_tls_dsk_over_the_tls_transport() {
    use ac_sip::driver::{Incoming, TlsSettings, TransportConfig, Transports};
    use ac_sip::transaction::{Transmit, Transport};
    let mut e = env(Duration::from_secs(3600), 600);
    // The SIP transport's certificate (the TLS-DSK association has its own, inside).
    let (chain, key) = e.certprov.server_cert("sfb.contoso.com").unwrap();
    let mut srv_t = Transports::new(&TransportConfig {
        tls: Some("127.0.0.1:0".parse().unwrap()),
        tls_settings: TlsSettings {
            identity: Some((
                pem("CERTIFICATE", &chain[0]),
                pem("PRIVATE KEY", key.secret_der()),
            )),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let srv_addr = srv_t.local_addr(Transport::Tls).unwrap();
    let mut cli_t = Transports::new(&TransportConfig {
        tls_settings: TlsSettings {
            roots: vec![pem("CERTIFICATE", &e.ca)],
            server_name: Some("sfb.contoso.com".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let Env {
        mut certprov,
        mut registrar,
        ca,
    } = e;
    // The registrar double on its own thread until it has answered five REGISTERs or 20 s.
    let done = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(20);
        let mut answered = 0;
        let mut events = Vec::new();
        while answered < 5 && Instant::now() < end {
            if let Some(Incoming::Message {
                transport,
                source,
                data,
            }) = srv_t.recv(Some(end))
            {
                if let Some(r) = registrar.handle(&data) {
                    srv_t
                        .send(&Transmit {
                            transport,
                            dest: source,
                            data: r,
                        })
                        .unwrap();
                    answered += 1;
                }
            }
            while let Some(ev) = registrar.poll_event() {
                events.push(ev);
            }
        }
        (events, srv_t)
    });
    let mut now = Instant::now();
    let mut p = phone(&ca, pin("135790"), None, Some(URL));
    p.register(now);
    let req = p.poll_http().unwrap();
    p.handle_http_response(now, &certprov.handle(&req, wall()));
    let end = Instant::now() + Duration::from_secs(20);
    let mut registered = 0;
    while registered < 2 && Instant::now() < end {
        if let Some(req) = p.poll_request() {
            cli_t
                .send(&Transmit {
                    transport: Transport::Tls,
                    dest: srv_addr,
                    data: req,
                })
                .unwrap();
        }
        match cli_t.recv(Some(Instant::now() + Duration::from_secs(5))) {
            Some(Incoming::Message { data, .. }) => p.handle_response(now, &data),
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("no response from the double"),
        }
        while let Some(ev) = p.poll_event() {
            match ev {
                DskEvent::Certificate { .. } => {}
                DskEvent::Registered { expires } => {
                    assert_eq!(expires, 600);
                    registered += 1;
                    if registered == 1 {
                        now = p.poll_timeout().unwrap();
                        p.handle_timeout(now);
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(registered, 2, "signed in and refreshed over TLS");
    let (events, srv_t) = done.join().unwrap();
    drop(srv_t);
    assert_eq!(
        events
            .iter()
            .filter(|ev| matches!(ev, DskServerEvent::Registered { .. }))
            .count(),
        2
    );
    assert!(events.contains(&DskServerEvent::Handshake { round: 2 }));
}

fn param() -> impl Strategy<Value = String> {
    "[ -~]{0,30}"
}

proptest! {
    /// TLS-DSK header values: parse -> emit -> parse is stable for generated values.
    #[test]
    fn dsk_params_round_trip(
        realm in param(), target in param(), version in 0u32..10,
        opaque in proptest::option::of(param()), sts in proptest::option::of(param()),
        gssapi in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        crand in proptest::option::of("[0-9a-f]{8}"), cnum in proptest::option::of("[0-9]{1,5}"),
        response in proptest::option::of("[0-9a-f]{40}"),
    ) {
        let p = DskParams {
            realm, targetname: target, version, opaque, gssapi_data: gssapi, sts_uri: sts,
            crand, cnum, response, ..Default::default()
        };
        let once = DskParams::parse(&p.emit()).unwrap();
        prop_assert_eq!(&once, &p);
        prop_assert_eq!(DskParams::parse(&once.emit()).unwrap(), once);
    }
}

/// A renewal the service cannot answer leaves the registration standing and is tried
/// again after `retry_after`; one the service refuses is reported and not retried.
#[test]
fn a_failed_renewal_keeps_the_registration() {
    let start = Instant::now();
    let mut e = env(Duration::from_secs(3600), 1800);
    let mut p = phone(&e.ca, pin("135790"), None, Some(URL));
    p.register(start);
    assert_eq!(exchange(&mut p, &mut e, start), (1, 4));
    while p.poll_event().is_some() {}
    // Refreshes at 1,620 s, then the renewal at 2,928 s.
    let mut now = p.poll_timeout().unwrap();
    p.handle_timeout(now);
    exchange(&mut p, &mut e, now);
    assert_eq!(p.poll_event(), Some(DskEvent::Registered { expires: 1800 }));
    now = p.poll_timeout().unwrap();
    assert_eq!(now - start, Duration::from_secs(2928));
    p.handle_timeout(now);
    assert!(p.poll_http().is_some());
    p.handle_http_failure(now);
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { code: 408, .. })
    ));
    assert!(matches!(p.state(), DskSignInState::Registered { .. }));
    assert!(p.sa_mut().is_some(), "the association stands");
    // Retried 30 s later; now the PIN was changed: refused, reported, not retried.
    now = p.poll_timeout().unwrap();
    assert_eq!(now - start, Duration::from_secs(2958));
    p.handle_timeout(now);
    e.certprov.accounts[0].pin = "246802".into();
    assert_eq!(exchange(&mut p, &mut e, now), (1, 0));
    assert!(matches!(
        p.poll_event(),
        Some(DskEvent::Failed { ref reason, .. }) if reason.starts_with(INVALID)
    ));
    assert!(matches!(p.state(), DskSignInState::Registered { .. }));
    // Only the REGISTER refresh is left to do (at 3,240 s).
    assert_eq!(p.poll_timeout().unwrap() - start, Duration::from_secs(3240));
}
