//! SIP INFO DTMF, MESSAGE and in-dialog OPTIONS against sipp on loopback: sipp calls our
//! `ac-sip-phone` and sends DTMF as application/dtmf-relay and application/dtmf (each a `dtmf`
//! event with its key, a malformed body refused with 400), OPTIONS in the dialog (200 with
//! Allow and the dialog's tag) and a text/plain MESSAGE in the call; pager-mode MESSAGE
//! outside a call (200, surfaced as an event; an unreadable type 415); and our phone sends
//! DTMF INFOs in a call to sipp, which checks their bodies, and to baresip (through
//! kamailio), which reports the keys.

mod peers;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use peers::{free_port, Ours};

const T: Duration = Duration::from_secs(10);

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
        .display()
        .to_string()
}

fn sipp(name: &str, target: Option<u16>, port: u16, dir: &Path) -> Command {
    let mut c = Command::new("sipp");
    c.arg("-sf").arg(scenario(name));
    if let Some(t) = target {
        c.arg(format!("127.0.0.1:{t}"));
    }
    c.args([
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-m",
        "1",
        "-nostdin",
    ])
    .args([
        "-timeout",
        "20s",
        "-timeout_error",
        "-trace_msg",
        "-message_file",
    ])
    .arg(dir.join("messages.log"))
    .args(["-trace_err", "-error_file"])
    .arg(dir.join("errors.log"))
    .current_dir(dir);
    c
}

fn logs(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("messages.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default()
}

/// (sipp ends the bodies it sends with CRLF; the text is surfaced as it came.)
fn ok(out: &Output, dir: &Path) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "sipp failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        logs(dir)
    );
}

#[test]
fn dtmf_info_options_and_message_in_a_call_from_sipp() {
    let mut us = Ours::direct("phone", &["--auto-answer-ms", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let out = sipp("call_info_uac.xml", Some(us.port), free_port(), dir.path())
        .output()
        .expect("sipp (scripts/install-deps installs sip-tester)");
    ok(&out, dir.path());
    let call = us.event(T, |v| v["event"] == "answered")["call"].clone();
    let d1 = us.event(T, |v| v["event"] == "dtmf");
    assert_eq!(
        (&d1["call"], d1["key"].as_str(), d1["duration_ms"].as_u64()),
        (&call, Some("5"), Some(160))
    );
    let d2 = us.event(T, |v| v["event"] == "dtmf");
    assert_eq!(
        (d2["key"].as_str(), d2["duration_ms"].is_null()),
        (Some("#"), true)
    );
    let m = us.event(T, |v| v["event"] == "message");
    assert_eq!(
        (&m["call"], m["text"].as_str()),
        (&call, Some("hello in call\r\n"))
    );
    assert!(
        m["from"]
            .as_str()
            .unwrap()
            .starts_with("sip:sipp@127.0.0.1"),
        "{m}"
    );
    us.event(T, |v| v["event"] == "ended" && v["by_peer"] == true);
    // The malformed body was refused, not reported.
    assert_eq!(us.seen("dtmf").len(), 2);
    let log = logs(dir.path());
    assert!(log.contains("SIP/2.0 400"), "{log}");
}

#[test]
fn pager_mode_message_is_delivered_and_an_unknown_type_refused() {
    let mut us = Ours::direct("phone", &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = sipp("message_uac.xml", Some(us.port), free_port(), dir.path())
        .output()
        .expect("sipp");
    ok(&out, dir.path());
    let m = us.event(T, |v| v["event"] == "message");
    assert_eq!(
        (m["call"].is_null(), m["from"].as_str(), m["text"].as_str()),
        (
            true,
            Some("sip:reception@example.com"),
            Some("Your visitor is here\r\n")
        )
    );
    std::thread::sleep(Duration::from_millis(200));
    us.out.drain();
    assert_eq!(us.seen("message").len(), 1);
}

#[test]
fn we_send_dtmf_info_that_sipp_checks() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = sipp("call_info_uas.xml", None, port, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    std::thread::sleep(Duration::from_millis(300));
    let mut us = Ours::direct("phone", &[]);
    us.cmd(&format!("dial sip:uas@127.0.0.1:{port}"));
    us.event(T, |v| v["event"] == "answered");
    us.cmd("dtmf 7");
    let a = us.event(T, |v| v["event"] == "info_answered");
    assert_eq!(a["code"], 200);
    us.cmd("dtmf # 1 dtmf");
    let a = us.event(T, |v| v["event"] == "info_answered");
    assert_eq!(a["code"], 200);
    us.cmd("hangup");
    us.event(T, |v| v["event"] == "ended" && v["code"] == 200);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", logs(dir.path()));
}

/// baresip reads DTMF relayed in SIP INFO (application/dtmf-relay): the keys we send in a
/// call through kamailio are the keys it reports, each INFO answered 200. (baresip 1.0 itself
/// sends DTMF only as RFC 4733 events, so it cannot be the sender here; sipp is, above.)
#[test]
fn we_send_dtmf_info_that_baresip_receives() {
    let k = peers::kamailio();
    let mut bob = peers::Baresip::start(&k, "bob");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:bob@example.com");
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    bob.cmd("/accept");
    us.event(T, |v| v["event"] == "answered");
    bob.out.wait(T, |l| l.contains("Call established"));
    for key in ["1", "5", "#"] {
        us.cmd(&format!("dtmf {key}"));
        let a = us.event(T, |v| v["event"] == "info_answered");
        assert_eq!(a["code"], 200, "{a}");
        let l = bob.out.wait(T, |l| l.contains("received DTMF"));
        assert!(l.contains(&format!("'{key}'")), "{l}");
    }
    us.cmd("hangup");
    us.event(T, |v| v["event"] == "ended" && v["code"] == 200);
}
