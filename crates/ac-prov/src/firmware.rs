//! The provisioning side of firmware images: the fixed header the engine reads to decide
//! whether a download is needed (manual 3.5.1: "checking for new firmware"), and the
//! hand-over interface to the firmware updater (issue 4 implements the updater itself).
//!
//! Header (128 bytes, big-endian):
//!
//! | offset | size | field                                                     |
//! |--------|------|-----------------------------------------------------------|
//! | 0      | 4    | magic `ACFW`                                              |
//! | 4      | 1    | header version (1)                                        |
//! | 5      | 1    | model bit set: 405HD=1, 420HD=2, 430HD=4, 440HD=8, 450HD=16 |
//! | 6      | 2    | reserved (0)                                              |
//! | 8      | 32   | firmware version, ASCII, NUL padded (e.g. `3.4.6.1234`)   |
//! | 40     | 8    | payload length (bytes after the header)                  |
//! | 48     | 32   | SHA-256 of the payload                                    |
//! | 80     | 48   | reserved (0)                                              |

use ac_cfg::Model;
use sha2::{Digest, Sha256};

pub const HEADER_LEN: usize = 128;
pub const MAGIC: &[u8; 4] = b"ACFW";
/// Largest image accepted (the 400HD flash partition is far smaller).
pub const MAX_IMAGE: u64 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareError {
    #[error("firmware file shorter than its {HEADER_LEN}-byte header")]
    Short,
    #[error("not a firmware image (no ACFW magic)")]
    NoMagic,
    #[error("unsupported firmware header version {0}")]
    Version(u8),
    #[error("firmware version string is not printable ASCII")]
    BadVersion,
    #[error("firmware is for other models, not {0}")]
    WrongModel(Model),
    #[error("firmware payload of {0} bytes is over the limit")]
    TooLarge(u64),
    #[error("firmware payload is {got} bytes, header says {want}")]
    Length { got: u64, want: u64 },
    #[error("firmware payload SHA-256 does not match its header")]
    Digest,
}

/// A decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub models: u8,
    pub version: String,
    pub payload_len: u64,
    pub sha256: [u8; 32],
}

fn model_bit(m: Model) -> u8 {
    match m {
        Model::Hd405 => 1,
        Model::Hd420 => 2,
        Model::Hd430 => 4,
        Model::Hd440 => 8,
        Model::Hd450 => 16,
    }
}

impl Header {
    /// Decodes the first [`HEADER_LEN`] bytes of an image.
    pub fn parse(b: &[u8]) -> Result<Header, FirmwareError> {
        let b = b.get(..HEADER_LEN).ok_or(FirmwareError::Short)?;
        if &b[..4] != MAGIC {
            return Err(FirmwareError::NoMagic);
        }
        if b[4] != 1 {
            return Err(FirmwareError::Version(b[4]));
        }
        let v = &b[8..40];
        let n = v.iter().position(|&c| c == 0).unwrap_or(v.len());
        let v = &v[..n];
        if v.is_empty() || !v.iter().all(|c| c.is_ascii_graphic()) {
            return Err(FirmwareError::BadVersion);
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&b[40..48]);
        let payload_len = u64::from_be_bytes(len);
        if payload_len > MAX_IMAGE {
            return Err(FirmwareError::TooLarge(payload_len));
        }
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&b[48..80]);
        Ok(Header {
            models: b[5],
            version: String::from_utf8_lossy(v).into_owned(),
            payload_len,
            sha256,
        })
    }

    pub fn supports(&self, m: Model) -> bool {
        self.models & model_bit(m) != 0
    }

    /// Checks a whole image against its header (length and digest).
    pub fn verify(&self, image: &[u8]) -> Result<(), FirmwareError> {
        let payload = image.get(HEADER_LEN..).ok_or(FirmwareError::Short)?;
        if payload.len() as u64 != self.payload_len {
            return Err(FirmwareError::Length {
                got: payload.len() as u64,
                want: self.payload_len,
            });
        }
        let d: [u8; 32] = Sha256::digest(payload).into();
        if d != self.sha256 {
            return Err(FirmwareError::Digest);
        }
        Ok(())
    }
}

/// Builds an image (for tests, the demo and the firmware build tooling).
pub fn build_image(version: &str, models: &[Model], payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = 1;
    h[5] = models.iter().fold(0, |a, m| a | model_bit(*m));
    let v = version.as_bytes();
    let n = v.len().min(31);
    h[8..8 + n].copy_from_slice(&v[..n]);
    h[40..48].copy_from_slice(&(payload.len() as u64).to_be_bytes());
    let d: [u8; 32] = Sha256::digest(payload).into();
    h[48..80].copy_from_slice(&d);
    h.extend_from_slice(payload);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_checks() {
        let img = build_image("3.4.6.1", &[Model::Hd420, Model::Hd440], b"payload");
        let h = Header::parse(&img).unwrap();
        assert_eq!(h.version, "3.4.6.1");
        assert!(h.supports(Model::Hd440) && !h.supports(Model::Hd450));
        h.verify(&img).unwrap();
        let mut bad = img.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(h.verify(&bad), Err(FirmwareError::Digest));
        assert_eq!(
            h.verify(&img[..img.len() - 1]),
            Err(FirmwareError::Length { got: 6, want: 7 })
        );
        assert_eq!(Header::parse(&img[..10]), Err(FirmwareError::Short));
        assert_eq!(Header::parse(&[0u8; 200]), Err(FirmwareError::NoMagic));
    }
}
