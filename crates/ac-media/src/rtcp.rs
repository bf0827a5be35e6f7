//! RTCP packets (RFC 3550 section 6) and extended reports (RFC 3611).
//!
//! [`parse_compound`] splits a compound packet into [`RtcpPacket`]s; [`emit_compound`]
//! writes them back. [`RtcpHeader`] is the checked view of one packet's common header.
//! Unknown packet types and XR block types are kept as raw bytes so that parse -> emit
//! round-trips every well-formed packet.

use crate::error::PacketError;

/// Packet types (RFC 3550 12.1, RFC 3611 5).
pub mod pt {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}

/// SDES item types (RFC 3550 6.5).
pub mod sdes {
    /// Canonical name (RFC 3550 6.5.1), mandatory in every compound packet.
    pub const CNAME: u8 = 1;
    /// User name.
    pub const NAME: u8 = 2;
    /// E-mail address.
    pub const EMAIL: u8 = 3;
    /// Phone number.
    pub const PHONE: u8 = 4;
    /// Location.
    pub const LOC: u8 = 5;
    /// Application or tool name.
    pub const TOOL: u8 = 6;
    /// Notice.
    pub const NOTE: u8 = 7;
    /// Private extension.
    pub const PRIV: u8 = 8;
}

/// Checked view of the 4-byte RTCP common header (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpHeader {
    /// P bit.
    pub padding: bool,
    /// RC / SC / subtype field (5 bits).
    pub count: u8,
    /// Packet type.
    pub packet_type: u8,
    /// Length of the whole packet in bytes (the length field is in 32-bit words minus one).
    pub len: usize,
}

impl RtcpHeader {
    /// Checks a header at the start of `buf` against the buffer's length.
    pub fn parse(buf: &[u8]) -> Result<Self, PacketError> {
        if buf.len() < 4 {
            return Err(PacketError::Truncated {
                what: "RTCP header",
                need: 4,
                have: buf.len(),
            });
        }
        let v = buf[0] >> 6;
        if v != 2 {
            return Err(PacketError::BadVersion(v));
        }
        let len = (usize::from(be16(buf, 2)) + 1) * 4;
        if buf.len() < len {
            return Err(PacketError::Truncated {
                what: "RTCP packet",
                need: len,
                have: buf.len(),
            });
        }
        Ok(RtcpHeader {
            padding: buf[0] & 0x20 != 0,
            count: buf[0] & 0x1f,
            packet_type: buf[1],
            len,
        })
    }
}

/// A reception report block (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, fixed point /256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost, 24-bit signed.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp.
    pub last_sr: u32,
    /// Delay since the last SR in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// Sender report (RFC 3550 6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// Sender SSRC.
    pub ssrc: u32,
    /// 64-bit NTP timestamp.
    pub ntp: u64,
    /// RTP timestamp of the same instant.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
    /// Reception reports (at most 31).
    pub reports: Vec<ReportBlock>,
    /// Profile-specific extension (multiple of 4 bytes).
    pub extension: Vec<u8>,
}

/// Receiver report (RFC 3550 6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// Reporter SSRC.
    pub ssrc: u32,
    /// Reception reports (at most 31).
    pub reports: Vec<ReportBlock>,
    /// Profile-specific extension (multiple of 4 bytes).
    pub extension: Vec<u8>,
}

/// One SDES chunk (RFC 3550 6.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// Source the items describe.
    pub ssrc: u32,
    /// (item type, value) pairs; type is never 0, values at most 255 bytes.
    pub items: Vec<(u8, Vec<u8>)>,
}

/// Goodbye (RFC 3550 6.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bye {
    /// Sources leaving (at most 31).
    pub ssrcs: Vec<u32>,
    /// Optional reason, at most 255 bytes.
    pub reason: Option<Vec<u8>>,
}

/// Application-defined packet (RFC 3550 6.7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct App {
    /// Subtype (5 bits).
    pub subtype: u8,
    /// Source.
    pub ssrc: u32,
    /// Four ASCII characters.
    pub name: [u8; 4],
    /// Data, a multiple of 4 bytes.
    pub data: Vec<u8>,
}

