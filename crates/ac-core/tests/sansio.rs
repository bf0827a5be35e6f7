//! Two (or three) sans-IO phones in one thread on a virtual clock: calls, media, features.

mod common;

use std::time::Duration;

use ac_core::board::{
    BoardEvent, BoardOutput, DisplayKind, HookState, KeyAction, KeyCode, Ringer, Tone,
};
use ac_core::phone::CallPhase;
use common::{config, tone_ratio, Net};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// G.722 first in both phones' lists (the factory defaults put SILK_16000 first).
const G722_FIRST: &[(&str, &str)] = &[("voip/codec/codec_info/0/name", "G722")];

#[test]
fn call_with_audio_both_ways_g722_and_quality() {
    let mut net = Net::new();
    let a = net.add("alice", config(40000, G722_FIRST), 1000.0);
    let b = net.add("bob", config(41000, G722_FIRST), 1500.0);
    net.nodes[b].phone.features_mut().auto_answer = true;
    let now = net.now;
    let uri = net.uri(b);
    let id = net.nodes[a].phone.dial(now, &uri).unwrap();
    net.run(ms(6000));
    let st = net.nodes[a].phone.status();
    assert_eq!(st.calls.len(), 1);
    assert_eq!(st.calls[0].phase, CallPhase::Connected);
    assert_eq!(st.calls[0].codec, "G722");
    // 20 ms packets for ~6 s.
    assert!(st.calls[0].packets_received > 250, "{st:?}");
    // What each side heard is the other's tone.
    let ha = &net.nodes[a].heard[16000 * 2..];
    let hb = &net.nodes[b].heard[16000 * 2..];
    assert!(
        tone_ratio(ha, 16000.0, 1500.0) > 0.8,
        "{}",
        tone_ratio(ha, 16000.0, 1500.0)
    );
    assert!(
        tone_ratio(hb, 16000.0, 1000.0) > 0.8,
        "{}",
        tone_ratio(hb, 16000.0, 1000.0)
    );
    assert!(tone_ratio(ha, 16000.0, 1000.0) < 0.05);
    // RTCP-XR voice quality arrived after 5 s.
    let q = net.nodes[a].phone.call_quality(id).expect("quality report");
    assert!(q.mos_lq > 4.0 && q.r_factor > 80, "{q:?}");
    net.nodes[a].phone.hangup(net.now, id).unwrap();
    net.run(ms(100));
    assert!(net.nodes[a].phone.status().calls.is_empty());
    assert!(net.nodes[b].phone.status().calls.is_empty());
    assert!(!net.displays(a, DisplayKind::Quality).is_empty());
    assert_eq!(net.nodes[b].phone.call_log().received.len(), 1);
    assert_eq!(net.nodes[a].phone.call_log().dialed.len(), 1);
}

/// Factory defaults: SILK_16000 is negotiated (manual 3.3.14.2: SILK first) and each side
/// hears the other's tone through the SILK encoder and decoder.
#[test]
fn default_codecs_negotiate_silk_16000_with_audio_both_ways() {
    let mut net = Net::new();
    let a = net.add("alice", config(40000, &[]), 1000.0);
    let b = net.add("bob", config(41000, &[]), 1500.0);
    net.nodes[b].phone.features_mut().auto_answer = true;
    let now = net.now;
    let uri = net.uri(b);
    let id = net.nodes[a].phone.dial(now, &uri).unwrap();
    net.run(ms(6000));
    let st = net.nodes[a].phone.status();
    assert_eq!(st.calls[0].phase, CallPhase::Connected);
    assert_eq!(st.calls[0].codec, "SILK_16000");
    assert!(st.calls[0].packets_received > 250, "{st:?}");
    let ha = &net.nodes[a].heard[16000 * 2..];
    let hb = &net.nodes[b].heard[16000 * 2..];
    let (ra, rb) = (
        tone_ratio(ha, 16000.0, 1500.0),
        tone_ratio(hb, 16000.0, 1000.0),
    );
    println!("SILK_16000 call: tone share alice {ra:.3}, bob {rb:.3}");
    assert!(ra > 0.8 && rb > 0.8, "{ra} {rb}");
    assert!(tone_ratio(ha, 16000.0, 1000.0) < 0.05);
    net.nodes[a].phone.hangup(net.now, id).unwrap();
    net.run(ms(100));
    assert!(net.nodes[a].phone.status().calls.is_empty());
}

