//! Open-loop pitch analysis (draft-vos-silk-02 3.2.2 "Pitch Analysis"): a three-stage search
//! on the LPC residual of the last 40 ms, at 4 kHz (coarse lags from normalized
//! correlations), 8 kHz (refined lags with the per-subframe contour codebook of stage 2) and
//! the internal rate (stage 3 contour codebook, 12/16 kHz only). Returns the voicing decision,
//! the four subframe lags, and the lag/contour indices the bitstream carries.

use super::dsp::{energy, inner};
use crate::silk::tables::{CB_LAGS_STAGE2, CB_LAGS_STAGE3};

const FRAME_MS: usize = 40;
const MIN_LAG_MS: usize = 2;
const MAX_LAG_MS: usize = 18;
const NB_SUBFR: usize = 4;
const STAGE3_LAGS: usize = 5;
const NB_CBKS_STAGE2: usize = 3;
const NB_CBKS_STAGE2_EXT: usize = 11;
const NB_CBKS_STAGE3: usize = 34;
const SHORTLAG_BIAS: f32 = 0.2;
const PREVLAG_BIAS: f32 = 0.2;
const FLATCONTOUR_BIAS: f32 = 0.05;
const EPS: f64 = 1.192_092_9e-7;

/// Result of the pitch search.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pitch {
    pub voiced: bool,
    pub lags: [i32; 4],
    pub lag_index: i32,
    pub contour_index: i32,
    /// Normalized correlation of the chosen lag, 0..1.
    pub ltp_corr: f32,
}

/// Halves the sample rate with a [1 2 1]/4 low-pass (our own anti-alias filter; the SDK uses
/// all-pass based decimators).
fn decimate2(input: &[f32], out: &mut [f32]) {
    let n = out.len();
    for k in 0..n {
        let c = input[2 * k];
        let prev = if k == 0 { c } else { input[2 * k - 1] };
        let next = input.get(2 * k + 1).copied().unwrap_or(c);
        out[k] = 0.25 * prev + 0.5 * c + 0.25 * next;
    }
}