/// Run-length / bit-vector report over a sequence range (RFC 3611 4.1 and 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RleReport {
    /// Thinning T (4 bits).
    pub thinning: u8,
    /// Source reported on.
    pub ssrc: u32,
    /// First sequence number covered.
    pub begin_seq: u16,
    /// One past the last sequence number covered.
    pub end_seq: u16,
    /// Chunks as on the wire; an odd count is padded with a null chunk on emit.
    pub chunks: Vec<u16>,
}

/// Statistics summary report block (RFC 3611 4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatisticsSummary {
    /// L, D, J flags and ToH (bits 7..3 of the type-specific byte).
    pub flags: u8,
    /// Source reported on.
    pub ssrc: u32,
    /// First sequence number covered.
    pub begin_seq: u16,
    /// One past the last sequence number covered.
    pub end_seq: u16,
    /// Lost packets.
    pub lost_packets: u32,
    /// Duplicated packets.
    pub dup_packets: u32,
    /// Minimum jitter.
    pub min_jitter: u32,
    /// Maximum jitter.
    pub max_jitter: u32,
    /// Mean jitter.
    pub mean_jitter: u32,
    /// Standard deviation of the jitter.
    pub dev_jitter: u32,
    /// Min TTL or hop limit.
    pub min_ttl: u8,
    /// Max TTL or hop limit.
    pub max_ttl: u8,
    /// Mean TTL or hop limit.
    pub mean_ttl: u8,
    /// Deviation of the TTL or hop limit.
    pub dev_ttl: u8,
}

/// VoIP metrics report block (RFC 3611 4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoipMetrics {
    /// Source reported on.
    pub ssrc: u32,
    /// Loss rate, fraction /256 (4.7.1).
    pub loss_rate: u8,
    /// Discard rate, fraction /256.
    pub discard_rate: u8,
    /// Burst density, fraction /256 (4.7.2).
    pub burst_density: u8,
    /// Gap density, fraction /256.
    pub gap_density: u8,
    /// Mean burst duration, ms.
    pub burst_duration: u16,
    /// Mean gap duration, ms.
    pub gap_duration: u16,
    /// Round-trip delay, ms (4.7.3).
    pub round_trip_delay: u16,
    /// End-system delay, ms.
    pub end_system_delay: u16,
    /// Signal level, dBm0 (4.7.4); 127 = unavailable.
    pub signal_level: i8,
    /// Noise level, dBm0; 127 = unavailable.
    pub noise_level: i8,
    /// Residual echo return loss, dB; 127 = unavailable.
    pub rerl: u8,
    /// Gap threshold (4.7.2; 16 recommended).
    pub gmin: u8,
    /// R factor (4.7.5); 127 = unavailable.
    pub r_factor: u8,
    /// External R factor; 127 = unavailable.
    pub ext_r_factor: u8,
    /// MOS-LQ x10; 127 = unavailable.
    pub mos_lq: u8,
    /// MOS-CQ x10; 127 = unavailable.
    pub mos_cq: u8,
    /// Receiver configuration byte: PLC, JBA, JB rate (4.7.6).
    pub rx_config: u8,
    /// Jitter buffer nominal delay, ms (4.7.7).
    pub jb_nominal: u16,
    /// Jitter buffer maximum delay, ms.
    pub jb_maximum: u16,
    /// Jitter buffer absolute maximum delay, ms.
    pub jb_abs_max: u16,
}

/// An XR report block (RFC 3611 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrBlock {
    /// Loss RLE (BT=1).
    LossRle(RleReport),
    /// Duplicate RLE (BT=2).
    DuplicateRle(RleReport),
    /// Packet receipt times (BT=3).
    ReceiptTimes {
        /// Thinning.
        thinning: u8,
        /// Source.
        ssrc: u32,
        /// First sequence number covered.
        begin_seq: u16,
        /// One past the last.
        end_seq: u16,
        /// Receipt times.
        times: Vec<u32>,
    },
    /// Receiver reference time (BT=4): NTP timestamp.
    ReceiverReferenceTime(u64),
    /// DLRR (BT=5): (SSRC, last RR, delay since last RR) sub-blocks.
    Dlrr(Vec<(u32, u32, u32)>),
    /// Statistics summary (BT=6).
    StatisticsSummary(StatisticsSummary),
    /// VoIP metrics (BT=7).
    VoipMetrics(VoipMetrics),
    /// Any other block, kept raw.
    Unknown {
        /// Block type.
        block_type: u8,
        /// Type-specific byte.
        type_specific: u8,
        /// Contents after the block header (multiple of 4 bytes).
        data: Vec<u8>,
    },
}

