//! Two transaction layers in one thread on a virtual clock, joined by a lossy "network"
//! with a seeded loss pattern: RFC 3261 section 17 timers and matching, RFC 6026 states.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_sip::msg::{response_to, HeaderName, Message, MessageBuf, Method};
use ac_sip::transaction::{ClientState, Timers, Transactions, Transmit, Transport, TxEvent, TxId};

const UAC: &str = "192.0.2.1:5060";
const UAS: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// xorshift64*: a deterministic loss pattern.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Net {
    now: Instant,
    uac: Transactions,
    uas: Transactions,
    rng: Rng,
    loss: f64,
    /// (time, to_uas, transmit)
    log: Vec<(Duration, bool, String)>,
    start: Instant,
    uac_events: Vec<TxEvent>,
    uas_events: Vec<TxEvent>,
}

fn request(method: Method<'_>, branch: &str, transport: Transport) -> Vec<u8> {
    let mut b = MessageBuf::request(method, "sip:bob@192.0.2.2");
    b.push(
        HeaderName::Via,
        format!(
            "SIP/2.0/{} 192.0.2.1:5060;branch=z9hG4bK{branch}",
            transport.via_name()
        ),
    );
    b.push(HeaderName::MaxForwards, "70");
    b.push(HeaderName::From, "<sip:alice@192.0.2.1>;tag=a1");
    b.push(HeaderName::To, "<sip:bob@192.0.2.2>");
    b.push(HeaderName::CallId, format!("call-{branch}"));
    b.push(HeaderName::CSeq, format!("1 {method}"));
    b.to_bytes()
}

fn first_line(d: &[u8]) -> String {
    String::from_utf8_lossy(d)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

impl Net {
    fn new(seed: u64, loss: f64) -> Net {
        let now = Instant::now();
        Net {
            now,
            start: now,
            uac: Transactions::new(Timers::default()),
            uas: Transactions::new(Timers::default()),
            rng: Rng(seed | 1),
            loss,
            log: Vec::new(),
            uac_events: Vec::new(),
            uas_events: Vec::new(),
        }
    }

    /// Moves packets (with loss) and events until both sides are idle at `now`.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(Transmit {
                transport,
                dest,
                data,
            }) = self.uac.poll_transmit()
            {
                moved = true;
                assert_eq!(dest, addr(UAS));
                self.log
                    .push((self.now - self.start, true, first_line(&data)));
                if self.rng.next() >= self.loss {
                    self.uas
                        .handle_message(self.now, transport, addr(UAC), &data);
                }
            }
            while let Some(Transmit {
                transport,
                dest,
                data,
            }) = self.uas.poll_transmit()
            {
                moved = true;
                assert_eq!(dest, addr(UAC));
                self.log
                    .push((self.now - self.start, false, first_line(&data)));
                if self.rng.next() >= self.loss {
                    self.uac
                        .handle_message(self.now, transport, addr(UAS), &data);
                }
            }
            while let Some(e) = self.uac.poll_event() {
                moved = true;
                self.uac_events.push(e);
            }
            while let Some(e) = self.uas.poll_event() {
                moved = true;
                self.uas_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances the virtual clock to the next deadline (or `until`), firing timers.
    fn run_until(&mut self, until: Duration) {
        loop {
            self.pump();
            let next = [self.uac.poll_timeout(), self.uas.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= self.start + until => {
                    self.now = self.now.max(t);
                    self.uac.handle_timeout(self.now);
                    self.uas.handle_timeout(self.now);
                }
                _ => {
                    self.now = self.start + until;
                    self.pump();
                    return;
                }
            }
        }
    }

    fn uas_requests(&self) -> Vec<(TxId, Vec<u8>)> {
        self.uas_events
            .iter()
            .filter_map(|e| match e {
                TxEvent::Request { tx, data, .. } => Some((*tx, data.clone())),
                _ => None,
            })
            .collect()
    }

    fn uac_responses(&self) -> Vec<u16> {
        self.uac_events
            .iter()
            .filter_map(|e| match e {
                TxEvent::Response { data, .. } => Message::parse(data).ok()?.status(),
                _ => None,
            })
            .collect()
    }

    fn sent_times(&self, to_uas: bool, line_start: &str) -> Vec<Duration> {
        self.log
            .iter()
            .filter(|(_, d, l)| *d == to_uas && l.starts_with(line_start))
            .map(|(t, _, _)| *t)
            .collect()
    }
}

