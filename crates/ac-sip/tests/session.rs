//! Calls between two (or three) `Phone` cores in one thread on a virtual clock, with seeded
//! loss: answer, BYE from either side, CANCEL, 486, 488, 100rel/PRACK, hold/resume, 491 glare,
//! session-timer refresh and expiry, 3xx redirect, digest-free direct routing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_sip::call::{CallEvent, CallRef, CallState, Phone, PhoneConfig};
use ac_sip::msg::{response_to, HeaderName, Message, Method};
use ac_sip::offer_answer::{Codec, CodecList, LocalMedia, SrtpPolicy};
use ac_sip::sdp::Direction;
use ac_sip::transaction::{Timers, Transactions, Transport, TxEvent};

fn cfg(name: &str, addr: SocketAddr) -> PhoneConfig {
    PhoneConfig {
        aor: format!("sip:{name}@example.com"),
        display_name: Some(name.to_string()),
        contact: format!("sip:{name}@{addr}"),
        via_host: addr.to_string(),
        transport: Transport::Udp,
        outbound_proxy: None,
        username: String::new(),
        password: String::new(),
        user_agent: "ac-sip-test".into(),
        use_100rel: false,
        session_expires: None,
        min_se: 90,
        busy_on_busy: false,
        auto_ringing: true,
        timers: Timers::default(),
        media: LocalMedia {
            addr: addr.ip(),
            rtp_port: 50020,
            rtcp_port: None,
            codecs: CodecList::defaults(),
            telephone_event: Some(101),
            srtp: SrtpPolicy::Disabled,
            srtp_key: vec![1; 30],
            session_id: 1,
            username: "-".into(),
        },
    }
}

enum Node {
    Phone(Box<Phone>, Vec<CallEvent>),
    /// A redirect server: answers every INVITE with 302 to `to`.
    Redirect(Box<Transactions>, String),
}

struct Net {
    nodes: HashMap<SocketAddr, Node>,
    now: Instant,
    rng: u64,
    /// Percent of datagrams lost.
    loss: u64,
    /// Datagrams from this node are dropped (a dead peer).
    mute: Option<SocketAddr>,
    /// Every delivered message's first line, as (from, to, line).
    trace: Vec<(SocketAddr, SocketAddr, String)>,
}

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";
const C: &str = "10.0.0.3:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Net {
    fn new(seed: u64, loss: u64) -> Net {
        Net {
            nodes: HashMap::new(),
            now: Instant::now(),
            rng: seed,
            loss,
            mute: None,
            trace: Vec::new(),
        }
    }

    fn add(&mut self, a: &str, c: PhoneConfig) {
        self.nodes.insert(
            addr(a),
            Node::Phone(Box::new(Phone::new(c, self.rng ^ 0x55)), Vec::new()),
        );
        self.rng = self.rng.wrapping_mul(6364136223846793005).wrapping_add(1);
    }

    fn phone(&mut self, a: &str) -> &mut Phone {
        match self.nodes.get_mut(&addr(a)) {
            Some(Node::Phone(p, _)) => p,
            _ => panic!("no phone at {a}"),
        }
    }

    fn events(&mut self, a: &str) -> &mut Vec<CallEvent> {
        match self.nodes.get_mut(&addr(a)) {
            Some(Node::Phone(_, e)) => e,
            _ => panic!("no phone at {a}"),
        }
    }

    fn lose(&mut self) -> bool {
        self.rng = self
            .rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.rng >> 33) % 100 < self.loss
    }

    /// Moves datagrams until none is left, then events out.
    fn settle(&mut self) {
        loop {
            let mut out = Vec::new();
            for (&from, n) in self.nodes.iter_mut() {
                match n {
                    Node::Phone(p, ev) => {
                        while let Some(t) = p.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                        while let Some(e) = p.poll_event() {
                            ev.push(e);
                        }
                    }
                    Node::Redirect(tx, _) => {
                        while let Some(t) = tx.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                    }
                }
            }
            if out.is_empty() {
                return;
            }
            for (from, to, data) in out {
                if self.mute == Some(from) || self.lose() {
                    continue;
                }
                let line = String::from_utf8_lossy(&data)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                self.trace.push((from, to, line));
                let now = self.now;
                match self.nodes.get_mut(&to) {
                    Some(Node::Phone(p, _)) => p.handle_message(now, Transport::Udp, from, &data),
                    Some(Node::Redirect(tx, target)) => {
                        tx.handle_message(now, Transport::Udp, from, &data);
                        while let Some(e) = tx.poll_event() {
                            if let TxEvent::Request { tx: id, data, .. } = e {
                                let m = Message::parse(&data).unwrap();
                                if m.method() == Some(Method::Invite) {
                                    let mut r = response_to(&m, 302, Some("redir"));
                                    r.push(HeaderName::Contact, format!("<{target}>"));
                                    tx.respond(now, id, r.to_bytes()).unwrap();
                                }
                            }
                        }
                    }
                    None => {}
                }
            }
        }
    }

    /// Runs the virtual clock until `done` holds or `limit` of virtual time passed.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            let next = self
                .nodes
                .values()
                .filter_map(|n| match n {
                    Node::Phone(p, _) => p.poll_timeout(),
                    Node::Redirect(tx, _) => tx.poll_timeout(),
                })
                .min();
            let Some(next) = next.filter(|t| *t <= end) else {
                self.now = end;
                self.settle();
                return done(self);
            };
            self.now = self.now.max(next);
            let now = self.now;
            for n in self.nodes.values_mut() {
                match n {
                    Node::Phone(p, _) => p.handle_timeout(now),
                    Node::Redirect(tx, _) => tx.handle_timeout(now),
                }
            }
        }
    }

    fn has(&mut self, a: &str, f: impl Fn(&CallEvent) -> bool) -> bool {
        self.events(a).iter().any(f)
    }

    fn incoming(&mut self, a: &str) -> Option<CallRef> {
        self.events(a).iter().find_map(|e| match e {
            CallEvent::Incoming { call, .. } => Some(*call),
            _ => None,
        })
    }

    fn last_direction(&mut self, a: &str) -> Option<Direction> {
        self.events(a).iter().rev().find_map(|e| match e {
            CallEvent::Media { negotiated, .. } => Some(negotiated.direction),
            _ => None,
        })
    }
}

