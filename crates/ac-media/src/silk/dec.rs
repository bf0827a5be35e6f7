//! The SILK decoder (draft-vos-silk-02 section 4; the fixed-point arithmetic of the SILK
//! SDK 1.0.9 decoder, so the output matches the SDK's sample for sample):
//! gains dequantisation, NLSF MSVQ decoding and stabilisation, NLSF -> LPC with
//! interpolation and the stability check, excitation with the pseudo-random sign dither,
//! LTP (pitch) synthesis with re-whitening of the past output, LPC synthesis, packet loss
//! concealment (pitch repetition with decaying gains, random excitation, glueing with the
//! next good frame), comfort noise during loss, the output high-pass filter, and in-band
//! FEC (decoding the LBRR copy of a lost packet carried by the next packets).
//!
//! The decoder works at the bitstream's internal rate (8, 12, 16 or 24 kHz, 20 ms frames);
//! a packet of another rate switches it (the SDK does the same). Output resampling to
//! other rates is not part of this module.

#![allow(clippy::needless_range_loop, clippy::explicit_counter_loop)]

use super::indices::{
    nlsf_codebook, parse_packet, FrameIndices, Packet, LTP_ORDER, MAX_FRAMES_PER_PACKET, NB_SUBFR,
    SIG_TYPE_UNVOICED, SIG_TYPE_VOICED, TERM_LAST_FRAME, TERM_LBRR_VER1, TERM_LBRR_VER2,
};
use super::range::MAX_ARITHM_BYTES;
use super::tables::*;
use super::SilkError;

const MAX_LPC_ORDER: usize = 16;
const MAX_FRAME_LENGTH: usize = 480;
const BWE_AFTER_LOSS_Q16: i32 = 63570;
const NO_LBRR_THRES: u32 = 10;
// PLC constants (SDK SKP_Silk_PLC.h).
const BWE_COEF_Q16: i32 = 64880;
const V_PITCH_GAIN_START_MIN_Q14: i32 = 11469;
const V_PITCH_GAIN_START_MAX_Q14: i32 = 15565;
const MAX_PITCH_LAG_MS: i32 = 18;
const RAND_BUF_SIZE: usize = 128;
const RAND_BUF_MASK: i32 = (RAND_BUF_SIZE - 1) as i32;
const LOG2_INV_LPC_GAIN_HIGH_THRES: i32 = 3;
const LOG2_INV_LPC_GAIN_LOW_THRES: i32 = 8;
const PITCH_DRIFT_FAC_Q16: i32 = 655;
const HARM_ATT_Q15: [i32; 2] = [32440, 31130];
const PLC_RAND_ATTENUATE_V_Q15: [i32; 2] = [31130, 26214];
const PLC_RAND_ATTENUATE_UV_Q15: [i32; 2] = [32440, 29491];
// CNG constants (SDK SKP_Silk_define.h).
const CNG_BUF_MASK_MAX: usize = 255;
const CNG_GAIN_SMTH_Q16: i32 = 4634;
const CNG_NLSF_SMTH_Q16: i32 = 16348;

// ---- Fixed-point primitives with the SDK macros' semantics (two's complement wrap). ----

#[inline]
fn smulwb(a: i32, b: i32) -> i32 {
    let b = i32::from(b as i16);
    ((a >> 16).wrapping_mul(b)).wrapping_add(((a & 0xFFFF).wrapping_mul(b)) >> 16)
}
#[inline]
fn smlawb(a: i32, b: i32, c: i32) -> i32 {
    a.wrapping_add(smulwb(b, c))
}
#[inline]
fn smulbb(a: i32, b: i32) -> i32 {
    i32::from(a as i16).wrapping_mul(i32::from(b as i16))
}
#[inline]
fn smlabb(a: i32, b: i32, c: i32) -> i32 {
    a.wrapping_add(smulbb(b, c))
}
#[inline]
fn rshift_round(a: i32, shift: u32) -> i32 {
    if shift == 1 {
        (a >> 1).wrapping_add(a & 1)
    } else {
        ((a >> (shift - 1)).wrapping_add(1)) >> 1
    }
}
#[inline]
fn rshift_round64(a: i64, shift: u32) -> i64 {
    if shift == 1 {
        (a >> 1) + (a & 1)
    } else {
        ((a >> (shift - 1)) + 1) >> 1
    }
}
#[inline]
fn smulww(a: i32, b: i32) -> i32 {
    smulwb(a, b).wrapping_add(a.wrapping_mul(rshift_round(b, 16)))
}
#[inline]
fn smlaww(a: i32, b: i32, c: i32) -> i32 {
    smlawb(a, b, c).wrapping_add(b.wrapping_mul(rshift_round(c, 16)))
}
#[inline]
fn smmul(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b)) >> 32) as i32
}
#[inline]
fn sat16(a: i32) -> i16 {
    a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}
#[inline]
fn rand(seed: i32) -> i32 {
    907_633_515i32.wrapping_add(seed.wrapping_mul(196_314_165))
}
#[inline]
fn clz32(a: i32) -> i32 {
    (a as u32).leading_zeros() as i32
}
#[inline]
fn sabs(a: i32) -> i32 {
    if a > 0 {
        a
    } else {
        a.wrapping_neg()
    }
}
#[inline]
fn add_sat32(a: i32, b: i32) -> i32 {
    a.saturating_add(b)
}
#[inline]
fn lshift_sat32(a: i32, shift: u32) -> i32 {
    let lo = i32::MIN >> shift;
    let hi = i32::MAX >> shift;
    a.clamp(lo, hi) << shift
}
#[inline]
fn div32(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}

/// `(a32 << qres) / b32` approximated as the SDK's `SKP_DIV32_varQ`.
fn div32_varq(a32: i32, b32: i32, qres: i32) -> i32 {
    if b32 == 0 {
        return 0;
    }
    let a_headrm = clz32(sabs(a32)) - 1;
    let mut a32_nrm = a32.wrapping_shl(a_headrm.max(0) as u32);
    let b_headrm = clz32(sabs(b32)) - 1;
    let b32_nrm = b32.wrapping_shl(b_headrm.max(0) as u32);
    let b32_inv = div32(i32::MAX >> 2, b32_nrm >> 16);
    let mut result = smulwb(a32_nrm, b32_inv);
    a32_nrm = a32_nrm.wrapping_sub(smmul(b32_nrm, result).wrapping_shl(3));
    result = smlawb(result, a32_nrm, b32_inv);
    let lshift = 29 + a_headrm - b_headrm - qres;
    if lshift <= 0 {
        lshift_sat32(result, (-lshift).min(31) as u32)
    } else if lshift < 32 {
        result >> lshift
    } else {
        0
    }
}

/// `(1 << qres) / b32` approximated as the SDK's `SKP_INVERSE32_varQ`.
fn inverse32_varq(b32: i32, qres: i32) -> i32 {
    if b32 == 0 {
        return i32::MAX;
    }
    let b_headrm = clz32(sabs(b32)) - 1;
    let b32_nrm = b32.wrapping_shl(b_headrm.max(0) as u32);
    let b32_inv = div32(i32::MAX >> 2, b32_nrm >> 16);
    let mut result = b32_inv.wrapping_shl(16);
    let err_q32 = smulwb(b32_nrm, b32_inv).wrapping_neg().wrapping_shl(3);
    result = smlaww(result, err_q32, b32_inv);
    let lshift = 61 - b_headrm - qres;
    if lshift <= 0 {
        lshift_sat32(result, (-lshift).min(31) as u32)
    } else if lshift < 32 {
        result >> lshift
    } else {
        0
    }
}

