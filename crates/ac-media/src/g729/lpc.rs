//! Linear prediction helpers of G.729 (ITU-T G.729 3.2 and 4.1): autocorrelation with the
//! LP analysis window, Levinson-Durbin, LP <-> LSP conversions, filters.

use super::{L_WINDOW, M, MP1};
use std::f32::consts::PI;
use std::sync::OnceLock;

/// The LP analysis window (G.729 3.2.1, eq. 3): half a Hamming window over 200 samples and a
/// quarter of a cosine over the 40 look-ahead samples.
pub(crate) fn window() -> &'static [f32; L_WINDOW] {
    static W: OnceLock<[f32; L_WINDOW]> = OnceLock::new();
    W.get_or_init(|| {
        let mut w = [0.0f32; L_WINDOW];
        for (n, v) in w.iter_mut().enumerate() {
            *v = if n < 200 {
                (0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / 399.0).cos()) as f32
            } else {
                (2.0 * std::f64::consts::PI * (n - 200) as f64 / 159.0).cos() as f32
            };
        }
        w
    })
}

/// Lag window (G.729 3.2.1, eq. 6): Gaussian with f0 = 60 Hz at 8 kHz, index 0 unused.
fn lag_window() -> &'static [f32; MP1] {
    static W: OnceLock<[f32; MP1]> = OnceLock::new();
    W.get_or_init(|| {
        let mut w = [1.0f32; MP1];
        for (k, v) in w.iter_mut().enumerate().skip(1) {
            let x = 2.0 * std::f64::consts::PI * 60.0 * k as f64 / 8000.0;
            *v = (-0.5 * x * x).exp() as f32;
        }
        w
    })
}

