//! `ac-sip-phone`: one SIP line that registers, places and answers calls (the sans-IO
//! [`Phone`] and [`Registration`] cores on the UDP driver). Commands arrive one per line on
//! standard input; events leave as JSON lines on standard output.
//!
//! ```text
//! ac-sip-phone --udp 127.0.0.1:5070 --proxy 127.0.0.1:5060 --aor sip:alice@example.com \
//!     [--user alice --password secret --register] [--auto-answer-ms 300] [--100rel]
//!     [--session-expires 90] [--dial sip:bob@example.com] [--duration 60]
//! stdin: dial URI | answer [N] | reject CODE [N] | hangup [N] | hold [N] | resume [N]
//!        | transfer URI [N] | attended N M | dtmf KEYS [N] [relay|dtmf]
//!        | watch-dialog URI | watch-presence URI | unwatch URI
//!        | publish open|closed [NOTE...] | unpublish | quit
//! ```
//! N is a call number from the events (default: the newest call). `watch-dialog` is a BLF
//! key (RFC 4235 dialog package), `watch-presence` a presence subscription (RFC 3856),
//! `publish` sends our PIDF status by PUBLISH (RFC 3903).

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use ac_sip::blf::{BlfEvent, BlfWatcher};
use ac_sip::call::{CallEvent, CallRef, Phone, PhoneConfig};
use ac_sip::driver::{seed, Incoming, TlsSettings, TransportConfig, Transports};
use ac_sip::dtmf::{Dtmf, DtmfFormat};
use ac_sip::offer_answer::{CodecList, LocalMedia, SrtpPolicy};
use ac_sip::pidf::{Basic, Presence};
use ac_sip::presence::{
    PresenceEvent, PresenceWatcher, PubEvent, PubState, PublishConfig, Publisher,
};
use ac_sip::register::{RegEvent, Registration, RegistrationConfig};
use ac_sip::subscribe::{SubState, SubscriptionConfig};
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
    /// Lifetime asked for our PUBLISH (RFC 3903), seconds.
    #[arg(long, default_value_t = 3600)]
    publish_expires: u32,
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
        CallEvent::Dtmf {
            call,
            key,
            duration_ms,
        } => json!({"event": "dtmf", "call": call.0, "key": key.to_string(),
            "duration_ms": duration_ms}),
        CallEvent::InfoAnswered { call, code } => {
            json!({"event": "info_answered", "call": call.0, "code": code})
        }
        CallEvent::Message { call, from, text } => {
            json!({"event": "message", "call": call.map(|c| c.0), "from": from, "text": text})
        }
        CallEvent::Request { .. } | CallEvent::Response { .. } | CallEvent::TxFailed { .. } => {
            return None
        }
    })
}

/// A subscription of ours: a BLF key or a presence watcher.
enum Watch {
    Blf(BlfWatcher),
    Presence(PresenceWatcher),
}

macro_rules! each {
    ($w:expr, $x:ident => $e:expr) => {
        match $w {
            Watch::Blf($x) => $e,
            Watch::Presence($x) => $e,
        }
    };
}

fn sub_state(s: &SubState) -> serde_json::Value {
    match s {
        SubState::Idle => json!("idle"),
        SubState::Subscribing => json!("subscribing"),
        SubState::Pending => json!("pending"),
        SubState::Active { .. } => json!("active"),
        SubState::Terminated { .. } => json!("terminated"),
    }
}

