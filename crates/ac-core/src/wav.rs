//! 16-bit PCM mono WAV files for `acphone` (the virtual board's microphone and speaker).
//! The reader checks every length against the data and accepts only 16-bit mono PCM.

/// Why a WAV file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF/WAVE file")]
    NotWav,
    #[error("chunk {0:?} runs past the end of the file")]
    Truncated(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("no fmt or data chunk")]
    Missing,
}

/// Decoded audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Wav {
    /// Parses a WAV file (RIFF chunks walked with checked lengths).
    pub fn parse(b: &[u8]) -> Result<Wav, WavError> {
        if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
            return Err(WavError::NotWav);
        }
        let mut pos = 12usize;
        let mut rate = None;
        let mut data = None;
        while pos + 8 <= b.len() {
            let id = &b[pos..pos + 4];
            let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
            let body = pos + 8;
            let end = body
                .checked_add(len)
                .filter(|e| *e <= b.len())
                .ok_or_else(|| WavError::Truncated(String::from_utf8_lossy(id).into()))?;
            match id {
                b"fmt " => {
                    if len < 16 {
                        return Err(WavError::Truncated("fmt ".into()));
                    }
                    let f = &b[body..end];
                    let tag = u16::from_le_bytes([f[0], f[1]]);
                    let ch = u16::from_le_bytes([f[2], f[3]]);
                    let r = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                    let bits = u16::from_le_bytes([f[14], f[15]]);
                    // The byte rate (rate x 2) must fit its 32-bit field.
                    if tag != 1 || ch != 1 || bits != 16 || r == 0 || r > u32::MAX / 2 {
                        return Err(WavError::Unsupported(format!(
                            "format {tag}, {ch} channels, {bits} bits, {r} Hz (need PCM mono 16-bit)"
                        )));
                    }
                    rate = Some(r);
                }
                b"data" => data = Some(&b[body..end]),
                _ => {}
            }
            // Chunks are padded to an even length.
            pos = end + (len & 1);
        }
        let (rate, data) = rate.zip(data).ok_or(WavError::Missing)?;
        let samples = data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Wav { rate, samples })
    }

    /// Emits the canonical 44-byte-header file. Lengths and the byte rate saturate at the
    /// 32-bit fields' maximum (a file of more than 4 GiB or a rate above 2^31 Hz cannot be
    /// described by a WAV header; [`Wav::parse`] never produces such values).
    pub fn emit(&self) -> Vec<u8> {
        let n = u32::try_from(self.samples.len().saturating_mul(2)).unwrap_or(u32::MAX);
        let mut b = Vec::with_capacity(44 + self.samples.len() * 2);
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&n.saturating_add(36).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&self.rate.to_le_bytes());
        b.extend_from_slice(&self.rate.saturating_mul(2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&n.to_le_bytes());
        for s in &self.samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let w = Wav {
            rate: 16000,
            samples: (0..1000).map(|i| (i * 37 % 65536 - 32768) as i16).collect(),
        };
        let b = w.emit();
        assert_eq!(Wav::parse(&b).unwrap(), w);
        assert_eq!(Wav::parse(b"RIFX"), Err(WavError::NotWav));
        let mut t = b.clone();
        t.truncate(60);
        assert!(matches!(Wav::parse(&t), Err(WavError::Truncated(_))));
        let mut st = b.clone();
        st[22] = 2; // stereo
        assert!(matches!(Wav::parse(&st), Err(WavError::Unsupported(_))));
        let mut huge = b.clone();
        huge[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Wav::parse(&huge), Err(WavError::Truncated(_))));
        // A rate whose byte rate does not fit 32 bits (found by the fuzz target: emit
        // overflowed).
        let mut fast = b;
        fast[24..28].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        assert!(matches!(Wav::parse(&fast), Err(WavError::Unsupported(_))));
        let odd = Wav {
            rate: u32::MAX,
            samples: vec![1, 2],
        };
        assert_eq!(&odd.emit()[28..32], &u32::MAX.to_le_bytes());
    }
}
