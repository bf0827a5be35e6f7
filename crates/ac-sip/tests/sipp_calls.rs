//! sipp (sip-tester) scenarios against our call core (`ac-sip-phone`) on loopback: reliable
//! provisional responses with PRACK (RFC 3262), session-timer refreshes (RFC 4028), 491 glare
//! (RFC 3261 14), forked 2xx answers to our INVITE (13.2.2.4), and REFER with its NOTIFYs
//! (RFC 3515) in both roles of a blind transfer.

mod peers;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

fn sipp_args(port: u16, dir: &Path) -> Vec<String> {
    vec![
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-m".into(),
        "1".into(),
        "-nostdin".into(),
        "-timeout".into(),
        "30s".into(),
        "-timeout_error".into(),
        "-trace_msg".into(),
        "-message_file".into(),
        dir.join("messages.log").display().to_string(),
        "-trace_err".into(),
        "-error_file".into(),
        dir.join("errors.log").display().to_string(),
    ]
}

/// sipp as UAC against our phone; returns its output and message trace.
fn uac(name: &str, port: u16) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("sipp")
        .arg("-sf")
        .arg(scenario(name))
        .arg(format!("127.0.0.1:{port}"))
        .args(sipp_args(free_port(), dir.path()))
        .current_dir(dir.path())
        .output()
        .expect("sipp (scripts/install-deps installs sip-tester)");
    let log = std::fs::read_to_string(dir.path().join("messages.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
    (out, log)
}

struct SippUas {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SippUas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SippUas {
    fn start(name: &str) -> SippUas {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(scenario(name))
            .args(sipp_args(port, dir.path()))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp");
        std::thread::sleep(Duration::from_millis(300));
        SippUas { child, port, dir }
    }

    fn finish(mut self) -> (i32, String) {
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        let log = std::fs::read_to_string(self.dir.path().join("messages.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("errors.log")).unwrap_or_default();
        (code, log)
    }
}

fn ok(out: &Output, log: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "sipp failed:\n{}\n{log}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn reliable_180_is_pracked_before_the_200() {
    let mut us = Ours::direct("phone", &["--100rel", "--auto-answer-ms", "0"]);
    let (out, log) = uac("call_prack.xml", us.port);
    ok(&out, &log);
    us.event(T, |v| v["event"] == "answered");
    us.event(T, |v| v["event"] == "ended" && v["by_peer"] == true);
}

#[test]
fn the_session_is_refreshed_by_reinvite_when_we_are_the_refresher() {
    let mut us = Ours::direct("phone", &["--auto-answer-ms", "0", "--min-se", "2"]);
    let (out, log) = uac("call_session_timer.xml", us.port);
    ok(&out, &log);
    us.event(T, |v| v["event"] == "ended" && v["by_peer"] == true);
    assert!(us.seen("refreshed").len() >= 2, "{:?}", us.out.seen);
}

#[test]
fn glare_is_refused_with_491_and_our_reinvite_is_retried() {
    let mut us = Ours::direct("phone", &["--auto-answer-ms", "0"]);
    let port = us.port;
    let h = std::thread::spawn(move || uac("call_glare.xml", port));
    us.event(T, |v| v["event"] == "answered");
    us.cmd("hold");
    let (out, log) = h.join().unwrap();
    ok(&out, &log);
    us.event(T, |v| v["event"] == "media" && v["direction"] == "sendonly");
    us.event(T, |v| v["event"] == "ended" && v["by_peer"] == true);
    assert!(log.contains("SIP/2.0 491"), "{log}");
}

#[test]
fn a_second_2xx_from_another_fork_is_acked_and_released_with_bye() {
    let sipp = SippUas::start("call_fork_uas.xml");
    let mut us = Ours::direct("phone", &[]);
    us.cmd(&format!("dial sip:fork@127.0.0.1:{}", sipp.port));
    us.event(T, |v| v["event"] == "answered");
    let m = us.event(T, |v| v["event"] == "media");
    // The first answer (fork A, PCMU) is the session.
    assert_eq!(m["codec"], "PCMU");
    std::thread::sleep(Duration::from_millis(500));
    us.cmd("hangup");
    us.event(T, |v| {
        v["event"] == "ended" && v["by_peer"] == false && v["code"] == 200
    });
    let (code, log) = sipp.finish();
    assert_eq!(code, 0, "{log}");
}

/// We transfer: our phone REFERs sipp (the transferee) to carol; sipp's two NOTIFYs (100, then
/// 200 terminated) are answered and reported, and our phone then ends its call with BYE.
#[test]
fn our_refer_is_accepted_and_its_notifies_end_the_transfer() {
    let sipp = SippUas::start("call_refer_transferee_uas.xml");
    let mut us = Ours::direct("phone", &[]);
    us.cmd(&format!("dial sip:bob@127.0.0.1:{}", sipp.port));
    us.event(T, |v| v["event"] == "answered");
    us.cmd("transfer sip:carol@example.test");
    let p = us.event(T, |v| {
        v["event"] == "transfer_progress" && v["code"].as_u64() >= Some(200)
    });
    assert_eq!(p["code"], 200);
    let codes: Vec<u64> = us
        .seen("transfer_progress")
        .iter()
        .filter_map(|v| v["code"].as_u64())
        .collect();
    assert_eq!(codes, vec![100, 200]);
    us.event(T, |v| {
        v["event"] == "ended" && v["by_peer"] == false && v["code"] == 200
    });
    let (code, log) = sipp.finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("Referred-By:"), "{log}");
}

/// We are transferred: sipp calls us and REFERs us to carol (another ac-sip-phone); we accept
/// with 202, call carol with sipp's Referred-By, and NOTIFY 100 Trying then 200 OK.
#[test]
fn a_refer_we_receive_calls_the_target_and_notifies_the_outcome() {
    let mut carol = Ours::direct("carol", &["--auto-answer-ms", "0"]);
    let mut us = Ours::direct("phone", &["--auto-answer-ms", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("sipp")
        .arg("-sf")
        .arg(scenario("call_refer_transferor_uac.xml"))
        .arg(format!("127.0.0.1:{}", us.port))
        .args(["-key", "carol_port", &carol.port.to_string()])
        .args(sipp_args(free_port(), dir.path()))
        .current_dir(dir.path())
        .output()
        .expect("sipp");
    let log = std::fs::read_to_string(dir.path().join("messages.log")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
    ok(&out, &log);
    let r = us.event(T, |v| v["event"] == "transfer_requested");
    assert!(
        r.to_string().contains("carol@127.0.0.1"),
        "transfer target: {r}"
    );
    // The first call ended by sipp's BYE; the new one is up with carol.
    us.event(T, |v| v["event"] == "ended" && v["by_peer"] == true);
    let inc = carol.event(T, |v| v["event"] == "incoming");
    // The new call comes from the transferee (us), not from sipp.
    assert_eq!(
        inc["caller"],
        format!("sip:phone@127.0.0.1:{}", us.port),
        "{inc}"
    );
    carol.event(T, |v| v["event"] == "answered");
    assert!(
        log.contains("SIP/2.0 100 Trying") && log.contains("SIP/2.0 200 OK"),
        "{log}"
    );
}
