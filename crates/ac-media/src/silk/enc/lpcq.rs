//! The decoder's view of the quantized LPC: NLSF path -> Q15 NLSFs (stage sum + stabilizer)
//! -> interpolation -> Q12 prediction coefficients, in the decoder's fixed-point arithmetic
//! (SDK `NLSF_MSVQ_decode`, `NLSF_stabilize`, `interpolate`, `NLSF2A`, `NLSF2A_stable`) so
//! that the quantizer filters with exactly the coefficients the decoder will use.

use crate::silk::tables_nlsf::NlsfCodebook;

/// Q15 NLSFs of a codebook path after the decoder's stabilization.
pub(crate) fn nlsf_q15(cb: &NlsfCodebook, path: &[u8]) -> [i32; 16] {
    let d = cb.order;
    let mut v = [0i32; 16];
    for (s, stage) in cb.stages.iter().enumerate() {
        let idx = usize::from(path[s]).min(stage.n_vectors - 1);
        for i in 0..d {
            v[i] += i32::from(stage.cb_q15[idx * d + i]);
        }
    }
    stabilize(&mut v[..d], cb.ndelta_min_q15);
    v
}

fn stabilize(x: &mut [i32], dmin: &[i32]) {
    let l = x.len();
    for _ in 0..20 {
        let mut min_diff = x[0] - dmin[0];
        let mut idx = 0;
        for i in 1..l {
            let dd = x[i] - (x[i - 1] + dmin[i]);
            if dd < min_diff {
                min_diff = dd;
                idx = i;
            }
        }
        let dd = (1 << 15) - (x[l - 1] + dmin[l]);
        if dd < min_diff {
            min_diff = dd;
            idx = l;
        }
        if min_diff >= 0 {
            return;
        }
        if idx == 0 {
            x[0] = dmin[0];
        } else if idx == l {
            x[l - 1] = (1 << 15) - dmin[l];
        } else {
            let mut min_c: i32 = dmin[..idx].iter().sum();
            min_c += dmin[idx] >> 1;
            let mut max_c: i32 = 1 << 15;
            for k in (idx + 1..=l).rev() {
                max_c -= dmin[k];
            }
            max_c -= dmin[idx] - (dmin[idx] >> 1);
            let s = x[idx - 1] + x[idx];
            let c = ((s >> 1) + (s & 1)).clamp(min_c.min(max_c), max_c.max(min_c));
            x[idx - 1] = c - (dmin[idx] >> 1);
            x[idx] = x[idx - 1] + dmin[idx];
        }
    }
    x.sort_unstable();
    x[0] = x[0].max(dmin[0]);
    for i in 1..l {
        x[i] = x[i].max(x[i - 1] + dmin[i]);
    }
    x[l - 1] = x[l - 1].min((1 << 15) - dmin[l]);
    for i in (0..l - 1).rev() {
        x[i] = x[i].min(x[i + 1] - dmin[i + 1]);
    }
}

/// Interpolation of Q15 NLSF vectors with a Q2 factor (the decoder's rule).
pub(crate) fn interpolate(x0: &[i32], x1: &[i32], ifact_q2: i32, out: &mut [i32]) {
    for i in 0..out.len() {
        out[i] = x0[i] + (((x1[i] - x0[i]) * ifact_q2) >> 2);
    }
}

fn find_poly(out: &mut [i64; 9], c_lsf: &[i64], dd: usize) {
    out[0] = 1 << 20;
    out[1] = -c_lsf[0];
    for k in 1..dd {
        let f = c_lsf[2 * k];
        out[k + 1] = (out[k - 1] << 1) - rshift_round64(f * out[k], 20);
        for n in (2..=k).rev() {
            out[n] += out[n - 2] - rshift_round64(f * out[n - 1], 20);
        }
        out[1] -= f;
    }
}

fn rshift_round64(a: i64, s: u32) -> i64 {
    ((a >> (s - 1)) + 1) >> 1
}

/// Q15 NLSFs to Q12 prediction coefficients (A(z) = 1 - sum a_k z^-k) in the decoder's
/// fixed-point arithmetic (cosine table with linear interpolation, Q20 polynomials,
/// coefficient limiting), then bandwidth-expanded until stable.
pub(crate) fn nlsf2a_q12(nlsf: &[i32]) -> [i16; 16] {
    let d = nlsf.len();
    let tab = &crate::silk::tables::LSFCOSTAB_FIX_Q12;
    let mut cos_q20 = [0i64; 16];
    for k in 0..d {
        let n = nlsf[k].clamp(0, 32767);
        let fi = (n >> 8) as usize;
        let ff = i64::from(n - ((fi as i32) << 8));
        let cv = i64::from(tab[fi]);
        let delta = i64::from(tab[fi + 1]) - cv;
        cos_q20[k] = (cv << 8) + delta * ff;
    }
    let dd = d / 2;
    let mut p = [0i64; 9];
    let mut q = [0i64; 9];
    let even: Vec<i64> = cos_q20[..d].to_vec();
    let odd: Vec<i64> = cos_q20[1..d].iter().copied().chain([0]).collect();
    find_poly(&mut p, &even, dd);
    find_poly(&mut q, &odd, dd);
    let mut a32 = [0i64; 16];
    for k in 0..dd {
        let pt = p[k + 1] + p[k];
        let qt = q[k + 1] - q[k];
        a32[k] = -rshift_round64(pt + qt, 9);
        a32[d - k - 1] = rshift_round64(qt - pt, 9);
    }
    for _ in 0..10 {
        let mut maxabs = 0i64;
        let mut idx = 0usize;
        for k in 0..d {
            if a32[k].abs() > maxabs {
                maxabs = a32[k].abs();
                idx = k;
            }
        }
        if maxabs <= 32767 {
            break;
        }
        let maxabs = maxabs.min(98369);
        let sc_q16 = 65470 - ((65470 >> 2) * (maxabs - 32767)) / ((maxabs * (idx as i64 + 1)) >> 2);
        // bwexpander_32 with SMULWW
        let smulww = |a: i64, b: i64| (a * b) >> 16;
        let mut chirp = sc_q16;
        for k in 0..d - 1 {
            a32[k] = smulww(a32[k], chirp);
            chirp = smulww(sc_q16, chirp);
        }
        a32[d - 1] = smulww(a32[d - 1], chirp);
    }
    let mut out = [0i16; 16];
    for k in 0..d {
        out[k] = a32[k].clamp(-32768, 32767) as i16;
    }
    // NLSF2A_stable: integer bandwidth expansion until the reflection coefficients are
    // inside the stability limit.
    for i in 0..20i32 {
        let mut af = [0f32; 16];
        for k in 0..d {
            af[k] = f32::from(out[k]) / 4096.0;
        }
        if super::dsp::is_stable(&af[..d]) {
            return out;
        }
        let mut chirp = 65536 - (10 + i) * i;
        let cm1 = chirp - 65536;
        for k in 0..d - 1 {
            out[k] = rshift_round32(chirp * i32::from(out[k]), 16) as i16;
            chirp += rshift_round32(chirp * cm1, 16);
        }
        out[d - 1] = rshift_round32(chirp * i32::from(out[d - 1]), 16) as i16;
    }
    [0; 16]
}

fn rshift_round32(a: i32, s: u32) -> i32 {
    ((a >> (s - 1)) + 1) >> 1
}
