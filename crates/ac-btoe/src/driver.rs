//! Sockets and threads around the sans-IO ends (std + crossbeam, no async runtime).
//!
//! Each end runs one core thread that owns the state machine and does all socket writes;
//! reader threads (TCP accept, one per TCP connection, UDP audio) only read and forward
//! bytes into the core's channel. The core sleeps in `recv_timeout` until the next input or
//! the state machine's `poll_timeout`.
//!
//! * [`PhoneDriver`]: TCP `TcpPortNumber` (control), UDP `TcpPortNumber - 1` (audio), UDP
//!   9999 (announces on the PC port). Commands in through its methods, [`PhoneEvent`]s out
//!   of [`PhoneDriver::events`] — the API ac-core composes.
//! * [`PcDriver`]: the PC reference client over one TCP connection and an audio socket.
//! * [`wait_announce`]: the PC listening on UDP 9999 for a phone's announce.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};

use crate::config::DISCOVERY_PORT;
use crate::crypto::{os_rng, Rng};
use crate::error::Error;
use crate::pc::{PcAuth, PcClient, PcConfig, PcEvent, PcOutput};
use crate::phone::{ConnId, Phone, PhoneConfig, PhoneEvent, PhoneOutput};
use crate::wire::{Announce, CallInfo, Command, PayloadType};

const READ_BUF: usize = 8192;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(200);

fn spawn_udp_reader<T: Send + 'static>(
    sock: UdpSocket,
    stop: Arc<AtomicBool>,
    tx: Sender<T>,
    wrap: impl Fn(SocketAddr, Vec<u8>) -> T + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    sock.set_read_timeout(Some(POLL))?;
    Ok(std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if tx.send(wrap(from, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }))
}

fn spawn_tcp_reader<T: Send + 'static>(
    mut s: TcpStream,
    tx: Sender<T>,
    data: impl Fn(Vec<u8>) -> T + Send + 'static,
    closed: T,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(closed);
    });
}

// ---------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------

/// Where the phone listens.
#[derive(Debug, Clone, Copy)]
pub struct PhoneBind {
    /// Address for the control and audio sockets (normally unspecified).
    pub addr: std::net::IpAddr,
}

impl Default for PhoneBind {
    fn default() -> Self {
        PhoneBind {
            addr: Ipv4Addr::UNSPECIFIED.into(),
        }
    }
}

enum PhoneIn {
    Accepted(ConnId, TcpStream, SocketAddr, SocketAddr),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
    Audio(SocketAddr, Vec<u8>),
    UpdateCall(CallInfo),
    SetLocked(bool),
    SendAudio(PayloadType, u32, Vec<u8>),
    Disconnect(bool),
    RegenerateCode,
    PairCode(Sender<String>),
    MayLock(Sender<bool>),
    Stop,
}

/// The phone end on real sockets.
pub struct PhoneDriver {
    tx: Sender<PhoneIn>,
    events: Receiver<PhoneEvent>,
    stop: Arc<AtomicBool>,
    tcp_addr: SocketAddr,
    core: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PhoneDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneDriver")
            .field("tcp", &self.tcp_addr)
            .finish_non_exhaustive()
    }
}

impl PhoneDriver {
    /// Binds the sockets and starts the threads.
    pub fn start(cfg: PhoneConfig, bind: PhoneBind) -> Result<PhoneDriver, Error> {
        Self::start_with_rng(cfg, bind, os_rng())
    }

