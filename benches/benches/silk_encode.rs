//! SILK encoder (ac_media::silk::Encoder): 1 s of the ITU-T STL speech vector (inpsp.bin from
//! 1 s on; at 8 kHz every other sample) through a fresh encoder at 8 kHz / 12 kbit/s and
//! 16 kHz / 20 kbit/s, 20 ms packets. No C reference runs here (the SILK SDK is not a Debian
//! package and its sources may not be built by the project): docs/benchmarks.md reports the
//! time as a fraction of real time, and docs/media.md a dated one-off timing against the
//! SDK's own encoder.

use ac_media::silk::{Encoder, EncoderConfig};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn speech(rate: u32) -> Vec<i16> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut p = root.join("../shared/testdata/itu-stl/g722/inpsp.bin");
    if !p.exists() {
        p = "/work/shared/testdata/itu-stl/g722/inpsp.bin".into();
    }
    let b = std::fs::read(&p).expect("ITU-T STL G.722 input (../shared/testdata)");
    let step = if rate == 8000 { 4 } else { 2 };
    b.chunks_exact(step)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .skip(rate as usize)
        .take(rate as usize)
        .collect()
}

fn silk_encode_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("silk");
    for (rate, bitrate) in [(8000u32, 12_000u32), (16000, 20_000)] {
        let pcm = speech(rate);
        let mut cfg = EncoderConfig::new(rate);
        cfg.bitrate = bitrate;
        g.throughput(Throughput::Elements(pcm.len() as u64 / (rate as u64 / 50)));
        g.bench_function(format!("encode_{}k", rate / 1000), |b| {
            b.iter_batched(
                || Encoder::new(cfg).expect("valid settings"),
                |mut e| black_box(e.encode_all(&pcm).expect("whole frames")),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = silk_encode_bench
}
criterion_main!(benches);
