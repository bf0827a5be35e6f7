//! RTP packets (RFC 3550 section 5).
//!
//! [`RtpView`] checks a buffer once and then reads fields from it without copying;
//! [`RtpPacket`] is the parsed form, which [`RtpPacket::emit`] writes back.

use crate::error::PacketError;

/// Fixed header length (RFC 3550 5.1).
pub const FIXED_HEADER_LEN: usize = 12;
/// RTP version carried in every packet (RFC 3550 5.1: "V ... is two (2)").
pub const VERSION: u8 = 2;

/// Static payload types and clock rates of RFC 3551 section 6 (Table 4).
pub mod pt {
    /// G.711 µ-law, 8000 Hz.
    pub const PCMU: u8 = 0;
    /// G.711 A-law, 8000 Hz.
    pub const PCMA: u8 = 8;
    /// G.722, RTP clock 8000 Hz although sampled at 16 kHz (RFC 3551 4.5.2).
    pub const G722: u8 = 9;
    /// L16 stereo 44.1 kHz.
    pub const L16_STEREO: u8 = 10;
    /// L16 mono 44.1 kHz.
    pub const L16_MONO: u8 = 11;
    /// Comfort noise (RFC 3389), 8000 Hz.
    pub const CN: u8 = 13;

    /// RTP clock rate of a static payload type, if it has one we use.
    pub fn clock_rate(pt: u8) -> Option<u32> {
        match pt {
            // RFC 3551 4.5.2: G.722's RTP clock is 8000 Hz "for historical reasons".
            PCMU | PCMA | G722 | CN => Some(8000),
            L16_STEREO | L16_MONO => Some(44100),
            _ => None,
        }
    }
}

/// A header extension (RFC 3550 5.3.1): 16-bit profile word and data in 32-bit words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Profile-defined identifier.
    pub profile: u16,
    /// Extension data; its length is a multiple of 4.
    pub data: &'a [u8],
}

/// Checks the fixed header, CSRC list and header extension of `buf` (not the padding, which
/// SRTP encrypts) and returns the header length.
pub fn checked_header_len(buf: &[u8]) -> Result<usize, PacketError> {
    if buf.len() < FIXED_HEADER_LEN {
        return Err(PacketError::Truncated {
            what: "RTP header",
            need: FIXED_HEADER_LEN,
            have: buf.len(),
        });
    }
    let version = buf[0] >> 6;
    if version != VERSION {
        return Err(PacketError::BadVersion(version));
    }
    let cc = usize::from(buf[0] & 0x0f);
    let mut header_len = FIXED_HEADER_LEN + 4 * cc;
    if buf.len() < header_len {
        return Err(PacketError::Truncated {
            what: "RTP CSRC list",
            need: header_len,
            have: buf.len(),
        });
    }
    if buf[0] & 0x10 != 0 {
        // RFC 3550 5.3.1: 16-bit profile field, 16-bit length in 32-bit words.
        if buf.len() < header_len + 4 {
            return Err(PacketError::Truncated {
                what: "RTP header extension",
                need: header_len + 4,
                have: buf.len(),
            });
        }
        let words = usize::from(be16(buf, header_len + 2));
        header_len += 4 + 4 * words;
        if buf.len() < header_len {
            return Err(PacketError::Truncated {
                what: "RTP header extension data",
                need: header_len,
                have: buf.len(),
            });
        }
    }
    Ok(header_len)
}

/// A checked view of an RTP packet.
#[derive(Debug, Clone, Copy)]
pub struct RtpView<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> RtpView<'a> {
    /// Checks the version, CSRC count, extension length and padding against `buf`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, PacketError> {
        let header_len = checked_header_len(buf)?;
        let mut payload_end = buf.len();
        if buf[0] & 0x20 != 0 {
            // RFC 3550 5.1: the last octet of the padding counts the padding octets,
            // itself included.
            let pad = buf[buf.len() - 1];
            if pad == 0 || usize::from(pad) > buf.len() - header_len {
                return Err(PacketError::BadPadding(pad));
            }
            payload_end -= usize::from(pad);
        }
        Ok(RtpView {
            buf,
            header_len,
            payload_end,
        })
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        be16(self.buf, 2)
    }
    /// Timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }
    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }
    /// Contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let buf = self.buf;
        let cc = usize::from(buf[0] & 0x0f);
        (0..cc).map(move |i| be32(buf, FIXED_HEADER_LEN + 4 * i))
    }
    /// Header extension, if the X bit is set.
    pub fn extension(&self) -> Option<Extension<'a>> {
        if self.buf[0] & 0x10 == 0 {
            return None;
        }
        let at = FIXED_HEADER_LEN + 4 * usize::from(self.buf[0] & 0x0f);
        Some(Extension {
            profile: be16(self.buf, at),
            data: &self.buf[at + 4..self.header_len],
        })
    }
    /// Length of the header (fixed part, CSRCs and extension).
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// Payload without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }
    /// Number of padding octets (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }
}

