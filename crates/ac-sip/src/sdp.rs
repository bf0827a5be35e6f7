//! SDP (RFC 4566): a checked view of the lines, a typed model and a canonical emitter.
//!
//! [`SdpView::parse`] checks the grammar of every line (`<type>=<value>`, the type a single
//! lower-case letter, the RFC 4566 5 order of the session part, `v=0` first, `o=`, `s=` and
//! `t=` present) and borrows the input. [`Session::parse`] builds the typed model the offer/answer
//! engine ([`crate::offer_answer`]) and the media layer use: m-lines with their formats,
//! `a=rtpmap`, `a=fmtp`, `a=ptime`, `a=maxptime`, `a=rtcp` (RFC 3605), the direction attributes,
//! `a=crypto` (RFC 4568 SDES); any other line or attribute is kept as it came. [`Session::emit`]
//! writes the canonical form (CRLF line ends, RFC 4566 order, typed attributes first);
//! `parse(emit(s)) == s` for every parsed `s`.
//!
//! Limits: 64 KiB of text, 64 m-lines, 1,024 lines; anything else is an [`SdpError`].

use std::fmt::Write as _;
use std::net::IpAddr;

use base64::Engine as _;

/// Base64 for SDES keys: padding optional on input (some peers drop it), written padded.
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Longest SDP body accepted.
pub const MAX_LEN: usize = 64 * 1024;
/// Most lines accepted.
pub const MAX_LINES: usize = 1024;
/// Most m-lines accepted.
pub const MAX_MEDIA: usize = 64;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP longer than {MAX_LEN} bytes")]
    TooLong,
    #[error("more than {MAX_LINES} lines or {MAX_MEDIA} m-lines")]
    TooMany,
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: &'static str },
    #[error("missing {0}= line")]
    Missing(char),
    #[error("bad {field}: {reason}")]
    Field {
        field: &'static str,
        reason: &'static str,
    },
}

fn field(field: &'static str, reason: &'static str) -> SdpError {
    SdpError::Field { field, reason }
}

/// One checked line: its type letter and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub kind: u8,
    pub value: &'a str,
}

/// The checked view: the lines of the session part and of each media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpView<'a> {
    pub session: Vec<Line<'a>>,
    pub media: Vec<Vec<Line<'a>>>,
}

/// Session-level line types in the RFC 4566 5 order (`t`, `r` repeat; `z`, `k`, `a` follow).
const SESSION_ORDER: &[u8] = b"vosiuepcbtrzka";
const MEDIA_ORDER: &[u8] = b"micbka";

fn rank(order: &[u8], k: u8) -> Option<usize> {
    order.iter().position(|&c| c == k)
}

impl<'a> SdpView<'a> {
    /// Checks the line grammar and order (RFC 4566 5). Accepts LF or CRLF line ends
    /// (RFC 4566 5 asks parsers to accept a bare LF).
    pub fn parse(text: &'a str) -> Result<SdpView<'a>, SdpError> {
        if text.len() > MAX_LEN {
            return Err(SdpError::TooLong);
        }
        let mut session = Vec::new();
        let mut media: Vec<Vec<Line<'a>>> = Vec::new();
        let mut last_rank = 0usize;
        for (n, raw) in text.split('\n').enumerate() {
            let line = n + 1;
            if line > MAX_LINES {
                return Err(SdpError::TooMany);
            }
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.is_empty() {
                // A trailing line end (or blank lines at the end) only.
                continue;
            }
            let b = raw.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(SdpError::Line {
                    line,
                    reason: "not <type>=<value>",
                });
            }
            if raw.bytes().any(|c| c == 0 || c == b'\r') {
                return Err(SdpError::Line {
                    line,
                    reason: "NUL or CR inside a line",
                });
            }
            let l = Line {
                kind: b[0],
                value: &raw[2..],
            };
            if session.is_empty() && l.kind != b'v' {
                return Err(SdpError::Line {
                    line,
                    reason: "v= must be the first line",
                });
            }
            if l.kind == b'm' {
                if media.len() == MAX_MEDIA {
                    return Err(SdpError::TooMany);
                }
                media.push(vec![l]);
                last_rank = 0;
                continue;
            }
            let order = if media.is_empty() {
                SESSION_ORDER
            } else {
                MEDIA_ORDER
            };
            let Some(r) = rank(order, l.kind) else {
                return Err(SdpError::Line {
                    line,
                    reason: "line type not allowed here",
                });
            };
            // RFC 4566 5: the lines appear in the given order; `t`/`r` may repeat in turn.
            let tr = media.is_empty() && matches!(l.kind, b't' | b'r');
            if r < last_rank && !(tr && last_rank <= rank(SESSION_ORDER, b'r').unwrap_or(0)) {
                return Err(SdpError::Line {
                    line,
                    reason: "line out of order",
                });
            }
            if l.kind == b'v' && !session.is_empty() {
                return Err(SdpError::Line {
                    line,
                    reason: "second v= line",
                });
            }
            last_rank = r;
            match media.last_mut() {
                Some(m) => m.push(l),
                None => session.push(l),
            }
        }
        for k in [b'v', b'o', b's', b't'] {
            if !session.iter().any(|l| l.kind == k) {
                return Err(SdpError::Missing(k as char));
            }
        }
        Ok(SdpView { session, media })
    }
}

