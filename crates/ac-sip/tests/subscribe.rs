//! The RFC 6665 subscriber against sipp as a voicemail server (RFC 3842) on loopback: the
//! message-summary NOTIFYs update the waiting-message count (3 new, then 0 new / 4 old), the
//! un-SUBSCRIBE (Expires 0) is sent in the dialog and the final NOTIFY terminates it. Also a
//! virtual-clock check of refresh, Timer N and re-subscription after `deactivated`.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ac_sip::msg::{Message, MessageBuf};
use ac_sip::mwi::MessageSummary;
use ac_sip::subscribe::{SubEvent, SubState, Subscription, SubscriptionConfig};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cfg(port: u16, sipp_port: u16) -> SubscriptionConfig {
    SubscriptionConfig {
        aor: "sip:alice@127.0.0.1".into(),
        target: format!("sip:alice@127.0.0.1:{sipp_port}"),
        contact: format!("sip:alice@127.0.0.1:{port}"),
        via_host: format!("127.0.0.1:{port}"),
        via_transport: "UDP".into(),
        event: "message-summary".into(),
        accept: "application/simple-message-summary".into(),
        expires: 3600,
        route: None,
        user_agent: "ac-sip test".into(),
        retry_after: Duration::from_secs(30),
    }
}

#[test]
fn mwi_from_sipp_updates_the_count() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let sipp_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scen = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/mwi_notifier.xml");
    let child = Command::new("sipp")
        .args(["-sf", scen.to_str().unwrap(), "-i", "127.0.0.1", "-p"])
        .arg(sipp_port.to_string())
        .args(["-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin"])
        .args(["-set", "ua", &format!("sip:alice@127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (scripts/install-deps)");
    let _guard = Kill(child);
    // sipp is ready once its port is taken.
    let t0 = Instant::now();
    while UdpSocket::bind(("127.0.0.1", sipp_port)).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(10), "sipp never bound");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dest = ("127.0.0.1", sipp_port);
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut sub = Subscription::new(cfg(port, sipp_port), 7);
    sub.subscribe(Instant::now());
    let mut last_req: Option<(Vec<u8>, Instant)> = None;
    let mut counts: Vec<(bool, (u32, u32))> = Vec::new();
    let mut states = Vec::new();
    let mut unsubscribed = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < deadline {
        let now = Instant::now();
        sub.handle_timeout(now);
        while let Some(r) = sub.poll_request() {
            sock.send_to(&r, dest).unwrap();
            last_req = Some((r, now));
        }
        while let Some(r) = sub.poll_response() {
            sock.send_to(&r, dest).unwrap();
        }
        while let Some(e) = sub.poll_event() {
            match e {
                SubEvent::Notify { body, content_type } => {
                    if !body.is_empty() {
                        assert_eq!(
                            content_type.as_deref(),
                            Some("application/simple-message-summary")
                        );
                        let m = MessageSummary::parse(&body).unwrap();
                        counts.push((m.waiting, m.voice().unwrap()));
                    }
                }
                SubEvent::StateChanged(s) => states.push(s),
                SubEvent::Failed { code } => panic!("SUBSCRIBE failed {code}"),
            }
        }
        if counts.len() == 2 && !unsubscribed {
            unsubscribed = true;
            sub.unsubscribe(now);
            continue;
        }
        if matches!(sub.state(), SubState::Terminated { .. }) {
            break;
        }
        // UDP retransmission of our request (a stand-in for timer E on loopback).
        if let Some((r, at)) = &last_req {
            if now.duration_since(*at) > Duration::from_millis(500) {
                sock.send_to(r, dest).unwrap();
                last_req = Some((r.clone(), now));
            }
        }
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let data = buf[..n].to_vec();
        let Ok(m) = Message::parse(&data) else {
            continue;
        };
        if m.status().is_some() {
            if m.status() >= Some(200) {
                last_req = None;
            }
            sub.handle_response(Instant::now(), &data);
        } else if !sub.handle_request(Instant::now(), &data) {
            let r: MessageBuf = ac_sip::msg::response_to(&m, 481, None);
            sock.send_to(&r.to_bytes(), dest).unwrap();
        }
    }
    assert_eq!(counts, [(true, (3, 1)), (false, (0, 4))]);
    assert_eq!(
        states,
        [
            SubState::Subscribing,
            SubState::Pending,
            SubState::Active { expires: 60 },
            SubState::Active { expires: 50 },
            SubState::Terminated {
                reason: Some("timeout".into())
            }
        ]
    );
    // sipp ends with success once the last 200 arrives.
    let mut g = _guard;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "sipp did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "sipp scenario failed: {status}");
}

