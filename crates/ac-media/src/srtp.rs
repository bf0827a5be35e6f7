//! SRTP and SRTCP (RFC 3711) with SDES keys (RFC 4568).
//!
//! The cryptography is the webrtc-rs sans-IO `rtc-srtp` crate (through `rtc-crypto`: AES-CM
//! from RustCrypto `aes`/`ctr`, HMAC-SHA1 from `ring`); nothing here implements a cipher. This module parses and
//! formats the SDES `a=crypto` key parameters, checks packets with our RTP/RTCP views before
//! handing them over, and maps errors to [`SrtpError`].
//!
//! Interop: tests/srtp_interop.rs checks both directions against libsrtp2 and the RFC 3711
//! Appendix B vectors.

use base64::Engine as _;
use rtc_srtp::context::Context;
use rtc_srtp::protection_profile::ProtectionProfile;
use std::collections::HashMap;

use crate::error::PacketError;
use crate::rtcp::RtcpHeader;
use crate::rtp::{checked_header_len, RtpView};

/// Master key length of the AES_CM_128 suites (RFC 4568 6.2).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length (RFC 4568 6.2).
pub const MASTER_SALT_LEN: usize = 14;
/// Replay window (RFC 3711 3.3.2: at least 64).
pub const REPLAY_WINDOW: usize = 128;

/// SRTP errors.
#[derive(Debug, thiserror::Error)]
pub enum SrtpError {
    /// The SDES crypto attribute or key parameter is malformed.
    #[error("bad SDES key: {0}")]
    BadKey(&'static str),
    /// The crypto suite is not one we offer.
    #[error("unsupported crypto suite {0:?}")]
    UnsupportedSuite(String),
    /// The packet is not valid RTP/RTCP.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// A replayed or too old packet (RFC 3711 3.3.2).
    #[error("replayed or too old packet: ssrc {ssrc:#010x} index {index}")]
    Replay {
        /// Source.
        ssrc: u32,
        /// Sequence number or SRTCP index.
        index: u64,
    },
    /// An SRTCP packet with the E flag clear (not offered; see `unprotect_rtcp`).
    #[error("unencrypted SRTCP refused")]
    UnencryptedSrtcp,
    /// More remote sources than the session tracks.
    #[error("too many remote sources")]
    TooManySources,
    /// Authentication failed or another failure from the SRTP library.
    #[error("srtp: {0}")]
    Crypto(String),
}

/// The crypto suites of RFC 4568 section 6.2 that the phone supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// AES_CM_128_HMAC_SHA1_80.
    AesCm128HmacSha1_80,
    /// AES_CM_128_HMAC_SHA1_32 (SRTCP still uses the 80-bit tag, RFC 4568 6.2.2).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// Name in the `a=crypto` attribute.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Parses a suite name.
    pub fn from_name(s: &str) -> Result<Self, SrtpError> {
        match s {
            "AES_CM_128_HMAC_SHA1_80" => Ok(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Ok(Suite::AesCm128HmacSha1_32),
            other => Err(SrtpError::UnsupportedSuite(other.to_owned())),
        }
    }

    /// SRTP authentication tag length in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }
}

/// A master key and salt.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    /// 128-bit master key.
    pub key: [u8; MASTER_KEY_LEN],
    /// 112-bit master salt.
    pub salt: [u8; MASTER_SALT_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// From the 30 bytes key || salt.
    pub fn from_bytes(b: &[u8; 30]) -> Self {
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&b[..16]);
        salt.copy_from_slice(&b[16..]);
        MasterKey { key, salt }
    }

    /// key || salt.
    pub fn to_bytes(&self) -> [u8; 30] {
        let mut b = [0; 30];
        b[..16].copy_from_slice(&self.key);
        b[16..].copy_from_slice(&self.salt);
        b
    }

