//! tshark (Wireshark's dissectors) decodes our RTP, RTCP and RTCP-XR packets without warnings.
//! The packets are written to a pcap file (no traffic is sent) and dissected with
//! `tshark -V`; the test requires tshark (scripts/install-deps installs it).
use ac_media::rtcp::*;
use ac_media::rtp::{pt, RtpPacket};
use std::process::Command;

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet/IPv4/UDP frame around `payload` (UDP checksum 0 = none, RFC 768).
fn frame(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 20 + 8 + payload.len();
    let mut ip = vec![0x45, 0xb8];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2]);
    let c = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&src_port.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32 / 50).to_le_bytes());
        out.extend_from_slice(&((i as u32 % 50) * 20_000).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn packets() -> Vec<Vec<u8>> {
    let ssrc = 0x1a2b_3c4d;
    let mut frames = Vec::new();
    let mut pcm = vec![0i16; 160];
    for (i, s) in pcm.iter_mut().enumerate() {
        *s = ((i as f64 * 0.3).sin() * 8000.0) as i16;
    }
    let mut alaw = vec![0u8; 160];
    ac_media::g711::encode_alaw(&pcm, &mut alaw);
    for n in 0..20u16 {
        let p = RtpPacket {
            marker: n == 0,
            payload_type: pt::PCMA,
            sequence: 1000 + n,
            timestamp: 8000 + 160 * u32::from(n),
            ssrc,
            csrcs: vec![],
            extension: None,
            payload: &alaw,
            padding: 0,
        };
        frames.push(frame(50020, 50020, &p.to_vec().unwrap()));
    }
    let cname = SdesChunk {
        ssrc,
        items: vec![
            (sdes::CNAME, b"phone-1@127.0.0.1".to_vec()),
            (sdes::TOOL, b"ac-media".to_vec()),
        ],
    };
    let block = ReportBlock {
        ssrc: 0x5555_aaaa,
        fraction_lost: 3,
        cumulative_lost: 2,
        highest_seq: 70_000,
        jitter: 40,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 65536,
    };
    let sr = vec![
        RtcpPacket::SenderReport(SenderReport {
            ssrc,
            ntp: ntp_from_unix(std::time::Duration::from_secs(1_700_000_000)),
            rtp_timestamp: 8000 + 160 * 20,
            packet_count: 20,
            octet_count: 3200,
            reports: vec![block],
            extension: vec![],
        }),
        RtcpPacket::Sdes(vec![cname.clone()]),
    ];
    frames.push(frame(50021, 50021, &emit_compound(&sr).unwrap()));
    let xr = vec![
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc,
            reports: vec![block],
            extension: vec![],
        }),
        RtcpPacket::Sdes(vec![cname.clone()]),
        RtcpPacket::Xr(Xr {
            ssrc,
            blocks: vec![
                XrBlock::LossRle(RleReport {
                    thinning: 0,
                    ssrc: 0x5555_aaaa,
                    begin_seq: 1000,
                    end_seq: 1100,
                    // Run of 60 received, run of 1 lost, run of 39 received.
                    chunks: vec![0x4000 | 60, 1, 0x4000 | 39],
                }),
                XrBlock::ReceiverReferenceTime(ntp_from_unix(std::time::Duration::from_secs(
                    1_700_000_001,
                ))),
                XrBlock::Dlrr(vec![(0x5555_aaaa, 0x1234_5678, 32768)]),
                XrBlock::StatisticsSummary(StatisticsSummary {
                    // L, D, J flags and ToH = 1 (IPv4 TTL).
                    flags: 0xe0 | 0x08,
                    ssrc: 0x5555_aaaa,
                    begin_seq: 1000,
                    end_seq: 1100,
                    lost_packets: 1,
                    dup_packets: 0,
                    min_jitter: 0,
                    max_jitter: 80,
                    mean_jitter: 40,
                    dev_jitter: 10,
                    min_ttl: 64,
                    max_ttl: 64,
                    mean_ttl: 64,
                    dev_ttl: 0,
                }),
                XrBlock::VoipMetrics(VoipMetrics {
                    ssrc: 0x5555_aaaa,
                    loss_rate: 3,
                    discard_rate: 1,
                    burst_density: 0,
                    gap_density: 3,
                    burst_duration: 0,
                    gap_duration: 2000,
                    round_trip_delay: 40,
                    end_system_delay: 60,
                    signal_level: -20,
                    noise_level: -60,
                    rerl: 127,
                    gmin: 16,
                    r_factor: 90,
                    ext_r_factor: 127,
                    mos_lq: 42,
                    mos_cq: 41,
                    // PLC enhanced, adaptive JB, rate 0.
                    rx_config: 0xc0 | 0x30,
                    jb_nominal: 40,
                    jb_maximum: 80,
                    jb_abs_max: 300,
                }),
            ],
        }),
    ];
    frames.push(frame(50021, 50021, &emit_compound(&xr).unwrap()));
    // The block our E-model reporter builds.
    let mut f = vec![ac_media::xr::PacketFate::Received; 250];
    for i in [20, 100, 101, 103] {
        f[i] = ac_media::xr::PacketFate::Lost;
    }
    let vm = ac_media::xr::voip_metrics(&ac_media::xr::VqInputs {
        ssrc: 0x5555_aaaa,
        burst_gap: ac_media::xr::burst_gap(&f, ac_media::xr::GMIN),
        round_trip_ms: 60,
        end_system_ms: 67,
        jb: (40, 80, 300),
    });
    let xr2 = vec![
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc,
            reports: vec![block],
            extension: vec![],
        }),
        RtcpPacket::Sdes(vec![cname.clone()]),
        RtcpPacket::Xr(Xr {
            ssrc,
            blocks: vec![XrBlock::VoipMetrics(vm)],
        }),
    ];
    frames.push(frame(50021, 50021, &emit_compound(&xr2).unwrap()));
    let bye = vec![
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc,
            reports: vec![],
            extension: vec![],
        }),
        RtcpPacket::Sdes(vec![cname]),
        RtcpPacket::Bye(Bye {
            ssrcs: vec![ssrc],
            reason: Some(b"call ended".to_vec()),
        }),
    ];
    frames.push(frame(50021, 50021, &emit_compound(&bye).unwrap()));
    frames
}

