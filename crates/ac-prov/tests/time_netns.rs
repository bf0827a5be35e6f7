//! Time against real peers: chronyd serves NTP in the server namespace, dnsmasq hands out
//! NTP servers (option 42) and the time offset (option 2); our DHCP client and SNTP client
//! run in the phone namespace. DST is checked table-driven against the system's tzdata
//! (Python's zoneinfo). Needs root, chrony, dnsmasq, python3 and tzdata.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ac_cfg::{Config, Model};
use ac_prov::dhcp::{ClientConfig, DhcpClient, Event, LeaseInfo};
use ac_prov::driver::net::{ntp_srv_servers, resolve_servers, run_sntp};
use ac_prov::driver::{dhcp_socket, run_dhcp};
use ac_prov::sntp::{ClientTuning, NtpEvent, NtpSettings, ServerSource, SntpClient};
use ac_prov::tz::{self, ClockFormat, OffsetSource, RuleDate, TimeZone, Transition, Weekday};
use common::{in_ns, Net};

fn start_chrony(net: &mut Net) {
    let conf = net.path("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "bindaddress {}\nport 123\nallow all\nlocal stratum 8\ncmdport 0\npidfile {}\n",
            net.server_ip(),
            net.path("chronyd.pid").display()
        ),
    )
    .expect("conf");
    // -x: never touch the host clock; -u root: files in the test directory.
    net.spawn_named(
        "chronyd",
        &[
            "chronyd",
            "-d",
            "-x",
            "-u",
            "root",
            "-f",
            conf.to_str().expect("p"),
        ],
    );
    net.wait_log("chronyd.log", "chronyd version");
}

/// DHCP in the phone namespace; configures the leased address and returns what DHCP said.
fn lease(net: &Net) -> LeaseInfo {
    let ifname = net.phone_if.clone();
    let l = in_ns(&net.phone_ns, move || {
        let sock = dhcp_socket(&ifname).expect("dhcp socket");
        let mut c = DhcpClient::new(
            ClientConfig::new([0, 0x90, 0x8f, 0x11, 0x22, 0x33], "420HD"),
            1,
            Instant::now(),
        );
        let mut got = None;
        run_dhcp(
            &sock,
            &mut c,
            Instant::now() + Duration::from_secs(20),
            |e| {
                if let Event::Bound(l) = e {
                    got = Some(l.clone());
                    true
                } else {
                    false
                }
            },
        )
        .expect("DHCP lease");
        got.expect("bound")
    });
    net.exec_ok(
        &net.phone_ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("{}/24", l.address),
            "dev",
            &net.phone_if,
        ],
    );
    l.info
}

fn sntp_in_phone(net: &Net, servers: Vec<std::net::SocketAddr>) -> (Vec<NtpEvent>, i128, i128) {
    in_ns(&net.phone_ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").expect("udp");
        let tuning = ClientTuning {
            timeout: Duration::from_millis(700),
            tries: 2,
            ..ClientTuning::default()
        };
        let mut c = SntpClient::new(
            servers,
            Duration::from_secs(12 * 3600),
            tuning,
            5,
            Instant::now(),
        );
        let mut events = Vec::new();
        let ok = run_sntp(
            &sock,
            &mut c,
            Instant::now() + Duration::from_secs(15),
            |e| {
                events.push(e.clone());
                matches!(e, NtpEvent::Synced(_))
            },
        )
        .expect("sntp driver");
        assert!(ok, "no sync: {events:?}");
        let s = *c.last_sync().expect("synced");
        let ours = s.utc_at(Instant::now());
        let host = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as i128;
        (events, ours, host)
    })
}

