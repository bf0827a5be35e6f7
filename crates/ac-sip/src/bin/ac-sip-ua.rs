//! `ac-sip-ua`: the SIP stack on real sockets, for tests against kamailio and sipp and for
//! trying a registrar by hand. Prints one JSON object per event on stdout.
//!
//! ```text
//! ac-sip-ua register --proxy 127.0.0.1:5060 --transport udp --aor sip:alice@example.com \
//!     --user alice --password secret [--expires 60] [--unregister]
//! ac-sip-ua serve --udp 127.0.0.1:5070 [--tcp ...] [--duration 30] [--invite-code 200]
//! ```
//! Exit codes: 0 success, 1 the registrar refused or did not answer, 2 usage or set-up error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ac_sip::driver::{resolve, seed, Incoming, TlsSettings, TransportConfig, Transports};
use ac_sip::keepalive::{KeepAlive, KeepAliveEvent};
use ac_sip::msg::{response_to, HeaderName, Message, Method};
use ac_sip::register::{RegEvent, Registration, RegistrationConfig};
use ac_sip::resolve::{Resolver, Target};
use ac_sip::transaction::{Timers, Transactions, Transport, TxEvent, TxId};
use ac_sip::uas::{precheck, UasPolicy};
use ac_sip::uri::SipUri;
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(version, about = "SIP user agent of the ac-phone stack")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Net {
    /// UDP listen address.
    #[arg(long)]
    udp: Option<SocketAddr>,
    /// TCP listen address.
    #[arg(long)]
    tcp: Option<SocketAddr>,
    /// TLS listen address (needs --cert/--key).
    #[arg(long)]
    tls: Option<SocketAddr>,
    /// Trusted CA certificates (PEM), repeatable.
    #[arg(long)]
    ca: Vec<PathBuf>,
    /// Our certificate chain (PEM): client certificate, or server certificate with --tls.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    /// Name to verify in the server's certificate (default: its IP address).
    #[arg(long)]
    tls_name: Option<String>,
    /// `voip/signalling/sip/tls_method`.
    #[arg(long, default_value = "ssl_2_3")]
    tls_method: String,
    /// `voip/signalling/sip/tls_disable`.
    #[arg(long, default_value = "ssl_2 ssl_3")]
    tls_disable: String,
    /// Print every event (requests, responses).
    #[arg(long)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Register a line, print the outcome, optionally unregister.
    Register {
        #[command(flatten)]
        net: Net,
        /// Registrar / outbound proxy address (otherwise found with --dns).
        #[arg(long, required_unless_present = "dns")]
        proxy: Option<SocketAddr>,
        #[arg(long, value_parser = parse_transport, default_value = "udp")]
        transport: Transport,
        /// DNS server: locate the AOR domain's SIP servers (RFC 3263) and fail over between
        /// them in order.
        #[arg(long)]
        dns: Option<SocketAddr>,
        /// With --dns: the Skype for Business discovery order of manual 2.5.1.
        #[arg(long, requires = "dns")]
        lync: bool,
        /// Address of record.
        #[arg(long)]
        aor: String,
        /// Request-URI (default: sip:DOMAIN of the AOR).
        #[arg(long)]
        registrar: Option<String>,
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "")]
        password: String,
        #[arg(long, default_value_t = 3600)]
        expires: u32,
        /// Unregister after registering.
        #[arg(long)]
        unregister: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 40)]
        timeout: u64,
        /// Keep-alive interval in seconds (RFC 5626 CRLF pings over TCP/TLS, CRLF over UDP)
        /// while staying registered.
        #[arg(long)]
        keepalive: Option<u64>,
        /// After registering, stay registered this many seconds (refreshing), then exit.
        #[arg(long, default_value_t = 0)]
        stay: u64,
    },
    /// Locate the SIP servers of a URI (RFC 3263) or a Lync domain (manual 2.5.1).
    Resolve {
        /// DNS server.
        #[arg(long)]
        dns: SocketAddr,
        /// A SIP or SIPS URI.
        #[arg(long, required_unless_present = "lync")]
        uri: Option<String>,
        /// A sign-in domain, in the Skype for Business order.
        #[arg(long)]
        lync: Option<String>,
        /// DHCP option 120 server (with --lync).
        #[arg(long)]
        option120: Option<String>,
    },
    /// Answer requests: OPTIONS 200, INVITE (180 then the --invite-code final), BYE 200,
    /// CANCEL (487 to the INVITE), RFC 3261 8.2 errors.
    Serve {
        #[command(flatten)]
        net: Net,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Final response to INVITE.
        #[arg(long, default_value_t = 200)]
        invite_code: u16,
        /// Delay before answering an INVITE (ms); 0 answers at once.
        #[arg(long, default_value_t = 0)]
        answer_delay_ms: u64,
        /// Do not send 180 Ringing (the transaction layer's own 100 Trying shows).
        #[arg(long)]
        no_ringing: bool,
        /// Timer T1 in ms (RFC 3261 17.1.1.1; default 500). T2 and T4 scale with it.
        #[arg(long, default_value_t = 500)]
        t1_ms: u64,
        /// Stop (and print the summary) when standard input reaches end of file.
        #[arg(long)]
        stop_on_eof: bool,
    },
}