fn sqrt_approx(x: i32) -> i32 {
    if x <= 0 {
        return 0;
    }
    let lz = clz32(x);
    let frac_q7 = (x as u32).rotate_right((24 - lz).rem_euclid(32) as u32) as i32 & 0x7f;
    let mut y: i32 = if lz & 1 != 0 { 32768 } else { 46214 };
    y >>= lz >> 1;
    smlawb(y, y, smulbb(213, frac_q7))
}

fn log2lin(in_log_q7: i32) -> i32 {
    if in_log_q7 < 0 {
        return 0;
    } else if in_log_q7 >= 31 << 7 {
        return i32::MAX;
    }
    let out = 1i32 << (in_log_q7 >> 7);
    let frac_q7 = in_log_q7 & 0x7F;
    let t = smlawb(frac_q7, frac_q7 * (128 - frac_q7), -174);
    if in_log_q7 < 2048 {
        out.wrapping_add(out.wrapping_mul(t) >> 7)
    } else {
        out.wrapping_add((out >> 7).wrapping_mul(t))
    }
}

/// Energy of `x` with the right shift that keeps it in 31 bits (`SKP_Silk_sum_sqr_shift`,
/// 4-byte aligned input).
fn sum_sqr_shift(x: &[i16]) -> (i32, i32) {
    let len = x.len() as isize - 1;
    let mut nrg: i32 = 0;
    let mut shft: i32 = 0;
    let mut i: isize = 0;
    let sq = |v: i16| i32::from(v).wrapping_mul(i32::from(v));
    while i < len {
        nrg = nrg.wrapping_add(sq(x[i as usize]));
        nrg = nrg.wrapping_add(sq(x[i as usize + 1]));
        i += 2;
        if nrg < 0 {
            nrg = ((nrg as u32) >> 2) as i32;
            shft = 2;
            break;
        }
    }
    while i < len {
        let tmp = sq(x[i as usize]).wrapping_add(sq(x[i as usize + 1]));
        nrg = (nrg as u32).wrapping_add((tmp as u32) >> shft) as i32;
        if nrg < 0 {
            nrg = ((nrg as u32) >> 2) as i32;
            shft += 2;
        }
        i += 2;
    }
    if i == len {
        let tmp = sq(x[i as usize]);
        nrg = (nrg as u32).wrapping_add((tmp as u32) >> shft) as i32;
    }
    if nrg as u32 & 0xC000_0000 != 0 {
        nrg = ((nrg as u32) >> 2) as i32;
        shft += 2;
    }
    (nrg, shft)
}

fn bwexpander(ar: &mut [i16], mut chirp_q16: i32) {
    let d = ar.len();
    let chirp_minus_one_q16 = chirp_q16 - 65536;
    for i in 0..d - 1 {
        ar[i] = rshift_round(chirp_q16.wrapping_mul(i32::from(ar[i])), 16) as i16;
        chirp_q16 = chirp_q16.wrapping_add(rshift_round(
            chirp_q16.wrapping_mul(chirp_minus_one_q16),
            16,
        ));
    }
    ar[d - 1] = rshift_round(chirp_q16.wrapping_mul(i32::from(ar[d - 1])), 16) as i16;
}

fn bwexpander_32(ar: &mut [i32], chirp_q16: i32) {
    let d = ar.len();
    let mut tmp = chirp_q16;
    for i in 0..d - 1 {
        ar[i] = smulww(ar[i], tmp);
        tmp = smulww(chirp_q16, tmp);
    }
    ar[d - 1] = smulww(ar[d - 1], tmp);
}

/// NLSF stabilisation (`SKP_Silk_NLSF_stabilize`): minimum spacing `ndelta_min`.
pub(crate) fn nlsf_stabilize(nlsf: &mut [i32], ndelta_min: &[i32]) {
    let l = nlsf.len();
    for _ in 0..20 {
        let mut min_diff = nlsf[0] - ndelta_min[0];
        let mut ix = 0;
        for i in 1..l {
            let diff = nlsf[i] - (nlsf[i - 1] + ndelta_min[i]);
            if diff < min_diff {
                min_diff = diff;
                ix = i;
            }
        }
        let diff = (1 << 15) - (nlsf[l - 1] + ndelta_min[l]);
        if diff < min_diff {
            min_diff = diff;
            ix = l;
        }
        if min_diff >= 0 {
            return;
        }
        if ix == 0 {
            nlsf[0] = ndelta_min[0];
        } else if ix == l {
            nlsf[l - 1] = (1 << 15) - ndelta_min[l];
        } else {
            let mut min_center: i32 = ndelta_min[..ix].iter().sum();
            min_center += ndelta_min[ix] >> 1;
            let mut max_center: i32 = 1 << 15;
            for k in (ix + 1..=l).rev() {
                max_center -= ndelta_min[k];
            }
            max_center -= ndelta_min[ix] - (ndelta_min[ix] >> 1);
            let c = rshift_round(nlsf[ix - 1] + nlsf[ix], 1);
            // SKP_LIMIT with the bounds in either order.
            let center = if min_center > max_center {
                c.clamp(max_center, min_center)
            } else {
                c.clamp(min_center, max_center)
            };
            nlsf[ix - 1] = center - (ndelta_min[ix] >> 1);
            nlsf[ix] = nlsf[ix - 1] + ndelta_min[ix];
        }
    }
    // Fall back after 20 loops.
    nlsf.sort_unstable();
    nlsf[0] = nlsf[0].max(ndelta_min[0]);
    for i in 1..l {
        nlsf[i] = nlsf[i].max(nlsf[i - 1] + ndelta_min[i]);
    }
    nlsf[l - 1] = nlsf[l - 1].min((1 << 15) - ndelta_min[l]);
    for i in (0..l - 1).rev() {
        nlsf[i] = nlsf[i].min(nlsf[i + 1] - ndelta_min[i + 1]);
    }
}

fn nlsf2a_find_poly(out: &mut [i32], c_lsf: &[i32], dd: usize) {
    out[0] = 1 << 20;
    out[1] = -c_lsf[0];
    for k in 1..dd {
        let ftmp = c_lsf[2 * k];
        out[k + 1] = out[k - 1]
            .wrapping_shl(1)
            .wrapping_sub(rshift_round64(i64::from(ftmp) * i64::from(out[k]), 20) as i32);
        for n in (2..=k).rev() {
            out[n] = out[n].wrapping_add(
                out[n - 2].wrapping_sub(
                    rshift_round64(i64::from(ftmp) * i64::from(out[n - 1]), 20) as i32,
                ),
            );
        }
        out[1] = out[1].wrapping_sub(ftmp);
    }
}

/// NLSF (Q15) -> LPC (Q12) (`SKP_Silk_NLSF2A`).
fn nlsf2a(a: &mut [i16], nlsf: &[i32]) {
    let d = nlsf.len();
    let mut cos_lsf = [0i32; MAX_LPC_ORDER];
    for k in 0..d {
        let f_int = (nlsf[k] >> 8).clamp(0, 127);
        let f_frac = nlsf[k] - (f_int << 8);
        let cos_val = LSFCOSTAB_FIX_Q12[f_int as usize];
        let delta = LSFCOSTAB_FIX_Q12[f_int as usize + 1] - cos_val;
        cos_lsf[k] = (cos_val << 8).wrapping_add(delta.wrapping_mul(f_frac));
    }
    let dd = d / 2;
    let mut p = [0i32; MAX_LPC_ORDER / 2 + 1];
    let mut q = [0i32; MAX_LPC_ORDER / 2 + 1];
    nlsf2a_find_poly(&mut p, &cos_lsf[..d], dd);
    nlsf2a_find_poly(&mut q, &cos_lsf[1..d], dd);
    let mut a32 = [0i32; MAX_LPC_ORDER];
    for k in 0..dd {
        let ptmp = p[k + 1].wrapping_add(p[k]);
        let qtmp = q[k + 1].wrapping_sub(q[k]);
        a32[k] = -rshift_round(ptmp.wrapping_add(qtmp), 9);
        a32[d - k - 1] = rshift_round(qtmp.wrapping_sub(ptmp), 9);
    }
    let mut i = 0;
    while i < 10 {
        let mut maxabs = 0;
        let mut idx = 0;
        for k in 0..d {
            let absval = sabs(a32[k]);
            if absval > maxabs {
                maxabs = absval;
                idx = k as i32;
            }
        }
        if maxabs > i32::from(i16::MAX) {
            maxabs = maxabs.min(98369);
            let sc_q16 = 65470
                - div32(
                    (65470 >> 2) * (maxabs - i32::from(i16::MAX)),
                    (maxabs * (idx + 1)) >> 2,
                );
            bwexpander_32(&mut a32[..d], sc_q16);
        } else {
            break;
        }
        i += 1;
    }
    if i == 10 {
        for v in a32[..d].iter_mut() {
            *v = i32::from(sat16(*v));
        }
    }
    for k in 0..d {
        a[k] = a32[k] as i16;
    }
}

