//! Encryption of configuration files and values.
//!
//! * `.cfx` files (manual 3.4.1): 3DES-EDE-CBC with PKCS#7 padding, the key and IV derived from a
//!   passphrase with OpenSSL's `EVP_BytesToKey` (MD5, one round, no salt) — the same bytes as
//!   `openssl enc -des-ede3-cbc -nosalt -md md5 -pass pass:KEY`. Decryption also reads OpenSSL's
//!   salted form (`Salted__` + 8-byte salt, `openssl enc` without `-nosalt`). A raw 24-byte key
//!   and 8-byte IV may be given instead of a passphrase.
//! * Values (manual 3.4.2): `{"base64"}`, the same cipher over one password.
//! * The authenticated format: AES-256-GCM with a versioned header (see [`AEAD_MAGIC`]). 3DES-CBC
//!   has no integrity check (a wrong key or a flipped bit is caught only by chance through the
//!   padding), a 64-bit block (Sweet32) and an unsalted, fast key derivation; the GCM format
//!   authenticates every byte including its header, derives keys with salted PBKDF2-HMAC-SHA256,
//!   and is preferred wherever both ends are ours.
//!
//! No key is built in: every function takes the key from its caller.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

type TdesCbcEnc = cbc::Encryptor<des::TdesEde3>;
type TdesCbcDec = cbc::Decryptor<des::TdesEde3>;

/// Magic of the authenticated format. Layout (big-endian):
///
/// | offset | size | field                                                      |
/// |--------|------|------------------------------------------------------------|
/// | 0      | 8    | `ACFX-GCM`                                                 |
/// | 8      | 1    | version, 1                                                 |
/// | 9      | 1    | KDF: 0 = raw 256-bit key, 1 = PBKDF2-HMAC-SHA256           |
/// | 10     | 4    | KDF iterations (0 for a raw key)                           |
/// | 14     | 16   | salt (zero for a raw key)                                  |
/// | 30     | 12   | nonce                                                      |
/// | 42     | n+16 | AES-256-GCM ciphertext and tag; AAD = bytes 0..42          |
pub const AEAD_MAGIC: &[u8; 8] = b"ACFX-GCM";
const AEAD_VERSION: u8 = 1;
const AEAD_HEADER: usize = 42;
const KDF_RAW: u8 = 0;
const KDF_PBKDF2_SHA256: u8 = 1;
/// Default PBKDF2 iterations (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// Highest iteration count accepted from a file header, so that a crafted file cannot make
/// decryption run for minutes.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MIN_PBKDF2_ITERATIONS: u32 = 1_000;

/// Errors of encryption and decryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the input is empty")]
    Empty,
    #[error(
        "truncated or corrupt .cfx file: {0} bytes is not a whole number of 8-byte 3DES blocks"
    )]
    NotBlockAligned(usize),
    #[error("wrong key or corrupt file: the decrypted data has no valid padding")]
    BadPadding,
    #[error("wrong key or corrupt file: the decrypted data is not configuration text")]
    NotText,
    #[error("wrong key or corrupt file: authentication failed")]
    AuthFailed,
    #[error("truncated file: {found} bytes, the {what} needs at least {need}")]
    Truncated {
        what: &'static str,
        need: usize,
        found: usize,
    },
    #[error("unsupported encrypted-file version {0} (this build reads version 1)")]
    UnsupportedVersion(u8),
    #[error("bad encrypted-file header: {0}")]
    BadHeader(String),
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("not an encrypted value: expected {{\"base64\"}}")]
    NotEncryptedValue,
    #[error("the encrypted value is not valid base64")]
    Base64,
    #[error("the system random number generator failed")]
    Rng,
}

/// A key for the 3DES `.cfx` / value format.
#[derive(Clone)]
pub enum TdesKey {
    /// A passphrase, derived like `openssl enc -md md5`.
    Passphrase(Zeroizing<Vec<u8>>),
    /// A raw key and IV.
    Raw {
        key: Zeroizing<[u8; 24]>,
        iv: [u8; 8],
    },
}

impl std::fmt::Debug for TdesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TdesKey::Passphrase(_) => "TdesKey::Passphrase(..)",
            TdesKey::Raw { .. } => "TdesKey::Raw(..)",
        })
    }
}

impl TdesKey {
    pub fn passphrase(p: impl AsRef<[u8]>) -> TdesKey {
        TdesKey::Passphrase(Zeroizing::new(p.as_ref().to_vec()))
    }

    /// A raw key from 48 hex digits and an IV from 16.
    pub fn from_hex(key_hex: &str, iv_hex: &str) -> Result<TdesKey, CryptoError> {
        let mut key = Zeroizing::new([0u8; 24]);
        let mut iv = [0u8; 8];
        hex_into(key_hex.trim(), &mut key[..], "3DES key (48 hex digits)")?;
        hex_into(iv_hex.trim(), &mut iv, "3DES IV (16 hex digits)")?;
        Ok(TdesKey::Raw { key, iv })
    }

