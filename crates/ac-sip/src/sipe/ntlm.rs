//! NTLM ([MS-NLMP]) as SIP uses it ([MS-SIPAE] section 3.2.2: connectionless mode).
//!
//! * Messages (section 2.2.1): [`Negotiate`], [`Challenge`], [`Authenticate`] are checked
//!   views borrowing from the input (`parse`), with a canonical `emit`; parsing an emission
//!   gives back the same view.
//! * Keys and responses (section 3.3): NTOWFv1/LMOWFv1, NTOWFv2, the NTLMv1 responses with
//!   and without extended session security, the NTLMv2 responses, KXKEY, SIGNKEY, SEALKEY
//!   (section 3.4.5), key exchange (section 3.1.5.1.2).
//! * Message integrity (section 3.4.4): [`Session::mac`] / [`Session::verify_mac`], with and
//!   without extended session security, connection-oriented or connectionless.
//!
//! Primitives come from RustCrypto (`md4`, `md-5`, `hmac`, `des`, `rc4`) and `crc32fast`;
//! the only code here is NTLM's own layout and key derivation.

use des::cipher::BlockEncrypt;
use hmac::{Hmac, Mac as _};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::consts::{U16, U8};
use rc4::{KeyInit, Rc4, StreamCipher};

/// NEGOTIATE flags ([MS-NLMP] section 2.2.2.5).
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const DATAGRAM: u32 = 0x0000_0040;
    pub const LM_KEY: u32 = 0x0000_0080;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ANONYMOUS: u32 = 0x0000_0800;
    pub const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    pub const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const IDENTIFY: u32 = 0x0010_0000;
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const NEG_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const NEG_56: u32 = 0x8000_0000;

    /// What a SIP client asks for in connectionless mode ([MS-SIPAE] 3.2.2: NTLM is used in
    /// datagram mode with message signing).
    pub const SIP_CONNECTIONLESS: u32 = UNICODE
        | REQUEST_TARGET
        | SIGN
        | DATAGRAM
        | NTLM
        | ALWAYS_SIGN
        | EXTENDED_SESSIONSECURITY
        | IDENTIFY
        | TARGET_INFO
        | VERSION
        | NEG_128
        | KEY_EXCH;
}

/// Why an NTLM message or operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtlmError {
    #[error("NTLM message shorter than its {0}-byte header")]
    Short(usize),
    #[error("no NTLMSSP signature")]
    Signature,
    #[error("NTLM message type {found}, expected {expected}")]
    MessageType { expected: u32, found: u32 },
    #[error("NTLM {0} field points outside the message")]
    Field(&'static str),
    #[error("NTLM {0} has the wrong length")]
    Length(&'static str),
    #[error("malformed AV_PAIR list")]
    AvPairs,
    #[error("the password is longer than 14 characters: LMOWFv1 is undefined")]
    LmPassword,
    #[error("message signature does not verify")]
    BadMac,
    #[error("NTLM response does not verify (wrong password or user)")]
    BadResponse,
}

pub type Result<T> = std::result::Result<T, NtlmError>;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// The 8-byte VERSION structure (section 2.2.2.10).
pub type Version = [u8; 8];

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A payload field (Len, MaxLen, Offset; section 2.2.1.1) resolved against the message.
/// Returns the bytes and the offset (the offset of an empty field is not checked).
fn field<'a>(
    b: &'a [u8],
    at: usize,
    name: &'static str,
    offsets: &mut Vec<usize>,
) -> Result<&'a [u8]> {
    let len = u16_at(b, at) as usize;
    let off = u32_at(b, at + 4) as usize;
    if len == 0 {
        return Ok(&[]);
    }
    let end = off.checked_add(len).ok_or(NtlmError::Field(name))?;
    let s = b.get(off..end).ok_or(NtlmError::Field(name))?;
    offsets.push(off);
    Ok(s)
}

fn header(b: &[u8], min: usize, ty: u32) -> Result<()> {
    if b.len() < min {
        return Err(NtlmError::Short(min));
    }
    if &b[..8] != SIGNATURE {
        return Err(NtlmError::Signature);
    }
    let found = u32_at(b, 8);
    if found != ty {
        return Err(NtlmError::MessageType {
            expected: ty,
            found,
        });
    }
    Ok(())
}

/// Writes the fixed part's field descriptors and the payload in order.
struct Writer {
    head: Vec<u8>,
    payload: Vec<u8>,
    /// Where the payload starts (the fixed part's length).
    base: usize,
}

impl Writer {
    fn new(ty: u32, base: usize) -> Writer {
        let mut head = Vec::with_capacity(base);
        head.extend_from_slice(SIGNATURE);
        head.extend_from_slice(&ty.to_le_bytes());
        Writer {
            head,
            payload: Vec::new(),
            base,
        }
    }