/// Returns true if the LPC filter is unstable; and the inverse prediction gain in Q30
/// (`SKP_Silk_LPC_inverse_pred_gain`).
fn lpc_inverse_pred_gain(a_q12: &[i16]) -> (bool, i32) {
    const A_LIMIT: i32 = 65520; // SKP_FIX_CONST(0.99975, 16)
    let order = a_q12.len();
    let mut a = [[0i32; MAX_LPC_ORDER]; 2];
    let mut cur = order & 1;
    for k in 0..order {
        a[cur][k] = i32::from(a_q12[k]) << 4;
    }
    let mut inv_gain: i32 = 1 << 30;
    for k in (1..order).rev() {
        let ak = a[cur][k];
        if !(-A_LIMIT..=A_LIMIT).contains(&ak) {
            return (true, inv_gain);
        }
        let rc_q31 = (ak << 15).wrapping_neg();
        let rc_mult1_q30 = (i32::MAX >> 1).wrapping_sub(smmul(rc_q31, rc_q31));
        let mut rc_mult2_q16 = inverse32_varq(rc_mult1_q30, 46);
        inv_gain = smmul(inv_gain, rc_mult1_q30).wrapping_shl(2);
        let old = cur;
        cur = k & 1;
        let headrm = clz32(rc_mult2_q16) - 1;
        rc_mult2_q16 = rc_mult2_q16.wrapping_shl(headrm.max(0) as u32);
        let src = a[old];
        for n in 0..k {
            let tmp = src[n].wrapping_sub(smmul(src[k - n - 1], rc_q31).wrapping_shl(1));
            a[cur][n] = smmul(tmp, rc_mult2_q16).wrapping_shl((16 - headrm).clamp(0, 31) as u32);
        }
    }
    let a0 = a[cur][0];
    if !(-A_LIMIT..=A_LIMIT).contains(&a0) {
        return (true, inv_gain);
    }
    let rc_q31 = (a0 << 15).wrapping_neg();
    let rc_mult1_q30 = (i32::MAX >> 1).wrapping_sub(smmul(rc_q31, rc_q31));
    inv_gain = smmul(inv_gain, rc_mult1_q30).wrapping_shl(2);
    (false, inv_gain)
}

/// NLSF -> stable LPC (`SKP_Silk_NLSF2A_stable`).
pub(crate) fn nlsf2a_stable(a: &mut [i16], nlsf: &[i32]) {
    nlsf2a(a, nlsf);
    let mut i = 0;
    while i < 20 {
        if lpc_inverse_pred_gain(a).0 {
            bwexpander(a, 65536 - smulbb(10 + i, i));
        } else {
            break;
        }
        i += 1;
    }
    if i == 20 {
        a.fill(0);
    }
}

/// Even-order LPC synthesis with gain (`SKP_Silk_LPC_synthesis_filter` and its order-16
/// twin; the same arithmetic).
fn lpc_synthesis(input: &[i16], a_q12: &[i16], gain_q26: i32, s: &mut [i32], out: &mut [i16]) {
    let order = a_q12.len();
    for k in 0..input.len() {
        let mut acc: i32 = 0;
        for j in 0..order {
            acc = smlawb(acc, s[order - 1 - j], i32::from(a_q12[j]));
        }
        s.copy_within(1..order, 0);
        let out32_q10 = add_sat32(acc, smulwb(gain_q26, i32::from(input[k])));
        out[k] = sat16(rshift_round(out32_q10, 10));
        s[order - 1] = lshift_sat32(out32_q10, 4);
    }
}

/// Decoded parameters of one frame (the SDK's `SKP_Silk_decoder_control`).
#[derive(Debug, Clone)]
struct FrameControl {
    pitch_l: [i32; NB_SUBFR],
    gains_q16: [i32; NB_SUBFR],
    seed: i32,
    pred_coef_q12: [[i16; MAX_LPC_ORDER]; 2],
    ltp_coef_q14: [i16; LTP_ORDER * NB_SUBFR],
    ltp_scale_q14: i32,
    quant_offset_type: usize,
    sigtype: u8,
    nlsf_interp_coef_q2: i32,
}

impl Default for FrameControl {
    fn default() -> Self {
        FrameControl {
            pitch_l: [0; NB_SUBFR],
            gains_q16: [0; NB_SUBFR],
            seed: 0,
            pred_coef_q12: [[0; MAX_LPC_ORDER]; 2],
            ltp_coef_q14: [0; LTP_ORDER * NB_SUBFR],
            ltp_scale_q14: 0,
            quant_offset_type: 0,
            sigtype: 0,
            nlsf_interp_coef_q2: 4,
        }
    }
}

#[derive(Debug, Clone)]
struct PlcState {
    pitch_l_q8: i32,
    ltp_coef_q14: [i16; LTP_ORDER],
    prev_lpc_q12: [i16; MAX_LPC_ORDER],
    last_frame_lost: bool,
    rand_seed: i32,
    rand_scale_q14: i32,
    conc_energy: i32,
    conc_energy_shift: i32,
    prev_ltp_scale_q14: i32,
    prev_gain_q16: [i32; NB_SUBFR],
    fs_khz: u32,
}

#[derive(Debug, Clone)]
struct CngState {
    exc_buf_q10: [i32; MAX_FRAME_LENGTH],
    smth_nlsf_q15: [i32; MAX_LPC_ORDER],
    synth_state: [i32; MAX_LPC_ORDER],
    smth_gain_q16: i32,
    rand_seed: i32,
    fs_khz: u32,
}

/// A SILK decoder (one per received stream).
#[derive(Debug, Clone)]
pub struct Decoder {
    fs_khz: u32,
    frame_length: usize,
    subfr_length: usize,
    lpc_order: usize,
    prev_inv_gain_q16: i32,
    s_ltp_q16: [i32; 2 * MAX_FRAME_LENGTH],
    s_lpc_q14: [i32; MAX_FRAME_LENGTH / NB_SUBFR + MAX_LPC_ORDER],
    exc_q10: [i32; MAX_FRAME_LENGTH],
    out_buf: [i16; 2 * MAX_FRAME_LENGTH],
    lag_prev: i32,
    last_gain_index: i32,
    hp_state: [i32; 2],
    hp_a: [i16; 2],
    hp_b: [i16; 3],
    prev_nlsf_q15: [i32; MAX_LPC_ORDER],
    first_frame_after_reset: bool,
    n_frames_in_packet: usize,
    vad_flag: bool,
    no_fec_counter: u32,
    inband_fec_offset: u8,
    loss_cnt: i32,
    prev_sigtype: u8,
    cng: CngState,
    plc: PlcState,
}

