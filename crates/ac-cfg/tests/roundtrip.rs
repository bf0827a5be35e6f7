//! Property tests: the parser is lossless, edits keep the rest of a file intact, and
//! delta/merge, the companion formats and the ciphers round-trip.

use ac_cfg::companion::{self, Contact, SpeedDial};
use ac_cfg::crypto::{self, TdesKey};
use ac_cfg::delta;
use ac_cfg::document::{Document, LineKind};
use ac_cfg::model::Model;
use ac_cfg::validate;
use proptest::prelude::*;

/// Text built from the characters that matter to the grammar, plus arbitrary Unicode.
fn cfg_like_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("=".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("/".to_string()),
        Just("\u{feff}".to_string()),
        Just("voip/codec/codec_info/0/name".to_string()),
        Just("network/lan_type".to_string()),
        "[a-z0-9_]{1,8}",
        any::<char>()
            .prop_filter("no NUL", |c| *c != '\0')
            .prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

fn entry() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z][a-z0-9_]{0,6}(/[a-z0-9_]{1,6}){0,3}",
        "[A-Za-z0-9_.:@{}\"=#-]{0,12}",
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_emit_is_byte_identical(src in cfg_like_text()) {
        let doc = Document::parse(&src).unwrap();
        prop_assert_eq!(doc.emit(), src.clone());
        // Re-parsing the output gives the same document.
        let again = doc.emit();
        prop_assert_eq!(Document::parse(&again).unwrap(), doc);
        // Validation never panics and every diagnostic points into the file.
        for d in validate::validate(&Document::parse(&src).unwrap(), &validate::Options::for_model(Some(Model::Hd440))) {
            prop_assert!(d.line >= 1 && d.line <= src.split('\n').count());
            prop_assert!(d.column >= 1);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(doc) = Document::parse_bytes(&bytes) {
            let emitted = doc.emit();
            prop_assert_eq!(emitted.as_bytes(), &bytes[..]);
            let _ = validate::validate(&doc, &validate::Options::for_model(None));
        }
    }

    #[test]
    fn set_changes_only_its_line(src in cfg_like_text(), (k, v) in entry()) {
        let mut doc = Document::parse(&src).unwrap().into_owned();
        let before: Vec<_> = doc.lines().to_vec();
        doc.set(&k, v.trim()).unwrap();
        prop_assert_eq!(doc.get(&k), Some(v.trim()));
        let after = doc.lines();
        let changed = before.iter().zip(after).filter(|(a, b)| a != b).count();
        // One line rewritten, or one appended (plus the old last line gaining a newline).
        prop_assert!(changed <= 1, "{} lines changed", changed);
        prop_assert!(after.len() == before.len() || after.len() == before.len() + 1);
        // The document still round-trips.
        let text = doc.emit();
        prop_assert_eq!(Document::parse(&text).unwrap().emit(), text.clone());
        let _ = after.iter().filter(|l| matches!(l.kind(), LineKind::Entry { .. })).count();
    }

    #[test]
    fn delta_then_merge_restores_effective_values(
        picks in prop::collection::vec((0usize..400, 0usize..8), 0..20),
        model_i in 0usize..5,
    ) {
        let model = Model::ALL[model_i];
        let defaults = delta::defaults(model);
        let keys: Vec<(String, String)> = defaults.entries().map(|e| (e.key.to_string(), e.value.to_string())).collect();
        let mut cfg = defaults.clone();
        for (ki, vi) in picks {
            let (k, _) = &keys[ki % keys.len()];
            // A value valid for the parameter: take one of the schema's own values for the key.
            let def = match ac_cfg::Schema::get().lookup(k, Some(model)) {
                ac_cfg::schema::Lookup::Found(d, _) => d,
                _ => continue,
            };
            let v = match def.ty {
                ac_cfg::ParamType::Enum => def.values[vi % def.values.len()].to_string(),
                ac_cfg::ParamType::Bool => (vi % 2).to_string(),
                ac_cfg::ParamType::Int => {
                    let (lo, hi) = def.range_for(Some(model));
                    let lo = lo.unwrap_or(0);
                    let hi = hi.unwrap_or(lo + 100);
                    (lo + (vi as i64 % (hi - lo + 1))).to_string()
                }
                _ => continue,
            };
            cfg.set(k, &v).unwrap();
        }
        let (d, notes) = delta::modified_fields(&cfg, model);
        prop_assert!(notes.is_empty());
        let merged = delta::merge(&defaults, &d, model).unwrap();
        for (k, _) in &keys {
            prop_assert_eq!(merged.get(k), cfg.get(k), "{}", k);
        }
    }

    #[test]
    fn speed_dials_round_trip(list in prop::collection::btree_map(1u32..=999, "[0-9*#+]{1,20}", 0..50)) {
        let list: Vec<SpeedDial> = list.into_iter().map(|(key, number)| SpeedDial { key, number }).collect();
        let text = companion::emit_speed_dials(&list);
        prop_assert_eq!(companion::parse_speed_dials(text.as_bytes()).unwrap(), list);
    }

    #[test]
    fn directory_round_trips(list in prop::collection::vec(
        ("[A-Za-z][A-Za-z ,\"'.-]{0,30}[A-Za-z]", "[0-9+]{1,15}", "[0-9]{0,15}", "[0-9a-z@.]{0,20}"), 0..30)) {
        let list: Vec<Contact> = list.into_iter().map(|(name, office, home, mobile)| Contact { name, office, home, mobile }).collect();
        let text = companion::emit_directory(&list);
        prop_assert_eq!(companion::parse_directory(text.as_bytes()).unwrap(), list);
    }

    #[test]
    fn ciphers_round_trip(plain in prop::collection::vec(any::<u8>(), 0..300), pass in "[ -~]{1,20}") {
        let k = TdesKey::passphrase(&pass);
        let ct = crypto::encrypt_cfx(&plain, &k);
        prop_assert_eq!(crypto::decrypt_cfx(&ct, &k).unwrap(), plain.clone());
        let v = String::from_utf8_lossy(&plain).replace('\0', "");
        prop_assert_eq!(crypto::decrypt_value(&crypto::encrypt_value(&v, &k), &k).unwrap(), v);
    }

    #[test]
    fn decryption_of_garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let keys = crypto::Keys::passphrase("x");
        let _ = crypto::decrypt_config(&data, &keys);
        let mut tagged = crypto::AEAD_MAGIC.to_vec();
        tagged.extend_from_slice(&data);
        let _ = crypto::decrypt_config(&tagged, &keys);
    }
}
