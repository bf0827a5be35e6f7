//! `ac-provd`: the phone's network bring-up and provisioning as a program (manual 2.4:
//! "When you connect the IP phones to the network and power them up, the phones' automatic
//! provisioning is triggered"). It runs DHCP on one interface, configures the address, then one
//! or more provisioning cycles, and prints one JSON object per event on stdout.
//!
//! State directory layout: `current.cfg` (last good configuration, replaced atomically),
//! `files/` (speed dial, ring tones, music on hold, CA certificates), `slots/` (the A/B
//! firmware slots and boot state, [`ac_prov::firmware::FileSlots`], unless `--slots` puts them
//! elsewhere). Firmware is installed into the inactive slot and activated on trial; the
//! bootloader side is `ac-imgtool slots boot` / `mark-good`.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ac_cfg::{crypto, fsutil, Document, Model};
use ac_prov::dhcp::{ClientConfig, DhcpClient, Event, Lease, LeaseInfo};
use ac_prov::driver::{
    dhcp_socket, install_firmware, run_dhcp, Fetcher, InstallProgress, TlsMaterial,
};
use ac_prov::engine::{Action, Engine, FileKind, FirmwareOutcome, Identity, Report, Trigger};
use ac_prov::firmware::slots::{BootState, SlotInfo};
use ac_prov::firmware::{FileSlots, Keyring, Policy, Slot, SlotState, SlotStore};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "ac-provd",
    version,
    about = "400HD network bring-up and provisioning"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Network interface (DHCP socket is bound to it).
    #[arg(long)]
    iface: String,
    /// Phone MAC address, aa:bb:cc:dd:ee:ff (default: the interface's).
    #[arg(long)]
    mac: Option<String>,
    /// Phone model (405HD, 420HD, 430HD, 440HD, 450HD).
    #[arg(long)]
    model: String,
    /// Seconds to wait for a lease.
    #[arg(long, default_value_t = 30)]
    dhcp_timeout: u64,
    /// Seed for transaction ids and jitter (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

// Parsed once at start-up; the size of the `Run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Obtain a DHCP lease, print it and exit (the address is not configured).
    Dhcp {
        #[command(flatten)]
        common: Common,
        /// Statically addressed phone: only ask for configuration with DHCPINFORM from this
        /// (already configured) address (RFC 2131 section 3.4).
        #[arg(long)]
        inform: Option<Ipv4Addr>,
        /// Option 60 of the DHCPINFORM (e.g. MS-UC-Client, to get option 43 from a Microsoft
        /// DHCP server).
        #[arg(long, requires = "inform")]
        vendor_class: Option<String>,
    },
    /// DHCP, address configuration, provisioning.
    Run {
        #[command(flatten)]
        common: Common,
        /// State directory.
        #[arg(long)]
        state_dir: PathBuf,
        /// Running firmware version (compared with the image header) when the slots have no
        /// boot state yet; otherwise the active slot's version is used.
        #[arg(long, default_value = "0.0.0")]
        firmware_version: String,
        /// Firmware slots directory (default: STATE_DIR/slots).
        #[arg(long)]
        slots: Option<PathBuf>,
        /// Capacity of each firmware slot, bytes.
        #[arg(long, default_value_t = 64 << 20)]
        slot_size: u64,
        /// Public key(s) trusted to sign firmware (PEM, `openssl pkey -pubout`).
        #[arg(long)]
        trusted_key: Vec<PathBuf>,
        /// Accept firmware older than the running version (the security counter still
        /// applies).
        #[arg(long)]
        allow_downgrade: bool,
        /// Recovery mode (manual 8.7.3): only DHCP options 66/67, install the image whatever
        /// its version, fetch nothing else.
        #[arg(long)]
        recovery: bool,
        /// Passphrase of encrypted configuration files (.cfx / ACFX-GCM).
        #[arg(long, env = "AC_CFG_PASSPHRASE")]
        passphrase: Option<String>,
        /// Extra root CA files (PEM/DER) besides the provisioned ones.
        #[arg(long)]
        ca: Vec<PathBuf>,
        /// Client certificate chain (PEM) for mutual TLS.
        #[arg(long, requires = "client_key")]
        client_cert: Option<PathBuf>,
        /// Client private key (PEM).
        #[arg(long)]
        client_key: Option<PathBuf>,
        /// Write the DNS servers of the lease here (resolv.conf format).
        #[arg(long)]
        resolv_conf: Option<PathBuf>,
        /// Do not configure the interface address (it is already set).
        #[arg(long)]
        no_ip_config: bool,
        /// Exit after the first cycle (status 0 if it succeeded).
        #[arg(long)]
        once: bool,
        /// Timeout of each fetch, seconds.
        #[arg(long, default_value_t = 10)]
        fetch_timeout: u64,
    },
}

