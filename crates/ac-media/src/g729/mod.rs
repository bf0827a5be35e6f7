//! G.729 Annex A (8 kbit/s CS-ACELP, reduced complexity) with Annex B (VAD, DTX, comfort
//! noise), written from the algorithm of ITU-T G.729 (03/96) and its Annexes A (11/96) and
//! B (10/96). Floating point, not the Recommendation's bit-exact fixed-point arithmetic: the
//! bitstream is the standard one (interoperates with any G.729A decoder/encoder, checked
//! against bcg729), the decoded samples differ from the fixed-point reference by rounding.
//!
//! Frames are 10 ms: 80 samples of 8 kHz PCM <-> 10 bytes (80 bits, Table 8 of G.729, most
//! significant bit first as RFC 3551 4.5.6 packs them). Annex B adds the 2-byte SID frame
//! (15 bits + 1 zero pad bit) and untransmitted frames.
//!
//! Encoder (G.729 3 / A.3): 140 Hz high-pass pre-processing with the /2 scaling, LP analysis
//! on a 240-sample asymmetric window, LSP quantization (switched MA prediction, 18 bits),
//! interpolation in the LSP domain for the first subframe, open-loop pitch on the weighted
//! speech with decimated correlations (A.3.4), closed-loop integer + 1/3 fractional pitch
//! around it, pitch gain with the taming procedure against error propagation (3.8.1 of the
//! Annex A text), 17-bit algebraic codebook (4 pulses on 4 tracks) with pitch sharpening,
//! conjugate-structure gain VQ (GA 3 bits, GB 4 bits) with the MA-predicted code gain.
//! Deviations: the codebook search is a depth-first search of our own (the 8 best of the 64
//! pulse pairs of tracks 0-1, each completed by every pair of tracks 2-3: 1,024 of the 8,192
//! combinations) instead of Annex A's; the gain search tries all 128 GA x GB pairs instead of
//! the pre-selection of 3.9.2. Quality and speed against bcg729: docs/media.md,
//! docs/benchmarks.md.
//!
//! Decoder (G.729 4 / A.4): parameter decoding with the pitch parity check, excitation,
//! synthesis, Annex A post-filter (long-term post-filter on the residual of A(z/0.55),
//! short-term 1/A(z/0.7), tilt compensation, adaptive gain control), 100 Hz high-pass
//! post-processing with the x2 scaling.

// Index loops mirror the Recommendation's equations sample by sample.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

pub(crate) mod lpc;
pub(crate) mod lspq;
#[allow(clippy::all)]
pub(crate) mod tables;
pub mod vad;

use tables::{GBK1, GBK2, IMAP1, IMAP2, INTER_3L, MAP1, MAP2};

/// Samples per 10 ms frame (8 kHz).
pub const FRAME_SAMPLES: usize = 80;
/// Bytes of a speech frame (80 bits).
pub const FRAME_BYTES: usize = 10;
/// Bytes of an Annex B SID frame (15 bits, RFC 3551 4.5.6).
pub const SID_BYTES: usize = 2;

pub(crate) const M: usize = 10;
pub(crate) const MP1: usize = M + 1;
pub(crate) const L_WINDOW: usize = 240;
const L_FRAME: usize = 80;
const L_SUBFR: usize = 40;
const PIT_MIN: usize = 20;
const PIT_MAX: usize = 143;
const L_INTERPOL: usize = 11;
const EXC_OFF: usize = PIT_MAX + L_INTERPOL;
const GAMMA1: f32 = 0.75;
const SHARPMAX: f32 = 0.8;
const SHARPMIN: f32 = 0.2;
const GPCLIP: f32 = 0.95;
const GP0999: f32 = 0.9999;
const THRESH_ERR: f32 = 60000.0;
/// Mean energy of the innovation, dB (G.729 3.9.1, eq. 69).
const MEAN_ENER: f32 = 30.0;
/// MA gain prediction coefficients (G.729 3.9.1, eq. 71).
const PRED: [f32; 4] = [0.68, 0.58, 0.34, 0.19];
/// Bits of the 11 transmitted parameters (G.729 Table 8).
const BITS: [u32; 11] = [8, 10, 8, 1, 13, 4, 7, 5, 13, 4, 7];

/// What a received G.729 payload frame is (RFC 3551 4.5.6: 10 bytes per speech frame,
/// 2 bytes for an Annex B SID frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// 80-bit speech frame.
    Speech,
    /// 15-bit Annex B SID frame.
    Sid,
}

/// Splits a G.729 RTP payload into its frames: any number of 10-byte speech frames, then at
/// most one 2-byte SID frame at the end (RFC 3551 4.5.6). Anything else is an error.
pub fn split_payload(payload: &[u8]) -> Result<Vec<(FrameKind, &[u8])>, crate::PacketError> {
    let speech = payload.len() / FRAME_BYTES;
    let rest = payload.len() % FRAME_BYTES;
    if rest != 0 && rest != SID_BYTES {
        return Err(crate::PacketError::BadLength("G.729 payload"));
    }
    let mut out = Vec::with_capacity(speech + 1);
    for i in 0..speech {
        out.push((
            FrameKind::Speech,
            &payload[i * FRAME_BYTES..(i + 1) * FRAME_BYTES],
        ));
    }
    if rest == SID_BYTES {
        out.push((FrameKind::Sid, &payload[speech * FRAME_BYTES..]));
    }
    Ok(out)
}

/// Joins frames into one RTP payload (speech frames first, at most one SID last): the
/// inverse of [`split_payload`].
pub fn join_payload(frames: &[(FrameKind, &[u8])]) -> Result<Vec<u8>, crate::PacketError> {
    let mut out = Vec::new();
    for (i, (kind, f)) in frames.iter().enumerate() {
        let (len, last_only) = match kind {
            FrameKind::Speech => (FRAME_BYTES, false),
            FrameKind::Sid => (SID_BYTES, true),
        };
        if f.len() != len || (last_only && i + 1 != frames.len()) {
            return Err(crate::PacketError::BadLength("G.729 frame"));
        }
        out.extend_from_slice(f);
    }
    Ok(out)
}

