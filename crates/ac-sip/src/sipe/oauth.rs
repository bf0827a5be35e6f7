//! Online sign-in with OAuth 2.0 (manual 2.2.5.7: ADAL, "Web sign-in" / device pairing):
//! the device authorization grant of RFC 8628 and the refresh of RFC 6749 6, sans-IO.
//!
//! [`DeviceFlow`] puts out typed [`HttpRequest`]s (to be sent over HTTPS by a driver) and
//! takes the [`HttpResponse`]s back; it never opens a socket or reads a clock (`now` comes
//! in, [`DeviceFlow::poll_timeout`] says when to call [`DeviceFlow::handle_timeout`]).
//! The phone shows the `verification_uri` and `user_code` of the device authorization
//! response (the manual's URL and pairing code), polls the token endpoint at the granted
//! `interval` (slowing down by 5 s on `slow_down`), stops on `access_denied` and
//! `expired_token` (or when the device code's lifetime ends), keeps the bearer access token
//! and refreshes it before it expires.
//!
//! The JSON bodies are parsed into checked values ([`DeviceAuthorization`],
//! [`TokenResponse`], [`ErrorResponse`]) with limits; each has an emitter whose output
//! parses back to the same value.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use thiserror::Error;

/// Largest JSON body accepted (a token response with a JWT access token and a refresh
/// token is a few KiB).
pub const MAX_JSON: usize = 64 * 1024;
/// Largest string value kept from a JSON body.
pub const MAX_STRING: usize = 16 * 1024;
/// Largest HTTP message head (request/status line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest number of HTTP headers.
pub const MAX_HEADERS: usize = 64;
/// RFC 8628 3.2: `interval` defaults to 5 seconds when the response leaves it out.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 3.5: `slow_down` adds 5 seconds to the polling interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Largest polling interval we accept from a server or reach by backing off.
pub const MAX_INTERVAL: Duration = Duration::from_secs(300);
/// RFC 8628 3.4: the grant type of the device access token request.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Why an OAuth body or HTTP message was refused, or why the sign-in stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OAuthError {
    #[error("JSON body of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("JSON: {0}")]
    Json(String),
    #[error("JSON body is not an object")]
    NotObject,
    #[error("member {0} is missing")]
    Missing(&'static str),
    #[error("member {0} has a bad value")]
    BadValue(&'static str),
    #[error("HTTP message: {0}")]
    Http(&'static str),
    #[error("token type {0:?} is not Bearer")]
    TokenType(String),
    #[error("the user refused the sign-in (access_denied)")]
    Denied,
    #[error("the pairing code expired")]
    Expired,
    #[error("the authorization server answered {error}: {description}")]
    Server { error: String, description: String },
    #[error("unexpected HTTP status {0}")]
    Status(u16),
}

pub type Result<T> = std::result::Result<T, OAuthError>;

fn parse_object(body: &[u8]) -> Result<Map<String, Value>> {
    if body.len() > MAX_JSON {
        return Err(OAuthError::TooLarge(body.len()));
    }
    // serde_json bounds nesting (128 levels) itself.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(OAuthError::NotObject),
        Err(e) => Err(OAuthError::Json(e.to_string())),
    }
}

fn string(m: &Map<String, Value>, key: &'static str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_STRING => Ok(Some(s.clone())),
        Some(_) => Err(OAuthError::BadValue(key)),
    }
}

fn required(m: &Map<String, Value>, key: &'static str) -> Result<String> {
    match string(m, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(OAuthError::BadValue(key)),
        None => Err(OAuthError::Missing(key)),
    }
}

/// A lifetime in seconds: a JSON number, or (as Azure AD's v1 endpoints send it) a string
/// of digits.
fn seconds(m: &Map<String, Value>, key: &'static str) -> Result<Option<u64>> {
    let v = match m.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 10 => s.parse().ok(),
        Some(_) => None,
    };
    match v {
        Some(v) if v <= u32::MAX as u64 => Ok(Some(v)),
        _ => Err(OAuthError::BadValue(key)),
    }
}

