//! Property tests for SDP: generated sessions round-trip (emit -> parse gives the same model,
//! emit is idempotent); arbitrary text never panics; and the offer/answer engine, fed any
//! generated offer, either refuses it (488) or answers with one m-line per offered m-line.

use ac_sip::offer_answer::{Codec, CodecList, LocalMedia, MediaSession, SrtpPolicy};
use ac_sip::sdp::{
    Attribute, Connection, Crypto, CryptoKey, Direction, Media, Origin, Rtcp, RtpMap, Session,
};
use proptest::prelude::*;

fn tok() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._+-]{0,10}"
}

fn conn() -> impl Strategy<Value = Connection> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| Connection::new(std::net::Ipv4Addr::from(a).into())),
        any::<[u16; 8]>().prop_map(|a| Connection::new(std::net::Ipv6Addr::from(a).into())),
        tok().prop_map(|h| Connection {
            net_type: "IN".into(),
            addr_type: "IP4".into(),
            addr: h
        }),
    ]
}

fn dir() -> impl Strategy<Value = Option<Direction>> {
    proptest::option::of(prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ])
}

fn attr() -> impl Strategy<Value = Attribute> {
    ("x-[a-z]{1,6}", proptest::option::of("[ -~]{0,12}"))
        .prop_map(|(name, value)| Attribute { name, value })
}

fn crypto() -> impl Strategy<Value = Crypto> {
    (
        0u32..1_000_000,
        prop_oneof![Just("AES_CM_128_HMAC_SHA1_80".to_string()), tok()],
        proptest::collection::vec(
            (
                proptest::collection::vec(any::<u8>(), 1..40),
                proptest::option::of((0u32..64).prop_map(|n| format!("2^{n}"))),
                proptest::option::of((any::<u64>(), any::<u16>())),
            ),
            1..3,
        ),
        proptest::collection::vec("[A-Z_]{1,8}(=[0-9]{1,3})?", 0..2),
    )
        .prop_map(|(tag, suite, keys, session_params)| Crypto {
            tag,
            suite,
            keys: keys
                .into_iter()
                .map(|(key_salt, lifetime, mki)| CryptoKey {
                    key_salt,
                    lifetime,
                    mki,
                })
                .collect(),
            session_params,
        })
}

type MediaHead = (
    String,
    u16,
    Option<u16>,
    String,
    std::collections::BTreeSet<u8>,
);

fn media() -> impl Strategy<Value = Media> {
    let head = (
        prop_oneof![Just("audio".to_string()), Just("video".to_string()), tok()],
        any::<u16>(),
        proptest::option::of(1u16..8),
        prop_oneof![
            Just("RTP/AVP".to_string()),
            Just("RTP/SAVP".to_string()),
            tok()
        ],
        proptest::collection::btree_set(0u8..128, 0..6),
    );
    let body = (
        proptest::option::of("[ -~]{0,10}"),
        proptest::option::of(conn()),
        proptest::collection::vec(("[A-Z]{1,4}", any::<u32>()), 0..2),
        proptest::option::of(10u32..200),
        proptest::option::of(10u32..200),
        proptest::option::of((any::<u16>(), proptest::option::of(conn()))),
        dir(),
        proptest::collection::vec(crypto(), 0..3),
        proptest::collection::vec(attr(), 0..3),
        proptest::collection::vec(("[a-z0-9]{1,4}", "[ -~]{0,12}"), 0..2),
    );
    (head, body).prop_map(|(h, b)| {
        let (kind, port, port_count, proto, pts): MediaHead = h;
        let (title, c, bw, ptime, maxptime, rtcp, d, cr, at, fmtp) = b;
        let mut m = Media::new(
            &kind,
            port,
            &proto,
            pts.iter().map(|p| p.to_string()).collect(),
        );
        m.port_count = port_count;
        m.title = title;
        m.connection = c;
        m.bandwidth = bw.into_iter().map(|(t, b)| (t, b as u64)).collect();
        m.rtpmap = pts
            .iter()
            .map(|&pt| RtpMap {
                pt,
                encoding: format!("enc{pt}"),
                clock: 8000 + pt as u32,
                channels: (pt % 3 == 0).then_some(pt % 5 + 1),
            })
            .collect();
        m.fmtp = fmtp;
        m.ptime = ptime;
        m.maxptime = maxptime;
        m.rtcp = rtcp.map(|(port, connection)| Rtcp { port, connection });
        m.direction = d;
        m.crypto = cr;
        m.attributes = at;
        m
    })
}

