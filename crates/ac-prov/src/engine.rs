//! The sans-IO provisioning engine (manual 2.3-2.4, 3.5.1, appendix A).
//!
//! Inputs: the configuration in force ([`Settings`] from an `ac_cfg::Config`), what DHCP
//! learnt ([`crate::dhcp::LeaseInfo`]), triggers (power-up, "Check Now", a SIP check-sync
//! NOTIFY, the schedule) and the results of the fetches it asked for. Outputs:
//! [`Action`]s (fetch this URL, hand this firmware to the updater, apply and persist this
//! configuration, store this file, reboot, report) and the next instant it wants to run.
//!
//! One cycle: firmware header -> firmware (only if the version differs and the model fits)
//! -> configuration (`.cfg` or encrypted `.cfx`, model check, merge) -> speed dial, ring tones,
//! music on hold, CA certificates named by the new configuration -> reboot decision -> next
//! check (hourly / daily / weekly / power-up, plus `random_provisioning_time` jitter).
//! A failed or bad file never replaces the last good configuration: the engine only emits
//! `ApplyConfig` for a configuration that decrypted, parsed, validated and passed the model
//! check, and a failed cycle is retried with exponential backoff.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ac_cfg::{crypto, delta, validate, Config, Document, Model, Severity};

use crate::dhcp::LeaseInfo;
use crate::firmware::{self, FirmwareError};
use crate::url::{ProvUrl, Scheme, Target, UrlError};

/// `provisioning/method` (manual table 3-42).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Disable,
    Dynamic,
    Static,
}

/// `provisioning/period/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hourly {
        hours: u32,
    },
    Daily {
        minute_of_day: u32,
    },
    /// `day` 0 = Sunday.
    Weekly {
        day: u32,
        minute_of_day: u32,
    },
    PowerUp,
}

/// The provisioning parameters of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub method: Method,
    /// `provisioning/url_option_value`: 160 (default), 0 for options 66/67, or another code.
    pub url_option_value: u8,
    pub firmware_url: String,
    pub configuration_url: String,
    pub redirect_server_url: String,
    pub period: Period,
    /// `provisioning/random_provisioning_time`, seconds (0 = no jitter).
    pub random_time: u32,
    pub speed_dial_uri: String,
    pub ring_tone_uri: String,
    pub moh_url: String,
    pub ca_certificate_uris: Vec<String>,
}

fn hhmm(s: &str) -> u32 {
    let mut it = s.split(':');
    let h: u32 = it.next().and_then(|h| h.trim().parse().ok()).unwrap_or(0);
    let m: u32 = it.next().and_then(|m| m.trim().parse().ok()).unwrap_or(0);
    (h.min(23)) * 60 + m.min(59)
}

impl Settings {
    /// Reads the parameters from a typed configuration (defaults where not set).
    pub fn from_config(c: &Config) -> Settings {
        let s = |k: &str| c.get_raw(k).unwrap_or("").trim().to_string();
        let method = match s("provisioning/method").to_ascii_lowercase().as_str() {
            "disable" => Method::Disable,
            "static" => Method::Static,
            _ => Method::Dynamic,
        };
        let period = match s("provisioning/period/type").to_ascii_lowercase().as_str() {
            "hourly" => Period::Hourly {
                hours: c
                    .get_int("provisioning/period/hourly/hours_interval")
                    .unwrap_or(24)
                    .clamp(1, 168) as u32,
            },
            "weekly" => Period::Weekly {
                day: [
                    "sunday",
                    "monday",
                    "tuesday",
                    "wednesday",
                    "thursday",
                    "friday",
                    "saturday",
                ]
                .iter()
                .position(|d| s("provisioning/period/weekly/day").eq_ignore_ascii_case(d))
                .unwrap_or(0) as u32,
                minute_of_day: hhmm(&s("provisioning/period/weekly/time")),
            },
            "powerup" => Period::PowerUp,
            _ => Period::Daily {
                minute_of_day: hhmm(&s("provisioning/period/daily/time")),
            },
        };
        Settings {
            method,
            url_option_value: c
                .get_int("provisioning/url_option_value")
                .unwrap_or(160)
                .clamp(0, 254) as u8,
            firmware_url: s("provisioning/firmware/url"),
            configuration_url: s("provisioning/configuration/url"),
            redirect_server_url: s("provisioning/redirect_server_url"),
            period,
            random_time: c
                .get_int("provisioning/random_provisioning_time")
                .unwrap_or(120)
                .clamp(0, 65535) as u32,
            speed_dial_uri: s("provisioning/speed_dial_uri"),
            ring_tone_uri: s("provisioning/ring_tone_uri"),
            moh_url: s("lync/moh/url"),
            ca_certificate_uris: (0..5)
                .map(|i| s(&format!("security/ca_certificate/{i}/uri")))
                .collect(),
        }
    }
}

/// What a fetch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The first [`firmware::MAX_HEADER_LEN`] bytes of the firmware image.
    FirmwareHeader,
    /// The firmware body, streamed into the updater ([`Action::InstallFirmware`]).
    Firmware,
    Configuration,
    SpeedDial,
    RingTones,
    MusicOnHold,
    CaCertificate(u8),
    /// AudioCodes-style HTTPS redirect server (appendix A.2): answers with the URL to use.
    Redirect,
}

/// A request for the driver's fetchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub id: u64,
    pub url: String,
    pub purpose: Purpose,
    /// Fail with [`FetchErrorKind::TooLarge`] beyond this many bytes.
    pub max_size: u64,
    /// Only this many leading bytes are needed; the fetcher may stop early (HTTP Range, an
    /// early TFTP ERROR, closing the FTP data connection).
    pub prefix_only: Option<u64>,
}

/// Why a fetch failed (set by the driver's fetchers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// Name did not resolve, connection refused, no route.
    Unreachable,
    /// 404 / TFTP error 1 / FTP 550.
    NotFound,
    /// Server refused (401/403, TFTP 2, FTP 530).
    Denied,
    TimedOut,
    /// The transfer ended before its announced length.
    Truncated,
    TooLarge,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// Anything else the server did wrong.
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct FetchError {
    pub kind: FetchErrorKind,
    pub detail: String,
}

