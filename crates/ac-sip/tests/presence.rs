//! Presence through kamailio's presence server (presence + presence_xml on loopback): one
//! `ac-sip-phone` PUBLISHes its PIDF status (RFC 3903), another one SUBSCRIBEs to it (RFC
//! 3856) and sees the basic status and note of each publication; the modification carries
//! SIP-If-Match; the removal (Expires 0) ends the published state. A kamailio restarted in
//! place forgets our entity-tag: its 412 makes us publish afresh. kamailio challenges PUBLISH
//! and SUBSCRIBE; we answer with digest credentials. A virtual-clock check of
//! the publisher's refresh, 423 and removal requests.

mod peers;

use std::time::{Duration, Instant};

use ac_sip::msg::{response_to, HeaderName, Message};
use ac_sip::pidf::{Basic, Presence};
use ac_sip::presence::{PubEvent, PubState, PublishConfig, Publisher};
use peers::{kamailio_presence, kamailio_presence_on, Ours};

const T: Duration = Duration::from_secs(15);

#[test]
fn a_watcher_sees_what_we_publish_through_kamailio() {
    let k = kamailio_presence();
    let mut alice = Ours::start(&k, "alice", &[]);
    let mut bob = Ours::start(&k, "bob", &[]);
    alice.cmd("publish open Available for calls");
    let p1 = alice.event(T, |v| v["event"] == "publish");
    assert_eq!(p1["state"], "published", "{p1}");
    bob.cmd("watch-presence sip:alice@example.com");
    let e = bob.event(T, |v| v["event"] == "presence");
    assert_eq!(
        (e["basic"].as_str(), e["note"].as_str()),
        (Some("open"), Some("Available for calls")),
        "{e}"
    );
    // A modification (RFC 3903 4.4): the new body under SIP-If-Match.
    alice.cmd("publish closed In a meeting");
    let p2 = alice.event(T, |v| v["event"] == "publish");
    assert_eq!(p2["state"], "published", "{p2}");
    assert_ne!(p1["etag"], p2["etag"], "a new entity-tag for the new state");
    let e = bob.event(T, |v| v["event"] == "presence");
    assert_eq!(
        (e["basic"].as_str(), e["note"].as_str()),
        (Some("closed"), Some("In a meeting")),
        "{e}"
    );
    // The removal (RFC 3903 4.5): the watcher no longer sees an open or closed tuple of ours.
    alice.cmd("unpublish");
    let p3 = alice.event(T, |v| v["event"] == "publish");
    assert_eq!(p3["state"], "removed", "{p3}");
    // kamailio then reports its offline state: closed, without our note.
    let e = bob.event(T, |v| v["event"] == "presence");
    assert_eq!(
        (e["basic"].as_str(), e["note"].is_null()),
        (Some("closed"), true),
        "{e}"
    );
    let log = k.log();
    assert_eq!(
        log.matches("PRESENCE PUBLISH sip:alice@example.com event presence")
            .count(),
        3,
        "{log}"
    );
    assert!(bob.seen("bad_body").is_empty());
    // Both PUBLISH and SUBSCRIBE were challenged (407) and answered with digest credentials.
    assert!(
        log.contains("AUTHORIZED PUBLISH sip:alice@example.com"),
        "{log}"
    );
    assert!(
        log.contains("AUTHORIZED SUBSCRIBE sip:bob@example.com"),
        "{log}"
    );
}

#[test]
fn a_server_that_forgot_our_etag_answers_412_and_we_publish_afresh() {
    let k = kamailio_presence();
    let port = k.port;
    let mut alice = Ours::start(&k, "alice", &[]);
    alice.cmd("publish open here");
    let p1 = alice.event(T, |v| v["event"] == "publish");
    assert_eq!(p1["state"], "published", "{p1}");
    // A new presence server in place of the old one: it never gave out that entity-tag.
    drop(k);
    let k2 = kamailio_presence_on(port);
    alice.cmd("publish closed gone");
    alice.event(T, |v| {
        v["event"] == "publish" && v["state"] == "republishing"
    });
    let p2 = alice.event(T, |v| v["event"] == "publish");
    assert_eq!(p2["state"], "published", "{p2}");
    assert_ne!(p1["etag"], p2["etag"]);
    let log = k2.log();
    assert_eq!(
        log.matches("PRESENCE PUBLISH sip:alice@example.com event presence")
            .count(),
        2,
        "the conditional PUBLISH (412) and the initial one: {log}"
    );
}

