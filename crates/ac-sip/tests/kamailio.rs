//! Registration against kamailio (a real registrar, started here on loopback with a
//! db_text users table): digest MD5 and SHA-256 over UDP, TCP and TLS (kamailio's tls
//! module, test CA made with openssl, client certificate required), and a wrong password.

mod common;

use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
}

fn sh(cmd: &str, args: &[&str], dir: &Path) {
    let o = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, with openssl.
fn pki(dir: &Path) {
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-sha256",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=ac-sip test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:registrar.test\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        sh(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-sha256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
            dir,
        );
        fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        sh(
            "openssl",
            &[
                "x509",
                "-req",
                "-sha256",
                "-days",
                "2",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ],
            dir,
        );
    }
}

struct Kamailio {
    child: Child,
    port: u16,
    tls_port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // kamailio forks its workers: stop the whole process group (it has its own), so no
        // worker outlives the test.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kamailio(algorithm: &str) -> Kamailio {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    fs::create_dir(d.join("db")).unwrap();
    // The users table (db_text), and the table version auth_db checks.
    fs::write(
        d.join("db/version"),
        "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n",
    )
    .unwrap();
    fs::write(d.join("db/subscriber"), "id(int,auto) username(string) domain(string) password(string) \n1:alice:example.com:s3cret!\n2:bob:example.com:other\n").unwrap();
    let port = free_port();
    let tls_port = port + 1;
    fs::write(
        d.join("tls.cfg"),
        format!(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = yes\nrequire_certificate = yes\nprivate_key = {0}/server.key\ncertificate = {0}/server.pem\nca_list = {0}/ca.pem\n\n[client:default]\nverify_certificate = no\nrequire_certificate = no\n",
            d.display()
        ),
    )
    .unwrap();
    let cfg = format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
enable_tls=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=tls:127.0.0.1:{tls_port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tls.so"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("tls", "config", "{dir}/tls.cfg")
modparam("auth_db", "db_url", "text://{dir}/db")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth", "algorithm", "{algorithm}")
modparam("registrar", "min_expires", 30)
request_route {{
  if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483","Too Many Hops"); exit; }}
  if (is_method("REGISTER")) {{
    if (!www_authenticate("$fd", "subscriber")) {{ www_challenge("$fd", "1"); exit; }}
    if (!save("location")) {{ sl_reply_error(); }}
    xlog("L_NOTICE", "REGISTERED $fu via $proto contact $ct auth $hdr(Authorization)\n");
    exit;
  }}
  if (is_method("OPTIONS")) {{ sl_send_reply("200","OK"); exit; }}
  sl_send_reply("404","Not here");
}}
"#,
        dir = d.display()
    );
    fs::write(d.join("k.cfg"), cfg).unwrap();
    let log = fs::File::create(d.join("kamailio.log")).unwrap();
    let child = Command::new("kamailio")
        .process_group(0)
        .args(["-f", "k.cfg", "-DD", "-E", "-Y"])
        .arg(d)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kamailio (scripts/install-deps installs it)");
    let k = Kamailio {
        child,
        port,
        tls_port,
        dir,
    };
    // Ready when it answers OPTIONS over UDP.
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let opts = format!("OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKprobe\r\nFrom: <sip:probe@test>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", probe.local_addr().unwrap());
    loop {
        let _ = probe.send_to(opts.as_bytes(), ("127.0.0.1", port));
        let mut b = [0u8; 2048];
        if probe.recv(&mut b).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "kamailio did not start: {}",
            fs::read_to_string(k.dir.path().join("kamailio.log")).unwrap_or_default()
        );
    }
    k
}

