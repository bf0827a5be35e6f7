//! Property tests: generated messages and URIs round-trip (build -> parse -> emit -> parse),
//! every typed value comes back as generated, and arbitrary bytes never panic.

use ac_sip::auth::AuthParams;
use ac_sip::msg::{frame, HeaderName, Message, MessageBuf, Method};
use ac_sip::uri::{SipUri, Uri};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|a| format!("[{}]", std::net::Ipv6Addr::from(a))),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}"),
        proptest::option::of("[a-zA-Z0-9&=+$,]{0,8}"),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::btree_map(
            "[a-z]{1,8}",
            proptest::option::of("[a-zA-Z0-9]{1,8}"),
            0..4,
        ),
        proptest::collection::vec(("[a-z]{1,6}", "[a-zA-Z0-9]{0,6}"), 0..3),
    )
        .prop_map(|(secure, user, pw, host, port, params, headers)| {
            let mut s = String::from(if secure { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s.push_str(&u);
                if let Some(p) = pw {
                    s.push(':');
                    s.push_str(&p);
                }
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            for (n, v) in params {
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            for (i, (n, v)) in headers.iter().enumerate() {
                s.push(if i == 0 { '?' } else { '&' });
                s.push_str(&format!("{n}={v}"));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn uris_round_trip(s in sip_uri()) {
        let u = SipUri::parse(&s).unwrap();
        prop_assert_eq!(u.to_string(), s.clone());
        prop_assert!(u.equivalent(&SipUri::parse(&s).unwrap()));
        prop_assert_eq!(Uri::parse(&s).unwrap(), Uri::Sip(u));
    }

    #[test]
    fn requests_round_trip(
        method in prop_oneof![Just("INVITE".to_string()), Just("SERVICE".to_string()), token()],
        uri in sip_uri(),
        branch in "[a-zA-Z0-9]{1,16}",
        via_host in host(),
        tag in token(),
        call_id in "[a-zA-Z0-9.@-]{1,24}",
        seq in 0u32..(1 << 31),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,30}"), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        compact in any::<bool>(),
    ) {
        let m = Method::from_token(&method);
        // RFC 3261 19.1.1 Table 1: no headers in a Request-URI (they stay in To/From).
        let ruri = {
            let mut u = SipUri::parse(&uri).unwrap();
            u.headers.clear();
            u.to_string()
        };
        let mut b = MessageBuf::request(m, &ruri);
        b.push(HeaderName::Via, format!("SIP/2.0/TCP {via_host};branch=z9hG4bK{branch}"));
        b.push(HeaderName::From, format!("\"A \\\"B\\\"\" <{uri}>;tag={tag}"));
        b.push(HeaderName::To, format!("<{uri}>"));
        b.push(HeaderName::CallId, call_id.clone());
        b.push(HeaderName::CSeq, format!("{seq} {method}"));
        b.push(HeaderName::MaxForwards, "70");
        for (n, v) in &extra {
            b.push(HeaderName::Other(n), v.clone());
        }
        if !body.is_empty() {
            b.set_body("application/octet-stream", body.clone());
        }
        let mut wire = b.to_bytes();
        if compact {
            // Rewrite long names to compact forms: the parser must not care.
            let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = std::str::from_utf8(&wire[..end]).unwrap();
            let head = head.replace("\r\nVia:", "\r\nv:").replace("\r\nCall-ID:", "\r\ni:").replace("\r\nContent-Length:", "\r\nl:");
            let mut w = head.into_bytes();
            w.extend_from_slice(&wire[end..]);
            wire = w;
        }
        let p = Message::parse(&wire).unwrap();
        p.check_mandatory().unwrap();
        prop_assert_eq!(p.method(), Some(m));
        prop_assert_eq!(p.call_id().unwrap(), call_id.as_str());
        prop_assert_eq!(p.cseq().unwrap().seq, seq);
        let from = p.from().unwrap();
        prop_assert_eq!(from.tag().unwrap().into_owned(), tag.clone());
        prop_assert_eq!(from.display_name().unwrap().into_owned(), "A \"B\"".to_string());
        let via = p.top_via().unwrap();
        prop_assert_eq!(via.branch().unwrap().into_owned(), format!("z9hG4bK{branch}"));
        prop_assert_eq!(p.body, &body[..]);
        for (n, v) in &extra {
            prop_assert!(p.fields(HeaderName::Other(n)).any(|x| x == v.trim()));
        }
        prop_assert_eq!(frame(&wire).unwrap(), Some(wire.len()));
        let e = p.emit();
        let again = Message::parse(&e).unwrap();
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.emit(), e);
    }

    #[test]
    fn folding_is_transparent(words in proptest::collection::vec("[a-z]{1,8}", 1..6), ws in "[ \t]{1,3}") {
        let folded = words.join(&format!("\r\n{ws}"));
        let raw = format!("OPTIONS sip:a@b SIP/2.0\r\nX-Long: {folded}\r\nl: 0\r\n\r\n");
        let m = Message::parse(raw.as_bytes()).unwrap();
        let joined = words.join(" ");
        prop_assert_eq!(m.first(HeaderName::Other("X-Long")), Some(joined.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = Message::parse(&b) {
            let e = m.emit();
            prop_assert_eq!(Message::parse(&e).unwrap(), m);
        }
        let _ = frame(&b);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,120}") {
        if let Ok(u) = Uri::parse(&s) {
            let text = u.to_string();
            prop_assert_eq!(Uri::parse(&text).unwrap(), u);
        }
        let _ = AuthParams::parse(&s);
        let mut raw = b"INVITE sip:a@b SIP/2.0\r\nVia: ".to_vec();
        raw.extend_from_slice(s.as_bytes());
        raw.extend_from_slice(b"\r\n\r\n");
        if let Ok(m) = Message::parse(&raw) {
            let _ = m.check_mandatory();
        }
    }
}
