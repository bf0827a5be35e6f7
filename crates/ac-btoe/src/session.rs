//! One control-channel connection, PC or phone end (sans-IO).
//!
//! Bytes from TCP go in through [`Session::handle_input`]; bytes to send come out of
//! [`Session::poll_transmit`], events out of [`Session::poll_event`]; timers through
//! [`Session::poll_timeout`] / [`Session::handle_timeout`]. The session never touches a
//! socket or a clock.
//!
//! Handshake (docs/btoe-protocol.md section 4): ClientHello (versions, mode, SPAKE2 A) ->
//! ServerHello (chosen version, session id, SPAKE2 B, phone confirmation) -> ClientFinish
//! (PC confirmation). Then `Data` records carry [`AppMessage`]s under ChaCha20-Poly1305
//! with per-direction counters. Either end sends a `Ping` after [`PING_INTERVAL`] of
//! silence from itself and gives up after [`DEAD_AFTER`] of silence from the peer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::crypto::{self, Aead1, KeySchedule, Pake, Rng};
use crate::wire::{
    Alert, AlertCode, AppMessage, ClientFinish, ClientHello, Mode, Record, RecordType, ServerHello,
    MAX_VERSION, MIN_VERSION, RECORD_HEADER,
};

/// Silence (from us) after which we send a ping.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// Silence (from the peer) after which the session is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(15);
/// Time allowed for the whole handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest application message.
pub const MAX_MESSAGE: usize = 4096;

/// Which end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Pc,
    Phone,
}

/// How the PC authenticates.
pub struct ClientAuth {
    pub mode: Mode,
    /// The SPAKE2 password: pair code, `"auto" || token`, or the pairing secret.
    pub password: Zeroizing<Vec<u8>>,
    /// Token (Auto) or pairing id (Resume).
    pub ident: Option<[u8; 16]>,
    /// The PC's display name.
    pub name: String,
}

impl ClientAuth {
    /// Manual pairing with a code.
    pub fn code(code: &crate::code::PairCode, name: &str) -> Self {
        ClientAuth {
            mode: Mode::Code,
            password: Zeroizing::new(code.as_str().as_bytes().to_vec()),
            ident: None,
            name: name.to_string(),
        }
    }
    /// Automatic pairing with the token of an announce.
    pub fn auto(token: [u8; 16], name: &str) -> Self {
        ClientAuth {
            mode: Mode::Auto,
            password: Zeroizing::new(auto_password(&token)),
            ident: Some(token),
            name: name.to_string(),
        }
    }
    /// Reconnect of a stored pairing.
    pub fn resume(id: [u8; 16], secret: &[u8; 32], name: &str) -> Self {
        ClientAuth {
            mode: Mode::Resume,
            password: Zeroizing::new(secret.to_vec()),
            ident: Some(id),
            name: name.to_string(),
        }
    }
}

/// The SPAKE2 password of automatic pairing.
pub fn auto_password(token: &[u8; 16]) -> Vec<u8> {
    let mut p = b"auto".to_vec();
    p.extend_from_slice(token);
    p
}

/// A pairing to persist: the phone keeps it to recognise the PC, the PC to reconnect
/// (the secret is the SPAKE2 password of `Resume` hellos).
#[derive(Clone)]
pub struct Pairing {
    pub id: [u8; 16],
    pub secret: Zeroizing<[u8; 32]>,
    /// How it was made (Auto or Code).
    pub mode: Mode,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What an established session derived.
#[derive(Clone)]
pub struct SessionKeys {
    pub version: u8,
    pub session_id: u32,
    pub mode: Mode,
    /// Audio key for what this end sends.
    pub audio_tx: Zeroizing<[u8; 32]>,
    /// Audio key for what this end receives.
    pub audio_rx: Zeroizing<[u8; 32]>,
    /// Pairing id and secret (meaningful after Auto or Code; on Resume the same values are
    /// derived anew and not used).
    pub pairing_id: [u8; 16],
    pub pairing_secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("version", &self.version)
            .field("session_id", &self.session_id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent an alert (refusal, rate limit, ...).
    Refused(Alert),
    /// The peer's key confirmation was wrong (wrong pair code or forged peer).
    AuthFailed,
    /// No common version.
    VersionMismatch,
    HandshakeTimeout,
    KeepAliveTimeout,
    /// A malformed or unexpected record, or a failed AEAD check.
    Protocol(String),
    /// The peer said goodbye (`forget`: it dropped the pairing).
    Bye {
        forget: bool,
    },
    /// The transport closed.
    TransportClosed,
    /// This end closed it.
    Local,
}

/// Session output events.
#[derive(Debug)]
pub enum SessionEvent {
    /// Phone only: a hello arrived; decide with [`Session::accept`] or [`Session::refuse`].
    Hello {
        mode: Mode,
        ident: Option<[u8; 16]>,
        name: String,
        version: u8,
    },
    Established(SessionKeys),
    Message(AppMessage),
    Closed(CloseReason),
}

enum St {
    ClientWait {
        pake: Pake,
        hello: Vec<u8>,
    },
    ServerWaitHello,
    ServerDecide {
        hello: ClientHello,
        hello_bytes: Vec<u8>,
        version: u8,
    },
    ServerWaitFinish {
        keys: Box<KeySchedule>,
        transcript: [u8; 32],
        phone_mac: [u8; 32],
        version: u8,
        session_id: u32,
        mode: Mode,
    },
    Established {
        tx: Aead1,
        rx: Aead1,
        tx_ctr: u64,
        rx_ctr: u64,
    },
    Closed,
    /// Placeholder while a transition is computed (never observable between calls).
    Transit,
}

/// One control connection.
pub struct Session {
    role: Role,
    st: St,
    rx_buf: Vec<u8>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    deadline: Option<Instant>,
    last_rx: Instant,
    last_tx: Instant,
    ping_id: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("established", &self.is_established())
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn version_choice(min: u8, max: u8) -> Option<u8> {
    let hi = max.min(MAX_VERSION);
    (hi >= min.max(MIN_VERSION)).then_some(hi)
}

impl Session {
    fn new(role: Role, st: St, now: Instant) -> Self {
        Session {
            role,
            st,
            rx_buf: Vec::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            deadline: Some(now + HANDSHAKE_TIMEOUT),
            last_rx: now,
            last_tx: now,
            ping_id: 0,
        }
    }

