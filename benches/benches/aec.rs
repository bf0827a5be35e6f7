//! Acoustic echo canceller CPU per 10 ms frame (16 kHz, 64 ms tail), side by side in the
//! same run: ac-media's canceller against speexdsp's (Debian libspeexdsp, through
//! ac-media-ref), and the pure-Rust candidate sonora (WebRTC AEC3 port) for the evaluation.
//!
//! * `aec/linear/*`: the linear canceller only: our two-path MDF vs `speex_echo_cancellation`.
//! * `aec/full/*`: with residual echo suppression, noise suppression and comfort noise:
//!   ours vs `speex_echo_cancellation` + `speex_preprocess_run` (echo state attached,
//!   denoise on) vs sonora's AEC3 + noise suppression.
//!
//! Each canceller first converges on 3 s of CSS through a room echo path; the timed loop
//! then processes 100 frames (1 s) per iteration.

use ac_media::aec::{AecConfig, EchoCanceller, Mdf, MdfConfig, FRAME};
use ac_media_ref::{g168, SpeexAec};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

fn signals() -> (Vec<i16>, Vec<i16>) {
    let far = g168::css(4.0, 2000.0, 120.0, 7);
    let h = g168::echo_path(3.0, 10.0, 0.0, 1024, 102);
    let echo = g168::convolve(&far, &h);
    let mut r = g168::Rng::new(5);
    let mic = echo
        .iter()
        .map(|e| (e + 3.0 * r.gauss()).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    (far, mic)
}

fn aec_bench(c: &mut Criterion) {
    let (far, mic) = signals();
    let warm = 3 * 16000;
    let frames: Vec<(usize, usize)> = (warm..warm + 16000)
        .step_by(FRAME)
        .map(|i| (i, i + FRAME))
        .collect();
    let farf: Vec<f32> = far.iter().map(|v| f32::from(*v)).collect();
    let micf: Vec<f32> = mic.iter().map(|v| f32::from(*v)).collect();

    let mut g = c.benchmark_group("aec");
    g.throughput(Throughput::Elements(frames.len() as u64));

    // Linear part.
    let mut mdf = Mdf::new(MdfConfig::default());
    let (mut e, mut y) = (vec![0f32; FRAME], vec![0f32; FRAME]);
    for i in (0..warm).step_by(FRAME) {
        mdf.process(&farf[i..i + FRAME], &micf[i..i + FRAME], &mut e, &mut y);
    }
    g.bench_function("linear_1s/ac-media", |b| {
        b.iter(|| {
            for &(a, z) in &frames {
                mdf.process(black_box(&farf[a..z]), &micf[a..z], &mut e, &mut y);
            }
        })
    });
    let mut sp = SpeexAec::new(FRAME, 1024, 16000, false);
    let mut out = vec![0i16; FRAME];
    for i in (0..warm).step_by(FRAME) {
        sp.process(&far[i..i + FRAME], &mic[i..i + FRAME], &mut out);
    }
    g.bench_function("linear_1s/speexdsp", |b| {
        b.iter(|| {
            for &(a, z) in &frames {
                sp.process(black_box(&far[a..z]), &mic[a..z], &mut out);
            }
        })
    });

    // Full chain.
    let mut aec = EchoCanceller::new(AecConfig::default());
    for i in (0..warm).step_by(FRAME) {
        aec.process(&far[i..i + FRAME], &mic[i..i + FRAME], &mut out, None)
            .unwrap();
    }
    g.bench_function("full_1s/ac-media", |b| {
        b.iter(|| {
            for &(a, z) in &frames {
                aec.process(black_box(&far[a..z]), &mic[a..z], &mut out, None)
                    .unwrap();
            }
        })
    });
    let mut spp = SpeexAec::new(FRAME, 1024, 16000, true);
    for i in (0..warm).step_by(FRAME) {
        spp.process(&far[i..i + FRAME], &mic[i..i + FRAME], &mut out);
    }
    g.bench_function("full_1s/speexdsp", |b| {
        b.iter(|| {
            for &(a, z) in &frames {
                spp.process(black_box(&far[a..z]), &mic[a..z], &mut out);
            }
        })
    });
    {
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
        let mut scratch = vec![0i16; FRAME];
        let mut step = |a: usize, z: usize, out: &mut [i16]| {
            apm.set_stream_delay_ms(0).unwrap();
            apm.process_render_i16(&far[a..z], &mut scratch).unwrap();
            apm.process_capture_i16(&mic[a..z], out).unwrap();
        };
        for i in (0..warm).step_by(FRAME) {
            step(i, i + FRAME, &mut out);
        }
        g.bench_function("full_1s/sonora", |b| {
            b.iter(|| {
                for &(a, z) in &frames {
                    step(black_box(a), z, &mut out);
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = aec_bench
}
criterion_main!(benches);
