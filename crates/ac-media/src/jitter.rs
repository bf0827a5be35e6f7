//! Adaptive jitter buffer (sans-IO).
//!
//! Packets go in with their arrival time ([`JitterBuffer::handle_packet`]); the audio clock
//! asks for one frame every frame period ([`JitterBuffer::poll_frame`]) and gets the frame,
//! a request to conceal a missing one, or nothing yet. [`JitterBuffer::poll_timeout`] says
//! when the next frame is due.
//!
//! Delay target: each packet's relative delay is its transit time (arrival minus media
//! time) above the smallest transit seen in the last `window` packets; the target is the
//! `quantile` of those relative delays plus one frame, between one frame and `max_delay_ms`
//! (300 ms by default, manual 3.3.14). Following the minimum over a sliding window also
//! follows clock drift between the two ends.
//!
//! Adaptation is frame-granular: when the buffered delay exceeds the target by more than a
//! frame, one frame is dropped (accelerate); when it is below the target by more than a
//! frame, a concealment frame is inserted without consuming media (expand). This is not a
//! pitch-synchronous time-stretch; it is what the PLC smooths over.
//!
//! Reordering: packets are kept sorted by extended timestamp; a packet whose media time has
//! already been played is counted late and dropped; duplicates are counted and dropped.
//!
//! Timestamp discontinuities (RFC 3550 5.1: the timestamp need not be continuous across a
//! pause; a peer that stops sending while held, e.g. baresip, resumes with its clock where it
//! stopped): after [`RESYNC_LATE`] late packets in a row, or one packet more than the memory
//! bound ahead of the playout position, the buffer starts its timeline again from that packet
//! instead of dropping the rest of the stream.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Configuration.
#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    /// RTP clock rate (8000 for G.711 and G.722).
    pub clock_rate: u32,
    /// Frame length in ms (10 or 20).
    pub frame_ms: u32,
    /// Largest delay target, ms.
    pub max_delay_ms: u32,
    /// Quantile of the relative-delay distribution that the target covers.
    pub quantile: f64,
    /// Packets in the delay history.
    pub window: usize,
    /// `Some(ms)`: a fixed buffer of that delay over the first packet's transit (for
    /// comparison), no adaptation.
    pub fixed_ms: Option<u32>,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            clock_rate: 8000,
            frame_ms: 20,
            max_delay_ms: 300,
            quantile: 0.97,
            window: 500,
            fixed_ms: None,
        }
    }
}

/// What the audio clock gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Nothing to play yet (before the first packet's playout time).
    Idle,
    /// The frame of this RTP timestamp.
    Frame {
        /// RTP timestamp.
        timestamp: u32,
        /// Payload.
        payload: Vec<u8>,
    },
    /// The frame of this timestamp is missing (lost or late): conceal it.
    Conceal {
        /// RTP timestamp that is concealed (for expansion: the one not yet played).
        timestamp: u32,
    },
}

/// Counters, as RTCP-XR reports them (RFC 3611 4.7.1, 4.7.7).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Packets received.
    pub received: u64,
    /// Packets that arrived after their playout time (discarded).
    pub late: u64,
    /// Duplicates discarded.
    pub duplicates: u64,
    /// Frames dropped to shrink the delay.
    pub accelerated: u64,
    /// Frames inserted to grow the delay.
    pub expanded: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames concealed because their packet was missing.
    pub concealed: u64,
    /// Current delay target, ms (JB nominal).
    pub nominal_ms: u32,
    /// Largest target so far, ms (JB maximum).
    pub maximum_ms: u32,
    /// Sum of the playout delays of played frames, ms (arrival-relative: playout time minus
    /// the earliest possible arrival), for the mean.
    pub delay_sum_ms: f64,
}

/// Late packets in a row after which the sender's clock is taken to have jumped back.
pub const RESYNC_LATE: u32 = 5;

/// The jitter buffer.
#[derive(Debug)]
pub struct JitterBuffer {
    /// Late packets in a row (reset by any packet that is kept).
    late_run: u32,
    cfg: JitterConfig,
    epoch: Option<Instant>,
    /// Extended timestamp of the first packet (timestamps are kept relative to it).
    ts_base: Option<u32>,
    last_ext: i64,
    packets: BTreeMap<i64, Vec<u8>>,
    /// Transit times (ms) of the last `window` packets.
    transits: VecDeque<f64>,
    first_transit: Option<f64>,
    /// Next media time to play (relative timestamp units), once started.
    next_ts: Option<i64>,
    next_poll: Option<Instant>,
    target_ms: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer with this configuration.
    pub fn new(cfg: JitterConfig) -> Self {
        let target_ms = f64::from(cfg.fixed_ms.unwrap_or(cfg.frame_ms * 3));
        JitterBuffer {
            late_run: 0,
            cfg,
            epoch: None,
            ts_base: None,
            last_ext: 0,
            packets: BTreeMap::new(),
            transits: VecDeque::with_capacity(cfg.window),
            first_transit: None,
            next_ts: None,
            next_poll: None,
            target_ms,
            stats: JitterStats::default(),
        }
    }

