//! The std driver: sockets, timers and files around the sans-IO cores ([`crate::dhcp`],
//! [`crate::tftp`], [`crate::engine`]). Blocking, thread-free; a firmware calls these from
//! its own provisioning thread.
//!
//! * [`run_dhcp`]: a DHCP client on UDP port 68, bound to one interface.
//! * [`Fetcher`]: TFTP, FTP, HTTP and HTTPS (rustls; root CAs from
//!   `security/ca_certificate/0-4/uri` files; optional client certificate for mutual TLS).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

pub mod ldap;
pub mod net;
pub mod raw;

use crate::dhcp::client::{DhcpClient, Event, CLIENT_PORT};
use crate::engine::{FetchError, FetchErrorKind, FetchRequest};
use crate::tftp::{self, ReadClient, ReadOptions, TftpError};
use crate::url::{ProvUrl, Scheme};

/// Errors of the driver itself (not of a fetch).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    #[error("no DHCP lease within {0:?}")]
    NoLease(Duration),
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// Opens the DHCP client socket: UDP 0.0.0.0:68, broadcast allowed, bound to `iface`.
pub fn dhcp_socket(iface: &str) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    s.bind_device(Some(iface.as_bytes()))?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, CLIENT_PORT)).into())?;
    Ok(s.into())
}

/// Runs `client` on `sock` until `until` returns true for an event or `deadline` passes.
/// Every event is passed to `on_event` first.
pub fn run_dhcp(
    sock: &UdpSocket,
    client: &mut DhcpClient,
    deadline: Instant,
    mut on_event: impl FnMut(&Event) -> bool,
) -> Result<(), DriverError> {
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = Instant::now();
        while let Some(t) = client.poll_transmit(now) {
            sock.send_to(&t.payload, t.destination)?;
        }
        while let Some(ev) = client.poll_event() {
            if on_event(&ev) {
                return Ok(());
            }
        }
        if now >= deadline {
            return Err(DriverError::NoLease(
                deadline.saturating_duration_since(now),
            ));
        }
        let wake = client.poll_timeout().unwrap_or(deadline).min(deadline);
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        sock.set_read_timeout(Some(wait))?;
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => client.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                client.handle_timeout(Instant::now())
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// TLS material for HTTPS.
#[derive(Debug, Default, Clone)]
pub struct TlsMaterial {
    /// PEM or DER root CA certificates (the files of `security/ca_certificate/0-4/uri`).
    pub roots: Vec<Vec<u8>>,
    /// Client certificate chain and private key, PEM (`security/sip_certificate_uri` /
    /// `security/sip_private_key_uri`), for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

fn tls_config(m: &TlsMaterial) -> Result<Arc<rustls::ClientConfig>, DriverError> {
    use rustls::pki_types::CertificateDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for r in &m.roots {
        let certs: Vec<CertificateDer<'static>> = if r.first() == Some(&0x30) {
            vec![CertificateDer::from(r.clone())]
        } else {
            rustls_pemfile::certs(&mut &r[..])
                .collect::<Result<_, _>>()
                .map_err(|e| DriverError::Tls(format!("CA certificate: {e}")))?
        };
        for c in certs {
            roots
                .add(c)
                .map_err(|e| DriverError::Tls(format!("CA certificate: {e}")))?;
        }
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DriverError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = match &m.client {
        None => b.with_no_client_auth(),
        Some((chain, key)) => {
            let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &chain[..])
                .collect::<Result<_, _>>()
                .map_err(|e| DriverError::Tls(format!("client certificate: {e}")))?;
            let key = rustls_pemfile::private_key(&mut &key[..])
                .map_err(|e| DriverError::Tls(format!("client key: {e}")))?
                .ok_or_else(|| DriverError::Tls("client key: no private key in PEM".into()))?;
            b.with_client_auth_cert(chain, key)
                .map_err(|e| DriverError::Tls(format!("client certificate: {e}")))?
        }
    };
    Ok(Arc::new(cfg))
}

/// Fetches files for the engine.
pub struct Fetcher {
    agent: ureq::Agent,
    /// For the redirect server: its 3xx answer is the result, not something to follow.
    no_follow: ureq::Agent,
    pub timeout: Duration,
    pub tftp: ReadOptions,
}

fn fe(kind: FetchErrorKind, d: impl Into<String>) -> FetchError {
    FetchError::new(kind, d)
}

fn io_kind(e: &io::Error) -> FetchErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::NotFound => FetchErrorKind::Unreachable,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchErrorKind::TimedOut,
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => FetchErrorKind::Truncated,
        _ => FetchErrorKind::Protocol,
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, FetchError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| fe(FetchErrorKind::Unreachable, format!("{host}: {e}")))?
        .find(|a| a.is_ipv4())
        .or_else(|| (host, port).to_socket_addrs().ok()?.next())
        .ok_or_else(|| fe(FetchErrorKind::Unreachable, format!("{host}: no address")))
}

