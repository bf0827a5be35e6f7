//! Packet loss concealment after ITU-T G.711 Appendix I: pitch-period repetition.
//!
//! Written from the algorithm's description (not its reference code): the output is delayed
//! by a quarter of the longest pitch period (3.75 ms) so the start of an erasure can be
//! smoothed; at the first erased frame the pitch is estimated by normalised
//! cross-correlation over the last 20 ms (66-200 Hz), the history's tail is overlap-added
//! with the quarter period before the last period so that repeating the period loops
//! smoothly; the synthetic signal is attenuated by 20 % per 10 ms after the first 10 ms and
//! muted after 60 ms; at the first good frame the synthetic continuation is overlap-added
//! into the real signal over 4 ms plus 4 ms per further 10 ms of erasure (at most 10 ms).
//! Unlike the Appendix, the repeated segment stays one pitch period long (no 2- and 3-period
//! extension).
//!
//! Works at 8 kHz (G.711) and 16 kHz (G.722) on 16-bit PCM.

/// Concealment state of one stream.
#[derive(Debug, Clone)]
pub struct Plc {
    scale: usize,
    /// Good samples, the newest `delay` of them not yet output.
    hist: Vec<f32>,
    /// Samples concealed in the current erasure (0 = none).
    erased: usize,
    pitchbuf: Vec<f32>,
    pos: usize,
}

const HIST_8K: usize = 390;
const PITCH_MIN_8K: usize = 40;
const PITCH_MAX_8K: usize = 120;
const CORR_8K: usize = 160;

impl Plc {
    /// A concealer for `sample_rate` 8000 or 16000 (others are treated as 8000 multiples).
    pub fn new(sample_rate: u32) -> Self {
        let scale = (sample_rate / 8000).max(1) as usize;
        Plc {
            scale,
            hist: vec![0.0; HIST_8K * scale],
            erased: 0,
            pitchbuf: Vec::new(),
            pos: 0,
        }
    }

    fn delay(&self) -> usize {
        PITCH_MAX_8K / 4 * self.scale
    }

    /// Algorithmic delay in samples.
    pub fn delay_samples(&self) -> usize {
        self.delay()
    }

