//! Message-layer behaviour on whole messages: RFC 3261 examples, framing, limits, and the
//! canonical emit.

use ac_sip::msg::{frame, Contact, HeaderName, Message, Method, StartLine};
use ac_sip::uri::Uri;
use ac_sip::ParseError;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\r\n";

#[test]
fn rfc3261_section_4_invite() {
    let m = Message::parse(INVITE).unwrap();
    assert_eq!(m.method(), Some(Method::Invite));
    let Some(Uri::Sip(u)) = m.request_uri() else {
        panic!("sip uri")
    };
    assert_eq!((u.user, u.host), (Some("bob"), "biloxi.com"));
    assert_eq!(m.call_id().unwrap(), "a84b4c76e66710@pc33.atlanta.com");
    assert_eq!(m.cseq().unwrap().seq, 314159);
    assert_eq!(m.from().unwrap().tag().as_deref(), Some("1928301774"));
    assert_eq!(m.to().unwrap().display_name().as_deref(), Some("Bob"));
    assert_eq!(
        m.top_via().unwrap().branch().as_deref(),
        Some("z9hG4bK776asdhds")
    );
    assert_eq!(m.max_forwards().unwrap(), Some(70));
    assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
    // Content-Length 4 of a 5-byte remainder: the body is cut at 4 (RFC 3261 18.3).
    assert_eq!(m.body, b"v=0\r");
    m.check_mandatory().unwrap();
    let e = m.emit();
    assert_eq!(Message::parse(&e).unwrap(), m);
}

#[test]
fn folding_compact_forms_and_lists() {
    let raw = b"REGISTER sip:registrar.biloxi.com SIP/2.0\r\n\
v: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7,\r\n SIP/2.0/TCP 192.0.2.4;branch=z9hG4bK2\r\n\
Max-Forwards: 70\r\n\
t: Bob <sip:bob@biloxi.com>\r\n\
f: Bob <sip:bob@biloxi.com>;tag=456248\r\n\
i: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
m: <sip:bob@192.0.2.4>;expires=7200, \"Bob, mobile\" <sip:bob@198.51.100.7>;q=0.5\r\n\
Subject:\r\n\
X-Folded: first\r\n\tsecond\r\n   third\r\n\
l: 0\r\n\r\n";
    let m = Message::parse(raw).unwrap();
    let vias = m.vias().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!((vias[1].transport, vias[1].host), ("TCP", "192.0.2.4"));
    let c = m.contacts().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].expires(), Some(7200));
    let Contact::Addr(b) = &c[1] else { panic!() };
    assert_eq!(b.display_name().as_deref(), Some("Bob, mobile"));
    assert_eq!(
        m.first(HeaderName::Other("x-folded")),
        Some("first second third")
    );
    assert_eq!(m.first(HeaderName::Subject), Some(""));
    m.check_mandatory().unwrap();
    let e = m.emit();
    let again = Message::parse(&e).unwrap();
    assert_eq!(again, m);
    assert_eq!(again.emit(), e);
}

#[test]
fn responses_and_microsoft_methods() {
    let m = Message::parse(b"SIP/2.0 100 \r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1;ms-received-port=5061\r\nl: 0\r\n\r\n").unwrap();
    assert!(matches!(
        m.start,
        StartLine::Response {
            code: 100,
            reason: "",
            ..
        }
    ));
    let m = Message::parse(
        b"BENOTIFY sip:alice@contoso.com SIP/2.0\r\nCSeq: 2 BENOTIFY\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.method(), Some(Method::Benotify));
    let m = Message::parse(b"SERVICE sip:alice@contoso.com SIP/2.0\r\nl: 0\r\n\r\n").unwrap();
    assert_eq!(m.method(), Some(Method::Service));
}

#[test]
fn refusals() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"\r\n\r\n", "keep-alive only"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", "no blank line"),
        (b"INVITE  sip:a@b SIP/2.0\r\n\r\n", "double space"),
        (b"INVITE sip:a@b SIP/2.0 \r\n\r\n", "trailing space"),
        (b"INVITE <sip:a@b> SIP/2.0\r\n\r\n", "angle brackets"),
        (b"INVITE sip:a@b SIP/two\r\n\r\n", "version"),
        (b"SIP/2.0 99 Bad\r\n\r\n", "status below 100"),
        (b"SIP/2.0 2000 Bad\r\n\r\n", "4-digit status"),
        (
            b"INVITE sip:a@b SIP/2.0\r\n continuation first\r\n\r\n",
            "continuation first",
        ),
        (b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", "no colon"),
        (
            b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
            "space in name",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: 10\r\n\r\nshort",
            "short body",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab",
            "conflicting lengths",
        ),
        (
            b"INVITE sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n",
            "huge length",
        ),
        (b"INVITE sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n", "not utf-8"),
    ];
    for (raw, why) in cases {
        assert!(Message::parse(raw).is_err(), "{why}");
    }
    let mut many = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    for i in 0..300 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(Message::parse(&many), Err(ParseError::TooManyHeaders(256)));
    let long = vec![b'a'; 70_000];
    assert_eq!(Message::parse(&long), Err(ParseError::TooLong(65536)));
}

#[test]
fn mandatory_header_checks() {
    // CSeq method differs from the request method (RFC 4475 3.1.2.17 style).
    let m = Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nl: 0\r\n\r\n").unwrap();
    assert!(m.check_mandatory().is_err());
    let m = Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n").unwrap();
    assert_eq!(m.check_mandatory(), Err(ParseError::Missing("Call-ID")));
}

#[test]
fn stream_framing() {
    let mut s = b"\r\n\r\n".to_vec();
    s.extend_from_slice(INVITE);
    let whole = 4 + INVITE.len() - 1; // Content-Length 4 of the 5 body bytes
    assert_eq!(frame(&s).unwrap(), Some(whole));
    for cut in 0..whole {
        assert_eq!(frame(&s[..cut]).unwrap(), None, "cut at {cut}");
    }
    assert_eq!(
        frame(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"),
        Err(ParseError::Missing("Content-Length"))
    );
    assert!(frame(&vec![b'x'; 70_000]).is_err());
}

/// RFC 3261 25.1: a quoted-pair may escape control characters (not CR/LF) inside a quoted
/// string; anywhere else they are refused. A quote opened before a fold and closed after it is
/// judged on the unfolded value, so emit -> parse agrees with parse.
#[test]
fn control_characters_only_as_quoted_pairs() {
    let msg = |to: &str| {
        format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
             To: {to}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    let raw = msg("\"BEL:\\\u{7} NUL:\\\u{0}\" <sip:c@d>");
    let ok = Message::parse(&raw).unwrap();
    assert_eq!(ok.to().unwrap().uri.to_string(), "sip:c@d");
    assert!(Message::parse(&msg("\"BEL:\u{7}\" <sip:c@d>")).is_err());
    assert!(Message::parse(&msg("BEL\\\u{7} <sip:c@d>")).is_err());
    // Folded: `x"` + ` "\^G"` reads as `x" "\^G"`: the ^G is outside the quotes once unfolded.
    assert!(Message::parse(&msg("x\"\r\n \"\\\u{7}\" <sip:c@d>")).is_err());
    // A quoted pair split by a fold from its quote is still inside the quotes.
    let raw = msg("\"a\r\n \\\u{7}\" <sip:c@d>");
    let m = Message::parse(&raw).unwrap();
    let out = m.emit();
    let again = Message::parse(&out).unwrap();
    assert_eq!(again.first(HeaderName::To), m.first(HeaderName::To));
}
