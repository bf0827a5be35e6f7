//! The server double's faithfulness, checked independently: pidgin-sipe (Debian
//! `pidgin-sipe`, an implementation of [MS-SIPAE] written without our code), driven
//! headless through libpurple by a small C harness compiled here with `cc`, signs in to
//! the double with NTLM over TLS. The double must see a REGISTER whose NTLM
//! AUTHENTICATE and message signature verify, and libpurple must report the account
//! signed on (which pidgin-sipe does only after the double's signed 200 verified).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ac_sip::driver::{Incoming, TlsSettings, TransportConfig, Transports};
use ac_sip::sipe::server::{ServerConfig, ServerEvent, SfbServer};
use ac_sip::transaction::{Transmit, Transport};

mod sipe_common;
use sipe_common::pki;

fn compile_harness(dir: &Path) -> std::path::PathBuf {
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "purple"])
        .output()
        .expect("pkg-config (scripts/install-deps installs it with libpurple-dev)");
    assert!(
        flags.status.success(),
        "pkg-config purple: libpurple-dev missing"
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    let out = dir.join("harness");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pidgin_sipe/harness.c");
    let st = Command::new("cc")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(flags.split_whitespace())
        .status()
        .expect("cc");
    assert!(st.success(), "the harness compiles");
    assert!(
        Path::new("/usr/lib/purple-2/libsipe.so").exists(),
        "pidgin-sipe is installed (scripts/install-deps)"
    );
    out
}

#[test]
fn pidgin_sipe_signs_in_to_the_double_with_ntlm_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let harness = compile_harness(dir.path());
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    let mut srv_t = Transports::new(&TransportConfig {
        tls: Some("127.0.0.1:0".parse().unwrap()),
        tls_settings: TlsSettings {
            identity: Some((read("srv.pem"), read("srv.key"))),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let addr = srv_t.local_addr(Transport::Tls).unwrap();

    let userdir = dir.path().join("purple");
    // libpurple's "tls_peers" pool: a certificate already accepted for this host (what a
    // user's "Accept" stores), so the test CA needs no trust store change.
    let peers = userdir.join("certificates/x509/tls_peers");
    std::fs::create_dir_all(&peers).unwrap();
    std::fs::write(peers.join("127.0.0.1"), read("srv.pem")).unwrap();
    let mut child = Command::new(&harness)
        .arg(&userdir)
        .arg(format!("127.0.0.1:{}", addr.port()))
        .arg("alice@contoso.com")
        .arg("CONTOSO\\alice")
        .arg("P@ssw0rd!")
        .arg("20")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness runs");

    // The double serves until the harness exits (it exits by itself after 20 s at most).
    let mut s = SfbServer::new(
        ServerConfig {
            targetname: "sfb.contoso.com".into(),
            version: 4,
            domain: "CONTOSO".into(),
            users: HashMap::from([("alice".to_string(), "P@ssw0rd!".to_string())]),
            expires: 600,
            date: "Thu, 31 Jan 2008 00:01:56 GMT".into(),
            provisioning: None,
            location_profile: None,
        },
        3,
    );
    let mut events = Vec::new();
    let end = Instant::now() + Duration::from_secs(25);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > end {
            break None;
        }
        if let Some(Incoming::Message {
            transport,
            source,
            data,
        }) = srv_t.recv(Some(Instant::now() + Duration::from_millis(100)))
        {
            if let Some(r) = s.handle(&data) {
                let _ = srv_t.send(&Transmit {
                    transport,
                    dest: source,
                    data: r,
                });
            }
        }
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
    };
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The whole libpurple log, for a failure's investigation.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("pidgin-sipe.log"),
        stderr.as_bytes(),
    );
    let log_tail: String = stderr
        .lines()
        .filter(|l| !l.starts_with("certificate/x509/ca:") && !l.starts_with("nss: Trusting"))
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        events.iter().any(
            |e| matches!(e, ServerEvent::SignedRequest { method, cnum } if method == "REGISTER" && !cnum.is_empty())
        ),
        "the double verified a signed REGISTER; events {events:?}\n{stdout}\n{log_tail}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::Registered { user, .. } if user == "alice")),
        "events {events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ServerEvent::Rejected { .. })),
        "nothing rejected: {events:?}\n{log_tail}"
    );
    assert!(
        stdout.contains("STATE connected"),
        "libpurple reports the account connected: {stdout}\n{log_tail}"
    );
    // pidgin-sipe's own debug log: it verified the double's rspauth on the 200 (the NTLM
    // SeqNum and 3.2.5.1 buffer of both implementations agree).
    assert!(
        stderr.contains("signature of incoming message validated"),
        "pidgin-sipe verified the double's signature\n{log_tail}"
    );
}