fn ended(e: &CallEvent) -> bool {
    matches!(e, CallEvent::Ended { .. })
}

fn answered(e: &CallEvent) -> bool {
    matches!(e, CallEvent::Answered { .. })
}

/// A calls B, B answers: returns both call handles.
fn establish(net: &mut Net) -> (CallRef, CallRef) {
    let now = net.now;
    let a = net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| n.incoming(B).is_some()));
    let b = net.incoming(B).unwrap();
    let now = net.now;
    net.phone(B).answer(now, b).unwrap();
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.has(A, answered)
            && n.has(B, answered)),
        "trace: {:#?}",
        net.trace
    );
    (a, b)
}

fn two(seed: u64, loss: u64) -> Net {
    let mut net = Net::new(seed, loss);
    net.add(A, cfg("alice", addr(A)));
    net.add(B, cfg("bob", addr(B)));
    net
}

#[test]
fn call_answer_and_bye_from_the_caller() {
    let mut net = two(1, 0);
    let (a, b) = establish(&mut net);
    // Both sides negotiated SILK 16 kHz (first in the factory list) with each other's ports.
    let media = |n: &mut Net, x: &str| {
        n.events(x)
            .iter()
            .find_map(|e| match e {
                CallEvent::Media { negotiated, .. } => Some(negotiated.clone()),
                _ => None,
            })
            .unwrap()
    };
    let ma = media(&mut net, A);
    let mb = media(&mut net, B);
    assert_eq!(ma.codec, Codec::Silk16000);
    assert_eq!(mb.codec, Codec::Silk16000);
    assert_eq!(ma.remote_rtp.unwrap().ip(), addr(B).ip());
    assert_eq!(mb.remote_rtp.unwrap().port(), ma.local_rtp_port);
    assert!(net.has(A, |e| matches!(e, CallEvent::Progress { code: 180, .. })));
    assert_eq!(net.phone(A).state(a), Some(CallState::Confirmed));
    let now = net.now;
    net.phone(A).hangup(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(40), |n| n.has(A, ended)
        && n.has(B, ended)));
    assert!(net.has(B, |e| *e
        == CallEvent::Ended {
            call: b,
            by_peer: true,
            code: 200
        }));
    assert!(net.phone(A).calls().is_empty() && net.phone(B).calls().is_empty());
}

