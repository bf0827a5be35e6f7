//! Acoustic echo canceller (manual Appendix D: G.168-2004, 64 ms tail), noise suppression
//! and comfort noise, at 16 kHz in 10 ms frames.
//!
//! Our own design, written from the published algorithms (no code taken from elsewhere):
//!
//! * **Linear canceller**: a multidelay block frequency-domain NLMS filter (MDF: Soo & Pang,
//!   1990) with block = frame = 160 samples, FFT 320, `PARTITIONS` = 7 partitions covering
//!   1120 taps (>= 64 ms at 16 kHz). NLMS step 1.0 (the optimum of NLMS without near-end
//!   signal), normalised per bin by the far-end power in all partitions, floored at a
//!   tenth of the mean bin power (`STEP_FLOOR`). The gradient
//!   constraint (zeroing the second half of each partition's impulse response) is applied
//!   to every partition every frame (four FFTs per frame plus two per partition).
//!   Constraining one partition per frame in turn (the cheaper "alternately updated" MDF)
//!   left 3-25 % of each partition's energy in the circular-convolution half during the
//!   first second; that leakage, not the step, held the error 25-28 dB below the echo,
//!   so convergence to 30 dB took 1.1 s on the dispersive paths (0.8 s now; the analysis
//!   is in docs/media.md).
//! * **Double talk**: two filters (Ochiai's two-path structure). The *background* filter
//!   adapts on every frame with far-end signal; the *foreground* filter, whose error is the
//!   output, never adapts: it receives a copy of the background when the background's
//!   error has been clearly lower for a few frames. Near-end speech makes the background's
//!   error grow, so during double talk nothing is copied and the output filter cannot
//!   diverge; a background that diverged is reset to the foreground. An echo path change
//!   makes the foreground worse than the re-adapting background, which is then copied.
//! * **Nonlinear processing** ([`PostFilter`]): a short-time spectral suppressor on a
//!   sqrt-Hann 50 %-overlap STFT. Residual echo per bin = leakage x |echo estimate|^2, the
//!   leakage found by regressing the error power on the echo-estimate power (uncorrelated
//!   near-end speech does not bias it); background noise by minimum tracking. Gains from
//!   the decision-directed a-priori SNR. Bins suppressed below the noise-reduction floor
//!   are filled with comfort noise at that floor, so the background sounds the same whether
//!   echo is being removed or not.
//!
//! The post filter adds one frame (10 ms) of latency. The caller aligns the far-end frame
//! with the microphone frame so that the loudspeaker-to-microphone delay plus the room's
//! reverberation fits within the 64 ms tail.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Processing rate of the canceller.
pub const RATE: u32 = 16_000;
/// Samples per frame (10 ms at 16 kHz).
pub const FRAME: usize = 160;
/// Echo tail the canceller covers, in ms (manual Appendix D).
pub const TAIL_MS: usize = 64;
const FFT: usize = 2 * FRAME;
const BINS: usize = FRAME + 1;
/// Number of filter partitions (each `FRAME` samples long).
pub const PARTITIONS: usize = (TAIL_MS * (RATE as usize / 1000)).div_ceil(FRAME);

/// A real FFT of length `FFT` with its scratch space.
struct Fft {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch_f: Vec<Complex32>,
    scratch_i: Vec<Complex32>,
    tbuf: Vec<f32>,
}

impl Fft {
    fn new() -> Fft {
        let mut p = RealFftPlanner::<f32>::new();
        let fwd = p.plan_fft_forward(FFT);
        let inv = p.plan_fft_inverse(FFT);
        Fft {
            scratch_f: fwd.make_scratch_vec(),
            scratch_i: inv.make_scratch_vec(),
            fwd,
            inv,
            tbuf: vec![0.0; FFT],
        }
    }

    /// `out` = DFT(`input`), both of the fixed lengths.
    fn forward(&mut self, input: &[f32], out: &mut [Complex32]) {
        self.tbuf.copy_from_slice(input);
        // The lengths are fixed by construction, so this cannot fail.
        let r = self
            .fwd
            .process_with_scratch(&mut self.tbuf, out, &mut self.scratch_f);
        debug_assert!(r.is_ok());
    }

    /// `out` = unnormalised inverse DFT of `input` (which is used as scratch).
    fn inverse(&mut self, input: &mut [Complex32], out: &mut [f32]) {
        input[0].im = 0.0;
        input[BINS - 1].im = 0.0;
        let r = self
            .inv
            .process_with_scratch(input, out, &mut self.scratch_i);
        debug_assert!(r.is_ok());
    }
}