/// Reads at most `max` bytes; more is [`FetchErrorKind::TooLarge`].
fn read_limited(r: &mut impl Read, max: u64, prefix: Option<u64>) -> Result<Vec<u8>, FetchError> {
    let cap = prefix.unwrap_or(max);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| fe(io_kind(&e), e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if let Some(p) = prefix {
            if out.len() as u64 >= p {
                out.truncate(p as usize);
                return Ok(out);
            }
        }
        if out.len() as u64 > cap {
            return Err(fe(FetchErrorKind::TooLarge, format!("over {max} bytes")));
        }
    }
}

/// A consumer of streamed bytes.
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), FetchError>;

/// Streams `r` to `sink`, dropping the first `skip` bytes; more than `max` bytes delivered
/// is [`FetchErrorKind::TooLarge`]. Returns the bytes delivered.
fn pump(r: &mut dyn Read, mut skip: u64, max: u64, sink: Sink<'_>) -> Result<u64, FetchError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut n_out = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| fe(io_kind(&e), e.to_string()))?;
        if n == 0 {
            return Ok(n_out);
        }
        let mut chunk = &buf[..n];
        if skip > 0 {
            let k = (skip as usize).min(chunk.len());
            skip -= k as u64;
            chunk = &chunk[k..];
        }
        if chunk.is_empty() {
            continue;
        }
        n_out += chunk.len() as u64;
        if n_out > max {
            return Err(fe(FetchErrorKind::TooLarge, format!("over {max} bytes")));
        }
        sink(chunk)?;
    }
}

impl Fetcher {
    pub fn new(tls: &TlsMaterial, timeout: Duration) -> Result<Fetcher, DriverError> {
        let tls = tls_config(tls)?;
        let builder = || {
            ureq::AgentBuilder::new()
                .tls_config(tls.clone())
                .timeout_connect(timeout)
                .timeout_read(timeout)
        };
        Ok(Fetcher {
            agent: builder().redirects(3).build(),
            no_follow: builder().redirects(0).build(),
            timeout,
            tftp: ReadOptions {
                timeout: Duration::from_secs(1),
                ..ReadOptions::default()
            },
        })
    }

    /// Fetches one URL.
    pub fn fetch(&self, req: &FetchRequest) -> Result<Vec<u8>, FetchError> {
        let u = ProvUrl::parse(&req.url)
            .map_err(|e| fe(FetchErrorKind::Protocol, format!("bad URL: {e}")))?;
        match u.scheme {
            Scheme::Tftp => self.tftp(&u, req),
            Scheme::Ftp => self.ftp(&u, req),
            Scheme::Http | Scheme::Https => self.http(req),
        }
    }