/// Extended report packet (RFC 3611 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Xr {
    /// Reporter SSRC.
    pub ssrc: u32,
    /// Report blocks.
    pub blocks: Vec<XrBlock>,
}

/// One RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR.
    SenderReport(SenderReport),
    /// RR.
    ReceiverReport(ReceiverReport),
    /// SDES.
    Sdes(Vec<SdesChunk>),
    /// BYE.
    Bye(Bye),
    /// APP.
    App(App),
    /// XR.
    Xr(Xr),
    /// Any other type, kept raw.
    Unknown {
        /// Packet type.
        packet_type: u8,
        /// Count field.
        count: u8,
        /// Body after the common header.
        body: Vec<u8>,
    },
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from(be32(b, at)) << 32 | u64::from(be32(b, at + 4))
}

fn need(what: &'static str, body: &[u8], n: usize) -> Result<(), PacketError> {
    if body.len() < n {
        Err(PacketError::Truncated {
            what,
            need: n,
            have: body.len(),
        })
    } else {
        Ok(())
    }
}

fn parse_report_block(b: &[u8]) -> ReportBlock {
    // 24-bit signed cumulative loss: sign-extend.
    let cum = (be32(b, 4) << 8) as i32 >> 8;
    ReportBlock {
        ssrc: be32(b, 0),
        fraction_lost: b[4],
        cumulative_lost: cum,
        highest_seq: be32(b, 8),
        jitter: be32(b, 12),
        last_sr: be32(b, 16),
        delay_since_last_sr: be32(b, 20),
    }
}

fn parse_reports(
    what: &'static str,
    body: &[u8],
    count: u8,
) -> Result<(Vec<ReportBlock>, Vec<u8>), PacketError> {
    let n = usize::from(count);
    need(what, body, n * 24)?;
    let reports = (0..n)
        .map(|i| parse_report_block(&body[i * 24..]))
        .collect();
    Ok((reports, body[n * 24..].to_vec()))
}

fn parse_rle(b: &[u8], ts: u8) -> Result<RleReport, PacketError> {
    need("XR RLE block", b, 8)?;
    Ok(RleReport {
        thinning: ts & 0x0f,
        ssrc: be32(b, 0),
        begin_seq: be16(b, 4),
        end_seq: be16(b, 6),
        chunks: b[8..].chunks_exact(2).map(|c| be16(c, 0)).collect(),
    })
}

