//! Feature logic of the manual on the virtual clock (sans-IO phones in one thread).

mod common;

use std::time::Duration;

use ac_core::board::{BoardEvent, BoardOutput, DisplayKind, HookState, KeyAction, KeyCode, Tone};
use ac_core::features::{Forward, ForwardMode};
use ac_core::phone::CallPhase;
use common::{config, Net};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn three() -> Net {
    let mut net = Net::new();
    net.add("a", config(0, &[]), 500.0);
    net.add("b", config(0, &[]), 700.0);
    net.add("c", config(0, &[]), 900.0);
    net
}

fn phases(net: &Net, i: usize) -> Vec<CallPhase> {
    net.nodes[i]
        .phone
        .status()
        .calls
        .iter()
        .map(|c| c.phase)
        .collect()
}

fn dial(net: &mut Net, from: usize, to: usize) -> u32 {
    let now = net.now;
    let uri = net.uri(to);
    net.nodes[from].phone.dial(now, &uri).unwrap()
}

#[test]
fn dnd_rejects_and_logs_missed() {
    let mut net = three();
    net.nodes[1].phone.features_mut().dnd = true;
    dial(&mut net, 0, 1);
    net.run(ms(300));
    assert!(phases(&net, 0).is_empty() && phases(&net, 1).is_empty());
    assert!(net.saw(0, &BoardOutput::Tone(Tone::Busy)));
    assert_eq!(net.nodes[1].phone.call_log().missed.len(), 1);
    assert_eq!(net.nodes[1].phone.status().missed_calls, 1);
    // DND key toggles it off; the next call rings.
    let now = net.now;
    net.nodes[1]
        .phone
        .handle_board(now, BoardEvent::Key(KeyCode::Dnd, KeyAction::Pressed));
    dial(&mut net, 0, 1);
    net.run(ms(300));
    assert_eq!(phases(&net, 1), vec![CallPhase::Incoming]);
}

#[test]
fn forward_always_and_no_answer() {
    let mut net = three();
    let c_uri = net.uri(2);
    net.nodes[1].phone.features_mut().forward = Some(Forward {
        mode: ForwardMode::Always,
        target: c_uri.clone(),
        no_answer_timeout: ms(0),
    });
    dial(&mut net, 0, 1);
    net.run(ms(500));
    // a followed the 302 to c.
    assert_eq!(phases(&net, 2), vec![CallPhase::Incoming]);
    assert!(phases(&net, 1).is_empty());
    let now = net.now;
    let id = net.nodes[0].phone.status().calls[0].id;
    net.nodes[0].phone.hangup(now, id).unwrap();
    net.run(ms(300));
    net.nodes[1].phone.features_mut().forward = Some(Forward {
        mode: ForwardMode::NoAnswer,
        target: c_uri,
        no_answer_timeout: ms(3000),
    });
    dial(&mut net, 0, 1);
    net.run(ms(2000));
    assert_eq!(phases(&net, 1), vec![CallPhase::Incoming]);
    assert!(phases(&net, 2).is_empty());
    net.run(ms(1500));
    assert!(phases(&net, 1).is_empty());
    assert_eq!(phases(&net, 2), vec![CallPhase::Incoming]);
}

#[test]
fn call_waiting_with_and_without_tone_and_busy_on_busy() {
    for (tone, bob) in [(true, false), (false, false), (true, true)] {
        let mut net = Net::new();
        let flag = if tone { "1" } else { "0" };
        net.add("a", config(0, &[]), 500.0);
        net.add(
            "b",
            config(
                0,
                &[("voip/services/call_waiting/generate_tone/enabled", flag)],
            ),
            700.0,
        );
        net.add("c", config(0, &[]), 900.0);
        net.nodes[1].phone.features_mut().auto_answer = true;
        net.nodes[1].phone.features_mut().busy_on_busy = bob;
        dial(&mut net, 0, 1);
        net.run(ms(300));
        assert_eq!(phases(&net, 1), vec![CallPhase::Connected]);
        dial(&mut net, 2, 1);
        net.run(ms(300));
        if bob {
            // Manual 3.3.12: the second caller gets busy.
            assert!(phases(&net, 2).is_empty());
            assert!(net.saw(2, &BoardOutput::Tone(Tone::Busy)));
            continue;
        }
        assert_eq!(
            phases(&net, 1),
            vec![CallPhase::Connected, CallPhase::Incoming]
        );
        assert_eq!(net.displays(1, DisplayKind::CallWaiting).len(), 1);
        assert_eq!(net.saw(1, &BoardOutput::Tone(Tone::CallWaiting)), tone);
        // Answering the waiting call holds the first.
        let now = net.now;
        net.nodes[1]
            .phone
            .handle_board(now, BoardEvent::Key(KeyCode::Ok, KeyAction::Pressed));
        net.run(ms(300));
        assert_eq!(phases(&net, 1), vec![CallPhase::Held, CallPhase::Connected]);
        assert_eq!(phases(&net, 0), vec![CallPhase::RemoteHeld]);
    }
}