    fn field(&mut self, data: &[u8]) {
        let len = data.len().min(u16::MAX as usize) as u16;
        let off = (self.base + self.payload.len()) as u32;
        self.head.extend_from_slice(&len.to_le_bytes());
        self.head.extend_from_slice(&len.to_le_bytes());
        self.head.extend_from_slice(&off.to_le_bytes());
        self.payload.extend_from_slice(&data[..len as usize]);
    }

    fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.head.len(), self.base);
        self.head.append(&mut self.payload);
        self.head
    }
}

/// NEGOTIATE_MESSAGE (section 2.2.1.1). Not sent in connectionless mode, parsed for
/// completeness (and by the test server when a peer sends one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate<'a> {
    pub flags: u32,
    pub domain: &'a [u8],
    pub workstation: &'a [u8],
    /// Present exactly when `flags` has VERSION.
    pub version: Option<Version>,
}

impl<'a> Negotiate<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Negotiate<'a>> {
        header(b, 32, 1)?;
        let flags = u32_at(b, 12);
        let mut offs = Vec::new();
        let domain = field(b, 16, "DomainName", &mut offs)?;
        let workstation = field(b, 24, "Workstation", &mut offs)?;
        let version = if flags & flags::VERSION != 0 {
            let v = b.get(32..40).ok_or(NtlmError::Short(40))?;
            Some(v.try_into().map_err(|_| NtlmError::Short(40))?)
        } else {
            None
        };
        Ok(Negotiate {
            flags,
            domain,
            workstation,
            version,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let v = self.flags & flags::VERSION != 0;
        let mut w = Writer::new(1, if v { 40 } else { 32 });
        w.head.extend_from_slice(&self.flags.to_le_bytes());
        w.field(self.domain);
        w.field(self.workstation);
        if v {
            w.head.extend_from_slice(&self.version.unwrap_or_default());
        }
        w.finish()
    }
}

/// CHALLENGE_MESSAGE (section 2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub flags: u32,
    pub target_name: &'a [u8],
    pub server_challenge: [u8; 8],
    /// Raw AV_PAIR list (section 2.2.2.1); see [`av_pairs`].
    pub target_info: &'a [u8],
    pub version: Option<Version>,
}

impl<'a> Challenge<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Challenge<'a>> {
        header(b, 48, 2)?;
        let mut offs = Vec::new();
        let target_name = field(b, 12, "TargetName", &mut offs)?;
        let flags = u32_at(b, 20);
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(&b[24..32]);
        let target_info = field(b, 40, "TargetInfo", &mut offs)?;
        let version = if flags & flags::VERSION != 0 {
            let v = b.get(48..56).ok_or(NtlmError::Short(56))?;
            Some(v.try_into().map_err(|_| NtlmError::Short(56))?)
        } else {
            None
        };
        Ok(Challenge {
            flags,
            target_name,
            server_challenge,
            target_info,
            version,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let v = self.flags & flags::VERSION != 0;
        let mut w = Writer::new(2, if v { 56 } else { 48 });
        w.field(self.target_name);
        w.head.extend_from_slice(&self.flags.to_le_bytes());
        w.head.extend_from_slice(&self.server_challenge);
        w.head.extend_from_slice(&[0u8; 8]);
        w.field(self.target_info);
        if v {
            w.head.extend_from_slice(&self.version.unwrap_or_default());
        }
        w.finish()
    }
}

/// AUTHENTICATE_MESSAGE (section 2.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate<'a> {
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    pub domain: &'a [u8],
    pub user: &'a [u8],
    pub workstation: &'a [u8],
    pub encrypted_random_session_key: &'a [u8],
    pub flags: u32,
    pub version: Option<Version>,
    /// The MIC (section 2.2.1.3) when the payload leaves room for it after the version.
    pub mic: Option<[u8; 16]>,
}

