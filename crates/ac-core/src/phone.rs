//! The sans-IO phone core: [`Phone`].
//!
//! It composes the sans-IO cores of the layer crates — the provisioning engine
//! (`ac_prov::engine`), SIP registration and calls (`ac_sip::register`, `ac_sip::call`) and one
//! RTP media session per call (`ac_media::session`) — with the feature logic of the manual.
//! Every method takes `now`; inputs are `handle_*`, outputs `poll_*` (board outputs, datagrams,
//! I/O requests), and [`Phone::poll_timeout`] says when to call [`Phone::handle_timeout`]. It
//! opens no socket, spawns no thread and reads no clock: [`crate::driver`] does that, and the
//! tests run two phones in one thread on a virtual clock.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ac_cfg::{Config, Document};
use ac_media::session::MediaSettings;
use ac_media::session::{Channel, Codec as MCodec, MediaConfig, MediaEvent, MediaSession};
use ac_media::xr::VqMode;
use ac_prov::dhcp::LeaseInfo;
use ac_prov::engine::{Action, Engine, FetchError, FirmwareOutcome, Identity, Report, Trigger};
use ac_prov::sntp::{ClientTuning, NtpEvent, NtpSettings, SntpClient, Sync as TimeSync};
use ac_sip::call::{CallEvent, CallRef, Phone as SipPhone, PhoneConfig};
use ac_sip::offer_answer::{Codec as SCodec, CodecList, LocalMedia, Negotiated, SrtpPolicy};
use ac_sip::register::{RegEvent, Registration, RegistrationConfig};
use ac_sip::resolve::Target;
use ac_sip::sdp::Direction;
use ac_sip::transaction::{Timers, Transport, TxId};

use crate::board::{
    AudioDevice, AudioFrame, BoardEvent, BoardOutput, DisplayEvent, DisplayKind, HookState,
    KeyAction, KeyCode, LedId, LedState, Ringer, Tone, FRAME_SAMPLES,
};
use crate::error::CoreError;
use crate::features::{CallLog, Features, ForwardMode, KeyFunction, LogEntry};
use crate::resample::{Decimator, Interpolator};

/// The user's sign-in (the SfB sign-in screen: address, user, password).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    /// Address of record, `sip:alice@example.com`.
    pub aor: String,
    /// Digest user name (empty: the AOR's user part).
    pub user: String,
    /// Digest password (empty: `voip/line/0/auth_password`).
    pub password: String,
    pub display_name: Option<String>,
}

impl SignIn {
    /// `sip:user@domain` from a user and a domain (test and demo helper).
    pub fn new(user: &str, domain: &str, password: &str) -> SignIn {
        SignIn {
            aor: format!("sip:{user}@{domain}"),
            user: user.into(),
            password: password.into(),
            display_name: None,
        }
    }

    fn user_part(&self) -> &str {
        let s = self
            .aor
            .trim_start_matches("sips:")
            .trim_start_matches("sip:");
        s.split('@').next().unwrap_or(s)
    }

    fn domain(&self) -> &str {
        self.aor.split('@').nth(1).unwrap_or("localhost")
    }
}

/// Boot stages (manual 2.1-2.5: network, provisioning, time, registration).
#[repr(u32)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BootStage {
    #[default]
    Network = 0,
    Provisioning = 1,
    Time = 2,
    Registration = 3,
    /// Registered (or registration is not configured): ready for calls.
    Ready = 4,
}

/// Where a call stands, as the UI sees it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CallPhase {
    #[default]
    Dialing = 0,
    Ringback = 1,
    Incoming = 2,
    Connected = 3,
    Held = 4,
    RemoteHeld = 5,
    Ended = 6,
}

/// One call in [`PhoneStatus`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStatus {
    pub id: u32,
    pub phase: CallPhase,
    pub peer: String,
    pub incoming: bool,
    /// Negotiated codec ("G722", "PCMU", ...), empty before media.
    pub codec: String,
    pub packets_sent: u64,
    pub packets_received: u64,
}

/// Voice quality of a call from RTCP-XR VoIP metrics (RFC 3611 4.7) and RTCP reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallQuality {
    /// MOS listening quality (1.0..=5.0).
    pub mos_lq: f64,
    /// MOS conversational quality.
    pub mos_cq: f64,
    /// R factor (0..=100).
    pub r_factor: u8,
    /// Loss of received packets, percent.
    pub loss_pct: f64,
    /// Interarrival jitter reported by the far end about our stream, ms.
    pub jitter_ms: f64,
    /// Round-trip time, ms (from RTCP SR/RR).
    pub rtt_ms: f64,
    pub packets_received: u64,
}

/// A snapshot of the phone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhoneStatus {
    pub stage: BootStage,
    pub registered: bool,
    /// Our SIP address once the network is up.
    pub sip_addr: Option<SocketAddr>,
    pub calls: Vec<CallStatus>,
    /// Quality of the last call that had media.
    pub last_quality: Option<CallQuality>,
    pub missed_calls: u32,
}

/// A datagram for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// SIP (on the phone's SIP transport).
    Sip(ac_sip::transaction::Transmit),
    /// RTP or RTCP from local port `from` (the call's RTP port, or RTP + 1 for RTCP).
    Media {
        from: u16,
        dest: SocketAddr,
        data: Vec<u8>,
    },
    /// An SNTP request (RFC 4330) to a time server, from the driver's NTP socket; replies
    /// go to [`Phone::handle_ntp`].
    Ntp { dest: SocketAddr, data: Vec<u8> },
}

/// What the phone asks the driver to do besides sending datagrams.
#[derive(Debug, Clone, PartialEq)]
pub enum Io {
    /// Open UDP sockets on the RTP port and RTP + 1 (answer with nothing; failures with
    /// [`Phone::handle_media_error`]).
    BindMedia { rtp_port: u16 },
    /// Close them.
    ReleaseMedia { rtp_port: u16 },
    /// A provisioning action to run ([`Action::Fetch`], [`Action::InstallFirmware`],
    /// [`Action::StoreFile`]): answer with [`Phone::handle_fetch`] / [`Phone::handle_firmware`].
    Provision(Action),
    /// Persist this configuration as the last good one (atomically).
    SaveConfig(String),
    /// The time stage (manual 2.4): the NTP servers to use, in order (host names or
    /// addresses, port 123), from DHCP option 42 / 4 or `system/ntp/*` as table 3-45
    /// orders them. Answer with [`Phone::handle_ntp_servers`] (the resolved addresses: the
    /// phone runs SNTP itself through [`Transmit::Ntp`]), or with [`Phone::handle_time`]
    /// when the driver set the clock by other means.
    SyncTime { servers: Vec<String> },
    /// The outbound proxy is a host name: resolve this SIP URI by RFC 3263 (NAPTR, SRV for
    /// TLS, TCP and UDP, then A) and answer with [`Phone::handle_proxy_resolved`]. TLS
    /// connections to the result check the target's host name in the certificate
    /// (RFC 5922 7.2).
    ResolveProxy { uri: String },
}

/// Where the outbound proxy is, from the configuration.
enum ProxySpec {
    Addr(SocketAddr),
    /// A SIP URI with a host name (and the port when it was configured explicitly).
    Name(String),
}

/// Largest number of simultaneous calls (manual 4.13: up to eight).
pub const MAX_CALLS: usize = 8;
/// Digit duration of DTMF sent from the keypad, ms.
pub const DTMF_MS: u32 = 100;

struct Call {
    id: u32,
    sip: CallRef,
    phase: CallPhase,
    peer: String,
    incoming: bool,
    answered: bool,
    neg: Option<Negotiated>,
    media: Option<Box<MediaSession>>,
    media_port: Option<u16>,
    /// The board frames of the next packet (16 kHz).
    cap: Vec<i16>,
    /// Decoded speaker audio at 16 kHz not yet played.
    play: VecDeque<i16>,
    dec: Decimator,
    int: Interpolator,
    /// When to answer (auto-answer) / to forward (no answer).
    answer_at: Option<Instant>,
    forward_at: Option<Instant>,
    quality: Option<CallQuality>,
    remote_jitter_ms: f64,
    rtt_ms: f64,
    /// We asked for a blind transfer.
    transferring: bool,
    packets_sent: u64,
}

/// The sans-IO phone.
pub struct Phone {
    cfg: Config,
    sign_in: SignIn,
    identity: Identity,
    seed: u64,
    stage: BootStage,
    features: Features,
    engine: Option<Engine>,
    /// Network up: SIP address.
    sip_addr: Option<SocketAddr>,
    lease: Option<LeaseInfo>,
    sip: Option<SipPhone>,
    reg: Option<Registration>,
    reg_tx: Option<TxId>,
    proxy: Option<SocketAddr>,
    registered: bool,
    calls: Vec<Call>,
    next_id: u32,
    /// The call the audio and the keys act on.
    active: Option<u32>,
    hook: HookState,
    device: AudioDevice,
    headset_connected: bool,
    dial_buf: String,
    /// Hotline: when to dial the auto-dialing destination (manual 3.3.4.2).
    hotline_at: Option<Instant>,
    locked: bool,
    pin: String,
    log: CallLog,
    missed_unseen: u32,
    last_dialed: Option<String>,
    last_quality: Option<CallQuality>,
    outputs: VecDeque<BoardOutput>,
    transmits: VecDeque<Transmit>,
    ios: VecDeque<Io>,
    media_settings: MediaSettings,
    boot_deadline: Option<Instant>,
    boot_timeout: Duration,
    rtp_base: Option<u16>,
    /// The SNTP client of the time stage and of the periodic re-sync (manual 2.4).
    sntp: Option<SntpClient>,
    /// The last time sample.
    utc: Option<TimeSync>,
}