    /// Key and IV for no salt / the given salt.
    fn derive(&self, salt: Option<&[u8; 8]>) -> (Zeroizing<[u8; 24]>, [u8; 8]) {
        match self {
            TdesKey::Raw { key, iv } => (key.clone(), *iv),
            TdesKey::Passphrase(p) => {
                let m = evp_bytes_to_key_md5(p, salt);
                let mut key = Zeroizing::new([0u8; 24]);
                key.copy_from_slice(&m[..24]);
                let mut iv = [0u8; 8];
                iv.copy_from_slice(&m[24..32]);
                (key, iv)
            }
        }
    }
}

/// A key for the authenticated format.
#[derive(Clone)]
pub enum AeadKey {
    /// A passphrase, stretched with PBKDF2-HMAC-SHA256 and a random salt.
    Passphrase {
        passphrase: Zeroizing<Vec<u8>>,
        /// Iterations used when encrypting (decryption reads them from the header).
        iterations: u32,
    },
    Raw(Zeroizing<[u8; 32]>),
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AeadKey::Passphrase { .. } => "AeadKey::Passphrase(..)",
            AeadKey::Raw(_) => "AeadKey::Raw(..)",
        })
    }
}

impl AeadKey {
    pub fn passphrase(p: impl AsRef<[u8]>) -> AeadKey {
        AeadKey::Passphrase {
            passphrase: Zeroizing::new(p.as_ref().to_vec()),
            iterations: DEFAULT_PBKDF2_ITERATIONS,
        }
    }

    /// A raw key from 64 hex digits.
    pub fn from_hex(key_hex: &str) -> Result<AeadKey, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex_into(key_hex.trim(), &mut key[..], "AES-256 key (64 hex digits)")?;
        Ok(AeadKey::Raw(key))
    }
}

fn hex_into(s: &str, out: &mut [u8], what: &str) -> Result<(), CryptoError> {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return Err(CryptoError::BadKey(format!(
            "{what}: found {} characters",
            b.len()
        )));
    }
    let nib = |c: u8| -> Result<u8, CryptoError> {
        (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| {
            CryptoError::BadKey(format!("{what}: {:?} is not a hex digit", c as char))
        })
    };
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = nib(pair[0])? << 4 | nib(pair[1])?;
    }
    Ok(())
}

/// OpenSSL `EVP_BytesToKey(EVP_des_ede3_cbc(), EVP_md5(), salt, pass, 1)`:
/// D_1 = MD5(pass || salt), D_n = MD5(D_{n-1} || pass || salt); key||iv = D_1 || D_2.
fn evp_bytes_to_key_md5(pass: &[u8], salt: Option<&[u8; 8]>) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    let mut prev: Option<[u8; 16]> = None;
    for chunk in out.chunks_mut(16) {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(p);
        }
        h.update(pass);
        if let Some(s) = salt {
            h.update(s);
        }
        let d: [u8; 16] = h.finalize().into();
        chunk.copy_from_slice(&d);
        prev = Some(d);
    }
    out
}