fn ms(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|m| Duration::from_millis(*m)).collect()
}

#[test]
fn timer_e_and_f_non_invite_unanswered() {
    let mut n = Net::new(1, 1.0); // everything lost
    let tx = n
        .uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Options, "e1", Transport::Udp),
        )
        .unwrap();
    n.run_until(Duration::from_secs(40));
    // Timer E: 500 ms doubling to T2 = 4 s; timer F at 64*T1 = 32 s (17.1.2.2).
    assert_eq!(
        n.sent_times(true, "OPTIONS"),
        ms(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert!(n.uac_events.contains(&TxEvent::Timeout { tx }));
    assert!(n.uac_events.contains(&TxEvent::Terminated { tx }));
    assert!(n.uac.is_empty());
}

#[test]
fn timer_a_and_b_invite_unanswered_and_reliable_transport_never_retransmits() {
    let mut n = Net::new(2, 1.0);
    let tx = n
        .uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "a1", Transport::Udp),
        )
        .unwrap();
    n.run_until(Duration::from_secs(40));
    // Timer A doubles without the T2 cap; timer B = 32 s (17.1.1.2).
    assert_eq!(
        n.sent_times(true, "INVITE"),
        ms(&[0, 500, 1500, 3500, 7500, 15500, 31500])
    );
    assert!(n.uac_events.contains(&TxEvent::Timeout { tx }));

    let mut n = Net::new(2, 1.0);
    n.uac
        .send_request(
            n.now,
            Transport::Tcp,
            addr(UAS),
            request(Method::Invite, "a2", Transport::Tcp),
        )
        .unwrap();
    n.run_until(Duration::from_secs(40));
    assert_eq!(n.sent_times(true, "INVITE"), ms(&[0]));
}

#[test]
fn non_invite_with_loss_delivers_exactly_one_final_to_each_side() {
    for seed in 1..200u64 {
        let mut n = Net::new(seed, 0.3);
        let tx = n
            .uac
            .send_request(
                n.now,
                Transport::Udp,
                addr(UAS),
                request(Method::Options, &format!("s{seed}"), Transport::Udp),
            )
            .unwrap();
        n.pump();
        n.run_until(Duration::from_millis(1));
        // The TU answers whenever its request arrives.
        let mut answered = false;
        let mut t = Duration::from_millis(1);
        while t < Duration::from_secs(40) {
            if !answered {
                if let Some((stx, data)) = n.uas_requests().first().cloned() {
                    let m = Message::parse(&data).unwrap();
                    n.uas
                        .respond(n.now, stx, response_to(&m, 200, Some("b1")).to_bytes())
                        .unwrap();
                    answered = true;
                }
            }
            t += Duration::from_millis(250);
            n.run_until(t);
        }
        let reqs = n.uas_requests().len();
        let finals = n.uac_responses();
        let timed_out = n.uac_events.contains(&TxEvent::Timeout { tx });
        // Retransmitted requests never reach the TU twice; the client sees one 200 at most,
        // or a timeout when 30 % loss ate every copy.
        assert!(reqs <= 1, "seed {seed}: {reqs} requests reached the TU");
        assert!(
            finals.len() <= 1 && (finals == [200] || timed_out),
            "seed {seed}: {finals:?}"
        );
        assert!(
            n.uac.is_empty() && n.uas.is_empty(),
            "seed {seed}: transactions left"
        );
    }
}

