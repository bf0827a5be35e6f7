//! The PC end (sans-IO): the reference client an integrator's PC application builds on.
//!
//! It pairs (automatically with an announce's token, or with the pair code), keeps the
//! pairing, reconnects with it after a drop (exponential backoff, 1 s to 30 s), sends
//! call-control commands and the PC's lock state, mirrors the phone's calls and carries
//! audio. Drive it like the phone: `handle_*` in, [`PcClient::poll_output`] out,
//! [`PcClient::poll_timeout`] / [`PcClient::handle_timeout`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::audio::{AudioFrame, AudioRx, AudioTx};
use crate::code::PairCode;
use crate::crypto::Rng;
use crate::error::Error;
use crate::session::{ClientAuth, CloseReason, Pairing, Session, SessionEvent};
use crate::wire::{AlertCode, AppMessage, CallInfo, Command, CommandStatus, Mode, PayloadType};

/// First reconnect delay.
pub const RECONNECT_MIN: Duration = Duration::from_secs(1);
/// Longest reconnect delay.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// How to authenticate the first connection.
pub enum PcAuth {
    /// Automatic pairing with the token of the phone's announce.
    Auto { token: [u8; 16] },
    /// Manual pairing with the code shown on the phone.
    Code(PairCode),
    /// A stored pairing.
    Resume(Pairing),
}

/// PC settings.
#[derive(Debug, Clone)]
pub struct PcConfig {
    /// The phone's control address (its IP and `TcpPortNumber`).
    pub phone: SocketAddr,
    /// The PC's display name.
    pub name: String,
    /// Reconnect with the pairing after a drop.
    pub reconnect: bool,
}

impl PcConfig {
    /// The phone's audio address: TcpPortNumber - 1 (manual 4.11.1).
    pub fn audio_addr(&self) -> SocketAddr {
        SocketAddr::new(self.phone.ip(), self.phone.port().saturating_sub(1))
    }
}

/// Events for the PC application.
#[derive(Debug)]
pub enum PcEvent {
    /// The session is up ("AC BToE is Connected").
    Connected {
        mode: Mode,
        version: u8,
    },
    /// A new pairing: store it for later runs.
    Paired(Pairing),
    /// The phone refused (wrong mode, subnet, rate limit, unknown pairing, ...).
    Refused {
        code: AlertCode,
        retry_after: u16,
    },
    /// Key confirmation failed: wrong pair code (or not the paired phone).
    AuthFailed,
    /// The session ended.
    Disconnected(CloseReason),
    /// A reconnect is scheduled.
    Reconnecting {
        at: Instant,
    },
    /// A call on the phone changed.
    Call(CallInfo),
    CommandResult {
        req: u32,
        status: CommandStatus,
        call: u32,
    },
    Status {
        locked: bool,
        calls: Vec<CallInfo>,
    },
    Audio(AudioFrame),
}

/// What the driver does next.
#[derive(Debug)]
pub enum PcOutput {
    /// Open a TCP connection; report with `handle_connected` / `handle_connect_failed`.
    Connect(SocketAddr),
    /// Bytes for the TCP connection.
    Transmit(Vec<u8>),
    /// Close the TCP connection (after pending transmits).
    Close,
    /// An audio datagram for the phone.
    Audio {
        to: SocketAddr,
        data: Vec<u8>,
    },
    Event(PcEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Connecting,
    Session,
    Waiting(Instant),
    Stopped,
}

/// The PC end.
pub struct PcClient {
    cfg: PcConfig,
    rng: Box<dyn Rng>,
    auth: PcAuth,
    pairing: Option<Pairing>,
    session: Option<Session>,
    st: St,
    backoff: Duration,
    audio: Option<(AudioTx, AudioRx)>,
    next_req: u32,
    out: VecDeque<PcOutput>,
}

impl std::fmt::Debug for PcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcClient")
            .field("phone", &self.cfg.phone)
            .field("st", &self.st)
            .finish_non_exhaustive()
    }
}

