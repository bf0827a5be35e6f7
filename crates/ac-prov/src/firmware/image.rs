//! The firmware image format (`.img`, format 2): a signed header that names the models, the
//! version, an anti-rollback counter and up to 16 sections, each with its SHA-256, followed by
//! the sections' bytes.
//!
//! The seed phone's images carry only a CRC (CVE-2023-22955: anybody who can serve a file can
//! install firmware). Here the header is signed with Ed25519 (RFC 8032) and the header pins
//! every byte of the body through the section digests, so:
//!
//! * the provisioning engine decides from the header alone (1,216 bytes at most, one ranged
//!   HTTP read or the first TFTP blocks) whether to download, and refuses an untrusted,
//!   wrong-model or rolled-back image before downloading its body;
//! * the installer verifies while it streams, and the bootloader can re-verify a slot.
//!
//! Layout (big-endian):
//!
//! | offset | size | field                                                              |
//! |--------|------|--------------------------------------------------------------------|
//! | 0      | 4    | magic `ACFW`                                                       |
//! | 4      | 1    | format (2)                                                         |
//! | 5      | 1    | models: 405HD=1, 420HD=2, 430HD=4, 440HD=8, 450HD=16               |
//! | 6      | 2    | signed header length `H` = 128 + 64 x sections                      |
//! | 8      | 32   | version, printable ASCII, NUL padded (`3.4.6.1234`)                |
//! | 40     | 4    | security counter (anti-rollback)                                   |
//! | 44     | 1    | number of sections (1-16)                                          |
//! | 45     | 1    | signature algorithm (1 = Ed25519)                                  |
//! | 46     | 2    | reserved (0)                                                       |
//! | 48     | 8    | key id: first 8 bytes of SHA-256 of the raw public key              |
//! | 56     | 8    | body length (sum of the section sizes)                             |
//! | 64     | 8    | build time, Unix seconds (informative)                             |
//! | 72     | 56   | reserved (0)                                                       |
//! | 128    | 64 n | sections: name 16 (ASCII, NUL padded), offset 8, size 8, SHA-256 32 |
//! | H      | 64   | Ed25519 signature over bytes `0..H`                                |
//! | H + 64 | ...  | the sections, contiguous, in table order                           |
//!
//! Every field is checked on parse (reserved bytes zero, sections contiguous from `H + 64`,
//! names unique), so a parsed header re-emits byte for byte.

use std::cmp::Ordering;

use ac_cfg::Model;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 4] = b"ACFW";
pub const FORMAT: u8 = 2;
pub const FIXED_LEN: usize = 128;
pub const SECTION_LEN: usize = 64;
pub const MAX_SECTIONS: usize = 16;
pub const SIG_LEN: usize = 64;
/// The most bytes a header (with its signature) can take: what the engine reads first.
pub const MAX_HEADER_LEN: usize = FIXED_LEN + MAX_SECTIONS * SECTION_LEN + SIG_LEN;
/// Largest body accepted (the 400HD flash partition is far smaller).
pub const MAX_IMAGE: u64 = 256 << 20;
pub const SIG_ED25519: u8 = 1;
const NAME_LEN: usize = 16;
const VERSION_LEN: usize = 32;