fn parse_xr_block(bt: u8, ts: u8, b: &[u8]) -> Result<XrBlock, PacketError> {
    Ok(match bt {
        1 => XrBlock::LossRle(parse_rle(b, ts)?),
        2 => XrBlock::DuplicateRle(parse_rle(b, ts)?),
        3 => {
            need("XR receipt times block", b, 8)?;
            XrBlock::ReceiptTimes {
                thinning: ts & 0x0f,
                ssrc: be32(b, 0),
                begin_seq: be16(b, 4),
                end_seq: be16(b, 6),
                times: b[8..].chunks_exact(4).map(|c| be32(c, 0)).collect(),
            }
        }
        4 => {
            if b.len() != 8 {
                return Err(PacketError::BadLength("XR receiver reference time block"));
            }
            XrBlock::ReceiverReferenceTime(be64(b, 0))
        }
        5 => XrBlock::Dlrr(
            // The block length is 3 words per sub-block (RFC 3611 4.5).
            if b.len() % 12 != 0 {
                return Err(PacketError::BadLength("XR DLRR block"));
            } else {
                b.chunks_exact(12)
                    .map(|c| (be32(c, 0), be32(c, 4), be32(c, 8)))
                    .collect()
            },
        ),
        6 => {
            if b.len() != 36 {
                return Err(PacketError::BadLength("XR statistics summary block"));
            }
            XrBlock::StatisticsSummary(StatisticsSummary {
                flags: ts,
                ssrc: be32(b, 0),
                begin_seq: be16(b, 4),
                end_seq: be16(b, 6),
                lost_packets: be32(b, 8),
                dup_packets: be32(b, 12),
                min_jitter: be32(b, 16),
                max_jitter: be32(b, 20),
                mean_jitter: be32(b, 24),
                dev_jitter: be32(b, 28),
                min_ttl: b[32],
                max_ttl: b[33],
                mean_ttl: b[34],
                dev_ttl: b[35],
            })
        }
        7 => {
            // RFC 3611 4.7: block length is always 8.
            if b.len() != 32 {
                return Err(PacketError::BadLength("XR VoIP metrics block"));
            }
            XrBlock::VoipMetrics(VoipMetrics {
                ssrc: be32(b, 0),
                loss_rate: b[4],
                discard_rate: b[5],
                burst_density: b[6],
                gap_density: b[7],
                burst_duration: be16(b, 8),
                gap_duration: be16(b, 10),
                round_trip_delay: be16(b, 12),
                end_system_delay: be16(b, 14),
                signal_level: b[16] as i8,
                noise_level: b[17] as i8,
                rerl: b[18],
                gmin: b[19],
                r_factor: b[20],
                ext_r_factor: b[21],
                mos_lq: b[22],
                mos_cq: b[23],
                rx_config: b[24],
                jb_nominal: be16(b, 26),
                jb_maximum: be16(b, 28),
                jb_abs_max: be16(b, 30),
            })
        }
        _ => XrBlock::Unknown {
            block_type: bt,
            type_specific: ts,
            data: b.to_vec(),
        },
    })
}

fn parse_xr(body: &[u8]) -> Result<Xr, PacketError> {
    need("XR", body, 4)?;
    let ssrc = be32(body, 0);
    let mut rest = &body[4..];
    let mut blocks = Vec::new();
    while !rest.is_empty() {
        need("XR block header", rest, 4)?;
        let bt = rest[0];
        let ts = rest[1];
        let len = usize::from(be16(rest, 2)) * 4;
        need("XR block", &rest[4..], len)?;
        blocks.push(parse_xr_block(bt, ts, &rest[4..4 + len])?);
        rest = &rest[4 + len..];
    }
    Ok(Xr { ssrc, blocks })
}