impl<'a> Authenticate<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Authenticate<'a>> {
        header(b, 64, 3)?;
        let mut offs = Vec::new();
        let lm_response = field(b, 12, "LmChallengeResponse", &mut offs)?;
        let nt_response = field(b, 20, "NtChallengeResponse", &mut offs)?;
        let domain = field(b, 28, "DomainName", &mut offs)?;
        let user = field(b, 36, "UserName", &mut offs)?;
        let workstation = field(b, 44, "Workstation", &mut offs)?;
        let encrypted_random_session_key = field(b, 52, "EncryptedRandomSessionKey", &mut offs)?;
        let flags = u32_at(b, 60);
        let version = if flags & flags::VERSION != 0 {
            let v = b.get(64..72).ok_or(NtlmError::Short(72))?;
            Some(v.try_into().map_err(|_| NtlmError::Short(72))?)
        } else {
            None
        };
        // The MIC follows the version when the payload starts at 88 or later.
        let first = offs.iter().copied().min().unwrap_or(b.len());
        let mic = if version.is_some() && first >= 88 && b.len() >= 88 {
            let mut m = [0u8; 16];
            m.copy_from_slice(&b[72..88]);
            Some(m)
        } else {
            None
        };
        Ok(Authenticate {
            lm_response,
            nt_response,
            domain,
            user,
            workstation,
            encrypted_random_session_key,
            flags,
            version,
            mic,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let v = self.flags & flags::VERSION != 0;
        let mic = v && self.mic.is_some();
        let base = 64 + if v { 8 } else { 0 } + if mic { 16 } else { 0 };
        let mut w = Writer::new(3, base);
        // Payload in our chosen order (domain, user, workstation, LM, NT, session key):
        // section 2.2.1.3 fixes the order of the field descriptors, not of the payload,
        // which the descriptors' offsets locate.
        let order: [&[u8]; 6] = [
            self.domain,
            self.user,
            self.workstation,
            self.lm_response,
            self.nt_response,
            self.encrypted_random_session_key,
        ];
        let mut offs = [0u32; 6];
        for (i, d) in order.iter().enumerate() {
            offs[i] = (base + w.payload.len()) as u32;
            let n = d.len().min(u16::MAX as usize);
            w.payload.extend_from_slice(&d[..n]);
        }
        for i in [3usize, 4, 0, 1, 2, 5] {
            let n = order[i].len().min(u16::MAX as usize) as u16;
            w.head.extend_from_slice(&n.to_le_bytes());
            w.head.extend_from_slice(&n.to_le_bytes());
            w.head.extend_from_slice(&offs[i].to_le_bytes());
        }
        w.head.extend_from_slice(&self.flags.to_le_bytes());
        if v {
            w.head.extend_from_slice(&self.version.unwrap_or_default());
        }
        if mic {
            w.head.extend_from_slice(&self.mic.unwrap_or_default());
        }
        w.finish()
    }
}

/// Which message a buffer holds (by its MessageType).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Negotiate(Negotiate<'a>),
    Challenge(Challenge<'a>),
    Authenticate(Authenticate<'a>),
}

impl<'a> Message<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>> {
        if b.len() < 12 {
            return Err(NtlmError::Short(12));
        }
        match u32_at(b, 8) {
            1 => Negotiate::parse(b).map(Message::Negotiate),
            2 => Challenge::parse(b).map(Message::Challenge),
            3 => Authenticate::parse(b).map(Message::Authenticate),
            found => Err(NtlmError::MessageType { expected: 0, found }),
        }
    }

    pub fn emit(&self) -> Vec<u8> {
        match self {
            Message::Negotiate(m) => m.emit(),
            Message::Challenge(m) => m.emit(),
            Message::Authenticate(m) => m.emit(),
        }
    }
}

/// AV_PAIR ids (section 2.2.2.1).
pub mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
}

/// Splits an AV_PAIR list up to MsvAvEOL (section 2.2.2.1).
pub fn av_pairs(b: &[u8]) -> Result<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        if at + 4 > b.len() {
            return Err(NtlmError::AvPairs);
        }
        let id = u16_at(b, at);
        let len = u16_at(b, at + 2) as usize;
        let v = b.get(at + 4..at + 4 + len).ok_or(NtlmError::AvPairs)?;
        if id == av::EOL {
            return Ok(out);
        }
        out.push((id, v));
        at += 4 + len;
    }
}

/// Builds an AV_PAIR list ending with MsvAvEOL.
pub fn emit_av_pairs(pairs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, v) in pairs {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// UTF-16LE, as NTLM carries strings when UNICODE is negotiated.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// UTF-16LE back to a string (lossy: a bad peer cannot make this fail).
pub fn from_utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

// ---------------------------------------------------------------------------------------
// Primitives (section 6) over RustCrypto.

fn md4(data: &[u8]) -> [u8; 16] {
    Md4::digest(data).into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC_MD5(K, M) over the concatenation of `parts`.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut m = <Hmac<Md5> as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// A 7-byte key spread over 8 DES key bytes (the low bit of each is parity, ignored by DES).
fn des_key(k7: &[u8]) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[0] = k7[0];
    k[1] = (k7[0] << 7) | (k7[1] >> 1);
    k[2] = (k7[1] << 6) | (k7[2] >> 2);
    k[3] = (k7[2] << 5) | (k7[3] >> 3);
    k[4] = (k7[3] << 4) | (k7[4] >> 4);
    k[5] = (k7[4] << 3) | (k7[5] >> 5);
    k[6] = (k7[5] << 2) | (k7[6] >> 6);
    k[7] = k7[6] << 1;
    k
}

/// DES(K, D): single-block DES-ECB with a 7-byte key (section 6).
fn des7(k7: &[u8], d: &[u8; 8]) -> [u8; 8] {
    let c =
        des::Des::new_from_slice(&des_key(k7)).unwrap_or_else(|_| unreachable!("8-byte DES key"));
    let mut block = des::cipher::generic_array::GenericArray::clone_from_slice(d);
    c.encrypt_block(&mut block);
    block.into()
}

/// DESL(K, D) (section 6): three DES encryptions of D under the 16-byte key split in 7s.
fn desl(k: &[u8; 16], d: &[u8; 8]) -> [u8; 24] {
    let mut k3 = [0u8; 7];
    k3[..2].copy_from_slice(&k[14..16]);
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&des7(&k[0..7], d));
    out[8..16].copy_from_slice(&des7(&k[7..14], d));
    out[16..].copy_from_slice(&des7(&k3, d));
    out
}

