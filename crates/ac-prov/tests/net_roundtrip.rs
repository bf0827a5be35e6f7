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
