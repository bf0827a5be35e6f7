//! SNTP client (RFC 4330; packet format of RFC 5905 7.3), sans-IO, with the server choice
//! of manual 3.5.2.2-3.5.2.3: DHCP option 42 (else 4) when
//! `network/lan/dhcp/ntp/server_list/enabled`, else `system/ntp/primary_server_address` /
//! `secondary_server_address`; the primary is asked first and the secondary when it does
//! not answer; a new synchronisation every `system/ntp/sync_time` (days + hours).
//!
//! The core never reads a clock: its result maps an `Instant` (the driver's monotonic
//! clock) to UTC, so the phone's time is `utc_at(now)`.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ac_cfg::Config;

use crate::vlan::schema_default;

/// NTP's port (RFC 5905 7.2).
pub const PORT: u16 = 123;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
pub const UNIX_EPOCH_NTP: u64 = 2_208_988_800;
/// Largest datagram we accept (header, extension fields and MAC).
pub const MAX_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtpError {
    #[error("NTP packet too short ({0} bytes, 48 needed)")]
    TooShort(usize),
    #[error("NTP packet too long ({0} bytes)")]
    TooLong(usize),
}

/// A 64-bit NTP timestamp (RFC 5905 6): seconds and 2^-32 fractions since the era start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Unix time in nanoseconds. RFC 4330 3: a seconds value with the top bit clear is in
    /// era 1 (2036-2104), so the 1968-2104 window is covered.
    pub fn to_unix_nanos(self) -> i128 {
        let secs = u64::from(self.seconds());
        let secs = if secs & 0x8000_0000 == 0 {
            secs + (1 << 32)
        } else {
            secs
        };
        let frac = u128::from(self.0 & 0xffff_ffff);
        let nanos = ((frac * 1_000_000_000) >> 32) as i128;
        (i128::from(secs) - i128::from(UNIX_EPOCH_NTP)) * 1_000_000_000 + nanos
    }

    /// From Unix nanoseconds (1968-2104).
    pub fn from_unix_nanos(n: i128) -> Timestamp {
        let total = n + i128::from(UNIX_EPOCH_NTP) * 1_000_000_000;
        let secs = total.div_euclid(1_000_000_000);
        let nanos = total.rem_euclid(1_000_000_000) as u128;
        let frac = ((nanos << 32) / 1_000_000_000) as u64;
        Timestamp(((secs as u64 & 0xffff_ffff) << 32) | frac)
    }
}

/// An NTP packet header (RFC 5905 figure 8); extension fields and MAC are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packet {
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    pub root_delay: u32,
    pub root_dispersion: u32,
    pub reference_id: [u8; 4],
    pub reference: Timestamp,
    pub origin: Timestamp,
    pub receive: Timestamp,
    pub transmit: Timestamp,
}

pub const MODE_CLIENT: u8 = 3;
pub const MODE_SERVER: u8 = 4;

fn ts(b: &[u8]) -> Timestamp {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    Timestamp(u64::from_be_bytes(a))
}

impl Packet {
    pub fn parse(b: &[u8]) -> Result<Packet, NtpError> {
        if b.len() < 48 {
            return Err(NtpError::TooShort(b.len()));
        }
        if b.len() > MAX_LEN {
            return Err(NtpError::TooLong(b.len()));
        }
        Ok(Packet {
            leap: b[0] >> 6,
            version: (b[0] >> 3) & 7,
            mode: b[0] & 7,
            stratum: b[1],
            poll: b[2] as i8,
            precision: b[3] as i8,
            root_delay: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            root_dispersion: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            reference_id: [b[12], b[13], b[14], b[15]],
            reference: ts(&b[16..]),
            origin: ts(&b[24..]),
            receive: ts(&b[32..]),
            transmit: ts(&b[40..]),
        })
    }

