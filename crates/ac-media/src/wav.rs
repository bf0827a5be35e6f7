//! WAV (RIFF) files for ring tones (manual 3.2.6.2) and music on hold (4.3): A-law or µ-law
//! 8 kHz 8-bit, or PCM 16 kHz 16-bit, mono; a MoH file is at most 300 KB.
//!
//! Our own RIFF reader: [`WavView`] is a checked, zero-copy view over the bytes (chunk
//! walk with bounds checks, word-aligned padding, one `fmt ` before one `data`); [`Wav`] is
//! the owned form with parse/emit, keeping every chunk in order so that parse -> emit ->
//! parse is the identity. Bad input is a [`WavError`], never a panic; nothing is allocated
//! beyond the input's size.

use crate::g711;

/// Largest music-on-hold file the phone accepts (manual 4.3: 300 KB).
pub const MOH_MAX_BYTES: usize = 300 * 1024;

/// WAVE format tags (RFC 2361).
pub const TAG_PCM: u16 = 1;
pub const TAG_ALAW: u16 = 6;
pub const TAG_MULAW: u16 = 7;

/// Why a file is not a usable WAV file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF/WAVE file")]
    NotWave,
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("chunk {0:?} overruns the file")]
    ChunkOverrun([u8; 4]),
    #[error("missing {0} chunk")]
    Missing(&'static str),
    #[error("duplicate or misplaced {0} chunk")]
    Misplaced(&'static str),
    #[error("bad fmt chunk: {0}")]
    BadFormat(&'static str),
    #[error("unsupported audio: tag {tag}, {channels} channel(s), {rate} Hz, {bits} bits")]
    Unsupported {
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
    },
    #[error("file of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("a chunk is too large to write")]
    TooLargeToEmit,
}

/// The `fmt ` chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmt {
    pub tag: u16,
    pub channels: u16,
    pub rate: u32,
    pub byte_rate: u32,
    pub block_align: u16,
    pub bits: u16,
    /// Bytes after the 16-byte core (cbSize and extension), kept as they are.
    pub extra: Vec<u8>,
}

impl Fmt {
    fn parse(b: &[u8]) -> Result<Fmt, WavError> {
        if b.len() < 16 {
            return Err(WavError::BadFormat("shorter than 16 bytes"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(Fmt {
            tag: u16_at(0),
            channels: u16_at(2),
            rate: u32_at(4),
            byte_rate: u32_at(8),
            block_align: u16_at(12),
            bits: u16_at(14),
            extra: b[16..].to_vec(),
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&self.byte_rate.to_le_bytes());
        out.extend_from_slice(&self.block_align.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.extra);
    }

    /// The phone's supported encodings (manual 3.2.6.2 / 4.3), mono.
    pub fn encoding(&self) -> Result<Encoding, WavError> {
        let unsupported = WavError::Unsupported {
            tag: self.tag,
            channels: self.channels,
            rate: self.rate,
            bits: self.bits,
        };
        if self.channels != 1 {
            return Err(unsupported);
        }
        match (self.tag, self.rate, self.bits) {
            (TAG_ALAW, 8000, 8) => Ok(Encoding::Alaw),
            (TAG_MULAW, 8000, 8) => Ok(Encoding::Mulaw),
            (TAG_PCM, 16000, 16) => Ok(Encoding::Pcm16),
            _ => Err(unsupported),
        }
    }
}

/// A supported audio encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 A-law, 8 kHz.
    Alaw,
    /// G.711 µ-law, 8 kHz.
    Mulaw,
    /// Linear 16-bit little-endian, 16 kHz.
    Pcm16,
}

impl Encoding {
    pub fn rate(self) -> u32 {
        match self {
            Encoding::Alaw | Encoding::Mulaw => 8000,
            Encoding::Pcm16 => 16000,
        }
    }
}

/// A checked zero-copy view of a RIFF/WAVE file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavView<'a> {
    pub fmt: Fmt,
    pub data: &'a [u8],
    /// Every chunk (id, body) in file order, `fmt ` and `data` included.
    pub chunks: Vec<([u8; 4], &'a [u8])>,
}

impl<'a> WavView<'a> {
    /// Walks the chunks of `b`. The RIFF size may be smaller than the file (trailing bytes
    /// are ignored) but not larger.
    pub fn parse(b: &'a [u8]) -> Result<WavView<'a>, WavError> {
        if b.len() < 12 {
            return Err(WavError::Truncated("RIFF header"));
        }
        if &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
            return Err(WavError::NotWave);
        }
        let riff = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let end = riff
            .checked_add(8)
            .filter(|e| *e <= b.len())
            .ok_or(WavError::Truncated("RIFF body"))?;
        if riff < 4 {
            return Err(WavError::NotWave);
        }
        let mut pos = 12;
        let mut fmt: Option<Fmt> = None;
        let mut data: Option<&[u8]> = None;
        // At most one chunk per 8 bytes: bounded by the input.
        let mut chunks = Vec::new();
        while pos < end {
            if end - pos < 8 {
                return Err(WavError::Truncated("chunk header"));
            }
            let id = [b[pos], b[pos + 1], b[pos + 2], b[pos + 3]];
            let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
            let body_start = pos + 8;
            let body_end = body_start
                .checked_add(len)
                .filter(|e| *e <= end)
                .ok_or(WavError::ChunkOverrun(id))?;
            let body = &b[body_start..body_end];
            match &id {
                b"fmt " => {
                    if fmt.is_some() || data.is_some() {
                        return Err(WavError::Misplaced("fmt"));
                    }
                    fmt = Some(Fmt::parse(body)?);
                }
                b"data" => {
                    if fmt.is_none() || data.is_some() {
                        return Err(WavError::Misplaced("data"));
                    }
                    data = Some(body);
                }
                _ => {}
            }
            chunks.push((id, body));
            // Chunks are word aligned: an odd body is followed by a pad byte (which may be
            // missing at the very end of a file).
            pos = (body_end + (len & 1)).min(end);
        }
        let fmt = fmt.ok_or(WavError::Missing("fmt"))?;
        let data = data.ok_or(WavError::Missing("data"))?;
        if fmt.block_align == 0 || fmt.channels == 0 {
            return Err(WavError::BadFormat("zero block align or channels"));
        }
        Ok(WavView { fmt, data, chunks })
    }

    /// The owned form.
    pub fn to_owned(&self) -> Wav {
        Wav {
            chunks: self
                .chunks
                .iter()
                .map(|(id, body)| {
                    if id == b"fmt " {
                        (*id, ChunkBody::Fmt(self.fmt.clone()))
                    } else {
                        (*id, ChunkBody::Raw(body.to_vec()))
                    }
                })
                .collect(),
        }
    }

    /// Decodes the samples of a supported file; returns them with their rate.
    pub fn decode(&self) -> Result<(Vec<i16>, u32), WavError> {
        let enc = self.fmt.encoding()?;
        let pcm = match enc {
            Encoding::Alaw => self.data.iter().map(|c| g711::alaw_to_linear(*c)).collect(),
            Encoding::Mulaw => self.data.iter().map(|c| g711::ulaw_to_linear(*c)).collect(),
            Encoding::Pcm16 => self
                .data
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
        };
        Ok((pcm, enc.rate()))
    }
}

/// A chunk body of the owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkBody {
    Fmt(Fmt),
    Raw(Vec<u8>),
}

/// An owned WAV file: its chunks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    pub chunks: Vec<([u8; 4], ChunkBody)>,
}

impl Wav {
    pub fn parse(b: &[u8]) -> Result<Wav, WavError> {
        Ok(WavView::parse(b)?.to_owned())
    }

    /// A mono file of `pcm` in `enc` (A-law/µ-law at 8 kHz, PCM at 16 kHz).
    pub fn from_pcm(enc: Encoding, pcm: &[i16]) -> Wav {
        let (tag, bits, data) = match enc {
            Encoding::Alaw => (
                TAG_ALAW,
                8,
                pcm.iter().map(|s| g711::linear_to_alaw(*s)).collect(),
            ),
            Encoding::Mulaw => (
                TAG_MULAW,
                8,
                pcm.iter().map(|s| g711::linear_to_ulaw(*s)).collect(),
            ),
            Encoding::Pcm16 => (
                TAG_PCM,
                16,
                pcm.iter().flat_map(|s| s.to_le_bytes()).collect(),
            ),
        };
        let rate = enc.rate();
        let block = bits / 8;
        Wav {
            chunks: vec![
                (
                    *b"fmt ",
                    ChunkBody::Fmt(Fmt {
                        tag,
                        channels: 1,
                        rate,
                        byte_rate: rate * u32::from(block),
                        block_align: block,
                        bits,
                        // Non-PCM formats carry cbSize = 0.
                        extra: if tag == TAG_PCM { vec![] } else { vec![0, 0] },
                    }),
                ),
                (*b"data", ChunkBody::Raw(data)),
            ],
        }
    }

    /// Writes the file: RIFF header with the right size, chunks padded to even lengths.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WavError> {
        let start = out.len();
        out.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        for (id, body) in &self.chunks {
            out.extend_from_slice(id);
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            match body {
                ChunkBody::Fmt(f) => f.emit(out),
                ChunkBody::Raw(r) => out.extend_from_slice(r),
            }
            let len = out.len() - len_at - 4;
            let l32 = u32::try_from(len).map_err(|_| WavError::TooLargeToEmit)?;
            out[len_at..len_at + 4].copy_from_slice(&l32.to_le_bytes());
            if len & 1 == 1 {
                out.push(0);
            }
        }
        let riff = u32::try_from(out.len() - start - 8).map_err(|_| WavError::TooLargeToEmit)?;
        out[start + 4..start + 8].copy_from_slice(&riff.to_le_bytes());
        Ok(())
    }
}

/// Built-in ring tones Ring01-Ring11 (`personal_settings/lines/0/ring_tone`), synthesised
/// at 16 kHz (no recorded audio is shipped): each is one cadence cycle of a few tone or
/// warble notes. Returns None for another name.
pub fn builtin_ring(name: &str) -> Option<Vec<i16>> {
    // (notes as (Hz, Hz alternate for warble or 0, ms), silence ms at the end)
    let notes: (&[(f64, f64, u32)], u32) = match name {
        "Ring01" => (&[(440.0, 480.0, 2000)], 4000),
        "Ring02" => (&[(425.0, 0.0, 1000)], 4000),
        "Ring03" => (
            &[(400.0, 450.0, 400), (0.0, 0.0, 200), (400.0, 450.0, 400)],
            2000,
        ),
        "Ring04" => (
            &[(660.0, 0.0, 150), (880.0, 0.0, 150), (990.0, 0.0, 300)],
            1500,
        ),
        "Ring05" => (&[(1200.0, 1400.0, 1000)], 2000),
        "Ring06" => (
            &[
                (523.25, 0.0, 200),
                (659.25, 0.0, 200),
                (783.99, 0.0, 200),
                (1046.5, 0.0, 400),
            ],
            1500,
        ),
        "Ring07" => (
            &[(800.0, 1000.0, 500), (0.0, 0.0, 250), (800.0, 1000.0, 500)],
            2500,
        ),
        "Ring08" => (
            &[(1046.5, 0.0, 150), (783.99, 0.0, 150), (1046.5, 0.0, 150)],
            1800,
        ),
        "Ring09" => (
            &[(950.0, 1400.0, 300), (0.0, 0.0, 100), (1800.0, 0.0, 300)],
            2000,
        ),
        "Ring10" => (
            &[(587.33, 0.0, 250), (739.99, 0.0, 250), (880.0, 0.0, 500)],
            2000,
        ),
        "Ring11" => (
            &[
                (2000.0, 2500.0, 100),
                (0.0, 0.0, 100),
                (2000.0, 2500.0, 100),
            ],
            1700,
        ),
        _ => return None,
    };
    let fs = 16000.0;
    let amp = 0.3 * 32767.0;
    let mut out = Vec::new();
    let mut phase = 0.0f64;
    for (f1, f2, ms) in notes.0 {
        let n = (*ms as usize) * 16;
        for i in 0..n {
            // Warble: alternate f1/f2 every 25 ms (20 Hz), continuous phase.
            let f = if *f2 > 0.0 && (i / 400) % 2 == 1 {
                *f2
            } else {
                *f1
            };
            // 5 ms raised-cosine ramps at note edges.
            let ramp = 80;
            let g = if i < ramp {
                0.5 - 0.5 * (std::f64::consts::PI * i as f64 / ramp as f64).cos()
            } else if n - i <= ramp {
                0.5 - 0.5 * (std::f64::consts::PI * (n - i) as f64 / ramp as f64).cos()
            } else {
                1.0
            };
            let v = if f > 0.0 { amp * g * phase.sin() } else { 0.0 };
            phase = (phase + 2.0 * std::f64::consts::PI * f / fs) % (2.0 * std::f64::consts::PI);
            out.push(v.round() as i16);
        }
    }
    out.extend(std::iter::repeat_n(0i16, notes.1 as usize * 16));
    Some(out)
}

/// Music-on-hold player: a WAV file (<= 300 KB, supported encoding) played in a loop at the
/// call's rate (8 or 16 kHz; 2:1 conversion by [`crate::resample`]).
#[derive(Debug, Clone)]
pub struct MohPlayer {
    pcm: Vec<i16>,
    pos: usize,
}

impl MohPlayer {
    /// Checks and decodes `file` for a call at `rate` (8000 or 16000).
    pub fn new(file: &[u8], rate: u32) -> Result<MohPlayer, WavError> {
        if file.len() > MOH_MAX_BYTES {
            return Err(WavError::TooLarge {
                size: file.len(),
                limit: MOH_MAX_BYTES,
            });
        }
        let (pcm, file_rate) = WavView::parse(file)?.decode()?;
        let pcm = match (file_rate, rate) {
            (a, b) if a == b => pcm,
            (8000, 16000) => crate::resample::Upsampler2::new().process_vec(&pcm),
            (16000, 8000) => crate::resample::Downsampler2::new().process_vec(&pcm),
            _ => {
                return Err(WavError::Unsupported {
                    tag: 0,
                    channels: 1,
                    rate,
                    bits: 16,
                })
            }
        };
        if pcm.is_empty() {
            return Err(WavError::Missing("audio"));
        }
        Ok(MohPlayer { pcm, pos: 0 })
    }

    /// Fills `out`, looping the file.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.pcm[self.pos];
            self.pos = (self.pos + 1) % self.pcm.len();
        }
    }
}