/// The media codec for a negotiated SIP codec sent with payload type `pt`.
fn sip_codec(c: SCodec, pt: u8) -> Option<MCodec> {
    match c {
        SCodec::G722 => Some(MCodec::G722),
        SCodec::Pcma => Some(MCodec::Pcma),
        SCodec::Pcmu => Some(MCodec::Pcmu),
        SCodec::Silk8000 => Some(MCodec::Silk { rate: 8000, pt }),
        SCodec::Silk16000 => Some(MCodec::Silk { rate: 16_000, pt }),
        _ => None,
    }
}

/// The packet time to use: 10 or 20 ms, and for SILK 20..=100 ms in 20 ms steps.
fn media_ptime(c: SCodec, ptime: u32) -> u32 {
    match c {
        SCodec::Silk8000 | SCodec::Silk16000 => (ptime.clamp(20, 100) / 20) * 20,
        _ if ptime <= 10 => 10,
        _ => 20,
    }
}

fn mix(seed: u64, n: u64) -> u64 {
    // SplitMix64: distinct SSRCs / sequence numbers per call from the phone's seed.
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Phone {
    /// A phone with this configuration (factory or last good), identity and sign-in. The boot
    /// starts with [`Phone::handle_network_up`].
    pub fn new(cfg: Config, mac: [u8; 6], sign_in: SignIn, seed: u64) -> Phone {
        let media_settings = MediaSettings::from_config(&cfg).unwrap_or(MediaSettings {
            tos: 0xb8,
            xr_mode: VqMode::EventsOnly,
            dtmf_level: 10,
            rtp_base_port: 50020,
        });
        let identity = Identity {
            model: cfg.model(),
            mac,
            firmware_version: env!("CARGO_PKG_VERSION").into(),
            keys: None,
        };
        let mut p = Phone {
            features: Features::from_config(&cfg),
            media_settings,
            cfg,
            sign_in,
            identity,
            seed,
            stage: BootStage::Network,
            engine: None,
            sip_addr: None,
            lease: None,
            sip: None,
            reg: None,
            reg_tx: None,
            proxy: None,
            registered: false,
            calls: Vec::new(),
            next_id: 1,
            active: None,
            hook: HookState::OnHook,
            device: AudioDevice::None,
            headset_connected: false,
            dial_buf: String::new(),
            hotline_at: None,
            locked: false,
            pin: String::new(),
            log: CallLog::default(),
            missed_unseen: 0,
            last_dialed: None,
            last_quality: None,
            outputs: VecDeque::new(),
            transmits: VecDeque::new(),
            ios: VecDeque::new(),
            boot_deadline: None,
            boot_timeout: Duration::from_secs(20),
            rtp_base: None,
            sntp: None,
            utc: None,
        };
        p.display(DisplayKind::Boot, 0, "Network");
        p
    }

    /// The first RTP port (manual 3.3.14.3; the board may reserve another range). Call
    /// `n` uses `base + 2 * (n % 64)`.
    pub fn set_rtp_base_port(&mut self, base: u16) {
        self.rtp_base = Some(base);
    }

    /// How long provisioning may take before the phone goes on with the configuration it has.
    pub fn set_boot_timeout(&mut self, d: Duration) {
        self.boot_timeout = d;
    }

    // ---------------------------------------------------------------- accessors

    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn features(&self) -> &Features {
        &self.features
    }
    /// Runtime feature settings (DND, forward, call waiting, auto-answer, busy on busy).
    pub fn features_mut(&mut self) -> &mut Features {
        &mut self.features
    }
    pub fn stage(&self) -> BootStage {
        self.stage
    }
    pub fn is_registered(&self) -> bool {
        self.registered
    }
    pub fn call_log(&self) -> &CallLog {
        &self.log
    }
    pub fn is_locked(&self) -> bool {
        self.locked
    }
    pub fn audio_device(&self) -> AudioDevice {
        self.device
    }
    /// The call the keys and the audio act on.
    pub fn active_call(&self) -> Option<u32> {
        self.active
    }
    pub fn sip_addr(&self) -> Option<SocketAddr> {
        self.sip_addr
    }

    /// Whether the Sign out softkey is offered (manual 4.16 common-area enhanced mode and
    /// 4.17 `lync/userSetting/prevent_user_sign_out` remove it).
    pub fn sign_out_allowed(&self) -> bool {
        !(self.features.common_area_enhanced || self.features.prevent_sign_out)
    }

    pub fn status(&self) -> PhoneStatus {
        PhoneStatus {
            stage: self.stage,
            registered: self.registered,
            sip_addr: self.sip_addr,
            calls: self
                .calls
                .iter()
                .map(|c| {
                    let (sent, recv) = c
                        .media
                        .as_ref()
                        .map_or((0, 0), |m| (c.packets_sent, m.jitter_stats().received));
                    CallStatus {
                        id: c.id,
                        phase: c.phase,
                        peer: c.peer.clone(),
                        incoming: c.incoming,
                        codec: c
                            .neg
                            .as_ref()
                            .map(|n| n.codec.config_name().to_string())
                            .unwrap_or_default(),
                        packets_sent: sent,
                        packets_received: recv,
                    }
                })
                .collect(),
            last_quality: self.last_quality,
            missed_calls: self.missed_unseen,
        }
    }

    /// Quality so far of a call (from the latest RTCP-XR report and the jitter buffer).
    pub fn call_quality(&self, id: u32) -> Option<CallQuality> {
        let c = self.calls.iter().find(|c| c.id == id)?;
        c.quality
    }

    // ---------------------------------------------------------------- outputs

    pub fn poll_output(&mut self) -> Option<BoardOutput> {
        self.outputs.pop_front()
    }
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }
    pub fn poll_io(&mut self) -> Option<Io> {
        self.ios.pop_front()
    }

    /// The earliest time [`Phone::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Vec<Option<Instant>> = vec![
            self.sip.as_ref().and_then(|s| s.poll_timeout()),
            self.reg.as_ref().and_then(|r| r.poll_timeout()),
            self.engine.as_ref().and_then(|e| e.poll_timeout()),
            self.sntp.as_ref().and_then(|c| c.poll_timeout()),
            self.hotline_at,
            self.boot_deadline,
        ];
        for c in &self.calls {
            t.push(c.answer_at);
            t.push(c.forward_at);
            t.push(c.media.as_ref().and_then(|m| m.poll_timeout()));
        }
        t.into_iter().flatten().min()
    }

    fn out(&mut self, o: BoardOutput) {
        self.outputs.push_back(o);
    }

    fn display(&mut self, kind: DisplayKind, call: u32, text: &str) {
        self.out(BoardOutput::Display(DisplayEvent {
            kind,
            call,
            text: text.to_string(),
        }));
    }

    fn notice(&mut self, text: &str) {
        self.display(DisplayKind::Notice, 0, text);
    }

    // ---------------------------------------------------------------- boot

    /// The network is up: our address (and the DHCP lease, for provisioning and time) and
    /// the SIP socket the driver bound on it. Starts provisioning (manual 2.3).
    pub fn handle_network_up(
        &mut self,
        now: Instant,
        sip_addr: SocketAddr,
        lease: Option<LeaseInfo>,
    ) {
        self.sip_addr = Some(sip_addr);
        self.lease = lease.clone();
        self.out(BoardOutput::Led(LedId::Line1, LedState::Off));
        let dynamic = lease.is_some();
        let method = self.cfg.get_raw("provisioning/method").unwrap_or("DYNAMIC");
        if method != "DISABLE" && (dynamic || method == "STATIC") {
            self.stage = BootStage::Provisioning;
            self.display(DisplayKind::Boot, 0, "Provisioning");
            let mut e = Engine::new(
                self.identity.clone(),
                self.cfg.to_document(),
                mix(self.seed, 7),
            );
            if let Some(l) = lease {
                e.handle_lease(l);
            }
            e.trigger(now, Trigger::PowerUp);
            self.engine = Some(e);
            self.boot_deadline = Some(now + self.boot_timeout);
        } else {
            self.start_time(now);
        }
        self.pump(now);
    }

    /// The link went down: calls end, registration stops (manual 2.1: the phone restarts
    /// its network when the link returns).
    pub fn handle_network_down(&mut self, now: Instant) {
        let ids: Vec<u32> = self.calls.iter().map(|c| c.id).collect();
        for id in ids {
            self.end_call(now, id, "Network down");
        }
        self.sip = None;
        self.reg = None;
        self.registered = false;
        self.stage = BootStage::Network;
        self.display(DisplayKind::Boot, 0, "Network");
    }

    /// A provisioning fetch finished.
    pub fn handle_fetch(&mut self, now: Instant, id: u64, result: Result<Vec<u8>, FetchError>) {
        if let Some(e) = &mut self.engine {
            e.handle_fetch(now, id, result);
        }
        self.pump(now);
    }

    /// A firmware installation finished.
    pub fn handle_firmware(&mut self, now: Instant, id: u64, outcome: FirmwareOutcome) {
        if let Some(e) = &mut self.engine {
            e.handle_firmware(now, id, outcome);
        }
        self.pump(now);
    }

    /// UTC (Unix nanoseconds) at `now`, once an NTP server answered.
    pub fn utc_unix_nanos(&self, now: Instant) -> Option<i128> {
        self.utc.map(|s| s.utc_at(now))
    }

    /// The last NTP time sample (server, round-trip delay, stratum).
    pub fn last_time_sync(&self) -> Option<TimeSync> {
        self.utc
    }

    /// The resolved addresses of the servers of [`Io::SyncTime`]: the phone asks them in
    /// order with SNTP (ac-prov's client: 1 s per try, 2 tries per server). The first
    /// answer ends the time stage; when all fail, registration starts anyway ("Time not
    /// synchronized") and the client retries with its back-off. An empty list ends the
    /// stage at once.
    pub fn handle_ntp_servers(&mut self, now: Instant, servers: Vec<SocketAddr>) {
        if servers.is_empty() {
            self.handle_time(now, false);
            return;
        }
        let settings = NtpSettings::from_config(&self.cfg);
        let tuning = ClientTuning {
            timeout: Duration::from_secs(1),
            ..ClientTuning::default()
        };
        let mut c = SntpClient::new(
            servers,
            settings.sync_interval,
            tuning,
            mix(self.seed, 13),
            now,
        );
        c.handle_timeout(now);
        self.sntp = Some(c);
        self.pump(now);
    }

    /// A datagram on the driver's NTP socket.
    pub fn handle_ntp(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if let Some(c) = &mut self.sntp {
            c.handle_input(now, from, data);
        }
        self.pump(now);
    }

    /// The clock was set (or could not be): registration starts.
    pub fn handle_time(&mut self, now: Instant, ok: bool) {
        if self.stage != BootStage::Time {
            return;
        }
        if !ok {
            self.notice("Time not synchronized");
        }
        self.start_sip(now);
        self.pump(now);
    }

    fn start_time(&mut self, now: Instant) {
        self.boot_deadline = None;
        self.stage = BootStage::Time;
        self.display(DisplayKind::Boot, 0, "Time");
        // Manual 2.4 / table 3-45: NTP servers from DHCP option 42 (else 4) or system/ntp/*
        // (DHCP's first when network/lan/dhcp/ntp/server_list/enabled).
        let mut dhcp: Vec<std::net::Ipv4Addr> = Vec::new();
        if let Some(l) = &self.lease {
            dhcp = if l.ntp_servers.is_empty() {
                l.time_servers.clone()
            } else {
                l.ntp_servers.clone()
            };
        }
        let settings = NtpSettings::from_config(&self.cfg);
        let servers: Vec<String> = if settings.enabled {
            settings.servers(&dhcp, &[]).0
        } else {
            dhcp.iter()
                .map(|a| (a.to_string(), ac_prov::sntp::PORT))
                .collect()
        }
        .into_iter()
        .map(|(h, _)| h)
        .collect();
        if servers.is_empty() {
            self.start_sip(now);
        } else {
            self.ios.push_back(Io::SyncTime { servers });
        }
    }

    fn outbound_proxy(&self) -> Result<Option<ProxySpec>, String> {
        let sip_proxy = self
            .cfg
            .get_bool("voip/signalling/sip/sip_outbound_proxy/enabled")
            == Some(true);
        let port_key = if sip_proxy {
            "voip/signalling/sip/sip_outbound_proxy/port"
        } else {
            "lync/sign_in/fixed_outbound_proxy_port"
        };
        let (addr, port) = if sip_proxy {
            (
                self.cfg
                    .get_raw("voip/signalling/sip/sip_outbound_proxy/addr")
                    .unwrap_or(""),
                self.cfg
                    .get_int("voip/signalling/sip/sip_outbound_proxy/port")
                    .unwrap_or(5060),
            )
        } else {
            (
                self.cfg
                    .get_raw("lync/sign_in/fixed_outbound_proxy_address")
                    .unwrap_or(""),
                self.cfg
                    .get_int("lync/sign_in/fixed_outbound_proxy_port")
                    .filter(|p| *p > 0)
                    .unwrap_or(5060),
            )
        };
        if addr.is_empty() {
            return Ok(None);
        }
        let port = u16::try_from(port).map_err(|_| format!("bad proxy port {port}"))?;
        if let Ok(ip) = addr.parse::<IpAddr>() {
            return Ok(Some(ProxySpec::Addr(SocketAddr::new(ip, port))));
        }
        let name_ok = addr.len() <= 253
            && addr.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !name_ok {
            return Err(format!(
                "outbound proxy {addr:?} is not an address or host name"
            ));
        }
        // RFC 3263 4.2: an explicit port skips the SRV look-up; the default one does not.
        Ok(Some(ProxySpec::Name(if self.cfg.is_explicit(port_key) {
            format!("sip:{addr}:{port}")
        } else {
            format!("sip:{addr}")
        })))
    }

    /// The answer to [`Io::ResolveProxy`]: the targets in order (the first is used), or
    /// why there are none.
    pub fn handle_proxy_resolved(&mut self, now: Instant, targets: Result<Vec<Target>, String>) {
        if self.stage != BootStage::Registration || self.sip.is_some() {
            return;
        }
        match targets.as_ref().map(|t| t.first()) {
            Ok(Some(t)) => {
                let (addr, transport) = (t.addr, t.transport);
                self.sip_with_proxy(now, Some((addr, transport)));
            }
            Ok(None) => self.proxy_unresolved("no target"),
            Err(e) => {
                let e = e.clone();
                self.proxy_unresolved(&e);
            }
        }
        self.pump(now);
    }

    fn proxy_unresolved(&mut self, why: &str) {
        self.notice(&format!("Outbound proxy: {why}"));
        self.stage = BootStage::Ready;
        self.display(DisplayKind::Idle, 0, "Not registered");
        self.out(BoardOutput::Led(LedId::Line1, LedState::Off));
    }

    fn start_sip(&mut self, now: Instant) {
        if self.sip_addr.is_none() {
            return;
        }
        self.stage = BootStage::Registration;
        let proxy = match self.outbound_proxy() {
            Ok(Some(ProxySpec::Addr(a))) => Some((a, Transport::Udp)),
            Ok(Some(ProxySpec::Name(uri))) => {
                self.display(DisplayKind::Boot, 0, "Resolving the proxy");
                self.ios.push_back(Io::ResolveProxy { uri });
                return;
            }
            Ok(None) => None,
            Err(e) => {
                self.notice(&e);
                None
            }
        };
        self.sip_with_proxy(now, proxy);
    }

    /// The SIP core and the registration, through `proxy` (address and transport).
    fn sip_with_proxy(&mut self, now: Instant, proxy: Option<(SocketAddr, Transport)>) {
        let Some(local) = self.sip_addr else { return };
        let transport = proxy.map_or(Transport::Udp, |p| p.1);
        let proxy = proxy.map(|p| p.0);
        self.features = Features::from_config_keep_runtime(&self.cfg, &self.features);
        if let Ok(ms) = MediaSettings::from_config(&self.cfg) {
            self.media_settings = ms;
        }
        if let Some(b) = self.rtp_base {
            self.media_settings.rtp_base_port = b;
        }
        self.proxy = proxy;
        let user = self.sign_in.user_part().to_string();
        let password = if self.sign_in.password.is_empty() {
            self.cfg
                .get_raw("voip/line/0/auth_password")
                .unwrap_or("")
                .to_string()
        } else {
            self.sign_in.password.clone()
        };
        let auth_user = if self.sign_in.user.is_empty() {
            user.clone()
        } else {
            self.sign_in.user.clone()
        };
        // RFC 5923 5: over TCP/TLS the Via asks the proxy to reuse our connection for
        // requests to us (`alias`): the phone listens on UDP only, so a proxy can reach it
        // over a stream transport only through the connection the phone opened.
        let via_host = match transport {
            Transport::Udp => local.to_string(),
            _ => format!("{local};alias"),
        };
        // RFC 3261 19.1.1 / 18: a stream transport is named in the Contact.
        let (contact, via_transport) = match transport {
            Transport::Udp => (format!("sip:{user}@{local}"), "UDP"),
            Transport::Tcp => (format!("sip:{user}@{local};transport=tcp"), "TCP"),
            Transport::Tls => (format!("sip:{user}@{local};transport=tls"), "TLS"),
        };
        let codecs = CodecList(
            CodecList::from_config(&self.cfg)
                .0
                .into_iter()
                .filter(|p| sip_codec(p.codec, 0).is_some())
                .map(|mut p| {
                    p.ptime = media_ptime(p.codec, p.ptime);
                    p
                })
                .collect(),
        );
        let t1 = Duration::from_millis(500);
        let cfg = PhoneConfig {
            aor: self.sign_in.aor.clone(),
            display_name: self.sign_in.display_name.clone(),
            contact: contact.clone(),
            via_host: via_host.clone(),
            transport,
            outbound_proxy: proxy,
            username: auth_user.clone(),
            password: password.clone(),
            user_agent: format!(
                "AUDC-IPPhone/{} ac-phone/{}",
                self.cfg.model().name(),
                env!("CARGO_PKG_VERSION")
            ),
            use_100rel: false,
            session_expires: None,
            min_se: 90,
            // Busy on Busy and call waiting are decided here (they change at run time).
            busy_on_busy: false,
            auto_ringing: false,
            timers: Timers {
                t1,
                t2: t1 * 8,
                t4: t1 * 10,
                ..Timers::default()
            },
            media: LocalMedia {
                addr: local.ip(),
                rtp_port: self.media_settings.rtp_base_port,
                rtcp_port: None,
                codecs,
                telephone_event: Some(101),
                srtp: SrtpPolicy::Disabled,
                srtp_key: mix(self.seed, 11).to_be_bytes().repeat(4)[..30].to_vec(),
                session_id: mix(self.seed, 12) >> 20,
                username: "-".into(),
            },
        };
        self.sip = Some(SipPhone::new(cfg, mix(self.seed, 1)));
        if let Some(p) = proxy {
            let mut r = Registration::new(
                RegistrationConfig {
                    aor: self.sign_in.aor.clone(),
                    registrar: format!("sip:{}", self.sign_in.domain()),
                    contact,
                    via_host: via_host.clone(),
                    via_transport: via_transport.into(),
                    username: auth_user,
                    password,
                    expires: 300,
                    user_agent: "ac-phone".into(),
                    retry_after: Duration::from_secs(10),
                    route: None,
                },
                mix(self.seed, 2),
            );
            r.register(now);
            self.reg = Some(r);
            self.display(DisplayKind::Boot, 0, "Registering");
            let _ = p;
        } else {
            // No registrar: calls go straight to IP-literal URIs.
            self.set_ready();
        }
    }

    fn set_ready(&mut self) {
        self.stage = BootStage::Ready;
        let text = if self.registered {
            self.sign_in.aor.clone()
        } else if self.reg.is_some() {
            "Not registered".to_string()
        } else {
            self.sign_in.aor.clone()
        };
        self.display(DisplayKind::Idle, 0, &text);
        let led = if self.registered || self.reg.is_none() {
            LedState::On
        } else {
            LedState::Off
        };
        self.out(BoardOutput::Led(LedId::Line1, led));
    }

    // ---------------------------------------------------------------- the pump

    /// Moves what the inner cores produced: SIP transmits and events, registration
    /// requests and events, provisioning actions, media packets and events.
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut progress = false;
            if let Some(c) = &mut self.sntp {
                while let Some((dest, p)) = c.poll_transmit() {
                    progress = true;
                    self.transmits.push_back(Transmit::Ntp {
                        dest,
                        data: p.to_vec(),
                    });
                }
                if let Some(ev) = c.poll_event() {
                    progress = true;
                    self.on_ntp_event(now, ev);
                }
            }
            if let Some(e) = &mut self.engine {
                if let Some(a) = e.poll_action() {
                    progress = true;
                    self.on_prov_action(now, a);
                }
            }
            if let (Some(r), Some(s), Some(p)) = (&mut self.reg, &mut self.sip, self.proxy) {
                if let Some(bytes) = r.poll_request() {
                    progress = true;
                    // The transaction's time base is the last `now` the SIP core saw.
                    self.reg_tx = s.send_request(now, p, bytes).ok();
                }
            }
            if let Some(r) = &mut self.reg {
                if let Some(ev) = r.poll_event() {
                    progress = true;
                    self.on_reg_event(now, ev);
                }
            }
            if let Some(s) = &mut self.sip {
                while let Some(t) = s.poll_transmit() {
                    progress = true;
                    self.transmits.push_back(Transmit::Sip(t));
                }
                if let Some(ev) = s.poll_event() {
                    progress = true;
                    self.on_call_event(now, ev);
                }
            }
            for i in 0..self.calls.len() {
                let (id, dest_rtp, dest_rtcp, port) = {
                    let c = &self.calls[i];
                    let n = c.neg.as_ref();
                    (
                        c.id,
                        n.and_then(|n| n.remote_rtp),
                        n.and_then(|n| {
                            n.remote_rtcp.or(n
                                .remote_rtp
                                .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))))
                        }),
                        c.media_port,
                    )
                };
                let Some(m) = self.calls[i].media.as_mut() else {
                    continue;
                };
                let mut evs = Vec::new();
                let mut sent = 0;
                while let Some(t) = m.poll_transmit() {
                    sent += u64::from(t.channel == Channel::Rtp);
                    let (dest, from) = match t.channel {
                        Channel::Rtp => (dest_rtp, port),
                        Channel::Rtcp => (dest_rtcp, port.map(|p| p + 1)),
                    };
                    if let (Some(dest), Some(from)) = (dest, from) {
                        self.transmits.push_back(Transmit::Media {
                            from,
                            dest,
                            data: t.data,
                        });
                    }
                }
                while let Some(e) = m.poll_event() {
                    evs.push(e);
                }
                self.calls[i].packets_sent += sent;
                for e in evs {
                    progress = true;
                    self.on_media_event(now, id, e);
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn on_ntp_event(&mut self, now: Instant, ev: NtpEvent) {
        match ev {
            NtpEvent::Synced(s) => {
                self.utc = Some(s);
                if self.stage == BootStage::Time {
                    self.start_sip(now);
                }
            }
            NtpEvent::AllFailed { .. } if self.stage == BootStage::Time => {
                self.notice("Time not synchronized");
                self.start_sip(now);
            }
            _ => {}
        }
    }

    fn on_prov_action(&mut self, now: Instant, a: Action) {
        match a {
            Action::ApplyConfig { text, changed } => {
                let doc = match Document::parse(&text) {
                    Ok(d) => d.into_owned(),
                    Err(e) => {
                        self.notice(&format!("configuration: {e}"));
                        return;
                    }
                };
                let (cfg, _) = Config::from_document_lenient(&doc, self.cfg.model());
                self.cfg = cfg;
                self.features = Features::from_config_keep_runtime(&self.cfg, &self.features);
                self.ios.push_back(Io::SaveConfig(text));
                self.notice(&format!(
                    "Configuration applied ({} changed)",
                    changed.len()
                ));
            }
            Action::Report(Report::CycleDone { .. }) => {
                if self.stage == BootStage::Provisioning {
                    self.start_time(now);
                }
            }
            Action::Report(Report::Error(e)) => self.notice(&format!("Provisioning: {e}")),
            Action::Report(_) => {}
            Action::Reboot { reason } => self.notice(&format!("Restart needed: {reason}")),
            a @ (Action::Fetch(_) | Action::InstallFirmware { .. } | Action::StoreFile { .. }) => {
                self.ios.push_back(Io::Provision(a))
            }
        }
    }
}