    fn ms(&self, now: Instant) -> f64 {
        self.epoch.map_or(0.0, |e| {
            now.saturating_duration_since(e).as_secs_f64() * 1000.0
        })
    }

    fn frame_units(&self) -> i64 {
        i64::from(self.cfg.clock_rate * self.cfg.frame_ms / 1000)
    }

    fn units_to_ms(&self, u: i64) -> f64 {
        u as f64 * 1000.0 / f64::from(self.cfg.clock_rate)
    }

    /// Extends a 32-bit timestamp relative to the first one, choosing the value nearest the
    /// last extended timestamp (wrap-around safe).
    fn extend(&mut self, ts: u32) -> i64 {
        let base = *self.ts_base.get_or_insert(ts);
        let rel = i64::from(ts.wrapping_sub(base));
        let cand = [rel - (1 << 32), rel, rel + (1 << 32)];
        let ext = cand
            .into_iter()
            .min_by_key(|c| (c - self.last_ext).abs())
            .unwrap_or(rel);
        if ext > self.last_ext {
            self.last_ext = ext;
        }
        ext
    }

    /// A received packet (already parsed; `payload` is the RTP payload).
    pub fn handle_packet(&mut self, now: Instant, timestamp: u32, payload: &[u8]) {
        self.epoch.get_or_insert(now);
        let mut ext = self.extend(timestamp);
        // Bound the memory: never hold more than max delay plus a second of media.
        let limit = i64::from(self.cfg.clock_rate) * i64::from(self.cfg.max_delay_ms + 1000) / 1000;
        if let Some(next) = self.next_ts {
            let behind = ext < next && self.late_run + 1 >= RESYNC_LATE;
            if behind || ext - next > limit {
                self.restart_timeline();
                ext = self.extend(timestamp);
            }
        }
        let arrival = self.ms(now);
        self.stats.received += 1;
        let transit = arrival - self.units_to_ms(ext);
        self.first_transit.get_or_insert(transit);
        if self.transits.len() == self.cfg.window {
            self.transits.pop_front();
        }
        self.transits.push_back(transit);
        if let Some(next) = self.next_ts {
            if ext < next {
                self.stats.late += 1;
                self.late_run += 1;
                return;
            }
        }
        self.late_run = 0;
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(ext, payload.to_vec());
        self.update_target();
        if self.next_poll.is_none() {
            self.next_poll = Some(now);
        }
    }

    /// The sender's clock jumped: forget the timeline (buffered packets, transit history,
    /// playout position); the next packet starts it again. The counters stay.
    fn restart_timeline(&mut self) {
        self.ts_base = None;
        self.last_ext = 0;
        self.packets.clear();
        self.transits.clear();
        self.first_transit = None;
        self.next_ts = None;
        self.late_run = 0;
    }

    fn base_transit(&self) -> f64 {
        match self.cfg.fixed_ms {
            Some(_) => self.first_transit.unwrap_or(0.0),
            None => self.transits.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }

    fn update_target(&mut self) {
        if let Some(f) = self.cfg.fixed_ms {
            self.target_ms = f64::from(f);
        } else {
            let base = self.base_transit();
            let mut rel: Vec<f64> = self.transits.iter().map(|t| t - base).collect();
            rel.sort_by(f64::total_cmp);
            let q = rel
                .get(((rel.len() as f64 - 1.0) * self.cfg.quantile).round() as usize)
                .copied()
                .unwrap_or(0.0);
            let frame = f64::from(self.cfg.frame_ms);
            self.target_ms = (q + frame).clamp(frame, f64::from(self.cfg.max_delay_ms));
        }
        let t = self.target_ms as u32;
        self.stats.nominal_ms = t;
        self.stats.maximum_ms = self.stats.maximum_ms.max(t);
    }

    /// Next time [`Self::poll_frame`] should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_poll
    }