/// RC4 keyed with 8 (40/56-bit keys of section 3.4.5.3) or 16 bytes.
pub enum Rc4Handle {
    K8(Box<Rc4<U8>>),
    K16(Box<Rc4<U16>>),
}

impl Rc4Handle {
    pub fn new(key: &[u8]) -> Rc4Handle {
        if key.len() == 8 {
            Rc4Handle::K8(Box::new(Rc4::<U8>::new(key.into())))
        } else {
            let mut k = [0u8; 16];
            let n = key.len().min(16);
            k[..n].copy_from_slice(&key[..n]);
            Rc4Handle::K16(Box::new(Rc4::<U16>::new(&k.into())))
        }
    }

    pub fn apply(&mut self, data: &mut [u8]) {
        match self {
            Rc4Handle::K8(c) => c.apply_keystream(data),
            Rc4Handle::K16(c) => c.apply_keystream(data),
        }
    }
}

impl std::fmt::Debug for Rc4Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rc4Handle(..)")
    }
}

/// RC4K(K, D): one-shot RC4 (section 6).
pub fn rc4k(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    Rc4Handle::new(key).apply(&mut out);
    out
}

// ---------------------------------------------------------------------------------------
// Section 3.3: one-way functions and responses.

/// NTOWFv1 (section 3.3.1): MD4(UNICODE(Passwd)).
pub fn ntowf_v1(password: &str) -> [u8; 16] {
    md4(&utf16le(password))
}

/// LMOWFv1 (section 3.3.1): DES of "KGS!@#$%" under the upper-cased OEM password halves.
/// Passwords over 14 characters have no LM hash.
pub fn lmowf_v1(password: &str) -> Result<[u8; 16]> {
    let up = password.to_uppercase();
    if up.len() > 14 || !up.is_ascii() {
        return Err(NtlmError::LmPassword);
    }
    let mut p = [0u8; 14];
    p[..up.len()].copy_from_slice(up.as_bytes());
    let magic = b"KGS!@#$%";
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&des7(&p[0..7], magic));
    out[8..].copy_from_slice(&des7(&p[7..14], magic));
    Ok(out)
}

/// NTOWFv2 = LMOWFv2 (section 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)),
/// UNICODE(ConcatenationOf(Uppercase(User), UserDom))).
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt = ntowf_v1(password);
    let who = utf16le(&format!("{}{}", user.to_uppercase(), domain));
    hmac_md5(&nt, &[&who])
}

/// What the client computes from a challenge (section 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responses {
    pub nt_response: Vec<u8>,
    pub lm_response: Vec<u8>,
    pub session_base_key: [u8; 16],
    pub key_exchange_key: [u8; 16],
}

/// NTLM v1 (section 3.3.1), with extended session security when `flags` has it (then
/// the client challenge is used and KXKEY follows section 3.4.5.1's second form).
/// `lm_response_too`: send the LMv1 response rather than repeating the NT response
/// (the NoLMResponseNTLMv1 choice of section 3.3.1).
pub fn ntlm_v1(
    flags: u32,
    password: &str,
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    lm_response_too: bool,
) -> Result<Responses> {
    let nt = ntowf_v1(password);
    let session_base_key = md4(&nt);
    if flags & flags::EXTENDED_SESSIONSECURITY != 0 {
        let h = md5(&[server_challenge, client_challenge]);
        let mut h8 = [0u8; 8];
        h8.copy_from_slice(&h[..8]);
        let nt_response = desl(&nt, &h8).to_vec();
        let mut lm_response = client_challenge.to_vec();
        lm_response.extend_from_slice(&[0u8; 16]);
        // KXKEY with extended session security (section 3.4.5.1).
        let key_exchange_key = hmac_md5(&session_base_key, &[server_challenge, &lm_response[..8]]);
        return Ok(Responses {
            nt_response,
            lm_response,
            session_base_key,
            key_exchange_key,
        });
    }
    let nt_response = desl(&nt, server_challenge).to_vec();
    let lm = lmowf_v1(password);
    let lm_response = match (&lm, lm_response_too) {
        (Ok(l), true) => desl(l, server_challenge).to_vec(),
        _ => nt_response.clone(),
    };
    // KXKEY without extended session security (section 3.4.5.1).
    let key_exchange_key = if flags & flags::LM_KEY != 0 {
        let l = lm?;
        let r: [u8; 8] = lm_response[..8]
            .try_into()
            .map_err(|_| NtlmError::Length("LmChallengeResponse"))?;
        let mut k2 = [0xBDu8; 7];
        k2[0] = l[7];
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&des7(&l[0..7], &r));
        k[8..].copy_from_slice(&des7(&k2, &r));
        k
    } else if flags & flags::REQUEST_NON_NT_SESSION_KEY != 0 {
        let l = lm?;
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&l[..8]);
        k
    } else {
        session_base_key
    };
    Ok(Responses {
        nt_response,
        lm_response,
        session_base_key,
        key_exchange_key,
    })
}

