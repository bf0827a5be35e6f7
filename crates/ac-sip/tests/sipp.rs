//! sipp (sip-tester) as UAC against our UAS (the transaction layer, the RFC 3261 8.2 checks
//! and `ac-sip-ua serve`) on loopback: retransmissions under loss, a lost ACK, an ACK that
//! never comes, CANCEL of a ringing INVITE, a CANCEL that loses the race with the 200, the
//! transaction's own 100 Trying, and 2,000 OPTIONS per second for 30 s.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One sipp run at a time: the load test must not share the two CPUs with another run.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Uas {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl Uas {
    fn start(extra: &[&str]) -> Uas {
        let port = free_udp_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
            .args([
                "serve",
                "--udp",
                &format!("127.0.0.1:{port}"),
                "--duration",
                "120",
                "--stop-on-eof",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("UAS starts");
        assert!(first.contains("listening"), "{first}");
        Uas {
            child,
            stdin,
            lines,
            port,
        }
    }

    /// Stops the UAS and returns its per-method counts.
    fn finish(mut self) -> BTreeMap<String, u64> {
        drop(self.stdin.take());
        let mut counts = BTreeMap::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(20)) {
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            if v["event"] == "summary" {
                for (k, n) in v["counts"].as_object().unwrap() {
                    counts.insert(k.clone(), n.as_u64().unwrap());
                }
                break;
            }
        }
        let _ = self.child.wait();
        counts
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct SippRun {
    code: i32,
    successful: u64,
    failed: u64,
    messages: String,
}

fn last_number(out: &str, label: &str) -> u64 {
    out.lines()
        .rev()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0)
}

fn sipp(scenario: &str, uas: &Uas, extra: &[&str]) -> SippRun {
    let dir = tempfile::tempdir().unwrap();
    let sf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(scenario);
    let msgs = dir.path().join("messages.log");
    let o = Command::new("sipp")
        .arg("-sf")
        .arg(&sf)
        .arg(format!("127.0.0.1:{}", uas.port))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &free_udp_port().to_string(),
            "-nostdin",
            "-timeout",
            "100s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
        ])
        .arg(&msgs)
        .args(extra)
        .current_dir(dir.path())
        .output()
        .expect("sipp (package sip-tester; scripts/install-deps installs it)");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    SippRun {
        code: o.status.code().unwrap_or(-1),
        successful: last_number(&out, "Successful call"),
        failed: last_number(&out, "Failed call"),
        messages: std::fs::read_to_string(&msgs).unwrap_or_default(),
    }
}

/// Messages sipp received whose first line starts with `start` and that carry `cseq`.
fn received(messages: &str, start: &str, cseq: &str) -> usize {
    messages
        .split("-----------------------------------------------")
        .filter(|b| b.contains("message received"))
        .filter(|b| {
            let body: Vec<&str> = b
                .lines()
                .skip_while(|l| !l.starts_with("SIP/2.0") && !l.contains(" SIP/2.0"))
                .collect();
            body.first().is_some_and(|l| l.starts_with(start)) && b.contains(cseq)
        })
        .count()
}

#[test]
fn calls_survive_5_percent_loss_and_retransmitted_invites_reach_the_tu_once() {
    let _serial = serial();
    let uas = Uas::start(&[]);
    let r = sipp(
        "invite_bye.xml",
        &uas,
        &["-m", "50", "-r", "25", "-lost", "5"],
    );
    let counts = uas.finish();
    assert_eq!((r.code, r.successful, r.failed), (0, 50, 0));
    assert_eq!(counts.get("INVITE"), Some(&50), "{counts:?}");
    assert_eq!(counts.get("BYE"), Some(&50), "{counts:?}");
}

#[test]
fn a_late_ack_stops_the_200_retransmissions() {
    let _serial = serial();
    let uas = Uas::start(&["--t1-ms", "100"]);
    let r = sipp("lost_ack.xml", &uas, &["-m", "1"]);
    let counts = uas.finish();
    assert_eq!((r.code, r.successful), (0, 1));
    let copies = received(&r.messages, "SIP/2.0 200", "CSeq: 1 INVITE");
    assert!(
        copies >= 2,
        "the 200 was retransmitted while the ACK was held: {copies} copies"
    );
    assert_eq!(counts.get("ACK"), Some(&1));
    assert_eq!(counts.get("ack_timeout"), None);
}

#[test]
fn a_200_never_acked_is_given_up_after_64_t1() {
    let _serial = serial();
    let uas = Uas::start(&["--t1-ms", "40"]);
    let r = sipp("no_ack.xml", &uas, &["-m", "1"]);
    thread::sleep(Duration::from_millis(500));
    let counts = uas.finish();
    assert_eq!(r.code, 0);
    let copies = received(&r.messages, "SIP/2.0 200", "CSeq: 1 INVITE");
    assert!(copies >= 5, "{copies} copies of the 200");
    assert_eq!(counts.get("ack_timeout"), Some(&1), "{counts:?}");
}

#[test]
fn cancel_of_a_ringing_invite_gets_200_and_487() {
    let _serial = serial();
    let uas = Uas::start(&["--answer-delay-ms", "10000"]);
    let r = sipp("cancel.xml", &uas, &["-m", "10", "-r", "10"]);
    let counts = uas.finish();
    assert_eq!((r.code, r.successful, r.failed), (0, 10, 0));
    assert_eq!(counts.get("CANCEL"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("invite_200"), None, "no INVITE was answered 200");
    assert_eq!(received(&r.messages, "SIP/2.0 487", "CSeq: 1 INVITE"), 10);
}

#[test]
fn a_cancel_after_the_200_changes_nothing() {
    let _serial = serial();
    let uas = Uas::start(&[]);
    let r = sipp("cancel_race.xml", &uas, &["-m", "10", "-r", "10"]);
    let counts = uas.finish();
    assert_eq!((r.code, r.successful, r.failed), (0, 10, 0));
    assert_eq!(received(&r.messages, "SIP/2.0 200", "CSeq: 1 CANCEL"), 10);
    assert_eq!(received(&r.messages, "SIP/2.0 487", "CSeq: 1 INVITE"), 0);
    assert_eq!(counts.get("BYE"), Some(&10));
}

#[test]
fn the_invite_transaction_sends_100_trying_only_when_the_tu_is_slow() {
    let _serial = serial();
    let uas = Uas::start(&["--no-ringing", "--answer-delay-ms", "1000"]);
    let r = sipp("trying.xml", &uas, &["-m", "5", "-r", "5"]);
    uas.finish();
    assert_eq!((r.code, r.successful), (0, 5));
    assert_eq!(received(&r.messages, "SIP/2.0 100", "CSeq: 1 INVITE"), 5);
    // A TU that answers at once: no 100 (17.2.1 "unless ... within 200 ms").
    let uas = Uas::start(&["--no-ringing"]);
    let r = sipp("invite_bye.xml", &uas, &["-m", "5", "-r", "5"]);
    uas.finish();
    assert_eq!((r.code, r.successful), (0, 5));
    assert_eq!(received(&r.messages, "SIP/2.0 100", "CSeq: 1 INVITE"), 0);
}

#[test]
fn options_at_2000_per_second_for_30_seconds() {
    let _serial = serial();
    let uas = Uas::start(&[]);
    let r = sipp(
        "options.xml",
        &uas,
        &["-m", "60000", "-r", "2000", "-l", "20000"],
    );
    let counts = uas.finish();
    assert_eq!((r.code, r.successful, r.failed), (0, 60000, 0));
    assert_eq!(counts.get("OPTIONS"), Some(&60000), "{counts:?}");
}