impl Phone {
    // ---------------------------------------------------------------- SIP events

    fn on_reg_event(&mut self, _now: Instant, ev: RegEvent) {
        match ev {
            RegEvent::Registered { .. } => {
                let first = !self.registered;
                self.registered = true;
                if first || self.stage != BootStage::Ready {
                    self.set_ready();
                }
            }
            RegEvent::Failed { code, reason } => {
                self.registered = false;
                self.notice(&format!("Registration failed: {code} {reason}"));
                if self.stage == BootStage::Registration {
                    self.set_ready();
                }
                self.out(BoardOutput::Led(LedId::Line1, LedState::Off));
            }
            RegEvent::Unregistered => self.registered = false,
        }
    }

    fn idx(&self, id: u32) -> Option<usize> {
        self.calls.iter().position(|c| c.id == id)
    }

    fn idx_sip(&self, r: CallRef) -> Option<usize> {
        self.calls.iter().position(|c| c.sip == r)
    }

    /// The index of call `id` in `calls`, and its handle in the SIP call core.
    fn call_ref(&self, id: u32) -> Result<(usize, CallRef), CoreError> {
        let i = self
            .idx(id)
            .ok_or_else(|| CoreError::State("no such call".into()))?;
        Ok((i, self.calls[i].sip))
    }

