//! The driver: sockets and threads (std only, no async runtime) around [`App`].
//!
//! One listening socket serves HTTP and HTTPS: the first byte of a connection tells a TLS
//! ClientHello (0x16) from a plain request. Each connection gets a thread, at most
//! [`Limits::max_conns`] at once (more are closed at accept), and one request: the head must
//! arrive within [`Limits::head_deadline`], the body within [`Limits::body_deadline`], and a
//! body larger than the route allows is answered `413` without being read.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::app::{App, Request};
use crate::html;
use crate::http::{self, Response};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_conns: usize,
    pub head_deadline: Duration,
    pub body_deadline: Duration,
    /// Each read and write.
    pub io_timeout: Duration,
    pub http: http::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: 32,
            head_deadline: Duration::from_secs(10),
            body_deadline: Duration::from_secs(120),
            io_timeout: Duration::from_secs(10),
            http: http::Limits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

/// Loads a PEM certificate chain and private key into a TLS 1.2/1.3 server configuration.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs = rustls_pemfile::certs(&mut io::BufReader::new(std::fs::File::open(cert)?))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut io::BufReader::new(std::fs::File::open(key)?))?
        .ok_or_else(|| ServerError::Tls(format!("{}: no private key", key.display())))?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServerError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// A bound server.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
}

/// A server running on its own thread; dropping it does not stop it, [`Running::stop`] does.
pub struct Running {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Server {
    pub fn bind(
        addr: &str,
        app: Arc<App>,
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: Limits,
    ) -> Result<Server, ServerError> {
        Ok(Server {
            listener: TcpListener::bind(addr)?,
            app,
            tls,
            limits,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is set (checked after each accepted connection).
    pub fn run(self, stop: Arc<AtomicBool>) {
        let active = Arc::new(AtomicUsize::new(0));
        for conn in self.listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = conn else { continue };
            if active.load(Ordering::SeqCst) >= self.limits.max_conns {
                drop(stream);
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let (app, tls, limits, active) = (
                self.app.clone(),
                self.tls.clone(),
                self.limits,
                active.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name("ac-web-conn".into())
                .spawn(move || {
                    let _ = serve(stream, &app, tls, &limits);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.app.log("cannot start a connection thread");
            }
        }
    }

    /// Runs on a new thread.
    pub fn spawn(self) -> io::Result<Running> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ac-web-accept".into())
            .spawn(move || self.run(s2))?;
        Ok(Running {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

fn serve(
    stream: TcpStream,
    app: &App,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: &Limits,
) -> Result<(), ServerError> {
    stream.set_read_timeout(Some(limits.io_timeout))?;
    stream.set_write_timeout(Some(limits.io_timeout))?;
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    let mut first = [0u8; 1];
    if stream.peek(&mut first)? == 0 {
        return Ok(());
    }
    if first[0] == 0x16 {
        // A TLS handshake record (RFC 8446 5.1, ContentType handshake = 22).
        let Some(cfg) = tls else {
            return Ok(());
        };
        let conn =
            rustls::ServerConnection::new(cfg).map_err(|e| ServerError::Tls(e.to_string()))?;
        let mut s = rustls::StreamOwned::new(conn, stream);
        let r = exchange(&mut s, app, true, peer, limits);
        s.conn.send_close_notify();
        let _ = s.flush();
        r
    } else {
        let mut s = stream;
        exchange(&mut s, app, false, peer, limits)
    }
}

fn error_response(status: u16, msg: &str) -> Response {
    Response::html(
        status,
        html::bare(http::reason(status), &html::note("bad", msg)),
    )
}

/// Reads one request, answers it, and returns (the connection closes).
fn exchange<S: Read + Write>(
    s: &mut S,
    app: &App,
    tls: bool,
    peer: SocketAddr,
    limits: &Limits,
) -> Result<(), ServerError> {
    let start = Instant::now();
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 8192];
    let (head, head_len) = loop {
        match http::parse_head(&buf, &limits.http) {
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(e) => {
                app.log(&format!("{} - refused request: {e}", peer.ip()));
                s.write_all(&error_response(e.status(), &e.to_string()).emit(false))?;
                return Ok(());
            }
        }
        if start.elapsed() > limits.head_deadline {
            s.write_all(&error_response(408, "request head too slow").emit(false))?;
            return Ok(());
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head_only = head.method == "HEAD";
    if !tls && app.https_only() {
        // security/web/https_only: nothing is processed over plain HTTP.
        let host = head.header("host").unwrap_or("").to_string();
        let r = Response::html(
            403,
            html::bare(
                "HTTPS only",
                &format!(
                    "<p>This phone accepts the web interface over HTTPS only: <a href=\"https://{0}/\">https://{0}/</a></p>",
                    html::esc(&host)
                ),
            ),
        );
        app.log(&format!(
            "{} - {} refused: HTTPS only",
            peer.ip(),
            head.method
        ));
        s.write_all(&r.emit(head_only))?;
        return Ok(());
    }
    let limit = app.body_limit(&head);
    if head.content_length > limit {
        let e = http::HttpError::BodyTooLarge {
            got: head.content_length,
            max: limit,
        };
        app.log(&format!(
            "{} - {} {} 413",
            peer.ip(),
            head.method,
            head.raw_path()
        ));
        s.write_all(&error_response(e.status(), &e.to_string()).emit(head_only))?;
        return Ok(());
    }
    if head.method == "POST" && head.header("content-length").is_none() {
        s.write_all(&error_response(411, "Content-Length required").emit(false))?;
        return Ok(());
    }
    // Bounded by `limit` above.
    let want = head.content_length as usize;
    let mut body = buf.split_off(head_len.min(buf.len()));
    body.truncate(want);
    if body.len() < want
        && head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        s.flush()?;
    }
    body.reserve_exact(want - body.len());
    while body.len() < want {
        if start.elapsed() > limits.body_deadline {
            s.write_all(&error_response(408, "request body too slow").emit(false))?;
            return Ok(());
        }
        let n = s.read(&mut chunk[..(want - body.len()).min(8192)])?;
        if n == 0 {
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let resp = app.handle(&Request {
        head: &head,
        body: &body,
        peer: peer.ip(),
        tls,
        now: Instant::now(),
    });
    s.write_all(&resp.emit(head_only))?;
    s.flush()?;
    Ok(())
}
