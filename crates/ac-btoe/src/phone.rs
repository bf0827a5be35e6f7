//! The phone end (sans-IO): discovery announcements, pairing decisions, control sessions,
//! call mirroring and audio, as one state machine.
//!
//! ac-core drives it: network input through `handle_*`, its own call state through
//! [`Phone::update_call`] / [`Phone::set_locked`]; it takes [`PhoneOutput`]s from
//! [`Phone::poll_output`] (bytes to send, and [`PhoneEvent`]s such as a PC's click-to-dial)
//! and calls [`Phone::handle_timeout`] at [`Phone::poll_timeout`]. The [`crate::driver`]
//! module does this with real sockets.
//!
//! Rules implemented here (manual 4.11):
//! * automatic pairing only over the PC port (4.11.7): the hello must arrive on the phone's
//!   PC-port address and echo the token of the latest announce;
//! * manual pairing with the pair code only with `pairing_mode=BOTH` (4.11.8, 4.11.11);
//! * `CheckNetwork=1` refuses a PC outside the phone's subnets (4.11.12);
//! * wrong codes are rate-limited ([`crate::code::Limiter`]); one code handshake at a time;
//! * a new pair code when the address changes (4.11.8 note);
//! * while an automatically paired PC is unlocked the phone cannot be locked by hand, and
//!   the PC's unlock unlocks it (4.9 note).

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::audio::{AudioFrame, AudioRx, AudioTx};
use crate::code::{Limiter, PairCode};
use crate::config::{BtoeConfig, PairingMode, Subnet, DISCOVERY_PORT};
use crate::crypto::{self, Rng};
use crate::error::Error;
use crate::session::{auto_password, CloseReason, Pairing, Session, SessionEvent};
use crate::wire::{
    Alert, AlertCode, Announce, AppMessage, AudioHeader, CallInfo, CallState, Command,
    CommandStatus, Mode, PayloadType, MAX_CALLS, MAX_VERSION, MIN_VERSION,
};

/// Identifies one TCP connection (chosen by the driver).
pub type ConnId = u64;

/// Interval of announcements on the PC port.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);
/// Most pairings kept.
pub const MAX_PAIRINGS: usize = 4;
/// Most simultaneous TCP connections (handshaking or established).
pub const MAX_CONNS: usize = 16;

/// The phone's settings.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    pub btoe: BtoeConfig,
    /// The phone's own subnets (for CheckNetwork).
    pub networks: Vec<Subnet>,
    /// The phone's address and prefix on the PC-port link, if a PC port is in use.
    pub pc_port: Option<Subnet>,
    /// Name shown to the PC.
    pub name: String,
}

/// Events for ac-core.
#[derive(Debug)]
pub enum PhoneEvent {
    /// The pair code to show (at start, on rotation, after an address change).
    PairCode(String),
    /// A PC connected (BToE activated).
    Connected {
        conn: ConnId,
        peer: SocketAddr,
        mode: Mode,
        name: String,
    },
    /// A new pairing to persist.
    NewPairing(Pairing),
    /// A connected PC went away.
    Disconnected { conn: ConnId, reason: CloseReason },
    /// A handshake was refused.
    Refused { peer: SocketAddr, code: AlertCode },
    /// A handshake with a wrong code (or a forged peer) failed.
    AuthFailed { peer: SocketAddr },
    /// A command from the PC, already checked against the call table.
    Command { conn: ConnId, cmd: Command },
    /// Audio from the PC.
    Audio { conn: ConnId, frame: AudioFrame },
    /// The PC locked or unlocked (manual 4.9 note).
    PcLock { locked: bool },
}

/// What the driver does next.
#[derive(Debug)]
pub enum PhoneOutput {
    /// Bytes for a TCP connection.
    Transmit {
        conn: ConnId,
        data: Vec<u8>,
    },
    /// Close a TCP connection (after its pending transmits).
    Close {
        conn: ConnId,
    },
    /// A discovery datagram (from UDP 9999).
    Discovery {
        to: SocketAddr,
        data: Vec<u8>,
    },
    /// An audio datagram (from UDP TcpPortNumber-1).
    Audio {
        to: SocketAddr,
        data: Vec<u8>,
    },
    Event(PhoneEvent),
}

struct Established {
    session_id: u32,
    mode: Mode,
    audio_tx: AudioTx,
    audio_rx: AudioRx,
    audio_peer: Option<SocketAddr>,
}

