//! Speech activity estimate for the encoder (draft-vos-silk-02 3.2.1 "Voice Activity
//! Detection"). Simplified from the SDK's four-band filter-bank detector: two bands (below and
//! above a quarter of the sample rate, split by a first-order filter pair), per-band noise
//! floors that follow minima quickly and rise slowly, a band SNR in dB, and the SDK's mapping
//! of the average SNR through a sigmoid to a speech activity level 0..1. Also gives the
//! per-band input quality (sigmoid of band SNR) and a spectral tilt (-1 low-pass .. +1
//! high-pass), which the noise shaping analysis uses.

use super::dsp::sigmoid;

#[derive(Clone)]
pub(crate) struct Vad {
    noise: [f32; 2],
    lp_state: f32,
    counter: u32,
    smoothed_snr: f32,
}

/// Per-frame outputs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VadOut {
    pub speech_activity: f32,
    pub quality_bands: [f32; 2],
    pub tilt: f32,
}

impl Vad {
    pub(crate) fn new() -> Self {
        Vad {
            noise: [5e4, 5e4],
            lp_state: 0.0,
            counter: 0,
            smoothed_snr: 0.0,
        }
    }

    pub(crate) fn analyse(&mut self, x: &[i16]) -> VadOut {
        let mut e = [0f32; 2];
        for &s in x {
            let v = f32::from(s);
            let lp = 0.5 * (v + self.lp_state);
            let hp = 0.5 * (v - self.lp_state);
            self.lp_state = v;
            e[0] += lp * lp;
            e[1] += hp * hp;
        }
        let n = x.len().max(1) as f32;
        let mut snr_db = [0f32; 2];
        // Faster adaptation at start-up.
        let up = if self.counter < 20 { 0.2 } else { 0.02 };
        self.counter = self.counter.saturating_add(1);
        for b in 0..2 {
            let nrg = e[b] / n + 1.0;
            if nrg < self.noise[b] {
                self.noise[b] = 0.5 * self.noise[b] + 0.5 * nrg;
            } else {
                self.noise[b] *= 1.0 + up * (nrg / self.noise[b]).min(4.0).log2().min(1.0) * 0.25;
                self.noise[b] = self.noise[b].min(nrg);
            }
            self.noise[b] = self.noise[b].max(1.0);
            snr_db[b] = 10.0 * (nrg / self.noise[b]).log10();
        }
        let snr = 0.5 * (snr_db[0] + snr_db[1]);
        self.smoothed_snr += 0.3 * (snr - self.smoothed_snr);
        // The SDK: sigmoid of SNR with a negative offset, scaled by SNR-weighted power.
        let sa = sigmoid(0.45 * (self.smoothed_snr.max(snr) - 6.0));
        let total = e[0] + e[1] + 1.0;
        VadOut {
            speech_activity: sa.clamp(0.0, 1.0),
            quality_bands: [
                sigmoid(0.25 * (snr_db[0] - 20.0)),
                sigmoid(0.25 * (snr_db[1] - 20.0)),
            ],
            tilt: ((e[1] - e[0]) / total).clamp(-1.0, 1.0),
        }
    }
}
