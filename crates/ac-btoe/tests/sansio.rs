//! Both ends in one thread on a virtual clock: the phone core and the PC core connected by a
//! simulated TCP pipe (in order, can be cut) and a lossy datagram path with seeded loss.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_btoe::code::PairCode;
use ac_btoe::config::{BtoeConfig, PairingMode, Subnet};
use ac_btoe::pc::{PcAuth, PcClient, PcConfig, PcEvent, PcOutput};
use ac_btoe::phone::{ConnId, Phone, PhoneConfig, PhoneEvent, PhoneOutput};
use ac_btoe::session::{ClientAuth, CloseReason, Session, SessionEvent};
use ac_btoe::wire::{
    AlertCode, Announce, AppMessage, CallInfo, CallState, ClientHello, Command, CommandStatus,
    Mode, Number, PayloadType, Record, RecordType,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const PHONE: &str = "10.20.0.1:9999";
const PC_SAME: &str = "10.20.0.77:40000";
const PC_OTHER: &str = "10.30.0.5:40000";

fn rng(seed: u64) -> Box<ChaCha20Rng> {
    Box::new(ChaCha20Rng::seed_from_u64(seed))
}

fn phone_cfg(mode: PairingMode, check: bool, pc_port: bool) -> PhoneConfig {
    PhoneConfig {
        btoe: BtoeConfig {
            tcp_port: 9999,
            pairing_mode: mode,
            check_network: check,
        },
        networks: vec![Subnet::parse("10.20.0.1/24").unwrap()],
        pc_port: pc_port.then(|| Subnet::parse("10.20.0.1/24").unwrap()),
        name: "450HD".into(),
    }
}

struct Net {
    now: Instant,
    phone: Phone,
    pc: Option<PcClient>,
    pc_addr: SocketAddr,
    conn: Option<ConnId>,
    next_conn: ConnId,
    link_up: bool,
    loss: f64,
    loss_rng: ChaCha20Rng,
    pc_events: Vec<PcEvent>,
    phone_events: Vec<PhoneEvent>,
    announces: Vec<Announce>,
    /// Every byte on the wire (TCP and datagrams), for the eavesdropper checks.
    wire: Vec<Vec<u8>>,
}

impl Net {
    fn new(phone: PhoneConfig, pc_addr: &str) -> Net {
        let now = Instant::now();
        Net {
            now,
            phone: Phone::new(now, phone, rng(1)),
            pc: None,
            pc_addr: pc_addr.parse().unwrap(),
            conn: None,
            next_conn: 1,
            link_up: true,
            loss: 0.0,
            loss_rng: ChaCha20Rng::seed_from_u64(99),
            pc_events: Vec::new(),
            phone_events: Vec::new(),
            announces: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn start_pc(&mut self, auth: PcAuth, seed: u64) {
        self.pc = Some(PcClient::new(
            PcConfig {
                phone: PHONE.parse().unwrap(),
                name: "pc".into(),
                reconnect: true,
            },
            auth,
            rng(seed),
        ));
        self.pump();
    }

    fn lost(&mut self) -> bool {
        (self.loss_rng.next_u32() as f64 / u32::MAX as f64) < self.loss
    }

    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut any = false;
            while let Some(o) = self.pc.as_mut().and_then(PcClient::poll_output) {
                any = true;
                match o {
                    PcOutput::Connect(_) => {
                        let pc = self.pc.as_mut().unwrap();
                        if self.link_up {
                            let id = self.next_conn;
                            self.next_conn += 1;
                            self.conn = Some(id);
                            self.phone
                                .handle_accept(now, id, self.pc_addr, PHONE.parse().unwrap());
                            pc.handle_connected(now);
                        } else {
                            pc.handle_connect_failed(now);
                        }
                    }
                    PcOutput::Transmit(d) => {
                        self.wire.push(d.clone());
                        if let (Some(c), true) = (self.conn, self.link_up) {
                            self.phone.handle_tcp_data(now, c, &d);
                        }
                    }
                    PcOutput::Close => {
                        if let Some(c) = self.conn.take() {
                            self.phone.handle_tcp_closed(now, c);
                        }
                    }
                    PcOutput::Audio { data, .. } => {
                        self.wire.push(data.clone());
                        if !self.lost() {
                            self.phone.handle_audio(now, self.pc_addr, &data);
                        }
                    }
                    PcOutput::Event(e) => self.pc_events.push(e),
                }
            }
            while let Some(o) = self.phone.poll_output() {
                any = true;
                match o {
                    PhoneOutput::Transmit { conn, data } => {
                        self.wire.push(data.clone());
                        if self.conn == Some(conn) && self.link_up {
                            if let Some(pc) = self.pc.as_mut() {
                                pc.handle_tcp_data(now, &data);
                            }
                        }
                    }
                    PhoneOutput::Close { conn } => {
                        if self.conn == Some(conn) {
                            self.conn = None;
                            if let Some(pc) = self.pc.as_mut() {
                                pc.handle_tcp_closed(now);
                            }
                        }
                    }
                    PhoneOutput::Discovery { data, .. } => {
                        self.announces.push(Announce::parse(&data).unwrap())
                    }
                    PhoneOutput::Audio { data, .. } => {
                        self.wire.push(data.clone());
                        if !self.lost() {
                            if let Some(pc) = self.pc.as_mut() {
                                pc.handle_audio(now, &data);
                            }
                        }
                    }
                    PhoneOutput::Event(e) => self.phone_events.push(e),
                }
            }
            if !any {
                return;
            }
        }
    }

    /// Advances the virtual clock, firing every timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [
                self.phone.poll_timeout(),
                self.pc.as_ref().and_then(PcClient::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.phone.handle_timeout(now);
                    if let Some(pc) = self.pc.as_mut() {
                        pc.handle_timeout(now);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn pc(&mut self) -> &mut PcClient {
        self.pc.as_mut().unwrap()
    }

    fn pc_connected(&self) -> usize {
        self.pc_events
            .iter()
            .filter(|e| matches!(e, PcEvent::Connected { .. }))
            .count()
    }
}

fn code_of(n: &Net) -> PairCode {
    PairCode::parse(n.phone.pair_code()).unwrap()
}

fn wrong(c: &PairCode) -> PairCode {
    let mut s = c.as_str().to_string();
    let last = if s.ends_with('0') { "1" } else { "0" };
    s.replace_range(7..8, last);
    PairCode::parse(&s).unwrap()
}

#[test]
fn automatic_pairing_with_the_announce_token() {
    let mut n = Net::new(phone_cfg(PairingMode::Automatic, false, true), PC_SAME);
    n.advance(Duration::from_millis(10));
    let a = n
        .announces
        .last()
        .cloned()
        .expect("the phone announces on its PC port");
    assert!(a.auto && !a.manual);
    assert_eq!(a.tcp_port, 9999);
    n.start_pc(PcAuth::Auto { token: a.token }, 2);
    assert!(n.pc().is_established());
    assert!(n.phone.is_connected());
    let pc_pairing = n.pc().pairing().unwrap().clone();
    assert_eq!(n.phone.pairings().len(), 1);
    assert_eq!(n.phone.pairings()[0].id, pc_pairing.id);
    assert_eq!(n.phone.pairings()[0].mode, Mode::Auto);
    // Manual 4.9 note: auto-paired and the PC unlocked: no manual lock.
    assert!(!n.phone.may_lock_manually());
    let now = n.now;
    n.pc().set_pc_locked(now, true).unwrap();
    n.pump();
    assert!(n.phone.may_lock_manually());
    // No more announces while the automatic session is up.
    let count = n.announces.len();
    n.advance(Duration::from_secs(5));
    assert_eq!(n.announces.len(), count);
}

#[test]
fn stale_token_is_refused() {
    let mut n = Net::new(phone_cfg(PairingMode::Automatic, false, true), PC_SAME);
    n.start_pc(PcAuth::Auto { token: [7; 16] }, 2);
    assert!(!n.pc().is_established());
    assert!(n.pc_events.iter().any(|e| matches!(e, PcEvent::AuthFailed)));
}

#[test]
fn manual_pairing_then_resume_after_a_drop() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let code = code_of(&n);
    n.start_pc(PcAuth::Code(code), 2);
    assert!(n.pc().is_established());
    assert_eq!(n.phone.failed_attempts(), 0);
    // Quiet for a minute: keep-alives hold the session.
    n.advance(Duration::from_secs(60));
    assert!(n.pc().is_established());
    // The link dies silently: keep-alive timeout, then reconnect with the pairing.
    n.link_up = false;
    n.advance(Duration::from_secs(20));
    assert!(!n.pc().is_established());
    assert!(n
        .pc_events
        .iter()
        .any(|e| matches!(e, PcEvent::Disconnected(CloseReason::KeepAliveTimeout))));
    n.link_up = true;
    n.advance(Duration::from_secs(40));
    assert!(n.pc().is_established(), "{:?}", n.pc_events);
    assert_eq!(n.pc_connected(), 2);
    assert!(n.phone.is_connected());
}

#[test]
fn wrong_codes_are_refused_and_rate_limited() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let code = code_of(&n);
    for i in 0..3 {
        n.pc_events.clear();
        n.start_pc(PcAuth::Code(wrong(&code)), 10 + i);
        assert!(
            n.pc_events.iter().any(|e| matches!(e, PcEvent::AuthFailed)),
            "{i} {:?}",
            n.pc_events
        );
        assert!(!n.pc().is_established());
        assert!(n.pc().is_stopped());
    }
    assert_eq!(n.phone.failed_attempts(), 3);
    // Locked now: even the right code is refused until the lockout ends.
    n.pc_events.clear();
    n.start_pc(PcAuth::Code(code.clone()), 20);
    let retry = n.pc_events.iter().find_map(|e| match e {
        PcEvent::Refused {
            code: AlertCode::RateLimited,
            retry_after,
        } => Some(*retry_after),
        _ => None,
    });
    assert_eq!(retry, Some(2));
    n.advance(Duration::from_secs(2));
    n.start_pc(PcAuth::Code(code), 21);
    assert!(n.pc().is_established());
    assert_eq!(n.phone.failed_attempts(), 0);
}

#[test]
fn ten_failures_rotate_the_code() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let first = code_of(&n);
    for i in 0..10 {
        n.advance(Duration::from_secs(61));
        n.start_pc(PcAuth::Code(wrong(&first)), 100 + i);
    }
    assert_eq!(n.phone.failed_attempts(), 10);
    assert_ne!(code_of(&n), first);
    n.advance(Duration::from_secs(61));
    n.start_pc(PcAuth::Code(first), 200);
    assert!(!n.pc().is_established(), "the old code is gone");
}

