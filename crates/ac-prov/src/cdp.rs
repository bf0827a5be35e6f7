//! Cisco Discovery Protocol version 2: a checked view of a CDP packet, an owned form that
//! emits (with Cisco's checksum), the voice VLAN TLVs and the phone's own announcement.
//!
//! CDP has no public RFC; the layout follows Cisco's published description of CDP v2 and of
//! the "Appliance VLAN-ID" (VoIP VLAN) TLVs as decoded by Wireshark's dissector (read as
//! documentation only): an IEEE 802.3 frame to 01:00:0c:cc:cc:cc with LLC/SNAP (OUI
//! 00:00:0c, protocol 0x2000), then version, TTL, checksum and 16-bit type/length TLVs
//! whose length includes their 4-byte header.

use crate::l2::{self, Mac};

/// CDP/VTP/DTP multicast address.
pub const MULTICAST: Mac = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];
/// LLC (DSAP, SSAP, control = UI) and SNAP header (Cisco OUI, protocol 0x2000).
pub const LLC_SNAP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];

pub const TLV_DEVICE_ID: u16 = 0x0001;
pub const TLV_ADDRESSES: u16 = 0x0002;
pub const TLV_PORT_ID: u16 = 0x0003;
pub const TLV_CAPABILITIES: u16 = 0x0004;
pub const TLV_SOFTWARE_VERSION: u16 = 0x0005;
pub const TLV_PLATFORM: u16 = 0x0006;
pub const TLV_DUPLEX: u16 = 0x000b;
/// VoIP VLAN reply ("Appliance VLAN-ID"): appliance ID (1 byte), VLAN (2 bytes).
pub const TLV_VOIP_VLAN_REPLY: u16 = 0x000e;
/// VoIP VLAN query, sent by a phone.
pub const TLV_VOIP_VLAN_QUERY: u16 = 0x000f;
/// Trust bitmap and untrusted port CoS (extended trust for the PC port).
pub const TLV_TRUST_BITMAP: u16 = 0x0012;
pub const TLV_UNTRUSTED_COS: u16 = 0x0013;

/// Capability bits.
pub const CAP_HOST: u32 = 0x10;
pub const CAP_PHONE: u32 = 0x80;

const MAX_LEN: usize = 1500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdpError {
    #[error("not an LLC/SNAP CDP frame")]
    NotCdp,
    #[error("CDP packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("CDP packet too long ({0} bytes)")]
    TooLong(usize),
    #[error("unsupported CDP version {0}")]
    Version(u8),
    #[error("TLV at offset {off}: length {len} invalid ({avail} bytes left)")]
    BadTlv {
        off: usize,
        len: usize,
        avail: usize,
    },
}

/// One TLV as borrowed from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvRef<'a> {
    pub ty: u16,
    pub value: &'a [u8],
}

/// A checked view of a CDP packet (the bytes after LLC/SNAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdpView<'a> {
    buf: &'a [u8],
}

impl<'a> CdpView<'a> {
    /// Takes the 802.3 payload (LLC/SNAP included).
    pub fn parse_llc(llc: &'a [u8]) -> Result<CdpView<'a>, CdpError> {
        match llc.strip_prefix(&LLC_SNAP[..]) {
            Some(p) => CdpView::parse(p),
            None => Err(CdpError::NotCdp),
        }
    }

    /// Validates the header and that the TLVs exactly fill the packet.
    pub fn parse(buf: &'a [u8]) -> Result<CdpView<'a>, CdpError> {
        if buf.len() < 4 {
            return Err(CdpError::TooShort(buf.len()));
        }
        if buf.len() > MAX_LEN {
            return Err(CdpError::TooLong(buf.len()));
        }
        if !(1..=2).contains(&buf[0]) {
            return Err(CdpError::Version(buf[0]));
        }
        let mut off = 4;
        while off < buf.len() {
            let avail = buf.len() - off;
            if avail < 4 {
                return Err(CdpError::BadTlv {
                    off,
                    len: avail,
                    avail,
                });
            }
            let len = usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]]));
            if len < 4 || len > avail {
                return Err(CdpError::BadTlv { off, len, avail });
            }
            off += len;
        }
        Ok(CdpView { buf })
    }

    pub fn version(&self) -> u8 {
        self.buf[0]
    }

    /// Hold time in seconds.
    pub fn ttl(&self) -> u8 {
        self.buf[1]
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// Whether the checksum field is right (the standard Internet checksum, or Cisco's
    /// variant for odd lengths).
    pub fn checksum_ok(&self) -> bool {
        let mut z = self.buf.to_vec();
        z[2] = 0;
        z[3] = 0;
        let c = self.checksum();
        c == cisco_checksum(&z) || c == rfc1071(&z)
    }

    pub fn tlvs(&self) -> impl Iterator<Item = TlvRef<'a>> + 'a {
        let buf = self.buf;
        let mut off = 4;
        std::iter::from_fn(move || {
            if off + 4 > buf.len() {
                return None;
            }
            let ty = u16::from_be_bytes([buf[off], buf[off + 1]]);
            let len = usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]]));
            let t = TlvRef {
                ty,
                value: buf.get(off + 4..off + len)?,
            };
            off += len;
            Some(t)
        })
    }

    /// The voice VLAN of a VoIP VLAN reply TLV.
    pub fn voice_vlan(&self) -> Option<u16> {
        self.tlvs()
            .find(|t| t.ty == TLV_VOIP_VLAN_REPLY && t.value.len() >= 3)
            .map(|t| u16::from_be_bytes([t.value[1], t.value[2]]) & 0x0fff)
    }

    pub fn device_id(&self) -> Option<&'a [u8]> {
        self.tlvs().find(|t| t.ty == TLV_DEVICE_ID).map(|t| t.value)
    }

    pub fn to_owned(&self) -> Cdp {
        Cdp {
            version: self.version(),
            ttl: self.ttl(),
            tlvs: self.tlvs().map(|t| (t.ty, t.value.to_vec())).collect(),
        }
    }
}