/// `a=sendrecv` / `sendonly` / `recvonly` / `inactive` (RFC 4566 6, RFC 3264 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    fn from_attr(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
    /// The direction seen from the other end (RFC 3264 6.1: sendonly is answered recvonly).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
    /// The direction allowing only what both allow.
    pub fn intersect(self, other: Direction) -> Direction {
        match (
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        ) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// `o=` (RFC 4566 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub sess_id: String,
    pub sess_version: u64,
    pub net_type: String,
    pub addr_type: String,
    pub addr: String,
}

/// `c=` (RFC 4566 5.7); `addr` keeps any `/ttl/count` suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    pub addr: String,
}

impl Connection {
    /// The unicast address, if it is one (`0.0.0.0` included: RFC 2543 hold).
    pub fn ip(&self) -> Option<IpAddr> {
        self.addr.parse().ok()
    }
    pub fn new(ip: IpAddr) -> Connection {
        Connection {
            net_type: "IN".into(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            addr: ip.to_string(),
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 4566 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub encoding: String,
    pub clock: u32,
    pub channels: Option<u8>,
}

/// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// One key of `a=crypto` (RFC 4568 9.2: `inline:<key||salt>[|lifetime][|MKI:length]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoKey {
    /// The decoded master key followed by the master salt.
    pub key_salt: Vec<u8>,
    pub lifetime: Option<String>,
    pub mki: Option<(u64, u16)>,
}

/// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (RFC 4568 4, 9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: String,
    pub keys: Vec<CryptoKey>,
    pub session_params: Vec<String>,
}

/// An attribute other than the typed ones: `a=<name>[:<value>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// A media section (RFC 4566 5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub port: u16,
    pub port_count: Option<u16>,
    pub proto: String,
    pub formats: Vec<String>,
    pub title: Option<String>,
    pub connection: Option<Connection>,
    pub bandwidth: Vec<(String, u64)>,
    pub rtpmap: Vec<RtpMap>,
    pub fmtp: Vec<(String, String)>,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    pub rtcp: Option<Rtcp>,
    pub direction: Option<Direction>,
    pub crypto: Vec<Crypto>,
    pub attributes: Vec<Attribute>,
    /// `k=` and other lines kept as they came.
    pub other: Vec<(char, String)>,
}

/// A session description (RFC 4566 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub origin: Origin,
    pub name: String,
    pub connection: Option<Connection>,
    pub bandwidth: Vec<(String, u64)>,
    /// `t=` lines (start, stop) with their `r=` lines.
    pub times: Vec<(u64, u64, Vec<String>)>,
    pub direction: Option<Direction>,
    pub attributes: Vec<Attribute>,
    /// `i=`, `u=`, `e=`, `p=`, `z=`, `k=` lines kept as they came, in order.
    pub other: Vec<(char, String)>,
    pub media: Vec<Media>,
}

fn token_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic())
}

