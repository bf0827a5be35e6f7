//! LSP quantization (G.729 3.2.4): switched 4th-order MA prediction of the LSFs, a 7-bit first
//! stage and a split 5 + 5-bit second stage, with the minimum-distance rearrangement and
//! the stability check of 3.2.4 / 4.2.

use super::tables::{FG, FG_SUM, FG_SUM_INV, LSPCB1, LSPCB2};
use super::M;

const NC: usize = M / 2;
/// Minimum distances of 3.2.4 (eq. 19 and 4.2): 0.0012, 0.0006 and 0.0392 rad (Q13 10, 5, 321).
const GAP1: f32 = 10.0 / 8192.0;
const GAP2: f32 = 5.0 / 8192.0;
const GAP3: f32 = 321.0 / 8192.0;
const L_LIMIT: f32 = 40.0 / 8192.0;
const M_LIMIT: f32 = 25681.0 / 8192.0;

/// The MA predictor memory (the last four quantizer outputs l^), shared by encoder and decoder.
#[derive(Clone, Debug)]
pub(crate) struct LspPredictor {
    pub(crate) freq_prev: [[f32; M]; 4],
}

impl LspPredictor {
    pub(crate) fn new() -> Self {
        let f = super::lpc::freq_reset();
        Self { freq_prev: [f; 4] }
    }

    pub(crate) fn update(&mut self, buf: &[f32; M]) {
        self.freq_prev.copy_within(0..3, 1);
        self.freq_prev[0] = *buf;
    }

    /// Quantized LSFs from the quantizer output `buf` with predictor `mode` (eq. 20).
    pub(crate) fn compose(
        &self,
        fg: &[[f32; M]; 4],
        fg_sum: &[f32; M],
        buf: &[f32; M],
    ) -> [f32; M] {
        let mut out = [0.0f32; M];
        for j in 0..M {
            let mut s = buf[j] * fg_sum[j];
            for k in 0..4 {
                s += fg[k][j] * self.freq_prev[k][j];
            }
            out[j] = s;
        }
        out
    }

    /// The target of the quantizer for `mode`: (lsf - sum fg * prev) / fg_sum.
    pub(crate) fn target(
        &self,
        fg: &[[f32; M]; 4],
        fg_sum_inv: &[f32; M],
        lsf: &[f32; M],
    ) -> [f32; M] {
        let mut out = [0.0f32; M];
        for j in 0..M {
            let mut s = lsf[j];
            for k in 0..4 {
                s -= fg[k][j] * self.freq_prev[k][j];
            }
            out[j] = s * fg_sum_inv[j];
        }
        out
    }
}

/// Rearranges coefficients lo..hi so that neighbours are at least `gap` apart (3.2.4).
pub(crate) fn expand(buf: &mut [f32; M], lo: usize, hi: usize, gap: f32) {
    for j in lo.max(1)..hi {
        let tmp = (buf[j - 1] - buf[j] + gap) * 0.5;
        if tmp > 0.0 {
            buf[j - 1] -= tmp;
            buf[j] += tmp;
        }
    }
}

/// Stability of the quantized LSFs (4.2.4 / 3.2.4): ordering, minimum distance GAP3 and limits.
pub(crate) fn stability(lsf: &mut [f32; M]) {
    for j in 0..M - 1 {
        if lsf[j + 1] < lsf[j] {
            lsf.swap(j, j + 1);
        }
    }
    if lsf[0] < L_LIMIT {
        lsf[0] = L_LIMIT;
    }
    for j in 0..M - 1 {
        if lsf[j + 1] - lsf[j] < GAP3 {
            lsf[j + 1] = lsf[j] + GAP3;
        }
    }
    if lsf[M - 1] > M_LIMIT {
        lsf[M - 1] = M_LIMIT;
    }
}

/// Quantizer output l^ of codebook entries (first stage `c0`, second stage `c1` low, `c2` high).
pub(crate) fn codebook_vector(c0: usize, c1: usize, c2: usize) -> [f32; M] {
    let mut buf = [0.0f32; M];
    for j in 0..NC {
        buf[j] = LSPCB1[c0][j] + LSPCB2[c1][j];
    }
    for j in NC..M {
        buf[j] = LSPCB1[c0][j] + LSPCB2[c2][j];
    }
    buf
}

