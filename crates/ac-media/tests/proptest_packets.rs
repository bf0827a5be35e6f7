//! Property tests: emit -> parse gives back the packet; parse -> emit -> parse is stable on
//! arbitrary bytes.
use ac_media::rtcp::{self, *};
use ac_media::rtp::{Extension, RtpPacket};
use proptest::prelude::*;

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7f_ffff,
        any::<[u32; 4]>(),
    )
        .prop_map(|(ssrc, fraction_lost, cumulative_lost, w)| ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq: w[0],
            jitter: w[1],
            last_sr: w[2],
            delay_since_last_sr: w[3],
        })
}

fn words(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<[u8; 4]>(), 0..max).prop_map(|v| v.concat())
}

fn xr_block() -> impl Strategy<Value = XrBlock> {
    prop_oneof![
        (
            0u8..16,
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            prop::collection::vec(any::<[u16; 2]>(), 0..6)
        )
            .prop_map(|(thinning, ssrc, begin_seq, end_seq, c)| {
                XrBlock::LossRle(RleReport {
                    thinning,
                    ssrc,
                    begin_seq,
                    end_seq,
                    chunks: c.concat(),
                })
            }),
        any::<u64>().prop_map(XrBlock::ReceiverReferenceTime),
        prop::collection::vec(any::<(u32, u32, u32)>(), 0..4).prop_map(XrBlock::Dlrr),
        (any::<[u32; 8]>(), any::<[u8; 6]>()).prop_map(|(w, b)| {
            XrBlock::StatisticsSummary(StatisticsSummary {
                flags: b[0],
                ssrc: w[0],
                begin_seq: w[1] as u16,
                end_seq: (w[1] >> 16) as u16,
                lost_packets: w[2],
                dup_packets: w[3],
                min_jitter: w[4],
                max_jitter: w[5],
                mean_jitter: w[6],
                dev_jitter: w[7],
                min_ttl: b[1],
                max_ttl: b[2],
                mean_ttl: b[3],
                dev_ttl: b[4],
            })
        }),
        (any::<u32>(), any::<[u8; 14]>(), any::<[u16; 7]>()).prop_map(|(ssrc, b, h)| {
            XrBlock::VoipMetrics(VoipMetrics {
                ssrc,
                loss_rate: b[0],
                discard_rate: b[1],
                burst_density: b[2],
                gap_density: b[3],
                burst_duration: h[0],
                gap_duration: h[1],
                round_trip_delay: h[2],
                end_system_delay: h[3],
                signal_level: b[4] as i8,
                noise_level: b[5] as i8,
                rerl: b[6],
                gmin: b[7],
                r_factor: b[8],
                ext_r_factor: b[9],
                mos_lq: b[10],
                mos_cq: b[11],
                rx_config: b[12],
                jb_nominal: h[4],
                jb_maximum: h[5],
                jb_abs_max: h[6],
            })
        }),
        (8u8..=255, any::<u8>(), words(4)).prop_map(|(block_type, type_specific, data)| {
            XrBlock::Unknown {
                block_type,
                type_specific,
                data,
            }
        }),
    ]
}

fn rtcp_packet() -> impl Strategy<Value = RtcpPacket> {
    prop_oneof![
        (
            any::<(u32, u64, u32, u32, u32)>(),
            prop::collection::vec(report_block(), 0..4),
            words(3)
        )
            .prop_map(
                |((ssrc, ntp, rtp_timestamp, packet_count, octet_count), reports, extension)| {
                    RtcpPacket::SenderReport(SenderReport {
                        ssrc,
                        ntp,
                        rtp_timestamp,
                        packet_count,
                        octet_count,
                        reports,
                        extension,
                    })
                }
            ),
        (
            any::<u32>(),
            prop::collection::vec(report_block(), 0..4),
            words(3)
        )
            .prop_map(|(ssrc, reports, extension)| RtcpPacket::ReceiverReport(
                ReceiverReport {
                    ssrc,
                    reports,
                    extension
                }
            )),
        prop::collection::vec(
            (
                any::<u32>(),
                prop::collection::vec((1u8..=8, prop::collection::vec(any::<u8>(), 0..40)), 0..4)
            )
                .prop_map(|(ssrc, items)| SdesChunk { ssrc, items }),
            0..4
        )
        .prop_map(RtcpPacket::Sdes),
        (
            prop::collection::vec(any::<u32>(), 0..5),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..60))
        )
            .prop_map(|(ssrcs, reason)| RtcpPacket::Bye(Bye { ssrcs, reason })),
        (0u8..32, any::<u32>(), any::<[u8; 4]>(), words(4)).prop_map(
            |(subtype, ssrc, name, data)| RtcpPacket::App(App {
                subtype,
                ssrc,
                name,
                data
            })
        ),
        (any::<u32>(), prop::collection::vec(xr_block(), 0..5))
            .prop_map(|(ssrc, blocks)| RtcpPacket::Xr(Xr { ssrc, blocks })),
    ]
}

proptest! {
    #[test]
    fn rtp_emit_parse_round_trip(
        marker: bool,
        payload_type in 0u8..128,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        csrcs in prop::collection::vec(any::<u32>(), 0..16),
        ext in prop::option::of((any::<u16>(), words(5))),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        padding: u8,
    ) {
        let p = RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension: ext.as_ref().map(|(profile, data)| Extension { profile: *profile, data }),
            payload: &payload,
            padding,
        };
        let wire = p.to_vec().unwrap();
        prop_assert_eq!(wire.len(), p.wire_len());
        prop_assert_eq!(RtpPacket::parse(&wire).unwrap(), p);
    }

    #[test]
    fn rtp_parse_emit_reparse(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = RtpPacket::parse(&bytes) {
            let wire = p.to_vec().unwrap();
            prop_assert_eq!(RtpPacket::parse(&wire).unwrap(), p);
        }
    }

    #[test]
    fn rtcp_emit_parse_round_trip(pkts in prop::collection::vec(rtcp_packet(), 1..5)) {
        let wire = emit_compound(&pkts).unwrap();
        prop_assert_eq!(parse_compound(&wire).unwrap(), pkts);
    }

    #[test]
    fn rtcp_parse_emit_reparse(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = rtcp::parse_compound(&bytes) {
            let wire = emit_compound(&p).unwrap();
            prop_assert_eq!(parse_compound(&wire).unwrap(), p);
        }
    }
}

// G.729 RTP payloads (RFC 3551 4.5.6): N 10-byte speech frames and at most one trailing
// 2-byte SID.
proptest! {
    #[test]
    fn g729_payload_join_split(
        speech in proptest::collection::vec(any::<[u8; 10]>(), 0..6),
        sid in proptest::option::of(any::<[u8; 2]>()),
    ) {
        use ac_media::g729::{join_payload, split_payload, FrameKind};
        let mut frames: Vec<(FrameKind, &[u8])> =
            speech.iter().map(|f| (FrameKind::Speech, &f[..])).collect();
        if let Some(s) = &sid {
            frames.push((FrameKind::Sid, &s[..]));
        }
        let wire = join_payload(&frames).unwrap();
        prop_assert_eq!(wire.len(), speech.len() * 10 + sid.map_or(0, |_| 2));
        prop_assert_eq!(split_payload(&wire).unwrap(), frames);
    }

    #[test]
    fn g729_payload_split_join(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        use ac_media::g729::{join_payload, split_payload};
        match split_payload(&data) {
            Ok(frames) => prop_assert_eq!(join_payload(&frames).unwrap(), data),
            Err(_) => prop_assert!(!matches!(data.len() % 10, 0 | 2)),
        }
    }
}