impl FetchError {
    pub fn new(kind: FetchErrorKind, detail: impl Into<String>) -> Self {
        FetchError {
            kind,
            detail: detail.into(),
        }
    }
}

/// Typed provisioning problems, reported through [`Action::Report`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvError {
    #[error("no provisioning source (no DHCP option {0}, no static URL)")]
    NoSource(u8),
    #[error("bad provisioning URL {url:?}: {error}")]
    BadUrl { url: String, error: UrlError },
    #[error("fetching {url} failed: {error}")]
    Fetch { url: String, error: FetchError },
    #[error("firmware {url}: {error}")]
    Firmware { url: String, error: FirmwareError },
    #[error("firmware {url} not installed: {detail}")]
    Update { url: String, detail: String },
    #[error("configuration {url} could not be decrypted: {detail}")]
    Decrypt { url: String, detail: String },
    #[error("configuration {url} is not a configuration file: {detail}")]
    NotConfig { url: String, detail: String },
    #[error("configuration {url} is for another model than {model}")]
    WrongModel { url: String, model: Model },
    #[error("configuration {url} has {count} errors, first: {first}")]
    Invalid {
        url: String,
        count: usize,
        first: String,
    },
    #[error("{what} {url} rejected: {detail}")]
    BadFile {
        what: &'static str,
        url: String,
        detail: String,
    },
}

/// Engine reports (for the log / syslog / UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    CycleStarted { trigger: Trigger, source: String },
    Disabled,
    FirmwareUpToDate { version: String },
    FirmwareSkipped { reason: String },
    ConfigUnchanged,
    ConfigApplied { changed: usize },
    Error(ProvError),
    CycleDone { ok: bool, next_in: Option<Duration> },
}

/// What starts a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PowerUp,
    /// "Check Now" in the web interface / phone menu.
    CheckNow,
    /// SIP NOTIFY with `Event: check-sync` ([`crate::sipnotify`]).
    CheckSync {
        reboot: bool,
    },
    Scheduled,
    Retry,
}

/// Kind of a stored companion file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    SpeedDial,
    RingTones,
    MusicOnHold,
    CaCertificate(u8),
}

/// What the engine asks the driver / the phone to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Fetch(FetchRequest),
    /// Install the firmware at `url` with the updater ([`crate::firmware::Installer`]):
    /// check `header` (signature, model, anti-rollback, downgrade policy) before anything is
    /// downloaded, then stream the body into the inactive slot from the installer's offset
    /// (resuming an interrupted download where the protocol allows) and activate it. Answer
    /// with [`Engine::handle_firmware`].
    InstallFirmware {
        id: u64,
        url: String,
        version: String,
        header: Vec<u8>,
        image_len: u64,
    },
    /// Apply this complete configuration and persist it as the last good one (atomically).
    ApplyConfig {
        text: String,
        changed: Vec<String>,
    },
    /// Store a companion file.
    StoreFile {
        kind: FileKind,
        data: Vec<u8>,
    },
    Reboot {
        reason: String,
    },
    Report(Report),
}

/// How an [`Action::InstallFirmware`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareOutcome {
    /// Written, verified and activated (on trial): a reboot starts it.
    Installed { version: String },
    /// The image is the one already running.
    AlreadyRunning { version: String },
    /// The image was refused (signature, model, rollback, downgrade, digest).
    Rejected(FirmwareError),
    /// The download failed (it may resume next time).
    FetchFailed(FetchError),
    /// Anything else (storage, a previous update still unconfirmed).
    Failed(String),
}

/// Who the phone is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub model: Model,
    pub mac: [u8; 6],
    pub firmware_version: String,
    /// Key material for `.cfx` / ACFX-GCM configuration files.
    pub keys: Option<crypto::Keys>,
}

/// Limits of fetched files.
pub const MAX_CONFIG: u64 = 4 << 20;
pub const MAX_COMPANION: u64 = 16 << 20;
pub const MAX_CERT: u64 = 256 << 10;

#[derive(Debug, Clone)]
struct Source {
    label: String,
    firmware: Option<String>,
    config: String,
}

#[derive(Debug)]
enum Step {
    Idle,
    Waiting {
        id: u64,
        purpose: Purpose,
        url: String,
    },
}