/// Windowed autocorrelation r(0..=10) with the lag window and the 40 dB white-noise
/// correction (r(0) * 1.0001), G.729 3.2.1.
pub(crate) fn autocorr(x: &[f32; L_WINDOW]) -> [f32; MP1] {
    let w = window();
    let mut y = [0.0f32; L_WINDOW];
    for i in 0..L_WINDOW {
        y[i] = x[i] * w[i];
    }
    let mut r = [0.0f32; MP1];
    for (k, rk) in r.iter_mut().enumerate() {
        // Four partial sums (f32 speech at most 2^15: no precision issue over 240 terms).
        let mut acc = [0.0f32; 4];
        let a = &y[k..];
        let b = &y[..L_WINDOW - k];
        let mut ca = a.chunks_exact(4);
        let mut cb = b.chunks_exact(4);
        for (x, z) in (&mut ca).zip(&mut cb) {
            for j in 0..4 {
                acc[j] += x[j] * z[j];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for (x, z) in ca.remainder().iter().zip(cb.remainder()) {
            s += x * z;
        }
        *rk = s;
    }
    if r[0] < 1.0 {
        r[0] = 1.0;
    }
    let lw = lag_window();
    r[0] *= 1.0001;
    for k in 1..MP1 {
        r[k] *= lw[k];
    }
    r
}

/// Levinson-Durbin recursion (G.729 3.2.2). Returns the LP coefficients a(0..=10), a(0) = 1,
/// or `None` when the recursion becomes unstable (the caller keeps the previous filter).
/// Also returns the first two reflection coefficients (Annex B VAD uses none; kept simple).
pub(crate) fn levinson(r: &[f32; MP1]) -> Option<[f32; MP1]> {
    let mut a = [0.0f64; MP1];
    let mut tmp = [0.0f64; MP1];
    a[0] = 1.0;
    let mut err = f64::from(r[0]);
    if err <= 0.0 {
        return None;
    }
    for i in 1..MP1 {
        let mut acc = f64::from(r[i]);
        for j in 1..i {
            acc += a[j] * f64::from(r[i - j]);
        }
        let k = -acc / err;
        if k.is_nan() || k.abs() >= 0.999_9 {
            return None;
        }
        tmp[..i].copy_from_slice(&a[..i]);
        for j in 1..i {
            a[j] = tmp[j] + k * tmp[i - j];
        }
        a[i] = k;
        err *= 1.0 - k * k;
        if err <= 0.0 {
            return None;
        }
    }
    let mut out = [0.0f32; MP1];
    for i in 0..MP1 {
        out[i] = a[i] as f32;
    }
    Some(out)
}

/// The Chebyshev grid of Annex A (A.3.2.3): 51 points cos(pi i / 50).
fn grid() -> &'static [f32; 51] {
    static G: OnceLock<[f32; 51]> = OnceLock::new();
    G.get_or_init(|| {
        let mut g = [0.0f32; 51];
        for (i, v) in g.iter_mut().enumerate() {
            *v = (std::f64::consts::PI * i as f64 / 50.0).cos() as f32;
        }
        g
    })
}

/// C(x) = T5(x) + f1 T4(x) + f2 T3(x) + f3 T2(x) + f4 T1(x) + f5 / 2 (G.729 3.2.3, eq. 15).
fn chebyshev(x: f32, f: &[f32; 6]) -> f32 {
    let x2 = 2.0 * x;
    let mut b2 = 1.0f32;
    let mut b1 = x2 + f[1];
    for &fi in &f[2..5] {
        let b0 = x2 * b1 - b2 + fi;
        b2 = b1;
        b1 = b0;
    }
    x * b1 - b2 + 0.5 * f[5]
}

/// LP coefficients -> LSPs (cosine domain), G.729 3.2.3: roots of F1 and F2 found on the grid,
/// refined by bisection and linear interpolation. When fewer than 10 roots are found the
/// previous LSPs are kept.
pub(crate) fn az_to_lsp(a: &[f32; MP1], lsp: &mut [f32; M], old: &[f32; M]) {
    let mut f1 = [0.0f32; 6];
    let mut f2 = [0.0f32; 6];
    f1[0] = 1.0;
    f2[0] = 1.0;
    for i in 0..5 {
        f1[i + 1] = a[i + 1] + a[M - i] - f1[i];
        f2[i + 1] = a[i + 1] - a[M - i] + f2[i];
    }
    let g = grid();
    let mut nf = 0;
    let mut use_f1 = true;
    let mut xlow = g[0];
    let mut ylow = chebyshev(xlow, &f1);
    let mut j = 0;
    while nf < M && j < 50 {
        j += 1;
        let mut xhigh = xlow;
        let mut yhigh = ylow;
        xlow = g[j];
        let coef = if use_f1 { &f1 } else { &f2 };
        ylow = chebyshev(xlow, coef);
        if ylow * yhigh <= 0.0 {
            for _ in 0..4 {
                let xmid = 0.5 * (xlow + xhigh);
                let ymid = chebyshev(xmid, coef);
                if ylow * ymid <= 0.0 {
                    yhigh = ymid;
                    xhigh = xmid;
                } else {
                    ylow = ymid;
                    xlow = xmid;
                }
            }
            let xint = if yhigh != ylow {
                xlow - ylow * (xhigh - xlow) / (yhigh - ylow)
            } else {
                xlow
            };
            lsp[nf] = xint;
            nf += 1;
            use_f1 = !use_f1;
            xlow = xint;
            ylow = chebyshev(xlow, if use_f1 { &f1 } else { &f2 });
        }
    }
    if nf < M {
        *lsp = *old;
    }
}

fn lsp_pol(lsp: &[f32; M], first: usize) -> [f64; 6] {
    let mut f = [0.0f64; 6];
    f[0] = 1.0;
    f[1] = -2.0 * f64::from(lsp[first]);
    for i in 2..=5 {
        let b = -2.0 * f64::from(lsp[first + 2 * i - 2]);
        f[i] = b * f[i - 1] + 2.0 * f[i - 2];
        for j in (2..i).rev() {
            f[j] += b * f[j - 1] + f[j - 2];
        }
        f[1] += b;
    }
    f
}

/// LSPs (cosine domain) -> LP coefficients, G.729 3.2.6 (eqs. 25-26).
pub(crate) fn lsp_to_az(lsp: &[f32; M]) -> [f32; MP1] {
    let mut f1 = lsp_pol(lsp, 0);
    let mut f2 = lsp_pol(lsp, 1);
    for i in (1..=5).rev() {
        f1[i] += f1[i - 1];
        f2[i] -= f2[i - 1];
    }
    let mut a = [0.0f32; MP1];
    a[0] = 1.0;
    for i in 1..=5 {
        a[i] = (0.5 * (f1[i] + f2[i])) as f32;
        a[M + 1 - i] = (0.5 * (f1[i] - f2[i])) as f32;
    }
    a
}

/// A(z/gamma).
pub(crate) fn weight_az(a: &[f32; MP1], gamma: f32) -> [f32; MP1] {
    let mut out = [0.0f32; MP1];
    let mut g = 1.0f32;
    for i in 0..MP1 {
        out[i] = a[i] * g;
        g *= gamma;
    }
    out
}

/// Residual through A(z): out[i] = x[i] + sum a[k] x[i-k], where `x[start - 10 ..]` is valid.
pub(crate) fn residu(a: &[f32; MP1], x: &[f32], start: usize, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let n = start + i;
        let mut s = x[n];
        for k in 1..MP1 {
            s += a[k] * x[n - k];
        }
        *o = s;
    }
}

