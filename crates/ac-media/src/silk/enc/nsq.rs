//! Noise shaping quantizer (draft-vos-silk-02 3.2.7 "Noise Shaping Quantization"), in the
//! fixed-point arithmetic of the decoder's reconstruction (Q10 excitation, Q14 LPC state, Q16
//! LTP state, Q16 gains) so that the encoder's view of the decoded signal, which the long-term
//! predictor feeds back on, tracks the decoder's. One state per stream (main and LBRR).
//!
//! Per sample: short-term (LPC) and long-term (5-tap LTP) prediction from the quantized
//! history, noise feedback through the AR shaping filter, spectral tilt, low-frequency and
//! harmonic (3-tap) shaping, then a rate-distortion biased scalar quantizer with the signal
//! type's quantization offset and the seed-driven sign dither the decoder reproduces.

pub(crate) const LTP_ORDER: usize = 5;
const NSQ_LPC_BUF: usize = 32;
const MAX_FRAME: usize = 320;
const HARM_TAPS: usize = 3;

#[inline]
fn smulwb(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b as i16)) >> 16) as i32
}
#[inline]
fn smlawb(acc: i32, a: i32, b: i32) -> i32 {
    acc.wrapping_add(smulwb(a, b))
}
#[inline]
fn smulwt(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b >> 16)) >> 16) as i32
}
#[inline]
fn smlawt(acc: i32, a: i32, b: i32) -> i32 {
    acc.wrapping_add(smulwt(a, b))
}
#[inline]
fn smulww(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b)) >> 16) as i32
}
#[inline]
fn rshift_round(a: i32, s: u32) -> i32 {
    if s == 1 {
        (a >> 1) + (a & 1)
    } else {
        ((a >> (s - 1)) + 1) >> 1
    }
}
#[inline]
fn sat16(a: i32) -> i16 {
    a.clamp(-32768, 32767) as i16
}
/// The SDK's linear congruential generator (shared with the decoder's dither).
#[inline]
pub(crate) fn silk_rand(seed: i32) -> i32 {
    907_633_515i32.wrapping_add(seed.wrapping_mul(196_314_165))
}
/// (1 << 32) / b, saturated to i32 (b > 0).
fn inverse32_q32(b: i32) -> i32 {
    let b = i64::from(b.max(1));
    ((1i64 << 32) / b).min(i64::from(i32::MAX)) as i32
}
/// (a << 16) / b (b != 0), saturated.
fn div32_q16(a: i32, b: i32) -> i32 {
    let b = if b == 0 { 1 } else { i64::from(b) };
    ((i64::from(a) << 16) / b).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Quantizer state carried across frames.
#[derive(Clone)]
pub(crate) struct NsqState {
    xq: [i16; 2 * MAX_FRAME],
    s_ltp_shp_q10: [i32; 2 * MAX_FRAME],
    s_lpc_q14: [i32; MAX_FRAME / 4 + NSQ_LPC_BUF],
    s_ar2_q14: [i32; 17],
    s_lf_ar_shp_q12: i32,
    pub lag_prev: i32,
    s_ltp_buf_idx: usize,
    s_ltp_shp_buf_idx: usize,
    rand_seed: i32,
    prev_inv_gain_q16: i32,
    rewhite_flag: bool,
}

impl NsqState {
    pub(crate) fn new() -> Self {
        NsqState {
            xq: [0; 2 * MAX_FRAME],
            s_ltp_shp_q10: [0; 2 * MAX_FRAME],
            s_lpc_q14: [0; MAX_FRAME / 4 + NSQ_LPC_BUF],
            s_ar2_q14: [0; 17],
            s_lf_ar_shp_q12: 0,
            lag_prev: 100,
            s_ltp_buf_idx: 0,
            s_ltp_shp_buf_idx: 0,
            rand_seed: 0,
            prev_inv_gain_q16: 65536,
            rewhite_flag: false,
        }
    }
}

impl NsqState {
    /// The quantized output of the last frame.
    pub(crate) fn xq_frame(&self, fl: usize) -> Vec<i16> {
        self.xq[..fl].to_vec()
    }
}

/// Fixed-point parameters of one frame for the quantizer.
pub(crate) struct NsqParams<'a> {
    pub frame_length: usize,
    pub subfr_length: usize,
    pub lpc_order: usize,
    pub shaping_order: usize,
    pub voiced: bool,
    pub seed: i32,
    pub offset_q10: i32,
    /// true: first half of the frame uses `pred_q12[0]`, second half `pred_q12[1]`.
    pub interpolated: bool,
    pub pred_q12: &'a [[i16; 16]; 2],
    pub ltp_q14: &'a [[i16; LTP_ORDER]; 4],
    pub ar2_q13: &'a [[i16; 16]; 4],
    pub harm_shape_gain_q14: [i32; 4],
    pub tilt_q14: [i32; 4],
    pub lf_shp_q14: [i32; 4],
    pub gains_q16: [i32; 4],
    pub lambda_q10: i32,
    /// All-pass warping of the shaping filter, Q16 (0: none).
    pub warping_q16: i32,
    pub ltp_scale_q14: i32,
    pub pitch_l: [i32; 4],
}

