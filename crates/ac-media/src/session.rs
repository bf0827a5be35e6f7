//! The sans-IO media session (manual 3.3.14, Appendix D): PCM frames and packets in, packets
//! and PCM frames out, every call with `now`.
//!
//! - [`MediaSession::handle_frame`]: one ptime frame of microphone PCM (8 kHz for G.711 and
//!   G.729, 16 kHz for G.722, the SILK rate for SILK) -> an RTP packet (or a CN SID or nothing
//!   under DTX), SRTP-protected when keys are set.
//! - [`MediaSession::handle_rtp`] / [`MediaSession::handle_rtcp`]: received datagrams.
//! - [`MediaSession::poll_frame`]: one ptime frame for the speaker (jitter buffer, decoder,
//!   PLC, comfort noise; SILK: its own PLC and in-band FEC from the next buffered packets).
//! - [`MediaSession::send_dtmf`]: an RFC 4733 digit.
//! - [`MediaSession::poll_transmit`], [`MediaSession::poll_event`],
//!   [`MediaSession::handle_timeout`], [`MediaSession::poll_timeout`].
//!
//! Also the RTP port range from the base port and the DSCP byte from `voip/media/media_tos`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ac_cfg::Config;

use crate::cng::{CnPayload, ComfortNoise, Dtx, DtxDecision};
use crate::dtmf::{event_for_digit, event_packets, DigitEvent, EventReceiver};
use crate::error::PacketError;
use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::plc::Plc;
use crate::rtcp::{
    self, ReceiverReport, ReportBlock, RtcpPacket, SdesChunk, SenderReport, VoipMetrics,
};
use crate::rtp::{JitterEstimator, RtpPacket, RtpView, SequenceTracker};
use crate::srtp::{MasterKey, SrtpError, SrtpSession, Suite};
use crate::xr::{burst_gap, PacketFate, VqInputs, VqMode, VqReport, VqReporter, GMIN};
use crate::{g711, g722, g729, silk};

/// RTCP report interval (RFC 3550 6.2 minimum of 5 s, as the manual's XR interval).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// Audio codecs (RFC 3551 static payload types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law, PT 0.
    Pcmu,
    /// G.711 A-law, PT 8.
    Pcma,
    /// G.722 64 kbit/s, PT 9, 16 kHz audio with an 8000 Hz RTP clock (RFC 3551 4.5.2).
    G722,
    /// G.729 Annex A, PT 18 (RFC 3551 4.5.6), 10-byte frames per 10 ms; with `annex_b`
    /// (SDP `a=fmtp:18 annexb=yes`, RFC 4856) the codec's own VAD/DTX sends 2-byte SID
    /// frames and nothing in silence.
    G729 {
        /// Annex B VAD/DTX/CNG negotiated.
        annex_b: bool,
    },
    /// SILK (SILK_8000 / SILK_16000 of Skype for Business), a dynamic payload type with the
    /// RTP clock at the sampling rate (draft-spittka-silk-payload-format 4); one packet of
    /// 1..5 20 ms frames per packet time; in-band FEC turns on when the far end reports loss.
    Silk {
        /// Sampling rate (and RTP clock rate): 8000 or 16000 (12000 also works).
        rate: u32,
        /// The negotiated dynamic payload type.
        pt: u8,
    },
}

impl Codec {
    /// Static payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::G729 { .. } => 18,
            Codec::Silk { pt, .. } => pt,
        }
    }

    /// G.729 from its SDP fmtp parameters (RFC 4856 2.1.9: `annexb`, default yes).
    pub fn g729_from_fmtp(fmtp: &str) -> Codec {
        let annex_b = !fmtp.split(';').any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("annexb=no")
        });
        Codec::G729 { annex_b }
    }

    /// The `a=fmtp` parameters to offer for this codec, if any.
    pub fn fmtp(self) -> Option<&'static str> {
        match self {
            Codec::G729 { annex_b: true } => Some("annexb=yes"),
            Codec::G729 { annex_b: false } => Some("annexb=no"),
            _ => None,
        }
    }
    /// PCM sample rate.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::G722 => 16_000,
            Codec::Silk { rate, .. } => rate,
            _ => 8000,
        }
    }
    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Silk { rate, .. } => rate,
            _ => 8000,
        }
    }

    /// Whether `ptime_ms` is a packet time this codec can send: 10 or 20 ms, and for SILK
    /// 20..=100 ms in 20 ms steps (1..5 frames per packet).
    pub fn supports_ptime(self, ptime_ms: u32) -> bool {
        match self {
            Codec::Silk { .. } => (20..=100).contains(&ptime_ms) && ptime_ms % 20 == 0,
            _ => ptime_ms == 10 || ptime_ms == 20,
        }
    }
}

/// Session configuration.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Codec.
    pub codec: Codec,
    /// Packet time, 10 or 20 ms.
    pub ptime_ms: u32,
    /// Our SSRC (random per session, RFC 3550 8.1).
    pub ssrc: u32,
    /// Initial sequence number and timestamp (random, RFC 3550 5.1).
    pub initial_seq: u16,
    /// Initial RTP timestamp.
    pub initial_ts: u32,
    /// telephone-event payload type (RFC 4733), if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// CN payload type (13), if negotiated; enables DTX when `vad` is set.
    pub cn_pt: Option<u8>,
    /// Voice activity detection / silence suppression.
    pub vad: bool,
    /// `voip/audio/gain/dtmf_tone_signal_level` (1..=32): RFC 4733 volume (-dBm0).
    pub dtmf_level: u8,
    /// SRTP suite and keys (ours, the peer's), if negotiated.
    pub srtp: Option<(Suite, MasterKey, MasterKey)>,
    /// `voip/rtcp_xr/vq_statistics/mode`.
    pub xr_mode: VqMode,
    /// SDES CNAME.
    pub cname: String,
    /// Wall-clock time (since the Unix epoch) at the `now` given to [`MediaSession::new`]:
    /// the NTP timestamps of sender reports count from it (the session reads no clock).
    pub wallclock: Duration,
}