fn emit_object(fields: Vec<(&str, Option<Value>)>) -> String {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m).to_string()
}

/// The device authorization response (RFC 8628 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// The code the user types in (the manual's pairing code).
    pub user_code: String,
    /// Where the user goes (the manual's URL).
    pub verification_uri: String,
    /// The URI with the user code in it (for a QR code), if given.
    pub verification_uri_complete: Option<String>,
    /// Lifetime of `device_code` and `user_code`, seconds.
    pub expires_in: u64,
    /// Seconds to wait between polling requests, if given.
    pub interval: Option<u64>,
    /// The server's text for the user, if given (Azure AD sends one).
    pub message: Option<String>,
}

impl DeviceAuthorization {
    /// RFC 8628 3.2: device_code, user_code, verification_uri and expires_in are REQUIRED,
    /// verification_uri_complete and interval OPTIONAL.
    pub fn parse(body: &[u8]) -> Result<DeviceAuthorization> {
        let m = parse_object(body)?;
        Ok(DeviceAuthorization {
            device_code: required(&m, "device_code")?,
            user_code: required(&m, "user_code")?,
            verification_uri: required(&m, "verification_uri")?,
            verification_uri_complete: string(&m, "verification_uri_complete")?,
            expires_in: seconds(&m, "expires_in")?.ok_or(OAuthError::Missing("expires_in"))?,
            interval: seconds(&m, "interval")?,
            message: string(&m, "message")?,
        })
    }

    pub fn emit(&self) -> String {
        emit_object(vec![
            ("device_code", Some(self.device_code.clone().into())),
            ("user_code", Some(self.user_code.clone().into())),
            (
                "verification_uri",
                Some(self.verification_uri.clone().into()),
            ),
            (
                "verification_uri_complete",
                self.verification_uri_complete.clone().map(Value::from),
            ),
            ("expires_in", Some(self.expires_in.into())),
            ("interval", self.interval.map(Value::from)),
            ("message", self.message.clone().map(Value::from)),
        ])
    }
}

/// A successful access token response (RFC 6749 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl TokenResponse {
    /// RFC 6749 5.1: access_token and token_type are REQUIRED, expires_in RECOMMENDED,
    /// refresh_token and scope OPTIONAL.
    pub fn parse(body: &[u8]) -> Result<TokenResponse> {
        let m = parse_object(body)?;
        Ok(TokenResponse {
            access_token: required(&m, "access_token")?,
            token_type: required(&m, "token_type")?,
            expires_in: seconds(&m, "expires_in")?,
            refresh_token: string(&m, "refresh_token")?,
            scope: string(&m, "scope")?,
        })
    }

    pub fn emit(&self) -> String {
        emit_object(vec![
            ("access_token", Some(self.access_token.clone().into())),
            ("token_type", Some(self.token_type.clone().into())),
            ("expires_in", self.expires_in.map(Value::from)),
            ("refresh_token", self.refresh_token.clone().map(Value::from)),
            ("scope", self.scope.clone().map(Value::from)),
        ])
    }
}

/// An error response (RFC 6749 5.2; RFC 8628 3.5 adds authorization_pending, slow_down,
/// access_denied and expired_token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub error: String,
    pub error_description: Option<String>,
    pub error_uri: Option<String>,
}

impl ErrorResponse {
    /// RFC 6749 5.2: `error` is REQUIRED and its value is ASCII 0x20-0x21 / 0x23-0x5B /
    /// 0x5D-0x7E (so are `error_description` and `error_uri`'s characters).
    pub fn parse(body: &[u8]) -> Result<ErrorResponse> {
        let m = parse_object(body)?;
        let ok = |s: &str| {
            s.bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
        };
        let error = required(&m, "error")?;
        if !ok(&error) {
            return Err(OAuthError::BadValue("error"));
        }
        // Descriptions are for people: their characters are not held to the grammar (Azure
        // AD's carry line breaks), but they stay strings.
        Ok(ErrorResponse {
            error,
            error_description: string(&m, "error_description")?,
            error_uri: string(&m, "error_uri")?,
        })
    }