    /// Runs one operation of the SIP call core (which exists once the phone has booted).
    fn sip_op<T>(
        &mut self,
        op: impl FnOnce(&mut SipPhone) -> Result<T, ac_sip::call::CallError>,
    ) -> Result<T, CoreError> {
        let s = self
            .sip
            .as_mut()
            .ok_or_else(|| CoreError::State("not ready".into()))?;
        op(s).map_err(|e| CoreError::Sip(e.to_string()))
    }

    fn new_call(&mut self, sip: CallRef, peer: &str, incoming: bool, phase: CallPhase) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.calls.push(Call {
            id,
            sip,
            phase,
            peer: peer.to_string(),
            incoming,
            answered: false,
            neg: None,
            media: None,
            media_port: None,
            cap: Vec::with_capacity(2 * FRAME_SAMPLES),
            play: VecDeque::with_capacity(4 * FRAME_SAMPLES),
            dec: Decimator::default(),
            int: Interpolator::default(),
            answer_at: None,
            forward_at: None,
            quality: None,
            remote_jitter_ms: 0.0,
            rtt_ms: 0.0,
            transferring: false,
            packets_sent: 0,
        });
        id
    }

    fn on_call_event(&mut self, now: Instant, ev: CallEvent) {
        match ev {
            CallEvent::Incoming {
                call,
                caller,
                auto_answer,
                replaces,
            } => self.on_incoming(now, call, caller.uri, auto_answer, replaces.is_some()),
            CallEvent::Progress { call, code } => {
                if let Some(i) = self.idx_sip(call) {
                    if (180..=183).contains(&code) && self.calls[i].phase == CallPhase::Dialing {
                        self.calls[i].phase = CallPhase::Ringback;
                        let (id, peer) = (self.calls[i].id, self.calls[i].peer.clone());
                        self.display(DisplayKind::Ringback, id, &peer);
                        if self.active == Some(id) {
                            self.out(BoardOutput::Tone(Tone::Ringback));
                        }
                    }
                }
            }
            CallEvent::Answered { call } => {
                if let Some(i) = self.idx_sip(call) {
                    let c = &mut self.calls[i];
                    c.answered = true;
                    c.phase = CallPhase::Connected;
                    c.answer_at = None;
                    c.forward_at = None;
                    let (id, peer) = (c.id, c.peer.clone());
                    self.active = Some(id);
                    self.out(BoardOutput::Tone(Tone::Off));
                    self.out(BoardOutput::Ringer(Ringer::Off));
                    self.display(DisplayKind::Connected, id, &peer);
                    self.out(BoardOutput::Led(LedId::Line1, LedState::On));
                    if self.device == AudioDevice::None {
                        self.set_device(self.features.answer_device);
                    }
                }
            }
            CallEvent::Media { call, negotiated } => self.on_media(now, call, *negotiated),
            CallEvent::RemoteHold { call, held } => {
                if let Some(i) = self.idx_sip(call) {
                    let c = &mut self.calls[i];
                    if c.phase != CallPhase::Held {
                        c.phase = if held {
                            CallPhase::RemoteHeld
                        } else {
                            CallPhase::Connected
                        };
                    }
                    let (id, peer) = (c.id, c.peer.clone());
                    let k = if held {
                        DisplayKind::RemoteHeld
                    } else {
                        DisplayKind::Connected
                    };
                    self.display(k, id, &peer);
                }
            }
            CallEvent::Failed { call, code, reason } => {
                if let Some(i) = self.idx_sip(call) {
                    let id = self.calls[i].id;
                    let busy = code == 486 || code == 600;
                    self.out(BoardOutput::Tone(if busy {
                        Tone::Busy
                    } else {
                        Tone::Reorder
                    }));
                    self.end_call(now, id, &format!("{code} {reason}"));
                }
            }
            CallEvent::Ended { call, code, .. } => {
                if let Some(i) = self.idx_sip(call) {
                    let id = self.calls[i].id;
                    let reason = match code {
                        200 => "Call ended".to_string(),
                        302 => "Forwarded".to_string(),
                        c => format!("Ended ({c})"),
                    };
                    self.end_call(now, id, &reason);
                }
            }
            CallEvent::TransferRequested {
                call,
                new_call,
                target,
                ..
            } => {
                // We are the transferee (RFC 3515): ac-sip already called the target.
                let id = self.new_call(new_call, &target, false, CallPhase::Dialing);
                self.active = Some(id);
                self.display(DisplayKind::Calling, id, &target);
                let _ = call;
            }
            CallEvent::TransferProgress { call, code } => {
                // Manual 3.3.7: the transferor's part is done once the transferee's call
                // succeeded; a failure returns the call (resume it).
                if (200..300).contains(&code) {
                    if let Some(s) = &mut self.sip {
                        let _ = s.hangup(now, call);
                    }
                } else if code >= 300 {
                    self.transfer_failed(now, call, code);
                }
            }
            CallEvent::TransferFailed { call, code } => self.transfer_failed(now, call, code),
            CallEvent::Replaced { old, new_call } => {
                if let Some(i) = self.idx_sip(old) {
                    self.calls[i].sip = new_call;
                }
            }
            CallEvent::Request { tx, data, .. } => {
                if let (Some(s), Ok(m)) = (&mut self.sip, ac_sip::msg::Message::parse(&data)) {
                    let r = ac_sip::msg::response_to(&m, 501, Some("x"));
                    let _ = s.respond(now, tx, r.to_bytes());
                }
            }
            CallEvent::Response { tx, data } => {
                if Some(tx) == self.reg_tx {
                    if let Some(r) = &mut self.reg {
                        r.handle_response(now, &data);
                    }
                }
            }
            CallEvent::TxFailed { tx } => {
                if Some(tx) == self.reg_tx {
                    if let Some(r) = &mut self.reg {
                        r.handle_failure(now, 408);
                    }
                }
            }
            CallEvent::ReofferFailed { .. } | CallEvent::Refreshed { .. } => {}
            CallEvent::Info { .. } => {}
            // A key the peer sent in a SIP INFO: shown like an RFC 4733 event.
            CallEvent::Dtmf { call, key, .. } => {
                if let Some(i) = self.idx_sip(call) {
                    let id = self.calls[i].id;
                    self.display(DisplayKind::Dtmf, id, &key.to_string());
                }
            }
            CallEvent::InfoAnswered { .. } => {}
            // RFC 3428 instant message (already answered 200 by the call core).
            CallEvent::Message { call, from, text } => {
                let id = call
                    .and_then(|c| self.idx_sip(c))
                    .map_or(0, |i| self.calls[i].id);
                self.display(
                    DisplayKind::Notice,
                    id,
                    &format!("Message from {from}: {text}"),
                );
            }
        }
    }

    fn transfer_failed(&mut self, now: Instant, call: CallRef, code: u16) {
        if let Some(i) = self.idx_sip(call) {
            self.calls[i].transferring = false;
            let id = self.calls[i].id;
            self.notice(&format!("Transfer failed ({code})"));
            let _ = self.resume(now, id);
        }
    }

    fn busy(&self) -> bool {
        self.calls.iter().any(|c| c.phase != CallPhase::Ended)
    }

    fn on_incoming(
        &mut self,
        now: Instant,
        call: CallRef,
        caller: String,
        auto_answer: bool,
        replaces: bool,
    ) {
        let other_calls = self.busy();
        let reject = |p: &mut Phone, code: u16| {
            if let Some(s) = &mut p.sip {
                let _ = s.reject(now, call, code);
            }
        };
        if replaces {
            // RFC 3891: ac-sip answers and ends the replaced call itself.
            let id = self.new_call(call, &caller, true, CallPhase::Connected);
            self.active = Some(id);
            return;
        }
        let log_missed = |p: &mut Phone| {
            p.log.push_missed(LogEntry {
                peer: caller.clone(),
                at: now,
            });
            p.missed_unseen += 1;
            let n = p.missed_unseen.to_string();
            p.display(DisplayKind::MissedCalls, 0, &n);
        };
        // Manual 4.9.1.2: which calls a locked phone takes.
        if self.locked && !self.features.lock_policy.allows_incoming() {
            reject(self, 480);
            log_missed(self);
            return;
        }
        // Call forwarding: always (manual: "Forward all calls").
        if let Some(fw) = self.features.forward.clone() {
            if fw.mode == ForwardMode::Always || (fw.mode == ForwardMode::Busy && other_calls) {
                let uri = self.target_uri(&fw.target);
                if let Some(s) = &mut self.sip {
                    let _ = s.redirect(now, call, &uri);
                }
                return;
            }
        }
        // Do Not Disturb: refuse, log as missed.
        if self.features.dnd {
            reject(self, 486);
            log_missed(self);
            return;
        }
        if other_calls {
            // Manual 3.3.12 Busy on Busy; without call waiting, busy too.
            if self.features.busy_on_busy || !self.features.call_waiting {
                reject(self, 486);
                log_missed(self);
                return;
            }
            if self.calls.len() >= MAX_CALLS {
                reject(self, 486);
                return;
            }
        }
        if let Some(s) = &mut self.sip {
            let _ = s.ring(now, call);
        }
        let id = self.new_call(call, &caller, true, CallPhase::Incoming);
        let i = self.calls.len() - 1;
        if let Some(fw) = &self.features.forward {
            if fw.mode == ForwardMode::NoAnswer {
                self.calls[i].forward_at = Some(now + fw.no_answer_timeout);
            }
        }
        if other_calls {
            // Manual 3.3.10 call waiting: a beep in the call (or a visual indication only
            // when `voip/services/call_waiting/generate_tone/enabled` = 0).
            self.display(DisplayKind::CallWaiting, id, &caller);
            if self.features.call_waiting_tone {
                self.out(BoardOutput::Tone(Tone::CallWaiting));
            }
        } else {
            self.display(DisplayKind::Incoming, id, &caller);
            if auto_answer || self.features.auto_answer {
                self.calls[i].answer_at = Some(now + self.features.auto_answer_delay);
                self.out(BoardOutput::Ringer(Ringer::Splash));
            } else {
                self.out(BoardOutput::Ringer(Ringer::Ring));
            }
            self.out(BoardOutput::Led(LedId::Mwi, LedState::FastFlash));
        }
    }

    fn on_media(&mut self, now: Instant, call: CallRef, neg: Negotiated) {
        let Some(i) = self.idx_sip(call) else { return };
        let Some(codec) = sip_codec(neg.codec, neg.payload_type) else {
            self.notice(&format!("codec {} not supported", neg.codec.config_name()));
            return;
        };
        let c = &mut self.calls[i];
        let same = c.media.is_some()
            && c.neg.as_ref().is_some_and(|o| {
                o.codec == neg.codec
                    && o.payload_type == neg.payload_type
                    && o.ptime == neg.ptime
                    && o.local_rtp_port == neg.local_rtp_port
            });
        if !same {
            let n = u64::from(c.id);
            let cfg = MediaConfig {
                codec,
                ptime_ms: media_ptime(neg.codec, neg.ptime),
                ssrc: mix(self.seed, 100 + n) as u32,
                initial_seq: mix(self.seed, 200 + n) as u16,
                initial_ts: mix(self.seed, 300 + n) as u32,
                telephone_event_pt: neg.telephone_event,
                cn_pt: None,
                vad: false,
                dtmf_level: self.media_settings.dtmf_level,
                srtp: None,
                xr_mode: match self.media_settings.xr_mode {
                    VqMode::Disable => VqMode::EventsOnly,
                    m => m,
                },
                cname: self.sign_in.aor.clone(),
                wallclock: Duration::from_secs(1_700_000_000),
            };
            match MediaSession::new(cfg, now) {
                Ok(m) => {
                    if let Some(old) = c.media_port.take() {
                        if old != neg.local_rtp_port {
                            self.ios.push_back(Io::ReleaseMedia { rtp_port: old });
                        }
                    }
                    c.media = Some(Box::new(m));
                    c.cap.clear();
                    c.play.clear();
                }
                Err(e) => {
                    let t = format!("media: {e}");
                    self.notice(&t);
                    return;
                }
            }
        }
        let c = &mut self.calls[i];
        if c.media_port != Some(neg.local_rtp_port) {
            c.media_port = Some(neg.local_rtp_port);
            self.ios.push_back(Io::BindMedia {
                rtp_port: neg.local_rtp_port,
            });
        }
        self.calls[i].neg = Some(neg);
    }

    fn on_media_event(&mut self, _now: Instant, id: u32, e: MediaEvent) {
        let Some(i) = self.idx(id) else { return };
        match e {
            MediaEvent::Dtmf(d) => self.display(DisplayKind::Dtmf, id, &d.to_string()),
            MediaEvent::VoiceQuality(rep) => {
                let c = &mut self.calls[i];
                let m = rep.metrics;
                let received = c.media.as_ref().map_or(0, |s| s.jitter_stats().received);
                c.quality = Some(CallQuality {
                    mos_lq: f64::from(m.mos_lq) / 10.0,
                    mos_cq: f64::from(m.mos_cq) / 10.0,
                    r_factor: m.r_factor,
                    loss_pct: 100.0 * f64::from(m.loss_rate) / 256.0,
                    jitter_ms: c.remote_jitter_ms,
                    rtt_ms: c.rtt_ms,
                    packets_received: received,
                });
            }
            MediaEvent::Report(r) => {
                let c = &mut self.calls[i];
                c.remote_jitter_ms = r.jitter_ms;
                if let Some(rtt) = r.round_trip {
                    c.rtt_ms = rtt.as_secs_f64() * 1000.0;
                }
                if let Some(q) = &mut c.quality {
                    q.jitter_ms = r.jitter_ms;
                    q.rtt_ms = c.rtt_ms;
                }
            }
            MediaEvent::RemoteVoipMetrics(_) | MediaEvent::Bye => {}
        }
    }

    fn end_call(&mut self, now: Instant, id: u32, reason: &str) {
        let Some(i) = self.idx(id) else { return };
        let mut c = self.calls.remove(i);
        if let Some(m) = &mut c.media {
            let _ = m.close(now);
            // Flush the BYE packet.
            let dest = c.neg.as_ref().and_then(|n| {
                n.remote_rtcp
                    .or(n.remote_rtp.map(|a| SocketAddr::new(a.ip(), a.port() + 1)))
            });
            while let Some(t) = m.poll_transmit() {
                if let (Some(dest), Some(p), Channel::Rtcp) = (dest, c.media_port, t.channel) {
                    self.transmits.push_back(Transmit::Media {
                        from: p + 1,
                        dest,
                        data: t.data,
                    });
                }
            }
        }
        if let Some(p) = c.media_port {
            self.ios.push_back(Io::ReleaseMedia { rtp_port: p });
        }
        if let Some(q) = c.quality {
            self.last_quality = Some(q);
            self.display(
                DisplayKind::Quality,
                id,
                &format!(
                    "MOS-LQ {:.1} MOS-CQ {:.1} R={} loss={:.1}% jitter={:.1} ms rtt={:.1} ms rx={}",
                    q.mos_lq,
                    q.mos_cq,
                    q.r_factor,
                    q.loss_pct,
                    q.jitter_ms,
                    q.rtt_ms,
                    q.packets_received
                ),
            );
        }
        // Call log (manual: missed / received / dialed lists).
        if c.incoming {
            if c.answered {
                self.log.push_received(LogEntry {
                    peer: c.peer.clone(),
                    at: now,
                });
            } else if reason != "Forwarded" {
                self.log.push_missed(LogEntry {
                    peer: c.peer.clone(),
                    at: now,
                });
                self.missed_unseen += 1;
                let n = self.missed_unseen.to_string();
                self.display(DisplayKind::MissedCalls, 0, &n);
            }
        }
        self.display(DisplayKind::Ended, id, reason);
        if self.active == Some(id) {
            self.active = None;
        }
        if !self.calls.iter().any(|c| c.phase == CallPhase::Incoming) {
            self.out(BoardOutput::Ringer(Ringer::Off));
            self.out(BoardOutput::Led(LedId::Mwi, LedState::Off));
        }
        if self.calls.is_empty() {
            if self.hook == HookState::OnHook {
                self.set_device(AudioDevice::None);
            }
            let idle = if self.reg.is_some() && !self.registered {
                "Not registered".to_string()
            } else {
                self.sign_in.aor.clone()
            };
            self.display(DisplayKind::Idle, 0, &idle);
        }
    }

    fn set_device(&mut self, d: AudioDevice) {
        if self.device != d {
            self.device = d;
            self.out(BoardOutput::AudioRoute(d));
            self.out(BoardOutput::Led(
                LedId::Speaker,
                if d == AudioDevice::Speaker {
                    LedState::On
                } else {
                    LedState::Off
                },
            ));
            self.out(BoardOutput::Led(
                LedId::Headset,
                if d == AudioDevice::Headset {
                    LedState::On
                } else {
                    LedState::Off
                },
            ));
        }
    }

    fn target_uri(&self, number: &str) -> String {
        if number.starts_with("sip:") || number.starts_with("sips:") || number.starts_with("tel:") {
            number.to_string()
        } else if number.contains('@') {
            format!("sip:{number}")
        } else {
            format!("sip:{number}@{}", self.sign_in.domain())
        }
    }
}