#[test]
fn invite_server_sends_100_after_200ms_and_retransmits_non_2xx_until_ack() {
    let mut n = Net::new(3, 0.0);
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "g1", Transport::Udp),
        )
        .unwrap();
    n.run_until(Duration::from_millis(300));
    // 100 Trying from the server transaction at 200 ms (17.2.1); it stops timer A.
    assert_eq!(n.sent_times(false, "SIP/2.0 100"), ms(&[200]));
    assert_eq!(n.sent_times(true, "INVITE"), ms(&[0]));
    assert_eq!(n.uac_responses(), [100]);
    let (stx, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    // The final moves the server to Completed; the client transaction ACKs it itself
    // (17.1.1.3) and the ACK confirms the server transaction (17.2.1).
    n.uas
        .respond(n.now, stx, response_to(&m, 486, Some("b2")).to_bytes())
        .unwrap();
    n.pump();
    assert_eq!(n.uac_responses(), [100, 486]);
    assert_eq!(n.sent_times(true, "ACK").len(), 1);
    assert_eq!(
        n.uas.server_state(stx),
        Some(ac_sip::transaction::ServerState::Confirmed)
    );
    n.run_until(Duration::from_secs(10));
    assert!(n.uas.server_state(stx).is_none(), "timer I ended it");
}

#[test]
fn invite_server_timer_g_doubles_to_t2_and_h_gives_up() {
    let mut n = Net::new(4, 0.0);
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "h1", Transport::Udp),
        )
        .unwrap();
    n.pump();
    let (stx, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    n.loss = 1.0; // nothing reaches the UAC any more: no ACK
    n.uas
        .respond(n.now, stx, response_to(&m, 603, Some("b3")).to_bytes())
        .unwrap();
    n.run_until(Duration::from_secs(40));
    assert_eq!(
        n.sent_times(false, "SIP/2.0 603"),
        ms(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert!(n.uas_events.contains(&TxEvent::Timeout { tx: stx }));
}

#[test]
fn two_xx_is_retransmitted_until_its_ack_rfc6026() {
    let mut n = Net::new(5, 0.0);
    let ctx = n
        .uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "l1", Transport::Udp),
        )
        .unwrap();
    n.pump();
    let (stx, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    n.uas
        .respond(n.now, stx, response_to(&m, 200, Some("b4")).to_bytes())
        .unwrap();
    n.run_until(Duration::from_millis(2000));
    // Client: Accepted, every 2xx copy goes to the TU (which ACKs it: RFC 6026 8.4).
    assert_eq!(n.uac.client_state(ctx), Some(ClientState::Accepted));
    let twos = n.uac_responses().iter().filter(|c| **c == 200).count();
    assert_eq!(n.sent_times(false, "SIP/2.0 200"), ms(&[0, 500, 1500]));
    assert_eq!(twos, 3);
    // The TU's ACK (new branch) stops the retransmissions and reaches the UAS TU.
    let mut ack = MessageBuf::request(Method::Ack, "sip:bob@192.0.2.2");
    ack.push(
        HeaderName::Via,
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack1",
    );
    ack.push(HeaderName::From, "<sip:alice@192.0.2.1>;tag=a1");
    ack.push(HeaderName::To, "<sip:bob@192.0.2.2>;tag=b4");
    ack.push(HeaderName::CallId, "call-l1");
    ack.push(HeaderName::CSeq, "1 ACK");
    ack.push(HeaderName::MaxForwards, "70");
    n.uac
        .send_stateless(Transport::Udp, addr(UAS), ack.to_bytes());
    n.run_until(Duration::from_secs(40));
    assert_eq!(n.sent_times(false, "SIP/2.0 200"), ms(&[0, 500, 1500]));
    assert!(n
        .uas_events
        .iter()
        .any(|e| matches!(e, TxEvent::Ack { .. })));
    assert!(!n
        .uas_events
        .iter()
        .any(|e| matches!(e, TxEvent::AckTimeout { .. })));
    assert!(n.uac.is_empty() && n.uas.is_empty());

    // Without an ACK: T1 doubling to T2 until 64*T1, then AckTimeout for the TU to BYE.
    let mut n = Net::new(6, 0.0);
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "l2", Transport::Udp),
        )
        .unwrap();
    n.pump();
    let (stx, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    n.uas
        .respond(n.now, stx, response_to(&m, 200, Some("b5")).to_bytes())
        .unwrap();
    n.run_until(Duration::from_secs(40));
    assert_eq!(n.sent_times(false, "SIP/2.0 200").len(), 11);
    assert!(n.uas_events.contains(&TxEvent::AckTimeout { tx: stx }));
}

