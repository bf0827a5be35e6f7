//! URIs (sip, sips, tel, other): parse -> Display -> re-parse gives the same URI, and
//! equivalence (RFC 3261 19.1.4) is reflexive.
#![no_main]

use ac_sip::uri::Uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = Uri::parse(s) {
        let text = u.to_string();
        let again = Uri::parse(&text).expect("emitted URI re-parses");
        assert_eq!(again, u);
        assert_eq!(again.to_string(), text);
        if let Uri::Sip(s) = &u {
            assert!(s.equivalent(s));
            let _ = s.user_decoded();
        }
    }
});
