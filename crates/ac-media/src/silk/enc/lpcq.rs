//! The decoder's view of the quantized LPC: NLSF path -> Q15 NLSFs (stage sum + stabilizer)
//! -> interpolation -> Q12 prediction coefficients. PLACEHOLDER until the decoder's exact
//! fixed-point functions are merged.

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

/// Q15 NLSFs to Q12 prediction coefficients (A(z) = 1 - sum a_k z^-k), made stable.
pub(crate) fn nlsf2a_q12(nlsf: &[i32]) -> [i16; 16] {
    let d = nlsf.len();
    let half = d / 2;
    // P(z) and Q(z) products of second-order sections.
    let mut p = vec![1.0f64];
    let mut q = vec![1.0f64];
    for k in 0..half {
        let cp = -2.0 * (core::f64::consts::PI * f64::from(nlsf[2 * k]) / 32768.0).cos();
        let cq = -2.0 * (core::f64::consts::PI * f64::from(nlsf[2 * k + 1]) / 32768.0).cos();
        p = mul2(&p, cp);
        q = mul2(&q, cq);
    }
    let mut a = [0f64; 16];
    for k in 0..d {
        let pk = p[k + 1] + p[k];
        let qk = q[k + 1] - q[k];
        a[k] = -0.5 * (pk + qk);
    }
    let mut out = [0i16; 16];
    let mut chirp = 1.0f64;
    for _ in 0..16 {
        let mut af = [0f32; 16];
        let mut c = chirp;
        for k in 0..d {
            let v = (a[k] * c * 4096.0).round().clamp(-32768.0, 32767.0);
            out[k] = v as i16;
            af[k] = f32::from(out[k]) / 4096.0;
            c *= chirp;
        }
        if super::dsp::is_stable(&af[..d]) {
            break;
        }
        chirp *= 0.97;
    }
    out
}

fn mul2(p: &[f64], c: f64) -> Vec<f64> {
    let mut r = vec![0.0; p.len() + 2];
    for (i, &v) in p.iter().enumerate() {
        r[i] += v;
        r[i + 1] += c * v;
        r[i + 2] += v;
    }
    r
}
