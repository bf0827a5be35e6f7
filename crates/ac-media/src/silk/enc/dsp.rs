//! Floating-point signal-processing primitives of the SILK encoder analysis (autocorrelation,
//! Schur/Levinson, Burg, bandwidth expansion, LPC filtering, NLSF conversion, small linear
//! solvers). Written from the algorithm descriptions of draft-vos-silk-02 section 3.
//!
//! Every function is total: degenerate input (silence, DC, clipped square waves) gives finite
//! output because energies are floored and reflection coefficients clamped.

/// Sum of squares.
pub(crate) fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// Inner product over the common length.
pub(crate) fn inner(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// Autocorrelation r[0..n] of `x`.
pub(crate) fn autocorr(r: &mut [f32], x: &[f32]) {
    for (k, rk) in r.iter_mut().enumerate() {
        *rk = if k < x.len() {
            inner(&x[..x.len() - k], &x[k..]) as f32
        } else {
            0.0
        };
    }
}

/// Autocorrelation r[0..=order] on a frequency-warped scale (a chain of first-order
/// all-pass sections with coefficient `warping`; `order` even).
pub(crate) fn warped_autocorr(r: &mut [f32], x: &[f32], warping: f64, order: usize) {
    let mut state = [0f64; 17];
    let mut c = [0f64; 17];
    for &xn in x {
        let mut tmp1 = f64::from(xn);
        let mut i = 0;
        while i < order {
            let tmp2 = state[i] + warping * (state[i + 1] - tmp1);
            state[i] = tmp1;
            c[i] += state[0] * tmp1;
            tmp1 = state[i + 1] + warping * (state[i + 2] - tmp2);
            state[i + 1] = tmp2;
            c[i + 1] += state[0] * tmp2;
            i += 2;
        }
        state[order] = tmp1;
        c[order] += state[0] * tmp1;
    }
    for i in 0..=order {
        r[i] = c[i] as f32;
    }
}

/// Schur recursion: reflection coefficients from autocorrelation, returns residual energy.
pub(crate) fn schur(refl: &mut [f32], r: &[f32], order: usize) -> f32 {
    let mut c = [[0f64; 2]; 17];
    for k in 0..=order {
        c[k][0] = f64::from(r[k]);
        c[k][1] = f64::from(r[k]);
    }
    for k in 0..order {
        let den = c[0][1].max(1e-9);
        let rc = (-c[k + 1][0] / den).clamp(-0.9999, 0.9999);
        refl[k] = rc as f32;
        for n in 0..order - k {
            let t1 = c[n + k + 1][0];
            let t2 = c[n][1];
            c[n + k + 1][0] = t1 + t2 * rc;
            c[n][1] = t2 + t1 * rc;
        }
    }
    c[0][1].max(0.0) as f32
}

/// Reflection coefficients to prediction coefficients (A(z) = 1 - sum a_k z^-k).
pub(crate) fn k2a(a: &mut [f32], refl: &[f32], order: usize) {
    let mut tmp = [0f32; 16];
    for k in 0..order {
        tmp[..k].copy_from_slice(&a[..k]);
        for n in 0..k {
            a[n] = tmp[n] + tmp[k - n - 1] * refl[k];
        }
        a[k] = -refl[k];
    }
}

/// Levinson-Durbin: prediction coefficients from autocorrelation, returns residual energy.
pub(crate) fn levinson(a: &mut [f32], r: &[f32], order: usize) -> f32 {
    let mut refl = [0f32; 16];
    let nrg = schur(&mut refl, r, order);
    k2a(a, &refl, order);
    nrg
}

/// Chirp (bandwidth expansion) a_k *= chirp^k.
pub(crate) fn bwexpander(a: &mut [f32], chirp: f32) {
    let mut c = chirp;
    for v in a.iter_mut() {
        *v *= c;
        c *= chirp;
    }
}

/// LPC analysis filter: res[i] = x[i] - sum_j a[j] x[i-j-1]; the first `order` outputs are 0.
pub(crate) fn lpc_analysis(res: &mut [f32], a: &[f32], x: &[f32], len: usize, order: usize) {
    for i in 0..order.min(len) {
        res[i] = 0.0;
    }
    for i in order..len {
        let mut p = 0f32;
        for j in 0..order {
            p += a[j] * x[i - j - 1];
        }
        res[i] = x[i] - p;
    }
}

/// Inverse prediction gain of A(z) (energy domain), 0 ... 1; small values mean the filter
/// is close to unstable.
pub(crate) fn inverse_pred_gain(a: &[f32]) -> f32 {
    let order = a.len();
    let mut aa = [0f64; 16];
    for (d, &s) in aa.iter_mut().zip(a) {
        *d = f64::from(s);
    }
    let mut inv = 1.0f64;
    for k in (0..order).rev() {
        let rc = -aa[k];
        let r2 = 1.0 - rc * rc;
        if r2 <= 1e-9 {
            return 0.0;
        }
        inv *= r2;
        let mut tmp = [0f64; 16];
        tmp[..k].copy_from_slice(&aa[..k]);
        for n in 0..k {
            aa[n] = (tmp[n] - tmp[k - n - 1] * rc) / r2;
        }
    }
    inv as f32
}

/// Sine window over `x` into `out`: `win_type` 1 rises from 0, 2 falls to 0 (half period).
pub(crate) fn sine_window(out: &mut [f32], x: &[f32], win_type: u8) {
    let n = out.len();
    let step = core::f32::consts::PI / (n as f32 + 1.0);
    for i in 0..n {
        let w = if win_type == 1 {
            ((i as f32 + 1.0) * step * 0.5).sin()
        } else {
            ((i as f32 + 1.0) * step * 0.5).cos()
        };
        out[i] = x[i] * w;
    }
}

/// Modified Burg analysis over `nb_subfr` stacked subvectors of `subfr_length` samples (each
/// starting with `order` history samples); returns the residual energy.
pub(crate) fn burg_modified(
    a: &mut [f32],
    x: &[f32],
    subfr_length: usize,
    nb_subfr: usize,
    white_noise_frac: f64,
    order: usize,
) -> f32 {
    let d = order;
    let mut c_first = [0f64; 16];
    let mut caf = [0f64; 17];
    let mut cab = [0f64; 17];
    let mut af = [0f64; 16];
    let xs = &x[..subfr_length * nb_subfr];
    let c0 = energy(xs);
    for s in 0..nb_subfr {
        let xp = &xs[s * subfr_length..(s + 1) * subfr_length];
        for n in 1..=d {
            c_first[n - 1] += inner(&xp[..subfr_length - n], &xp[n..]);
        }
    }
    let mut c_last = c_first;
    caf[0] = c0 + white_noise_frac * c0 + 1e-9;
    cab[0] = caf[0];
    for n in 0..d {
        for s in 0..nb_subfr {
            let xp = &xs[s * subfr_length..(s + 1) * subfr_length];
            let xv = |i: usize| f64::from(xp[i]);
            let mut tmp1 = xv(n);
            let mut tmp2 = xv(subfr_length - n - 1);
            for k in 0..n {
                c_first[k] -= xv(n) * xv(n - k - 1);
                c_last[k] -= xv(subfr_length - n - 1) * xv(subfr_length - n + k);
                tmp1 += xv(n - k - 1) * af[k];
                tmp2 += xv(subfr_length - n + k) * af[k];
            }
            for k in 0..=n {
                caf[k] -= tmp1 * xv(n - k);
                cab[k] -= tmp2 * xv(subfr_length - n + k - 1);
            }
        }
        let mut tmp1 = c_first[n];
        let mut tmp2 = c_last[n];
        for k in 0..n {
            tmp1 += c_last[n - k - 1] * af[k];
            tmp2 += c_first[n - k - 1] * af[k];
        }
        caf[n + 1] = tmp1;
        cab[n + 1] = tmp2;
        let mut num = cab[n + 1];
        let mut nrg_b = cab[0];
        let mut nrg_f = caf[0];
        for k in 0..n {
            num += cab[n - k] * af[k];
            nrg_b += cab[k + 1] * af[k];
            nrg_f += caf[k + 1] * af[k];
        }
        let den = (nrg_f + nrg_b).max(1e-9);
        let rc = (-2.0 * num / den).clamp(-0.9999, 0.9999);
        for k in 0..(n + 1) >> 1 {
            let t1 = af[k];
            let t2 = af[n - k - 1];
            af[k] = t1 + rc * t2;
            af[n - k - 1] = t2 + rc * t1;
        }
        af[n] = rc;
        for k in 0..=n + 1 {
            let t1 = caf[k];
            caf[k] += rc * cab[n + 1 - k];
            cab[n + 1 - k] += rc * t1;
        }
    }
    let mut nrg_f = caf[0];
    let mut t = 1.0;
    for k in 0..d {
        nrg_f += caf[k + 1] * af[k];
        t += af[k] * af[k];
        a[k] = (-af[k]) as f32;
    }
    nrg_f -= white_noise_frac * c0 * t;
    nrg_f.max(0.0) as f32
}

/// Prediction coefficients (A(z) = 1 - sum a_k z^-k) to normalized LSFs in (0, 1) (1 = pi).
/// Root search of the symmetric/antisymmetric polynomials on a 1024-point cosine grid with
/// bisection; falls back to an evenly spread vector if a root is missed (very unstable input).
pub(crate) fn a2nlsf(nlsf: &mut [f32], a: &[f32]) {
    let d = a.len();
    let half = d / 2;
    // A(z) = 1 + sum c_k z^-k with c_k = -a_k.
    let mut p = [0f64; 9];
    let mut q = [0f64; 9];
    // P(z) = A(z) + z^-(d+1) A(1/z), Q(z) = A(z) - z^-(d+1) A(1/z); divide P by (1 + z^-1), Q by
    // (1 - z^-1), keep the first half of the symmetric coefficients.
    let c = |k: usize| -> f64 {
        if k == 0 {
            1.0
        } else if k <= d {
            -f64::from(a[k - 1])
        } else {
            0.0
        }
    };
    let mut pf = [0f64; 18];
    let mut qf = [0f64; 18];
    for k in 0..=d + 1 {
        pf[k] = c(k) + c(d + 1 - k);
        qf[k] = c(k) - c(d + 1 - k);
    }
    // Deflate.
    let mut pd = [0f64; 18];
    let mut qd = [0f64; 18];
    pd[0] = pf[0];
    qd[0] = qf[0];
    for k in 1..=d {
        pd[k] = pf[k] - pd[k - 1];
        qd[k] = qf[k] + qd[k - 1];
    }
    // pd, qd are symmetric of degree d: evaluate as sum on cos(k w).
    for k in 0..=half {
        p[k] = pd[half - k] * if k == 0 { 1.0 } else { 2.0 };
        q[k] = qd[half - k] * if k == 0 { 1.0 } else { 2.0 };
    }
    // sum_k p_k cos(k w) as a Chebyshev series in x = cos(w) (Clenshaw), one cosine per
    // evaluation point.
    let eval = |poly: &[f64; 9], w: f64| -> f64 {
        let x = w.cos();
        let (mut b1, mut b2) = (0.0f64, 0.0f64);
        for k in (1..=half).rev() {
            let b0 = poly[k] + 2.0 * x * b1 - b2;
            b2 = b1;
            b1 = b0;
        }
        poly[0] + x * b1 - b2
    };
    const GRID: usize = 256;
    let mut found = 0usize;
    let mut w_prev = 0.0f64;
    let mut use_p = true;
    let mut v_prev = eval(&p, 0.0);
    let mut i = 1;
    while i <= GRID && found < d {
        let w = core::f64::consts::PI * i as f64 / GRID as f64;
        let poly = if use_p { &p } else { &q };
        let v = eval(poly, w);
        if (v_prev <= 0.0 && v > 0.0) || (v_prev >= 0.0 && v < 0.0) || v == 0.0 {
            let (mut lo, mut hi, mut vlo) = (w_prev, w, v_prev);
            for _ in 0..20 {
                let mid = 0.5 * (lo + hi);
                let vm = eval(poly, mid);
                if (vlo <= 0.0) == (vm <= 0.0) {
                    lo = mid;
                    vlo = vm;
                } else {
                    hi = mid;
                }
            }
            let root = 0.5 * (lo + hi);
            nlsf[found] = (root / core::f64::consts::PI) as f32;
            found += 1;
            use_p = !use_p;
            w_prev = root;
            let poly2 = if use_p { &p } else { &q };
            v_prev = eval(poly2, root);
            // continue scanning from the same grid point with the other polynomial
            continue;
        }
        w_prev = w;
        v_prev = v;
        i += 1;
    }
    if found < d {
        for (k, v) in nlsf.iter_mut().enumerate().take(d) {
            *v = (k as f32 + 1.0) / (d as f32 + 1.0);
        }
    }
}

/// Solves the symmetric positive (semi-)definite system W b = r (dimension n <= 16) by
/// Cholesky factorisation with a diagonal floor; returns false only if n is 0.
pub(crate) fn solve_spd(w: &[f32], r: &[f32], b: &mut [f32], n: usize) -> bool {
    if n == 0 {
        return false;
    }
    let mut l = [[0f64; 16]; 16];
    let mut diag_max = 0f64;
    for i in 0..n {
        diag_max = diag_max.max(f64::from(w[i * n + i]).abs());
    }
    let floor = 1e-9 * diag_max + 1e-12;
    for j in 0..n {
        let mut s = f64::from(w[j * n + j]);
        for k in 0..j {
            s -= l[j][k] * l[j][k];
        }
        let djj = s.max(floor).sqrt();
        l[j][j] = djj;
        for i in j + 1..n {
            let mut s = f64::from(w[i * n + j]);
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = s / djj;
        }
    }
    let mut y = [0f64; 16];
    for i in 0..n {
        let mut s = f64::from(r[i]);
        for k in 0..i {
            s -= l[i][k] * y[k];
        }
        y[i] = s / l[i][i];
    }
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k][i] * f64::from(b[k]);
        }
        b[i] = (s / l[i][i]) as f32;
    }
    for v in b.iter_mut().take(n) {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    true
}

/// Logistic sigmoid.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a2nlsf_roundtrip_via_known_filter() {
        // A stable 10th-order filter from Levinson on a decaying autocorrelation.
        let mut r = [0f32; 11];
        for (k, v) in r.iter_mut().enumerate() {
            *v = 0.9f32.powi(k as i32) * (0.3 * k as f32).cos();
        }
        let mut a = [0f32; 10];
        levinson(&mut a, &r, 10);
        let mut nlsf = [0f32; 10];
        a2nlsf(&mut nlsf, &a);
        for w in nlsf.windows(2) {
            assert!(w[0] < w[1], "{nlsf:?}");
        }
        assert!(nlsf[0] > 0.0 && nlsf[9] < 1.0);
    }

    #[test]
    fn burg_finds_ar1() {
        let mut x = vec![0f32; 400];
        let mut s = 1u32;
        for i in 1..400 {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            let e = (s >> 16) as f32 / 65536.0 - 0.5;
            x[i] = 0.9 * x[i - 1] + e;
        }
        let mut a = [0f32; 2];
        burg_modified(&mut a, &x, 100, 4, 1e-5, 2);
        assert!((a[0] - 0.9).abs() < 0.1, "{a:?}");
    }
}
