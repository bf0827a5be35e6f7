//! SIP messages (RFC 3261 sections 7, 18.3, 20, 25): a checked, zero-copy view over a byte
//! buffer, canonical emit, typed header values, and stream framing.
//!
//! [`Message::parse`] checks the start line, every header line's shape, the Request-URI and
//! Content-Length; typed values (`vias()`, `cseq()`, `from()`, ...) are parsed on access.
//! Header values are borrowed from the input unless they were folded over several lines (then
//! the unfolded value is owned). [`Message::emit`] writes the canonical form: one header per
//! line as `Name: value`, unfolded, with the body; parsing that again gives the same message.

pub mod build;
pub mod headers;
pub mod name;

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::{ParseError, Result};
use crate::lex::{decimal, is_token, is_ws};
use crate::uri::Uri;

pub use build::{response_to, MessageBuf};
pub use headers::*;
pub use name::{HeaderName, Method};

/// Limits on what the parser accepts from the network.
pub const MAX_HEAD: usize = 64 * 1024;
pub const MAX_HEADERS: usize = 256;
/// Bodies larger than this are refused (a desk phone sees SDP, XML and multipart of a few KiB).
pub const MAX_BODY: usize = 1 << 20;

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request {
        method: Method<'a>,
        uri: Uri<'a>,
        version: &'a str,
    },
    Response {
        version: &'a str,
        code: u16,
        reason: &'a str,
    },
}

/// One header field line (or its folded continuation lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// As written (case and compact form kept).
    pub name: &'a str,
    /// Trimmed; folded lines joined with a single space (RFC 3261 section 7.3.1).
    pub value: Cow<'a, str>,
    /// The name recognised once, at parse time.
    kind: HeaderName<'a>,
}

impl<'a> Header<'a> {
    pub fn new(name: &'a str, value: Cow<'a, str>) -> Header<'a> {
        Header {
            name,
            value,
            kind: HeaderName::parse(name),
        }
    }

    pub fn kind(&self) -> HeaderName<'a> {
        self.kind
    }
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub start: StartLine<'a>,
    pub headers: Vec<Header<'a>>,
    pub body: &'a [u8],
}

fn line_err(line: usize, reason: &'static str) -> ParseError {
    ParseError::HeaderLine { line, reason }
}

/// `SIP/` 1*DIGIT `.` 1*DIGIT (the protocol name is case-insensitive).
fn check_version(v: &str) -> Result<&str> {
    let ok = v.len() > 4
        && crate::lex::starts_with_ci(v, "SIP/")
        && v[4..].split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(v)
    } else {
        Err(ParseError::Version(v.chars().take(32).collect()))
    }
}

fn start_line(l: &str) -> Result<StartLine<'_>> {
    if crate::lex::starts_with_ci(l, "SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 7.2).
        let (version, rest) = l
            .split_once(' ')
            .ok_or(ParseError::StartLine("no status code"))?;
        let version = check_version(version)?;
        let (code, reason) = match rest.split_once(' ') {
            Some((c, r)) => (c, r),
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::StatusCode(code.chars().take(16).collect()));
        }
        let code: u16 = code.parse().map_err(|_| ParseError::StartLine("status"))?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::StatusCode(code.to_string()));
        }
        if reason.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ParseError::StartLine("control character in reason phrase"));
        }
        return Ok(StartLine::Response {
            version,
            code,
            reason,
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 7.1): single spaces, no
    // white space inside the URI (RFC 4475 3.1.2.11-13).
    let mut it = l.split(' ');
    let (Some(m), Some(u), Some(v), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(ParseError::StartLine(
            "request line is not Method SP Request-URI SP SIP-Version",
        ));
    };
    if m.is_empty() || !m.chars().all(is_token) {
        return Err(ParseError::StartLine("bad method"));
    }
    if u.contains(['<', '>']) {
        return Err(ParseError::StartLine("Request-URI in angle brackets"));
    }
    let uri = Uri::parse(u)?;
    // RFC 3261 19.1.1 Table 1: headers are not allowed in a Request-URI (RFC 4475 3.1.2.11).
    if let Uri::Sip(s) = &uri {
        if !s.headers.is_empty() {
            return Err(ParseError::StartLine("headers in the Request-URI"));
        }
    }
    Ok(StartLine::Request {
        method: Method::from_token(m),
        uri,
        version: check_version(v)?,
    })
}

