//! LLDP (IEEE 802.1AB-2016) with the LLDP-MED extensions of ANSI/TIA-1057: a checked view
//! of an LLDPDU, an owned form that emits, and the TLVs a phone needs (network policy,
//! LLDP-MED capabilities, the 802.3 MAC/PHY TLV).

use crate::l2::{self, Mac};

/// EtherType of LLDP (802.1AB-2016 7.2).
pub const ETHERTYPE: u16 = 0x88cc;
/// Nearest-bridge group address (802.1AB-2016 7.1, table 7-1).
pub const MULTICAST: Mac = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
/// TIA OUI of the LLDP-MED TLVs (TIA-1057 10.2).
pub const TIA_OUI: [u8; 3] = [0x00, 0x12, 0xbb];
/// IEEE 802.3 OUI (802.1AB-2016 annex / IEEE 802.3 clause 79).
pub const IEEE_8023_OUI: [u8; 3] = [0x00, 0x12, 0x0f];

pub const TLV_END: u8 = 0;
pub const TLV_CHASSIS_ID: u8 = 1;
pub const TLV_PORT_ID: u8 = 2;
pub const TLV_TTL: u8 = 3;
pub const TLV_PORT_DESCRIPTION: u8 = 4;
pub const TLV_SYSTEM_NAME: u8 = 5;
pub const TLV_SYSTEM_DESCRIPTION: u8 = 6;
pub const TLV_SYSTEM_CAPABILITIES: u8 = 7;
pub const TLV_ORG: u8 = 127;

/// LLDP-MED subtypes (TIA-1057 10.2.1 table 5).
pub const MED_CAPABILITIES: u8 = 1;
pub const MED_NETWORK_POLICY: u8 = 2;
/// Network policy application type "Voice" (TIA-1057 10.2.3.3 table 12).
pub const APP_VOICE: u8 = 1;

/// Largest LLDPDU we accept (an untagged frame carries at most 1500 bytes).
pub const MAX_LEN: usize = 1500;

/// Why an LLDPDU was rejected (802.1AB-2016 9.2.7.7.1: such an LLDPDU is discarded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LldpError {
    #[error("LLDPDU longer than {MAX_LEN} bytes ({0})")]
    TooLong(usize),
    #[error("TLV header truncated at offset {0}")]
    TruncatedHeader(usize),
    #[error("TLV type {ty} at offset {off} claims {len} bytes, {avail} left")]
    TruncatedValue {
        ty: u8,
        off: usize,
        len: usize,
        avail: usize,
    },
    #[error("mandatory TLV {expected} missing or out of order (found type {found:?})")]
    Mandatory { expected: u8, found: Option<u8> },
    #[error("TLV type {ty} has invalid length {len}")]
    BadLength { ty: u8, len: usize },
    #[error("TLV type {0} repeated")]
    Duplicate(u8),
    #[error("End TLV with non-zero length or data after it")]
    BadEnd,
}

/// One TLV as borrowed from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvRef<'a> {
    pub ty: u8,
    pub value: &'a [u8],
}

impl<'a> TlvRef<'a> {
    /// For an organizationally specific TLV: (OUI, subtype, information).
    pub fn org(&self) -> Option<([u8; 3], u8, &'a [u8])> {
        if self.ty != TLV_ORG || self.value.len() < 4 {
            return None;
        }
        Some((
            [self.value[0], self.value[1], self.value[2]],
            self.value[3],
            &self.value[4..],
        ))
    }
}

/// Iterates the TLVs of a validated LLDPDU (up to, not including, End).
#[derive(Debug, Clone)]
pub struct Tlvs<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = TlvRef<'a>;
    fn next(&mut self) -> Option<TlvRef<'a>> {
        let (t, rest) = split_tlv(self.buf).ok()??;
        self.buf = rest;
        if t.ty == TLV_END {
            self.buf = &[];
            return None;
        }
        Some(t)
    }
}