fn emit(start: Instant, v: serde_json::Value) {
    let mut v = v;
    v["t_ms"] = json!(start.elapsed().as_millis() as u64);
    v["t_us"] = json!(start.elapsed().as_micros() as u64);
    println!("{v}");
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

fn iface_mac(iface: &str) -> Option<[u8; 6]> {
    let s = fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    parse_mac(s.trim())
}

fn lease_json(l: &LeaseInfo) -> serde_json::Value {
    json!({
        "your_ip": l.your_ip.map(|a| a.to_string()),
        "server_id": l.server_id.map(|a| a.to_string()),
        "lease_time": l.lease_time,
        "subnet_mask": l.subnet_mask.map(|a| a.to_string()),
        "routers": l.routers.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "dns": l.dns_servers.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "domain_name": l.domain_name,
        "domain_search": l.domain_search,
        "ntp": l.time_sources().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "time_offset": l.time_offset,
        "ms_uc": l.ms_uc.as_ref().map(|m| json!({
            "uc_identifier": m.uc_identifier, "url_scheme": m.url_scheme,
            "web_server_fqdn": m.web_server_fqdn, "web_server_port": m.web_server_port,
            "cert_prov_rel_path": m.cert_prov_rel_path, "voice_vlan": m.voice_vlan,
            "cert_prov_url": m.cert_prov_url(),
        })),
        "sip_servers": l.sip_servers.as_ref().map(|s| match s {
            ac_prov::dhcp::SipServers::Names(n) => json!({"names": n}),
            ac_prov::dhcp::SipServers::Addrs(a) => json!({"addrs": a.iter().map(|x| x.to_string()).collect::<Vec<_>>()}),
        }),
        "tftp_server": l.tftp_server,
        "bootfile": l.bootfile,
        "provisioning_url": l.provisioning_url,
        "problems": l.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })
}

fn get_lease(c: &Common, start: Instant) -> Result<(Lease, [u8; 6], Model), String> {
    let model: Model = c.model.parse().map_err(|e| format!("{e}"))?;
    let mac = match &c.mac {
        Some(m) => parse_mac(m).ok_or_else(|| format!("bad MAC {m:?}"))?,
        None => iface_mac(&c.iface).ok_or_else(|| format!("no MAC for {}", c.iface))?,
    };
    let sock = dhcp_socket(&c.iface).map_err(|e| format!("DHCP socket on {}: {e}", c.iface))?;
    let seed = c.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let mut client = DhcpClient::new(ClientConfig::new(mac, model.name()), seed, Instant::now());
    let mut lease = None;
    run_dhcp(
        &sock,
        &mut client,
        Instant::now() + Duration::from_secs(c.dhcp_timeout),
        |ev| {
            match ev {
                Event::Bound(l) => {
                    emit(start, json!({"event": "dhcp_bound", "address": l.address.to_string(), "lease": lease_json(&l.info)}));
                    lease = Some(l.clone());
                    return true;
                }
                Event::Rejected(e) => emit(start, json!({"event": "dhcp_rejected", "error": e.to_string()})),
                Event::NoAnswer { state, attempts } => emit(start, json!({"event": "dhcp_no_answer", "state": format!("{state:?}"), "attempts": attempts})),
                Event::LeaseLost { reason } => emit(start, json!({"event": "dhcp_lease_lost", "reason": reason})),
                _ => {}
            }
            false
        },
    )
    .map_err(|e| e.to_string())?;
    let lease = lease.ok_or("no lease")?;
    Ok((lease, mac, model))
}

fn inform(
    c: &Common,
    addr: Ipv4Addr,
    vendor: Option<String>,
    start: Instant,
) -> Result<(), String> {
    let model: Model = c.model.parse().map_err(|e| format!("{e}"))?;
    let mac = match &c.mac {
        Some(m) => parse_mac(m).ok_or_else(|| format!("bad MAC {m:?}"))?,
        None => iface_mac(&c.iface).ok_or_else(|| format!("no MAC for {}", c.iface))?,
    };
    let sock = dhcp_socket(&c.iface).map_err(|e| format!("DHCP socket on {}: {e}", c.iface))?;
    let mut client = DhcpClient::inform(
        ClientConfig::new(mac, model.name()),
        addr,
        vendor,
        c.seed.unwrap_or(1),
        Instant::now(),
    );
    let mut done = false;
    run_dhcp(
        &sock,
        &mut client,
        Instant::now() + Duration::from_secs(c.dhcp_timeout),
        |ev| {
            if let Event::Informed(info) = ev {
                emit(
                    start,
                    json!({"event": "dhcp_informed", "lease": lease_json(info)}),
                );
                done = true;
            }
            done
        },
    )
    .map_err(|e| e.to_string())
}

fn prefix_len(mask: Option<Ipv4Addr>) -> u32 {
    mask.map_or(24, |m| u32::from(m).leading_ones())
}

fn configure_ip(iface: &str, l: &Lease) -> Result<(), String> {
    let addr = format!("{}/{}", l.address, prefix_len(l.info.subnet_mask));
    let run = |args: &[&str]| -> Result<(), String> {
        let st = Command::new("ip")
            .args(args)
            .status()
            .map_err(|e| format!("ip: {e}"))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("ip {} failed", args.join(" ")))
        }
    };
    run(&["addr", "replace", &addr, "dev", iface])?;
    if let Some(gw) = l.info.routers.first() {
        run(&[
            "route",
            "replace",
            "default",
            "via",
            &gw.to_string(),
            "dev",
            iface,
        ])?;
    }
    Ok(())
}

