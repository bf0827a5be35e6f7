//! SILK decoder properties that hold without the SDK test vectors (those are run by
//! `examples/silk_vectors.rs`): no panic on arbitrary payloads, bounded and decaying
//! concealment, FEC recovery equal to the lost packet, decode of bytes equal to decode of
//! the parsed parameters.

use ac_media::silk::dec::find_lbrr;
use ac_media::silk::indices::{
    frame_length, nlsf_codebook, SIG_TYPE_UNVOICED, SIG_TYPE_VOICED, TERM_LAST_FRAME,
    TERM_LBRR_VER1,
};
use ac_media::silk::{
    best_rate_level, decode_packet, encode_packet, Decoder, FrameIndices, Packet, SilkError,
};
use proptest::prelude::*;

/// A deterministic pseudo-random generator for building streams.
struct Lcg(u32);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0 >> 8
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// A speech-like frame: voiced with a pitch pulse train or unvoiced noise, moderate gain.
fn frame(fs_khz: u32, rng: &mut Lcg, first_in_packet: bool, voiced: bool) -> FrameIndices {
    let n = frame_length(fs_khz);
    let mut f = FrameIndices::zeroed(fs_khz);
    f.sigtype = if voiced {
        SIG_TYPE_VOICED
    } else {
        SIG_TYPE_UNVOICED
    };
    f.quant_offset_type = rng.below(2) as u8;
    f.gain_indices = [
        if first_in_packet {
            30 + rng.below(10) as u8
        } else {
            4
        },
        4,
        5,
        3,
    ];
    let cb = nlsf_codebook(fs_khz, f.sigtype);
    for (s, st) in cb.stages.iter().enumerate() {
        f.nlsf_indices[s] = rng.below(st.n_vectors as u32) as u8;
    }
    f.nlsf_interp_coef_q2 = 4;
    let period = 5 * fs_khz as usize;
    if voiced {
        f.lag_index = (period - 2 * fs_khz as usize) as u16;
        f.contour_index = 0;
        f.per_index = 1;
        f.ltp_indices = [rng.below(20) as u8; 4];
        f.ltp_scale_index = 0;
    }
    f.seed = rng.below(4) as u8;
    for (i, p) in f.pulses.iter_mut().enumerate() {
        *p = if voiced && i % period == 0 {
            6
        } else {
            rng.below(3) as i32 - 1
        };
    }
    debug_assert_eq!(f.pulses.len(), n);
    f.rate_level = best_rate_level(f.sigtype, &f.pulses);
    f.vad = true;
    f
}

fn packet(fs_khz: u32, frames: usize, rng: &mut Lcg, voiced: bool) -> Packet {
    Packet {
        fs_khz,
        frames: (0..frames)
            .map(|i| frame(fs_khz, rng, i == 0, voiced))
            .collect(),
        termination: TERM_LAST_FRAME,
        tail: Vec::new(),
    }
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64
}

#[test]
fn decoding_bytes_equals_decoding_the_parsed_parameters() {
    let mut rng = Lcg(7);
    for fs in [8u32, 12, 16, 24] {
        let mut a = Decoder::new(fs * 1000).unwrap();
        let mut b = Decoder::new(fs * 1000).unwrap();
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        for k in 0..20 {
            let p = packet(fs, 1 + k % 3, &mut rng, k % 2 == 0);
            let bytes = encode_packet(&p).unwrap();
            let n = a.decode(&bytes, &mut out_a).unwrap();
            assert_eq!(n, (1 + k % 3) * frame_length(fs));
            b.decode_parsed(&decode_packet(&bytes).unwrap(), &mut out_b)
                .unwrap();
        }
        assert_eq!(out_a, out_b);
        assert!(
            energy(&out_a) > 100.0,
            "{fs} kHz: the synthetic stream is audible"
        );
        assert_eq!(a.sample_rate(), fs * 1000);
    }
}

