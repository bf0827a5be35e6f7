//! Property tests for the event bodies: generated RFC 4235 dialog-info and RFC 3863 PIDF
//! documents and DTMF INFO bodies round-trip (emit -> parse gives the same model, emit is
//! canonical), and arbitrary bytes never panic any of the parsers.

use ac_sip::dialog_info::{
    Dialog, DialogDirection, DialogInfo, DialogState, Identity, InfoState, Participant, Replaces,
};
use ac_sip::dtmf::{Dtmf, DtmfFormat};
use ac_sip::pidf::{Basic, Contact, Note, Presence, Tuple};
use proptest::prelude::*;

/// Attribute values: anything printable, with blanks, line ends and markup characters.
fn attr() -> impl Strategy<Value = String> {
    "[ -~\t\r\né€😀]{0,16}"
}

/// Element text: the parsers keep it trimmed.
fn text() -> impl Strategy<Value = String> {
    "[ -~\t\r\né€😀]{0,16}".prop_map(|s| s.trim().to_string())
}

fn nonempty_text() -> impl Strategy<Value = String> {
    text().prop_map(|s| if s.is_empty() { "x".into() } else { s })
}

fn identity() -> impl Strategy<Value = Identity> {
    (proptest::option::of(attr()), nonempty_text())
        .prop_map(|(display, uri)| Identity { display, uri })
}

fn participant() -> impl Strategy<Value = Participant> {
    (
        proptest::option::of(identity()),
        proptest::option::of(attr()),
    )
        .prop_map(|(identity, target)| Participant { identity, target })
}

fn dialog() -> impl Strategy<Value = Dialog> {
    (
        (
            attr(),
            proptest::option::of(attr()),
            proptest::option::of(attr()),
            proptest::option::of(attr()),
            proptest::option::of(prop_oneof![
                Just(DialogDirection::Initiator),
                Just(DialogDirection::Recipient)
            ]),
            prop_oneof![
                Just(DialogState::Trying),
                Just(DialogState::Proceeding),
                Just(DialogState::Early),
                Just(DialogState::Confirmed),
                Just(DialogState::Terminated)
            ],
        ),
        (
            proptest::option::of(attr()),
            proptest::option::of(100u16..700),
            proptest::option::of(any::<u32>().prop_map(u64::from)),
            proptest::option::of((attr(), attr(), attr()).prop_map(|(c, l, r)| Replaces {
                call_id: c,
                local_tag: l,
                remote_tag: r,
            })),
            proptest::option::of(identity()),
            proptest::option::of(participant()),
            proptest::option::of(participant()),
        ),
    )
        .prop_map(
            |(
                (id, call_id, local_tag, remote_tag, direction, state),
                (event, code, duration, replaces, referred_by, local, remote),
            )| Dialog {
                id,
                call_id,
                local_tag,
                remote_tag,
                direction,
                state,
                event,
                code,
                duration,
                replaces,
                referred_by,
                local,
                remote,
            },
        )
}

fn note() -> impl Strategy<Value = Note> {
    (proptest::option::of("[a-z]{2}(-[A-Z]{2})?"), text())
        .prop_map(|(lang, text)| Note { lang, text })
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        attr(),
        proptest::option::of(prop_oneof![Just(Basic::Open), Just(Basic::Closed)]),
        proptest::option::of((
            nonempty_text(),
            proptest::option::of(prop_oneof!["0(\\.[0-9]{0,3})?", "1(\\.0{0,3})?"]),
        )),
        proptest::collection::vec(note(), 0..3),
        proptest::option::of(text()),
    )
        .prop_map(|(id, basic, contact, notes, timestamp)| Tuple {
            id,
            basic,
            contact: contact.map(|(uri, priority)| Contact { uri, priority }),
            notes,
            timestamp,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn dialog_info_round_trips(
        version in any::<u64>(),
        full in any::<bool>(),
        entity in attr(),
        dialogs in proptest::collection::vec(dialog(), 0..4),
    ) {
        let d = DialogInfo {
            version,
            state: if full { InfoState::Full } else { InfoState::Partial },
            entity,
            dialogs,
        };
        let e = d.emit();
        let again = DialogInfo::parse(e.as_bytes()).unwrap();
        prop_assert_eq!(&again, &d);
        prop_assert_eq!(again.emit(), e);
    }

    #[test]
    fn pidf_round_trips(
        entity in attr(),
        tuples in proptest::collection::vec(tuple(), 0..4),
        notes in proptest::collection::vec(note(), 0..3),
    ) {
        let p = Presence { entity, tuples, notes };
        let e = p.emit();
        let again = Presence::parse(e.as_bytes()).unwrap();
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.emit(), e);
    }

    #[test]
    fn dtmf_round_trips(k in "[0-9*#A-D!]", d in proptest::option::of(0u32..=60_000)) {
        let key = k.chars().next().unwrap();
        let relay = Dtmf { key, duration_ms: d };
        prop_assert_eq!(Dtmf::parse(DtmfFormat::Relay, relay.emit(DtmfFormat::Relay).as_bytes()).unwrap(), relay);
        let plain = Dtmf { key, duration_ms: None };
        prop_assert_eq!(Dtmf::parse(DtmfFormat::Plain, plain.emit(DtmfFormat::Plain).as_bytes()).unwrap(), plain);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = DialogInfo::parse(&b);
        let _ = Presence::parse(&b);
        let _ = Dtmf::parse(DtmfFormat::Relay, &b);
        let _ = Dtmf::parse(DtmfFormat::Plain, &b);
    }

    #[test]
    fn xml_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\">".to_string()),
        Just("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">".to_string()),
        Just("<dialog id=\"1\">".to_string()), Just("</dialog>".to_string()),
        Just("<state>early</state>".to_string()), Just("<tuple id=\"t\">".to_string()),
        Just("<status><basic>open</basic></status>".to_string()), Just("</tuple>".to_string()),
        Just("<note>n</note>".to_string()), Just("<local><identity>u</identity></local>".to_string()),
        "[ -~]{0,8}",
    ], 0..12)) {
        let s = parts.concat();
        let _ = DialogInfo::parse(s.as_bytes());
        let _ = Presence::parse(s.as_bytes());
    }
}