/// Quantizes one frame `x` (prefiltered input, Q0) into pulses `q`.
pub(crate) fn quantize(st: &mut NsqState, p: &NsqParams<'_>, x: &[i16], q: &mut [i8]) {
    let fl = p.frame_length;
    let sl = p.subfr_length;
    st.rand_seed = p.seed;
    let mut lag = st.lag_prev;
    st.s_ltp_shp_buf_idx = fl;
    st.s_ltp_buf_idx = fl;
    let mut s_ltp_q16 = [0i32; 2 * MAX_FRAME];
    let mut s_ltp = [0i16; 2 * MAX_FRAME];
    let mut x_sc_q10 = [0i32; MAX_FRAME / 4];
    for k in 0..4 {
        let a_q12 = &p.pred_q12[if p.interpolated { k >> 1 } else { 1 }];
        let b_q14 = &p.ltp_q14[k];
        let ar_shp = &p.ar2_q13[k];
        let hsg = p.harm_shape_gain_q14[k].max(0);
        let harm_packed = (hsg >> 2) | ((hsg >> 1) << 16);
        st.rewhite_flag = false;
        if p.voiced {
            lag = p.pitch_l[k];
            let rewhite_mask = if p.interpolated { 1 } else { 3 };
            if k & rewhite_mask == 0 {
                let start_idx = fl as i64 - i64::from(lag) - p.lpc_order as i64 - 2;
                let start_idx = start_idx.clamp(0, (fl - p.lpc_order) as i64) as usize;
                // MA prediction (LPC analysis) of the quantized output with zero state.
                let base = start_idx + k * sl;
                let len = fl - start_idx;
                for i in 0..len {
                    let mut acc: i32 = i32::from(st.xq[base + i]) << 12;
                    for d in 0..p.lpc_order {
                        if i > d {
                            acc = acc.wrapping_sub(
                                i32::from(st.xq[base + i - d - 1]) * i32::from(a_q12[d]),
                            );
                        }
                    }
                    s_ltp[start_idx + i] = sat16(rshift_round(acc, 12));
                }
                st.rewhite_flag = true;
                st.s_ltp_buf_idx = fl;
            }
        }
        scale_states(
            st,
            p,
            &x[k * sl..(k + 1) * sl],
            &mut x_sc_q10[..sl],
            &s_ltp,
            &mut s_ltp_q16,
            k,
        );
        quantize_subframe(
            st,
            p.voiced,
            &x_sc_q10[..sl],
            &mut q[k * sl..(k + 1) * sl],
            fl + k * sl,
            &mut s_ltp_q16,
            a_q12,
            b_q14,
            ar_shp,
            lag,
            harm_packed,
            p.tilt_q14[k],
            p.lf_shp_q14[k],
            p.gains_q16[k],
            p.lambda_q10,
            p.offset_q10,
            p.warping_q16,
            sl,
            p.shaping_order,
            p.lpc_order,
        );
    }
    st.lag_prev = p.pitch_l[3];
    st.xq.copy_within(fl..2 * fl, 0);
    st.s_ltp_shp_q10.copy_within(fl..2 * fl, 0);
}