#[test]
fn syncs_from_dhcp_servers_fails_over_to_secondary_and_applies_option_2() {
    let mut net = Net::new();
    start_chrony(&mut net);
    let s = net.subnet;
    // Primary: an address nobody answers on; secondary: chronyd.
    net.dnsmasq(&[
        format!("--dhcp-option=42,10.77.{s}.9,10.77.{s}.1"),
        "--dhcp-option=2,-18000".to_string(),
    ]);
    let info = lease(&net);
    assert_eq!(info.ntp_servers.len(), 2, "{info:?}");
    assert_eq!(info.time_offset, Some(-18000));

    let cfg = Config::defaults(Model::Hd420);
    let settings = NtpSettings::from_config(&cfg);
    let (list, src) = settings.servers(info.time_sources(), &[]);
    assert_eq!(src, Some(ServerSource::Dhcp));
    let servers = resolve_servers(&list);
    let (events, ours, host) = sntp_in_phone(&net, servers.clone());
    assert_eq!(
        events.first(),
        Some(&NtpEvent::ServerFailed(servers[0])),
        "{events:?}"
    );
    match events.last() {
        Some(NtpEvent::Synced(s)) => {
            assert_eq!(s.server, servers[1]);
            assert!(
                s.stratum >= 8,
                "chrony's local stratum 8 (+1 when it answers): {s:?}"
            );
        }
        e => panic!("{e:?}"),
    }
    // chronyd serves the same kernel clock the test reads.
    let err_ms = (ours - host).abs() / 1_000_000;
    assert!(
        err_ms < 500,
        "our UTC differs from the host clock by {err_ms} ms"
    );

    // Option 2 is the time zone by default (table 3-45), the configured offset otherwise.
    let (tz, src) = TimeZone::from_config(&cfg, info.time_offset).expect("tz");
    assert_eq!((tz.gmt_offset, src), (-300, OffsetSource::Dhcp));
    let mut cfg2 = cfg.clone();
    cfg2.set("network/lan/dhcp/ntp/gmt_offset/enabled", "0")
        .expect("set");
    cfg2.set("system/ntp/gmt_offset", "+05:30").expect("set");
    let (tz2, src2) = TimeZone::from_config(&cfg2, info.time_offset).expect("tz");
    assert_eq!((tz2.gmt_offset, src2), (330, OffsetSource::Config));
    let secs = (ours / 1_000_000_000) as i64;
    let lt = tz::local_time(&tz2, secs);
    assert_eq!(lt.offset, 330);
    assert_eq!(lt.format_time(ClockFormat::H24).len(), 5);
}

/// `_ntp._udp.<SIP domain>` SRV records (manual 8.5; deployment notes "SRV Records"): dnsmasq
/// (the DNS server DHCP option 6 names) holds two records; the lower priority value comes
/// first (RFC 2782), its target resolves to chronyd, and the phone syncs from it.
#[test]
fn ntp_servers_from_dns_srv_records_in_priority_order() {
    let mut net = Net::new();
    start_chrony(&mut net);
    let s = net.subnet;
    net.dnsmasq(&[
        "--dhcp-option=15,corp.test".to_string(),
        // Listed backup-first, so the order we return comes from the priorities.
        "--srv-host=_ntp._udp.corp.test,ntp2.corp.test,123,20,5".to_string(),
        "--srv-host=_ntp._udp.corp.test,ntp1.corp.test,123,10,5".to_string(),
        format!("--host-record=ntp1.corp.test,{}", net.server_ip()),
        format!("--host-record=ntp2.corp.test,10.77.{s}.9"),
    ]);
    let info = lease(&net);
    let dns = std::net::SocketAddr::from((*info.dns_servers.first().expect("option 6"), 53));
    let domain = info.domain_name.clone().expect("option 15");
    assert_eq!(domain, "corp.test");
    let got = in_ns(&net.phone_ns, move || {
        ntp_srv_servers(dns, &domain, Duration::from_secs(3)).expect("SRV look-up")
    });
    assert_eq!(
        got,
        vec![
            (net.server_ip().to_string(), 123),
            (format!("10.77.{s}.9"), 123)
        ]
    );
    // No records for another domain: an empty list, not an error.
    let none = in_ns(&net.phone_ns, move || {
        ntp_srv_servers(dns, "other.test", Duration::from_secs(3)).expect("look-up")
    });
    assert!(none.is_empty(), "{none:?}");

    let servers: Vec<std::net::SocketAddr> = got
        .iter()
        .map(|(a, p)| format!("{a}:{p}").parse().expect("addr"))
        .collect();
    let (events, _, _) = sntp_in_phone(&net, servers.clone());
    match events.last() {
        Some(NtpEvent::Synced(s)) => assert_eq!(s.server, servers[0]),
        e => panic!("{e:?}"),
    }
}

#[test]
fn configured_servers_when_dhcp_servers_are_not_preferred() {
    let mut net = Net::new();
    start_chrony(&mut net);
    let s = net.subnet;
    net.dnsmasq(&[format!("--dhcp-option=42,10.77.{s}.9")]);
    let info = lease(&net);
    let mut cfg = Config::defaults(Model::Hd420);
    cfg.set("network/lan/dhcp/ntp/server_list/enabled", "0")
        .expect("set");
    cfg.set("system/ntp/primary_server_address", &net.server_ip())
        .expect("set");
    let (list, src) = NtpSettings::from_config(&cfg).servers(info.time_sources(), &[]);
    assert_eq!(src, Some(ServerSource::Config));
    let servers = resolve_servers(&list);
    let (events, ours, host) = sntp_in_phone(&net, servers);
    assert_eq!(events.len(), 1, "first server answers: {events:?}");
    assert!((ours - host).abs() < 500_000_000);
    let _: Ipv4Addr = net.server_ip().parse().expect("ip");
}