    /// The PC end of a new TCP connection; the ClientHello is queued.
    pub fn client(now: Instant, auth: &ClientAuth, rng: &mut dyn Rng) -> Session {
        let (pake, msg) = Pake::start_pc(&auth.password, rng);
        let hello = ClientHello {
            min_version: MIN_VERSION,
            max_version: MAX_VERSION,
            mode: auth.mode,
            nonce: crypto::random(rng),
            ident: auth.ident,
            pake: msg,
            name: auth.name.clone(),
        };
        let rec = Record {
            ty: RecordType::ClientHello,
            body: hello.emit(),
        }
        .emit();
        let mut s = Session::new(
            Role::Pc,
            St::ClientWait {
                pake,
                hello: rec.clone(),
            },
            now,
        );
        s.tx.push_back(rec);
        s
    }

    /// The phone end of an accepted TCP connection.
    pub fn server(now: Instant) -> Session {
        Session::new(Role::Phone, St::ServerWaitHello, now)
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_established(&self) -> bool {
        matches!(self.st, St::Established { .. })
    }

    /// Closed: flush [`Session::poll_transmit`], then close the transport.
    pub fn is_closed(&self) -> bool {
        matches!(self.st, St::Closed)
    }

    fn close(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.st = St::Closed;
            self.deadline = None;
            self.rx_buf.clear();
            self.events.push_back(SessionEvent::Closed(reason));
        }
    }

    fn alert_and_close(&mut self, now: Instant, alert: Alert, reason: CloseReason) {
        self.push_record(now, RecordType::Alert, alert.emit());
        self.close(reason);
    }

    fn push_record(&mut self, now: Instant, ty: RecordType, body: Vec<u8>) {
        self.tx.push_back(Record { ty, body }.emit());
        self.last_tx = now;
    }

    /// Bytes received from the transport.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.last_rx = now;
        self.rx_buf.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            if self.is_closed() {
                return;
            }
            match Record::parse_stream(&self.rx_buf[used..]) {
                Ok(Some((rec, n))) => {
                    let raw = self.rx_buf[used..used + n].to_vec();
                    used += n;
                    self.handle_record(now, rec, raw);
                }
                Ok(None) => break,
                Err(e) => {
                    self.alert_and_close(
                        now,
                        Alert::new(AlertCode::Protocol),
                        CloseReason::Protocol(e.to_string()),
                    );
                    return;
                }
            }
        }
        self.rx_buf.drain(..used);
    }

    /// The transport closed under us.
    pub fn handle_transport_closed(&mut self) {
        self.close(CloseReason::TransportClosed);
    }

    fn protocol(&mut self, now: Instant, what: &str) {
        self.alert_and_close(
            now,
            Alert::new(AlertCode::Protocol),
            CloseReason::Protocol(what.to_string()),
        );
    }

