//! The phone thread of [`crate::driver::PhoneDriver`]: network bring-up (static or DHCP),
//! the SIP transport (ac-sip's driver), RTP sockets, provisioning fetchers (ac-prov's
//! driver) and the sans-IO [`Phone`] between them.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command as Proc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ac_prov::dhcp::{ClientConfig, DhcpClient, Event as DhcpEvent, Lease};
use ac_prov::driver::{dhcp_socket, run_dhcp, Fetcher, TlsMaterial};
use ac_prov::engine::{Action, FirmwareOutcome};
use ac_prov::sntp::Sync as TimeSync;
use ac_sip::driver::{Incoming, TlsSettings, TransportConfig, Transports};
use crossbeam_channel::{Receiver, Sender};

use crate::board::{AudioFrame, BoardOutput, FRAME_SAMPLES};
use crate::driver::{Command, DriverOptions, NetworkMode, OutputFn};
use crate::error::CoreError;
use crate::phone::{Io, Phone, PhoneStatus, Transmit};

fn os_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

fn prefix_len(mask: Option<std::net::Ipv4Addr>) -> u32 {
    mask.map_or(24, |m| u32::from(m).leading_ones())
}

/// DHCP on `iface` (manual 2.1), then the address and default route on the interface.
fn dhcp(iface: &str, opts: &DriverOptions, model: &str, seed: u64) -> Result<Lease, CoreError> {
    let sock = dhcp_socket(iface).map_err(|e| CoreError::Io(format!("DHCP socket: {e}")))?;
    let mut client = DhcpClient::new(ClientConfig::new(opts.mac, model), seed, Instant::now());
    let mut lease = None;
    run_dhcp(
        &sock,
        &mut client,
        Instant::now() + opts.boot_timeout,
        |ev| {
            if let DhcpEvent::Bound(l) = ev {
                lease = Some(l.clone());
                return true;
            }
            false
        },
    )
    .map_err(|e| CoreError::Io(format!("DHCP: {e}")))?;
    let l = lease.ok_or_else(|| CoreError::Io("no DHCP lease".into()))?;
    let addr = format!("{}/{}", l.address, prefix_len(l.info.subnet_mask));
    let ip = |args: &[&str]| -> Result<(), CoreError> {
        let st = Proc::new("ip")
            .args(args)
            .status()
            .map_err(|e| CoreError::Io(format!("ip: {e}")))?;
        st.success()
            .then_some(())
            .ok_or_else(|| CoreError::Io(format!("ip {} failed", args.join(" "))))
    };
    ip(&["addr", "replace", &addr, "dev", iface])?;
    if let Some(gw) = l.info.routers.first() {
        ip(&[
            "route",
            "replace",
            "default",
            "via",
            &gw.to_string(),
            "dev",
            iface,
        ])?;
    }
    Ok(l)
}

