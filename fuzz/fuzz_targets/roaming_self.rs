//! SIPE roaming self bodies ([MS-PRES] `roamingData` with the manual 3.3.20 voicemail
//! tokens, and the `roamingList` of the self SUBSCRIBE): parsing never panics; an accepted
//! document emits a form that parses back to the same value (parse -> emit -> re-parse),
//! and that emission is canonical.
#![no_main]

use ac_sip::sipe::roaming::{self, RoamingData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = RoamingData::parse(data) {
        let e = d.emit();
        let again = RoamingData::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, d);
        assert_eq!(again.emit(), e, "emission is canonical");
        assert_eq!(again.voicemail(), d.voicemail());
        let _ = d.aggregate_availability();
    }
    if let Ok(types) = roaming::parse_request(data) {
        let refs: Vec<&str> = types.iter().map(String::as_str).collect();
        let body = roaming::request_body(&refs);
        assert_eq!(
            roaming::parse_request(body.as_bytes()).expect("ours parses"),
            types
        );
    }
});