/// Tuning of the linear canceller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MdfConfig {
    /// NLMS step of the background filter (0..2; 1 converges fastest).
    pub step: f32,
    /// Partitions whose gradient constraint is applied per frame (1..=PARTITIONS; fewer
    /// saves two FFTs each but slows convergence, see the module documentation).
    pub constraints_per_frame: usize,
    /// Proportionate share of the step (0 = plain NLMS; IPNLMS-style: partitions holding
    /// more of the echo path adapt faster).
    pub proportionate: f32,
    /// Adaptation passes per frame while the background filter is far from converged.
    pub max_iterations: usize,
}

impl Default for MdfConfig {
    fn default() -> Self {
        MdfConfig {
            step: 1.0,
            constraints_per_frame: PARTITIONS,
            proportionate: 0.3,
            max_iterations: 1,
        }
    }
}

/// Floor of the per-bin step normalisation, as a share of the mean far-end power per bin.
/// Without it the background filter diverged again and again on narrowband (upsampled)
/// calls once every partition was constrained each frame (8 kHz echo reduction 21-25 dB).
const STEP_FLOOR: f32 = 0.1;

/// Far-end activity threshold: mean square of a frame (about -60 dBFS).
const FAR_ACTIVE_MS: f32 = 30.0 * 30.0;

/// The linear part: two-path MDF adaptive filter.
pub struct Mdf {
    cfg: MdfConfig,
    fft: Fft,
    x_prev: Vec<f32>,
    /// Far-end spectra, ring of `PARTITIONS`, newest at `head`.
    xs: Vec<Complex32>,
    head: usize,
    wf: Vec<Complex32>,
    wb: Vec<Complex32>,
    psum: Vec<f32>,
    tmp: Vec<f32>,
    spec: Vec<Complex32>,
    yb: Vec<f32>,
    ef_s: f32,
    eb_s: f32,
    better: u32,
    worse: u32,
    next_constraint: usize,
    copies: u64,
    resets: u64,
}

impl Mdf {
    pub fn new(cfg: MdfConfig) -> Mdf {
        Mdf {
            cfg,
            fft: Fft::new(),
            x_prev: vec![0.0; FRAME],
            xs: vec![Complex32::default(); PARTITIONS * BINS],
            head: 0,
            wf: vec![Complex32::default(); PARTITIONS * BINS],
            wb: vec![Complex32::default(); PARTITIONS * BINS],
            psum: vec![0.0; BINS],
            tmp: vec![0.0; FFT],
            spec: vec![Complex32::default(); BINS],
            yb: vec![0.0; FRAME],
            ef_s: 0.0,
            eb_s: 0.0,
            better: 0,
            worse: 0,
            next_constraint: 0,
            copies: 0,
            resets: 0,
        }
    }

    /// How often the background filter was copied to the foreground / reset from it.
    pub fn path_switches(&self) -> (u64, u64) {
        (self.copies, self.resets)
    }

    /// Filters `x` spectra through `w` into `self.spec`, then time-domain output into
    /// `out` (the last `FRAME` samples of the circular convolution).
    fn filter(&mut self, which_fg: bool, out: &mut [f32]) {
        let w = if which_fg { &self.wf } else { &self.wb };
        for s in self.spec.iter_mut() {
            *s = Complex32::default();
        }
        for m in 0..PARTITIONS {
            let xi = ((self.head + m) % PARTITIONS) * BINS;
            let wi = m * BINS;
            let (xm, wm) = (&self.xs[xi..xi + BINS], &w[wi..wi + BINS]);
            for ((s, x), w) in self.spec.iter_mut().zip(xm).zip(wm) {
                *s += x * w;
            }
        }
        self.fft.inverse(&mut self.spec, &mut self.tmp);
        let scale = 1.0 / FFT as f32;
        for (o, t) in out.iter_mut().zip(&self.tmp[FRAME..]) {
            *o = t * scale;
        }
    }

    /// Background filter error for this frame into `tmp[FRAME..]` (first half zero);
    /// returns its energy.
    fn background_error(&mut self, near: &[f32]) -> f32 {
        let mut yb = std::mem::take(&mut self.yb);
        self.filter(false, &mut yb);
        let mut eb_e = 0.0;
        self.tmp[..FRAME].fill(0.0);
        for ((t, d), yv) in self.tmp[FRAME..].iter_mut().zip(near).zip(&yb) {
            *t = d - yv;
            eb_e += *t * *t;
        }
        self.yb = yb;
        eb_e
    }