/// Which socket a datagram goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// RTP port.
    Rtp,
    /// RTCP port (RTP port + 1).
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Socket.
    pub channel: Channel,
    /// Bytes.
    pub data: Vec<u8>,
}

/// Events for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A DTMF digit started at the far end (RFC 4733).
    Dtmf(char),
    /// A voice-quality report (EVENTS_ONLY and REMOTE_AND_EVENTS).
    VoiceQuality(VqReport),
    /// A reception report about our stream from the far end (RTCP SR/RR, RFC 3550 6.4).
    Report(RemoteReport),
    /// RTCP-XR VoIP metrics the far end sent about our stream (RFC 3611 4.7).
    RemoteVoipMetrics(VoipMetrics),
    /// The far end sent RTCP BYE.
    Bye,
}

/// What the far end reports about the packets we send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteReport {
    /// Fraction of our packets lost since its previous report (0.0..=1.0).
    pub fraction_lost: f64,
    /// Cumulative number of our packets lost.
    pub cumulative_lost: i32,
    /// Its interarrival jitter estimate, ms.
    pub jitter_ms: f64,
    /// Round-trip time from LSR/DLSR (RFC 3550 6.4.1), when the block echoes one of our SRs.
    pub round_trip: Option<Duration>,
}

/// Session errors.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Malformed packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// SRTP failure (authentication, replay, keys).
    #[error(transparent)]
    Srtp(#[from] SrtpError),
    /// A PCM frame of the wrong length.
    #[error("frame of {got} samples, expected {want}")]
    FrameLength {
        /// Received.
        got: usize,
        /// Expected.
        want: usize,
    },
    /// A digit that RFC 4733 cannot carry, or no telephone-event payload type.
    #[error("cannot send DTMF {0:?}")]
    Dtmf(char),
    /// Packet from a payload type not negotiated.
    #[error("unexpected payload type {0}")]
    PayloadType(u8),
    /// A packet carrying our own SSRC (loop or collision, RFC 3550 8.2).
    #[error("packet with our own SSRC {0:#010x}")]
    OwnSsrc(u32),
    /// Packet time other than 10 or 20 ms.
    #[error("unsupported ptime {0} ms")]
    Ptime(u32),
    /// The session was closed.
    #[error("session closed")]
    Closed,
}

/// RTP/RTCP port pairs from the base port (`voip/media/rtp_port`, default 50020): RTP on
/// even ports, RTCP on the next odd one (RFC 3550 11).
#[derive(Debug, Clone)]
pub struct PortRange {
    base: u16,
    pairs: u16,
    used: Vec<bool>,
}

/// Default RTP base port (manual 3.3.14.3, Table 3-31). The manual gives the range but no
/// configuration-file key for it, so the schema has none and this is the only place it is
/// written.
pub const DEFAULT_RTP_BASE_PORT: u16 = 50020;

impl PortRange {
    /// The manual's range from a base port: base..=base+120, i.e. 60 RTP/RTCP pairs
    /// (Table 3-31: 50020-50140 for the default base).
    pub fn from_base(base: u16) -> Self {
        Self::new(base, 60)
    }

    /// `pairs` pairs starting at `base` (rounded up to even).
    pub fn new(base: u16, pairs: u16) -> Self {
        let base = base + base % 2;
        let pairs = pairs.min((u16::MAX - base) / 2);
        PortRange {
            base,
            pairs,
            used: vec![false; usize::from(pairs)],
        }
    }
    /// Allocates a pair: (RTP, RTCP).
    pub fn allocate(&mut self) -> Option<(u16, u16)> {
        let i = self.used.iter().position(|u| !u)?;
        self.used[i] = true;
        let p = self.base + 2 * i as u16;
        Some((p, p + 1))
    }
    /// Returns a pair.
    pub fn release(&mut self, rtp_port: u16) {
        if rtp_port >= self.base && (rtp_port - self.base) % 2 == 0 {
            let i = usize::from((rtp_port - self.base) / 2);
            if i < self.used.len() {
                self.used[i] = false;
            }
        }
    }
    /// Number of pairs.
    pub fn len(&self) -> u16 {
        self.pairs
    }
    /// No pairs at all.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }
}

