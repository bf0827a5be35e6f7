//! G.729 Annex A: ours against bcg729 (Debian libbcg729, through ac-media-ref), in the same
//! run. `g729/encode_*`: 1 s of the ITU-T STL speech vector taken at 8 kHz (every other
//! sample of inpsp.bin, 100 frames) through a fresh encoder; `g729/decode_*`: the same
//! bitstream (bcg729's) through a fresh decoder. Ratio = ours / bcg729's (docs/benchmarks.md).

use ac_media::g729::{Decoder, DecoderInput, Encoder, FRAME_BYTES, FRAME_SAMPLES};
use ac_media_ref::{Bcg729Decoder, Bcg729Encoder};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn speech_8k() -> Vec<[i16; FRAME_SAMPLES]> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut p = root.join("../shared/testdata/itu-stl/g722/inpsp.bin");
    if !p.exists() {
        p = "/work/shared/testdata/itu-stl/g722/inpsp.bin".into();
    }
    let b = std::fs::read(&p).expect("ITU-T STL G.722 input (../shared/testdata)");
    let pcm: Vec<i16> = b
        .chunks_exact(4)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .skip(8000)
        .take(8000)
        .collect();
    pcm.chunks_exact(FRAME_SAMPLES)
        .map(|c| c.try_into().unwrap())
        .collect()
}

fn g729_bench(c: &mut Criterion) {
    let frames = speech_8k();
    let mut benc = Bcg729Encoder::new(false);
    let bits: Vec<[u8; FRAME_BYTES]> = frames
        .iter()
        .map(|f| benc.encode(f).try_into().expect("10-byte frame"))
        .collect();
    let mut g = c.benchmark_group("g729");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("encode_ours", |b| {
        b.iter_batched(
            || Encoder::new(false),
            |mut e| {
                for f in &frames {
                    black_box(e.encode(f));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("encode_bcg729", |b| {
        b.iter_batched(
            || Bcg729Encoder::new(false),
            |mut e| {
                for f in &frames {
                    black_box(e.encode(f));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_ours", |b| {
        b.iter_batched(
            Decoder::new,
            |mut d| {
                let mut out = [0i16; FRAME_SAMPLES];
                for f in &bits {
                    d.decode(DecoderInput::Speech(f), &mut out);
                    black_box(&out);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_bcg729", |b| {
        b.iter_batched(
            Bcg729Decoder::new,
            |mut d| {
                let mut out = [0i16; FRAME_SAMPLES];
                for f in &bits {
                    d.decode(f, &mut out);
                    black_box(&out);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = g729_bench
}
criterion_main!(benches);
