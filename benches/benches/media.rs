//! ac-media benchmarks, each side by side with the C reference in the same run:
//!
//! * `g711/*`: A-law and µ-law encode/decode of 1 s (8000 samples), ours vs spandsp's
//!   `linear_to_alaw`/`alaw_to_linear` family (Debian libspandsp).
//! * `g722/*`: 64 kbit/s encode and mode-1 decode of 1 s of the ITU-T STL speech vector
//!   (16,000 samples), ours vs spandsp's `g722_encode`/`g722_decode`.
//! * `srtp/*`: protect and unprotect of a 172-byte RTP packet (160-byte G.711 payload) with
//!   AES_CM_128_HMAC_SHA1_80, ours (rtc-srtp + our checks and replay window) vs libsrtp2.
//!
//! Before timing, each group asserts that both implementations produce the same output.

use ac_media::g722::{Decoder, Encoder, Mode};
use ac_media::rtp::RtpPacket;
use ac_media::srtp::{MasterKey, SrtpSession, Suite};
use ac_media::{g711, g722};
use ac_media_ref::{LibSrtp, SpandspG722Decoder, SpandspG722Encoder};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn stl_speech() -> Vec<i16> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut p = root.join("../shared/testdata/itu-stl/g722/inpsp.bin");
    if !p.exists() {
        p = "/work/shared/testdata/itu-stl/g722/inpsp.bin".into();
    }
    let b = std::fs::read(&p).expect("ITU-T STL G.722 input (../shared/testdata)");
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn g711_bench(c: &mut Criterion) {
    let speech = stl_speech();
    let pcm: Vec<i16> = speech[20_000..28_000].to_vec();
    let mut ours = vec![0u8; pcm.len()];
    let mut theirs = vec![0u8; pcm.len()];
    g711::encode_alaw(&pcm, &mut ours);
    ac_media_ref::spandsp_alaw_encode(&pcm, &mut theirs);
    assert_eq!(ours, theirs);
    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(pcm.len() as u64));
    g.bench_function("alaw_encode_1s/ac-media", |b| {
        b.iter(|| g711::encode_alaw(black_box(&pcm), &mut ours))
    });
    g.bench_function("alaw_encode_1s/spandsp", |b| {
        b.iter(|| ac_media_ref::spandsp_alaw_encode(black_box(&pcm), &mut theirs))
    });
    let codes = ours.clone();
    let mut out = vec![0i16; pcm.len()];
    g.bench_function("alaw_decode_1s/ac-media", |b| {
        b.iter(|| g711::decode_alaw(black_box(&codes), &mut out))
    });
    g.bench_function("alaw_decode_1s/spandsp", |b| {
        b.iter(|| ac_media_ref::spandsp_alaw_decode(black_box(&codes), &mut out))
    });
    g.bench_function("ulaw_encode_1s/ac-media", |b| {
        b.iter(|| g711::encode_ulaw(black_box(&pcm), &mut ours))
    });
    g.bench_function("ulaw_encode_1s/spandsp", |b| {
        b.iter(|| ac_media_ref::spandsp_ulaw_encode(black_box(&pcm), &mut theirs))
    });
    g.bench_function("ulaw_decode_1s/ac-media", |b| {
        b.iter(|| g711::decode_ulaw(black_box(&codes), &mut out))
    });
    g.bench_function("ulaw_decode_1s/spandsp", |b| {
        b.iter(|| ac_media_ref::spandsp_ulaw_decode(black_box(&codes), &mut out))
    });
    g.finish();
}

