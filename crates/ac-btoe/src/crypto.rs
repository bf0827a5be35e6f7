//! Key agreement and protection, all from RustCrypto crates (docs/btoe-protocol.md section 5).
//!
//! * PAKE: SPAKE2 over Ed25519 (`spake2` crate, RustCrypto PAKEs). The password is the pair
//!   code (manual pairing), `"auto" || token` (automatic pairing on the PC port) or the
//!   256-bit pairing secret (resume); identities `btoe-pc` / `btoe-phone`.
//! * Key schedule: HKDF-SHA256 (`hkdf`), salt = SHA-256 transcript hash of both hellos,
//!   IKM = the SPAKE2 key; labelled expansions give the confirmation keys, the four traffic
//!   keys, and (after a pairing) the pairing id and secret.
//! * Key confirmation: HMAC-SHA256 (`hmac`), compared in constant time (`subtle`).
//! * AEAD: ChaCha20-Poly1305 (`chacha20poly1305`), 96-bit nonce = 4 zero bytes || 64-bit
//!   per-direction counter; a key never sees a counter twice.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Error;

/// A cryptographically secure random source the cores own (the OS in production, a seeded
/// ChaCha in tests).
pub trait Rng: RngCore + CryptoRng + Send {}
impl<T: RngCore + CryptoRng + Send> Rng for T {}

/// The operating system's generator.
pub fn os_rng() -> Box<dyn Rng> {
    Box::new(rand_core::OsRng)
}

/// Adapter so a `&mut dyn Rng` can be passed where `impl RngCore + CryptoRng` is wanted.
pub(crate) struct DynRng<'a>(pub &'a mut dyn Rng);
impl RngCore for DynRng<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        self.0.fill_bytes(d)
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(d)
    }
}
impl CryptoRng for DynRng<'_> {}

/// Random bytes.
pub(crate) fn random<const N: usize>(rng: &mut dyn Rng) -> [u8; N] {
    let mut a = [0u8; N];
    rng.fill_bytes(&mut a);
    a
}

const ID_PC: &[u8] = b"btoe-pc";
const ID_PHONE: &[u8] = b"btoe-phone";

/// SPAKE2 state of one side.
pub(crate) struct Pake(Spake2<Ed25519Group>);

impl Pake {
    /// PC side (A): returns the state and message A.
    pub fn start_pc(password: &[u8], rng: &mut dyn Rng) -> (Pake, Vec<u8>) {
        let (s, m) = Spake2::<Ed25519Group>::start_a_with_rng(
            &Password::new(password),
            &Identity::new(ID_PC),
            &Identity::new(ID_PHONE),
            DynRng(rng),
        );
        (Pake(s), m)
    }
    /// Phone side (B).
    pub fn start_phone(password: &[u8], rng: &mut dyn Rng) -> (Pake, Vec<u8>) {
        let (s, m) = Spake2::<Ed25519Group>::start_b_with_rng(
            &Password::new(password),
            &Identity::new(ID_PC),
            &Identity::new(ID_PHONE),
            DynRng(rng),
        );
        (Pake(s), m)
    }
    /// The shared key from the peer's message.
    pub fn finish(self, peer: &[u8]) -> Result<SecretBytes, Error> {
        self.0
            .finish(peer)
            .map(SecretBytes)
            .map_err(|_| Error::Crypto("SPAKE2 message"))
    }
}

/// Secret bytes wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// Transcript hash: SHA-256 over a label, the ClientHello record and the ServerHello record
/// up to its confirmation (both as sent, headers included).
pub(crate) fn transcript(client_hello: &[u8], server_hello_pre: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"btoe transcript v1");
    h.update((client_hello.len() as u32).to_be_bytes());
    h.update(client_hello);
    h.update((server_hello_pre.len() as u32).to_be_bytes());
    h.update(server_hello_pre);
    h.finalize().into()
}

/// Everything a finished handshake derives.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeySchedule {
    pub confirm_phone: [u8; 32],
    pub confirm_pc: [u8; 32],
    pub ctl_pc_to_phone: [u8; 32],
    pub ctl_phone_to_pc: [u8; 32],
    pub audio_pc_to_phone: [u8; 32],
    pub audio_phone_to_pc: [u8; 32],
    pub pairing_id: [u8; 16],
    pub pairing_secret: [u8; 32],
}