fn pack(prm: &[u16; 11]) -> [u8; FRAME_BYTES] {
    let mut out = [0u8; FRAME_BYTES];
    let mut pos = 0usize;
    for (p, &n) in prm.iter().zip(BITS.iter()) {
        for b in (0..n).rev() {
            if (p >> b) & 1 == 1 {
                out[pos / 8] |= 0x80 >> (pos % 8);
            }
            pos += 1;
        }
    }
    out
}

fn unpack(frame: &[u8; FRAME_BYTES]) -> [u16; 11] {
    let mut prm = [0u16; 11];
    let mut pos = 0usize;
    for (p, &n) in prm.iter_mut().zip(BITS.iter()) {
        for _ in 0..n {
            let bit = (frame[pos / 8] >> (7 - pos % 8)) & 1;
            *p = (*p << 1) | u16::from(bit);
            pos += 1;
        }
    }
    prm
}

/// Parity bit P0 over the six most significant bits of P1 (G.729 3.7.2).
fn parity(index: u16) -> u16 {
    let mut sum = 1u16;
    let mut t = index >> 1;
    for _ in 0..6 {
        t >>= 1;
        sum += t & 1;
    }
    sum & 1
}

/// Adaptive-codebook vector with 1/3 resolution (G.729 3.7.1, eq. 40): exc[off..off+40] from
/// the past excitation at delay t0 + frac/3 (frac in -1..=1).
fn pred_lt3(exc: &mut [f32], off: usize, t0: usize, frac: i32) {
    let mut x0 = off as isize - t0 as isize;
    let mut frac = -frac;
    if frac < 0 {
        frac += 3;
        x0 -= 1;
    }
    let frac = frac as usize;
    for j in 0..L_SUBFR {
        let x1 = (x0 + j as isize) as usize;
        let x2 = x1 + 1;
        let mut s = 0.0f32;
        for i in 0..10 {
            s += exc[x1 - i] * INTER_3L[frac + 3 * i];
            s += exc[x2 + i] * INTER_3L[3 - frac + 3 * i];
        }
        exc[off + j] = s;
    }
}

/// Impulse response of 1/A(z) over a subframe.
fn impulse(a: &[f32; MP1]) -> [f32; L_SUBFR] {
    let mut h = [0.0f32; L_SUBFR];
    h[0] = 1.0;
    for n in 1..L_SUBFR {
        let mut s = 0.0;
        for k in (1..=n.min(M)).rev() {
            s -= a[k] * h[n - k];
        }
        h[n] = s;
    }
    h
}

fn convolve(x: &[f32], h: &[f32; L_SUBFR]) -> [f32; L_SUBFR] {
    let mut y = [0.0f32; L_SUBFR];
    for n in 0..L_SUBFR {
        let mut s = 0.0;
        for i in 0..=n {
            s += x[i] * h[n - i];
        }
        y[n] = s;
    }
    y
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Backward-filtered target d[n] = sum_{i>=n} x[i] h[i-n].
fn cor_h_x(h: &[f32; L_SUBFR], x: &[f32; L_SUBFR]) -> [f32; L_SUBFR] {
    let mut d = [0.0f32; L_SUBFR];
    for n in 0..L_SUBFR {
        let mut s = 0.0;
        for i in n..L_SUBFR {
            s += x[i] * h[i - n];
        }
        d[n] = s;
    }
    d
}

/// Decoded lag of the first subframe (G.729 3.7.2, eq. 42 inverse).
fn dec_lag_first(index: u16) -> (usize, i32) {
    let index = usize::from(index);
    if index < 197 {
        let t0 = index.div_ceil(3) + 19;
        (t0, index as i32 - 3 * t0 as i32 + 58)
    } else {
        (index - 112, 0)
    }
}

/// Search range of the second subframe around the first subframe's lag (3.7.2).
fn second_range(t0: usize) -> (usize, usize) {
    let mut tmin = t0.saturating_sub(5).max(PIT_MIN);
    let mut tmax = tmin + 9;
    if tmax > PIT_MAX {
        tmax = PIT_MAX;
        tmin = tmax - 9;
    }
    (tmin, tmax)
}

fn dec_lag_second(index: u16, tmin: usize) -> (usize, i32) {
    let index = i32::from(index);
    let i = (index + 2) / 3 - 1;
    let t0 = (i + tmin as i32).clamp(PIT_MIN as i32, PIT_MAX as i32) as usize;
    (t0, index - 2 - 3 * i)
}

/// Zone of the excitation-error memory a lag falls in (taming, 40-sample zones).
fn zone(n: usize) -> usize {
    (n / 40).min(3)
}

/// MA-predicted code gain g'c (G.729 3.9.1, eqs. 66-71) for the innovation `code`.
fn predicted_gain(past_qua_en: &[f32; 4], code: &[f32; L_SUBFR]) -> f32 {
    let ener = 0.01 + dot(code, code);
    let e = 10.0 * (ener / L_SUBFR as f32).log10();
    let mut pred = MEAN_ENER - e;
    for i in 0..4 {
        pred += PRED[i] * past_qua_en[i];
    }
    10f32.powf(pred / 20.0)
}

fn update_past_qua_en(past: &mut [f32; 4], gamma: f32) {
    past.copy_within(0..3, 1);
    past[0] = 20.0 * gamma.max(1e-4).log10();
}

/// Decodes the 17-bit algebraic codebook (positions, signs) into the pulse vector (3.8).
fn decode_acelp(index: u16, sign: u16) -> [f32; L_SUBFR] {
    let mut code = [0.0f32; L_SUBFR];
    let i = usize::from(index);
    let pos = [
        (i & 7) * 5,
        ((i >> 3) & 7) * 5 + 1,
        ((i >> 6) & 7) * 5 + 2,
        ((i >> 10) & 7) * 5 + 3 + ((i >> 9) & 1),
    ];
    for (k, &p) in pos.iter().enumerate() {
        code[p] = if (sign >> k) & 1 == 1 { 1.0 } else { -1.0 };
    }
    code
}

/// Pitch sharpening of a subframe vector: x[i] += beta x[i - t0] (3.8, eq. 48).
fn sharpen(x: &mut [f32; L_SUBFR], t0: usize, beta: f32) {
    if t0 < L_SUBFR {
        for i in t0..L_SUBFR {
            x[i] += beta * x[i - t0];
        }
    }
}

/// G.729 Annex A encoder (with the Annex B VAD/DTX when enabled).
#[derive(Clone)]
pub struct Encoder {
    hp: [f32; 4],
    old_speech: [f32; L_WINDOW],
    old_wsp: [f32; PIT_MAX + L_FRAME],
    old_exc: [f32; EXC_OFF + L_FRAME],
    mem_w: [f32; M],
    mem_w0: [f32; M],
    lsp_old: [f32; M],
    lsp_old_q: [f32; M],
    a_prev: [f32; MP1],
    pred: lspq::LspPredictor,
    past_qua_en: [f32; 4],
    sharp: f32,
    exc_err: [f32; 4],
    dtx: Option<Box<vad::Dtx>>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(false)
    }
}

