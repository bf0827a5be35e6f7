//! IEEE 802.1X supplicant (manual 3.4.4-3.4.5): EAPOL framing (IEEE 802.1X-2010 11), EAP
//! packets (RFC 3748), EAP-MD5 (RFC 3748 5.4), EAP-TLS (RFC 5216, TLS 1.2 through rustls
//! with records carried in EAP-TLS fragments) and the proxy EAPOL-Logoff for the PC port
//! (3.4.4). Sans-IO: frames in, frames out, `now` passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ac_cfg::Config;
use md5::{Digest, Md5};

use crate::l2::{self, Mac};
use crate::vlan::schema_default;

/// EtherType of EAPOL (802.1X-2010 11.1.4).
pub const ETHERTYPE: u16 = 0x888e;
/// PAE group address (802.1X-2010 11.1.1, table 11-1).
pub const PAE_GROUP: Mac = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
/// EAPOL protocol version we send (802.1X-2004).
pub const VERSION: u8 = 2;

pub const EAPOL_EAP: u8 = 0;
pub const EAPOL_START: u8 = 1;
pub const EAPOL_LOGOFF: u8 = 2;

pub const CODE_REQUEST: u8 = 1;
pub const CODE_RESPONSE: u8 = 2;
pub const CODE_SUCCESS: u8 = 3;
pub const CODE_FAILURE: u8 = 4;

pub const TYPE_IDENTITY: u8 = 1;
pub const TYPE_NOTIFICATION: u8 = 2;
pub const TYPE_NAK: u8 = 3;
pub const TYPE_MD5: u8 = 4;
pub const TYPE_TLS: u8 = 13;

/// EAP-TLS flags (RFC 5216 3.1).
pub const TLS_L: u8 = 0x80;
pub const TLS_M: u8 = 0x40;
pub const TLS_S: u8 = 0x20;

/// Largest TLS message we reassemble (a certificate chain; RFC 5216 leaves it open).
pub const MAX_TLS_MESSAGE: usize = 64 * 1024;
/// TLS bytes per EAP-TLS fragment we send (fits a 1500-byte frame with headers).
pub const FRAGMENT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EapError {
    #[error("EAPOL frame too short ({0} bytes)")]
    EapolShort(usize),
    #[error("EAPOL body length {len} exceeds the {avail} bytes present")]
    EapolLength { len: usize, avail: usize },
    #[error("EAP packet too short ({0} bytes)")]
    EapShort(usize),
    #[error("EAP length {len} invalid ({avail} bytes present)")]
    EapLength { len: usize, avail: usize },
    #[error("EAP code {0} unknown")]
    Code(u8),
    #[error("EAP-TLS payload malformed: {0}")]
    Tls(&'static str),
    #[error("EAP-MD5 challenge malformed")]
    Md5,
}

/// A checked view of an EAPOL PDU (the Ethernet payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EapolView<'a> {
    pub version: u8,
    pub ptype: u8,
    /// Body, cut to the body length (Ethernet padding dropped).
    pub body: &'a [u8],
}

impl<'a> EapolView<'a> {
    pub fn parse(b: &'a [u8]) -> Result<EapolView<'a>, EapError> {
        if b.len() < 4 {
            return Err(EapError::EapolShort(b.len()));
        }
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if len > b.len() - 4 {
            return Err(EapError::EapolLength {
                len,
                avail: b.len() - 4,
            });
        }
        Ok(EapolView {
            version: b[0],
            ptype: b[1],
            body: &b[4..4 + len],
        })
    }
}

/// EAPOL PDU bytes.
pub fn eapol(ptype: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len().min(0xffff);
    let mut v = vec![VERSION, ptype];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&body[..len]);
    v
}

/// An EAP packet (RFC 3748 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eap {
    pub code: u8,
    pub id: u8,
    /// Type of a Request/Response; `None` for Success/Failure.
    pub typ: Option<u8>,
    pub data: Vec<u8>,
}

/// A checked view of an EAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EapView<'a> {
    pub code: u8,
    pub id: u8,
    pub typ: Option<u8>,
    pub data: &'a [u8],
}

