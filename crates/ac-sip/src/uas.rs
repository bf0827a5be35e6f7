//! The request checks of a UAS core (RFC 3261 section 8.2) before a request reaches the
//! application: version, method, URI scheme, Require, Content-Type / Content-Encoding.

use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method, StartLine};
use crate::uri::Uri;

/// What this UA supports.
#[derive(Debug, Clone)]
pub struct UasPolicy {
    /// Methods we implement (for Allow and the 405/501 decision).
    pub allow: Vec<&'static str>,
    /// Option tags we support (Supported, and the Require check).
    pub supported: Vec<&'static str>,
    /// Body types we understand.
    pub accept: Vec<&'static str>,
}

impl Default for UasPolicy {
    fn default() -> UasPolicy {
        UasPolicy {
            allow: vec![
                "INVITE",
                "ACK",
                "CANCEL",
                "BYE",
                "OPTIONS",
                "INFO",
                "NOTIFY",
                "REFER",
                "PRACK",
                "UPDATE",
                "MESSAGE",
                "SUBSCRIBE",
            ],
            supported: vec!["replaces", "timer", "100rel", "norefersub"],
            accept: vec![
                "application/sdp",
                "multipart/mixed",
                "message/sipfrag",
                "text/plain",
                "application/dtmf-relay",
                "application/dtmf",
                "application/dialog-info+xml",
                "application/pidf+xml",
                "application/simple-message-summary",
            ],
        }
    }
}

/// Methods a SIP UA knows even if it does not implement them (405 rather than 501).
const KNOWN: &[&str] = &[
    "INVITE",
    "ACK",
    "CANCEL",
    "BYE",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "SERVICE",
    "BENOTIFY",
];

/// The error response a UAS must send instead of processing `m`, if any.
pub fn precheck(m: &Message<'_>, policy: &UasPolicy, to_tag: &str) -> Option<MessageBuf> {
    let StartLine::Request {
        method,
        uri,
        version,
    } = &m.start
    else {
        return None;
    };
    let reply = |code: u16| response_to(m, code, Some(to_tag));
    // An ACK or CANCEL is never answered with these errors (an ACK is never answered).
    if *method == Method::Ack {
        return None;
    }
    // RFC 3261 8.2 / 4475 3.1.2.18: a version we do not speak gets 505.
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Some(reply(505));
    }
    // 8.2.1: an unknown method gets 501, a known one we do not implement 405, both with Allow.
    let name = method.as_str();
    if !policy.allow.contains(&name) {
        let mut r = reply(if KNOWN.contains(&name) { 405 } else { 501 });
        r.push(HeaderName::Allow, policy.allow.join(", "));
        return Some(r);
    }
    // 8.2.2.1: a Request-URI scheme we do not understand gets 416.
    if !matches!(uri, Uri::Sip(_) | Uri::Tel(_)) {
        return Some(reply(416));
    }
    // 8.2.2.3: Require with option tags we do not support gets 420 listing them.
    if *method != Method::Cancel {
        let unsupported: Vec<&str> = m
            .values(HeaderName::Require)
            .into_iter()
            .filter(|t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            let mut r = reply(420);
            r.push(HeaderName::Unsupported, unsupported.join(", "));
            return Some(r);
        }
    }
    // 8.2.3: a body we cannot read gets 415 with Accept / Accept-Encoding.
    if !m.body.is_empty() {
        let understood = match m.content_type() {
            Ok(Some(ct)) => policy
                .accept
                .iter()
                .any(|a| a.split_once('/').is_some_and(|(t, s)| ct.is(t, s))),
            // RFC 3261 20.15: a body without Content-Type is taken as application/sdp only
            // where that is the default; we refuse to guess.
            _ => false,
        };
        if !understood {
            let mut r = reply(415);
            r.push(HeaderName::Accept, policy.accept.join(", "));
            return Some(r);
        }
        let enc: Vec<&str> = m.values(HeaderName::ContentEncoding);
        if enc.iter().any(|e| !e.eq_ignore_ascii_case("identity")) {
            let mut r = reply(415);
            r.push(HeaderName::AcceptEncoding, "identity");
            return Some(r);
        }
    }
    // RFC 3261 8.2.3 / 21.4.7: an INVITE whose Accept rules out SDP cannot get the answer it
    // asks for: 406 (RFC 4475 3.3.15).
    if *method == Method::Invite && m.first(HeaderName::Accept).is_some() {
        let sdp_ok = m.values(HeaderName::Accept).iter().any(|range| {
            let base = range.split(';').next().unwrap_or("").trim();
            base == "*/*"
                || base.eq_ignore_ascii_case("application/*")
                || base.eq_ignore_ascii_case("application/sdp")
        });
        if !sdp_ok {
            return Some(reply(406));
        }
    }
    None
}