    pub fn emit(&self) -> String {
        emit_object(vec![
            ("error", Some(self.error.clone().into())),
            (
                "error_description",
                self.error_description.clone().map(Value::from),
            ),
            ("error_uri", self.error_uri.clone().map(Value::from)),
        ])
    }
}

// ---------------------------------------------------------------------------------------
// HTTP messages as values
// ---------------------------------------------------------------------------------------

/// An HTTP/1.1 request the flow wants sent (the driver does TLS and sockets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Absolute `https://host[:port]/path` URL.
    pub url: String,
    /// Headers other than Host and Content-Length.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Splits `https://host[:port]/path?q` into `host[:port]` and `path?q`.
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return None;
    }
    Some((host, path))
}

fn head_end(data: &[u8]) -> Result<usize> {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(OAuthError::Http("incomplete head"))?;
    if end > MAX_HEAD {
        return Err(OAuthError::Http("head too large"));
    }
    Ok(end)
}

type Head<'a> = (&'a str, Vec<(String, String)>, usize);

/// Parses a head (first line and headers) and returns the first line, the headers and the
/// body length (Content-Length; no chunked encoding).
fn parse_head(data: &[u8]) -> Result<Head<'_>> {
    let end = head_end(data)?;
    let head = std::str::from_utf8(&data[..end]).map_err(|_| OAuthError::Http("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let first = lines.next().ok_or(OAuthError::Http("empty head"))?;
    let mut headers = Vec::new();
    let mut len = 0usize;
    for l in lines {
        if headers.len() == MAX_HEADERS {
            return Err(OAuthError::Http("too many headers"));
        }
        let (n, v) = l.split_once(':').ok_or(OAuthError::Http("bad header"))?;
        let (n, v) = (n.trim(), v.trim());
        if n.is_empty() || n.contains(' ') {
            return Err(OAuthError::Http("bad header"));
        }
        if n.eq_ignore_ascii_case("Transfer-Encoding") {
            return Err(OAuthError::Http("transfer codings not supported"));
        }
        if n.eq_ignore_ascii_case("Content-Length") {
            len = v
                .parse()
                .map_err(|_| OAuthError::Http("bad Content-Length"))?;
            if len > MAX_JSON {
                return Err(OAuthError::TooLarge(len));
            }
        }
        headers.push((n.to_string(), v.to_string()));
    }
    if data.len() < end + 4 + len {
        return Err(OAuthError::Http("incomplete body"));
    }
    Ok((first, headers, len))
}

/// How many bytes a complete message at the start of `data` takes, `None` while more are
/// needed (for drivers reading a stream).
pub fn message_len(data: &[u8]) -> Result<Option<usize>> {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if data.len() > MAX_HEAD {
            Err(OAuthError::Http("head too large"))
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err(OAuthError::Http("head too large"));
    }
    let total = end + 4 + content_length(&data[..end])?;
    Ok((data.len() >= total).then_some(total))
}

fn content_length(head: &[u8]) -> Result<usize> {
    let text = std::str::from_utf8(head).map_err(|_| OAuthError::Http("head not UTF-8"))?;
    for l in text.split("\r\n").skip(1) {
        if let Some((n, v)) = l.split_once(':') {
            if n.trim().eq_ignore_ascii_case("Content-Length") {
                let len: usize = v
                    .trim()
                    .parse()
                    .map_err(|_| OAuthError::Http("bad Content-Length"))?;
                if len > MAX_JSON {
                    return Err(OAuthError::TooLarge(len));
                }
                return Ok(len);
            }
        }
    }
    Ok(0)
}

impl HttpRequest {
    /// A form POST (RFC 6749 4.1.3 / RFC 8628 3.1: application/x-www-form-urlencoded).
    pub fn form(url: &str, params: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: form_encode(params).into_bytes(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The bytes on the wire: request line with the path, Host, the headers,
    /// Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (host, path) = split_url(&self.url).unwrap_or(("localhost", "/"));
        let mut s = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", self.method, path, host);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }

    /// Parses a request from the wire (for the server doubles); the URL is rebuilt as
    /// `https://<Host><path>`.
    pub fn parse(data: &[u8]) -> Result<HttpRequest> {
        let (first, headers, len) = parse_head(data)?;
        let mut parts = first.split(' ');
        let (Some(method), Some(path), Some(ver), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OAuthError::Http("bad request line"));
        };
        if !ver.starts_with("HTTP/1.") || !path.starts_with('/') || method.is_empty() {
            return Err(OAuthError::Http("bad request line"));
        }
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Host"))
            .map(|(_, v)| v.clone())
            .ok_or(OAuthError::Http("no Host"))?;
        let start = head_end(data)? + 4;
        Ok(HttpRequest {
            method: method.to_string(),
            url: format!("https://{host}{path}"),
            headers: headers
                .into_iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("Host") && !n.eq_ignore_ascii_case("Content-Length")
                })
                .collect(),
            body: data[start..start + len].to_vec(),
        })
    }

    /// The form parameters of the body.
    pub fn form_params(&self) -> Vec<(String, String)> {
        form_decode(&String::from_utf8_lossy(&self.body))
    }
}

