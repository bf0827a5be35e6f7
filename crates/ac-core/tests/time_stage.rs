//! The boot stages on a virtual clock: network -> provisioning (option 160 .cfg) -> time
//! (SNTP, manual 2.4, servers of DHCP option 42/4 or `system/ntp/*` per table 3-45) ->
//! registration -> ready. The phone sends no REGISTER before the time stage ended, and the
//! time stage ends by an NTP answer or, when no server answers, after the SNTP client's
//! tries ("Time not synchronized").

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ac_cfg::{Config, Model};
use ac_core::board::{BoardOutput, DisplayKind};
use ac_core::phone::{BootStage, Io, Transmit};
use ac_core::{Phone, SignIn};
use ac_prov::dhcp::LeaseInfo;
use ac_prov::engine::{Action, FetchError, FetchErrorKind, Purpose};
use ac_prov::sntp::{Packet, Timestamp, MODE_SERVER};

const CFG: &str = "voip/signalling/sip/sip_outbound_proxy/enabled=1\n\
                   voip/signalling/sip/sip_outbound_proxy/addr=10.1.1.3\n\
                   voip/line/0/auth_password=secret\n\
                   system/ntp/enabled=1\n\
                   system/ntp/primary_server_address=10.1.1.7\n";

/// 2026-01-01T00:00:00Z.
const SERVER_UNIX_S: i128 = 1_767_225_600;

struct Boot {
    phone: Phone,
    now: Instant,
    stages: Vec<BootStage>,
    ntp: Vec<(SocketAddr, Vec<u8>)>,
    sip: Vec<(SocketAddr, String)>,
    sync_servers: Option<Vec<String>>,
}

impl Boot {
    fn new(cfg: Config) -> Boot {
        let phone = Phone::new(
            cfg,
            [0, 0x90, 0x8f, 1, 2, 3],
            SignIn::new("alice", "example.com", ""),
            7,
        );
        Boot {
            phone,
            now: Instant::now(),
            stages: vec![BootStage::Network],
            ntp: Vec::new(),
            sip: Vec::new(),
            sync_servers: None,
        }
    }

    fn note_stage(&mut self) {
        let s = self.phone.stage();
        if self.stages.last() != Some(&s) {
            self.stages.push(s);
        }
    }

    /// Answers the phone's I/O: the provisioning server has only the .cfg; the SNTP
    /// servers are handed over as they are (IP addresses).
    fn drive(&mut self) {
        for _ in 0..50 {
            self.note_stage();
            let mut busy = false;
            while let Some(io) = self.phone.poll_io() {
                busy = true;
                match io {
                    Io::Provision(Action::Fetch(req)) => {
                        let r =
                            if req.purpose == Purpose::Configuration && req.url.ends_with(".cfg") {
                                Ok(CFG.as_bytes().to_vec())
                            } else {
                                Err(FetchError::new(FetchErrorKind::NotFound, "404"))
                            };
                        self.phone.handle_fetch(self.now, req.id, r);
                    }
                    Io::SyncTime { servers } => {
                        let addrs = servers
                            .iter()
                            .map(|s| SocketAddr::new(s.parse().expect("an address"), 123))
                            .collect();
                        self.sync_servers = Some(servers);
                        self.note_stage();
                        self.phone.handle_ntp_servers(self.now, addrs);
                    }
                    _ => {}
                }
                self.note_stage();
            }
            while let Some(t) = self.phone.poll_transmit() {
                busy = true;
                match t {
                    Transmit::Ntp { dest, data } => self.ntp.push((dest, data)),
                    Transmit::Sip(t) => self
                        .sip
                        .push((t.dest, String::from_utf8_lossy(&t.data).into_owned())),
                    Transmit::Media { .. } => {}
                }
            }
            if !busy {
                break;
            }
        }
        self.note_stage();
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.phone.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.phone.handle_timeout(self.now);
            self.drive();
        }
        self.now = end;
        self.phone.handle_timeout(self.now);
        self.drive();
    }

    fn registers(&self) -> usize {
        self.sip
            .iter()
            .filter(|(_, m)| m.starts_with("REGISTER "))
            .count()
    }

    /// A valid server reply to the last request sent to `from`.
    fn answer_ntp(&mut self, from: SocketAddr) {
        let (_, req) = self
            .ntp
            .iter()
            .rev()
            .find(|(d, _)| *d == from)
            .expect("a request to that server")
            .clone();
        let req = Packet::parse(&req).expect("an NTP request");
        let t = Timestamp::from_unix_nanos(SERVER_UNIX_S * 1_000_000_000);
        let reply = Packet {
            version: 4,
            mode: MODE_SERVER,
            stratum: 2,
            origin: req.transmit,
            receive: t,
            transmit: t,
            reference: t,
            ..Packet::default()
        };
        self.now += Duration::from_millis(4);
        self.phone.handle_ntp(self.now, from, &reply.emit());
        self.drive();
    }
}

