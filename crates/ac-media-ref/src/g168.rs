//! G.168-style test signals for echo cancellers at 16 kHz (test and bench support).
//!
//! * [`css`]: a composite source signal after G.168's description: a voiced segment
//!   (48.62 ms), pseudo-noise (200 ms) and a pause (101.38 ms), repeated with alternating
//!   polarity (350 ms half-period). The voiced part is a 120 Hz harmonic series with a
//!   speech-like spectral tilt; the noise part is white noise through the same tilt.
//! * [`echo_path`]: acoustic echo path models: a pure delay then exponentially decaying
//!   noise (a room impulse response), scaled to a given echo return loss (ERL), cut at the
//!   canceller's tail.
//! * [`convolve`]: applies a path.

/// xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// Roughly Gaussian, unit variance (sum of 4 uniforms).
    pub fn gauss(&mut self) -> f64 {
        (0..4).map(|_| self.uniform()).sum::<f64>() * (3.0f64 / 4.0).sqrt()
    }
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Speech-like tilt: one-pole low-pass at ~800 Hz after a 100 Hz high-pass (16 kHz).
fn tilt(x: &mut [f64]) {
    let (mut lp, mut hp_x, mut hp_y) = (0.0, 0.0, 0.0);
    let a = (-2.0 * std::f64::consts::PI * 800.0 / 16000.0).exp();
    let r = (-2.0 * std::f64::consts::PI * 100.0 / 16000.0).exp();
    for v in x.iter_mut() {
        let h = *v - hp_x + r * hp_y;
        hp_x = *v;
        hp_y = h;
        lp = a * lp + (1.0 - a) * h;
        *v = lp;
    }
}

/// `seconds` of composite source signal at `rms_level` (RMS of the active parts, in 16-bit
/// units), 16 kHz. `pitch` sets the voiced fundamental (G.168 does not fix it; 120 Hz is
/// typical).
pub fn css(seconds: f64, rms_level: f64, pitch: f64, seed: u64) -> Vec<i16> {
    let fs = 16000.0;
    let n = (seconds * fs) as usize;
    let voiced = (0.04862 * fs) as usize;
    let noise = (0.2 * fs) as usize;
    let half = (0.35 * fs) as usize;
    let mut rng = Rng::new(seed);
    // Voiced segment: harmonics up to 4 kHz with 1/k amplitudes, fixed random phases.
    let phases: Vec<f64> = (0..40)
        .map(|_| rng.uniform() * std::f64::consts::PI)
        .collect();
    let mut v: Vec<f64> = (0..voiced)
        .map(|i| {
            let t = i as f64 / fs;
            (1..=((4000.0 / pitch) as usize))
                .map(|k| {
                    (2.0 * std::f64::consts::PI * pitch * k as f64 * t + phases[k % 40]).sin()
                        / k as f64
                })
                .sum()
        })
        .collect();
    let g = rms_level / rms(&v);
    v.iter_mut().for_each(|s| *s *= g);
    let mut out = vec![0.0f64; n];
    let mut pos = 0;
    let mut sign = 1.0;
    while pos < n {
        for (i, s) in v.iter().enumerate() {
            if pos + i < n {
                out[pos + i] = sign * s;
            }
        }
        let mut pn: Vec<f64> = (0..noise + 400).map(|_| rng.gauss()).collect();
        tilt(&mut pn);
        let pn = &pn[400..];
        let g = rms_level / rms(pn);
        for (i, s) in pn.iter().enumerate() {
            if pos + voiced + i < n {
                out[pos + voiced + i] = sign * s * g;
            }
        }
        pos += half;
        sign = -sign;
    }
    out.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// An echo path: `delay_ms` of pure delay, then decaying noise with time constant
/// `decay_ms`, scaled so that the echo return loss (energy gain) is `erl_db`, and cut at
/// `max_taps` (the canceller's tail).
pub fn echo_path(
    delay_ms: f64,
    decay_ms: f64,
    erl_db: f64,
    max_taps: usize,
    seed: u64,
) -> Vec<f64> {
    let d = (delay_ms * 16.0) as usize;
    let tau = decay_ms * 16.0;
    let mut rng = Rng::new(seed);
    let mut h = vec![0.0; max_taps];
    let mut lp = 0.0;
    for (i, v) in h.iter_mut().enumerate().skip(d) {
        lp = 0.6 * lp + 0.4 * rng.gauss();
        *v = lp * (-((i - d) as f64) / tau).exp();
    }
    let e: f64 = h.iter().map(|v| v * v).sum();
    let g = (10f64.powf(-erl_db / 10.0) / e).sqrt();
    h.iter_mut().for_each(|v| *v *= g);
    h
}

/// Linear convolution of `x` with `h`, same length as `x`.
pub fn convolve(x: &[i16], h: &[f64]) -> Vec<f64> {
    let nz: Vec<(usize, f64)> = h
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i, *v))
        .collect();
    (0..x.len())
        .map(|n| {
            nz.iter()
                .take_while(|(i, _)| *i <= n)
                .map(|(i, v)| v * f64::from(x[n - i]))
                .sum()
        })
        .collect()
}
