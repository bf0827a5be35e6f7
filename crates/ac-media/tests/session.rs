//! Two media sessions driven in one thread on a virtual clock (sans-IO): each end sends
//! audio (G.711 A-law, µ-law, G.722, G.729 or SILK, with and without SRTP) through a seeded network with
//! Gilbert loss and 20-80 ms of delay (which reorders), plus RFC 4733 digits; RTCP
//! SR/RR/SDES every 5 s with RTCP-XR per `voip/rtcp_xr/vq_statistics/mode`; BYE at the end.
//! The decoded audio must correlate with what the other end sent, the reception reports
//! must match the loss the network applied, and every digit must arrive.
mod common;
use ac_media::rtcp::{parse_compound, RtcpPacket, XrBlock};
use ac_media::session::{
    parse_media_tos, Channel, Codec, MediaConfig, MediaEvent, MediaSession, MediaSettings,
    PortRange, RemoteReport, DEFAULT_RTP_BASE_PORT,
};
use ac_media::srtp::{MasterKey, Suite};
use ac_media::xr::VqMode;
use common::traces::Rng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PTIME: u64 = 20;

fn cfg(codec: Codec, ssrc: u32, keys: Option<(Suite, u8, u8)>, xr: VqMode) -> MediaConfig {
    let defaults = MediaSettings::defaults().unwrap();
    MediaConfig {
        codec,
        ptime_ms: PTIME as u32,
        ssrc,
        // Near the wrap of both counters (RFC 3550 5.1 random starts).
        initial_seq: 65_500,
        initial_ts: u32::MAX - 20_000,
        telephone_event_pt: Some(101),
        cn_pt: Some(13),
        vad: false,
        dtmf_level: defaults.dtmf_level,
        srtp: keys.map(|(suite, ours, theirs)| {
            (
                suite,
                MasterKey::from_bytes(&[ours; 30]),
                MasterKey::from_bytes(&[theirs; 30]),
            )
        }),
        xr_mode: xr,
        cname: format!("{ssrc:08x}@127.0.0.1"),
        wallclock: Duration::from_secs(1_700_000_000),
    }
}

/// 16 kHz STL speech, or its 8 kHz version (pairs averaged) for G.711.
fn speech(rate: u32) -> Vec<i16> {
    let s = common::read_words("g722/inpsp.bin");
    if rate == 16_000 {
        s
    } else {
        s.chunks_exact(2)
            .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
            .collect()
    }
}

/// One direction of the network: seeded Gilbert loss on RTP (mean `loss`, mean burst 2)
/// and a uniform 20-80 ms delay on every datagram; RTCP is delayed but not dropped so
/// that the report counts are exact.
struct Link {
    rng: Rng,
    bad: bool,
    loss: f64,
    k: u64,
    in_flight: BTreeMap<(u64, u64), (Channel, Vec<u8>)>,
    /// (send time µs, dropped) of every RTP datagram.
    rtp_log: Vec<(u64, bool)>,
    /// Every RTCP datagram as sent.
    rtcp_sent: Vec<Vec<u8>>,
}

impl Link {
    fn new(seed: u64, loss: f64) -> Self {
        Link {
            rng: Rng::new(seed),
            bad: false,
            loss,
            k: 0,
            in_flight: BTreeMap::new(),
            rtp_log: Vec::new(),
            rtcp_sent: Vec::new(),
        }
    }

    fn send(&mut self, us: u64, ch: Channel, data: Vec<u8>) {
        if ch == Channel::Rtp {
            let r = 0.5;
            let p = self.loss * r / (1.0 - self.loss);
            self.bad = if self.bad {
                self.rng.f64() >= r
            } else {
                self.rng.f64() < p
            };
            self.rtp_log.push((us, self.bad));
            if self.bad {
                return;
            }
        } else {
            self.rtcp_sent.push(data.clone());
        }
        self.k += 1;
        let at = us + 20_000 + (self.rng.f64() * 60_000.0) as u64;
        self.in_flight.insert((at, self.k), (ch, data));
    }

    fn deliver(&mut self, us: u64, now: Instant, to: &mut MediaSession) {
        while let Some((&key, _)) = self.in_flight.iter().next() {
            if key.0 > us {
                break;
            }
            let Some((ch, d)) = self.in_flight.remove(&key) else {
                break;
            };
            match ch {
                Channel::Rtp => to.handle_rtp(now, &d).unwrap(),
                Channel::Rtcp => to.handle_rtcp(now, &d).unwrap(),
            }
        }
    }