/// The weights of the quantizer's distance (3.2.4, eq. 22).
fn weights(lsf: &[f32; M]) -> [f32; M] {
    use std::f32::consts::PI;
    let mut w = [1.0f32; M];
    let f = |d: f32| if d > 0.0 { 1.0 } else { 10.0 * d * d + 1.0 };
    w[0] = f(lsf[1] - 0.04 * PI - 1.0);
    for i in 1..M - 1 {
        w[i] = f(lsf[i + 1] - lsf[i - 1] - 1.0);
    }
    w[M - 1] = f(-lsf[M - 2] + 0.92 * PI - 1.0);
    w[4] *= 1.2;
    w[5] *= 1.2;
    w
}

/// Quantizes the LSPs (cosine domain). Returns the quantized LSPs and the two transmitted
/// parameters (L0 L1 as 8 bits, L2 L3 as 10 bits); updates the predictor memory.
pub(crate) fn quantize(pred: &mut LspPredictor, lsp: &[f32; M]) -> ([f32; M], u16, u16) {
    let lsf = super::lpc::lsp_to_lsf(lsp);
    let wegt = weights(&lsf);
    let mut best = (f32::INFINITY, 0usize, 0usize, 0usize, 0usize, [0.0f32; M]);
    for mode in 0..2 {
        let rbuf = pred.target(&FG[mode], &FG_SUM_INV[mode], &lsf);
        // First stage: unweighted nearest neighbour.
        let mut c0 = 0;
        let mut dmin = f32::INFINITY;
        for (i, cb) in LSPCB1.iter().enumerate() {
            let mut d = 0.0;
            for j in 0..M {
                let t = rbuf[j] - cb[j];
                d += t * t;
            }
            if d < dmin {
                dmin = d;
                c0 = i;
            }
        }
        // Second stage, lower and upper halves, weighted.
        let select = |lo: usize, hi: usize| {
            let mut idx = 0;
            let mut dmin = f32::INFINITY;
            for (i, cb) in LSPCB2.iter().enumerate() {
                let mut d = 0.0;
                for j in lo..hi {
                    let t = rbuf[j] - LSPCB1[c0][j] - cb[j];
                    d += wegt[j] * t * t;
                }
                if d < dmin {
                    dmin = d;
                    idx = i;
                }
            }
            idx
        };
        let c1 = select(0, NC);
        let c2 = select(NC, M);
        let mut buf = codebook_vector(c0, c1, c2);
        expand(&mut buf, 0, M, GAP1);
        expand(&mut buf, 0, M, GAP2);
        let mut dist = 0.0;
        for j in 0..M {
            let t = (buf[j] - rbuf[j]) * FG_SUM[mode][j];
            dist += wegt[j] * t * t;
        }
        if dist < best.0 {
            best = (dist, mode, c0, c1, c2, buf);
        }
    }
    let (_, mode, c0, c1, c2, buf) = best;
    let mut lsf_q = pred.compose(&FG[mode], &FG_SUM[mode], &buf);
    pred.update(&buf);
    stability(&mut lsf_q);
    let p0 = ((mode as u16) << 7) | c0 as u16;
    let p1 = ((c1 as u16) << 5) | c2 as u16;
    (super::lpc::lsf_to_lsp(&lsf_q), p0, p1)
}

/// Decodes the LSP parameters (4.2.1); updates the predictor memory.
pub(crate) fn dequantize(pred: &mut LspPredictor, p0: u16, p1: u16) -> [f32; M] {
    let mode = usize::from((p0 >> 7) & 1);
    let c0 = usize::from(p0 & 0x7f);
    let c1 = usize::from((p1 >> 5) & 0x1f);
    let c2 = usize::from(p1 & 0x1f);
    let mut buf = codebook_vector(c0, c1, c2);
    expand(&mut buf, 0, M, GAP1);
    expand(&mut buf, 0, M, GAP2);
    let mut lsf_q = pred.compose(&FG[mode], &FG_SUM[mode], &buf);
    pred.update(&buf);
    stability(&mut lsf_q);
    super::lpc::lsf_to_lsp(&lsf_q)
}