    fn handle_record(&mut self, now: Instant, rec: Record, raw: Vec<u8>) {
        if rec.ty == RecordType::Alert {
            match Alert::parse(&rec.body) {
                Ok(a) => self.close(CloseReason::Refused(a)),
                Err(e) => self.close(CloseReason::Protocol(e.to_string())),
            }
            return;
        }
        let st = std::mem::replace(&mut self.st, St::Transit);
        match (st, rec.ty) {
            (St::ServerWaitHello, RecordType::ClientHello) => match ClientHello::parse(&rec.body) {
                Ok(h) => match version_choice(h.min_version, h.max_version) {
                    Some(version) => {
                        self.events.push_back(SessionEvent::Hello {
                            mode: h.mode,
                            ident: h.ident,
                            name: h.name.clone(),
                            version,
                        });
                        self.st = St::ServerDecide {
                            hello: h,
                            hello_bytes: raw,
                            version,
                        };
                    }
                    None => {
                        self.st = St::ServerWaitHello;
                        self.alert_and_close(
                            now,
                            Alert::new(AlertCode::UnsupportedVersion),
                            CloseReason::VersionMismatch,
                        );
                    }
                },
                Err(e) => {
                    self.st = St::ServerWaitHello;
                    self.protocol(now, &e.to_string());
                }
            },
            (St::ClientWait { pake, hello }, RecordType::ServerHello) => {
                self.client_server_hello(now, pake, &hello, &rec, &raw)
            }
            (
                St::ServerWaitFinish {
                    keys,
                    transcript,
                    phone_mac,
                    version,
                    session_id,
                    mode,
                },
                RecordType::ClientFinish,
            ) => {
                let ok = ClientFinish::parse(&rec.body)
                    .map(|f| crypto::mac_eq(&f.confirm, &keys.pc_mac(&transcript, &phone_mac)))
                    .unwrap_or(false);
                if !ok {
                    // The PC's confirmation is wrong: it does not know the password.
                    self.alert_and_close(
                        now,
                        Alert::new(AlertCode::AuthFailed),
                        CloseReason::AuthFailed,
                    );
                    return;
                }
                self.establish(&keys, version, session_id, mode);
            }
            (
                St::Established {
                    tx,
                    rx,
                    tx_ctr,
                    rx_ctr,
                },
                RecordType::Data,
            ) => {
                let hdr = Record::header(RecordType::Data, rec.body.len());
                match rx.open(rx_ctr, &hdr, &rec.body) {
                    Ok(pt) => {
                        self.st = St::Established {
                            tx,
                            rx,
                            tx_ctr,
                            rx_ctr: rx_ctr + 1,
                        };
                        match AppMessage::parse(&pt) {
                            Ok(AppMessage::Ping(id)) => {
                                let _ = self.send(now, &AppMessage::Pong(id));
                            }
                            Ok(AppMessage::Pong(_)) => {}
                            Ok(AppMessage::Bye { forget }) => {
                                self.close(CloseReason::Bye { forget })
                            }
                            Ok(m) => self.events.push_back(SessionEvent::Message(m)),
                            Err(e) => self.protocol(now, &e.to_string()),
                        }
                    }
                    Err(_) => self.close(CloseReason::Protocol("AEAD check failed".into())),
                }
            }
            (st, ty) => {
                self.st = st;
                self.protocol(now, &format!("unexpected record {ty:?}"));
            }
        }
    }

    fn client_server_hello(
        &mut self,
        now: Instant,
        pake: Pake,
        hello: &[u8],
        rec: &Record,
        raw: &[u8],
    ) {
        let sh = match ServerHello::parse(&rec.body) {
            Ok(sh) => sh,
            Err(e) => return self.protocol(now, &e.to_string()),
        };
        if !(MIN_VERSION..=MAX_VERSION).contains(&sh.version) {
            return self.alert_and_close(
                now,
                Alert::new(AlertCode::UnsupportedVersion),
                CloseReason::VersionMismatch,
            );
        }
        let key = match pake.finish(&sh.pake) {
            Ok(k) => k,
            Err(e) => return self.protocol(now, &e.to_string()),
        };
        let transcript =
            crypto::transcript(hello, &raw[..RECORD_HEADER + ServerHello::PRE_CONFIRM]);
        let keys = KeySchedule::derive(&key, &transcript);
        if !crypto::mac_eq(&sh.confirm, &keys.phone_mac(&transcript)) {
            // Different passwords: a wrong pair code, or not the phone we paired with.
            return self.alert_and_close(
                now,
                Alert::new(AlertCode::AuthFailed),
                CloseReason::AuthFailed,
            );
        }
        let confirm = keys.pc_mac(&transcript, &sh.confirm);
        self.push_record(
            now,
            RecordType::ClientFinish,
            ClientFinish { confirm }.emit(),
        );
        let mode = self.client_mode(hello);
        self.establish(&keys, sh.version, sh.session_id, mode);
    }

    fn client_mode(&self, hello_rec: &[u8]) -> Mode {
        ClientHello::parse(&hello_rec[RECORD_HEADER..])
            .map(|h| h.mode)
            .unwrap_or(Mode::Resume)
    }