fn parse_transport(s: &str) -> Result<Transport, String> {
    Transport::from_via(s).ok_or_else(|| format!("unknown transport {s}"))
}

fn emit(start: Instant, v: serde_json::Value) {
    let mut v = v;
    v["t_ms"] = json!(start.elapsed().as_millis() as u64);
    println!("{v}");
}

fn transports(n: &Net, ensure: &[Transport]) -> Result<Transports, String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut tls = TlsSettings {
        roots: n.ca.iter().map(read).collect::<Result<_, _>>()?,
        identity: None,
        server_name: n.tls_name.clone(),
        method: n.tls_method.clone(),
        disable: n.tls_disable.clone(),
    };
    if let (Some(c), Some(k)) = (&n.cert, &n.key) {
        tls.identity = Some((read(c)?, read(k)?));
    }
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let mut cfg = TransportConfig {
        udp: n.udp,
        tcp: n.tcp,
        tls: n.tls,
        tls_settings: tls,
    };
    // A client needs a local socket of its transport: an ephemeral one by default.
    for t in ensure {
        match t {
            Transport::Udp if cfg.udp.is_none() => cfg.udp = Some(any),
            Transport::Tcp if cfg.tcp.is_none() => cfg.tcp = Some(any),
            _ => {}
        }
    }
    Transports::new(&cfg).map_err(|e| e.to_string())
}

fn flush(tx: &mut Transactions, net: &mut Transports, start: Instant, verbose: bool) {
    while let Some(t) = tx.poll_transmit() {
        if let Err(e) = net.send(&t) {
            if verbose {
                emit(
                    start,
                    json!({"event": "send_error", "dest": t.dest.to_string(), "error": e.to_string()}),
                );
            }
            tx.handle_transport_error(Instant::now(), t.dest);
        }
    }
}

/// Hands an incoming item to the transaction layer; a keep-alive pong is returned instead.
fn deliver(tx: &mut Transactions, item: Incoming) -> Option<(Transport, SocketAddr)> {
    let now = Instant::now();
    match item {
        Incoming::Message {
            transport,
            source,
            data,
        } => tx.handle_message(now, transport, source, &data),
        Incoming::Closed { peer, .. } => tx.handle_transport_error(now, peer),
        Incoming::Pong { transport, peer } => return Some((transport, peer)),
    }
    None
}

/// What `register` does.
struct RegisterArgs {
    targets: Vec<Target>,
    aor: String,
    registrar: Option<String>,
    user: String,
    password: String,
    expires: u32,
    unregister: bool,
    timeout: u64,
    /// Keep-alive interval (RFC 5626 pings) while staying registered.
    keepalive: Option<u64>,
    /// Stay registered this long (refreshing, keeping the flow alive), then exit.
    stay: u64,
}

