//! 16 kHz <-> 8 kHz for G.711 calls: a 2:1 decimator and a 1:2 interpolator with one
//! symmetric 15-tap low-pass FIR (cut-off ~3.6 kHz, Hamming-windowed sinc), state kept across
//! frames.

const TAPS: usize = 15;

fn taps() -> [f32; TAPS] {
    let mut h = [0f32; TAPS];
    let m = (TAPS - 1) as f32 / 2.0;
    let fc = 3600.0 / 16000.0;
    let mut sum = 0.0;
    for (i, v) in h.iter_mut().enumerate() {
        let x = i as f32 - m;
        let sinc = if x == 0.0 {
            2.0 * fc
        } else {
            (2.0 * std::f32::consts::PI * fc * x).sin() / (std::f32::consts::PI * x)
        };
        let w = 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (TAPS - 1) as f32).cos();
        *v = sinc * w;
        sum += *v;
    }
    for v in &mut h {
        *v /= sum;
    }
    h
}

fn sat(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// 16 kHz -> 8 kHz.
#[derive(Debug, Clone)]
pub struct Decimator {
    h: [f32; TAPS],
    hist: [f32; TAPS],
}

impl Default for Decimator {
    fn default() -> Self {
        Decimator {
            h: taps(),
            hist: [0.0; TAPS],
        }
    }
}

impl Decimator {
    /// Half as many samples out as in (an odd last sample is dropped).
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = Vec::with_capacity(input.len() / 2);
        for (n, &s) in input.iter().enumerate() {
            self.hist.copy_within(1.., 0);
            self.hist[TAPS - 1] = f32::from(s);
            if n % 2 == 1 {
                let y: f32 = self.hist.iter().zip(&self.h).map(|(a, b)| a * b).sum();
                out.push(sat(y));
            }
        }
        out
    }
}

/// 8 kHz -> 16 kHz.
#[derive(Debug, Clone)]
pub struct Interpolator {
    h: [f32; TAPS],
    hist: [f32; TAPS],
}

impl Default for Interpolator {
    fn default() -> Self {
        Interpolator {
            h: taps(),
            hist: [0.0; TAPS],
        }
    }
}

impl Interpolator {
    /// Twice as many samples out as in.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = Vec::with_capacity(input.len() * 2);
        for &s in input {
            for z in [f32::from(s) * 2.0, 0.0] {
                self.hist.copy_within(1.., 0);
                self.hist[TAPS - 1] = z;
                let y: f32 = self.hist.iter().zip(&self.h).map(|(a, b)| a * b).sum();
                out.push(sat(y));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: f32, f: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * f * i as f32 / rate).sin()) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn passband_kept_stopband_removed() {
        let mut d = Decimator::default();
        let low = d.process(&tone(16000.0, 1000.0, 3200));
        assert_eq!(low.len(), 1600);
        let r = rms(&low[100..]);
        assert!((r - 8000.0 / 2f32.sqrt()).abs() < 600.0, "1 kHz rms {r}");
        let mut d = Decimator::default();
        let high = d.process(&tone(16000.0, 6500.0, 3200));
        assert!(
            rms(&high[100..]) < 800.0,
            "6.5 kHz leaks {}",
            rms(&high[100..])
        );
        let mut i = Interpolator::default();
        let up = i.process(&tone(8000.0, 1000.0, 1600));
        assert_eq!(up.len(), 3200);
        let r = rms(&up[100..]);
        assert!((r - 8000.0 / 2f32.sqrt()).abs() < 600.0, "up rms {r}");
    }
}
