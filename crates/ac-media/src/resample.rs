//! 2:1 sample-rate conversion between 8 and 16 kHz (narrowband calls through the 16 kHz
//! echo canceller, music on hold at the call's rate): a 47-tap half-band low-pass FIR
//! (Kaiser-windowed sinc, beta 6, cut-off 4 kHz at 16 kHz), polyphase.

/// Taps of the half-band filter (odd; every other tap but the centre is zero).
const TAPS: usize = 47;

fn halfband() -> [f32; TAPS] {
    let mut h = [0f32; TAPS];
    let c = (TAPS / 2) as f64;
    let beta = 6.0;
    let i0 = |x: f64| {
        // Modified Bessel function of order 0 (series).
        let mut s = 1.0;
        let mut t = 1.0;
        for k in 1..30 {
            t *= (x / 2.0) / k as f64;
            s += t * t;
        }
        s
    };
    for (i, v) in h.iter_mut().enumerate() {
        let n = i as f64 - c;
        let sinc = if n == 0.0 {
            0.5
        } else {
            (std::f64::consts::PI * n / 2.0).sin() / (std::f64::consts::PI * n)
        };
        let r = n / c;
        let w = i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0(beta);
        *v = (sinc * w) as f32;
    }
    h
}

fn to_i16(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}

/// 8 kHz -> 16 kHz.
#[derive(Debug, Clone)]
pub struct Upsampler2 {
    h: [f32; TAPS],
    hist: Vec<f32>,
}

impl Default for Upsampler2 {
    fn default() -> Self {
        Self::new()
    }
}

impl Upsampler2 {
    pub fn new() -> Self {
        Upsampler2 {
            h: halfband(),
            hist: vec![0.0; TAPS],
        }
    }

    /// Writes `2 * input.len()` samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) {
        for (x, o) in input.iter().zip(out.chunks_exact_mut(2)) {
            // Zero-stuffed stream: x, 0. Gain 2 restores the level.
            for (k, slot) in o.iter_mut().enumerate() {
                self.hist.rotate_right(1);
                self.hist[0] = if k == 0 { f32::from(*x) } else { 0.0 };
                let acc: f32 = self.hist.iter().zip(&self.h).map(|(a, b)| a * b).sum();
                *slot = to_i16(2.0 * acc);
            }
        }
    }

    pub fn process_vec(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = vec![0; input.len() * 2];
        self.process(input, &mut out);
        out
    }
}

/// 16 kHz -> 8 kHz.
#[derive(Debug, Clone)]
pub struct Downsampler2 {
    h: [f32; TAPS],
    hist: Vec<f32>,
}

impl Default for Downsampler2 {
    fn default() -> Self {
        Self::new()
    }
}

impl Downsampler2 {
    pub fn new() -> Self {
        Downsampler2 {
            h: halfband(),
            hist: vec![0.0; TAPS],
        }
    }

    /// Writes `input.len() / 2` samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) {
        for (pair, o) in input.chunks_exact(2).zip(out.iter_mut()) {
            for x in pair {
                self.hist.rotate_right(1);
                self.hist[0] = f32::from(*x);
            }
            let acc: f32 = self.hist.iter().zip(&self.h).map(|(a, b)| a * b).sum();
            *o = to_i16(acc);
        }
    }

    pub fn process_vec(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = vec![0; input.len() / 2];
        self.process(input, &mut out);
        out
    }
}
