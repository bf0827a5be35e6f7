//! `ac-sip-phone`: one SIP line that registers, places and answers calls (the sans-IO
//! [`Phone`] and [`Registration`] cores on the UDP driver). Commands arrive one per line on
//! standard input; events leave as JSON lines on standard output.
//!
//! ```text
//! ac-sip-phone --udp 127.0.0.1:5070 --proxy 127.0.0.1:5060 --aor sip:alice@example.com \
//!     [--user alice --password secret --register] [--auto-answer-ms 300] [--100rel]
//!     [--session-expires 90] [--dial sip:bob@example.com] [--duration 60]
//! stdin: dial URI | answer [N] | reject CODE [N] | hangup [N] | hold [N] | resume [N]
//!        | transfer URI [N] | attended N M | quit
//! ```
//! N is a call number from the events (default: the newest call).

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ac_sip::call::{CallEvent, CallRef, Phone, PhoneConfig};
use ac_sip::driver::{seed, Incoming, TlsSettings, TransportConfig, Transports};
use ac_sip::offer_answer::{CodecList, LocalMedia, SrtpPolicy};
use ac_sip::register::{RegEvent, Registration, RegistrationConfig};
use ac_sip::transaction::{Timers, Transport, TxId};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(
    version,
    about = "SIP phone line of the ac-phone stack (calls over UDP)"
)]
struct Cli {
    /// UDP listen address.
    #[arg(long)]
    udp: SocketAddr,
    /// Outbound proxy / registrar.
    #[arg(long)]
    proxy: Option<SocketAddr>,
    #[arg(long)]
    aor: String,
    #[arg(long)]
    display: Option<String>,
    #[arg(long, default_value = "")]
    user: String,
    #[arg(long, default_value = "")]
    password: String,
    /// Register the line before anything else.
    #[arg(long)]
    register: bool,
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Answer incoming calls after this many ms.
    #[arg(long)]
    auto_answer_ms: Option<u64>,
    /// Send 18x reliably (RFC 3262) to callers that support 100rel.
    #[arg(long = "100rel")]
    rel100: bool,
    /// Ask for session timers (RFC 4028) with this interval.
    #[arg(long)]
    session_expires: Option<u32>,
    #[arg(long, default_value_t = 90)]
    min_se: u32,
    /// Busy on Busy (manual 3.3.12).
    #[arg(long)]
    busy_on_busy: bool,
    /// First RTP port (manual 3.3.14.3).
    #[arg(long, default_value_t = 50020)]
    rtp_port: u16,
    /// Call this URI at start (after registering when --register).
    #[arg(long)]
    dial: Option<String>,
    /// Exit after this many seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Exit when standard input ends (how tests stop the program).
    #[arg(long)]
    stop_on_eof: bool,
    /// Timer T1 in ms.
    #[arg(long, default_value_t = 500)]
    t1_ms: u64,
}

fn emit(start: Instant, mut v: serde_json::Value) {
    v["t_ms"] = json!(start.elapsed().as_millis() as u64);
    println!("{v}");
}

fn event_json(e: &CallEvent) -> Option<serde_json::Value> {
    Some(match e {
        CallEvent::Incoming {
            call,
            caller,
            auto_answer,
            replaces,
        } => json!({"event": "incoming", "call": call.0, "caller": caller.uri,
            "display": caller.display, "source": caller.source, "auto_answer": auto_answer,
            "replaces": replaces}),
        CallEvent::Progress { call, code } => {
            json!({"event": "progress", "call": call.0, "code": code})
        }
        CallEvent::Answered { call } => json!({"event": "answered", "call": call.0}),
        CallEvent::Media { call, negotiated } => json!({"event": "media", "call": call.0,
            "codec": negotiated.codec.config_name(), "pt": negotiated.payload_type,
            "ptime": negotiated.ptime,
            "remote": negotiated.remote_rtp.map(|a| a.to_string()),
            "direction": negotiated.direction.as_str(),
            "telephone_event": negotiated.telephone_event}),
        CallEvent::RemoteHold { call, held } => {
            json!({"event": "remote_hold", "call": call.0, "held": held})
        }
        CallEvent::ReofferFailed { call, code } => {
            json!({"event": "reoffer_failed", "call": call.0, "code": code})
        }
        CallEvent::Refreshed { call } => json!({"event": "refreshed", "call": call.0}),
        CallEvent::Failed { call, code, reason } => {
            json!({"event": "failed", "call": call.0, "code": code, "reason": reason})
        }
        CallEvent::Ended {
            call,
            by_peer,
            code,
        } => json!({"event": "ended", "call": call.0, "by_peer": by_peer, "code": code}),
        CallEvent::TransferRequested {
            call,
            new_call,
            target,
            replaces,
        } => json!({"event": "transfer_requested", "call": call.0, "new_call": new_call.0,
            "target": target, "replaces": replaces}),
        CallEvent::TransferProgress { call, code } => {
            json!({"event": "transfer_progress", "call": call.0, "code": code})
        }
        CallEvent::TransferFailed { call, code } => {
            json!({"event": "transfer_failed", "call": call.0, "code": code})
        }
        CallEvent::Replaced { old, new_call } => {
            json!({"event": "replaced", "old": old.0, "new_call": new_call.0})
        }
        CallEvent::Info { call, body } => json!({"event": "info", "call": call.0, "body": body}),
        CallEvent::Request { .. } | CallEvent::Response { .. } | CallEvent::TxFailed { .. } => {
            return None
        }
    })
}

