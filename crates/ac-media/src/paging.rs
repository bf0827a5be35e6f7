//! Multicast group paging (manual 3.3.15) and paging barge-in (3.3.16), sans-IO.
//!
//! A page is an RTP stream of `voip/services/group_paging/codec` sent to the multicast
//! address and port of a paging group (`voip/services/group_paging/group/<i>/...`, only
//! groups with `activated` = 1). [`PageSender`] turns 20 ms PCM frames into those packets;
//! [`PagingReceiver`] takes the datagrams that arrived on a group's address, decides whether
//! the page is played, and ends it when no RTP came for
//! `voip/services/group_paging/end_income_paging_timeout` ms.
//!
//! Rules (manual 3.3.15-3.3.16, and our choices where it is silent):
//! - Paging disabled (`group_paging/enabled` = 0): every datagram is ignored.
//! - Idle phone: the page plays at once ("multicast ... on all idle phones in the group,
//!   without requiring listeners to pick up").
//! - Phone in a call, `allow_barge_in/enabled` = 1: the page interrupts the call, which is put
//!   on hold ([`PageEvent::HoldCall`]); when the page ends, [`PageEvent::ResumeCall`].
//! - Phone in a call, barge-in disabled (default): the user is prompted
//!   ([`PageEvent::Offered`]); [`PagingReceiver::accept`] holds the call and plays the page,
//!   [`PagingReceiver::reject`] drops that page until it ends.
//! - Page against page (the manual gives no priority setting; our rule): the group's key
//!   index is its priority, index 0 highest. A page of a higher-priority group preempts the
//!   page being played or offered ([`PageEvent::Preempted`]); a page of an equal or lower
//!   priority group (or a second pager on the same group) is ignored while one is active.
//! - The phone's own page coming back through multicast loopback is ignored by SSRC.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::g711;
use crate::g722;
use crate::g729;
use crate::rtp::{RtpPacket, RtpView};
use crate::silk;
use ac_cfg::Config;

/// Codec of the paging stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingCodec {
    Pcmu,
    Pcma,
    G722,
    /// G.729 Annex A (without Annex B: a page is continuous), two 10 ms frames per packet.
    G729,
    /// SILK at 8 kHz, one 20 ms frame per packet.
    Silk8000,
    /// SILK at 16 kHz, one 20 ms frame per packet.
    Silk16000,
}

/// Payload types of the SILK pages. A page has no SDP to negotiate a dynamic payload type
/// (RFC 3551 3), so sender and receivers must agree beforehand; these are the numbers Skype
/// for Business clients offer for SILK/8000 and SILK/16000 (our choice, not in the manual).
pub const SILK_8000_PT: u8 = 103;
/// See [`SILK_8000_PT`].
pub const SILK_16000_PT: u8 = 104;

impl PagingCodec {
    /// RTP payload type (RFC 3551 static types).
    pub fn payload_type(self) -> u8 {
        match self {
            PagingCodec::Pcmu => 0,
            PagingCodec::Pcma => 8,
            PagingCodec::G722 => 9,
            PagingCodec::G729 => 18,
            PagingCodec::Silk8000 => SILK_8000_PT,
            PagingCodec::Silk16000 => SILK_16000_PT,
        }
    }
    fn from_payload_type(pt: u8) -> Option<PagingCodec> {
        match pt {
            0 => Some(PagingCodec::Pcmu),
            8 => Some(PagingCodec::Pcma),
            9 => Some(PagingCodec::G722),
            18 => Some(PagingCodec::G729),
            SILK_8000_PT => Some(PagingCodec::Silk8000),
            SILK_16000_PT => Some(PagingCodec::Silk16000),
            _ => None,
        }
    }
    /// Audio sample rate of the PCM the codec carries.
    pub fn sample_rate(self) -> u32 {
        match self {
            PagingCodec::G722 | PagingCodec::Silk16000 => 16_000,
            _ => 8_000,
        }
    }
    /// Samples in one 20 ms frame at [`PagingCodec::sample_rate`].
    pub fn frame_samples(self) -> usize {
        self.sample_rate() as usize / 50
    }
    /// RTP timestamp units per 20 ms packet: 160 for every codec with an 8 kHz RTP clock
    /// (G.722's is 8 kHz too, RFC 3551 4.5.2), 320 for SILK/16000 (its clock is its rate).
    fn rtp_ticks(self) -> u32 {
        match self {
            PagingCodec::Silk16000 => 320,
            _ => 160,
        }
    }
}

