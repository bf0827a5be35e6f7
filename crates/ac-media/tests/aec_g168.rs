//! G.168-style evaluation of the acoustic echo canceller, side by side in the same run with
//! speexdsp's MDF canceller (Debian libspeexdsp, through ac-media-ref) and the pure-Rust
//! candidate `sonora` (a port of WebRTC's AEC3).
//!
//! Far end: the composite source signal (CSS) at 16 kHz; echo through synthetic room
//! impulse responses that fit the 64 ms tail; near end: a little background noise and, for
//! double talk, the ITU-T STL speech at the echo's level. Measured:
//!
//! * linear ERLE = echo energy / (linear output - near-end input) energy, exact because the
//!   near-end input is known; per 100 ms window with echo;
//! * convergence time: end of the first window after which >= 90 % of the windows reach
//!   30 dB;
//! * total ERLE after the nonlinear stage (echo energy / output energy, far end only);
//! * double talk: linear ERLE during double talk (no divergence) and right after it; near
//!   speech level change through the full chain.
//!
//! The figures are printed (`cargo test -p ac-media --test aec_g168 -- --nocapture`) and
//! recorded in docs/media.md.

mod common;

use ac_media::aec::{AecConfig, EchoCanceller, FRAME, PARTITIONS};
use ac_media_ref::g168;
use ac_media_ref::SpeexAec;

const FS: usize = 16000;
const WIN: usize = FS / 10;

struct Scenario {
    far: Vec<i16>,
    /// Echo at the microphone (before rounding).
    echo: Vec<f64>,
    /// Near-end signal without echo (noise + speech).
    near: Vec<f64>,
    mic: Vec<i16>,
}

fn noise(n: usize, rms: f64, seed: u64) -> Vec<f64> {
    let mut r = g168::Rng::new(seed);
    (0..n).map(|_| r.gauss() * rms).collect()
}