/// One encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// A 10-byte speech frame.
    Speech([u8; FRAME_BYTES]),
    /// An Annex B SID frame (2 bytes).
    Sid([u8; SID_BYTES]),
    /// Annex B: nothing is sent for this frame.
    NoTx,
}

impl Encoded {
    /// The payload bytes of this frame (empty when nothing is sent).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Encoded::Speech(b) => b,
            Encoded::Sid(b) => b,
            Encoded::NoTx => &[],
        }
    }
}

impl Encoder {
    /// A new encoder; `annex_b` enables VAD and DTX (SID and untransmitted frames).
    pub fn new(annex_b: bool) -> Self {
        let mut a_prev = [0.0f32; MP1];
        a_prev[0] = 1.0;
        Self {
            hp: [0.0; 4],
            old_speech: [0.0; L_WINDOW],
            old_wsp: [0.0; PIT_MAX + L_FRAME],
            old_exc: [0.0; EXC_OFF + L_FRAME],
            mem_w: [0.0; M],
            mem_w0: [0.0; M],
            lsp_old: lpc::LSP_RESET,
            lsp_old_q: lpc::LSP_RESET,
            a_prev,
            pred: lspq::LspPredictor::new(),
            past_qua_en: [-14.0; 4],
            sharp: SHARPMIN,
            exc_err: [1.0; 4],
            dtx: if annex_b {
                Some(Box::new(vad::Dtx::new()))
            } else {
                None
            },
        }
    }

    /// Whether Annex B (VAD/DTX) is on.
    pub fn annex_b(&self) -> bool {
        self.dtx.is_some()
    }

    /// Encodes one 10 ms frame. Without Annex B the result is always `Encoded::Speech`.
    pub fn encode(&mut self, pcm: &[i16; FRAME_SAMPLES]) -> Encoded {
        // Pre-processing (3.1): 2nd-order 140 Hz high-pass, input divided by 2.
        const B: [f32; 3] = [0.463_637_18, -0.927_247_05, 0.463_637_18];
        const A: [f32; 3] = [1.0, 1.905_946_5, -0.911_402_4];
        self.old_speech.copy_within(L_FRAME.., 0);
        let [mut x1, mut x2, mut y1, mut y2] = self.hp;
        for (i, &s) in pcm.iter().enumerate() {
            let x0 = f32::from(s);
            let y0 = B[0] * x0 + B[1] * x1 + B[2] * x2 + A[1] * y1 + A[2] * y2;
            x2 = x1;
            x1 = x0;
            y2 = y1;
            y1 = y0;
            self.old_speech[L_WINDOW - L_FRAME + i] = y0;
        }
        self.hp = [x1, x2, y1, y2];

        // LP analysis (3.2).
        let r = lpc::autocorr(&self.old_speech);
        let a = match lpc::levinson(&r) {
            Some(a) => {
                self.a_prev = a;
                a
            }
            None => self.a_prev,
        };
        let mut lsp_new = [0.0f32; M];
        lpc::az_to_lsp(&a, &mut lsp_new, &self.lsp_old);

        if let Some(dtx) = self.dtx.as_mut() {
            if !dtx.vad.process(pcm) {
                let out = dtx.encode_inactive(
                    &self.old_speech,
                    L_WINDOW - L_FRAME - 40,
                    &a,
                    &lsp_new,
                    &mut self.pred,
                    &mut self.lsp_old_q,
                    &self.past_qua_en,
                );
                // Keep the encoder's memories consistent with a decoder running CNG
                // (B.4.4): excitation and filter memories follow the comfort noise.
                self.update_inactive(&lsp_new);
                return out;
            }
            dtx.active_frame();
        }

        let (lsp_new_q, p0, p1) = lspq::quantize(&mut self.pred, &lsp_new);
        let mut lsp_mid = [0.0f32; M];
        for i in 0..M {
            lsp_mid[i] = 0.5 * (self.lsp_old_q[i] + lsp_new_q[i]);
        }
        let aq = [lpc::lsp_to_az(&lsp_mid), lpc::lsp_to_az(&lsp_new_q)];
        let ap = [
            lpc::weight_az(&aq[0], GAMMA1),
            lpc::weight_az(&aq[1], GAMMA1),
        ];
        self.lsp_old = lsp_new;
        self.lsp_old_q = lsp_new_q;
        let prm = self.encode_subframes(&aq, &ap, p0, p1);
        self.shift();
        Encoded::Speech(pack(&prm))
    }

    fn shift(&mut self) {
        self.old_wsp.copy_within(L_FRAME.., 0);
        self.old_exc.copy_within(L_FRAME.., 0);
    }

