//! RTCP-XR voice quality (RFC 3611 4.7): burst/gap statistics with Gmin, the ITU-T G.107
//! E-model (R-factor, MOS-LQ, MOS-CQ) and the `voip/rtcp_xr/vq_statistics/mode` reporter.
//!
//! E-model simplifications, stated: the default G.107 parameters give R0 - Is = 93.2;
//! the delay impairment is Idd only (Idte and Idle at their defaults are folded into 93.2);
//! the advantage factor A is 0; the equipment impairment uses the G.113 Appendix I
//! values for G.711 with Appendix I PLC (Ie = 0, Bpl = 25.1), applied to G.722 as well
//! (the narrowband E-model has no G.722 entry).

use std::time::{Duration, Instant};

use crate::rtcp::VoipMetrics;

/// Gap threshold recommended by RFC 3611 4.7.2.
pub const GMIN: u32 = 16;

/// Burst/gap metrics of a sequence of packets (RFC 3611 4.7.1 and 4.7.2).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BurstGap {
    /// Fraction of packets lost.
    pub loss_rate: f64,
    /// Fraction of packets discarded (late).
    pub discard_rate: f64,
    /// Fraction of packets lost or discarded inside bursts.
    pub burst_density: f64,
    /// Fraction lost or discarded inside gaps.
    pub gap_density: f64,
    /// Mean burst length, packets.
    pub burst_len: f64,
    /// Mean gap length, packets.
    pub gap_len: f64,
}

/// Fate of one expected packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketFate {
    /// Received and played.
    Received,
    /// Never arrived.
    Lost,
    /// Arrived too late and discarded.
    Discarded,
}

/// Computes RFC 3611 4.7.2 burst and gap metrics. A burst is a run that begins and ends with
/// a lost or discarded packet and contains no run of `gmin` or more received packets; the
/// rest is gap. A lost packet with at least `gmin` received packets on each side (or at
/// the stream edge) is an isolated loss inside a gap.
pub fn burst_gap(fates: &[PacketFate], gmin: u32) -> BurstGap {
    let n = fates.len();
    if n == 0 {
        return BurstGap::default();
    }
    let bad: Vec<bool> = fates.iter().map(|f| *f != PacketFate::Received).collect();
    let lost = fates.iter().filter(|f| **f == PacketFate::Lost).count();
    let discarded = fates
        .iter()
        .filter(|f| **f == PacketFate::Discarded)
        .count();
    // Group bad packets into bursts: consecutive bad packets separated by fewer than gmin
    // received packets belong together.
    let idx: Vec<usize> = (0..n).filter(|&i| bad[i]).collect();
    let mut bursts: Vec<(usize, usize, usize)> = Vec::new(); // (start, end, bad count)
    let mut k = 0;
    while k < idx.len() {
        let mut j = k;
        while j + 1 < idx.len() && idx[j + 1] - idx[j] - 1 < gmin as usize {
            j += 1;
        }
        bursts.push((idx[k], idx[j], j - k + 1));
        k = j + 1;
    }
    // A single bad packet on its own is an isolated loss: part of the gap.
    let real: Vec<&(usize, usize, usize)> = bursts.iter().filter(|b| b.2 > 1).collect();
    let burst_pkts: usize = real.iter().map(|b| b.1 - b.0 + 1).sum();
    let burst_bad: usize = real.iter().map(|b| b.2).sum();
    let gap_pkts = n - burst_pkts;
    let gap_bad = idx.len() - burst_bad;
    let gaps = real.len() + 1;
    BurstGap {
        loss_rate: lost as f64 / n as f64,
        discard_rate: discarded as f64 / n as f64,
        burst_density: if burst_pkts > 0 {
            burst_bad as f64 / burst_pkts as f64
        } else {
            0.0
        },
        gap_density: if gap_pkts > 0 {
            gap_bad as f64 / gap_pkts as f64
        } else {
            0.0
        },
        burst_len: if real.is_empty() {
            0.0
        } else {
            burst_pkts as f64 / real.len() as f64
        },
        gap_len: gap_pkts as f64 / gaps as f64,
    }
}

/// Equipment impairment inputs (ITU-T G.113 Appendix I).
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// Equipment impairment factor Ie.
    pub ie: f64,
    /// Packet-loss robustness factor Bpl.
    pub bpl: f64,
}

/// G.711 with G.711 Appendix I PLC (G.113 Appendix I: Ie 0, Bpl 25.1).
pub const G711_PLC: Codec = Codec { ie: 0.0, bpl: 25.1 };

/// Delay impairment Idd of G.107 (7.3) for absolute one-way delay `ta_ms`.
pub fn idd(ta_ms: f64) -> f64 {
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// Effective equipment impairment (G.107 7.4) for packet loss `ppl` in percent and the
/// burst ratio `burst_r` (1 = random loss).
pub fn ie_eff(codec: Codec, ppl: f64, burst_r: f64) -> f64 {
    let burst_r = burst_r.max(1.0);
    codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst_r + codec.bpl)
}

