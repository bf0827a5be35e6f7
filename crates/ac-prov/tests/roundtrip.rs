//! Property tests: every parser of ac-prov round-trips (parse -> emit -> re-parse) and never
//! panics on arbitrary input.

use std::net::Ipv4Addr;

use ac_prov::dhcp::options::{dns_names, encode_dns_names, LeaseInfo};
use ac_prov::dhcp::{Message, Packet};
use ac_prov::firmware::image::{Section, FIXED_LEN, MAX_SECTIONS, SECTION_LEN, SIG_LEN};
use ac_prov::firmware::slots::SlotInfo;
use ac_prov::firmware::{BootState, Header, Slot, SlotState};
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

/// A structurally valid firmware header: unique section names, contiguous sections starting
/// right after the header and its signature.
fn fw_header() -> impl Strategy<Value = Header> {
    (
        1u8..=0x1f,
        "[!-~]{1,32}",
        any::<u32>(),
        any::<[u8; 8]>(),
        any::<u64>(),
        proptest::collection::btree_map(
            "[!-~]{1,16}",
            (0u64..1 << 24, any::<[u8; 32]>()),
            1..=MAX_SECTIONS,
        ),
        proptest::collection::vec(any::<u8>(), SIG_LEN),
    )
        .prop_map(
            |(models, version, security_counter, key_id, build_time, secs, sig)| {
                let mut offset = (FIXED_LEN + secs.len() * SECTION_LEN + SIG_LEN) as u64;
                let sections = secs
                    .into_iter()
                    .map(|(name, (size, sha256))| {
                        let s = Section {
                            name,
                            offset,
                            size,
                            sha256,
                        };
                        offset += size;
                        s
                    })
                    .collect();
                let mut signature = [0u8; 64];
                signature.copy_from_slice(&sig);
                Header {
                    models,
                    version,
                    security_counter,
                    key_id,
                    build_time,
                    sections,
                    signature,
                }
            },
        )
}

fn slot_info() -> impl Strategy<Value = SlotInfo> {
    (
        prop_oneof![
            Just(SlotState::Empty),
            Just(SlotState::Writing),
            Just(SlotState::Installed),
            Just(SlotState::Good),
            Just(SlotState::Bad),
        ],
        "[!-~]{0,32}",
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(state, version, security_counter, image_len, resume_offset, header_digest)| {
                SlotInfo {
                    state,
                    version,
                    security_counter,
                    image_len,
                    resume_offset,
                    header_digest,
                }
            },
        )
}

fn boot_state() -> impl Strategy<Value = BootState> {
    (
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        slot_info(),
        slot_info(),
    )
        .prop_map(
            |(seq, b, trial, boot_count, max_tries, min_counter, a, bb)| BootState {
                seq,
                active: if b { Slot::B } else { Slot::A },
                trial,
                boot_count,
                max_tries,
                min_counter,
                slots: [a, bb],
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn firmware_headers_round_trip(h in fw_header()) {
        let wire = h.emit();
        prop_assert_eq!(wire.len(), h.len());
        let back = Header::parse(&wire).unwrap();
        prop_assert_eq!(back.emit(), wire);
        prop_assert_eq!(back, h);
    }

    /// Any single flipped byte of a header is refused by the parser or changes the decoded
    /// header (so the signature, which covers every byte, no longer matches).
    #[test]
    fn firmware_header_bytes_all_matter(h in fw_header(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let mut wire = h.emit();
        let i = at.index(wire.len());
        wire[i] ^= x;
        if let Ok(back) = Header::parse(&wire) {
            prop_assert_ne!(back, h);
        }
    }

    #[test]
    fn firmware_header_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..1300)) {
        if let Ok(h) = Header::parse(&b) {
            let wire = h.emit();
            prop_assert_eq!(&b[..wire.len()], &wire[..]);
        }
    }

    #[test]
    fn boot_state_round_trips(s in boot_state()) {
        let rec = s.encode();
        let back = BootState::decode(&rec).unwrap();
        prop_assert_eq!(back.encode(), rec);
        prop_assert_eq!(back, s);
    }

    /// A torn or bit-flipped record never decodes (the SHA-256 trailer).
    #[test]
    fn boot_state_corruption_is_detected(s in boot_state(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let mut rec = s.encode();
        let i = at.index(rec.len());
        rec[i] ^= x;
        prop_assert!(BootState::decode(&rec).is_err());
    }


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
