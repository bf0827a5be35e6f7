//! Gain quantization (draft-vos-silk-02 3.2.5 / SDK `gain_quant`): 64 levels uniform on a
//! log scale from 6 to 86 dB, first gain of a packet absolute, the rest delta-coded with
//! hysteresis, and the exact dequantization the decoder performs.

const MIN_DELTA: i32 = -4;
const MAX_DELTA: i32 = 40;
const N_LEVELS: i32 = 64;
const OFFSET: i32 = (6 * 128) / 6 + 16 * 128;
const SCALE_Q16: i32 = (65536 * (N_LEVELS - 1)) / (((86 - 6) * 128) / 6);
const INV_SCALE_Q16: i32 = (65536 * (((86 - 6) * 128) / 6)) / (N_LEVELS - 1);

fn smulwb(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b as i16)) >> 16) as i32
}

/// Approximation of 128 * log2(x) (x > 0).
pub(crate) fn lin2log(x: i32) -> i32 {
    let x = x.max(1);
    let lz = x.leading_zeros() as i32;
    let rot = (24 - lz).rem_euclid(32) as u32;
    let frac = ((x as u32).rotate_right(rot) & 0x7f) as i32;
    ((31 - lz) << 7) + (frac + smulwb(frac * (128 - frac), 179))
}

/// Approximation of 2^(x/128).
pub(crate) fn log2lin(x: i32) -> i32 {
    if x < 0 {
        return 0;
    }
    if x >= 31 << 7 {
        return i32::MAX;
    }
    let mut out = 1i32 << (x >> 7);
    let frac = x & 0x7f;
    let poly = frac + smulwb(frac * (128 - frac), -174);
    if x < 2048 {
        out += (out * poly) >> 7;
    } else {
        out += (out >> 7) * poly;
    }
    out
}

fn dequant_level(prev: i32) -> i32 {
    log2lin((smulwb(INV_SCALE_Q16, prev) + OFFSET).min(3967))
}

/// Quantizes `gain_q16` in place (to the dequantized values) and returns the coded indices.
pub(crate) fn quantize(gain_q16: &mut [i32; 4], prev_ind: &mut i32, conditional: bool) -> [u8; 4] {
    let mut ind = [0u8; 4];
    for k in 0..4 {
        let mut i = smulwb(SCALE_Q16, lin2log(gain_q16[k]) - OFFSET);
        if i < *prev_ind {
            i += 1;
        }
        if k == 0 && !conditional {
            i = i.clamp(0, N_LEVELS - 1);
            i = i.max(*prev_ind + MIN_DELTA);
            *prev_ind = i;
            ind[k] = i as u8;
        } else {
            let d = (i - *prev_ind).clamp(MIN_DELTA, MAX_DELTA);
            *prev_ind += d;
            ind[k] = (d - MIN_DELTA) as u8;
        }
        gain_q16[k] = dequant_level(*prev_ind);
    }
    ind
}

/// Dequantizes coded indices (the decoder's rule).
pub(crate) fn dequantize(ind: &[u8; 4], prev_ind: &mut i32, conditional: bool) -> [i32; 4] {
    let mut g = [0i32; 4];
    for k in 0..4 {
        if k == 0 && !conditional {
            *prev_ind = i32::from(ind[k]);
        } else {
            *prev_ind += i32::from(ind[k]) + MIN_DELTA;
        }
        g[k] = dequant_level(*prev_ind);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_matches_dequantize() {
        let mut prev_q = 10;
        let mut prev_d = 10;
        for (n, base) in [1_000i32, 65_536 * 3, 65_536 * 300, 65_536 * 20_000]
            .iter()
            .enumerate()
        {
            let mut g = [*base, base / 2 + 1, base.saturating_mul(2), *base];
            let ind = quantize(&mut g, &mut prev_q, n % 2 == 1);
            let d = dequantize(&ind, &mut prev_d, n % 2 == 1);
            assert_eq!(g, d);
            assert_eq!(prev_q, prev_d);
        }
        assert!((lin2log(1 << 20) - 20 * 128).abs() <= 1);
        assert!((log2lin(20 * 128) - (1 << 20)).abs() <= 1);
    }
}