/// Where the header section ends: `(head_len, body_start)`; accepts CRLF or bare LF lines.
fn head_end(b: &[u8]) -> Option<(usize, usize)> {
    for nl in memchr::memchr_iter(b'\n', b) {
        let next = nl + 1;
        match b.get(next) {
            Some(b'\n') => return Some((nl, next + 1)),
            Some(b'\r') if b.get(next + 1) == Some(&b'\n') => return Some((nl, next + 2)),
            _ => {}
        }
    }
    None
}

/// Leading CRLFs before a message are ignored (RFC 3261 section 7.5).
fn skip_leading_crlf(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// RFC 3261 25.1 `token` characters, as a table (the header-name check runs on every line).
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        c += 1;
    }
    t
};

/// Whether a header line holds a control character other than HT where RFC 3261 25.1 does
/// not allow one: header values are TEXT-UTF8 / LWS, except that a quoted-pair inside a
/// quoted string may escape any octet but CR and LF (`quoted-pair = "\\" (%x00-09 / %x0B-0C /
/// %x0E-7F)`, RFC 4475 3.1.1.2). Branch-free first pass so the common case vectorises.
fn has_ctl(l: &[u8]) -> bool {
    let any = l.iter().fold(false, |acc, &c| {
        acc | ((c < 0x20) & (c != b'\t')) | (c == 0x7f)
    });
    any && !ctl_only_in_quoted_pairs(l)
}

fn ctl_only_in_quoted_pairs(l: &[u8]) -> bool {
    let mut quoted = false;
    let mut i = 0;
    while i < l.len() {
        let c = l[i];
        if quoted && c == b'\\' {
            match l.get(i + 1) {
                Some(b'\r' | b'\n') | None => return false,
                Some(_) => i += 2,
            }
            continue;
        }
        if c == b'"' {
            quoted = !quoted;
        } else if (c < 0x20 && c != b'\t') || c == 0x7f {
            return false;
        }
        i += 1;
    }
    true
}

fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    let mut j = b.len();
    while i < j && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    while j > i && (b[j - 1] == b' ' || b[j - 1] == b'\t') {
        j -= 1;
    }
    // Only ASCII bytes were skipped, so both ends are on character boundaries.
    &s[i..j]
}

/// The next line of `s` from `pos`: `(text without CRLF/LF, position after it)`.
#[inline]
fn next_line(s: &str, pos: usize) -> (&str, usize) {
    let rest = &s[pos..];
    let (line, adv) = match memchr::memchr(b'\n', rest.as_bytes()) {
        Some(n) => (&rest[..n], n + 1),
        None => (rest, rest.len() + 1),
    };
    (line.strip_suffix('\r').unwrap_or(line), pos + adv)
}

fn push_header<'a>(
    headers: &mut Vec<Header<'a>>,
    content_length: &mut Option<usize>,
    name: &'a str,
    value: Cow<'a, str>,
) -> Result<()> {
    if headers.len() >= MAX_HEADERS {
        return Err(ParseError::TooManyHeaders(MAX_HEADERS));
    }
    let h = Header::new(name, value);
    if h.kind == HeaderName::ContentLength {
        // Several Content-Length fields must agree (RFC 4475 3.1.2.16).
        let n = decimal::<usize>(&h.value).ok_or(ParseError::Header {
            header: "Content-Length",
            reason: "not a number",
        })?;
        if content_length.is_some_and(|o| o != n) {
            return Err(ParseError::ContentLengthConflict);
        }
        *content_length = Some(n);
    }
    headers.push(h);
    Ok(())
}