/// Synthesis through 1/A(z) with memory `mem` (the last 10 outputs, oldest first); the memory
/// is updated when `update`.
pub(crate) fn syn_filt(a: &[f32; MP1], x: &[f32], y: &mut [f32], mem: &mut [f32; M], update: bool) {
    let n = x.len();
    let mut buf = [0.0f32; M + 80];
    buf[..M].copy_from_slice(mem);
    for i in 0..n {
        // Oldest terms first: the newest output enters the sum last, so the recursion's
        // critical path is one multiply-subtract per sample.
        let mut s = 0.0f32;
        for k in (2..MP1).rev() {
            s += a[k] * buf[M + i - k];
        }
        buf[M + i] = x[i] - s - a[1] * buf[M + i - 1];
    }
    y[..n].copy_from_slice(&buf[M..M + n]);
    if update {
        mem.copy_from_slice(&buf[n..n + M]);
    }
}

/// LSF (radians) -> LSP (cosine).
pub(crate) fn lsf_to_lsp(lsf: &[f32; M]) -> [f32; M] {
    let mut out = [0.0f32; M];
    for i in 0..M {
        out[i] = lsf[i].cos();
    }
    out
}

/// LSP (cosine) -> LSF (radians).
pub(crate) fn lsp_to_lsf(lsp: &[f32; M]) -> [f32; M] {
    let mut out = [0.0f32; M];
    for i in 0..M {
        out[i] = lsp[i].clamp(-1.0, 1.0).acos();
    }
    out
}

/// Initial LSPs of encoder and decoder (the Recommendation's initial values, Q15 30000,
/// 26000, 21000, 15000, 8000, 0, -8000, ... as cosines).
pub(crate) const LSP_RESET: [f32; M] = [
    0.915_527_3,
    0.793_457,
    0.640_869_1,
    0.457_763_7,
    0.244_140_6,
    0.0,
    -0.244_140_6,
    -0.457_763_7,
    -0.640_869_1,
    -0.793_457,
];

/// Initial MA predictor memory: LSFs equally spaced, pi (j+1) / 11.
pub(crate) fn freq_reset() -> [f32; M] {
    let mut f = [0.0f32; M];
    for (j, v) in f.iter_mut().enumerate() {
        *v = PI * (j + 1) as f32 / 11.0;
    }
    f
}