fn parse_sdes(body: &[u8], count: u8) -> Result<Vec<SdesChunk>, PacketError> {
    let mut chunks = Vec::with_capacity(usize::from(count));
    let mut at = 0;
    for _ in 0..count {
        need("SDES chunk", body, at + 4)?;
        let ssrc = be32(body, at);
        at += 4;
        let mut items = Vec::new();
        loop {
            need("SDES item", body, at + 1)?;
            let t = body[at];
            if t == 0 {
                // RFC 3550 6.5: the list ends with a null octet, then pads to a 32-bit
                // boundary with null octets.
                at += 1;
                at = at.div_ceil(4) * 4;
                need("SDES chunk padding", body, at)?;
                break;
            }
            need("SDES item", body, at + 2)?;
            let l = usize::from(body[at + 1]);
            need("SDES item value", body, at + 2 + l)?;
            items.push((t, body[at + 2..at + 2 + l].to_vec()));
            at += 2 + l;
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    if at != body.len() {
        return Err(PacketError::BadLength("SDES"));
    }
    Ok(chunks)
}

fn parse_bye(body: &[u8], count: u8) -> Result<Bye, PacketError> {
    let n = usize::from(count) * 4;
    need("BYE", body, n)?;
    let ssrcs = body[..n].chunks_exact(4).map(|c| be32(c, 0)).collect();
    let reason = if body.len() > n {
        let l = usize::from(body[n]);
        need("BYE reason", body, n + 1 + l)?;
        Some(body[n + 1..n + 1 + l].to_vec())
    } else {
        None
    };
    Ok(Bye { ssrcs, reason })
}

/// Parses one packet (header and body, padding removed).
fn parse_one(h: &RtcpHeader, pkt: &[u8]) -> Result<RtcpPacket, PacketError> {
    let mut end = h.len;
    if h.padding {
        let pad = usize::from(pkt[h.len - 1]);
        if pad == 0 || pad > h.len - 4 {
            return Err(PacketError::BadPadding(pkt[h.len - 1]));
        }
        end -= pad;
    }
    let body = &pkt[4..end];
    Ok(match h.packet_type {
        pt::SR => {
            need("SR", body, 24)?;
            let (reports, extension) = parse_reports("SR report blocks", &body[24..], h.count)?;
            RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(body, 0),
                ntp: be64(body, 4),
                rtp_timestamp: be32(body, 12),
                packet_count: be32(body, 16),
                octet_count: be32(body, 20),
                reports,
                extension,
            })
        }
        pt::RR => {
            need("RR", body, 4)?;
            let (reports, extension) = parse_reports("RR report blocks", &body[4..], h.count)?;
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body, 0),
                reports,
                extension,
            })
        }
        pt::SDES => RtcpPacket::Sdes(parse_sdes(body, h.count)?),
        pt::BYE => RtcpPacket::Bye(parse_bye(body, h.count)?),
        pt::APP => {
            need("APP", body, 8)?;
            RtcpPacket::App(App {
                subtype: h.count,
                ssrc: be32(body, 0),
                name: [body[4], body[5], body[6], body[7]],
                data: body[8..].to_vec(),
            })
        }
        pt::XR => RtcpPacket::Xr(parse_xr(body)?),
        other => RtcpPacket::Unknown {
            packet_type: other,
            count: h.count,
            body: body.to_vec(),
        },
    })
}

/// Parses a compound RTCP packet into its packets. Lenient about the order of packets (use
/// [`check_compound`] for the RFC 3550 A.2 validity rules).
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, PacketError> {
    let mut out = Vec::new();
    let mut rest = buf;
    if rest.is_empty() {
        return Err(PacketError::Truncated {
            what: "RTCP header",
            need: 4,
            have: 0,
        });
    }
    while !rest.is_empty() {
        let h = RtcpHeader::parse(rest)?;
        out.push(parse_one(&h, &rest[..h.len])?);
        rest = &rest[h.len..];
    }
    Ok(out)
}

/// RFC 3550 A.2 header validity checks on a compound packet: version 2 everywhere, the first
/// packet an SR or RR, padding only on the last packet, lengths adding up to the total.
pub fn check_compound(buf: &[u8]) -> Result<(), PacketError> {
    let first = RtcpHeader::parse(buf)?;
    if first.packet_type != pt::SR && first.packet_type != pt::RR {
        return Err(PacketError::BadLength(
            "compound RTCP must start with SR or RR",
        ));
    }
    let mut rest = buf;
    while !rest.is_empty() {
        let h = RtcpHeader::parse(rest)?;
        if h.padding && h.len != rest.len() {
            return Err(PacketError::BadPadding(rest[h.len - 1]));
        }
        rest = &rest[h.len..];
    }
    Ok(())
}

fn put_header(out: &mut Vec<u8>, count: u8, packet_type: u8) -> usize {
    let at = out.len();
    out.push(0x80 | (count & 0x1f));
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]);
    at
}