    fn establish(&mut self, keys: &KeySchedule, version: u8, session_id: u32, mode: Mode) {
        let (tx, rx, atx, arx) = match self.role {
            Role::Pc => (
                &keys.ctl_pc_to_phone,
                &keys.ctl_phone_to_pc,
                keys.audio_pc_to_phone,
                keys.audio_phone_to_pc,
            ),
            Role::Phone => (
                &keys.ctl_phone_to_pc,
                &keys.ctl_pc_to_phone,
                keys.audio_phone_to_pc,
                keys.audio_pc_to_phone,
            ),
        };
        self.st = St::Established {
            tx: Aead1::new(tx),
            rx: Aead1::new(rx),
            tx_ctr: 0,
            rx_ctr: 0,
        };
        self.deadline = None;
        self.events
            .push_back(SessionEvent::Established(SessionKeys {
                version,
                session_id,
                mode,
                audio_tx: Zeroizing::new(atx),
                audio_rx: Zeroizing::new(arx),
                pairing_id: keys.pairing_id,
                pairing_secret: Zeroizing::new(keys.pairing_secret),
            }));
    }

    /// Phone: accept the pending hello with this SPAKE2 password.
    pub fn accept(&mut self, now: Instant, password: &[u8], rng: &mut dyn Rng) {
        let st = std::mem::replace(&mut self.st, St::Transit);
        let St::ServerDecide {
            hello,
            hello_bytes,
            version,
        } = st
        else {
            self.st = st;
            return;
        };
        let (pake, msg) = Pake::start_phone(password, rng);
        let key = match pake.finish(&hello.pake) {
            Ok(k) => k,
            Err(e) => return self.protocol(now, &e.to_string()),
        };
        let session_id = rng.next_u32();
        let sh = ServerHello {
            version,
            session_id,
            nonce: crypto::random(rng),
            pake: msg,
            confirm: [0; 32],
        };
        let mut rec = Record {
            ty: RecordType::ServerHello,
            body: sh.emit(),
        }
        .emit();
        let pre = RECORD_HEADER + ServerHello::PRE_CONFIRM;
        let transcript = crypto::transcript(&hello_bytes, &rec[..pre]);
        let keys = KeySchedule::derive(&key, &transcript);
        let phone_mac = keys.phone_mac(&transcript);
        rec[pre..].copy_from_slice(&phone_mac);
        self.tx.push_back(rec);
        self.last_tx = now;
        self.st = St::ServerWaitFinish {
            keys: Box::new(keys),
            transcript,
            phone_mac,
            version,
            session_id,
            mode: hello.mode,
        };
    }

    /// Phone: refuse the pending hello (or any session) with an alert.
    pub fn refuse(&mut self, now: Instant, alert: Alert) {
        let code = alert.code;
        self.alert_and_close(now, alert, CloseReason::Refused(Alert::new(code)));
    }

    /// Sends an application message (established sessions only).
    pub fn send(&mut self, now: Instant, msg: &AppMessage) -> Result<(), crate::Error> {
        let pt = msg.emit();
        if pt.len() > MAX_MESSAGE {
            return Err(crate::Error::State("message too long"));
        }
        let St::Established { tx, tx_ctr, .. } = &mut self.st else {
            return Err(crate::Error::State("session not established"));
        };
        let hdr = Record::header(RecordType::Data, pt.len() + 16);
        let ct = tx.seal(*tx_ctr, &hdr, &pt)?;
        *tx_ctr += 1;
        self.push_record(now, RecordType::Data, ct);
        Ok(())
    }

    /// Orderly close: a `Bye` (if established), then closed.
    pub fn close_local(&mut self, now: Instant, forget: bool) {
        if self.is_established() {
            let _ = self.send(now, &AppMessage::Bye { forget });
        } else if !self.is_closed() {
            self.push_record(
                now,
                RecordType::Alert,
                Alert::new(AlertCode::Closing).emit(),
            );
        }
        self.close(CloseReason::Local);
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.st {
            St::Closed | St::Transit => None,
            St::Established { .. } => {
                Some((self.last_tx + PING_INTERVAL).min(self.last_rx + DEAD_AFTER))
            }
            _ => self.deadline,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.st {
            St::Closed | St::Transit => {}
            St::Established { .. } => {
                if now >= self.last_rx + DEAD_AFTER {
                    self.close(CloseReason::KeepAliveTimeout);
                } else if now >= self.last_tx + PING_INTERVAL {
                    self.ping_id = self.ping_id.wrapping_add(1);
                    let _ = self.send(now, &AppMessage::Ping(self.ping_id));
                }
            }
            _ => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.alert_and_close(
                        now,
                        Alert::new(AlertCode::Timeout),
                        CloseReason::HandshakeTimeout,
                    );
                }
            }
        }
    }
}
