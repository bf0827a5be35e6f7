//! G.711 against the ITU-T G.191 STL sweep: every 16-bit input.
mod common;
use ac_media::g711;
use common::read_words;

#[test]
fn alaw_bit_exact_on_all_inputs() {
    let src = read_words("g711/sweep.src");
    assert_eq!(src.len(), 65536);
    let codes = read_words("g711/sweep-r.a");
    let round = read_words("g711/sweep-r.a-a");
    let expand = read_words("g711/sweep-r.rea");
    let mut enc_ok = 0;
    let mut rt_ok = 0;
    for i in 0..src.len() {
        let c = g711::linear_to_alaw(src[i]);
        enc_ok += usize::from(i32::from(c) == i32::from(codes[i]));
        rt_ok += usize::from(g711::alaw_to_linear(c) == round[i]);
        assert_eq!(
            g711::alaw_to_linear(codes[i] as u8),
            expand[i],
            "expand {i}"
        );
    }
    assert_eq!(enc_ok, 65536, "A-law encode matches");
    assert_eq!(rt_ok, 65536, "A-law encode+decode matches");
    // The frame API agrees with the sample API.
    let mut out = vec![0u8; src.len()];
    g711::encode_alaw(&src, &mut out);
    let mut back = vec![0i16; src.len()];
    g711::decode_alaw(&out, &mut back);
    assert_eq!(back, round);
}

#[test]
fn ulaw_bit_exact_on_all_inputs() {
    let src = read_words("g711/sweep.src");
    let codes = read_words("g711/sweep-r.u");
    let round = read_words("g711/sweep-r.u-u");
    let expand = read_words("g711/sweep-r.reu");
    let mut enc_ok = 0;
    let mut rt_ok = 0;
    for i in 0..src.len() {
        let c = g711::linear_to_ulaw(src[i]);
        enc_ok += usize::from(i32::from(c) == i32::from(codes[i]));
        rt_ok += usize::from(g711::ulaw_to_linear(c) == round[i]);
        assert_eq!(
            g711::ulaw_to_linear(codes[i] as u8),
            expand[i],
            "expand {i}"
        );
    }
    assert_eq!(enc_ok, 65536, "mu-law encode matches");
    assert_eq!(rt_ok, 65536, "mu-law encode+decode matches");
    let mut out = vec![0u8; src.len()];
    g711::encode_ulaw(&src, &mut out);
    let mut back = vec![0i16; src.len()];
    g711::decode_ulaw(&out, &mut back);
    assert_eq!(back, round);
}
