//! SILK decoder (ac-media::silk, the SILK SDK 1.0.9 bitstream): decode time of one second
//! of audio at 8 and 16 kHz (50 frames of 20 ms, one per packet) through a fresh decoder.
//! The stream is built with the bitstream layer (no SDK test vector in the repository):
//! voiced/unvoiced frames alternating in runs, a pitch pulse train plus sparse pulses, gain
//! and NLSF indices varying, about the density of a 20-25 kbit/s SDK stream. Throughput =
//! seconds of audio; the ratio to real time is 1 s / median (docs/benchmarks.md). The SDK's
//! C decoder cannot be linked here (its build scripts are not part of the repository); the
//! side-by-side figure on the SDK test vectors is in docs/benchmarks.md.

use ac_media::silk::indices::{
    frame_length, nlsf_codebook, SIG_TYPE_UNVOICED, SIG_TYPE_VOICED, TERM_LAST_FRAME,
};
use ac_media::silk::{best_rate_level, encode_packet, Decoder, FrameIndices, Packet};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn stream(fs: u32) -> Vec<Vec<u8>> {
    let mut seed: u32 = 12345;
    let mut rnd = |n: u32| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) % n
    };
    (0..50)
        .map(|k| {
            let voiced = (k / 7) % 3 != 2;
            let mut f = FrameIndices::zeroed(fs);
            f.sigtype = if voiced {
                SIG_TYPE_VOICED
            } else {
                SIG_TYPE_UNVOICED
            };
            f.quant_offset_type = rnd(2) as u8;
            f.gain_indices = [
                25 + rnd(20) as u8,
                2 + rnd(5) as u8,
                2 + rnd(5) as u8,
                2 + rnd(5) as u8,
            ];
            for (s, st) in nlsf_codebook(fs, f.sigtype).stages.iter().enumerate() {
                f.nlsf_indices[s] = rnd(st.n_vectors as u32) as u8;
            }
            f.nlsf_interp_coef_q2 = rnd(5) as u8;
            let period = (4 + rnd(4)) as usize * fs as usize;
            if voiced {
                f.lag_index = (period - 2 * fs as usize) as u16;
                f.contour_index = rnd(if fs == 8 { 11 } else { 34 }) as u8;
                f.per_index = rnd(3) as u8;
                let n = [10, 20, 40][f.per_index as usize];
                f.ltp_indices = [rnd(n) as u8, rnd(n) as u8, rnd(n) as u8, rnd(n) as u8];
                f.ltp_scale_index = rnd(3) as u8;
            }
            f.seed = rnd(4) as u8;
            for (i, p) in f.pulses.iter_mut().enumerate() {
                *p = if voiced && i % period == 0 {
                    5 + rnd(6) as i32
                } else {
                    match rnd(8) {
                        0 => 1,
                        1 => -1,
                        2 => 2 - 4 * rnd(2) as i32,
                        _ => 0,
                    }
                };
            }
            f.rate_level = best_rate_level(f.sigtype, &f.pulses);
            f.vad = voiced;
            debug_assert_eq!(f.pulses.len(), frame_length(fs));
            encode_packet(&Packet {
                fs_khz: fs,
                frames: vec![f],
                termination: TERM_LAST_FRAME,
                tail: vec![],
            })
            .expect("encodes")
        })
        .collect()
}

fn silk_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("silk");
    g.throughput(Throughput::Elements(1));
    for fs in [8u32, 16] {
        let packets = stream(fs);
        let bytes: usize = packets.iter().map(Vec::len).sum();
        eprintln!("silk {fs} kHz bench stream: {} bit/s", bytes * 8);
        g.bench_function(format!("decode_1s_{fs}k"), |b| {
            b.iter_batched(
                || {
                    (
                        Decoder::new(fs * 1000).expect("rate"),
                        Vec::with_capacity(20 * fs as usize * 50),
                    )
                },
                |(mut d, mut out)| {
                    for p in &packets {
                        d.decode(p, &mut out).expect("valid packet");
                    }
                    black_box(out)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = silk_bench
}
criterion_main!(benches);
