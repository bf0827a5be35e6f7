//! BLF through a real presence server: kamailio (presence, presence_dialoginfo, dialog,
//! pua_dialoginfo) proxies a call between two baresips and publishes the callee's dialog
//! state itself (RFC 4235 bodies); our `ac-sip-phone` watches the callee's AOR with a
//! dialog-package subscription and its lamp goes idle -> early (recipient) -> confirmed ->
//! terminated.

mod peers;

use std::time::Duration;

use peers::{kamailio_presence, Baresip, Ours};

const T: Duration = Duration::from_secs(15);

#[test]
fn a_blf_subscription_tracks_a_baresip_call() {
    let k = kamailio_presence();
    let mut bob = Baresip::start(&k, "bob");
    let alice = Baresip::start(&k, "alice");
    let mut carol = Ours::start(&k, "carol", &[]);
    carol.cmd("watch-dialog sip:bob@example.com");
    // The first NOTIFY (no call yet) makes the lamp idle.
    let first = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(first["state"], "idle", "{first}");
    alice.cmd("/dial sip:bob@example.com");
    bob.out.wait(T, |l| l.contains("Incoming call from"));
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(
        (e["state"].as_str(), e["direction"].as_str()),
        (Some("early"), Some("recipient")),
        "{e}"
    );
    bob.cmd("/accept");
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(
        (e["state"].as_str(), e["direction"].as_str()),
        (Some("confirmed"), Some("recipient")),
        "{e}"
    );
    assert_eq!(e["peer"], "sip:alice@example.com", "{e}");
    alice.cmd("/hangup");
    let e = carol.event(T, |v| v["event"] == "blf");
    assert_eq!(e["state"], "terminated", "{e}");
    // Every lamp change, in order, and every NOTIFY body was a valid dialog-info document.
    let states: Vec<String> = carol
        .seen("blf")
        .iter()
        .map(|v| v["state"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(states, ["idle", "early", "confirmed", "terminated"]);
    assert!(carol.seen("bad_body").is_empty());
    assert!(carol
        .seen("subscription")
        .iter()
        .any(|v| v["state"] == "active"));
    let log = k.log();
    assert!(
        log.contains("PRESENCE PUBLISH sip:bob@example.com event dialog"),
        "{log}"
    );
}