#[test]
fn pcmu_call_resamples_and_loss_lowers_quality() {
    let mut net = Net::new();
    let only_pcmu = [
        ("voip/codec/codec_info/0/name", "PCMU"),
        ("voip/codec/codec_info/1/enabled", "0"),
        ("voip/codec/codec_info/2/enabled", "0"),
        ("voip/codec/codec_info/3/enabled", "0"),
        ("voip/codec/codec_info/4/enabled", "0"),
    ];
    let a = net.add("alice", config(40000, &only_pcmu), 600.0);
    let b = net.add("bob", config(41000, &[]), 1200.0);
    net.nodes[b].phone.features_mut().auto_answer = true;
    net.loss_permille = 50;
    let now = net.now;
    let uri = net.uri(b);
    let id = net.nodes[a].phone.dial(now, &uri).unwrap();
    net.run(ms(6000));
    assert_eq!(net.nodes[a].phone.status().calls[0].codec, "PCMU");
    let hb = &net.nodes[b].heard[16000 * 2..];
    assert!(
        tone_ratio(hb, 16000.0, 600.0) > 0.6,
        "{}",
        tone_ratio(hb, 16000.0, 600.0)
    );
    let q = net.nodes[a].phone.call_quality(id).expect("quality report");
    assert!(q.loss_pct > 1.0 && q.mos_lq < 4.4, "{q:?}");
    assert!(net.dropped > 0);
}

#[test]
fn dtmf_hold_resume() {
    let mut net = Net::new();
    let a = net.add("alice", config(40000, &[]), 1000.0);
    let b = net.add("bob", config(41000, &[]), 1500.0);
    let now = net.now;
    let uri = net.uri(b);
    net.nodes[a]
        .phone
        .handle_board(now, BoardEvent::Hook(HookState::OffHook));
    let id = net.nodes[a].phone.dial(now, &uri).unwrap();
    net.run(ms(200));
    // Bob rings; answers by lifting the handset.
    assert!(net.saw(b, &BoardOutput::Ringer(Ringer::Ring)));
    assert!(net.saw(a, &BoardOutput::Tone(Tone::Ringback)));
    let now = net.now;
    net.nodes[b]
        .phone
        .handle_board(now, BoardEvent::Hook(HookState::OffHook));
    net.run(ms(500));
    for k in [KeyCode::Digit1, KeyCode::Digit5, KeyCode::Pound] {
        let now = net.now;
        net.nodes[a]
            .phone
            .handle_board(now, BoardEvent::Key(k, KeyAction::Pressed));
        net.run(ms(300));
    }
    assert_eq!(net.displays(b, DisplayKind::Dtmf), vec!["1", "5", "#"]);
    let now = net.now;
    net.nodes[a].phone.hold(now, id).unwrap();
    net.run(ms(300));
    assert_eq!(net.nodes[a].phone.status().calls[0].phase, CallPhase::Held);
    assert_eq!(
        net.nodes[b].phone.status().calls[0].phase,
        CallPhase::RemoteHeld
    );
    let n0 = net.nodes[b].phone.status().calls[0].packets_received;
    net.run(ms(1000));
    // Held: a sends no audio.
    assert!(net.nodes[b].phone.status().calls[0].packets_received - n0 < 5);
    let now = net.now;
    net.nodes[a].phone.resume(now, id).unwrap();
    net.run(ms(1000));
    assert_eq!(
        net.nodes[b].phone.status().calls[0].phase,
        CallPhase::Connected
    );
    assert!(net.nodes[b].phone.status().calls[0].packets_received - n0 > 30);
    // After resume the audio plays again (the RTP clock ran on during the hold).
    let tail = &net.nodes[b].heard[net.nodes[b].heard.len() - 8000..];
    assert!(
        tone_ratio(tail, 16000.0, 1000.0) > 0.8,
        "{}",
        tone_ratio(tail, 16000.0, 1000.0)
    );
    // On-hook ends the call (manual 3.3.13).
    let now = net.now;
    net.nodes[a]
        .phone
        .handle_board(now, BoardEvent::Hook(HookState::OnHook));
    net.run(ms(200));
    assert!(net.nodes[b].phone.status().calls.is_empty());
}
