//! ITU-T G.711 A-law and µ-law (PCMA, PCMU).
//!
//! Input and output are 16-bit linear samples, as in the ITU-T G.191 Software Tool Library:
//! A-law uses the 13 most significant bits, µ-law the 14 most significant bits. Decoded
//! values are left-justified in 16 bits. Bit-exact with the STL on all 65,536 inputs
//! (tests/g711_stl.rs).

/// Encodes one sample to A-law (G.711 Table 1/2, even bits inverted: XOR 0x55).
#[inline]
pub fn linear_to_alaw(x: i16) -> u8 {
    // Magnitude in 12 bits; negative values use the one's complement so that -1 maps
    // to the smallest negative code, as G.711 defines the decision levels.
    let (mag, sign) = if x < 0 {
        ((!x) >> 4, 0u8)
    } else {
        (x >> 4, 0x80u8)
    };
    let mut ix = mag as u16; // 0..=2047
    if ix > 15 {
        let mut seg: u16 = 1;
        while ix > 31 {
            ix >>= 1;
            seg += 1;
        }
        ix = (ix - 16) + (seg << 4);
    }
    (ix as u8 | sign) ^ 0x55
}

/// Decodes one A-law code to a 16-bit left-justified sample.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7f;
    let seg = ix >> 4;
    let mut mant = i32::from(ix & 0x0f);
    if seg > 0 {
        mant += 16;
    }
    // Reconstruct at the middle of the quantisation interval.
    mant = (mant << 4) + 8;
    if seg > 1 {
        mant <<= seg - 1;
    }
    if code & 0x80 != 0 {
        mant as i16
    } else {
        -mant as i16
    }
}

/// Encodes one sample to µ-law (G.711, bias 33 in 14-bit units, all bits inverted).
#[inline]
pub fn linear_to_ulaw(x: i16) -> u8 {
    let mag = if x < 0 { (!x) >> 2 } else { x >> 2 };
    let absno = (i32::from(mag) + 33).min(0x1fff);
    // Segment number: 1 + the bit length of absno >> 6.
    let seg = 1 + (32 - ((absno >> 6) as u32).leading_zeros()) as i32;
    let high = 8 - seg;
    let low = 0x0f - ((absno >> seg) & 0x0f);
    let mut code = ((high << 4) | low) as u8;
    if x >= 0 {
        code |= 0x80;
    }
    code
}

/// Decodes one µ-law code to a 16-bit left-justified sample.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    let m = !code;
    let exponent = i32::from((m >> 4) & 0x07);
    let mantissa = i32::from(m & 0x0f);
    let step = 4 << (exponent + 1);
    let mag = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code < 0x80 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// Lookup tables, built once: decoding (256 entries each) and encoding. A-law codes
/// depend on the 12 bits x >> 4 only and µ-law codes on the 14 bits x >> 2, so the encoder
/// tables have 4096 and 16,384 entries (filled from the reference functions above).
struct Tables {
    alaw: [i16; 256],
    ulaw: [i16; 256],
    alaw_enc: Box<[u8; 4096]>,
    ulaw_enc: Box<[u8; 16384]>,
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables {
            alaw: [0; 256],
            ulaw: [0; 256],
            alaw_enc: Box::new([0; 4096]),
            ulaw_enc: Box::new([0; 16384]),
        };
        for c in 0..=255u8 {
            t.alaw[usize::from(c)] = alaw_to_linear(c);
            t.ulaw[usize::from(c)] = ulaw_to_linear(c);
        }
        for (i, e) in t.alaw_enc.iter_mut().enumerate() {
            *e = linear_to_alaw(((i as i32 - 2048) << 4) as i16);
        }
        for (i, e) in t.ulaw_enc.iter_mut().enumerate() {
            *e = linear_to_ulaw(((i as i32 - 8192) << 2) as i16);
        }
        t
    })
}

/// Encodes a frame to A-law; `out` must be as long as `pcm`.
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) {
    let t = &tables().alaw_enc;
    for (o, &s) in out.iter_mut().zip(pcm) {
        // (s >> 4) + 2048 is in 0..4096.
        *o = t[((i32::from(s) >> 4) + 2048) as usize & 4095];
    }
}

/// Encodes a frame to µ-law; `out` must be as long as `pcm`.
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) {
    let t = &tables().ulaw_enc;
    for (o, &s) in out.iter_mut().zip(pcm) {
        // (s >> 2) + 8192 is in 0..16384.
        *o = t[((i32::from(s) >> 2) + 8192) as usize & 16383];
    }
}

/// Decodes an A-law frame; `out` must be as long as `codes`.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) {
    let t = &tables().alaw;
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = t[usize::from(c)];
    }
}

/// Decodes a µ-law frame; `out` must be as long as `codes`.
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) {
    let t = &tables().ulaw;
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = t[usize::from(c)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // Silence codes of G.711: 0xd5 (A-law), 0xff (µ-law).
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    }

    #[test]
    fn decode_encode_is_identity_on_codes() {
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c);
            let u = linear_to_ulaw(ulaw_to_linear(c));
            // µ-law has two zero codes (0x7f and 0xff): both decode to 0.
            if c == 0x7f {
                assert_eq!(u, 0xff);
            } else {
                assert_eq!(u, c);
            }
        }
    }
}