/// NTLM v2 (section 3.3.2). `time` is the FILETIME (little-endian 100 ns since 1601),
/// `target_info` the server's AV_PAIR list as it goes into the response.
pub fn ntlm_v2(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
) -> Responses {
    // temp = Responserversion, HiResponserversion, Z(6), Time, ClientChallenge, Z(4),
    // ServerName, Z(4).
    let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&time.to_le_bytes());
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0u8; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0u8; 4]);
    let proof = hmac_md5(response_key, &[server_challenge, &temp]);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&temp);
    let mut lm_response = hmac_md5(response_key, &[server_challenge, client_challenge]).to_vec();
    lm_response.extend_from_slice(client_challenge);
    let session_base_key = hmac_md5(response_key, &[&proof]);
    Responses {
        nt_response,
        lm_response,
        session_base_key,
        key_exchange_key: session_base_key,
    }
}

/// Server side of NTLM v2: checks an NTLMv2 NtChallengeResponse and returns the session
/// base key (section 3.3.2).
pub fn verify_ntlm_v2(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    nt_response: &[u8],
) -> Result<[u8; 16]> {
    if nt_response.len() < 16 + 28 {
        return Err(NtlmError::Length("NTLMv2 response"));
    }
    let (proof, temp) = nt_response.split_at(16);
    let want = hmac_md5(response_key, &[server_challenge, temp]);
    if !ct_eq(&want, proof) {
        return Err(NtlmError::BadResponse);
    }
    Ok(hmac_md5(response_key, &[proof]))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------------------------------
// Section 3.4.5: session keys.

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// Which end a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// SIGNKEY (section 3.4.5.2): defined only with extended session security.
pub fn sign_key(flags: u32, exported: &[u8; 16], side: Side) -> Option<[u8; 16]> {
    if flags & flags::EXTENDED_SESSIONSECURITY == 0 {
        return None;
    }
    let magic = match side {
        Side::Client => CLIENT_SIGN,
        Side::Server => SERVER_SIGN,
    };
    Some(md5(&[exported, magic]))
}

/// SEALKEY (section 3.4.5.3): 16 bytes, or 8 for the weakened non-ESS keys.
pub fn seal_key(flags: u32, exported: &[u8; 16], side: Side) -> Vec<u8> {
    if flags & flags::EXTENDED_SESSIONSECURITY != 0 {
        let k: &[u8] = if flags & flags::NEG_128 != 0 {
            exported
        } else if flags & flags::NEG_56 != 0 {
            &exported[..7]
        } else {
            &exported[..5]
        };
        let magic = match side {
            Side::Client => CLIENT_SEAL,
            Side::Server => SERVER_SEAL,
        };
        md5(&[k, magic]).to_vec()
    } else if flags & (flags::LM_KEY | flags::DATAGRAM) != 0 {
        let mut k = exported[..8].to_vec();
        if flags & flags::NEG_56 != 0 {
            k[7] = 0xA0;
        } else {
            k[5] = 0xE5;
            k[6] = 0x38;
            k[7] = 0xB0;
        }
        k
    } else {
        exported.to_vec()
    }
}

/// The session key the client sends (section 3.1.5.1.2): with KEY_EXCH, a random
/// ExportedSessionKey RC4-encrypted under KeyExchangeKey; else the KeyExchangeKey itself.
pub fn key_exchange(
    flags: u32,
    key_exchange_key: &[u8; 16],
    random_session_key: &[u8; 16],
) -> ([u8; 16], Vec<u8>) {
    if flags & flags::KEY_EXCH != 0 {
        (
            *random_session_key,
            rc4k(key_exchange_key, random_session_key),
        )
    } else {
        (*key_exchange_key, Vec::new())
    }
}

/// Server side of [`key_exchange`]: recovers the ExportedSessionKey.
pub fn recover_session_key(
    flags: u32,
    key_exchange_key: &[u8; 16],
    encrypted: &[u8],
) -> Result<[u8; 16]> {
    if flags & flags::KEY_EXCH == 0 {
        return Ok(*key_exchange_key);
    }
    rc4k(key_exchange_key, encrypted)
        .try_into()
        .map_err(|_| NtlmError::Length("EncryptedRandomSessionKey"))
}

/// The parts of an NTLMSSP_MESSAGE_SIGNATURE before assembly (section 2.2.2.9): useful to
/// compare with the spec's worked examples, which show them one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacParts {
    /// RC4(Handle, RandomPad) (non-ESS only; the assembled signature carries 0).
    pub random_pad: [u8; 4],
    pub checksum: [u8; 8],
    pub seq_num: [u8; 4],
}