impl KeySchedule {
    /// HKDF-SHA256: PRK = Extract(salt = transcript, IKM = SPAKE2 key); each key is
    /// Expand(PRK, "btoe v1 " || label).
    pub fn derive(pake_key: &SecretBytes, transcript: &[u8; 32]) -> KeySchedule {
        let hk = Hkdf::<Sha256>::new(Some(transcript), &pake_key.0);
        fn k<const N: usize>(hk: &Hkdf<Sha256>, label: &str) -> [u8; N] {
            let mut o = [0u8; N];
            let info = format!("btoe v1 {label}");
            // N <= 255 * 32: expand cannot fail for these lengths.
            if hk.expand(info.as_bytes(), &mut o).is_err() {
                o = [0u8; N];
            }
            o
        }
        KeySchedule {
            confirm_phone: k(&hk, "confirm phone"),
            confirm_pc: k(&hk, "confirm pc"),
            ctl_pc_to_phone: k(&hk, "control pc->phone"),
            ctl_phone_to_pc: k(&hk, "control phone->pc"),
            audio_pc_to_phone: k(&hk, "audio pc->phone"),
            audio_phone_to_pc: k(&hk, "audio phone->pc"),
            pairing_id: k(&hk, "pairing id"),
            pairing_secret: k(&hk, "pairing secret"),
        }
    }

    /// The phone's confirmation: HMAC(confirm_phone, transcript).
    pub fn phone_mac(&self, transcript: &[u8; 32]) -> [u8; 32] {
        mac(&self.confirm_phone, &[transcript])
    }

    /// The PC's confirmation: HMAC(confirm_pc, transcript || phone confirmation).
    pub fn pc_mac(&self, transcript: &[u8; 32], phone_mac: &[u8; 32]) -> [u8; 32] {
        mac(&self.confirm_pc, &[transcript, phone_mac])
    }
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time equality of two MACs.
pub fn mac_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// One direction of AEAD protection with a counter nonce.
pub struct Aead1 {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Aead1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aead1")
    }
}

impl Aead1 {
    pub fn new(key: &[u8; 32]) -> Self {
        Aead1 {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }
    fn nonce(counter: u64) -> Nonce {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&counter.to_be_bytes());
        *Nonce::from_slice(&n)
    }
    /// Encrypts `msg` with associated data `aad`; ciphertext || 16-byte tag.
    pub fn seal(&self, counter: u64, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.cipher
            .encrypt(&Self::nonce(counter), Payload { msg, aad })
            .map_err(|_| Error::Crypto("seal"))
    }
    /// Decrypts and authenticates.
    pub fn open(&self, counter: u64, aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, Error> {
        self.cipher
            .decrypt(&Self::nonce(counter), Payload { msg: ct, aad })
            .map_err(|_| Error::Crypto("AEAD authentication"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn run(pc_pw: &[u8], phone_pw: &[u8]) -> bool {
        let mut r1: Box<dyn Rng> = Box::new(OsRng);
        let mut r2: Box<dyn Rng> = Box::new(OsRng);
        let (a, ma) = Pake::start_pc(pc_pw, r1.as_mut());
        let (b, mb) = Pake::start_phone(phone_pw, r2.as_mut());
        let t = transcript(&ma, &mb);
        let ka = KeySchedule::derive(&a.finish(&mb).unwrap(), &t);
        let kb = KeySchedule::derive(&b.finish(&ma).unwrap(), &t);
        mac_eq(&ka.phone_mac(&t), &kb.phone_mac(&t))
    }

    #[test]
    fn same_code_agrees_other_code_does_not() {
        assert!(run(b"K7Q2M9XA", b"K7Q2M9XA"));
        assert!(!run(b"K7Q2M9XB", b"K7Q2M9XA"));
    }

    #[test]
    fn aead_rejects_wrong_counter_and_aad() {
        let k = Aead1::new(&[7u8; 32]);
        let c = k.seal(5, b"hdr", b"hello").unwrap();
        assert_eq!(k.open(5, b"hdr", &c).unwrap(), b"hello");
        assert!(k.open(6, b"hdr", &c).is_err());
        assert!(k.open(5, b"hdx", &c).is_err());
    }
}
