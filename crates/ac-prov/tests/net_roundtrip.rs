//! Property tests of the network-service parsers: parse -> emit -> re-parse round-trips,
//! and no panic on arbitrary bytes.

use ac_prov::cdp::{Cdp, CdpView};
use ac_prov::lldp::{Lldpdu, LldpduView, NetworkPolicy, Tlv};
use proptest::prelude::*;

fn lldpdu() -> impl Strategy<Value = Lldpdu> {
    (
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 1..=255)),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 1..=255)),
        any::<u16>(),
        proptest::collection::vec(
            prop_oneof![
                (4u8..127, proptest::collection::vec(any::<u8>(), 0..=511))
                    .prop_map(|(ty, value)| Tlv { ty, value }),
                (proptest::collection::vec(any::<u8>(), 4..=511))
                    .prop_map(|value| Tlv { ty: 127, value }),
            ],
            0..8,
        ),
    )
        .prop_map(|(chassis_id, port_id, ttl, others)| Lldpdu {
            chassis_id,
            port_id,
            ttl,
            others,
        })
        .prop_filter("fits in a frame", |p| p.emit().len() <= 1500)
}

proptest! {
    #[test]
    fn lldp_roundtrip(p in lldpdu()) {
        let wire = p.emit();
        let v = LldpduView::parse(&wire).expect("emitted LLDPDU parses");
        prop_assert_eq!(v.to_owned(), p);
    }

    #[test]
    fn lldp_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(v) = LldpduView::parse(&b) {
            let o = v.to_owned();
            prop_assert_eq!(LldpduView::parse(&o.emit()).expect("re-parse").to_owned(), o);
        }
    }

    #[test]
    fn network_policy_roundtrip(app in any::<u8>(), u in any::<bool>(), t in any::<bool>(),
                                vlan in 0u16..4096, prio in 0u8..8, dscp in 0u8..64) {
        let p = NetworkPolicy { app, unknown: u, tagged: t, vlan, priority: prio, dscp };
        prop_assert_eq!(NetworkPolicy::decode(&p.encode()), Some(p));
    }

    #[test]
    fn cdp_roundtrip(version in 1u8..=2, ttl in any::<u8>(),
                     tlvs in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..6)) {
        let c = Cdp { version, ttl, tlvs };
        let wire = c.emit();
        let v = CdpView::parse(&wire).expect("emitted CDP parses");
        prop_assert!(v.checksum_ok());
        prop_assert_eq!(v.to_owned(), c);
    }

    #[test]
    fn cdp_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(v) = CdpView::parse(&b) {
            let o = v.to_owned();
            prop_assert_eq!(CdpView::parse(&o.emit()).expect("re-parse").to_owned(), o);
        }
    }
}

mod time {
    use ac_prov::sntp::{Packet, Timestamp};
    use ac_prov::tz;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ntp_roundtrip(b in proptest::collection::vec(any::<u8>(), 48..120)) {
            let p = Packet::parse(&b).expect("48+ bytes parse");
            prop_assert_eq!(&p.emit()[..], &b[..48]);
            prop_assert_eq!(Packet::parse(&p.emit()).expect("re-parse"), p);
        }

        #[test]
        fn ntp_short_rejected(b in proptest::collection::vec(any::<u8>(), 0..48)) {
            prop_assert!(Packet::parse(&b).is_err());
        }

        #[test]
        fn timestamp_unix_roundtrip(n in -61_505_152_000_000_000i128..4_233_446_847_000_000_000i128) {
            // 1968-01-20 .. 2104-02-26: the two-era window of RFC 4330 3.
            let t = Timestamp::from_unix_nanos(n);
            prop_assert!((t.to_unix_nanos() - n).abs() <= 1);
        }

        #[test]
        fn civil_roundtrip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = tz::civil_from_days(days);
            prop_assert_eq!(tz::days_from_civil(y, m, d), days);
        }

        #[test]
        fn gmt_offset_roundtrip(min in -720i32..=840) {
            prop_assert_eq!(tz::parse_gmt_offset(&tz::format_gmt_offset(min)), Ok(min));
        }

        #[test]
        fn gmt_offset_arbitrary(s in ".{0,8}") {
            if let Ok(m) = tz::parse_gmt_offset(&s) {
                prop_assert_eq!(tz::parse_gmt_offset(&tz::format_gmt_offset(m)), Ok(m));
            }
        }
    }
}

mod syslog {
    use ac_prov::syslog::{Message, Severity};
    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[!-~&&[^-]][!-~]{0,20}")
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            0u8..24,
            0u8..8,
            proptest::option::of(-61_505_152_000_000i128..4_102_444_800_000_000i128),
            (field(), field(), field(), field()),
            proptest::collection::vec(
                (
                    "[a-zA-Z0-9@.]{1,32}",
                    proptest::collection::vec(("[a-zA-Z0-9]{1,32}", "\\PC{0,12}"), 0..3),
                ),
                0..3,
            ),
            "\\PC{0,40}",
        )
            .prop_map(
                |(facility, sev, ts, (hostname, app_name, procid, msgid), sd, msg)| Message {
                    facility,
                    severity: Severity::from_code(sev).expect("0..8"),
                    // Microsecond precision on the wire.
                    timestamp: ts.map(|t| t * 1000),
                    hostname,
                    app_name,
                    procid,
                    msgid,
                    sd,
                    msg,
                },
            )
    }

    proptest! {
        #[test]
        fn rfc5424_roundtrip(m in message()) {
            let wire = m.to_rfc5424();
            prop_assert_eq!(Message::parse_rfc5424(&wire).expect("parses"), m);
        }

        #[test]
        fn rfc5424_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = Message::parse_rfc5424(&b) {
                prop_assert_eq!(Message::parse_rfc5424(&m.to_rfc5424()).expect("re-parse"), m);
            }
        }

        #[test]
        fn rfc5424_arbitrary_text(s in "<[0-9]{1,3}>1 [-0-9TZ:.]{1,27} [!-~]{1,5} - - - (-|\\[a( b=\"[^\"]{0,4}\")*\\])( .{0,10})?") {
            if let Ok(m) = Message::parse_rfc5424(s.as_bytes()) {
                prop_assert_eq!(Message::parse_rfc5424(&m.to_rfc5424()).expect("re-parse"), m);
            }
        }
    }
}

