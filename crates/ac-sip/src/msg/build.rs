//! Building outgoing messages: an owned start line, header list and body, emitted with a
//! correct Content-Length (RFC 3261 section 20.14: always sent by us, on every transport).

use std::fmt::Write as _;

use crate::msg::{HeaderName, Message, Method, StartLine};

/// An outgoing message under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBuf {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The default reason phrase of a status code (RFC 3261 section 21 and extensions).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match code / 100 {
            1 => "Progress",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

impl MessageBuf {
    pub fn request(method: Method<'_>, uri: &str) -> MessageBuf {
        MessageBuf {
            start: format!("{method} {uri} SIP/2.0"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn response(code: u16, reason: Option<&str>) -> MessageBuf {
        MessageBuf {
            start: format!(
                "SIP/2.0 {code} {}",
                reason.unwrap_or_else(|| reason_phrase(code))
            ),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Appends a header field (values must not contain CR or LF; such characters are
    /// replaced by spaces so a caller cannot inject header lines).
    pub fn push(&mut self, name: HeaderName<'_>, value: impl Into<String>) -> &mut Self {
        let mut v: String = value.into();
        if v.contains(['\r', '\n']) {
            v = v.replace(['\r', '\n'], " ");
        }
        self.headers.push((name.as_str().to_string(), v));
        self
    }

    pub fn with(mut self, name: HeaderName<'_>, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// Replaces every field of `name` by one.
    pub fn set(&mut self, name: HeaderName<'_>, value: impl Into<String>) -> &mut Self {
        let pos = self
            .headers
            .iter()
            .position(|(n, _)| HeaderName::parse(n).same(&name));
        self.remove(name);
        let v = (
            name.as_str().to_string(),
            value.into().replace(['\r', '\n'], " "),
        );
        match pos {
            Some(p) => self.headers.insert(p.min(self.headers.len()), v),
            None => self.headers.push(v),
        }
        self
    }

    pub fn remove(&mut self, name: HeaderName<'_>) -> &mut Self {
        self.headers
            .retain(|(n, _)| !HeaderName::parse(n).same(&name));
        self
    }

    pub fn get(&self, name: HeaderName<'_>) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| HeaderName::parse(n).same(&name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_body(&mut self, content_type: &str, body: Vec<u8>) -> &mut Self {
        self.set(HeaderName::ContentType, content_type);
        self.body = body;
        self
    }

    /// The wire form, Content-Length last among the headers.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(self.start.len() + 64 + self.headers.len() * 48);
        s.push_str(&self.start);
        s.push_str("\r\n");
        for (n, v) in &self.headers {
            if HeaderName::parse(n) == HeaderName::ContentLength {
                continue;
            }
            let _ = write!(s, "{n}: {v}\r\n");
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// A copy of a parsed message as an owned buffer (to forward or modify it).
    pub fn from_message(m: &Message<'_>) -> MessageBuf {
        let start = match &m.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => format!("{method} {uri} {version}"),
            StartLine::Response {
                version,
                code,
                reason,
            } => format!("{version} {code} {reason}"),
        };
        MessageBuf {
            start,
            headers: m
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_string()))
                .collect(),
            body: m.body.to_vec(),
        }
    }
}

/// A response to `req` (RFC 3261 section 8.2.6.2): Via fields, From, To (with `to_tag`
/// added when it has none), Call-ID and CSeq copied; a 100 also copies Timestamp (8.2.6.1).
pub fn response_to(req: &Message<'_>, code: u16, to_tag: Option<&str>) -> MessageBuf {
    let mut r = MessageBuf::response(code, None);
    for h in &req.headers {
        let k = h.kind();
        match k {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                r.push(k, h.value.as_ref());
            }
            HeaderName::Timestamp if code == 100 => {
                r.push(k, h.value.as_ref());
            }
            HeaderName::To => {
                let has_tag = req.to().ok().and_then(|t| t.tag()).is_some();
                match to_tag {
                    Some(t) if !has_tag && code != 100 => {
                        r.push(k, format!("{};tag={t}", h.value));
                    }
                    _ => {
                        r.push(k, h.value.as_ref());
                    }
                }
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_the_right_headers() {
        let req = b"OPTIONS sip:phone@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nv: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:phone@192.0.2.5>\r\nCall-ID: c1\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\nTimestamp: 54\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(req).unwrap();
        let r = response_to(&m, 200, Some("xyz"));
        let bytes = r.to_bytes();
        let p = Message::parse(&bytes).unwrap();
        assert_eq!(p.status(), Some(200));
        assert_eq!(p.vias().unwrap().len(), 2);
        assert_eq!(p.to().unwrap().tag().as_deref(), Some("xyz"));
        assert_eq!(p.cseq().unwrap().seq, 7);
        assert!(p.first(HeaderName::Timestamp).is_none());
        assert_eq!(p.content_length(), Ok(Some(0)));
        let t = response_to(&m, 100, Some("xyz")).to_bytes();
        let t = Message::parse(&t).unwrap();
        assert_eq!(t.first(HeaderName::Timestamp), Some("54"));
        assert!(t.to().unwrap().tag().is_none());
    }

    #[test]
    fn no_header_injection() {
        let mut b = MessageBuf::request(Method::Message, "sip:x@y");
        b.push(HeaderName::Subject, "hi\r\nVia: evil");
        b.set_body("text/plain", b"hello".to_vec());
        let bytes = b.to_bytes();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.fields(HeaderName::Via).count(), 0);
        assert_eq!(m.body, b"hello");
    }
}