fn g722_bench(c: &mut Criterion) {
    let speech = stl_speech();
    let pcm: Vec<i16> = speech[16_000..32_000].to_vec();
    let mut ours = Vec::with_capacity(8000);
    g722::Encoder::new().encode(&pcm, &mut ours);
    let mut theirs = vec![0u8; 8000];
    SpandspG722Encoder::new().encode(&pcm, &mut theirs);
    assert_eq!(ours, theirs);
    let mut g = c.benchmark_group("g722");
    g.throughput(Throughput::Elements(pcm.len() as u64));
    let mut enc = Encoder::new();
    g.bench_function("encode_1s/ac-media", |b| {
        b.iter(|| {
            ours.clear();
            enc.encode(black_box(&pcm), &mut ours);
        })
    });
    let mut senc = SpandspG722Encoder::new();
    g.bench_function("encode_1s/spandsp", |b| {
        b.iter(|| senc.encode(black_box(&pcm), &mut theirs))
    });
    let codes = theirs.clone();
    let mut out = vec![0i16; 16_000];
    let mut dec = Decoder::new(Mode::Mode1);
    g.bench_function("decode_1s/ac-media", |b| {
        b.iter(|| dec.decode_into(black_box(&codes), &mut out))
    });
    let mut sout = vec![0i16; 16_000];
    let mut sdec = SpandspG722Decoder::new(64_000);
    g.bench_function("decode_1s/spandsp", |b| {
        b.iter(|| sdec.decode(black_box(&codes), &mut sout))
    });
    g.finish();
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    RtpPacket {
        marker: false,
        payload_type: 8,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 0x1234_5678,
        csrcs: vec![],
        extension: None,
        payload,
        padding: 0,
    }
    .to_vec()
    .expect("valid packet")
}

fn srtp_bench(c: &mut Criterion) {
    let key = MasterKey::from_bytes(&[0x2b; 30]);
    let payload = [0xd5u8; 160];
    // Same output from both.
    let mut ours = SrtpSession::new(Suite::AesCm128HmacSha1_80, &key, &key).expect("keys");
    let mut lib = LibSrtp::new(true, &key.to_bytes(), true).expect("libsrtp2");
    let plain = rtp(1, &payload);
    assert_eq!(
        ours.protect_rtp(&plain).expect("protect"),
        lib.protect(&plain).expect("libsrtp2 protect")
    );
    let mut g = c.benchmark_group("srtp");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    let mut seq = 2u16;
    let mut pkt = plain.clone();
    g.bench_function("protect_172B/ac-media", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            ours.protect_rtp(black_box(&pkt)).expect("protect").len()
        })
    });
    let mut buf = vec![0u8; plain.len() + 160];
    let mut lseq = 2u16;
    g.bench_function("protect_172B/libsrtp2", |b| {
        b.iter(|| {
            lseq = lseq.wrapping_add(1);
            buf[..plain.len()].copy_from_slice(&plain);
            buf[2..4].copy_from_slice(&lseq.to_be_bytes());
            lib.protect_in_place(black_box(&mut buf), plain.len())
                .expect("libsrtp2 protect")
        })
    });
    // Unprotect: a fresh receiver per batch of 256 packets (replay protection forbids
    // reusing one), set up outside the timing.
    let mut tx = SrtpSession::new(Suite::AesCm128HmacSha1_80, &key, &key).expect("keys");
    let batch: Vec<Vec<u8>> = (0..256u16)
        .map(|s| tx.protect_rtp(&rtp(s, &payload)).expect("protect"))
        .collect();
    g.throughput(Throughput::Bytes((plain.len() * batch.len()) as u64));
    g.bench_function("unprotect_256x172B/ac-media", |b| {
        b.iter_batched(
            || SrtpSession::new(Suite::AesCm128HmacSha1_80, &key, &key).expect("keys"),
            |mut rx| {
                for p in &batch {
                    black_box(rx.unprotect_rtp(p).expect("unprotect"));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("unprotect_256x172B/libsrtp2", |b| {
        b.iter_batched(
            || {
                (
                    LibSrtp::new(true, &key.to_bytes(), false).expect("libsrtp2"),
                    batch.clone(),
                )
            },
            |(mut rx, mut pkts)| {
                for p in pkts.iter_mut() {
                    let n = p.len();
                    black_box(rx.unprotect_in_place(p, n).expect("libsrtp2 unprotect"));
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
        .sample_size(50);
    targets = g711_bench, g722_bench, srtp_bench
}
criterion_main!(benches);