#[test]
fn bye_from_the_callee() {
    let mut net = two(2, 0);
    let (a, b) = establish(&mut net);
    let now = net.now;
    net.phone(B).hangup(now, b).unwrap();
    assert!(net.run_until(Duration::from_secs(40), |n| n.has(A, ended)
        && n.has(B, ended)));
    assert!(net.has(A, |e| *e
        == CallEvent::Ended {
            call: a,
            by_peer: true,
            code: 200
        }));
}

#[test]
fn calls_complete_under_20_percent_loss() {
    for seed in 1..=12 {
        let mut net = two(seed * 7919, 20);
        let (a, _) = establish(&mut net);
        let now = net.now;
        net.phone(A).hold(now, a).unwrap();
        assert!(
            net.run_until(Duration::from_secs(60), |n| n
                .has(B, |e| matches!(e, CallEvent::RemoteHold { held: true, .. }))),
            "seed {seed}: hold"
        );
        let now = net.now;
        net.phone(A).hangup(now, a).unwrap();
        assert!(
            net.run_until(Duration::from_secs(120), |n| n.has(A, ended)
                && n.has(B, ended)),
            "seed {seed}: {:#?}",
            net.trace
        );
    }
}

#[test]
fn cancel_of_a_ringing_call() {
    let mut net = two(3, 0);
    let now = net.now;
    let a = net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n
        .has(A, |e| matches!(e, CallEvent::Progress { code: 180, .. }))));
    let now = net.now;
    net.phone(A).hangup(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(40), |n| n.has(A, ended)
        && n.has(B, ended)));
    assert!(net.has(B, |e| matches!(
        e,
        CallEvent::Ended {
            by_peer: true,
            code: 487,
            ..
        }
    )));
    assert!(net.has(A, |e| matches!(
        e,
        CallEvent::Ended {
            by_peer: false,
            code: 487,
            ..
        }
    )));
    assert!(net.trace.iter().any(|t| t.2.starts_with("CANCEL ")));
}

#[test]
fn hangup_before_any_provisional_waits_to_cancel() {
    let mut net = two(4, 0);
    let mut c = cfg("bob", addr(B));
    c.auto_ringing = false;
    net.add(B, c);
    // B's transaction layer sends 100 Trying after 200 ms; the CANCEL goes after it.
    let now = net.now;
    let a = net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    net.phone(A).hangup(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(40), |n| n.has(A, ended)
        && n.has(B, ended)));
    let first_cancel = net
        .trace
        .iter()
        .position(|t| t.2.starts_with("CANCEL "))
        .unwrap();
    let first_100 = net
        .trace
        .iter()
        .position(|t| t.2.starts_with("SIP/2.0 100"))
        .unwrap();
    assert!(
        first_100 < first_cancel,
        "RFC 3261 9.1: no CANCEL before a provisional"
    );
}

#[test]
fn busy_here_and_not_acceptable_here() {
    let mut net = two(5, 0);
    let now = net.now;
    net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n.incoming(B).is_some()));
    let b = net.incoming(B).unwrap();
    let now = net.now;
    net.phone(B).reject(now, b, 486).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n
        .has(A, |e| matches!(e, CallEvent::Failed { code: 486, .. }))));
    // B offers only G.729, which A's default list lacks: 488 (RFC 3261 13.3.1.3).
    let mut net = two(6, 0);
    let mut c = cfg("bob", addr(B));
    c.media.codecs = CodecList::of(&[Codec::G729]);
    net.add(B, c);
    let now = net.now;
    net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n
        .has(A, |e| matches!(e, CallEvent::Failed { code: 488, .. }))));
    assert!(net.incoming(B).is_none());
}

#[test]
fn busy_on_busy_refuses_a_second_call() {
    let mut net = two(7, 0);
    let mut c = cfg("bob", addr(B));
    c.busy_on_busy = true;
    net.add(B, c);
    net.add(C, cfg("carol", addr(C)));
    establish(&mut net);
    let now = net.now;
    net.phone(C).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n
        .has(C, |e| matches!(e, CallEvent::Failed { code: 486, .. }))));
}

