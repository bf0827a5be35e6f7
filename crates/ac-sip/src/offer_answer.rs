//! The RFC 3264 offer/answer engine for the phone's one audio stream.
//!
//! The codec list and its priority come from `voip/codec/codec_info/0-4` (`enabled`, `name`,
//! `ptime`; manual 3.3.14.2), read through [`ac_cfg::Config`] or the schema defaults.
//! [`MediaSession`] keeps the state of one SIP session's SDP: it makes offers (initial, re-offer,
//! hold with sendonly/inactive per RFC 3264 8.4), answers offers and applies answers, and
//! hands the media layer a [`Negotiated`] model: remote RTP/RTCP addresses (RFC 3605), the
//! codec, ptime, telephone-event (RFC 4733) payload type, our direction and SDES keys
//! (RFC 4568). Pure functions of their inputs: no clock, no randomness (the caller supplies
//! the SRTP master keys).

use std::net::{IpAddr, SocketAddr};

use crate::sdp::{Connection, Crypto, CryptoKey, Direction, Media, Origin, RtpMap, Session};

/// The codecs of `voip/codec/codec_info/{i}/name` (manual 3.3.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Silk8000,
    Silk16000,
    G722,
    Pcma,
    Pcmu,
    G729,
}

impl Codec {
    pub const ALL: [Codec; 6] = [
        Codec::Silk16000,
        Codec::Silk8000,
        Codec::G722,
        Codec::Pcma,
        Codec::Pcmu,
        Codec::G729,
    ];

    /// The configuration name.
    pub fn config_name(self) -> &'static str {
        match self {
            Codec::Silk8000 => "SILK_8000",
            Codec::Silk16000 => "SILK_16000",
            Codec::G722 => "G722",
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
            Codec::G729 => "G729",
        }
    }

    pub fn from_config_name(s: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.config_name().eq_ignore_ascii_case(s))
    }

    /// The rtpmap encoding name (RFC 3551 6; SILK as Skype for Business writes it).
    pub fn encoding(self) -> &'static str {
        match self {
            Codec::Silk8000 | Codec::Silk16000 => "SILK",
            Codec::G722 => "G722",
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
            Codec::G729 => "G729",
        }
    }

    /// The RTP clock rate (G.722 keeps 8000 for historical reasons, RFC 3551 4.5.2).
    pub fn clock(self) -> u32 {
        match self {
            Codec::Silk16000 => 16000,
            _ => 8000,
        }
    }

    /// The static payload type of RFC 3551, or the dynamic one we offer.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::G729 => 18,
            Codec::Silk16000 => 103,
            Codec::Silk8000 => 104,
        }
    }

    fn matches(self, r: &RtpMap) -> bool {
        r.encoding.eq_ignore_ascii_case(self.encoding()) && r.clock == self.clock()
    }
}

/// One enabled entry of the codec list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecPref {
    pub codec: Codec,
    pub ptime: u32,
}

/// The enabled codecs, highest priority first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecList(pub Vec<CodecPref>);

impl CodecList {
    /// From a lookup of raw configuration values (`voip/codec/codec_info/{i}/...`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> CodecList {
        let mut out: Vec<CodecPref> = Vec::new();
        for i in 0..=4 {
            let enabled = get(&format!("voip/codec/codec_info/{i}/enabled"));
            if enabled.as_deref() == Some("0") {
                continue;
            }
            let Some(codec) = get(&format!("voip/codec/codec_info/{i}/name"))
                .as_deref()
                .and_then(Codec::from_config_name)
            else {
                continue;
            };
            let ptime = get(&format!("voip/codec/codec_info/{i}/ptime"))
                .and_then(|p| p.parse().ok())
                .filter(|p| (10..=60).contains(p))
                .unwrap_or(20);
            if !out.iter().any(|p| p.codec == codec) {
                out.push(CodecPref { codec, ptime });
            }
        }
        CodecList(out)
    }

    /// The values in effect in a phone configuration.
    pub fn from_config(cfg: &ac_cfg::Config) -> CodecList {
        CodecList::from_lookup(|k| cfg.get_raw(k).map(str::to_string))
    }

    /// The factory defaults of [`ac_cfg::schema`].
    pub fn defaults() -> CodecList {
        CodecList::from_lookup(|k| match ac_cfg::Schema::get().lookup(k, None) {
            ac_cfg::schema::Lookup::Found(d, i) => Some(d.default_for(None, i.as_slice()).into()),
            _ => None,
        })
    }

    /// A list of the given codecs at 20 ms.
    pub fn of(codecs: &[Codec]) -> CodecList {
        CodecList(
            codecs
                .iter()
                .map(|&codec| CodecPref { codec, ptime: 20 })
                .collect(),
        )
    }
}