impl MacParts {
    pub fn signature(&self, keep_pad: bool) -> [u8; 16] {
        let mut s = [0u8; 16];
        s[0] = 1;
        if keep_pad {
            s[4..8].copy_from_slice(&self.random_pad);
            s[8..12].copy_from_slice(&self.checksum[..4]);
            s[12..16].copy_from_slice(&self.seq_num);
        } else {
            s[4..12].copy_from_slice(&self.checksum);
            s[12..16].copy_from_slice(&self.seq_num);
        }
        s
    }
}

/// One direction's signing state (section 3.4.4).
#[derive(Debug)]
pub struct Sealer {
    flags: u32,
    sign_key: Option<[u8; 16]>,
    seal_key: Vec<u8>,
    /// The running RC4 handle (connection-oriented mode only).
    handle: Rc4Handle,
    seq: u32,
}

impl Sealer {
    pub fn new(flags: u32, exported: &[u8; 16], side: Side) -> Sealer {
        let seal_key = seal_key(flags, exported, side);
        Sealer {
            flags,
            sign_key: sign_key(flags, exported, side),
            handle: Rc4Handle::new(&seal_key),
            seal_key,
            seq: 0,
        }
    }

    fn datagram(&self) -> bool {
        self.flags & flags::DATAGRAM != 0
    }

    /// The RC4 handle for one message: connection-oriented mode keeps one running handle;
    /// connectionless mode starts a new one per message, keyed (with extended session
    /// security) by MD5(SealingKey, SeqNum) (section 3.4.3).
    fn with_handle<R>(&mut self, seq: u32, f: impl FnOnce(&mut Rc4Handle) -> R) -> R {
        if self.datagram() {
            let mut h = if self.flags & flags::EXTENDED_SESSIONSECURITY != 0 {
                Rc4Handle::new(&md5(&[&self.seal_key, &seq.to_le_bytes()]))
            } else {
                Rc4Handle::new(&self.seal_key)
            };
            f(&mut h)
        } else {
            f(&mut self.handle)
        }
    }

    /// MAC(Handle, SigningKey, SeqNum, Message) (section 3.4.4), returning the parts.
    /// Connection-oriented: `seq` is ignored and the internal counter used and advanced.
    /// Connectionless: the application supplies `seq`.
    pub fn mac_parts(&mut self, seq: u32, message: &[u8]) -> MacParts {
        let seq = if self.datagram() {
            seq
        } else {
            let s = self.seq;
            self.seq = self.seq.wrapping_add(1);
            s
        };
        let flags = self.flags;
        if let Some(sk) = self.sign_key {
            // Section 3.4.4.2: with extended session security.
            let h = hmac_md5(&sk, &[&seq.to_le_bytes(), message]);
            let mut checksum = [0u8; 8];
            checksum.copy_from_slice(&h[..8]);
            if flags & flags::KEY_EXCH != 0 {
                self.with_handle(seq, |hd| hd.apply(&mut checksum));
            }
            MacParts {
                random_pad: [0; 4],
                checksum,
                seq_num: seq.to_le_bytes(),
            }
        } else {
            // Section 3.4.4.1: without extended session security.
            let crc = crc32fast::hash(message).to_le_bytes();
            self.with_handle(seq, |hd| {
                let mut pad = [0u8; 4];
                hd.apply(&mut pad);
                let mut checksum = [0u8; 8];
                checksum[..4].copy_from_slice(&crc);
                hd.apply(&mut checksum[..4]);
                let mut sn = [0u8; 4];
                hd.apply(&mut sn);
                let x = u32::from_le_bytes(sn) ^ seq;
                // checksum[4..8] holds the encrypted SeqNum so the signature can be read
                // back as RandomPad | Checksum | SeqNum.
                MacParts {
                    random_pad: pad,
                    checksum: [
                        checksum[0],
                        checksum[1],
                        checksum[2],
                        checksum[3],
                        0,
                        0,
                        0,
                        0,
                    ],
                    seq_num: x.to_le_bytes(),
                }
            })
        }
    }

