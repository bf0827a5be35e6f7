//! Differential checks against spandsp (Debian's libspandsp, through ac-media-ref): the G.722
//! decoder in modes 2 and 3 (the STL vectors cover mode 1) and G.711 on all inputs.
mod common;
use ac_media::g722::{Decoder, Mode};
use ac_media::{g711, g722};
use ac_media_ref::{SpandspG722Decoder, SpandspG722Encoder};
use common::read_words;

#[test]
fn g722_modes_2_and_3_match_spandsp() {
    let codes: Vec<u8> = read_words("g722/codspw.cod")
        .iter()
        .map(|&w| w as u8)
        .collect();
    for (mode, rate, shift) in [(Mode::Mode2, 56_000, 1), (Mode::Mode3, 48_000, 2)] {
        let mut ours = Decoder::new(mode);
        let mut out = Vec::new();
        ours.decode(&codes, &mut out);
        // spandsp takes unpacked 7- or 6-bit codes: the octet without its auxiliary bits.
        let short: Vec<u8> = codes.iter().map(|c| c >> shift).collect();
        let mut reference = vec![0i16; codes.len() * 2];
        let n = SpandspG722Decoder::new(rate).decode(&short, &mut reference);
        assert_eq!(n, out.len());
        let same = out.iter().zip(&reference).filter(|(a, b)| a == b).count();
        assert_eq!(same, out.len(), "{mode:?}: {same} of {} samples", out.len());
        // And the modes really differ from mode 1.
        let mut m1 = Vec::new();
        Decoder::new(Mode::Mode1).decode(&codes, &mut m1);
        assert_ne!(m1, out);
    }
}

#[test]
fn g722_encoder_matches_spandsp_on_synthetic_signals() {
    // Chirp plus full-scale square wave: exercises the saturation paths.
    let pcm: Vec<i16> = (0..32_000)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            let chirp = (2.0 * std::f64::consts::PI * (100.0 + 3000.0 * t) * t).sin() * 20_000.0;
            let sq = if (i / 37) % 2 == 0 {
                12_000.0
            } else {
                -12_000.0
            };
            (chirp + sq).clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    let mut ours = Vec::new();
    g722::Encoder::new().encode(&pcm, &mut ours);
    let mut reference = vec![0u8; pcm.len() / 2];
    SpandspG722Encoder::new().encode(&pcm, &mut reference);
    let first = ours.iter().zip(&reference).position(|(a, b)| a != b);
    let same = ours.iter().zip(&reference).filter(|(a, b)| a == b).count();
    assert_eq!(first, None, "{same} of {} codes agree", ours.len());
}

#[test]
fn g711_matches_spandsp_on_all_inputs() {
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let mut a = vec![0u8; all.len()];
    let mut b = vec![0u8; all.len()];
    g711::encode_alaw(&all, &mut a);
    ac_media_ref::spandsp_alaw_encode(&all, &mut b);
    assert_eq!(a, b);
    g711::encode_ulaw(&all, &mut a);
    ac_media_ref::spandsp_ulaw_encode(&all, &mut b);
    // µ-law: spandsp negates negative inputs (-x) where G.711/the STL takes the one's
    // complement (!x = -x - 1), so the two differ exactly at the 127 negative decision
    // boundaries, where spandsp's code for x is ours for x - 1. We follow the STL
    // (tests/g711_stl.rs).
    let diff: Vec<usize> = (0..all.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(diff.len(), 127);
    for i in diff {
        assert!(all[i] < 0);
        assert_eq!(b[i], g711::linear_to_ulaw(all[i] - 1), "input {}", all[i]);
    }
    // Decoding agrees on all 256 codes.
    let codes: Vec<u8> = (0..=255).collect();
    let mut x = vec![0i16; 256];
    let mut y = vec![0i16; 256];
    g711::decode_ulaw(&codes, &mut x);
    ac_media_ref::spandsp_ulaw_decode(&codes, &mut y);
    assert_eq!(x, y);
    g711::decode_alaw(&codes, &mut x);
    ac_media_ref::spandsp_alaw_decode(&codes, &mut y);
    assert_eq!(x, y);
}