#[test]
fn blind_transfer_moves_the_caller() {
    let mut net = three();
    net.nodes[1].phone.features_mut().auto_answer = true;
    net.nodes[2].phone.features_mut().auto_answer = true;
    let id = dial(&mut net, 0, 1);
    net.run(ms(300));
    let now = net.now;
    let c = net.uri(2);
    let bid = net.nodes[1].phone.status().calls[0].id;
    net.nodes[1].phone.transfer(now, bid, &c).unwrap();
    net.run(ms(1000));
    // b is out; a talks to c.
    assert!(phases(&net, 1).is_empty(), "{:?}", phases(&net, 1));
    assert_eq!(phases(&net, 0), vec![CallPhase::Connected]);
    assert_eq!(phases(&net, 2), vec![CallPhase::Connected]);
    assert_ne!(net.nodes[0].phone.status().calls[0].id, id);
}

#[test]
fn hotline_redial_speed_dial() {
    let mut net = Net::new();
    net.add("a", config(0, &[]), 500.0);
    net.add("b", config(0, &[]), 700.0);
    let b = net.uri(1);
    // Manual 3.3.4.2: off-hook dials the destination after the timeout.
    let hot = config(
        0,
        &[
            ("voip/dialing/auto_dialing/enabled", "1"),
            ("voip/dialing/auto_dialing/timeout", "2"),
            ("voip/dialing/auto_dialing/destination", &b),
            ("personal_settings/functional_key/3/type", "SPEED_DIAL"),
            ("personal_settings/functional_key/3/speed_dial_number", &b),
        ],
    );
    net.add("h", hot, 300.0);
    let now = net.now;
    net.nodes[2]
        .phone
        .handle_board(now, BoardEvent::Hook(HookState::OffHook));
    net.run(ms(1500));
    assert!(phases(&net, 1).is_empty());
    net.run(ms(800));
    assert_eq!(phases(&net, 1), vec![CallPhase::Incoming]);
    let now = net.now;
    net.nodes[2]
        .phone
        .handle_board(now, BoardEvent::Hook(HookState::OnHook));
    net.run(ms(300));
    assert!(phases(&net, 1).is_empty());
    assert_eq!(net.nodes[1].phone.call_log().missed.len(), 1);
    // Redial key.
    let now = net.now;
    net.nodes[2]
        .phone
        .handle_board(now, BoardEvent::Key(KeyCode::Redial, KeyAction::Pressed));
    net.run(ms(300));
    assert_eq!(phases(&net, 1), vec![CallPhase::Incoming]);
    let now = net.now;
    let id = net.nodes[2].phone.active_call().unwrap();
    net.nodes[2].phone.hangup(now, id).unwrap();
    net.run(ms(300));
    // Function key 4 (index 3) is a speed dial.
    let now = net.now;
    net.nodes[2]
        .phone
        .handle_board(now, BoardEvent::Key(KeyCode::Function4, KeyAction::Pressed));
    net.run(ms(300));
    assert_eq!(phases(&net, 1), vec![CallPhase::Incoming]);
    assert_eq!(net.nodes[2].phone.call_log().dialed.len(), 3);
}

#[test]
fn lock_policy_and_sign_out() {
    // Manual 4.9.1.2: GET_FROM_INBAND without inband value = incoming only.
    let mut net = Net::new();
    net.add("a", config(0, &[]), 500.0);
    net.add(
        "b",
        config(0, &[("AllowCallsInLockState", "DENY_BOTH")]),
        700.0,
    );
    net.nodes[0].phone.lock("1234");
    let now = net.now;
    let b = net.uri(1);
    assert!(net.nodes[0].phone.dial(now, &b).is_err());
    // Emergency numbers stay allowed (manual 4.9); this one has no route, so SIP refuses it
    // later, but the lock does not.
    assert!(!matches!(
        net.nodes[0].phone.dial(now, "911"),
        Err(ac_core::CoreError::State(_))
    ));
    assert!(!net.nodes[0].phone.unlock("0000"));
    assert!(net.nodes[0].phone.unlock("1234"));
    net.nodes[1].phone.lock("1");
    dial(&mut net, 0, 1);
    net.run(ms(300));
    assert!(
        phases(&net, 1).is_empty(),
        "DENY_BOTH refuses incoming calls"
    );
    assert!(net.nodes[0].phone.sign_out_allowed());
    let mut net2 = Net::new();
    net2.add(
        "ca",
        config(0, &[("voip/common_area/enhanced_mode", "1")]),
        0.0,
    );
    assert!(!net2.nodes[0].phone.sign_out_allowed());
}