#[test]
fn reliable_ringing_with_prack_and_early_answer() {
    let mut net = two(8, 10);
    let mut c = cfg("bob", addr(B));
    c.use_100rel = true;
    net.add(B, c);
    let now = net.now;
    let a = net.phone(A).invite(now, &format!("sip:bob@{B}")).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| n.incoming(B).is_some()));
    let b = net.incoming(B).unwrap();
    // Answer at once: the 200 waits for the PRACK of the 180 carrying the answer (RFC 3262 3).
    let now = net.now;
    net.phone(B).answer(now, b).unwrap();
    assert!(
        net.run_until(Duration::from_secs(60), |n| n.has(A, answered)
            && n.has(B, answered))
    );
    let prack = net
        .trace
        .iter()
        .position(|t| t.2.starts_with("PRACK "))
        .expect("PRACK sent");
    let ok = net
        .trace
        .iter()
        .position(|t| t.0 == addr(B) && t.2.starts_with("SIP/2.0 200"))
        .unwrap();
    assert!(prack < ok);
    // The answer came in the reliable 180: media before the 200.
    let ev = net.events(A).clone();
    let media = ev
        .iter()
        .position(|e| matches!(e, CallEvent::Media { .. }))
        .unwrap();
    let ans = ev.iter().position(answered).unwrap();
    assert!(media < ans);
    let now = net.now;
    net.phone(A).hangup(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(60), |n| n.has(B, ended)));
}

#[test]
fn hold_and_resume_both_ways() {
    let mut net = two(9, 0);
    let (a, b) = establish(&mut net);
    let now = net.now;
    net.phone(A).hold(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n
        .has(B, |e| matches!(e, CallEvent::RemoteHold { held: true, .. }))));
    assert_eq!(net.last_direction(A), Some(Direction::SendOnly));
    assert_eq!(net.last_direction(B), Some(Direction::RecvOnly));
    assert!(net.phone(A).on_hold(a));
    // B holds too: inactive both ways (RFC 3264 8.4).
    let now = net.now;
    net.phone(B).hold(now, b).unwrap();
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.last_direction(B)
            == Some(Direction::Inactive))
    );
    let now = net.now;
    net.phone(B).resume(now, b).unwrap();
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.last_direction(B)
            == Some(Direction::RecvOnly))
    );
    let now = net.now;
    net.phone(A).resume(now, a).unwrap();
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.has(B, |e| matches!(
            e,
            CallEvent::RemoteHold { held: false, .. }
        )) && n.last_direction(A)
            == Some(Direction::SendRecv))
    );
    assert_eq!(net.last_direction(B), Some(Direction::SendRecv));
}

#[test]
fn glare_gets_491_and_both_reinvites_go_through_after_backoff() {
    let mut net = two(10, 0);
    let (a, b) = establish(&mut net);
    let now = net.now;
    net.phone(A).hold(now, a).unwrap();
    net.phone(B).hold(now, b).unwrap();
    let start = net.now;
    assert!(
        net.run_until(Duration::from_secs(20), |n| n.last_direction(A)
            == Some(Direction::Inactive)
            && n.last_direction(B) == Some(Direction::Inactive))
    );
    let g491 = net
        .trace
        .iter()
        .filter(|t| t.2.starts_with("SIP/2.0 491"))
        .count();
    assert_eq!(g491, 2, "{:#?}", net.trace);
    // RFC 3261 14.1: the Call-ID owner (A) waits 2.1-4 s, B 0-2 s; B's retry went first.
    assert!(net.now - start <= Duration::from_secs(8));
}

#[test]
fn session_timer_refreshes_and_a_dead_peer_ends_the_call() {
    let mut net = two(11, 0);
    let mut c = cfg("alice", addr(A));
    c.session_expires = Some(90);
    net.add(A, c);
    let (a, b) = establish(&mut net);
    // B chose the caller as refresher (A supports timer): A refreshes every 45 s.
    assert_eq!(net.phone(A).session_timer(a), Some((90, true)));
    assert_eq!(net.phone(B).session_timer(b), Some((90, false)));
    let stop = net.now + Duration::from_secs(200);
    net.run_until(Duration::from_secs(200), |n| n.now >= stop);
    let refreshes = net
        .events(B)
        .iter()
        .filter(|e| matches!(e, CallEvent::Refreshed { .. }))
        .count();
    assert!(refreshes >= 4, "{refreshes} refreshes in 200 s");
    assert_eq!(net.phone(B).state(b), Some(CallState::Confirmed));
    // A goes silent: B ends the call at 90 - 30 s after the last refresh (RFC 4028 10).
    net.mute = Some(addr(A));
    assert!(net.run_until(Duration::from_secs(120), |n| n
        .has(B, |e| matches!(e, CallEvent::Ended { code: 408, .. }))));
}

