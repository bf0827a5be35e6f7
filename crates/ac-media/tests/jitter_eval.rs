//! Jitter buffer on seeded traces (Gilbert loss 0-10 %, jitter 0-120 ms, reordering),
//! against a fixed 60 ms buffer and speexdsp's jitter buffer in the same run. Prints a table
//! (`cargo test -p ac-media --test jitter_eval -- --nocapture`) and checks the adaptive
//! buffer's late loss and delay.
mod common;
use ac_media::jitter::{JitterBuffer, JitterConfig, Playout};
use ac_media_ref::SpeexJitter;
use common::traces::{trace, TracePacket};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// Packets that arrived but were not played, % of packets sent.
    late_pct: f64,
    /// Mean of play time minus send time over played frames, ms.
    mean_delay_ms: f64,
    played: usize,
}

/// Arrivals sorted by time, and a 20 ms playout clock offset by 7 ms from the send grid.
fn run_ours(tr: &[TracePacket], cfg: JitterConfig) -> Outcome {
    let t0 = Instant::now();
    let at = |ms: f64| t0 + Duration::from_micros((ms * 1000.0) as u64);
    let mut arrivals: Vec<(f64, u32)> = tr
        .iter()
        .filter_map(|p| p.arrival_ms.map(|a| (a, p.index)))
        .collect();
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut jb = JitterBuffer::new(cfg);
    let mut next = 0;
    let mut played = 0usize;
    let mut delay_sum = 0.0;
    let end = tr.len() as f64 * 20.0 + 1000.0;
    let mut tick = 7.0;
    while tick < end {
        while next < arrivals.len() && arrivals[next].0 <= tick {
            let (a, i) = arrivals[next];
            jb.handle_packet(at(a), 1000 + i * 160, &[0]);
            next += 1;
        }
        if let Playout::Frame { timestamp, .. } = jb.poll_frame(at(tick)) {
            let idx = (timestamp - 1000) / 160;
            delay_sum += tick - f64::from(idx) * 20.0;
            played += 1;
        }
        tick += 20.0;
    }
    let arrived = arrivals.len();
    Outcome {
        late_pct: 100.0 * (arrived - played) as f64 / tr.len() as f64,
        mean_delay_ms: delay_sum / played.max(1) as f64,
        played,
    }
}

fn run_speex(tr: &[TracePacket]) -> Outcome {
    let mut arrivals: Vec<(f64, u32)> = tr
        .iter()
        .filter_map(|p| p.arrival_ms.map(|a| (a, p.index)))
        .collect();
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut jb = SpeexJitter::new(160);
    let mut next = 0;
    let mut played = 0usize;
    let mut delay_sum = 0.0;
    let end = tr.len() as f64 * 20.0 + 1000.0;
    let mut tick = 7.0;
    let mut started = false;
    while tick < end {
        while next < arrivals.len() && arrivals[next].0 <= tick {
            let (_, i) = arrivals[next];
            jb.put(1000 + i * 160, 160, i as u16);
            next += 1;
            started = true;
        }
        if started {
            if let Some(ts) = jb.get(160) {
                let idx = (ts - 1000) / 160;
                delay_sum += tick - f64::from(idx) * 20.0;
                played += 1;
            }
            jb.tick();
        }
        tick += 20.0;
    }
    let arrived = arrivals.len();
    Outcome {
        late_pct: 100.0 * (arrived.saturating_sub(played)) as f64 / tr.len() as f64,
        mean_delay_ms: delay_sum / played.max(1) as f64,
        played,
    }
}

#[test]
fn adaptive_against_fixed_60ms_and_speexdsp() {
    let cases = [
        (0.00, 0.0),
        (0.02, 20.0),
        (0.05, 40.0),
        (0.05, 80.0),
        (0.10, 120.0),
        (0.00, 120.0),
    ];
    println!("| loss | jitter | ours late % | ours mean delay ms | fixed 60 ms late % | fixed delay ms | speexdsp late % | speexdsp delay ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for (k, &(loss, jitter)) in cases.iter().enumerate() {
        let tr = trace(1000 + k as u64, 3000, loss, 2.0, jitter);
        let ours = run_ours(&tr, JitterConfig::default());
        let fixed = run_ours(
            &tr,
            JitterConfig {
                fixed_ms: Some(60),
                ..Default::default()
            },
        );
        let speex = run_speex(&tr);
        println!(
            "| {:.0} % | {:.0} ms | {:.2} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} |",
            loss * 100.0,
            jitter,
            ours.late_pct,
            ours.mean_delay_ms,
            fixed.late_pct,
            fixed.mean_delay_ms,
            speex.late_pct,
            speex.mean_delay_ms
        );
        assert!(ours.played > 0 && fixed.played > 0 && speex.played > 0);
        // The adaptive buffer keeps late loss low at every jitter level (target: the 97 %
        // quantile), within the 300 ms ceiling.
        assert!(
            ours.late_pct < 3.0,
            "late {:.2} % at {jitter} ms",
            ours.late_pct
        );
        assert!(ours.mean_delay_ms < 300.0);
        if jitter >= 120.0 {
            // Where 60 ms is not enough, the fixed buffer loses more.
            assert!(fixed.late_pct > ours.late_pct, "{fixed:?} vs {ours:?}");
        }
        if jitter <= 20.0 {
            // With little jitter the adaptive buffer is no slower than the fixed one.
            assert!(
                ours.mean_delay_ms <= fixed.mean_delay_ms + 5.0,
                "{ours:?} vs {fixed:?}"
            );
        }
    }
}