/// Everything that can be wrong with an image or its fit for this phone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareError {
    #[error("firmware file too short: its header needs {need} bytes")]
    Short { need: usize },
    #[error("not a firmware image (no ACFW magic)")]
    NoMagic,
    #[error("unsupported firmware image format {0} (this phone reads format 2)")]
    Format(u8),
    #[error("firmware header length field {0} does not match its section count")]
    HeaderLen(u16),
    #[error("firmware version string is empty or not printable ASCII")]
    BadVersion,
    #[error("firmware header has {0} sections (1-16 allowed)")]
    Sections(u8),
    #[error("unknown firmware signature algorithm {0}")]
    SigAlg(u8),
    #[error("firmware header reserved bytes are not zero")]
    Reserved,
    #[error("firmware header names no known phone model")]
    NoModels,
    #[error("firmware section {index}: {reason}")]
    BadSection { index: usize, reason: &'static str },
    #[error("firmware body length field does not equal the sum of its sections")]
    BodyLen,
    #[error("firmware body of {0} bytes is over the limit")]
    TooLarge(u64),
    #[error("firmware is signed by an untrusted key (id {})", hex(.0))]
    UnknownKey([u8; 8]),
    #[error("firmware header signature does not verify (header tampered or wrong key)")]
    Signature,
    #[error("firmware is for other models, not {0}")]
    WrongModel(Model),
    #[error(
        "firmware {offered} is older than the running {running} and downgrades are not allowed"
    )]
    Downgrade { running: String, offered: String },
    #[error("firmware security counter {counter} is below this phone's minimum {minimum} (rollback refused)")]
    Rollback { counter: u32, minimum: u32 },
    #[error("firmware section {name:?} does not match its SHA-256 (body tampered or corrupted)")]
    SectionDigest { name: String },
    #[error("firmware image is {got} bytes, its header says {want}")]
    Length { got: u64, want: u64 },
    #[error("firmware header bytes changed during the download")]
    HeaderChanged,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One section of the body (bootloader, kernel, root file system, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// From the start of the image.
    pub offset: u64,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A decoded header. [`Header::parse`] checks the structure only; the signature is checked
/// by [`Header::verify_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub models: u8,
    pub version: String,
    pub security_counter: u32,
    pub key_id: [u8; 8],
    pub build_time: u64,
    pub sections: Vec<Section>,
    pub signature: [u8; 64],
}

pub fn model_bit(m: Model) -> u8 {
    match m {
        Model::Hd405 => 1,
        Model::Hd420 => 2,
        Model::Hd430 => 4,
        Model::Hd440 => 8,
        Model::Hd450 => 16,
    }
}

pub fn models_bits(models: &[Model]) -> u8 {
    models.iter().fold(0, |a, m| a | model_bit(*m))
}