fn lease(ntp: &[Ipv4Addr], time: &[Ipv4Addr]) -> LeaseInfo {
    LeaseInfo {
        provisioning_url: Some("http://10.1.1.2/p/".into()),
        ntp_servers: ntp.to_vec(),
        time_servers: time.to_vec(),
        ..LeaseInfo::default()
    }
}

fn sip_addr() -> SocketAddr {
    "10.1.1.50:5060".parse().expect("addr")
}

#[test]
fn stages_in_order_and_no_register_before_the_time_answer() {
    let mut b = Boot::new(Config::defaults(Model::Hd440));
    let opt42 = Ipv4Addr::new(10, 1, 1, 5);
    b.phone.handle_network_up(
        b.now,
        sip_addr(),
        Some(lease(&[opt42], &[Ipv4Addr::new(10, 1, 1, 6)])),
    );
    b.drive();
    // Provisioning applied the .cfg; the time stage asks option 42's server first (DHCP
    // servers preferred by default, table 3-45), then the configured one.
    assert_eq!(b.phone.stage(), BootStage::Time);
    assert_eq!(
        b.sync_servers.as_deref(),
        Some(&["10.1.1.5".to_string()][..]),
        "DHCP's servers are preferred"
    );
    assert_eq!(b.ntp.len(), 1);
    assert_eq!(b.ntp[0].0, SocketAddr::from((opt42, 123)));
    assert_eq!(b.registers(), 0, "no REGISTER before the time stage ended");
    // 900 ms without an answer: still waiting (1 s per try).
    b.advance(Duration::from_millis(900));
    assert_eq!(b.phone.stage(), BootStage::Time);
    assert_eq!(b.registers(), 0);
    assert!(b.phone.utc_unix_nanos(b.now).is_none());
    // The server answers: time set, registration to the .cfg's proxy starts.
    b.answer_ntp(SocketAddr::from((opt42, 123)));
    assert_eq!(b.phone.stage(), BootStage::Registration);
    assert_eq!(b.registers(), 1);
    assert_eq!(
        b.sip[0].0,
        "10.1.1.3:5060".parse::<SocketAddr>().expect("addr")
    );
    // RFC 4330 5: the server's time at the reply is its transmit time plus half the round
    // trip (904 ms here: the request waited 900 ms, the reply 4 ms).
    let sync = b.phone.last_time_sync().expect("synced");
    assert_eq!(sync.delay, Duration::from_millis(904));
    assert_eq!(sync.stratum, 2);
    let utc = b.phone.utc_unix_nanos(b.now).expect("synced");
    let err = (utc - (SERVER_UNIX_S * 1_000_000_000 + 452_000_000)).abs();
    assert!(err < 5_000_000, "clock off by {err} ns");
    assert_eq!(
        b.stages,
        vec![
            BootStage::Network,
            BootStage::Provisioning,
            BootStage::Time,
            BootStage::Registration
        ]
    );
}

#[test]
fn no_time_server_answers_then_registration_starts_after_the_tries() {
    let mut cfg = Config::defaults(Model::Hd440);
    cfg.set("network/lan/dhcp/ntp/server_list/enabled", "0")
        .expect("set");
    let mut b = Boot::new(cfg);
    // Option 4 only (no option 42); the .cfg's primary server wins now (table 3-45).
    b.phone.handle_network_up(
        b.now,
        sip_addr(),
        Some(lease(&[], &[Ipv4Addr::new(10, 1, 1, 6)])),
    );
    b.drive();
    assert_eq!(
        b.sync_servers.as_deref(),
        Some(&["10.1.1.7".to_string()][..])
    );
    // Two tries of one second each, then the boot goes on without the time.
    b.advance(Duration::from_millis(1950));
    assert_eq!(b.phone.stage(), BootStage::Time);
    assert_eq!(b.registers(), 0);
    assert_eq!(b.ntp.len(), 2, "two tries");
    b.advance(Duration::from_millis(100));
    assert_eq!(b.phone.stage(), BootStage::Registration);
    assert_eq!(b.registers(), 1);
    let mut notices = Vec::new();
    while let Some(o) = b.phone.poll_output() {
        if let BoardOutput::Display(d) = o {
            if d.kind == DisplayKind::Notice {
                notices.push(d.text);
            }
        }
    }
    assert!(
        notices.iter().any(|n| n == "Time not synchronized"),
        "{notices:?}"
    );
}

#[test]
fn option_4_is_used_when_option_42_is_absent() {
    let mut b = Boot::new(Config::defaults(Model::Hd440));
    b.phone.handle_network_up(
        b.now,
        sip_addr(),
        Some(lease(&[], &[Ipv4Addr::new(10, 1, 1, 6)])),
    );
    b.drive();
    assert_eq!(
        b.sync_servers.as_deref(),
        Some(&["10.1.1.6".to_string()][..])
    );
    b.answer_ntp("10.1.1.6:123".parse().expect("addr"));
    assert_eq!(b.phone.stage(), BootStage::Registration);
}