fn words<'a, const N: usize>(s: &'a str, f: &'static str) -> Result<[&'a str; N], SdpError> {
    let mut it = s.split(' ');
    let mut out = [""; N];
    for o in out.iter_mut() {
        let w = it.next().ok_or(field(f, "too few fields"))?;
        if !token_ok(w) {
            return Err(field(f, "empty or non-visible field"));
        }
        *o = w;
    }
    if it.next().is_some() {
        return Err(field(f, "too many fields"));
    }
    Ok(out)
}

fn num<T: std::str::FromStr>(s: &str, f: &'static str) -> Result<T, SdpError> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(field(f, "not a number"));
    }
    s.parse().map_err(|_| field(f, "number out of range"))
}

fn parse_connection(v: &str) -> Result<Connection, SdpError> {
    let [n, a, addr] = words::<3>(v, "c=")?;
    Ok(Connection {
        net_type: n.into(),
        addr_type: a.into(),
        addr: addr.into(),
    })
}

fn parse_bandwidth(v: &str) -> Result<(String, u64), SdpError> {
    let (t, b) = v.split_once(':').ok_or(field("b=", "no ':'"))?;
    if !token_ok(t) || t.contains(':') {
        return Err(field("b=", "bad type"));
    }
    Ok((t.into(), num(b, "b=")?))
}

fn text_ok(s: &str, f: &'static str) -> Result<String, SdpError> {
    if s.bytes().any(|c| c < 0x20 && c != b'\t') {
        return Err(field(f, "control character"));
    }
    Ok(s.to_string())
}

impl RtpMap {
    fn parse(v: &str) -> Result<RtpMap, SdpError> {
        let (pt, rest) = v.split_once(' ').ok_or(field("rtpmap", "no encoding"))?;
        let pt = num::<u8>(pt, "rtpmap")?;
        if pt > 127 {
            return Err(field("rtpmap", "payload type above 127"));
        }
        let mut p = rest.split('/');
        let encoding = p.next().unwrap_or("");
        if !token_ok(encoding) {
            return Err(field("rtpmap", "bad encoding name"));
        }
        let clock = num::<u32>(p.next().ok_or(field("rtpmap", "no clock rate"))?, "rtpmap")?;
        let channels = match p.next() {
            Some(c) => Some(num::<u8>(c, "rtpmap")?),
            None => None,
        };
        if p.next().is_some() {
            return Err(field("rtpmap", "too many '/' parts"));
        }
        Ok(RtpMap {
            pt,
            encoding: encoding.into(),
            clock,
            channels,
        })
    }
}

impl Rtcp {
    fn parse(v: &str) -> Result<Rtcp, SdpError> {
        let (port, rest) = match v.split_once(' ') {
            Some((p, r)) => (p, Some(r)),
            None => (v, None),
        };
        Ok(Rtcp {
            port: num(port, "rtcp")?,
            connection: rest.map(parse_connection).transpose()?,
        })
    }
}