fn tdes_encrypt(key: &[u8; 24], iv: &[u8; 8], plain: &[u8]) -> Vec<u8> {
    // Key and IV lengths are fixed by the types, so construction cannot fail.
    TdesCbcEnc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

fn tdes_decrypt(key: &[u8; 24], iv: &[u8; 8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if data.is_empty() {
        return Err(CryptoError::Empty);
    }
    if data.len() % 8 != 0 {
        return Err(CryptoError::NotBlockAligned(data.len()));
    }
    TdesCbcDec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .map_err(|_| CryptoError::BadPadding)
}

/// Encrypts a configuration file into `.cfx` bytes (no salt, as the manual's tool and
/// `openssl enc -nosalt`).
pub fn encrypt_cfx(plain: &[u8], key: &TdesKey) -> Vec<u8> {
    let (k, iv) = key.derive(None);
    tdes_encrypt(&k, &iv, plain)
}

/// Decrypts `.cfx` bytes (unsalted, or OpenSSL's `Salted__` form with a passphrase).
pub fn decrypt_cfx(data: &[u8], key: &TdesKey) -> Result<Vec<u8>, CryptoError> {
    if let (TdesKey::Passphrase(_), Some(rest)) = (key, data.strip_prefix(b"Salted__")) {
        if rest.len() < 8 {
            return Err(CryptoError::Truncated {
                what: "OpenSSL salt header",
                need: 16,
                found: data.len(),
            });
        }
        let mut salt = [0u8; 8];
        salt.copy_from_slice(&rest[..8]);
        let (k, iv) = key.derive(Some(&salt));
        return tdes_decrypt(&k, &iv, &rest[8..]);
    }
    let (k, iv) = key.derive(None);
    tdes_decrypt(&k, &iv, data)
}

/// Encrypts one value as `{"base64"}` (manual 3.4.2).
pub fn encrypt_value(plain: &str, key: &TdesKey) -> String {
    let ct = encrypt_cfx(plain.as_bytes(), key);
    format!(
        "{{\"{}\"}}",
        base64::engine::general_purpose::STANDARD.encode(ct)
    )
}

/// Decrypts a `{"base64"}` value.
pub fn decrypt_value(enc: &str, key: &TdesKey) -> Result<String, CryptoError> {
    let payload =
        crate::value::encrypted_payload(enc.trim()).ok_or(CryptoError::NotEncryptedValue)?;
    let ct = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| CryptoError::Base64)?;
    let plain = tdes_decrypt_any(&ct, key)?;
    String::from_utf8(plain).map_err(|_| CryptoError::NotText)
}

fn tdes_decrypt_any(ct: &[u8], key: &TdesKey) -> Result<Vec<u8>, CryptoError> {
    let (k, iv) = key.derive(None);
    tdes_decrypt(&k, &iv, ct)
}

fn aead_key(
    key: &AeadKey,
    kdf: u8,
    iterations: u32,
    salt: &[u8; 16],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    match (key, kdf) {
        (AeadKey::Raw(k), KDF_RAW) => Ok(k.clone()),
        (AeadKey::Passphrase { passphrase, .. }, KDF_PBKDF2_SHA256) => {
            let mut out = Zeroizing::new([0u8; 32]);
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, iterations, &mut out[..]);
            Ok(out)
        }
        (AeadKey::Raw(_), _) => Err(CryptoError::BadKey(
            "this file was encrypted with a passphrase; give a passphrase".into(),
        )),
        (AeadKey::Passphrase { .. }, _) => Err(CryptoError::BadKey(
            "this file was encrypted with a raw key; give the 64-hex-digit key".into(),
        )),
    }
}