/// RFC 1071 Internet checksum (odd byte padded with zero at the end).
fn rfc1071(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut it = b.chunks_exact(2);
    for c in &mut it {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = it.remainder() {
        sum += u32::from(*last) << 8;
    }
    fold(sum)
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Cisco's CDP checksum: as RFC 1071, except that an odd last byte is taken as a sign
/// extended 16-bit word instead of being padded at the end.
pub fn cisco_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut it = b.chunks_exact(2);
    for c in &mut it {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = it.remainder() {
        sum += u32::from((*last as i8) as i16 as u16);
    }
    fold(sum)
}

/// An owned CDP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdp {
    pub version: u8,
    pub ttl: u8,
    /// (type, value); each value at most 65531 bytes.
    pub tlvs: Vec<(u16, Vec<u8>)>,
}

impl Cdp {
    /// The packet with its checksum.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = vec![self.version, self.ttl, 0, 0];
        for (ty, v) in &self.tlvs {
            let len = v.len().min(0xffff - 4);
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&((len + 4) as u16).to_be_bytes());
            out.extend_from_slice(&v[..len]);
        }
        let c = cisco_checksum(&out);
        out[2..4].copy_from_slice(&c.to_be_bytes());
        out
    }

    /// The IEEE 802.3 frame to the CDP multicast address.
    pub fn frame(&self, src: Mac) -> Vec<u8> {
        let mut llc = LLC_SNAP.to_vec();
        llc.extend_from_slice(&self.emit());
        l2::ieee8023(MULTICAST, src, &llc)
    }
}

/// The phone's CDP announcement: device ID, port, capabilities (host, phone), software
/// version, platform, and a VoIP VLAN query asking the switch for the voice VLAN.
pub fn announce(device_id: &str, port: &str, version: &str, platform: &str, ttl: u8) -> Cdp {
    Cdp {
        version: 2,
        ttl,
        tlvs: vec![
            (TLV_DEVICE_ID, device_id.as_bytes().to_vec()),
            (TLV_PORT_ID, port.as_bytes().to_vec()),
            (
                TLV_CAPABILITIES,
                (CAP_HOST | CAP_PHONE).to_be_bytes().to_vec(),
            ),
            (TLV_SOFTWARE_VERSION, version.as_bytes().to_vec()),
            (TLV_PLATFORM, platform.as_bytes().to_vec()),
            (TLV_DUPLEX, vec![1]),
            (TLV_VOIP_VLAN_QUERY, vec![1, 0, 0]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_checksum() {
        let mut c = announce("SEP00908F112233", "Port 1", "3.0.4", "420HD", 180);
        c.tlvs.push((TLV_VOIP_VLAN_REPLY, vec![1, 0, 200]));
        let wire = c.emit();
        let v = CdpView::parse(&wire).unwrap();
        assert!(v.checksum_ok());
        assert_eq!(v.to_owned(), c);
        assert_eq!(v.voice_vlan(), Some(200));
        let f = c.frame([0, 1, 2, 3, 4, 5]);
        let e = crate::l2::Frame::parse(&f).unwrap();
        let v = CdpView::parse_llc(e.payload).unwrap();
        assert_eq!(v.device_id(), Some(&b"SEP00908F112233"[..]));
        let mut bad = wire.clone();
        bad[10] ^= 1;
        assert!(!CdpView::parse(&bad).unwrap().checksum_ok());
    }

    #[test]
    fn odd_length_checksums() {
        // Cisco's sign-extension differs from RFC 1071 when the odd byte is >= 0x80.
        let b = [0x02, 0xb4, 0, 0, 0x00, 0x01, 0x00, 0x05, 0x90];
        assert_ne!(cisco_checksum(&b), rfc1071(&b));
        let mut w = b.to_vec();
        w[2..4].copy_from_slice(&cisco_checksum(&b).to_be_bytes());
        assert!(CdpView::parse(&w).unwrap().checksum_ok());
    }

    #[test]
    fn rejects() {
        assert!(CdpView::parse(&[2, 180, 0]).is_err());
        assert!(CdpView::parse(&[9, 180, 0, 0]).is_err());
        assert!(CdpView::parse(&[2, 180, 0, 0, 0, 1, 0, 3]).is_err());
        assert!(CdpView::parse(&[2, 180, 0, 0, 0, 1, 0, 9, 1]).is_err());
        assert!(CdpView::parse_llc(&[0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0x01, 2, 1, 0, 0]).is_err());
    }
}