impl Crypto {
    /// Parses the value after `a=crypto:` (RFC 4568 9.1).
    pub fn parse(v: &str) -> Result<Crypto, SdpError> {
        let mut it = v.split(' ');
        let tag = num::<u32>(it.next().unwrap_or(""), "crypto tag")?;
        if v.split(' ').next().is_some_and(|t| t.len() > 9) {
            return Err(field("crypto tag", "more than 9 digits"));
        }
        let suite = it.next().ok_or(field("crypto", "no suite"))?;
        if !token_ok(suite) {
            return Err(field("crypto", "bad suite"));
        }
        let params = it.next().ok_or(field("crypto", "no key params"))?;
        let mut keys = Vec::new();
        for kp in params.split(';') {
            let inline = kp
                .strip_prefix("inline:")
                .ok_or(field("crypto", "key method is not inline"))?;
            let mut parts = inline.split('|');
            let b64 = parts.next().unwrap_or("");
            let key_salt = B64
                .decode(b64)
                .map_err(|_| field("crypto", "key is not base64"))?;
            if key_salt.is_empty() {
                return Err(field("crypto", "empty key"));
            }
            let mut lifetime = None;
            let mut mki = None;
            for p in parts {
                if let Some((m, l)) = p.split_once(':') {
                    if mki.is_some() {
                        return Err(field("crypto", "two MKIs"));
                    }
                    mki = Some((num(m, "crypto MKI")?, num(l, "crypto MKI")?));
                } else if lifetime.is_none() && mki.is_none() {
                    let ok = p.strip_prefix("2^").unwrap_or(p);
                    num::<u64>(ok, "crypto lifetime")?;
                    lifetime = Some(p.to_string());
                } else {
                    return Err(field("crypto", "bad key parameter"));
                }
            }
            if keys.len() == 16 {
                return Err(field("crypto", "too many keys"));
            }
            keys.push(CryptoKey {
                key_salt,
                lifetime,
                mki,
            });
        }
        let mut session_params = Vec::new();
        for sp in it {
            if !token_ok(sp) {
                return Err(field("crypto", "bad session parameter"));
            }
            session_params.push(sp.to_string());
        }
        Ok(Crypto {
            tag,
            suite: suite.into(),
            keys,
            session_params,
        })
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{} {} ", self.tag, self.suite);
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str("inline:");
            out.push_str(&B64.encode(&k.key_salt));
            if let Some(l) = &k.lifetime {
                let _ = write!(out, "|{l}");
            }
            if let Some((m, l)) = k.mki {
                let _ = write!(out, "|{m}:{l}");
            }
        }
        for sp in &self.session_params {
            let _ = write!(out, " {sp}");
        }
    }
}

fn parse_attr(v: &str) -> Result<(&str, Option<&str>), SdpError> {
    let (name, value) = match v.split_once(':') {
        Some((n, val)) => (n, Some(val)),
        None => (v, None),
    };
    if !token_ok(name) {
        return Err(field("a=", "bad attribute name"));
    }
    Ok((name, value))
}

impl Media {
    /// A media section with no attributes.
    pub fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Media {
        Media {
            kind: kind.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats,
            title: None,
            connection: None,
            bandwidth: Vec::new(),
            rtpmap: Vec::new(),
            fmtp: Vec::new(),
            ptime: None,
            maxptime: None,
            rtcp: None,
            direction: None,
            crypto: Vec::new(),
            attributes: Vec::new(),
            other: Vec::new(),
        }
    }