    fn http(&self, req: &FetchRequest) -> Result<Vec<u8>, FetchError> {
        let redirect = req.purpose == crate::engine::Purpose::Redirect;
        let agent = if redirect {
            &self.no_follow
        } else {
            &self.agent
        };
        let range = req
            .prefix_only
            .map(|p| format!("bytes=0-{}", p.saturating_sub(1)));
        let resp = Self::http_call(agent, &req.url, range)?;
        // Appendix A.2: the redirect server answers with "an HTTPS Redirect response
        // containing the URL of the provisioning server": its Location is the result.
        if redirect && (300..400).contains(&resp.status()) {
            return resp
                .header("Location")
                .map(|l| l.as_bytes().to_vec())
                .ok_or_else(|| fe(FetchErrorKind::Protocol, "redirect without Location"));
        }
        if let Some(len) = resp
            .header("Content-Length")
            .and_then(|l| l.parse::<u64>().ok())
        {
            if req.prefix_only.is_none() && len > req.max_size {
                return Err(fe(
                    FetchErrorKind::TooLarge,
                    format!("Content-Length {len}"),
                ));
            }
        }
        let mut body = resp.into_reader();
        read_limited(&mut body, req.max_size, req.prefix_only)
    }

    /// Streams `url` from byte `from` on (HTTP Range, RFC 9110 section 14; FTP REST,
    /// RFC 3659 section 5; TFTP has no resume, so its first `from` bytes are read and
    /// dropped) into `sink`. At most `max` bytes in all.
    pub fn fetch_into(
        &self,
        url: &str,
        from: u64,
        max: u64,
        sink: Sink<'_>,
    ) -> Result<(), FetchError> {
        let u = ProvUrl::parse(url)
            .map_err(|e| fe(FetchErrorKind::Protocol, format!("bad URL: {e}")))?;
        let left = max.saturating_sub(from);
        match u.scheme {
            Scheme::Http | Scheme::Https => {
                let range = (from > 0).then(|| format!("bytes={from}-"));
                let resp = Self::http_call(&self.agent, url, range)?;
                let skip = match resp.status() {
                    206 => {
                        let cr = resp.header("Content-Range").unwrap_or("");
                        if !cr.starts_with(&format!("bytes {from}-")) {
                            return Err(fe(
                                FetchErrorKind::Protocol,
                                format!("asked for bytes {from}-, got Content-Range {cr:?}"),
                            ));
                        }
                        0
                    }
                    // The server ignored the Range: read from the start, drop what we have.
                    200 => from,
                    s => return Err(fe(FetchErrorKind::Protocol, format!("HTTP {s}"))),
                };
                let mut body = resp.into_reader();
                pump(&mut body, skip, left, sink)?;
                Ok(())
            }
            Scheme::Ftp => self.ftp_core(&u, url, max, None, from, sink).map(|_| ()),
            Scheme::Tftp => {
                let req = FetchRequest {
                    id: 0,
                    url: url.to_string(),
                    purpose: crate::engine::Purpose::Firmware,
                    max_size: max,
                    prefix_only: None,
                };
                let all = self.tftp(&u, &req)?;
                pump(&mut &all[..], from, left, sink)?;
                Ok(())
            }
        }
    }

    fn http_call(
        agent: &ureq::Agent,
        url: &str,
        range: Option<String>,
    ) -> Result<ureq::Response, FetchError> {
        let mut r = agent.get(url);
        if let Some(range) = range {
            r = r.set("Range", &range);
        }
        match r.call() {
            Ok(resp) => Ok(resp),
            Err(ureq::Error::Status(code, _)) => {
                let kind = match code {
                    404 | 410 => FetchErrorKind::NotFound,
                    401 | 403 => FetchErrorKind::Denied,
                    _ => FetchErrorKind::Protocol,
                };
                Err(fe(kind, format!("HTTP {code}")))
            }
            Err(ureq::Error::Transport(t)) => {
                let msg = t.to_string();
                let kind = match t.kind() {
                    ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => {
                        if msg.contains("certificate") || msg.contains("tls") || msg.contains("TLS")
                        {
                            FetchErrorKind::Tls
                        } else {
                            FetchErrorKind::Unreachable
                        }
                    }
                    ureq::ErrorKind::Io => {
                        if msg.contains("certificate")
                            || msg.contains("alert")
                            || msg.contains("tls")
                        {
                            FetchErrorKind::Tls
                        } else if msg.contains("timed out") {
                            FetchErrorKind::TimedOut
                        } else {
                            FetchErrorKind::Unreachable
                        }
                    }
                    _ => FetchErrorKind::Protocol,
                };
                Err(fe(kind, msg))
            }
        }
    }

