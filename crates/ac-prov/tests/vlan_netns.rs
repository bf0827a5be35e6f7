//! Voice VLAN discovery against real peers: lldpd with an LLDP-MED voice network policy, and
//! hand-crafted CDP frames (a Python AF_PACKET sender) in the switch namespace; our
//! discovery runs on a raw socket in the phone namespace. Needs root, lldpd, python3.

mod common;

use std::time::{Duration, Instant};

use ac_prov::driver::net::run_vlan;
use ac_prov::driver::raw::{RawSocket, ETH_P_ALL};
use ac_prov::vlan::{Identity, Mode, Source, VlanDiscovery, VlanEvent, VlanResult, VlanSettings};
use common::{in_ns, Net};

fn open_phone(net: &Net) -> RawSocket {
    let ifname = net.phone_if.clone();
    in_ns(&net.phone_ns, move || {
        RawSocket::open(&ifname, ETH_P_ALL).expect("raw socket")
    })
}

fn discovery(sock: &RawSocket, mode: Mode) -> VlanDiscovery {
    VlanDiscovery::new(
        VlanSettings {
            mode,
            period: Duration::from_secs(1),
            id: 0,
            priority: 0,
        },
        Identity {
            mac: sock.mac(),
            port: "eth0".into(),
            model: "420HD".into(),
            version: "3.0.4".into(),
        },
        Instant::now(),
    )
}

/// Runs discovery until `want` holds for the VLAN in force; returns every change seen.
fn until(
    sock: &RawSocket,
    d: &mut VlanDiscovery,
    secs: u64,
    want: impl Fn(&Option<VlanResult>) -> bool,
) -> Vec<Option<VlanResult>> {
    let mut seen = Vec::new();
    let ok = run_vlan(
        sock,
        d,
        Instant::now() + Duration::from_secs(secs),
        |VlanEvent::Changed(r)| {
            seen.push(*r);
            want(r)
        },
    )
    .expect("driver");
    assert!(
        ok,
        "wanted VLAN not reported within {secs} s; changes: {seen:?}"
    );
    seen
}

/// lldpd as the switch: network connectivity device, 1 s transmit interval, a voice policy.
fn start_lldpd(net: &mut Net, policy: &str) {
    let conf = net.path("lldpd.conf");
    std::fs::write(
        &conf,
        format!("configure lldp tx-interval 1\nconfigure system hostname test-switch\n{policy}\n"),
    )
    .expect("conf");
    let sock = net.path("lldpd.socket");
    let srv_if = net.srv_if.clone();
    net.spawn_named(
        "lldpd",
        &[
            "lldpd",
            "-d",
            "-M",
            "4",
            "-I",
            &srv_if,
            "-u",
            sock.to_str().expect("path"),
            "-O",
            conf.to_str().expect("path"),
        ],
    );
}