/// The events of one watch as JSON lines.
fn watch_events(start: Instant, uri: &str, w: &mut Watch) {
    match w {
        Watch::Blf(b) => {
            while let Some(e) = b.poll_event() {
                let v = match e {
                    BlfEvent::State {
                        state,
                        direction,
                        peer,
                    } => json!({"event": "blf", "uri": uri, "state": state.as_str(),
                        "direction": direction.map(|d| d.as_str()), "peer": peer}),
                    BlfEvent::Subscription(s) => {
                        json!({"event": "subscription", "uri": uri, "package": "dialog", "state": sub_state(&s)})
                    }
                    BlfEvent::Failed { code } => {
                        json!({"event": "subscribe_failed", "uri": uri, "code": code})
                    }
                    BlfEvent::BadBody(e) => {
                        json!({"event": "bad_body", "uri": uri, "error": e.to_string()})
                    }
                };
                emit(start, v);
            }
        }
        Watch::Presence(p) => {
            while let Some(e) = p.poll_event() {
                let v = match e {
                    PresenceEvent::Presence { basic, note, .. } => {
                        json!({"event": "presence", "uri": uri,
                            "basic": basic.map(|b| b.as_str()), "note": note})
                    }
                    PresenceEvent::Subscription(s) => {
                        json!({"event": "subscription", "uri": uri, "package": "presence", "state": sub_state(&s)})
                    }
                    PresenceEvent::Failed { code } => {
                        json!({"event": "subscribe_failed", "uri": uri, "code": code})
                    }
                    PresenceEvent::BadBody(e) => {
                        json!({"event": "bad_body", "uri": uri, "error": e.to_string()})
                    }
                };
                emit(start, v);
            }
        }
    }
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
    let mut watches: Vec<(String, Watch)> = Vec::new();
    let mut sub_tx: HashMap<TxId, String> = HashMap::new();
    let sub_cfg = |target: &str| SubscriptionConfig {
        aor: cli.aor.clone(),
        target: target.to_string(),
        contact: format!("sip:{user}@{local}"),
        via_host: local.to_string(),
        via_transport: "UDP".into(),
        event: String::new(),
        accept: String::new(),
        expires: 600,
        route: None,
        user_agent: "ac-sip-phone".into(),
        retry_after: Duration::from_secs(30),
    };
    let mut publisher = Publisher::new(
        PublishConfig {
            aor: cli.aor.clone(),
            via_host: local.to_string(),
            via_transport: "UDP".into(),
            event: "presence".into(),
            content_type: "application/pidf+xml".into(),
            expires: cli.publish_expires,
            route: None,
            user_agent: "ac-sip-phone".into(),
            retry_after: Duration::from_secs(30),
        },
        seed(),
    );
    publisher.set_credentials(&cli.user, &cli.password);
    let mut pub_tx: Option<TxId> = None;
    // Out-of-dialog SUBSCRIBE and PUBLISH go to the outbound proxy, else to the URI's address.
    let dest_of = |uri: &str| cli.proxy.or_else(|| ac_sip::dialog::uri_addr(uri));
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
        if registered {
            for (uri, w) in watches.iter_mut() {
                while let Some(bytes) = each!(w, x => x.poll_request()) {
                    match dest_of(uri).map(|d| phone.send_request(now, d, bytes)) {
                        Some(Ok(tx)) => {
                            sub_tx.insert(tx, uri.clone());
                        }
                        _ => each!(w, x => x.handle_failure(now, 503)),
                    }
                }
                watch_events(start, uri, w);
            }
            while let Some(bytes) = publisher.poll_request() {
                match dest_of(&cli.aor).map(|d| phone.send_request(now, d, bytes)) {
                    Some(Ok(tx)) => pub_tx = Some(tx),
                    _ => publisher.handle_failure(now, 503),
                }
            }
        }
        while let Some(e) = publisher.poll_event() {
            let v = match e {
                PubEvent::StateChanged(PubState::Published { etag, expires }) => {
                    json!({"event": "publish", "state": "published", "etag": etag, "expires": expires})
                }
                PubEvent::StateChanged(PubState::Failed { code }) => {
                    json!({"event": "publish", "state": "failed", "code": code})
                }
                PubEvent::StateChanged(PubState::Removed) => {
                    json!({"event": "publish", "state": "removed"})
                }
                PubEvent::StateChanged(_) => continue,
                PubEvent::Republishing => json!({"event": "publish", "state": "republishing"}),
            };
            emit(start, v);
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
                // `dtmf KEYS [N] [relay|dtmf]`: one INFO per key.
                "dtmf" => {
                    let format = if args.get(2) == Some(&"dtmf") {
                        DtmfFormat::Plain
                    } else {
                        DtmfFormat::Relay
                    };
                    let mut r = Ok(());
                    if let Some(c) = pick(1) {
                        for k in args.first().copied().unwrap_or("").chars() {
                            let d = Dtmf {
                                key: k,
                                duration_ms: (format == DtmfFormat::Relay).then_some(160),
                            };
                            r = r.and(phone.send_dtmf_info(now, c, d, format));
                        }
                    }
                    r
                }
                "watch-dialog" | "watch-presence" => {
                    if let Some(uri) = args.first() {
                        let mut w = if verb == "watch-dialog" {
                            Watch::Blf(BlfWatcher::new(sub_cfg(uri), seed()))
                        } else {
                            Watch::Presence(PresenceWatcher::new(sub_cfg(uri), seed()))
                        };
                        each!(&mut w, x => x.set_credentials(&cli.user, &cli.password));
                        each!(&mut w, x => x.subscribe(now));
                        watches.push((uri.to_string(), w));
                    }
                    Ok(())
                }
                "unwatch" => {
                    for (u, w) in watches.iter_mut() {
                        if Some(&u.as_str()) == args.first() {
                            each!(w, x => x.unsubscribe(now));
                        }
                    }
                    Ok(())
                }
                // `publish open|closed [NOTE...]`.
                "publish" => {
                    let basic = if args.first() == Some(&"closed") {
                        Basic::Closed
                    } else {
                        Basic::Open
                    };
                    let note = args.get(1..).map(|n| n.join(" ")).filter(|n| !n.is_empty());
                    let doc = Presence::simple(&cli.aor, "t1", basic, note.as_deref());
                    publisher.publish(now, doc.emit().into_bytes());
                    Ok(())
                }
                "unpublish" => {
                    publisher.remove(now);
                    Ok(())
                }
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
                CallEvent::Response { tx, data } if sub_tx.contains_key(tx) => {
                    let final_ = data.get(8..9).is_some_and(|c| c != b"1");
                    let uri = if final_ {
                        sub_tx.remove(tx)
                    } else {
                        sub_tx.get(tx).cloned()
                    };
                    if let Some((_, w)) = watches.iter_mut().find(|(u, _)| Some(u) == uri.as_ref())
                    {
                        each!(w, x => x.handle_response(Instant::now(), data));
                    }
                }
                CallEvent::TxFailed { tx } if sub_tx.contains_key(tx) => {
                    let uri = sub_tx.remove(tx);
                    if let Some((_, w)) = watches.iter_mut().find(|(u, _)| Some(u) == uri.as_ref())
                    {
                        each!(w, x => x.handle_failure(Instant::now(), 408));
                    }
                }
                CallEvent::Response { tx, data } if Some(*tx) == pub_tx => {
                    publisher.handle_response(Instant::now(), data);
                }
                CallEvent::TxFailed { tx } if Some(*tx) == pub_tx => {
                    publisher.handle_failure(Instant::now(), 408);
                }
                CallEvent::Request { tx, data, .. } => {
                    let now = Instant::now();
                    let mut answered = false;
                    for (uri, w) in watches.iter_mut() {
                        if each!(w, x => x.handle_request(now, data)) {
                            while let Some(r) = each!(w, x => x.poll_response()) {
                                let _ = phone.respond(now, *tx, r);
                            }
                            watch_events(start, uri, w);
                            answered = true;
                            break;
                        }
                    }
                    // Not ours: a NOTIFY for no subscription of ours gets 481 (RFC 6665
                    // 4.1.3); other requests this program does not handle 501.
                    if !answered {
                        if let Ok(m) = ac_sip::msg::Message::parse(data) {
                            let code = if m.method() == Some(ac_sip::msg::Method::Notify) {
                                481
                            } else {
                                501
                            };
                            let r = ac_sip::msg::response_to(&m, code, Some("x"));
                            let _ = phone.respond(now, *tx, r.to_bytes());
                        }
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
            publisher.poll_timeout(),
            watches
                .iter()
                .filter_map(|(_, w)| each!(w, x => x.poll_timeout()))
                .min(),
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
        publisher.handle_timeout(now);
        for (uri, w) in watches.iter_mut() {
            each!(w, x => x.handle_timeout(now));
            watch_events(start, uri, w);
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