#[test]
fn manual_pairing_needs_pairing_mode_both() {
    let mut n = Net::new(phone_cfg(PairingMode::Automatic, false, false), PC_SAME);
    let code = code_of(&n);
    n.start_pc(PcAuth::Code(code), 2);
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::Refused {
            code: AlertCode::ModeNotAllowed,
            ..
        }
    )));
    // Automatic mode off the PC port is refused too.
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    n.start_pc(PcAuth::Auto { token: [0; 16] }, 2);
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::Refused {
            code: AlertCode::ModeNotAllowed,
            ..
        }
    )));
}

#[test]
fn check_network_governs_cross_subnet_pairing() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_OTHER);
    let c = code_of(&n);
    n.start_pc(PcAuth::Code(c), 2);
    assert!(
        n.pc().is_established(),
        "CheckNetwork=0 allows other subnets"
    );
    let mut n = Net::new(phone_cfg(PairingMode::Both, true, false), PC_OTHER);
    let c = code_of(&n);
    n.start_pc(PcAuth::Code(c), 2);
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::Refused {
            code: AlertCode::NetworkRefused,
            ..
        }
    )));
    let mut n = Net::new(phone_cfg(PairingMode::Both, true, false), PC_SAME);
    let c = code_of(&n);
    n.start_pc(PcAuth::Code(c), 2);
    assert!(n.pc().is_established(), "same subnet with CheckNetwork=1");
}

