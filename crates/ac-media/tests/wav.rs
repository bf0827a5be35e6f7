//! WAV/RIFF reader: parse -> emit -> re-parse round trips (proptest), errors on bad input,
//! the built-in ring tones, the MoH size limit and playback at both rates.

use ac_media::wav::{
    builtin_ring, ChunkBody, Encoding, MohPlayer, Wav, WavError, WavView, MOH_MAX_BYTES,
};
use proptest::prelude::*;

fn bytes(w: &Wav) -> Vec<u8> {
    let mut v = Vec::new();
    w.emit(&mut v).unwrap();
    v
}

#[test]
fn supported_encodings_round_trip() {
    let pcm: Vec<i16> = (0..1600)
        .map(|i| (8000.0 * (i as f64 * 0.05).sin()) as i16)
        .collect();
    for enc in [Encoding::Alaw, Encoding::Mulaw, Encoding::Pcm16] {
        let b = bytes(&Wav::from_pcm(enc, &pcm));
        let v = WavView::parse(&b).unwrap();
        assert_eq!(v.fmt.encoding().unwrap(), enc);
        let (out, rate) = v.decode().unwrap();
        assert_eq!(rate, enc.rate());
        assert_eq!(out.len(), pcm.len());
        let err = out
            .iter()
            .zip(&pcm)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        match enc {
            Encoding::Pcm16 => assert_eq!(err, 0),
            _ => assert!(err <= 256, "G.711 error {err}"),
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    let good = bytes(&Wav::from_pcm(Encoding::Alaw, &[0; 100]));
    for n in 0..good.len() {
        // Every truncation fails cleanly (the RIFF size then overruns the file).
        assert!(WavView::parse(&good[..n]).is_err(), "truncated to {n}");
    }
    let mut b = good.clone();
    b[8..12].copy_from_slice(b"AVI ");
    assert_eq!(WavView::parse(&b), Err(WavError::NotWave));
    // A chunk length pointing past the end.
    let mut b = good.clone();
    let data_len_at = b.windows(4).position(|w| w == b"data").unwrap() + 4;
    b[data_len_at..data_len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(WavView::parse(&b), Err(WavError::ChunkOverrun(*b"data")));
    // Stereo, 44.1 kHz and 8-bit PCM are refused for playback (parsed, not decoded).
    let mut w = Wav::from_pcm(Encoding::Pcm16, &[0; 10]);
    if let ChunkBody::Fmt(f) = &mut w.chunks[0].1 {
        f.rate = 44100;
    }
    let b = bytes(&w);
    assert!(matches!(
        WavView::parse(&b).unwrap().decode(),
        Err(WavError::Unsupported { rate: 44100, .. })
    ));
    // data before fmt.
    let mut w = Wav::from_pcm(Encoding::Pcm16, &[0; 10]);
    w.chunks.swap(0, 1);
    assert_eq!(WavView::parse(&bytes(&w)), Err(WavError::Misplaced("data")));
}

#[test]
fn extra_chunks_and_odd_lengths_survive() {
    let mut w = Wav::from_pcm(Encoding::Mulaw, &[1, 2, 3]);
    w.chunks
        .insert(1, (*b"LIST", ChunkBody::Raw(b"INFOabc".to_vec())));
    w.chunks.push((*b"fact", ChunkBody::Raw(vec![3, 0, 0, 0])));
    let b = bytes(&w);
    assert_eq!(b.len() % 2, 0);
    let back = Wav::parse(&b).unwrap();
    assert_eq!(back, w);
    assert_eq!(bytes(&back), b);
}

#[test]
fn builtin_ring_tones() {
    for i in 1..=11 {
        let name = format!("Ring{i:02}");
        let pcm = builtin_ring(&name).unwrap_or_else(|| panic!("{name}"));
        assert!(pcm.len() >= 16000, "{name} at least 1 s");
        let peak = pcm.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert!(peak > 5000 && peak < 32767, "{name} level {peak}");
        // Stored as a 16 kHz PCM WAV they read back the same.
        let b = bytes(&Wav::from_pcm(Encoding::Pcm16, &pcm));
        assert_eq!(WavView::parse(&b).unwrap().decode().unwrap(), (pcm, 16000));
    }
    assert!(builtin_ring("Ring12").is_none());
    assert_ne!(builtin_ring("Ring01"), builtin_ring("Ring02"));
}

#[test]
fn moh_limit_and_playback() {
    // 1 s of a 1 kHz tone in A-law at 8 kHz, played into a 16 kHz call and an 8 kHz call.
    let pcm: Vec<i16> = (0..8000)
        .map(|i| (10000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin()) as i16)
        .collect();
    let file = bytes(&Wav::from_pcm(Encoding::Alaw, &pcm));
    let mut p16 = MohPlayer::new(&file, 16000).unwrap();
    let mut out = vec![0i16; 32000];
    p16.fill(&mut out);
    // After the filter's delay, the 16 kHz signal is the 1 kHz tone at the same level.
    let rms =
        |x: &[i16]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let r = rms(&out[1000..15000]);
    assert!((r / rms(&pcm) - 1.0).abs() < 0.05, "level {r}");
    // Loops: the second second equals the first.
    assert_eq!(out[2000..4000], out[18000..20000]);
    let mut p8 = MohPlayer::new(&file, 8000).unwrap();
    let mut o8 = vec![0i16; 8000];
    p8.fill(&mut o8);
    assert_eq!(
        &o8[..],
        &WavView::parse(&file).unwrap().decode().unwrap().0[..]
    );
    // Over 300 KB: refused.
    let big = bytes(&Wav::from_pcm(Encoding::Pcm16, &vec![0; MOH_MAX_BYTES / 2]));
    assert!(matches!(
        MohPlayer::new(&big, 16000),
        Err(WavError::TooLarge { .. })
    ));
}

fn arb_wav() -> impl Strategy<Value = Wav> {
    let fmt = (
        any::<u16>(),
        1u16..4,
        any::<u32>(),
        any::<u32>(),
        1u16..8,
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(
            |(tag, channels, rate, byte_rate, block_align, bits, extra)| ac_media::wav::Fmt {
                tag,
                channels,
                rate,
                byte_rate,
                block_align,
                bits,
                extra,
            },
        );
    let other = (
        proptest::sample::select(vec![*b"LIST", *b"fact", *b"cue ", *b"junk"]),
        proptest::collection::vec(any::<u8>(), 0..40),
    );
    (
        proptest::collection::vec(other.clone(), 0..3),
        fmt,
        proptest::collection::vec(other, 0..3),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(
            (
                proptest::sample::select(vec![*b"LIST", *b"junk"]),
                proptest::collection::vec(any::<u8>(), 0..9),
            ),
            0..2,
        ),
    )
        .prop_map(|(pre, fmt, mid, data, post)| {
            let mut chunks: Vec<([u8; 4], ChunkBody)> = pre
                .into_iter()
                .map(|(i, b)| (i, ChunkBody::Raw(b)))
                .collect();
            chunks.push((*b"fmt ", ChunkBody::Fmt(fmt)));
            chunks.extend(mid.into_iter().map(|(i, b)| (i, ChunkBody::Raw(b))));
            chunks.push((*b"data", ChunkBody::Raw(data)));
            chunks.extend(post.into_iter().map(|(i, b)| (i, ChunkBody::Raw(b))));
            Wav { chunks }
        })
}

proptest! {
    #[test]
    fn emit_parse_round_trip(w in arb_wav()) {
        let b = bytes(&w);
        let back = Wav::parse(&b).unwrap();
        prop_assert_eq!(&back, &w);
        prop_assert_eq!(bytes(&back), b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), riff in any::<bool>()) {
        let mut b = b;
        if riff && b.len() >= 12 {
            b[0..4].copy_from_slice(b"RIFF");
            let l = (b.len() - 8) as u32;
            b[4..8].copy_from_slice(&l.to_le_bytes());
            b[8..12].copy_from_slice(b"WAVE");
        }
        if let Ok(w) = Wav::parse(&b) {
            let e = bytes(&w);
            prop_assert_eq!(Wav::parse(&e).unwrap(), w);
        }
    }
}