/// Dissects `frames` with `tshark -V` (RTP on 50020, RTCP on 50021, telephone-event PT
/// 101) and returns the text after checking it holds no warning, error or malformed mark.
fn dissect(name: &str, frames: &[Vec<u8>]) -> String {
    let dir = std::env::temp_dir().join(format!("ac-media-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("media.pcap");
    std::fs::write(&file, pcap(frames)).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-V", "-r"])
        .arg(&file)
        .args(["-d", "udp.port==50020,rtp", "-d", "udp.port==50021,rtcp"])
        .args(["-o", "rtpevent.event_payload_type_value:101"])
        .output()
        .expect("tshark must be installed (scripts/install-deps)");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in [
        "Malformed",
        "Expert Info (Warning",
        "Expert Info (Error",
        "[Dissector bug",
    ] {
        let hit: Vec<&str> = text.lines().filter(|l| l.contains(bad)).collect();
        assert!(hit.is_empty(), "{bad}: {hit:?}");
    }
    text
}

/// What a `MediaSession` sends in 11 s of G.722 with two RFC 4733 digits, RTCP every 5 s
/// with RTCP-XR (REMOTE_AND_EVENTS) and a closing BYE, fed back the far end's packets so
/// that its reports carry report blocks.
#[test]
fn tshark_decodes_a_media_sessions_packets_without_warnings() {
    use ac_media::session::{Channel, Codec, MediaConfig, MediaSession};
    use std::time::{Duration, Instant};
    let mk = |ssrc: u32| MediaConfig {
        codec: Codec::G722,
        ptime_ms: 20,
        ssrc,
        initial_seq: 100,
        initial_ts: 1000,
        telephone_event_pt: Some(101),
        cn_pt: Some(13),
        vad: false,
        dtmf_level: 10,
        srtp: None,
        xr_mode: ac_media::xr::VqMode::RemoteAndEvents,
        cname: format!("{ssrc:x}@127.0.0.1"),
        wallclock: Duration::from_secs(1_700_000_000),
    };
    let t0 = Instant::now();
    let mut a = MediaSession::new(mk(0xa1), t0).unwrap();
    let mut b = MediaSession::new(mk(0xb2), t0).unwrap();
    let pcm: Vec<i16> = (0..320)
        .map(|i| ((i as f64 * 0.2).sin() * 6000.0) as i16)
        .collect();
    let mut frames = Vec::new();
    let (mut rtp, mut rtcp) = (0, 0);
    for step in 0..550u64 {
        let now = t0 + Duration::from_millis(step * 20);
        if step == 100 {
            a.send_dtmf(now, '7', 100).unwrap();
            a.send_dtmf(now, '*', 100).unwrap();
        }
        a.handle_frame(now, &pcm).unwrap();
        b.handle_frame(now, &pcm).unwrap();
        while let Some(t) = a.poll_transmit() {
            b.handle_rtp_or_rtcp(now, &t);
            let port = match t.channel {
                Channel::Rtp => {
                    rtp += 1;
                    50020
                }
                Channel::Rtcp => {
                    rtcp += 1;
                    50021
                }
            };
            frames.push(frame(port, port, &t.data));
        }
        while let Some(t) = b.poll_transmit() {
            a.handle_rtp_or_rtcp(now, &t);
        }
        a.poll_frame(now);
        b.poll_frame(now);
    }
    a.close(t0 + Duration::from_secs(11)).unwrap();
    let bye = a.poll_transmit().unwrap();
    frames.push(frame(50021, 50021, &bye.data));
    let text = dissect("session", &frames);
    let count = |s: &str| text.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("Real-Time Transport Protocol"), rtp);
    assert_eq!(rtcp, 2);
    assert!(count("Payload type: ITU-T G.722 (9)") > 500);
    // Each digit: start, updates and three end packets.
    assert!(count("RFC 2833 RTP Event") >= 8, "{text}");
    assert!(text.contains("Event ID: DTMF Seven 7 (7)"), "{text}");
    assert!(text.contains("Event ID: DTMF Star * (10)"));
    assert_eq!(count("Packet type: Sender Report (200)"), 3);
    assert_eq!(count("Packet type: Source description (202)"), 3);
    assert_eq!(count("VoIP Metrics Report Block"), 2);
    assert_eq!(count("Packet type: Goodbye (203)"), 1);
    assert!(text.contains("a1@127.0.0.1"));
}

trait Feed {
    fn handle_rtp_or_rtcp(&mut self, now: std::time::Instant, t: &ac_media::session::Transmit);
}

impl Feed for ac_media::session::MediaSession {
    fn handle_rtp_or_rtcp(&mut self, now: std::time::Instant, t: &ac_media::session::Transmit) {
        match t.channel {
            ac_media::session::Channel::Rtp => self.handle_rtp(now, &t.data).unwrap(),
            ac_media::session::Channel::Rtcp => self.handle_rtcp(now, &t.data).unwrap(),
        }
    }
}

#[test]
fn tshark_decodes_rtp_rtcp_and_xr_without_warnings() {
    let text = dissect("tshark", &packets());
    let count = |s: &str| text.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("Real-Time Transport Protocol"), 20);
    assert!(
        text.contains("Payload type: ITU-T G.711 PCMA (8)"),
        "{text}"
    );
    assert!(text.contains("Sequence number: 1019"));
    assert_eq!(count("Packet type: Sender Report (200)"), 1);
    assert_eq!(count("Packet type: Receiver Report (201)"), 3);
    assert_eq!(count("Packet type: Source description (202)"), 4);
    assert_eq!(count("Packet type: Goodbye (203)"), 1);
    assert_eq!(count("Packet type: Extended report (RFC 3611) (207)"), 2);
    assert_eq!(count("VoIP Metrics Report Block"), 2);
    for block in [
        "Loss Run Length Encoding Report Block",
        "Receiver Reference Time Report Block",
        "DLRR Report Block",
        "Statistics Summary Report Block",
        "VoIP Metrics Report Block",
    ] {
        assert!(text.contains(block), "{block} not decoded:\n{text}");
    }
    assert!(text.contains("phone-1@127.0.0.1"));
    assert!(text.contains("call ended"));
}