/// An HTTP response handed back to the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A JSON response with the cache headers RFC 6749 5.1 requires on token responses
    /// (Cache-Control: no-store, Pragma: no-cache).
    pub fn json(status: u16, body: String) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json;charset=UTF-8".into(),
                ),
                ("Cache-Control".into(), "no-store".into()),
                ("Pragma".into(), "no-cache".into()),
            ],
            body: body.into_bytes(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Status",
        };
        let mut s = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }

    pub fn parse(data: &[u8]) -> Result<HttpResponse> {
        let (first, headers, len) = parse_head(data)?;
        let mut parts = first.splitn(3, ' ');
        let (Some(ver), Some(code)) = (parts.next(), parts.next()) else {
            return Err(OAuthError::Http("bad status line"));
        };
        if !ver.starts_with("HTTP/1.") || code.len() != 3 {
            return Err(OAuthError::Http("bad status line"));
        }
        let status: u16 = code.parse().map_err(|_| OAuthError::Http("bad status"))?;
        if !(100..=599).contains(&status) {
            return Err(OAuthError::Http("bad status"));
        }
        let start = head_end(data)? + 4;
        Ok(HttpResponse {
            status,
            headers: headers
                .into_iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
                .collect(),
            body: data[start..start + len].to_vec(),
        })
    }
}

/// application/x-www-form-urlencoded (the HTML URL-encoded form RFC 6749 Appendix B names).
pub fn form_encode(params: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Decodes a form body; bad escapes are kept as written.
pub fn form_decode(s: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = &b[i + 1..i + 3];
                    match std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) if hex.iter().all(u8::is_ascii_hexdigit) => {
                            out.push(v);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .take(64)
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------

/// Where and as whom the phone asks.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// RFC 8628 3.1's device authorization endpoint.
    pub device_authorization_endpoint: String,
    /// RFC 6749 3.2's token endpoint.
    pub token_endpoint: String,
    pub client_id: String,
    /// The scope asked for (RFC 6749 3.3), e.g. the Skype for Business resource's.
    pub scope: String,
    /// Refresh this long before the access token expires (RFC 6749 6).
    pub refresh_margin: Duration,
}

impl OAuthConfig {
    /// Whether the manual's `lync/sign_in/support_adal` (2.2.5.7, default from
    /// [`ac_cfg::schema`]) lets the phone try ADAL (OAuth 2.0) first.
    pub fn adal_enabled(value: Option<&str>) -> bool {
        let v = match value {
            Some(v) => v.to_string(),
            None => match ac_cfg::schema::Schema::get().lookup("lync/sign_in/support_adal", None) {
                ac_cfg::schema::Lookup::Found(d, i) => {
                    d.default_for(None, i.as_slice()).to_string()
                }
                _ => "1".to_string(),
            },
        };
        v.trim() != "0"
    }
}

/// What the flow reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthEvent {
    /// Show the user where to go and the pairing code (RFC 8628 3.3).
    ShowCode {
        verification_uri: String,
        user_code: String,
        verification_uri_complete: Option<String>,
    },
    /// A bearer access token was granted (first time).
    SignedIn,
    /// The access token was refreshed (RFC 6749 6).
    Refreshed,
    /// The sign-in stopped; the user starts over.
    Failed(OAuthError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    DeviceAuthorization,
    Token,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    /// Waiting for the device authorization response.
    Authorizing,
    /// Polling the token endpoint with this device code until `expires`.
    Polling {
        device_code: String,
        expires: Instant,
    },
    /// A token is held.
    SignedIn,
    Failed,
}

/// The granted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_at: Option<Instant>,
    pub refresh_token: Option<String>,
}

