//! Property tests: every frame type parses back to what was emitted; truncations of a valid
//! frame are refused (never a panic); a session survives arbitrary record splits.

use std::time::Instant;

use ac_btoe::audio::{AudioRx, AudioTx};
use ac_btoe::code::PairCode;
use ac_btoe::session::{ClientAuth, Session, SessionEvent};
use ac_btoe::wire::*;
use ac_btoe::WireError;
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn number() -> impl Strategy<Value = Number> {
    "[0-9A-Za-z+*#@.:_-]{1,64}".prop_map(|s| Number::new(&s).unwrap())
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 äöü]{0,20}".prop_filter("fits", |s| s.len() <= MAX_NAME)
}

fn call() -> impl Strategy<Value = CallInfo> {
    (
        any::<u32>(),
        prop_oneof![
            Just(CallState::Dialing),
            Just(CallState::Ringing),
            Just(CallState::Ringback),
            Just(CallState::Connected),
            Just(CallState::Held),
            Just(CallState::Ended)
        ],
        any::<bool>(),
        number(),
    )
        .prop_map(|(id, state, incoming, remote)| CallInfo {
            id,
            state,
            incoming,
            remote,
        })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        number().prop_map(Command::Dial),
        any::<u32>().prop_map(Command::Answer),
        any::<u32>().prop_map(Command::Hold),
        any::<u32>().prop_map(Command::Resume),
        any::<u32>().prop_map(Command::Hangup),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Command::Conference(a, b)),
    ]
}

fn message() -> impl Strategy<Value = AppMessage> {
    prop_oneof![
        any::<u32>().prop_map(AppMessage::Ping),
        any::<u32>().prop_map(AppMessage::Pong),
        (any::<u32>(), command()).prop_map(|(req, cmd)| AppMessage::Command { req, cmd }),
        (
            any::<u32>(),
            prop_oneof![
                Just(CommandStatus::Ok),
                Just(CommandStatus::UnknownCall),
                Just(CommandStatus::InvalidState),
                Just(CommandStatus::Locked)
            ],
            any::<u32>()
        )
            .prop_map(|(req, status, call)| AppMessage::CommandResult {
                req,
                status,
                call
            }),
        call().prop_map(AppMessage::Call),
        Just(AppMessage::StatusRequest),
        (any::<bool>(), prop::collection::vec(call(), 0..=MAX_CALLS))
            .prop_map(|(locked, calls)| AppMessage::Status { locked, calls }),
        any::<bool>().prop_map(AppMessage::PcLock),
        any::<bool>().prop_map(|forget| AppMessage::Bye { forget }),
    ]
}