/// Reads one TLV header: 7-bit type, 9-bit length (802.1AB-2016 8.4.1).
enum SplitErr {
    Header,
    Value { ty: u8, len: usize },
}

type Split<'a> = Option<(TlvRef<'a>, &'a [u8])>;

fn split_tlv(buf: &[u8]) -> Result<Split<'_>, SplitErr> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.len() < 2 {
        return Err(SplitErr::Header);
    }
    let h = u16::from_be_bytes([buf[0], buf[1]]);
    let ty = (h >> 9) as u8;
    let len = usize::from(h & 0x01ff);
    if buf.len() - 2 < len {
        return Err(SplitErr::Value { ty, len });
    }
    Ok(Some((
        TlvRef {
            ty,
            value: &buf[2..2 + len],
        },
        &buf[2 + len..],
    )))
}

/// A checked view of an LLDPDU (the Ethernet payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LldpduView<'a> {
    buf: &'a [u8],
}

impl<'a> LldpduView<'a> {
    /// Validates the structure: Chassis ID, Port ID and TTL first (802.1AB-2016 8.2), each
    /// of them once, lengths within their limits, an End TLV (optional since 2016) with
    /// nothing but padding after it.
    pub fn parse(buf: &'a [u8]) -> Result<LldpduView<'a>, LldpError> {
        if buf.len() > MAX_LEN {
            return Err(LldpError::TooLong(buf.len()));
        }
        let mut rest = buf;
        let mut off = 0;
        let mut idx = 0;
        loop {
            let (t, r) = match split_tlv(rest) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(SplitErr::Header) => return Err(LldpError::TruncatedHeader(off)),
                Err(SplitErr::Value { ty, len }) => {
                    return Err(LldpError::TruncatedValue {
                        ty,
                        off,
                        len,
                        avail: rest.len() - 2,
                    })
                }
            };
            let expected = [TLV_CHASSIS_ID, TLV_PORT_ID, TLV_TTL];
            if idx < 3 && t.ty != expected[idx] {
                return Err(LldpError::Mandatory {
                    expected: expected[idx],
                    found: Some(t.ty),
                });
            }
            match t.ty {
                TLV_END => {
                    // 802.1AB-2016 8.5.1: End has length 0; what follows is frame padding.
                    if !t.value.is_empty() || r.iter().any(|&b| b != 0) {
                        return Err(LldpError::BadEnd);
                    }
                    break;
                }
                TLV_CHASSIS_ID | TLV_PORT_ID if idx >= 3 => return Err(LldpError::Duplicate(t.ty)),
                TLV_TTL if idx >= 3 => return Err(LldpError::Duplicate(t.ty)),
                // 8.5.2.1 / 8.5.3.1: subtype plus 1..255 octets.
                TLV_CHASSIS_ID | TLV_PORT_ID if !(2..=256).contains(&t.value.len()) => {
                    return Err(LldpError::BadLength {
                        ty: t.ty,
                        len: t.value.len(),
                    })
                }
                TLV_TTL if t.value.len() != 2 => {
                    return Err(LldpError::BadLength {
                        ty: t.ty,
                        len: t.value.len(),
                    })
                }
                TLV_ORG if t.value.len() < 4 => {
                    return Err(LldpError::BadLength {
                        ty: t.ty,
                        len: t.value.len(),
                    })
                }
                _ => {}
            }
            idx += 1;
            off += 2 + t.value.len();
            rest = r;
        }
        if idx < 3 {
            let expected = [TLV_CHASSIS_ID, TLV_PORT_ID, TLV_TTL][idx];
            return Err(LldpError::Mandatory {
                expected,
                found: None,
            });
        }
        Ok(LldpduView { buf })
    }