/// The device authorization grant (RFC 8628) and the refresh (RFC 6749 6), sans-IO.
#[derive(Debug)]
pub struct DeviceFlow {
    cfg: OAuthConfig,
    state: State,
    pending: Option<Pending>,
    out: VecDeque<HttpRequest>,
    events: VecDeque<OAuthEvent>,
    interval: Duration,
    next_poll: Option<Instant>,
    refresh_at: Option<Instant>,
    token: Option<AccessToken>,
    polls: u32,
}

impl DeviceFlow {
    pub fn new(cfg: OAuthConfig) -> DeviceFlow {
        DeviceFlow {
            cfg,
            state: State::Idle,
            pending: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            interval: DEFAULT_INTERVAL,
            next_poll: None,
            refresh_at: None,
            token: None,
            polls: 0,
        }
    }

    /// Starts the Web sign-in: the device authorization request (RFC 8628 3.1: client_id
    /// and scope, form-encoded, POST).
    pub fn start(&mut self, _now: Instant) {
        self.state = State::Authorizing;
        self.token = None;
        self.refresh_at = None;
        self.next_poll = None;
        self.interval = DEFAULT_INTERVAL;
        self.polls = 0;
        self.pending = Some(Pending::DeviceAuthorization);
        self.out.push_back(HttpRequest::form(
            &self.cfg.device_authorization_endpoint,
            &[
                ("client_id", &self.cfg.client_id),
                ("scope", &self.cfg.scope),
            ],
        ));
    }

    /// The token held, if any.
    pub fn token(&self) -> Option<&AccessToken> {
        self.token.as_ref()
    }