fn scale_states(
    st: &mut NsqState,
    p: &NsqParams<'_>,
    x: &[i16],
    x_sc_q10: &mut [i32],
    s_ltp: &[i16],
    s_ltp_q16: &mut [i32],
    subfr: usize,
) {
    let inv_gain_q16 = inverse32_q32(p.gains_q16[subfr].max(1)).clamp(1, i32::from(i16::MAX));
    let lag = p.pitch_l[subfr].max(0) as usize;
    let lo = st.s_ltp_buf_idx.saturating_sub(lag + LTP_ORDER / 2);
    if st.rewhite_flag {
        let mut inv_gain_q32 = inv_gain_q16 << 16;
        if subfr == 0 {
            inv_gain_q32 = smulwb(inv_gain_q32, p.ltp_scale_q14) << 2;
        }
        for i in lo..st.s_ltp_buf_idx {
            s_ltp_q16[i] = smulwb(inv_gain_q32, i32::from(s_ltp[i]));
        }
    }
    if inv_gain_q16 != st.prev_inv_gain_q16 {
        let gain_adj_q16 = div32_q16(inv_gain_q16, st.prev_inv_gain_q16);
        let shp_lo = st.s_ltp_shp_buf_idx.saturating_sub(p.subfr_length * 4);
        for i in shp_lo..st.s_ltp_shp_buf_idx {
            st.s_ltp_shp_q10[i] = smulww(gain_adj_q16, st.s_ltp_shp_q10[i]);
        }
        if !st.rewhite_flag {
            for i in lo..st.s_ltp_buf_idx {
                s_ltp_q16[i] = smulww(gain_adj_q16, s_ltp_q16[i]);
            }
        }
        st.s_lf_ar_shp_q12 = smulww(gain_adj_q16, st.s_lf_ar_shp_q12);
        for v in st.s_lpc_q14[..NSQ_LPC_BUF].iter_mut() {
            *v = smulww(gain_adj_q16, *v);
        }
        for v in st.s_ar2_q14.iter_mut() {
            *v = smulww(gain_adj_q16, *v);
        }
    }
    for (o, &xi) in x_sc_q10.iter_mut().zip(x) {
        *o = (i32::from(xi) * inv_gain_q16) >> 6;
    }
    st.prev_inv_gain_q16 = inv_gain_q16;
}

