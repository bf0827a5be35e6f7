//! The decoder's view of the quantized LPC: NLSF path -> Q15 NLSFs (stage sum + the
//! decoder's stabilizer) -> interpolation -> Q12 prediction coefficients through the
//! decoder's own fixed-point `nlsf2a_stable`, so that the quantizer filters with exactly the
//! coefficients the decoder will use.

use crate::silk::dec::{nlsf2a_stable, nlsf_stabilize};
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
    nlsf_stabilize(&mut v[..d], cb.ndelta_min_q15);
    v
}

/// Interpolation of Q15 NLSF vectors with a Q2 factor (the decoder's rule).
pub(crate) fn interpolate(x0: &[i32], x1: &[i32], ifact_q2: i32, out: &mut [i32]) {
    for i in 0..out.len() {
        out[i] = x0[i] + (((x1[i] - x0[i]) * ifact_q2) >> 2);
    }
}

/// Q15 NLSFs to stable Q12 prediction coefficients (A(z) = 1 - sum a_k z^-k).
pub(crate) fn nlsf2a_q12(nlsf: &[i32]) -> [i16; 16] {
    let mut a = [0i16; 16];
    nlsf2a_stable(&mut a[..nlsf.len()], nlsf);
    a
}