/// Encrypts with AES-256-GCM into the versioned format.
pub fn encrypt_aead(plain: &[u8], key: &AeadKey) -> Result<Vec<u8>, CryptoError> {
    let mut header = [0u8; AEAD_HEADER];
    header[..8].copy_from_slice(AEAD_MAGIC);
    header[8] = AEAD_VERSION;
    let mut salt = [0u8; 16];
    let (kdf, iterations) = match key {
        AeadKey::Raw(_) => (KDF_RAW, 0),
        AeadKey::Passphrase { iterations, .. } => {
            if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(iterations) {
                return Err(CryptoError::BadKey(format!(
                    "PBKDF2 iterations must be {MIN_PBKDF2_ITERATIONS}..={MAX_PBKDF2_ITERATIONS}"
                )));
            }
            getrandom::getrandom(&mut salt).map_err(|_| CryptoError::Rng)?;
            (KDF_PBKDF2_SHA256, *iterations)
        }
    };
    header[9] = kdf;
    header[10..14].copy_from_slice(&iterations.to_be_bytes());
    header[14..30].copy_from_slice(&salt);
    let mut nonce = [0u8; 12];
    getrandom::getrandom(&mut nonce).map_err(|_| CryptoError::Rng)?;
    header[30..42].copy_from_slice(&nonce);
    let k = aead_key(key, kdf, iterations, &salt)?;
    let cipher = Aes256Gcm::new((&*k).into());
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &header,
            },
        )
        .map_err(|_| CryptoError::BadKey("message too long for AES-GCM".into()))?;
    let mut out = Vec::with_capacity(AEAD_HEADER + ct.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// `true` if the bytes start with the authenticated format's magic.
pub fn is_aead(data: &[u8]) -> bool {
    data.starts_with(AEAD_MAGIC)
}

/// Decrypts the authenticated format.
pub fn decrypt_aead(data: &[u8], key: &AeadKey) -> Result<Vec<u8>, CryptoError> {
    if data.is_empty() {
        return Err(CryptoError::Empty);
    }
    if !is_aead(data) {
        return Err(CryptoError::BadHeader("no ACFX-GCM magic".into()));
    }
    if data.len() < AEAD_HEADER + 16 {
        return Err(CryptoError::Truncated {
            what: "ACFX-GCM header and tag",
            need: AEAD_HEADER + 16,
            found: data.len(),
        });
    }
    let (header, ct) = data.split_at(AEAD_HEADER);
    if header[8] != AEAD_VERSION {
        return Err(CryptoError::UnsupportedVersion(header[8]));
    }
    let kdf = header[9];
    let mut it = [0u8; 4];
    it.copy_from_slice(&header[10..14]);
    let iterations = u32::from_be_bytes(it);
    match kdf {
        KDF_RAW if iterations == 0 => {}
        KDF_PBKDF2_SHA256
            if (MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) => {}
        KDF_RAW | KDF_PBKDF2_SHA256 => {
            return Err(CryptoError::BadHeader(format!(
                "iteration count {iterations} out of range"
            )))
        }
        other => return Err(CryptoError::BadHeader(format!("unknown KDF {other}"))),
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&header[14..30]);
    let k = aead_key(key, kdf, iterations, &salt)?;
    let cipher = Aes256Gcm::new((&*k).into());
    cipher
        .decrypt(
            Nonce::from_slice(&header[30..42]),
            Payload {
                msg: ct,
                aad: header,
            },
        )
        .map_err(|_| CryptoError::AuthFailed)
}

/// The key material a user gave, usable for either format.
#[derive(Debug, Clone)]
pub struct Keys {
    pub tdes: Option<TdesKey>,
    pub aead: Option<AeadKey>,
}

impl Keys {
    /// Both formats from one passphrase.
    pub fn passphrase(p: impl AsRef<[u8]>) -> Keys {
        Keys {
            tdes: Some(TdesKey::passphrase(p.as_ref())),
            aead: Some(AeadKey::passphrase(p)),
        }
    }
}

/// Decrypts an encrypted configuration file of either format and checks that the result is
/// configuration text (UTF-8, no NUL), which catches most wrong 3DES keys that pass the padding
/// check by chance.
pub fn decrypt_config(data: &[u8], keys: &Keys) -> Result<String, CryptoError> {
    let plain = if is_aead(data) {
        let k = keys.aead.as_ref().ok_or_else(|| {
            CryptoError::BadKey("an ACFX-GCM file needs a passphrase or AES key".into())
        })?;
        decrypt_aead(data, k)?
    } else {
        let k = keys.tdes.as_ref().ok_or_else(|| {
            CryptoError::BadKey("a .cfx file needs a passphrase or 3DES key".into())
        })?;
        decrypt_cfx(data, k)?
    };
    let text = String::from_utf8(plain).map_err(|_| CryptoError::NotText)?;
    if text.contains('\0') {
        return Err(CryptoError::NotText);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_known_answer() {
        // `openssl enc -des-ede3-cbc -nosalt -md md5 -pass pass:secret -P`
        let m = evp_bytes_to_key_md5(b"secret", None);
        let hex: String = m.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            hex,
            "5EBE2294ECD0E0F08EAB7690D2A6EE6926AE5CC854E36B6BDFCA366848DEA6BB"
        );
    }

    #[test]
    fn cfx_round_trip_and_errors() {
        let k = TdesKey::passphrase("k3y");
        let ct = encrypt_cfx(b"network/lan_type=DHCP\n", &k);
        assert_eq!(ct.len() % 8, 0);
        assert_eq!(decrypt_cfx(&ct, &k).unwrap(), b"network/lan_type=DHCP\n");
        assert_eq!(
            decrypt_cfx(&ct[..ct.len() - 3], &k),
            Err(CryptoError::NotBlockAligned(ct.len() - 3))
        );
        assert_eq!(decrypt_cfx(&[], &k), Err(CryptoError::Empty));
        let keys = Keys::passphrase("other");
        assert!(decrypt_config(&ct, &keys).is_err());
    }

    #[test]
    fn value_round_trip() {
        let k = TdesKey::from_hex(&"01".repeat(24), "0001020304050607").unwrap();
        let v = encrypt_value("1234", &k);
        assert!(v.starts_with("{\"") && v.ends_with("\"}"));
        assert_eq!(decrypt_value(&v, &k).unwrap(), "1234");
        assert_eq!(
            decrypt_value("1234", &k),
            Err(CryptoError::NotEncryptedValue)
        );
        assert!(TdesKey::from_hex("zz", "00").is_err());
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let k = AeadKey::Passphrase {
            passphrase: Zeroizing::new(b"pw".to_vec()),
            iterations: 1000,
        };
        let ct = encrypt_aead(b"a=1\n", &k).unwrap();
        assert_eq!(decrypt_aead(&ct, &k).unwrap(), b"a=1\n");
        for i in 0..ct.len() {
            let mut t = ct.clone();
            t[i] ^= 1;
            assert!(decrypt_aead(&t, &k).is_err(), "flip at {i} not detected");
        }
        assert!(matches!(
            decrypt_aead(&ct[..50], &k),
            Err(CryptoError::Truncated { .. })
        ));
        let raw = AeadKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(decrypt_aead(&ct, &raw).is_err());
        let ct2 = encrypt_aead(b"x", &raw).unwrap();
        assert_eq!(decrypt_aead(&ct2, &raw).unwrap(), b"x");
    }
}