fn register(n: Net, a: RegisterArgs) -> Result<bool, String> {
    let start = Instant::now();
    // Client sockets of every kind: the targets may mix transports.
    let mut net = transports(&n, &[Transport::Udp, Transport::Tcp])?;
    let domain = a
        .aor
        .split_once('@')
        .map(|(_, d)| d.to_string())
        .ok_or("--aor must be sip:user@domain")?;
    let local_for = |net: &Transports, t: Transport| -> SocketAddr {
        match t {
            Transport::Udp => net.local_addr(Transport::Udp),
            _ => net
                .local_addr(Transport::Tls)
                .or(net.local_addr(Transport::Tcp)),
        }
        .unwrap_or_else(|| "127.0.0.1:5060".parse().expect("address"))
    };
    let identity = |net: &Transports, t: Transport| -> (String, String, String) {
        let local = local_for(net, t);
        let tparam = match t {
            Transport::Udp => String::new(),
            t => format!(";transport={}", t.via_name().to_ascii_lowercase()),
        };
        (
            local.to_string(),
            t.via_name().to_string(),
            format!("sip:{}@{local}{tparam}", a.user),
        )
    };
    let mut ti = 0;
    let first = a.targets.first().ok_or("no target")?.clone();
    let (via_host, via_transport, contact) = identity(&net, first.transport);
    let cfg = RegistrationConfig {
        aor: a.aor.clone(),
        registrar: a
            .registrar
            .clone()
            .unwrap_or_else(|| format!("sip:{domain}")),
        contact,
        via_host,
        via_transport,
        username: a.user.clone(),
        password: a.password.clone(),
        expires: a.expires,
        user_agent: format!("ac-sip-ua/{}", env!("CARGO_PKG_VERSION")),
        retry_after: Duration::from_secs(30),
        route: None,
    };
    let mut reg = Registration::new(cfg, seed());
    let mut tx = Transactions::new(Timers::default());
    let mut current: Option<TxId> = None;
    reg.register(Instant::now());
    let mut deadline = start + Duration::from_secs(a.timeout);
    let mut staying = false;
    let mut registered = false;
    let mut ka = KeepAlive::new(Duration::from_secs(a.keepalive.unwrap_or(95)), seed());
    emit(
        start,
        json!({"event": "target", "addr": first.addr.to_string(), "transport": first.transport.via_name()}),
    );
    loop {
        if let Some(req) = reg.poll_request() {
            let t = &a.targets[ti];
            current = Some(
                tx.send_request(Instant::now(), t.transport, t.addr, req)
                    .map_err(|e| e.to_string())?,
            );
        }
        flush(&mut tx, &mut net, start, n.verbose);
        while let Some(e) = tx.poll_event() {
            match e {
                TxEvent::Response { tx: id, data } if Some(id) == current => {
                    if let Ok(m) = Message::parse(&data) {
                        if n.verbose || m.status().is_some_and(|c| c >= 200) {
                            emit(
                                start,
                                json!({"event": "response", "status": m.status(), "cseq": m.cseq().map(|c| c.seq).ok()}),
                            );
                        }
                    }
                    reg.handle_response(Instant::now(), &data);
                }
                TxEvent::Timeout { tx: id } | TxEvent::TransportError { tx: id }
                    if Some(id) == current =>
                {
                    // RFC 3263 section 4.3: try the next target in order.
                    if ti + 1 < a.targets.len() {
                        ti += 1;
                        let t = a.targets[ti].clone();
                        emit(
                            start,
                            json!({"event": "target", "addr": t.addr.to_string(), "transport": t.transport.via_name()}),
                        );
                        let (h, v, c) = identity(&net, t.transport);
                        reg.set_transport(h, v, c);
                        reg.register(Instant::now());
                    } else {
                        reg.handle_failure(Instant::now(), 503);
                    }
                }
                TxEvent::Request { tx: id, data, .. } => {
                    // A registrar may send OPTIONS keep-alives: answer them.
                    if let Ok(m) = Message::parse(&data) {
                        let code = if m.method() == Some(Method::Options) {
                            200
                        } else {
                            501
                        };
                        let _ = tx.respond(
                            Instant::now(),
                            id,
                            response_to(&m, code, Some("ua")).to_bytes(),
                        );
                    }
                }
                _ => {}
            }
        }
        while let Some(ev) = reg.poll_event() {
            match ev {
                RegEvent::Registered { expires } => {
                    emit(start, json!({"event": "registered", "expires": expires}));
                    registered = true;
                    if a.stay > 0 && !staying {
                        staying = true;
                        deadline = Instant::now() + Duration::from_secs(a.stay);
                        if a.keepalive.is_some() {
                            let t = &a.targets[ti];
                            ka.add_flow(Instant::now(), (t.transport, t.addr));
                        }
                    } else if staying {
                        // A refresh while staying.
                    } else if a.unregister {
                        reg.unregister(Instant::now());
                    } else {
                        return Ok(true);
                    }
                }
                RegEvent::Unregistered => {
                    emit(start, json!({"event": "unregistered"}));
                    return Ok(registered);
                }
                RegEvent::Failed { code, reason } => {
                    emit(
                        start,
                        json!({"event": "failed", "status": code, "reason": reason}),
                    );
                    return Ok(false);
                }
            }
        }
        // A retry the responses above produced (challenge answer, 423) goes out at once.
        if let Some(req) = reg.poll_request() {
            let t = &a.targets[ti];
            current = Some(
                tx.send_request(Instant::now(), t.transport, t.addr, req)
                    .map_err(|e| e.to_string())?,
            );
            continue;
        }
        while let Some(t) = ka.poll_transmit() {
            emit(
                start,
                json!({"event": "ping", "dest": t.dest.to_string(), "transport": t.transport.via_name()}),
            );
            if let Err(e) = net.send(&t) {
                emit(
                    start,
                    json!({"event": "send_error", "error": e.to_string()}),
                );
            }
        }
        while let Some(e) = ka.poll_event() {
            match e {
                KeepAliveEvent::Alive { flow } => {
                    emit(start, json!({"event": "pong", "from": flow.1.to_string()}))
                }
                KeepAliveEvent::Failed { flow } => {
                    // RFC 5626 4.4.1: the flow is dead; the owner must register again.
                    emit(
                        start,
                        json!({"event": "keepalive_failed", "flow": flow.1.to_string()}),
                    );
                    return Ok(false);
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            if staying {
                emit(start, json!({"event": "done", "registered": registered}));
                return Ok(registered);
            }
            emit(
                start,
                json!({"event": "failed", "status": 408, "reason": "no answer in time"}),
            );
            return Ok(false);
        }
        let wake = [
            tx.poll_timeout(),
            reg.poll_timeout(),
            ka.poll_timeout(),
            Some(deadline),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(item) = net.recv(wake) {
            if let Some(flow) = deliver(&mut tx, item) {
                ka.handle_pong(Instant::now(), flow);
            }
        }
        let now = Instant::now();
        tx.handle_timeout(now);
        reg.handle_timeout(now);
        ka.handle_timeout(now);
    }
}

fn resolve_cmd(
    dns: SocketAddr,
    uri: Option<String>,
    lync: Option<String>,
    option120: Option<String>,
) -> Result<bool, String> {
    let mut r = match (&uri, &lync) {
        (_, Some(d)) => Resolver::lync(d, option120.as_deref(), seed()),
        (Some(u), None) => {
            let u = SipUri::parse(u).map_err(|e| e.to_string())?;
            Resolver::for_uri(
                &u,
                &[Transport::Tls, Transport::Tcp, Transport::Udp],
                seed(),
            )
        }
        (None, None) => return Err("--uri or --lync".into()),
    };
    match resolve(&mut r, dns) {
        Ok(targets) => {
            for t in targets {
                println!(
                    "{}",
                    json!({"event": "target", "addr": t.addr.to_string(), "transport": t.transport.via_name(), "host": t.host})
                );
            }
            Ok(true)
        }
        Err(e) => {
            println!("{}", json!({"event": "failed", "reason": e.to_string()}));
            Ok(false)
        }
    }
}

const SDP: &str = "v=0\r\no=ac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50020 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn serve(
    n: Net,
    duration: u64,
    invite_code: u16,
    answer_delay_ms: u64,
    no_ringing: bool,
    t1_ms: u64,
    stop_on_eof: bool,
) -> Result<(), String> {
    let start = Instant::now();
    let mut net = transports(&n, &[Transport::Udp])?;
    for t in [Transport::Udp, Transport::Tcp, Transport::Tls] {
        if let Some(a) = net.local_addr(t) {
            emit(
                start,
                json!({"event": "listening", "transport": t.via_name(), "addr": a.to_string()}),
            );
        }
    }
    let t1 = Duration::from_millis(t1_ms.max(1));
    let mut tx = Transactions::new(Timers {
        t1,
        t2: t1 * 8,
        t4: t1 * 10,
        ..Timers::default()
    });
    let policy = UasPolicy::default();
    let end = start + Duration::from_secs(duration);
    // Also stop when standard input closes (how tests end a run).
    let (eof_tx, eof_rx) = crossbeam_channel::bounded::<()>(1);
    if stop_on_eof {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            let _ = eof_tx.send(());
        });
    }
    // INVITEs waiting to be answered: (when, tx, request).
    let mut pending: Vec<(Instant, TxId, Vec<u8>, String)> = Vec::new();
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut tag_n: u64 = seed();
    loop {
        let now = Instant::now();
        if now >= end || eof_rx.try_recv().is_ok() {
            break;
        }
        // Answer INVITEs whose delay passed.
        let mut i = 0;
        while i < pending.len() {
            if pending[i].0 <= now {
                let (_, id, data, tag) = pending.remove(i);
                if let Ok(m) = Message::parse(&data) {
                    let mut r = response_to(&m, invite_code, Some(&tag));
                    if (200..300).contains(&invite_code) {
                        r.push(
                            HeaderName::Contact,
                            format!(
                                "<sip:ua@{}>",
                                net.local_addr(Transport::Udp)
                                    .map(|a| a.to_string())
                                    .unwrap_or_default()
                            ),
                        );
                        r.set_body("application/sdp", SDP.as_bytes().to_vec());
                    }
                    let _ = tx.respond(now, id, r.to_bytes());
                    *counts.entry(format!("invite_{invite_code}")).or_default() += 1;
                }
            } else {
                i += 1;
            }
        }
        flush(&mut tx, &mut net, start, n.verbose);
        while let Some(e) = tx.poll_event() {
            match e {
                TxEvent::Request {
                    tx: id,
                    data,
                    source,
                    ..
                } => {
                    let Ok(m) = Message::parse(&data) else {
                        continue;
                    };
                    let method = m
                        .method()
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_default();
                    *counts.entry(method.clone()).or_default() += 1;
                    if n.verbose {
                        emit(
                            start,
                            json!({"event": "request", "method": method, "from": source.to_string()}),
                        );
                    }
                    tag_n = tag_n.wrapping_add(1);
                    let tag = format!("{tag_n:x}");
                    if let Some(r) = precheck(&m, &policy, &tag) {
                        let _ = tx.respond(Instant::now(), id, r.to_bytes());
                        continue;
                    }
                    let r = match m.method() {
                        Some(Method::Invite) => {
                            if !no_ringing {
                                let _ = tx.respond(
                                    Instant::now(),
                                    id,
                                    response_to(&m, 180, Some(&tag)).to_bytes(),
                                );
                            }
                            pending.push((
                                Instant::now() + Duration::from_millis(answer_delay_ms),
                                id,
                                data.clone(),
                                tag,
                            ));
                            continue;
                        }
                        Some(Method::Options) => {
                            let mut r = response_to(&m, 200, Some(&tag));
                            r.push(HeaderName::Allow, policy.allow.join(", "));
                            r.push(HeaderName::Accept, "application/sdp");
                            r.push(HeaderName::Supported, policy.supported.join(", "));
                            r
                        }
                        _ => response_to(&m, 200, Some(&tag)),
                    };
                    let _ = tx.respond(Instant::now(), id, r.to_bytes());
                }
                TxEvent::Cancelled { invite } => {
                    *counts.entry("CANCEL".into()).or_default() += 1;
                    if let Some(pos) = pending.iter().position(|p| p.1 == invite) {
                        let (_, id, data, tag) = pending.remove(pos);
                        if let Ok(m) = Message::parse(&data) {
                            let _ = tx.respond(
                                Instant::now(),
                                id,
                                response_to(&m, 487, Some(&tag)).to_bytes(),
                            );
                        }
                    }
                }
                TxEvent::Ack { .. } => *counts.entry("ACK".into()).or_default() += 1,
                TxEvent::AckTimeout { .. } => *counts.entry("ack_timeout".into()).or_default() += 1,
                TxEvent::Dropped { reason, .. } => {
                    *counts.entry("dropped".into()).or_default() += 1;
                    if n.verbose {
                        emit(start, json!({"event": "dropped", "reason": reason}));
                    }
                }
                _ => {}
            }
        }
        flush(&mut tx, &mut net, start, n.verbose);
        // Wake at least every 100 ms to notice the end of standard input.
        let wake = [
            tx.poll_timeout(),
            pending.iter().map(|p| p.0).min(),
            Some(end),
            Some(Instant::now() + Duration::from_millis(100)),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(item) = net.recv(wake) {
            deliver(&mut tx, item);
            // Take everything already queued before running timers.
            while let Some(item) = net.recv(Some(Instant::now())) {
                deliver(&mut tx, item);
                flush(&mut tx, &mut net, start, n.verbose);
            }
        }
        tx.handle_timeout(Instant::now());
    }
    emit(start, json!({"event": "summary", "counts": counts}));
    Ok(())
}

fn fail(e: String) -> ExitCode {
    eprintln!("ac-sip-ua: {e}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let r = match cli.cmd {
        Cmd::Register {
            net,
            proxy,
            transport,
            dns,
            lync,
            aor,
            registrar,
            user,
            password,
            expires,
            unregister,
            timeout,
            keepalive,
            stay,
        } => {
            let targets = match (proxy, dns) {
                (Some(p), _) => Ok(vec![Target {
                    transport,
                    addr: p,
                    host: p.ip().to_string(),
                }]),
                (None, Some(d)) => {
                    let domain = aor
                        .split_once('@')
                        .map(|(_, d)| d.to_string())
                        .unwrap_or_default();
                    let mut r = if lync {
                        Resolver::lync(&domain, None, seed())
                    } else {
                        match SipUri::parse(&format!("sip:{domain}")) {
                            Ok(u) => Resolver::for_uri(
                                &u,
                                &[Transport::Tls, Transport::Tcp, Transport::Udp],
                                seed(),
                            ),
                            Err(e) => return fail(e.to_string()),
                        }
                    };
                    resolve(&mut r, d).map_err(|e| e.to_string())
                }
                (None, None) => Err("--proxy or --dns".to_string()),
            };
            match targets {
                Ok(targets) => register(
                    net,
                    RegisterArgs {
                        targets,
                        aor,
                        registrar,
                        user,
                        password,
                        expires,
                        unregister,
                        timeout,
                        keepalive,
                        stay,
                    },
                )
                .map(|ok| if ok { 0 } else { 1 }),
                Err(e) => {
                    println!("{}", json!({"event": "failed", "status": 503, "reason": e}));
                    Ok(1)
                }
            }
        }
        Cmd::Resolve {
            dns,
            uri,
            lync,
            option120,
        } => resolve_cmd(dns, uri, lync, option120).map(|ok| if ok { 0 } else { 1 }),
        Cmd::Serve {
            net,
            duration,
            invite_code,
            answer_delay_ms,
            no_ringing,
            t1_ms,
            stop_on_eof,
        } => serve(
            net,
            duration,
            invite_code,
            answer_delay_ms,
            no_ringing,
            t1_ms,
            stop_on_eof,
        )
        .map(|_| 0),
    };
    match r {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("ac-sip-ua: {e}");
            ExitCode::from(2)
        }
    }
}