    pub fn tlvs(&self) -> Tlvs<'a> {
        Tlvs { buf: self.buf }
    }

    fn nth(&self, n: usize) -> TlvRef<'a> {
        // Validated in `parse`: the first three TLVs exist.
        self.tlvs().nth(n).unwrap_or(TlvRef {
            ty: 0,
            value: &[0, 0],
        })
    }

    /// (subtype, ID).
    pub fn chassis_id(&self) -> (u8, &'a [u8]) {
        let v = self.nth(0).value;
        (v[0], &v[1..])
    }

    /// (subtype, ID).
    pub fn port_id(&self) -> (u8, &'a [u8]) {
        let v = self.nth(1).value;
        (v[0], &v[1..])
    }

    /// Seconds the information is valid; 0 = withdraw (shutdown LLDPDU, 802.1AB-2016 9.2.7.7.4).
    pub fn ttl(&self) -> u16 {
        let v = self.nth(2).value;
        u16::from_be_bytes([v[0], v[1]])
    }

    pub fn system_name(&self) -> Option<&'a [u8]> {
        self.tlvs()
            .find(|t| t.ty == TLV_SYSTEM_NAME)
            .map(|t| t.value)
    }

    /// The LLDP-MED network policies (TIA-1057 10.2.3); malformed ones are skipped.
    pub fn network_policies(&self) -> impl Iterator<Item = NetworkPolicy> + 'a {
        self.tlvs().filter_map(|t| match t.org() {
            Some((TIA_OUI, MED_NETWORK_POLICY, info)) => NetworkPolicy::decode(info),
            _ => None,
        })
    }

    pub fn to_owned(&self) -> Lldpdu {
        let (cs, c) = self.chassis_id();
        let (ps, p) = self.port_id();
        Lldpdu {
            chassis_id: (cs, c.to_vec()),
            port_id: (ps, p.to_vec()),
            ttl: self.ttl(),
            others: self
                .tlvs()
                .skip(3)
                .map(|t| Tlv {
                    ty: t.ty,
                    value: t.value.to_vec(),
                })
                .collect(),
        }
    }
}

/// An owned TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub ty: u8,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn org(oui: [u8; 3], subtype: u8, info: &[u8]) -> Tlv {
        let mut value = oui.to_vec();
        value.push(subtype);
        value.extend_from_slice(info);
        Tlv { ty: TLV_ORG, value }
    }
}

/// An owned LLDPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lldpdu {
    pub chassis_id: (u8, Vec<u8>),
    pub port_id: (u8, Vec<u8>),
    pub ttl: u16,
    /// Optional TLVs in order (never End, Chassis ID, Port ID or TTL).
    pub others: Vec<Tlv>,
}

fn put_tlv(out: &mut Vec<u8>, ty: u8, value: &[u8]) {
    let len = value.len().min(511);
    let h = (u16::from(ty & 0x7f) << 9) | len as u16;
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&value[..len]);
}

impl Lldpdu {
    /// The LLDPDU bytes, End TLV included. Values longer than a TLV can carry are cut.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut c = vec![self.chassis_id.0];
        c.extend_from_slice(&self.chassis_id.1);
        put_tlv(&mut out, TLV_CHASSIS_ID, &c);
        let mut p = vec![self.port_id.0];
        p.extend_from_slice(&self.port_id.1);
        put_tlv(&mut out, TLV_PORT_ID, &p);
        put_tlv(&mut out, TLV_TTL, &self.ttl.to_be_bytes());
        for t in &self.others {
            put_tlv(&mut out, t.ty, &t.value);
        }
        // 802.1AB-2016 8.5.1: End is optional; it is left out when it would push the LLDPDU
        // past what a frame carries (the `lldp_cdp` fuzz target found a 1,499-byte LLDPDU
        // without End that did not re-parse once End was added).
        if out.len() + 2 <= MAX_LEN {
            put_tlv(&mut out, TLV_END, &[]);
        }
        out
    }

    /// The Ethernet frame to the nearest-bridge address.
    pub fn frame(&self, src: Mac) -> Vec<u8> {
        l2::ethernet(MULTICAST, src, ETHERTYPE, &self.emit())
    }
}