fn paired() -> Net {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let c = code_of(&n);
    n.start_pc(PcAuth::Code(c), 2);
    assert!(n.pc().is_established());
    n
}

#[test]
fn click_to_dial_and_mirrored_call_control() {
    let mut n = paired();
    let now = n.now;
    let req = n
        .pc()
        .command(now, Command::Dial(Number::new("5551234").unwrap()))
        .unwrap();
    n.pump();
    assert!(n.phone_events.iter().any(|e| matches!(
        e,
        PhoneEvent::Command { cmd: Command::Dial(num), .. } if num.as_str() == "5551234"
    )));
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::CommandResult { req: r, status: CommandStatus::Ok, .. } if *r == req
    )));
    // The phone's call state reaches the PC.
    let call = |id, state, incoming| CallInfo {
        id,
        state,
        incoming,
        remote: Number::new("5551234").unwrap(),
    };
    n.phone
        .update_call(now, call(1, CallState::Connected, false));
    n.pump();
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::Call(c) if c.id == 1 && c.state == CallState::Connected
    )));
    // Hold from the PC: checked against the call table.
    n.pc().command(now, Command::Hold(1)).unwrap();
    n.pc().command(now, Command::Resume(1)).unwrap();
    n.pc().command(now, Command::Hold(9)).unwrap();
    n.pump();
    let results: Vec<CommandStatus> = n
        .pc_events
        .iter()
        .filter_map(|e| match e {
            PcEvent::CommandResult { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        vec![
            CommandStatus::Ok,
            CommandStatus::Ok,
            CommandStatus::InvalidState,
            CommandStatus::UnknownCall
        ]
    );
    // Incoming on the phone, answered from the PC.
    n.phone.update_call(now, call(2, CallState::Ringing, true));
    n.pump();
    n.pc().command(now, Command::Answer(2)).unwrap();
    n.pump();
    assert!(n.phone_events.iter().any(|e| matches!(
        e,
        PhoneEvent::Command {
            cmd: Command::Answer(2),
            ..
        }
    )));
    // Manual 4.9: the locked phone refuses click-to-dial.
    n.phone.set_locked(true);
    n.pc()
        .command(now, Command::Dial(Number::new("911").unwrap()))
        .unwrap();
    n.pump();
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::CommandResult {
            status: CommandStatus::Locked,
            ..
        }
    )));
    // Status mirrors the table.
    n.pc().request_status(now).unwrap();
    n.pump();
    assert!(n.pc_events.iter().any(|e| matches!(
        e,
        PcEvent::Status { locked: true, calls } if calls.len() == 2
    )));
}