    /// A frame that arrived: written back delayed (and merged after an erasure).
    pub fn good_frame(&mut self, frame: &mut [i16]) {
        let n = frame.len();
        let d = self.delay();
        let incoming: Vec<f32> = frame.iter().map(|&s| f32::from(s)).collect();
        if self.erased > 0 {
            // Output first the synthetic continuation for the delayed part, then the real
            // signal overlap-added with the continuing synthetic one.
            let ms10 = 80 * self.scale;
            let extra = (self.erased.saturating_sub(ms10)) / ms10;
            let ola = ((32 + 32 * extra) * self.scale).min(80 * self.scale).min(n);
            let mut synth = vec![0.0f32; d + ola];
            self.synthesize(&mut synth);
            let mut merged = incoming.clone();
            for k in 0..ola {
                let w = (k as f32 + 0.5) / ola as f32;
                merged[k] = merged[k] * w + synth[d + k] * (1.0 - w);
            }
            let mut out = synth[..d].to_vec();
            out.extend_from_slice(&merged);
            // `out` holds n + d samples: the first n are output, the last d stay pending.
            for (o, v) in frame.iter_mut().zip(&out[..n]) {
                *o = v.round().clamp(-32768.0, 32767.0) as i16;
            }
            // History: the merged frame; its last d samples are the pending ones.
            self.push_hist(&merged);
            self.erased = 0;
            return;
        }
        // Normal case: output the pending samples and the start of this frame.
        let pending: Vec<f32> = self.hist[self.hist.len() - d..].to_vec();
        let mut out = pending;
        out.extend_from_slice(&incoming[..n - d.min(n)]);
        for (o, v) in frame.iter_mut().zip(&out) {
            *o = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        self.push_hist(&incoming);
    }

    fn push_hist(&mut self, s: &[f32]) {
        self.hist.extend_from_slice(s);
        let cap = HIST_8K * self.scale;
        if self.hist.len() > cap {
            let cut = self.hist.len() - cap;
            self.hist.drain(..cut);
        }
    }

    fn find_pitch(&self) -> usize {
        let (pmin, pmax, corr) = (
            PITCH_MIN_8K * self.scale,
            PITCH_MAX_8K * self.scale,
            CORR_8K * self.scale,
        );
        let h = &self.hist;
        let end = h.len();
        let target = &h[end - corr..];
        let mut best = pmin;
        let mut best_score = f32::MIN;
        for p in pmin..=pmax {
            let cand = &h[end - corr - p..end - p];
            let (mut xy, mut yy) = (0.0f32, 0.0f32);
            for (a, b) in target.iter().zip(cand) {
                xy += a * b;
                yy += b * b;
            }
            let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
            if score > best_score {
                best_score = score;
                best = p;
            }
        }
        best
    }

    /// A frame that is missing: fills `out` with concealment.
    pub fn conceal(&mut self, out: &mut [i16]) {
        let n = out.len();
        let d = self.delay();
        let mut buf = vec![0.0f32; n];
        let mut k0 = 0;
        if self.erased == 0 {
            let p = self.find_pitch();
            let end = self.hist.len();
            let q = (p / 4).max(1);
            // Smooth the loop point: the tail (pending, not yet output) fades into the
            // quarter period before the last period.
            for k in 0..q {
                let w = (k as f32 + 0.5) / q as f32;
                let a = self.hist[end - q + k];
                let b = self.hist[end - p - q + k];
                self.hist[end - q + k] = a * (1.0 - w) + b * w;
            }
            self.pitchbuf = self.hist[end - p..end].to_vec();
            // The repeated period starts where the (modified) tail leads: one period back.
            self.pos = 0;
            // Output the pending samples first.
            let pending = self.hist[end - d..].to_vec();
            let m = d.min(n);
            buf[..m].copy_from_slice(&pending[..m]);
            k0 = m;
        }
        let mut synth = vec![0.0f32; n - k0];
        self.synthesize(&mut synth);
        buf[k0..].copy_from_slice(&synth);
        for (o, v) in out.iter_mut().zip(&buf) {
            *o = v.round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    /// Next synthetic samples, with the attenuation schedule; advances the erasure count.
    fn synthesize(&mut self, out: &mut [f32]) {
        let ms10 = 80 * self.scale;
        for o in out.iter_mut() {
            let gain = if self.erased < ms10 {
                1.0
            } else {
                (1.0 - 0.2 * (self.erased - ms10) as f32 / ms10 as f32).max(0.0)
            };
            let v = if self.pitchbuf.is_empty() {
                0.0
            } else {
                self.pitchbuf[self.pos % self.pitchbuf.len()]
            };
            *o = v * gain;
            self.pos += 1;
            self.erased += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, f: f32, rate: f32, phase0: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((2.0 * std::f32::consts::PI * f * (i + phase0) as f32 / rate).sin() * 8000.0)
                    as i16
            })
            .collect()
    }

    #[test]
    fn conceals_a_periodic_signal_close_to_the_truth_and_mutes_long_gaps() {
        let mut plc = Plc::new(8000);
        let d = plc.delay_samples();
        let mut out = Vec::new();
        let total = 40;
        let lost = [20usize];
        for f in 0..total {
            let mut frame = sine(160, 200.0, 8000.0, f * 160);
            if lost.contains(&f) {
                plc.conceal(&mut frame);
            } else {
                plc.good_frame(&mut frame);
            }
            out.extend(frame);
        }
        let truth = sine(out.len() + d, 200.0, 8000.0, 0);
        // The output is the input delayed by d samples.
        let err: f64 = out[d..]
            .iter()
            .zip(&truth)
            .skip(19 * 160)
            .take(3 * 160)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum::<f64>()
            / (3.0 * 160.0);
        let sig: f64 = truth[..480]
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
            / 480.0;
        assert!(err < sig * 0.05, "error {err} vs signal {sig}");
        // Long erasure: muted after 60 ms.
        let mut silent = vec![0i16; 160];
        for _ in 0..5 {
            plc.conceal(&mut silent);
        }
        assert!(silent.iter().all(|&s| s == 0));
    }
}