    fn tftp(&self, u: &ProvUrl, req: &FetchRequest) -> Result<Vec<u8>, FetchError> {
        let (host, port) = u.host_port();
        let server = resolve(host, port)?;
        let path = req
            .url
            .splitn(4, '/')
            .nth(3)
            .ok_or_else(|| fe(FetchErrorKind::Protocol, "no file name"))?;
        let sock = UdpSocket::bind(match server.ip() {
            IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            IpAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
        })
        .map_err(|e| fe(FetchErrorKind::Unreachable, e.to_string()))?;
        let opts = ReadOptions {
            max_size: req.max_size,
            ..self.tftp.clone()
        };
        let mut c = ReadClient::new(server, path, opts, Instant::now());
        let mut buf = vec![0u8; 65_536];
        loop {
            while let Some((to, p)) = c.poll_transmit() {
                if let Err(e) = sock.send_to(&p, to) {
                    return Err(fe(io_kind(&e), e.to_string()));
                }
            }
            if let Some(r) = c.poll_result() {
                return r.map_err(|e| match e {
                    TftpError::Server { code, message } => {
                        let kind = match code {
                            tftp::errcode::FILE_NOT_FOUND => FetchErrorKind::NotFound,
                            tftp::errcode::ACCESS_VIOLATION => FetchErrorKind::Denied,
                            _ => FetchErrorKind::Protocol,
                        };
                        fe(kind, format!("TFTP error {code}: {message}"))
                    }
                    TftpError::TimedOut(n) => fe(
                        FetchErrorKind::TimedOut,
                        format!("TFTP: no answer after {n} attempts"),
                    ),
                    TftpError::TooLarge { limit } => {
                        fe(FetchErrorKind::TooLarge, format!("over {limit} bytes"))
                    }
                    other => fe(FetchErrorKind::Protocol, other.to_string()),
                });
            }
            if let Some(p) = req.prefix_only {
                if c.received() >= p {
                    let (mut data, stop) = c.abort();
                    if let Some((to, pkt)) = stop {
                        let _ = sock.send_to(&pkt, to);
                    }
                    data.truncate(p as usize);
                    return Ok(data);
                }
            }
            let now = Instant::now();
            let wake = c.poll_timeout().unwrap_or(now + self.timeout);
            sock.set_read_timeout(Some(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            ))
            .map_err(|e| fe(FetchErrorKind::Protocol, e.to_string()))?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => c.handle_input(Instant::now(), from, &buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    c.handle_timeout(Instant::now())
                }
                // ICMP port unreachable from a down server shows up here.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Err(fe(
                        FetchErrorKind::Unreachable,
                        "TFTP server port unreachable",
                    ));
                }
                Err(e) => return Err(fe(io_kind(&e), e.to_string())),
            }
        }
    }

    fn ftp(&self, u: &ProvUrl, req: &FetchRequest) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.ftp_core(
            u,
            &req.url,
            req.max_size,
            req.prefix_only,
            0,
            &mut |b: &[u8]| -> Result<(), FetchError> {
                out.extend_from_slice(b);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// One FTP retrieval (passive, binary), from byte `rest` on, into `sink`.
    fn ftp_core(
        &self,
        u: &ProvUrl,
        url: &str,
        max_size: u64,
        prefix_only: Option<u64>,
        rest: u64,
        sink: Sink<'_>,
    ) -> Result<u64, FetchError> {
        let (host, port) = u.host_port();
        let addr = resolve(host, port)?;
        let ctl = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| fe(io_kind(&e), format!("{addr}: {e}")))?;
        ctl.set_read_timeout(Some(self.timeout)).ok();
        ctl.set_write_timeout(Some(self.timeout)).ok();
        let mut w = ctl
            .try_clone()
            .map_err(|e| fe(FetchErrorKind::Protocol, e.to_string()))?;
        let mut r = BufReader::new(ctl);
        // RFC 959 section 4.2: a reply is "ddd text", multi-line replies start "ddd-" and end
        // with "ddd ".
        let reply = |r: &mut BufReader<TcpStream>| -> Result<(u16, String), FetchError> {
            let mut first = String::new();
            let mut total = 0usize;
            loop {
                let mut line = String::new();
                let n = (&mut *r)
                    .take(4096)
                    .read_line(&mut line)
                    .map_err(|e| fe(io_kind(&e), format!("FTP: {e}")))?;
                total += n;
                if n == 0 || total > 64 * 1024 {
                    return Err(fe(
                        FetchErrorKind::Protocol,
                        "FTP: connection closed or reply too long",
                    ));
                }
                if first.is_empty() {
                    first = line.clone();
                }
                let code = first
                    .get(..3)
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| {
                        fe(
                            FetchErrorKind::Protocol,
                            format!("FTP: bad reply {first:?}"),
                        )
                    })?;
                if line.len() >= 4 && line.starts_with(&first[..3]) && line.as_bytes()[3] == b' ' {
                    return Ok((code, first.trim_end().to_string()));
                }
            }
        };
        let cmd = |w: &mut TcpStream, c: &str| -> Result<(), FetchError> {
            w.write_all(format!("{c}\r\n").as_bytes())
                .map_err(|e| fe(io_kind(&e), format!("FTP: {e}")))
        };
        let expect = |got: (u16, String), ok: &[u16]| -> Result<(u16, String), FetchError> {
            if ok.contains(&got.0) {
                Ok(got)
            } else {
                let kind = match got.0 {
                    550 | 450 => FetchErrorKind::NotFound,
                    530 | 532 => FetchErrorKind::Denied,
                    _ => FetchErrorKind::Protocol,
                };
                Err(fe(kind, format!("FTP: {}", got.1)))
            }
        };
        expect(reply(&mut r)?, &[220])?;
        let (user, pass) = match &u.userinfo {
            Some(ui) => match ui.split_once(':') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (ui.clone(), String::new()),
            },
            None => ("anonymous".to_string(), "phone@".to_string()),
        };
        cmd(&mut w, &format!("USER {user}"))?;
        let (code, _) = expect(reply(&mut r)?, &[230, 331])?;
        if code == 331 {
            cmd(&mut w, &format!("PASS {pass}"))?;
            expect(reply(&mut r)?, &[230, 202])?;
        }
        cmd(&mut w, "TYPE I")?;
        expect(reply(&mut r)?, &[200])?;
        let path = url.splitn(4, '/').nth(3).unwrap_or("");
        cmd(&mut w, &format!("SIZE {path}"))?;
        let size = match reply(&mut r)? {
            (213, t) => t[4..].trim().parse::<u64>().ok(),
            (550, t) => return Err(fe(FetchErrorKind::NotFound, format!("FTP: {t}"))),
            _ => None,
        };
        if let (Some(s), None) = (size, prefix_only) {
            if s > max_size {
                return Err(fe(FetchErrorKind::TooLarge, format!("SIZE {s}")));
            }
        }
        // Passive mode (RFC 959 PASV, 227 reply "(h1,h2,h3,h4,p1,p2)"); the host part is
        // ignored in favour of the control connection's peer (NAT-safe, no bounce).
        cmd(&mut w, "PASV")?;
        let (_, t) = expect(reply(&mut r)?, &[227])?;
        let nums: Vec<u16> = t
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if nums.len() < 7 {
            return Err(fe(
                FetchErrorKind::Protocol,
                format!("FTP: bad PASV reply {t}"),
            ));
        }
        let dport = nums[nums.len() - 2] * 256 + nums[nums.len() - 1];
        let daddr = SocketAddr::new(addr.ip(), dport);
        let mut data = TcpStream::connect_timeout(&daddr, self.timeout)
            .map_err(|e| fe(io_kind(&e), format!("FTP data: {e}")))?;
        data.set_read_timeout(Some(self.timeout)).ok();
        // RFC 3659 section 5: REST in STREAM mode restarts the transfer at a byte offset.
        let mut skip = 0;
        if rest > 0 {
            cmd(&mut w, &format!("REST {rest}"))?;
            if reply(&mut r)?.0 != 350 {
                skip = rest; // not supported: read from the start and drop
            }
        }
        cmd(&mut w, &format!("RETR {path}"))?;
        expect(reply(&mut r)?, &[125, 150])?;
        if let Some(p) = prefix_only {
            let body = read_limited(&mut data, max_size, Some(p))?;
            let _ = data.shutdown(Shutdown::Both);
            let _ = cmd(&mut w, "QUIT");
            sink(&body)?;
            return Ok(body.len() as u64);
        }
        let got = pump(&mut data, skip, max_size.saturating_sub(rest), sink)?;
        drop(data);
        expect(reply(&mut r)?, &[226, 250])?;
        if let Some(s) = size {
            if s != got + rest {
                return Err(fe(
                    FetchErrorKind::Truncated,
                    format!("FTP: got {} of {s} bytes", got + rest),
                ));
            }
        }
        let _ = cmd(&mut w, "QUIT");
        Ok(got)
    }
}