/// A configuration that does not make a usable paging setup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error("bad paging setting {key} = {value:?}")]
    BadSetting { key: String, value: String },
    #[error("paging codec {0} is not one of PCMU, PCMA, G722_8000, G729, SILK_8000, SILK_16000")]
    UnsupportedCodec(String),
    #[error("the paging encoder failed: {0}")]
    Encoder(String),
    #[error("multicast address {0} is not in 224.0.0.0/4")]
    NotMulticast(Ipv4Addr),
    #[error("a paging frame must hold {want} samples, got {got}")]
    FrameLength { want: usize, got: usize },
}

/// One activated paging group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingGroup {
    /// Function-key index; also the priority (0 highest).
    pub index: u32,
    pub name: String,
    pub addr: SocketAddrV4,
}

/// The paging settings of the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingConfig {
    pub enabled: bool,
    pub codec: PagingCodec,
    pub end_timeout: Duration,
    pub barge_in: bool,
    /// Activated groups, by index.
    pub groups: Vec<PagingGroup>,
}

impl PagingConfig {
    /// Reads the `voip/services/group_paging/...` keys (defaults from `ac_cfg::schema`).
    pub fn from_config(cfg: &Config) -> Result<PagingConfig, PagingError> {
        let raw = |k: &str| -> Result<String, PagingError> {
            cfg.get_raw(k)
                .map(str::to_owned)
                .ok_or_else(|| PagingError::BadSetting {
                    key: k.to_owned(),
                    value: String::new(),
                })
        };
        let bad = |k: &str, v: &str| PagingError::BadSetting {
            key: k.to_owned(),
            value: v.to_owned(),
        };
        let flag = |k: &str| -> Result<bool, PagingError> {
            let v = raw(k)?;
            match v.trim() {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(bad(k, &v)),
            }
        };
        let p = "voip/services/group_paging/";
        let codec_key = format!("{p}codec");
        let codec = match raw(&codec_key)?.trim() {
            "PCMU" => PagingCodec::Pcmu,
            "PCMA" => PagingCodec::Pcma,
            "G722_8000" | "G722" => PagingCodec::G722,
            "G729" => PagingCodec::G729,
            "SILK_8000" => PagingCodec::Silk8000,
            "SILK_16000" => PagingCodec::Silk16000,
            other => return Err(PagingError::UnsupportedCodec(other.to_owned())),
        };
        let tk = format!("{p}end_income_paging_timeout");
        let tv = raw(&tk)?;
        let ms: u64 = tv.trim().parse().map_err(|_| bad(&tk, &tv))?;
        let mut groups = Vec::new();
        for i in 0u32.. {
            let g = format!("{p}group/{i}/");
            let Some(act) = cfg.get_raw(&format!("{g}activated")) else {
                break;
            };
            if act.trim() != "1" {
                continue;
            }
            let ak = format!("{g}multicast_addr");
            let av = raw(&ak)?;
            let ip: Ipv4Addr = av.trim().parse().map_err(|_| bad(&ak, &av))?;
            if !ip.is_multicast() {
                return Err(PagingError::NotMulticast(ip));
            }
            let pk = format!("{g}port");
            let pv = raw(&pk)?;
            let port: u16 = pv.trim().parse().map_err(|_| bad(&pk, &pv))?;
            groups.push(PagingGroup {
                index: i,
                name: raw(&format!("{g}name"))?,
                addr: SocketAddrV4::new(ip, port),
            });
        }
        Ok(PagingConfig {
            enabled: flag(&format!("{p}enabled"))?,
            codec,
            end_timeout: Duration::from_millis(ms),
            barge_in: flag(&format!("{p}allow_barge_in/enabled"))?,
            groups,
        })
    }

    /// The activated group with this key index.
    pub fn group(&self, index: u32) -> Option<&PagingGroup> {
        self.groups.iter().find(|g| g.index == index)
    }
}

/// An RTP datagram for a group's multicast address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDatagram {
    pub dest: SocketAddrV4,
    pub data: Vec<u8>,
}

/// Sends one page: 20 ms frames -> RTP packets to the group's address.
pub struct PageSender {
    codec: PagingCodec,
    dest: SocketAddrV4,
    ssrc: u32,
    seq: u16,
    ts: u32,
    first: bool,
    g722: g722::Encoder,
    g729: Option<Box<g729::Encoder>>,
    silk: Option<Box<silk::Encoder>>,
}