impl Phone {
    // ---------------------------------------------------------------- network inputs

    /// A SIP datagram or stream message arrived.
    pub fn handle_sip(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        data: &[u8],
    ) {
        if let Some(s) = &mut self.sip {
            s.handle_message(now, transport, source, data);
        }
        self.pump(now);
    }

    /// A SIP destination could not be reached.
    pub fn handle_sip_error(&mut self, now: Instant, dest: SocketAddr) {
        if let Some(s) = &mut self.sip {
            s.handle_transport_error(now, dest);
        }
        self.pump(now);
    }

    /// A datagram arrived on a media port (`local_port` = RTP port, or RTP + 1 for RTCP).
    pub fn handle_media(&mut self, now: Instant, local_port: u16, data: &[u8]) {
        let Some(i) = self.calls.iter().position(|c| {
            c.media_port
                .is_some_and(|p| p == local_port || p.wrapping_add(1) == local_port)
        }) else {
            return;
        };
        let rtcp = self.calls[i].media_port != Some(local_port);
        if let Some(m) = &mut self.calls[i].media {
            // Bad packets are counted by the session and dropped, never fatal.
            let _ = if rtcp {
                m.handle_rtcp(now, data)
            } else {
                m.handle_rtp(now, data)
            };
        }
        self.pump(now);
    }