#[test]
fn concealment_is_bounded_and_decays() {
    for (voiced, fs) in [(true, 8u32), (false, 8), (true, 16), (false, 16)] {
        let mut rng = Lcg(11);
        let mut dec = Decoder::new(fs * 1000).unwrap();
        let mut out = Vec::new();
        for _ in 0..10 {
            dec.decode(
                &encode_packet(&packet(fs, 1, &mut rng, voiced)).unwrap(),
                &mut out,
            )
            .unwrap();
        }
        let l = frame_length(fs);
        let last_good = energy(&out[out.len() - l..]);
        let mut concealed = Vec::new();
        for _ in 0..30 {
            let before = concealed.len();
            assert_eq!(dec.conceal(&mut concealed), l);
            assert_eq!(concealed.len() - before, l);
        }
        let e: Vec<f64> = concealed.chunks(l).map(energy).collect();
        assert!(
            e[0] <= 4.0 * last_good + 1.0,
            "voiced {voiced} {fs} kHz: first concealed frame {} vs last good {last_good}",
            e[0]
        );
        // Energy per block of five frames never grows, and has fallen 20 dB after 30 frames.
        let blocks: Vec<f64> = e.chunks(5).map(|c| c.iter().sum::<f64>()).collect();
        for w in blocks.windows(2) {
            // (+10: the rounding noise floor of the output filter.)
            assert!(
                w[1] <= w[0] * 1.05 + 10.0,
                "voiced {voiced} {fs} kHz: {blocks:?}"
            );
        }
        assert!(
            e[29] * 100.0 <= e[0] + 1.0,
            "voiced {voiced} {fs} kHz: {e:?}"
        );
    }
}

#[test]
fn fec_recovers_a_lost_packet_exactly_when_its_copy_is_identical() {
    // Each packet carries the previous one, unchanged, as its LBRR (termination VER1): a
    // packet lost and recovered from the next one decodes exactly as if it had arrived.
    let mut rng = Lcg(3);
    let fs = 16;
    let mut plain: Vec<Vec<u8>> = Vec::new();
    for k in 0..8 {
        plain.push(encode_packet(&packet(fs, 2, &mut rng, k % 3 != 0)).unwrap());
    }
    let with_fec: Vec<Vec<u8>> = (0..plain.len())
        .map(|k| {
            let mut p = decode_packet(&plain[k]).unwrap();
            if k > 0 {
                p.termination = TERM_LBRR_VER1;
                p.tail = plain[k - 1].clone();
            }
            encode_packet(&p).unwrap()
        })
        .collect();
    assert_eq!(find_lbrr(&with_fec[3], 1), Some(&plain[2][..]));
    assert_eq!(find_lbrr(&with_fec[3], 2), None);

    let mut reference = Vec::new();
    let mut dec = Decoder::new(16000).unwrap();
    for p in &with_fec {
        dec.decode(p, &mut reference).unwrap();
    }
    let mut recovered = Vec::new();
    let mut concealed = Vec::new();
    let mut dec_fec = Decoder::new(16000).unwrap();
    let mut dec_plc = Decoder::new(16000).unwrap();
    for (k, p) in with_fec.iter().enumerate() {
        if k == 4 {
            assert!(dec_fec.decode_fec(Some(&with_fec[5]), Some(&with_fec[6]), &mut recovered));
            assert_eq!(dec_plc.conceal(&mut concealed), 2 * frame_length(fs));
        } else {
            dec_fec.decode(p, &mut recovered).unwrap();
            dec_plc.decode(p, &mut concealed).unwrap();
        }
    }
    assert_eq!(recovered, reference);
    assert_ne!(
        concealed, reference,
        "plain concealment differs from the lost audio"
    );
    assert_eq!(dec_fec.inband_fec_offset(), 1);
}

