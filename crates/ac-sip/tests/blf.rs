//! BLF through a real presence server: kamailio (presence, presence_dialoginfo, dialog,
//! pua_dialoginfo) proxies a call between two baresips and publishes the callee's dialog
//! state itself (RFC 4235 bodies); our `ac-sip-phone` watches the callee's AOR with a
//! dialog-package subscription and its lamp goes idle -> early (recipient) -> confirmed ->
//! terminated. kamailio challenges the SUBSCRIBE; we answer with digest credentials.

mod peers;

use std::time::Duration;

use peers::{kamailio_presence, Baresip, Ours};

const T: Duration = Duration::from_secs(15);

#[test]
fn a_blf_subscription_tracks_a_baresip_call() {
    let k = kamailio_presence();
    let mut bob = Baresip::start(&k, "bob");
    let alice = Baresip::start(&k, "alice");
    let mut carol = Ours::start(&k, "carol", &[]);
    carol.cmd("watch-dialog sip:bob@example.com");
    // The first NOTIFY (no call yet) makes the lamp idle.
    let first = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(first["state"], "idle", "{first}");
    alice.cmd("/dial sip:bob@example.com");
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(
        (e["state"].as_str(), e["direction"].as_str()),
        (Some("early"), Some("recipient")),
        "{e}"
    );
    bob.cmd("/accept");
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(
        (e["state"].as_str(), e["direction"].as_str()),
        (Some("confirmed"), Some("recipient")),
        "{e}"
    );
    assert_eq!(e["peer"], "sip:alice@example.com", "{e}");
    alice.cmd("/hangup");
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(e["state"], "terminated", "{e}");
    // Every lamp change, in order, and every NOTIFY body was a valid dialog-info document.
    let states: Vec<String> = carol
        .seen("blf")
        .iter()
        .map(|v| v["state"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(states, ["idle", "early", "confirmed", "terminated"]);
    assert!(carol.seen("bad_body").is_empty());
    assert!(carol
        .seen("subscription")
        .iter()
        .any(|v| v["state"] == "active"));
    let log = k.log();
    assert!(
        log.contains("PRESENCE PUBLISH sip:bob@example.com event dialog"),
        "{log}"
    );
    // kamailio challenged our SUBSCRIBE (407) and accepted the digest answer.
    assert!(
        log.contains("AUTHORIZED SUBSCRIBE sip:carol@example.com"),
        "{log}"
    );
}

/// The watcher on its own, NOTIFYs written by hand: versions (a stale document ignored),
/// full and partial state, a partial document after a gap makes it refresh the subscription,
/// a terminated dialog shows once and the lamp goes idle with the next document.
#[test]
fn blf_watcher_follows_versions_and_partial_state() {
    use ac_sip::blf::{BlfEvent, BlfState, BlfWatcher};
    use ac_sip::dialog_info::DialogDirection;
    use ac_sip::msg::{response_to, HeaderName, Message, MessageBuf, Method};
    use ac_sip::subscribe::SubscriptionConfig;
    use std::time::Instant;

    let now = Instant::now();
    let mut w = BlfWatcher::new(
        SubscriptionConfig {
            aor: "sip:carol@example.com".into(),
            target: "sip:bob@example.com".into(),
            contact: "sip:carol@127.0.0.1:5070".into(),
            via_host: "127.0.0.1:5070".into(),
            via_transport: "UDP".into(),
            event: String::new(),
            accept: String::new(),
            expires: 600,
            route: None,
            user_agent: String::new(),
            retry_after: Duration::from_secs(30),
        },
        3,
    );
    w.subscribe(now);
    let sub = w.poll_request().unwrap();
    let s = Message::parse(&sub).unwrap();
    assert_eq!(s.first(HeaderName::Event), Some("dialog"));
    assert_eq!(
        s.first(HeaderName::Accept),
        Some("application/dialog-info+xml")
    );
    let mut ok = response_to(&s, 200, Some("srv"));
    ok.push(HeaderName::Expires, "600");
    ok.push(HeaderName::Contact, "<sip:pres@127.0.0.1:5060>");
    w.handle_response(now, &ok.to_bytes());
    let our_tag = s.from().unwrap().tag().unwrap().into_owned();
    let call_id = s.call_id().unwrap().to_string();
    let mut cseq = 0;
    let mut notify = |w: &mut BlfWatcher, body: String| {
        cseq += 1;
        let mut n = MessageBuf::request(Method::Notify, "sip:carol@127.0.0.1:5070");
        n.push(
            HeaderName::Via,
            "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn".to_string() + &cseq.to_string(),
        );
        n.push(HeaderName::From, "<sip:bob@example.com>;tag=srv");
        n.push(
            HeaderName::To,
            format!("<sip:carol@example.com>;tag={our_tag}"),
        );
        n.push(HeaderName::CallId, call_id.clone());
        n.push(HeaderName::CSeq, format!("{cseq} NOTIFY"));
        n.push(HeaderName::Event, "dialog");
        n.push(HeaderName::SubscriptionState, "active;expires=600");
        n.set_body("application/dialog-info+xml", body.into_bytes());
        assert!(w.handle_request(now, &n.to_bytes()));
        let r = w.poll_response().unwrap();
        assert!(r.starts_with(b"SIP/2.0 200"));
    };
    let doc = |v: u64, full: bool, dialogs: &str| {
        format!(
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"{v}\" state=\"{}\" entity=\"sip:bob@example.com\">{dialogs}</dialog-info>",
            if full { "full" } else { "partial" }
        )
    };
    let dlg = |id: &str, dir: &str, st: &str| {
        format!("<dialog id=\"{id}\" direction=\"{dir}\"><state>{st}</state></dialog>")
    };
    let lamps = |w: &mut BlfWatcher| {
        std::iter::from_fn(|| w.poll_event())
            .filter_map(|e| match e {
                BlfEvent::State {
                    state, direction, ..
                } => Some((state, direction)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    lamps(&mut w);
    notify(&mut w, doc(0, true, ""));
    assert_eq!(lamps(&mut w), [(BlfState::Idle, None)]);
    notify(&mut w, doc(1, true, &dlg("a", "initiator", "trying")));
    assert_eq!(
        lamps(&mut w),
        [(BlfState::Early, Some(DialogDirection::Initiator))]
    );
    // Stale: version 1 again is ignored.
    notify(&mut w, doc(1, true, &dlg("a", "initiator", "confirmed")));
    assert_eq!(lamps(&mut w), []);
    // Partial, in sequence: a second dialog, ringing at the monitored user.
    notify(&mut w, doc(2, false, &dlg("b", "recipient", "early")));
    // Ringing here shows before calling out.
    assert_eq!(
        lamps(&mut w),
        [(BlfState::Early, Some(DialogDirection::Recipient))]
    );
    assert!(w.poll_request().is_none(), "no refresh without a gap");
    notify(&mut w, doc(3, false, &dlg("a", "initiator", "confirmed")));
    assert_eq!(
        lamps(&mut w),
        [(BlfState::Confirmed, Some(DialogDirection::Initiator))]
    );
    // A gap (5 after 3): the watcher refreshes in the dialog to get full state.
    notify(&mut w, doc(5, false, &dlg("a", "initiator", "terminated")));
    let refresh = w.poll_request().expect("refresh after a version gap");
    let r = Message::parse(&refresh).unwrap();
    assert_eq!(r.method(), Some(Method::Subscribe));
    assert_eq!(r.to().unwrap().tag().as_deref(), Some("srv"));
    assert_eq!(
        r.request_uri().unwrap().to_string(),
        "sip:pres@127.0.0.1:5060"
    );
    // "b" is still early: the lamp shows it.
    assert_eq!(
        lamps(&mut w),
        [(BlfState::Early, Some(DialogDirection::Recipient))]
    );
    notify(&mut w, doc(6, true, &dlg("b", "recipient", "terminated")));
    assert_eq!(
        lamps(&mut w),
        [(BlfState::Terminated, Some(DialogDirection::Recipient))]
    );
    notify(&mut w, doc(7, true, ""));
    assert_eq!(lamps(&mut w), [(BlfState::Idle, None)]);
    // A body that is not dialog-info is reported, still answered 200.
    notify(&mut w, "<x/>".into());
    assert!(matches!(w.poll_event(), Some(BlfEvent::BadBody(_))));
}
