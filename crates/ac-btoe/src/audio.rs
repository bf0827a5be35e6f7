//! The audio channel (sans-IO): encrypted, sequence-numbered datagrams on UDP
//! TcpPortNumber-1 (manual 4.11.1), and the playout buffer interface.
//!
//! Each direction has its own key from the session's key schedule; the 64-bit sequence
//! number is the AEAD nonce counter, so a key never encrypts twice under one nonce, and a
//! 128-packet sliding window drops replays and duplicates before they reach the buffer.
//! The header (marker, payload type, session id, sequence, timestamp) is associated data.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::crypto::Aead1;
use crate::error::{Error, WireError};
use crate::wire::{AudioHeader, PayloadType, MAX_AUDIO_PAYLOAD};

/// Protects outgoing audio of one session.
#[derive(Debug)]
pub struct AudioTx {
    key: Aead1,
    session_id: u32,
    seq: u64,
}

impl AudioTx {
    pub fn new(key: &[u8; 32], session_id: u32) -> Self {
        AudioTx {
            key: Aead1::new(key),
            session_id,
            seq: 0,
        }
    }

    /// One datagram for this frame.
    pub fn protect(
        &mut self,
        payload_type: PayloadType,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if payload.len() > MAX_AUDIO_PAYLOAD {
            return Err(Error::Wire(WireError::TooLong("audio payload")));
        }
        let h = AudioHeader {
            payload_type,
            session_id: self.session_id,
            seq: self.seq,
            timestamp,
        };
        let hdr = h.emit();
        let ct = self.key.seal(self.seq, &hdr, payload)?;
        self.seq += 1;
        let mut out = Vec::with_capacity(hdr.len() + ct.len());
        out.extend_from_slice(&hdr);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Packets sent.
    pub fn sent(&self) -> u64 {
        self.seq
    }
}

/// Sliding anti-replay window over 64-bit sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    top: Option<u64>,
    bits: u128,
}

impl ReplayWindow {
    /// Window size.
    pub const SIZE: u64 = 128;

    /// `true` if `seq` is new (not yet seen and not older than the window).
    pub fn check(&self, seq: u64) -> bool {
        match self.top {
            None => true,
            Some(t) if seq > t => true,
            Some(t) => {
                let d = t - seq;
                d < Self::SIZE && self.bits & (1u128 << d) == 0
            }
        }
    }

    /// Marks `seq` seen (call after authentication succeeded).
    pub fn accept(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(t) if seq > t => {
                let s = seq - t;
                self.bits = if s >= Self::SIZE { 0 } else { self.bits << s };
                self.bits |= 1;
                self.top = Some(seq);
            }
            Some(t) => {
                let d = t - seq;
                if d < Self::SIZE {
                    self.bits |= 1u128 << d;
                }
            }
        }
    }
}

/// A received, authenticated frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    pub payload_type: PayloadType,
    pub seq: u64,
    pub timestamp: u32,
    pub payload: Vec<u8>,
}

/// Checks incoming audio of one session.
#[derive(Debug)]
pub struct AudioRx {
    key: Aead1,
    session_id: u32,
    window: ReplayWindow,
    /// Datagrams dropped (bad tag, replay, other session).
    pub dropped: u64,
}

impl AudioRx {
    pub fn new(key: &[u8; 32], session_id: u32) -> Self {
        AudioRx {
            key: Aead1::new(key),
            session_id,
            window: ReplayWindow::default(),
            dropped: 0,
        }
    }

    /// Authenticates and decrypts a datagram.
    pub fn unprotect(&mut self, datagram: &[u8]) -> Result<AudioFrame, Error> {
        let r = self.unprotect_inner(datagram);
        if r.is_err() {
            self.dropped += 1;
        }
        r
    }

    fn unprotect_inner(&mut self, datagram: &[u8]) -> Result<AudioFrame, Error> {
        let (h, ct) = AudioHeader::parse(datagram)?;
        if h.session_id != self.session_id {
            return Err(Error::State("audio of another session"));
        }
        if !self.window.check(h.seq) {
            return Err(Error::Crypto("replayed or too old audio packet"));
        }
        let pt = self
            .key
            .open(h.seq, &datagram[..crate::wire::AUDIO_HEADER], ct)?;
        self.window.accept(h.seq);
        Ok(AudioFrame {
            payload_type: h.payload_type,
            seq: h.seq,
            timestamp: h.timestamp,
            payload: pt,
        })
    }
}

/// What the audio clock plays next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Nothing yet.
    Idle,
    /// This frame.
    Frame { timestamp: u32, payload: Vec<u8> },
    /// The frame of this timestamp is missing: conceal it.
    Conceal { timestamp: u32 },
}