    /// After an inactive frame: the comfort-noise excitation the DTX module generated becomes
    /// the encoder's past excitation, and the weighting filter memories follow it.
    fn update_inactive(&mut self, lsp_new: &[f32; M]) {
        if let Some(dtx) = self.dtx.as_mut() {
            let (exc, aq) = dtx.last_cng();
            self.old_exc[EXC_OFF..].copy_from_slice(exc);
            // Weighted speech memories: filter the speech residual as in an active frame.
            let speech_off = L_WINDOW - L_FRAME - 40;
            for s in 0..2 {
                let a = &aq[s];
                let mut res = [0.0f32; L_SUBFR];
                lpc::residu(a, &self.old_speech, speech_off + s * L_SUBFR, &mut res);
                let ap = lpc::weight_az(a, GAMMA1);
                let mut ap1 = ap;
                for i in 1..MP1 {
                    ap1[i] = ap[i] - 0.7 * ap[i - 1];
                }
                let mut w = [0.0f32; L_SUBFR];
                lpc::syn_filt(&ap1, &res, &mut w, &mut self.mem_w, true);
                self.old_wsp[PIT_MAX + s * L_SUBFR..PIT_MAX + (s + 1) * L_SUBFR]
                    .copy_from_slice(&w);
                // Target memory: error between the weighted speech and the weighted CNG.
                let mut xn = [0.0f32; L_SUBFR];
                let mut m = self.mem_w0;
                lpc::syn_filt(&ap, &res, &mut xn, &mut m, false);
                let mut yn = [0.0f32; L_SUBFR];
                let mut z = [0.0f32; M];
                lpc::syn_filt(
                    &ap,
                    &exc[s * L_SUBFR..(s + 1) * L_SUBFR],
                    &mut yn,
                    &mut z,
                    false,
                );
                for j in 0..M {
                    self.mem_w0[j] = xn[L_SUBFR - M + j] - yn[L_SUBFR - M + j];
                }
            }
            self.lsp_old = *lsp_new;
            self.sharp = SHARPMIN;
        }
        self.shift();
    }

    fn open_loop_pitch(&self) -> usize {
        // A.3.4: correlations on even samples, three lag sections, the largest normalized
        // maximum wins.
        let w = &self.old_wsp;
        let corr = |t: usize| -> f32 {
            let mut s = 0.0;
            let mut j = 0;
            while j < L_FRAME {
                s += w[PIT_MAX + j] * w[PIT_MAX + j - t];
                j += 2;
            }
            s
        };
        let norm = |t: usize, c: f32| -> f32 {
            let mut e = 1.0;
            let mut j = 0;
            while j < L_FRAME {
                let v = w[PIT_MAX + j - t];
                e += v * v;
                j += 2;
            }
            c / e.sqrt()
        };
        let section = |lo: usize, hi: usize, step: usize| -> (usize, f32) {
            let mut best = (lo, f32::NEG_INFINITY);
            let mut t = lo;
            while t < hi {
                let c = corr(t);
                if c > best.1 {
                    best = (t, c);
                }
                t += step;
            }
            best
        };
        let (t1, c1) = section(20, 40, 1);
        let (t2, c2) = section(40, 80, 1);
        let (mut t3, mut c3) = section(80, 143, 2);
        let t = t3;
        for cand in [t + 1, t - 1] {
            if cand <= PIT_MAX {
                let c = corr(cand);
                if c > c3 {
                    c3 = c;
                    t3 = cand;
                }
            }
        }
        let (mut t, mut m) = (t1, norm(t1, c1));
        let m2 = norm(t2, c2);
        if m < m2 {
            t = t2;
            m = m2;
        }
        if m < norm(t3, c3) {
            t = t3;
        }
        t
    }

    fn taming(&self, t0: usize, frac: i32) -> bool {
        let t1 = if frac > 0 { t0 + 1 } else { t0 };
        let z1 = zone(t1.saturating_sub(L_SUBFR + 10));
        let z2 = zone(t1 + 8);
        (z1..=z2).any(|i| self.exc_err[i] > THRESH_ERR)
    }

    fn update_exc_err(&mut self, gp: f32, t0: usize) {
        let mut worst = -1.0f32;
        if t0 < L_SUBFR {
            let t = 1.0 + gp * self.exc_err[0];
            worst = worst.max(t);
            worst = worst.max(1.0 + gp * t);
        } else {
            for i in zone(t0 - L_SUBFR)..=zone(t0 - 1) {
                worst = worst.max(1.0 + gp * self.exc_err[i]);
            }
        }
        self.exc_err.copy_within(0..3, 1);
        self.exc_err[0] = worst;
    }