#[test]
fn audio_with_seeded_loss_is_authentic_and_sequenced() {
    let mut n = paired();
    n.loss = 0.1;
    for i in 0..500u32 {
        n.pc()
            .send_audio(PayloadType::L16Wide, i * 320, &i.to_be_bytes())
            .unwrap();
        n.pump();
        n.now += Duration::from_millis(20);
    }
    let got: Vec<(u64, u32)> = n
        .phone_events
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::Audio { frame, .. } => Some((
                frame.seq,
                u32::from_be_bytes(frame.payload[..4].try_into().unwrap()),
            )),
            _ => None,
        })
        .collect();
    // 10 % seeded loss: between 400 and 480 of 500 arrive, each intact.
    assert!((400..480).contains(&got.len()), "{}", got.len());
    assert!(got.iter().all(|&(seq, v)| seq == u64::from(v)));
    // The phone answers to the latched PC address; the PC decrypts.
    n.loss = 0.0;
    n.phone
        .send_audio(PayloadType::L16Wide, 0, b"from phone")
        .unwrap();
    n.pump();
    assert!(n
        .pc_events
        .iter()
        .any(|e| matches!(e, PcEvent::Audio(f) if f.payload == b"from phone")));
    // A replayed datagram is dropped.
    let before = n.phone_events.len();
    let last_audio = n
        .wire
        .iter()
        .rev()
        .find(|d| d.first() == Some(&0xB1) && d[8..16] == 499u64.to_be_bytes())
        .unwrap()
        .clone();
    let now = n.now;
    let pc_addr = n.pc_addr;
    n.phone.handle_audio(now, pc_addr, &last_audio);
    n.pump();
    assert_eq!(n.phone_events.len(), before);
}