fn session() -> impl Strategy<Value = Session> {
    (
        (tok(), "[0-9]{1,12}", any::<u64>(), conn()),
        "[ -~]{0,16}",
        proptest::option::of(conn()),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 1..3),
        dir(),
        proptest::collection::vec(attr(), 0..3),
        proptest::collection::vec(media(), 0..4),
    )
        .prop_map(
            |((user, id, ver, oc), name, c, times, d, attrs, media)| Session {
                origin: Origin {
                    username: user,
                    sess_id: id,
                    sess_version: ver,
                    net_type: oc.net_type,
                    addr_type: oc.addr_type,
                    addr: oc.addr,
                },
                name,
                connection: c,
                bandwidth: Vec::new(),
                times: times
                    .into_iter()
                    .map(|(a, b)| (a as u64, b as u64, Vec::new()))
                    .collect(),
                direction: d,
                attributes: attrs,
                other: Vec::new(),
                media,
            },
        )
}

fn us(srtp: SrtpPolicy) -> MediaSession {
    MediaSession::new(LocalMedia {
        addr: "127.0.0.1".parse().unwrap(),
        rtp_port: 50020,
        rtcp_port: Some(50031),
        codecs: CodecList::defaults(),
        telephone_event: Some(101),
        srtp,
        srtp_key: vec![1; 30],
        session_id: 9,
        username: "-".into(),
    })
}

const CODECS: [Codec; 5] = [
    Codec::Silk16000,
    Codec::Silk8000,
    Codec::G722,
    Codec::Pcma,
    Codec::Pcmu,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn generated_sessions_round_trip(s in session()) {
        let text = s.emit();
        let back = Session::parse(&text).expect("emitted SDP parses");
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(back.emit(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(t in "(v=0\r\n)?([a-z]=[ -~]{0,20}\r?\n){0,12}") {
        if let Ok(s) = Session::parse(&t) {
            prop_assert_eq!(Session::parse(&s.emit()).unwrap(), s);
        }
    }

    /// An offer whose first stream is plain RTP audio with one of our codecs is always
    /// accepted, with that stream the only one not rejected; any other offer may be refused
    /// but never panics, and an answer always has one m-line per offered m-line.
    #[test]
    fn any_offer_is_answered_or_refused(s in session(), fix in any::<bool>(), codec in 0usize..5) {
        let mut s = s;
        let fixed = fix && !s.media.is_empty();
        if fixed {
            let m = &mut s.media[0];
            m.kind = "audio".into();
            m.proto = "RTP/AVP".into();
            if m.port == 0 {
                m.port = 1000;
            }
            let c = CODECS[codec];
            m.formats.push("77".into());
            m.rtpmap.retain(|r| r.pt != 77);
            m.rtpmap.push(RtpMap { pt: 77, encoding: c.encoding().into(), clock: c.clock(), channels: None });
            m.crypto.clear();
        }
        let mut b = us(SrtpPolicy::Optional);
        match b.answer(&s) {
            Ok((answer, neg)) => {
                prop_assert_eq!(answer.media.len(), s.media.len());
                prop_assert_eq!(Session::parse(&answer.emit()).unwrap(), answer.clone());
                prop_assert_eq!(answer.media.iter().filter(|m| m.port != 0).count(), 1);
                prop_assert!(CODECS.contains(&neg.codec));
                if fixed {
                    prop_assert!(answer.media[0].port != 0);
                }
            }
            Err(e) => prop_assert!(!fixed, "fixed offer refused: {e}"),
        }
    }
}
