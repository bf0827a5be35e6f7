//! Firmware image headers (format 2): parse -> emit -> re-parse, byte-identical for any
//! accepted header; signature checking and streaming body verification never panic on what
//! the header claims.
#![no_main]

use ac_cfg::Model;
use ac_prov::firmware::{BodyVerifier, Header, Keyring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::parse(data) else {
        return;
    };
    // The parser is strict (reserved bytes zero, canonical padding): an accepted header
    // re-emits to exactly the bytes it was read from.
    let wire = h.emit();
    assert_eq!(&data[..wire.len()], &wire[..], "emit is byte-identical");
    assert_eq!(Header::parse(&wire).expect("re-parses"), h);
    assert_eq!(wire.len(), h.len());
    // An empty keyring refuses; so does a key that did not sign it.
    assert!(h.verify_signature(&Keyring::new()).is_err());
    let _ = h.check_for(&Keyring::new(), Model::Hd420, 0);
    // Whatever sizes the header claims, the body verifier only hashes what it is given.
    let mut v = BodyVerifier::new(&h);
    let body = &data[wire.len()..];
    for chunk in body.chunks(97) {
        if v.update(chunk).is_err() {
            return;
        }
    }
    let _ = v.finish();
});