/// The models of a bit set.
pub fn models_of(bits: u8) -> Vec<Model> {
    [
        Model::Hd405,
        Model::Hd420,
        Model::Hd430,
        Model::Hd440,
        Model::Hd450,
    ]
    .into_iter()
    .filter(|m| bits & model_bit(*m) != 0)
    .collect()
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn ascii_field(b: &[u8]) -> Option<String> {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let (v, pad) = b.split_at(n);
    if v.is_empty() || !v.iter().all(|c| c.is_ascii_graphic()) || pad.iter().any(|&c| c != 0) {
        return None;
    }
    Some(String::from_utf8_lossy(v).into_owned())
}

impl Header {
    /// Decodes and checks a header from the start of an image (`b` may hold more).
    pub fn parse(b: &[u8]) -> Result<Header, FirmwareError> {
        let fixed = b
            .get(..FIXED_LEN)
            .ok_or(FirmwareError::Short { need: FIXED_LEN })?;
        if &fixed[..4] != MAGIC {
            return Err(FirmwareError::NoMagic);
        }
        if fixed[4] != FORMAT {
            return Err(FirmwareError::Format(fixed[4]));
        }
        let models = fixed[5];
        if models == 0 || models & !0x1f != 0 {
            return Err(FirmwareError::NoModels);
        }
        let n = fixed[44];
        if n == 0 || n as usize > MAX_SECTIONS {
            return Err(FirmwareError::Sections(n));
        }
        let hlen = u16::from_be_bytes([fixed[6], fixed[7]]);
        let signed_len = FIXED_LEN + n as usize * SECTION_LEN;
        if hlen as usize != signed_len {
            return Err(FirmwareError::HeaderLen(hlen));
        }
        if fixed[45] != SIG_ED25519 {
            return Err(FirmwareError::SigAlg(fixed[45]));
        }
        if fixed[46..48].iter().chain(&fixed[72..128]).any(|&c| c != 0) {
            return Err(FirmwareError::Reserved);
        }
        let version = ascii_field(&fixed[8..8 + VERSION_LEN]).ok_or(FirmwareError::BadVersion)?;
        let total = signed_len + SIG_LEN;
        let b = b.get(..total).ok_or(FirmwareError::Short { need: total })?;
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&fixed[48..56]);
        let body_len = be64(&fixed[56..64]);
        if body_len > MAX_IMAGE {
            return Err(FirmwareError::TooLarge(body_len));
        }
        let mut sections: Vec<Section> = Vec::with_capacity(n as usize);
        let mut next = total as u64;
        for i in 0..n as usize {
            let s = &b[FIXED_LEN + i * SECTION_LEN..FIXED_LEN + (i + 1) * SECTION_LEN];
            let bad = |reason| FirmwareError::BadSection { index: i, reason };
            let name = ascii_field(&s[..NAME_LEN]).ok_or(bad("name is empty or not ASCII"))?;
            if sections.iter().any(|x| x.name == name) {
                return Err(bad("duplicate name"));
            }
            let offset = be64(&s[16..24]);
            let size = be64(&s[24..32]);
            if offset != next {
                return Err(bad("not contiguous with the previous section"));
            }
            if size > MAX_IMAGE {
                return Err(FirmwareError::TooLarge(size));
            }
            next += size;
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(&s[32..64]);
            sections.push(Section {
                name,
                offset,
                size,
                sha256,
            });
        }
        if next - total as u64 != body_len {
            return Err(FirmwareError::BodyLen);
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[signed_len..total]);
        Ok(Header {
            models,
            version,
            security_counter: u32::from_be_bytes([fixed[40], fixed[41], fixed[42], fixed[43]]),
            key_id,
            build_time: be64(&fixed[64..72]),
            sections,
            signature,
        })
    }

    /// Bytes covered by the signature.
    pub fn signed_len(&self) -> usize {
        FIXED_LEN + self.sections.len() * SECTION_LEN
    }

    /// Header plus signature: where the body starts.
    pub fn len(&self) -> usize {
        self.signed_len() + SIG_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    pub fn body_len(&self) -> u64 {
        self.sections.iter().map(|s| s.size).sum()
    }

    pub fn image_len(&self) -> u64 {
        self.len() as u64 + self.body_len()
    }

    /// The signed part (what [`Header::parse`] read up to the signature).
    pub fn emit_signed(&self) -> Vec<u8> {
        let mut h = vec![0u8; self.signed_len()];
        h[..4].copy_from_slice(MAGIC);
        h[4] = FORMAT;
        h[5] = self.models;
        h[6..8].copy_from_slice(&(self.signed_len() as u16).to_be_bytes());
        let v = self.version.as_bytes();
        let n = v.len().min(VERSION_LEN);
        h[8..8 + n].copy_from_slice(&v[..n]);
        h[40..44].copy_from_slice(&self.security_counter.to_be_bytes());
        h[44] = self.sections.len() as u8;
        h[45] = SIG_ED25519;
        h[48..56].copy_from_slice(&self.key_id);
        h[56..64].copy_from_slice(&self.body_len().to_be_bytes());
        h[64..72].copy_from_slice(&self.build_time.to_be_bytes());
        for (i, s) in self.sections.iter().enumerate() {
            let o = FIXED_LEN + i * SECTION_LEN;
            let nb = s.name.as_bytes();
            let k = nb.len().min(NAME_LEN);
            h[o..o + k].copy_from_slice(&nb[..k]);
            h[o + 16..o + 24].copy_from_slice(&s.offset.to_be_bytes());
            h[o + 24..o + 32].copy_from_slice(&s.size.to_be_bytes());
            h[o + 32..o + 64].copy_from_slice(&s.sha256);
        }
        h
    }

    /// Header and signature, as at the start of the image.
    pub fn emit(&self) -> Vec<u8> {
        let mut h = self.emit_signed();
        h.extend_from_slice(&self.signature);
        h
    }

    /// SHA-256 of the header and signature: identifies an image (the body is pinned by it).
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.emit()).into()
    }

    pub fn supports(&self, m: Model) -> bool {
        self.models & model_bit(m) != 0
    }

    /// Checks the Ed25519 signature with the trusted key the header names (RFC 8032
    /// section 5.1.7; strict verification rejects non-canonical and small-order inputs).
    pub fn verify_signature(&self, keys: &Keyring) -> Result<(), FirmwareError> {
        let key = keys
            .find(&self.key_id)
            .ok_or(FirmwareError::UnknownKey(self.key_id))?;
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.emit_signed(), &sig)
            .map_err(|_| FirmwareError::Signature)
    }

    /// Everything about the header that decides whether this phone may install it.
    pub fn check_for(
        &self,
        keys: &Keyring,
        model: Model,
        minimum_counter: u32,
    ) -> Result<(), FirmwareError> {
        self.verify_signature(keys)?;
        if !self.supports(model) {
            return Err(FirmwareError::WrongModel(model));
        }
        if self.security_counter < minimum_counter {
            return Err(FirmwareError::Rollback {
                counter: self.security_counter,
                minimum: minimum_counter,
            });
        }
        Ok(())
    }
}

