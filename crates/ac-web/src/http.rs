//! HTTP/1.1 request heads (RFC 9112), parsed strictly and with limits, and responses.
//!
//! Sans-IO: [`parse_head`] takes the bytes received so far and says "incomplete", "a head of
//! N bytes" or why the request is refused; the server in [`crate::server`] owns the sockets.
//! A parsed [`Head`] emits back to bytes ([`Head::emit`]) that parse to the same head, which
//! the `web_request` fuzz target and the property tests check.

use std::fmt::Write as _;

/// Limits on one request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head (request line + header fields + blank line), in bytes.
    pub max_head: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Longest request target.
    pub max_target: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_headers: 64,
            max_target: 2048,
        }
    }
}

/// Why a request is refused; [`HttpError::status`] is the answer to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("request head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    #[error("request target longer than {0} bytes")]
    TargetTooLong(usize),
    #[error("malformed request line")]
    RequestLine,
    #[error("unsupported HTTP version")]
    Version,
    #[error("malformed header field on line {0}")]
    Header(usize),
    #[error("obsolete line folding on line {0}")]
    ObsFold(usize),
    #[error("an HTTP/1.1 request needs exactly one Host header")]
    Host,
    #[error("invalid or conflicting Content-Length")]
    ContentLength,
    #[error("Transfer-Encoding in a request is not supported; send Content-Length")]
    TransferEncoding,
    #[error("request body of {got} bytes; the limit here is {max}")]
    BodyTooLarge { got: u64, max: u64 },
    #[error("refused request path")]
    Path,
}

impl HttpError {
    /// The status code that answers this error.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge(_) | HttpError::TooManyHeaders(_) => 431,
            HttpError::TargetTooLong(_) => 414,
            HttpError::Version => 505,
            HttpError::TransferEncoding => 501,
            HttpError::BodyTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method token (`GET`, `POST`, ...).
    pub method: String,
    /// The origin-form request target (`/path?query`), as received.
    pub target: String,
    /// Minor version: `HTTP/1.0` is 0, `HTTP/1.1` is 1.
    pub minor: u8,
    /// Header fields, in order, names as received.
    pub headers: Vec<(String, String)>,
    /// The body length announced by `Content-Length` (0 when absent).
    pub content_length: u64,
}

fn is_tchar(b: u8) -> bool {
    // RFC 9110 5.6.2 token characters.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Field values: visible ASCII, space and tab. obs-text (bytes >= 0x80) is refused: nothing
/// this server reads needs it.
fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a request head from the start of `buf`. `Ok(None)`: more bytes are needed.
/// `Ok(Some((head, n)))`: the head is the first `n` bytes; the body follows.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, HttpError> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let Some(end) = find_head_end(window) else {
        if buf.len() >= limits.max_head {
            return Err(HttpError::HeadTooLarge(limits.max_head));
        }
        return Ok(None);
    };
    // Every line with its CRLF; the blank line's CRLF is left out.
    let text = &buf[..end - 2];
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let mut lines = text.split(|&b| b == b'\n');
    let first = lines.next().ok_or(HttpError::RequestLine)?;
    let first = first.strip_suffix(b"\r").ok_or(HttpError::RequestLine)?;
    // RFC 9112 3: method SP request-target SP HTTP-version, single spaces.
    let mut parts = first.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::RequestLine);
    };
    if !is_token(method) || method.len() > 16 {
        return Err(HttpError::RequestLine);
    }
    if target.len() > limits.max_target {
        return Err(HttpError::TargetTooLong(limits.max_target));
    }
    // Origin form only (RFC 9112 3.2.1); visible ASCII.
    if target.first() != Some(&b'/') || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(HttpError::RequestLine);
    }
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        v if v.starts_with(b"HTTP/") => return Err(HttpError::Version),
        _ => return Err(HttpError::RequestLine),
    };
    let mut headers = Vec::new();
    for (n, line) in lines.enumerate() {
        let lineno = n + 2;
        let line = line.strip_suffix(b"\r").ok_or(HttpError::Header(lineno))?;
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // RFC 9112 5.2: a server MUST reject obs-fold or replace it; we reject.
            return Err(HttpError::ObsFold(lineno));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::Header(lineno))?;
        let name = &line[..colon];
        // RFC 9112 5.1: no white space between the field name and the colon (MUST reject).
        if !is_token(name) {
            return Err(HttpError::Header(lineno));
        }
        let value = trim_ows(&line[colon + 1..]);
        if !is_field_value(value) {
            return Err(HttpError::Header(lineno));
        }
        if headers.len() == limits.max_headers {
            return Err(HttpError::TooManyHeaders(limits.max_headers));
        }
        // Both checked to be ASCII above.
        headers.push((ascii(name), ascii(value)));
    }
    let mut head = Head {
        method: ascii(method),
        target: ascii(target),
        minor,
        headers,
        content_length: 0,
    };
    head.content_length = head.check_framing()?;
    Ok(Some((head, end)))
}