/// LLDP-MED network policy (TIA-1057 10.2.3, figure 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub app: u8,
    /// U: the policy is unknown (the network has none for this application).
    pub unknown: bool,
    /// T: tagged (802.1Q) or untagged.
    pub tagged: bool,
    pub vlan: u16,
    /// 802.1p priority, 0..7.
    pub priority: u8,
    /// DSCP, 0..63.
    pub dscp: u8,
}

impl NetworkPolicy {
    /// Decodes the 4-byte information string (after OUI and subtype).
    pub fn decode(info: &[u8]) -> Option<NetworkPolicy> {
        if info.len() != 4 {
            return None;
        }
        let bits = u32::from_be_bytes([0, info[1], info[2], info[3]]);
        Some(NetworkPolicy {
            app: info[0],
            unknown: bits & 0x80_0000 != 0,
            tagged: bits & 0x40_0000 != 0,
            // bit 21 is reserved (X).
            vlan: ((bits >> 9) & 0x0fff) as u16,
            priority: ((bits >> 6) & 0x7) as u8,
            dscp: (bits & 0x3f) as u8,
        })
    }

    pub fn encode(&self) -> [u8; 4] {
        let bits = (u32::from(self.unknown) << 23)
            | (u32::from(self.tagged) << 22)
            | (u32::from(self.vlan & 0x0fff) << 9)
            | (u32::from(self.priority & 7) << 6)
            | u32::from(self.dscp & 0x3f);
        let b = bits.to_be_bytes();
        [self.app, b[1], b[2], b[3]]
    }

    pub fn tlv(&self) -> Tlv {
        Tlv::org(TIA_OUI, MED_NETWORK_POLICY, &self.encode())
    }
}

/// What the phone says about itself in its LLDP-MED announcements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub mac: Mac,
    /// System name (e.g. the host name or model).
    pub system_name: String,
    /// System description (model and firmware version).
    pub description: String,
    /// Interface name used as the port description.
    pub port: String,
    /// Time to live in seconds (802.1AB-2016 9.2.5.22: msgTxInterval x msgTxHold).
    pub ttl: u16,
}