/// R-factor from its impairments (G.107 7.1 with the defaults above), 0..=100.
pub fn r_factor(codec: Codec, ppl: f64, burst_r: f64, ta_ms: f64) -> f64 {
    (93.2 - idd(ta_ms) - ie_eff(codec, ppl, burst_r)).clamp(0.0, 100.0)
}

/// MOS from R (G.107 Annex B).
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// Burst ratio of a Gilbert model estimated from burst/gap metrics: the mean burst length
/// observed over the mean burst length expected for random loss at the same rate.
pub fn burst_ratio(bg: &BurstGap) -> f64 {
    let p = bg.loss_rate + bg.discard_rate;
    if p <= 0.0 || p >= 1.0 {
        return 1.0;
    }
    // Mean run of consecutive losses: from bursts, approximated by density x length.
    let observed = (bg.burst_density * bg.burst_len).max(1.0);
    (observed * (1.0 - p)).max(1.0)
}

/// `voip/rtcp_xr/vq_statistics/mode` (manual 3.3.14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VqMode {
    /// No reports.
    Disable,
    /// Local events only (reported to the application, not sent).
    EventsOnly,
    /// Local events and RTCP-XR VoIP metrics sent to the remote party.
    RemoteAndEvents,
}

impl VqMode {
    /// Parses the configuration value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "DISABLE" => Some(VqMode::Disable),
            "EVENTS_ONLY" => Some(VqMode::EventsOnly),
            "REMOTE_AND_EVENTS" => Some(VqMode::RemoteAndEvents),
            _ => None,
        }
    }
}

/// Report interval.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Inputs of one report.
#[derive(Debug, Clone, Copy)]
pub struct VqInputs {
    /// Remote SSRC reported on.
    pub ssrc: u32,
    /// Burst/gap metrics of the interval.
    pub burst_gap: BurstGap,
    /// Round-trip delay, ms (from RTCP LSR/DLSR).
    pub round_trip_ms: u16,
    /// End-system delay, ms (jitter buffer + codec + PLC delay).
    pub end_system_ms: u16,
    /// Jitter buffer nominal, maximum, absolute maximum, ms.
    pub jb: (u16, u16, u16),
}

/// One interval's report: the block and whether it goes to the remote party.
#[derive(Debug, Clone, PartialEq)]
pub struct VqReport {
    /// The VoIP metrics block.
    pub metrics: VoipMetrics,
    /// Send it in RTCP-XR (REMOTE_AND_EVENTS).
    pub send_remote: bool,
}

/// Builds the VoIP metrics block (RFC 3611 4.7) for a G.711/G.722 stream with PLC.
pub fn voip_metrics(inp: &VqInputs) -> VoipMetrics {
    let bg = inp.burst_gap;
    let frac = |x: f64| (x * 256.0).clamp(0.0, 255.0) as u8;
    let ppl = 100.0 * (bg.loss_rate + bg.discard_rate);
    let br = burst_ratio(&bg);
    // One-way absolute delay: half the round trip plus our end-system delay.
    let ta = f64::from(inp.round_trip_ms) / 2.0 + f64::from(inp.end_system_ms);
    let r_lq = r_factor(G711_PLC, ppl, br, 0.0);
    let r_cq = r_factor(G711_PLC, ppl, br, ta);
    let ms = |packets: f64| (packets * 20.0).min(65535.0) as u16;
    VoipMetrics {
        ssrc: inp.ssrc,
        loss_rate: frac(bg.loss_rate),
        discard_rate: frac(bg.discard_rate),
        burst_density: frac(bg.burst_density),
        gap_density: frac(bg.gap_density),
        burst_duration: ms(bg.burst_len),
        gap_duration: ms(bg.gap_len),
        round_trip_delay: inp.round_trip_ms,
        end_system_delay: inp.end_system_ms,
        // Signal, noise and RERL are not measured here: 127 = unavailable (4.7.4).
        signal_level: 127,
        noise_level: 127,
        rerl: 127,
        gmin: GMIN as u8,
        r_factor: r_cq.round() as u8,
        ext_r_factor: 127,
        // MOS-LQ excludes delay, MOS-CQ includes it (4.7.5), in tenths.
        mos_lq: (mos(r_lq) * 10.0).round() as u8,
        mos_cq: (mos(r_cq) * 10.0).round() as u8,
        // PLC enhanced (11), adaptive JB (11), rate 0 (4.7.6).
        rx_config: 0b1111_0000,
        jb_nominal: inp.jb.0,
        jb_maximum: inp.jb.1,
        jb_abs_max: inp.jb.2,
    }
}

/// Produces a report every [`REPORT_INTERVAL`] in the configured mode (sans-IO).
#[derive(Debug)]
pub struct VqReporter {
    mode: VqMode,
    next: Option<Instant>,
}