fn refused_when_truncated<T>(b: &[u8], parse: impl Fn(&[u8]) -> Result<T, WireError>) {
    for cut in 0..b.len() {
        assert!(parse(&b[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
}

proptest! {
    #[test]
    fn announce_round_trips(
        min in 1u8..4, span in 0u8..3, auto in any::<bool>(), manual in any::<bool>(),
        port in 2u16.., id in any::<[u8; 16]>(), token in any::<[u8; 16]>(), n in name(),
    ) {
        let a = Announce { min_version: min, max_version: min + span, auto, manual,
            tcp_port: port, phone_id: id, token, name: n };
        let b = a.emit();
        prop_assert_eq!(Announce::parse(&b).unwrap(), a);
        refused_when_truncated(&b, Announce::parse);
    }

    #[test]
    fn client_hello_round_trips(
        mode in prop_oneof![Just(Mode::Auto), Just(Mode::Code), Just(Mode::Resume)],
        nonce in any::<[u8; 16]>(), ident in any::<[u8; 16]>(),
        pake in prop::collection::vec(any::<u8>(), PAKE_MSG_LEN), n in name(),
    ) {
        let h = ClientHello { min_version: 1, max_version: 2, mode, nonce,
            ident: (mode != Mode::Code).then_some(ident), pake, name: n };
        let b = h.emit();
        prop_assert_eq!(ClientHello::parse(&b).unwrap(), h);
        refused_when_truncated(&b, ClientHello::parse);
    }

    #[test]
    fn server_hello_alert_finish_round_trip(
        v in 1u8.., sid in any::<u32>(), nonce in any::<[u8; 16]>(),
        pake in prop::collection::vec(any::<u8>(), PAKE_MSG_LEN), confirm in any::<[u8; 32]>(),
        retry in any::<u16>(),
    ) {
        let sh = ServerHello { version: v, session_id: sid, nonce, pake, confirm };
        let b = sh.emit();
        prop_assert_eq!(b.len(), ServerHello::PRE_CONFIRM + 32);
        prop_assert_eq!(ServerHello::parse(&b).unwrap(), sh);
        refused_when_truncated(&b, ServerHello::parse);
        let f = ClientFinish { confirm };
        prop_assert_eq!(ClientFinish::parse(&f.emit()).unwrap(), f);
        let mut a = Alert::new(AlertCode::RateLimited);
        a.retry_after = retry;
        prop_assert_eq!(Alert::parse(&a.emit()).unwrap(), a);
    }

    #[test]
    fn messages_round_trip(m in message()) {
        let b = m.emit();
        prop_assert_eq!(AppMessage::parse(&b).unwrap(), m);
        refused_when_truncated(&b, AppMessage::parse);
    }

    #[test]
    fn records_round_trip(
        ty in prop_oneof![Just(RecordType::ClientHello), Just(RecordType::ServerHello),
            Just(RecordType::ClientFinish), Just(RecordType::Alert), Just(RecordType::Data)],
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let r = Record { ty, body };
        let b = r.emit();
        prop_assert_eq!(Record::parse(&b).unwrap(), r.clone());
        prop_assert_eq!(Record::parse_stream(&b[..b.len() - 1]).unwrap(), None);
    }

    #[test]
    fn audio_round_trips(
        sid in any::<u32>(), ts in any::<u32>(), key in any::<[u8; 32]>(),
        payload in prop::collection::vec(any::<u8>(), 0..MAX_AUDIO_PAYLOAD),
    ) {
        let mut tx = AudioTx::new(&key, sid);
        let d = tx.protect(PayloadType::G722, ts, &payload).unwrap();
        let (h, rest) = AudioHeader::parse(&d).unwrap();
        prop_assert_eq!(h.timestamp, ts);
        let mut again = h.emit().to_vec();
        again.extend_from_slice(rest);
        prop_assert_eq!(&again, &d);
        let f = AudioRx::new(&key, sid).unprotect(&d).unwrap();
        prop_assert_eq!(f.payload, payload);
    }

    /// The handshake and a message survive any split of the byte stream.
    #[test]
    fn session_handles_any_segmentation(seed in any::<u64>(), cuts in prop::collection::vec(1usize..40, 1..20)) {
        let now = Instant::now();
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        let code = PairCode::generate(&mut r);
        let mut pc = Session::client(now, &ClientAuth::code(&code, "pc"), &mut r);
        let mut ph = Session::server(now);
        let feed = |from: &mut Session, to: &mut Session, cuts: &[usize]| {
            let mut all = Vec::new();
            while let Some(b) = from.poll_transmit() { all.extend(b); }
            let mut i = 0;
            for c in cuts.iter().cycle() {
                if i >= all.len() { break; }
                let e = (i + c).min(all.len());
                to.handle_input(now, &all[i..e]);
                i = e;
            }
        };
        feed(&mut pc, &mut ph, &cuts);
        let hello = matches!(ph.poll_event(), Some(SessionEvent::Hello { mode: Mode::Code, .. }));
        prop_assert!(hello);
        ph.accept(now, code.as_str().as_bytes(), &mut r);
        feed(&mut ph, &mut pc, &cuts);
        prop_assert!(pc.is_established());
        pc.send(now, &AppMessage::PcLock(true)).unwrap();
        feed(&mut pc, &mut ph, &cuts);
        prop_assert!(ph.is_established());
        let mut got = Vec::new();
        while let Some(e) = ph.poll_event() { got.push(format!("{e:?}")); }
        prop_assert!(got.iter().any(|e| e.contains("PcLock(true)")), "{:?}", got);
    }
}
