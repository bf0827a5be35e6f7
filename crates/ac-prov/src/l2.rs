//! Ethernet II / IEEE 802.3 framing shared by LLDP, CDP and EAPOL: a checked view of a
//! received frame (an optional 802.1Q tag is skipped) and a builder for frames we send.

/// A MAC address.
pub type Mac = [u8; 6];

/// EtherType of an 802.1Q tag (IEEE 802.1Q-2018 9.5).
pub const ETH_P_8021Q: u16 = 0x8100;

/// Why a frame was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame too short ({0} bytes)")]
    TooShort(usize),
    #[error("802.3 length field {len} exceeds the {avail} bytes present")]
    BadLength { len: usize, avail: usize },
}

/// What follows the MAC addresses: an EtherType (>= 0x0600) or an 802.3 length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EtherType(u16),
    /// IEEE 802.3 frame with an LLC header; the payload is cut to the length field.
    Llc,
}

/// A checked view of an Ethernet frame (without FCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub dst: Mac,
    pub src: Mac,
    /// VLAN tag control information when the frame carried an 802.1Q tag.
    pub tci: Option<u16>,
    pub kind: Kind,
    pub payload: &'a [u8],
}

fn mac(b: &[u8]) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

impl<'a> Frame<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if buf.len() < 14 {
            return Err(FrameError::TooShort(buf.len()));
        }
        let dst = mac(&buf[0..6]);
        let src = mac(&buf[6..12]);
        let mut off = 12;
        let mut tci = None;
        let mut t = u16::from_be_bytes([buf[off], buf[off + 1]]);
        if t == ETH_P_8021Q {
            if buf.len() < 18 {
                return Err(FrameError::TooShort(buf.len()));
            }
            tci = Some(u16::from_be_bytes([buf[14], buf[15]]));
            off = 16;
            t = u16::from_be_bytes([buf[off], buf[off + 1]]);
        }
        let rest = &buf[off + 2..];
        if t >= 0x0600 {
            Ok(Frame {
                dst,
                src,
                tci,
                kind: Kind::EtherType(t),
                payload: rest,
            })
        } else {
            // IEEE 802.3 clause 3.2.6: the length field counts the MAC client data; padding
            // to the minimum frame size follows it.
            let len = usize::from(t);
            if len > rest.len() {
                return Err(FrameError::BadLength {
                    len,
                    avail: rest.len(),
                });
            }
            Ok(Frame {
                dst,
                src,
                tci,
                kind: Kind::Llc,
                payload: &rest[..len],
            })
        }
    }
}

/// Builds an Ethernet II frame, padded to the 60-byte minimum (IEEE 802.3 clause 3.2.8).
pub fn ethernet(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len().max(46));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// Builds an IEEE 802.3 frame whose payload (`llc`, starting with the LLC header) is at most
/// 1500 bytes; padded to the minimum size.
pub fn ieee8023(dst: Mac, src: Mac, llc: &[u8]) -> Vec<u8> {
    let len = llc.len().min(1500);
    let mut f = Vec::with_capacity(14 + len.max(46));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&(len as u16).to_be_bytes());
    f.extend_from_slice(&llc[..len]);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_and_8023() {
        let f = ethernet([1; 6], [2; 6], 0x88cc, b"abc");
        assert_eq!(f.len(), 60);
        let p = Frame::parse(&f).unwrap();
        assert_eq!(p.kind, Kind::EtherType(0x88cc));
        assert_eq!(p.src, [2; 6]);
        let mut t = f[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0xa0, 0x64, 0x88, 0xcc, 1, 2]);
        let p = Frame::parse(&t).unwrap();
        assert_eq!(p.tci, Some(0xa064));
        assert_eq!(p.payload, &[1, 2]);
        let f = ieee8023([1; 6], [2; 6], b"\xaa\xaa\x03xyz");
        let p = Frame::parse(&f).unwrap();
        assert_eq!(p.kind, Kind::Llc);
        assert_eq!(p.payload, b"\xaa\xaa\x03xyz");
        let mut bad = f.clone();
        bad[13] = 200;
        assert!(Frame::parse(&bad[..30]).is_err());
        assert!(Frame::parse(&[0; 13]).is_err());
    }
}