    pub fn emit(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0] = ((self.leap & 3) << 6) | ((self.version & 7) << 3) | (self.mode & 7);
        b[1] = self.stratum;
        b[2] = self.poll as u8;
        b[3] = self.precision as u8;
        b[4..8].copy_from_slice(&self.root_delay.to_be_bytes());
        b[8..12].copy_from_slice(&self.root_dispersion.to_be_bytes());
        b[12..16].copy_from_slice(&self.reference_id);
        b[16..24].copy_from_slice(&self.reference.0.to_be_bytes());
        b[24..32].copy_from_slice(&self.origin.0.to_be_bytes());
        b[32..40].copy_from_slice(&self.receive.0.to_be_bytes());
        b[40..48].copy_from_slice(&self.transmit.0.to_be_bytes());
        b
    }
}

/// Where the server list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSource {
    /// DHCP option 42 (or 4).
    Dhcp,
    /// `system/ntp/*_server_address`.
    Config,
    /// `_ntp._udp` SRV records.
    Srv,
}

/// The NTP parameters of tables 3-44 / 3-45.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtpSettings {
    pub enabled: bool,
    pub primary: String,
    pub secondary: String,
    pub sync_interval: Duration,
    pub prefer_dhcp_servers: bool,
}

impl NtpSettings {
    pub fn from_config(c: &Config) -> NtpSettings {
        let b = |k: &str| c.get_bool(k).unwrap_or_else(|| schema_default(k) == "1");
        let i = |k: &str| {
            c.get_int(k)
                .or_else(|| schema_default(k).parse().ok())
                .unwrap_or(0)
        };
        let s = |k: &str| {
            c.get_str(k)
                .unwrap_or_else(|| schema_default(k))
                .to_string()
        };
        let hours =
            i("system/ntp/sync_time/days").max(0) * 24 + i("system/ntp/sync_time/hours").max(0);
        NtpSettings {
            enabled: b("system/ntp/enabled"),
            primary: s("system/ntp/primary_server_address"),
            secondary: s("system/ntp/secondary_server_address"),
            // A zero interval would poll continuously; one hour is the floor.
            sync_interval: Duration::from_secs(hours.max(1) as u64 * 3600),
            prefer_dhcp_servers: b("network/lan/dhcp/ntp/server_list/enabled"),
        }
    }

    /// The servers to ask, in order, and where they came from: DHCP's (42, else 4) when
    /// preferred and present (table 3-45), else the configured primary and secondary, else
    /// the `_ntp._udp` SRV targets (manual 8.5), else DHCP's even when not preferred.
    pub fn servers(
        &self,
        dhcp: &[std::net::Ipv4Addr],
        srv: &[(String, u16)],
    ) -> (Vec<(String, u16)>, Option<ServerSource>) {
        let from_dhcp: Vec<(String, u16)> = dhcp.iter().map(|a| (a.to_string(), PORT)).collect();
        if self.prefer_dhcp_servers && !from_dhcp.is_empty() {
            return (from_dhcp, Some(ServerSource::Dhcp));
        }
        let cfg: Vec<(String, u16)> = [&self.primary, &self.secondary]
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| (s.trim().to_string(), PORT))
            .collect();
        if !cfg.is_empty() {
            return (cfg, Some(ServerSource::Config));
        }
        if !srv.is_empty() {
            return (srv.to_vec(), Some(ServerSource::Srv));
        }
        if !from_dhcp.is_empty() {
            return (from_dhcp, Some(ServerSource::Dhcp));
        }
        (Vec::new(), None)
    }
}

