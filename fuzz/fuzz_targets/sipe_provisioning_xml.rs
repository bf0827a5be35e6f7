//! SIPE in-band provisioning bodies ([MS-SIPREGE] provisionGroupList) and location
//! profiles ([MS-SIPRE] LocationProfileDescription): parsing never panics; an accepted
//! document emits a form that parses back to the same value (parse -> emit -> re-parse),
//! and the derived settings / dial plan evaluation never panic.
#![no_main]

use ac_sip::sipe::provisioning::{InbandSettings, LocationProfile, ProvisionGroupList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = ProvisionGroupList::parse(data) {
        let e = l.emit();
        let again = ProvisionGroupList::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, l.canonical());
        assert_eq!(again.emit(), e, "emission is canonical");
        let _ = InbandSettings::from_list(&l);
    }
    if let Ok(p) = LocationProfile::parse(data) {
        let e = p.emit();
        let again = LocationProfile::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, p);
        for d in ["1234", "94255550100", "+14255550100", "0"] {
            let _ = p.dial_uri(d, "contoso.com");
        }
    }
    let _ = ac_sip::sipe::provisioning::parse_request(data);
});