#[allow(clippy::too_many_arguments)]
fn quantize_subframe(
    st: &mut NsqState,
    voiced: bool,
    x_sc_q10: &[i32],
    q: &mut [i8],
    xq_pos: usize,
    s_ltp_q16: &mut [i32],
    a_q12: &[i16; 16],
    b_q14: &[i16; LTP_ORDER],
    ar_shp_q13: &[i16; 16],
    lag: i32,
    harm_packed_q14: i32,
    tilt_q14: i32,
    lf_shp_q14: i32,
    gain_q16: i32,
    lambda_q10: i32,
    offset_q10: i32,
    warping_q16: i32,
    length: usize,
    shaping_order: usize,
    lpc_order: usize,
) {
    let lag_u = lag.max(0) as usize;
    let mut shp_lag = (st.s_ltp_shp_buf_idx + HARM_TAPS / 2).wrapping_sub(lag_u);
    let mut pred_lag = (st.s_ltp_buf_idx + LTP_ORDER / 2).wrapping_sub(lag_u);
    let thr1 = -1536 - (lambda_q10 >> 1);
    let mut thr2 = -512 - (lambda_q10 >> 1);
    thr2 += (offset_q10 * lambda_q10) >> 10;
    let thr3 = 512 + (lambda_q10 >> 1);
    let mut lpc_pos = NSQ_LPC_BUF - 1;
    for i in 0..length {
        st.rand_seed = silk_rand(st.rand_seed);
        let dither = st.rand_seed >> 31;
        let mut lpc_pred_q10 = 0i32;
        for j in 0..lpc_order {
            lpc_pred_q10 = smlawb(lpc_pred_q10, st.s_lpc_q14[lpc_pos - j], i32::from(a_q12[j]));
        }
        let mut ltp_pred_q14 = 0i32;
        if voiced && pred_lag >= 4 && pred_lag < s_ltp_q16.len() {
            for j in 0..LTP_ORDER {
                ltp_pred_q14 = smlawb(ltp_pred_q14, s_ltp_q16[pred_lag - j], i32::from(b_q14[j]));
            }
            pred_lag += 1;
        }
        // Noise shape feedback through the (warped) shaping filter: a chain of first-order
        // all-pass sections on the reconstructed signal (plain delays when warping is 0).
        let w = warping_q16;
        let mut tmp2 = smlawb(st.s_lpc_q14[lpc_pos], st.s_ar2_q14[0], w);
        let mut tmp1 = smlawb(st.s_ar2_q14[0], st.s_ar2_q14[1].wrapping_sub(tmp2), w);
        st.s_ar2_q14[0] = tmp2;
        let mut n_ar_q10 = smulwb(tmp2, i32::from(ar_shp_q13[0]));
        let mut j = 2;
        while j < shaping_order {
            tmp2 = smlawb(st.s_ar2_q14[j - 1], st.s_ar2_q14[j].wrapping_sub(tmp1), w);
            st.s_ar2_q14[j - 1] = tmp1;
            n_ar_q10 = smlawb(n_ar_q10, tmp1, i32::from(ar_shp_q13[j - 1]));
            tmp1 = smlawb(st.s_ar2_q14[j], st.s_ar2_q14[j + 1].wrapping_sub(tmp2), w);
            st.s_ar2_q14[j] = tmp2;
            n_ar_q10 = smlawb(n_ar_q10, tmp2, i32::from(ar_shp_q13[j]));
            j += 2;
        }
        st.s_ar2_q14[shaping_order - 1] = tmp1;
        n_ar_q10 = smlawb(n_ar_q10, tmp1, i32::from(ar_shp_q13[shaping_order - 1]));
        n_ar_q10 >>= 1;
        n_ar_q10 = smlawb(n_ar_q10, st.s_lf_ar_shp_q12, tilt_q14);
        let mut n_lf_q10 = smulwb(st.s_ltp_shp_q10[st.s_ltp_shp_buf_idx - 1], lf_shp_q14) << 2;
        n_lf_q10 = smlawt(n_lf_q10, st.s_lf_ar_shp_q12, lf_shp_q14);
        let mut n_ltp_q14 = 0i32;
        if lag > 0 && shp_lag >= 2 && shp_lag < st.s_ltp_shp_q10.len() {
            n_ltp_q14 = smulwb(
                st.s_ltp_shp_q10[shp_lag].wrapping_add(st.s_ltp_shp_q10[shp_lag - 2]),
                harm_packed_q14,
            );
            n_ltp_q14 = smlawt(n_ltp_q14, st.s_ltp_shp_q10[shp_lag - 1], harm_packed_q14);
            n_ltp_q14 <<= 6;
            shp_lag += 1;
        }
        let mut t = ltp_pred_q14.wrapping_sub(n_ltp_q14) >> 4;
        t = t.wrapping_add(lpc_pred_q10);
        t = t.wrapping_sub(n_ar_q10);
        t = t.wrapping_sub(n_lf_q10);
        let mut r_q10 = x_sc_q10[i].wrapping_sub(t);
        r_q10 = (r_q10 ^ dither).wrapping_sub(dither);
        r_q10 = r_q10.wrapping_sub(offset_q10);
        r_q10 = r_q10.clamp(-64 << 10, 64 << 10);
        let mut q_q0 = 0i32;
        let mut q_q10 = 0i32;
        if r_q10 < thr2 {
            if r_q10 < thr1 {
                q_q0 = rshift_round(r_q10 + (lambda_q10 >> 1), 10);
                q_q10 = q_q0 << 10;
            } else {
                q_q0 = -1;
                q_q10 = -1024;
            }
        } else if r_q10 > thr3 {
            q_q0 = rshift_round(r_q10 - (lambda_q10 >> 1), 10);
            q_q10 = q_q0 << 10;
        }
        q_q0 = q_q0.clamp(-64, 64);
        q_q10 = if q_q0 == -1 || q_q0 == 0 {
            q_q10
        } else {
            q_q0 << 10
        };
        q[i] = q_q0 as i8;
        let mut exc_q10 = q_q10 + offset_q10;
        exc_q10 = (exc_q10 ^ dither) - dither;
        let lpc_exc_q10 = exc_q10.wrapping_add(rshift_round(ltp_pred_q14, 4));
        let xq_q10 = lpc_exc_q10.wrapping_add(lpc_pred_q10);
        st.xq[xq_pos + i] = sat16(rshift_round(smulww(xq_q10, gain_q16), 10));
        lpc_pos += 1;
        st.s_lpc_q14[lpc_pos] = xq_q10.wrapping_shl(4);
        let s_lf_ar_shp_q10 = xq_q10.wrapping_sub(n_ar_q10);
        st.s_lf_ar_shp_q12 = s_lf_ar_shp_q10.wrapping_shl(2);
        st.s_ltp_shp_q10[st.s_ltp_shp_buf_idx] = s_lf_ar_shp_q10.wrapping_sub(n_lf_q10);
        s_ltp_q16[st.s_ltp_buf_idx] = lpc_exc_q10.wrapping_shl(6);
        st.s_ltp_shp_buf_idx += 1;
        st.s_ltp_buf_idx += 1;
        st.rand_seed = st.rand_seed.wrapping_add(i32::from(q[i]));
    }
    st.s_lpc_q14.copy_within(length..length + NSQ_LPC_BUF, 0);
}