    /// One NLMS step of the background filter with the error in `tmp`.
    fn adapt_background(&mut self) {
        // Background NLMS update, normalised per bin by the far power in all partitions.
        {
            let (tmp, spec) = (&self.tmp, &mut self.spec);
            self.fft.forward(tmp, spec);
        }
        // Proportionate weights per partition from the background filter's energy
        // (IPNLMS-style; the normalisation below uses the same weights, so the step stays
        // within the stability bound).
        let mut prop = [0f32; PARTITIONS];
        for (m, n) in prop.iter_mut().enumerate() {
            *n = self.wb[m * BINS..(m + 1) * BINS]
                .iter()
                .map(|c| c.norm_sqr())
                .sum::<f32>()
                .sqrt();
        }
        let total: f32 = prop.iter().sum::<f32>() + 1e-6;
        let a = self.cfg.proportionate.clamp(0.0, 1.0);
        for p in prop.iter_mut() {
            *p = (1.0 - a) + a * PARTITIONS as f32 * *p / total;
        }
        let reg = PARTITIONS as f32 * FFT as f32 * FAR_ACTIVE_MS;
        for k in 0..BINS {
            let mut p = 0.0;
            for (m, g) in prop.iter().enumerate() {
                let xi = ((self.head + m) % PARTITIONS) * BINS;
                p += g * self.xs[xi + k].norm_sqr();
            }
            self.psum[k] = p;
        }
        // Floor of the normalisation at a share of the mean bin power: the constraint below
        // smears each bin's update into its neighbours, so a bin with almost no far-end
        // power (above 4 kHz in a narrowband call, between the harmonics of voiced speech)
        // must not take a step hundreds of times larger than theirs.
        let floor = STEP_FLOOR * self.psum.iter().sum::<f32>() / BINS as f32;
        for p in self.psum.iter_mut() {
            *p = self.cfg.step / (*p + reg + floor);
        }
        for (m, g) in prop.iter().enumerate() {
            let xi = ((self.head + m) % PARTITIONS) * BINS;
            let wi = m * BINS;
            for k in 0..BINS {
                let d = self.xs[xi + k].conj() * self.spec[k] * (self.psum[k] * g);
                self.wb[wi + k] += d;
            }
        }
        // Gradient constraint on some partitions per frame, in turn.
        for _ in 0..self.cfg.constraints_per_frame.clamp(1, PARTITIONS) {
            let c = self.next_constraint;
            self.next_constraint = (c + 1) % PARTITIONS;
            let wi = c * BINS;
            self.spec.copy_from_slice(&self.wb[wi..wi + BINS]);
            self.fft.inverse(&mut self.spec, &mut self.tmp);
            let scale = 1.0 / FFT as f32;
            for t in self.tmp[..FRAME].iter_mut() {
                *t *= scale;
            }
            self.tmp[FRAME..].fill(0.0);
            let (tmp, wb) = (&self.tmp, &mut self.wb[wi..wi + BINS]);
            self.fft.forward(tmp, wb);
        }
    }