/// Client tuning (not configuration parameters of the manual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTuning {
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// Requests per server before moving on to the next.
    pub tries: u32,
    /// Wait after every server failed, doubled up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ClientTuning {
    fn default() -> Self {
        ClientTuning {
            timeout: Duration::from_secs(2),
            tries: 2,
            backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// One time sample: at `at` (the driver's clock) UTC was `utc_unix_nanos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sync {
    pub server: SocketAddr,
    pub at: Instant,
    pub utc_unix_nanos: i128,
    /// Round-trip delay (RFC 4330 5).
    pub delay: Duration,
    pub stratum: u8,
}

impl Sync {
    /// UTC (Unix nanoseconds) at `now`.
    pub fn utc_at(&self, now: Instant) -> i128 {
        if now >= self.at {
            self.utc_unix_nanos + (now - self.at).as_nanos() as i128
        } else {
            self.utc_unix_nanos - (self.at - now).as_nanos() as i128
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtpEvent {
    Synced(Sync),
    /// A server did not answer validly after all tries.
    ServerFailed(SocketAddr),
    /// No server answered; the next round is at the given time.
    AllFailed {
        retry_at: Instant,
    },
}

/// Why a reply was dropped (counted, never fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Malformed,
    NotExpected,
    WrongSource,
    BadOrigin,
    KissOfDeath,
    Unsynchronized,
    BadMode,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    idx: usize,
    sent_at: Instant,
    nonce: Timestamp,
    deadline: Instant,
    tries: u32,
}

/// The SNTP client.
#[derive(Debug)]
pub struct SntpClient {
    servers: Vec<SocketAddr>,
    tuning: ClientTuning,
    interval: Duration,
    pending: Option<Pending>,
    next_round: Option<Instant>,
    backoff: Duration,
    transmit: VecDeque<(SocketAddr, [u8; 48])>,
    events: VecDeque<NtpEvent>,
    last: Option<Sync>,
    rng: u64,
    drops: Vec<Dropped>,
}

impl SntpClient {
    /// A client asking `servers` in order (primary first), starting now.
    pub fn new(
        servers: Vec<SocketAddr>,
        interval: Duration,
        tuning: ClientTuning,
        seed: u64,
        now: Instant,
    ) -> SntpClient {
        SntpClient {
            servers,
            tuning,
            interval,
            pending: None,
            next_round: Some(now),
            backoff: tuning.backoff,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last: None,
            rng: seed | 1,
            drops: Vec::new(),
        }
    }

    pub fn last_sync(&self) -> Option<&Sync> {
        self.last.as_ref()
    }

    /// Replies dropped, in order.
    pub fn drops(&self) -> &[Dropped] {
        &self.drops
    }

    fn nonce(&mut self) -> Timestamp {
        // xorshift64*: the transmit timestamp is a nonce matched against the reply's origin
        // timestamp (RFC 4330 5 allows any value; a random one hides the local clock).
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        Timestamp(self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1)
    }

    fn send(&mut self, now: Instant, idx: usize, tries: u32) {
        let Some(&to) = self.servers.get(idx) else {
            return;
        };
        let nonce = self.nonce();
        let p = Packet {
            version: 4,
            mode: MODE_CLIENT,
            transmit: nonce,
            ..Packet::default()
        };
        self.transmit.push_back((to, p.emit()));
        self.pending = Some(Pending {
            idx,
            sent_at: now,
            nonce,
            deadline: now + self.tuning.timeout,
            tries,
        });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = self.pending {
            if now >= p.deadline {
                if p.tries < self.tuning.tries {
                    self.send(now, p.idx, p.tries + 1);
                } else {
                    self.events
                        .push_back(NtpEvent::ServerFailed(self.servers[p.idx]));
                    if p.idx + 1 < self.servers.len() {
                        self.send(now, p.idx + 1, 1);
                    } else {
                        self.pending = None;
                        let retry_at = now + self.backoff;
                        self.backoff = (self.backoff * 2).min(self.tuning.max_backoff);
                        self.next_round = Some(retry_at);
                        self.events.push_back(NtpEvent::AllFailed { retry_at });
                    }
                }
            }
            return;
        }
        if self.next_round.is_some_and(|t| now >= t) {
            self.next_round = None;
            if self.servers.is_empty() {
                return;
            }
            self.send(now, 0, 1);
        }
    }

    /// A datagram from `from`.
    pub fn handle_input(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let drop = |s: &mut Self, d| s.drops.push(d);
        let Some(p) = self.pending else {
            return drop(self, Dropped::NotExpected);
        };
        if !same_peer(from, self.servers[p.idx]) {
            return drop(self, Dropped::WrongSource);
        }
        let Ok(r) = Packet::parse(datagram) else {
            return drop(self, Dropped::Malformed);
        };
        // RFC 4330 5: a server reply has mode 4, its originate timestamp equals our transmit
        // timestamp, and a non-zero transmit timestamp.
        if r.mode != MODE_SERVER {
            return drop(self, Dropped::BadMode);
        }
        if r.origin != p.nonce || r.transmit.0 == 0 {
            return drop(self, Dropped::BadOrigin);
        }
        // RFC 4330 5 / 8: stratum 0 is a kiss-o'-death; the client MUST stop sending to that
        // server, so it is treated as a failed server.
        if r.stratum == 0 {
            drop(self, Dropped::KissOfDeath);
            if let Some(p) = self.pending.as_mut() {
                p.tries = self.tuning.tries;
                p.deadline = now;
            }
            self.handle_timeout(now);
            return;
        }
        // Leap indicator 3: the server's clock is not synchronised (RFC 5905 7.3).
        if r.leap == 3 || r.stratum > 15 {
            return drop(self, Dropped::Unsynchronized);
        }
        let rtt = now.saturating_duration_since(p.sent_at);
        let t2 = r.receive.to_unix_nanos();
        let t3 = r.transmit.to_unix_nanos();
        let server_time = t3.max(t2);
        // delay = (T4 - T1) - (T3 - T2); the server's time at T4 is T3 + delay / 2.
        let hold = (t3 - t2).max(0);
        let delay_ns = (rtt.as_nanos() as i128 - hold).max(0);
        let s = Sync {
            server: from,
            at: now,
            utc_unix_nanos: server_time + delay_ns / 2,
            delay: Duration::from_nanos(delay_ns.min(i128::from(u64::MAX)) as u64),
            stratum: r.stratum,
        };
        self.pending = None;
        self.last = Some(s);
        self.backoff = self.tuning.backoff;
        self.next_round = Some(now + self.interval);
        self.events.push_back(NtpEvent::Synced(s));
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, [u8; 48])> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<NtpEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.pending {
            Some(p) => Some(p.deadline),
            None => self.next_round,
        }
    }
}

fn same_peer(a: SocketAddr, b: SocketAddr) -> bool {
    let norm = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    norm(a.ip()) == norm(b.ip()) && a.port() == b.port()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], PORT))
    }

    /// A server answering `req` with UTC = `utc_ns`, holding it for `hold` ns.
    fn answer(req: &[u8], utc_ns: i128, hold: i128, stratum: u8, leap: u8) -> [u8; 48] {
        let q = Packet::parse(req).unwrap();
        Packet {
            leap,
            version: 4,
            mode: MODE_SERVER,
            stratum,
            origin: q.transmit,
            receive: Timestamp::from_unix_nanos(utc_ns),
            transmit: Timestamp::from_unix_nanos(utc_ns + hold),
            reference_id: *b"LOCL",
            ..Packet::default()
        }
        .emit()
    }

    #[test]
    fn timestamps() {
        // 2026-01-01T00:00:00Z
        let n: i128 = 1_767_225_600 * 1_000_000_000 + 500_000_000;
        let t = Timestamp::from_unix_nanos(n);
        assert!((t.to_unix_nanos() - n).abs() < 2);
        // Era 1: 2040 (NTP seconds wrapped past 2^32 in 2036).
        let n: i128 = 2_208_988_800 * 1_000_000_000;
        let t = Timestamp::from_unix_nanos(n);
        assert!(t.seconds() < 0x8000_0000);
        assert_eq!(t.to_unix_nanos(), n);
    }

    #[test]
    fn fails_over_to_secondary_with_virtual_clock() {
        let t0 = Instant::now();
        let mut c = SntpClient::new(
            vec![srv(1), srv(2)],
            Duration::from_secs(12 * 3600),
            ClientTuning::default(),
            7,
            t0,
        );
        c.handle_timeout(t0);
        let (to, _) = c.poll_transmit().unwrap();
        assert_eq!(to, srv(1));
        // Primary silent: a retry after 2 s, then the secondary after 4 s.
        c.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(c.poll_transmit().unwrap().0, srv(1));
        c.handle_timeout(t0 + Duration::from_secs(4));
        assert_eq!(c.poll_event(), Some(NtpEvent::ServerFailed(srv(1))));
        let (to, req) = c.poll_transmit().unwrap();
        assert_eq!(to, srv(2));
        let utc = 1_767_225_600i128 * 1_000_000_000;
        // A forged answer (wrong origin) and one from the wrong address are dropped.
        let mut forged = answer(&req, utc, 0, 2, 0);
        forged[30] ^= 1;
        let t4 = t0 + Duration::from_millis(4100);
        c.handle_input(t4, srv(2), &forged);
        c.handle_input(t4, srv(1), &answer(&req, utc, 0, 2, 0));
        c.handle_input(t4, srv(2), &answer(&req, utc, 0, 2, 3));
        assert_eq!(
            c.drops(),
            [
                Dropped::BadOrigin,
                Dropped::WrongSource,
                Dropped::Unsynchronized
            ]
        );
        // 100 ms round trip, 10 ms in the server: delay 90 ms; UTC at T4 = T3 + 45 ms.
        c.handle_input(t4, srv(2), &answer(&req, utc, 10_000_000, 2, 0));
        let Some(NtpEvent::Synced(s)) = c.poll_event() else {
            panic!("no sync")
        };
        assert_eq!(s.server, srv(2));
        assert!(s.delay.abs_diff(Duration::from_millis(90)) < Duration::from_micros(1));
        assert!((s.utc_at(t4) - (utc + 55_000_000)).abs() < 1000);
        assert!((s.utc_at(t4 + Duration::from_secs(1)) - (utc + 1_055_000_000)).abs() < 1000);
        // Next round after the sync interval, starting with the primary again.
        assert_eq!(c.poll_timeout(), Some(t4 + Duration::from_secs(12 * 3600)));
        c.handle_timeout(t4 + Duration::from_secs(12 * 3600));
        assert_eq!(c.poll_transmit().unwrap().0, srv(1));
    }

    #[test]
    fn all_fail_backs_off_and_kod_skips_server() {
        let t0 = Instant::now();
        let tuning = ClientTuning {
            tries: 1,
            ..ClientTuning::default()
        };
        let mut c = SntpClient::new(
            vec![srv(1), srv(2)],
            Duration::from_secs(3600),
            tuning,
            1,
            t0,
        );
        c.handle_timeout(t0);
        let (_, req) = c.poll_transmit().unwrap();
        // Kiss-o'-death from the primary: move on at once.
        c.handle_input(t0, srv(1), &answer(&req, 0, 0, 0, 0));
        assert_eq!(c.poll_event(), Some(NtpEvent::ServerFailed(srv(1))));
        assert_eq!(c.poll_transmit().unwrap().0, srv(2));
        c.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(c.poll_event(), Some(NtpEvent::ServerFailed(srv(2))));
        let retry = t0 + Duration::from_secs(62);
        assert_eq!(
            c.poll_event(),
            Some(NtpEvent::AllFailed { retry_at: retry })
        );
        assert_eq!(c.poll_timeout(), Some(retry));
    }

    #[test]
    fn server_choice_follows_table_3_45() {
        let mut c = Config::defaults(ac_cfg::Model::Hd420);
        let s = NtpSettings::from_config(&c);
        assert_eq!(s.sync_interval, Duration::from_secs(12 * 3600));
        assert!(s.prefer_dhcp_servers);
        let dhcp = ["10.1.1.1".parse().unwrap(), "10.1.1.2".parse().unwrap()];
        let srvrec = vec![("ntp.example.com".to_string(), 123)];
        assert_eq!(s.servers(&dhcp, &srvrec).1, Some(ServerSource::Dhcp));
        assert_eq!(s.servers(&[], &srvrec).1, Some(ServerSource::Srv));
        c.set("system/ntp/primary_server_address", "tick.example.com")
            .unwrap();
        c.set("network/lan/dhcp/ntp/server_list/enabled", "0")
            .unwrap();
        c.set("system/ntp/sync_time/days", "1").unwrap();
        c.set("system/ntp/sync_time/hours", "6").unwrap();
        let s = NtpSettings::from_config(&c);
        assert_eq!(s.sync_interval, Duration::from_secs(30 * 3600));
        let (list, src) = s.servers(&dhcp, &srvrec);
        assert_eq!(src, Some(ServerSource::Config));
        assert_eq!(list, [("tick.example.com".to_string(), 123)]);
    }
}
