//! The transports of the SIP stack on std sockets and threads (feature `driver`): UDP, TCP
//! (framed by Content-Length, RFC 3261 section 18.3) and TLS over TCP with rustls. A reader
//! thread per socket or connection turns bytes into [`Incoming`] items on one crossbeam
//! channel; the owner's loop (which drives the sans-IO cores) receives them with a deadline
//! and sends [`Transmit`]s back through [`Transports::send`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use rustls::pki_types::{CertificateDer, ServerName};

use crate::msg::frame;
use crate::transaction::{Transmit, Transport};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("no {0:?} transport configured")]
    NoTransport(Transport),
}

/// What arrives from the network.
#[derive(Debug)]
pub enum Incoming {
    Message {
        transport: Transport,
        source: SocketAddr,
        data: Vec<u8>,
    },
    /// A keep-alive pong (a single CRLF, RFC 5626 3.5.1) arrived on a stream connection.
    Pong {
        transport: Transport,
        peer: SocketAddr,
    },
    /// A stream connection ended (or failed to open): its transactions fail (17.1.4).
    Closed {
        transport: Transport,
        peer: SocketAddr,
    },
}

/// TLS protocol versions for `voip/signalling/sip/tls_method` and `tls_disable` (manual
/// 3.3.1). rustls implements TLS 1.2 and 1.3 only; methods that name SSL 2/3 or TLS 1.0/1.1
/// alone are refused rather than silently upgraded.
pub fn tls_versions(
    method: &str,
    disable: &str,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, DriverError> {
    let disabled: Vec<&str> = disable.split_whitespace().collect();
    let mut v = Vec::new();
    match method {
        "ssl_2_3" => {
            if !disabled.contains(&"tls_1_2") {
                v.push(&rustls::version::TLS12);
            }
            v.push(&rustls::version::TLS13);
        }
        "tls_1_2" => v.push(&rustls::version::TLS12),
        other => {
            return Err(DriverError::Tls(format!(
                "tls_method {other} names a protocol older than TLS 1.2, which is not supported"
            )))
        }
    }
    Ok(v)
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, DriverError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| DriverError::Tls(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(DriverError::Tls(format!("{what}: no certificate in PEM")));
    }
    Ok(certs)
}

/// TLS material.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Trusted root CAs (PEM).
    pub roots: Vec<Vec<u8>>,
    /// Our certificate chain and key (PEM): the client certificate for mutual TLS, and the
    /// server certificate when listening for TLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Name checked in the server certificate (default: the destination IP address).
    pub server_name: Option<String>,
    pub method: String,
    pub disable: String,
}

