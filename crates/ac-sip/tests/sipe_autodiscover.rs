//! AutoDiscover ([MS-OCDISCWS]) client against the service double, on a virtual clock.

use std::time::{Duration, Instant};

use ac_sip::sipe::autodiscover::{
    Autodiscover, AutodiscoverConfig, AutodiscoverEvent, AutodiscoverFailure, Document,
    DocumentError, HomeServer, Link, ResourceKind, SipAccess, ACCEPT, MAX_HOPS,
};
use ac_sip::sipe::autodiscover_server::{AutodiscoverServer, Reply};
use ac_sip::transaction::Transport;
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/sipe/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const INTERNAL: &str = "https://lyncdiscoverinternal.contoso.com/";
const EXTERNAL: &str = "https://lyncdiscover.contoso.com/";
const USER: &str = "https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root/user";

/// Runs the client against the server until it reports; returns the event and the time
/// taken on the virtual clock.
fn run(cfg: AutodiscoverConfig, server: &mut AutodiscoverServer) -> (AutodiscoverEvent, Duration) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut c = Autodiscover::new(cfg);
    c.start(now);
    for _ in 0..100 {
        if let Some(e) = c.poll_event() {
            assert!(c.poll_request().is_none());
            return (e, now - t0);
        }
        if let Some(req) = c.poll_request() {
            assert_eq!(req.method, "GET");
            assert_eq!(req.header("Accept"), Some(ACCEPT));
            match server.handle(&req) {
                Some(resp) => {
                    now += Duration::from_millis(20);
                    // Through the wire codec both ways.
                    let back = ac_sip::sipe::oauth::HttpResponse::parse(&resp.to_bytes()).unwrap();
                    c.handle_response(now, &back);
                }
                None => {
                    let d = c.poll_timeout().expect("a deadline while waiting");
                    now = d;
                    c.handle_timeout(now);
                }
            }
        } else {
            panic!("client neither reports nor asks");
        }
    }
    panic!("no end");
}

fn cfg(value: Option<&str>) -> AutodiscoverConfig {
    AutodiscoverConfig::new("sip:alice@contoso.com", value)
}

fn pool01() -> HomeServer {
    HomeServer {
        host: "pool01.contoso.com".into(),
        port: 5061,
        transport: Transport::Tls,
    }
}

#[test]
fn internal_entry_answers_and_the_home_server_is_found() {
    let mut s = AutodiscoverServer::new();
    s.credentials = Some("Bearer t0ken".into());
    s.route(INTERNAL, Reply::Document(fixture("autodiscover-root.xml")));
    s.user_route(USER, Reply::Document(fixture("autodiscover-user.xml")));
    let mut c = cfg(None);
    c.authorization = Some("Bearer t0ken".into());
    let (e, _) = run(c, &mut s);
    assert_eq!(e, AutodiscoverEvent::Found(pool01()));
    assert_eq!(
        s.log,
        vec![
            format!("{INTERNAL}?sipuri=alice@contoso.com"),
            USER.to_string()
        ]
    );
}

#[test]
fn user_resource_without_credentials_is_401_and_falls_back() {
    let mut s = AutodiscoverServer::new();
    s.credentials = Some("Bearer t0ken".into());
    s.route(INTERNAL, Reply::Document(fixture("autodiscover-root.xml")));
    s.user_route(USER, Reply::Document(fixture("autodiscover-user.xml")));
    let (e, _) = run(cfg(Some("1")), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::Status(401, USER.into()))
    );
}

#[test]
fn silent_internal_entry_times_out_and_external_is_used() {
    let mut s = AutodiscoverServer::new();
    s.route(INTERNAL, Reply::Silent);
    s.route(EXTERNAL, Reply::Document(fixture("autodiscover-root.xml")));
    s.user_route(USER, Reply::Document(fixture("autodiscover-user.xml")));
    let (e, took) = run(cfg(None), &mut s);
    // Reached from the external entry: the external SIP access is preferred.
    assert_eq!(
        e,
        AutodiscoverEvent::Found(HomeServer {
            host: "sip.contoso.com".into(),
            port: 5061,
            transport: Transport::Tls,
        })
    );
    assert!(s.log[0].starts_with(INTERNAL) && s.log[1].starts_with(EXTERNAL));
    assert!(
        took >= Duration::from_secs(10),
        "waited the request timeout: {took:?}"
    );
}

