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
        let mut r = agent.get(&req.url);
        if let Some(p) = req.prefix_only {
            r = r.set("Range", &format!("bytes=0-{}", p.saturating_sub(1)));
        }
        let resp = match r.call() {
            Ok(resp) => resp,
            Err(ureq::Error::Status(code, _)) => {
                let kind = match code {
                    404 | 410 => FetchErrorKind::NotFound,
                    401 | 403 => FetchErrorKind::Denied,
                    _ => FetchErrorKind::Protocol,
                };
                return Err(fe(kind, format!("HTTP {code}")));
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
                return Err(fe(kind, msg));
            }
        };
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
        let path = req.url.splitn(4, '/').nth(3).unwrap_or("");
        cmd(&mut w, &format!("SIZE {path}"))?;
        let size = match reply(&mut r)? {
            (213, t) => t[4..].trim().parse::<u64>().ok(),
            (550, t) => return Err(fe(FetchErrorKind::NotFound, format!("FTP: {t}"))),
            _ => None,
        };
        if let (Some(s), None) = (size, req.prefix_only) {
            if s > req.max_size {
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
        cmd(&mut w, &format!("RETR {path}"))?;
        expect(reply(&mut r)?, &[125, 150])?;
        let body = read_limited(&mut data, req.max_size, req.prefix_only)?;
        if req.prefix_only.is_some() {
            let _ = data.shutdown(Shutdown::Both);
            let _ = cmd(&mut w, "QUIT");
            return Ok(body);
        }
        drop(data);
        expect(reply(&mut r)?, &[226, 250])?;
        if let Some(s) = size {
            if s != body.len() as u64 {
                return Err(fe(
                    FetchErrorKind::Truncated,
                    format!("FTP: got {} of {s} bytes", body.len()),
                ));
            }
        }
        let _ = cmd(&mut w, "QUIT");
        Ok(body)
    }
}