/// The DS byte from `voip/media/media_tos`: decimal (`184`) or hex (`0xb8`), 0..=255.
pub fn parse_media_tos(s: &str) -> Option<u8> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Media parameters of the configuration file, defaults from [`ac_cfg::schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaSettings {
    /// DS byte (DSCP << 2 | ECN) of outgoing RTP/RTCP, `voip/media/media_tos`.
    pub tos: u8,
    /// `voip/rtcp_xr/vq_statistics/mode`.
    pub xr_mode: VqMode,
    /// `voip/audio/gain/dtmf_tone_signal_level` (-dBm0).
    pub dtmf_level: u8,
    /// RTP base port (manual 3.3.14.3).
    pub rtp_base_port: u16,
}

/// A configuration value the media layer cannot use.
#[derive(Debug, thiserror::Error)]
#[error("bad value {value:?} for {key}")]
pub struct SettingsError {
    /// Parameter key.
    pub key: &'static str,
    /// Its value.
    pub value: String,
}

const KEY_TOS: &str = "voip/media/media_tos";
const KEY_XR: &str = "voip/rtcp_xr/vq_statistics/mode";
const KEY_DTMF: &str = "voip/audio/gain/dtmf_tone_signal_level";

impl MediaSettings {
    /// The values in effect in `cfg` (its explicit values, else the schema defaults).
    pub fn from_config(cfg: &Config) -> Result<Self, SettingsError> {
        Self::from_lookup(|k| cfg.get_raw(k).map(str::to_owned))
    }

    /// The factory defaults, straight from the schema.
    pub fn defaults() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| match ac_cfg::Schema::get().lookup(k, None) {
            ac_cfg::schema::Lookup::Found(def, _) => Some(def.default.to_owned()),
            _ => None,
        })
    }

    fn from_lookup(get: impl Fn(&'static str) -> Option<String>) -> Result<Self, SettingsError> {
        let value = |key: &'static str| {
            get(key).ok_or(SettingsError {
                key,
                value: String::new(),
            })
        };
        let bad = |key: &'static str, value: String| SettingsError { key, value };
        let t = value(KEY_TOS)?;
        let tos = parse_media_tos(&t).ok_or_else(|| bad(KEY_TOS, t))?;
        let x = value(KEY_XR)?;
        let xr_mode = VqMode::parse(&x).ok_or_else(|| bad(KEY_XR, x))?;
        let d = value(KEY_DTMF)?;
        let dtmf_level = d
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|l| (1..=32).contains(l))
            .ok_or_else(|| bad(KEY_DTMF, d))?;
        Ok(MediaSettings {
            tos,
            xr_mode,
            dtmf_level,
            rtp_base_port: DEFAULT_RTP_BASE_PORT,
        })
    }

    /// The DSCP (upper six bits of the DS byte, RFC 2474 3).
    pub fn dscp(&self) -> u8 {
        self.tos >> 2
    }
}

/// Receive state of the far end's stream (RFC 3550 A.1, A.3, A.8).
struct Remote {
    ssrc: u32,
    seq: SequenceTracker,
    jitter: JitterEstimator,
    /// A packet arrived since the last report (RFC 3550 6.4: report blocks only then).
    fresh: bool,
}

/// The media session.
pub struct MediaSession {
    cfg: MediaConfig,
    frame_samples: usize,
    ts_step: u32,
    seq: u16,
    ts: u32,
    payload_buf: Vec<u8>,
    enc722: g722::Encoder,
    dec722: g722::Decoder,
    enc729: g729::Encoder,
    dec729: g729::Decoder,
    /// The last G.729 frame decoded was a SID: concealed frames are comfort noise.
    g729_cng: bool,
    /// SILK encoder and decoder (SILK sessions only).
    silk: Option<(silk::Encoder, silk::Decoder)>,
    srtp: Option<SrtpSession>,
    dtx: Option<Dtx>,
    marker_next: bool,
    jb: JitterBuffer,
    plc: Plc,
    cn: ComfortNoise,
    in_cn: bool,
    remote: Option<Remote>,
    epoch: Instant,
    dtmf_rx: EventReceiver,
    dtmf_active: bool,
    dtmf_tx: VecDeque<(Instant, RtpOut)>,
    sent_packets: u32,
    sent_octets: u32,
    last_sr: Option<(u32, Instant)>,
    round_trip: Option<Duration>,
    next_rtcp: Instant,
    vq: VqReporter,
    fates: Vec<PacketFate>,
    late_reported: u64,
    closed: bool,
    out: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
}

struct RtpOut {
    marker: bool,
    pt: u8,
    ts: u32,
    payload: Vec<u8>,
}

/// Bound on queued RFC 4733 packets (a few digits' worth; more is a caller bug).
const MAX_DTMF_QUEUE: usize = 256;
/// Bound on undelivered events and datagrams; the oldest are dropped beyond it.
const MAX_QUEUE: usize = 1024;
/// Bound on per-frame fates kept for one RTCP-XR interval.
const MAX_FATES: usize = 1 << 16;

impl MediaSession {
    /// A session starting at `now`.
    pub fn new(cfg: MediaConfig, now: Instant) -> Result<Self, MediaError> {
        if !cfg.codec.supports_ptime(cfg.ptime_ms) {
            return Err(MediaError::Ptime(cfg.ptime_ms));
        }
        let silk = match cfg.codec {
            Codec::Silk { rate, .. } => {
                let mut ec = silk::EncoderConfig::new(rate);
                ec.packet_ms = cfg.ptime_ms;
                // In-band FEC is armed; it switches on once RTCP reports loss.
                ec.fec = true;
                let enc = silk::Encoder::new(ec).map_err(|_| MediaError::Ptime(cfg.ptime_ms))?;
                let dec = silk::Decoder::new(rate).map_err(|_| MediaError::Ptime(cfg.ptime_ms))?;
                Some((enc, dec))
            }
            _ => None,
        };
        let frame_samples = (cfg.codec.sample_rate() * cfg.ptime_ms / 1000) as usize;
        let ts_step = cfg.codec.clock_rate() * cfg.ptime_ms / 1000;
        let srtp = match &cfg.srtp {
            Some((suite, ours, theirs)) => Some(SrtpSession::new(*suite, ours, theirs)?),
            None => None,
        };
        let jb = JitterBuffer::new(JitterConfig {
            clock_rate: cfg.codec.clock_rate(),
            frame_ms: cfg.ptime_ms,
            ..Default::default()
        });
        Ok(MediaSession {
            frame_samples,
            ts_step,
            seq: cfg.initial_seq,
            ts: cfg.initial_ts,
            payload_buf: Vec::with_capacity(frame_samples),
            enc722: g722::Encoder::new(),
            dec722: g722::Decoder::new(g722::Mode::Mode1),
            enc729: g729::Encoder::new(matches!(cfg.codec, Codec::G729 { annex_b: true })),
            dec729: g729::Decoder::new(),
            g729_cng: false,
            silk,
            srtp,
            // G.729 Annex B has its own DTX (SID frames in the G.729 payload, RFC 3551 4.5.6).
            dtx: (cfg.vad
                && cfg.cn_pt.is_some()
                && !matches!(cfg.codec, Codec::G729 { annex_b: true }))
            .then(|| Dtx::new(cfg.ptime_ms)),
            marker_next: true,
            jb,
            plc: Plc::new(cfg.codec.sample_rate()),
            cn: ComfortNoise::new(),
            in_cn: false,
            remote: None,
            epoch: now,
            dtmf_rx: EventReceiver::default(),
            dtmf_active: false,
            dtmf_tx: VecDeque::new(),
            sent_packets: 0,
            sent_octets: 0,
            last_sr: None,
            round_trip: None,
            // RFC 3550 6.2 allows (MAY) the first report after half the minimum interval;
            // we wait the full 5 s so that RTCP-XR (every 5 s, manual 3.3.14.4) rides on
            // every compound packet.
            next_rtcp: now + RTCP_INTERVAL,
            vq: VqReporter::new(cfg.xr_mode, now),
            fates: Vec::new(),
            late_reported: 0,
            closed: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
            cfg,
        })
    }

    /// Samples per frame at the codec's PCM rate.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.cfg.ssrc
    }

    /// The far end's SSRC, once a packet of it arrived.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote.as_ref().map(|r| r.ssrc)
    }

    /// Jitter-buffer counters.
    pub fn jitter_stats(&self) -> crate::jitter::JitterStats {
        self.jb.stats()
    }

    fn push_out(&mut self, t: Transmit) {
        if self.out.len() >= MAX_QUEUE {
            self.out.pop_front();
        }
        self.out.push_back(t);
    }

    fn push_fate(&mut self, f: PacketFate) {
        // One report interval holds 500 frames at 10 ms; the bound only matters when the
        // caller never runs the timers.
        if self.fates.len() < MAX_FATES {
            self.fates.push(f);
        }
    }

    fn push_event(&mut self, e: MediaEvent) {
        if self.events.len() >= MAX_QUEUE {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn send_rtp(
        &mut self,
        marker: bool,
        pt: u8,
        ts: u32,
        payload: &[u8],
    ) -> Result<(), MediaError> {
        let pkt = RtpPacket {
            marker,
            payload_type: pt,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.cfg.ssrc,
            csrcs: vec![],
            extension: None,
            payload,
            padding: 0,
        };
        let mut data = pkt.to_vec()?;
        if let Some(s) = &mut self.srtp {
            data = s.protect_rtp(&data)?;
        }
        // RFC 3550 5.1: the sequence number increments by one for each RTP data packet.
        self.seq = self.seq.wrapping_add(1);
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        self.push_out(Transmit {
            channel: Channel::Rtp,
            data,
        });
        Ok(())
    }

    /// One frame of microphone PCM (ptime long at the codec's PCM rate).
    pub fn handle_frame(&mut self, now: Instant, pcm: &[i16]) -> Result<(), MediaError> {
        self.handle_timeout(now)?;
        if pcm.len() != self.frame_samples {
            return Err(MediaError::FrameLength {
                got: pcm.len(),
                want: self.frame_samples,
            });
        }
        if self.closed {
            return Err(MediaError::Closed);
        }
        // RFC 3550 5.1: the timestamp advances with the sampling clock whether or not a
        // packet is sent for the frame (DTX, DTMF).
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(self.ts_step);
        if !self.dtmf_tx.is_empty() {
            // RFC 4733 2.5.1.2: the digit's audio is not sent alongside its events.
            self.marker_next = true;
            return Ok(());
        }
        if let Some(dtx) = &mut self.dtx {
            match dtx.process(pcm) {
                DtxDecision::Audio => {}
                DtxDecision::Sid(p) => {
                    let mut payload = std::mem::take(&mut self.payload_buf);
                    payload.clear();
                    p.emit(&mut payload)?;
                    self.marker_next = true;
                    let pt = self.cfg.cn_pt.unwrap_or(13);
                    let r = self.send_rtp(false, pt, ts, &payload);
                    self.payload_buf = payload;
                    return r;
                }
                DtxDecision::Nothing => return Ok(()),
            }
        }
        let mut payload = std::mem::take(&mut self.payload_buf);
        payload.clear();
        let mut ends_in_sid = false;
        match self.cfg.codec {
            Codec::Pcma => {
                payload.resize(pcm.len(), 0);
                g711::encode_alaw(pcm, &mut payload);
            }
            Codec::Pcmu => {
                payload.resize(pcm.len(), 0);
                g711::encode_ulaw(pcm, &mut payload);
            }
            Codec::G722 => self.enc722.encode(pcm, &mut payload),
            // Encoded below (needs the encoder borrowed mutably).
            Codec::Silk { .. } => {}
            Codec::G729 { .. } => {
                // Speech frames first, a SID only last (RFC 3551 4.5.6); a SID followed by
                // speech within one packet is superseded by the speech.
                let mut sid = None;
                for f in pcm.chunks_exact(g729::FRAME_SAMPLES) {
                    let mut frame = [0i16; g729::FRAME_SAMPLES];
                    frame.copy_from_slice(f);
                    match self.enc729.encode(&frame) {
                        g729::Encoded::Speech(b) => {
                            sid = None;
                            payload.extend_from_slice(&b);
                        }
                        g729::Encoded::Sid(b) => sid = Some(b),
                        g729::Encoded::NoTx => {}
                    }
                }
                if let Some(b) = sid {
                    payload.extend_from_slice(&b);
                    ends_in_sid = true;
                } else if payload.is_empty() {
                    // Annex B: nothing to send; the next speech starts a talkspurt.
                    self.marker_next = true;
                    self.payload_buf = payload;
                    return Ok(());
                }
            }
        }
        if let (Codec::Silk { .. }, Some((enc, _))) = (self.cfg.codec, self.silk.as_mut()) {
            // One packet per packet time (the encoder gathers ptime / 20 ms frames).
            let n = enc.frame_samples();
            for f in pcm.chunks(n) {
                let mut frame;
                let f = if f.len() == n {
                    f
                } else {
                    frame = f.to_vec();
                    frame.resize(n, 0);
                    &frame[..]
                };
                if let Ok(Some(p)) = enc.encode(f) {
                    payload.extend_from_slice(&p);
                }
            }
            if payload.is_empty() {
                self.payload_buf = payload;
                return Ok(());
            }
        }
        // RFC 3551 4.1: the marker is set on the first packet of a talkspurt (a lone SID
        // starts none).
        let marker = if payload.len() == g729::SID_BYTES && ends_in_sid {
            false
        } else {
            std::mem::take(&mut self.marker_next)
        };
        if ends_in_sid {
            self.marker_next = true;
        }
        let r = self.send_rtp(marker, self.cfg.codec.payload_type(), ts, &payload);
        self.payload_buf = payload;
        r
    }

    /// One frame time passes with nothing to send (our side on hold, a recvonly/inactive
    /// stream): the RTP timestamp still advances with the sampling clock (RFC 3550 5.1) so
    /// the far end's playout stays aligned when sending resumes, and the next packet starts
    /// a talkspurt (marker, RFC 3551 4.1), as after DTX silence.
    pub fn skip_frame(&mut self, now: Instant) -> Result<(), MediaError> {
        self.handle_timeout(now)?;
        if self.closed {
            return Err(MediaError::Closed);
        }
        self.ts = self.ts.wrapping_add(self.ts_step);
        self.marker_next = true;
        Ok(())
    }

    /// Sends a digit as RFC 4733 events of `duration_ms`, after any digit still queued.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        let pt = self.cfg.telephone_event_pt.ok_or(MediaError::Dtmf(digit))?;
        let ev = event_for_digit(digit).ok_or(MediaError::Dtmf(digit))?;
        if self.closed {
            return Err(MediaError::Closed);
        }
        if self.dtmf_tx.len() >= MAX_DTMF_QUEUE {
            return Err(MediaError::Dtmf(digit));
        }
        let duration_ms = duration_ms.clamp(40, 5000);
        // A queued digit starts 50 ms after the previous one ends; its timestamp is the
        // media time of that start.
        let start = self
            .dtmf_tx
            .back()
            .map_or(now, |(t, _)| (*t + Duration::from_millis(50)).max(now));
        let ahead = start.saturating_duration_since(now).as_millis() as u32;
        let ts = self.ts.wrapping_add(ahead.saturating_mul(8));
        // RFC 4733 2.3.4: volume 0..63 (-dBm0); the manual's level is 1..32.
        let volume = self.cfg.dtmf_level.min(63);
        for p in event_packets(ev, volume, duration_ms, 50, 8000, ts) {
            let mut payload = Vec::with_capacity(4);
            p.payload.emit(&mut payload)?;
            self.dtmf_tx.push_back((
                start + Duration::from_millis(u64::from(p.send_at_ms)),
                RtpOut {
                    marker: p.marker,
                    pt,
                    ts: p.timestamp,
                    payload,
                },
            ));
        }
        self.handle_timeout(now)
    }

    /// A datagram from the RTP port.
    pub fn handle_rtp(&mut self, now: Instant, data: &[u8]) -> Result<(), MediaError> {
        // Check the clear header first: SRTP authenticates the whole packet, but a datagram
        // too short for an RTP header is refused before any crypto.
        crate::rtp::checked_header_len(data)?;
        let plain;
        let data = match &mut self.srtp {
            Some(s) => {
                plain = s.unprotect_rtp(data)?;
                &plain[..]
            }
            None => data,
        };
        let v = RtpView::new_checked(data)?;
        if v.ssrc() == self.cfg.ssrc {
            // Our own packets looped back, or an SSRC collision (RFC 3550 8.2).
            return Err(MediaError::OwnSsrc(v.ssrc()));
        }
        let pt = v.payload_type();
        let audio = pt == self.cfg.codec.payload_type();
        let cn = Some(pt) == self.cfg.cn_pt;
        let event = Some(pt) == self.cfg.telephone_event_pt;
        if !(audio || cn || event) {
            return Err(MediaError::PayloadType(pt));
        }
        // A new SSRC from the far end (it restarted): new receive state (RFC 3550 8.2, A.1).
        if self.remote.as_ref().is_none_or(|r| r.ssrc != v.ssrc()) {
            self.remote = Some(Remote {
                ssrc: v.ssrc(),
                seq: SequenceTracker::new(v.sequence()),
                jitter: JitterEstimator::default(),
                fresh: false,
            });
        }
        let arrival = (now.saturating_duration_since(self.epoch).as_secs_f64()
            * f64::from(self.cfg.codec.clock_rate())) as u64;
        if let Some(r) = &mut self.remote {
            r.seq.update(v.sequence());
            r.fresh = true;
            // RFC 3550 6.4.1 / A.8: jitter from audio packets only (event packets repeat
            // their timestamp, RFC 4733 2.5.1.2).
            if audio {
                r.jitter.update(v.timestamp(), arrival);
            }
        }
        if audio {
            self.in_cn = false;
            self.jb.handle_packet(now, v.timestamp(), v.payload());
        } else if cn {
            self.cn.update(&CnPayload::parse(v.payload())?);
            self.in_cn = true;
        } else {
            for e in self.dtmf_rx.handle(v.timestamp(), v.payload())? {
                match e {
                    DigitEvent::Start { event, .. } => {
                        self.dtmf_active = true;
                        if let Some(c) = crate::dtmf::digit_for_event(event) {
                            self.push_event(MediaEvent::Dtmf(c));
                        }
                    }
                    DigitEvent::End { .. } => self.dtmf_active = false,
                }
            }
        }
        Ok(())
    }

    /// Middle 32 bits of the NTP time at `now` (RFC 3550 4, 6.4.1).
    fn ntp(&self, now: Instant) -> u64 {
        rtcp::ntp_from_unix(self.cfg.wallclock + now.saturating_duration_since(self.epoch))
    }

    /// A datagram from the RTCP port.
    pub fn handle_rtcp(&mut self, now: Instant, data: &[u8]) -> Result<(), MediaError> {
        rtcp::RtcpHeader::parse(data)?;
        let plain;
        let data = match &mut self.srtp {
            Some(s) => {
                plain = s.unprotect_rtcp(data)?;
                &plain[..]
            }
            None => data,
        };
        let now_mid = (self.ntp(now) >> 16) as u32;
        for p in rtcp::parse_compound(data)? {
            let (sender, blocks) = match p {
                RtcpPacket::SenderReport(sr) => {
                    // LSR is the middle 32 bits of the SR's NTP timestamp (RFC 3550 6.4.1).
                    self.last_sr = Some(((sr.ntp >> 16) as u32, now));
                    (sr.ssrc, sr.reports)
                }
                RtcpPacket::ReceiverReport(rr) => (rr.ssrc, rr.reports),
                RtcpPacket::Xr(xr) => {
                    for b in xr.blocks {
                        if let rtcp::XrBlock::VoipMetrics(m) = b {
                            if m.ssrc == self.cfg.ssrc {
                                self.push_event(MediaEvent::RemoteVoipMetrics(m));
                            }
                        }
                    }
                    continue;
                }
                RtcpPacket::Bye(b) => {
                    if self
                        .remote
                        .as_ref()
                        .is_none_or(|r| b.ssrcs.contains(&r.ssrc))
                    {
                        self.push_event(MediaEvent::Bye);
                    }
                    continue;
                }
                _ => continue,
            };
            if sender == self.cfg.ssrc {
                return Err(MediaError::OwnSsrc(sender));
            }
            let ours = self.cfg.ssrc;
            for b in blocks.iter().filter(|b| b.ssrc == ours) {
                // RFC 3550 6.4.1: RTT = A - LSR - DLSR, in 1/65536 s; LSR 0 means no SR yet.
                let round_trip = (b.last_sr != 0)
                    .then(|| {
                        now_mid
                            .wrapping_sub(b.last_sr)
                            .wrapping_sub(b.delay_since_last_sr)
                    })
                    .filter(|d| *d < 60 << 16)
                    .map(|d| Duration::from_secs_f64(f64::from(d) / 65536.0));
                if round_trip.is_some() {
                    self.round_trip = round_trip;
                }
                if let Some((enc, _)) = self.silk.as_mut() {
                    // The far end's loss steers SILK's in-band FEC and LTP scaling.
                    let perc = (u32::from(b.fraction_lost) * 100 / 256) as u8;
                    enc.set_packet_loss(true, perc);
                }
                let rep = RemoteReport {
                    fraction_lost: f64::from(b.fraction_lost) / 256.0,
                    cumulative_lost: b.cumulative_lost,
                    jitter_ms: f64::from(b.jitter) * 1000.0
                        / f64::from(self.cfg.codec.clock_rate()),
                    round_trip,
                };
                self.push_event(MediaEvent::Report(rep));
            }
        }
        Ok(())
    }

    /// One frame for the speaker (call every ptime): jitter buffer, decoder, PLC, comfort
    /// noise.
    pub fn poll_frame(&mut self, now: Instant) -> Vec<i16> {
        let mut frame = vec![0i16; self.frame_samples];
        self.poll_frame_into(now, &mut frame);
        frame
    }

    /// [`Self::poll_frame`] into a caller's buffer of [`Self::frame_samples`] samples
    /// (shorter or longer buffers get the first `min` samples).
    pub fn poll_frame_into(&mut self, now: Instant, frame: &mut [i16]) {
        let n = self.frame_samples.min(frame.len());
        let frame = &mut frame[..n];
        frame.fill(0);
        let expanded = self.jb.stats().expanded;
        match self.jb.poll_frame(now) {
            Playout::Idle => {}
            Playout::Frame { payload, .. } => {
                match self.cfg.codec {
                    Codec::Pcmu => g711::decode_ulaw(&payload[..payload.len().min(n)], frame),
                    Codec::Pcma => g711::decode_alaw(&payload[..payload.len().min(n)], frame),
                    Codec::G722 => {
                        let m = payload.len().min(n / 2);
                        self.dec722.decode_into(&payload[..m], frame);
                    }
                    Codec::G729 { .. } => {
                        // A malformed payload plays as silence; frames beyond the packet
                        // time are ignored, missing ones continue comfort noise or repeat
                        // the decoder's state.
                        let frames = g729::split_payload(&payload).unwrap_or_default();
                        let mut it = frames.iter();
                        for out in frame.chunks_exact_mut(g729::FRAME_SAMPLES) {
                            let mut o = [0i16; g729::FRAME_SAMPLES];
                            match it.next() {
                                Some((kind, f)) => {
                                    let _ = self.dec729.decode_bytes(f, &mut o);
                                    self.g729_cng = *kind == g729::FrameKind::Sid;
                                }
                                None if self.g729_cng => {
                                    self.dec729.decode(g729::DecoderInput::NoTx, &mut o);
                                }
                                None => {}
                            }
                            out.copy_from_slice(&o);
                        }
                    }
                    Codec::Silk { .. } => {
                        if let Some((_, dec)) = self.silk.as_mut() {
                            // A corrupt payload gives its good frames and concealment.
                            let mut out = Vec::with_capacity(n);
                            let _ = dec.decode(&payload, &mut out);
                            let m = out.len().min(n);
                            frame[..m].copy_from_slice(&out[..m]);
                        }
                    }
                }
                self.plc.good_frame(frame);
                self.push_fate(PacketFate::Received);
            }
            Playout::Conceal { .. } => {
                if self.g729_cng {
                    // G.729 Annex B: no packets between SIDs; comfort noise continues.
                    for out in frame.chunks_exact_mut(g729::FRAME_SAMPLES) {
                        let mut o = [0i16; g729::FRAME_SAMPLES];
                        self.dec729.decode(g729::DecoderInput::NoTx, &mut o);
                        out.copy_from_slice(&o);
                    }
                } else if self.in_cn {
                    // RFC 3389 4: noise at the level of the last SID until speech resumes.
                    self.cn.fill(frame);
                } else if self.dtmf_active {
                    // The sender stopped audio for a digit (RFC 4733 2.5.1.2): not a loss.
                } else if let Some((_, dec)) = self.silk.as_mut() {
                    // SILK: a lost packet is rebuilt from its LBRR copy in the next (or the
                    // one after) buffered packet when the sender uses in-band FEC, else the
                    // decoder's own concealment runs (also for jitter-buffer expansion).
                    let mut out = Vec::with_capacity(n);
                    let expansion = self.jb.stats().expanded != expanded;
                    if expansion {
                        dec.conceal(&mut out);
                    } else {
                        let next = self.jb.peek_ahead(1).map(<[u8]>::to_vec);
                        let next2 = self.jb.peek_ahead(2).map(<[u8]>::to_vec);
                        dec.decode_fec(next.as_deref(), next2.as_deref(), &mut out);
                        self.push_fate(PacketFate::Lost);
                    }
                    let m = out.len().min(n);
                    frame[..m].copy_from_slice(&out[..m]);
                } else {
                    self.plc.conceal(frame);
                    // An expansion frame (the buffer growing its delay) is no missing packet.
                    if self.jb.stats().expanded == expanded {
                        self.push_fate(PacketFate::Lost);
                    }
                }
            }
        }
    }

    fn build_rtcp(&mut self, now: Instant) -> Result<(), MediaError> {
        let mut pkts = Vec::with_capacity(3);
        let mut reports = Vec::new();
        if let Some(r) = self.remote.as_mut().filter(|r| r.fresh) {
            r.fresh = false;
            let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
                (
                    lsr,
                    (now.saturating_duration_since(at).as_secs_f64() * 65536.0) as u32,
                )
            });
            reports.push(ReportBlock {
                ssrc: r.ssrc,
                fraction_lost: r.seq.fraction_lost(),
                cumulative_lost: r.seq.cumulative_lost(),
                highest_seq: r.seq.extended(),
                jitter: r.jitter.jitter(),
                last_sr: lsr,
                delay_since_last_sr: dlsr,
            });
        }
        // RFC 3550 6.4: an SR if we sent data since the last report, else an RR.
        if self.sent_packets > 0 {
            pkts.push(RtcpPacket::SenderReport(SenderReport {
                ssrc: self.cfg.ssrc,
                ntp: self.ntp(now),
                rtp_timestamp: self.ts,
                packet_count: self.sent_packets,
                octet_count: self.sent_octets,
                reports,
                extension: vec![],
            }));
        } else {
            pkts.push(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.cfg.ssrc,
                reports,
                extension: vec![],
            }));
        }
        // RFC 3550 6.1: every compound packet carries an SDES CNAME.
        pkts.push(RtcpPacket::Sdes(vec![SdesChunk {
            ssrc: self.cfg.ssrc,
            items: vec![(rtcp::sdes::CNAME, self.cfg.cname.as_bytes().to_vec())],
        }]));
        let fates = std::mem::take(&mut self.fates);
        let st = self.jb.stats();
        if let Some(ssrc) = self.remote_ssrc() {
            // RFC 3611 4.7.1: packets discarded as late count as discarded, not lost.
            // A late packet's frame was concealed (counted lost) before it arrived: the
            // latest concealed frames become discarded ones, one per late packet.
            let mut late = st.late.saturating_sub(self.late_reported);
            self.late_reported = st.late;
            let mut fates = fates;
            for f in fates.iter_mut().rev() {
                if late == 0 {
                    break;
                }
                if *f == PacketFate::Lost {
                    *f = PacketFate::Discarded;
                    late -= 1;
                }
            }
            let rtt_ms = self
                .round_trip
                .map_or(0, |d| d.as_millis().min(65_535) as u16);
            let inputs = VqInputs {
                ssrc,
                burst_gap: burst_gap(&fates, GMIN),
                round_trip_ms: rtt_ms,
                end_system_ms: (st.nominal_ms + self.cfg.ptime_ms).min(65_535) as u16,
                jb: (
                    st.nominal_ms.min(65_535) as u16,
                    st.maximum_ms.min(65_535) as u16,
                    300,
                ),
            };
            if let Some(rep) = self.vq.handle_timeout(now, &inputs) {
                if rep.send_remote {
                    pkts.push(RtcpPacket::Xr(rtcp::Xr {
                        ssrc: self.cfg.ssrc,
                        blocks: vec![rtcp::XrBlock::VoipMetrics(rep.metrics)],
                    }));
                }
                self.push_event(MediaEvent::VoiceQuality(rep));
            }
        }
        self.send_rtcp(&pkts)
    }

    fn send_rtcp(&mut self, pkts: &[RtcpPacket]) -> Result<(), MediaError> {
        let mut data = rtcp::emit_compound(pkts)?;
        if let Some(s) = &mut self.srtp {
            data = s.protect_rtcp(&data)?;
        }
        self.push_out(Transmit {
            channel: Channel::Rtcp,
            data,
        });
        Ok(())
    }

    /// Timers: RTCP every 5 s (with RTCP-XR per the mode), scheduled DTMF packets.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), MediaError> {
        if self.closed {
            return Ok(());
        }
        while self.dtmf_tx.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, p)) = self.dtmf_tx.pop_front() {
                self.send_rtp(p.marker, p.pt, p.ts, &p.payload)?;
            }
        }
        if now >= self.next_rtcp {
            // Keep the 5 s grid when called late; skip missed slots.
            self.next_rtcp += RTCP_INTERVAL;
            if self.next_rtcp <= now {
                self.next_rtcp = now + RTCP_INTERVAL;
            }
            self.build_rtcp(now)?;
        }
        Ok(())
    }

    /// Earliest timer (`None` once closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let d = self.dtmf_tx.front().map(|(t, _)| *t);
        Some(d.map_or(self.next_rtcp, |d| d.min(self.next_rtcp)))
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Ends the session: a last compound packet with BYE (RFC 3550 6.6). Later frames are
    /// refused and timers stop.
    pub fn close(&mut self, now: Instant) -> Result<(), MediaError> {
        if self.closed {
            return Ok(());
        }
        self.dtmf_tx.clear();
        let first = if self.sent_packets > 0 {
            RtcpPacket::SenderReport(SenderReport {
                ssrc: self.cfg.ssrc,
                ntp: self.ntp(now),
                rtp_timestamp: self.ts,
                packet_count: self.sent_packets,
                octet_count: self.sent_octets,
                reports: vec![],
                extension: vec![],
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.cfg.ssrc,
                reports: vec![],
                extension: vec![],
            })
        };
        let pkts = [
            first,
            RtcpPacket::Sdes(vec![SdesChunk {
                ssrc: self.cfg.ssrc,
                items: vec![(rtcp::sdes::CNAME, self.cfg.cname.as_bytes().to_vec())],
            }]),
            RtcpPacket::Bye(rtcp::Bye {
                ssrcs: vec![self.cfg.ssrc],
                reason: None,
            }),
        ];
        self.closed = true;
        self.send_rtcp(&pkts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_tos() {
        let mut r = PortRange::new(50020, 3);
        assert_eq!(r.allocate(), Some((50020, 50021)));
        assert_eq!(r.allocate(), Some((50022, 50023)));
        assert_eq!(r.allocate(), Some((50024, 50025)));
        assert_eq!(r.allocate(), None);
        r.release(50022);
        assert_eq!(r.allocate(), Some((50022, 50023)));
        assert_eq!(PortRange::new(50021, 1).allocate(), Some((50022, 50023)));
        let mut d = PortRange::from_base(DEFAULT_RTP_BASE_PORT);
        let mut last = None;
        while let Some(p) = d.allocate() {
            last = Some(p);
        }
        assert_eq!(last, Some((50138, 50139)));
        assert_eq!(d.len(), 60);
        assert_eq!(parse_media_tos("0xb8"), Some(184));
        assert_eq!(parse_media_tos("184"), Some(184));
        assert_eq!(parse_media_tos("0x1ff"), None);
        assert_eq!(parse_media_tos("x"), None);
    }
}