#[test]
fn internal_404_moves_to_external() {
    let mut s = AutodiscoverServer::new();
    s.route(INTERNAL, Reply::Status(404));
    s.route(EXTERNAL, Reply::Document(fixture("autodiscover-root.xml")));
    s.user_route(USER, Reply::Document(fixture("autodiscover-user.xml")));
    let (e, took) = run(cfg(None), &mut s);
    assert!(matches!(e, AutodiscoverEvent::Found(ref h) if h.host == "sip.contoso.com"));
    assert_eq!(s.log.len(), 3);
    assert!(took < Duration::from_secs(1));
}

#[test]
fn redirect_to_another_domain_is_followed() {
    let fab_root = "https://webdir.fabrikam.com/Autodiscover/AutodiscoverService.svc/root";
    let fab_user = "https://webdir.fabrikam.com/Autodiscover/AutodiscoverService.svc/root/user";
    let mut s = AutodiscoverServer::new();
    s.route(
        INTERNAL,
        Reply::Document(fixture("autodiscover-redirect.xml")),
    );
    let root = fixture("autodiscover-root.xml").replace(USER, fab_user);
    s.route(fab_root, Reply::Document(root));
    let user = fixture("autodiscover-user.xml").replace(
        "pool01.contoso.com\" port=\"5061",
        "pool7.fabrikam.com\" port=\"443",
    );
    s.user_route(fab_user, Reply::Document(user));
    let (e, _) = run(cfg(None), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Found(HomeServer {
            host: "pool7.fabrikam.com".into(),
            port: 443,
            transport: Transport::Tls,
        })
    );
    assert_eq!(s.log.len(), 3);
    assert!(s.log[1].starts_with(fab_root));
}

fn redirect_to(url: &str) -> String {
    Document {
        access_location: None,
        kind: ResourceKind::Root,
        links: vec![Link {
            token: "Redirect".into(),
            href: url.into(),
        }],
        sip_internal: None,
        sip_external: None,
    }
    .emit()
}

#[test]
fn redirect_loop_is_refused() {
    // a -> b -> a?again=1 (a new URL: asked) -> b again: a loop.
    let a = "https://a.contoso.com/root";
    let b = "https://b.contoso.com/root";
    let mut s = AutodiscoverServer::new();
    s.route(INTERNAL, Reply::Document(redirect_to(a)));
    s.route(a, Reply::Document(redirect_to(b)));
    s.route(b, Reply::Document(redirect_to(&format!("{a}?again=1"))));
    let (e, _) = run(cfg(None), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::Loop(b.to_string()))
    );
    assert_eq!(s.log.len(), 4);
    assert_eq!(s.log[3], format!("{a}?again=1"));
}

#[test]
fn redirect_chain_stops_at_the_hop_limit() {
    let mut s = AutodiscoverServer::new();
    s.route(
        INTERNAL,
        Reply::Document(redirect_to("https://h0.contoso.com/")),
    );
    for i in 0..50 {
        s.route(
            &format!("https://h{i}.contoso.com/"),
            Reply::Document(redirect_to(&format!("https://h{}.contoso.com/", i + 1))),
        );
    }
    let (e, _) = run(cfg(None), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::HopLimit)
    );
    assert_eq!(s.log.len(), 1 + MAX_HOPS);
}

#[test]
fn redirect_to_plain_http_is_refused() {
    let mut s = AutodiscoverServer::new();
    s.route(
        INTERNAL,
        Reply::Document(redirect_to("http://evil.example/root")),
    );
    let (e, _) = run(cfg(None), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::Insecure(
            "http://evil.example/root".into()
        ))
    );
    assert_eq!(s.log.len(), 1);
}

#[test]
fn http_entry_redirecting_to_https_is_used_last() {
    let mut s = AutodiscoverServer::new();
    s.route(
        "http://lyncdiscoverinternal.contoso.com/",
        Reply::Document(redirect_to(
            "https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root",
        )),
    );
    s.route(
        "https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root",
        Reply::Document(fixture("autodiscover-root.xml")),
    );
    s.user_route(USER, Reply::Document(fixture("autodiscover-user.xml")));
    let (e, _) = run(cfg(None), &mut s);
    assert_eq!(e, AutodiscoverEvent::Found(pool01()));
    // Both https entries timed out first.
    assert_eq!(s.log.len(), 5);
    assert!(s.log[0].starts_with("https://") && s.log[1].starts_with("https://"));
    assert!(s.log[2].starts_with("http://lyncdiscoverinternal."));
}

