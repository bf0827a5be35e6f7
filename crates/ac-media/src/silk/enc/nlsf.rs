//! NLSF quantization (draft-vos-silk-02 3.2.4): Laroia weights, multi-stage vector
//! quantization with an M-best tree search whose cost is weighted squared error plus
//! `mu` times the codebook rate, and a fluctuation-reduction choice among the survivors.

use crate::silk::tables_nlsf::NlsfCodebook;

const MAX_SURVIVORS: usize = 16;
const SURV_MAX_REL_RD: f32 = 0.1;
const MIN_NDELTA: f32 = 1e-4;

/// Laroia low-complexity NLSF weights.
pub(crate) fn weights_laroia(w: &mut [f32], x: &[f32]) {
    let d = x.len();
    let mut t2 = 1.0 / (x[1] - x[0]).max(MIN_NDELTA);
    w[0] = 1.0 / x[0].max(MIN_NDELTA) + t2;
    let mut k = 1;
    while k + 1 < d {
        let t1 = 1.0 / (x[k + 1] - x[k]).max(MIN_NDELTA);
        w[k] = t1 + t2;
        t2 = if k + 2 < d {
            1.0 / (x[k + 2] - x[k + 1]).max(MIN_NDELTA)
        } else {
            t2
        };
        w[k + 1] = t1 + t2;
        k += 2;
    }
    w[d - 1] = 1.0 / (1.0 - x[d - 1]).max(MIN_NDELTA) + t2;
}

/// Sum of the stage vectors of `path` (the unstabilized quantized NLSFs, normalized).
pub(crate) fn msvq_decode_f32(cb: &NlsfCodebook, path: &[u8], out: &mut [f32]) {
    let d = cb.order;
    for v in out.iter_mut().take(d) {
        *v = 0.0;
    }
    for (s, stage) in cb.stages.iter().enumerate() {
        let idx = usize::from(path[s]).min(stage.n_vectors - 1);
        for i in 0..d {
            out[i] += f32::from(stage.cb_q15[idx * d + i]) / 32768.0;
        }
    }
}

/// Quantizes `nlsf` (normalized 0..1, sorted) and returns the codebook path.
pub(crate) fn msvq_encode(
    cb: &NlsfCodebook,
    nlsf: &[f32],
    prev_q: &[f32],
    w: &[f32],
    mu: f32,
    mu_fluc_red: f32,
    survivors: usize,
    first_frame: bool,
) -> [u8; 10] {
    let d = cb.order;
    let survivors = survivors.clamp(1, MAX_SURVIVORS);
    let n_stages = cb.stages.len().min(10);
    let mut res = vec![0f32; MAX_SURVIVORS * d];
    res[..d].copy_from_slice(&nlsf[..d]);
    let mut rate = [0f32; MAX_SURVIVORS];
    let mut paths = [[0u8; 10]; MAX_SURVIVORS];
    let mut prev_surv = 1usize;
    let mut rd: Vec<(f32, usize)> = Vec::with_capacity(MAX_SURVIVORS * 128);
    let mut final_rd = [0f32; MAX_SURVIVORS];
    let min_surv = survivors / 2;
    for (s, stage) in cb.stages.iter().enumerate().take(n_stages) {
        let nv = stage.n_vectors;
        let mut cur = survivors.min(prev_surv * nv);
        rd.clear();
        for n in 0..prev_surv {
            let inp = &res[n * d..(n + 1) * d];
            for i in 0..nv {
                let cbv = &stage.cb_q15[i * d..(i + 1) * d];
                let mut e = 0f32;
                for j in 0..d {
                    let diff = inp[j] - f32::from(cbv[j]) / 32768.0;
                    e += w[j] * diff * diff;
                }
                e += mu * (rate[n] + f32::from(stage.rates_q5[i]) / 32.0);
                rd.push((e, n * nv + i));
            }
        }
        rd.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(core::cmp::Ordering::Equal));
        let thr = (1.0 + survivors as f32 * SURV_MAX_REL_RD) * rd[0].0;
        while cur > 1 && rd[cur - 1].0 > thr && cur > min_surv {
            cur -= 1;
        }
        let mut new_res = vec![0f32; MAX_SURVIVORS * d];
        let mut new_rate = [0f32; MAX_SURVIVORS];
        let mut new_paths = [[0u8; 10]; MAX_SURVIVORS];
        for k in 0..cur {
            let (e, code) = rd[k];
            let input = code / nv;
            let ci = code % nv;
            let cbv = &stage.cb_q15[ci * d..(ci + 1) * d];
            for j in 0..d {
                new_res[k * d + j] = res[input * d + j] - f32::from(cbv[j]) / 32768.0;
            }
            new_rate[k] = rate[input] + f32::from(stage.rates_q5[ci]) / 32.0;
            new_paths[k] = paths[input];
            new_paths[k][s] = ci as u8;
            final_rd[k] = e;
        }
        res = new_res;
        rate = new_rate;
        paths = new_paths;
        prev_surv = cur;
    }
    let mut best = 0usize;
    if !first_frame {
        let mut best_rd = f32::MAX;
        let mut q = [0f32; 16];
        for s in 0..prev_surv {
            msvq_decode_f32(cb, &paths[s], &mut q);
            let mut wsse = 0f32;
            for i in 0..d {
                let se = q[i] - prev_q[i];
                wsse += w[i] * se * se;
            }
            let v = final_rd[s] + wsse * mu_fluc_red;
            if v < best_rd {
                best_rd = v;
                best = s;
            }
        }
    }
    paths[best]
}