/// Offsets (minutes) tzdata gives for `zone` every `step` seconds in `start..end`.
fn tzdata_offsets(zone: &str, start: i64, end: i64, step: i64) -> Vec<i32> {
    let script = "import sys, zoneinfo, datetime\nz = zoneinfo.ZoneInfo(sys.argv[1])\na, b, s = map(int, sys.argv[2:5])\nout = []\nfor t in range(a, b, s):\n    out.append(str(int(datetime.datetime.fromtimestamp(t, z).utcoffset().total_seconds() // 60)))\nprint(chr(10).join(out))\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            zone,
            &start.to_string(),
            &end.to_string(),
            &step.to_string(),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("offset"))
        .collect()
}

fn dow(month: u8, week: u8, weekday: Weekday, hour: u8) -> Transition {
    Transition {
        date: RuleDate::DayOfWeek {
            month,
            week,
            weekday,
        },
        hour,
        minute: 0,
    }
}

#[test]
fn dst_matches_tzdata_for_several_zones() {
    use Weekday::*;
    // (tzdata zone, our rule as a phone administrator would configure it, years).
    let table: Vec<(&str, TimeZone, std::ops::Range<i64>)> = vec![
        (
            "Europe/Berlin",
            TimeZone {
                gmt_offset: 60,
                dst: Some(tz::Dst {
                    start: dow(3, 5, Sunday, 2),
                    end: dow(10, 5, Sunday, 3),
                    offset: 60,
                }),
            },
            2024..2028,
        ),
        (
            "America/New_York",
            TimeZone {
                gmt_offset: -300,
                dst: Some(tz::Dst {
                    start: dow(3, 2, Sunday, 2),
                    end: dow(11, 1, Sunday, 2),
                    offset: 60,
                }),
            },
            2021..2026,
        ),
        (
            "Australia/Sydney",
            TimeZone {
                gmt_offset: 600,
                dst: Some(tz::Dst {
                    start: dow(10, 1, Sunday, 2),
                    end: dow(4, 1, Sunday, 3),
                    offset: 60,
                }),
            },
            2021..2025,
        ),
        (
            // Southern hemisphere: DST spans the new year.
            "Pacific/Auckland",
            TimeZone {
                gmt_offset: 720,
                dst: Some(tz::Dst {
                    start: dow(9, 5, Sunday, 2),
                    end: dow(4, 1, Sunday, 3),
                    offset: 60,
                }),
            },
            2021..2025,
        ),
        (
            "Europe/London",
            TimeZone {
                gmt_offset: 0,
                dst: Some(tz::Dst {
                    start: dow(3, 5, Sunday, 1),
                    end: dow(10, 5, Sunday, 2),
                    offset: 60,
                }),
            },
            2024..2028,
        ),
        (
            // Iran used fixed dates (FIXED mode): March 22 00:00 to September 22 00:00.
            "Asia/Tehran",
            TimeZone {
                gmt_offset: 210,
                dst: Some(tz::Dst {
                    start: Transition {
                        date: RuleDate::Fixed { month: 3, day: 22 },
                        hour: 0,
                        minute: 0,
                    },
                    end: Transition {
                        date: RuleDate::Fixed { month: 9, day: 22 },
                        hour: 0,
                        minute: 0,
                    },
                    offset: 60,
                }),
            },
            2017..2020,
        ),
        (
            "Asia/Kolkata",
            TimeZone {
                gmt_offset: 330,
                dst: None,
            },
            2020..2022,
        ),
    ];
    for (zone, rule, years) in table {
        // Every 15 minutes (transitions fall on whole hours) over the years.
        let start = tz::days_from_civil(years.start, 1, 1) * 86_400;
        let end = tz::days_from_civil(years.end, 1, 1) * 86_400;
        let step = 900;
        let want = tzdata_offsets(zone, start, end, step);
        let mut checked = 0;
        let mut transitions = 0;
        for (i, w) in want.iter().enumerate() {
            let t = start + i as i64 * step;
            let got = tz::local_time(&rule, t);
            assert_eq!(got.offset, *w, "{zone} at {t}: ours {}", got.iso8601());
            if i > 0 && want[i - 1] != *w {
                transitions += 1;
                // The second before the transition is still on the old offset.
                assert_eq!(
                    tz::local_time(&rule, t - 1).offset,
                    want[i - 1],
                    "{zone} at {t}"
                );
            }
            checked += 1;
        }
        let years_n = (years.end - years.start) as usize;
        assert!(
            rule.dst.is_none() || transitions >= 2 * years_n - 1,
            "{zone}: {transitions}"
        );
        assert!(checked > 100, "{zone}: only {checked} samples");
    }
}