/// Parameters whose change takes effect only after a restart (network bring-up, SIP
/// transport, security material, provisioning itself).
fn needs_reboot(key: &str) -> bool {
    const PREFIXES: [&str; 6] = [
        "network/",
        "security/",
        "voip/signalling/",
        "provisioning/method",
        "system/ntp/",
        "lync/sign_in/",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Deterministic PRNG for the jitter (seeded by the driver).
#[derive(Debug)]
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        if n == 0 {
            0
        } else {
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    id: Identity,
    current: Document<'static>,
    settings: Settings,
    lease: Option<LeaseInfo>,
    rng: Rng,
    next_id: u64,
    step: Step,
    actions: VecDeque<Action>,
    sources: VecDeque<Source>,
    source: Option<Source>,
    trigger: Trigger,
    cycle_ok: bool,
    reboot: Option<String>,
    pending_files: VecDeque<(Purpose, String)>,
    next_check: Option<Instant>,
    failures: u32,
    running: bool,
    recovery: bool,
}

impl Engine {
    /// `current` is the configuration in force (the last good one); it must be for the
    /// identity's model.
    pub fn new(id: Identity, current: Document<'static>, seed: u64) -> Engine {
        let (cfg, _) = Config::from_document_lenient(&current, id.model);
        Engine {
            settings: Settings::from_config(&cfg),
            id,
            current,
            lease: None,
            rng: Rng(seed | 1),
            next_id: 1,
            step: Step::Idle,
            actions: VecDeque::new(),
            sources: VecDeque::new(),
            source: None,
            trigger: Trigger::PowerUp,
            cycle_ok: true,
            reboot: None,
            pending_files: VecDeque::new(),
            next_check: None,
            failures: 0,
            running: false,
            recovery: false,
        }
    }

    /// Recovery mode (manual 8.7.3, appendix B): the phone has no bootable image. Only DHCP
    /// options 66 (TFTP server) and 67 (the model's image, `<model>.img` when absent) are
    /// used; the image is installed whatever its version and nothing else is fetched.
    pub fn recovery(id: Identity, seed: u64) -> Engine {
        let mut e = Engine::new(id, Document::new(), seed);
        e.recovery = true;
        e.settings.method = Method::Dynamic;
        e.settings.url_option_value = 0;
        e
    }

    pub fn is_recovery(&self) -> bool {
        self.recovery
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn current(&self) -> &Document<'static> {
        &self.current
    }
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// What DHCP learnt (a new lease or an INFORM answer).
    pub fn handle_lease(&mut self, info: LeaseInfo) {
        self.lease = Some(info);
    }

    fn target(&self) -> Target<'_> {
        Target {
            model: self.id.model.name(),
            mac: self.id.mac,
        }
    }

    fn report(&mut self, r: Report) {
        self.actions.push_back(Action::Report(r));
    }

    fn error(&mut self, e: ProvError) {
        self.cycle_ok = false;
        self.report(Report::Error(e));
    }

    /// Candidate sources in order: the configured method, then the static DNS record
    /// (appendix A.1), then the redirect server (appendix A.2).
    fn plan(&mut self) -> VecDeque<Source> {
        let t = self.target();
        let mut out = VecDeque::new();
        let from_url = |u: &ProvUrl, label: &str| Source {
            label: label.to_string(),
            firmware: Some(u.firmware_url(&t)),
            config: u.config_url(&t),
        };
        let mut errors = Vec::new();
        if self.recovery {
            let lease = self.lease.clone().unwrap_or_default();
            if let Some(server) = lease.tftp_server {
                let fw = lease.bootfile.unwrap_or_else(|| format!("{}.img", t.model));
                match ProvUrl::parse(&format!("tftp://{server}/{fw}")) {
                    Ok(u) => out.push_back(Source {
                        label: "recovery (DHCP options 66/67)".into(),
                        firmware: Some(u.firmware_url(&t)),
                        config: String::new(),
                    }),
                    Err(error) => self.error(ProvError::BadUrl {
                        url: format!("tftp://{server}/{fw}"),
                        error,
                    }),
                }
            }
            return out;
        }
        match self.settings.method {
            Method::Disable => {}
            Method::Static => {
                let fw = &self.settings.firmware_url;
                let cf = &self.settings.configuration_url;
                let fw_url = if fw.is_empty() {
                    None
                } else {
                    match ProvUrl::parse(fw) {
                        Ok(u) => Some(u.firmware_url(&t)),
                        Err(error) => {
                            errors.push(ProvError::BadUrl {
                                url: fw.clone(),
                                error,
                            });
                            None
                        }
                    }
                };
                match ProvUrl::parse(cf) {
                    Ok(u) => out.push_back(Source {
                        label: "static URL".into(),
                        firmware: fw_url,
                        config: u.config_url(&t),
                    }),
                    Err(error) if !cf.is_empty() => errors.push(ProvError::BadUrl {
                        url: cf.clone(),
                        error,
                    }),
                    Err(_) => {}
                }
            }
            Method::Dynamic => {
                let code = self.settings.url_option_value;
                let lease = self.lease.clone().unwrap_or_default();
                let url_opt = match code {
                    0 => None,
                    160 => lease.provisioning_url.clone(),
                    c => lease
                        .site_options
                        .iter()
                        .find(|(k, _)| *k == c)
                        .map(|(_, v)| v.clone()),
                };
                if let Some(s) = url_opt {
                    match ProvUrl::parse(&s) {
                        Ok(u) => out.push_back(from_url(&u, &format!("DHCP option {code}"))),
                        Err(error) => errors.push(ProvError::BadUrl { url: s, error }),
                    }
                }
                // Option 160 has priority; 66/67 when it is absent (table 3-42).
                if out.is_empty() {
                    // Only option 66 (or the BOOTP `sname` field it stands for, RFC 2132
                    // section 9.4): `siaddr` alone is not a provisioning server (dnsmasq fills
                    // it whenever it runs TFTP).
                    if let Some(server) = lease.tftp_server.clone() {
                        let fw = lease
                            .bootfile
                            .clone()
                            .unwrap_or_else(|| format!("{}.img", t.model));
                        let s = format!("tftp://{server}/{fw}");
                        match ProvUrl::parse(&s) {
                            Ok(u) => out.push_back(from_url(&u, "DHCP options 66/67")),
                            Err(error) => errors.push(ProvError::BadUrl { url: s, error }),
                        }
                    }
                }
                if out.is_empty() {
                    out.push_back(from_url(
                        &ProvUrl::static_dns(t.model),
                        "static DNS record ProvisioningServer",
                    ));
                }
            }
        }
        // The redirect server is the last resort of the DHCP-driven plan (appendix A.2: "if it
        // doesn't get it according to the regular provisioning methods"); a static plan is the
        // administrator's explicit choice and is not redirected.
        if self.settings.method == Method::Dynamic && !self.settings.redirect_server_url.is_empty()
        {
            out.push_back(Source {
                label: "redirect server".into(),
                firmware: None,
                config: String::new(),
            });
        }
        for e in errors {
            self.error(e);
        }
        out
    }

    /// Starts a cycle now (no effect while one runs).
    pub fn trigger(&mut self, now: Instant, trigger: Trigger) {
        if self.running {
            return;
        }
        if self.settings.method == Method::Disable && !self.recovery {
            self.report(Report::Disabled);
            return;
        }
        self.running = true;
        self.trigger = trigger;
        self.cycle_ok = true;
        self.reboot = match trigger {
            Trigger::CheckSync { reboot: true } => Some("check-sync with reboot=true".into()),
            _ => None,
        };
        self.sources = self.plan();
        self.next_source(now);
    }

    fn fetch(&mut self, url: String, purpose: Purpose, max_size: u64, prefix: Option<u64>) {
        let id = self.next_id;
        self.next_id += 1;
        self.step = Step::Waiting {
            id,
            purpose,
            url: url.clone(),
        };
        self.actions.push_back(Action::Fetch(FetchRequest {
            id,
            url,
            purpose,
            max_size,
            prefix_only: prefix,
        }));
    }

    fn next_source(&mut self, now: Instant) {
        let Some(src) = self.sources.pop_front() else {
            if self.source.is_none() {
                let code = if self.recovery {
                    66
                } else {
                    self.settings.url_option_value
                };
                self.error(ProvError::NoSource(code));
            }
            self.finish(now);
            return;
        };
        self.report(Report::CycleStarted {
            trigger: self.trigger,
            source: src.label.clone(),
        });
        self.cycle_ok = true;
        if src.label == "redirect server" {
            let url = format!(
                "{}/{}",
                self.settings.redirect_server_url.trim_end_matches('/'),
                self.target().mac_hex()
            );
            self.source = Some(src);
            self.fetch(url, Purpose::Redirect, 64 << 10, None);
            return;
        }
        let fw = src.firmware.clone();
        self.source = Some(src);
        match fw {
            Some(u) => self.fetch(
                u,
                Purpose::FirmwareHeader,
                firmware::MAX_IMAGE,
                Some(firmware::MAX_HEADER_LEN as u64),
            ),
            None => self.after_firmware(now),
        }
    }

    /// The step after the firmware: the configuration, or the end of a recovery cycle.
    fn after_firmware(&mut self, now: Instant) {
        if self.recovery {
            self.finish(now);
        } else {
            self.fetch_config();
        }
    }

    fn fetch_config(&mut self) {
        let url = self
            .source
            .as_ref()
            .map(|s| s.config.clone())
            .unwrap_or_default();
        self.fetch(url, Purpose::Configuration, MAX_CONFIG, None);
    }

    /// Resolves a companion URI: absolute, or relative to the configuration's directory
    /// (manual 3.2.3.1.2: `provisioning/speed_dial_uri=speed_dial_list.txt`).
    fn resolve(&self, uri: &str) -> String {
        if uri.contains("://") {
            return uri.to_string();
        }
        let base = self
            .source
            .as_ref()
            .map(|s| s.config.as_str())
            .unwrap_or("");
        match base.rfind('/') {
            Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => {
                format!("{}/{}", &base[..i], uri.trim_start_matches('/'))
            }
            _ => uri.to_string(),
        }
    }

    fn queue_companions(&mut self) {
        let s = self.settings.clone();
        let mut q = VecDeque::new();
        if !s.speed_dial_uri.is_empty() {
            q.push_back((Purpose::SpeedDial, self.resolve(&s.speed_dial_uri)));
        }
        if !s.ring_tone_uri.is_empty() {
            q.push_back((Purpose::RingTones, self.resolve(&s.ring_tone_uri)));
        }
        if !s.moh_url.is_empty() {
            q.push_back((Purpose::MusicOnHold, self.resolve(&s.moh_url)));
        }
        for (i, u) in s.ca_certificate_uris.iter().enumerate() {
            if !u.is_empty() {
                q.push_back((Purpose::CaCertificate(i as u8), self.resolve(u)));
            }
        }
        self.pending_files = q;
    }

    fn next_companion(&mut self, now: Instant) {
        match self.pending_files.pop_front() {
            Some((p, url)) => {
                let max = match p {
                    Purpose::CaCertificate(_) => MAX_CERT,
                    _ => MAX_COMPANION,
                };
                self.fetch(url, p, max, None)
            }
            None => self.finish(now),
        }
    }

    fn finish(&mut self, now: Instant) {
        self.step = Step::Idle;
        self.running = false;
        self.source = None;
        self.sources.clear();
        let ok = self.cycle_ok;
        if ok {
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
        }
        if let Some(reason) = self.reboot.take() {
            if ok || matches!(self.trigger, Trigger::CheckSync { reboot: true }) {
                self.actions.push_back(Action::Reboot { reason });
            }
        }
        self.next_check = None;
        let next_in = if ok {
            None
        } else {
            // Retry: 60 s doubling up to one hour, with jitter.
            let base = 60u64 << self.failures.saturating_sub(1).min(6);
            Some(Duration::from_secs(base.min(3600) + self.rng.below(30)))
        };
        if let Some(d) = next_in {
            self.next_check = Some(now + d);
        }
        self.report(Report::CycleDone { ok, next_in });
    }

    /// Plans the next periodic check from the local wall-clock time (seconds since the
    /// epoch in local time). Call after a cycle and whenever the clock was set.
    pub fn schedule(&mut self, now: Instant, local_epoch_secs: i64) -> Option<Instant> {
        if self.running || self.settings.method == Method::Disable {
            return None;
        }
        if self.next_check.is_some() && self.failures > 0 {
            return self.next_check; // a retry is pending
        }
        let secs_of_day = local_epoch_secs.rem_euclid(86_400) as u64;
        // 1970-01-01 was a Thursday (weekday 4 with Sunday = 0).
        let weekday = ((local_epoch_secs.div_euclid(86_400) + 4).rem_euclid(7)) as u64;
        let wait = match self.settings.period {
            Period::PowerUp => return None,
            Period::Hourly { hours } => hours as u64 * 3600,
            Period::Daily { minute_of_day } => {
                let at = minute_of_day as u64 * 60;
                if at > secs_of_day {
                    at - secs_of_day
                } else {
                    86_400 - secs_of_day + at
                }
            }
            Period::Weekly { day, minute_of_day } => {
                let at = day as u64 * 86_400 + minute_of_day as u64 * 60;
                let cur = weekday * 86_400 + secs_of_day;
                if at > cur {
                    at - cur
                } else {
                    7 * 86_400 - cur + at
                }
            }
        };
        // Jitter: a random 1..=random_provisioning_time seconds (table 3-42).
        let jitter = match self.settings.random_time {
            0 => 0,
            n => 1 + self.rng.below(n as u64),
        };
        let t = now + Duration::from_secs(wait + jitter);
        self.next_check = Some(t);
        Some(t)
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.running {
            None
        } else {
            self.next_check
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.next_check {
            if t <= now && !self.running {
                self.next_check = None;
                let trig = if self.failures > 0 {
                    Trigger::Retry
                } else {
                    Trigger::Scheduled
                };
                self.trigger(now, trig);
            }
        }
    }

    /// The result of a fetch the engine asked for.
    pub fn handle_fetch(&mut self, now: Instant, id: u64, result: Result<Vec<u8>, FetchError>) {
        let (purpose, url) = match &self.step {
            Step::Waiting {
                id: want,
                purpose,
                url,
            } if *want == id => (*purpose, url.clone()),
            _ => return,
        };
        self.step = Step::Idle;
        match (purpose, result) {
            (Purpose::Redirect, Ok(body)) => self.on_redirect(now, &url, &body),
            (Purpose::Redirect, Err(error)) => {
                self.error(ProvError::Fetch { url, error });
                self.next_source(now);
            }
            (Purpose::FirmwareHeader, Ok(b)) => self.on_fw_header(now, &url, &b),
            (Purpose::FirmwareHeader | Purpose::Firmware, Err(error)) => {
                // Missing firmware is normal in many deployments: report and go on with the
                // configuration, unless the server is unreachable altogether.
                let unreachable = matches!(
                    error.kind,
                    FetchErrorKind::Unreachable | FetchErrorKind::TimedOut
                );
                if error.kind == FetchErrorKind::NotFound {
                    self.report(Report::FirmwareSkipped {
                        reason: format!("{url}: not found"),
                    });
                } else {
                    self.error(ProvError::Fetch { url, error });
                }
                if unreachable {
                    self.next_source(now);
                } else {
                    self.after_firmware(now);
                }
            }
            (Purpose::Firmware, Ok(_)) => {
                // The body goes to the updater, not through here.
                self.error(ProvError::Update {
                    url,
                    detail: "firmware body answered as a plain fetch".into(),
                });
                self.after_firmware(now);
            }
            (Purpose::Configuration, Ok(b)) => self.on_config(now, &url, &b),
            (Purpose::Configuration, Err(error)) => {
                let try_next = matches!(
                    error.kind,
                    FetchErrorKind::Unreachable
                        | FetchErrorKind::NotFound
                        | FetchErrorKind::TimedOut
                );
                self.error(ProvError::Fetch { url, error });
                if try_next && !self.sources.is_empty() {
                    self.next_source(now);
                } else {
                    self.finish(now);
                }
            }
            (p, Ok(data)) => {
                self.on_companion(p, &url, data);
                self.next_companion(now);
            }
            (_, Err(error)) => {
                self.error(ProvError::Fetch { url, error });
                self.next_companion(now);
            }
        }
    }

    fn on_redirect(&mut self, now: Instant, url: &str, body: &[u8]) {
        let text = String::from_utf8_lossy(body);
        let target = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        match ProvUrl::parse(target) {
            Ok(u) => {
                let t = self.target();
                let src = Source {
                    label: format!("redirected to {u}"),
                    firmware: Some(u.firmware_url(&t)),
                    config: u.config_url(&t),
                };
                self.sources.push_front(src);
                self.source = None;
                self.next_source(now);
            }
            Err(error) => {
                self.error(ProvError::BadUrl {
                    url: format!("{url} -> {target}"),
                    error,
                });
                self.next_source(now);
            }
        }
    }

    /// Manual 3.5.1 step 5: "checks whether new firmware is available by checking the
    /// firmware version" - from the header alone; the updater then checks signature,
    /// anti-rollback and downgrade policy before the body is downloaded.
    fn on_fw_header(&mut self, now: Instant, url: &str, b: &[u8]) {
        match firmware::Header::parse(b) {
            Ok(h) if !h.supports(self.id.model) => {
                self.error(ProvError::Firmware {
                    url: url.to_string(),
                    error: FirmwareError::WrongModel(self.id.model),
                });
                self.after_firmware(now);
            }
            Ok(h) if !self.recovery && h.version == self.id.firmware_version => {
                self.report(Report::FirmwareUpToDate { version: h.version });
                self.after_firmware(now);
            }
            Ok(h) => {
                let id = self.next_id;
                self.next_id += 1;
                self.step = Step::Waiting {
                    id,
                    purpose: Purpose::Firmware,
                    url: url.to_string(),
                };
                self.actions.push_back(Action::InstallFirmware {
                    id,
                    url: url.to_string(),
                    version: h.version.clone(),
                    header: h.emit(),
                    image_len: h.image_len(),
                });
            }
            Err(error) => {
                self.error(ProvError::Firmware {
                    url: url.to_string(),
                    error,
                });
                self.after_firmware(now);
            }
        }
    }

    /// The result of an [`Action::InstallFirmware`].
    pub fn handle_firmware(&mut self, now: Instant, id: u64, outcome: FirmwareOutcome) {
        let url = match &self.step {
            Step::Waiting {
                id: want,
                purpose: Purpose::Firmware,
                url,
            } if *want == id => url.clone(),
            _ => return,
        };
        self.step = Step::Idle;
        match outcome {
            FirmwareOutcome::Installed { version } => {
                self.id.firmware_version = version.clone();
                self.reboot = Some(format!("firmware {version}"));
            }
            FirmwareOutcome::AlreadyRunning { version } => {
                self.report(Report::FirmwareUpToDate { version })
            }
            FirmwareOutcome::Rejected(error) => self.error(ProvError::Firmware { url, error }),
            FirmwareOutcome::FetchFailed(error) => self.error(ProvError::Fetch { url, error }),
            FirmwareOutcome::Failed(detail) => self.error(ProvError::Update { url, detail }),
        }
        self.after_firmware(now);
    }

    fn on_config(&mut self, now: Instant, url: &str, raw: &[u8]) {
        match self.check_config(url, raw) {
            Ok((merged, changed)) => {
                if changed.is_empty() {
                    self.report(Report::ConfigUnchanged);
                } else {
                    if changed.iter().any(|k| needs_reboot(k)) && self.reboot.is_none() {
                        self.reboot = Some("configuration changed".into());
                    }
                    let text = merged.to_string();
                    self.current = merged;
                    let (cfg, _) = Config::from_document_lenient(&self.current, self.id.model);
                    self.settings = Settings::from_config(&cfg);
                    self.report(Report::ConfigApplied {
                        changed: changed.len(),
                    });
                    self.actions
                        .push_back(Action::ApplyConfig { text, changed });
                }
                self.queue_companions();
                self.next_companion(now);
            }
            Err(e) => {
                self.error(e);
                self.finish(now);
            }
        }
    }

    /// Decrypts, parses, validates and model-checks a fetched configuration, and merges it onto
    /// the current one. Nothing is changed on error.
    fn check_config(
        &self,
        url: &str,
        raw: &[u8],
    ) -> Result<(Document<'static>, Vec<String>), ProvError> {
        let encrypted = raw.starts_with(b"Salted__")
            || crypto::is_aead(raw)
            || url.to_ascii_lowercase().ends_with(".cfx");
        let text = if encrypted {
            let keys = self.id.keys.as_ref().ok_or_else(|| ProvError::Decrypt {
                url: url.to_string(),
                detail: "no decryption key configured".into(),
            })?;
            crypto::decrypt_config(raw, keys).map_err(|e| ProvError::Decrypt {
                url: url.to_string(),
                detail: e.to_string(),
            })?
        } else {
            let t = std::str::from_utf8(raw).map_err(|_| ProvError::NotConfig {
                url: url.to_string(),
                detail: "not UTF-8 text".into(),
            })?;
            if t.contains('\0') {
                return Err(ProvError::NotConfig {
                    url: url.to_string(),
                    detail: "binary data".into(),
                });
            }
            t.to_string()
        };
        let doc = Document::parse(&text).map_err(|e| ProvError::NotConfig {
            url: url.to_string(),
            detail: e.to_string(),
        })?;
        if delta::check_model(&doc, self.id.model).is_err() {
            return Err(ProvError::WrongModel {
                url: url.to_string(),
                model: self.id.model,
            });
        }
        let errors: Vec<_> =
            validate::validate(&doc, &validate::Options::for_model(Some(self.id.model)))
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
        if let Some(first) = errors.first() {
            return Err(ProvError::Invalid {
                url: url.to_string(),
                count: errors.len(),
                first: first.to_string(),
            });
        }
        let merged =
            delta::merge(&self.current, &doc, self.id.model).map_err(|e| ProvError::Invalid {
                url: url.to_string(),
                count: 1,
                first: e.to_string(),
            })?;
        let changed: Vec<String> = doc
            .entries()
            .filter(|e| self.current.get(e.key) != Some(e.value))
            .map(|e| e.key.to_string())
            .collect();
        Ok((merged, changed))
    }

    fn on_companion(&mut self, p: Purpose, url: &str, data: Vec<u8>) {
        let (kind, what, check): (FileKind, &'static str, Result<(), String>) = match p {
            Purpose::SpeedDial => (
                FileKind::SpeedDial,
                "speed dial list",
                ac_cfg::companion::parse_speed_dials(&data)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            ),
            Purpose::RingTones => (
                FileKind::RingTones,
                "ring tone archive",
                check_archive(&data),
            ),
            Purpose::MusicOnHold => (FileKind::MusicOnHold, "music on hold", check_audio(&data)),
            Purpose::CaCertificate(i) => (
                FileKind::CaCertificate(i),
                "CA certificate",
                check_certificate(&data),
            ),
            _ => return,
        };
        match check {
            Ok(()) => self.actions.push_back(Action::StoreFile { kind, data }),
            Err(detail) => self.error(ProvError::BadFile {
                what,
                url: url.to_string(),
                detail,
            }),
        }
    }
}

/// A ring tone archive must be a zip or a gzip'd tar (manual 3.2.7: "tgz"/"zip").
fn check_archive(d: &[u8]) -> Result<(), String> {
    if d.starts_with(b"PK\x03\x04") || d.starts_with(&[0x1f, 0x8b]) {
        Ok(())
    } else {
        Err("not a zip or tgz archive".into())
    }
}

/// Music on hold: a WAV (RIFF) file.
fn check_audio(d: &[u8]) -> Result<(), String> {
    if d.len() >= 12 && &d[..4] == b"RIFF" && &d[8..12] == b"WAVE" {
        Ok(())
    } else {
        Err("not a WAV file".into())
    }
}

/// A CA certificate: PEM with a CERTIFICATE block, or DER (a SEQUENCE).
fn check_certificate(d: &[u8]) -> Result<(), String> {
    if d.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") || d.first() == Some(&0x30) {
        Ok(())
    } else {
        Err("not a PEM or DER certificate".into())
    }
}

/// Whether a URL is one the driver can fetch.
pub fn scheme_of(url: &str) -> Option<Scheme> {
    ProvUrl::parse(url).ok().map(|u| u.scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A signed test image.
    fn build_image(version: &str, models: &[Model], body: &[u8]) -> Vec<u8> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        crate::firmware::build(
            &key,
            &crate::firmware::BuildSpec {
                version,
                models,
                security_counter: 1,
                build_time: 0,
                sections: &[("rootfs", body)],
            },
        )
        .unwrap()
    }

    const MAC: [u8; 6] = [0x00, 0x90, 0x8f, 0x01, 0x02, 0x03];

    fn identity(model: Model, keys: Option<crypto::Keys>) -> Identity {
        Identity {
            model,
            mac: MAC,
            firmware_version: "3.4.0".into(),
            keys,
        }
    }

    fn engine(model: Model, base: &str) -> Engine {
        let doc = Document::parse(base).unwrap().into_owned();
        Engine::new(
            identity(model, Some(crypto::Keys::passphrase("k"))),
            doc,
            42,
        )
    }

    /// Runs the engine until it has no more actions, answering fetches from `files`.
    fn drive(e: &mut Engine, files: &HashMap<String, Result<Vec<u8>, FetchError>>) -> Vec<Action> {
        let now = Instant::now();
        let mut out = Vec::new();
        while let Some(a) = e.poll_action() {
            if let Action::Fetch(r) = &a {
                let res = files.get(&r.url).cloned().unwrap_or_else(|| {
                    Err(FetchError::new(FetchErrorKind::NotFound, r.url.clone()))
                });
                let res = res.map(|mut b| {
                    if let Some(n) = r.prefix_only {
                        b.truncate(n as usize);
                    }
                    b
                });
                out.push(a.clone());
                e.handle_fetch(now, r.id, res);
                continue;
            }
            if let Action::InstallFirmware { id, version, .. } = &a {
                let (id, version) = (*id, version.clone());
                out.push(a);
                e.handle_firmware(now, id, FirmwareOutcome::Installed { version });
                continue;
            }
            out.push(a);
        }
        out
    }

    fn lease(url: &str) -> LeaseInfo {
        LeaseInfo {
            provisioning_url: Some(url.into()),
            ..LeaseInfo::default()
        }
    }

    fn fetched(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Fetch(r) => Some(r.url.clone()),
                _ => None,
            })
            .collect()
    }

    fn errors(actions: &[Action]) -> Vec<ProvError> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Report(Report::Error(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn full_cycle_option_160() {
        let mut e = engine(Model::Hd420, "");
        e.handle_lease(lease("http://10.0.0.1/fw/;<MAC>.cfg"));
        let img = build_image("3.4.6", &[Model::Hd420], b"new firmware");
        let mut files = HashMap::new();
        files.insert("http://10.0.0.1/fw/420HD.img".to_string(), Ok(img.clone()));
        files.insert(
            "http://10.0.0.1/fw/00908f010203.cfg".to_string(),
            Ok(b"network/lan_type=STATIC\nprovisioning/speed_dial_uri=sd.txt\n".to_vec()),
        );
        files.insert(
            "http://10.0.0.1/fw/sd.txt".to_string(),
            Ok(b"1,1001,0\n".to_vec()),
        );
        e.trigger(Instant::now(), Trigger::PowerUp);
        let a = drive(&mut e, &files);
        assert_eq!(
            fetched(&a),
            [
                "http://10.0.0.1/fw/420HD.img",
                "http://10.0.0.1/fw/00908f010203.cfg",
                "http://10.0.0.1/fw/sd.txt"
            ]
        );
        assert!(errors(&a).is_empty(), "{:?}", errors(&a));
        assert!(a
            .iter()
            .any(|x| matches!(x, Action::InstallFirmware { version, .. } if version == "3.4.6")));
        assert!(a.iter().any(|x| matches!(x, Action::ApplyConfig { changed, .. } if changed.contains(&"network/lan_type".to_string()))));
        assert!(a.iter().any(|x| matches!(
            x,
            Action::StoreFile {
                kind: FileKind::SpeedDial,
                ..
            }
        )));
        assert!(matches!(
            a.last(),
            Some(Action::Report(Report::CycleDone { ok: true, .. }))
        ));
        assert!(a.iter().any(|x| matches!(x, Action::Reboot { .. })));
        assert_eq!(e.current().get("network/lan_type"), Some("STATIC"));
    }

    #[test]
    fn same_firmware_is_not_downloaded_and_unchanged_config_is_quiet() {
        let mut e = engine(Model::Hd440, "network/lan_type=STATIC\n");
        e.handle_lease(lease("tftp://10.0.0.1"));
        let mut files = HashMap::new();
        files.insert(
            "tftp://10.0.0.1/440HD.img".to_string(),
            Ok(build_image("3.4.0", &[Model::Hd440], b"x")),
        );
        files.insert(
            "tftp://10.0.0.1/00908f010203.cfg".to_string(),
            Ok(b"network/lan_type=STATIC\n".to_vec()),
        );
        e.trigger(Instant::now(), Trigger::CheckNow);
        let a = drive(&mut e, &files);
        assert_eq!(fetched(&a).len(), 2);
        assert!(a.contains(&Action::Report(Report::FirmwareUpToDate {
            version: "3.4.0".into()
        })));
        assert!(a.contains(&Action::Report(Report::ConfigUnchanged)));
        assert!(!a
            .iter()
            .any(|x| matches!(x, Action::Reboot { .. } | Action::ApplyConfig { .. })));
    }

    #[test]
    fn bad_files_keep_the_last_good_configuration() {
        let base = "network/lan_type=STATIC\n";
        type Case = (&'static str, Vec<u8>, fn(&ProvError) -> bool);
        let bad: Vec<Case> = vec![
            (
                "wrong model",
                b"# model: 450HD\nnetwork/lan_type=DHCP\n".to_vec(),
                |e| matches!(e, ProvError::WrongModel { .. }),
            ),
            ("invalid", b"network/lan_type=NOPE\n".to_vec(), |e| {
                matches!(e, ProvError::Invalid { .. })
            }),
            ("binary", vec![0u8, 1, 2, 0xff, 0xfe], |e| {
                matches!(e, ProvError::NotConfig { .. })
            }),
            (
                "corrupt cfx",
                b"Salted__12345678garbagegarbage!!".to_vec(),
                |e| matches!(e, ProvError::Decrypt { .. }),
            ),
        ];
        for (name, body, is) in bad {
            let mut e = engine(Model::Hd420, base);
            e.handle_lease(lease("http://10.0.0.1/;x.cfg"));
            let mut files = HashMap::new();
            files.insert("http://10.0.0.1/x.cfg".to_string(), Ok(body));
            let now = Instant::now();
            e.trigger(now, Trigger::PowerUp);
            let a = drive(&mut e, &files);
            let errs = errors(&a);
            assert!(errs.iter().any(is), "{name}: {errs:?}");
            assert!(
                !a.iter().any(|x| matches!(x, Action::ApplyConfig { .. })),
                "{name}"
            );
            assert_eq!(e.current().to_string(), base, "{name}");
            // A failed cycle is retried after 60-90 s.
            let t = e.poll_timeout().unwrap();
            assert!(
                t >= now + Duration::from_secs(60) && t <= now + Duration::from_secs(90),
                "{name}"
            );
        }
    }

    #[test]
    fn recovery_mode_uses_only_66_67_and_installs_whatever_version() {
        let id = identity(Model::Hd420, None);
        let mut e = Engine::recovery(id.clone(), 1);
        e.handle_lease(LeaseInfo {
            tftp_server: Some("10.0.0.9".into()),
            bootfile: Some("420HD_2.0.9.img".into()),
            provisioning_url: Some("http://ignored/".into()),
            ..LeaseInfo::default()
        });
        let mut files = HashMap::new();
        // Same version as the identity claims: recovery installs it anyway.
        files.insert(
            "tftp://10.0.0.9/420HD_2.0.9.img".to_string(),
            Ok(build_image("3.4.0", &[Model::Hd420], b"recovery")),
        );
        e.trigger(Instant::now(), Trigger::PowerUp);
        let a = drive(&mut e, &files);
        assert_eq!(fetched(&a), ["tftp://10.0.0.9/420HD_2.0.9.img"]);
        assert!(a
            .iter()
            .any(|x| matches!(x, Action::InstallFirmware { version, .. } if version == "3.4.0")));
        assert!(a.iter().any(|x| matches!(x, Action::Reboot { .. })));
        assert!(!a.iter().any(|x| matches!(x, Action::ApplyConfig { .. })));
        // No option 66: nothing to recover from, retried later.
        let mut e = Engine::recovery(id, 1);
        e.handle_lease(LeaseInfo::default());
        e.trigger(Instant::now(), Trigger::PowerUp);
        let a = drive(&mut e, &HashMap::new());
        assert_eq!(errors(&a), [ProvError::NoSource(66)]);
        assert!(matches!(
            a.last(),
            Some(Action::Report(Report::CycleDone { ok: false, .. }))
        ));
    }

    #[test]
    fn refused_firmware_keeps_going_with_the_configuration() {
        let mut e = engine(Model::Hd420, "");
        e.handle_lease(lease("http://10.0.0.1/fw/;<MAC>.cfg"));
        e.trigger(Instant::now(), Trigger::PowerUp);
        let now = Instant::now();
        let Some(Action::Report(_)) = e.poll_action() else {
            panic!("cycle start")
        };
        let Some(Action::Fetch(r)) = e.poll_action() else {
            panic!("header fetch")
        };
        assert_eq!(r.prefix_only, Some(firmware::MAX_HEADER_LEN as u64));
        e.handle_fetch(now, r.id, Ok(build_image("3.4.6", &[Model::Hd420], b"x")));
        let Some(Action::InstallFirmware { id, .. }) = e.poll_action() else {
            panic!("install")
        };
        e.handle_firmware(now, id, FirmwareOutcome::Rejected(FirmwareError::Signature));
        let a = drive(&mut e, &HashMap::new());
        assert!(matches!(
            &errors(&a)[0],
            ProvError::Firmware {
                error: FirmwareError::Signature,
                ..
            }
        ));
        assert_eq!(fetched(&a)[0], "http://10.0.0.1/fw/00908f010203.cfg");
        assert!(!a.iter().any(|x| matches!(x, Action::Reboot { .. })));
    }

    #[test]
    fn options_66_67_then_static_dns_then_redirect() {
        let mut e = engine(Model::Hd420, "provisioning/url_option_value=0\n");
        e.handle_lease(LeaseInfo {
            tftp_server: Some("10.0.0.9".into()),
            bootfile: Some("420HD_2.0.9.img".into()),
            provisioning_url: Some("http://ignored/".into()),
            ..LeaseInfo::default()
        });
        e.trigger(Instant::now(), Trigger::PowerUp);
        let a = drive(&mut e, &HashMap::new());
        // 66/67 win over the ignored option 160; when their files are missing, the factory
        // redirect server is the last resort.
        assert_eq!(
            fetched(&a),
            [
                "tftp://10.0.0.9/420HD_2.0.9.img",
                "tftp://10.0.0.9/00908f010203.cfg",
                "https://redirect.audiocodes.com/00908f010203"
            ]
        );
        // Nothing from DHCP: static DNS record, then the redirect server, which redirects.
        let mut e = engine(
            Model::Hd430,
            "provisioning/redirect_server_url=https://redirect.example\n",
        );
        e.handle_lease(LeaseInfo::default());
        let mut files = HashMap::new();
        files.insert(
            "https://redirect.example/00908f010203".to_string(),
            Ok(b"https://prov.example/p/\n".to_vec()),
        );
        files.insert(
            "https://prov.example/p/00908f010203.cfg".to_string(),
            Ok(b"network/lan_type=DHCP\n".to_vec()),
        );
        e.trigger(Instant::now(), Trigger::PowerUp);
        let a = drive(&mut e, &files);
        assert_eq!(
            fetched(&a),
            [
                "tftp://ProvisioningServer/430HD/430HD.img",
                "tftp://ProvisioningServer/430HD/00908f010203.cfg",
                "https://redirect.example/00908f010203",
                "https://prov.example/p/430HD.img",
                "https://prov.example/p/00908f010203.cfg",
            ]
        );
        assert!(matches!(
            a.last(),
            Some(Action::Report(Report::CycleDone { ok: true, .. }))
        ));
    }

    #[test]
    fn static_method_and_disable() {
        let mut e = engine(
            Model::Hd450,
            "provisioning/method=STATIC\nprovisioning/firmware/url=ftp://h/fw.img\nprovisioning/configuration/url=ftp://h/c/\n",
        );
        e.trigger(Instant::now(), Trigger::CheckNow);
        let a = drive(&mut e, &HashMap::new());
        assert_eq!(
            fetched(&a),
            ["ftp://h/fw.img", "ftp://h/c/00908f010203.cfg"]
        );
        let mut e = engine(Model::Hd450, "provisioning/method=DISABLE\n");
        e.trigger(Instant::now(), Trigger::CheckNow);
        assert_eq!(
            drive(&mut e, &HashMap::new()),
            [Action::Report(Report::Disabled)]
        );
    }

    #[test]
    fn schedule_daily_weekly_hourly_with_jitter() {
        let now = Instant::now();
        // 1970-01-01 23:00 local (a Thursday).
        let local = 23 * 3600;
        let mut e = engine(
            Model::Hd420,
            "provisioning/period/type=DAILY\nprovisioning/period/daily/time=00:30\n",
        );
        let t = e.schedule(now, local).unwrap();
        let d = t - now;
        assert!(
            d >= Duration::from_secs(5401) && d <= Duration::from_secs(5400 + 120),
            "{d:?}"
        );
        let mut e = engine(
            Model::Hd420,
            "provisioning/period/type=WEEKLY\nprovisioning/period/weekly/day=SATURDAY\nprovisioning/period/weekly/time=01:00\nprovisioning/random_provisioning_time=0\n",
        );
        let d = e.schedule(now, local).unwrap() - now;
        assert_eq!(d, Duration::from_secs(2 * 3600 + 86_400));
        let mut e = engine(
            Model::Hd420,
            "provisioning/period/type=HOURLY\nprovisioning/period/hourly/hours_interval=6\nprovisioning/random_provisioning_time=0\n",
        );
        assert_eq!(
            e.schedule(now, local).unwrap() - now,
            Duration::from_secs(6 * 3600)
        );
        let mut e = engine(Model::Hd420, "provisioning/period/type=POWERUP\n");
        assert_eq!(e.schedule(now, local), None);
    }
}