    /// The value of an `Authorization` header carrying the token (RFC 6750 2.1).
    pub fn authorization(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|t| format!("Bearer {}", t.access_token))
    }

    /// The polling interval in force.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Token requests sent so far for the current device code.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    pub fn poll_request(&mut self) -> Option<HttpRequest> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<OAuthEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_some() {
            return None;
        }
        match &self.state {
            State::Polling { expires, .. } => match self.next_poll {
                Some(t) => Some(t.min(*expires)),
                None => Some(*expires),
            },
            State::SignedIn => self.refresh_at,
            _ => None,
        }
    }

    fn fail(&mut self, e: OAuthError) {
        self.state = State::Failed;
        self.pending = None;
        self.next_poll = None;
        self.refresh_at = None;
        self.token = None;
        self.events.push_back(OAuthEvent::Failed(e));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.pending.is_some() {
            return;
        }
        match self.state.clone() {
            State::Polling {
                device_code,
                expires,
            } => {
                // RFC 8628 3.5: once the device code has expired, polling stops.
                if now >= expires {
                    self.fail(OAuthError::Expired);
                    return;
                }
                if self.next_poll.is_some_and(|t| now >= t) {
                    self.next_poll = None;
                    self.send_token_request(&device_code);
                }
            }
            State::SignedIn if self.refresh_at.is_some_and(|t| now >= t) => {
                self.refresh_at = None;
                self.send_refresh();
            }
            _ => {}
        }
    }

    fn send_token_request(&mut self, device_code: &str) {
        // RFC 8628 3.4: grant_type, device_code and client_id.
        self.polls += 1;
        self.pending = Some(Pending::Token);
        self.out.push_back(HttpRequest::form(
            &self.cfg.token_endpoint,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", device_code),
                ("client_id", &self.cfg.client_id),
            ],
        ));
    }

    fn send_refresh(&mut self) {
        let Some(rt) = self.token.as_ref().and_then(|t| t.refresh_token.clone()) else {
            return;
        };
        // RFC 6749 6: grant_type=refresh_token, refresh_token, scope (optional); a public
        // client identifies itself with client_id (3.2.1).
        self.pending = Some(Pending::Refresh);
        self.out.push_back(HttpRequest::form(
            &self.cfg.token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &self.cfg.client_id),
                ("scope", &self.cfg.scope),
            ],
        ));
    }

    /// The connection failed or timed out before a response.
    pub fn handle_transport_error(&mut self, now: Instant) {
        match self.pending.take() {
            Some(Pending::DeviceAuthorization) => self.fail(OAuthError::Http(
                "no response from the authorization server",
            )),
            Some(Pending::Token) => {
                // RFC 8628 3.5: on a connection timeout the client MUST reduce its polling
                // frequency before retrying (we double the interval).
                self.interval = (self.interval * 2).min(MAX_INTERVAL);
                self.next_poll = Some(now + self.interval);
            }
            Some(Pending::Refresh) => {
                // Try again in a minute while the token still lives.
                self.refresh_at = Some(now + Duration::from_secs(60));
            }
            None => {}
        }
    }

    pub fn handle_response(&mut self, now: Instant, resp: &HttpResponse) {
        let Some(p) = self.pending.take() else {
            return;
        };
        match p {
            Pending::DeviceAuthorization => self.on_device_authorization(now, resp),
            Pending::Token => self.on_token(now, resp, false),
            Pending::Refresh => self.on_token(now, resp, true),
        }
    }

    fn on_device_authorization(&mut self, now: Instant, resp: &HttpResponse) {
        if resp.status != 200 {
            // RFC 8628 3.2: errors use the RFC 6749 5.2 format.
            match ErrorResponse::parse(&resp.body) {
                Ok(e) => self.fail(server_error(e)),
                Err(_) => self.fail(OAuthError::Status(resp.status)),
            }
            return;
        }
        let da = match DeviceAuthorization::parse(&resp.body) {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        let interval = da
            .interval
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_INTERVAL)
            .clamp(Duration::from_secs(1), MAX_INTERVAL);
        self.interval = interval;
        self.state = State::Polling {
            device_code: da.device_code.clone(),
            expires: now + Duration::from_secs(da.expires_in),
        };
        // RFC 8628 3.5: the client waits `interval` seconds between polling requests
        // (the first one too).
        self.next_poll = Some(now + interval);
        // RFC 8628 3.3: the device shows the user the verification URI and the user code.
        self.events.push_back(OAuthEvent::ShowCode {
            verification_uri: da.verification_uri,
            user_code: da.user_code,
            verification_uri_complete: da.verification_uri_complete,
        });
    }

    fn on_token(&mut self, now: Instant, resp: &HttpResponse, refresh: bool) {
        if resp.status == 200 {
            let t = match TokenResponse::parse(&resp.body) {
                Ok(t) => t,
                Err(e) => return self.fail(e),
            };
            // RFC 6749 7.1: the client MUST NOT use a token whose type it does not
            // understand; token_type is case-insensitive (5.1).
            if !t.token_type.eq_ignore_ascii_case("Bearer") {
                return self.fail(OAuthError::TokenType(t.token_type));
            }
            let old_rt = self.token.as_ref().and_then(|t| t.refresh_token.clone());
            let expires_at = t.expires_in.map(|s| now + Duration::from_secs(s));
            self.refresh_at = expires_at.map(|e| {
                let life = e - now;
                // Refresh `refresh_margin` before expiry, or at 90 % of a short lifetime.
                now + life
                    .checked_sub(self.cfg.refresh_margin)
                    .filter(|d| *d >= life / 2)
                    .unwrap_or(life * 9 / 10)
            });
            self.token = Some(AccessToken {
                access_token: t.access_token,
                token_type: t.token_type,
                expires_at,
                // RFC 6749 6: a new refresh token replaces the old one (the client MUST
                // discard the old); without one the old stays valid.
                refresh_token: t.refresh_token.or(old_rt),
            });
            if self
                .token
                .as_ref()
                .is_some_and(|t| t.refresh_token.is_none())
            {
                // Nothing to refresh with: the user signs in again when it expires.
                self.refresh_at = None;
            }
            self.state = State::SignedIn;
            self.next_poll = None;
            self.events.push_back(if refresh {
                OAuthEvent::Refreshed
            } else {
                OAuthEvent::SignedIn
            });
            return;
        }
        if resp.status >= 500 {
            // A server error is not an answer about the grant: wait and ask again, the
            // way RFC 8628 3.5 asks for a connection timeout (ours: the same back-off).
            self.pending = Some(if refresh {
                Pending::Refresh
            } else {
                Pending::Token
            });
            return self.handle_transport_error(now);
        }
        let e = match ErrorResponse::parse(&resp.body) {
            Ok(e) => e,
            Err(_) => return self.fail(OAuthError::Status(resp.status)),
        };
        if refresh {
            // RFC 6749 5.2 (invalid_grant...): the refresh token is no good; sign in again.
            return self.fail(server_error(e));
        }
        match e.error.as_str() {
            // RFC 8628 3.5: the user has not finished yet; keep polling at the interval.
            "authorization_pending" => self.next_poll = Some(now + self.interval),
            // RFC 8628 3.5: still pending, and the interval MUST grow by 5 s for this and
            // all later requests.
            "slow_down" => {
                self.interval = (self.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                self.next_poll = Some(now + self.interval);
            }
            "access_denied" => self.fail(OAuthError::Denied),
            "expired_token" => self.fail(OAuthError::Expired),
            _ => self.fail(server_error(e)),
        }
    }
}

