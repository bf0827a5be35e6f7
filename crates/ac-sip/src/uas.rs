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