    /// One frame: `far` (played), `near` (microphone) -> `e` (echo removed) and `y` (the
    /// echo estimate that was subtracted).
    pub fn process(&mut self, far: &[f32], near: &[f32], e: &mut [f32], y: &mut [f32]) {
        // Newest far spectrum over [previous frame, this frame].
        self.head = (self.head + PARTITIONS - 1) % PARTITIONS;
        self.tmp[..FRAME].copy_from_slice(&self.x_prev);
        self.tmp[FRAME..].copy_from_slice(far);
        self.x_prev.copy_from_slice(far);
        let h = self.head * BINS;
        {
            let (tmp, xs) = (&self.tmp, &mut self.xs[h..h + BINS]);
            self.fft.forward(tmp, xs);
        }
        let far_ms = far.iter().map(|v| v * v).sum::<f32>() / FRAME as f32;

        // Foreground (output) and background errors.
        self.filter(true, y);
        let mut ef_e = 0.0;
        for ((o, d), yv) in e.iter_mut().zip(near).zip(y.iter()) {
            *o = d - yv;
            ef_e += *o * *o;
        }
        let eb_e = self.background_error(near);
        if far_ms < FAR_ACTIVE_MS {
            return;
        }
        self.adapt_background();
        let near_e: f32 = near.iter().map(|v| v * v).sum();
        for _ in 1..self.cfg.max_iterations.max(1) {
            // Data reuse while the background is far from converged (ERLE < 20 dB).
            if self.background_error(near) < 0.01 * near_e {
                break;
            }
            self.adapt_background();
        }

        // Two-path control.
        self.ef_s = 0.6 * self.ef_s + 0.4 * ef_e;
        self.eb_s = 0.6 * self.eb_s + 0.4 * eb_e;
        if self.eb_s < 0.5 * self.ef_s {
            self.better += 3;
        } else if self.eb_s < 0.9 * self.ef_s {
            self.better += 1;
        } else {
            self.better = 0;
        }
        if self.eb_s > 8.0 * self.ef_s {
            self.worse += 1;
        } else {
            self.worse = 0;
        }
        if self.better >= 3 {
            self.wf.copy_from_slice(&self.wb);
            self.ef_s = self.eb_s;
            self.better = 0;
            self.copies += 1;
        } else if self.worse >= 3 {
            self.wb.copy_from_slice(&self.wf);
            self.eb_s = self.ef_s;
            self.worse = 0;
            self.resets += 1;
        }
    }
}

/// Tuning of the post filter (nonlinear processing, noise suppression, comfort noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostConfig {
    /// Over-estimation of the residual echo (how hard the NLP suppresses).
    pub echo_overestimate: f32,
    /// Noise suppression: gain floor in dB (e.g. -15); 0 disables noise suppression.
    pub noise_floor_db: f32,
    /// Residual echo suppression on/off (off: noise suppression only).
    pub nlp: bool,
}

impl Default for PostConfig {
    fn default() -> Self {
        PostConfig {
            echo_overestimate: 3.0,
            noise_floor_db: -15.0,
            nlp: true,
        }
    }
}

/// Small deterministic generator for comfort-noise phases.
struct XorShift(u32);
impl XorShift {
    fn next_f32(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x >> 8) as f32 / (1u32 << 24) as f32
    }
}

/// Residual echo suppressor + noise suppressor + comfort noise on a sqrt-Hann STFT.
pub struct PostFilter {
    cfg: PostConfig,
    fft: Fft,
    win: Vec<f32>,
    e_prev: Vec<f32>,
    y_prev: Vec<f32>,
    ola: Vec<f32>,
    tmp: Vec<f32>,
    espec: Vec<Complex32>,
    yspec: Vec<Complex32>,
    noise: Vec<f32>,
    smooth: Vec<f32>,
    echo_s: Vec<f32>,
    gain_prev: Vec<f32>,
    gamma_prev: Vec<f32>,
    frames: u32,
    mean_e: f32,
    mean_y: f32,
    cov_ey: f32,
    var_y: f32,
    leak: f32,
    rng: XorShift,
}