/// Pads the packet started at `at` to a 32-bit boundary if a raw field left it unaligned
/// (RFC 3550 6.4.1: P bit, last octet counts the padding) and writes the length field.
fn finish_len(out: &mut Vec<u8>, at: usize) -> Result<(), PacketError> {
    let rem = (out.len() - at) % 4;
    if rem != 0 {
        let pad = 4 - rem;
        out.extend(std::iter::repeat_n(0u8, pad - 1));
        out.push(pad as u8);
        out[at] |= 0x20;
    }
    let len = out.len() - at;
    let words =
        u16::try_from(len / 4 - 1).map_err(|_| PacketError::OutOfRange("RTCP packet length"))?;
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn count5(n: usize, what: &'static str) -> Result<u8, PacketError> {
    if n > 31 {
        Err(PacketError::OutOfRange(what))
    } else {
        Ok(n as u8)
    }
}

fn check_words(data: &[u8], what: &'static str) -> Result<(), PacketError> {
    if data.len() % 4 != 0 {
        Err(PacketError::OutOfRange(what))
    } else {
        Ok(())
    }
}

fn put_report(out: &mut Vec<u8>, r: &ReportBlock) -> Result<(), PacketError> {
    if !(-0x80_0000..=0x7f_ffff).contains(&r.cumulative_lost) {
        return Err(PacketError::OutOfRange("cumulative lost"));
    }
    out.extend_from_slice(&r.ssrc.to_be_bytes());
    out.push(r.fraction_lost);
    out.extend_from_slice(&r.cumulative_lost.to_be_bytes()[1..]);
    out.extend_from_slice(&r.highest_seq.to_be_bytes());
    out.extend_from_slice(&r.jitter.to_be_bytes());
    out.extend_from_slice(&r.last_sr.to_be_bytes());
    out.extend_from_slice(&r.delay_since_last_sr.to_be_bytes());
    Ok(())
}

fn put_block_header(out: &mut Vec<u8>, bt: u8, ts: u8, body_len: usize) -> Result<(), PacketError> {
    out.push(bt);
    out.push(ts);
    let words =
        u16::try_from(body_len / 4).map_err(|_| PacketError::OutOfRange("XR block length"))?;
    out.extend_from_slice(&words.to_be_bytes());
    Ok(())
}

fn put_rle(out: &mut Vec<u8>, bt: u8, r: &RleReport) -> Result<(), PacketError> {
    if r.thinning > 15 {
        return Err(PacketError::OutOfRange("XR thinning"));
    }
    let n = r.chunks.len().div_ceil(2) * 2;
    put_block_header(out, bt, r.thinning, 8 + 2 * n)?;
    out.extend_from_slice(&r.ssrc.to_be_bytes());
    out.extend_from_slice(&r.begin_seq.to_be_bytes());
    out.extend_from_slice(&r.end_seq.to_be_bytes());
    for c in &r.chunks {
        out.extend_from_slice(&c.to_be_bytes());
    }
    if r.chunks.len() % 2 == 1 {
        // RFC 3611 4.1: a null chunk pads to a 32-bit boundary.
        out.extend_from_slice(&[0, 0]);
    }
    Ok(())
}

fn put_xr_block(out: &mut Vec<u8>, b: &XrBlock) -> Result<(), PacketError> {
    match b {
        XrBlock::LossRle(r) => put_rle(out, 1, r)?,
        XrBlock::DuplicateRle(r) => put_rle(out, 2, r)?,
        XrBlock::ReceiptTimes {
            thinning,
            ssrc,
            begin_seq,
            end_seq,
            times,
        } => {
            if *thinning > 15 {
                return Err(PacketError::OutOfRange("XR thinning"));
            }
            put_block_header(out, 3, *thinning, 8 + 4 * times.len())?;
            out.extend_from_slice(&ssrc.to_be_bytes());
            out.extend_from_slice(&begin_seq.to_be_bytes());
            out.extend_from_slice(&end_seq.to_be_bytes());
            for t in times {
                out.extend_from_slice(&t.to_be_bytes());
            }
        }
        XrBlock::ReceiverReferenceTime(ntp) => {
            put_block_header(out, 4, 0, 8)?;
            out.extend_from_slice(&ntp.to_be_bytes());
        }
        XrBlock::Dlrr(subs) => {
            put_block_header(out, 5, 0, 12 * subs.len())?;
            for (ssrc, lrr, dlrr) in subs {
                out.extend_from_slice(&ssrc.to_be_bytes());
                out.extend_from_slice(&lrr.to_be_bytes());
                out.extend_from_slice(&dlrr.to_be_bytes());
            }
        }
        XrBlock::StatisticsSummary(s) => {
            put_block_header(out, 6, s.flags, 36)?;
            out.extend_from_slice(&s.ssrc.to_be_bytes());
            out.extend_from_slice(&s.begin_seq.to_be_bytes());
            out.extend_from_slice(&s.end_seq.to_be_bytes());
            for v in [
                s.lost_packets,
                s.dup_packets,
                s.min_jitter,
                s.max_jitter,
                s.mean_jitter,
                s.dev_jitter,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend_from_slice(&[s.min_ttl, s.max_ttl, s.mean_ttl, s.dev_ttl]);
        }
        XrBlock::VoipMetrics(m) => {
            put_block_header(out, 7, 0, 32)?;
            out.extend_from_slice(&m.ssrc.to_be_bytes());
            out.extend_from_slice(&[m.loss_rate, m.discard_rate, m.burst_density, m.gap_density]);
            for v in [
                m.burst_duration,
                m.gap_duration,
                m.round_trip_delay,
                m.end_system_delay,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend_from_slice(&[
                m.signal_level as u8,
                m.noise_level as u8,
                m.rerl,
                m.gmin,
                m.r_factor,
                m.ext_r_factor,
                m.mos_lq,
                m.mos_cq,
                m.rx_config,
                0,
            ]);
            for v in [m.jb_nominal, m.jb_maximum, m.jb_abs_max] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        XrBlock::Unknown {
            block_type,
            type_specific,
            data,
        } => {
            check_words(data, "XR block data")?;
            put_block_header(out, *block_type, *type_specific, data.len())?;
            out.extend_from_slice(data);
        }
    }
    Ok(())
}

impl RtcpPacket {
    /// Appends the packet (without padding) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        let start = out.len();
        let r = self.emit_inner(out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn emit_inner(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        match self {
            RtcpPacket::SenderReport(sr) => {
                let at = put_header(out, count5(sr.reports.len(), "SR report count")?, pt::SR);
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                for r in &sr.reports {
                    put_report(out, r)?;
                }
                out.extend_from_slice(&sr.extension);
                finish_len(out, at)
            }
            RtcpPacket::ReceiverReport(rr) => {
                let at = put_header(out, count5(rr.reports.len(), "RR report count")?, pt::RR);
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                for r in &rr.reports {
                    put_report(out, r)?;
                }
                out.extend_from_slice(&rr.extension);
                finish_len(out, at)
            }
            RtcpPacket::Sdes(chunks) => {
                let at = put_header(out, count5(chunks.len(), "SDES chunk count")?, pt::SDES);
                for c in chunks {
                    out.extend_from_slice(&c.ssrc.to_be_bytes());
                    for (t, v) in &c.items {
                        if *t == 0 {
                            return Err(PacketError::OutOfRange("SDES item type 0"));
                        }
                        let l = u8::try_from(v.len())
                            .map_err(|_| PacketError::OutOfRange("SDES item length"))?;
                        out.push(*t);
                        out.push(l);
                        out.extend_from_slice(v);
                    }
                    // Terminating null octet, then pad to a word boundary (RFC 3550 6.5).
                    out.push(0);
                    while (out.len() - at) % 4 != 0 {
                        out.push(0);
                    }
                }
                finish_len(out, at)
            }
            RtcpPacket::Bye(b) => {
                let at = put_header(out, count5(b.ssrcs.len(), "BYE source count")?, pt::BYE);
                for s in &b.ssrcs {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                if let Some(reason) = &b.reason {
                    let l = u8::try_from(reason.len())
                        .map_err(|_| PacketError::OutOfRange("BYE reason length"))?;
                    out.push(l);
                    out.extend_from_slice(reason);
                    while (out.len() - at) % 4 != 0 {
                        out.push(0);
                    }
                }
                finish_len(out, at)
            }
            RtcpPacket::App(a) => {
                let at = put_header(out, count5(usize::from(a.subtype), "APP subtype")?, pt::APP);
                out.extend_from_slice(&a.ssrc.to_be_bytes());
                out.extend_from_slice(&a.name);
                out.extend_from_slice(&a.data);
                finish_len(out, at)
            }
            RtcpPacket::Xr(x) => {
                let at = put_header(out, 0, pt::XR);
                out.extend_from_slice(&x.ssrc.to_be_bytes());
                for b in &x.blocks {
                    put_xr_block(out, b)?;
                }
                finish_len(out, at)
            }
            RtcpPacket::Unknown {
                packet_type,
                count,
                body,
            } => {
                let at = put_header(
                    out,
                    count5(usize::from(*count), "RTCP count")?,
                    *packet_type,
                );
                out.extend_from_slice(body);
                finish_len(out, at)
            }
        }
    }
}

/// Emits packets as one compound packet.
pub fn emit_compound(packets: &[RtcpPacket]) -> Result<Vec<u8>, PacketError> {
    let mut out = Vec::new();
    for p in packets {
        p.emit(&mut out)?;
    }
    Ok(out)
}

/// Converts a duration since the Unix epoch to a 64-bit NTP timestamp (RFC 3550 4).
pub fn ntp_from_unix(since_epoch: std::time::Duration) -> u64 {
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    secs << 32 | frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sr_sdes_bye_round_trip_and_header_words() {
        let pkts = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 0x1234_5678,
                ntp: 0xe000_0000_8000_0000,
                rtp_timestamp: 160,
                packet_count: 1,
                octet_count: 160,
                reports: vec![ReportBlock {
                    ssrc: 7,
                    fraction_lost: 12,
                    cumulative_lost: -3,
                    highest_seq: 70000,
                    jitter: 9,
                    last_sr: 1,
                    delay_since_last_sr: 2,
                }],
                extension: vec![],
            }),
            RtcpPacket::Sdes(vec![SdesChunk {
                ssrc: 0x1234_5678,
                items: vec![(sdes::CNAME, b"phone@example.invalid".to_vec())],
            }]),
            RtcpPacket::Bye(Bye {
                ssrcs: vec![0x1234_5678],
                reason: Some(b"hangup".to_vec()),
            }),
        ];
        let wire = emit_compound(&pkts).unwrap();
        assert_eq!(wire[0], 0x81);
        assert_eq!(wire[1], 200);
        assert_eq!(be16(&wire, 2), 12); // 28 + 24 bytes = 13 words
        check_compound(&wire).unwrap();
        assert_eq!(parse_compound(&wire).unwrap(), pkts);
        // Cumulative lost -3 is 0xfffffd in the 24-bit field.
        assert_eq!(&wire[33..36], &[0xff, 0xff, 0xfd]);
    }

    #[test]
    fn truncated_and_inconsistent_are_errors() {
        let wire = emit_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock::default()],
            extension: vec![],
        })])
        .unwrap();
        for n in 0..wire.len() {
            assert!(parse_compound(&wire[..n]).is_err(), "prefix {n}");
        }
        // RC says 2 blocks, length says 1.
        let mut bad = wire.clone();
        bad[0] = 0x82;
        assert!(parse_compound(&bad).is_err());
        // First packet not SR/RR.
        let bye = emit_compound(&[RtcpPacket::Bye(Bye::default())]).unwrap();
        assert!(check_compound(&bye).is_err());
    }

    #[test]
    fn voip_metrics_block_layout() {
        let m = VoipMetrics {
            ssrc: 5,
            loss_rate: 1,
            gmin: 16,
            r_factor: 93,
            mos_lq: 43,
            mos_cq: 42,
            jb_nominal: 40,
            jb_maximum: 80,
            jb_abs_max: 300,
            signal_level: -20,
            noise_level: 127,
            ..Default::default()
        };
        let x = RtcpPacket::Xr(Xr {
            ssrc: 9,
            blocks: vec![XrBlock::VoipMetrics(m)],
        });
        let wire = emit_compound(std::slice::from_ref(&x)).unwrap();
        // 4 header + 4 ssrc + 4 block header + 32 block.
        assert_eq!(wire.len(), 44);
        assert_eq!(&wire[8..12], &[7, 0, 0, 8]);
        assert_eq!(parse_compound(&wire).unwrap(), vec![x]);
    }
}
