//! SILK bitstream layer: range coder and frame/packet parameter coding round trips
//! (the parse/emit oracle of the SILK payload parser).

use ac_media::silk::indices::{
    frame_length, nlsf_codebook, SIG_TYPE_VOICED, TERM_LAST_FRAME, TERM_LBRR_VER1, TERM_LBRR_VER2,
};
use ac_media::silk::{
    best_rate_level, decode_packet, encode_packet, FrameIndices, Packet, RangeDecoder,
    RangeEncoder, SilkError,
};
use proptest::prelude::*;

/// A random CDF with `n` symbols, every symbol of nonzero width.
fn cdf_strategy() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(1u32..2000, 1..40).prop_map(|w| {
        let total: u32 = w.iter().sum();
        let mut cdf = vec![0u16];
        let mut acc = 0u32;
        for (i, x) in w.iter().enumerate() {
            acc += x;
            let v = if i + 1 == w.len() {
                65535
            } else {
                (u64::from(acc) * 65535 / u64::from(total)) as u16
            };
            cdf.push(v);
        }
        // Widths must stay nonzero after scaling.
        cdf.dedup();
        cdf
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn range_coder_round_trips_random_symbols(
        cdfs in prop::collection::vec(cdf_strategy(), 1..6),
        picks in prop::collection::vec((any::<u16>(), any::<u16>()), 0..300),
    ) {
        let seq: Vec<(usize, usize)> = picks
            .iter()
            .map(|&(c, s)| {
                let c = c as usize % cdfs.len();
                (c, s as usize % (cdfs[c].len() - 1))
            })
            .collect();
        let mut enc = RangeEncoder::new();
        for &(c, s) in &seq {
            enc.encode(s, &cdfs[c]);
        }
        let bytes = enc.finish().unwrap();
        let mut dec = RangeDecoder::new(&bytes).unwrap();
        for &(c, s) in &seq {
            let start = (cdfs[c].len() - 1) / 2;
            prop_assert_eq!(dec.decode(&cdfs[c], start).unwrap(), s);
        }
        prop_assert_eq!(dec.bytes_used(), bytes.len());
        dec.check_after_decoding().unwrap();
    }
}

fn frame_strategy(fs_khz: u32, first: bool) -> impl Strategy<Value = FrameIndices> {
    let n = frame_length(fs_khz);
    let lag_max: u16 = match fs_khz {
        8 => 128,
        12 => 192,
        16 => 256,
        _ => 384,
    };
    let contour_max: u8 = if fs_khz == 8 { 10 } else { 33 };
    (
        (
            0u8..2,
            0u8..2,
            prop::array::uniform4(0u8..45),
            0u8..64,
            prop::array::uniform10(any::<u8>()),
            0u8..5,
        ),
        (
            0..=lag_max,
            0..=contour_max,
            0u8..3,
            prop::array::uniform4(any::<u8>()),
            0u8..3,
            0u8..4,
        ),
        (
            prop::collection::vec(
                prop_oneof![12 => Just(0i32), 4 => -3i32..4, 1 => -60i32..61],
                n,
            ),
            any::<bool>(),
            prop::option::of(0u8..9),
        ),
    )
        .prop_map(
            move |(
                (sig, qot, mut gains, g0, nlsf, interp),
                (lag, contour, per, ltp, scale, seed),
                (pulses, vad, rl),
            )| {
                if first {
                    gains[0] = g0;
                }
                let cb = nlsf_codebook(fs_khz, sig);
                let mut nlsf_indices = [0u8; 10];
                for (s, st) in cb.stages.iter().enumerate() {
                    nlsf_indices[s] = (nlsf[s] as usize % st.n_vectors) as u8;
                }
                let sizes = [10u8, 20, 40];
                let voiced = sig == SIG_TYPE_VOICED;
                let rate_level = rl.unwrap_or_else(|| best_rate_level(sig, &pulses));
                FrameIndices {
                    sigtype: sig,
                    quant_offset_type: qot,
                    gain_indices: gains,
                    nlsf_indices,
                    nlsf_interp_coef_q2: interp,
                    lag_index: if voiced { lag } else { 0 },
                    contour_index: if voiced { contour } else { 0 },
                    per_index: if voiced { per } else { 0 },
                    ltp_indices: if voiced {
                        ltp.map(|l| l % sizes[per as usize])
                    } else {
                        [0; 4]
                    },
                    ltp_scale_index: if voiced { scale } else { 0 },
                    seed,
                    rate_level,
                    pulses,
                    vad,
                }
            },
        )
}

fn packet_strategy() -> impl Strategy<Value = Packet> {
    (
        prop::sample::select(vec![8u32, 12, 16, 24]),
        1usize..=5,
        prop::sample::select(vec![0u8, 2, 3]),
    )
        .prop_flat_map(|(fs, n, term)| {
            let frames: Vec<_> = (0..n).map(|i| frame_strategy(fs, i == 0).boxed()).collect();
            (
                Just(fs),
                frames,
                Just(term),
                prop::collection::vec(any::<u8>(), 0..40),
            )
        })
        .prop_map(|(fs_khz, frames, termination, tail)| {
            let tail = if termination == TERM_LAST_FRAME {
                Vec::new()
            } else {
                tail
            };
            Packet {
                fs_khz,
                frames,
                termination,
                tail,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// emit -> parse is the identity on packets (parse/emit oracle of the SILK payload).
    #[test]
    fn packet_encode_decode_round_trip(p in packet_strategy()) {
        let bytes = encode_packet(&p);
        // Dense random pulses at 24 kHz can exceed the 1,024-byte payload limit.
        prop_assume!(bytes != Err(SilkError::PayloadTooLong));
        let bytes = bytes.unwrap();
        let q = decode_packet(&bytes).unwrap();
        prop_assert_eq!(&q, &p);
        // parse -> emit -> parse again: the same packet and the same bytes.
        prop_assert_eq!(encode_packet(&q).unwrap(), bytes);
    }

    /// Arbitrary bytes: decode never panics, and whatever decodes re-encodes to a packet
    /// that decodes to the same parameters.
    #[test]
    fn arbitrary_bytes_parse_emit_parse(data in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = decode_packet(&data) {
            let again = encode_packet(&p).unwrap();
            prop_assert_eq!(decode_packet(&again).unwrap(), p);
        }
    }
}

#[test]
fn lbrr_is_found_for_the_right_offset() {
    let mut f = FrameIndices::zeroed(16);
    f.gain_indices = [20, 4, 4, 4];
    let inner = Packet {
        fs_khz: 16,
        frames: vec![f.clone()],
        termination: TERM_LAST_FRAME,
        tail: vec![],
    };
    let inner_bytes = encode_packet(&inner).unwrap();
    for (term, hit, miss) in [(TERM_LBRR_VER1, 1u8, 2u8), (TERM_LBRR_VER2, 2, 1)] {
        let outer = Packet {
            fs_khz: 16,
            frames: vec![f.clone()],
            termination: term,
            tail: inner_bytes.clone(),
        };
        let p = decode_packet(&encode_packet(&outer).unwrap()).unwrap();
        assert_eq!(p.lbrr_for(hit), Some(&inner_bytes[..]));
        assert_eq!(p.lbrr_for(miss), None);
        assert_eq!(decode_packet(p.lbrr_for(hit).unwrap()).unwrap(), inner);
    }
}

#[test]
fn range_coder_errors_are_typed() {
    let mut enc = RangeEncoder::new();
    enc.encode(5, &[0, 30000, 65535]);
    assert!(enc.finish().is_err());
    assert!(RangeDecoder::new(&[0u8; 1025]).is_err());
    assert!(decode_packet(&[]).is_err());
}