impl PageSender {
    /// `ssrc`, `seq` and `ts` are the random initial values (RFC 3550 5.1), from the caller.
    pub fn new(group: &PagingGroup, codec: PagingCodec, ssrc: u32, seq: u16, ts: u32) -> Self {
        let silk_rate = match codec {
            PagingCodec::Silk8000 => Some(8000),
            PagingCodec::Silk16000 => Some(16_000),
            _ => None,
        };
        PageSender {
            g729: (codec == PagingCodec::G729).then(|| Box::new(g729::Encoder::new(false))),
            // Rates 8000 and 16000 are always accepted by the encoder.
            silk: silk_rate.and_then(|r| {
                silk::Encoder::new(silk::EncoderConfig::new(r))
                    .ok()
                    .map(Box::new)
            }),
            codec,
            dest: group.addr,
            ssrc,
            seq,
            ts,
            first: true,
            g722: g722::Encoder::new(),
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// One 20 ms frame of PCM at the codec's rate -> one RTP packet (marker on the first).
    pub fn frame(&mut self, pcm: &[i16]) -> Result<PageDatagram, PagingError> {
        let want = self.codec.frame_samples();
        if pcm.len() != want {
            return Err(PagingError::FrameLength {
                want,
                got: pcm.len(),
            });
        }
        let mut payload = Vec::with_capacity(160);
        match self.codec {
            PagingCodec::Pcmu => {
                payload.resize(pcm.len(), 0);
                g711::encode_ulaw(pcm, &mut payload);
            }
            PagingCodec::Pcma => {
                payload.resize(pcm.len(), 0);
                g711::encode_alaw(pcm, &mut payload);
            }
            PagingCodec::G722 => self.g722.encode(pcm, &mut payload),
            PagingCodec::G729 => {
                let enc = self
                    .g729
                    .as_mut()
                    .ok_or_else(|| PagingError::Encoder("no G.729 encoder".into()))?;
                for half in pcm.chunks_exact(g729::FRAME_SAMPLES) {
                    let mut f = [0i16; g729::FRAME_SAMPLES];
                    f.copy_from_slice(half);
                    payload.extend_from_slice(enc.encode(&f).bytes());
                }
            }
            PagingCodec::Silk8000 | PagingCodec::Silk16000 => {
                let enc = self
                    .silk
                    .as_mut()
                    .ok_or_else(|| PagingError::Encoder("no SILK encoder".into()))?;
                // 20 ms packets: every 20 ms frame completes one.
                match enc.encode(pcm) {
                    Ok(Some(p)) => payload = p,
                    Ok(None) => {
                        return Err(PagingError::Encoder("SILK packet not complete".into()))
                    }
                    Err(e) => return Err(PagingError::Encoder(e.to_string())),
                }
            }
        }
        let pkt = RtpPacket {
            marker: self.first,
            payload_type: self.codec.payload_type(),
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            csrcs: Vec::new(),
            extension: None,
            payload: &payload,
            padding: 0,
        };
        let data = pkt.to_vec().unwrap_or_default();
        self.first = false;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.codec.rtp_ticks());
        Ok(PageDatagram {
            dest: self.dest,
            data,
        })
    }
}

/// Why a page was not played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Paging is disabled on this phone.
    Disabled,
    /// The datagram came on no activated group.
    UnknownGroup,
    /// A page of an equal or higher priority group is active.
    LowerPriority,
    /// The user rejected this page.
    Rejected,
    /// Our own page (multicast loopback).
    OwnStream,
    /// Not RTP, or a payload type we cannot decode.
    BadPacket,
}

/// What the receiver tells the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageEvent {
    /// A page is being played (group index and name for the screen).
    Started { group: u32, name: String },
    /// The phone is in a call and barge-in is off: ask the user (accept / reject).
    Offered { group: u32, name: String },
    /// A higher-priority page replaced the active one.
    Preempted { old: u32, new: u32 },
    /// Put the call on hold (barge-in, or the user accepted the page).
    HoldCall,
    /// The page that held the call ended: resume it.
    ResumeCall,
    /// No RTP for the end-of-page timeout.
    Ended { group: u32 },
    /// A new page stream was not played (reported once per stream).
    Ignored {
        group: Option<u32>,
        reason: IgnoreReason,
    },
}

/// Decoded page audio for the speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAudio {
    pub group: u32,
    pub rate: u32,
    pub pcm: Vec<i16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageState {
    Playing,
    Offered,
}

struct ActivePage {
    group: u32,
    ssrc: u32,
    last_rx: Instant,
    state: PageState,
    last_seq: Option<u16>,
    g722: g722::Decoder,
    g729: Option<Box<g729::Decoder>>,
    silk: Option<Box<silk::Decoder>>,
}