fn run(cli: Cli) -> Result<(), String> {
    let start = Instant::now();
    let mut net = Transports::new(&TransportConfig {
        udp: Some(cli.udp),
        tcp: None,
        tls: None,
        tls_settings: TlsSettings::default(),
    })
    .map_err(|e| e.to_string())?;
    let local = net.local_addr(Transport::Udp).ok_or("no UDP socket")?;
    emit(
        start,
        json!({"event": "listening", "addr": local.to_string()}),
    );
    let user = cli
        .aor
        .trim_start_matches("sip:")
        .split('@')
        .next()
        .unwrap_or("phone")
        .to_string();
    let t1 = Duration::from_millis(cli.t1_ms.max(1));
    let cfg = PhoneConfig {
        aor: cli.aor.clone(),
        display_name: cli.display.clone(),
        contact: format!("sip:{user}@{local}"),
        via_host: local.to_string(),
        transport: Transport::Udp,
        outbound_proxy: cli.proxy,
        username: cli.user.clone(),
        password: cli.password.clone(),
        user_agent: format!("ac-sip-phone/{}", env!("CARGO_PKG_VERSION")),
        use_100rel: cli.rel100,
        session_expires: cli.session_expires,
        min_se: cli.min_se,
        busy_on_busy: cli.busy_on_busy,
        auto_ringing: true,
        timers: Timers {
            t1,
            t2: t1 * 8,
            t4: t1 * 10,
            ..Timers::default()
        },
        media: LocalMedia {
            addr: local.ip(),
            rtp_port: cli.rtp_port,
            rtcp_port: None,
            codecs: CodecList::defaults(),
            telephone_event: Some(101),
            srtp: SrtpPolicy::Disabled,
            srtp_key: seed().to_be_bytes().repeat(4)[..30].to_vec(),
            session_id: seed() >> 20,
            username: "-".into(),
        },
    };
    let mut phone = Phone::new(cfg, seed());
    let mut reg = cli.proxy.filter(|_| cli.register).map(|p| {
        let domain = cli.aor.split('@').nth(1).unwrap_or("localhost").to_string();
        (
            Registration::new(
                RegistrationConfig {
                    aor: cli.aor.clone(),
                    registrar: format!("sip:{domain}"),
                    contact: format!("sip:{user}@{local}"),
                    via_host: local.to_string(),
                    via_transport: "UDP".into(),
                    username: cli.user.clone(),
                    password: cli.password.clone(),
                    expires: cli.expires,
                    user_agent: "ac-sip-phone".into(),
                    retry_after: Duration::from_secs(5),
                    route: None,
                },
                seed(),
            ),
            p,
        )
    });
    let mut reg_tx: Option<TxId> = None;
    let mut registered = reg.is_none();
    if let Some((r, _)) = reg.as_mut() {
        r.register(Instant::now());
    }
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for l in std::io::stdin().lock().lines().map_while(Result::ok) {
            if cmd_tx.send(l).is_err() {
                break;
            }
        }
        let _ = cmd_tx.send("eof".into());
    });
    let mut pending_dial = cli.dial.clone();
    let mut answer_at: Vec<(Instant, CallRef)> = Vec::new();
    let mut newest: Option<CallRef> = None;
    let end = start + Duration::from_secs(cli.duration);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if registered {
            if let Some(uri) = pending_dial.take() {
                match phone.invite(now, &uri) {
                    Ok(c) => {
                        newest = Some(c);
                        emit(start, json!({"event": "dialing", "call": c.0, "uri": uri}));
                    }
                    Err(e) => emit(start, json!({"event": "error", "error": e.to_string()})),
                }
            }
        }
        if let Some((r, proxy)) = reg.as_mut() {
            if let Some(bytes) = r.poll_request() {
                reg_tx = phone.send_request(now, *proxy, bytes).ok();
            }
        }
        while let Ok(line) = cmd_rx.try_recv() {
            let mut it = line.split_whitespace();
            let verb = it.next().unwrap_or("");
            let args: Vec<&str> = it.collect();
            let pick = |i: usize| {
                args.get(i)
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(CallRef)
                    .or(newest)
            };
            let now = Instant::now();
            let r = match verb {
                "dial" => match args.first() {
                    Some(uri) => phone.invite(now, uri).map(|c| {
                        newest = Some(c);
                        emit(start, json!({"event": "dialing", "call": c.0, "uri": uri}));
                    }),
                    None => Ok(()),
                },
                "answer" => pick(0).map_or(Ok(()), |c| phone.answer(now, c)),
                "reject" => {
                    let code = args.first().and_then(|c| c.parse().ok()).unwrap_or(486);
                    pick(1).map_or(Ok(()), |c| phone.reject(now, c, code))
                }
                "hangup" => pick(0).map_or(Ok(()), |c| phone.hangup(now, c)),
                "hold" => pick(0).map_or(Ok(()), |c| phone.hold(now, c)),
                // Blind transfer: `transfer URI [N]`.
                "transfer" => match args.first() {
                    Some(uri) => pick(1).map_or(Ok(()), |c| phone.transfer(now, c, uri)),
                    None => Ok(()),
                },
                // Attended transfer: `attended N M` (the peer of call N to the peer of call M).
                "attended" => match (pick(0), args.get(1).and_then(|m| m.parse().ok())) {
                    (Some(c), Some(m)) => phone.transfer_attended(now, c, CallRef(m)),
                    _ => Ok(()),
                },
                "resume" => pick(0).map_or(Ok(()), |c| phone.resume(now, c)),
                "eof" if !cli.stop_on_eof => Ok(()),
                "quit" | "eof" => {
                    emit(start, json!({"event": "bye"}));
                    return Ok(());
                }
                "" => Ok(()),
                other => {
                    emit(
                        start,
                        json!({"event": "error", "error": format!("unknown command {other}")}),
                    );
                    Ok(())
                }
            };
            if let Err(e) = r {
                emit(
                    start,
                    json!({"event": "error", "command": line, "error": e.to_string()}),
                );
            }
        }
        let now = Instant::now();
        answer_at.retain(|(t, c)| {
            if *t <= now {
                if let Err(e) = phone.answer(now, *c) {
                    emit(start, json!({"event": "error", "error": e.to_string()}));
                }
                false
            } else {
                true
            }
        });
        while let Some(t) = phone.poll_transmit() {
            if net.send(&t).is_err() {
                phone.handle_transport_error(Instant::now(), t.dest);
            }
        }
        while let Some(e) = phone.poll_event() {
            match &e {
                CallEvent::Response { tx, data } if Some(*tx) == reg_tx => {
                    if let Some((r, _)) = reg.as_mut() {
                        r.handle_response(Instant::now(), data);
                    }
                }
                CallEvent::TxFailed { tx } if Some(*tx) == reg_tx => {
                    if let Some((r, _)) = reg.as_mut() {
                        r.handle_failure(Instant::now(), 408);
                    }
                }
                CallEvent::Request { tx, data, .. } => {
                    // Not handled by this program (REFER, NOTIFY, ...): 501.
                    if let Ok(m) = ac_sip::msg::Message::parse(data) {
                        let r = ac_sip::msg::response_to(&m, 501, Some("x"));
                        let _ = phone.respond(Instant::now(), *tx, r.to_bytes());
                    }
                }
                // The transferee reports success: the transferor's part is done (manual 3.3.7).
                CallEvent::TransferProgress { call, code } if (200..300).contains(code) => {
                    let _ = phone.hangup(Instant::now(), *call);
                }
                CallEvent::Incoming { call, .. } => {
                    newest = Some(*call);
                    if let Some(ms) = cli.auto_answer_ms {
                        answer_at.push((Instant::now() + Duration::from_millis(ms), *call));
                    }
                }
                _ => {}
            }
            if let Some(v) = event_json(&e) {
                emit(start, v);
            }
        }
        if let Some((r, _)) = reg.as_mut() {
            while let Some(ev) = r.poll_event() {
                match ev {
                    RegEvent::Registered { expires } => {
                        registered = true;
                        emit(start, json!({"event": "registered", "expires": expires}));
                    }
                    RegEvent::Failed { code, reason } => emit(
                        start,
                        json!({"event": "register_failed", "code": code, "reason": reason}),
                    ),
                    RegEvent::Unregistered => emit(start, json!({"event": "unregistered"})),
                }
            }
        }
        let wake = [
            phone.poll_timeout(),
            reg.as_ref().and_then(|(r, _)| r.poll_timeout()),
            answer_at.iter().map(|a| a.0).min(),
            Some(Instant::now() + Duration::from_millis(50)),
            Some(end),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(item) = net.recv(wake) {
            let now = Instant::now();
            match item {
                Incoming::Message {
                    transport,
                    source,
                    data,
                } => phone.handle_message(now, transport, source, &data),
                Incoming::Closed { peer, .. } => phone.handle_transport_error(now, peer),
                Incoming::Pong { .. } => {}
            }
        }
        let now = Instant::now();
        phone.handle_timeout(now);
        if let Some((r, _)) = reg.as_mut() {
            r.handle_timeout(now);
        }
    }
    emit(start, json!({"event": "bye"}));
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ac-sip-phone: {e}");
            ExitCode::from(2)
        }
    }
}
