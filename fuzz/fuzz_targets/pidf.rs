//! RFC 3863 PIDF bodies: parsing never panics; an accepted document emits a form that parses
//! back to the same value, and that emission is canonical.
#![no_main]

use ac_sip::pidf::Presence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Presence::parse(data) {
        let e = p.emit();
        let again = Presence::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, p);
        assert_eq!(again.emit(), e, "emission is canonical");
        let _ = (p.basic(), p.note());
    }
});