/// Whether SRTP (SDES) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// RTP/AVP, no `a=crypto`; an RTP/SAVP offer is refused.
    Disabled,
    /// RTP/AVP with `a=crypto` offered (best effort); either accepted in answers.
    Optional,
    /// RTP/SAVP only.
    Mandatory,
}

/// The SDES suites we offer and accept (RFC 4568 6.2).
pub const SUITES: [&str; 2] = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"];

/// Our side of the media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    pub addr: IpAddr,
    pub rtp_port: u16,
    /// RFC 3605 `a=rtcp` when RTCP is not on rtp_port + 1.
    pub rtcp_port: Option<u16>,
    pub codecs: CodecList,
    /// Payload type offered for telephone-event (RFC 4733), `None` to not offer it.
    pub telephone_event: Option<u8>,
    pub srtp: SrtpPolicy,
    /// Our SRTP master key and salt (30 bytes), chosen by the caller.
    pub srtp_key: Vec<u8>,
    /// `o=` session id (any digits, RFC 4566 5.2).
    pub session_id: u64,
    pub username: String,
}

/// SRTP parameters agreed by SDES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpParams {
    pub suite: String,
    pub tx_key: Vec<u8>,
    pub rx_key: Vec<u8>,
}

/// What the media layer runs (RFC 3264 after one offer/answer exchange).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// `None` when the peer gave port 0 or the unspecified address (RFC 2543 hold).
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    pub local_rtp_port: u16,
    pub codec: Codec,
    /// The payload type to send the codec with (the peer's, RFC 3264 5.1).
    pub payload_type: u8,
    pub ptime: u32,
    pub telephone_event: Option<u8>,
    /// Our direction.
    pub direction: Direction,
    pub srtp: Option<SrtpParams>,
}

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OaError {
    /// No audio stream with a common codec (answered 488, RFC 3261 13.3.1.3).
    #[error("no acceptable audio stream")]
    NotAcceptable,
    #[error("answer does not match the offer: {0}")]
    BadAnswer(&'static str),
    #[error("no offer outstanding")]
    NoOffer,
}

/// The offered stream we accept: index, common codecs, telephone-event, offered crypto.
type Chosen = (usize, Vec<(Codec, u8)>, Option<u8>, Option<Crypto>);

fn is_rtp(proto: &str) -> Option<bool> {
    match proto {
        "RTP/AVP" => Some(false),
        "RTP/SAVP" => Some(true),
        _ => None,
    }
}

/// One session's SDP state (RFC 3264 8: versions, m-line order, hold).
#[derive(Debug, Clone)]
pub struct MediaSession {
    pub local: LocalMedia,
    version: u64,
    /// The m-lines of the last exchange (kind, proto, formats), kept for re-offers (RFC 3264 8:
    /// same order, never fewer).
    layout: Vec<(String, String, Vec<String>)>,
    audio_index: usize,
    offer_out: Option<Session>,
    hold: bool,
    remote_direction: Direction,
    last_remote: Option<Session>,
}

impl MediaSession {
    pub fn new(local: LocalMedia) -> MediaSession {
        MediaSession {
            version: local.session_id,
            local,
            layout: Vec::new(),
            audio_index: 0,
            offer_out: None,
            hold: false,
            remote_direction: Direction::SendRecv,
            last_remote: None,
        }
    }

    /// Our wish: sendrecv, or on hold sendonly (inactive if the peer holds us too; RFC 3264 8.4).
    fn wanted(&self) -> Direction {
        if self.hold {
            if self.remote_direction.receives() {
                Direction::SendOnly
            } else {
                Direction::Inactive
            }
        } else {
            Direction::SendRecv
        }
    }

    pub fn set_hold(&mut self, hold: bool) {
        self.hold = hold;
    }

    pub fn on_hold(&self) -> bool {
        self.hold
    }

    /// The last SDP the peer sent.
    pub fn remote(&self) -> Option<&Session> {
        self.last_remote.as_ref()
    }

    fn skeleton(&mut self) -> Session {
        // RFC 3264 8: the version goes up by one with each new description.
        self.version += 1;
        Session {
            origin: Origin {
                username: if self.local.username.is_empty() {
                    "-".into()
                } else {
                    self.local.username.clone()
                },
                sess_id: self.local.session_id.to_string(),
                sess_version: self.version,
                net_type: "IN".into(),
                addr_type: if self.local.addr.is_ipv4() {
                    "IP4"
                } else {
                    "IP6"
                }
                .into(),
                addr: self.local.addr.to_string(),
            },
            name: "-".into(),
            connection: Some(Connection::new(self.local.addr)),
            bandwidth: Vec::new(),
            times: vec![(0, 0, Vec::new())],
            direction: None,
            attributes: Vec::new(),
            other: Vec::new(),
            media: Vec::new(),
        }
    }

    fn crypto_lines(&self) -> Vec<Crypto> {
        SUITES
            .iter()
            .enumerate()
            .map(|(i, s)| Crypto {
                tag: i as u32 + 1,
                suite: (*s).into(),
                keys: vec![CryptoKey {
                    key_salt: self.local.srtp_key.clone(),
                    lifetime: None,
                    mki: None,
                }],
                session_params: Vec::new(),
            })
            .collect()
    }

    fn audio_media(&self, codecs: &[(Codec, u8)], te: Option<u8>, dir: Direction) -> Media {
        let l = &self.local;
        let proto = if l.srtp == SrtpPolicy::Mandatory {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        };
        let mut formats: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
        let mut m = Media::new("audio", l.rtp_port, proto, Vec::new());
        for (c, pt) in codecs {
            m.rtpmap.push(RtpMap {
                pt: *pt,
                encoding: c.encoding().into(),
                clock: c.clock(),
                channels: None,
            });
        }
        if let Some(pt) = te {
            formats.push(pt.to_string());
            m.rtpmap.push(RtpMap {
                pt,
                encoding: "telephone-event".into(),
                clock: 8000,
                channels: None,
            });
            m.fmtp.push((pt.to_string(), "0-15".into()));
        }
        m.formats = formats;
        if let Some(first) = codecs.first() {
            m.ptime = l
                .codecs
                .0
                .iter()
                .find(|p| p.codec == first.0)
                .map(|p| p.ptime);
        }
        if let Some(p) = l.rtcp_port {
            m.rtcp = Some(crate::sdp::Rtcp {
                port: p,
                connection: None,
            });
        }
        m.direction = Some(dir);
        m
    }

    /// A new offer (initial or re-offer; RFC 3264 5, 8). Also to hold or resume after
    /// [`set_hold`](Self::set_hold).
    pub fn create_offer(&mut self) -> Session {
        let mut s = self.skeleton();
        let codecs: Vec<(Codec, u8)> = self
            .local
            .codecs
            .0
            .iter()
            .map(|p| (p.codec, p.codec.payload_type()))
            .collect();
        let mut audio = self.audio_media(&codecs, self.local.telephone_event, self.wanted());
        if self.local.srtp != SrtpPolicy::Disabled {
            audio.crypto = self.crypto_lines();
        }
        if self.layout.is_empty() {
            s.media.push(audio);
        } else {
            for (i, (kind, proto, formats)) in self.layout.iter().enumerate() {
                if i == self.audio_index {
                    s.media.push(audio.clone());
                } else {
                    // RFC 3264 8.2: a rejected stream stays, with port 0.
                    s.media.push(Media::new(kind, 0, proto, formats.clone()));
                }
            }
        }
        self.offer_out = Some(s.clone());
        s
    }

    /// Abandons an offer that got no answer (a failed re-INVITE, RFC 3261 14.1).
    pub fn cancel_offer(&mut self) {
        self.offer_out = None;
    }

    pub fn offer_pending(&self) -> bool {
        self.offer_out.is_some()
    }

    /// Answers a peer's offer (RFC 3264 6). Every m-line gets one in the answer; the first
    /// usable audio stream is accepted, the others rejected with port 0.
    pub fn answer(&mut self, offer: &Session) -> Result<(Session, Negotiated), OaError> {
        if !self.layout.is_empty() && offer.media.len() < self.layout.len() {
            // RFC 3264 8: m-lines are never removed.
            return Err(OaError::NotAcceptable);
        }
        let mut chosen: Option<Chosen> = None;
        for (i, m) in offer.media.iter().enumerate() {
            if chosen.is_some() || m.kind != "audio" || m.port == 0 {
                continue;
            }
            let Some(savp) = is_rtp(&m.proto) else {
                continue;
            };
            let crypto =
                if savp || (!m.crypto.is_empty() && self.local.srtp != SrtpPolicy::Disabled) {
                    m.crypto
                        .iter()
                        .find(|c| SUITES.contains(&c.suite.as_str()) && c.keys.len() == 1)
                        .cloned()
                } else {
                    None
                };
            if (savp && (crypto.is_none() || self.local.srtp == SrtpPolicy::Disabled))
                || (self.local.srtp == SrtpPolicy::Mandatory && crypto.is_none())
            {
                continue;
            }
            let mut common = Vec::new();
            // Our priority order (manual 3.3.14.2), with the offerer's payload types.
            for p in &self.local.codecs.0 {
                for f in &m.formats {
                    let Ok(pt) = f.parse::<u8>() else { continue };
                    if m.rtpmap_of(pt).is_some_and(|r| p.codec.matches(&r))
                        && !common.iter().any(|(c, _)| *c == p.codec)
                    {
                        common.push((p.codec, pt));
                    }
                }
            }
            if common.is_empty() {
                continue;
            }
            let te = m
                .formats
                .iter()
                .filter_map(|f| f.parse::<u8>().ok())
                .find(|&pt| {
                    m.rtpmap_of(pt).is_some_and(|r| {
                        r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock == 8000
                    })
                });
            let te = self.local.telephone_event.and(te);
            chosen = Some((i, common, te, crypto));
        }
        let Some((idx, common, te, crypto)) = chosen else {
            return Err(OaError::NotAcceptable);
        };
        let offered_dir = self.effective_direction(offer, idx);
        self.remote_direction = offered_dir;
        let dir = self.wanted().intersect(offered_dir.reversed());
        let mut s = self.skeleton();
        for (i, m) in offer.media.iter().enumerate() {
            if i == idx {
                let mut a = self.audio_media(&common, te, dir);
                a.proto = m.proto.clone();
                if let Some(c) = &crypto {
                    // RFC 4568 6.1: the same tag and suite, our key.
                    a.crypto = vec![Crypto {
                        tag: c.tag,
                        suite: c.suite.clone(),
                        keys: vec![CryptoKey {
                            key_salt: self.local.srtp_key.clone(),
                            lifetime: None,
                            mki: None,
                        }],
                        session_params: Vec::new(),
                    }];
                }
                s.media.push(a);
            } else {
                // RFC 3264 6: rejected with port 0, formats as offered.
                s.media
                    .push(Media::new(&m.kind, 0, &m.proto, m.formats.clone()));
            }
        }
        let neg = self.negotiated(offer, idx, &common, te, dir, crypto.as_ref(), None)?;
        self.layout = s
            .media
            .iter()
            .map(|m| (m.kind.clone(), m.proto.clone(), m.formats.clone()))
            .collect();
        self.audio_index = idx;
        self.offer_out = None;
        self.last_remote = Some(offer.clone());
        Ok((s, neg))
    }

    /// The direction the peer declared for stream `i`; `c=0.0.0.0` is RFC 2543 hold
    /// (RFC 3264 8.4 asks answerers to understand it).
    fn effective_direction(&self, s: &Session, i: usize) -> Direction {
        let d = s.direction_of(i);
        match s.connection_of(i).and_then(Connection::ip) {
            Some(ip) if ip.is_unspecified() => d.intersect(Direction::SendOnly),
            _ => d,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn negotiated(
        &self,
        remote: &Session,
        idx: usize,
        common: &[(Codec, u8)],
        te: Option<u8>,
        dir: Direction,
        remote_crypto: Option<&Crypto>,
        our_crypto: Option<&Crypto>,
    ) -> Result<Negotiated, OaError> {
        let m = &remote.media[idx];
        let ip = remote.connection_of(idx).and_then(Connection::ip);
        let remote_rtp = match ip {
            Some(ip) if !ip.is_unspecified() && m.port != 0 => Some(SocketAddr::new(ip, m.port)),
            _ => None,
        };
        let remote_rtcp = remote_rtp.map(|a| match &m.rtcp {
            Some(r) => SocketAddr::new(
                r.connection
                    .as_ref()
                    .and_then(Connection::ip)
                    .unwrap_or(a.ip()),
                r.port,
            ),
            // RFC 3550 11: the next higher port.
            None => SocketAddr::new(a.ip(), a.port().wrapping_add(1)),
        });
        let (codec, pt) = common[0];
        let ptime = m
            .ptime
            .filter(|p| (10..=120).contains(p))
            .unwrap_or_else(|| {
                self.local
                    .codecs
                    .0
                    .iter()
                    .find(|p| p.codec == codec)
                    .map_or(20, |p| p.ptime)
            });
        let srtp = match remote_crypto {
            Some(rc) => {
                let rx = rc
                    .keys
                    .first()
                    .ok_or(OaError::BadAnswer("crypto without key"))?;
                let tx = our_crypto
                    .and_then(|c| c.keys.first())
                    .map_or(self.local.srtp_key.clone(), |k| k.key_salt.clone());
                Some(SrtpParams {
                    suite: rc.suite.clone(),
                    tx_key: tx,
                    rx_key: rx.key_salt.clone(),
                })
            }
            None => None,
        };
        Ok(Negotiated {
            remote_rtp,
            remote_rtcp,
            local_rtp_port: self.local.rtp_port,
            codec,
            payload_type: pt,
            ptime,
            telephone_event: te,
            direction: dir,
            srtp,
        })
    }

    /// Applies the answer to our outstanding offer (RFC 3264 7, 5.1).
    pub fn apply_answer(&mut self, answer: &Session) -> Result<Negotiated, OaError> {
        let offer = self.offer_out.take().ok_or(OaError::NoOffer)?;
        if answer.media.len() != offer.media.len() {
            // RFC 3264 6: exactly one answer m-line per offer m-line.
            return Err(OaError::BadAnswer("m-line count differs"));
        }
        let idx = offer
            .media
            .iter()
            .position(|m| m.kind == "audio" && m.port != 0)
            .ok_or(OaError::BadAnswer("no audio offered"))?;
        let m = &answer.media[idx];
        if m.port == 0 || m.kind != "audio" {
            return Err(OaError::NotAcceptable);
        }
        let ours = &offer.media[idx];
        let mut common = Vec::new();
        for f in &m.formats {
            let Ok(pt) = f.parse::<u8>() else { continue };
            let Some(r) = m.rtpmap_of(pt) else { continue };
            if let Some(p) = self.local.codecs.0.iter().find(|p| p.codec.matches(&r)) {
                if ours
                    .formats
                    .iter()
                    .any(|f| f.parse() == Ok(p.codec.payload_type()))
                    && !common.iter().any(|(c, _)| *c == p.codec)
                {
                    common.push((p.codec, pt));
                }
            }
        }
        if common.is_empty() {
            return Err(OaError::NotAcceptable);
        }
        let te = match self.local.telephone_event {
            Some(_) => m
                .formats
                .iter()
                .filter_map(|f| f.parse::<u8>().ok())
                .find(|&pt| {
                    m.rtpmap_of(pt)
                        .is_some_and(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
                }),
            None => None,
        };
        let remote_crypto = match m.crypto.first() {
            Some(c) => {
                let mine = ours
                    .crypto
                    .iter()
                    .find(|o| o.tag == c.tag && o.suite == c.suite)
                    .ok_or(OaError::BadAnswer("crypto tag not offered"))?;
                Some((c.clone(), mine.clone()))
            }
            None => None,
        };
        if remote_crypto.is_none()
            && (m.proto == "RTP/SAVP" || self.local.srtp == SrtpPolicy::Mandatory)
        {
            return Err(OaError::NotAcceptable);
        }
        // Our direction is what we offered limited by the answer; the peer's own wish
        // (`remote_direction`, used for RFC 3264 8.4 hold) is learnt from its offers only.
        let remote_dir = self.effective_direction(answer, idx);
        let dir = offer.direction_of(idx).intersect(remote_dir.reversed());
        let neg = self.negotiated(
            answer,
            idx,
            &common,
            te,
            dir,
            remote_crypto.as_ref().map(|c| &c.0),
            remote_crypto.as_ref().map(|c| &c.1),
        )?;
        self.layout = offer
            .media
            .iter()
            .map(|m| (m.kind.clone(), m.proto.clone(), m.formats.clone()))
            .collect();
        self.audio_index = idx;
        self.last_remote = Some(answer.clone());
        Ok(neg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16, codecs: &[Codec], srtp: SrtpPolicy) -> LocalMedia {
        LocalMedia {
            addr: "192.0.2.10".parse().unwrap(),
            rtp_port: port,
            rtcp_port: None,
            codecs: CodecList::of(codecs),
            telephone_event: Some(101),
            srtp,
            srtp_key: vec![port as u8; 30],
            session_id: 1000,
            username: "ac".into(),
        }
    }

    #[test]
    fn defaults_come_from_the_schema() {
        let d = CodecList::defaults();
        let names: Vec<_> = d.0.iter().map(|p| p.codec).collect();
        assert_eq!(
            names,
            [
                Codec::Silk16000,
                Codec::Silk8000,
                Codec::G722,
                Codec::Pcma,
                Codec::Pcmu
            ]
        );
        assert!(d.0.iter().all(|p| p.ptime == 20));
        let mut cfg = ac_cfg::Config::defaults(ac_cfg::Model::Hd450);
        cfg.set("voip/codec/codec_info/0/enabled", "0").unwrap();
        cfg.set("voip/codec/codec_info/1/name", "PCMU").unwrap();
        cfg.set("voip/codec/codec_info/1/ptime", "30").unwrap();
        let l = CodecList::from_config(&cfg);
        assert_eq!(
            l.0[0],
            CodecPref {
                codec: Codec::Pcmu,
                ptime: 30
            }
        );
        // PCMU again at entry 4 is not listed twice.
        assert_eq!(l.0.len(), 3);
    }

    #[test]
    fn offer_answer_picks_answerer_priority_and_dtmf() {
        let mut a = MediaSession::new(local(
            4000,
            &[Codec::Pcmu, Codec::Pcma],
            SrtpPolicy::Disabled,
        ));
        let mut b = MediaSession::new(local(
            6000,
            &[Codec::G722, Codec::Pcma],
            SrtpPolicy::Disabled,
        ));
        let offer = a.create_offer();
        let text = offer.emit();
        let (answer, nb) = b.answer(&Session::parse(&text).unwrap()).unwrap();
        assert_eq!(nb.codec, Codec::Pcma);
        assert_eq!(nb.payload_type, 8);
        assert_eq!(nb.telephone_event, Some(101));
        assert_eq!(nb.remote_rtp, Some("192.0.2.10:4000".parse().unwrap()));
        assert_eq!(nb.remote_rtcp, Some("192.0.2.10:4001".parse().unwrap()));
        let na = a
            .apply_answer(&Session::parse(&answer.emit()).unwrap())
            .unwrap();
        assert_eq!(na.codec, Codec::Pcma);
        assert_eq!(na.direction, Direction::SendRecv);
        assert_eq!(na.remote_rtp.unwrap().port(), 6000);
        // Nothing in common: 488.
        let mut c = MediaSession::new(local(7000, &[Codec::G729], SrtpPolicy::Disabled));
        assert_eq!(c.answer(&offer).unwrap_err(), OaError::NotAcceptable);
    }

    #[test]
    fn hold_and_resume() {
        let mut a = MediaSession::new(local(4000, &[Codec::Pcmu], SrtpPolicy::Disabled));
        let mut b = MediaSession::new(local(6000, &[Codec::Pcmu], SrtpPolicy::Disabled));
        let o = a.create_offer();
        let (ans, _) = b.answer(&o).unwrap();
        a.apply_answer(&ans).unwrap();
        a.set_hold(true);
        let o = a.create_offer();
        assert_eq!(o.media[0].direction, Some(Direction::SendOnly));
        assert_eq!(o.origin.sess_version, 1002);
        let (ans, nb) = b.answer(&o).unwrap();
        assert_eq!(nb.direction, Direction::RecvOnly);
        assert_eq!(a.apply_answer(&ans).unwrap().direction, Direction::SendOnly);
        // b holds as well: inactive both ways.
        b.set_hold(true);
        let o = b.create_offer();
        assert_eq!(o.media[0].direction, Some(Direction::Inactive));
        let (ans, na) = a.answer(&o).unwrap();
        assert_eq!(na.direction, Direction::Inactive);
        assert_eq!(b.apply_answer(&ans).unwrap().direction, Direction::Inactive);
        // Both resume.
        a.set_hold(false);
        b.set_hold(false);
        let o = a.create_offer();
        let (ans, nb) = b.answer(&o).unwrap();
        assert_eq!(nb.direction, Direction::SendRecv);
        assert_eq!(a.apply_answer(&ans).unwrap().direction, Direction::SendRecv);
        // RFC 2543 hold (c=0.0.0.0) is understood.
        let mut old = a.create_offer();
        old.connection = Some(Connection::new("0.0.0.0".parse().unwrap()));
        old.media[0].direction = None;
        let (_, nb) = b.answer(&old).unwrap();
        assert_eq!(nb.direction, Direction::RecvOnly);
        assert_eq!(nb.remote_rtp, None);
    }

    #[test]
    fn sdes_keys_exchanged() {
        let mut a = MediaSession::new(local(4000, &[Codec::Pcmu], SrtpPolicy::Mandatory));
        let mut b = MediaSession::new(local(6000, &[Codec::Pcmu], SrtpPolicy::Optional));
        let o = a.create_offer();
        assert_eq!(o.media[0].proto, "RTP/SAVP");
        let (ans, nb) = b.answer(&o).unwrap();
        let sb = nb.srtp.unwrap();
        assert_eq!(sb.suite, SUITES[0]);
        assert_eq!((sb.tx_key[0], sb.rx_key[0]), (6000u16 as u8, 4000u16 as u8));
        let sa = a.apply_answer(&ans).unwrap().srtp.unwrap();
        assert_eq!((sa.tx_key, sa.rx_key), (sb.rx_key, sb.tx_key));
        // An SAVP offer to a phone with SRTP off: refused.
        let mut c = MediaSession::new(local(7000, &[Codec::Pcmu], SrtpPolicy::Disabled));
        assert!(c.answer(&o).is_err());
    }

    #[test]
    fn other_streams_rejected_and_kept_in_reoffers() {
        let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 5002 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\n";
        let mut b = MediaSession::new(local(6000, &[Codec::Pcmu], SrtpPolicy::Disabled));
        let (ans, nb) = b.answer(&Session::parse(text).unwrap()).unwrap();
        assert_eq!(ans.media.len(), 2);
        assert_eq!(ans.media[0].port, 0);
        assert_eq!(
            ans.media[1].formats,
            ["0", "101"].map(String::from).to_vec()[..1]
        );
        assert_eq!(nb.telephone_event, None);
        let re = b.create_offer();
        assert_eq!(re.media.len(), 2);
        assert_eq!((re.media[0].port, re.media[1].port), (0, 6000));
    }
}