impl Decoder {
    /// A decoder starting at `sample_rate` Hz (8000, 12000, 16000 or 24000; the rate coded
    /// in each packet takes over from the first packet on).
    pub fn new(sample_rate: u32) -> Result<Self, SilkError> {
        let fs_khz = match sample_rate {
            8000 | 12000 | 16000 | 24000 => sample_rate / 1000,
            other => return Err(SilkError::UnsupportedRate(other)),
        };
        let mut d = Decoder {
            fs_khz: 0,
            frame_length: 0,
            subfr_length: 0,
            lpc_order: 0,
            prev_inv_gain_q16: 65536,
            s_ltp_q16: [0; 2 * MAX_FRAME_LENGTH],
            s_lpc_q14: [0; MAX_FRAME_LENGTH / NB_SUBFR + MAX_LPC_ORDER],
            exc_q10: [0; MAX_FRAME_LENGTH],
            out_buf: [0; 2 * MAX_FRAME_LENGTH],
            lag_prev: 0,
            last_gain_index: 0,
            hp_state: [0; 2],
            hp_a: [0; 2],
            hp_b: [0; 3],
            prev_nlsf_q15: [0; MAX_LPC_ORDER],
            first_frame_after_reset: true,
            n_frames_in_packet: 1,
            vad_flag: false,
            no_fec_counter: 0,
            inband_fec_offset: 0,
            loss_cnt: 0,
            prev_sigtype: 0,
            cng: CngState {
                exc_buf_q10: [0; MAX_FRAME_LENGTH],
                smth_nlsf_q15: [0; MAX_LPC_ORDER],
                synth_state: [0; MAX_LPC_ORDER],
                smth_gain_q16: 0,
                rand_seed: 0,
                fs_khz: 0,
            },
            plc: PlcState {
                pitch_l_q8: 0,
                ltp_coef_q14: [0; LTP_ORDER],
                prev_lpc_q12: [0; MAX_LPC_ORDER],
                last_frame_lost: false,
                rand_seed: 0,
                rand_scale_q14: 0,
                conc_energy: 0,
                conc_energy_shift: 0,
                prev_ltp_scale_q14: 0,
                prev_gain_q16: [0; NB_SUBFR],
                fs_khz: 0,
            },
        };
        d.set_fs(fs_khz);
        Ok(d)
    }

    /// The current internal sampling rate in Hz (that of the last packet).
    pub fn sample_rate(&self) -> u32 {
        self.fs_khz * 1000
    }

    /// Samples of one 20 ms frame at the current rate.
    pub fn frame_length(&self) -> usize {
        self.frame_length
    }

    /// Frames of the last decoded packet (the length of a concealed packet).
    pub fn frames_per_packet(&self) -> usize {
        self.n_frames_in_packet
    }

    /// In-band FEC seen in the stream: 0 none, 1 or 2 = the LBRR of a packet travels one or
    /// two packets later (the SDK's `inBandFECOffset`).
    pub fn inband_fec_offset(&self) -> u8 {
        self.inband_fec_offset
    }

    fn set_fs(&mut self, fs_khz: u32) {
        if self.fs_khz == fs_khz {
            return;
        }
        self.fs_khz = fs_khz;
        self.frame_length = 20 * fs_khz as usize;
        self.subfr_length = 5 * fs_khz as usize;
        self.lpc_order = if fs_khz == 8 { 10 } else { 16 };
        self.s_lpc_q14 = [0; MAX_FRAME_LENGTH / NB_SUBFR + MAX_LPC_ORDER];
        self.out_buf = [0; 2 * MAX_FRAME_LENGTH];
        self.prev_nlsf_q15 = [0; MAX_LPC_ORDER];
        self.lag_prev = 100;
        self.last_gain_index = 1;
        self.prev_sigtype = 0;
        self.first_frame_after_reset = true;
        let (a, b) = match fs_khz {
            24 => (DEC_A_HP_24, DEC_B_HP_24),
            16 => (DEC_A_HP_16, DEC_B_HP_16),
            12 => (DEC_A_HP_12, DEC_B_HP_12),
            _ => (DEC_A_HP_8, DEC_B_HP_8),
        };
        self.hp_a = a;
        self.hp_b = b;
    }