/// A playout (jitter) buffer: frames in with their arrival time, one frame out per frame
/// period. [`FixedDelayBuffer`] is the minimal built-in one.
pub trait PlayoutBuffer: Send {
    /// An authenticated frame arrived at `now`.
    fn handle_packet(&mut self, now: Instant, timestamp: u32, payload: &[u8]);
    /// The frame to play now (call every frame period, from [`PlayoutBuffer::poll_timeout`]).
    fn poll_frame(&mut self, now: Instant) -> Playout;
    /// When to call [`PlayoutBuffer::poll_frame`] next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Frames that came after their slot, and concealment frames inserted to grow the delay.
    fn late_and_expanded(&self) -> (u64, u64);
}

/// ac-media's adaptive jitter buffer (delay target from a quantile of the arrival-delay
/// histogram, up to 300 ms, accelerate/expand by whole frames) as the BToE playout buffer:
/// the one the phone's RTP path uses.
impl PlayoutBuffer for ac_media::jitter::JitterBuffer {
    fn handle_packet(&mut self, now: Instant, timestamp: u32, payload: &[u8]) {
        ac_media::jitter::JitterBuffer::handle_packet(self, now, timestamp, payload)
    }

    fn poll_frame(&mut self, now: Instant) -> Playout {
        match ac_media::jitter::JitterBuffer::poll_frame(self, now) {
            ac_media::jitter::Playout::Idle => Playout::Idle,
            ac_media::jitter::Playout::Frame { timestamp, payload } => {
                Playout::Frame { timestamp, payload }
            }
            ac_media::jitter::Playout::Conceal { timestamp } => Playout::Conceal { timestamp },
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        ac_media::jitter::JitterBuffer::poll_timeout(self)
    }

    fn late_and_expanded(&self) -> (u64, u64) {
        let s = self.stats();
        (s.late, s.expanded)
    }
}

/// ac-media's jitter buffer for BToE audio (16 kHz L16 in 20 ms frames): adaptive when
/// `fixed_ms` is `None`, else a fixed playout delay of that many ms over the first packet.
pub fn media_buffer(fixed_ms: Option<u32>) -> ac_media::jitter::JitterBuffer {
    ac_media::jitter::JitterBuffer::new(ac_media::jitter::JitterConfig {
        clock_rate: 16_000,
        frame_ms: 20,
        fixed_ms,
        ..Default::default()
    })
}

/// A fixed-delay playout buffer: starts `delay` after the first frame arrived and then
/// plays one frame per period in timestamp order. A missing frame with later frames already
/// buffered is lost or reordered beyond the delay: it is concealed and skipped (and dropped
/// if it comes later). A missing frame with nothing buffered behind it is a delay spike: a
/// concealment frame is inserted without skipping it (expand), so a late burst is played
/// rather than dropped; the delay grows by one frame each time.
#[derive(Debug)]
pub struct FixedDelayBuffer {
    clock_rate: u32,
    frame: Duration,
    delay: Duration,
    base: Option<u32>,
    last_ext: i64,
    frames: BTreeMap<i64, Vec<u8>>,
    next_ts: Option<i64>,
    next_poll: Option<Instant>,
    /// Frames that arrived after their slot.
    pub late: u64,
    /// Concealment frames inserted on underrun (delay spikes).
    pub expanded: u64,
}

impl FixedDelayBuffer {
    pub fn new(clock_rate: u32, frame: Duration, delay: Duration) -> Self {
        FixedDelayBuffer {
            clock_rate,
            frame,
            delay,
            base: None,
            last_ext: 0,
            frames: BTreeMap::new(),
            next_ts: None,
            next_poll: None,
            late: 0,
            expanded: 0,
        }
    }

    fn units(&self) -> i64 {
        (u128::from(self.clock_rate) * self.frame.as_micros() / 1_000_000) as i64
    }

    fn extend(&mut self, ts: u32) -> i64 {
        let base = *self.base.get_or_insert(ts);
        let rel = i64::from(ts.wrapping_sub(base));
        let ext = [rel - (1 << 32), rel, rel + (1 << 32)]
            .into_iter()
            .min_by_key(|c| (c - self.last_ext).abs())
            .unwrap_or(rel);
        self.last_ext = self.last_ext.max(ext);
        ext
    }
}

impl PlayoutBuffer for FixedDelayBuffer {
    fn handle_packet(&mut self, now: Instant, timestamp: u32, payload: &[u8]) {
        let ext = self.extend(timestamp);
        if self.next_poll.is_none() {
            self.next_poll = Some(now + self.delay);
            self.next_ts = Some(ext);
        }
        let next = self.next_ts.unwrap_or(ext);
        if ext < next {
            self.late += 1;
            return;
        }
        // Bound memory: at most the delay plus one second ahead of the playout point.
        let ahead = i64::from(self.clock_rate) * (self.delay.as_millis() as i64 + 1000) / 1000;
        if ext - next > ahead {
            return;
        }
        self.frames.entry(ext).or_insert_with(|| payload.to_vec());
    }