    /// One frame period elapsed: the frame to play now.
    pub fn poll_frame(&mut self, now: Instant) -> Playout {
        let Some(epoch) = self.epoch else {
            return Playout::Idle;
        };
        let frame_ms = self.cfg.frame_ms;
        self.next_poll = Some(now + Duration::from_millis(u64::from(frame_ms)));
        let now_ms = self.ms(now);
        let base = self.base_transit();
        let fu = self.frame_units();
        let next = match self.next_ts {
            Some(n) => n,
            None => {
                // Start when the earliest packet has waited the target.
                let Some((&first, _)) = self.packets.iter().next() else {
                    return Playout::Idle;
                };
                if now_ms < self.units_to_ms(first) + base + self.target_ms {
                    return Playout::Idle;
                }
                first
            }
        };
        // Buffered delay if we play `next` now: how long after its earliest arrival.
        let delay = now_ms - (self.units_to_ms(next) + base);
        let frame = f64::from(frame_ms);
        let mut next = next;
        if self.cfg.fixed_ms.is_none() && self.next_ts.is_some() {
            if delay > self.target_ms + frame && self.packets.contains_key(&(next + fu)) {
                // Accelerate: drop one frame.
                self.packets.remove(&next);
                next += fu;
                self.stats.accelerated += 1;
            } else if delay < self.target_ms - frame {
                // Expand: play a concealment frame, keep `next` for the next period.
                self.next_ts = Some(next);
                self.stats.expanded += 1;
                return Playout::Conceal {
                    timestamp: self.ts_of(next),
                };
            }
        }
        self.next_ts = Some(next + fu);
        // Drop anything older than what we play (already counted late on arrival).
        while let Some((&k, _)) = self.packets.iter().next() {
            if k < next {
                self.packets.remove(&k);
            } else {
                break;
            }
        }
        let _ = epoch;
        match self.packets.remove(&next) {
            Some(payload) => {
                self.stats.played += 1;
                self.stats.delay_sum_ms += now_ms - (self.units_to_ms(next) + base);
                Playout::Frame {
                    timestamp: self.ts_of(next),
                    payload,
                }
            }
            None => {
                self.stats.concealed += 1;
                Playout::Conceal {
                    timestamp: self.ts_of(next),
                }
            }
        }
    }

    fn ts_of(&self, ext: i64) -> u32 {
        self.ts_base.unwrap_or(0).wrapping_add(ext as u32)
    }

    /// The buffered payload `k` frames after the one just played or concealed (1 = the
    /// next one), if it has arrived: lets a decoder with in-band FEC rebuild a lost frame
    /// from redundancy carried in a later packet.
    pub fn peek_ahead(&self, k: u32) -> Option<&[u8]> {
        let next = self.next_ts?;
        let at = next + (i64::from(k) - 1) * self.frame_units();
        self.packets.get(&at).map(Vec::as_slice)
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_plays_every_frame_after_the_target() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut played = Vec::new();
        for i in 0..100u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            jb.handle_packet(now, 1000 + i * 160, &[i as u8]);
            if let Playout::Frame { payload, .. } = jb.poll_frame(now) {
                played.push(payload[0]);
            }
        }
        assert!(played.len() >= 95, "{}", played.len());
        assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(jb.stats().late, 0);
        assert_eq!(jb.stats().nominal_ms, 20);
    }

    #[test]
    fn reordered_packets_are_played_in_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = Vec::new();
        let order = [0u32, 2, 1, 3, 5, 4, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15];
        for k in 0..40u64 {
            let now = t0 + Duration::from_millis(k * 20);
            if let Some(&i) = order.get(k as usize) {
                jb.handle_packet(now, i * 160, &[i as u8]);
            }
            if let Playout::Frame { payload, .. } = jb.poll_frame(now) {
                out.push(payload[0]);
            }
        }
        let mut sorted = out.clone();
        sorted.sort_unstable();
        assert_eq!(out, sorted);
        assert!(out.len() >= 14, "{out:?}");
        assert_eq!(jb.stats().late, 0);
    }

    /// A sender that stops while held and resumes with its timestamps where it stopped
    /// (no jump over the pause): the buffer plays its packets again after
    /// [`RESYNC_LATE`] late ones, instead of counting the rest of the stream late.
    #[test]
    fn resumed_stream_with_a_stopped_clock_is_played_again() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut played: Vec<(u64, u8)> = Vec::new();
        for k in 0..200u64 {
            let now = t0 + Duration::from_millis(k * 20);
            // Packets 0..50, a one-second pause, then packets 50..150 at the old clock.
            let pkt = match k {
                0..50 => Some(k as u32),
                100..200 => Some(k as u32 - 50),
                _ => None,
            };
            if let Some(i) = pkt {
                jb.handle_packet(now, 7000 + i * 160, &[i as u8]);
            }
            if let Playout::Frame { payload, .. } = jb.poll_frame(now) {
                played.push((k, payload[0]));
            }
        }
        let after: Vec<u8> = played
            .iter()
            .filter(|(k, _)| *k >= 100)
            .map(|p| p.1)
            .collect();
        assert!(after.len() >= 90, "{} frames after the pause", after.len());
        assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
        assert_eq!(jb.stats().late, u64::from(RESYNC_LATE - 1));
    }

    /// A timestamp jump far ahead (a restarted sender) starts the timeline again too.
    #[test]
    fn forward_timestamp_jump_restarts_the_timeline() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut after = 0;
        for k in 0..100u64 {
            let now = t0 + Duration::from_millis(k * 20);
            let ts = if k < 50 {
                k as u32 * 160
            } else {
                3_000_000_000 + k as u32 * 160
            };
            jb.handle_packet(now, ts, &[k as u8]);
            if let Playout::Frame { payload, .. } = jb.poll_frame(now) {
                after += usize::from(payload[0] >= 50);
            }
        }
        assert!(after >= 45, "{after} frames after the jump");
    }
}