mod eap {
    use ac_prov::eapol::{Eap, EapView, EapolView, Md5Value, TlsPayload, TLS_L};
    use proptest::prelude::*;

    fn eap() -> impl Strategy<Value = Eap> {
        prop_oneof![
            (
                1u8..=2,
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(code, id, t, data)| Eap {
                    code,
                    id,
                    typ: Some(t),
                    data
                }),
            (3u8..=4, any::<u8>()).prop_map(|(code, id)| Eap {
                code,
                id,
                typ: None,
                data: vec![]
            }),
        ]
    }

    proptest! {
        #[test]
        fn eap_roundtrip(e in eap(), pad in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut wire = e.emit();
            wire.extend_from_slice(&pad);
            prop_assert_eq!(EapView::parse(&wire).expect("parses").to_owned(), e);
        }

        #[test]
        fn eap_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = EapView::parse(&b) {
                let o = v.to_owned();
                prop_assert_eq!(EapView::parse(&o.emit()).expect("re-parse").to_owned(), o);
            }
            if let Ok(v) = EapolView::parse(&b) {
                let w = ac_prov::eapol::eapol(v.ptype, v.body);
                let r = EapolView::parse(&w).expect("re-parse");
                prop_assert_eq!((r.ptype, r.body), (v.ptype, v.body));
            }
        }

        #[test]
        fn tls_payload_roundtrip(flags in any::<u8>(), total in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let p = TlsPayload { flags, total: (flags & TLS_L != 0).then_some(total), data };
            prop_assert_eq!(TlsPayload::parse(&p.emit()).expect("parses"), p);
        }

        #[test]
        fn md5_value_roundtrip(value in proptest::collection::vec(any::<u8>(), 1..=255), name in proptest::collection::vec(any::<u8>(), 0..40)) {
            let v = Md5Value { value, name };
            prop_assert_eq!(Md5Value::parse(&v.emit()).expect("parses"), v);
        }
    }
}

mod ldap {
    use ac_prov::ldap::{expand_template, format_display, Filter};
    use ac_prov::t9;
    use proptest::prelude::*;

    fn attr() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9-]{0,8}"
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 0..8)
    }

    fn filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            (attr(), value()).prop_map(|(a, v)| Filter::Equality(a, v)),
            (attr(), value()).prop_map(|(a, v)| Filter::Approx(a, v)),
            (attr(), value()).prop_map(|(a, v)| Filter::GreaterOrEqual(a, v)),
            (attr(), value()).prop_map(|(a, v)| Filter::LessOrEqual(a, v)),
            attr().prop_map(Filter::Present),
            (
                attr(),
                proptest::option::of(value().prop_filter("non-empty", |v| !v.is_empty())),
                proptest::collection::vec(
                    value().prop_filter("non-empty", |v| !v.is_empty()),
                    0..3
                ),
                proptest::option::of(value().prop_filter("non-empty", |v| !v.is_empty())),
            )
                .prop_filter("not a presence filter", |(_, i, a, l)| {
                    i.is_some() || !a.is_empty() || l.is_some()
                })
                .prop_map(|(attr, initial, any, last)| Filter::Substrings {
                    attr,
                    initial,
                    any,
                    last
                }),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..4).prop_map(Filter::And),
                proptest::collection::vec(inner.clone(), 1..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
    }

    proptest! {
        #[test]
        fn filter_roundtrip(f in filter()) {
            prop_assert_eq!(Filter::parse(&f.emit()).expect("emitted filter parses"), f);
        }

        #[test]
        fn filter_arbitrary(s in "[()&|!=*~<>a-c\\\\0-9 ]{0,30}") {
            if let Ok(f) = Filter::parse(&s) {
                prop_assert_eq!(Filter::parse(&f.emit()).expect("re-parse"), f);
            }
        }

        #[test]
        fn template_input_cannot_escape_the_filter(input in "\\PC{0,12}") {
            // Whatever is typed, the expanded filter keeps the template's structure: an
            // equality/substring on sn and cn, nothing else.
            let f = expand_template("(|(cn=%)(sn=%))", &input, true).expect("always valid");
            match Filter::parse(&f).expect("parses") {
                Filter::Or(v) => {
                    prop_assert_eq!(v.len(), 2);
                    for x in v {
                        let ok = matches!(&x, Filter::Substrings { attr, any, last: None, .. } if (attr == "cn" || attr == "sn") && any.is_empty())
                            || matches!(&x, Filter::Present(a) if input.is_empty() && (a == "cn" || a == "sn"));
                        prop_assert!(ok, "{:?}", x);
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn display_never_panics(fmt in "\\PC{0,20}", v in "\\PC{0,8}") {
            let out = format_display(&fmt, |_| Some(v.as_str()));
            prop_assert!(out.len() <= fmt.len() * (v.len() + 1) + 1);
        }

        #[test]
        fn t9_own_keys_match(name in "[a-zA-Z]{1,10}( [a-zA-Z]{1,10})?") {
            let first = name.split(' ').next().unwrap_or("");
            let k: String = t9::keys(first).iter().map(|d| char::from(b'0' + d)).collect();
            prop_assert!(t9::name_matches(&name, &t9::parse_keys(&k)));
        }
    }
}