    /// RTP datagrams dropped among those sent before `us`.
    fn dropped_before(&self, us: u64) -> usize {
        self.rtp_log.iter().filter(|(t, d)| *t < us && *d).count()
    }
}

struct Outcome {
    /// What A sent and what B played, and the other way round.
    a_in: Vec<i16>,
    b_out: Vec<i16>,
    b_in: Vec<i16>,
    a_out: Vec<i16>,
    ev_a: Vec<(u64, MediaEvent)>,
    ev_b: Vec<(u64, MediaEvent)>,
    ab: Link,
    ba: Link,
    last_rtcp_a: Vec<u8>,
}

fn call(codec: Codec, srtp: Option<Suite>, xr: VqMode, seed: u64, secs: u64) -> Outcome {
    let rate = codec.sample_rate();
    let talk = speech(rate);
    // B says the same speech backwards: as speech-like, but a different signal.
    let back: Vec<i16> = talk.iter().rev().copied().collect();
    let t0 = Instant::now();
    let mut a =
        MediaSession::new(cfg(codec, 0xaaaa_0001, srtp.map(|s| (s, 1, 2)), xr), t0).unwrap();
    let mut b =
        MediaSession::new(cfg(codec, 0xbbbb_0002, srtp.map(|s| (s, 2, 1)), xr), t0).unwrap();
    let n = a.frame_samples();
    assert_eq!(n as u32, rate * PTIME as u32 / 1000);
    let mut ab = Link::new(seed, 0.03);
    let mut ba = Link::new(seed + 1, 0.03);
    let mut o = Outcome {
        a_in: Vec::new(),
        b_out: Vec::new(),
        b_in: Vec::new(),
        a_out: Vec::new(),
        ev_a: Vec::new(),
        ev_b: Vec::new(),
        ab: Link::new(0, 0.0),
        ba: Link::new(0, 0.0),
        last_rtcp_a: Vec::new(),
    };
    let steps = secs * 1000 / PTIME;
    for step in 0..steps {
        let us = step * PTIME * 1000;
        let now = t0 + Duration::from_micros(us);
        let off = (step as usize * n) % (talk.len() - n);
        let fa = &talk[off..off + n];
        let fb = back[off..off + n].to_vec();
        o.a_in.extend_from_slice(fa);
        o.b_in.extend_from_slice(&fb);
        // Digits: A sends 5 and # (queued back to back), B sends 9.
        if step == 150 {
            a.send_dtmf(now, '5', 100).unwrap();
            a.send_dtmf(now, '#', 120).unwrap();
        }
        if step == 260 {
            b.send_dtmf(now, '9', 100).unwrap();
        }
        a.handle_frame(now, fa).unwrap();
        b.handle_frame(now, &fb).unwrap();
        // The sessions' own timers (RTCP, DTMF pacing) are never later than a frame.
        assert!(a.poll_timeout().unwrap() > now);
        while let Some(t) = a.poll_transmit() {
            if t.channel == Channel::Rtcp {
                o.last_rtcp_a = t.data.clone();
            }
            ab.send(us, t.channel, t.data);
        }
        while let Some(t) = b.poll_transmit() {
            ba.send(us, t.channel, t.data);
        }
        ab.deliver(us, now, &mut b);
        ba.deliver(us, now, &mut a);
        o.b_out.extend(b.poll_frame(now));
        o.a_out.extend(a.poll_frame(now));
        while let Some(e) = a.poll_event() {
            o.ev_a.push((us, e));
        }
        while let Some(e) = b.poll_event() {
            o.ev_b.push((us, e));
        }
    }
    // A hangs up: its last compound carries BYE (RFC 3550 6.6).
    let end = t0 + Duration::from_secs(secs);
    a.close(end).unwrap();
    let bye = a.poll_transmit().unwrap();
    assert_eq!(bye.channel, Channel::Rtcp);
    assert!(a.poll_timeout().is_none());
    assert!(a.handle_frame(end, &vec![0; n]).is_err());
    b.handle_rtcp(end, &bye.data).unwrap();
    while let Some(e) = b.poll_event() {
        o.ev_b.push((secs * 1_000_000, e));
    }
    o.ab = ab;
    o.ba = ba;
    o
}