impl TlsSettings {
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, DriverError> {
        let mut roots = rustls::RootCertStore::empty();
        for r in &self.roots {
            for c in pem_certs(r, "CA certificate")? {
                roots
                    .add(c)
                    .map_err(|e| DriverError::Tls(format!("CA certificate: {e}")))?;
            }
        }
        let method = if self.method.is_empty() {
            "ssl_2_3"
        } else {
            &self.method
        };
        let versions = tls_versions(method, &self.disable)?;
        let b = rustls::ClientConfig::builder_with_provider(Self::provider())
            .with_protocol_versions(&versions)
            .map_err(|e| DriverError::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let cfg = match &self.identity {
            None => b.with_no_client_auth(),
            Some((chain, key)) => {
                let key = rustls_pemfile::private_key(&mut &key[..])
                    .map_err(|e| DriverError::Tls(format!("key: {e}")))?
                    .ok_or_else(|| DriverError::Tls("key: no private key in PEM".into()))?;
                b.with_client_auth_cert(pem_certs(chain, "certificate")?, key)
                    .map_err(|e| DriverError::Tls(format!("certificate: {e}")))?
            }
        };
        Ok(Arc::new(cfg))
    }

    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, DriverError> {
        let (chain, key) = self
            .identity
            .as_ref()
            .ok_or_else(|| DriverError::Tls("listening for TLS needs a certificate".into()))?;
        let key = rustls_pemfile::private_key(&mut &key[..])
            .map_err(|e| DriverError::Tls(format!("key: {e}")))?
            .ok_or_else(|| DriverError::Tls("key: no private key in PEM".into()))?;
        let cfg = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| DriverError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(pem_certs(chain, "certificate")?, key)
            .map_err(|e| DriverError::Tls(e.to_string()))?;
        Ok(Arc::new(cfg))
    }
}

/// Where to listen.
#[derive(Debug, Clone, Default)]
pub struct TransportConfig {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub tls_settings: TlsSettings,
}

/// The sockets of one SIP endpoint.
pub struct Transports {
    tx: Sender<Incoming>,
    rx: Receiver<Incoming>,
    udp: Option<Arc<UdpSocket>>,
    tcp_local: Option<SocketAddr>,
    tls_local: Option<SocketAddr>,
    conns: HashMap<(Transport, SocketAddr), Sender<Vec<u8>>>,
    /// Connections accepted by the listeners register their writer here.
    accepted: Receiver<(Transport, SocketAddr, Sender<Vec<u8>>)>,
    tls_client: Option<Arc<rustls::ClientConfig>>,
    server_name: Option<String>,
    stop: Arc<AtomicBool>,
    /// Every thread this endpoint started (UDP receiver, listeners, connections it opened),
    /// joined on drop: a C library may be unloaded right after its endpoint is freed.
    threads: Vec<JoinHandle<()>>,
}

const POLL: Duration = Duration::from_millis(5);
/// Largest message a stream connection buffers before giving up on it.
const MAX_STREAM_BUF: usize = 2 << 20;

fn write_stream(
    stream: &mut TcpStream,
    tls: Option<&mut rustls::Connection>,
    data: &[u8],
) -> io::Result<()> {
    match tls {
        Some(t) => {
            t.writer().write_all(data)?;
            while t.wants_write() {
                t.write_tls(stream)?;
            }
            Ok(())
        }
        None => stream.write_all(data),
    }
}

fn conn_thread(
    mut stream: TcpStream,
    mut tls: Option<rustls::Connection>,
    transport: Transport,
    peer: SocketAddr,
    out: Receiver<Vec<u8>>,
    to_owner: Sender<Incoming>,
    stop: Arc<AtomicBool>,
) {
    let _ = stream.set_read_timeout(Some(POLL));
    // A peer that stops reading cannot block this thread (and the endpoint's drop, which
    // joins it) for longer than this.
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let result: io::Result<()> = (|| loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Outgoing.
        while let Ok(data) = out.try_recv() {
            write_stream(&mut stream, tls.as_mut(), &data)?;
        }
        // Incoming.
        let n = match tls.as_mut() {
            Some(t) => {
                match t.read_tls(&mut stream) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        while t.wants_write() {
                            t.write_tls(&mut stream)?;
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                t.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                while t.wants_write() {
                    t.write_tls(&mut stream)?;
                }
                let mut total = 0;
                loop {
                    match t.reader().read(&mut chunk) {
                        Ok(0) => break,
                        Ok(k) => {
                            buf.extend_from_slice(&chunk[..k]);
                            total += k;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                total
            }
            None => match stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(k) => {
                    buf.extend_from_slice(&chunk[..k]);
                    k
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    0
                }
                Err(e) => return Err(e),
            },
        };
        if n == 0 {
            continue;
        }
        loop {
            // CRLFs where a message may start are keep-alives (RFC 5626 3.5.1): a double
            // CRLF is a ping, answered with a single CRLF; a single CRLF is the pong to ours.
            let k = buf
                .iter()
                .take_while(|&&c| c == b'\r' || c == b'\n')
                .count();
            if k > 0 {
                let crlfs = buf[..k].windows(2).filter(|w| w == b"\r\n").count();
                if crlfs >= 2 {
                    write_stream(&mut stream, tls.as_mut(), crate::keepalive::PONG)?;
                } else if crlfs == 1 {
                    let _ = to_owner.send(Incoming::Pong { transport, peer });
                }
                buf.drain(..k);
            }
            match frame(&buf) {
                Ok(Some(len)) => {
                    let msg: Vec<u8> = buf.drain(..len).collect();
                    let start = msg
                        .iter()
                        .take_while(|&&c| c == b'\r' || c == b'\n')
                        .count();
                    let _ = to_owner.send(Incoming::Message {
                        transport,
                        source: peer,
                        data: msg[start..].to_vec(),
                    });
                }
                Ok(None) => break,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unframeable SIP stream",
                    ));
                }
            }
        }
        if buf.len() > MAX_STREAM_BUF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
    })();
    let _ = result;
    let _ = to_owner.send(Incoming::Closed { transport, peer });
}