fn ascii(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

impl Head {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn check_framing(&self) -> Result<u64, HttpError> {
        // RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request without a Host
        // header or with more than one.
        let hosts = self.headers_named("host").count();
        if (self.minor == 1 && hosts != 1) || hosts > 1 {
            return Err(HttpError::Host);
        }
        // Chunked request bodies are not needed by any form; refusing Transfer-Encoding
        // also removes the CL/TE smuggling ambiguity (RFC 9112 6.3).
        if self.headers_named("transfer-encoding").next().is_some() {
            return Err(HttpError::TransferEncoding);
        }
        // RFC 9112 6.3: differing Content-Length values are unrecoverable (400).
        let mut len = None;
        for v in self.headers_named("content-length") {
            if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::ContentLength);
            }
            let n: u64 = v.parse().map_err(|_| HttpError::ContentLength)?;
            if len.is_some_and(|l| l != n) {
                return Err(HttpError::ContentLength);
            }
            len = Some(n);
        }
        Ok(len.unwrap_or(0))
    }

    /// The path part of the target, undecoded.
    pub fn raw_path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query part of the target (without `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The percent-decoded path. Refused: invalid escapes or UTF-8, control characters,
    /// backslashes, and `.` / `..` segments (path traversal, also when encoded).
    pub fn path(&self) -> Result<String, HttpError> {
        decode_path(self.raw_path())
    }

    /// Cookies of the `Cookie` headers.
    pub fn cookies(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for v in self.headers_named("cookie") {
            out.extend(parse_cookies(v));
        }
        out
    }

    /// The value of a cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Serializes the head (CRLF line ends, `name: value`); it parses back to `self`.
    pub fn emit(&self) -> Vec<u8> {
        let mut s = format!("{} {} HTTP/1.{}\r\n", self.method, self.target, self.minor);
        for (n, v) in &self.headers {
            let _ = write!(s, "{n}: {v}\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// Percent-decodes a path and refuses traversal (see [`Head::path`]).
pub fn decode_path(raw: &str) -> Result<String, HttpError> {
    let bytes = percent_decode(raw.as_bytes(), false).ok_or(HttpError::Path)?;
    let s = String::from_utf8(bytes).map_err(|_| HttpError::Path)?;
    if !s.starts_with('/') || s.chars().any(|c| c.is_control() || c == '\\') {
        return Err(HttpError::Path);
    }
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(HttpError::Path);
    }
    Ok(s)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (and `+` as space when `plus` is set); `None` on a bad escape.
pub fn percent_decode(s: &[u8], plus: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let h = hex_val(*s.get(i + 1)?)?;
                let l = hex_val(*s.get(i + 2)?)?;
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Parses a `Cookie` header value (RFC 6265 5.4): `name=value` pairs separated by `;`.
/// Pairs without `=` or with an empty name are skipped.
pub fn parse_cookies(v: &str) -> Vec<(String, String)> {
    v.split(';')
        .filter_map(|p| {
            let (n, val) = p.split_once('=')?;
            let n = n.trim_matches([' ', '\t']);
            let val = val.trim_matches([' ', '\t']);
            (!n.is_empty()).then(|| (n.to_string(), val.to_string()))
        })
        .collect()
}

/// Emits a `Cookie` header value; parses back to the same pairs when they came from
/// [`parse_cookies`].
pub fn emit_cookies(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn html(status: u16, body: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// `303 See Other` to `location` (after a POST).
    pub fn redirect(location: &str) -> Response {
        let mut r = Response::new(303, "text/plain; charset=utf-8", Vec::new());
        r.headers.push(("Location".into(), location.into()));
        r
    }

    /// A file download.
    pub fn attachment(content_type: &str, filename: &str, body: impl Into<Vec<u8>>) -> Response {
        let safe: String = filename
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .collect();
        let mut r = Response::new(200, content_type, body);
        r.headers.push((
            "Content-Disposition".into(),
            format!("attachment; filename=\"{safe}\""),
        ));
        r
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Status line, headers (with `Content-Length` and `Connection: close`) and the body;
    /// `head_only` leaves the body out (for `HEAD`).
    pub fn emit(&self, head_only: bool) -> Vec<u8> {
        let mut s = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            // Header values are built by this crate; strip line breaks all the same.
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            let _ = write!(s, "{n}: {v}\r\n");
        }
        let _ = write!(
            s,
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        );
        let mut out = s.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Head, usize)>, HttpError> {
        parse_head(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn a_browser_request() {
        let raw = "POST /login?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 12\r\nCookie: a=1; b = 2 ;bad\r\n\r\nuser=a&pw=b";
        let (h, n) = parse(raw).unwrap().unwrap();
        assert_eq!(n, raw.len() - 11);
        assert_eq!(h.method, "POST");
        assert_eq!(h.raw_path(), "/login");
        assert_eq!(h.query(), Some("x=1"));
        assert_eq!(h.content_length, 12);
        assert_eq!(h.cookie("b").as_deref(), Some("2"));
        assert_eq!(h.cookies().len(), 2);
        let again = parse_head(&h.emit(), &Limits::default())
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(again, h);
    }

    #[test]
    fn incomplete_and_limits() {
        assert_eq!(parse("GET / HTTP/1.1\r\nHost: a\r\n").unwrap(), None);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "a".repeat(9000)
        );
        assert_eq!(parse(&big), Err(HttpError::HeadTooLarge(8192)));
        let many: String = (0..70).map(|i| format!("X{i}: 1\r\n")).collect();
        let r = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(parse(&r), Err(HttpError::TooManyHeaders(64)));
    }

    #[test]
    fn refusals() {
        let cases = [
            ("GET / HTTP/1.1\r\n\r\n", HttpError::Host),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                HttpError::Host,
            ),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HttpError::Header(2)),
            (
                "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
                HttpError::ObsFold(3),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                HttpError::ContentLength,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                HttpError::ContentLength,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::TransferEncoding,
            ),
            (
                "GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
                HttpError::RequestLine,
            ),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::RequestLine),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HttpError::Version),
            ("GET / HTTP/1.1\nHost: a\r\n\r\n", HttpError::RequestLine),
        ];
        for (raw, want) in cases {
            assert_eq!(parse(raw), Err(want), "{raw:?}");
        }
        assert_eq!(HttpError::TransferEncoding.status(), 501);
    }

    #[test]
    fn traversal_is_refused() {
        for p in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a/%2E%2E",
            "/a/./b",
            "/a%5cb",
            "/a%00b",
            "/%ff",
            "/%zz",
        ] {
            assert_eq!(decode_path(p), Err(HttpError::Path), "{p}");
        }
        assert_eq!(decode_path("/a%20b/c..d").unwrap(), "/a b/c..d");
    }

    #[test]
    fn responses() {
        let r = Response::attachment("text/plain", "../x\r\n.cfg", "a=1\n");
        let out = String::from_utf8(r.emit(false)).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(out.contains("filename=\"..x.cfg\""));
        assert!(out.contains("Content-Length: 4\r\n"));
        assert!(out.ends_with("\r\n\r\na=1\n"));
        assert!(!String::from_utf8(r.emit(true)).unwrap().ends_with("a=1\n"));
    }
}