impl<'a> EapView<'a> {
    /// RFC 3748 4.1: octets beyond Length are padding and ignored; a Length over the
    /// received size MUST be silently discarded (here: an error the caller drops).
    pub fn parse(b: &'a [u8]) -> Result<EapView<'a>, EapError> {
        if b.len() < 4 {
            return Err(EapError::EapShort(b.len()));
        }
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if len < 4 || len > b.len() {
            return Err(EapError::EapLength {
                len,
                avail: b.len(),
            });
        }
        let (code, id) = (b[0], b[1]);
        match code {
            CODE_REQUEST | CODE_RESPONSE => {
                if len < 5 {
                    return Err(EapError::EapLength {
                        len,
                        avail: b.len(),
                    });
                }
                Ok(EapView {
                    code,
                    id,
                    typ: Some(b[4]),
                    data: &b[5..len],
                })
            }
            // RFC 3748 4.2: Success and Failure have no data.
            CODE_SUCCESS | CODE_FAILURE => {
                if len != 4 {
                    return Err(EapError::EapLength {
                        len,
                        avail: b.len(),
                    });
                }
                Ok(EapView {
                    code,
                    id,
                    typ: None,
                    data: &[],
                })
            }
            c => Err(EapError::Code(c)),
        }
    }

    pub fn to_owned(&self) -> Eap {
        Eap {
            code: self.code,
            id: self.id,
            typ: self.typ,
            data: self.data.to_vec(),
        }
    }
}

impl Eap {
    pub fn emit(&self) -> Vec<u8> {
        let head = if self.typ.is_some() { 5 } else { 4 };
        let n = self.data.len().min(0xffff - head);
        let mut v = vec![self.code, self.id, 0, 0];
        if let Some(t) = self.typ {
            v.push(t);
            v.extend_from_slice(&self.data[..n]);
        }
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v
    }
}

/// An EAP-MD5 challenge or response value (RFC 1994 4.1 layout: value-size, value, name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5Value {
    pub value: Vec<u8>,
    pub name: Vec<u8>,
}

impl Md5Value {
    pub fn parse(d: &[u8]) -> Result<Md5Value, EapError> {
        let n = usize::from(*d.first().ok_or(EapError::Md5)?);
        if n == 0 || d.len() < 1 + n {
            return Err(EapError::Md5);
        }
        Ok(Md5Value {
            value: d[1..1 + n].to_vec(),
            name: d[1 + n..].to_vec(),
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let n = self.value.len().clamp(1, 255);
        let mut v = vec![n as u8];
        v.extend_from_slice(&self.value[..n.min(self.value.len())]);
        v.resize(1 + n, 0);
        v.extend_from_slice(&self.name);
        v
    }
}

/// RFC 1994 4.1: MD5(identifier || secret || challenge).
pub fn md5_response(id: u8, password: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([id]);
    h.update(password);
    h.update(challenge);
    h.finalize().into()
}

/// An EAP-TLS payload (RFC 5216 3.1/3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPayload {
    pub flags: u8,
    /// TLS Message Length (present when L is set).
    pub total: Option<u32>,
    pub data: Vec<u8>,
}

impl TlsPayload {
    pub fn parse(d: &[u8]) -> Result<TlsPayload, EapError> {
        let flags = *d.first().ok_or(EapError::Tls("no flags"))?;
        if flags & TLS_L != 0 {
            if d.len() < 5 {
                return Err(EapError::Tls("L set without length"));
            }
            let total = u32::from_be_bytes([d[1], d[2], d[3], d[4]]);
            Ok(TlsPayload {
                flags,
                total: Some(total),
                data: d[5..].to_vec(),
            })
        } else {
            Ok(TlsPayload {
                flags,
                total: None,
                data: d[1..].to_vec(),
            })
        }
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![self.flags];
        if self.flags & TLS_L != 0 {
            v.extend_from_slice(&self.total.unwrap_or(0).to_be_bytes());
        }
        v.extend_from_slice(&self.data);
        v
    }
}

/// `network/lan/_802_1x/eap_type` and the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EapType {
    Disable,
    Md5 {
        identity: String,
        password: String,
    },
    /// Certificate and key are given by `security/ieee802_1x_certificate_uri` /
    /// `_private_key_uri`; the driver loads them.
    Tls {
        identity: String,
        certificate_uri: String,
        private_key_uri: String,
    },
}

