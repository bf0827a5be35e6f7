//! Syslog to a UDP listener in the server namespace (a Python receiver that checks each
//! datagram against the RFC 5424 ABNF on its own); the phone logs from its namespace.
//! Needs root and python3.

mod common;

use std::time::{Duration, Instant};

use ac_cfg::{Config, Model};
use ac_prov::driver::net::SyslogSender;
use ac_prov::syslog::{Format, Logger, Message, Severity, SyslogSettings};
use ac_prov::tz::TimeZone;
use common::{in_ns, Net};

const LISTENER: &str = r#"
import re, socket, sys, datetime
ip, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
s.settimeout(20)
print("listening", flush=True)
# RFC 5424 section 6 ABNF, checked field by field.
hdr = re.compile(rb'^<(\d{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (.*)$', re.S)
sd = re.compile(rb'^(-|(\[[^ \]="]{1,32}( [^ \]="]{1,32}="([^"\\\]]|\\["\\\]])*")*\])+)( (.*))?$', re.S)
with open(out, "w") as f:
    for _ in range(n):
        try:
            d, _ = s.recvfrom(4096)
        except socket.timeout:
            break
        m = hdr.match(d)
        ok = m is not None and int(m.group(1)) <= 191 and (m.group(1) == b"0" or not m.group(1).startswith(b"0"))
        if ok:
            ts = m.group(2).decode()
            if ts != "-":
                try:
                    datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
                except ValueError:
                    ok = False
            r = sd.match(m.group(7))
            ok = ok and r is not None
            if ok and r.group(6) is not None:
                body = r.group(6)
                if body.startswith(b"\xef\xbb\xbf"):
                    try:
                        body[3:].decode("utf-8")
                    except UnicodeDecodeError:
                        ok = False
        f.write(("OK " if ok else "BAD ") + d.hex() + "\n")
        f.flush()
"#;

#[test]
fn syslog_datagrams_parse_as_rfc5424_and_levels_filter() {
    let mut net = Net::new();
    let ip = net.server_ip();
    net.exec_ok(
        &net.phone_ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("10.77.{}.20/24", net.subnet),
            "dev",
            &net.phone_if,
        ],
    );
    let script = net.path("listener.py");
    std::fs::write(&script, LISTENER).expect("script");
    let out = net.path("received.txt");
    net.spawn_named(
        "listener",
        &[
            "python3",
            script.to_str().expect("p"),
            &ip,
            "5514",
            "4",
            out.to_str().expect("p"),
        ],
    );
    net.wait_log("listener.log", "listening");

    let mut cfg = Config::defaults(Model::Hd420);
    cfg.set("system/syslog/mode", "NETWORK").expect("set");
    cfg.set("system/syslog/server_address", &ip).expect("set");
    cfg.set("system/syslog/server_port", "5514").expect("set");
    cfg.set("system/syslog/component/sip_stack", "INFO")
        .expect("set");
    cfg.set("system/syslog/component/ieee802_1x", "ERROR")
        .expect("set");
    let settings = SyslogSettings::from_config(&cfg).expect("settings");
    let logger = Logger {
        settings: settings.clone(),
        format: Format::Rfc5424,
        hostname: "420HD-00908F112233".into(),
        zone: TimeZone {
            gmt_offset: 0,
            dst: None,
        },
    };
    let t = 1_767_225_600_123_456_000i128;
    let ip_for_bad = ip.clone();
    let sent = in_ns(&net.phone_ns, move || {
        let s = SyslogSender::new(&settings)
            .expect("socket")
            .expect("server configured");
        let mut n = 0;
        for (comp, sev, msg) in [
            (
                "sip_stack",
                Severity::Info,
                "REGISTER sip:example.com -> 200 OK",
            ),
            ("sip_stack", Severity::Debug, "filtered: below INFO"),
            ("ieee802_1x", Severity::Warning, "filtered: below ERROR"),
            (
                "ieee802_1x",
                Severity::Error,
                "EAP-TLS: server certificate untrusted [CA \"x\"]",
            ),
            (
                "web_server",
                Severity::Emergency,
                "filtered: component at NONE",
            ),
            ("lcd_display", Severity::Debug, "screen: idle ünïcode"),
        ] {
            let o = logger.log(comp, sev, msg, Some(t)).expect("log");
            if o.network.is_some() {
                n += 1;
            }
            s.send(&o).expect("send");
        }
        // Not RFC 5424 (version 2): the listener's check must reject it.
        let raw = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
        raw.send_to(
            b"<13>2 - - - - - - version two",
            (ip_for_bad.as_str(), 5514),
        )
        .expect("send");
        n
    });
    assert_eq!(sent, 3, "levels of table 7-1 let three messages through");
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let txt = std::fs::read_to_string(&out).unwrap_or_default();
        let lines: Vec<String> = txt.lines().map(str::to_string).collect();
        if lines.len() >= 4 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[3].starts_with("BAD "),
        "the listener accepted a version-2 line: {lines:?}"
    );
    let mut parsed = Vec::new();
    for l in &lines[..3] {
        let (verdict, hex) = l.split_once(' ').expect("line");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(
            verdict,
            "OK",
            "listener rejected {}",
            String::from_utf8_lossy(&bytes)
        );
        parsed.push(Message::parse_rfc5424(&bytes).expect("our parser"));
    }
    let msgs: Vec<(&str, Severity, &str)> = parsed
        .iter()
        .map(|m| {
            (
                m.app_name.as_deref().unwrap_or(""),
                m.severity,
                m.msg.as_str(),
            )
        })
        .collect();
    assert_eq!(
        msgs,
        [
            (
                "sip_stack",
                Severity::Info,
                "REGISTER sip:example.com -> 200 OK"
            ),
            (
                "ieee802_1x",
                Severity::Error,
                "EAP-TLS: server certificate untrusted [CA \"x\"]"
            ),
            ("lcd_display", Severity::Debug, "screen: idle ünïcode"),
        ]
    );
    for m in &parsed {
        assert_eq!(m.timestamp, Some(t));
        assert_eq!(m.facility, 23);
        assert_eq!(m.hostname.as_deref(), Some("420HD-00908F112233"));
    }
}