    fn parse(lines: &[Line<'_>]) -> Result<Media, SdpError> {
        let m = lines[0].value;
        let mut it = m.split(' ');
        let kind = it.next().unwrap_or("");
        let port = it.next().ok_or(field("m=", "no port"))?;
        let proto = it.next().ok_or(field("m=", "no proto"))?;
        if !token_ok(kind) || !token_ok(proto) {
            return Err(field("m=", "bad media or proto"));
        }
        let (port, port_count) = match port.split_once('/') {
            Some((p, c)) => (num(p, "m= port")?, Some(num(c, "m= port count")?)),
            None => (num(port, "m= port")?, None),
        };
        let mut formats = Vec::new();
        for f in it {
            if !token_ok(f) {
                return Err(field("m=", "bad format"));
            }
            formats.push(f.to_string());
        }
        let mut media = Media::new(kind, port, proto, formats);
        media.port_count = port_count;
        for l in &lines[1..] {
            match l.kind {
                b'i' if media.title.is_none() => media.title = Some(text_ok(l.value, "i=")?),
                b'i' => return Err(field("i=", "two i= lines in a media section")),
                b'c' => {
                    if media.connection.is_some() {
                        // A second c= (multicast layers) is kept verbatim.
                        media.other.push(('c', text_ok(l.value, "c=")?));
                    } else {
                        media.connection = Some(parse_connection(l.value)?)
                    }
                }
                b'b' => media.bandwidth.push(parse_bandwidth(l.value)?),
                b'a' => media.attr(l.value)?,
                k => media.other.push((k as char, text_ok(l.value, "line")?)),
            }
        }
        Ok(media)
    }

    fn attr(&mut self, v: &str) -> Result<(), SdpError> {
        let (name, value) = parse_attr(v)?;
        match (name, value) {
            ("rtpmap", Some(val)) => {
                let r = RtpMap::parse(val)?;
                if self.rtpmap.iter().any(|o| o.pt == r.pt) {
                    return Err(field("rtpmap", "payload type mapped twice"));
                }
                self.rtpmap.push(r);
            }
            ("fmtp", Some(val)) => {
                let (f, p) = val.split_once(' ').unwrap_or((val, ""));
                if !token_ok(f) {
                    return Err(field("fmtp", "bad format"));
                }
                self.fmtp.push((f.into(), text_ok(p, "fmtp")?));
            }
            ("ptime", Some(val)) if self.ptime.is_none() => self.ptime = Some(num(val, "ptime")?),
            ("maxptime", Some(val)) if self.maxptime.is_none() => {
                self.maxptime = Some(num(val, "maxptime")?)
            }
            ("rtcp", Some(val)) if self.rtcp.is_none() => self.rtcp = Some(Rtcp::parse(val)?),
            ("crypto", Some(val)) => self.crypto.push(Crypto::parse(val)?),
            (d, None) if Direction::from_attr(d).is_some() && self.direction.is_none() => {
                self.direction = Direction::from_attr(d)
            }
            (n, v) => self.attributes.push(Attribute {
                name: n.into(),
                value: v.map(|v| text_ok(v, "a=")).transpose()?,
            }),
        }
        Ok(())
    }

    /// The rtpmap of payload type `pt`, or the RFC 3551 static one.
    pub fn rtpmap_of(&self, pt: u8) -> Option<RtpMap> {
        if let Some(r) = self.rtpmap.iter().find(|r| r.pt == pt) {
            return Some(r.clone());
        }
        let (enc, clock) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            4 => ("G723", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(RtpMap {
            pt,
            encoding: enc.into(),
            clock,
            channels: None,
        })
    }

    /// The fmtp parameters of format `f`.
    pub fn fmtp_of(&self, f: &str) -> Option<&str> {
        self.fmtp
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.as_str())
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "m={} {}", self.kind, self.port);
        if let Some(c) = self.port_count {
            let _ = write!(out, "/{c}");
        }
        let _ = write!(out, " {}", self.proto);
        for f in &self.formats {
            let _ = write!(out, " {f}");
        }
        out.push_str("\r\n");
        if let Some(i) = &self.title {
            let _ = write!(out, "i={i}\r\n");
        }
        if let Some(c) = &self.connection {
            write_conn(out, c);
        }
        for (k, v) in self.other.iter().filter(|(k, _)| *k == 'c') {
            let _ = write!(out, "{k}={v}\r\n");
        }
        for (t, b) in &self.bandwidth {
            let _ = write!(out, "b={t}:{b}\r\n");
        }
        for (k, v) in self.other.iter().filter(|(k, _)| *k != 'c') {
            let _ = write!(out, "{k}={v}\r\n");
        }
        for r in &self.rtpmap {
            let _ = write!(out, "a=rtpmap:{} {}/{}", r.pt, r.encoding, r.clock);
            if let Some(c) = r.channels {
                let _ = write!(out, "/{c}");
            }
            out.push_str("\r\n");
        }
        for (f, p) in &self.fmtp {
            if p.is_empty() {
                let _ = write!(out, "a=fmtp:{f}\r\n");
            } else {
                let _ = write!(out, "a=fmtp:{f} {p}\r\n");
            }
        }
        if let Some(p) = self.ptime {
            let _ = write!(out, "a=ptime:{p}\r\n");
        }
        if let Some(p) = self.maxptime {
            let _ = write!(out, "a=maxptime:{p}\r\n");
        }
        if let Some(r) = &self.rtcp {
            let _ = write!(out, "a=rtcp:{}", r.port);
            if let Some(c) = &r.connection {
                let _ = write!(out, " {} {} {}", c.net_type, c.addr_type, c.addr);
            }
            out.push_str("\r\n");
        }
        for c in &self.crypto {
            out.push_str("a=crypto:");
            c.write(out);
            out.push_str("\r\n");
        }
        if let Some(d) = self.direction {
            let _ = write!(out, "a={}\r\n", d.as_str());
        }
        write_attrs(out, &self.attributes);
    }
}

fn write_conn(out: &mut String, c: &Connection) {
    let _ = write!(out, "c={} {} {}\r\n", c.net_type, c.addr_type, c.addr);
}