/// Orders dotted numeric versions (`3.4.6.1234` < `3.10.0`); `None` when either is not
/// numeric (then only "same or different" is known).
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let parse = |s: &str| -> Option<Vec<u64>> {
        s.split('.')
            .map(|p| {
                if p.is_empty() || p.len() > 18 || !p.bytes().all(|c| c.is_ascii_digit()) {
                    None
                } else {
                    p.parse().ok()
                }
            })
            .collect()
    };
    let (mut x, mut y) = (parse(a)?, parse(b)?);
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    Some(x.cmp(&y))
}

/// The keys this phone trusts to sign firmware (burnt into the bootloader on a real phone).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<VerifyingKey>,
}

/// The key id of a public key: the first 8 bytes of SHA-256 of its 32 raw bytes.
pub fn key_id(k: &VerifyingKey) -> [u8; 8] {
    let d = Sha256::digest(k.as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    id
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 key in PEM (PKCS#8 / SubjectPublicKeyInfo): {0}")]
    Pem(String),
    #[error("no PUBLIC KEY block in the file")]
    NoKey,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn add(&mut self, k: VerifyingKey) {
        if !self.keys.contains(&k) {
            self.keys.push(k);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds every `PUBLIC KEY` block of a PEM file (as `openssl pkey -pubout` writes).
    pub fn add_pem(&mut self, pem: &str) -> Result<usize, KeyError> {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
        const END: &str = "-----END PUBLIC KEY-----";
        let mut n = 0;
        let mut rest = pem;
        while let Some(i) = rest.find(BEGIN) {
            let tail = &rest[i..];
            let j = tail
                .find(END)
                .ok_or(KeyError::Pem("unterminated block".into()))?;
            let block = &tail[..j + END.len()];
            let k = VerifyingKey::from_public_key_pem(block)
                .map_err(|e| KeyError::Pem(e.to_string()))?;
            self.add(k);
            n += 1;
            rest = &tail[j + END.len()..];
        }
        if n == 0 {
            return Err(KeyError::NoKey);
        }
        Ok(n)
    }

    pub fn find(&self, id: &[u8; 8]) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| &key_id(k) == id)
    }
}

/// Reads a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, KeyError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))
}

/// Writes a private key as PKCS#8 PEM (readable by `openssl pkey`).
pub fn signing_key_to_pem(k: &SigningKey) -> Result<String, KeyError> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, KeypairBytes};
    // PKCS#8 v1 (RFC 8410 section 7, no embedded public key): what OpenSSL writes and reads.
    KeypairBytes {
        secret_key: k.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map(|s| s.to_string())
    .map_err(|e| KeyError::Pem(e.to_string()))
}

/// Writes a public key as SubjectPublicKeyInfo PEM.
pub fn verifying_key_to_pem(k: &VerifyingKey) -> Result<String, KeyError> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
    k.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Pem(e.to_string()))
}

/// What goes into an image.
#[derive(Debug, Clone)]
pub struct BuildSpec<'a> {
    pub version: &'a str,
    pub models: &'a [Model],
    pub security_counter: u32,
    pub build_time: u64,
    pub sections: &'a [(&'a str, &'a [u8])],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("version must be 1-32 printable ASCII characters")]
    Version,
    #[error("section names must be 1-16 printable ASCII characters and unique")]
    SectionName,
    #[error("an image has 1 to 16 sections")]
    SectionCount,
    #[error("no model given")]
    NoModels,
    #[error("image body over {MAX_IMAGE} bytes")]
    TooLarge,
}