fn lldpcli(net: &Net, args: &[&str]) -> String {
    let sock = net.path("lldpd.socket");
    let mut a = vec![
        "netns",
        "exec",
        &net.srv_ns,
        "lldpcli",
        "-u",
        sock.to_str().expect("p"),
    ];
    a.extend_from_slice(args);
    let o = common::sh("ip", &a);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A CDP v2 frame built byte by byte (independently of `ac_prov::cdp`), sent `count` times
/// every 200 ms from the switch namespace.
fn start_cdp_sender(net: &mut Net, vlan: u16, count: u32) {
    let script = net.path("cdp.py");
    std::fs::write(
        &script,
        r#"
import socket, struct, sys, time
ifname, vlan, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def tlv(t, v): return struct.pack("!HH", t, len(v) + 4) + v
body = (tlv(1, b"Switch1") + tlv(3, b"GigabitEthernet0/1")
        + tlv(4, struct.pack("!I", 0x28)) + tlv(6, b"cisco WS-C2960")
        + tlv(0x0e, struct.pack("!BH", 1, vlan)))
pdu = bytearray(struct.pack("!BBH", 2, 180, 0) + body)
def csum(b):
    s = 0
    for i in range(0, len(b) - 1, 2): s += (b[i] << 8) | b[i + 1]
    if len(b) % 2: s += b[-1] if b[-1] < 0x80 else (0xff00 | b[-1])
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
struct.pack_into("!H", pdu, 2, csum(pdu))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = s.getsockname()[4]
llc = bytes([0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0]) + bytes(pdu)
frame = bytes([1, 0, 0x0c, 0xcc, 0xcc, 0xcc]) + src + struct.pack("!H", len(llc)) + llc
frame += bytes(max(0, 60 - len(frame)))
print("sending", len(frame), flush=True)
for _ in range(count):
    s.send(frame)
    time.sleep(0.2)
"#,
    )
    .expect("script");
    let srv_if = net.srv_if.clone();
    net.spawn_named(
        "cdp",
        &[
            "python3",
            script.to_str().expect("path"),
            &srv_if,
            &vlan.to_string(),
            &count.to_string(),
        ],
    );
    net.wait_log("cdp.log", "sending");
}

#[test]
fn lldpd_voice_policy_is_reported_and_lldpd_sees_our_lldp_med() {
    let mut net = Net::new();
    start_lldpd(
        &mut net,
        "configure med policy application voice tagged vlan 100 priority voice dscp 46",
    );
    let sock = open_phone(&net);
    let mut d = discovery(&sock, Mode::Lldp);
    let seen = until(&sock, &mut d, 20, |r| r.is_some());
    assert_eq!(
        seen.last().copied().flatten(),
        Some(VlanResult {
            source: Source::Lldp,
            vlan_id: 100,
            priority: Some(5),
            dscp: Some(46),
        })
    );
    // lldpd parsed our LLDP-MED announcement: class III endpoint, telephone, our MAC. (Our
    // discovery keeps running meanwhile: the fast-start LLDPDUs follow at 1 s intervals.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let json = lldpcli(&net, &["show", "neighbors", "details", "-f", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("lldpcli json");
        if v["lldp"]["interface"].is_object() || Instant::now() > deadline {
            break v.to_string();
        }
        run_vlan(
            &sock,
            &mut d,
            Instant::now() + Duration::from_millis(300),
            |_| false,
        )
        .expect("driver");
    };
    assert!(s.contains("00:90:8f:11:22:33"), "{s}");
    assert!(
        s.contains("Communication Device Endpoint (Class III)"),
        "{s}"
    );
    assert!(s.contains("Tel"), "{s}");
    assert!(s.contains("420HD"), "{s}");
}

#[test]
fn cdp_voice_vlan_is_reported() {
    let mut net = Net::new();
    start_cdp_sender(&mut net, 200, 100);
    let sock = open_phone(&net);
    let mut d = discovery(&sock, Mode::Cdp);
    let seen = until(&sock, &mut d, 15, |r| r.is_some());
    assert_eq!(
        seen.last().copied().flatten(),
        Some(VlanResult {
            source: Source::Cdp,
            vlan_id: 200,
            priority: None,
            dscp: None,
        })
    );
}

#[test]
fn lldp_wins_over_cdp_and_cdp_takes_over_when_lldpd_shuts_down() {
    let mut net = Net::new();
    start_cdp_sender(&mut net, 200, 150);
    start_lldpd(
        &mut net,
        "configure med policy application voice tagged vlan 100 priority voice dscp 46",
    );
    let sock = open_phone(&net);
    let mut d = discovery(&sock, Mode::CdpLldp);
    d.handle_dhcp_vlan(Some(300));
    until(&sock, &mut d, 20, |r| {
        r.is_some_and(|r| r.source == Source::Lldp)
    });
    // CDP keeps arriving; LLDP stays in force.
    let end = Instant::now() + Duration::from_secs(2);
    let changed = run_vlan(&sock, &mut d, end, |_| true).expect("driver");
    assert!(
        !changed,
        "VLAN changed while LLDP was present: {:?}",
        d.current()
    );
    assert_eq!(d.current().map(|r| r.vlan_id), Some(100));
    // lldpd's shutdown LLDPDU (TTL 0) withdraws its policy: CDP's VLAN takes over.
    net.stop("lldpd");
    until(&sock, &mut d, 10, |r| {
        r.is_some_and(|r| r.source == Source::Cdp)
    });
    assert_eq!(d.current().map(|r| r.vlan_id), Some(200));

    // CDP-only mode ignores LLDP; LLDP-only mode ignores CDP and falls back to DHCP 43.
    let mut d = discovery(&sock, Mode::Lldp);
    d.handle_dhcp_vlan(Some(300));
    let end = Instant::now() + Duration::from_secs(2);
    run_vlan(&sock, &mut d, end, |_| false).expect("driver");
    assert_eq!(
        d.current().map(|r| (r.source, r.vlan_id)),
        Some((Source::Dhcp, 300))
    );
}