/// Streams we decided not to play, until they are silent for the timeout.
struct Dropped {
    ssrc: u32,
    last_rx: Instant,
}

const MAX_AUDIO_FRAMES: usize = 50;
const MAX_EVENTS: usize = 64;
const MAX_DROPPED: usize = 32;

/// The receiving side: group membership decisions, decoding, end of page.
pub struct PagingReceiver {
    cfg: PagingConfig,
    in_call: bool,
    call_held: bool,
    own_ssrcs: Vec<u32>,
    active: Option<ActivePage>,
    dropped: Vec<Dropped>,
    events: std::collections::VecDeque<PageEvent>,
    audio: std::collections::VecDeque<PageAudio>,
}

impl PagingReceiver {
    pub fn new(cfg: PagingConfig) -> Self {
        PagingReceiver {
            cfg,
            in_call: false,
            call_held: false,
            own_ssrcs: Vec::new(),
            active: None,
            dropped: Vec::new(),
            events: Default::default(),
            audio: Default::default(),
        }
    }

    pub fn config(&self) -> &PagingConfig {
        &self.cfg
    }

    /// Whether a regular call is in progress (from the call layer).
    pub fn set_in_call(&mut self, in_call: bool) {
        self.in_call = in_call;
    }

    /// Ignore this SSRC (the phone's own outgoing page looped back).
    pub fn ignore_own_ssrc(&mut self, ssrc: u32) {
        self.own_ssrcs.push(ssrc);
    }

    /// The group index of the page being played or offered.
    pub fn active_group(&self) -> Option<u32> {
        self.active.as_ref().map(|a| a.group)
    }

    /// Whether the active page is being played (not only offered).
    pub fn playing(&self) -> bool {
        matches!(&self.active, Some(a) if a.state == PageState::Playing)
    }

    fn push_event(&mut self, e: PageEvent) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn drop_stream(&mut self, ssrc: u32, now: Instant, group: Option<u32>, reason: IgnoreReason) {
        if let Some(d) = self.dropped.iter_mut().find(|d| d.ssrc == ssrc) {
            d.last_rx = now;
            return;
        }
        if self.dropped.len() == MAX_DROPPED {
            self.dropped.remove(0);
        }
        self.dropped.push(Dropped { ssrc, last_rx: now });
        self.push_event(PageEvent::Ignored { group, reason });
    }

    /// A datagram that arrived on the address of group `group` (key index).
    pub fn handle_datagram(&mut self, now: Instant, group: u32, data: &[u8]) {
        let Ok(view) = RtpView::new_checked(data) else {
            return;
        };
        let ssrc = view.ssrc();
        if !self.cfg.enabled {
            return self.drop_stream(ssrc, now, Some(group), IgnoreReason::Disabled);
        }
        if self.own_ssrcs.contains(&ssrc) {
            return self.drop_stream(ssrc, now, Some(group), IgnoreReason::OwnStream);
        }
        let Some(g) = self.cfg.group(group).cloned() else {
            return self.drop_stream(ssrc, now, None, IgnoreReason::UnknownGroup);
        };
        let Some(codec) = PagingCodec::from_payload_type(view.payload_type()) else {
            return self.drop_stream(ssrc, now, Some(group), IgnoreReason::BadPacket);
        };
        if let Some(d) = self.dropped.iter_mut().find(|d| d.ssrc == ssrc) {
            d.last_rx = now;
            return;
        }
        let current = self.active.as_ref().map(|a| (a.group, a.ssrc));
        match current {
            Some((cg, cs)) if cs == ssrc && cg == group => {}
            Some((cg, cs)) if group < cg => {
                // Higher priority: preempt (our rule, module docs).
                self.active = None;
                self.dropped.push(Dropped {
                    ssrc: cs,
                    last_rx: now,
                });
                self.push_event(PageEvent::Preempted {
                    old: cg,
                    new: group,
                });
                self.start(now, &g, ssrc);
            }
            Some(_) => {
                return self.drop_stream(ssrc, now, Some(group), IgnoreReason::LowerPriority);
            }
            None => self.start(now, &g, ssrc),
        }
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.last_rx = now;
        if a.state != PageState::Playing {
            return;
        }
        let seq = view.sequence();
        if let Some(last) = a.last_seq {
            // Duplicates and late packets are dropped (no reordering on a LAN segment).
            if seq.wrapping_sub(last) == 0 || seq.wrapping_sub(last) > 0x8000 {
                return;
            }
        }
        a.last_seq = Some(seq);
        let payload = view.payload();
        let mut pcm = Vec::with_capacity(payload.len() * 2);
        match codec {
            PagingCodec::Pcmu => {
                pcm.resize(payload.len(), 0);
                g711::decode_ulaw(payload, &mut pcm);
            }
            PagingCodec::Pcma => {
                pcm.resize(payload.len(), 0);
                g711::decode_alaw(payload, &mut pcm);
            }
            PagingCodec::G722 => a.g722.decode(payload, &mut pcm),
            PagingCodec::G729 => {
                let dec = a.g729.get_or_insert_with(|| Box::new(g729::Decoder::new()));
                // 10-byte speech frames, possibly a 2-byte SID last (RFC 3551 4.5.6).
                let mut rest = payload;
                while !rest.is_empty() {
                    let n = if rest.len() >= g729::FRAME_BYTES {
                        g729::FRAME_BYTES
                    } else {
                        rest.len()
                    };
                    let mut out = [0i16; g729::FRAME_SAMPLES];
                    if dec.decode_bytes(&rest[..n], &mut out).is_err() {
                        break;
                    }
                    pcm.extend_from_slice(&out);
                    rest = &rest[n..];
                }
            }
            PagingCodec::Silk8000 | PagingCodec::Silk16000 => {
                if a.silk.is_none() {
                    a.silk = silk::Decoder::new(codec.sample_rate()).ok().map(Box::new);
                }
                if let Some(dec) = a.silk.as_mut() {
                    if dec.decode(payload, &mut pcm).is_err() {
                        pcm.clear();
                        dec.conceal(&mut pcm);
                    }
                }
            }
        }
        if pcm.is_empty() {
            return;
        }
        if self.audio.len() == MAX_AUDIO_FRAMES {
            self.audio.pop_front();
        }
        self.audio.push_back(PageAudio {
            group,
            rate: codec.sample_rate(),
            pcm,
        });
    }