    /// Parses an SDES key parameter `inline:<base64 key||salt>[|lifetime][|MKI:length]`
    /// (RFC 4568 6.1). Lifetime and MKI are accepted only in their defaults' absence: an
    /// MKI would change the packet format, which this phone does not offer.
    pub fn from_key_params(s: &str) -> Result<Self, SrtpError> {
        let rest = s
            .strip_prefix("inline:")
            .ok_or(SrtpError::BadKey("key method must be inline"))?;
        let mut parts = rest.split('|');
        let b64 = parts.next().unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SrtpError::BadKey("key is not base64"))?;
        let raw: [u8; 30] = raw
            .as_slice()
            .try_into()
            .map_err(|_| SrtpError::BadKey("key||salt must be 30 bytes"))?;
        for p in parts {
            if p.contains(':') {
                return Err(SrtpError::BadKey("MKI not supported"));
            }
            // Lifetime: decimal or 2^n (RFC 4568 6.1); accepted and not enforced beyond the
            // 2^48 SRTP limit that the library keeps.
            let ok = p
                .strip_prefix("2^")
                .map_or_else(|| p.parse::<u64>().is_ok(), |e| e.parse::<u8>().is_ok());
            if !ok {
                return Err(SrtpError::BadKey("bad lifetime"));
            }
        }
        Ok(MasterKey::from_bytes(&raw))
    }

    /// Formats the key parameter `inline:<base64>`.
    pub fn to_key_params(&self) -> String {
        format!(
            "inline:{}",
            base64::engine::general_purpose::STANDARD.encode(self.to_bytes())
        )
    }
}

/// An `a=crypto` attribute value (RFC 4568 9.1): `tag suite key-params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Tag, 1..=999999999.
    pub tag: u32,
    /// Crypto suite.
    pub suite: Suite,
    /// Master key.
    pub key: MasterKey,
}

impl CryptoAttribute {
    /// Parses the value of an `a=crypto:` line (session parameters are ignored).
    pub fn parse(s: &str) -> Result<Self, SrtpError> {
        let mut it = s.split_ascii_whitespace();
        let tag = it
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| (1..=999_999_999).contains(t))
            .ok_or(SrtpError::BadKey("bad tag"))?;
        let suite = Suite::from_name(it.next().ok_or(SrtpError::BadKey("no suite"))?)?;
        let key = MasterKey::from_key_params(it.next().ok_or(SrtpError::BadKey("no key"))?)?;
        Ok(CryptoAttribute { tag, suite, key })
    }

    /// Formats the attribute value.
    pub fn to_value(&self) -> String {
        format!(
            "{} {} {}",
            self.tag,
            self.suite.name(),
            self.key.to_key_params()
        )
    }
}

/// The header as `rtc-srtp` needs it: it only reads the sequence number, the SSRC and the
/// header's length. Built from our checked view rather than from `rtc-rtp`'s parser, whose
/// RFC 8285 extension parsing re-computes a different length for some valid extension
/// blocks (the fuzzer found one: `0xBEDE` with `0xFF` bytes), which made the library encrypt
/// from the wrong offset and disagree with libsrtp2. RFC 3711 3.1: the whole RTP header,
/// extension included, stays in the clear.
fn lib_header(buf: &[u8], header_len: usize) -> rtc_rtp::header::Header {
    let cc = usize::from(buf[0] & 0x0f);
    let has_ext = buf[0] & 0x10 != 0;
    let ext_start = 12 + 4 * cc;
    let extensions = if has_ext && header_len > ext_start + 4 {
        vec![rtc_rtp::header::Extension {
            id: 0,
            payload: bytes::Bytes::copy_from_slice(&buf[ext_start + 4..header_len]),
        }]
    } else {
        Vec::new()
    };
    rtc_rtp::header::Header {
        version: 2,
        padding: buf[0] & 0x20 != 0,
        extension: has_ext,
        marker: buf[1] & 0x80 != 0,
        payload_type: buf[1] & 0x7f,
        sequence_number: u16::from_be_bytes([buf[2], buf[3]]),
        timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        csrc: (0..cc)
            .map(|i| {
                let at = 12 + 4 * i;
                u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
            })
            .collect(),
        // A profile outside RFC 8285 makes the length the raw extension length.
        extension_profile: 0,
        extensions,
        extensions_padding: 0,
    }
}

fn crypto_err(e: impl std::fmt::Display) -> SrtpError {
    SrtpError::Crypto(e.to_string())
}

/// Replay list of RFC 3711 3.3.2 as a sliding window of [`REPLAY_WINDOW`] indices over a
/// sequence space of `max + 1` values (2^16 for SRTP sequence numbers, 2^31 for SRTCP
/// indices).
///
/// Kept here rather than in `rtc-srtp` because the library's detector records its starting
/// point on the first *checked* packet, before authentication: one forged packet with a far
/// index then makes every genuine packet "too old". RFC 3711 3.3 step 5-6 updates the replay
/// list only after the authentication check succeeds; so does this window.
#[derive(Debug, Clone)]
struct ReplayWindow {
    latest: u64,
    mask: u128,
    modulus: u64,
}