fn notify(sub_req: &[u8], cseq: u32, state: &str, body: &str) -> Vec<u8> {
    let m = Message::parse(sub_req).unwrap();
    let from = m.from().unwrap();
    let tag = from.tag().unwrap();
    let mut b = MessageBuf::request(ac_sip::msg::Method::Notify, "sip:alice@127.0.0.1:5060");
    b.push(
        ac_sip::msg::HeaderName::Via,
        "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKn".to_string() + &cseq.to_string(),
    );
    b.push(ac_sip::msg::HeaderName::From, "<sip:vm@127.0.0.1>;tag=vm1");
    b.push(
        ac_sip::msg::HeaderName::To,
        format!("<sip:alice@127.0.0.1>;tag={tag}"),
    );
    b.push(
        ac_sip::msg::HeaderName::CallId,
        m.call_id().unwrap().to_string(),
    );
    b.push(ac_sip::msg::HeaderName::CSeq, format!("{cseq} NOTIFY"));
    b.push(ac_sip::msg::HeaderName::Contact, "<sip:vm@127.0.0.1:5070>");
    b.push(ac_sip::msg::HeaderName::Event, "message-summary");
    b.push(ac_sip::msg::HeaderName::SubscriptionState, state);
    if !body.is_empty() {
        b.set_body(
            "application/simple-message-summary",
            body.as_bytes().to_vec(),
        );
    }
    b.to_bytes()
}

#[test]
fn virtual_clock_refresh_timer_n_and_resubscribe() {
    let t0 = Instant::now();
    let mut sub = Subscription::new(cfg(5060, 5070), 1);
    sub.subscribe(t0);
    let req = sub.poll_request().unwrap();
    let m = Message::parse(&req).unwrap();
    let ok = ac_sip::msg::response_to(&m, 200, Some("vm1"))
        .with(ac_sip::msg::HeaderName::Expires, "100")
        .with(ac_sip::msg::HeaderName::Contact, "<sip:vm@127.0.0.1:5070>")
        .to_bytes();
    sub.handle_response(t0, &ok);
    assert_eq!(sub.state(), &SubState::Pending);
    // A NOTIFY before Timer N: active; refresh at 90 s of 100.
    assert!(sub.handle_request(
        t0,
        &notify(
            &req,
            1,
            "active;expires=100",
            "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n"
        )
    ));
    assert!(sub.poll_response().unwrap().starts_with(b"SIP/2.0 200"));
    assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(90)));
    sub.handle_timeout(t0 + Duration::from_secs(90));
    let refresh = sub.poll_request().expect("refresh");
    let r = Message::parse(&refresh).unwrap();
    // In the dialog: remote target, the notifier's tag, CSeq 2.
    assert_eq!(
        r.request_uri().unwrap().to_string(),
        "sip:vm@127.0.0.1:5070"
    );
    assert_eq!(r.to().unwrap().tag().as_deref(), Some("vm1"));
    assert_eq!(r.cseq().unwrap().seq, 2);
    // An old NOTIFY CSeq is refused 500; a wrong Event 489.
    assert!(sub.handle_request(t0, &notify(&req, 1, "active", "")));
    assert!(sub.poll_response().unwrap().starts_with(b"SIP/2.0 500"));
    // deactivated: re-subscribe at once, with a new Call-ID.
    let old_call = sub.call_id().to_string();
    assert!(sub.handle_request(t0, &notify(&req, 2, "terminated;reason=deactivated", "")));
    sub.handle_timeout(t0 + Duration::from_secs(91));
    let again = sub.poll_request().expect("re-subscribe");
    let a = Message::parse(&again).unwrap();
    assert_ne!(a.call_id().unwrap(), old_call);
    assert!(a.to().unwrap().tag().is_none());
    // Timer N: 2xx but no NOTIFY within 32 s ends it.
    let t1 = t0 + Duration::from_secs(100);
    let ok = ac_sip::msg::response_to(&a, 202, Some("vm2")).to_bytes();
    sub.handle_response(t1, &ok);
    sub.handle_timeout(t1 + Duration::from_secs(33));
    assert_eq!(
        sub.state(),
        &SubState::Terminated {
            reason: Some("timeout".into())
        }
    );
}