impl<'a> Message<'a> {
    /// Parses one message from a datagram (RFC 3261 section 18.3: a Content-Length larger
    /// than the body is an error; bytes past Content-Length are discarded; without
    /// Content-Length the body runs to the end).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>> {
        let skip = skip_leading_crlf(buf);
        let b = &buf[skip..];
        if b.is_empty() {
            return Err(ParseError::Empty);
        }
        let (head_len, body_start) = head_end(b).ok_or(if b.len() > MAX_HEAD {
            ParseError::TooLong(MAX_HEAD)
        } else {
            ParseError::NoHeaderEnd
        })?;
        if head_len > MAX_HEAD {
            return Err(ParseError::TooLong(MAX_HEAD));
        }
        let head = std::str::from_utf8(&b[..head_len]).map_err(|_| ParseError::NotUtf8)?;
        let (first, rest) = match memchr::memchr(b'\n', head.as_bytes()) {
            Some(n) => (&head[..n], Some(&head[n + 1..])),
            None => (head, None),
        };
        let start = start_line(first.strip_suffix('\r').unwrap_or(first))?;
        let mut headers: Vec<Header<'a>> = Vec::with_capacity(16);
        let mut content_length = None;
        // Header lines (RFC 3261 7.3), numbered from 2 for errors.
        let text = rest.unwrap_or("");
        let mut pos = if rest.is_some() { 0 } else { 1 };
        let mut lineno = 1;
        while pos <= text.len() {
            let (l, next) = next_line(text, pos);
            pos = next;
            lineno += 1;
            let start_no = lineno;
            let folded = matches!(text.as_bytes().get(pos), Some(b' ' | b'\t'));
            if !folded && has_ctl(l.as_bytes()) {
                return Err(line_err(lineno, "control character in header line"));
            }
            if l.starts_with(is_ws) {
                return Err(line_err(lineno, "continuation line before any header"));
            }
            let colon = memchr::memchr(b':', l.as_bytes()).ok_or(line_err(lineno, "no colon"))?;
            let name = l[..colon].trim_end_matches(is_ws);
            if name.is_empty() || !name.bytes().all(|c| TOKEN[c as usize]) {
                return Err(line_err(lineno, "bad header name"));
            }
            let first = trim_ws(&l[colon + 1..]);
            // Folded continuation lines (RFC 3261 section 7.3.1) are joined with one space.
            let mut owned: Option<String> = None;
            while matches!(text.as_bytes().get(pos), Some(b' ' | b'\t')) {
                let (c, next) = next_line(text, pos);
                pos = next;
                lineno += 1;
                let c = trim_ws(c);
                if c.is_empty() {
                    continue;
                }
                let v = owned.get_or_insert_with(|| first.to_string());
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(c);
            }
            let value = match owned {
                // The unfolded value is checked as a whole: a quoted string may span the fold.
                Some(v) if has_ctl(v.as_bytes()) => {
                    return Err(line_err(start_no, "control character in header line"));
                }
                Some(v) => Cow::Owned(v),
                None if folded && has_ctl(first.as_bytes()) => {
                    return Err(line_err(start_no, "control character in header line"));
                }
                None => Cow::Borrowed(first),
            };
            push_header(&mut headers, &mut content_length, name, value)?;
        }
        let mut msg = Message {
            start,
            headers,
            body: &b[body_start..],
        };
        if let Some(cl) = content_length {
            if cl > msg.body.len() {
                return Err(ParseError::ShortBody {
                    declared: cl,
                    available: msg.body.len(),
                });
            }
            msg.body = &msg.body[..cl];
        }
        if msg.body.len() > MAX_BODY {
            return Err(ParseError::TooLong(MAX_BODY));
        }
        Ok(msg)
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<Method<'a>> {
        match &self.start {
            StartLine::Request { method, .. } => Some(*method),
            _ => None,
        }
    }

    pub fn request_uri(&self) -> Option<&Uri<'a>> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Every field of `name`, in order.
    pub fn fields<'m>(&'m self, name: HeaderName<'m>) -> impl Iterator<Item = &'m str> + 'm {
        self.headers
            .iter()
            .filter(move |h| h.kind().same(&name))
            .map(|h| h.value.as_ref())
    }

    /// Every value of a list header (one per comma-separated element, over all its fields).
    pub fn values<'m>(&'m self, name: HeaderName<'m>) -> Vec<&'m str> {
        let mut out = Vec::new();
        for f in self.fields(name) {
            out.extend(
                crate::lex::split_commas(f)
                    .into_iter()
                    .filter(|v| !v.is_empty()),
            );
        }
        out
    }

    /// The first field of `name`.
    pub fn first<'m>(&'m self, name: HeaderName<'m>) -> Option<&'m str> {
        self.fields(name).next()
    }

    /// A header that must appear once (RFC 3261 section 20: Call-ID, CSeq, From, To, ...).
    fn single(&self, name: HeaderName<'static>, header: &'static str) -> Result<Option<&str>> {
        let mut it = self.fields(name);
        let v = it.next();
        if it.next().is_some() {
            return Err(ParseError::Header {
                header,
                reason: "appears more than once",
            });
        }
        Ok(v)
    }

    /// Content-Length; several fields must agree (RFC 4475 3.1.2.16).
    pub fn content_length(&self) -> Result<Option<usize>> {
        let mut out: Option<usize> = None;
        for v in self.fields(HeaderName::ContentLength) {
            let n = decimal::<usize>(v).ok_or(ParseError::Header {
                header: "Content-Length",
                reason: "not a number",
            })?;
            if out.is_some_and(|o| o != n) {
                return Err(ParseError::ContentLengthConflict);
            }
            out = Some(n);
        }
        Ok(out)
    }

    pub fn call_id(&self) -> Result<&str> {
        let v = self
            .single(HeaderName::CallId, "Call-ID")?
            .ok_or(ParseError::Missing("Call-ID"))?;
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(ParseError::Header {
                header: "Call-ID",
                reason: "not a callid word",
            });
        }
        Ok(v)
    }

    pub fn cseq(&self) -> Result<CSeq<'_>> {
        CSeq::parse(
            self.single(HeaderName::CSeq, "CSeq")?
                .ok_or(ParseError::Missing("CSeq"))?,
        )
    }

    pub fn from(&self) -> Result<NameAddr<'_>> {
        NameAddr::parse(
            self.single(HeaderName::From, "From")?
                .ok_or(ParseError::Missing("From"))?,
        )
    }

    pub fn to(&self) -> Result<NameAddr<'_>> {
        NameAddr::parse(
            self.single(HeaderName::To, "To")?
                .ok_or(ParseError::Missing("To"))?,
        )
    }

    pub fn vias(&self) -> Result<Vec<Via<'_>>> {
        self.values(HeaderName::Via)
            .into_iter()
            .map(Via::parse)
            .collect()
    }

    pub fn top_via(&self) -> Result<Via<'_>> {
        let v = self
            .values(HeaderName::Via)
            .into_iter()
            .next()
            .ok_or(ParseError::Missing("Via"))?;
        Via::parse(v)
    }

    /// Contact values; `Contact: *` gives [`Contact::Star`].
    pub fn contacts(&self) -> Result<Vec<Contact<'_>>> {
        self.values(HeaderName::Contact)
            .into_iter()
            .map(Contact::parse)
            .collect()
    }

    pub fn routes(&self, name: HeaderName<'static>) -> Result<Vec<NameAddr<'_>>> {
        self.values(name).into_iter().map(NameAddr::parse).collect()
    }

    pub fn max_forwards(&self) -> Result<Option<u8>> {
        self.single(HeaderName::MaxForwards, "Max-Forwards")?
            .map(|v| {
                decimal::<u8>(v).ok_or(ParseError::Header {
                    header: "Max-Forwards",
                    reason: "not 0-255",
                })
            })
            .transpose()
    }

    /// Expires (RFC 3261 20.19: delta-seconds; values past 2^32-1 are refused).
    pub fn expires(&self) -> Result<Option<u32>> {
        self.single(HeaderName::Expires, "Expires")?
            .map(|v| {
                decimal::<u32>(v).ok_or(ParseError::Header {
                    header: "Expires",
                    reason: "not delta-seconds",
                })
            })
            .transpose()
    }

    pub fn min_expires(&self) -> Result<Option<u32>> {
        self.single(HeaderName::MinExpires, "Min-Expires")?
            .map(|v| {
                decimal::<u32>(v).ok_or(ParseError::Header {
                    header: "Min-Expires",
                    reason: "not delta-seconds",
                })
            })
            .transpose()
    }

    pub fn content_type(&self) -> Result<Option<MediaType<'_>>> {
        self.single(HeaderName::ContentType, "Content-Type")?
            .map(MediaType::parse)
            .transpose()
    }

    /// Option tags of Require / Supported / Proxy-Require / Unsupported, and Allow methods.
    pub fn tokens(&self, name: HeaderName<'static>) -> Vec<&str> {
        self.values(name)
    }

    /// The canonical form: start line, one `Name: value` line per field, blank line, body.
    pub fn emit(&self) -> Vec<u8> {
        let mut s = String::with_capacity(256 + self.headers.len() * 48);
        match &self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                let _ = write!(s, "{method} {uri} {version}\r\n");
            }
            StartLine::Response {
                version,
                code,
                reason,
            } => {
                let _ = write!(s, "{version} {code} {reason}\r\n");
            }
        }
        for h in &self.headers {
            s.push_str(h.name);
            s.push_str(": ");
            s.push_str(&h.value);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        let mut out = s.into_bytes();
        out.extend_from_slice(self.body);
        out
    }

    /// The checks a UAS makes before handing a request to the transaction user (RFC 3261
    /// sections 8.1.1 and 8.2): the mandatory headers parse and the CSeq method matches the
    /// request method. A response also needs a Via.
    pub fn check_mandatory(&self) -> Result<()> {
        self.call_id()?;
        let cseq = self.cseq()?;
        self.from()?;
        self.to()?;
        let vias = self.vias()?;
        if vias.is_empty() {
            return Err(ParseError::Missing("Via"));
        }
        self.max_forwards()?;
        self.expires()?;
        self.contacts()?;
        if let Some(m) = self.method() {
            // RFC 3261 8.2: a request whose CSeq method differs is malformed (RFC 4475 3.1.2.17).
            if cseq.method != m {
                return Err(ParseError::Header {
                    header: "CSeq",
                    reason: "method does not match the request method",
                });
            }
        }
        Ok(())
    }
}