fn scenario(
    seconds: f64,
    paths: &[(usize, Vec<f64>)],
    near_speech: Option<(usize, usize)>,
) -> Scenario {
    let far = g168::css(seconds, 2000.0, 120.0, 7);
    let n = far.len();
    // Piecewise echo path: paths[i] applies from sample paths[i].0 on.
    let mut echo = vec![0.0; n];
    for (i, (start, h)) in paths.iter().enumerate() {
        let end = paths.get(i + 1).map_or(n, |p| p.0);
        let full = g168::convolve(&far[..end], h);
        echo[*start..end].copy_from_slice(&full[*start..end]);
    }
    let mut near = noise(n, 3.0, 11);
    if let Some((a, b)) = near_speech {
        let speech = common::read_words("g722/inpsp.bin");
        let sp: Vec<f64> = speech[16000..16000 + (b - a)]
            .iter()
            .map(|v| f64::from(*v))
            .collect();
        // Scale the speech to the echo's RMS in the same span (G.168 double talk at equal level).
        let e_rms = rms(&echo[a..b]);
        let s_rms = rms(&sp);
        for (i, v) in sp.iter().enumerate() {
            near[a + i] += v * e_rms / s_rms;
        }
    }
    let mic = echo
        .iter()
        .zip(&near)
        .map(|(e, s)| (e + s).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    Scenario {
        far,
        echo,
        near,
        mic,
    }
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

struct Run {
    linear: Option<Vec<i16>>,
    out: Vec<i16>,
}

fn run_ours(s: &Scenario) -> Run {
    run_ours_cfg(s, AecConfig::default())
}

fn run_ours_cfg(s: &Scenario, cfg: AecConfig) -> Run {
    let mut aec = EchoCanceller::new(cfg);
    let n = s.far.len() / FRAME * FRAME;
    let mut lin = vec![0i16; n];
    let mut out = vec![0i16; n];
    for i in (0..n).step_by(FRAME) {
        let (l, o) = (&mut lin[i..i + FRAME], &mut out[i..i + FRAME]);
        aec.process(&s.far[i..i + FRAME], &s.mic[i..i + FRAME], o, Some(l))
            .unwrap();
    }
    Run {
        linear: Some(lin),
        out,
    }
}

fn run_speex(s: &Scenario, pre: bool) -> Vec<i16> {
    let mut aec = SpeexAec::new(FRAME, 1024, FS as i32, pre);
    let n = s.far.len() / FRAME * FRAME;
    let mut out = vec![0i16; n];
    for i in (0..n).step_by(FRAME) {
        aec.process(
            &s.far[i..i + FRAME],
            &s.mic[i..i + FRAME],
            &mut out[i..i + FRAME],
        );
    }
    out
}

fn run_sonora(s: &Scenario) -> Vec<i16> {
    use sonora::config::{EchoCanceller as Ec, NoiseSuppression};
    use sonora::{AudioProcessing, Config, StreamConfig};
    let mut apm = AudioProcessing::builder()
        .config(Config {
            echo_canceller: Some(Ec::default()),
            noise_suppression: Some(NoiseSuppression::default()),
            ..Default::default()
        })
        .capture_config(StreamConfig::new(16000, 1))
        .render_config(StreamConfig::new(16000, 1))
        .build();
    let n = s.far.len() / FRAME * FRAME;
    let mut out = vec![0i16; n];
    let mut scratch = vec![0i16; FRAME];
    for i in (0..n).step_by(FRAME) {
        apm.set_stream_delay_ms(0).unwrap();
        apm.process_render_i16(&s.far[i..i + FRAME], &mut scratch)
            .unwrap();
        apm.process_capture_i16(&s.mic[i..i + FRAME], &mut out[i..i + FRAME])
            .unwrap();
    }
    out
}

/// Linear ERLE per 100 ms window with echo (None for windows without echo).
fn erle_windows(s: &Scenario, lin: &[i16]) -> Vec<Option<f64>> {
    (0..lin.len() / WIN)
        .map(|w| {
            let r = w * WIN..(w + 1) * WIN;
            let e: f64 = s.echo[r.clone()].iter().map(|v| v * v).sum();
            let f: f64 = s.far[r.clone()].iter().map(|v| f64::from(*v).powi(2)).sum();
            // Windows with far-end signal (not the pauses of the CSS with only a decaying tail).
            if f / (WIN as f64) < 300.0 * 300.0 {
                return None;
            }
            let res: f64 = r
                .map(|i| {
                    let d = f64::from(lin[i]) - s.near[i];
                    d * d
                })
                .sum();
            Some(10.0 * (e / res.max(1.0)).log10())
        })
        .collect()
}

/// Mean (energy) ERLE over windows `a..b` (seconds).
fn erle_span(s: &Scenario, lin: &[i16], a: f64, b: f64) -> f64 {
    let r = (a * FS as f64) as usize..(b * FS as f64) as usize;
    let e: f64 = s.echo[r.clone()].iter().map(|v| v * v).sum();
    let res: f64 = r
        .map(|i| {
            let d = f64::from(lin[i]) - s.near[i];
            d * d
        })
        .sum();
    10.0 * (e / res.max(1.0)).log10()
}

/// Total ERLE (echo energy / output energy) over `a..b` seconds, far end only.
fn total_erle(s: &Scenario, out: &[i16], a: f64, b: f64) -> f64 {
    let r = (a * FS as f64) as usize..(b * FS as f64) as usize;
    let e: f64 = s.echo[r.clone()].iter().map(|v| v * v).sum();
    let o: f64 = out[r].iter().map(|v| f64::from(*v).powi(2)).sum();
    10.0 * (e / o.max(1.0)).log10()
}

/// Seconds from `from` until the ERLE stays (>= 90 % of windows) at or above `target`.
fn convergence(w: &[Option<f64>], from: f64, until: f64, target: f64) -> Option<f64> {
    let a = (from * 10.0) as usize;
    let b = ((until * 10.0) as usize).min(w.len());
    (a..b).find_map(|i| {
        let rest: Vec<f64> = w[i..b].iter().flatten().copied().collect();
        let ok = rest.iter().filter(|v| **v >= target).count();
        (w[i].is_some_and(|v| v >= target) && ok * 10 >= rest.len() * 9)
            .then(|| (i + 1) as f64 / 10.0 - from)
    })
}

fn path(kind: u8) -> Vec<f64> {
    let taps = PARTITIONS * FRAME;
    let taps = taps.min(1024);
    match kind {
        // Handset-like: short and strongly damped.
        1 => g168::echo_path(1.0, 2.5, 10.0, taps, 101),
        // Desk speakerphone: 3 ms acoustic delay, 10 ms decay, ERL 0 dB.
        2 => g168::echo_path(3.0, 10.0, 0.0, taps, 102),
        // Reverberant room, echo louder than the reference (ERL -6 dB), full 64 ms used.
        _ => g168::echo_path(5.0, 15.0, -6.0, taps, 103),
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("never".into(), |v| format!("{v:.2} s"))
}

#[test]
fn far_end_only_convergence_and_erle() {
    println!("| path | canceller | conv. to 30 dB | linear ERLE 1-4 s | total ERLE 2-4 s |");
    println!("|---|---|---|---|---|");
    for kind in [1u8, 2, 3] {
        let s = scenario(4.0, &[(0, path(kind))], None);
        let ours = run_ours(&s);
        let lin = ours.linear.as_ref().unwrap();
        let w = erle_windows(&s, lin);
        let conv = convergence(&w, 0.0, 4.0, 30.0);
        let erle = erle_span(&s, lin, 1.0, 4.0);
        let tot = total_erle(&s, &ours.out, 2.0, 4.0);
        println!(
            "| {kind} | ac-media | {} | {erle:.1} dB | {tot:.1} dB |",
            fmt(conv)
        );
        let sp = run_speex(&s, false);
        let ws = erle_windows(&s, &sp);
        let sconv = convergence(&ws, 0.0, 4.0, 30.0);
        let serle = erle_span(&s, &sp, 1.0, 4.0);
        let spp = run_speex(&s, true);
        let stot = total_erle(&s, &spp, 2.0, 4.0);
        println!(
            "| {kind} | speexdsp | {} | {serle:.1} dB | {stot:.1} dB (with preprocess) |",
            fmt(sconv)
        );
        let so = run_sonora(&s);
        let sotot = total_erle(&s, &so, 2.0, 4.0);
        println!("| {kind} | sonora (AEC3) | - | - | {sotot:.1} dB |");
        let conv = conv.expect("ours converges");
        assert!(conv <= 1.0, "path {kind}: converged after {conv} s");
        assert!(
            conv < sconv.expect("speexdsp converges"),
            "path {kind}: slower than speexdsp"
        );
        assert!(erle > serle, "path {kind}: lower ERLE than speexdsp");
        assert!(erle >= 30.0, "path {kind}: ERLE {erle:.1} dB");
        assert!(tot >= 45.0, "path {kind}: total ERLE {tot:.1} dB");
    }
}

#[test]
fn double_talk_does_not_diverge() {
    // Far end all along; near speech 2.0-4.5 s at the echo's level.
    let (a, b) = (2 * FS, 4 * FS + FS / 2);
    let s = scenario(6.0, &[(0, path(2))], Some((a, b)));
    let ours = run_ours(&s);
    let lin = ours.linear.as_ref().unwrap();
    let sp = run_speex(&s, false);
    let before = erle_span(&s, lin, 1.0, 2.0);
    let during = erle_span(&s, lin, 2.0, 4.5);
    let after = erle_span(&s, lin, 4.5, 5.0);
    let s_during = erle_span(&s, &sp, 2.0, 4.5);
    let s_after = erle_span(&s, &sp, 4.5, 5.0);
    // Near speech through the full chain: level change of the output against the near input
    // during double talk (echo is at least 30 dB lower there, so this is the speech).
    let near_lvl = |out: &[i16]| {
        let r = a..b;
        let o: f64 = out[r.clone()].iter().map(|v| f64::from(*v).powi(2)).sum();
        let n: f64 = s.near[r].iter().map(|v| v * v).sum();
        10.0 * (o / n).log10()
    };
    let so = run_sonora(&s);
    let spp = run_speex(&s, true);
    println!("| canceller | linear ERLE before DT | during DT | 0-0.5 s after DT | near speech level through full chain |");
    println!("|---|---|---|---|---|");
    println!(
        "| ac-media | {before:.1} dB | {during:.1} dB | {after:.1} dB | {:+.1} dB |",
        near_lvl(&ours.out)
    );
    println!(
        "| speexdsp | {:.1} dB | {s_during:.1} dB | {s_after:.1} dB | {:+.1} dB |",
        erle_span(&s, &sp, 1.0, 2.0),
        near_lvl(&spp)
    );
    println!("| sonora (AEC3) | - | - | - | {:+.1} dB |", near_lvl(&so));
    let (copies, resets) = ours_switches(&s);
    println!("two-path: {copies} copies, {resets} resets");
    assert!(before >= 30.0, "ERLE before double talk {before:.1}");
    assert!(during >= 25.0, "diverged in double talk: {during:.1} dB");
    assert!(after >= 30.0, "ERLE after double talk {after:.1}");
    let lvl = near_lvl(&ours.out);
    assert!(
        lvl > -3.0,
        "near speech attenuated {lvl:.1} dB in double talk"
    );
}

fn ours_switches(s: &Scenario) -> (u64, u64) {
    let mut aec = EchoCanceller::new(AecConfig::default());
    let n = s.far.len() / FRAME * FRAME;
    let mut out = vec![0i16; FRAME];
    for i in (0..n).step_by(FRAME) {
        aec.process(&s.far[i..i + FRAME], &s.mic[i..i + FRAME], &mut out, None)
            .unwrap();
    }
    aec.mdf().path_switches()
}

#[test]
fn echo_path_change_reconverges() {
    let s = scenario(5.0, &[(0, path(2)), (2 * FS, path(3))], None);
    let ours = run_ours(&s);
    let lin = ours.linear.as_ref().unwrap();
    let w = erle_windows(&s, lin);
    let re = convergence(&w, 2.0, 5.0, 30.0);
    let sp = run_speex(&s, false);
    let ws = erle_windows(&s, &sp);
    let sre = convergence(&ws, 2.0, 5.0, 30.0);
    println!(
        "echo path change 2 -> 3 at 2 s: ac-media back to 30 dB after {}, speexdsp after {}",
        fmt(re),
        fmt(sre)
    );
    let re = re.expect("reconverges");
    assert!(re <= 1.2, "reconvergence {re} s");
    assert!(
        re <= sre.expect("speexdsp reconverges"),
        "slower than speexdsp"
    );
}
