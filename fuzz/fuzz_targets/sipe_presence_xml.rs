//! SIPE presence publication bodies ([MS-PRES] publish documents with state category
//! instances): parsing never panics; an accepted document emits a form that parses back
//! to the same value (parse -> emit -> re-parse).
#![no_main]

use ac_sip::sipe::presence::{Availability, Publish};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Publish::parse(data) {
        let e = p.emit();
        let again = Publish::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, p);
        assert_eq!(again.emit(), e, "emission is canonical");
        for pb in &p.publications {
            if let Some(a) = pb.availability {
                let _ = Availability::from_number(a).number();
            }
        }
    }
});