/// Stream framing (RFC 3261 section 18.3): the length of the first complete message in
/// `buf` (after any leading CRLF keep-alives), `Ok(None)` when more bytes are needed. A stream
/// message must carry Content-Length.
pub fn frame(buf: &[u8]) -> Result<Option<usize>> {
    let skip = skip_leading_crlf(buf);
    let b = &buf[skip..];
    if b.is_empty() {
        return Ok(None);
    }
    let Some((head_len, body_start)) = head_end(b) else {
        return if b.len() > MAX_HEAD {
            Err(ParseError::TooLong(MAX_HEAD))
        } else {
            Ok(None)
        };
    };
    if head_len > MAX_HEAD {
        return Err(ParseError::TooLong(MAX_HEAD));
    }
    let head = std::str::from_utf8(&b[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let mut cl: Option<usize> = None;
    for l in head.split('\n') {
        if let Some((n, v)) = l.split_once(':') {
            if HeaderName::parse(n.trim_end_matches(is_ws)) == HeaderName::ContentLength {
                let n = decimal::<usize>(v.trim_matches(|c: char| c.is_ascii_whitespace())).ok_or(
                    ParseError::Header {
                        header: "Content-Length",
                        reason: "not a number",
                    },
                )?;
                if cl.is_some_and(|c| c != n) {
                    return Err(ParseError::ContentLengthConflict);
                }
                cl = Some(n);
            }
        }
    }
    let cl = cl.ok_or(ParseError::Missing("Content-Length"))?;
    if cl > MAX_BODY {
        return Err(ParseError::TooLong(MAX_BODY));
    }
    let total = skip + body_start + cl;
    Ok((buf.len() >= total).then_some(total))
}