/// Builds and signs an image.
pub fn build(key: &SigningKey, spec: &BuildSpec<'_>) -> Result<Vec<u8>, BuildError> {
    let printable = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|c| c.is_ascii_graphic())
    };
    if !printable(spec.version, VERSION_LEN) {
        return Err(BuildError::Version);
    }
    if spec.sections.is_empty() || spec.sections.len() > MAX_SECTIONS {
        return Err(BuildError::SectionCount);
    }
    if spec.models.is_empty() {
        return Err(BuildError::NoModels);
    }
    let body: u64 = spec.sections.iter().map(|s| s.1.len() as u64).sum();
    if body > MAX_IMAGE {
        return Err(BuildError::TooLarge);
    }
    let mut h = Header {
        models: models_bits(spec.models),
        version: spec.version.to_string(),
        security_counter: spec.security_counter,
        key_id: key_id(&key.verifying_key()),
        build_time: spec.build_time,
        sections: Vec::new(),
        signature: [0; 64],
    };
    let mut off = (FIXED_LEN + spec.sections.len() * SECTION_LEN + SIG_LEN) as u64;
    for (name, data) in spec.sections {
        if !printable(name, NAME_LEN) || h.sections.iter().any(|s| s.name == *name) {
            return Err(BuildError::SectionName);
        }
        h.sections.push(Section {
            name: name.to_string(),
            offset: off,
            size: data.len() as u64,
            sha256: Sha256::digest(data).into(),
        });
        off += data.len() as u64;
    }
    h.signature = key.sign(&h.emit_signed()).to_bytes();
    let mut out = h.emit();
    for (_, data) in spec.sections {
        out.extend_from_slice(data);
    }
    Ok(out)
}

/// Streaming check of a body against its header: feed the bytes after the header in order;
/// a section's digest is compared as soon as its last byte arrives.
#[derive(Debug, Clone)]
pub struct BodyVerifier {
    sections: Vec<Section>,
    index: usize,
    in_section: u64,
    hasher: Sha256,
    done: u64,
}

impl BodyVerifier {
    pub fn new(h: &Header) -> BodyVerifier {
        BodyVerifier {
            sections: h.sections.clone(),
            index: 0,
            in_section: 0,
            hasher: Sha256::new(),
            done: 0,
        }
    }

    fn skip_empty(&mut self) -> Result<(), FirmwareError> {
        while let Some(s) = self.sections.get(self.index) {
            if self.in_section < s.size {
                break;
            }
            let d: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
            if d != s.sha256 {
                return Err(FirmwareError::SectionDigest {
                    name: s.name.clone(),
                });
            }
            self.index += 1;
            self.in_section = 0;
        }
        Ok(())
    }

    /// Body bytes verified so far.
    pub fn position(&self) -> u64 {
        self.done
    }

    /// Sections completed and verified.
    pub fn sections_done(&self) -> usize {
        self.index
    }

    pub fn update(&mut self, mut data: &[u8]) -> Result<(), FirmwareError> {
        let want: u64 = self.sections.iter().map(|s| s.size).sum();
        self.skip_empty()?;
        while !data.is_empty() {
            let Some(s) = self.sections.get(self.index) else {
                return Err(FirmwareError::Length {
                    got: self.done + data.len() as u64,
                    want,
                });
            };
            let take = ((s.size - self.in_section) as usize).min(data.len());
            self.hasher.update(&data[..take]);
            self.in_section += take as u64;
            self.done += take as u64;
            data = &data[take..];
            self.skip_empty()?;
        }
        Ok(())
    }

    /// All sections present and verified.
    pub fn finish(&mut self) -> Result<(), FirmwareError> {
        self.skip_empty()?;
        if self.index < self.sections.len() {
            return Err(FirmwareError::Length {
                got: self.done,
                want: self.sections.iter().map(|s| s.size).sum(),
            });
        }
        Ok(())
    }
}