/// A parsed RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type, 0..=127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources, at most 15.
    pub csrcs: Vec<u32>,
    /// Header extension.
    pub extension: Option<Extension<'a>>,
    /// Payload.
    pub payload: &'a [u8],
    /// Padding octets to append (0 = no P bit); at most 255.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses and checks a packet.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let v = RtpView::new_checked(buf)?;
        Ok(RtpPacket {
            marker: v.marker(),
            payload_type: v.payload_type(),
            sequence: v.sequence(),
            timestamp: v.timestamp(),
            ssrc: v.ssrc(),
            csrcs: v.csrcs().collect(),
            extension: v.extension(),
            payload: v.payload(),
            // new_checked bounds padding by the last octet, so it fits a u8.
            padding: u8::try_from(v.padding_len()).unwrap_or(u8::MAX),
        })
    }

    /// Length of the emitted packet.
    pub fn wire_len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.as_ref().map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Appends the packet to `out`. Padding octets are zero except the count (RFC 3550 5.1).
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        if self.csrcs.len() > 15 {
            return Err(PacketError::OutOfRange("RTP CSRC count"));
        }
        if self.payload_type > 127 {
            return Err(PacketError::OutOfRange("RTP payload type"));
        }
        let ext_words = match &self.extension {
            Some(e) if e.data.len() % 4 != 0 || e.data.len() / 4 > usize::from(u16::MAX) => {
                return Err(PacketError::OutOfRange("RTP header extension length"))
            }
            Some(e) => Some(e.data.len() / 4),
            None => None,
        };
        out.reserve(self.wire_len());
        let mut b0 = VERSION << 6 | self.csrcs.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if ext_words.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(u8::from(self.marker) << 7 | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let (Some(e), Some(words)) = (&self.extension, ext_words) {
            out.extend_from_slice(&e.profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            out.extend_from_slice(e.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0u8, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
        Ok(())
    }

    /// The emitted packet as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, PacketError> {
        let mut v = Vec::with_capacity(self.wire_len());
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// Extends 16-bit sequence numbers to a 32-bit count of cycles and sequence
/// (RFC 3550 A.1), with the MAX_DROPOUT / MAX_MISORDER / MIN_SEQUENTIAL rules.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
}

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const MIN_SEQUENTIAL: u32 = 2;
const RTP_SEQ_MOD: u32 = 1 << 16;

impl SequenceTracker {
    /// Starts tracking at the first sequence number seen (RFC 3550 A.1 `init_seq`,
    /// with the source on probation).
    pub fn new(seq: u16) -> Self {
        let mut t = SequenceTracker {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        t.init(seq);
        t.max_seq = seq.wrapping_sub(1);
        t.probation = MIN_SEQUENTIAL;
        t
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Updates with a received sequence number; returns the extended sequence number when
    /// the packet is accepted, `None` when it is a probation packet or considered invalid
    /// (RFC 3550 A.1 `update_seq`).
    pub fn update(&mut self, seq: u16) -> Option<u32> {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return Some(self.extended());
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return None;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the source restarted.
                self.init(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return None;
            }
        } else {
            // Duplicate or reordered packet.
            self.received += 1;
            let cycles = if seq > self.max_seq && self.cycles > 0 {
                self.cycles - RTP_SEQ_MOD
            } else {
                self.cycles
            };
            return Some(cycles | u32::from(seq));
        }
        self.received += 1;
        Some(self.extended())
    }

    /// Highest extended sequence number received.
    pub fn extended(&self) -> u32 {
        self.cycles | u32::from(self.max_seq)
    }

    /// Packets expected since the start (RFC 3550 A.3).
    pub fn expected(&self) -> u32 {
        self.extended().wrapping_sub(self.base_seq).wrapping_add(1)
    }

    /// Packets received.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative number lost, clamped to the 24-bit signed field (RFC 3550 A.3).
    pub fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    /// Fraction lost since the previous call, as the 8-bit fixed-point field (RFC 3550 A.3).
    pub fn fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost = i64::from(expected_interval) - i64::from(received_interval);
        if expected_interval == 0 || lost <= 0 {
            0
        } else {
            ((lost << 8) / i64::from(expected_interval)).min(255) as u8
        }
    }
}

/// Interarrival jitter estimator (RFC 3550 6.4.1 and A.8), in timestamp units.
#[derive(Debug, Clone, Default)]
pub struct JitterEstimator {
    last_transit: Option<u32>,
    jitter: f64,
}

impl JitterEstimator {
    /// Updates with a packet's RTP timestamp and its arrival time in the same units.
    /// Transit times are taken modulo 2^32 as in RFC 3550 A.8, so a timestamp (or arrival
    /// clock) wrapping around is no jump.
    pub fn update(&mut self, rtp_ts: u32, arrival: u64) {
        let transit = (arrival as u32).wrapping_sub(rtp_ts);
        if let Some(last) = self.last_transit {
            // J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Current estimate in timestamp units, as the RR field carries it.
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_example_and_rejects_bad() {
        let pkt = RtpPacket {
            marker: true,
            payload_type: pt::PCMA,
            sequence: 0xfffe,
            timestamp: 160,
            ssrc: 0xdead_beef,
            csrcs: vec![1, 2],
            extension: Some(Extension {
                profile: 0xbede,
                data: &[1, 2, 3, 4],
            }),
            payload: &[0xd5; 160],
            padding: 3,
        };
        let wire = pkt.to_vec().unwrap();
        assert_eq!(wire.len(), 12 + 8 + 8 + 160 + 3);
        assert_eq!(wire[0], 0b1011_0010);
        assert_eq!(RtpPacket::parse(&wire).unwrap(), pkt);
        // Version 1.
        let mut bad = wire.clone();
        bad[0] = (bad[0] & 0x3f) | 0x40;
        assert_eq!(RtpPacket::parse(&bad), Err(PacketError::BadVersion(1)));
        // Padding count larger than the payload.
        let mut bad = wire.clone();
        *bad.last_mut().unwrap() = 200;
        assert_eq!(RtpPacket::parse(&bad), Err(PacketError::BadPadding(200)));
        // Truncated extension.
        assert!(matches!(
            RtpPacket::parse(&wire[..22]),
            Err(PacketError::Truncated { .. })
        ));
    }

    #[test]
    fn sequence_tracker_wraps_and_counts_loss() {
        let mut t = SequenceTracker::new(65530);
        let mut last = None;
        for s in 65530u32..65550 {
            if s == 65540 {
                continue; // one lost
            }
            last = t.update(s as u16).or(last);
        }
        assert_eq!(last, Some(65549));
        assert_eq!(t.cumulative_lost(), 1);
        assert!(t.fraction_lost() > 0);
    }

    #[test]
    fn jitter_of_steady_stream_is_zero_and_grows_with_delay_variation() {
        let mut j = JitterEstimator::default();
        for i in 0..50u32 {
            j.update(i * 160, u64::from(i) * 160 + 1000);
        }
        assert_eq!(j.jitter(), 0);
        for i in 50..100u32 {
            let extra = if i % 2 == 0 { 80 } else { 0 };
            j.update(i * 160, u64::from(i) * 160 + 1000 + extra);
        }
        assert!(j.jitter() > 40, "{}", j.jitter());
    }

    #[test]
    fn jitter_ignores_timestamp_wrap() {
        let mut j = JitterEstimator::default();
        let ts0 = u32::MAX - 800;
        for i in 0..50u32 {
            j.update(ts0.wrapping_add(i * 160), u64::from(i) * 160 + 7);
        }
        assert_eq!(j.jitter(), 0);
    }
}
