//! Call park and retrieve ([MS-SIPAPP], manual 4.2) with four parties in one thread on a
//! virtual clock: the parker phone (`Phone` + `ParkClient`), the parkee and the retriever
//! (`Phone`s) and the Call Park Service double (`CpsDouble`). Park -> orbit shown ->
//! retrieved by another phone -> parkee talking to the retriever; an unretrieved park rings
//! back the parker after the timer; ringbacks refused until the call is dropped; the
//! parkee hanging up while parked; no free orbit; an empty orbit dialled; the bodies'
//! checked parse, emit and proptest round trips. Runs with and without seeded loss.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_sip::call::{CallEvent, CallRef, CallState, Phone, PhoneConfig};
use ac_sip::offer_answer::{CodecList, LocalMedia, SrtpPolicy};
use ac_sip::sipe::cps::{CpsConfig, CpsDouble, CpsEvent};
use ac_sip::sipe::park::{
    retrieve_uri, ParkClient, ParkConfig, ParkEvent, ParkRequest, ParkResponse, UnparkNotification,
    UnparkReason,
};
use ac_sip::sipe::xml::XmlError;
use ac_sip::transaction::{Timers, Transport};
use proptest::prelude::*;

const A: &str = "10.0.0.1:5060"; // parker
const B: &str = "10.0.0.2:5060"; // parkee
const C: &str = "10.0.0.3:5060"; // retriever
const S: &str = "10.0.0.9:5060"; // call park service
const CPS_URI: &str = "sip:cps@10.0.0.9:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg(name: &str, a: &str) -> PhoneConfig {
    let a = addr(a);
    PhoneConfig {
        aor: format!("sip:{name}@contoso.com"),
        display_name: Some(name.to_string()),
        contact: format!("sip:{name}@{a}"),
        via_host: a.to_string(),
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
            addr: a.ip(),
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
    Parker(Box<Phone>, Box<ParkClient>),
    Ua(Box<Phone>),
    Cps(Box<CpsDouble>),
}

struct Net {
    nodes: BTreeMap<SocketAddr, Node>,
    calls: HashMap<SocketAddr, Vec<CallEvent>>,
    park: Vec<ParkEvent>,
    cps: Vec<CpsEvent>,
    now: Instant,
    rng: u64,
    loss: u64,
    trace: Vec<String>,
}

impl Net {
    fn new(seed: u64, loss: u64, orbits: &[&str], max_ringbacks: u32) -> Net {
        let now = Instant::now();
        let mut nodes = BTreeMap::new();
        let pc = cfg("alice", A);
        let park = ParkClient::new(
            ParkConfig {
                aor: pc.aor.clone(),
                contact: pc.contact.clone(),
                via_host: pc.via_host.clone(),
                transport: Transport::Udp,
                timers: Timers::default(),
            },
            seed ^ 1,
        );
        nodes.insert(
            addr(A),
            Node::Parker(Box::new(Phone::new(pc, seed ^ 2)), Box::new(park)),
        );
        nodes.insert(
            addr(B),
            Node::Ua(Box::new(Phone::new(cfg("bob", B), seed ^ 3))),
        );
        nodes.insert(
            addr(C),
            Node::Ua(Box::new(Phone::new(cfg("carol", C), seed ^ 4))),
        );
        let cps = CpsDouble::new(
            CpsConfig {
                phone: cfg("cps", S),
                orbits: orbits.iter().map(|s| s.to_string()).collect(),
                ringback_after: Duration::from_secs(60),
                max_ringbacks,
            },
            seed ^ 5,
        );
        nodes.insert(addr(S), Node::Cps(Box::new(cps)));
        Net {
            nodes,
            calls: HashMap::new(),
            park: Vec::new(),
            cps: Vec::new(),
            now,
            rng: seed,
            loss,
            trace: Vec::new(),
        }
    }

    fn phone(&mut self, a: &str) -> &mut Phone {
        match self.nodes.get_mut(&addr(a)) {
            Some(Node::Parker(p, _)) | Some(Node::Ua(p)) => p,
            _ => panic!("no phone at {a}"),
        }
    }