#[test]
fn errors_are_typed_and_still_produce_audio() {
    let mut dec = Decoder::new(8000).unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        Decoder::new(44100),
        Err(SilkError::UnsupportedRate(44100))
    ));
    assert_eq!(
        dec.decode(&[0u8; 1025], &mut out),
        Err(SilkError::PayloadTooLong)
    );
    assert_eq!(out.len(), 160, "one concealed frame");
    assert!(dec.decode(&[0xFF; 3], &mut out).is_err());
    assert_eq!(out.len(), 320);
    assert!(!dec.decode_fec(Some(&[1, 2, 3]), None, &mut out));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary payloads, losses and FEC lookups never panic, and every call produces
    /// whole 20 ms frames.
    #[test]
    fn decoder_never_panics(
        rate in prop::sample::select(vec![8000u32, 12000, 16000, 24000]),
        packets in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..200), 0u8..4), 1..12),
    ) {
        let mut dec = Decoder::new(rate).unwrap();
        let mut out = Vec::new();
        for i in 0..packets.len() {
            let (data, action) = &packets[i];
            let before = out.len();
            match action {
                0 => {
                    dec.conceal(&mut out);
                }
                1 => {
                    let next = packets.get(i + 1).map(|p| p.0.as_slice());
                    let next2 = packets.get(i + 2).map(|p| p.0.as_slice());
                    dec.decode_fec(next, next2, &mut out);
                }
                _ => {
                    let _ = dec.decode(data, &mut out);
                }
            }
            let n = out.len() - before;
            prop_assert!(n > 0 && n <= 5 * 480);
            prop_assert_eq!(n % dec.frame_length(), 0);
        }
    }

    /// Valid random packets (random parameters of every kind) decode without error.
    #[test]
    fn random_valid_packets_decode(seed in any::<u32>(), fs in prop::sample::select(vec![8u32, 12, 16, 24])) {
        let mut rng = Lcg(seed);
        let mut dec = Decoder::new(fs * 1000).unwrap();
        let mut out = Vec::new();
        for k in 0..4 {
            let voiced = rng.below(2) == 0;
            let mut p = packet(fs, 1 + (seed as usize + k) % 5, &mut rng, voiced);
            for f in p.frames.iter_mut() {
                f.nlsf_interp_coef_q2 = rng.below(5) as u8;
                f.lag_index = if f.sigtype == SIG_TYPE_VOICED { rng.below(16 * fs) as u16 } else { 0 };
                f.contour_index = if f.sigtype == SIG_TYPE_VOICED { rng.below(if fs == 8 { 11 } else { 34 }) as u8 } else { 0 };
            }
            let bytes = encode_packet(&p).unwrap();
            prop_assert_eq!(dec.decode(&bytes, &mut out).unwrap(), p.frames.len() * frame_length(fs));
        }
    }
}

#[test]
fn upsampler_keeps_a_tone_and_the_rate_ratio() {
    use ac_media::silk::resampler::Upsampler;
    assert!(Upsampler::new(16000, 8000).is_err(), "no down-sampling");
    for (fin, fout) in [
        (8000u32, 8000u32),
        (8000, 16000),
        (8000, 24000),
        (12000, 16000),
        (12000, 44100),
        (16000, 48000),
    ] {
        let tone: Vec<i16> = (0..fin as usize)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * 500.0 * n as f64 / f64::from(fin)).sin())
                    as i16
            })
            .collect();
        let mut r = Upsampler::new(fin, fout).unwrap();
        let mut out = Vec::new();
        // In 20 ms frames, as the decoder produces them.
        for chunk in tone.chunks(fin as usize / 50) {
            r.process(chunk, &mut out);
        }
        assert_eq!(
            out.len(),
            fout as usize,
            "{fin} -> {fout}: one second in, one second out"
        );
        // RMS after the start-up transient: the 500 Hz tone passes within 0.5 dB.
        let rms = |x: &[i16]| {
            (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        };
        let ratio_db =
            20.0 * (rms(&out[fout as usize / 10..]) / rms(&tone[fin as usize / 10..])).log10();
        assert!(ratio_db.abs() < 0.5, "{fin} -> {fout}: {ratio_db:.2} dB");
    }
}