impl EapType {
    /// From the configuration. EAP-TLS has no identity parameter in the manual: the MD5
    /// identity is used when set, else `<model>-<MAC>` is built by the caller's `fallback`.
    pub fn from_config(c: &Config, fallback_identity: &str) -> EapType {
        let s = |k: &str| {
            c.get_str(k)
                .unwrap_or_else(|| schema_default(k))
                .to_string()
        };
        let identity = s("network/lan/_802_1x/md5_identity");
        match s("network/lan/_802_1x/eap_type")
            .to_ascii_uppercase()
            .as_str()
        {
            "EAP_MD5" => EapType::Md5 {
                identity,
                password: s("network/lan/_802_1x/md5_password"),
            },
            "EAP_TLS" => EapType::Tls {
                identity: if identity.is_empty() {
                    fallback_identity.to_string()
                } else {
                    identity
                },
                certificate_uri: s("security/ieee802_1x_certificate_uri"),
                private_key_uri: s("security/ieee802_1x_private_key_uri"),
            },
            _ => EapType::Disable,
        }
    }
}

/// The method state the supplicant runs.
pub enum Method {
    Md5 {
        identity: String,
        password: Vec<u8>,
    },
    #[cfg(feature = "eap-tls")]
    Tls {
        identity: String,
        config: std::sync::Arc<rustls::ClientConfig>,
    },
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Md5 { identity, .. } => write!(f, "Md5({identity})"),
            #[cfg(feature = "eap-tls")]
            Method::Tls { identity, .. } => write!(f, "Tls({identity})"),
        }
    }
}

impl Method {
    fn identity(&self) -> &str {
        match self {
            Method::Md5 { identity, .. } => identity,
            #[cfg(feature = "eap-tls")]
            Method::Tls { identity, .. } => identity,
        }
    }
    fn eap_type(&self) -> u8 {
        match self {
            Method::Md5 { .. } => TYPE_MD5,
            #[cfg(feature = "eap-tls")]
            Method::Tls { .. } => TYPE_TLS,
        }
    }
}

/// What the supplicant reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EapolEvent {
    /// EAP-Success: the port is authorized.
    Authenticated,
    /// EAP-Failure, or the method failed locally (e.g. untrusted server certificate).
    Failed(String),
    /// A proxy EAPOL-Logoff was sent for the PC with this MAC.
    LoggedOffPc(Mac),
}

/// Supplicant timers (802.1X-2010 8.8: startPeriod 30 s, maxStart 3; heldPeriod 60 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub start_period: Duration,
    pub max_start: u32,
    pub held_period: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            start_period: Duration::from_secs(30),
            max_start: 3,
            held_period: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    Authenticating,
    Authenticated,
    Held,
}

#[cfg(feature = "eap-tls")]
struct TlsState {
    conn: rustls::ClientConnection,
    /// Reassembly of the server's fragmented message.
    rx: Vec<u8>,
    rx_total: Option<usize>,
    /// Our outgoing TLS data not yet sent, and whether the first fragment went out.
    tx: VecDeque<u8>,
    tx_total: usize,
    tx_started: bool,
}

/// The supplicant PAE with its EAP peer.
pub struct Supplicant {
    mac: Mac,
    method: Method,
    timers: Timers,
    state: State,
    starts: u32,
    next: Option<Instant>,
    last: Option<(u8, Vec<u8>)>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<EapolEvent>,
    #[cfg(feature = "eap-tls")]
    tls: Option<TlsState>,
    fragment: usize,
    ignored: u64,
}

impl std::fmt::Debug for Supplicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supplicant")
            .field("method", &self.method)
            .field("state", &self.state)
            .finish()
    }
}

impl Supplicant {
    /// Starts by sending EAPOL-Start (802.1X-2010 8.5.1.1).
    pub fn new(mac: Mac, method: Method, timers: Timers, now: Instant) -> Supplicant {
        Supplicant {
            mac,
            method,
            timers,
            state: State::Connecting,
            starts: 0,
            next: Some(now),
            last: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            #[cfg(feature = "eap-tls")]
            tls: None,
            fragment: FRAGMENT,
            ignored: 0,
        }
    }