    fn park_client(&mut self) -> &mut ParkClient {
        match self.nodes.get_mut(&addr(A)) {
            Some(Node::Parker(_, k)) => k,
            _ => unreachable!(),
        }
    }

    fn cps(&mut self) -> &mut CpsDouble {
        match self.nodes.get_mut(&addr(S)) {
            Some(Node::Cps(c)) => c,
            _ => unreachable!(),
        }
    }

    fn ev(&mut self, a: &str) -> &mut Vec<CallEvent> {
        self.calls.entry(addr(a)).or_default()
    }

    fn lose(&mut self) -> bool {
        self.rng = self
            .rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.rng >> 33) % 100 < self.loss
    }

    fn settle(&mut self) {
        loop {
            let mut out = Vec::new();
            for (&from, n) in self.nodes.iter_mut() {
                match n {
                    Node::Parker(p, k) => {
                        while let Some(t) = p.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                        while let Some(t) = k.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                        while let Some(e) = p.poll_event() {
                            self.calls.entry(from).or_default().push(e);
                        }
                        while let Some(e) = k.poll_event() {
                            self.park.push(e);
                        }
                    }
                    Node::Ua(p) => {
                        while let Some(t) = p.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                        while let Some(e) = p.poll_event() {
                            self.calls.entry(from).or_default().push(e);
                        }
                    }
                    Node::Cps(c) => {
                        while let Some(t) = c.poll_transmit() {
                            out.push((from, t.dest, t.data));
                        }
                        while let Some(e) = c.poll_event() {
                            self.cps.push(e);
                        }
                    }
                }
            }
            if out.is_empty() {
                return;
            }
            for (from, to, data) in out {
                if self.lose() {
                    continue;
                }
                let line = String::from_utf8_lossy(&data).to_string();
                self.trace.push(format!("{from} -> {to}\n{line}"));
                let now = self.now;
                match self.nodes.get_mut(&to) {
                    Some(Node::Parker(p, k)) => {
                        // The device hands the park's own dialog to the ParkClient.
                        if k.owns(&data) {
                            k.handle_message(now, from, &data);
                        } else {
                            p.handle_message(now, Transport::Udp, from, &data);
                        }
                    }
                    Some(Node::Ua(p)) => p.handle_message(now, Transport::Udp, from, &data),
                    Some(Node::Cps(c)) => c.handle_message(now, from, &data),
                    None => {}
                }
            }
        }
    }

    /// Runs the virtual clock until `done` holds or `limit` of virtual time passed; the
    /// users of the phones act through `act` after every step.
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
                    Node::Parker(p, k) => [p.poll_timeout(), k.poll_timeout()]
                        .into_iter()
                        .flatten()
                        .min(),
                    Node::Ua(p) => p.poll_timeout(),
                    Node::Cps(c) => c.poll_timeout(),
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
                    Node::Parker(p, k) => {
                        p.handle_timeout(now);
                        k.handle_timeout(now);
                    }
                    Node::Ua(p) => p.handle_timeout(now),
                    Node::Cps(c) => c.handle_timeout(now),
                }
            }
        }
    }

    fn has(&mut self, a: &str, f: impl Fn(&CallEvent) -> bool) -> bool {
        self.ev(a).iter().any(f)
    }

    fn incoming(&mut self, a: &str) -> Option<CallRef> {
        self.ev(a).iter().rev().find_map(|e| match e {
            CallEvent::Incoming { call, .. } => Some(*call),
            _ => None,
        })
    }

    /// bob calls alice, alice answers; returns alice's call.
    fn connect(&mut self) -> CallRef {
        let now = self.now;
        let bob_call = self
            .phone(B)
            .invite(now, "sip:alice@10.0.0.1:5060")
            .unwrap();
        assert!(self.run_until(Duration::from_secs(40), |n| n.incoming(A).is_some()));
        let call = self.incoming(A).unwrap();
        let now = self.now;
        self.phone(A).answer(now, call).unwrap();
        assert!(self.run_until(Duration::from_secs(40), |n| {
            n.has(
                B,
                |e| matches!(e, CallEvent::Answered { call } if *call == bob_call),
            ) && n.phone(A).state(call) == Some(CallState::Confirmed)
        }));
        call
    }

    fn park(&mut self, call: CallRef) {
        let now = self.now;
        let d = self.phone(A).dialog(call).unwrap().clone();
        self.park_client().park(now, &d, CPS_URI, addr(S)).unwrap();
    }

    fn parked_orbit(&self) -> Option<String> {
        self.park.iter().find_map(|e| match e {
            ParkEvent::Parked { orbit, .. } => Some(orbit.clone()),
            _ => None,
        })
    }

    /// The peer URI of the parkee's (bob's) live calls.
    fn bob_peer(&mut self) -> Vec<String> {
        self.live(B)
    }

    /// The peer URIs of a phone's live (confirmed) calls.
    fn live(&mut self, a: &str) -> Vec<String> {
        let p = self.phone(a);
        p.calls()
            .into_iter()
            .filter(|c| p.state(*c) == Some(CallState::Confirmed))
            .map(|c| p.dialog(c).unwrap().remote_uri.clone())
            .collect()
    }
}

