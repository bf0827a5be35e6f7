//! Seeded network traces: Gilbert (two-state) loss and random delay.
#![allow(dead_code)]

/// xorshift64* generator, seeded.
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
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One packet of a trace: index, send time and arrival time (None = lost), ms.
#[derive(Debug, Clone, Copy)]
pub struct TracePacket {
    pub index: u32,
    pub sent_ms: f64,
    pub arrival_ms: Option<f64>,
}

/// `n` packets every 20 ms; Gilbert loss with mean `loss` and mean burst length `burst`;
/// delay 30 ms plus a random part of mean `jitter_ms / 2` (uniform on [0, jitter_ms], with a
/// slowly wandering offset) so that large jitter reorders packets.
pub fn trace(seed: u64, n: u32, loss: f64, burst: f64, jitter_ms: f64) -> Vec<TracePacket> {
    let mut rng = Rng::new(seed);
    let r = 1.0 / burst;
    let p = if loss > 0.0 {
        loss * r / (1.0 - loss)
    } else {
        0.0
    };
    let mut bad = false;
    let mut wander = 0.0f64;
    (0..n)
        .map(|i| {
            bad = if bad { rng.f64() >= r } else { rng.f64() < p };
            let sent = f64::from(i) * 20.0;
            wander = (wander + (rng.f64() - 0.5) * jitter_ms * 0.1).clamp(0.0, jitter_ms * 0.5);
            let extra = rng.f64() * jitter_ms * 0.5 + wander;
            TracePacket {
                index: i,
                sent_ms: sent,
                arrival_ms: (!bad).then_some(sent + 30.0 + extra),
            }
        })
        .collect()
}