#[test]
fn disabled_sends_nothing_and_falls_back() {
    assert!(AutodiscoverConfig::enabled(None), "schema default is 1");
    let mut s = AutodiscoverServer::new();
    s.route(INTERNAL, Reply::Document(fixture("autodiscover-root.xml")));
    let (e, took) = run(cfg(Some("0")), &mut s);
    assert_eq!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::Disabled)
    );
    assert!(s.log.is_empty());
    assert_eq!(took, Duration::ZERO);
}

#[test]
fn unreadable_xml_is_a_typed_error_and_falls_back() {
    let mut s = AutodiscoverServer::new();
    s.route(
        INTERNAL,
        Reply::Document("<AutodiscoverResponse><Root>".into()),
    );
    s.route(EXTERNAL, Reply::Document("<html>no</html>".into()));
    let mut c = cfg(None);
    c.try_http = false;
    let (e, _) = run(c, &mut s);
    match e {
        AutodiscoverEvent::Fallback(AutodiscoverFailure::BadDocument(
            url,
            DocumentError::Xml(_),
        )) => {
            assert!(url.starts_with(EXTERNAL))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.log.len(), 2);
    // A DTD (entity expansion) is refused by the bounded parse.
    let dtd =
        "<!DOCTYPE a [<!ENTITY x \"y\">]><AutodiscoverResponse><Root/></AutodiscoverResponse>";
    assert!(matches!(
        Document::parse(dtd.as_bytes()),
        Err(DocumentError::Xml(_))
    ));
    assert_eq!(
        Document::parse(b"<AutodiscoverResponse/>"),
        Err(DocumentError::NoResource)
    );
}

#[test]
fn nobody_answers_means_no_service() {
    let mut s = AutodiscoverServer::new();
    let (e, took) = run(cfg(None), &mut s);
    assert!(matches!(
        e,
        AutodiscoverEvent::Fallback(AutodiscoverFailure::Transport(_))
    ));
    assert_eq!(s.log.len(), 4);
    assert_eq!(took, Duration::from_secs(40));
}

#[test]
fn fixtures_round_trip() {
    for f in [
        "autodiscover-root.xml",
        "autodiscover-user.xml",
        "autodiscover-redirect.xml",
    ] {
        let d = Document::parse(fixture(f).as_bytes()).unwrap();
        let text = d.emit();
        let again = Document::parse(text.as_bytes()).unwrap();
        assert_eq!(d, again, "{f}");
        assert_eq!(again.emit(), text);
    }
    let u = Document::parse(fixture("autodiscover-user.xml").as_bytes()).unwrap();
    assert_eq!(
        u.sip_internal,
        Some(SipAccess {
            fqdn: "pool01.contoso.com".into(),
            port: 5061
        })
    );
    assert_eq!(u.links.len(), 4);
}

fn text() -> impl Strategy<Value = String> {
    "[ -~\t\n\u{e9}\u{4e2d}]{1,40}"
}

fn fqdn() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn documents_round_trip(
        loc in proptest::option::of(text()),
        user in any::<bool>(),
        links in proptest::collection::vec((text(), text()), 0..8),
        si in proptest::option::of((fqdn(), 1u16..)),
        se in proptest::option::of((fqdn(), 1u16..)),
    ) {
        let kind = if user { ResourceKind::User } else { ResourceKind::Root };
        let d = Document {
            access_location: loc,
            kind,
            links: links.into_iter().map(|(token, href)| Link { token, href }).collect(),
            sip_internal: si.filter(|_| user).map(|(fqdn, port)| SipAccess { fqdn, port }),
            sip_external: se.filter(|_| user).map(|(fqdn, port)| SipAccess { fqdn, port }),
        };
        let text = d.emit();
        let back = Document::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(&back, &d);
        prop_assert_eq!(back.emit(), text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Document::parse(&b);
    }
}