    fn poll_frame(&mut self, now: Instant) -> Playout {
        let (Some(due), Some(next)) = (self.next_poll, self.next_ts) else {
            return Playout::Idle;
        };
        if now < due {
            return Playout::Idle;
        }
        self.next_poll = Some(due + self.frame);
        let ts = self.base.unwrap_or(0).wrapping_add(next as u32);
        if self.frames.is_empty() {
            // Underrun: wait for this frame rather than skip it.
            self.expanded += 1;
            return Playout::Conceal { timestamp: ts };
        }
        self.next_ts = Some(next + self.units());
        while let Some((&k, _)) = self.frames.first_key_value() {
            if k < next {
                self.frames.remove(&k);
            } else {
                break;
            }
        }
        match self.frames.remove(&next) {
            Some(payload) => Playout::Frame {
                timestamp: ts,
                payload,
            },
            None => Playout::Conceal { timestamp: ts },
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_poll
    }

    fn late_and_expanded(&self) -> (u64, u64) {
        (self.late, self.expanded)
    }
}

#[cfg(test)]
mod tests {

    /// BToE frames through ac-media's jitter buffer, adaptive and fixed, with seeded jitter
    /// up to 60 ms and reordering: every frame is played once, in timestamp order.
    #[test]
    fn ac_media_jitter_buffer_plays_every_frame_in_order() {
        for fixed in [None, Some(120)] {
            let mut buf: Box<dyn PlayoutBuffer> = Box::new(media_buffer(fixed));
            let t0 = Instant::now();
            let mut rng = 0x2545_f491_4f6c_dd1du64;
            let mut arrivals: Vec<(Duration, u32)> = (0..250u32)
                .map(|i| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (Duration::from_millis(u64::from(i) * 20 + rng % 60), i * 320)
                })
                .collect();
            arrivals.sort();
            let mut played = Vec::new();
            let mut next = 0;
            let mut now = t0;
            while now < t0 + Duration::from_secs(7) {
                while next < arrivals.len() && t0 + arrivals[next].0 <= now {
                    let ts = arrivals[next].1;
                    buf.handle_packet(now, ts, &ts.to_le_bytes());
                    next += 1;
                }
                if buf.poll_timeout().is_some_and(|t| t <= now) {
                    if let Playout::Frame { timestamp, payload } = buf.poll_frame(now) {
                        assert_eq!(payload, timestamp.to_le_bytes());
                        played.push(timestamp);
                    }
                }
                now += Duration::from_millis(1);
            }
            let (late, _) = buf.late_and_expanded();
            assert!(played.windows(2).all(|w| w[0] < w[1]), "{fixed:?}");
            assert_eq!(played.len() as u64 + late, 250, "{fixed:?}");
            assert!(late <= 5, "{fixed:?}: {late} late");
        }
    }

    use super::*;

    #[test]
    fn round_trip_and_replay() {
        let mut tx = AudioTx::new(&[1; 32], 7);
        let mut rx = AudioRx::new(&[1; 32], 7);
        let a = tx.protect(PayloadType::L16Wide, 0, b"abc").unwrap();
        let b = tx.protect(PayloadType::L16Wide, 320, b"def").unwrap();
        assert_eq!(rx.unprotect(&b).unwrap().payload, b"def");
        assert_eq!(rx.unprotect(&a).unwrap().payload, b"abc");
        assert!(rx.unprotect(&a).is_err(), "replay");
        let mut bad = b.clone();
        bad[25] ^= 1;
        assert!(rx.unprotect(&bad).is_err());
        let mut other = AudioRx::new(&[2; 32], 7);
        assert!(other.unprotect(&a).is_err());
    }

    #[test]
    fn window_slides() {
        let mut w = ReplayWindow::default();
        w.accept(1000);
        assert!(w.check(999));
        assert!(!w.check(1000 - 128));
        w.accept(999);
        assert!(!w.check(999));
        w.accept(5000);
        assert!(!w.check(1000));
        assert!(w.check(4999));
    }

    #[test]
    fn fixed_buffer_plays_in_order_and_conceals_gaps() {
        let t0 = Instant::now();
        let f = Duration::from_millis(20);
        let mut b = FixedDelayBuffer::new(16000, f, Duration::from_millis(40));
        b.handle_packet(t0, 100, b"a");
        b.handle_packet(t0, 100 + 640, b"c");
        b.handle_packet(t0, 100 + 320, b"b");
        assert_eq!(b.poll_frame(t0), Playout::Idle);
        let mut out = Vec::new();
        let mut now = t0 + Duration::from_millis(40);
        for _ in 0..4 {
            out.push(b.poll_frame(now));
            now += f;
        }
        assert_eq!(
            out,
            vec![
                Playout::Frame {
                    timestamp: 100,
                    payload: b"a".to_vec()
                },
                Playout::Frame {
                    timestamp: 420,
                    payload: b"b".to_vec()
                },
                Playout::Frame {
                    timestamp: 740,
                    payload: b"c".to_vec()
                },
                Playout::Conceal { timestamp: 1060 },
            ]
        );
        b.handle_packet(now, 100, b"late");
        assert_eq!(b.late, 1);
    }
}