    fn encode_subframes(
        &mut self,
        aq: &[[f32; MP1]; 2],
        ap: &[[f32; MP1]; 2],
        p0: u16,
        p1: u16,
    ) -> [u16; 11] {
        let mut prm = [0u16; 11];
        prm[0] = p0;
        prm[1] = p1;
        let speech_off = L_WINDOW - L_FRAME - 40;
        // LP residual into the current excitation, weighted speech (A.3.3).
        for s in 0..2 {
            let mut res = [0.0f32; L_SUBFR];
            lpc::residu(&aq[s], &self.old_speech, speech_off + s * L_SUBFR, &mut res);
            self.old_exc[EXC_OFF + s * L_SUBFR..EXC_OFF + (s + 1) * L_SUBFR].copy_from_slice(&res);
            let mut ap1 = ap[s];
            for i in 1..MP1 {
                ap1[i] = ap[s][i] - 0.7 * ap[s][i - 1];
            }
            let mut w = [0.0f32; L_SUBFR];
            lpc::syn_filt(&ap1, &res, &mut w, &mut self.mem_w, true);
            self.old_wsp[PIT_MAX + s * L_SUBFR..PIT_MAX + (s + 1) * L_SUBFR].copy_from_slice(&w);
        }
        let t_op = self.open_loop_pitch();
        let mut t0_min = t_op.saturating_sub(3).max(PIT_MIN);
        let mut t0_max = t0_min + 6;
        if t0_max > PIT_MAX {
            t0_max = PIT_MAX;
            t0_min = t0_max - 6;
        }
        for s in 0..2 {
            let off = EXC_OFF + s * L_SUBFR;
            let h1 = impulse(&ap[s]);
            let mut xn = [0.0f32; L_SUBFR];
            {
                let mut m = self.mem_w0;
                let res: [f32; L_SUBFR] = self.old_exc[off..off + L_SUBFR]
                    .try_into()
                    .unwrap_or([0.0; L_SUBFR]);
                lpc::syn_filt(&ap[s], &res, &mut xn, &mut m, false);
            }
            // Closed-loop pitch (A.3.7): integer lag, then fractions -1/3, 0, +1/3.
            let dn = cor_h_x(&h1, &xn);
            let mut t0 = t0_min;
            let mut best = f32::NEG_INFINITY;
            for t in t0_min..=t0_max {
                let c = dot(&dn, &self.old_exc[off - t..off - t + L_SUBFR]);
                if c > best {
                    best = c;
                    t0 = t;
                }
            }
            let mut frac = 0i32;
            pred_lt3(&mut self.old_exc, off, t0, 0);
            if !(s == 0 && t0 > 84) {
                let mut bestc = dot(&dn, &self.old_exc[off..off + L_SUBFR]);
                for f in [-1, 1] {
                    pred_lt3(&mut self.old_exc, off, t0, f);
                    let c = dot(&dn, &self.old_exc[off..off + L_SUBFR]);
                    if c > bestc {
                        bestc = c;
                        frac = f;
                    }
                }
                pred_lt3(&mut self.old_exc, off, t0, frac);
            }
            // Lag encoding (3.7.2).
            if s == 0 {
                let idx = if t0 <= 85 {
                    (3 * t0 as i32 - 58 + frac) as u16
                } else {
                    (t0 + 112) as u16
                };
                prm[2] = idx;
                prm[3] = parity(idx);
                let (a, b) = second_range(t0);
                t0_min = a;
                t0_max = b;
            } else {
                prm[7] = (3 * (t0 as i32 - t0_min as i32) + 2 + frac) as u16;
            }
            let mut v = [0.0f32; L_SUBFR];
            v.copy_from_slice(&self.old_exc[off..off + L_SUBFR]);
            let y1 = convolve(&v, &h1);
            let yy = dot(&y1, &y1);
            let xy = dot(&xn, &y1);
            let mut gp = if yy > 0.01 {
                (xy / yy).clamp(0.0, 1.2)
            } else {
                0.0
            };
            let taming = self.taming(t0, frac);
            if taming && gp > GPCLIP {
                gp = GPCLIP;
            }
            let mut xn2 = [0.0f32; L_SUBFR];
            for i in 0..L_SUBFR {
                xn2[i] = xn[i] - gp * y1[i];
            }
            // Algebraic codebook (3.8 / A.3.8).
            let mut h = h1;
            sharpen(&mut h, t0, self.sharp);
            let (pos_idx, sign_idx, code, y2) = acelp_search(&xn2, &h, t0, self.sharp);
            let (pi, si) = if s == 0 { (4, 5) } else { (8, 9) };
            prm[pi] = pos_idx;
            prm[si] = sign_idx;
            // Gain quantization (3.9).
            let c = [
                yy,
                -2.0 * xy,
                dot(&y2, &y2),
                -2.0 * dot(&xn, &y2),
                2.0 * dot(&y1, &y2),
            ];
            let gcode0 = predicted_gain(&self.past_qua_en, &code);
            let mut bestd = f32::INFINITY;
            let mut sel = (0usize, 0usize);
            for (i, g1) in GBK1.iter().enumerate() {
                for (j, g2) in GBK2.iter().enumerate() {
                    let g_p = g1[0] + g2[0];
                    if taming && g_p >= GP0999 {
                        continue;
                    }
                    let g_c = gcode0 * (g1[1] + g2[1]);
                    let d = c[0] * g_p * g_p
                        + c[1] * g_p
                        + c[2] * g_c * g_c
                        + c[3] * g_c
                        + c[4] * g_p * g_c;
                    if d < bestd {
                        bestd = d;
                        sel = (i, j);
                    }
                }
            }
            let (i, j) = sel;
            let gp = GBK1[i][0] + GBK2[j][0];
            let gamma = GBK1[i][1] + GBK2[j][1];
            let gc = gcode0 * gamma;
            update_past_qua_en(&mut self.past_qua_en, gamma);
            prm[if s == 0 { 6 } else { 10 }] = u16::from(MAP1[i]) * 16 + u16::from(MAP2[j]);
            self.sharp = gp.clamp(SHARPMIN, SHARPMAX);
            for k in 0..L_SUBFR {
                let e = gp * self.old_exc[off + k] + gc * code[k];
                self.old_exc[off + k] = e.clamp(-32768.0, 32767.0);
            }
            self.update_exc_err(gp, t0);
            for j in 0..M {
                let k = L_SUBFR - M + j;
                self.mem_w0[j] = xn[k] - gp * y1[k] - gc * y2[k];
            }
        }
        prm
    }
}