fn store_file(dir: &Path, kind: FileKind, data: &[u8]) -> std::io::Result<PathBuf> {
    let name = match kind {
        FileKind::SpeedDial => "speed_dial.txt".to_string(),
        FileKind::RingTones => "ring_tones.archive".to_string(),
        FileKind::MusicOnHold => "moh.wav".to_string(),
        FileKind::CaCertificate(i) => format!("ca-{i}.pem"),
    };
    let d = dir.join("files");
    fs::create_dir_all(&d)?;
    let p = d.join(name);
    fsutil::atomic_write(&p, data)?;
    Ok(p)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let start = Instant::now();
    match cli.cmd {
        Cmd::Dhcp {
            common,
            inform: Some(addr),
            vendor_class,
        } => match inform(&common, addr, vendor_class, start) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                emit(start, json!({"event": "error", "error": e}));
                ExitCode::FAILURE
            }
        },
        Cmd::Dhcp { common, .. } => match get_lease(&common, start) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                emit(start, json!({"event": "error", "error": e}));
                ExitCode::FAILURE
            }
        },
        Cmd::Run {
            common,
            state_dir,
            firmware_version,
            slots,
            slot_size,
            trusted_key,
            allow_downgrade,
            recovery,
            passphrase,
            ca,
            client_cert,
            client_key,
            resolv_conf,
            no_ip_config,
            once,
            fetch_timeout,
        } => {
            let r = (|| -> Result<bool, String> {
                fs::create_dir_all(&state_dir).map_err(|e| e.to_string())?;
                let (lease, mac, model) = get_lease(&common, start)?;
                if !no_ip_config {
                    configure_ip(&common.iface, &lease)?;
                    emit(
                        start,
                        json!({"event": "ip_configured", "address": lease.address.to_string()}),
                    );
                }
                if let Some(rc) = &resolv_conf {
                    let mut s = String::new();
                    for d in &lease.info.dns_servers {
                        s.push_str(&format!("nameserver {d}\n"));
                    }
                    if !lease.info.domain_search.is_empty() {
                        s.push_str(&format!("search {}\n", lease.info.domain_search.join(" ")));
                    }
                    // Written in place: resolv.conf may be a bind mount (ip netns exec).
                    fs::write(rc, s).map_err(|e| format!("{}: {e}", rc.display()))?;
                }
                let current_path = state_dir.join("current.cfg");
                let current = match fs::read(&current_path) {
                    Ok(b) => {
                        let text = String::from_utf8(b)
                            .map_err(|_| "current.cfg is not UTF-8".to_string())?;
                        Document::parse(&text)
                            .map_err(|e| e.to_string())?
                            .into_owned()
                    }
                    Err(_) => Document::new(),
                };
                let mut tls = TlsMaterial::default();
                for p in &ca {
                    tls.roots
                        .push(fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
                }
                for i in 0..5 {
                    if let Ok(b) = fs::read(state_dir.join("files").join(format!("ca-{i}.pem"))) {
                        tls.roots.push(b);
                    }
                }
                if let (Some(c), Some(k)) = (&client_cert, &client_key) {
                    tls.client = Some((
                        fs::read(c).map_err(|e| format!("{}: {e}", c.display()))?,
                        fs::read(k).map_err(|e| format!("{}: {e}", k.display()))?,
                    ));
                }
                let fetcher = Fetcher::new(&tls, Duration::from_secs(fetch_timeout))
                    .map_err(|e| e.to_string())?;
                let mut keyring = Keyring::new();
                for p in &trusted_key {
                    let pem = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    keyring
                        .add_pem(&pem)
                        .map_err(|e| format!("{}: {e}", p.display()))?;
                }
                let slots_dir = slots.unwrap_or_else(|| state_dir.join("slots"));
                let mut store = FileSlots::open(&slots_dir, slot_size)
                    .map_err(|e| format!("{}: {e}", slots_dir.display()))?;
                let running = match store.load_state().map_err(|e| e.to_string())? {
                    Some(st) => st.slot(st.active).version.clone(),
                    None => {
                        // First use on a host: the running image is outside the slots; record
                        // its version as slot A so updates go to B.
                        let st = BootState::initial(
                            Slot::A,
                            SlotInfo {
                                state: SlotState::Good,
                                version: firmware_version.clone(),
                                ..SlotInfo::empty()
                            },
                        );
                        if !recovery {
                            store.commit_state(&st).map_err(|e| e.to_string())?;
                        }
                        firmware_version.clone()
                    }
                };
                let policy = Policy {
                    allow_downgrade: allow_downgrade || recovery,
                    ..Policy::new(model)
                };
                let id = Identity {
                    model,
                    mac,
                    firmware_version: running,
                    keys: passphrase.map(crypto::Keys::passphrase),
                };
                let seed = common.seed.unwrap_or(7);
                let mut engine = if recovery {
                    Engine::recovery(id, seed)
                } else {
                    Engine::new(id, current, seed)
                };
                engine.handle_lease(lease.info.clone());
                engine.trigger(Instant::now(), Trigger::PowerUp);
                loop {
                    let Some(a) = engine.poll_action() else {
                        if once {
                            return Ok(false);
                        }
                        let local = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_secs() as i64)
                            .unwrap_or(0)
                            + lease.info.time_offset.unwrap_or(0) as i64;
                        engine.schedule(Instant::now(), local);
                        match engine.poll_timeout() {
                            Some(t) => {
                                std::thread::sleep(t.saturating_duration_since(Instant::now()));
                                engine.handle_timeout(Instant::now());
                            }
                            None => return Ok(true),
                        }
                        continue;
                    };
                    match a {
                        Action::Fetch(req) => {
                            emit(
                                start,
                                json!({"event": "fetch", "url": req.url, "purpose": format!("{:?}", req.purpose)}),
                            );
                            let res = fetcher.fetch(&req);
                            match &res {
                                Ok(b) => emit(
                                    start,
                                    json!({"event": "fetched", "url": req.url, "bytes": b.len()}),
                                ),
                                Err(e) => emit(
                                    start,
                                    json!({"event": "fetch_failed", "url": req.url, "kind": format!("{:?}", e.kind), "detail": e.detail}),
                                ),
                            }
                            engine.handle_fetch(Instant::now(), req.id, res);
                        }
                        Action::ApplyConfig { text, changed } => {
                            fsutil::atomic_write(&current_path, text.as_bytes())
                                .map_err(|e| e.to_string())?;
                            emit(
                                start,
                                json!({"event": "config_applied", "changed": changed}),
                            );
                        }
                        Action::StoreFile { kind, data } => {
                            let p =
                                store_file(&state_dir, kind, &data).map_err(|e| e.to_string())?;
                            emit(
                                start,
                                json!({"event": "file_stored", "kind": format!("{kind:?}"), "path": p.display().to_string(), "bytes": data.len()}),
                            );
                        }
                        Action::InstallFirmware {
                            id,
                            url,
                            version,
                            header,
                            image_len,
                        } => {
                            emit(
                                start,
                                json!({"event": "firmware_offered", "url": url, "version": version, "bytes": image_len}),
                            );
                            if recovery {
                                // No slot boots: start the boot state afresh (keeping the
                                // anti-rollback floor); the image goes to slot B and becomes
                                // active once verified.
                                let min = store
                                    .load_state()
                                    .ok()
                                    .flatten()
                                    .map_or(0, |s| s.min_counter);
                                let mut st = BootState::initial(Slot::A, SlotInfo::empty());
                                st.min_counter = min;
                                store.commit_state(&st).map_err(|e| e.to_string())?;
                            }
                            let mut on_progress = |p: InstallProgress| match p {
                                InstallProgress::Started { slot, from, total } => emit(
                                    start,
                                    json!({"event": "firmware_download", "slot": slot.to_string(), "from": from, "total": total}),
                                ),
                                InstallProgress::Written { written } => emit(
                                    start,
                                    json!({"event": "firmware_progress", "written": written}),
                                ),
                            };
                            let out = install_firmware(
                                &fetcher,
                                &mut store,
                                &keyring,
                                &policy,
                                &url,
                                &header,
                                &mut on_progress,
                            );
                            match &out {
                                FirmwareOutcome::Installed { version } => emit(
                                    start,
                                    json!({"event": "firmware_installed", "version": version}),
                                ),
                                FirmwareOutcome::AlreadyRunning { version } => emit(
                                    start,
                                    json!({"event": "firmware_up_to_date", "version": version}),
                                ),
                                _ => {}
                            }
                            engine.handle_firmware(Instant::now(), id, out);
                        }
                        Action::Reboot { reason } => {
                            emit(start, json!({"event": "reboot", "reason": reason}))
                        }
                        Action::Report(Report::CycleDone { ok, next_in }) => {
                            emit(
                                start,
                                json!({"event": "cycle_done", "ok": ok, "next_in_s": next_in.map(|d| d.as_secs())}),
                            );
                            if once {
                                return Ok(ok);
                            }
                        }
                        Action::Report(Report::Error(e)) => emit(
                            start,
                            json!({"event": "error", "kind": format!("{e:?}").split(['(', ' ', '{']).next().unwrap_or("").to_string(), "error": e.to_string()}),
                        ),
                        Action::Report(r) => emit(
                            start,
                            json!({"event": "report", "report": format!("{r:?}")}),
                        ),
                    }
                }
            })();
            match r {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    emit(start, json!({"event": "error", "error": e}));
                    ExitCode::from(2)
                }
            }
        }
    }
}