fn ua(
    k: &Kamailio,
    transport: &str,
    password: &str,
    extra: &[&str],
) -> (i32, Vec<serde_json::Value>) {
    let port = if transport == "tls" {
        k.tls_port
    } else {
        k.port
    };
    let d = k.dir.path();
    let mut args: Vec<String> = vec![
        "register".into(),
        "--proxy".into(),
        format!("127.0.0.1:{port}"),
        "--transport".into(),
        transport.into(),
        "--aor".into(),
        "sip:alice@example.com".into(),
        "--user".into(),
        "alice".into(),
        "--password".into(),
        password.into(),
        "--expires".into(),
        "60".into(),
        "--timeout".into(),
        "20".into(),
    ];
    if transport == "tls" {
        for a in [
            "--ca",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client.key",
        ] {
            args.push(if a.ends_with(".pem") || a.ends_with(".key") {
                d.join(a).display().to_string()
            } else {
                a.to_string()
            });
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
        .args(&args)
        .output()
        .unwrap();
    let ev = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (o.status.code().unwrap_or(-1), ev)
}

fn names(ev: &[serde_json::Value]) -> Vec<String> {
    ev.iter()
        .map(|e| e["event"].as_str().unwrap_or("").to_string())
        .collect()
}

fn check_registered(k: &Kamailio, transport: &str, algorithm_seen: &str) {
    let (code, ev) = ua(k, transport, "s3cret!", &["--unregister"]);
    let log = fs::read_to_string(k.dir.path().join("kamailio.log")).unwrap_or_default();
    assert_eq!(code, 0, "{transport}: {ev:?}\n{log}");
    let statuses: Vec<u64> = ev
        .iter()
        .filter(|e| e["event"] == "response")
        .filter_map(|e| e["status"].as_u64())
        .collect();
    // Challenge, then accepted, then the unregister accepted.
    assert_eq!(statuses, [401, 200, 200], "{transport}");
    assert_eq!(names(&ev).iter().filter(|n| *n == "registered").count(), 1);
    assert!(names(&ev).contains(&"unregistered".to_string()));
    let via = match transport {
        "udp" => "udp",
        "tcp" => "tcp",
        _ => "tls",
    };
    let line = log
        .lines()
        .find(|l| l.contains(&format!("REGISTERED sip:alice@example.com via {via} ")))
        .unwrap_or_else(|| panic!("kamailio saved no binding over {via}:\n{log}"));
    assert!(
        line.contains(&format!("algorithm={algorithm_seen}")),
        "{line}"
    );
    assert!(line.contains("qop=auth"), "{line}");
}

#[test]
fn kamailio_accepts_sha256_digest_over_udp_tcp_and_mutual_tls() {
    let k = kamailio("SHA-256");
    for t in ["udp", "tcp", "tls"] {
        check_registered(&k, t, "SHA-256");
    }
}

#[test]
fn kamailio_accepts_md5_digest_and_refuses_a_wrong_password() {
    let k = kamailio("MD5");
    check_registered(&k, "udp", "MD5");
    let (code, ev) = ua(&k, "tcp", "wrong", &[]);
    assert_eq!(code, 1, "{ev:?}");
    let last = ev.last().unwrap();
    assert_eq!(last["event"], "failed");
    assert_eq!(last["status"], 401);
    // One retry with credentials, no loop. A full-suite run on a loaded machine once saw a
    // third response: kamailio's nonces carry the second they were made in, so (most likely)
    // two challenges straddling a second gave a fresh nonce, answered once more (the client
    // gives up when a nonce it answered comes back).
    let responses = ev.iter().filter(|e| e["event"] == "response").count();
    assert!((2..=3).contains(&responses), "{ev:?}");
}

#[test]
fn tls_without_a_trusted_ca_fails_cleanly() {
    let k = kamailio("MD5");
    let other = tempfile::tempdir().unwrap();
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            "o.key",
            "-out",
            "o.pem",
            "-subj",
            "/CN=other CA",
        ],
        other.path(),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
        .args([
            "register",
            "--proxy",
            &format!("127.0.0.1:{}", k.tls_port),
            "--transport",
            "tls",
            "--aor",
            "sip:alice@example.com",
            "--user",
            "alice",
            "--password",
            "s3cret!",
            "--timeout",
            "10",
            "--ca",
        ])
        .arg(other.path().join("o.pem"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"failed\"") && out.contains("503"), "{out}");
}

#[test]
fn registrar_found_by_dns_srv_with_failover_past_a_dead_server() {
    let k = kamailio("SHA-256");
    // A port nobody listens on: the TCP connection is refused (RFC 3263 4.3 failover).
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dns = common::dnsmasq(&[
        format!("--srv-host=_sip._tcp.example.com,dead.example.com,{dead},10,10"),
        format!(
            "--srv-host=_sip._tcp.example.com,sip.example.com,{},20,10",
            k.port
        ),
        "--host-record=dead.example.com,127.0.0.1".into(),
        "--host-record=sip.example.com,127.0.0.1".into(),
    ]);
    let o = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
        .args([
            "register",
            "--dns",
            &dns.addr.to_string(),
            "--aor",
            "sip:alice@example.com",
            "--user",
            "alice",
            "--password",
            "s3cret!",
            "--expires",
            "60",
            "--timeout",
            "20",
        ])
        .output()
        .unwrap();
    let ev: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(o.status.code(), Some(0), "{ev:?}");
    let targets: Vec<String> = ev
        .iter()
        .filter(|e| e["event"] == "target")
        .map(|e| e["addr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        targets,
        [format!("127.0.0.1:{dead}"), format!("127.0.0.1:{}", k.port)]
    );
    assert!(names(&ev).contains(&"registered".to_string()));
    let log = fs::read_to_string(k.dir.path().join("kamailio.log")).unwrap_or_default();
    assert!(
        log.contains("REGISTERED sip:alice@example.com via tcp "),
        "{log}"
    );
}

/// RFC 5626 3.5.1 keep-alives on the registration flow: kamailio answers our double-CRLF
/// pings with a single CRLF over TCP and TLS (its `tcp_crlf_ping` default), and every ping
/// gets its pong while we stay registered.
#[test]
fn crlf_keepalives_over_tcp_and_tls_get_pongs_from_kamailio() {
    let k = kamailio("SHA-256");
    for t in ["tcp", "tls"] {
        let (code, ev) = ua(&k, t, "s3cret!", &["--keepalive", "1", "--stay", "5"]);
        assert_eq!(code, 0, "{t}: {ev:?}");
        let n = names(&ev);
        let pings = n.iter().filter(|e| *e == "ping").count();
        let pongs = n.iter().filter(|e| *e == "pong").count();
        assert!(pings >= 3, "{t}: {n:?}");
        // The last ping may still be waiting for its pong when the run ends.
        assert!(pongs + 1 >= pings && pongs >= 3, "{t}: {n:?}");
        assert!(!n.contains(&"keepalive_failed".to_string()), "{t}: {n:?}");
        assert_eq!(n.last().map(String::as_str), Some("done"), "{t}: {n:?}");
    }
}

/// Multiple lines (manual 3.3.x line keys): two `Registration`s, alice and bob, share one UDP
/// socket and one transaction layer, each with its own Call-ID; kamailio challenges and
/// accepts both, and both are then unregistered. Driven through the library, as ac-core does.
#[test]
fn two_lines_register_at_once_over_one_socket() {
    use ac_sip::driver::{Incoming, TransportConfig, Transports};
    use ac_sip::register::{RegEvent, Registration, RegistrationConfig};
    use ac_sip::transaction::{Timers, Transactions, Transport, TxEvent, TxId};
    use std::net::SocketAddr;

    let k = kamailio("SHA-256");
    let registrar: SocketAddr = format!("127.0.0.1:{}", k.port).parse().unwrap();
    let mut net = Transports::new(&TransportConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .unwrap();
    let local = net.local_addr(Transport::Udp).unwrap();
    let mut tx = Transactions::new(Timers::default());
    let mut lines: Vec<(Registration, Option<TxId>, Vec<&str>)> =
        [("alice", "s3cret!"), ("bob", "other")]
            .iter()
            .enumerate()
            .map(|(i, (user, pw))| {
                let cfg = RegistrationConfig {
                    aor: format!("sip:{user}@example.com"),
                    registrar: "sip:example.com".into(),
                    contact: format!("sip:{user}@{local}"),
                    via_host: local.to_string(),
                    via_transport: "UDP".into(),
                    username: user.to_string(),
                    password: pw.to_string(),
                    expires: 60,
                    user_agent: "ac-sip test".into(),
                    retry_after: Duration::from_secs(30),
                    route: None,
                };
                (Registration::new(cfg, 1000 + i as u64), None, Vec::new())
            })
            .collect();
    let call_ids: Vec<String> = lines.iter().map(|l| l.0.call_id().to_string()).collect();
    assert_ne!(call_ids[0], call_ids[1]);
    for l in &mut lines {
        l.0.register(Instant::now());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut unregistering = [false, false];
    while lines.iter().any(|l| !l.2.contains(&"unregistered")) {
        assert!(Instant::now() < deadline, "timed out");
        for l in &mut lines {
            if let Some(req) = l.0.poll_request() {
                l.1 = Some(
                    tx.send_request(Instant::now(), Transport::Udp, registrar, req)
                        .unwrap(),
                );
            }
        }
        while let Some(t) = tx.poll_transmit() {
            net.send(&t).unwrap();
        }
        while let Some(e) = tx.poll_event() {
            if let TxEvent::Response { tx: id, data } = e {
                for l in lines.iter_mut().filter(|l| l.1 == Some(id)) {
                    l.0.handle_response(Instant::now(), &data);
                }
            }
        }
        for (i, l) in lines.iter_mut().enumerate() {
            while let Some(ev) = l.0.poll_event() {
                match ev {
                    RegEvent::Registered { .. } => {
                        l.2.push("registered");
                        if !unregistering[i] {
                            unregistering[i] = true;
                            l.0.unregister(Instant::now());
                        }
                    }
                    RegEvent::Unregistered => l.2.push("unregistered"),
                    RegEvent::Failed { code, reason } => panic!("line {i}: {code} {reason}"),
                }
            }
        }
        let wake = [
            tx.poll_timeout(),
            Some(Instant::now() + Duration::from_millis(50)),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(Incoming::Message {
            transport,
            source,
            data,
        }) = net.recv(wake)
        {
            tx.handle_message(Instant::now(), transport, source, &data);
        }
        tx.handle_timeout(Instant::now());
        for l in &mut lines {
            l.0.handle_timeout(Instant::now());
        }
    }
    for l in &lines {
        assert_eq!(l.2, ["registered", "unregistered"]);
    }
    let log = fs::read_to_string(k.dir.path().join("kamailio.log")).unwrap_or_default();
    for user in ["alice", "bob"] {
        assert!(
            log.contains(&format!(
                "REGISTERED sip:{user}@example.com via udp contact <sip:{user}@{local}>"
            )),
            "{user}:\n{log}"
        );
    }
}