struct Conn {
    session: Session,
    peer: SocketAddr,
    local: SocketAddr,
    /// Holds the one code-handshake slot; its failure is already counted.
    code_attempt: bool,
    /// The PC's name from its hello.
    name: String,
    est: Option<Established>,
}

/// The phone end.
pub struct Phone {
    cfg: PhoneConfig,
    rng: Box<dyn Rng>,
    phone_id: [u8; 16],
    token: [u8; 16],
    code: PairCode,
    limiter: Limiter,
    pairings: Vec<Pairing>,
    conns: BTreeMap<ConnId, Conn>,
    calls: BTreeMap<u32, CallInfo>,
    locked: bool,
    pc_locked: bool,
    next_announce: Option<Instant>,
    out: VecDeque<PhoneOutput>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("conns", &self.conns.len())
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl Phone {
    /// A phone; the first [`PhoneEvent::PairCode`] is queued.
    pub fn new(now: Instant, cfg: PhoneConfig, mut rng: Box<dyn Rng>) -> Phone {
        let code = PairCode::generate(rng.as_mut());
        let phone_id = crypto::random(rng.as_mut());
        let token = crypto::random(rng.as_mut());
        let next_announce = cfg.pc_port.map(|_| now);
        let mut p = Phone {
            cfg,
            rng,
            phone_id,
            token,
            code,
            limiter: Limiter::default(),
            pairings: Vec::new(),
            conns: BTreeMap::new(),
            calls: BTreeMap::new(),
            locked: false,
            pc_locked: false,
            next_announce,
            out: VecDeque::new(),
        };
        p.emit(PhoneEvent::PairCode(p.code.as_str().to_string()));
        p
    }

    fn emit(&mut self, e: PhoneEvent) {
        self.out.push_back(PhoneOutput::Event(e));
    }

    /// The pair code shown in the BToE menu (manual 4.11.8.1).
    pub fn pair_code(&self) -> &str {
        self.code.as_str()
    }

    /// A new pair code (the old one stops working).
    pub fn regenerate_code(&mut self) {
        self.code = PairCode::generate(self.rng.as_mut());
        self.emit(PhoneEvent::PairCode(self.code.as_str().to_string()));
    }

    /// The phone's addresses changed: new subnets and a new pair code (manual 4.11.8 note).
    pub fn set_networks(&mut self, now: Instant, networks: Vec<Subnet>, pc_port: Option<Subnet>) {
        self.cfg.networks = networks;
        self.cfg.pc_port = pc_port;
        self.next_announce = pc_port.map(|_| now);
        self.regenerate_code();
    }

    /// Restores a persisted pairing.
    pub fn add_pairing(&mut self, p: Pairing) {
        self.pairings.retain(|q| q.id != p.id);
        if self.pairings.len() == MAX_PAIRINGS {
            self.pairings.remove(0);
        }
        self.pairings.push(p);
    }

    /// The pairings (to persist).
    pub fn pairings(&self) -> &[Pairing] {
        &self.pairings
    }

    /// Consecutive failed code attempts.
    pub fn failed_attempts(&self) -> u32 {
        self.limiter.failures()
    }

    /// `true` while a PC session is established.
    pub fn is_connected(&self) -> bool {
        self.conns.values().any(|c| c.est.is_some())
    }

    /// Manual 4.9 note: an automatically paired, unlocked PC keeps the phone from being
    /// locked by hand.
    pub fn may_lock_manually(&self) -> bool {
        let auto_active = self
            .conns
            .values()
            .any(|c| c.est.as_ref().is_some_and(|e| e.mode == Mode::Auto));
        !auto_active || self.pc_locked
    }

    /// The phone's lock state (manual 4.9: no outgoing calls while locked).
    pub fn set_locked(&mut self, locked: bool) {
        self.locked = locked;
    }

    /// ac-core reports a call change; mirrored to the PC.
    pub fn update_call(&mut self, now: Instant, call: CallInfo) {
        if call.state == CallState::Ended {
            self.calls.remove(&call.id);
        } else if self.calls.contains_key(&call.id) || self.calls.len() < MAX_CALLS {
            self.calls.insert(call.id, call.clone());
        }
        self.broadcast(now, &AppMessage::Call(call));
    }

    /// The calls as mirrored.
    pub fn calls(&self) -> impl Iterator<Item = &CallInfo> {
        self.calls.values()
    }

    fn broadcast(&mut self, now: Instant, m: &AppMessage) {
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.est.is_some())
            .map(|(&i, _)| i)
            .collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                let _ = c.session.send(now, m);
            }
            self.drain(now, id);
        }
    }

    /// Sends audio to the connected PC (after the PC's first audio packet told its address).
    pub fn send_audio(
        &mut self,
        payload_type: PayloadType,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        let est = self
            .conns
            .values_mut()
            .find_map(|c| c.est.as_mut().filter(|e| e.audio_peer.is_some()))
            .ok_or(Error::State("no PC audio peer yet"))?;
        let data = est.audio_tx.protect(payload_type, timestamp, payload)?;
        let to = est.audio_peer.ok_or(Error::State("no PC audio peer yet"))?;
        self.out.push_back(PhoneOutput::Audio { to, data });
        Ok(())
    }

    /// Disconnects the PC(s); `forget` also drops the pairings.
    pub fn disconnect(&mut self, now: Instant, forget: bool) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.session.close_local(now, forget);
            }
            self.drain(now, id);
        }
        if forget {
            self.pairings.clear();
        }
    }

    /// A TCP connection was accepted on the control port.
    pub fn handle_accept(
        &mut self,
        now: Instant,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
    ) {
        let mut session = Session::server(now);
        if self.conns.len() >= MAX_CONNS {
            session.refuse(now, Alert::new(AlertCode::Busy));
        }
        self.conns.insert(
            conn,
            Conn {
                session,
                peer,
                local,
                code_attempt: false,
                name: String::new(),
                est: None,
            },
        );
        self.drain(now, conn);
    }

    /// Bytes from a TCP connection.
    pub fn handle_tcp_data(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.handle_input(now, data);
            self.drain(now, conn);
        }
    }

    /// A TCP connection closed.
    pub fn handle_tcp_closed(&mut self, now: Instant, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session.handle_transport_closed();
            self.drain(now, conn);
        }
    }

    /// A datagram on the audio port.
    pub fn handle_audio(&mut self, _now: Instant, from: SocketAddr, data: &[u8]) {
        let Ok((h, _)) = AudioHeader::parse(data) else {
            return;
        };
        let Some((&id, c)) = self
            .conns
            .iter_mut()
            .find(|(_, c)| c.est.as_ref().is_some_and(|e| e.session_id == h.session_id))
        else {
            return;
        };
        // Only from the PC of the control session.
        if from.ip() != c.peer.ip() {
            return;
        }
        let Some(est) = c.est.as_mut() else { return };
        if let Ok(frame) = est.audio_rx.unprotect(data) {
            // Latch the PC's audio address only after authentication.
            est.audio_peer = Some(from);
            self.emit(PhoneEvent::Audio { conn: id, frame });
        }
    }

    /// Timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (Some(t), Some(pc)) = (self.next_announce, self.cfg.pc_port) {
            if now >= t {
                self.next_announce = Some(now + ANNOUNCE_INTERVAL);
                let auto_connected = self
                    .conns
                    .values()
                    .any(|c| c.est.as_ref().is_some_and(|e| e.mode == Mode::Auto));
                if let (false, Some(bcast)) = (auto_connected, pc.broadcast()) {
                    let a = Announce {
                        min_version: MIN_VERSION,
                        max_version: MAX_VERSION,
                        auto: true,
                        manual: self.cfg.btoe.pairing_mode == PairingMode::Both,
                        tcp_port: self.cfg.btoe.tcp_port,
                        phone_id: self.phone_id,
                        token: self.token,
                        name: self.cfg.name.clone(),
                    };
                    self.out.push_back(PhoneOutput::Discovery {
                        to: SocketAddr::new(bcast, DISCOVERY_PORT),
                        data: a.emit(),
                    });
                }
            }
        }
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.poll_timeout().is_some_and(|t| t <= now))
            .map(|(&i, _)| i)
            .collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.session.handle_timeout(now);
            }
            self.drain(now, id);
        }
    }

    pub fn poll_output(&mut self) -> Option<PhoneOutput> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.session.poll_timeout())
            .chain(self.next_announce)
            .min()
    }

    fn own_network(&self, ip: IpAddr) -> bool {
        self.cfg
            .networks
            .iter()
            .chain(self.cfg.pc_port.iter())
            .any(|s| s.contains(ip))
    }

    /// Moves a session's output into ours and reacts to its events.
    fn drain(&mut self, now: Instant, id: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            let mut progressed = false;
            while let Some(data) = c.session.poll_transmit() {
                self.out.push_back(PhoneOutput::Transmit { conn: id, data });
                progressed = true;
            }
            if let Some(ev) = c.session.poll_event() {
                progressed = true;
                self.on_event(now, id, ev);
            }
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            if !progressed {
                if c.session.is_closed() {
                    if c.code_attempt {
                        // Counted when the ServerHello went out; released now.
                        c.code_attempt = false;
                    }
                    self.conns.remove(&id);
                    self.out.push_back(PhoneOutput::Close { conn: id });
                }
                return;
            }
        }
    }

    fn on_event(&mut self, now: Instant, id: ConnId, ev: SessionEvent) {
        match ev {
            SessionEvent::Hello {
                mode,
                ident,
                name: _,
                ..
            } => self.on_hello(now, id, mode, ident),
            SessionEvent::Established(keys) => {
                let Some(c) = self.conns.get_mut(&id) else {
                    return;
                };
                if c.code_attempt {
                    c.code_attempt = false;
                    self.limiter.success();
                }
                c.est = Some(Established {
                    session_id: keys.session_id,
                    mode: keys.mode,
                    audio_tx: AudioTx::new(&keys.audio_tx, keys.session_id),
                    audio_rx: AudioRx::new(&keys.audio_rx, keys.session_id),
                    audio_peer: None,
                });
                let (peer, name) = (c.peer, c.name.clone());
                // Mirror the current calls.
                let calls: Vec<CallInfo> = self.calls.values().cloned().collect();
                for call in calls {
                    if let Some(c) = self.conns.get_mut(&id) {
                        let _ = c.session.send(now, &AppMessage::Call(call));
                    }
                }
                if keys.mode != Mode::Resume {
                    let p = Pairing {
                        id: keys.pairing_id,
                        secret: keys.pairing_secret.clone(),
                        mode: keys.mode,
                    };
                    self.add_pairing(p.clone());
                    self.emit(PhoneEvent::NewPairing(p));
                }
                if keys.mode == Mode::Auto {
                    // A fresh token for the next automatic pairing.
                    self.token = crypto::random(self.rng.as_mut());
                }
                self.emit(PhoneEvent::Connected {
                    conn: id,
                    peer,
                    mode: keys.mode,
                    name,
                });
            }
            SessionEvent::Message(m) => self.on_message(now, id, m),
            SessionEvent::Closed(reason) => {
                let Some(c) = self.conns.get(&id) else { return };
                let peer = c.peer;
                if c.est.is_some() {
                    if let CloseReason::Bye { forget: true } = reason {
                        // The PC dropped the pairing: so do we (all PC-side pairings are
                        // one user's).
                        self.pairings.clear();
                    }
                    self.emit(PhoneEvent::Disconnected { conn: id, reason });
                } else {
                    match reason {
                        // The PC checks the phone's confirmation first, so a wrong code
                        // usually shows up as the PC's AuthFailed alert.
                        CloseReason::AuthFailed => self.emit(PhoneEvent::AuthFailed { peer }),
                        CloseReason::Refused(a) if a.code == AlertCode::AuthFailed => {
                            self.emit(PhoneEvent::AuthFailed { peer })
                        }
                        CloseReason::Refused(a) => {
                            self.emit(PhoneEvent::Refused { peer, code: a.code })
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn refuse(&mut self, now: Instant, id: ConnId, alert: Alert) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.session.refuse(now, alert);
        }
    }

    fn on_hello(&mut self, now: Instant, id: ConnId, mode: Mode, ident: Option<[u8; 16]>) {
        let Some(c) = self.conns.get(&id) else { return };
        let (peer, local) = (c.peer, c.local);
        // Manual 4.11.12: CheckNetwork=1 refuses PCs in other subnets.
        if self.cfg.btoe.check_network && !self.own_network(peer.ip()) {
            return self.refuse(now, id, Alert::new(AlertCode::NetworkRefused));
        }
        let password: Zeroizing<Vec<u8>> = match mode {
            Mode::Auto => {
                // Manual 4.11.7: automatic pairing is for the PC behind the PC port.
                let on_pc_port = self.cfg.pc_port.is_some_and(|s| s.addr == local.ip());
                if !on_pc_port {
                    return self.refuse(now, id, Alert::new(AlertCode::ModeNotAllowed));
                }
                if ident != Some(self.token) {
                    return self.refuse(now, id, Alert::new(AlertCode::AuthFailed));
                }
                Zeroizing::new(auto_password(&self.token))
            }
            Mode::Code => {
                // Manual 4.11.8: manual pairing needs pairing_mode=BOTH.
                if self.cfg.btoe.pairing_mode != PairingMode::Both {
                    return self.refuse(now, id, Alert::new(AlertCode::ModeNotAllowed));
                }
                if let Err(wait) = self.limiter.check(now) {
                    let mut a = Alert::new(AlertCode::RateLimited);
                    a.retry_after = wait.as_secs_f64().ceil().min(f64::from(u16::MAX)) as u16;
                    return self.refuse(now, id, a);
                }
                if self.conns.values().any(|c| c.code_attempt) {
                    return self.refuse(now, id, Alert::new(AlertCode::Busy));
                }
                // Counted now: a PC that sees our ServerHello can test one code offline
                // against it, whether or not it ever sends its confirmation.
                if self.limiter.failure(now) {
                    self.regenerate_code();
                }
                if let Some(c) = self.conns.get_mut(&id) {
                    c.code_attempt = true;
                }
                Zeroizing::new(self.code.as_str().as_bytes().to_vec())
            }
            Mode::Resume => {
                let Some(p) = self.pairings.iter().find(|p| Some(p.id) == ident) else {
                    return self.refuse(now, id, Alert::new(AlertCode::UnknownPairing));
                };
                Zeroizing::new(p.secret.to_vec())
            }
        };
        if let Some(c) = self.conns.get_mut(&id) {
            c.session.accept(now, &password, self.rng.as_mut());
        }
    }

    fn result(&mut self, now: Instant, id: ConnId, req: u32, status: CommandStatus, call: u32) {
        if let Some(c) = self.conns.get_mut(&id) {
            let _ = c
                .session
                .send(now, &AppMessage::CommandResult { req, status, call });
        }
    }

    fn on_message(&mut self, now: Instant, id: ConnId, m: AppMessage) {
        match m {
            AppMessage::Command { req, cmd } => {
                let check =
                    |calls: &BTreeMap<u32, CallInfo>, call: u32, ok: &[CallState]| match calls
                        .get(&call)
                    {
                        None => CommandStatus::UnknownCall,
                        Some(c) if ok.is_empty() || ok.contains(&c.state) => CommandStatus::Ok,
                        Some(_) => CommandStatus::InvalidState,
                    };
                let (status, call) = match &cmd {
                    // Manual 4.9: no outgoing calls while locked.
                    Command::Dial(_) if self.locked => (CommandStatus::Locked, 0),
                    Command::Dial(_) => (CommandStatus::Ok, 0),
                    Command::Answer(c) => (check(&self.calls, *c, &[CallState::Ringing]), *c),
                    Command::Hold(c) => (check(&self.calls, *c, &[CallState::Connected]), *c),
                    Command::Resume(c) => (check(&self.calls, *c, &[CallState::Held]), *c),
                    Command::Hangup(c) => (check(&self.calls, *c, &[]), *c),
                    Command::Conference(a, b) => {
                        let s = check(&self.calls, *a, &[CallState::Connected, CallState::Held]);
                        let s = if s == CommandStatus::Ok {
                            check(&self.calls, *b, &[CallState::Connected, CallState::Held])
                        } else {
                            s
                        };
                        (s, *a)
                    }
                };
                self.result(now, id, req, status, call);
                if status == CommandStatus::Ok {
                    self.emit(PhoneEvent::Command { conn: id, cmd });
                }
            }
            AppMessage::StatusRequest => {
                let calls = self.calls.values().cloned().collect();
                let locked = self.locked;
                if let Some(c) = self.conns.get_mut(&id) {
                    let _ = c.session.send(now, &AppMessage::Status { locked, calls });
                }
            }
            AppMessage::PcLock(locked) => {
                self.pc_locked = locked;
                self.emit(PhoneEvent::PcLock { locked });
            }
            // Phone-to-PC messages from a PC: ignored.
            AppMessage::CommandResult { .. }
            | AppMessage::Call(_)
            | AppMessage::Status { .. }
            | AppMessage::Ping(_)
            | AppMessage::Pong(_)
            | AppMessage::Bye { .. } => {}
        }
        self.drain(now, id);
    }
}