    /// TLS bytes per EAP-TLS fragment we send (default [`FRAGMENT`]; at least 64).
    pub fn with_fragment_size(mut self, n: usize) -> Supplicant {
        self.fragment = n.clamp(64, FRAGMENT);
        self
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Frames that were not EAPOL for us, or malformed.
    pub fn ignored_frames(&self) -> u64 {
        self.ignored
    }

    fn send_eapol(&mut self, src: Mac, ptype: u8, body: &[u8]) {
        self.transmit
            .push_back(l2::ethernet(PAE_GROUP, src, ETHERTYPE, &eapol(ptype, body)));
    }

    fn respond(&mut self, id: u8, typ: u8, data: Vec<u8>) {
        let p = Eap {
            code: CODE_RESPONSE,
            id,
            typ: Some(typ),
            data,
        }
        .emit();
        self.send_eapol(self.mac, EAPOL_EAP, &p);
        self.last = Some((id, p));
    }

    /// The PC port's link changed; when it goes down the phone logs the PC off (3.4.4:
    /// "the phone sends an EAPoL-Logoff message for the PC") with the PC's MAC as source.
    pub fn handle_pc_link(&mut self, up: bool, pc_mac: Mac) {
        if !up {
            self.send_eapol(pc_mac, EAPOL_LOGOFF, &[]);
            self.events.push_back(EapolEvent::LoggedOffPc(pc_mac));
        }
    }

    /// Logs the phone itself off (e.g. before a reboot).
    pub fn logoff(&mut self) {
        self.send_eapol(self.mac, EAPOL_LOGOFF, &[]);
        self.state = State::Connecting;
        self.next = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(t) = self.next else {
            return;
        };
        if now < t {
            return;
        }
        match self.state {
            State::Connecting => {
                if self.starts < self.timers.max_start {
                    self.starts += 1;
                    self.send_eapol(self.mac, EAPOL_START, &[]);
                    self.next = Some(now + self.timers.start_period);
                } else {
                    // 802.1X-2010 8.5.1.1: no authenticator; the port is treated as
                    // authorized (a switch without 802.1X).
                    self.next = None;
                }
            }
            State::Held => {
                self.state = State::Connecting;
                self.starts = 0;
                self.next = Some(now);
                self.handle_timeout(now);
            }
            _ => self.next = None,
        }
    }

    /// A received Ethernet frame.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let Ok(f) = l2::Frame::parse(frame) else {
            self.ignored += 1;
            return;
        };
        if f.kind != l2::Kind::EtherType(ETHERTYPE) || f.src == self.mac {
            self.ignored += 1;
            return;
        }
        if f.dst != PAE_GROUP && f.dst != self.mac {
            self.ignored += 1;
            return;
        }
        let Ok(e) = EapolView::parse(f.payload) else {
            self.ignored += 1;
            return;
        };
        if e.ptype != EAPOL_EAP {
            self.ignored += 1;
            return;
        }
        let Ok(p) = EapView::parse(e.body) else {
            self.ignored += 1;
            return;
        };
        self.handle_eap(now, p);
    }

    fn handle_eap(&mut self, now: Instant, p: EapView<'_>) {
        match p.code {
            CODE_SUCCESS => {
                if self.state != State::Authenticated {
                    self.state = State::Authenticated;
                    self.next = None;
                    self.events.push_back(EapolEvent::Authenticated);
                }
            }
            // A Failure outside an exchange (e.g. the late answer to an attempt we already
            // abandoned) says nothing about the next one.
            CODE_FAILURE if self.state != State::Authenticating => self.ignored += 1,
            CODE_FAILURE => self.fail(now, "EAP-Failure from the authenticator".into()),
            CODE_REQUEST => {
                // RFC 3748 4.1: a retransmitted request gets the same response again.
                if let Some((id, resp)) = &self.last {
                    if *id == p.id
                        && self.state == State::Authenticating
                        && p.typ != Some(TYPE_IDENTITY)
                    {
                        let resp = resp.clone();
                        self.send_eapol(self.mac, EAPOL_EAP, &resp);
                        return;
                    }
                }
                self.state = State::Authenticating;
                self.next = None;
                match p.typ {
                    Some(TYPE_IDENTITY) => {
                        let id = self.method.identity().as_bytes().to_vec();
                        #[cfg(feature = "eap-tls")]
                        {
                            self.tls = None;
                        }
                        self.respond(p.id, TYPE_IDENTITY, id);
                    }
                    // RFC 3748 5.2: Notification is acknowledged with an empty response.
                    Some(TYPE_NOTIFICATION) => self.respond(p.id, TYPE_NOTIFICATION, Vec::new()),
                    Some(TYPE_MD5) => match &self.method {
                        Method::Md5 { password, .. } => match Md5Value::parse(p.data) {
                            Ok(c) => {
                                let v = Md5Value {
                                    value: md5_response(p.id, password, &c.value).to_vec(),
                                    name: self.method.identity().as_bytes().to_vec(),
                                };
                                self.respond(p.id, TYPE_MD5, v.emit());
                            }
                            Err(_) => self.ignored += 1,
                        },
                        #[allow(unreachable_patterns)]
                        _ => self.nak(p.id),
                    },
                    #[cfg(feature = "eap-tls")]
                    Some(TYPE_TLS) if matches!(self.method, Method::Tls { .. }) => {
                        self.handle_tls(now, p.id, p.data)
                    }
                    // RFC 3748 5.3.1: a Nak names the type we want.
                    Some(_) => self.nak(p.id),
                    None => {}
                }
            }
            _ => self.ignored += 1,
        }
    }

    fn nak(&mut self, id: u8) {
        let t = self.method.eap_type();
        self.respond(id, TYPE_NAK, vec![t]);
    }

    fn fail(&mut self, now: Instant, why: String) {
        // 802.1X-2010 8.5.1.1: HELD for heldPeriod, then a new attempt.
        self.state = State::Held;
        self.next = Some(now + self.timers.held_period);
        self.last = None;
        #[cfg(feature = "eap-tls")]
        {
            self.tls = None;
        }
        self.events.push_back(EapolEvent::Failed(why));
    }

    #[cfg(feature = "eap-tls")]
    fn handle_tls(&mut self, now: Instant, id: u8, data: &[u8]) {
        let Ok(req) = TlsPayload::parse(data) else {
            self.ignored += 1;
            return;
        };
        if req.flags & TLS_S != 0 {
            // RFC 5216 2.1.1: EAP-TLS Start -> our ClientHello.
            let Method::Tls { config, .. } = &self.method else {
                return;
            };
            // The authenticator has no host name; the verifier checks the chain only.
            let name =
                rustls::pki_types::ServerName::try_from("eap-server.invalid").map(|n| n.to_owned());
            let conn = match name.map_err(|e| e.to_string()).and_then(|n| {
                rustls::ClientConnection::new(config.clone(), n).map_err(|e| e.to_string())
            }) {
                Ok(c) => c,
                Err(e) => return self.fail(now, format!("TLS: {e}")),
            };
            self.tls = Some(TlsState {
                conn,
                rx: Vec::new(),
                rx_total: None,
                tx: VecDeque::new(),
                tx_total: 0,
                tx_started: false,
            });
            self.pump_tls(now, id);
            return;
        }
        let Some(tls) = self.tls.as_mut() else {
            self.ignored += 1;
            return;
        };
        // An empty request while we have fragments queued is the server's ACK (RFC 5216
        // 2.1.5): send the next fragment.
        if req.data.is_empty() && !tls.tx.is_empty() {
            self.send_fragment(id);
            return;
        }
        if let Some(t) = req.total {
            if t as usize > MAX_TLS_MESSAGE {
                return self.fail(now, format!("EAP-TLS message of {t} bytes is too large"));
            }
            if tls.rx.is_empty() {
                tls.rx_total = Some(t as usize);
            }
        }
        if tls.rx.len() + req.data.len() > MAX_TLS_MESSAGE {
            return self.fail(now, "EAP-TLS reassembly over the limit".into());
        }
        tls.rx.extend_from_slice(&req.data);
        if req.flags & TLS_M != 0 {
            // More fragments follow: ACK this one.
            self.respond(id, TYPE_TLS, vec![0]);
            return;
        }
        let msg = std::mem::take(&mut tls.rx);
        tls.rx_total = None;
        let mut rd: &[u8] = &msg;
        while !rd.is_empty() {
            match tls.conn.read_tls(&mut rd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return self.fail(now, format!("TLS: {e}")),
            }
        }
        if let Err(e) = tls.conn.process_new_packets() {
            // Send the alert rustls produced, then give up.
            let mut out = Vec::new();
            let _ = tls.conn.write_tls(&mut out);
            if !out.is_empty() {
                let mut p = TlsPayload {
                    flags: 0,
                    total: None,
                    data: out,
                };
                p.data.truncate(self.fragment);
                self.respond(id, TYPE_TLS, p.emit());
            }
            return self.fail(now, format!("TLS: {e}"));
        }
        self.pump_tls(now, id);
    }

    /// Sends what rustls has to say (fragmented), or an empty response (ACK) when nothing.
    #[cfg(feature = "eap-tls")]
    fn pump_tls(&mut self, now: Instant, id: u8) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while tls.conn.wants_write() {
            match tls.conn.write_tls(&mut out) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return self.fail(now, format!("TLS: {e}")),
            }
        }
        if out.is_empty() {
            self.respond(id, TYPE_TLS, vec![0]);
            return;
        }
        tls.tx_total = out.len();
        tls.tx = out.into();
        tls.tx_started = false;
        self.send_fragment(id);
    }

    #[cfg(feature = "eap-tls")]
    fn send_fragment(&mut self, id: u8) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        let n = tls.tx.len().min(self.fragment);
        let data: Vec<u8> = tls.tx.drain(..n).collect();
        let more = !tls.tx.is_empty();
        let mut flags = if more { TLS_M } else { 0 };
        // RFC 5216 3.1: L on the first fragment of a fragmented message.
        let total = if !tls.tx_started && more {
            flags |= TLS_L;
            Some(tls.tx_total as u32)
        } else {
            None
        };
        tls.tx_started = true;
        let p = TlsPayload { flags, total, data };
        self.respond(id, TYPE_TLS, p.emit());
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<EapolEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