#[test]
fn a_302_redirect_is_followed() {
    let mut net = two(12, 0);
    net.nodes.insert(
        addr(C),
        Node::Redirect(
            Box::new(Transactions::new(Timers::default())),
            format!("sip:bob@{B}"),
        ),
    );
    let now = net.now;
    net.phone(A).invite(now, &format!("sip:old@{C}")).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n.incoming(B).is_some()));
    let b = net.incoming(B).unwrap();
    let now = net.now;
    net.phone(B).answer(now, b).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n.has(A, answered)));
    assert!(net.trace.iter().any(|t| t.2.starts_with("SIP/2.0 302")));
}

fn progress(net: &mut Net, a: &str, want: u16) -> bool {
    net.has(
        a,
        |e| matches!(e, CallEvent::TransferProgress { code, .. } if *code == want),
    )
}

#[test]
fn blind_transfer_with_refer_and_sipfrag_notify() {
    let mut net = two(13, 0);
    net.add(C, cfg("carol", addr(C)));
    let (a, _b) = establish(&mut net);
    let now = net.now;
    net.phone(A)
        .transfer(now, a, &format!("sip:carol@{C}"))
        .unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n.incoming(C).is_some()));
    assert!(net.has(B, |e| matches!(
        e,
        CallEvent::TransferRequested {
            replaces: false,
            ..
        }
    )));
    assert!(progress(&mut net, A, 100));
    let c = net.incoming(C).unwrap();
    let now = net.now;
    net.phone(C).answer(now, c).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| progress(n, A, 200)));
    // The transferor ends its call; B and C stay connected.
    let now = net.now;
    net.phone(A).hangup(now, a).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n.has(A, ended)));
    assert_eq!(net.phone(B).calls().len(), 1);
    assert_eq!(net.phone(C).state(c), Some(CallState::Confirmed));
    // The INVITE from B carried Referred-By (RFC 3892).
    assert!(net
        .trace
        .iter()
        .any(|t| t.0 == addr(B) && t.1 == addr(C) && t.2.starts_with("INVITE ")));
}

#[test]
fn attended_transfer_replaces_the_consultation_call() {
    let mut net = two(14, 0);
    net.add(C, cfg("carol", addr(C)));
    let (ab, _) = establish(&mut net);
    let now = net.now;
    net.phone(A).hold(now, ab).unwrap();
    net.run_until(Duration::from_secs(5), |_| false);
    let now = net.now;
    let ac = net.phone(A).invite(now, &format!("sip:carol@{C}")).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n.incoming(C).is_some()));
    let c1 = net.incoming(C).unwrap();
    let now = net.now;
    net.phone(C).answer(now, c1).unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n
        .events(A)
        .contains(&CallEvent::Answered { call: ac })));
    let now = net.now;
    net.phone(A).transfer_attended(now, ab, ac).unwrap();
    let done = net.run_until(Duration::from_secs(10), |n| {
        progress(n, A, 200) && n.has(C, |e| matches!(e, CallEvent::Replaced { .. }))
    });
    let (eb, ec) = (net.events(B).clone(), net.events(C).clone());
    assert!(done, "{:#?}\n{eb:#?}\n{ec:#?}", net.trace);
    assert!(net.has(B, |e| matches!(
        e,
        CallEvent::TransferRequested { replaces: true, .. }
    )));
    // C ended our consultation call itself (RFC 3891 3).
    assert!(net.has(A, |e| *e
        == CallEvent::Ended {
            call: ac,
            by_peer: true,
            code: 200
        }));
    let now = net.now;
    net.phone(A).hangup(now, ab).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |n| n.phone(A).calls().is_empty()));
    assert_eq!(net.phone(B).calls().len(), 1);
    assert_eq!(net.phone(C).calls().len(), 1);
}