/// Normalised cross-correlation of `x` against `y` shifted by the best of `lags`.
fn best_corr(x: &[i16], y: &[i16], lags: impl Iterator<Item = usize>) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in lags {
        let y = &y[lag..lag + x.len()];
        let (mut xy, mut xx, mut yy) = (0i64, 0i64, 0i64);
        for (a, b) in x.iter().zip(y) {
            let (a, b) = (i64::from(*a), i64::from(*b));
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        let c = xy as f64 / ((xx as f64).sqrt() * (yy as f64).sqrt()).max(1.0);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

/// Playout lags to search: the jitter buffer plays whole frames (0..12 frames = 240 ms of
/// buffering) and the codec and PLC add a constant under 10 ms.
fn lags(rate: usize) -> impl Iterator<Item = usize> {
    let frame = rate / 50;
    (0..13).flat_map(move |k| (0..rate / 100).map(move |d| k * frame + d))
}

/// Median over 125 ms windows (one every 2 s from 2 s on) of the best correlation of the
/// played signal with the sent one, the sent window taken `skew` samples early (0: the
/// real comparison; else a control that must not match). Windows with lost frames score
/// lower; the median is robust to them.
fn median_corr(sent: &[i16], played: &[i16], rate: usize, skew: usize) -> f64 {
    let w = rate / 8;
    let mut c: Vec<f64> = (1..)
        .map(|s| 2 * s * rate)
        .take_while(|start| start + w + 13 * rate / 50 <= played.len())
        .map(|start| {
            let x = &sent[start - skew..start - skew + w];
            best_corr(x, &played[start..], lags(rate)).0
        })
        .collect();
    assert!(c.len() >= 4);
    c.sort_by(f64::total_cmp);
    c[c.len() / 2]
}

fn reports(ev: &[(u64, MediaEvent)]) -> Vec<(u64, RemoteReport)> {
    ev.iter()
        .filter_map(|(t, e)| match e {
            MediaEvent::Report(r) => Some((*t, *r)),
            _ => None,
        })
        .collect()
}

fn digits(ev: &[(u64, MediaEvent)]) -> Vec<char> {
    ev.iter()
        .filter_map(|(_, e)| match e {
            MediaEvent::Dtmf(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn check_call(codec: Codec, srtp: Option<Suite>, seed: u64) {
    let secs = 11;
    let o = call(codec, srtp, VqMode::RemoteAndEvents, seed, secs);
    let rate = codec.sample_rate() as usize;
    // Audio both ways.
    let ab = median_corr(&o.a_in, &o.b_out, rate, 0);
    let ba = median_corr(&o.b_in, &o.a_out, rate, 0);
    // Controls: the same search against speech sent 0.7 s earlier finds no match.
    let wrong_ab = median_corr(&o.a_in, &o.b_out, rate, rate * 7 / 10);
    let wrong_ba = median_corr(&o.b_in, &o.a_out, rate, rate * 7 / 10);
    println!(
        "{codec:?} srtp={srtp:?}: correlation A->B {ab:.3}, B->A {ba:.3}; controls {wrong_ab:.3}, {wrong_ba:.3}"
    );
    // G.729 is a CELP codec with a post-filter: it keeps the speech, not the waveform;
    // SILK's noise shaping and high-pass filters keep it less closely than G.711/G.722.
    let min = match codec {
        Codec::G729 { .. } => 0.55,
        Codec::Silk { .. } => 0.7,
        _ => 0.9,
    };
    assert!(ab > min, "A->B {ab}");
    assert!(ba > min, "B->A {ba}");
    assert!(
        wrong_ab < 0.6 && wrong_ba < 0.6 && wrong_ab < ab - 0.3 && wrong_ba < ba - 0.3,
        "controls {wrong_ab} {wrong_ba}"
    );
    // Digits, both ways, once each, in order.
    assert_eq!(digits(&o.ev_b), vec!['5', '#']);
    assert_eq!(digits(&o.ev_a), vec!['9']);
    // Reception reports at 5 s and 10 s (plus transit) about each direction; the
    // cumulative loss is what the network dropped before the report was built, give or
    // take the packets still in flight then (up to 80 ms = 4 frames): one dropped but not
    // yet known lost (no later packet arrived), or up to 3 overtaken by a later one and
    // counted lost until they arrive (RFC 3550 A.3 counts from the highest sequence).
    for (ev, link, dir) in [(&o.ev_a, &o.ab, "A->B"), (&o.ev_b, &o.ba, "B->A")] {
        let reps = reports(ev);
        assert_eq!(reps.len(), 2, "{dir}: {reps:?}");
        for (i, (_, r)) in reps.iter().enumerate() {
            let built = (i as u64 + 1) * 5_000_000;
            let hi = link.dropped_before(built) as i32;
            let lo = link.dropped_before(built - 160_000) as i32;
            println!(
                "{dir} report {i}: fraction {:.3} cumulative {} (dropped {lo}..={hi}) jitter {:.1} ms rtt {:?}",
                r.fraction_lost, r.cumulative_lost, r.jitter_ms, r.round_trip
            );
            assert!(
                (lo - 1..=hi + 3).contains(&r.cumulative_lost),
                "{dir}: {r:?}, dropped {lo}..={hi}"
            );
            assert!(
                r.fraction_lost > 0.0 && r.fraction_lost < 0.12,
                "{dir}: {r:?}"
            );
            // Uniform 0-60 ms extra delay: |D| averages 20 ms, the RFC 3550 estimate ~ that.
            assert!(r.jitter_ms > 5.0 && r.jitter_ms < 40.0, "{dir}: {r:?}");
        }
        // The second report echoes an SR: RTT = two 20-80 ms trips, seen on a 20 ms grid.
        let rtt = reps[1].1.round_trip.expect("RTT from LSR/DLSR");
        assert!(
            rtt >= Duration::from_millis(40) && rtt <= Duration::from_millis(200),
            "{dir}: {rtt:?}"
        );
    }
    // RTCP-XR (REMOTE_AND_EVENTS): a local VQ event every 5 s and the same block at the far
    // end, about the stream each end received.
    for (local, remote) in [(&o.ev_b, &o.ev_a), (&o.ev_a, &o.ev_b)] {
        let vq: Vec<_> = local
            .iter()
            .filter_map(|(_, e)| match e {
                MediaEvent::VoiceQuality(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        let got: Vec<_> = remote
            .iter()
            .filter_map(|(_, e)| match e {
                MediaEvent::RemoteVoipMetrics(m) => Some(*m),
                _ => None,
            })
            .collect();
        assert_eq!(vq.len(), 2);
        // Some loss was seen over the call, and it lowered R.
        assert!(vq
            .iter()
            .any(|r| r.metrics.loss_rate > 0 && r.metrics.r_factor < 90));
        assert_eq!(got, vq.iter().map(|r| r.metrics).collect::<Vec<_>>());
        for r in &vq {
            let m = r.metrics;
            println!(
                "XR: loss {} discard {} burst {}/{} ms gap {}/{} ms R {} MOS-LQ {} MOS-CQ {} JB {}/{}/{} RTT {}",
                m.loss_rate, m.discard_rate, m.burst_density, m.burst_duration, m.gap_density,
                m.gap_duration, m.r_factor, m.mos_lq, m.mos_cq, m.jb_nominal, m.jb_maximum,
                m.jb_abs_max, m.round_trip_delay
            );
            assert!(r.send_remote);
            assert_eq!(m.gmin, 16);
            // 3 % mean loss: at most 15 % in one interval (x/256); R and MOS at or below
            // the clean 93 / 4.4 and far above "poor".
            assert!(
                u32::from(m.loss_rate) + u32::from(m.discard_rate) <= 40,
                "{m:?}"
            );
            assert!((60..=93).contains(&m.r_factor), "{m:?}");
            assert!((30..=44).contains(&m.mos_lq), "{m:?}");
            assert!(m.mos_cq <= m.mos_lq);
            assert!(m.jb_nominal >= 20 && m.jb_nominal <= m.jb_maximum && m.jb_abs_max == 300);
        }
    }
    assert!(o.ev_b.iter().any(|(_, e)| *e == MediaEvent::Bye));
    // Without SRTP the last compound A sent before BYE is SR + SDES + XR, in that order.
    if srtp.is_none() {
        let p = parse_compound(&o.last_rtcp_a).unwrap();
        assert!(matches!(p[0], RtcpPacket::SenderReport(ref sr) if sr.reports.len() == 1));
        assert!(matches!(p[1], RtcpPacket::Sdes(_)));
        assert!(
            matches!(p[2], RtcpPacket::Xr(ref x) if matches!(x.blocks[0], XrBlock::VoipMetrics(_)))
        );
    } else {
        // SRTCP: the plain parse must fail on the encrypted body or its trailer.
        assert!(parse_compound(&o.last_rtcp_a).map_or(true, |p| p.len() < 3));
    }
}

#[test]
fn g722_over_srtp_80() {
    check_call(Codec::G722, Some(Suite::AesCm128HmacSha1_80), 42);
}

#[test]
fn g722_plain() {
    check_call(Codec::G722, None, 43);
}

#[test]
fn pcma_over_srtp_32() {
    check_call(Codec::Pcma, Some(Suite::AesCm128HmacSha1_32), 44);
}

#[test]
fn pcmu_plain() {
    check_call(Codec::Pcmu, None, 45);
}

#[test]
fn g729_plain() {
    check_call(Codec::G729 { annex_b: false }, None, 46);
}

#[test]
fn g729_annex_b_over_srtp_80() {
    check_call(
        Codec::G729 { annex_b: true },
        Some(Suite::AesCm128HmacSha1_80),
        47,
    );
}

#[test]
fn silk_16000_over_srtp_80() {
    check_call(
        Codec::Silk {
            rate: 16_000,
            pt: 103,
        },
        Some(Suite::AesCm128HmacSha1_80),
        48,
    );
}

#[test]
fn silk_8000_plain() {
    check_call(
        Codec::Silk {
            rate: 8000,
            pt: 104,
        },
        None,
        49,
    );
}

#[test]
fn vq_modes_events_only_and_disable() {
    for (mode, local, remote) in [(VqMode::EventsOnly, 2, 0), (VqMode::Disable, 0, 0)] {
        let o = call(Codec::Pcma, None, mode, 7, 11);
        let vq = o
            .ev_b
            .iter()
            .filter(|(_, e)| matches!(e, MediaEvent::VoiceQuality(r) if !r.send_remote))
            .count();
        let xr = o
            .ev_a
            .iter()
            .filter(|(_, e)| matches!(e, MediaEvent::RemoteVoipMetrics(_)))
            .count();
        assert_eq!((vq, xr), (local, remote), "{mode:?}");
        // No XR block on the wire, but SR/RR + SDES every 5 s all the same.
        assert_eq!(o.ab.rtcp_sent.len(), 2);
        for d in &o.ab.rtcp_sent {
            let p = parse_compound(d).unwrap();
            assert!(
                !p.iter().any(|p| matches!(p, RtcpPacket::Xr(_))),
                "{mode:?}"
            );
            assert!(p.iter().any(|p| matches!(p, RtcpPacket::Sdes(_))));
        }
    }
}

#[test]
fn settings_from_the_schema_ports_and_dscp() {
    // Defaults straight from ac_cfg::schema.
    let d = MediaSettings::defaults().unwrap();
    assert_eq!(d.tos, 0xb8);
    assert_eq!(d.dscp(), 46); // EF
    assert_eq!(d.xr_mode, VqMode::Disable);
    assert_eq!(d.dtmf_level, 16);
    assert_eq!(d.rtp_base_port, 50020);
    let schema = ac_cfg::schema::Schema::get();
    let def = match schema.lookup("voip/media/media_tos", None) {
        ac_cfg::schema::Lookup::Found(d, _) => d.default,
        _ => panic!("voip/media/media_tos not in the schema"),
    };
    assert_eq!(parse_media_tos(def), Some(d.tos));
    // A configuration file overrides them.
    let text = "voip/media/media_tos=0x88\nvoip/rtcp_xr/vq_statistics/mode=REMOTE_AND_EVENTS\nvoip/audio/gain/dtmf_tone_signal_level=10\n";
    let doc = ac_cfg::Document::parse(text).unwrap();
    let cfg = ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap();
    let s = MediaSettings::from_config(&cfg).unwrap();
    assert_eq!((s.tos, s.dscp()), (0x88, 34)); // AF41
    assert_eq!(s.xr_mode, VqMode::RemoteAndEvents);
    assert_eq!(s.dtmf_level, 10);
    // Ports: 60 even/odd pairs from the base, 50020-50139 for the default.
    let mut r = PortRange::from_base(DEFAULT_RTP_BASE_PORT);
    assert_eq!(r.allocate(), Some((50020, 50021)));
    assert_eq!(r.len(), 60);
}
