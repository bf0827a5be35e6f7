//! Property tests: every parser of ac-prov round-trips (parse -> emit -> re-parse) and never
//! panics on arbitrary input.

use std::net::Ipv4Addr;

use ac_prov::dhcp::options::{dns_names, encode_dns_names, LeaseInfo};
use ac_prov::dhcp::{Message, Packet};
use ac_prov::tftp;
use ac_prov::url::ProvUrl;
use proptest::prelude::*;

fn message() -> impl Strategy<Value = Message> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            0u8..=16,
            any::<u8>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        ),
        proptest::array::uniform4(any::<u32>()),
        proptest::array::uniform16(any::<u8>()),
        proptest::collection::vec(1u8..=255, 0..63),
        proptest::collection::vec(1u8..=255, 0..127),
        proptest::collection::btree_map(
            (1u8..=254).prop_filter("not overload", |c| *c != 52),
            proptest::collection::vec(any::<u8>(), 0..600),
            0..12,
        ),
    )
        .prop_map(
            |((op, htype, hlen, hops, xid, secs, flags), a, chaddr, sname, file, opts)| Message {
                op,
                htype,
                hlen,
                hops,
                xid,
                secs,
                flags,
                ciaddr: Ipv4Addr::from(a[0]),
                yiaddr: Ipv4Addr::from(a[1]),
                siaddr: Ipv4Addr::from(a[2]),
                giaddr: Ipv4Addr::from(a[3]),
                chaddr,
                sname,
                file,
                options: opts.into_iter().collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn dhcp_message_round_trips(m in message()) {
        let wire = m.encode();
        let p = Packet::parse(&wire).unwrap();
        prop_assert_eq!(Message::from_packet(&p), m);
        // Decoding options never panics either.
        let _ = LeaseInfo::decode(&p);
    }

    #[test]
    fn dhcp_arbitrary_bytes(mut b in proptest::collection::vec(any::<u8>(), 0..700)) {
        if b.len() >= 240 {
            b[236..240].copy_from_slice(&[99, 130, 83, 99]);
        }
        if let Ok(p) = Packet::parse(&b) {
            let _ = LeaseInfo::decode(&p);
            let m = Message::from_packet(&p);
            let again = m.encode();
            let p2 = Packet::parse(&again).unwrap();
            prop_assert_eq!(Message::from_packet(&p2), m);
        }
    }

    #[test]
    fn dns_names_round_trip(names in proptest::collection::vec("[a-z0-9]{1,20}(\\.[a-z0-9-]{1,20}){0,4}", 1..6)) {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        prop_assert_eq!(dns_names(119, &encode_dns_names(&refs)).unwrap(), names);
    }

    #[test]
    fn dns_names_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = dns_names(119, &b);
    }

    #[test]
    fn url_forms_round_trip(
        scheme in prop_oneof!["tftp", "ftp", "http", "https"],
        host in "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,8}){0,3}",
        port in proptest::option::of(1u16..),
        dir in proptest::collection::vec("[A-Za-z0-9_-]{1,8}", 0..3),
        fw in proptest::option::of("[A-Za-z0-9_.-]{0,12}(<MODEL>|<MAC>)?\\.img"),
        cfg in proptest::option::of("[A-Za-z0-9_-]{1,12}(<MAC>)?\\.cf[gx]"),
    ) {
        let mut s = format!("{scheme}://{host}");
        if let Some(p) = port { s.push_str(&format!(":{p}")); }
        s.push('/');
        for d in &dir { s.push_str(d); s.push('/'); }
        if let Some(f) = &fw { s.push_str(f); }
        if let Some(c) = &cfg { s.push(';'); s.push_str(c); }
        let u = ProvUrl::parse(&s).unwrap();
        // The canonical text may drop a `;` before a lone configuration name
        // (`/;x.cfg` -> `/x.cfg`, the manual's global form); the value is the same.
        let text = u.to_string();
        prop_assert!(text == s || text == s.replacen("/;", "/", 1), "{} -> {}", s, text);
        prop_assert_eq!(ProvUrl::parse(&text).unwrap(), u);
    }

    #[test]
    fn url_arbitrary(s in "\\PC{0,80}") {
        if let Ok(u) = ProvUrl::parse(&s) {
            prop_assert_eq!(ProvUrl::parse(&u.to_string()).unwrap(), u);
        }
    }

    #[test]
    fn tftp_packets(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(p) = tftp::Packet::parse(&b) {
            let wire = p.encode();
            prop_assert_eq!(tftp::Packet::parse(&wire).unwrap(), p);
        }
    }

    #[test]
    fn tftp_requests_round_trip(
        name in "[^\\x00]{1,40}",
        opts in proptest::collection::vec(("[a-z]{1,10}", "[0-9]{1,6}"), 0..5),
    ) {
        let options: Vec<(&str, &str)> = opts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = tftp::Packet::Rrq { filename: &name, mode: "octet", options };
        let wire = p.encode();
        prop_assert_eq!(tftp::Packet::parse(&wire).unwrap(), p);
    }
}