impl Announce {
    /// An LLDP-MED endpoint class III (communication device) LLDPDU: the mandatory TLVs,
    /// system name/description/capabilities (telephone), the 802.3 MAC/PHY TLV required of
    /// MED endpoints (TIA-1057 8.1), MED capabilities and a voice network policy with U=1
    /// (asks the network for its policy, TIA-1057 10.2.3.2).
    pub fn lldpdu(&self) -> Lldpdu {
        // System capabilities: telephone (bit 5), enabled (802.1AB-2016 table 8-4).
        let caps = [0x00, 0x20, 0x00, 0x20];
        // 802.3 MAC/PHY: auto-negotiation supported+enabled, 10/100 half/full advertised,
        // operational MAU type 16 = 100BASE-TX full duplex (RFC 4836).
        let macphy = [0x03, 0x6c, 0x00, 0x00, 0x10];
        // MED capabilities: capabilities, network policy, inventory; class III.
        let med_caps = [0x00, 0x23, 0x03];
        let policy = NetworkPolicy {
            app: APP_VOICE,
            unknown: true,
            tagged: false,
            vlan: 0,
            priority: 0,
            dscp: 0,
        };
        Lldpdu {
            chassis_id: (4, self.mac.to_vec()),
            port_id: (3, self.mac.to_vec()),
            ttl: self.ttl,
            others: vec![
                Tlv {
                    ty: TLV_PORT_DESCRIPTION,
                    value: self.port.as_bytes().to_vec(),
                },
                Tlv {
                    ty: TLV_SYSTEM_NAME,
                    value: self.system_name.as_bytes().to_vec(),
                },
                Tlv {
                    ty: TLV_SYSTEM_DESCRIPTION,
                    value: self.description.as_bytes().to_vec(),
                },
                Tlv {
                    ty: TLV_SYSTEM_CAPABILITIES,
                    value: caps.to_vec(),
                },
                Tlv::org(IEEE_8023_OUI, 1, &macphy),
                Tlv::org(TIA_OUI, MED_CAPABILITIES, &med_caps),
                policy.tlv(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_size_lldpdu_without_end_re_parses_after_emit() {
        let mut b = Vec::new();
        put_tlv(&mut b, TLV_CHASSIS_ID, &[4, 0, 1, 2, 3, 4, 5]);
        put_tlv(&mut b, TLV_PORT_ID, &[5, b'e', b't', b'h', b'0']);
        put_tlv(&mut b, TLV_TTL, &[0, 120]);
        while b.len() + 2 + 200 < MAX_LEN {
            put_tlv(&mut b, 8, &[7u8; 200]);
        }
        let fill = MAX_LEN - 1 - b.len() - 2;
        put_tlv(&mut b, 8, &vec![9u8; fill]);
        assert_eq!(b.len(), MAX_LEN - 1);
        let o = LldpduView::parse(&b)
            .expect("parses without End")
            .to_owned();
        let wire = o.emit();
        assert!(wire.len() <= MAX_LEN);
        assert_eq!(LldpduView::parse(&wire).expect("re-parses").to_owned(), o);
        // With room for it, End is still sent.
        let small = Lldpdu {
            others: Vec::new(),
            ..o
        };
        assert!(small.emit().ends_with(&[0, 0]));
    }

    #[test]
    fn policy_bits() {
        let p = NetworkPolicy {
            app: APP_VOICE,
            unknown: false,
            tagged: true,
            vlan: 100,
            priority: 5,
            dscp: 46,
        };
        // Worked by hand: T=1, VLAN 100 << 9, prio 5 << 6, DSCP 46.
        assert_eq!(p.encode(), [0x01, 0x40, 0xc9, 0x6e]);
        assert_eq!(NetworkPolicy::decode(&p.encode()), Some(p));
    }

    #[test]
    fn announce_roundtrip() {
        let a = Announce {
            mac: [0, 0x90, 0x8f, 1, 2, 3],
            system_name: "420HD".into(),
            description: "AudioCodes 420HD 3.0.4".into(),
            port: "eth0".into(),
            ttl: 120,
        };
        let pdu = a.lldpdu();
        let wire = pdu.emit();
        let v = LldpduView::parse(&wire).unwrap();
        assert_eq!(v.to_owned(), pdu);
        assert_eq!(v.ttl(), 120);
        assert_eq!(v.system_name(), Some(&b"420HD"[..]));
        let pols: Vec<_> = v.network_policies().collect();
        assert_eq!(pols.len(), 1);
        assert!(pols[0].unknown);
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            LldpduView::parse(&[0x02, 0x02, 4, 1, 0, 0]),
            Err(LldpError::Mandatory { .. })
        ));
        // chassis with length 1
        assert!(LldpduView::parse(&[0x02, 0x01, 4]).is_err());
        // truncated
        assert!(LldpduView::parse(&[0x02, 0x07, 4, 1]).is_err());
        let ok = Lldpdu {
            chassis_id: (4, vec![1; 6]),
            port_id: (3, vec![2; 6]),
            ttl: 10,
            others: vec![],
        }
        .emit();
        assert!(LldpduView::parse(&ok).is_ok());
        let mut padded = ok.clone();
        padded.extend_from_slice(&[0; 10]);
        assert!(LldpduView::parse(&padded).is_ok());
        padded.push(1);
        assert_eq!(LldpduView::parse(&padded), Err(LldpError::BadEnd));
        // duplicate TTL
        let mut dup = ok[..ok.len() - 2].to_vec();
        dup.extend_from_slice(&[0x06, 0x02, 0, 5, 0, 0]);
        assert_eq!(LldpduView::parse(&dup), Err(LldpError::Duplicate(3)));
    }
}
