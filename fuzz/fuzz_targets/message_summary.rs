//! RFC 3842 message-summary bodies: parse -> emit -> re-parse gives the same summary.
#![no_main]

use ac_sip::mwi::MessageSummary;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MessageSummary::parse(data) {
        let e = m.emit();
        let again = MessageSummary::parse(e.as_bytes()).expect("canonical body re-parses");
        assert_eq!(again, m);
        assert_eq!(again.emit(), e);
        let _ = m.voice();
    }
});
