//! Voice activity detection, discontinuous transmission and comfort noise (RFC 3389).
//!
//! - [`CnPayload`]: the CN payload, noise level in -dBov plus optional reflection
//!   coefficients (kept as received; RFC 3389 3 lets a decoder ignore them, and our
//!   generator does: it synthesises white noise at the level).
//! - [`Vad`]: energy VAD with an adaptive noise floor and a hangover.
//! - [`Dtx`]: the sender's choice per frame: send audio, send a SID (CN) frame, or nothing.
//! - [`ComfortNoise`]: the receiver's generator.

use crate::error::PacketError;

/// RMS of 0 dBov in 16-bit linear PCM: the full-scale square wave (RFC 3389 3.1).
const DBOV0_RMS: f64 = 32767.0;

/// Level of a frame in dBov (negative; -127 for digital silence).
pub fn level_dbov(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return -127.0;
    }
    let e = pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64;
    if e <= 0.0 {
        -127.0
    } else {
        (10.0 * (e.sqrt() / DBOV0_RMS).powi(2).log10()).max(-127.0)
    }
}

/// An RFC 3389 comfort noise payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnPayload {
    /// Noise level, -dBov, 0..=127 (3.1).
    pub level: u8,
    /// Quantised reflection coefficients, as sent (3.2).
    pub reflection: Vec<u8>,
}

impl CnPayload {
    /// Parses a payload: at least the level byte, whose most significant bit must be 0.
    pub fn parse(buf: &[u8]) -> Result<Self, PacketError> {
        let (&level, rest) = buf.split_first().ok_or(PacketError::Truncated {
            what: "CN payload",
            need: 1,
            have: 0,
        })?;
        if level & 0x80 != 0 {
            return Err(PacketError::OutOfRange("CN noise level"));
        }
        Ok(CnPayload {
            level,
            reflection: rest.to_vec(),
        })
    }

    /// Appends the payload.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        if self.level > 127 {
            return Err(PacketError::OutOfRange("CN noise level"));
        }
        out.push(self.level);
        out.extend_from_slice(&self.reflection);
        Ok(())
    }
}

/// Energy VAD: speech when the frame is 9 dB over the tracked noise floor and above
/// -55 dBov; 200 ms hangover.
#[derive(Debug, Clone)]
pub struct Vad {
    floor: f64,
    hang: u32,
    hang_frames: u32,
}

impl Vad {
    /// A VAD for frames of `frame_ms`.
    pub fn new(frame_ms: u32) -> Self {
        Vad {
            floor: -60.0,
            hang: 0,
            hang_frames: 200 / frame_ms.max(1),
        }
    }

    /// Classifies a frame (true = voice).
    pub fn process(&mut self, pcm: &[i16]) -> bool {
        let l = level_dbov(pcm);
        // Floor: falls at once, rises by 0.5 dB per frame.
        self.floor = if l < self.floor {
            l
        } else {
            (self.floor + 0.5).min(l)
        };
        let active = l > self.floor + 9.0 && l > -55.0;
        if active {
            self.hang = self.hang_frames;
            true
        } else if self.hang > 0 {
            self.hang -= 1;
            true
        } else {
            false
        }
    }

    /// Current noise floor estimate, dBov.
    pub fn noise_floor(&self) -> f64 {
        self.floor
    }
}

/// What to send for a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtxDecision {
    /// Voice: send the encoded frame.
    Audio,
    /// Silence: send this SID frame (payload type CN, RFC 3551 13).
    Sid(CnPayload),
    /// Silence, receiver keeps generating noise: send nothing.
    Nothing,
}

/// DTX: a SID at the start of each silence, when the level moves by 3 dB or more, and at
/// least every `refresh_frames` frames.
#[derive(Debug, Clone)]
pub struct Dtx {
    vad: Vad,
    last_sid: Option<u8>,
    since_sid: u32,
    refresh_frames: u32,
}

impl Dtx {
    /// DTX for `frame_ms` frames, refreshing the SID every 5 s of silence.
    pub fn new(frame_ms: u32) -> Self {
        Dtx {
            vad: Vad::new(frame_ms),
            last_sid: None,
            since_sid: 0,
            refresh_frames: 5000 / frame_ms.max(1),
        }
    }

    /// Decides for one frame of PCM.
    pub fn process(&mut self, pcm: &[i16]) -> DtxDecision {
        if self.vad.process(pcm) {
            self.last_sid = None;
            return DtxDecision::Audio;
        }
        let level = (-level_dbov(pcm)).round().clamp(0.0, 127.0) as u8;
        self.since_sid += 1;
        let changed = self
            .last_sid
            .is_none_or(|l| (i32::from(l) - i32::from(level)).abs() >= 3);
        if changed || self.since_sid >= self.refresh_frames {
            self.last_sid = Some(level);
            self.since_sid = 0;
            DtxDecision::Sid(CnPayload {
                level,
                reflection: Vec::new(),
            })
        } else {
            DtxDecision::Nothing
        }
    }
}

/// Comfort noise generator: white noise at the last SID's level.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    rms: f64,
    state: u32,
}

impl Default for ComfortNoise {
    fn default() -> Self {
        Self::new()
    }
}

impl ComfortNoise {
    /// Silent until the first SID.
    pub fn new() -> Self {
        ComfortNoise {
            rms: 0.0,
            state: 0x1234_5678,
        }
    }

    /// A SID arrived.
    pub fn update(&mut self, sid: &CnPayload) {
        self.rms = DBOV0_RMS * 10f64.powf(-f64::from(sid.level) / 20.0);
    }

    /// Fills a frame with noise.
    pub fn fill(&mut self, out: &mut [i16]) {
        // Uniform noise on [-a, a] has RMS a / sqrt(3).
        let a = self.rms * 3f64.sqrt();
        for s in out {
            self.state = self
                .state
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            let u = f64::from(self.state >> 8) / f64::from(1u32 << 24) * 2.0 - 1.0;
            *s = (u * a).round().clamp(-32768.0, 32767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_payload_round_trip_and_errors() {
        let p = CnPayload {
            level: 60,
            reflection: vec![130, 90],
        };
        let mut w = Vec::new();
        p.emit(&mut w).unwrap();
        assert_eq!(w, [60, 130, 90]);
        assert_eq!(CnPayload::parse(&w).unwrap(), p);
        assert!(CnPayload::parse(&[]).is_err());
        assert!(CnPayload::parse(&[0x80]).is_err());
    }

    #[test]
    fn comfort_noise_has_the_signalled_level() {
        for level in [30u8, 50, 70] {
            let mut cn = ComfortNoise::new();
            cn.update(&CnPayload {
                level,
                reflection: vec![],
            });
            let mut buf = vec![0i16; 8000];
            cn.fill(&mut buf);
            let l = level_dbov(&buf);
            assert!((l + f64::from(level)).abs() < 0.5, "{level}: {l}");
        }
    }
}