fn write_attrs(out: &mut String, attrs: &[Attribute]) {
    for a in attrs {
        match &a.value {
            Some(v) => {
                let _ = write!(out, "a={}:{}\r\n", a.name, v);
            }
            None => {
                let _ = write!(out, "a={}\r\n", a.name);
            }
        }
    }
}

impl Session {
    /// Parses an SDP body (checked view first, then the typed model).
    pub fn parse(text: &str) -> Result<Session, SdpError> {
        let view = SdpView::parse(text)?;
        Session::from_view(&view)
    }

    /// Parses bytes (a SIP body).
    pub fn parse_bytes(body: &[u8]) -> Result<Session, SdpError> {
        if body.len() > MAX_LEN {
            return Err(SdpError::TooLong);
        }
        Session::parse(std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?)
    }

    /// The typed model of a checked view.
    pub fn from_view(view: &SdpView<'_>) -> Result<Session, SdpError> {
        let mut origin = None;
        let mut name = None;
        let mut s = Session {
            origin: Origin {
                username: String::new(),
                sess_id: String::new(),
                sess_version: 0,
                net_type: String::new(),
                addr_type: String::new(),
                addr: String::new(),
            },
            name: String::new(),
            connection: None,
            bandwidth: Vec::new(),
            times: Vec::new(),
            direction: None,
            attributes: Vec::new(),
            other: Vec::new(),
            media: Vec::new(),
        };
        for l in &view.session {
            match l.kind {
                b'v' => {
                    if l.value != "0" {
                        return Err(field("v=", "version is not 0"));
                    }
                }
                b'o' => {
                    if origin.is_some() {
                        return Err(field("o=", "two o= lines"));
                    }
                    let [u, id, ver, n, a, addr] = words::<6>(l.value, "o=")?;
                    num::<u64>(id, "o= sess-id")?;
                    origin = Some(Origin {
                        username: u.into(),
                        sess_id: id.into(),
                        sess_version: num(ver, "o= sess-version")?,
                        net_type: n.into(),
                        addr_type: a.into(),
                        addr: addr.into(),
                    });
                }
                b's' => {
                    if name.is_some() {
                        return Err(field("s=", "two s= lines"));
                    }
                    name = Some(text_ok(l.value, "s=")?);
                }
                b'c' => {
                    if s.connection.is_some() {
                        return Err(field("c=", "two session c= lines"));
                    }
                    s.connection = Some(parse_connection(l.value)?)
                }
                b'b' => s.bandwidth.push(parse_bandwidth(l.value)?),
                b't' => {
                    let [a, b] = words::<2>(l.value, "t=")?;
                    s.times.push((num(a, "t=")?, num(b, "t=")?, Vec::new()));
                }
                b'r' => match s.times.last_mut() {
                    Some(t) => t.2.push(text_ok(l.value, "r=")?),
                    None => return Err(field("r=", "before t=")),
                },
                b'a' => {
                    let (n, v) = parse_attr(l.value)?;
                    match (Direction::from_attr(n), v) {
                        (Some(d), None) if s.direction.is_none() => s.direction = Some(d),
                        _ => s.attributes.push(Attribute {
                            name: n.into(),
                            value: v.map(|v| text_ok(v, "a=")).transpose()?,
                        }),
                    }
                }
                k => s.other.push((k as char, text_ok(l.value, "line")?)),
            }
        }
        s.origin = origin.ok_or(SdpError::Missing('o'))?;
        s.name = name.ok_or(SdpError::Missing('s'))?;
        for m in &view.media {
            s.media.push(Media::parse(m)?);
        }
        Ok(s)
    }