fn server_error(e: ErrorResponse) -> OAuthError {
    OAuthError::Server {
        error: e.error,
        description: e.error_description.unwrap_or_default(),
    }
}

/// The `WWW-Authenticate: Bearer` challenge parameters (RFC 6750 3), e.g. the
/// `authorization_uri` a Skype for Business web service names: `(name, value)` pairs.
pub fn bearer_challenge(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim();
    let rest = rest
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case("Bearer"))
        .map(|_| &rest[6..])?;
    let mut out = Vec::new();
    let mut s = rest.trim_start();
    while !s.is_empty() && out.len() < 32 {
        let (name, after) = s.split_once('=')?;
        let name = name.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        if name.is_empty() {
            return None;
        }
        out.push((name.to_string(), val.to_string()));
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip() {
        let s = form_encode(&[("a b", "c&d=é"), ("scope", "x/y z")]);
        assert_eq!(s, "a+b=c%26d%3D%C3%A9&scope=x%2Fy+z");
        assert_eq!(
            form_decode(&s),
            vec![
                ("a b".to_string(), "c&d=é".to_string()),
                ("scope".into(), "x/y z".into())
            ]
        );
        assert_eq!(
            form_decode("a=%zz&b=%4"),
            vec![("a".into(), "%zz".into()), ("b".into(), "%4".into())]
        );
    }

    #[test]
    fn bearer_challenge_params() {
        let p = bearer_challenge(
            "Bearer authorization_uri=\"https://login.windows.net/common/oauth2/authorize\", client_id=\"00000004-0000-0ff1-ce00-000000000000\"",
        )
        .unwrap();
        assert_eq!(p[0].0, "authorization_uri");
        assert_eq!(p[0].1, "https://login.windows.net/common/oauth2/authorize");
        assert_eq!(p[1].0, "client_id");
        assert!(bearer_challenge("NTLM realm=\"x\"").is_none());
    }

    #[test]
    fn adal_default_from_schema() {
        assert!(OAuthConfig::adal_enabled(None));
        assert!(!OAuthConfig::adal_enabled(Some("0")));
    }
}