/// A rustls server-certificate verifier for EAP-TLS: the chain must verify against the
/// configured roots (and signatures as usual), but the authenticator has no host name to
/// match, so a name mismatch is accepted (RFC 5216 5.3 leaves the name check to policy).
#[cfg(feature = "eap-tls")]
#[derive(Debug)]
pub struct EapServerVerifier(pub std::sync::Arc<rustls::client::WebPkiServerVerifier>);

#[cfg(feature = "eap-tls")]
impl rustls::client::danger::ServerCertVerifier for EapServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: Mac = [0x02, 0, 0, 0, 0, 0x99];
    const ME: Mac = [0, 0x90, 0x8f, 1, 2, 3];

    fn req(id: u8, typ: u8, data: &[u8]) -> Vec<u8> {
        let p = Eap {
            code: CODE_REQUEST,
            id,
            typ: Some(typ),
            data: data.to_vec(),
        }
        .emit();
        l2::ethernet(PAE_GROUP, AUTH, ETHERTYPE, &eapol(EAPOL_EAP, &p))
    }

    fn code(id: u8, c: u8) -> Vec<u8> {
        let p = Eap {
            code: c,
            id,
            typ: None,
            data: vec![],
        }
        .emit();
        l2::ethernet(PAE_GROUP, AUTH, ETHERTYPE, &eapol(EAPOL_EAP, &p))
    }

    fn eap_of(frame: &[u8]) -> Eap {
        let f = l2::Frame::parse(frame).unwrap();
        EapView::parse(EapolView::parse(f.payload).unwrap().body)
            .unwrap()
            .to_owned()
    }

    fn md5_sup(t0: Instant) -> Supplicant {
        Supplicant::new(
            ME,
            Method::Md5 {
                identity: "phone".into(),
                password: b"secret".to_vec(),
            },
            Timers::default(),
            t0,
        )
    }

    #[test]
    fn md5_exchange_virtual_clock() {
        let t0 = Instant::now();
        let mut s = md5_sup(t0);
        s.handle_timeout(t0);
        let start = s.poll_transmit().unwrap();
        let f = l2::Frame::parse(&start).unwrap();
        assert_eq!(f.dst, PAE_GROUP);
        assert_eq!(EapolView::parse(f.payload).unwrap().ptype, EAPOL_START);
        // No answer: Start again after 30 s, three times in all.
        s.handle_timeout(t0 + Duration::from_secs(30));
        s.handle_timeout(t0 + Duration::from_secs(60));
        s.handle_timeout(t0 + Duration::from_secs(90));
        assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), 2);
        assert_eq!(s.poll_timeout(), None);

        s.handle_frame(t0, &req(7, TYPE_IDENTITY, b""));
        let r = eap_of(&s.poll_transmit().unwrap());
        assert_eq!(
            (r.code, r.id, r.typ, &r.data[..]),
            (CODE_RESPONSE, 7, Some(TYPE_IDENTITY), &b"phone"[..])
        );
        let challenge = [0xab; 16];
        let mut c = vec![16];
        c.extend_from_slice(&challenge);
        s.handle_frame(t0, &req(8, TYPE_MD5, &c));
        let r = eap_of(&s.poll_transmit().unwrap());
        let v = Md5Value::parse(&r.data).unwrap();
        assert_eq!(v.value, md5_response(8, b"secret", &challenge));
        assert_eq!(v.name, b"phone");
        // A retransmitted request gets the same answer.
        s.handle_frame(t0, &req(8, TYPE_MD5, &c));
        assert_eq!(eap_of(&s.poll_transmit().unwrap()), r);
        s.handle_frame(t0, &code(8, CODE_SUCCESS));
        assert_eq!(s.poll_event(), Some(EapolEvent::Authenticated));
        assert_eq!(s.state(), State::Authenticated);
    }

    #[test]
    fn md5_known_answer() {
        // RFC 1994 CHAP-MD5: MD5(0x01 || "secret" || 16 x 0x00), computed independently
        // with `printf '\x01secret' ; head -c16 /dev/zero | md5sum`.
        let r = md5_response(1, b"secret", &[0; 16]);
        assert_eq!(
            r.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "7570c653cdf4755ccffcaa80f29268d1"
        );
    }

    #[test]
    fn failure_holds_then_restarts_and_nak_for_other_types() {
        let t0 = Instant::now();
        let mut s = md5_sup(t0);
        s.handle_timeout(t0);
        s.poll_transmit();
        s.handle_frame(t0, &req(1, TYPE_TLS, &[TLS_S]));
        let r = eap_of(&s.poll_transmit().unwrap());
        assert_eq!((r.typ, &r.data[..]), (Some(TYPE_NAK), &[TYPE_MD5][..]));
        s.handle_frame(t0, &code(1, CODE_FAILURE));
        assert!(matches!(s.poll_event(), Some(EapolEvent::Failed(_))));
        assert_eq!(s.state(), State::Held);
        s.handle_timeout(t0 + Duration::from_secs(60));
        assert_eq!(s.state(), State::Connecting);
        let f = s.poll_transmit().unwrap();
        assert_eq!(
            EapolView::parse(l2::Frame::parse(&f).unwrap().payload)
                .unwrap()
                .ptype,
            EAPOL_START
        );
    }

    #[test]
    fn proxy_logoff_uses_pc_mac() {
        let t0 = Instant::now();
        let mut s = md5_sup(t0);
        let pc = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        s.handle_pc_link(true, pc);
        assert!(s.poll_transmit().is_none());
        s.handle_pc_link(false, pc);
        let f = s.poll_transmit().unwrap();
        let e = l2::Frame::parse(&f).unwrap();
        assert_eq!((e.src, e.dst), (pc, PAE_GROUP));
        assert_eq!(EapolView::parse(e.payload).unwrap().ptype, EAPOL_LOGOFF);
        assert_eq!(s.poll_event(), Some(EapolEvent::LoggedOffPc(pc)));
    }

    #[test]
    fn malformed_is_ignored() {
        let t0 = Instant::now();
        let mut s = md5_sup(t0);
        let mut bad = req(1, TYPE_IDENTITY, b"");
        bad[17] = 0xff; // EAPOL body length past the frame
        s.handle_frame(t0, &bad);
        s.handle_frame(t0, &req(2, TYPE_MD5, &[40, 1, 2]));
        assert!(EapView::parse(&[3, 1, 0, 5, 0]).is_err());
        assert!(EapView::parse(&[1, 1, 0, 4]).is_err());
        assert!(EapView::parse(&[9, 1, 0, 4]).is_err());
        assert_eq!(s.ignored_frames(), 2);
    }
}