    fn start(&mut self, now: Instant, g: &PagingGroup, ssrc: u32) {
        let state = if !self.in_call || self.call_held {
            PageState::Playing
        } else if self.cfg.barge_in {
            // 3.3.16: barge-in enabled -> the page interrupts the call.
            self.call_held = true;
            self.push_event(PageEvent::HoldCall);
            PageState::Playing
        } else {
            PageState::Offered
        };
        self.active = Some(ActivePage {
            group: g.index,
            ssrc,
            last_rx: now,
            state,
            last_seq: None,
            g722: g722::Decoder::new(g722::Mode::Mode1),
            g729: None,
            silk: None,
        });
        let ev = match state {
            PageState::Playing => PageEvent::Started {
                group: g.index,
                name: g.name.clone(),
            },
            PageState::Offered => PageEvent::Offered {
                group: g.index,
                name: g.name.clone(),
            },
        };
        self.push_event(ev);
    }

    /// The user accepts the offered page: the call is held and the page played.
    pub fn accept(&mut self) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if a.state != PageState::Offered {
            return;
        }
        a.state = PageState::Playing;
        let group = a.group;
        let name = self
            .cfg
            .group(group)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        self.call_held = true;
        self.push_event(PageEvent::HoldCall);
        self.push_event(PageEvent::Started { group, name });
    }

    /// The user rejects the offered page: it is ignored until it ends.
    pub fn reject(&mut self, now: Instant) {
        if let Some(a) = self.active.take_if(|a| a.state == PageState::Offered) {
            self.dropped.push(Dropped {
                ssrc: a.ssrc,
                last_rx: now,
            });
            self.push_event(PageEvent::Ignored {
                group: Some(a.group),
                reason: IgnoreReason::Rejected,
            });
        }
    }

    /// Ends the active page and forgets dropped streams after the timeout without RTP.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.cfg.end_timeout;
        if let Some(a) = self.active.take_if(|a| now >= a.last_rx + t) {
            self.push_event(PageEvent::Ended { group: a.group });
            if self.call_held {
                self.call_held = false;
                self.push_event(PageEvent::ResumeCall);
            }
        }
        self.dropped.retain(|d| now < d.last_rx + t);
    }

    /// When [`PagingReceiver::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.cfg.end_timeout;
        let a = self.active.as_ref().map(|a| a.last_rx + t);
        let d = self.dropped.iter().map(|d| d.last_rx + t).min();
        match (a, d) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.events.pop_front()
    }

    /// Decoded frames of the page being played, oldest first (at most 50 are kept).
    pub fn poll_audio(&mut self) -> Option<PageAudio> {
        self.audio.pop_front()
    }
}