fn park_and_retrieve(seed: u64, loss: u64) {
    let mut n = Net::new(seed, loss, &["7001", "7002"], 3);
    let call = n.connect();
    n.park(call);
    assert!(
        n.run_until(Duration::from_secs(40), |n| n.parked_orbit().is_some()),
        "{:#?}\n{:#?}",
        n.park,
        n.cps
    );
    // The orbit the parker shows, and the parker's leg to bob ended by bob (Replaces).
    assert_eq!(n.parked_orbit().as_deref(), Some("7001"));
    assert_eq!(n.park_client().orbit(), Some("7001"));
    assert!(
        n.run_until(Duration::from_secs(40), |n| n.has(A, |e| matches!(
            e,
            CallEvent::Ended { call: c, by_peer: true, .. } if *c == call
        )) && n.bob_peer().len() == 1),
        "seed {seed}"
    );
    assert!(n.has(B, |e| matches!(e, CallEvent::Replaced { .. })));
    assert_eq!(
        n.bob_peer(),
        vec!["\"cps\" <sip:cps@contoso.com>".to_string()]
    );
    assert!(n.cps.contains(&CpsEvent::Parked {
        orbit: "7001".into()
    }));
    assert_eq!(n.cps().parked_orbits(), vec!["7001".to_string()]);

    // carol dials the orbit.
    let now = n.now;
    let uri = retrieve_uri("7001", S);
    n.phone(C).invite(now, &uri).unwrap();
    assert!(
        n.run_until(Duration::from_secs(60), |n| n
            .park
            .iter()
            .any(|e| matches!(e, ParkEvent::Ended))
            && n.bob_peer().iter().any(|p| p.contains("carol"))
            && n.live(C).len() == 1),
        "{:#?}\n{:#?}\n{:#?}",
        n.park,
        n.cps,
        n.calls
    );
    // bob talks to carol, only to carol; carol took the call by INVITE with Replaces.
    assert_eq!(
        n.bob_peer(),
        vec!["\"carol\" <sip:carol@contoso.com>".to_string()]
    );
    assert!(n.has(C, |e| matches!(
        e,
        CallEvent::TransferRequested { replaces: true, .. }
    )));
    let carol = n.phone(C);
    let live: Vec<_> = carol
        .calls()
        .into_iter()
        .filter(|c| carol.state(*c) == Some(CallState::Confirmed))
        .collect();
    assert_eq!(live.len(), 1);
    assert!(carol.dialog(live[0]).unwrap().remote_uri.contains("bob"));
    // The parker heard the park end: retrieved by carol, then the CPS's BYE.
    let unparked: Vec<_> = n
        .park
        .iter()
        .filter_map(|e| match e {
            ParkEvent::Unparked { reason, target } => Some((reason.clone(), target.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(unparked.len(), 1);
    assert_eq!(unparked[0].0, UnparkReason::Retrieved);
    assert!(unparked[0].1.as_deref().unwrap().contains("carol"));
    assert!(n.cps.contains(&CpsEvent::Retrieved {
        orbit: "7001".into()
    }));
    assert!(n.cps().parked_orbits().is_empty(), "orbit back in the pool");
    // Nobody rings back later.
    n.run_until(Duration::from_secs(200), |_| false);
    assert!(!n.cps.iter().any(|e| matches!(e, CpsEvent::Ringback { .. })));
}

#[test]
fn park_then_another_phone_retrieves() {
    park_and_retrieve(11, 0);
}

#[test]
fn park_then_retrieve_with_loss() {
    // Deterministic per seed (nodes in address order, a seeded loss generator).
    for seed in 1..=20 {
        park_and_retrieve(seed, 10);
    }
}

#[test]
fn park_request_and_response_on_the_wire() {
    let mut n = Net::new(2, 0, &["7001"], 1);
    let call = n.connect();
    let d = n.phone(A).dialog(call).unwrap().clone();
    n.park(call);
    n.run_until(Duration::from_secs(10), |n| n.parked_orbit().is_some());
    let invite = n
        .trace
        .iter()
        .find(|t| t.contains("\nINVITE sip:cps@10.0.0.9:5060 SIP/2.0"))
        .expect("park INVITE");
    assert!(invite.contains("Content-Type: application/ms-call-park+xml"));
    let body = invite.split("\r\n\r\n").nth(1).unwrap();
    let req = ParkRequest::parse(body.as_bytes()).unwrap();
    assert_eq!(req.version, "1.0");
    assert_eq!(req.parkee, "sip:bob@10.0.0.2:5060");
    // RFC 3891 3 from bob's side: to-tag bob's, from-tag ours.
    assert_eq!(
        req.replaces,
        format!(
            "{};to-tag={};from-tag={}",
            d.id.call_id, d.id.remote_tag, d.id.local_tag
        )
    );
    // bob got the CPS's INVITE with that Replaces value.
    assert!(n
        .trace
        .iter()
        .any(|t| t.contains("-> 10.0.0.2:5060\nINVITE ")
            && t.contains(&format!("Replaces: {}", req.replaces))));
    // 3.1.5.2: the 200 has isCps on its Contact and a park-response echoing request-id.
    let ok = n
        .trace
        .iter()
        .find(|t| {
            t.starts_with("10.0.0.9:5060 -> 10.0.0.1:5060\nSIP/2.0 200")
                && t.contains("ms-call-park")
        })
        .expect("200 with park-response");
    assert!(
        ok.contains("Contact: <sip:cps@10.0.0.9:5060>;isCps"),
        "{ok}"
    );
    let resp = ParkResponse::parse(ok.split("\r\n\r\n").nth(1).unwrap().as_bytes()).unwrap();
    assert_eq!(
        (
            resp.version.as_str(),
            resp.request_id.as_str(),
            resp.orbit.as_str()
        ),
        ("1.0", req.request_id.as_str(), "7001")
    );
    assert!(!resp.parked_call.is_empty());
    // The 200 came only after bob's 200 to the INVITE with Replaces.
    let pos = |needle: &dyn Fn(&String) -> bool| n.trace.iter().position(needle).unwrap();
    let bob_ok = pos(&|t: &String| t.starts_with("10.0.0.2:5060 -> 10.0.0.9:5060\nSIP/2.0 200"));
    let cps_ok = pos(&|t: &String| {
        t.starts_with("10.0.0.9:5060 -> 10.0.0.1:5060\nSIP/2.0 200") && t.contains("ms-call-park")
    });
    assert!(bob_ok < cps_ok);
}

#[test]
fn unretrieved_park_rings_the_parker_back() {
    let mut n = Net::new(21, 0, &["7001"], 3);
    let call = n.connect();
    n.park(call);
    assert!(n.run_until(Duration::from_secs(10), |n| n.parked_orbit().is_some()));
    let parked_at = n.now;
    // Nobody dials 7001: after the 60 s timer the CPS transfers bob back to alice.
    assert!(n.run_until(Duration::from_secs(120), |n| n
        .incoming(A)
        .is_some_and(|c| c != call)));
    assert!(n.now - parked_at >= Duration::from_secs(60));
    assert!(n.now - parked_at < Duration::from_secs(65));
    assert!(n.cps.contains(&CpsEvent::Ringback {
        orbit: "7001".into(),
        attempt: 1
    }));
    let ring = n.incoming(A).unwrap();
    let now = n.now;
    n.phone(A).answer(now, ring).unwrap();
    assert!(n.run_until(Duration::from_secs(30), |n| n
        .park
        .iter()
        .any(|e| matches!(e, ParkEvent::Ended))
        && n.bob_peer().len() == 1));
    assert!(n.bob_peer()[0].contains("alice"), "{:?}", n.bob_peer());
    assert!(n.park.iter().any(|e| matches!(e, ParkEvent::Unparked { reason: UnparkReason::Other(r), .. } if r == "ringback")));
    assert!(n.cps().parked_orbits().is_empty());
    assert!(n.phone(A).state(ring) == Some(CallState::Confirmed));
}

#[test]
fn refused_ringbacks_drop_the_call() {
    let mut n = Net::new(31, 0, &["7001"], 2);
    let call = n.connect();
    n.park(call);
    assert!(n.run_until(Duration::from_secs(10), |n| n.parked_orbit().is_some()));
    // alice declines each ringback (486); after two attempts the CPS drops the call.
    let mut declined = 0;
    while declined < 2 {
        let seen = declined;
        assert!(n.run_until(Duration::from_secs(120), |n| n
            .ev(A)
            .iter()
            .filter(|e| matches!(e, CallEvent::Incoming { .. }))
            .count()
            > seen + 1));
        let ring = n.incoming(A).unwrap();
        let now = n.now;
        n.phone(A).reject(now, ring, 486).unwrap();
        declined += 1;
    }
    assert!(n.run_until(Duration::from_secs(30), |n| n
        .park
        .iter()
        .any(|e| matches!(e, ParkEvent::Ended))));
    assert!(n.park.contains(&ParkEvent::Unparked {
        reason: UnparkReason::Drop,
        target: None
    }));
    assert!(n.bob_peer().is_empty(), "bob's parked call ended");
    assert!(n.cps.contains(&CpsEvent::Ringback {
        orbit: "7001".into(),
        attempt: 2
    }));
    // 3.1.5.10: the BYE to the parker carries ms-diagnostics 35014.
    assert!(n
        .trace
        .iter()
        .any(|t| t.starts_with("10.0.0.9:5060 -> 10.0.0.1:5060\nBYE ")
            && t.contains("ms-diagnostics: 35014")));
}

#[test]
fn parkee_hanging_up_ends_the_park() {
    let mut n = Net::new(41, 0, &["7001"], 3);
    let call = n.connect();
    n.park(call);
    assert!(n.run_until(Duration::from_secs(10), |n| n.parked_orbit().is_some()));
    let now = n.now;
    let bob = n.phone(B);
    let live = bob
        .calls()
        .into_iter()
        .find(|c| bob.state(*c) == Some(CallState::Confirmed))
        .unwrap();
    bob.hangup(now, live).unwrap();
    assert!(n.run_until(Duration::from_secs(30), |n| n
        .park
        .iter()
        .any(|e| matches!(e, ParkEvent::Ended))));
    // 3.1.5.5: reason hang-up, no target, then BYE.
    assert!(n.park.contains(&ParkEvent::Unparked {
        reason: UnparkReason::HangUp,
        target: None
    }));
    assert!(n.cps().parked_orbits().is_empty());
    // Dialling the orbit now finds nothing: 404.
    let now = n.now;
    let c = n.phone(C).invite(now, &retrieve_uri("7001", S)).unwrap();
    assert!(n.run_until(Duration::from_secs(30), |n| n.has(
        C,
        |e| matches!(e, CallEvent::Failed { call, code: 404, .. } if *call == c)
    )));
    assert!(n.cps.contains(&CpsEvent::RetrieveRefused {
        orbit: "7001".into()
    }));
}

#[test]
fn no_free_orbit_is_reported_and_the_call_stays() {
    let mut n = Net::new(51, 0, &[], 3);
    let call = n.connect();
    n.park(call);
    assert!(n.run_until(Duration::from_secs(10), |n| !n.park.is_empty()));
    assert_eq!(
        n.park[0],
        ParkEvent::Failed {
            code: 503,
            text: "Park failed: no parking orbit is free",
            diagnostics: Some((35002, "No more available orbits".into())),
        }
    );
    // The call with bob is untouched.
    n.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(n.phone(A).state(call), Some(CallState::Confirmed));
    assert_eq!(n.bob_peer().len(), 1);
    assert!(n.bob_peer()[0].contains("alice"));
    // A second park attempt on the same call is allowed after the failure.
    n.park(call);
}

#[test]
fn parkee_refusing_replaces_fails_the_park() {
    let mut n = Net::new(61, 0, &["7001"], 3);
    let call = n.connect();
    // A park request naming a dialog bob does not have: bob answers 481 to the INVITE
    // with Replaces and the CPS answers the parker with 480 / 35007.
    let mut d = n.phone(A).dialog(call).unwrap().clone();
    d.id.remote_tag = "not-bobs".into();
    let now = n.now;
    n.park_client().park(now, &d, CPS_URI, addr(S)).unwrap();
    assert!(n.run_until(Duration::from_secs(40), |n| !n.park.is_empty()));
    assert!(matches!(
        &n.park[0],
        ParkEvent::Failed { code: 480, diagnostics: Some((35007, _)), text } if *text == "Park failed: the call could not be moved"
    ));
    assert_eq!(n.phone(A).state(call), Some(CallState::Confirmed));
    assert!(n.cps().parked_orbits().is_empty());
}

#[test]
fn cps_refuses_bad_park_bodies() {
    let mut n = Net::new(71, 0, &["7001"], 3);
    let call = n.connect();
    let d = n.phone(A).dialog(call).unwrap().clone();
    // Send a park INVITE by hand with a body the CPS cannot read and one of version 2.0.
    for (body, diag) in [
        ("<park-request version=\"1.0\"/>".to_string(), 35009u32),
        (
            ParkRequest {
                version: "2.0".into(),
                request_id: "9".into(),
                parkee: d.remote_target.clone(),
                replaces: "x;to-tag=a;from-tag=b".into(),
            }
            .emit(),
            35008,
        ),
    ] {
        let inv = format!(
            "INVITE {CPS_URI} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbad{diag}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@contoso.com>;tag=t{diag}\r\nTo: <{CPS_URI}>\r\nCall-ID: bad{diag}@10.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@10.0.0.1:5060>\r\nContent-Type: application/ms-call-park+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let now = n.now;
        n.cps().handle_message(now, addr(A), inv.as_bytes());
        n.settle();
        assert!(
            n.cps.contains(&CpsEvent::ParkRefused {
                code: 400,
                diagnostics: diag
            }),
            "{:?}",
            n.cps
        );
    }
}

#[test]
fn bodies_parse_emit_and_refuse() {
    let r = ParkResponse {
        version: "1.0".into(),
        request_id: "12".into(),
        orbit: "*7001".into(),
        parked_call: "a&b<c>".into(),
    };
    assert_eq!(ParkResponse::parse(r.emit().as_bytes()).unwrap(), r);
    // Any namespace is accepted (section 2's was not readable here).
    let ns = "<park-response xmlns=\"urn:x\" version=\"1.0\" request-id=\"3\"><orbit>7002</orbit><ms-parked-call>p</ms-parked-call></park-response>";
    assert_eq!(ParkResponse::parse(ns.as_bytes()).unwrap().orbit, "7002");
    assert_eq!(
        ParkResponse::parse(b"<park-response version=\"1.0\" request-id=\"3\"><ms-parked-call>p</ms-parked-call></park-response>"),
        Err(XmlError::Missing("orbit"))
    );
    assert_eq!(
        ParkResponse::parse(b"<park-request version=\"1.0\" request-id=\"3\"/>"),
        Err(XmlError::Root("park-request".into(), "park-response"))
    );
    assert_eq!(
        ParkResponse::parse(b"<park-response request-id=\"3\"><orbit>1</orbit><ms-parked-call>p</ms-parked-call></park-response>"),
        Err(XmlError::Attribute("park-response", "version"))
    );
    // 3.1.5.5: no target with hang-up.
    assert_eq!(
        UnparkNotification::parse(b"<unpark-notification version=\"1.0\" request-id=\"1\"><reason>hang-up</reason><target>sip:x@y</target></unpark-notification>"),
        Err(XmlError::Value("target"))
    );
    let u = UnparkNotification::parse(b"<unpark-notification version=\"1.0\" request-id=\"1\"><reason>drop</reason></unpark-notification>").unwrap();
    assert_eq!((u.reason, u.target), (UnparkReason::Drop, None));
    assert!(ParkRequest::parse(b"<!DOCTYPE x [<!ENTITY a \"b\">]><park-request/>").is_err());
    assert!(ParkRequest::parse(&vec![b'a'; 300_000]).is_err());
}

fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9*#@:;=.&<>\"' \u{e9}-]{0,30}[a-zA-Z0-9]".prop_map(|s| s.trim().to_string())
}

proptest! {
    #[test]
    fn park_bodies_round_trip(v in value(), id in value(), a in value(), b in value(),
                             reason in prop_oneof![Just("hang-up".to_string()), Just("drop".to_string()), Just("retrieved".to_string()), value()],
                             target in proptest::option::of(value())) {
        let q = ParkRequest { version: v.clone(), request_id: id.clone(), parkee: a.clone(), replaces: b.clone() };
        prop_assert_eq!(ParkRequest::parse(q.emit().as_bytes()).unwrap(), q);
        let r = ParkResponse { version: v.clone(), request_id: id.clone(), orbit: a, parked_call: b };
        prop_assert_eq!(ParkResponse::parse(r.emit().as_bytes()).unwrap(), r);
        let reason = match reason.as_str() {
            "hang-up" => UnparkReason::HangUp,
            "drop" => UnparkReason::Drop,
            "retrieved" => UnparkReason::Retrieved,
            o => UnparkReason::Other(o.to_string()),
        };
        let target = if matches!(reason, UnparkReason::HangUp | UnparkReason::Drop) { None } else { target };
        let u = UnparkNotification { version: v, request_id: id, reason, target };
        prop_assert_eq!(UnparkNotification::parse(u.emit().as_bytes()).unwrap(), u);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = ParkRequest::parse(&b);
        let _ = ParkResponse::parse(&b);
        let _ = UnparkNotification::parse(&b);
    }
}

#[test]
fn a_silent_park_server_is_a_timeout() {
    let mut n = Net::new(81, 0, &["7001"], 3);
    let call = n.connect();
    let now = n.now;
    let d = n.phone(A).dialog(call).unwrap().clone();
    // Nothing listens at 10.0.0.99: Timer B (64*T1 = 32 s) ends the INVITE.
    n.park_client()
        .park(now, &d, "sip:cps@10.0.0.99:5060", addr("10.0.0.99:5060"))
        .unwrap();
    assert_eq!(
        n.park_client().park(now, &d, CPS_URI, addr(S)),
        Err(ac_sip::sipe::park::ParkError::Busy),
        "one park at a time"
    );
    assert!(n.run_until(Duration::from_secs(40), |n| !n.park.is_empty()));
    assert_eq!(
        n.park[0],
        ParkEvent::Failed {
            code: 408,
            text: "Park failed: no answer from the park server",
            diagnostics: None,
        }
    );
    assert!(n.now - now >= Duration::from_secs(32));
    assert_eq!(n.phone(A).state(call), Some(CallState::Confirmed));
}

/// The parker alone against hand-made answers: a 200 without `isCps`, or with a
/// park-response for another request-id, is acknowledged, its dialog ended with BYE and
/// the park reported failed (3.1.5.2); an INFO in the park's dialog with a body that is
/// no unpark-notification gets 400, one outside it 481.
#[test]
fn parker_refuses_what_is_not_a_cps_answer() {
    use ac_sip::msg::{response_to, HeaderName, Message};

    let dialog = |n: &mut Net| {
        let call = n.connect();
        n.phone(A).dialog(call).unwrap().clone()
    };
    for (contact, bad_id) in [
        ("<sip:cps@10.0.0.9:5060>", false),
        ("<sip:cps@10.0.0.9:5060>;isCps", true),
    ] {
        let mut n = Net::new(91, 0, &["7001"], 3);
        let d = dialog(&mut n);
        let now = n.now;
        let mut k = ParkClient::new(
            ParkConfig {
                aor: "sip:alice@contoso.com".into(),
                contact: "sip:alice@10.0.0.1:5060".into(),
                via_host: "10.0.0.1:5060".into(),
                transport: Transport::Udp,
                timers: Timers::default(),
            },
            5,
        );
        k.park(now, &d, CPS_URI, addr(S)).unwrap();
        let invite = k.poll_transmit().unwrap().data;
        let m = Message::parse(&invite).unwrap();
        let req = ParkRequest::parse(m.body).unwrap();
        let mut r = response_to(&m, 200, Some("cpstag"));
        r.push(HeaderName::Contact, contact);
        let body = ParkResponse {
            version: "1.0".into(),
            request_id: if bad_id {
                format!("{}9", req.request_id)
            } else {
                req.request_id.clone()
            },
            orbit: "7001".into(),
            parked_call: "p".into(),
        }
        .emit();
        r.set_body("application/ms-call-park+xml", body.into_bytes());
        k.handle_message(now, addr(S), &r.to_bytes());
        let out: Vec<String> = std::iter::from_fn(|| k.poll_transmit())
            .map(|t| String::from_utf8_lossy(&t.data).to_string())
            .collect();
        assert!(
            out.iter()
                .any(|t| t.starts_with("ACK sip:cps@10.0.0.9:5060")),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|t| t.starts_with("BYE sip:cps@10.0.0.9:5060")),
            "{out:?}"
        );
        assert!(matches!(
            k.poll_event(),
            Some(ParkEvent::Failed {
                code: 200,
                text: "Park failed",
                ..
            })
        ));
        assert_eq!(k.orbit(), None);
    }

    // Through the CPS double: a parked call, then hand-made INFOs.
    let mut n = Net::new(92, 0, &["7001"], 3);
    let call = n.connect();
    n.park(call);
    assert!(n.run_until(Duration::from_secs(10), |n| n.parked_orbit().is_some()));
    let info = n
        .trace
        .iter()
        .find(|t| {
            t.starts_with("10.0.0.9:5060 -> 10.0.0.1:5060\nSIP/2.0 200")
                && t.contains("ms-call-park")
        })
        .unwrap()
        .clone();
    let ok = Message::parse(info.split_once('\n').unwrap().1.as_bytes()).unwrap();
    let (cid, from, to) = (
        ok.call_id().unwrap().to_string(),
        ok.first(HeaderName::From).unwrap().to_string(),
        ok.first(HeaderName::To).unwrap().to_string(),
    );
    // The CPS's side of the dialog: From is its To, To is the parker's From.
    let mk = |call_id: &str, body: &str, cseq: u32| {
        format!(
            "INFO sip:alice@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKinfo{cseq}\r\nMax-Forwards: 70\r\nFrom: {to}\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INFO\r\nContent-Type: application/ms-call-park+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let now = n.now;
    let k = n.park_client();
    k.handle_message(now, addr(S), mk(&cid, "<park-response/>", 50).as_bytes());
    let r = k.poll_transmit().unwrap();
    assert_eq!(Message::parse(&r.data).unwrap().status(), Some(400));
    // Another Call-ID is not the park's: the device would give it to the phone, but the
    // ParkClient itself answers 481 to an INFO outside its dialog.
    assert!(!k.owns(mk("other-call", "x", 51).as_bytes()));
    k.handle_message(now, addr(S), mk("other-call", "x", 51).as_bytes());
    let r = k.poll_transmit().unwrap();
    assert_eq!(Message::parse(&r.data).unwrap().status(), Some(481));
    assert_eq!(k.orbit(), Some("7001"), "still parked");
}