impl ReplayWindow {
    fn new(first: u64, modulus: u64) -> Self {
        ReplayWindow {
            latest: first,
            mask: 1,
            modulus,
        }
    }

    /// Signed distance latest - seq, wrapped into (-modulus/2, modulus/2].
    fn diff(&self, seq: u64) -> i64 {
        let m = self.modulus as i64;
        let mut d = (self.latest as i64 - seq as i64).rem_euclid(m);
        if d > m / 2 {
            d -= m;
        }
        d
    }

    /// Whether `seq` may be accepted (not a replay, not older than the window).
    fn check(&self, seq: u64) -> bool {
        let d = self.diff(seq);
        d < 0 || (d < REPLAY_WINDOW as i64 && self.mask & (1u128 << d) == 0)
    }

    /// Records an authenticated `seq`.
    fn accept(&mut self, seq: u64) {
        let d = self.diff(seq);
        if d < 0 {
            let shift = d.unsigned_abs();
            self.mask = if shift >= 128 { 0 } else { self.mask << shift };
            self.mask |= 1;
            self.latest = seq;
        } else if d < REPLAY_WINDOW as i64 {
            self.mask |= 1u128 << d;
        }
    }
}

/// Upper bound on the number of remote SSRCs tracked (each added only after a packet from it
/// authenticated).
const MAX_REMOTE_SSRCS: usize = 64;

fn replay_check(map: &HashMap<u32, ReplayWindow>, ssrc: u32, seq: u64) -> Result<(), SrtpError> {
    match map.get(&ssrc) {
        Some(w) if !w.check(seq) => Err(SrtpError::Replay { ssrc, index: seq }),
        None if map.len() >= MAX_REMOTE_SSRCS => Err(SrtpError::TooManySources),
        _ => Ok(()),
    }
}

fn replay_accept(map: &mut HashMap<u32, ReplayWindow>, ssrc: u32, seq: u64, modulus: u64) {
    map.entry(ssrc)
        .and_modify(|w| w.accept(seq))
        .or_insert_with(|| ReplayWindow::new(seq, modulus));
}

/// An SRTP session: one outbound context (our key) and one inbound (the peer's key).
pub struct SrtpSession {
    suite: Suite,
    tx: Context,
    rx: Context,
    rtp_replay: HashMap<u32, ReplayWindow>,
    rtcp_replay: HashMap<u32, ReplayWindow>,
}

impl SrtpSession {
    /// Creates the two contexts; the inbound one has replay protection (RFC 3711 3.3.2).
    pub fn new(suite: Suite, local: &MasterKey, remote: &MasterKey) -> Result<Self, SrtpError> {
        let provider = rtc_srtp::crypto::default_provider().map_err(crypto_err)?;
        let tx = Context::new(
            &local.key,
            &local.salt,
            suite.profile(),
            None,
            None,
            provider.crypto(),
        )
        .map_err(crypto_err)?;
        let rx = Context::new(
            &remote.key,
            &remote.salt,
            suite.profile(),
            // Replay protection is ours (see ReplayWindow).
            None,
            None,
            provider.crypto(),
        )
        .map_err(crypto_err)?;
        Ok(SrtpSession {
            suite,
            tx,
            rx,
            rtp_replay: HashMap::new(),
            rtcp_replay: HashMap::new(),
        })
    }

    /// The negotiated suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Protects an RTP packet (RFC 3711 3.3).
    pub fn protect_rtp(&mut self, rtp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let v = RtpView::new_checked(rtp)?;
        let h = lib_header(rtp, v.header_len());
        Ok(self
            .tx
            .encrypt_rtp_with_header(rtp, &h)
            .map_err(crypto_err)?
            .to_vec())
    }

    /// Authenticates and decrypts an SRTP packet (RFC 3711 3.3); replays and forgeries are
    /// errors.
    pub fn unprotect_rtp(&mut self, srtp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        // The padding is encrypted: check only the header here.
        let header_len = checked_header_len(srtp)?;
        if srtp.len() < header_len + self.suite.rtp_tag_len() {
            return Err(PacketError::Truncated {
                what: "SRTP authentication tag",
                need: header_len + self.suite.rtp_tag_len(),
                have: srtp.len(),
            }
            .into());
        }
        let ssrc = u32::from_be_bytes([srtp[8], srtp[9], srtp[10], srtp[11]]);
        let seq = u64::from(u16::from_be_bytes([srtp[2], srtp[3]]));
        replay_check(&self.rtp_replay, ssrc, seq)?;
        let h = lib_header(srtp, header_len);
        let plain = self
            .rx
            .decrypt_rtp_with_header(srtp, &h)
            .map_err(crypto_err)?
            .to_vec();
        // RFC 3711 3.3 step 6: update the replay list only once authenticated.
        replay_accept(&mut self.rtp_replay, ssrc, seq, 1 << 16);
        Ok(plain)
    }