#[test]
fn cancel_matches_the_invite_and_unknown_cancel_gets_481() {
    let mut n = Net::new(7, 0.0);
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Invite, "c1", Transport::Udp),
        )
        .unwrap();
    n.pump();
    let (stx, _) = n.uas_requests()[0].clone();
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Cancel, "c1", Transport::Udp),
        )
        .unwrap();
    n.pump();
    assert!(n.uas_events.contains(&TxEvent::Cancelled { invite: stx }));
    assert_eq!(n.uac_responses(), [200]);
    n.uac
        .send_request(
            n.now,
            Transport::Udp,
            addr(UAS),
            request(Method::Cancel, "nope", Transport::Udp),
        )
        .unwrap();
    n.pump();
    assert_eq!(n.uac_responses(), [200, 481]);
}

#[test]
fn retransmitted_request_gets_the_last_response_and_strays_are_dropped() {
    let mut n = Net::new(8, 0.0);
    let req = request(Method::Options, "r1", Transport::Udp);
    n.uas.handle_message(n.now, Transport::Udp, addr(UAC), &req);
    n.pump();
    let (stx, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    n.uas
        .respond(n.now, stx, response_to(&m, 200, Some("x")).to_bytes())
        .unwrap();
    n.pump();
    n.uas.handle_message(n.now, Transport::Udp, addr(UAC), &req);
    n.pump();
    assert_eq!(n.uas_requests().len(), 1);
    assert_eq!(n.sent_times(false, "SIP/2.0 200").len(), 2);
    // A response for no transaction is dropped (18.1.2).
    n.uac.handle_message(
        n.now,
        Transport::Udp,
        addr(UAS),
        &response_to(&m, 200, Some("y")).to_bytes(),
    );
    n.pump();
    assert!(n
        .uac_events
        .iter()
        .any(|e| matches!(e, TxEvent::Dropped { .. })));
    assert!(n.uac_responses().is_empty());
}

#[test]
fn malformed_requests_get_400_and_via_is_stamped() {
    let mut n = Net::new(9, 0.0);
    // CSeq method differs from the request method.
    let bad = b"OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    n.uas.handle_message(n.now, Transport::Udp, addr(UAC), bad);
    n.pump();
    assert_eq!(n.sent_times(false, "SIP/2.0 400").len(), 1);
    assert!(n.uas_requests().is_empty());
    // A request whose Via names another host gets received= (18.2.1) and rport filled (RFC 3581).
    let mut b = MessageBuf::request(Method::Options, "sip:bob@192.0.2.2");
    b.push(
        HeaderName::Via,
        "SIP/2.0/UDP phone.example.com:5060;rport;branch=z9hG4bKst",
    );
    b.push(HeaderName::From, "<sip:a@b>;tag=1");
    b.push(HeaderName::To, "<sip:bob@192.0.2.2>");
    b.push(HeaderName::CallId, "y");
    b.push(HeaderName::CSeq, "2 OPTIONS");
    n.uas
        .handle_message(n.now, Transport::Udp, addr(UAC), &b.to_bytes());
    n.pump();
    let (_, data) = n.uas_requests()[0].clone();
    let m = Message::parse(&data).unwrap();
    let v = m.top_via().unwrap();
    assert_eq!(v.received().as_deref(), Some("192.0.2.1"));
    assert_eq!(v.rport(), Some(Some(5060)));
}