impl PcClient {
    /// A client; the first [`PcOutput::Connect`] is queued.
    pub fn new(cfg: PcConfig, auth: PcAuth, rng: Box<dyn Rng>) -> PcClient {
        let pairing = match &auth {
            PcAuth::Resume(p) => Some(p.clone()),
            _ => None,
        };
        let mut c = PcClient {
            rng,
            auth,
            pairing,
            session: None,
            st: St::Connecting,
            backoff: RECONNECT_MIN,
            audio: None,
            next_req: 1,
            out: VecDeque::new(),
            cfg,
        };
        c.out.push_back(PcOutput::Connect(c.cfg.phone));
        c
    }

    pub fn config(&self) -> &PcConfig {
        &self.cfg
    }

    /// The pairing in use (after pairing, or the stored one).
    pub fn pairing(&self) -> Option<&Pairing> {
        self.pairing.as_ref()
    }

    pub fn is_established(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_established)
    }

    /// `true` once the client gave up (refused, wrong code, or disconnected for good).
    pub fn is_stopped(&self) -> bool {
        self.st == St::Stopped
    }

    fn client_auth(&self) -> ClientAuth {
        match &self.auth {
            PcAuth::Auto { token } => ClientAuth::auto(*token, &self.cfg.name),
            PcAuth::Code(c) => ClientAuth::code(c, &self.cfg.name),
            PcAuth::Resume(p) => ClientAuth::resume(p.id, &p.secret, &self.cfg.name),
        }
    }

    /// The TCP connection is open.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.st != St::Connecting {
            return;
        }
        let auth = self.client_auth();
        self.session = Some(Session::client(now, &auth, self.rng.as_mut()));
        self.st = St::Session;
        self.drain(now);
    }

    /// The TCP connection could not be opened.
    pub fn handle_connect_failed(&mut self, now: Instant) {
        if self.st == St::Connecting {
            self.retry_or_stop(now, CloseReason::TransportClosed);
        }
    }

    pub fn handle_tcp_data(&mut self, now: Instant, data: &[u8]) {
        if let Some(s) = self.session.as_mut() {
            s.handle_input(now, data);
            self.drain(now);
        }
    }

    pub fn handle_tcp_closed(&mut self, now: Instant) {
        if let Some(s) = self.session.as_mut() {
            s.handle_transport_closed();
            self.drain(now);
        }
    }

    /// A datagram from the phone's audio port.
    pub fn handle_audio(&mut self, _now: Instant, data: &[u8]) {
        if let Some((_, rx)) = self.audio.as_mut() {
            if let Ok(f) = rx.unprotect(data) {
                self.out.push_back(PcOutput::Event(PcEvent::Audio(f)));
            }
        }
    }

    /// Sends a command; returns its request id (answered by [`PcEvent::CommandResult`]).
    pub fn command(&mut self, now: Instant, cmd: Command) -> Result<u32, Error> {
        let req = self.next_req;
        self.send(now, &AppMessage::Command { req, cmd })?;
        self.next_req = self.next_req.wrapping_add(1).max(1);
        Ok(req)
    }

    /// Asks for the phone's calls ([`PcEvent::Status`]).
    pub fn request_status(&mut self, now: Instant) -> Result<(), Error> {
        self.send(now, &AppMessage::StatusRequest)
    }

    /// Reports the PC's lock state (manual 4.9 note).
    pub fn set_pc_locked(&mut self, now: Instant, locked: bool) -> Result<(), Error> {
        self.send(now, &AppMessage::PcLock(locked))
    }

    fn send(&mut self, now: Instant, m: &AppMessage) -> Result<(), Error> {
        let s = self.session.as_mut().ok_or(Error::State("not connected"))?;
        s.send(now, m)?;
        self.drain(now);
        Ok(())
    }

    /// Sends one audio frame to the phone.
    pub fn send_audio(
        &mut self,
        payload_type: PayloadType,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        let (tx, _) = self.audio.as_mut().ok_or(Error::State("not connected"))?;
        let data = tx.protect(payload_type, timestamp, payload)?;
        self.out.push_back(PcOutput::Audio {
            to: self.cfg.audio_addr(),
            data,
        });
        Ok(())
    }

    /// Disconnects ("Disconnect" in the PC menu); `forget` drops the pairing on both ends.
    pub fn disconnect(&mut self, now: Instant, forget: bool) {
        if let Some(s) = self.session.as_mut() {
            s.close_local(now, forget);
        }
        if forget {
            self.pairing = None;
        }
        self.drain(now);
        self.st = St::Stopped;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let St::Waiting(at) = self.st {
            if now >= at {
                self.st = St::Connecting;
                self.out.push_back(PcOutput::Connect(self.cfg.phone));
            }
        }
        if let Some(s) = self.session.as_mut() {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
                self.drain(now);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let w = match self.st {
            St::Waiting(at) => Some(at),
            _ => None,
        };
        self.session
            .as_ref()
            .and_then(Session::poll_timeout)
            .into_iter()
            .chain(w)
            .min()
    }

    pub fn poll_output(&mut self) -> Option<PcOutput> {
        self.out.pop_front()
    }

    fn retry_or_stop(&mut self, now: Instant, reason: CloseReason) {
        let permanent = matches!(
            &reason,
            CloseReason::Local | CloseReason::Bye { forget: true } | CloseReason::AuthFailed
        ) || matches!(&reason, CloseReason::Refused(a) if matches!(
            a.code,
            AlertCode::UnknownPairing | AlertCode::AuthFailed | AlertCode::ModeNotAllowed
                | AlertCode::NetworkRefused | AlertCode::UnsupportedVersion
        ));
        if let CloseReason::Bye { forget: true } = reason {
            self.pairing = None;
        }
        if self.cfg.reconnect && !permanent && self.st != St::Stopped {
            if let Some(p) = self.pairing.clone() {
                self.auth = PcAuth::Resume(p);
                let at = now + self.backoff;
                self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
                self.st = St::Waiting(at);
                self.out
                    .push_back(PcOutput::Event(PcEvent::Reconnecting { at }));
                return;
            }
        }
        self.st = St::Stopped;
    }

    fn drain(&mut self, now: Instant) {
        loop {
            let Some(s) = self.session.as_mut() else {
                return;
            };
            while let Some(d) = s.poll_transmit() {
                self.out.push_back(PcOutput::Transmit(d));
            }
            let Some(ev) = s.poll_event() else {
                if s.is_closed() {
                    self.session = None;
                    self.audio = None;
                    self.out.push_back(PcOutput::Close);
                }
                return;
            };
            match ev {
                SessionEvent::Hello { .. } => {}
                SessionEvent::Established(k) => {
                    self.backoff = RECONNECT_MIN;
                    self.audio = Some((
                        AudioTx::new(&k.audio_tx, k.session_id),
                        AudioRx::new(&k.audio_rx, k.session_id),
                    ));
                    if k.mode != Mode::Resume {
                        let p = Pairing {
                            id: k.pairing_id,
                            secret: k.pairing_secret.clone(),
                            mode: k.mode,
                        };
                        self.pairing = Some(p.clone());
                        self.out.push_back(PcOutput::Event(PcEvent::Paired(p)));
                    }
                    self.out.push_back(PcOutput::Event(PcEvent::Connected {
                        mode: k.mode,
                        version: k.version,
                    }));
                }
                SessionEvent::Message(m) => {
                    let e = match m {
                        AppMessage::Call(c) => Some(PcEvent::Call(c)),
                        AppMessage::CommandResult { req, status, call } => {
                            Some(PcEvent::CommandResult { req, status, call })
                        }
                        AppMessage::Status { locked, calls } => {
                            Some(PcEvent::Status { locked, calls })
                        }
                        _ => None,
                    };
                    if let Some(e) = e {
                        self.out.push_back(PcOutput::Event(e));
                    }
                }
                SessionEvent::Closed(reason) => {
                    let ev = match &reason {
                        CloseReason::AuthFailed => PcEvent::AuthFailed,
                        CloseReason::Refused(a) if a.code == AlertCode::AuthFailed => {
                            PcEvent::AuthFailed
                        }
                        CloseReason::Refused(a) if a.code != AlertCode::Closing => {
                            PcEvent::Refused {
                                code: a.code,
                                retry_after: a.retry_after,
                            }
                        }
                        r => PcEvent::Disconnected(r.clone()),
                    };
                    self.out.push_back(PcOutput::Event(ev));
                    self.retry_or_stop(now, reason);
                }
            }
        }
    }
}