    /// Protects a compound RTCP packet (RFC 3711 3.4).
    pub fn protect_rtcp(&mut self, rtcp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        RtcpHeader::parse(rtcp)?;
        if rtcp.len() < 8 {
            return Err(PacketError::Truncated {
                what: "RTCP sender SSRC",
                need: 8,
                have: rtcp.len(),
            }
            .into());
        }
        Ok(self.tx.encrypt_rtcp(rtcp).map_err(crypto_err)?.to_vec())
    }

    /// Authenticates and decrypts an SRTCP packet (RFC 3711 3.4).
    pub fn unprotect_rtcp(&mut self, srtcp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        // First header, SSRC, E||index (4) and the 80-bit tag.
        if srtcp.len() < 8 + 4 + 10 {
            return Err(PacketError::Truncated {
                what: "SRTCP packet",
                need: 22,
                have: srtcp.len(),
            }
            .into());
        }
        if srtcp[0] >> 6 != 2 {
            return Err(PacketError::BadVersion(srtcp[0] >> 6).into());
        }
        let ssrc = u32::from_be_bytes([srtcp[4], srtcp[5], srtcp[6], srtcp[7]]);
        // E flag and 31-bit SRTCP index precede the 80-bit tag (RFC 3711 3.4).
        let at = srtcp.len() - 14;
        let index = u64::from(
            u32::from_be_bytes([srtcp[at], srtcp[at + 1], srtcp[at + 2], srtcp[at + 3]])
                & 0x7fff_ffff,
        );
        if srtcp[at] & 0x80 == 0 {
            // RFC 3711 3.4: SRTCP authentication is mandatory whatever the E flag says, but
            // rtc-srtp 0.21 returns E=0 packets without checking their tag. We never offer
            // UNENCRYPTED_SRTCP (RFC 4568 6.3.2), so an E=0 packet is refused here.
            return Err(SrtpError::UnencryptedSrtcp);
        }
        replay_check(&self.rtcp_replay, ssrc, index)?;
        let plain = self.rx.decrypt_rtcp(srtcp).map_err(crypto_err)?.to_vec();
        replay_accept(&mut self.rtcp_replay, ssrc, index, 1 << 31);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_wraps_and_rejects_old_and_duplicates() {
        let mut w = ReplayWindow::new(65_530, 1 << 16);
        for s in 65_531..65_536u64 {
            assert!(w.check(s));
            w.accept(s);
        }
        for s in 0..10u64 {
            assert!(w.check(s), "wrapped {s}");
            w.accept(s);
        }
        assert!(!w.check(5), "duplicate");
        assert!(!w.check(65_535), "duplicate across the wrap");
        // Out of order but inside the window and not seen: accepted once.
        let mut w = ReplayWindow::new(1000, 1 << 16);
        w.accept(1002);
        assert!(w.check(1001));
        w.accept(1001);
        assert!(!w.check(1001));
        // Older than the window.
        w.accept(2000);
        assert!(!w.check(1002 + 1));
        assert!(w.check(2001));
    }

    #[test]
    fn crypto_attribute_round_trip_and_errors() {
        // RFC 4568 section 4 example key.
        let a = CryptoAttribute::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
        );
        assert!(matches!(a, Err(SrtpError::BadKey("MKI not supported"))));
        let a = CryptoAttribute::parse(
            "1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
        )
        .unwrap();
        assert_eq!(a.suite, Suite::AesCm128HmacSha1_32);
        assert_eq!(&a.key.key[..3], b"=-n");
        let again = CryptoAttribute::parse(&a.to_value()).unwrap();
        assert_eq!(again, a);
        assert!(CryptoAttribute::parse("1 F8_128_HMAC_SHA1_80 inline:AAAA").is_err());
        assert!(CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA").is_err());
        assert!(CryptoAttribute::parse("0 AES_CM_128_HMAC_SHA1_80 inline:x").is_err());
    }
}