impl VqReporter {
    /// A reporter; the first report is due one interval after `now`.
    pub fn new(mode: VqMode, now: Instant) -> Self {
        VqReporter {
            mode,
            next: (mode != VqMode::Disable).then(|| now + REPORT_INTERVAL),
        }
    }

    /// When the next report is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// If a report is due at `now`, builds it from `inputs`.
    pub fn handle_timeout(&mut self, now: Instant, inputs: &VqInputs) -> Option<VqReport> {
        let due = self.next?;
        if now < due {
            return None;
        }
        // One report per interval; intervals missed entirely are skipped.
        let mut next = due + REPORT_INTERVAL;
        while next <= now {
            next += REPORT_INTERVAL;
        }
        self.next = Some(next);
        Some(VqReport {
            metrics: voip_metrics(inputs),
            send_remote: self.mode == VqMode::RemoteAndEvents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketFate::{Lost, Received};

    #[test]
    fn e_model_reference_points() {
        // No impairment: R = 93.2, MOS 4.41.
        let r = r_factor(G711_PLC, 0.0, 1.0, 0.0);
        assert!((r - 93.2).abs() < 1e-9);
        assert!((mos(r) - 4.409).abs() < 0.01, "{}", mos(r));
        // 2 % random loss: Ie,eff = 95 * 2 / (2 + 25.1) = 7.011.
        assert!((ie_eff(G711_PLC, 2.0, 1.0) - 7.011).abs() < 0.01);
        // Idd: 0 up to 100 ms, 24.04 at 400 ms (G.107 formula by hand).
        assert_eq!(idd(100.0), 0.0);
        assert!((idd(400.0) - 24.04).abs() < 0.05, "{}", idd(400.0));
        // Bursty loss hurts more than random loss at the same rate.
        assert!(r_factor(G711_PLC, 5.0, 3.0, 0.0) < r_factor(G711_PLC, 5.0, 1.0, 0.0));
        assert_eq!(mos(0.0), 1.0);
        assert_eq!(mos(100.0), 4.5);
    }

    #[test]
    fn burst_and_gap_with_gmin_16() {
        // 100 packets: isolated losses at 10 and 60 (more than 16 received around them),
        // and a burst 30..=34 with losses at 30, 32, 34.
        let mut f = vec![Received; 100];
        for i in [10, 60, 30, 32, 34] {
            f[i] = Lost;
        }
        let bg = burst_gap(&f, GMIN);
        assert!((bg.loss_rate - 0.05).abs() < 1e-9);
        assert!((bg.burst_density - 3.0 / 5.0).abs() < 1e-9);
        assert!((bg.gap_density - 2.0 / 95.0).abs() < 1e-9);
        assert!((bg.burst_len - 5.0).abs() < 1e-9);
        assert!((bg.gap_len - 95.0 / 2.0).abs() < 1e-9);
        // Two losses 10 apart are one burst with Gmin 16 but two isolated losses with Gmin 4.
        let mut f = vec![Received; 100];
        f[40] = Lost;
        f[51] = Lost;
        assert_eq!(burst_gap(&f, 16).burst_len, 12.0);
        assert_eq!(burst_gap(&f, 4).burst_len, 0.0);
    }

    #[test]
    fn reporter_modes_and_interval() {
        let t0 = Instant::now();
        let inp = VqInputs {
            ssrc: 1,
            burst_gap: BurstGap {
                loss_rate: 0.02,
                gap_len: 50.0,
                gap_density: 0.02,
                ..Default::default()
            },
            round_trip_ms: 80,
            end_system_ms: 60,
            jb: (40, 80, 300),
        };
        assert_eq!(VqReporter::new(VqMode::Disable, t0).poll_timeout(), None);
        let mut r = VqReporter::new(VqMode::EventsOnly, t0);
        assert!(r
            .handle_timeout(t0 + Duration::from_secs(4), &inp)
            .is_none());
        let rep = r.handle_timeout(t0 + REPORT_INTERVAL, &inp).unwrap();
        assert!(!rep.send_remote);
        assert_eq!(r.poll_timeout(), Some(t0 + 2 * REPORT_INTERVAL));
        assert_eq!(rep.metrics.gmin, 16);
        assert_eq!(rep.metrics.loss_rate, 5); // 0.02 * 256
                                              // R with 2 % random loss and 100 ms one-way delay: 93.2 - 7.01 = 86.
        assert_eq!(rep.metrics.r_factor, 86);
        assert!(rep.metrics.mos_lq >= rep.metrics.mos_cq);
        let mut r = VqReporter::new(VqMode::RemoteAndEvents, t0);
        assert!(
            r.handle_timeout(t0 + REPORT_INTERVAL, &inp)
                .unwrap()
                .send_remote
        );
        assert_eq!(
            VqMode::parse("REMOTE_AND_EVENTS"),
            Some(VqMode::RemoteAndEvents)
        );
        assert_eq!(VqMode::parse("bogus"), None);
    }
}