impl PostFilter {
    pub fn new(cfg: PostConfig) -> PostFilter {
        let win = (0..FFT)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / FFT as f32).cos()).sqrt()
            })
            .collect();
        PostFilter {
            cfg,
            fft: Fft::new(),
            win,
            e_prev: vec![0.0; FRAME],
            y_prev: vec![0.0; FRAME],
            ola: vec![0.0; FRAME],
            tmp: vec![0.0; FFT],
            espec: vec![Complex32::default(); BINS],
            yspec: vec![Complex32::default(); BINS],
            noise: vec![0.0; BINS],
            smooth: vec![0.0; BINS],
            echo_s: vec![0.0; BINS],
            gain_prev: vec![1.0; BINS],
            gamma_prev: vec![1.0; BINS],
            frames: 0,
            mean_e: 0.0,
            mean_y: 0.0,
            cov_ey: 0.0,
            var_y: 0.0,
            leak: 0.5,
            rng: XorShift(0x1234_5678),
        }
    }

    /// The current residual-echo leakage estimate (residual power / echo-estimate power).
    pub fn leak(&self) -> f32 {
        self.leak
    }

    fn analyse(&mut self, prev_is_e: bool, cur: &[f32]) {
        let prev = if prev_is_e {
            &self.e_prev
        } else {
            &self.y_prev
        };
        for i in 0..FRAME {
            self.tmp[i] = prev[i] * self.win[i];
            self.tmp[FRAME + i] = cur[i] * self.win[FRAME + i];
        }
        let out = if prev_is_e {
            &mut self.espec
        } else {
            &mut self.yspec
        };
        self.fft.forward(&self.tmp, out);
    }

    /// One frame: `e` (linear canceller output), `y` (its echo estimate) -> `out` (one
    /// frame later).
    pub fn process(&mut self, e: &[f32], y: &[f32], out: &mut [f32]) {
        self.analyse(true, e);
        self.analyse(false, y);
        self.e_prev.copy_from_slice(e);
        self.y_prev.copy_from_slice(y);
        self.frames = self.frames.saturating_add(1);

        // Leakage: regression of error power on echo-estimate power (frame totals).
        let pe: f32 = self.espec.iter().map(|c| c.norm_sqr()).sum();
        let py: f32 = self.yspec.iter().map(|c| c.norm_sqr()).sum();
        let a = 0.97;
        self.mean_e = a * self.mean_e + (1.0 - a) * pe;
        self.mean_y = a * self.mean_y + (1.0 - a) * py;
        self.cov_ey = a * self.cov_ey + (1.0 - a) * (pe - self.mean_e) * (py - self.mean_y);
        self.var_y = a * self.var_y + (1.0 - a) * (py - self.mean_y) * (py - self.mean_y);
        if self.var_y > 1e-3 * (self.mean_y * self.mean_y) && self.var_y > 0.0 {
            self.leak = (self.cov_ey / self.var_y).clamp(0.003, 1.0);
        }

        let floor = 10f32.powf(self.cfg.noise_floor_db / 20.0);
        let ns = self.cfg.noise_floor_db < 0.0;
        for k in 0..BINS {
            let p = self.espec[k].norm_sqr();
            // Noise: minimum of the smoothed power, rising slowly (~3 dB/s).
            self.smooth[k] = if self.frames == 1 {
                p
            } else {
                0.7 * self.smooth[k] + 0.3 * p
            };
            if self.frames <= 2 || self.smooth[k] < self.noise[k] {
                self.noise[k] = self.smooth[k];
            } else {
                self.noise[k] *= 1.007;
            }
            let echo = if self.cfg.nlp {
                let r = self.cfg.echo_overestimate * self.leak * self.yspec[k].norm_sqr();
                // Reverberation: the residual decays no faster than ~ -2 dB per frame.
                self.echo_s[k] = r.max(0.6 * self.echo_s[k]);
                self.echo_s[k]
            } else {
                0.0
            };
            let noise = if ns { self.noise[k] } else { 0.0 };
            let interf = echo + noise + 1e-3;
            let gamma = p / interf;
            let xi = 0.9 * self.gain_prev[k] * self.gain_prev[k] * self.gamma_prev[k]
                + 0.1 * (gamma - 1.0).max(0.0);
            let g = (xi / (1.0 + xi)).clamp(0.0, 1.0);
            self.gain_prev[k] = g;
            self.gamma_prev[k] = gamma.min(1e4);
            let mut v = self.espec[k] * g;
            if ns && g < floor {
                // Comfort noise up to the noise-reduction floor.
                let amp = (self.noise[k]).sqrt() * (floor * floor - g * g).sqrt();
                let ph = 2.0 * std::f32::consts::PI * self.rng.next_f32();
                v += Complex32::new(amp * ph.cos(), amp * ph.sin());
            }
            self.espec[k] = v;
        }
        self.fft.inverse(&mut self.espec, &mut self.tmp);
        let scale = 1.0 / FFT as f32;
        let (first, second) = self.tmp.split_at(FRAME);
        let (w1, w2) = self.win.split_at(FRAME);
        for (((o, ola), (t1, t2)), (a, b)) in out
            .iter_mut()
            .zip(self.ola.iter_mut())
            .zip(first.iter().zip(second))
            .zip(w1.iter().zip(w2))
        {
            *o = *ola + t1 * a * scale;
            *ola = t2 * b * scale;
        }
    }
}

/// Configuration of the whole echo canceller.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AecConfig {
    pub mdf: MdfConfig,
    pub post: PostConfig,
}

/// The acoustic echo canceller: linear MDF + post filter, 16 kHz, 10 ms frames.
pub struct EchoCanceller {
    mdf: Mdf,
    post: PostFilter,
    far: Vec<f32>,
    near: Vec<f32>,
    e: Vec<f32>,
    y: Vec<f32>,
    out: Vec<f32>,
}

