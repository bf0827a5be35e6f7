//! The I/O for [`super::certprov`]: one HTTPS POST over a TCP connection with rustls
//! (TLS 1.2 or 1.3, the service's certificate verified against the given roots), blocking
//! with a deadline; the sans-IO [`HttpRequest`] goes out, the [`HttpResponse`] comes back.
//! The sign-in state machine ([`super::dsk_signin`]) stays sans-IO; its owner calls this.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};

use crate::sipe::certprov::{split_url, HttpRequest, HttpResponse};

/// Why the POST failed (no response to hand to the state machine).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("URL: {0}")]
    Url(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("no complete response before the deadline or the connection's end")]
    Incomplete,
    #[error("bad response: {0}")]
    Response(String),
}

/// POSTs `req` to its URL, connecting to `connect_to` when given (tests: 127.0.0.1 for a
/// name the certificate carries) or else to the URL's host; everything within `timeout`.
pub fn post(
    req: &HttpRequest,
    roots: &[CertificateDer<'static>],
    connect_to: Option<SocketAddr>,
    timeout: Duration,
) -> Result<HttpResponse, PostError> {
    let deadline = Instant::now() + timeout;
    let (host, port, _) = split_url(&req.url).map_err(|e| PostError::Url(e.to_string()))?;
    let wire = req.encode().map_err(|e| PostError::Url(e.to_string()))?;
    let addr = match connect_to {
        Some(a) => a,
        None => (host.trim_matches(['[', ']']), port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| PostError::Url(format!("{host} has no address")))?,
    };
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store
            .add(r.clone())
            .map_err(|e| PostError::Tls(e.to_string()))?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PostError::Tls(e.to_string()))?
    .with_root_certificates(store)
    .with_no_client_auth();
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| PostError::Url(e.to_string()))?;
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name)
        .map_err(|e| PostError::Tls(e.to_string()))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout)?;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    tcp.set_write_timeout(Some(left()))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(&wire)?;
    s.flush()?;
    let mut buf = Vec::new();
    loop {
        if Instant::now() >= deadline {
            return Err(PostError::Incomplete);
        }
        s.sock.set_read_timeout(Some(left()))?;
        let mut chunk = [0u8; 8192];
        let n = match s.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        buf.extend_from_slice(&chunk[..n]);
        match HttpResponse::decode(&buf) {
            Ok(Some((r, _))) => return Ok(r),
            Ok(None) if n == 0 => return Err(PostError::Incomplete),
            Ok(None) => {}
            Err(e) => return Err(PostError::Response(e.to_string())),
        }
    }
}