    /// Decode one packet, appending its 20 ms frames to `out` at [`sample_rate`](Self::sample_rate).
    /// Returns the number of samples appended. An empty payload is concealed as a lost
    /// packet. A corrupt packet (or one longer than
    /// 1,024 bytes) is reported as an error after its good frames and one concealed frame
    /// have been appended, as the SDK decoder does.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, SilkError> {
        let start = out.len();
        if payload.is_empty() {
            // No payload is a lost packet (Decoder.c's convention), not a corrupt one.
            self.conceal(out);
            return Ok(out.len() - start);
        }
        if payload.len() > MAX_ARITHM_BYTES {
            self.conceal_frame(out);
            return Err(SilkError::PayloadTooLong);
        }
        let parsed = parse_packet(payload);
        if parsed.frames.is_empty() && parsed.fs_khz != 0 && parsed.fs_khz != self.fs_khz {
            // The SDK switches rate before finding the error, then switches back.
            let old = self.fs_khz;
            self.set_fs(parsed.fs_khz);
            self.set_fs(old);
        } else if parsed.fs_khz != 0 {
            self.set_fs(parsed.fs_khz);
        }
        let n = parsed.frames.len();
        for (i, f) in parsed.frames.iter().enumerate() {
            let last = i + 1 == n && parsed.error.is_none();
            // The SDK reads the VAD flag with the parameters, before synthesis and CNG.
            self.vad_flag = f.vad;
            self.decode_frame(f, i, out);
            if last {
                self.n_frames_in_packet = n;
                self.track_fec(parsed.termination);
            }
        }
        if let Some(e) = parsed.error {
            self.vad_flag = false;
            self.conceal_frame(out);
            // The SDK sets this to the frames decoded, 0 for a packet corrupt from its
            // first frame, after which a lost packet would produce no audio; keep >= 1.
            self.n_frames_in_packet = n.max(1);
            self.track_fec(TERM_LAST_FRAME);
            return Err(e);
        }
        Ok(out.len() - start)
    }

    /// Decode a packet whose parameters are already parsed (for instance by an encoder's
    /// local decoder). Appends its frames to `out`.
    pub fn decode_parsed(
        &mut self,
        packet: &Packet,
        out: &mut Vec<i16>,
    ) -> Result<usize, SilkError> {
        if ![8, 12, 16, 24].contains(&packet.fs_khz) {
            return Err(SilkError::IllegalSamplingRate);
        }
        if packet.frames.is_empty() || packet.frames.len() > MAX_FRAMES_PER_PACKET {
            return Err(SilkError::BadFrameCount);
        }
        if packet
            .frames
            .iter()
            .any(|f| f.pulses.len() != 20 * packet.fs_khz as usize)
        {
            return Err(SilkError::BadFrameLength);
        }
        let start = out.len();
        self.set_fs(packet.fs_khz);
        for (i, f) in packet.frames.iter().enumerate() {
            self.vad_flag = f.vad;
            self.decode_frame(f, i, out);
        }
        self.n_frames_in_packet = packet.frames.len();
        self.track_fec(packet.termination);
        Ok(out.len() - start)
    }

    fn track_fec(&mut self, termination: u8) {
        if self.vad_flag {
            if termination == TERM_LAST_FRAME {
                self.no_fec_counter += 1;
                if self.no_fec_counter > NO_LBRR_THRES {
                    self.inband_fec_offset = 0;
                }
            } else if termination == TERM_LBRR_VER1 {
                self.inband_fec_offset = 1;
                self.no_fec_counter = 0;
            } else if termination == TERM_LBRR_VER2 {
                self.inband_fec_offset = 2;
                self.no_fec_counter = 0;
            }
        }
    }

    /// Conceal a lost packet: [`frames_per_packet`](Self::frames_per_packet) frames of
    /// packet loss concealment (the SDK's decode with `lostFlag` = 1). Returns the number
    /// of samples appended.
    pub fn conceal(&mut self, out: &mut Vec<i16>) -> usize {
        let start = out.len();
        for _ in 0..self.n_frames_in_packet {
            self.conceal_frame(out);
        }
        out.len() - start
    }

    /// Recover a lost packet with in-band FEC, as the SDK's test decoder does: look for
    /// its LBRR copy in the next packet (`next`, offset 1), then in the one after
    /// (`next2`, offset 2) (the SDK's `SKP_Silk_SDK_search_for_LBRR`), and decode it;
    /// conceal when neither carries one. Returns whether an FEC copy was decoded.
    pub fn decode_fec(
        &mut self,
        next: Option<&[u8]>,
        next2: Option<&[u8]>,
        out: &mut Vec<i16>,
    ) -> bool {
        let lbrr = next
            .and_then(|p| find_lbrr(p, 1))
            .or_else(|| next2.and_then(|p| find_lbrr(p, 2)));
        match lbrr {
            Some(lbrr) => self.decode(lbrr, out).is_ok(),
            None => {
                self.conceal(out);
                false
            }
        }
    }

    fn conceal_frame(&mut self, out: &mut Vec<i16>) {
        let l = self.frame_length;
        let mut ctrl = FrameControl {
            ltp_scale_q14: 0,
            ..FrameControl::default()
        };
        let mut buf = [0i16; MAX_FRAME_LENGTH];
        let frame = &mut buf[..l];
        self.plc_reset_if_needed();
        self.plc_conceal(&mut ctrl, frame);
        self.loss_cnt += 1;
        self.finish_frame(&ctrl, frame);
        out.extend_from_slice(frame);
    }

    fn plc_reset_if_needed(&mut self) {
        if self.fs_khz != self.plc.fs_khz {
            self.plc.pitch_l_q8 = (self.frame_length as i32) >> 1;
            self.plc.fs_khz = self.fs_khz;
        }
    }

    /// Output buffer, PLC glue, CNG, high-pass filter, lag memory (end of
    /// `SKP_Silk_decode_frame`).
    fn finish_frame(&mut self, ctrl: &FrameControl, frame: &mut [i16]) {
        let l = self.frame_length;
        self.out_buf[..l].copy_from_slice(frame);
        self.plc_glue_frames(frame);
        self.cng(ctrl, frame);
        self.biquad(frame);
        self.lag_prev = ctrl.pitch_l[NB_SUBFR - 1];
    }

    fn decode_frame(&mut self, f: &FrameIndices, n_frames_decoded: usize, out: &mut Vec<i16>) {
        let mut ctrl = self.dequantize(f, n_frames_decoded);
        let l = self.frame_length;
        let mut buf = [0i16; MAX_FRAME_LENGTH];
        let frame = &mut buf[..l];
        self.decode_core(&mut ctrl, &f.pulses, frame);
        self.plc_reset_if_needed();
        self.plc_update(&ctrl);
        self.loss_cnt = 0;
        self.prev_sigtype = ctrl.sigtype;
        self.first_frame_after_reset = false;
        self.finish_frame(&ctrl, frame);
        out.extend_from_slice(frame);
    }

    /// Parameters of a frame from its indices (the arithmetic half of the SDK's
    /// `SKP_Silk_decode_parameters`).
    fn dequantize(&mut self, f: &FrameIndices, n_frames_decoded: usize) -> FrameControl {
        let mut c = FrameControl {
            sigtype: f.sigtype.min(1),
            quant_offset_type: usize::from(f.quant_offset_type.min(1)),
            ..FrameControl::default()
        };
        // Gains (SKP_Silk_gains_dequant).
        const OFFSET: i32 = (6 * 128) / 6 + 16 * 128;
        const INV_SCALE_Q16: i32 = ((65536i64 * (((86 - 6) * 128) / 6)) / (64 - 1)) as i32;
        for k in 0..NB_SUBFR {
            let ind = i32::from(f.gain_indices[k]);
            if k == 0 && n_frames_decoded == 0 {
                self.last_gain_index = ind;
            } else {
                self.last_gain_index += ind - 4;
            }
            c.gains_q16[k] =
                log2lin((smulwb(INV_SCALE_Q16, self.last_gain_index) + OFFSET).min(3967));
        }
        // NLSFs.
        let order = self.lpc_order;
        let cb = nlsf_codebook(self.fs_khz, c.sigtype);
        let mut nlsf = [0i32; MAX_LPC_ORDER];
        for (s, stage) in cb.stages.iter().enumerate() {
            let ix = (f.nlsf_indices[s] as usize).min(stage.n_vectors - 1);
            let row = &stage.cb_q15[ix * order..(ix + 1) * order];
            for i in 0..order {
                nlsf[i] += i32::from(row[i]);
            }
        }
        nlsf_stabilize(&mut nlsf[..order], cb.ndelta_min_q15);
        c.nlsf_interp_coef_q2 = i32::from(f.nlsf_interp_coef_q2.min(4));
        if self.first_frame_after_reset {
            c.nlsf_interp_coef_q2 = 4;
        }
        nlsf2a_stable(&mut c.pred_coef_q12[1][..order], &nlsf[..order]);
        if c.nlsf_interp_coef_q2 < 4 {
            let mut nlsf0 = [0i32; MAX_LPC_ORDER];
            for i in 0..order {
                nlsf0[i] = self.prev_nlsf_q15[i]
                    + ((c.nlsf_interp_coef_q2 * (nlsf[i] - self.prev_nlsf_q15[i])) >> 2);
            }
            nlsf2a_stable(&mut c.pred_coef_q12[0][..order], &nlsf0[..order]);
        } else {
            c.pred_coef_q12[0] = c.pred_coef_q12[1];
        }
        self.prev_nlsf_q15[..order].copy_from_slice(&nlsf[..order]);
        if self.loss_cnt != 0 {
            bwexpander(&mut c.pred_coef_q12[0][..order], BWE_AFTER_LOSS_Q16);
            bwexpander(&mut c.pred_coef_q12[1][..order], BWE_AFTER_LOSS_Q16);
        }
        if c.sigtype == SIG_TYPE_VOICED {
            // Pitch lags (SKP_Silk_decode_pitch).
            let lag = 2 * self.fs_khz as i32 + i32::from(f.lag_index);
            let contour = f.contour_index as usize;
            // Longest lag the synthesis buffers allow (only a corrupt stream goes further).
            let max_lag = (self.frame_length - order - LTP_ORDER / 2 - 1) as i32;
            for k in 0..NB_SUBFR {
                let d = if self.fs_khz == 8 {
                    CB_LAGS_STAGE2[k].get(contour).copied().unwrap_or(0)
                } else {
                    CB_LAGS_STAGE3[k].get(contour).copied().unwrap_or(0)
                };
                c.pitch_l[k] = (lag + i32::from(d)).clamp(LTP_ORDER as i32, max_lag);
            }
            let per = (f.per_index as usize).min(2);
            let cbk = LTP_VQ_PTRS_Q14[per];
            for k in 0..NB_SUBFR {
                let ix = (f.ltp_indices[k] as usize).min(cbk.len() - 1);
                c.ltp_coef_q14[k * LTP_ORDER..(k + 1) * LTP_ORDER].copy_from_slice(&cbk[ix]);
            }
            c.ltp_scale_q14 = i32::from(LTPSCALES_TABLE_Q14[(f.ltp_scale_index as usize).min(2)]);
        }
        c.seed = i32::from(f.seed);
        c
    }

    /// Excitation, LTP and LPC synthesis (`SKP_Silk_decode_core`).
    fn decode_core(&mut self, c: &mut FrameControl, q: &[i32], xq: &mut [i16]) {
        let l = self.frame_length;
        let sub = self.subfr_length;
        let order = self.lpc_order;
        let offset_q10 =
            i32::from(QUANTIZATION_OFFSETS_Q10[c.sigtype as usize][c.quant_offset_type]);
        let interp_flag = c.nlsf_interp_coef_q2 < 4;
        let mut rand_seed = c.seed;
        for i in 0..l {
            rand_seed = rand(rand_seed);
            let dither = rand_seed >> 31;
            let e = q[i].wrapping_shl(10).wrapping_add(offset_q10);
            self.exc_q10[i] = (e ^ dither).wrapping_sub(dither);
            rand_seed = rand_seed.wrapping_add(q[i]);
        }
        let mut res_q10 = [0i32; MAX_FRAME_LENGTH / NB_SUBFR];
        let mut s_ltp = [0i16; MAX_FRAME_LENGTH];
        let mut s_ltp_buf_idx = l;
        let mut lag = 0i32;
        for k in 0..NB_SUBFR {
            let a_q12: [i16; MAX_LPC_ORDER] = c.pred_coef_q12[k >> 1];
            let gain_q16 = c.gains_q16[k];
            let mut sigtype = c.sigtype;
            let mut inv_gain_q16 = inverse32_varq(gain_q16.max(1), 32);
            inv_gain_q16 = inv_gain_q16.min(i32::from(i16::MAX));
            let mut gain_adj_q16: i32 = 1 << 16;
            if inv_gain_q16 != self.prev_inv_gain_q16 {
                gain_adj_q16 = div32_varq(inv_gain_q16, self.prev_inv_gain_q16, 16);
            }
            if self.loss_cnt != 0
                && self.prev_sigtype == SIG_TYPE_VOICED
                && c.sigtype == SIG_TYPE_UNVOICED
                && k < NB_SUBFR / 2
            {
                let b = &mut c.ltp_coef_q14[k * LTP_ORDER..(k + 1) * LTP_ORDER];
                b.fill(0);
                b[LTP_ORDER / 2] = 1 << 12;
                sigtype = SIG_TYPE_VOICED;
                c.pitch_l[k] = self.lag_prev;
            }
            if sigtype == SIG_TYPE_VOICED {
                lag = c.pitch_l[k].clamp(LTP_ORDER as i32, (l - order - LTP_ORDER / 2 - 1) as i32);
                let rewhiten_mask = 3 - ((interp_flag as usize) << 1);
                if k & rewhiten_mask == 0 {
                    // Re-whiten the past output with this subframe's LPC filter.
                    let start_idx = l - lag as usize - order - LTP_ORDER / 2;
                    let mut filt_state = [0i32; MAX_LPC_ORDER];
                    let src_start = start_idx + k * (l >> 2);
                    ma_prediction(
                        &self.out_buf[src_start..src_start + (l - start_idx)],
                        &a_q12[..order],
                        &mut filt_state[..order],
                        &mut s_ltp[start_idx..l],
                    );
                    let mut inv_gain_q32 = inv_gain_q16.wrapping_shl(16);
                    if k == 0 {
                        inv_gain_q32 = smulwb(inv_gain_q32, c.ltp_scale_q14).wrapping_shl(2);
                    }
                    for i in 0..(lag as usize + LTP_ORDER / 2) {
                        self.s_ltp_q16[s_ltp_buf_idx - i - 1] =
                            smulwb(inv_gain_q32, i32::from(s_ltp[l - i - 1]));
                    }
                } else if gain_adj_q16 != 1 << 16 {
                    for i in 0..(lag as usize + LTP_ORDER / 2) {
                        let ix = s_ltp_buf_idx - i - 1;
                        self.s_ltp_q16[ix] = smulww(gain_adj_q16, self.s_ltp_q16[ix]);
                    }
                }
            }
            for v in self.s_lpc_q14[..MAX_LPC_ORDER].iter_mut() {
                *v = smulww(gain_adj_q16, *v);
            }
            self.prev_inv_gain_q16 = inv_gain_q16;
            let exc = &self.exc_q10[k * sub..(k + 1) * sub];
            if sigtype == SIG_TYPE_VOICED {
                let b = &c.ltp_coef_q14[k * LTP_ORDER..(k + 1) * LTP_ORDER];
                let mut p = s_ltp_buf_idx + LTP_ORDER / 2 - lag as usize;
                let b: [i32; LTP_ORDER] = [b[0], b[1], b[2], b[3], b[4]].map(i32::from);
                for i in 0..sub {
                    // Taps b[0..5] on s_ltp_q16[p], [p - 1], .. [p - 4].
                    let w: &[i32; LTP_ORDER] = self.s_ltp_q16[p + 1 - LTP_ORDER..=p]
                        .try_into()
                        .expect("5 taps");
                    let mut ltp_pred_q14 = smulwb(w[4], b[0]);
                    ltp_pred_q14 = smlawb(ltp_pred_q14, w[3], b[1]);
                    ltp_pred_q14 = smlawb(ltp_pred_q14, w[2], b[2]);
                    ltp_pred_q14 = smlawb(ltp_pred_q14, w[1], b[3]);
                    ltp_pred_q14 = smlawb(ltp_pred_q14, w[0], b[4]);
                    p += 1;
                    res_q10[i] = exc[i].wrapping_add(rshift_round(ltp_pred_q14, 4));
                    self.s_ltp_q16[s_ltp_buf_idx] = res_q10[i].wrapping_shl(6);
                    s_ltp_buf_idx += 1;
                }
            } else {
                res_q10[..sub].copy_from_slice(exc);
            }
            // Short-term prediction.
            let a: &[i16] = &a_q12[..order];
            for i in 0..sub {
                // a[j] weighs s_lpc_q14[MAX_LPC_ORDER + i - j - 1]: the history reversed.
                let hist = &self.s_lpc_q14[i + MAX_LPC_ORDER - order..i + MAX_LPC_ORDER];
                let mut lpc_pred_q10 = 0i32;
                for (&aj, &sj) in a.iter().zip(hist.iter().rev()) {
                    lpc_pred_q10 = smlawb(lpc_pred_q10, sj, i32::from(aj));
                }
                let v = res_q10[i].wrapping_add(lpc_pred_q10);
                self.s_lpc_q14[MAX_LPC_ORDER + i] = v.wrapping_shl(4);
                self.out_buf[l + k * sub + i] = sat16(rshift_round(smulww(v, gain_q16), 10));
            }
            self.s_lpc_q14.copy_within(sub..sub + MAX_LPC_ORDER, 0);
        }
        xq.copy_from_slice(&self.out_buf[l..2 * l]);
    }

    /// `SKP_Silk_PLC_update`.
    fn plc_update(&mut self, c: &FrameControl) {
        let p = &mut self.plc;
        self.prev_sigtype = c.sigtype;
        let mut ltp_gain_q14: i32 = 0;
        if c.sigtype == SIG_TYPE_VOICED {
            let mut j = 0;
            while j < NB_SUBFR && (j * self.subfr_length) < c.pitch_l[NB_SUBFR - 1].max(0) as usize
            {
                let base = (NB_SUBFR - 1 - j) * LTP_ORDER;
                let temp: i32 = c.ltp_coef_q14[base..base + LTP_ORDER]
                    .iter()
                    .map(|&v| i32::from(v))
                    .sum();
                if temp > ltp_gain_q14 {
                    ltp_gain_q14 = temp;
                    p.ltp_coef_q14
                        .copy_from_slice(&c.ltp_coef_q14[base..base + LTP_ORDER]);
                    p.pitch_l_q8 = c.pitch_l[NB_SUBFR - 1 - j] << 8;
                }
                j += 1;
            }
            // USE_SINGLE_TAP.
            p.ltp_coef_q14 = [0; LTP_ORDER];
            p.ltp_coef_q14[LTP_ORDER / 2] = ltp_gain_q14 as i16;
            if ltp_gain_q14 < V_PITCH_GAIN_START_MIN_Q14 {
                let scale_q10 = div32(V_PITCH_GAIN_START_MIN_Q14 << 10, ltp_gain_q14.max(1));
                for v in p.ltp_coef_q14.iter_mut() {
                    *v = (smulbb(i32::from(*v), scale_q10) >> 10) as i16;
                }
            } else if ltp_gain_q14 > V_PITCH_GAIN_START_MAX_Q14 {
                let scale_q14 = div32(V_PITCH_GAIN_START_MAX_Q14 << 14, ltp_gain_q14.max(1));
                for v in p.ltp_coef_q14.iter_mut() {
                    *v = (smulbb(i32::from(*v), scale_q14) >> 14) as i16;
                }
            }
        } else {
            p.pitch_l_q8 = smulbb(self.fs_khz as i32, 18) << 8;
            p.ltp_coef_q14 = [0; LTP_ORDER];
        }
        p.prev_lpc_q12[..self.lpc_order].copy_from_slice(&c.pred_coef_q12[1][..self.lpc_order]);
        p.prev_ltp_scale_q14 = c.ltp_scale_q14;
        p.prev_gain_q16 = c.gains_q16;
    }

    /// `SKP_Silk_PLC_conceal`.
    fn plc_conceal(&mut self, c: &mut FrameControl, signal: &mut [i16]) {
        let l = self.frame_length;
        let sub = self.subfr_length;
        let order = self.lpc_order;
        self.s_ltp_q16.copy_within(l..2 * l, 0);
        bwexpander(&mut self.plc.prev_lpc_q12[..order], BWE_COEF_Q16);
        let mut exc_buf = [0i16; MAX_FRAME_LENGTH];
        for (n, k) in (NB_SUBFR / 2..NB_SUBFR).enumerate() {
            for i in 0..sub {
                exc_buf[n * sub + i] =
                    (smulww(self.exc_q10[i + k * sub], self.plc.prev_gain_q16[k]) >> 10) as i16;
            }
        }
        let (energy1, shift1) = sum_sqr_shift(&exc_buf[..sub]);
        let (energy2, shift2) = sum_sqr_shift(&exc_buf[sub..2 * sub]);
        let rand_start = if (energy1 >> shift2) < (energy2 >> shift1) {
            (3 * sub).saturating_sub(RAND_BUF_SIZE)
        } else {
            l.saturating_sub(RAND_BUF_SIZE)
        };
        let mut b_q14 = self.plc.ltp_coef_q14;
        let mut rand_scale_q14 = self.plc.rand_scale_q14;
        let att = (self.loss_cnt.clamp(0, 1)) as usize;
        let harm_gain_q15 = HARM_ATT_Q15[att];
        let mut rand_gain_q15 = if self.prev_sigtype == SIG_TYPE_VOICED {
            PLC_RAND_ATTENUATE_V_Q15[att]
        } else {
            PLC_RAND_ATTENUATE_UV_Q15[att]
        };
        if self.loss_cnt == 0 {
            rand_scale_q14 = 1 << 14;
            if self.prev_sigtype == SIG_TYPE_VOICED {
                for &b in &b_q14 {
                    rand_scale_q14 -= i32::from(b);
                }
                rand_scale_q14 = i32::from((rand_scale_q14 as i16).max(3277));
                rand_scale_q14 =
                    i32::from((smulbb(rand_scale_q14, self.plc.prev_ltp_scale_q14) >> 14) as i16);
            }
            if self.prev_sigtype == SIG_TYPE_UNVOICED {
                let (_, inv_gain_q30) = lpc_inverse_pred_gain(&self.plc.prev_lpc_q12[..order]);
                let mut down = ((1 << 30) >> LOG2_INV_LPC_GAIN_HIGH_THRES).min(inv_gain_q30);
                down = ((1 << 30) >> LOG2_INV_LPC_GAIN_LOW_THRES).max(down);
                down = down.wrapping_shl(LOG2_INV_LPC_GAIN_HIGH_THRES as u32);
                rand_gain_q15 = smulwb(down, rand_gain_q15) >> 14;
            }
        }
        let mut rand_seed = self.plc.rand_seed;
        let mut lag = rshift_round(self.plc.pitch_l_q8, 8);
        let max_lag = (l - order - LTP_ORDER / 2 - 1) as i32;
        let mut s_ltp_buf_idx = l;
        let mut sig_q10 = [0i32; MAX_FRAME_LENGTH];
        for k in 0..NB_SUBFR {
            let lag_c = lag.clamp(LTP_ORDER as i32, max_lag) as usize;
            let mut p = s_ltp_buf_idx + LTP_ORDER / 2 - lag_c;
            for i in 0..sub {
                rand_seed = rand(rand_seed);
                let idx = ((rand_seed >> 25) & RAND_BUF_MASK) as usize;
                let mut ltp_pred_q14 = smulwb(self.s_ltp_q16[p], i32::from(b_q14[0]));
                for t in 1..LTP_ORDER {
                    ltp_pred_q14 = smlawb(ltp_pred_q14, self.s_ltp_q16[p - t], i32::from(b_q14[t]));
                }
                p += 1;
                let r = self.exc_q10.get(rand_start + idx).copied().unwrap_or(0);
                let mut lpc_exc_q10 = smulwb(r, rand_scale_q14).wrapping_shl(2);
                lpc_exc_q10 = lpc_exc_q10.wrapping_add(rshift_round(ltp_pred_q14, 4));
                self.s_ltp_q16[s_ltp_buf_idx] = lpc_exc_q10.wrapping_shl(6);
                s_ltp_buf_idx += 1;
                sig_q10[k * sub + i] = lpc_exc_q10;
            }
            for b in b_q14.iter_mut() {
                *b = (smulbb(harm_gain_q15, i32::from(*b)) >> 15) as i16;
            }
            rand_scale_q14 = smulbb(rand_scale_q14, rand_gain_q15) >> 15;
            self.plc.pitch_l_q8 = self
                .plc
                .pitch_l_q8
                .wrapping_add(smulwb(self.plc.pitch_l_q8, PITCH_DRIFT_FAC_Q16));
            self.plc.pitch_l_q8 = self
                .plc
                .pitch_l_q8
                .min(smulbb(MAX_PITCH_LAG_MS, self.fs_khz as i32) << 8);
            lag = rshift_round(self.plc.pitch_l_q8, 8);
        }
        let a_q12 = self.plc.prev_lpc_q12;
        for k in 0..NB_SUBFR {
            for i in 0..sub {
                let mut lpc_pred_q10 = 0i32;
                for j in 0..order {
                    lpc_pred_q10 = smlawb(
                        lpc_pred_q10,
                        self.s_lpc_q14[MAX_LPC_ORDER + i - j - 1],
                        i32::from(a_q12[j]),
                    );
                }
                let v = sig_q10[k * sub + i].wrapping_add(lpc_pred_q10);
                sig_q10[k * sub + i] = v;
                self.s_lpc_q14[MAX_LPC_ORDER + i] = v.wrapping_shl(4);
            }
            self.s_lpc_q14.copy_within(sub..sub + MAX_LPC_ORDER, 0);
        }
        let g = self.plc.prev_gain_q16[NB_SUBFR - 1];
        for i in 0..l {
            signal[i] = sat16(rshift_round(smulww(sig_q10[i], g), 10));
        }
        self.plc.rand_seed = rand_seed;
        self.plc.rand_scale_q14 = rand_scale_q14;
        // The SDK attenuates the PLC's LTP taps in place: the decay carries on over
        // consecutive lost frames.
        self.plc.ltp_coef_q14 = b_q14;
        c.pitch_l = [lag; NB_SUBFR];
    }

    /// `SKP_Silk_PLC_glue_frames`.
    fn plc_glue_frames(&mut self, signal: &mut [i16]) {
        let p = &mut self.plc;
        if self.loss_cnt != 0 {
            (p.conc_energy, p.conc_energy_shift) = sum_sqr_shift(signal);
            p.last_frame_lost = true;
            return;
        }
        if p.last_frame_lost {
            let (mut energy, energy_shift) = sum_sqr_shift(signal);
            if energy_shift > p.conc_energy_shift {
                p.conc_energy >>= energy_shift - p.conc_energy_shift;
            } else if energy_shift < p.conc_energy_shift {
                energy >>= p.conc_energy_shift - energy_shift;
            }
            if energy > p.conc_energy {
                let lz = clz32(p.conc_energy) - 1;
                p.conc_energy = p.conc_energy.wrapping_shl(lz.max(0) as u32);
                energy >>= (24 - lz).max(0);
                let frac_q24 = div32(p.conc_energy, energy.max(1));
                let mut gain_q12 = sqrt_approx(frac_q24);
                let slope_q12 = div32((1 << 12) - gain_q12, signal.len() as i32);
                for s in signal.iter_mut() {
                    *s = (gain_q12.wrapping_mul(i32::from(*s)) >> 12) as i16;
                    gain_q12 = gain_q12.wrapping_add(slope_q12).min(1 << 12);
                }
            }
        }
        p.last_frame_lost = false;
    }

    /// `SKP_Silk_CNG`: comfort noise estimation and, during loss, generation.
    fn cng(&mut self, c: &FrameControl, signal: &mut [i16]) {
        let order = self.lpc_order;
        let sub = self.subfr_length;
        if self.fs_khz != self.cng.fs_khz {
            let step = i32::from(i16::MAX) / (order as i32 + 1);
            let mut acc = 0;
            for i in 0..order {
                acc += step;
                self.cng.smth_nlsf_q15[i] = acc;
            }
            self.cng.smth_gain_q16 = 0;
            self.cng.rand_seed = 3_176_576;
            self.cng.fs_khz = self.fs_khz;
        }
        let g = &mut self.cng;
        if self.loss_cnt == 0 && !self.vad_flag {
            for i in 0..order {
                g.smth_nlsf_q15[i] += smulwb(
                    self.prev_nlsf_q15[i] - g.smth_nlsf_q15[i],
                    CNG_NLSF_SMTH_Q16,
                );
            }
            let mut max_gain_q16 = 0;
            let mut subfr = 0;
            for i in 0..NB_SUBFR {
                if c.gains_q16[i] > max_gain_q16 {
                    max_gain_q16 = c.gains_q16[i];
                    subfr = i;
                }
            }
            g.exc_buf_q10.copy_within(0..(NB_SUBFR - 1) * sub, sub);
            g.exc_buf_q10[..sub].copy_from_slice(&self.exc_q10[subfr * sub..(subfr + 1) * sub]);
            for i in 0..NB_SUBFR {
                g.smth_gain_q16 = g.smth_gain_q16.wrapping_add(smulwb(
                    c.gains_q16[i].wrapping_sub(g.smth_gain_q16),
                    CNG_GAIN_SMTH_Q16,
                ));
            }
        }
        if self.loss_cnt != 0 {
            let length = signal.len();
            let mut exc_mask = CNG_BUF_MASK_MAX;
            while exc_mask > length {
                exc_mask >>= 1;
            }
            let mut cng_sig = vec![0i16; length];
            let mut seed = g.rand_seed;
            for v in cng_sig.iter_mut() {
                seed = rand(seed);
                let idx = ((seed >> 24) as usize) & exc_mask;
                *v = sat16(rshift_round(
                    smulww(g.exc_buf_q10[idx], g.smth_gain_q16),
                    10,
                ));
            }
            g.rand_seed = seed;
            let mut lpc = [0i16; MAX_LPC_ORDER];
            nlsf2a_stable(&mut lpc[..order], &g.smth_nlsf_q15[..order]);
            let input = cng_sig.clone();
            lpc_synthesis(
                &input,
                &lpc[..order],
                1 << 26,
                &mut g.synth_state[..order],
                &mut cng_sig,
            );
            for (s, &n) in signal.iter_mut().zip(cng_sig.iter()) {
                *s = sat16(i32::from(*s) + i32::from(n));
            }
        } else {
            g.synth_state[..order].fill(0);
        }
    }

    /// The output high-pass filter (`SKP_Silk_biquad`).
    fn biquad(&mut self, x: &mut [i16]) {
        let (b, a) = (self.hp_b, self.hp_a);
        let (mut s0, mut s1) = (self.hp_state[0], self.hp_state[1]);
        let a0_neg = -i32::from(a[0]);
        let a1_neg = -i32::from(a[1]);
        for v in x.iter_mut() {
            let in16 = i32::from(*v);
            let out32 = smlabb(s0, in16, i32::from(b[0]));
            s0 = smlabb(s1, in16, i32::from(b[1]));
            s0 = s0.wrapping_add(smulwb(out32, a0_neg).wrapping_shl(3));
            s1 = smulwb(out32, a1_neg).wrapping_shl(3);
            s1 = smlabb(s1, in16, i32::from(b[2]));
            *v = sat16(rshift_round(out32, 13).wrapping_add(1));
        }
        self.hp_state = [s0, s1];
    }
}