fn reply(req: &[u8], code: u16, extra: &[(HeaderName<'static>, &str)]) -> Vec<u8> {
    let m = Message::parse(req).unwrap();
    let mut r = response_to(&m, code, Some("srv"));
    for (n, v) in extra {
        r.push(*n, *v);
    }
    r.to_bytes()
}

#[test]
fn publisher_refreshes_without_body_handles_423_and_removes_with_expires_0() {
    let t0 = Instant::now();
    let mut p = Publisher::new(
        PublishConfig {
            aor: "sip:alice@example.com".into(),
            via_host: "127.0.0.1:5070".into(),
            via_transport: "UDP".into(),
            event: "presence".into(),
            content_type: "application/pidf+xml".into(),
            expires: 60,
            route: None,
            user_agent: String::new(),
            retry_after: Duration::from_secs(30),
        },
        1,
    );
    let body = Presence::simple("sip:alice@example.com", "t", Basic::Open, Some("hi")).emit();
    p.publish(t0, body.clone().into_bytes());
    let r1 = p.poll_request().unwrap();
    let m = Message::parse(&r1).unwrap();
    assert_eq!(m.first(HeaderName::SipIfMatch), None);
    assert_eq!(m.first(HeaderName::Event), Some("presence"));
    assert_eq!(m.body, body.as_bytes());
    // 423: again with Min-Expires.
    p.handle_response(t0, &reply(&r1, 423, &[(HeaderName::MinExpires, "120")]));
    let r2 = p.poll_request().unwrap();
    let m = Message::parse(&r2).unwrap();
    assert_eq!(m.expires().unwrap(), Some(120));
    assert_eq!(m.body, body.as_bytes());
    p.handle_response(
        t0,
        &reply(
            &r2,
            200,
            &[(HeaderName::SipEtag, "e1"), (HeaderName::Expires, "100")],
        ),
    );
    assert_eq!(
        p.state(),
        &PubState::Published {
            etag: "e1".into(),
            expires: 100
        }
    );
    // Refresh at 90 s of 100: SIP-If-Match, no body.
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(90)));
    p.handle_timeout(t0 + Duration::from_secs(89));
    assert!(p.poll_request().is_none());
    p.handle_timeout(t0 + Duration::from_secs(90));
    let r3 = p.poll_request().unwrap();
    let m = Message::parse(&r3).unwrap();
    assert_eq!(m.first(HeaderName::SipIfMatch), Some("e1"));
    assert!(m.body.is_empty());
    assert!(m.cseq().unwrap().seq > Message::parse(&r2).unwrap().cseq().unwrap().seq);
    // A modification while the refresh is out waits for it (one PUBLISH at a time).
    let t1 = t0 + Duration::from_secs(91);
    p.publish(t1, b"x".to_vec());
    assert!(p.poll_request().is_none());
    p.handle_response(t1, &reply(&r3, 200, &[(HeaderName::SipEtag, "e2")]));
    let r4 = p.poll_request().unwrap();
    let m = Message::parse(&r4).unwrap();
    assert_eq!(m.first(HeaderName::SipIfMatch), Some("e2"));
    assert_eq!(m.body, b"x");
    p.handle_response(t1, &reply(&r4, 200, &[(HeaderName::SipEtag, "e3")]));
    // Removal: SIP-If-Match e3, Expires 0.
    p.remove(t1);
    let r5 = p.poll_request().unwrap();
    let m = Message::parse(&r5).unwrap();
    assert_eq!(m.first(HeaderName::SipIfMatch), Some("e3"));
    assert_eq!(m.expires().unwrap(), Some(0));
    p.handle_response(t1, &reply(&r5, 200, &[]));
    assert_eq!(p.state(), &PubState::Removed);
    assert_eq!(p.poll_timeout(), None);
    let evs: Vec<PubEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(evs.contains(&PubEvent::StateChanged(PubState::Removed)));
}

#[test]
fn publisher_answers_a_digest_challenge_once_and_gives_up_on_wrong_credentials() {
    let t0 = Instant::now();
    let mut p = Publisher::new(
        PublishConfig {
            aor: "sip:alice@example.com".into(),
            via_host: "127.0.0.1:5070".into(),
            via_transport: "UDP".into(),
            event: "presence".into(),
            content_type: "application/pidf+xml".into(),
            expires: 60,
            route: None,
            user_agent: String::new(),
            retry_after: Duration::from_secs(30),
        },
        2,
    );
    p.set_credentials("alice", "pa55-a");
    p.publish(t0, b"<x/>".to_vec());
    let r1 = p.poll_request().unwrap();
    let ch = "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\"";
    p.handle_response(t0, &reply(&r1, 407, &[(HeaderName::ProxyAuthenticate, ch)]));
    let r2 = p
        .poll_request()
        .expect("the PUBLISH again, with credentials");
    let m = Message::parse(&r2).unwrap();
    let cred = m.first(HeaderName::ProxyAuthorization).unwrap();
    let params = ac_sip::auth::AuthParams::parse(cred).unwrap();
    // The server side recomputes the response over the same method and body.
    assert!(ac_sip::auth::verify(&params, "pa55-a", "PUBLISH", b"<x/>"));
    assert!(!ac_sip::auth::verify(&params, "wrong", "PUBLISH", b"<x/>"));
    assert_eq!(m.body, b"<x/>");
    // The same nonce challenged again: the credentials are wrong; no loop.
    p.handle_response(t0, &reply(&r2, 407, &[(HeaderName::ProxyAuthenticate, ch)]));
    assert!(p.poll_request().is_none());
    assert_eq!(p.state(), &PubState::Failed { code: 407 });
}