    /// The NTLMSSP_MESSAGE_SIGNATURE of `message` (the pseudo-code's final form: RandomPad
    /// set to 0 in the non-ESS case).
    pub fn mac(&mut self, seq: u32, message: &[u8]) -> [u8; 16] {
        let ess = self.sign_key.is_some();
        let p = self.mac_parts(seq, message);
        if ess {
            p.signature(false)
        } else {
            let mut s = [0u8; 16];
            s[0] = 1;
            s[8..12].copy_from_slice(&p.checksum[..4]);
            s[12..16].copy_from_slice(&p.seq_num);
            s
        }
    }

    /// Checks a peer's signature (connectionless: `seq` is the one the peer used).
    pub fn verify_mac(&mut self, seq: u32, message: &[u8], sig: &[u8]) -> Result<()> {
        let want = self.mac(seq, message);
        if sig.len() != 16 {
            return Err(NtlmError::BadMac);
        }
        // RandomPad carries nothing (section 3.4.4.1): compare version, checksum, seqnum.
        if ct_eq(&want[..4], &sig[..4]) && ct_eq(&want[8..], &sig[8..]) {
            if self.sign_key.is_some() && !ct_eq(&want[4..8], &sig[4..8]) {
                return Err(NtlmError::BadMac);
            }
            Ok(())
        } else {
            Err(NtlmError::BadMac)
        }
    }

    /// GSS_WrapEx's SEAL (section 3.4.3): encrypts `data` in place and returns its
    /// signature. Connection-oriented only (the spec's examples use it so).
    pub fn seal(&mut self, seq: u32, data: &mut [u8]) -> MacParts {
        let plain = data.to_vec();
        if self.sign_key.is_some() {
            self.with_handle(seq, |h| h.apply(data));
            self.mac_parts(seq, &plain)
        } else {
            // Without ESS the RC4 stream runs on: data, then the signature fields.
            let crc = crc32fast::hash(&plain).to_le_bytes();
            let s = self.seq;
            self.seq = self.seq.wrapping_add(1);
            self.with_handle(s, |h| {
                h.apply(data);
                let mut pad = [0u8; 4];
                h.apply(&mut pad);
                let mut c = crc;
                h.apply(&mut c);
                let mut sn = [0u8; 4];
                h.apply(&mut sn);
                MacParts {
                    random_pad: pad,
                    checksum: [c[0], c[1], c[2], c[3], 0, 0, 0, 0],
                    seq_num: (u32::from_le_bytes(sn) ^ s).to_le_bytes(),
                }
            })
        }
    }
}

/// A client-side NTLM context for connectionless SIP use: answers one CHALLENGE with an
/// AUTHENTICATE and then signs / verifies messages.
#[derive(Debug)]
pub struct ClientContext {
    pub flags: u32,
    pub exported_session_key: [u8; 16],
    pub client: Sealer,
    pub server: Sealer,
}

/// Who the client is and what it draws from entropy (the core reads none).
#[derive(Debug, Clone)]
pub struct ClientInput<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    pub password: &'a str,
    pub workstation: &'a str,
    pub client_challenge: [u8; 8],
    pub random_session_key: [u8; 16],
    /// FILETIME for the NTLMv2 blob (the server's MsvAvTimestamp wins when present).
    pub time: u64,
    /// NTLMv2 (true) or NTLMv1 with extended session security.
    pub v2: bool,
    /// Our VERSION structure (section 2.2.2.10), sent when VERSION is negotiated.
    pub version: Version,
}