/// Algebraic codebook search (G.729 3.8, A.3.8): signs from the backward-filtered target,
/// positions maximizing C^2/E (depth-first, see the module documentation). Returns the position
/// index (13 bits), sign index (4 bits), the sharpened code vector and its filtered version.
fn acelp_search(
    x: &[f32; L_SUBFR],
    h: &[f32; L_SUBFR],
    t0: usize,
    sharp: f32,
) -> (u16, u16, [f32; L_SUBFR], [f32; L_SUBFR]) {
    let dn = cor_h_x(h, x);
    let mut sign = [1.0f32; L_SUBFR];
    let mut d = [0.0f32; L_SUBFR];
    for i in 0..L_SUBFR {
        if dn[i] < 0.0 {
            sign[i] = -1.0;
        }
        d[i] = dn[i].abs();
    }
    // Correlation matrix phi(i, j) = sum_n h[n-i] h[n-j], signs folded in, off-diagonal x2.
    let mut phi = [[0.0f32; L_SUBFR]; L_SUBFR];
    for k in 0..L_SUBFR {
        let mut acc = 0.0f32;
        for i in (0..L_SUBFR - k).rev() {
            let m = L_SUBFR - 1 - i;
            acc += h[m] * h[m - k];
            let j = i + k;
            if k == 0 {
                phi[i][i] = acc;
            } else {
                let v = 2.0 * acc * sign[i] * sign[j];
                phi[i][j] = v;
                phi[j][i] = v;
            }
        }
    }
    let track3: [usize; 16] = [3, 8, 13, 18, 23, 28, 33, 38, 4, 9, 14, 19, 24, 29, 34, 39];
    // Depth-first search: the (i0, i1) pairs ranked by C^2/E of the two pulses, and for the
    // best PAIRS of them every (i2, i3) completion.
    const PAIRS: usize = 8;
    let mut pairs = [(0.0f32, 1.0f32, 0usize, 1usize); 64];
    let mut n = 0;
    for i0 in (0..L_SUBFR).step_by(5) {
        for i1 in (1..L_SUBFR).step_by(5) {
            let c = d[i0] + d[i1];
            let e = phi[i0][i0] + phi[i1][i1] + phi[i0][i1];
            pairs[n] = (c, e, i0, i1);
            n += 1;
        }
    }
    pairs.select_nth_unstable_by(PAIRS - 1, |a, b| {
        (b.0 * b.0 * a.1).total_cmp(&(a.0 * a.0 * b.1))
    });
    let mut best = (-1.0f32, 1.0f32, [0usize, 1, 2, 3]);
    for &(c1, e1, i0, i1) in &pairs[..PAIRS] {
        let mut r01 = [0.0f32; 16];
        for (n, &i3) in track3.iter().enumerate() {
            r01[n] = phi[i3][i3] + phi[i0][i3] + phi[i1][i3];
        }
        for i2 in (2..L_SUBFR).step_by(5) {
            let c2 = c1 + d[i2];
            let e2 = e1 + phi[i2][i2] + phi[i0][i2] + phi[i1][i2];
            let row = &phi[i2];
            for (n, &i3) in track3.iter().enumerate() {
                let c = c2 + d[i3];
                let e = e2 + r01[n] + row[i3];
                if c * c * best.1 > best.0 * e {
                    best = (c * c, e, [i0, i1, i2, i3]);
                }
            }
        }
    }
    let p = best.2;
    let mut code = [0.0f32; L_SUBFR];
    let mut y = [0.0f32; L_SUBFR];
    let mut sign_idx = 0u16;
    for (k, &pos) in p.iter().enumerate() {
        code[pos] = sign[pos];
        if sign[pos] > 0.0 {
            sign_idx |= 1 << k;
        }
        for n in pos..L_SUBFR {
            y[n] += sign[pos] * h[n - pos];
        }
    }
    let jx = (p[3] % 5 - 3) as u16;
    let pos_idx = (p[0] / 5) as u16
        | (((p[1] / 5) as u16) << 3)
        | (((p[2] / 5) as u16) << 6)
        | ((((p[3] / 5) as u16) * 2 + jx) << 9);
    sharpen(&mut code, t0, sharp);
    (pos_idx, sign_idx, code, y)
}

/// G.729 Annex A decoder with Annex B comfort-noise generation.
#[derive(Clone)]
pub struct Decoder {
    old_exc: [f32; EXC_OFF + L_FRAME],
    mem_syn: [f32; M],
    lsp_old: [f32; M],
    pred: lspq::LspPredictor,
    past_qua_en: [f32; 4],
    sharp: f32,
    old_t0: usize,
    post: PostFilter,
    hp: [f32; 4],
    cng: vad::Cng,
    prev_active: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// What the decoder is given for one 10 ms frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderInput<'a> {
    /// A 10-byte speech frame.
    Speech(&'a [u8; FRAME_BYTES]),
    /// A 2-byte SID frame (Annex B).
    Sid(&'a [u8; SID_BYTES]),
    /// No frame was sent (Annex B DTX): comfort noise continues.
    NoTx,
}

impl Decoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self {
            old_exc: [0.0; EXC_OFF + L_FRAME],
            mem_syn: [0.0; M],
            lsp_old: lpc::LSP_RESET,
            pred: lspq::LspPredictor::new(),
            past_qua_en: [-14.0; 4],
            sharp: SHARPMIN,
            old_t0: 60,
            post: PostFilter::new(),
            hp: [0.0; 4],
            cng: vad::Cng::new(),
            prev_active: true,
        }
    }

    /// Decodes a frame given as bytes: 10 bytes = speech, 2 bytes = SID, 0 bytes = no
    /// transmission. Other lengths are refused.
    pub fn decode_bytes(
        &mut self,
        frame: &[u8],
        out: &mut [i16; FRAME_SAMPLES],
    ) -> Result<(), crate::PacketError> {
        match frame.len() {
            FRAME_BYTES => {
                let mut f = [0u8; FRAME_BYTES];
                f.copy_from_slice(frame);
                self.decode(DecoderInput::Speech(&f), out);
            }
            SID_BYTES => self.decode(DecoderInput::Sid(&[frame[0], frame[1]]), out),
            0 => self.decode(DecoderInput::NoTx, out),
            _ => return Err(crate::PacketError::BadLength("G.729 frame")),
        }
        Ok(())
    }