/// Verifies a whole image in memory: structure, signature, model fit and every section.
pub fn verify_image(image: &[u8], keys: &Keyring) -> Result<Header, FirmwareError> {
    let h = Header::parse(image)?;
    h.verify_signature(keys)?;
    if image.len() as u64 != h.image_len() {
        return Err(FirmwareError::Length {
            got: image.len() as u64,
            want: h.image_len(),
        });
    }
    let mut v = BodyVerifier::new(&h);
    v.update(&image[h.len()..])?;
    v.finish()?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn ring(k: &SigningKey) -> Keyring {
        let mut r = Keyring::new();
        r.add(k.verifying_key());
        r
    }

    fn sample(k: &SigningKey) -> Vec<u8> {
        build(
            k,
            &BuildSpec {
                version: "3.4.6.1234",
                models: &[Model::Hd420, Model::Hd440],
                security_counter: 2,
                build_time: 1_790_000_000,
                sections: &[("kernel", b"kernel bytes"), ("rootfs", &[7u8; 3000])],
            },
        )
        .unwrap()
    }

    #[test]
    fn build_parse_emit_verify() {
        let k = key(1);
        let img = sample(&k);
        let h = Header::parse(&img).unwrap();
        assert_eq!(h.version, "3.4.6.1234");
        assert_eq!(h.sections.len(), 2);
        assert_eq!(h.sections[0].offset, (128 + 128 + 64) as u64);
        assert_eq!(h.image_len(), img.len() as u64);
        assert_eq!(&img[..h.len()], &h.emit()[..]);
        assert!(h.supports(Model::Hd440) && !h.supports(Model::Hd450));
        assert_eq!(verify_image(&img, &ring(&k)).unwrap(), h);
        h.check_for(&ring(&k), Model::Hd420, 2).unwrap();
    }

    #[test]
    fn refusals() {
        let k = key(1);
        let img = sample(&k);
        let r = ring(&k);
        // Untrusted key.
        assert!(matches!(
            verify_image(&img, &ring(&key(2))),
            Err(FirmwareError::UnknownKey(_))
        ));
        // Every byte of the signed header part, flipped.
        let h = Header::parse(&img).unwrap();
        for i in 0..h.len() {
            let mut bad = img.clone();
            bad[i] ^= 0x01;
            assert!(verify_image(&bad, &r).is_err(), "flip at {i} accepted");
        }
        // A body byte.
        let mut bad = img.clone();
        bad[h.len() + 3] ^= 0x80;
        assert_eq!(
            verify_image(&bad, &r),
            Err(FirmwareError::SectionDigest {
                name: "kernel".into()
            })
        );
        let mut bad = img.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            verify_image(&bad, &r),
            Err(FirmwareError::SectionDigest {
                name: "rootfs".into()
            })
        );
        assert!(matches!(
            verify_image(&img[..img.len() - 1], &r),
            Err(FirmwareError::Length { .. })
        ));
        assert_eq!(
            h.check_for(&r, Model::Hd450, 0),
            Err(FirmwareError::WrongModel(Model::Hd450))
        );
        assert_eq!(
            h.check_for(&r, Model::Hd420, 3),
            Err(FirmwareError::Rollback {
                counter: 2,
                minimum: 3
            })
        );
        assert_eq!(
            Header::parse(&img[..100]),
            Err(FirmwareError::Short { need: 128 })
        );
        assert_eq!(Header::parse(&[0u8; 300]), Err(FirmwareError::NoMagic));
    }

    #[test]
    fn streaming_verifier_in_odd_chunks() {
        let k = key(3);
        let img = sample(&k);
        let h = Header::parse(&img).unwrap();
        for chunk in [1usize, 7, 12, 13, 4096] {
            let mut v = BodyVerifier::new(&h);
            for c in img[h.len()..].chunks(chunk) {
                v.update(c).unwrap();
            }
            v.finish().unwrap();
            assert_eq!(v.sections_done(), 2);
        }
        let mut v = BodyVerifier::new(&h);
        v.update(&img[h.len()..]).unwrap();
        assert!(v.update(b"x").is_err());
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(compare_versions("3.4.6", "3.10.0"), Some(Ordering::Less));
        assert_eq!(compare_versions("3.4.6", "3.4.6.0"), Some(Ordering::Equal));
        assert_eq!(
            compare_versions("3.4.7", "3.4.6.99"),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_versions("3.4.6-beta", "3.4.6"), None);
    }

    #[test]
    fn pem_keys_round_trip() {
        let k = key(9);
        let pem = signing_key_to_pem(&k).unwrap();
        assert_eq!(signing_key_from_pem(&pem).unwrap().to_bytes(), k.to_bytes());
        let pubpem = verifying_key_to_pem(&k.verifying_key()).unwrap();
        let mut r = Keyring::new();
        assert_eq!(
            r.add_pem(&format!("{pubpem}\n{pubpem}")).unwrap(),
            2,
            "two blocks read"
        );
        assert_eq!(r.len(), 1, "same key once");
        assert!(r.find(&key_id(&k.verifying_key())).is_some());
        assert_eq!(Keyring::new().add_pem("nothing"), Err(KeyError::NoKey));
    }
}