    /// As [`PhoneDriver::start`] with a given random source.
    pub fn start_with_rng(
        cfg: PhoneConfig,
        bind: PhoneBind,
        rng: Box<dyn Rng>,
    ) -> Result<PhoneDriver, Error> {
        let listener = TcpListener::bind(SocketAddr::new(bind.addr, cfg.btoe.tcp_port))?;
        let tcp_addr = listener.local_addr()?;
        let audio = UdpSocket::bind(SocketAddr::new(bind.addr, cfg.btoe.audio_port()))?;
        let disc = if cfg.pc_port.is_some() {
            let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DISCOVERY_PORT))?;
            s.set_broadcast(true)?;
            Some(s)
        } else {
            None
        };
        let (tx, rx) = unbounded();
        let (ev_tx, events) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));

        // Accept loop.
        {
            let tx = tx.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut next: ConnId = 1;
                for s in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(s) = s else { continue };
                    let (Ok(peer), Ok(local)) = (s.peer_addr(), s.local_addr()) else {
                        continue;
                    };
                    let _ = s.set_nodelay(true);
                    if tx.send(PhoneIn::Accepted(next, s, peer, local)).is_err() {
                        return;
                    }
                    next += 1;
                }
            });
        }
        spawn_udp_reader(audio.try_clone()?, stop.clone(), tx.clone(), PhoneIn::Audio)?;

        let phone = Phone::new(Instant::now(), cfg, rng);
        let core_tx = tx.clone();
        let core_stop = stop.clone();
        let core = std::thread::spawn(move || {
            phone_core(phone, rx, core_tx, ev_tx, audio, disc, core_stop, tcp_addr)
        });
        Ok(PhoneDriver {
            tx,
            events,
            stop,
            tcp_addr,
            core: Some(core),
        })
    }

    /// Events: pair code, connections, commands from the PC, audio.
    pub fn events(&self) -> &Receiver<PhoneEvent> {
        &self.events
    }

    /// The bound control address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// A call changed on the phone (mirrored to the PC).
    pub fn update_call(&self, call: CallInfo) {
        let _ = self.tx.send(PhoneIn::UpdateCall(call));
    }

    /// The phone locked or unlocked (manual 4.9).
    pub fn set_locked(&self, locked: bool) {
        let _ = self.tx.send(PhoneIn::SetLocked(locked));
    }

    /// Audio for the PC.
    pub fn send_audio(&self, pt: PayloadType, timestamp: u32, payload: Vec<u8>) {
        let _ = self.tx.send(PhoneIn::SendAudio(pt, timestamp, payload));
    }

    /// Disconnects the PC; `forget` drops the pairings.
    pub fn disconnect(&self, forget: bool) {
        let _ = self.tx.send(PhoneIn::Disconnect(forget));
    }

    /// A new pair code.
    pub fn regenerate_code(&self) {
        let _ = self.tx.send(PhoneIn::RegenerateCode);
    }

    /// The current pair code.
    pub fn pair_code(&self) -> Option<String> {
        let (t, r) = bounded(1);
        self.tx.send(PhoneIn::PairCode(t)).ok()?;
        r.recv_timeout(Duration::from_secs(5)).ok()
    }

    /// Manual 4.9 note: may the user lock the phone by hand now?
    pub fn may_lock_manually(&self) -> Option<bool> {
        let (t, r) = bounded(1);
        self.tx.send(PhoneIn::MayLock(t)).ok()?;
        r.recv_timeout(Duration::from_secs(5)).ok()
    }
}