/// The first `nameserver` of /etc/resolv.conf (static addressing).
fn system_dns() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("nameserver"))
            .then(|| w.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// RFC 3263 resolution of the outbound proxy (ac-sip's resolver over UDP DNS), TLS
/// preferred over TCP over UDP when the DNS offers several.
fn resolve_proxy(
    uri: &str,
    dns: Option<SocketAddr>,
    seed: u64,
) -> Result<Vec<ac_sip::resolve::Target>, String> {
    use ac_sip::transaction::Transport as T;
    let dns = dns.ok_or("no DNS server (DHCP option 6 or /etc/resolv.conf)")?;
    let u = ac_sip::uri::SipUri::parse(uri).map_err(|e| format!("{uri}: {e}"))?;
    let mut r = ac_sip::resolve::Resolver::for_uri(&u, &[T::Tls, T::Tcp, T::Udp], seed);
    ac_sip::driver::resolve(&mut r, dns).map_err(|e| e.to_string())
}

struct Media {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

fn bind_media(ip: IpAddr, port: u16) -> std::io::Result<Media> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, port))?;
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, port.wrapping_add(1)))?;
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    Ok(Media { rtp, rtcp })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    config: ac_cfg::Config,
    options: DriverOptions,
    mut output: OutputFn,
    cmd: Receiver<Command>,
    capture: Receiver<AudioFrame>,
    playback: Sender<AudioFrame>,
    status: Arc<Mutex<PhoneStatus>>,
    clock: Arc<Mutex<Option<TimeSync>>>,
) -> Result<(), CoreError> {
    let seed = if options.seed == 0 {
        os_seed()
    } else {
        options.seed
    };
    let model = config.model();
    let mut phone = Phone::new(config, options.mac, options.sign_in.clone(), seed);
    phone.set_boot_timeout(options.boot_timeout);
    if let Some(b) = options.rtp_base_port {
        phone.set_rtp_base_port(b);
    }
    let flush = |phone: &mut Phone, output: &mut OutputFn| {
        while let Some(o) = phone.poll_output() {
            output(o);
        }
    };
    flush(&mut phone, &mut output);
    // Network (manual 2.1).
    let (ip, lease) = match &options.network {
        NetworkMode::Static { addr } => (*addr, None),
        NetworkMode::Dhcp { interface } => {
            let l = dhcp(interface, &options, model.name(), seed)?;
            (IpAddr::V4(l.address), Some(l.info))
        }
    };
    // UDP is bound; TCP and TLS connections are opened to the proxy when it needs them
    // (RFC 3263 target), trusting the same CAs as HTTPS provisioning.
    let mut net = Transports::new(&TransportConfig {
        udp: Some(SocketAddr::new(ip, options.sip_port)),
        tcp: None,
        tls: None,
        tls_settings: TlsSettings {
            roots: options.ca_certs.clone(),
            ..TlsSettings::default()
        },
    })
    .map_err(|e| CoreError::Io(e.to_string()))?;
    let sip_addr = net
        .local_addr(ac_sip::transaction::Transport::Udp)
        .ok_or_else(|| CoreError::Io("no SIP socket".into()))?;
    let fetcher = Fetcher::new(
        &TlsMaterial {
            roots: options.ca_certs.clone(),
            ..TlsMaterial::default()
        },
        Duration::from_secs(10),
    )
    .map_err(|e| CoreError::Io(e.to_string()))?;
    let dns: Option<SocketAddr> = lease
        .as_ref()
        .and_then(|l| l.dns_servers.first())
        .map(|a| SocketAddr::new(IpAddr::V4(*a), 53))
        .or_else(system_dns);
    phone.handle_network_up(Instant::now(), sip_addr, lease);
    let mut media: HashMap<u16, Media> = HashMap::new();
    // The SNTP socket (opened at the time stage).
    let mut ntp: Option<UdpSocket> = None;
    let mut buf = vec![0u8; 2048];
    let mut last_status = Instant::now() - Duration::from_secs(1);
    let mut stopping: Option<Instant> = None;
    // A SIP item received at the end of a turn is handled after the next turn's commands:
    // a command the API got before the item arrived (an auto-answer setting, a hang-up)
    // applies first.
    let mut received: Option<Incoming> = None;
    loop {
        let now = Instant::now();
        // Commands.
        while let Ok(c) = cmd.try_recv() {
            let now = Instant::now();
            match c {
                Command::Board(ev) => phone.handle_board(now, ev),
                Command::Dial(t) => {
                    if let Err(e) = phone.dial(now, &t) {
                        output(BoardOutput::Display(crate::board::DisplayEvent {
                            kind: crate::board::DisplayKind::Notice,
                            call: 0,
                            text: format!("dial {t}: {e}"),
                        }));
                    }
                }
                Command::Dtmf(d) => {
                    let _ = phone.send_dtmf(now, d);
                }
                Command::Call(op) => {
                    let r = match op {
                        crate::driver::CallOp::Answer => phone
                            .status()
                            .calls
                            .iter()
                            .find(|c| c.phase == crate::phone::CallPhase::Incoming)
                            .map(|c| c.id)
                            .map_or(Ok(()), |id| phone.answer(now, id)),
                        crate::driver::CallOp::Hangup => phone
                            .active_call()
                            .map_or(Ok(()), |id| phone.hangup(now, id)),
                        crate::driver::CallOp::Hold => {
                            phone.active_call().map_or(Ok(()), |id| phone.hold(now, id))
                        }
                        crate::driver::CallOp::Resume => phone
                            .active_call()
                            .map_or(Ok(()), |id| phone.resume(now, id)),
                        crate::driver::CallOp::Transfer(t) => phone
                            .active_call()
                            .map_or(Ok(()), |id| phone.transfer(now, id, &t)),
                    };
                    if let Err(e) = r {
                        output(BoardOutput::Display(crate::board::DisplayEvent {
                            kind: crate::board::DisplayKind::Notice,
                            call: 0,
                            text: e.to_string(),
                        }));
                    }
                }
                Command::Features(f) => f(phone.features_mut()),
                Command::Stop => {
                    for c in phone.status().calls {
                        let _ = phone.hangup(now, c.id);
                    }
                    stopping = Some(now + Duration::from_millis(300));
                }
            }
        }
        if let Some(item) = received.take() {
            let now = Instant::now();
            match item {
                Incoming::Message {
                    transport,
                    source,
                    data,
                } => phone.handle_sip(now, transport, source, &data),
                Incoming::Closed { peer, .. } => phone.handle_sip_error(now, peer),
                Incoming::Pong { .. } => {}
            }
        }
        // Audio from the board.
        while let Ok(f) = capture.try_recv() {
            let mut out = [0i16; FRAME_SAMPLES];
            phone.handle_audio(Instant::now(), &f, &mut out);
            let _ = playback.try_send(out);
        }
        // Media sockets.
        for (port, m) in &media {
            for (sock, p) in [(&m.rtp, *port), (&m.rtcp, port.wrapping_add(1))] {
                // At most 64 datagrams per socket per turn: a flood cannot starve the rest.
                for _ in 0..64 {
                    let Ok((n, _)) = sock.recv_from(&mut buf) else {
                        break;
                    };
                    phone.handle_media(Instant::now(), p, &buf[..n]);
                }
            }
        }
        if let Some(sock) = &ntp {
            for _ in 0..8 {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    break;
                };
                phone.handle_ntp(Instant::now(), from, &buf[..n]);
            }
        }
        if phone.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            phone.handle_timeout(Instant::now());
        }
        // I/O requests.
        while let Some(io) = phone.poll_io() {
            match io {
                Io::BindMedia { rtp_port } => match bind_media(ip, rtp_port) {
                    Ok(m) => {
                        media.insert(rtp_port, m);
                    }
                    Err(e) => phone.handle_media_error(Instant::now(), rtp_port, &e.to_string()),
                },
                Io::ReleaseMedia { rtp_port } => {
                    media.remove(&rtp_port);
                }
                Io::Provision(Action::Fetch(req)) => {
                    let r = fetcher.fetch(&req);
                    phone.handle_fetch(Instant::now(), req.id, r);
                }
                Io::Provision(Action::InstallFirmware { id, .. }) => phone.handle_firmware(
                    Instant::now(),
                    id,
                    FirmwareOutcome::Failed("this driver has no firmware slots".into()),
                ),
                Io::Provision(Action::StoreFile { kind, data }) => {
                    if let Some(d) = &options.state_dir {
                        let p = d.join(format!("{kind:?}.bin"));
                        let _ = ac_cfg::fsutil::atomic_write(&p, &data);
                    }
                }
                Io::Provision(_) => {}
                Io::ResolveProxy { uri } => {
                    // RFC 5922 4: a TLS server is checked against the domain of the URI
                    // that was resolved (the proxy's configured name), not the SRV target.
                    if let Ok(u) = ac_sip::uri::SipUri::parse(&uri) {
                        net.set_server_name(Some(u.host.to_string()));
                    }
                    let r = resolve_proxy(&uri, dns, seed);
                    phone.handle_proxy_resolved(Instant::now(), r);
                }
                Io::SaveConfig(text) => {
                    if let Some(d) = &options.state_dir {
                        let _ =
                            ac_cfg::fsutil::atomic_write(&d.join("current.cfg"), text.as_bytes());
                    }
                }
                // Manual 2.4: SNTP by the phone; the names are resolved here (boot only).
                Io::SyncTime { servers } => {
                    let list: Vec<(String, u16)> = servers
                        .into_iter()
                        .map(|h| (h, ac_prov::sntp::PORT))
                        .collect();
                    let addrs = ac_prov::driver::net::resolve_servers(&list);
                    match UdpSocket::bind(SocketAddr::new(ip, 0))
                        .and_then(|s| s.set_nonblocking(true).map(|_| s))
                    {
                        Ok(s) => {
                            ntp = Some(s);
                            phone.handle_ntp_servers(Instant::now(), addrs);
                        }
                        Err(_) => phone.handle_time(Instant::now(), false),
                    }
                }
            }
        }
        // Datagrams out.
        while let Some(t) = phone.poll_transmit() {
            match t {
                Transmit::Sip(t) => {
                    if net.send(&t).is_err() {
                        phone.handle_sip_error(Instant::now(), t.dest);
                    }
                }
                Transmit::Ntp { dest, data } => {
                    if let Some(s) = &ntp {
                        // An unreachable server is the SNTP client's timeout to handle.
                        let _ = s.send_to(&data, dest);
                    }
                }
                Transmit::Media { from, dest, data } => {
                    let sock = media
                        .get(&from)
                        .map(|m| &m.rtp)
                        .or_else(|| media.get(&from.wrapping_sub(1)).map(|m| &m.rtcp));
                    if let Some(s) = sock {
                        if let Err(e) = s.send_to(&data, dest) {
                            if e.kind() != ErrorKind::WouldBlock {
                                // ICMP unreachable etc.: media is best effort.
                            }
                        }
                    }
                }
            }
        }
        flush(&mut phone, &mut output);
        if now.duration_since(last_status) >= Duration::from_millis(20) {
            last_status = now;
            let st = phone.status();
            match status.lock() {
                Ok(mut s) => *s = st,
                Err(p) => *p.into_inner() = st,
            }
            let t = phone.last_time_sync();
            match clock.lock() {
                Ok(mut c) => *c = t,
                Err(p) => *p.into_inner() = t,
            }
        }
        if stopping.is_some_and(|t| Instant::now() >= t) {
            let st = phone.status();
            if let Ok(mut s) = status.lock() {
                *s = st;
            }
            return Ok(());
        }
        // Wait for SIP (the other inputs are polled every 2 ms at most).
        let wake = phone
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(2))
            .min(Instant::now() + Duration::from_millis(2));
        received = net.recv(Some(wake));
    }
}