/// A frame of the wrong length was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {got} samples, expected {expected}")]
pub struct FrameLengthError {
    pub got: usize,
    pub expected: usize,
}

impl EchoCanceller {
    pub fn new(cfg: AecConfig) -> EchoCanceller {
        EchoCanceller {
            mdf: Mdf::new(cfg.mdf),
            post: PostFilter::new(cfg.post),
            far: vec![0.0; FRAME],
            near: vec![0.0; FRAME],
            e: vec![0.0; FRAME],
            y: vec![0.0; FRAME],
            out: vec![0.0; FRAME],
        }
    }

    /// The linear part (for measurements).
    pub fn mdf(&self) -> &Mdf {
        &self.mdf
    }

    /// One 10 ms frame: `far` (what the loudspeaker played), `near` (microphone) ->
    /// `out` (echo and noise removed, comfort noise added, delayed by one frame).
    /// `linear`, if given, receives the linear canceller's output (no delay).
    pub fn process(
        &mut self,
        far: &[i16],
        near: &[i16],
        out: &mut [i16],
        linear: Option<&mut [i16]>,
    ) -> Result<(), FrameLengthError> {
        for len in [far.len(), near.len(), out.len()] {
            if len != FRAME {
                return Err(FrameLengthError {
                    got: len,
                    expected: FRAME,
                });
            }
        }
        for (d, s) in self.far.iter_mut().zip(far) {
            *d = f32::from(*s);
        }
        for (d, s) in self.near.iter_mut().zip(near) {
            *d = f32::from(*s);
        }
        self.mdf
            .process(&self.far, &self.near, &mut self.e, &mut self.y);
        if let Some(l) = linear {
            for (d, s) in l.iter_mut().zip(&self.e) {
                *d = to_i16(*s);
            }
        }
        self.post.process(&self.e, &self.y, &mut self.out);
        for (d, s) in out.iter_mut().zip(&self.out) {
            *d = to_i16(*s);
        }
        Ok(())
    }
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Energy of the circular-convolution half (the last `FRAME` taps, which the gradient
    /// constraint zeroes) of each background partition, relative to the whole partition.
    fn wrap_share(m: &mut Mdf) -> Vec<f32> {
        (0..PARTITIONS)
            .map(|p| {
                let wi = p * BINS;
                m.spec.copy_from_slice(&m.wb[wi..wi + BINS]);
                let mut t = vec![0.0; FFT];
                m.fft.inverse(&mut m.spec, &mut t);
                let all: f32 = t.iter().map(|v| v * v).sum();
                let wrap: f32 = t[FRAME..].iter().map(|v| v * v).sum();
                wrap / all.max(f32::MIN_POSITIVE)
            })
            .collect()
    }

    /// The default tuning keeps every partition constrained after every frame, so the
    /// filter stays a linear convolution of `PARTITIONS * FRAME` taps while it adapts;
    /// with one constraint per frame the wrap-around part holds a large share.
    #[test]
    fn every_partition_stays_constrained_while_adapting() {
        let mut rng = XorShift(7);
        let far: Vec<f32> = (0..40 * FRAME)
            .map(|_| (rng.next_f32() - 0.5) * 8000.0)
            .collect();
        // Echo: a decaying path over the first 300 taps.
        let h: Vec<f32> = (0..300)
            .map(|i| (-(i as f32) / 80.0).exp() * if i % 3 == 0 { 0.5 } else { -0.3 })
            .collect();
        let near: Vec<f32> = (0..far.len())
            .map(|n| (0..h.len().min(n + 1)).map(|i| h[i] * far[n - i]).sum())
            .collect();
        let run = |cfg: MdfConfig| {
            let mut m = Mdf::new(cfg);
            let (mut e, mut y) = (vec![0.0; FRAME], vec![0.0; FRAME]);
            for (f, d) in far.chunks(FRAME).zip(near.chunks(FRAME)) {
                m.process(f, d, &mut e, &mut y);
            }
            wrap_share(&mut m)
        };
        let full = run(MdfConfig::default());
        assert!(full.iter().all(|s| *s < 1e-6), "{full:?}");
        let one = run(MdfConfig {
            constraints_per_frame: 1,
            ..MdfConfig::default()
        });
        assert!(one.iter().any(|s| *s > 1e-3), "{one:?}");
    }
}
