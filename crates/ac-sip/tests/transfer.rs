//! Call transfer (RFC 3515 REFER, RFC 3892 Referred-By, RFC 3891 Replaces) with three
//! parties through kamailio on loopback: our `ac-sip-phone`, baresip and linphonec. Blind
//! transfer with us as transferor and as transferee, attended transfer with us as transferor;
//! progress arrives as NOTIFY message/sipfrag.

mod peers;

use std::time::Duration;

use peers::{kamailio, Baresip, Linphonec, Ours};

const T: Duration = Duration::from_secs(10);

#[test]
fn we_blind_transfer_baresip_to_linphonec() {
    let k = kamailio();
    let mut bob = Baresip::start(&k, "bob");
    let mut carol = Linphonec::start(&k, "carol");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:bob@example.com");
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    bob.cmd("/accept");
    us.event(T, |v| v["event"] == "answered");
    us.cmd("transfer sip:carol@example.com");
    // baresip (transferee) calls carol on its own, as the REFER asked.
    carol.out.wait(T, |l| {
        l.contains("Receiving new incoming call from sip:bob@example.com")
    });
    carol.cmd("answer");
    let p = us.event(T, |v| {
        v["event"] == "transfer_progress" && v["code"].as_u64() >= Some(200)
    });
    bob.out.drain();
    assert_eq!(p["code"], 200, "{:#?}", bob.out.seen);
    // Our part is done: ac-sip-phone hangs up the call to bob, bob and carol stay connected.
    let e = us.event(T, |v| v["event"] == "ended");
    assert_eq!(
        (e["by_peer"].as_bool(), e["code"].as_u64()),
        (Some(false), Some(200))
    );
    carol.out.wait(T, |l| l.contains("connected"));
    std::thread::sleep(Duration::from_millis(300));
    carol.out.drain();
    assert!(
        !carol.out.seen.iter().any(|l| l.contains("ended")),
        "{:?}",
        carol.out.seen
    );
}

#[test]
fn linphonec_blind_transfers_us_to_baresip() {
    let k = kamailio();
    let mut bob = Baresip::start(&k, "bob");
    let mut carol = Linphonec::start(&k, "carol");
    let mut us = Ours::start(&k, "alice", &["--auto-answer-ms", "100"]);
    carol.cmd("call sip:alice@example.com");
    us.event(T, |v| v["event"] == "answered");
    carol.out.wait(T, |l| l.contains("connected"));
    carol.cmd("transfer 1 sip:bob@example.com");
    let r = us.event(T, |v| v["event"] == "transfer_requested");
    assert_eq!(r["target"], "sip:bob@example.com");
    assert_eq!(r["replaces"], false);
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    bob.cmd("/accept");
    us.event(T, |v| {
        v["event"] == "answered" && v["call"] == r["new_call"]
    });
    // linphonec got our NOTIFY with "SIP/2.0 200 OK" and ends its call with us.
    let e = us.event(T, |v| v["event"] == "ended" && v["call"] == r["call"]);
    assert_eq!(e["by_peer"], true);
    bob.out.wait(T, |l| l.contains("Call established"));
}

#[test]
fn we_transfer_linphonec_attended_to_a_second_linphonec() {
    let k = kamailio();
    let mut carol = Linphonec::start(&k, "carol");
    let mut dave = Linphonec::start(&k, "dave");
    let mut us = Ours::start(&k, "alice", &[]);
    us.cmd("dial sip:carol@example.com");
    carol
        .out
        .wait(T, |l| l.contains("Receiving new incoming call"));
    carol.cmd("answer");
    us.event(T, |v| v["event"] == "answered" && v["call"] == 1);
    us.cmd("hold 1");
    us.event(T, |v| {
        v["event"] == "media" && v["call"] == 1 && v["direction"] == "sendonly"
    });
    // Consultation call.
    us.cmd("dial sip:dave@example.com");
    dave.out
        .wait(T, |l| l.contains("Receiving new incoming call"));
    dave.cmd("answer");
    us.event(T, |v| v["event"] == "answered" && v["call"] == 2);
    us.cmd("attended 1 2");
    // carol INVITEs dave with Replaces; dave drops our consultation call for it.
    let e = us.event(T, |v| v["event"] == "ended" && v["call"] == 2);
    assert_eq!(e["by_peer"], true);
    let p = us.event(T, |v| {
        v["event"] == "transfer_progress" && v["code"].as_u64() >= Some(200)
    });
    assert_eq!(p["code"], 200);
    let e = us.event(T, |v| v["event"] == "ended" && v["call"] == 1);
    assert_eq!(e["by_peer"], false);
    dave.out.wait(T, |l| {
        l.contains("sip:carol@example.com") && l.contains("connected")
    });
}