/// Answers a CHALLENGE: the AUTHENTICATE bytes and the established context.
pub fn authenticate(challenge: &[u8], i: &ClientInput<'_>) -> Result<(Vec<u8>, ClientContext)> {
    let ch = Challenge::parse(challenge)?;
    // Section 3.1.5.1.2: the client's flags are the server's, limited to what we support;
    // REQUEST_TARGET (section 2.2.2.5: if set, "a TargetName field of the CHALLENGE_MESSAGE
    // ... MUST be supplied") is a client request; our client keeps it set.
    let flags = (ch.flags & flags::SIP_CONNECTIONLESS) | flags::REQUEST_TARGET;
    let r = if i.v2 {
        let pairs = av_pairs(ch.target_info)?;
        let time = pairs
            .iter()
            .find(|(id, v)| *id == av::TIMESTAMP && v.len() == 8)
            .and_then(|(_, v)| <[u8; 8]>::try_from(*v).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(i.time);
        let key = ntowf_v2(i.password, i.user, i.domain);
        ntlm_v2(
            &key,
            &ch.server_challenge,
            &i.client_challenge,
            time,
            ch.target_info,
        )
    } else {
        ntlm_v1(
            flags | flags::EXTENDED_SESSIONSECURITY,
            i.password,
            &ch.server_challenge,
            &i.client_challenge,
            false,
        )?
    };
    let flags = if i.v2 {
        flags
    } else {
        flags | flags::EXTENDED_SESSIONSECURITY
    };
    let (exported, encrypted) = key_exchange(flags, &r.key_exchange_key, &i.random_session_key);
    let user = utf16le(i.user);
    let domain = utf16le(i.domain);
    let ws = utf16le(i.workstation);
    let msg = Authenticate {
        lm_response: &r.lm_response,
        nt_response: &r.nt_response,
        domain: &domain,
        user: &user,
        workstation: &ws,
        encrypted_random_session_key: &encrypted,
        flags,
        version: (flags & flags::VERSION != 0).then_some(i.version),
        mic: None,
    }
    .emit();
    Ok((
        msg,
        ClientContext {
            flags,
            exported_session_key: exported,
            client: Sealer::new(flags, &exported, Side::Client),
            server: Sealer::new(flags, &exported, Side::Server),
        },
    ))
}

/// The server end: issues a CHALLENGE and checks the AUTHENTICATE against a password
/// (the test server's stand-in for a domain controller).
#[derive(Debug, Clone)]
pub struct ServerChallenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    pub target_info: Vec<u8>,
}

impl ServerChallenge {
    pub fn new(server_challenge: [u8; 8], nb_domain: &str, nb_computer: &str) -> Self {
        let d = utf16le(nb_domain);
        let c = utf16le(nb_computer);
        ServerChallenge {
            flags: flags::SIP_CONNECTIONLESS,
            server_challenge,
            target_info: emit_av_pairs(&[(av::NB_DOMAIN_NAME, &d), (av::NB_COMPUTER_NAME, &c)]),
        }
    }

    pub fn emit(&self) -> Vec<u8> {
        Challenge {
            flags: self.flags,
            target_name: &[],
            server_challenge: self.server_challenge,
            target_info: &self.target_info,
            version: Some([6, 1, 0x1d, 0x1e, 0, 0, 0, 0x0f]),
        }
        .emit()
    }

    /// Checks an AUTHENTICATE (NTLMv2, or NTLMv1 with extended session security) for
    /// `password`; returns the user name and the server's view of the session.
    pub fn accept(&self, auth: &[u8], password: &str) -> Result<(String, String, ClientContext)> {
        let a = Authenticate::parse(auth)?;
        let user = from_utf16le(a.user);
        let domain = from_utf16le(a.domain);
        let kxkey = if a.nt_response.len() > 24 {
            let key = ntowf_v2(password, &user, &domain);
            verify_ntlm_v2(&key, &self.server_challenge, a.nt_response)?
        } else {
            let cc: [u8; 8] = a
                .lm_response
                .get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or(NtlmError::Length("LmChallengeResponse"))?;
            let r = ntlm_v1(
                a.flags | flags::EXTENDED_SESSIONSECURITY,
                password,
                &self.server_challenge,
                &cc,
                false,
            )?;
            if !ct_eq(&r.nt_response, a.nt_response) {
                return Err(NtlmError::BadResponse);
            }
            r.key_exchange_key
        };
        let exported = recover_session_key(a.flags, &kxkey, a.encrypted_random_session_key)?;
        Ok((
            user,
            domain,
            ClientContext {
                flags: a.flags,
                exported_session_key: exported,
                client: Sealer::new(a.flags, &exported, Side::Client),
                server: Sealer::new(a.flags, &exported, Side::Server),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn des_key_spreading() {
        // Each output byte takes 7 key bits in its high bits (section 6, DES).
        assert_eq!(
            des_key(&[0xff; 7]),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(
            des_key(&[0x80, 0, 0, 0, 0, 0, 0x01]),
            [0x80, 0, 0, 0, 0, 0, 0, 0x02]
        );
    }

    #[test]
    fn short_and_bad_messages_are_typed_errors() {
        assert_eq!(Message::parse(b"NTLM"), Err(NtlmError::Short(12)));
        let mut b = Challenge {
            flags: 0,
            target_name: b"ab",
            server_challenge: [1; 8],
            target_info: &[],
            version: None,
        }
        .emit();
        b[16] = 0xff; // TargetName offset far outside
        assert_eq!(Challenge::parse(&b), Err(NtlmError::Field("TargetName")));
        b[0] = b'X';
        assert_eq!(Challenge::parse(&b), Err(NtlmError::Signature));
        assert_eq!(av_pairs(&[1, 0, 9, 0]), Err(NtlmError::AvPairs));
    }
}
