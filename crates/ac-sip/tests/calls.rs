//! Calls through kamailio between our `ac-sip-phone` and real SIP phones, all on loopback:
//! baresip and linphonec (headless, audio from WAV files). Both directions, answer,
//! hold/resume by either side, CANCEL by either side, BYE by either side.

mod peers;

use std::time::Duration;

use peers::{kamailio, Baresip, Linphonec, Ours};

const T: Duration = Duration::from_secs(10);

#[test]
fn we_call_baresip_it_answers_we_hold_and_resume_it_holds_and_resumes_it_hangs_up() {
    let k = kamailio();
    let mut bob = Baresip::start(&k, "bob");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:bob@example.com");
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    us.event(T, |v| v["event"] == "progress" && v["code"] == 180);
    bob.cmd("/accept");
    us.event(T, |v| v["event"] == "answered");
    let m = us.event(T, |v| v["event"] == "media");
    // baresip (G.711 only here) answers PCMU and PCMA; PCMA is ours before PCMU.
    assert_eq!(m["codec"], "PCMA");
    assert_eq!(m["direction"], "sendrecv");
    bob.out.wait(T, |l| l.contains("Call established"));
    // Our hold: sendonly offer, baresip answers recvonly.
    us.cmd("hold");
    us.event(T, |v| v["event"] == "media" && v["direction"] == "sendonly");
    us.cmd("resume");
    us.event(T, |v| v["event"] == "media" && v["direction"] == "sendrecv");
    // baresip's hold and resume reach us as a remote hold.
    bob.cmd("/hold");
    us.event(T, |v| v["event"] == "remote_hold" && v["held"] == true);
    std::thread::sleep(Duration::from_millis(300));
    bob.cmd("/resume");
    us.event(T, |v| v["event"] == "remote_hold" && v["held"] == false);
    bob.cmd("/hangup");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(true), Some(200))
    );
}

#[test]
fn baresip_calls_us_we_answer_and_hang_up() {
    let k = kamailio();
    let mut us = Ours::start(&k, "alice", &["--auto-answer-ms", "200"]);
    let mut bob = Baresip::start(&k, "bob");
    bob.cmd("/dial sip:alice@example.com");
    let inc = us.event(T, |v| v["event"] == "incoming");
    assert_eq!(inc["caller"], "sip:bob@example.com");
    us.event(T, |v| v["event"] == "answered");
    bob.out.wait(T, |l| l.contains("Call established"));
    us.cmd("hangup");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(false), Some(200))
    );
    bob.out.wait(T, |l| {
        l.contains("session closed") || l.contains("terminated")
    });
}

#[test]
fn we_cancel_a_ringing_call_to_baresip_and_baresip_cancels_its_call_to_us() {
    let k = kamailio();
    let mut bob = Baresip::start(&k, "bob");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:bob@example.com");
    us.event(T, |v| v["event"] == "progress" && v["code"] == 180);
    us.cmd("hangup");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(false), Some(487))
    );
    bob.out.wait(T, |l| {
        l.contains("session closed") || l.contains("terminated")
    });
    // The other way: baresip rings us and gives up before we answer.
    bob.cmd("/dial sip:alice@example.com");
    us.event(T, |v| v["event"] == "incoming");
    bob.out
        .wait(T, |l| l.contains("180 Ringing") || l.contains("Ringing"));
    bob.cmd("/hangup");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(true), Some(487))
    );
}

#[test]
fn we_call_linphonec_it_answers_pauses_resumes_and_terminates() {
    let k = kamailio();
    let mut carol = Linphonec::start(&k, "carol");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:carol@example.com");
    carol
        .out
        .wait(T, |l| l.contains("Receiving new incoming call"));
    carol.cmd("answer");
    us.event(T, |v| v["event"] == "answered");
    let m = us.event(T, |v| v["event"] == "media");
    assert_eq!(m["direction"], "sendrecv");
    carol.out.wait(T, |l| l.contains("connected"));
    carol.cmd("pause");
    us.event(T, |v| v["event"] == "remote_hold" && v["held"] == true);
    carol.out.wait(T, |l| l.contains("now paused"));
    carol.cmd("resume");
    us.event(T, |v| v["event"] == "remote_hold" && v["held"] == false);
    carol
        .out
        .wait(T, |l| l.contains("Media streams established"));
    // Our own hold and resume, answered by linphonec.
    us.cmd("hold");
    us.event(T, |v| v["event"] == "media" && v["direction"] == "sendonly");
    us.cmd("resume");
    us.event(T, |v| v["event"] == "media" && v["direction"] == "sendrecv");
    carol.cmd("terminate");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(true), Some(200))
    );
}

#[test]
fn linphonec_calls_us_we_answer_and_hang_up_then_it_cancels_a_second_call() {
    let k = kamailio();
    let mut us = Ours::start(&k, "alice", &[]);
    let mut carol = Linphonec::start(&k, "carol");
    carol.cmd("call sip:alice@example.com");
    let inc = us.event(T, |v| v["event"] == "incoming");
    assert_eq!(inc["caller"], "sip:carol@example.com");
    us.cmd("answer");
    us.event(T, |v| v["event"] == "answered");
    carol.out.wait(T, |l| l.contains("connected"));
    us.cmd("hangup");
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(false), Some(200))
    );
    carol
        .out
        .wait(T, |l| l.contains("ended") || l.contains("terminated"));
    // Second call, cancelled by linphonec while we ring.
    carol.cmd("call sip:alice@example.com");
    us.event(T, |v| v["event"] == "incoming" && v["call"] == 2);
    carol.cmd("terminate");
    let e = us.event(T, |v| v["event"] == "ended" && v["call"] == 2);
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(true), Some(487))
    );
}