/// Progress of [`install_firmware`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallProgress {
    /// Header accepted; downloading into `slot` from byte `from` (non-zero: resumed).
    Started {
        slot: crate::firmware::Slot,
        from: u64,
        total: u64,
    },
    /// `written` bytes of the image are in the slot.
    Written { written: u64 },
}

/// Carries out an [`crate::engine::Action::InstallFirmware`]: the installer checks the
/// header first (nothing is downloaded for a refused image), then the body is streamed into
/// the inactive slot from where an earlier attempt stopped, and the slot is activated only
/// when every section and the read-back verify. A failed download keeps its checkpoint for
/// the next attempt; a refused image is discarded.
pub fn install_firmware(
    fetcher: &Fetcher,
    store: &mut dyn crate::firmware::SlotStore,
    keys: &crate::firmware::Keyring,
    policy: &crate::firmware::Policy,
    url: &str,
    header: &[u8],
    progress: &mut dyn FnMut(InstallProgress),
) -> crate::engine::FirmwareOutcome {
    use crate::engine::FirmwareOutcome as O;
    use crate::firmware::{Installer, UpdateError};
    let fail = |e: UpdateError| match e {
        UpdateError::Image(e) => O::Rejected(e),
        UpdateError::AlreadyRunning(version) => O::AlreadyRunning { version },
        other => O::Failed(other.to_string()),
    };
    let mut inst = match Installer::begin(store, keys, policy, header) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let total = inst.header().image_len();
    progress(InstallProgress::Started {
        slot: inst.target(),
        from: inst.offset(),
        total,
    });
    let mut failed: Option<UpdateError> = None;
    let from = inst.offset();
    let mut last = from;
    let r = {
        let mut sink = |b: &[u8]| -> Result<(), FetchError> {
            if let Err(e) = inst.feed(store, b) {
                failed = Some(e);
                return Err(fe(FetchErrorKind::Protocol, "refused by the installer"));
            }
            if inst.offset() - last >= 1 << 20 || inst.offset() == total {
                last = inst.offset();
                progress(InstallProgress::Written { written: last });
            }
            Ok(())
        };
        fetcher.fetch_into(url, from, total, &mut sink)
    };
    if let Some(e) = failed {
        if matches!(e, UpdateError::Image(_)) {
            let _ = inst.abort(store);
        }
        return fail(e);
    }
    if let Err(e) = r {
        return O::FetchFailed(e);
    }
    if inst.offset() < total {
        return O::FetchFailed(fe(
            FetchErrorKind::Truncated,
            format!("got {} of {total} bytes", inst.offset()),
        ));
    }
    match inst.finish(store) {
        Ok(h) => O::Installed { version: h.version },
        Err(e) => fail(e),
    }
}