/// `signal`: residual of the last 40 ms at `fs_khz` (8, 12 or 16); `prev_lag` 0 if the previous
/// frame was unvoiced; `ltp_corr_prev` the previous normalized correlation.
pub(crate) fn analyse(
    signal: &[f32],
    fs_khz: usize,
    prev_lag: i32,
    ltp_corr_prev: f32,
    search_thres1: f32,
    search_thres2: f32,
) -> Pitch {
    let unvoiced = Pitch::default();
    let frame_length = FRAME_MS * fs_khz;
    if signal.len() < frame_length {
        return unvoiced;
    }
    let frame_8 = FRAME_MS * 8;
    let frame_4 = FRAME_MS * 4;
    let sf_length = frame_length / 8;
    let sf_8 = frame_8 / 8;
    let min_lag = (MIN_LAG_MS * fs_khz) as i32;
    let max_lag = (MAX_LAG_MS * fs_khz) as i32;
    let min_lag_4 = MIN_LAG_MS * 4;
    let max_lag_4 = MAX_LAG_MS * 4;
    let min_lag_8 = MIN_LAG_MS * 8;
    let max_lag_8 = MAX_LAG_MS * 8;

    // Resample to 8 kHz.
    let mut sig8 = vec![0f32; frame_8];
    match fs_khz {
        8 => sig8.copy_from_slice(&signal[..frame_8]),
        16 => decimate2(&signal[..frame_length], &mut sig8),
        _ => {
            // 12 -> 8 kHz: linear interpolation after a [1 2 1]/4 low-pass.
            for (k, o) in sig8.iter_mut().enumerate() {
                let pos = k as f32 * 1.5;
                let i = pos as usize;
                let f = pos - i as f32;
                let at = |j: usize| {
                    let j = j.min(frame_length - 1);
                    let p = if j == 0 { signal[0] } else { signal[j - 1] };
                    let n = signal[(j + 1).min(frame_length - 1)];
                    0.25 * p + 0.5 * signal[j] + 0.25 * n
                };
                *o = (1.0 - f) * at(i) + f * at(i + 1);
            }
        }
    }
    let mut sig4 = vec![0f32; frame_4];
    decimate2(&sig8, &mut sig4);
    for i in (1..frame_4).rev() {
        sig4[i] += sig4[i - 1];
    }

    // Stage 1 at 4 kHz.
    let mut c0 = vec![0f32; max_lag_4 + 5];
    let mut t = frame_4 / 2;
    for _ in 0..2 {
        let target = &sig4[t..t + sf_8];
        for d in min_lag_4..=max_lag_4 {
            let basis = &sig4[t - d..t - d + sf_8];
            let cc = inner(target, basis);
            let norm = energy(basis) + sf_8 as f64 * 4000.0;
            c0[d] += (cc / norm.sqrt()) as f32;
        }
        t += sf_8;
    }
    for d in min_lag_4..=max_lag_4 {
        c0[d] -= c0[d] * d as f32 / 4096.0;
    }
    // Sort candidates.
    let complexity = 2usize;
    let mut n_srch = 4 + 2 * complexity;
    let mut order: Vec<usize> = (min_lag_4..=max_lag_4).collect();
    order.sort_by(|&a, &b| {
        c0[b]
            .partial_cmp(&c0[a])
            .unwrap_or(core::cmp::Ordering::Equal)
    });
    order.truncate(n_srch);
    let cmax = c0[order[0]];
    let mut e = 1000.0f64;
    for &v in &sig4[frame_4 / 2..] {
        e += f64::from(v) * f64::from(v);
    }
    if e / 16.0 > f64::from(cmax) * f64::from(cmax) || !cmax.is_finite() {
        return unvoiced;
    }
    let thr = search_thres1 * cmax;
    let mut d_srch = Vec::with_capacity(n_srch);
    for &d in order.iter().take(n_srch) {
        if c0[d] > thr {
            d_srch.push(d * 2);
        } else {
            break;
        }
    }
    n_srch = d_srch.len();
    if n_srch == 0 {
        return unvoiced;
    }
    let mut d_comp = vec![0i32; max_lag_8 + 6];
    for &d in &d_srch {
        d_comp[d] = 1;
    }
    for i in (min_lag_8..=max_lag_8 + 3).rev() {
        d_comp[i] += d_comp[i - 1] + d_comp[i - 2];
    }
    let mut d_srch2 = Vec::new();
    for i in min_lag_8..=max_lag_8 {
        if d_comp[i + 1] > 0 {
            d_srch2.push(i);
        }
    }
    for i in (min_lag_8..=max_lag_8 + 3).rev() {
        d_comp[i] += d_comp[i - 1] + d_comp[i - 2] + d_comp[i - 3];
    }
    let mut lags_comp = Vec::new();
    for i in min_lag_8..max_lag_8 + 4 {
        if d_comp[i] > 0 {
            lags_comp.push(i - 2);
        }
    }

    // Stage 2 at 8 kHz.
    let mut c = vec![[0f32; NB_SUBFR]; max_lag_8 + 5];
    let mut t = frame_4;
    for k in 0..NB_SUBFR {
        let target = &sig8[t..t + sf_8];
        let e_t = energy(target);
        for &d in &lags_comp {
            if d > t {
                continue;
            }
            let basis = &sig8[t - d..t - d + sf_8];
            let cc = inner(basis, target);
            let eb = energy(basis);
            c[d][k] = if cc > 0.0 {
                (cc * cc / (eb * e_t + EPS)) as f32
            } else {
                0.0
            };
        }
        t += sf_8;
    }
    let mut cc_max = 0f32;
    let mut cc_max_b = -1000f32;
    let mut cb_imax = 0usize;
    let mut lag: i32 = -1;
    let prev_lag_8 = if prev_lag > 0 {
        match fs_khz {
            12 => (prev_lag * 2) / 3,
            16 => prev_lag >> 1,
            _ => prev_lag,
        }
    } else {
        0
    };
    let prev_lag_log2 = if prev_lag_8 > 0 {
        (prev_lag_8 as f32).log2()
    } else {
        0.0
    };
    let nb_cbks2 = if fs_khz == 8 {
        NB_CBKS_STAGE2_EXT
    } else {
        NB_CBKS_STAGE2
    };
    for &d in &d_srch2 {
        let mut best = -1000f32;
        let mut best_j = 0;
        for j in 0..nb_cbks2 {
            let mut s = 0f32;
            for (i, row) in CB_LAGS_STAGE2.iter().enumerate() {
                let idx = (d as i32 + i32::from(row[j])) as usize;
                s += c.get(idx).map_or(0.0, |v| v[i]);
            }
            if s > best {
                best = s;
                best_j = j;
            }
        }
        let cc_new = best.max(0.0);
        let mut cc_new_b = cc_new;
        let lag_log2 = (d as f32).log2();
        cc_new_b -= SHORTLAG_BIAS * NB_SUBFR as f32 * lag_log2;
        if prev_lag_8 > 0 {
            let mut dl = lag_log2 - prev_lag_log2;
            dl *= dl;
            cc_new_b -= PREVLAG_BIAS * NB_SUBFR as f32 * ltp_corr_prev * dl / (dl + 0.5);
        }
        if cc_new_b > cc_max_b
            && cc_new > NB_SUBFR as f32 * search_thres2 * search_thres2
            && i32::from(CB_LAGS_STAGE2[0][best_j]) <= min_lag_8 as i32
        {
            cc_max_b = cc_new_b;
            cc_max = cc_new;
            lag = d as i32;
            cb_imax = best_j;
        }
    }
    if lag == -1 {
        return unvoiced;
    }
    let ltp_corr = (cc_max / NB_SUBFR as f32).max(0.0).sqrt().min(1.0);
    if fs_khz == 8 {
        let mut lags = [0i32; 4];
        for (k, l) in lags.iter_mut().enumerate() {
            *l = lag + i32::from(CB_LAGS_STAGE2[k][cb_imax]);
        }
        return Pitch {
            voiced: true,
            lags,
            lag_index: lag - min_lag,
            contour_index: cb_imax as i32,
            ltp_corr,
        };
    }

    // Stage 3 at the internal rate.
    let lag_full = match fs_khz {
        12 => (lag * 3 + 1) >> 1,
        _ => lag << 1,
    }
    .clamp(min_lag, max_lag);
    let start_lag = (lag_full - 2).max(min_lag);
    let end_lag = (lag_full + 2).min(max_lag);
    let contour_bias = FLATCONTOUR_BIAS / lag_full as f32;
    let mut best = -1000f32;
    let mut lag_new = lag_full;
    let mut cb_best = 0usize;
    let mid = 4 * sf_length;
    for d in start_lag..=end_lag {
        for j in 0..NB_CBKS_STAGE3 {
            let mut cross = 0f64;
            let mut en = EPS;
            let mut ok = true;
            for k in 0..NB_SUBFR {
                let t0 = mid + k * sf_length;
                let l = d + i32::from(CB_LAGS_STAGE3[k][j]);
                if l <= 0 || l as usize > t0 {
                    ok = false;
                    break;
                }
                let b0 = t0 - l as usize;
                let target = &signal[t0..t0 + sf_length];
                let basis = &signal[b0..b0 + sf_length];
                cross += inner(target, basis);
                en += energy(basis) + 1e-3;
            }
            if !ok {
                continue;
            }
            let mut v = if cross > 0.0 {
                (cross * cross / en) as f32
            } else {
                0.0
            };
            let diff = j as f32 - (NB_CBKS_STAGE3 / 2) as f32;
            v *= 1.0 - contour_bias * diff * diff;
            if v > best && d + i32::from(CB_LAGS_STAGE3[0][j]) <= max_lag {
                best = v;
                lag_new = d;
                cb_best = j;
            }
        }
    }
    let _ = STAGE3_LAGS;
    let mut lags = [0i32; 4];
    for (k, l) in lags.iter_mut().enumerate() {
        *l = lag_new + i32::from(CB_LAGS_STAGE3[k][cb_best]);
    }
    Pitch {
        voiced: true,
        lags,
        lag_index: lag_new - min_lag,
        contour_index: cb_best as i32,
        ltp_corr,
    }
}