#[test]
fn no_plaintext_and_no_key_from_the_code_alone() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let code = code_of(&n);
    n.start_pc(PcAuth::Code(code.clone()), 2);
    let now = n.now;
    n.pc()
        .command(now, Command::Dial(Number::new("4155550123").unwrap()))
        .unwrap();
    n.pump();
    let all: Vec<u8> = n.wire.concat();
    let has = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"4155550123"), "dialed number in clear");
    assert!(!has(code.as_str().as_bytes()), "pair code in clear");
    // An eavesdropper who knows the code replays the PC side of SPAKE2 with its own
    // randomness against the recorded phone message: it gets a different key, and the
    // recorded phone confirmation does not verify.
    let hello = Record::parse(&n.wire[0]).unwrap();
    assert_eq!(hello.ty, RecordType::ClientHello);
    let mut eve = Session::client(now, &ClientAuth::code(&code, "pc"), rng(666).as_mut());
    let _ = eve.poll_transmit();
    eve.handle_input(now, &n.wire[1]);
    assert!(!eve.is_established());
    let ev = eve.poll_event();
    assert!(
        matches!(ev, Some(SessionEvent::Closed(CloseReason::AuthFailed))),
        "{ev:?}"
    );
}

#[test]
fn version_negotiation() {
    let now = Instant::now();
    // A future PC offering versions 1..=3 gets version 1.
    let mut s = Session::server(now);
    let mut r = rng(5);
    let (_, pake) = {
        let mut c = Session::client(now, &ClientAuth::auto([1; 16], "x"), r.as_mut());
        let rec = Record::parse(&c.poll_transmit().unwrap()).unwrap();
        let h = ClientHello::parse(&rec.body).unwrap();
        (c, h.pake)
    };
    let mk = |min, max| {
        Record {
            ty: RecordType::ClientHello,
            body: ClientHello {
                min_version: min,
                max_version: max,
                mode: Mode::Code,
                nonce: [0; 16],
                ident: None,
                pake: pake.clone(),
                name: "x".into(),
            }
            .emit(),
        }
        .emit()
    };
    s.handle_input(now, &mk(1, 3));
    assert!(matches!(
        s.poll_event(),
        Some(SessionEvent::Hello { version: 1, .. })
    ));
    // Only versions 2..=3: refused with our range in the alert.
    let mut s = Session::server(now);
    s.handle_input(now, &mk(2, 3));
    assert!(matches!(
        s.poll_event(),
        Some(SessionEvent::Closed(CloseReason::VersionMismatch))
    ));
    let alert = Record::parse(&s.poll_transmit().unwrap()).unwrap();
    assert_eq!(alert.ty, RecordType::Alert);
    let _ = AppMessage::Ping(0);
}

#[test]
fn handshake_timeout_counts_as_a_failed_attempt() {
    let mut n = Net::new(phone_cfg(PairingMode::Both, false, false), PC_SAME);
    let now = n.now;
    // A client that sends the hello and then goes silent.
    n.phone
        .handle_accept(now, 77, n.pc_addr, PHONE.parse().unwrap());
    let c = code_of(&n);
    let mut eve = Session::client(now, &ClientAuth::code(&c, "eve"), rng(3).as_mut());
    let hello = eve.poll_transmit().unwrap();
    n.phone.handle_tcp_data(now, 77, &hello);
    assert_eq!(n.phone.failed_attempts(), 1);
    n.advance(Duration::from_secs(11));
    assert!(n.phone.poll_timeout().is_none_or(|t| t > n.now));
    assert_eq!(n.phone.failed_attempts(), 1);
}