    /// Decodes one frame into 80 samples.
    pub fn decode(&mut self, input: DecoderInput<'_>, out: &mut [i16; FRAME_SAMPLES]) {
        let mut syn = [0.0f32; L_FRAME];
        let (aq, t) = match input {
            DecoderInput::Speech(f) => {
                self.prev_active = true;
                self.decode_speech(&unpack(f), &mut syn)
            }
            DecoderInput::Sid(_) | DecoderInput::NoTx => {
                let sid = match input {
                    DecoderInput::Sid(b) => Some(*b),
                    _ => None,
                };
                let first = self.prev_active;
                self.prev_active = false;
                let aq = self.cng.generate(
                    sid,
                    first,
                    &mut self.lsp_old,
                    &mut self.pred,
                    &self.past_qua_en,
                    &mut self.old_exc[EXC_OFF..],
                );
                for s in 0..2 {
                    let mut e = [0.0f32; L_SUBFR];
                    e.copy_from_slice(
                        &self.old_exc[EXC_OFF + s * L_SUBFR..EXC_OFF + (s + 1) * L_SUBFR],
                    );
                    lpc::syn_filt(
                        &aq[s],
                        &e,
                        &mut syn[s * L_SUBFR..(s + 1) * L_SUBFR],
                        &mut self.mem_syn,
                        true,
                    );
                }
                self.sharp = SHARPMIN;
                self.old_exc.copy_within(L_FRAME.., 0);
                (aq, [self.old_t0, self.old_t0])
            }
        };
        let mut pst = [0.0f32; L_FRAME];
        self.post.run(&syn, &aq, &t, &mut pst);
        // Post-processing (4.2.5): 100 Hz high-pass and x2.
        const B: [f32; 3] = [0.939_805_8, -1.879_583_4, 0.939_805_8];
        const A: [f32; 3] = [1.0, 1.933_073_5, -0.935_892];
        let [mut x1, mut x2, mut y1, mut y2] = self.hp;
        for i in 0..L_FRAME {
            let x0 = pst[i];
            let y0 = B[0] * x0 + B[1] * x1 + B[2] * x2 + A[1] * y1 + A[2] * y2;
            x2 = x1;
            x1 = x0;
            y2 = y1;
            y1 = y0;
            out[i] = (2.0 * y0).round().clamp(-32768.0, 32767.0) as i16;
        }
        if !(y1.is_finite() && y2.is_finite()) {
            y1 = 0.0;
            y2 = 0.0;
        }
        self.hp = [x1, x2, y1, y2];
    }

    fn decode_speech(
        &mut self,
        prm: &[u16; 11],
        syn: &mut [f32; L_FRAME],
    ) -> ([[f32; MP1]; 2], [usize; 2]) {
        let lsp_new = lspq::dequantize(&mut self.pred, prm[0], prm[1]);
        let mut lsp_mid = [0.0f32; M];
        for i in 0..M {
            lsp_mid[i] = 0.5 * (self.lsp_old[i] + lsp_new[i]);
        }
        let aq = [lpc::lsp_to_az(&lsp_mid), lpc::lsp_to_az(&lsp_new)];
        self.lsp_old = lsp_new;
        let mut t = [0usize; 2];
        let mut tmin = PIT_MIN;
        for s in 0..2 {
            let off = EXC_OFF + s * L_SUBFR;
            let (t0, frac) = if s == 0 {
                if parity(prm[2]) != prm[3] {
                    // Parity error (4.1.2): the lag of the previous frame, slowly increased.
                    let t0 = self.old_t0;
                    self.old_t0 = (self.old_t0 + 1).min(PIT_MAX);
                    (t0, 0)
                } else {
                    let (t0, f) = dec_lag_first(prm[2]);
                    self.old_t0 = t0;
                    (t0, f)
                }
            } else {
                let (t0, f) = dec_lag_second(prm[7], tmin);
                self.old_t0 = t0;
                (t0, f)
            };
            if s == 0 {
                tmin = second_range(t0).0;
            }
            t[s] = t0;
            pred_lt3(&mut self.old_exc, off, t0, frac);
            let (pi, si, gi) = if s == 0 { (4, 5, 6) } else { (8, 9, 10) };
            let mut code = decode_acelp(prm[pi], prm[si]);
            sharpen(&mut code, t0, self.sharp);
            let gcode0 = predicted_gain(&self.past_qua_en, &code);
            let i1 = usize::from(IMAP1[usize::from(prm[gi] >> 4) & 7]);
            let i2 = usize::from(IMAP2[usize::from(prm[gi] & 15)]);
            let gp = GBK1[i1][0] + GBK2[i2][0];
            let gamma = GBK1[i1][1] + GBK2[i2][1];
            let gc = gcode0 * gamma;
            update_past_qua_en(&mut self.past_qua_en, gamma);
            self.sharp = gp.clamp(SHARPMIN, SHARPMAX);
            for k in 0..L_SUBFR {
                let e = gp * self.old_exc[off + k] + gc * code[k];
                self.old_exc[off + k] = e.clamp(-32768.0, 32767.0);
            }
        }
        self.cng.speech_frame(&self.old_exc[EXC_OFF..], &lsp_new);
        // Synthesis (4.1.6); on overflow the past excitation is scaled down by 4 and the
        // synthesis redone, as the Recommendation's decoder does.
        let mem0 = self.mem_syn;
        for attempt in 0..2 {
            self.mem_syn = mem0;
            let mut overflow = false;
            for s in 0..2 {
                let mut e = [0.0f32; L_SUBFR];
                e.copy_from_slice(
                    &self.old_exc[EXC_OFF + s * L_SUBFR..EXC_OFF + (s + 1) * L_SUBFR],
                );
                let part = &mut syn[s * L_SUBFR..(s + 1) * L_SUBFR];
                lpc::syn_filt(&aq[s], &e, part, &mut self.mem_syn, true);
                overflow |= part.iter().any(|v| v.is_nan() || v.abs() >= 32768.0);
            }
            if !overflow {
                break;
            }
            for v in self.old_exc.iter_mut() {
                *v *= 0.25;
            }
            if attempt == 1 {
                for v in syn.iter_mut() {
                    *v = if v.is_finite() {
                        v.clamp(-32768.0, 32767.0)
                    } else {
                        0.0
                    };
                }
                for v in self.mem_syn.iter_mut() {
                    *v = if v.is_finite() {
                        v.clamp(-32768.0, 32767.0)
                    } else {
                        0.0
                    };
                }
            }
        }
        self.old_exc.copy_within(L_FRAME.., 0);
        (aq, t)
    }
}

/// Annex A post-filter (A.4.2): long-term post-filter on the residual of A(z/0.55), tilt
/// compensation, short-term 1/A(z/0.7), adaptive gain control.
#[derive(Clone)]
struct PostFilter {
    syn_hist: [f32; M],
    res2: [f32; PIT_MAX + L_SUBFR],
    mem_pre: f32,
    mem_syn_pst: [f32; M],
    past_gain: f32,
}