impl Drop for PhoneDriver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.tx.send(PhoneIn::Stop);
        // Wake the accept loop.
        let wake = match self.tcp_addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), a.port())
            }
            a => a,
        };
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(500));
        if let Some(c) = self.core.take() {
            let _ = c.join();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn phone_core(
    mut phone: Phone,
    rx: Receiver<PhoneIn>,
    tx: Sender<PhoneIn>,
    ev: Sender<PhoneEvent>,
    audio: UdpSocket,
    disc: Option<UdpSocket>,
    stop: Arc<AtomicBool>,
    _tcp: SocketAddr,
) {
    let mut streams: HashMap<ConnId, TcpStream> = HashMap::new();
    loop {
        while let Some(o) = phone.poll_output() {
            match o {
                PhoneOutput::Transmit { conn, data } => {
                    if let Some(s) = streams.get_mut(&conn) {
                        if s.write_all(&data).is_err() {
                            let _ = s.shutdown(Shutdown::Both);
                        }
                    }
                }
                PhoneOutput::Close { conn } => {
                    if let Some(s) = streams.remove(&conn) {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
                PhoneOutput::Discovery { to, data } => {
                    if let Some(d) = &disc {
                        let _ = d.send_to(&data, to);
                    }
                }
                PhoneOutput::Audio { to, data } => {
                    let _ = audio.send_to(&data, to);
                }
                PhoneOutput::Event(e) => {
                    let _ = ev.send(e);
                }
            }
        }
        let now = Instant::now();
        if phone.poll_timeout().is_some_and(|t| t <= now) {
            phone.handle_timeout(now);
            continue;
        }
        let wait = phone
            .poll_timeout()
            .map_or(POLL, |t| t.saturating_duration_since(now))
            .min(POLL);
        let input = match rx.recv_timeout(wait) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let now = Instant::now();
        match input {
            PhoneIn::Accepted(id, s, peer, local) => {
                if let Ok(r) = s.try_clone() {
                    spawn_tcp_reader(
                        r,
                        tx.clone(),
                        move |d| PhoneIn::Data(id, d),
                        PhoneIn::Closed(id),
                    );
                    streams.insert(id, s);
                    phone.handle_accept(now, id, peer, local);
                }
            }
            PhoneIn::Data(id, d) => phone.handle_tcp_data(now, id, &d),
            PhoneIn::Closed(id) => {
                streams.remove(&id);
                phone.handle_tcp_closed(now, id);
            }
            PhoneIn::Audio(from, d) => phone.handle_audio(now, from, &d),
            PhoneIn::UpdateCall(c) => phone.update_call(now, c),
            PhoneIn::SetLocked(l) => phone.set_locked(l),
            PhoneIn::SendAudio(pt, ts, p) => {
                let _ = phone.send_audio(pt, ts, &p);
            }
            PhoneIn::Disconnect(f) => phone.disconnect(now, f),
            PhoneIn::RegenerateCode => phone.regenerate_code(),
            PhoneIn::PairCode(t) => {
                let _ = t.send(phone.pair_code().to_string());
            }
            PhoneIn::MayLock(t) => {
                let _ = t.send(phone.may_lock_manually());
            }
            PhoneIn::Stop => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in streams.values() {
        let _ = s.shutdown(Shutdown::Both);
    }
}

// ---------------------------------------------------------------------------------------
// PC
// ---------------------------------------------------------------------------------------

enum PcIn {
    Connected(TcpStream, u64),
    ConnectFailed(u64),
    Data(u64, Vec<u8>),
    Closed(u64),
    Audio(SocketAddr, Vec<u8>),
    Command(Command, Sender<Result<u32, String>>),
    Status(Sender<Result<(), String>>),
    PcLock(bool),
    SendAudio(PayloadType, u32, Vec<u8>),
    Disconnect(bool, Sender<()>),
    Stop,
}

/// The PC reference client on real sockets.
pub struct PcDriver {
    tx: Sender<PcIn>,
    events: Receiver<PcEvent>,
    stop: Arc<AtomicBool>,
    audio_addr: SocketAddr,
    core: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PcDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcDriver").finish_non_exhaustive()
    }
}

impl PcDriver {
    /// Starts connecting to the phone.
    pub fn start(cfg: PcConfig, auth: PcAuth) -> Result<PcDriver, Error> {
        Self::start_with_rng(cfg, auth, os_rng())
    }

    pub fn start_with_rng(
        cfg: PcConfig,
        auth: PcAuth,
        rng: Box<dyn Rng>,
    ) -> Result<PcDriver, Error> {
        let bind: SocketAddr = match cfg.phone {
            SocketAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            SocketAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
        };
        let audio = UdpSocket::bind(bind)?;
        let audio_addr = audio.local_addr()?;
        let (tx, rx) = unbounded();
        let (ev_tx, events) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        spawn_udp_reader(audio.try_clone()?, stop.clone(), tx.clone(), PcIn::Audio)?;
        let client = PcClient::new(cfg, auth, rng);
        let core_tx = tx.clone();
        let core_stop = stop.clone();
        let core =
            std::thread::spawn(move || pc_core(client, rx, core_tx, ev_tx, audio, core_stop));
        Ok(PcDriver {
            tx,
            events,
            stop,
            audio_addr,
            core: Some(core),
        })
    }

    pub fn events(&self) -> &Receiver<PcEvent> {
        &self.events
    }

    /// The local audio socket.
    pub fn audio_addr(&self) -> SocketAddr {
        self.audio_addr
    }

    /// Sends a command; the request id (the result comes as [`PcEvent::CommandResult`]).
    pub fn command(&self, cmd: Command) -> Result<u32, Error> {
        let (t, r) = bounded(1);
        self.tx
            .send(PcIn::Command(cmd, t))
            .map_err(|_| Error::State("driver stopped"))?;
        match r.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(_)) => Err(Error::State("not connected")),
            Err(_) => Err(Error::State("driver stopped")),
        }
    }

    /// Asks for the phone's status ([`PcEvent::Status`]).
    pub fn request_status(&self) -> Result<(), Error> {
        let (t, r) = bounded(1);
        self.tx
            .send(PcIn::Status(t))
            .map_err(|_| Error::State("driver stopped"))?;
        match r.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(()),
            _ => Err(Error::State("not connected")),
        }
    }

    /// Reports the PC's lock state.
    pub fn set_pc_locked(&self, locked: bool) {
        let _ = self.tx.send(PcIn::PcLock(locked));
    }

    /// Audio for the phone.
    pub fn send_audio(&self, pt: PayloadType, timestamp: u32, payload: Vec<u8>) {
        let _ = self.tx.send(PcIn::SendAudio(pt, timestamp, payload));
    }

    /// Orderly disconnect (waits until the goodbye is written).
    pub fn disconnect(&self, forget: bool) {
        let (t, r) = bounded(1);
        if self.tx.send(PcIn::Disconnect(forget, t)).is_ok() {
            let _ = r.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for PcDriver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.tx.send(PcIn::Stop);
        if let Some(c) = self.core.take() {
            let _ = c.join();
        }
    }
}

fn pc_core(
    mut client: PcClient,
    rx: Receiver<PcIn>,
    tx: Sender<PcIn>,
    ev: Sender<PcEvent>,
    audio: UdpSocket,
    stop: Arc<AtomicBool>,
) {
    let mut stream: Option<(u64, TcpStream)> = None;
    let mut gen: u64 = 0;
    loop {
        while let Some(o) = client.poll_output() {
            match o {
                PcOutput::Connect(addr) => {
                    gen += 1;
                    let g = gen;
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let m = match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                            Ok(s) => PcIn::Connected(s, g),
                            Err(_) => PcIn::ConnectFailed(g),
                        };
                        let _ = tx.send(m);
                    });
                }
                PcOutput::Transmit(d) => {
                    if let Some((_, s)) = stream.as_mut() {
                        if s.write_all(&d).is_err() {
                            let _ = s.shutdown(Shutdown::Both);
                        }
                    }
                }
                PcOutput::Close => {
                    if let Some((_, s)) = stream.take() {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
                PcOutput::Audio { to, data } => {
                    let _ = audio.send_to(&data, to);
                }
                PcOutput::Event(e) => {
                    let _ = ev.send(e);
                }
            }
        }
        let now = Instant::now();
        if client.poll_timeout().is_some_and(|t| t <= now) {
            client.handle_timeout(now);
            continue;
        }
        let wait = client
            .poll_timeout()
            .map_or(POLL, |t| t.saturating_duration_since(now))
            .min(POLL);
        let input = match rx.recv_timeout(wait) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let now = Instant::now();
        match input {
            PcIn::Connected(s, g) if g == gen => {
                let _ = s.set_nodelay(true);
                if let Ok(r) = s.try_clone() {
                    spawn_tcp_reader(r, tx.clone(), move |d| PcIn::Data(g, d), PcIn::Closed(g));
                    stream = Some((g, s));
                    client.handle_connected(now);
                } else {
                    client.handle_connect_failed(now);
                }
            }
            PcIn::Connected(s, _) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            PcIn::ConnectFailed(g) if g == gen => client.handle_connect_failed(now),
            PcIn::ConnectFailed(_) => {}
            PcIn::Data(g, d) if stream.as_ref().is_some_and(|(k, _)| *k == g) => {
                client.handle_tcp_data(now, &d)
            }
            PcIn::Closed(g) if stream.as_ref().is_some_and(|(k, _)| *k == g) => {
                stream = None;
                client.handle_tcp_closed(now);
            }
            PcIn::Data(..) | PcIn::Closed(_) => {}
            PcIn::Audio(from, d) if from.ip() == client.config().phone.ip() => {
                client.handle_audio(now, &d)
            }
            PcIn::Audio(..) => {}
            PcIn::Command(c, t) => {
                let _ = t.send(client.command(now, c).map_err(|e| e.to_string()));
            }
            PcIn::Status(t) => {
                let _ = t.send(client.request_status(now).map_err(|e| e.to_string()));
            }
            PcIn::PcLock(l) => {
                let _ = client.set_pc_locked(now, l);
            }
            PcIn::SendAudio(pt, ts, p) => {
                let _ = client.send_audio(pt, ts, &p);
            }
            PcIn::Disconnect(f, t) => {
                client.disconnect(now, f);
                while let Some(o) = client.poll_output() {
                    match o {
                        PcOutput::Transmit(d) => {
                            if let Some((_, s)) = stream.as_mut() {
                                let _ = s.write_all(&d);
                            }
                        }
                        PcOutput::Close => {
                            if let Some((_, s)) = stream.take() {
                                let _ = s.shutdown(Shutdown::Both);
                            }
                        }
                        PcOutput::Event(e) => {
                            let _ = ev.send(e);
                        }
                        _ => {}
                    }
                }
                let _ = t.send(());
            }
            PcIn::Stop => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some((_, s)) = stream {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Listens on UDP 9999 for a phone announcing automatic pairing on this link; returns the
/// phone's control address and the announce.
pub fn wait_announce(timeout: Duration) -> Result<(SocketAddr, Announce), Error> {
    let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DISCOVERY_PORT))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no phone announced automatic pairing",
            )));
        }
        s.set_read_timeout(Some(left))?;
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Ok(a) = Announce::parse(&buf[..n]) {
                    if a.auto {
                        return Ok((SocketAddr::new(from.ip(), a.tcp_port), a));
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