impl Transports {
    pub fn new(cfg: &TransportConfig) -> Result<Transports, DriverError> {
        let (tx, rx) = unbounded();
        let (acc_tx, accepted) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let mut t = Transports {
            tx: tx.clone(),
            rx,
            udp: None,
            tcp_local: None,
            tls_local: None,
            conns: HashMap::new(),
            accepted,
            tls_client: None,
            server_name: cfg.tls_settings.server_name.clone(),
            stop: stop.clone(),
            threads: Vec::new(),
        };
        if let Some(a) = cfg.udp {
            let s = Arc::new(UdpSocket::bind(a)?);
            s.set_read_timeout(Some(Duration::from_millis(50)))?;
            let (r, txc, st) = (s.clone(), tx.clone(), stop.clone());
            let h = thread::spawn(move || {
                let mut b = vec![0u8; 65536];
                while !st.load(Ordering::Relaxed) {
                    match r.recv_from(&mut b) {
                        Ok((n, src)) => {
                            if txc
                                .send(Incoming::Message {
                                    transport: Transport::Udp,
                                    source: src,
                                    data: b[..n].to_vec(),
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                            ) => {}
                        // ICMP errors surface as ConnectionRefused on Linux: ignore here.
                        Err(_) => {}
                    }
                }
            });
            t.threads.push(h);
            t.udp = Some(s);
        }
        let roots_or_identity =
            !cfg.tls_settings.roots.is_empty() || cfg.tls_settings.identity.is_some();
        if roots_or_identity {
            t.tls_client = Some(cfg.tls_settings.client_config()?);
        }
        for (addr, transport) in [(cfg.tcp, Transport::Tcp), (cfg.tls, Transport::Tls)] {
            let Some(a) = addr else { continue };
            let l = TcpListener::bind(a)?;
            let local = l.local_addr()?;
            l.set_nonblocking(true)?;
            let server = if transport == Transport::Tls {
                Some(cfg.tls_settings.server_config()?)
            } else {
                None
            };
            let (txc, st, acc) = (tx.clone(), stop.clone(), acc_tx.clone());
            let h = thread::spawn(move || {
                // The connection threads of this listener, joined when it stops.
                let mut conns: Vec<JoinHandle<()>> = Vec::new();
                while !st.load(Ordering::Relaxed) {
                    conns.retain(|c| !c.is_finished());
                    match l.accept() {
                        Ok((s, peer)) => {
                            let _ = s.set_nonblocking(false);
                            let tls = match &server {
                                Some(sc) => match rustls::ServerConnection::new(sc.clone()) {
                                    Ok(c) => Some(rustls::Connection::Server(c)),
                                    Err(_) => continue,
                                },
                                None => None,
                            };
                            let (otx, orx) = unbounded();
                            let _ = acc.send((transport, peer, otx));
                            let (txc2, st2) = (txc.clone(), st.clone());
                            conns.push(thread::spawn(move || {
                                conn_thread(s, tls, transport, peer, orx, txc2, st2)
                            }));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
                        Err(_) => thread::sleep(POLL),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            });
            t.threads.push(h);
            match transport {
                Transport::Tcp => t.tcp_local = Some(local),
                _ => t.tls_local = Some(local),
            }
        }
        Ok(t)
    }

    /// The name checked in the certificates of TLS connections opened from now on (RFC 5922
    /// 7.2: the host the target was resolved from); `None`: the destination IP address.
    pub fn set_server_name(&mut self, name: Option<String>) {
        self.server_name = name;
    }

    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Udp => self.udp.as_ref().and_then(|s| s.local_addr().ok()),
            Transport::Tcp => self.tcp_local,
            Transport::Tls => self.tls_local,
        }
    }

    fn connect(
        &mut self,
        transport: Transport,
        dest: SocketAddr,
    ) -> Result<Sender<Vec<u8>>, DriverError> {
        let s = TcpStream::connect_timeout(&dest, Duration::from_secs(5))?;
        let tls = if transport == Transport::Tls {
            let cfg = self
                .tls_client
                .clone()
                .ok_or_else(|| DriverError::Tls("no trusted CA configured for TLS".into()))?;
            let name = match &self.server_name {
                Some(n) => {
                    ServerName::try_from(n.clone()).map_err(|e| DriverError::Tls(e.to_string()))?
                }
                None => ServerName::IpAddress(dest.ip().into()),
            };
            Some(rustls::Connection::Client(
                rustls::ClientConnection::new(cfg, name)
                    .map_err(|e| DriverError::Tls(e.to_string()))?,
            ))
        } else {
            None
        };
        let (otx, orx) = unbounded();
        let (txc, st) = (self.tx.clone(), self.stop.clone());
        self.threads.retain(|h| !h.is_finished());
        self.threads.push(thread::spawn(move || {
            conn_thread(s, tls, transport, dest, orx, txc, st)
        }));
        self.conns.insert((transport, dest), otx.clone());
        Ok(otx)
    }

    fn adopt_accepted(&mut self) {
        while let Ok((t, peer, w)) = self.accepted.try_recv() {
            self.conns.insert((t, peer), w);
        }
    }

    /// Sends a transmit, opening a TCP/TLS connection when there is none to `dest`.
    pub fn send(&mut self, t: &Transmit) -> Result<(), DriverError> {
        match t.transport {
            Transport::Udp => {
                let s = self
                    .udp
                    .as_ref()
                    .ok_or(DriverError::NoTransport(Transport::Udp))?;
                s.send_to(&t.data, t.dest)?;
                Ok(())
            }
            tr => {
                self.adopt_accepted();
                let w = match self.conns.get(&(tr, t.dest)) {
                    Some(w) => w.clone(),
                    None => self.connect(tr, t.dest)?,
                };
                if w.send(t.data.clone()).is_err() {
                    self.conns.remove(&(tr, t.dest));
                    let w = self.connect(tr, t.dest)?;
                    let _ = w.send(t.data.clone());
                }
                Ok(())
            }
        }
    }

    /// The next incoming item, waiting until `deadline` at most.
    pub fn recv(&mut self, deadline: Option<Instant>) -> Option<Incoming> {
        self.adopt_accepted();
        let item = match deadline {
            None => self.rx.recv().ok(),
            Some(d) => match self
                .rx
                .recv_timeout(d.saturating_duration_since(Instant::now()))
            {
                Ok(i) => Some(i),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
            },
        };
        if let Some(Incoming::Closed { transport, peer }) = &item {
            self.conns.remove(&(*transport, *peer));
        }
        item
    }
}

impl Drop for Transports {
    /// Stops and joins every thread of the endpoint (each notices the stop flag within its
    /// 50 ms / 5 ms poll, or its 2 s write timeout).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Random seed for the cores' identifier generators.
pub fn seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}

/// Runs a [`crate::resolve::Resolver`] against the DNS server `dns` over UDP.
pub fn resolve(
    r: &mut crate::resolve::Resolver,
    dns: SocketAddr,
) -> Result<Vec<crate::resolve::Target>, crate::resolve::ResolveError> {
    let any: SocketAddr = if dns.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(any).map_err(|_| crate::resolve::ResolveError::Timeout)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let now = Instant::now();
        if let Some(q) = r.poll_query(now) {
            let _ = sock.send_to(&q, dns);
        }
        if let Some(res) = r.result() {
            return res.clone();
        }
        let wait = r
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(10))
            .max(Duration::from_millis(1));
        let _ = sock.set_read_timeout(Some(wait));
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == dns => r.handle_response(Instant::now(), &buf[..n]),
            Ok(_) => {}
            Err(_) => r.handle_timeout(Instant::now()),
        }
    }
}