impl PostFilter {
    fn new() -> Self {
        Self {
            syn_hist: [0.0; M],
            res2: [0.0; PIT_MAX + L_SUBFR],
            mem_pre: 0.0,
            mem_syn_pst: [0.0; M],
            past_gain: 1.0,
        }
    }

    fn run(
        &mut self,
        syn: &[f32; L_FRAME],
        aq: &[[f32; MP1]; 2],
        t: &[usize; 2],
        out: &mut [f32; L_FRAME],
    ) {
        let mut buf = [0.0f32; M + L_FRAME];
        buf[..M].copy_from_slice(&self.syn_hist);
        buf[M..].copy_from_slice(syn);
        for s in 0..2 {
            let mut t0_min = t[s].saturating_sub(3).max(PIT_MIN);
            let mut t0_max = t0_min + 6;
            if t0_max > PIT_MAX {
                t0_max = PIT_MAX;
                t0_min = t0_max - 6;
            }
            let ap3 = lpc::weight_az(&aq[s], 0.55);
            let ap4 = lpc::weight_az(&aq[s], 0.70);
            let mut r = [0.0f32; L_SUBFR];
            lpc::residu(&ap3, &buf, M + s * L_SUBFR, &mut r);
            self.res2[PIT_MAX..].copy_from_slice(&r);
            // Long-term post-filter.
            let res2 = &self.res2;
            let mut cmax = f32::NEG_INFINITY;
            let mut t0 = t0_min;
            for tt in t0_min..=t0_max {
                let c = dot(
                    &res2[PIT_MAX..],
                    &res2[PIT_MAX - tt..PIT_MAX - tt + L_SUBFR],
                );
                if c > cmax {
                    cmax = c;
                    t0 = tt;
                }
            }
            let del = &res2[PIT_MAX - t0..PIT_MAX - t0 + L_SUBFR];
            let ener = 1.0 + dot(del, del);
            let ener0 = 1.0 + dot(&res2[PIT_MAX..], &res2[PIT_MAX..]);
            let cmax = cmax.max(0.0);
            let mut pst = [0.0f32; L_SUBFR];
            if cmax * cmax < 0.5 * ener * ener0 {
                pst.copy_from_slice(&r);
            } else {
                let (g0, gain) = if cmax > ener {
                    (1.0 / 1.5, 0.5 / 1.5)
                } else {
                    let c = 0.5 * cmax;
                    let d = ener + c;
                    (ener / d, c / d)
                };
                for i in 0..L_SUBFR {
                    pst[i] = g0 * r[i] + gain * del[i];
                }
            }
            // Tilt compensation from the impulse response of A(z/0.55)/A(z/0.7), 22 samples.
            let mut hin = [0.0f32; 22];
            hin[..MP1].copy_from_slice(&ap3);
            let mut h = [0.0f32; 22];
            let mut z = [0.0f32; M];
            lpc::syn_filt(&ap4, &hin, &mut h, &mut z, false);
            let rh0 = dot(&h, &h);
            let rh1 = dot(&h[..21], &h[1..]);
            let g = if rh1 > 0.0 && rh0 > 0.0 {
                0.8 * rh1 / rh0
            } else {
                0.0
            };
            let last = pst[L_SUBFR - 1];
            for i in (1..L_SUBFR).rev() {
                pst[i] -= g * pst[i - 1];
            }
            pst[0] -= g * self.mem_pre;
            self.mem_pre = last;
            let mut y = [0.0f32; L_SUBFR];
            lpc::syn_filt(&ap4, &pst, &mut y, &mut self.mem_syn_pst, true);
            // Adaptive gain control.
            let sig_in = &syn[s * L_SUBFR..(s + 1) * L_SUBFR];
            let gout = dot(&y, &y);
            let o = &mut out[s * L_SUBFR..(s + 1) * L_SUBFR];
            if gout.is_nan() || gout <= 0.0 || !gout.is_finite() {
                self.past_gain = 0.0;
                o.fill(0.0);
                self.mem_syn_pst = [0.0; M];
            } else {
                let gin = dot(sig_in, sig_in);
                let g0 = 0.1 * (gin / gout).sqrt();
                for i in 0..L_SUBFR {
                    self.past_gain = 0.9 * self.past_gain + g0;
                    o[i] = y[i] * self.past_gain;
                }
            }
            self.res2.copy_within(L_SUBFR.., 0);
        }
        self.syn_hist.copy_from_slice(&syn[L_FRAME - M..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_roundtrip() {
        let prm: [u16; 11] = [
            0xa5, 0x2f3, 0x7e, 1, 0x1abc, 0x9, 0x55, 0x1b, 0x0f0f, 0x6, 0x3c,
        ];
        assert_eq!(unpack(&pack(&prm)), prm);
    }

    #[test]
    fn lag_codes_roundtrip() {
        // Fractions only below 85 (the encoder searches none above 84 in subframe 1).
        for t0 in 20..=84usize {
            for frac in -1..=1 {
                let idx = (3 * t0 as i32 - 58 + frac) as u16;
                assert_eq!(dec_lag_first(idx), (t0, frac));
            }
        }
        assert_eq!(dec_lag_first(3 * 85 - 58), (85, 0));
        for t0 in 86..=143usize {
            assert_eq!(dec_lag_first((t0 + 112) as u16), (t0, 0));
        }
        let (tmin, tmax) = second_range(60);
        for t0 in tmin..=tmax {
            for frac in -1..=1 {
                let idx = (3 * (t0 as i32 - tmin as i32) + 2 + frac) as u16;
                assert_eq!(dec_lag_second(idx, tmin), (t0, frac));
            }
        }
    }

    #[test]
    fn lsp_az_roundtrip() {
        let a = lpc::lsp_to_az(&lpc::LSP_RESET);
        let mut lsp = [0.0f32; M];
        lpc::az_to_lsp(&a, &mut lsp, &[0.0; M]);
        for i in 0..M {
            assert!((lsp[i] - lpc::LSP_RESET[i]).abs() < 2e-3, "{i}: {lsp:?}");
        }
    }
}