    /// The canonical text (CRLF line ends).
    pub fn emit(&self) -> String {
        let mut out = String::with_capacity(256);
        let o = &self.origin;
        let _ = write!(
            out,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username, o.sess_id, o.sess_version, o.net_type, o.addr_type, o.addr, self.name
        );
        // RFC 4566 5 order: i u e p before c, z k after r.
        for (k, v) in self.other.iter().filter(|(k, _)| "iuep".contains(*k)) {
            let _ = write!(out, "{k}={v}\r\n");
        }
        if let Some(c) = &self.connection {
            write_conn(&mut out, c);
        }
        for (t, b) in &self.bandwidth {
            let _ = write!(out, "b={t}:{b}\r\n");
        }
        for (a, b, r) in &self.times {
            let _ = write!(out, "t={a} {b}\r\n");
            for r in r {
                let _ = write!(out, "r={r}\r\n");
            }
        }
        for (k, v) in self.other.iter().filter(|(k, _)| !"iuep".contains(*k)) {
            let _ = write!(out, "{k}={v}\r\n");
        }
        if let Some(d) = self.direction {
            let _ = write!(out, "a={}\r\n", d.as_str());
        }
        write_attrs(&mut out, &self.attributes);
        for m in &self.media {
            m.write(&mut out);
        }
        out
    }

    /// The connection address that applies to media section `i` (RFC 4566 5.7).
    pub fn connection_of(&self, i: usize) -> Option<&Connection> {
        self.media
            .get(i)
            .and_then(|m| m.connection.as_ref())
            .or(self.connection.as_ref())
    }

    /// The direction of media section `i`: its own attribute, else the session's, else
    /// sendrecv (RFC 3264 5.1).
    pub fn direction_of(&self, i: usize) -> Direction {
        self.media
            .get(i)
            .and_then(|m| m.direction)
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/SAVP 0 8 97 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 iLBC/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=rtcp:53020 IN IP4 126.16.64.4\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\na=sendonly\r\na=x-custom:yes\r\nm=video 0 RTP/AVP 31\r\n";

    #[test]
    fn parses_typed_fields() {
        let s = Session::parse(OFFER).unwrap();
        assert_eq!(s.origin.sess_version, 2890844526);
        assert_eq!(s.media.len(), 2);
        let a = &s.media[0];
        assert_eq!(a.formats, ["0", "8", "97", "101"]);
        assert_eq!(a.rtpmap[3].encoding, "telephone-event");
        assert_eq!(a.fmtp_of("101"), Some("0-15"));
        assert_eq!(a.ptime, Some(20));
        assert_eq!(a.rtcp.as_ref().unwrap().port, 53020);
        assert_eq!(a.direction, Some(Direction::SendOnly));
        let c = &a.crypto[0];
        assert_eq!((c.tag, c.suite.as_str()), (1, "AES_CM_128_HMAC_SHA1_80"));
        assert_eq!(c.keys[0].key_salt.len(), 30);
        assert_eq!(c.keys[0].lifetime.as_deref(), Some("2^20"));
        assert_eq!(c.keys[0].mki, Some((1, 32)));
        assert_eq!(a.attributes[0].name, "x-custom");
        assert_eq!(s.direction_of(1), Direction::SendRecv);
        assert_eq!(s.media[1].rtpmap_of(31), None);
        assert_eq!(a.rtpmap_of(0).unwrap().encoding, "PCMU");
        let again = Session::parse(&s.emit()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "",
            "o=a 1 1 IN IP4 x\r\n",
            "v=0\r\ns=x\r\nt=0 0\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\ns=\r\n",
            "v=1\r\no=a 1 1 IN IP4 x\r\ns=\r\nt=0 0\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\nt=0 0\r\ns=\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\ns=\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\ns=\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:200 X/8000\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\ns=\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\na=crypto:1 X inline:!!!\r\n",
            "v=0\r\no=a 1 1 IN IP4 x\r\ns=\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\nv=0\r\n",
            "v=0\r\no=a x 1 IN IP4 x\r\ns=\r\nt=0 0\r\n",
            "v=0\r\nX=a\r\n",
        ] {
            assert!(Session::parse(bad).is_err(), "{bad:?}");
        }
        let big = "v=0\r\n".repeat(20_000);
        assert_eq!(Session::parse(&big), Err(SdpError::TooLong));
    }

    #[test]
    fn bare_lf_accepted() {
        let s = Session::parse("v=0\no=- 1 2 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n")
            .unwrap();
        assert_eq!(s.media[0].port, 4000);
        assert!(s.emit().contains("\r\nm=audio 4000 RTP/AVP 0\r\n"));
    }
}