/// Longest header section [`bad_request`] reads.
const SALVAGE_MAX: usize = 16 * 1024;

/// A 400 for a request too malformed for [`Message::parse`] (RFC 3261 18.3: a request whose
/// body is shorter than its Content-Length "SHOULD" get 400; RFC 4475 3.1.2 asks for 400 for
/// each malformed request). The answer copies, as received, what the client needs to match it
/// (RFC 3261 8.2.6.2 / 17.1.3): every Via, CSeq, and From, To and Call-ID when present.
/// `None` when no answer can be addressed: a response, an ACK (never answered), no Via or no
/// single CSeq line, or a header section that is not UTF-8.
pub fn bad_request(raw: &[u8], reason: &str) -> Option<Vec<u8>> {
    if raw.starts_with(b"SIP/") {
        return None;
    }
    let end = raw
        .windows(4)
        .take(SALVAGE_MAX)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len().min(SALVAGE_MAX));
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next()?;
    if start.split(' ').next()?.eq_ignore_ascii_case("ACK") {
        return None;
    }
    // Unfold (RFC 3261 7.3.1) and keep the fields a response copies.
    let mut fields: Vec<(HeaderName<'static>, String)> = Vec::new();
    let mut last_kept = false;
    for l in lines {
        if l.starts_with([' ', '\t']) {
            if last_kept {
                if let Some((_, v)) = fields.last_mut() {
                    v.push(' ');
                    v.push_str(l.trim());
                }
            }
            continue;
        }
        let Some((n, v)) = l.split_once(':') else {
            last_kept = false;
            continue;
        };
        let kind = match HeaderName::parse(n.trim_end_matches([' ', '\t'])) {
            HeaderName::Via => HeaderName::Via,
            HeaderName::CSeq => HeaderName::CSeq,
            HeaderName::From => HeaderName::From,
            HeaderName::To => HeaderName::To,
            HeaderName::CallId => HeaderName::CallId,
            _ => {
                last_kept = false;
                continue;
            }
        };
        fields.push((kind, v.trim().to_string()));
        last_kept = true;
    }
    let count = |k: HeaderName<'static>| fields.iter().filter(|(n, _)| *n == k).count();
    if count(HeaderName::Via) == 0 || count(HeaderName::CSeq) != 1 {
        return None;
    }
    let reason = reason.replace(|c: char| c.is_control(), " ");
    let mut r = MessageBuf::response(400, Some(&reason));
    for (k, v) in fields {
        r.push(k, v);
    }
    Some(r.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start: &str, extra: &str, body: &str) -> Vec<u8> {
        format!("{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 {}\r\n{extra}Content-Length: {}\r\n\r\n{body}", start.split(' ').next().unwrap(), body.len()).into_bytes()
    }

    fn code(raw: &[u8]) -> Option<u16> {
        let m = Message::parse(raw).unwrap();
        precheck(&m, &UasPolicy::default(), "t").map(|r| {
            let b = r.to_bytes();
            Message::parse(&b).unwrap().status().unwrap()
        })
    }

    #[test]
    fn bad_request_salvages_what_a_client_matches_on() {
        let raw = b"INVITE <sip:a@b> SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n ;rport\r\nf: <sip:a@b>;tag=1\r\nX: y\r\nt: <sip:c@d>\r\ni: x\r\nCSeq: 1 INVITE\r\nl: 99\r\n\r\nv=0";
        let r = bad_request(raw, "bad\r\nstart line").unwrap();
        let m = Message::parse(&r).unwrap();
        assert_eq!(m.status(), Some(400));
        assert_eq!(
            m.first(HeaderName::Via),
            Some("SIP/2.0/UDP h;branch=z9hG4bK1 ;rport")
        );
        assert_eq!(m.first(HeaderName::CSeq), Some("1 INVITE"));
        assert_eq!(m.first(HeaderName::CallId), Some("x"));
        assert!(m.first(HeaderName::parse("X")).is_none());
        assert!(!String::from_utf8_lossy(&r).contains("bad\r\n"));
        // Nothing to address or nothing to answer: no response.
        assert!(bad_request(
            b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 ACK\r\n\r\n",
            "x"
        )
        .is_none());
        assert!(bad_request(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 X\r\n\r\n",
            "x"
        )
        .is_none());
        assert!(bad_request(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", "x").is_none());
        assert!(bad_request(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n\r\n", "x").is_none());
        assert!(bad_request(b"", "x").is_none());
        assert!(bad_request(b"\xff\xfe", "x").is_none());
    }

    #[test]
    fn rfc3261_8_2_checks() {
        assert_eq!(code(&req("OPTIONS sip:c@d SIP/2.0", "", "")), None);
        assert_eq!(code(&req("OPTIONS sip:c@d SIP/7.0", "", "")), Some(505));
        assert_eq!(code(&req("NEWMETHOD sip:c@d SIP/2.0", "", "")), Some(501));
        assert_eq!(code(&req("REGISTER sip:c@d SIP/2.0", "", "")), Some(405));
        assert_eq!(
            code(&req("OPTIONS soap.beep://c@d SIP/2.0", "", "")),
            Some(416)
        );
        assert_eq!(
            code(&req(
                "INVITE sip:c@d SIP/2.0",
                "Require: nothingSupportsThis, replaces\r\n",
                ""
            )),
            Some(420)
        );
        assert_eq!(
            code(&req(
                "INVITE sip:c@d SIP/2.0",
                "Content-Type: application/unknownformat\r\n",
                "x"
            )),
            Some(415)
        );
        assert_eq!(
            code(&req(
                "INVITE sip:c@d SIP/2.0",
                "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
                "x"
            )),
            Some(415)
        );
        assert_eq!(
            code(&req(
                "INVITE sip:c@d SIP/2.0",
                "Content-Type: application/sdp\r\n",
                "v=0"
            )),
            None
        );
        // 406: an INVITE whose Accept leaves out SDP (RFC 4475 3.3.15); wildcards are fine.
        let sdp = "Content-Type: application/sdp\r\n";
        assert_eq!(
            code(&req(
                "INVITE sip:c@d SIP/2.0",
                &format!("Accept: text/nobodyKnowsThis\r\n{sdp}"),
                "v=0"
            )),
            Some(406)
        );
        for ok in [
            "application/sdp;level=1",
            "application/*",
            "*/*",
            "text/plain, application/SDP",
        ] {
            assert_eq!(
                code(&req(
                    "INVITE sip:c@d SIP/2.0",
                    &format!("Accept: {ok}\r\n{sdp}"),
                    "v=0"
                )),
                None,
                "{ok}"
            );
        }
        assert_eq!(
            code(&req(
                "OPTIONS sip:c@d SIP/2.0",
                "Accept: text/nobodyKnowsThis\r\n",
                ""
            )),
            None
        );
        let raw = req("INVITE sip:c@d SIP/2.0", "Require: foo\r\n", "");
        let m = Message::parse(&raw).unwrap();
        let r = precheck(&m, &UasPolicy::default(), "t").unwrap().to_bytes();
        let r = Message::parse(&r).unwrap();
        assert_eq!(r.first(HeaderName::Unsupported), Some("foo"));
    }
}