    /// A media port could not be bound.
    pub fn handle_media_error(&mut self, _now: Instant, rtp_port: u16, error: &str) {
        self.notice(&format!("RTP port {rtp_port}: {error}"));
    }

    /// Timers of every inner core and of the features.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(s) = &mut self.sip {
            s.handle_timeout(now);
        }
        if let Some(r) = &mut self.reg {
            r.handle_timeout(now);
        }
        if let Some(e) = &mut self.engine {
            e.handle_timeout(now);
        }
        if let Some(c) = &mut self.sntp {
            c.handle_timeout(now);
        }
        if self.boot_deadline.is_some_and(|t| t <= now) && self.stage == BootStage::Provisioning {
            self.notice("Provisioning timed out");
            self.start_time(now);
        }
        if self.hotline_at.is_some_and(|t| t <= now) {
            self.hotline_at = None;
            let dest = self.features.hotline.clone().map(|h| h.0);
            if let Some(d) = dest {
                let _ = self.dial(now, &d);
            }
        }
        let due: Vec<(u32, bool)> = self
            .calls
            .iter()
            .filter_map(|c| {
                if c.answer_at.is_some_and(|t| t <= now) {
                    Some((c.id, true))
                } else if c.forward_at.is_some_and(|t| t <= now) {
                    Some((c.id, false))
                } else {
                    None
                }
            })
            .collect();
        for (id, answer) in due {
            if let Some(i) = self.idx(id) {
                self.calls[i].answer_at = None;
                self.calls[i].forward_at = None;
                if answer {
                    let _ = self.answer(now, id);
                } else if let Some(fw) = self.features.forward.clone() {
                    let sip = self.calls[i].sip;
                    let uri = self.target_uri(&fw.target);
                    if let Some(s) = &mut self.sip {
                        let _ = s.redirect(now, sip, &uri);
                    }
                }
            }
        }
        for c in &mut self.calls {
            if let Some(m) = &mut c.media {
                let _ = m.handle_timeout(now);
            }
        }
        self.pump(now);
    }

    // ---------------------------------------------------------------- audio

    /// One 10 ms board frame: the microphone in, the speaker out. The active connected
    /// call gets the microphone (resampled to 8 kHz for G.711) and gives its decoded audio;
    /// otherwise the speaker frame is silence.
    pub fn handle_audio(&mut self, now: Instant, capture: &AudioFrame, playback: &mut AudioFrame) {
        playback.fill(0);
        let Some(i) = self.active.and_then(|id| self.idx(id)) else {
            return;
        };
        let c = &mut self.calls[i];
        let (Some(m), Some(neg)) = (c.media.as_mut(), c.neg.as_ref()) else {
            return;
        };
        if !c.answered {
            return;
        }
        let wide = matches!(neg.codec, SCodec::G722 | SCodec::Silk16000);
        let send = c.phase == CallPhase::Connected
            && matches!(neg.direction, Direction::SendRecv | Direction::SendOnly)
            && neg.remote_rtp.is_some();
        // Microphone: gather one packet time of 16 kHz audio, then encode it.
        let per_packet = m.frame_samples() * if wide { 1 } else { 2 };
        c.cap.extend_from_slice(capture);
        if c.cap.len() >= per_packet {
            if send {
                // 16 kHz codecs take the captured samples as they are (no copy per packet).
                if wide {
                    let _ = m.handle_frame(now, &c.cap[..per_packet]);
                } else {
                    let frame = c.dec.process(&c.cap[..per_packet]);
                    let _ = m.handle_frame(now, &frame);
                }
            } else {
                // Held: nothing is sent, the RTP clock keeps running (RFC 3550 5.1).
                let _ = m.skip_frame(now);
            }
            c.cap.drain(..per_packet);
        }
        // Speaker: decode a packet time whenever less than 10 ms is buffered.
        if c.phase != CallPhase::Held {
            while c.play.len() < FRAME_SAMPLES {
                let f = m.poll_frame(now);
                if wide {
                    c.play.extend(f);
                } else {
                    c.play.extend(c.int.process(&f));
                }
            }
            for (o, s) in playback.iter_mut().zip(c.play.drain(..FRAME_SAMPLES)) {
                *o = s;
            }
        }
        self.pump(now);
    }

    // ---------------------------------------------------------------- commands

    fn can_call_out(&self, number: &str) -> bool {
        // Manual 4.9: emergency numbers are always allowed on a locked phone.
        !self.locked
            || self.features.lock_policy.allows_outgoing()
            || self.features.emergency_numbers.iter().any(|e| e == number)
    }

    /// Places a call to a number (user part at our domain) or a SIP URI.
    pub fn dial(&mut self, now: Instant, target: &str) -> Result<u32, CoreError> {
        let target = target.trim();
        if target.is_empty() {
            return Err(CoreError::Invalid("empty number".into()));
        }
        if !self.can_call_out(target) {
            self.display(DisplayKind::Locked, 0, "Phone locked");
            return Err(CoreError::State("locked".into()));
        }
        if self.calls.len() >= MAX_CALLS {
            return Err(CoreError::State("too many calls".into()));
        }
        let uri = self.target_uri(target);
        // Put the current call on hold first (a second call, manual 3.3.7).
        if let Some(a) = self.active {
            if self
                .idx(a)
                .is_some_and(|i| self.calls[i].phase == CallPhase::Connected)
            {
                let _ = self.hold(now, a);
            }
        }
        let r = self.sip_op(|s| s.invite(now, &uri))?;
        let id = self.new_call(r, &uri, false, CallPhase::Dialing);
        self.active = Some(id);
        self.hotline_at = None;
        self.dial_buf.clear();
        self.last_dialed = Some(target.to_string());
        self.log.push_dialed(LogEntry {
            peer: uri.clone(),
            at: now,
        });
        if self.device == AudioDevice::None {
            self.set_device(self.features.answer_device);
        }
        self.out(BoardOutput::Tone(Tone::Off));
        self.display(DisplayKind::Calling, id, &uri);
        self.pump(now);
        Ok(id)
    }

    /// Dials the last number dialed (Redial key).
    pub fn redial(&mut self, now: Instant) -> Result<u32, CoreError> {
        let n = self
            .last_dialed
            .clone()
            .ok_or_else(|| CoreError::State("nothing to redial".into()))?;
        self.dial(now, &n)
    }

    fn incoming_id(&self) -> Option<u32> {
        self.calls
            .iter()
            .find(|c| c.phase == CallPhase::Incoming)
            .map(|c| c.id)
    }

    /// Answers an incoming call (a ringing call waiting puts the current call on hold).
    pub fn answer(&mut self, now: Instant, id: u32) -> Result<(), CoreError> {
        let (i, sip) = self.call_ref(id)?;
        if self.calls[i].phase != CallPhase::Incoming {
            return Err(CoreError::State("not ringing".into()));
        }
        if self.locked && !self.features.lock_policy.allows_incoming() {
            return Err(CoreError::State("locked".into()));
        }
        if let Some(a) = self.active.filter(|a| *a != id) {
            if self
                .idx(a)
                .is_some_and(|j| self.calls[j].phase == CallPhase::Connected)
            {
                let _ = self.hold(now, a);
            }
        }
        self.sip_op(|s| s.answer(now, sip))?;
        let c = &mut self.calls[i];
        c.answer_at = None;
        c.forward_at = None;
        self.active = Some(id);
        self.out(BoardOutput::Ringer(Ringer::Off));
        self.out(BoardOutput::Led(LedId::Mwi, LedState::Off));
        if self.device == AudioDevice::None {
            self.set_device(self.features.answer_device);
        }
        self.pump(now);
        Ok(())
    }

    /// Ends (or refuses, or cancels) a call.
    pub fn hangup(&mut self, now: Instant, id: u32) -> Result<(), CoreError> {
        let (i, sip) = self.call_ref(id)?;
        if self.calls[i].phase == CallPhase::Incoming {
            self.sip_op(|s| s.reject(now, sip, 603))?;
        } else {
            self.sip_op(|s| s.hangup(now, sip))?;
        }
        self.pump(now);
        Ok(())
    }

    /// Puts a call on hold (re-INVITE sendonly, RFC 3264 8.4).
    pub fn hold(&mut self, now: Instant, id: u32) -> Result<(), CoreError> {
        let (i, sip) = self.call_ref(id)?;
        self.sip_op(|s| s.hold(now, sip))?;
        self.calls[i].phase = CallPhase::Held;
        let peer = self.calls[i].peer.clone();
        self.display(DisplayKind::Held, id, &peer);
        self.out(BoardOutput::Led(LedId::Hold, LedState::SlowFlash));
        self.pump(now);
        Ok(())
    }

    /// Resumes a held call and makes it the active one.
    pub fn resume(&mut self, now: Instant, id: u32) -> Result<(), CoreError> {
        let (i, sip) = self.call_ref(id)?;
        self.sip_op(|s| s.resume(now, sip))?;
        self.calls[i].phase = CallPhase::Connected;
        self.active = Some(id);
        let peer = self.calls[i].peer.clone();
        self.display(DisplayKind::Connected, id, &peer);
        self.out(BoardOutput::Led(LedId::Hold, LedState::Off));
        self.pump(now);
        Ok(())
    }

    /// Blind transfer of a call to a number or URI (REFER, RFC 3515; manual 3.3.7).
    pub fn transfer(&mut self, now: Instant, id: u32, target: &str) -> Result<(), CoreError> {
        let (i, sip) = self.call_ref(id)?;
        let uri = self.target_uri(target);
        self.sip_op(|s| s.transfer(now, sip, &uri))?;
        self.calls[i].transferring = true;
        self.display(DisplayKind::Notice, id, &format!("Transferring to {uri}"));
        self.pump(now);
        Ok(())
    }

    /// Attended transfer: the peer of `id` to the peer of `to` (RFC 3891 Replaces).
    pub fn transfer_attended(&mut self, now: Instant, id: u32, to: u32) -> Result<(), CoreError> {
        let (a, sa) = self.call_ref(id)?;
        let (_, sb) = self.call_ref(to)?;
        self.sip_op(|s| s.transfer_attended(now, sa, sb))?;
        self.calls[a].transferring = true;
        self.pump(now);
        Ok(())
    }

    /// Sends a DTMF digit in the active call (RFC 4733).
    pub fn send_dtmf(&mut self, now: Instant, digit: char) -> Result<(), CoreError> {
        let i = self
            .active
            .and_then(|id| self.idx(id))
            .ok_or_else(|| CoreError::State("no active call".into()))?;
        let m = self.calls[i]
            .media
            .as_mut()
            .ok_or_else(|| CoreError::State("no media".into()))?;
        m.send_dtmf(now, digit, DTMF_MS)
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        self.pump(now);
        Ok(())
    }

    /// Locks the phone (manual 4.9: PIN lock).
    pub fn lock(&mut self, pin: &str) {
        self.locked = true;
        self.pin = pin.to_string();
        self.display(DisplayKind::Locked, 0, "Phone locked");
    }

    /// Unlocks with the PIN; `false` when it is wrong.
    pub fn unlock(&mut self, pin: &str) -> bool {
        if self.locked && pin == self.pin {
            self.locked = false;
            let idle = self.sign_in.aor.clone();
            self.display(DisplayKind::Idle, 0, &idle);
            true
        } else {
            false
        }
    }

    /// Clears the missed-calls counter (the user looked at the list).
    pub fn missed_seen(&mut self) {
        self.missed_unseen = 0;
        self.display(DisplayKind::MissedCalls, 0, "0");
    }

    // ---------------------------------------------------------------- board inputs

    /// A key, the hook switch, the headset jack or the link.
    pub fn handle_board(&mut self, now: Instant, ev: BoardEvent) {
        match ev {
            BoardEvent::Hook(h) => self.on_hook(now, h),
            BoardEvent::Key(k, KeyAction::Pressed) => self.on_key(now, k),
            BoardEvent::Key(_, KeyAction::Released) => {}
            BoardEvent::HeadsetConnected(c) => self.headset_connected = c,
            BoardEvent::LinkDown => self.handle_network_down(now),
            BoardEvent::LinkUp => {} // the driver brings the network up
        }
        self.pump(now);
    }

    fn on_hook(&mut self, now: Instant, h: HookState) {
        if self.features.headset_only {
            return; // manual 3.3.4.4: headset-only mode ignores the hook
        }
        self.hook = h;
        match h {
            HookState::OffHook => {
                self.set_device(AudioDevice::Handset);
                if let Some(id) = self.incoming_id() {
                    let _ = self.answer(now, id);
                } else if self.calls.is_empty() {
                    self.out(BoardOutput::Tone(Tone::Dial));
                    self.display(DisplayKind::Dialing, 0, "");
                    // Manual 3.3.4.2 automatic dialing (hotline).
                    if let Some((_, after)) = self.features.hotline.clone() {
                        self.hotline_at = Some(now + after);
                    }
                }
            }
            HookState::OnHook => {
                self.hotline_at = None;
                self.dial_buf.clear();
                self.out(BoardOutput::Tone(Tone::Off));
                // Manual 3.3.13: on-hook ends the active call; held calls are ended only
                // with `voip/onhook_disconnect_when_held/enabled`, else the audio moves
                // to the speaker and they stay held.
                let ids: Vec<(u32, CallPhase)> =
                    self.calls.iter().map(|c| (c.id, c.phase)).collect();
                let mut kept = false;
                for (id, phase) in ids {
                    match phase {
                        CallPhase::Incoming => {}
                        CallPhase::Held if !self.features.onhook_disconnect_when_held => {
                            kept = true
                        }
                        _ => {
                            let _ = self.hangup(now, id);
                        }
                    }
                }
                self.set_device(if kept {
                    AudioDevice::Speaker
                } else {
                    AudioDevice::None
                });
            }
        }
    }

    fn on_key(&mut self, now: Instant, k: KeyCode) {
        if let Some(d) = k.digit() {
            let in_call = self
                .active
                .and_then(|id| self.idx(id))
                .is_some_and(|i| self.calls[i].answered);
            if in_call {
                let _ = self.send_dtmf(now, d);
            } else {
                self.hotline_at = None;
                self.dial_buf.push(d);
                let b = self.dial_buf.clone();
                self.out(BoardOutput::Tone(Tone::Off));
                self.display(DisplayKind::Dialing, 0, &b);
                if d == '#' && self.dial_buf.len() > 1 {
                    let n = self.dial_buf.trim_end_matches('#').to_string();
                    let _ = self.dial(now, &n);
                }
            }
            return;
        }
        if let Some(i) = k.function_index() {
            self.on_function_key(now, i);
            return;
        }
        match k {
            KeyCode::Ok | KeyCode::Softkey1 => {
                if let Some(id) = self.incoming_id() {
                    let _ = self.answer(now, id);
                } else if !self.dial_buf.is_empty() {
                    let n = std::mem::take(&mut self.dial_buf);
                    let _ = self.dial(now, &n);
                }
            }
            KeyCode::Cancel | KeyCode::Softkey4 => {
                if let Some(id) = self.incoming_id() {
                    let _ = self.hangup(now, id);
                } else if let Some(id) = self.active {
                    let _ = self.hangup(now, id);
                } else {
                    self.dial_buf.clear();
                    self.display(DisplayKind::Dialing, 0, "");
                }
            }
            KeyCode::Redial => {
                let _ = self.redial(now);
            }
            KeyCode::Hold => {
                if let Some(id) = self.active {
                    let held = self
                        .idx(id)
                        .is_some_and(|i| self.calls[i].phase == CallPhase::Held);
                    let _ = if held {
                        self.resume(now, id)
                    } else {
                        self.hold(now, id)
                    };
                }
            }
            KeyCode::Transfer => {
                // Hard-key blind transfer (voip/signalling/sip/hk_blind_transfer/enable):
                // the dialed digits are the target.
                if let Some(id) = self.active {
                    if self.features.hk_blind_transfer && !self.dial_buf.is_empty() {
                        let t = std::mem::take(&mut self.dial_buf);
                        let _ = self.transfer(now, id, &t);
                    }
                }
            }
            KeyCode::Dnd => {
                self.features.dnd = !self.features.dnd;
                self.dnd_changed();
            }
            KeyCode::Speaker => {
                let d = if self.device == AudioDevice::Speaker {
                    AudioDevice::None
                } else {
                    AudioDevice::Speaker
                };
                self.set_device(d);
                if d == AudioDevice::Speaker {
                    if let Some(id) = self.incoming_id() {
                        let _ = self.answer(now, id);
                    }
                } else if let Some(id) = self.active {
                    let _ = self.hangup(now, id);
                }
            }
            KeyCode::Headset => {
                self.set_device(AudioDevice::Headset);
                if let Some(id) = self.incoming_id() {
                    let _ = self.answer(now, id);
                }
            }
            KeyCode::Log => self.missed_seen(),
            _ => {}
        }
    }

    fn dnd_changed(&mut self) {
        let on = self.features.dnd;
        self.out(BoardOutput::Led(
            LedId::Dnd,
            if on { LedState::On } else { LedState::Off },
        ));
        self.notice(if on {
            "Do not disturb on"
        } else {
            "Do not disturb off"
        });
    }

    /// Function / programmable keys (manual 3.2.3-3.2.5): speed dial (and BLF) dials the
    /// number; key events DND_ALL / FORWARD_ALL toggle the feature.
    fn on_function_key(&mut self, now: Instant, i: usize) {
        match self.features.keys.get(i).cloned().flatten() {
            Some(KeyFunction::SpeedDial(n)) => {
                let _ = self.dial(now, &n);
            }
            Some(KeyFunction::DndAll) => {
                self.features.dnd = !self.features.dnd;
                self.dnd_changed();
            }
            Some(KeyFunction::ForwardAll) => {
                let on = self.features.forward.is_some();
                if on {
                    self.features.forward = None;
                    self.notice("Forward off");
                } else if let Some(t) = self.features.forward_all_target.clone() {
                    self.features.forward = Some(crate::features::Forward {
                        mode: ForwardMode::Always,
                        target: t,
                        no_answer_timeout: Duration::from_secs(20),
                    });
                    self.notice("Forward all on");
                }
            }
            Some(KeyFunction::Screen(name)) => self.notice(&name),
            None => {}
        }
    }
}