/// Variable-order MA prediction error filter (`SKP_Silk_MA_Prediction`).
fn ma_prediction(input: &[i16], b: &[i16], s: &mut [i32], out: &mut [i16]) {
    let order = b.len();
    for k in 0..out.len().min(input.len()) {
        let in16 = i32::from(input[k]);
        let out32 = rshift_round((in16 << 12).wrapping_sub(s[0]), 12);
        for d in 0..order - 1 {
            s[d] = s[d + 1].wrapping_add(smulbb(in16, i32::from(b[d])));
        }
        s[order - 1] = smulbb(in16, i32::from(b[order - 1]));
        out[k] = sat16(out32);
    }
}

/// The LBRR (in-band FEC) payload that `packet` carries for the packet `lost_offset`
/// (1 or 2) before it (the SDK's `SKP_Silk_SDK_search_for_LBRR`).
pub fn find_lbrr(packet: &[u8], lost_offset: u8) -> Option<&[u8]> {
    if !(1..=2).contains(&lost_offset) {
        return None;
    }
    let p = parse_packet(packet);
    if p.error.is_some() {
        return None;
    }
    let t = p.termination;
    if t > 0 && (t - 1) & lost_offset != 0 && p.tail_start < packet.len() {
        Some(&packet[p.tail_start..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_primitives_match_their_definitions() {
        assert_eq!(smulwb(1 << 16, 3), 3);
        assert_eq!(smulwb(-65536, 3), -3);
        assert_eq!(rshift_round(5, 1), 3);
        assert_eq!(rshift_round(-5, 2), -1);
        // The SDK's divisions are approximations good to one unit in the last place.
        assert!((inverse32_varq(1 << 16, 32) - 65536).abs() <= 1);
        assert!((div32_varq(1 << 10, 1 << 10, 16) - 65536).abs() <= 1);
        assert!((inverse32_varq(3, 16) - 21845).abs() <= 1);
        assert_eq!(log2lin(7 << 7), 128);
        assert_eq!(sqrt_approx(1 << 24), 4096);
        assert_eq!(sum_sqr_shift(&[3, 4]), (25, 0));
    }

    #[test]
    fn nlsf_to_lpc_of_a_flat_spectrum_is_near_zero() {
        // Evenly spaced NLSFs are a flat spectrum: all predictor taps small.
        let nlsf: Vec<i32> = (1..=10).map(|i| i * 32768 / 11).collect();
        let mut a = [0i16; 10];
        nlsf2a_stable(&mut a, &nlsf);
        assert!(a.iter().all(|&v| v.abs() < 200), "{a:?}");
        assert!(!lpc_inverse_pred_gain(&a).0);
    }
}
