//! BToE application message inside a Data record: parse -> emit -> re-parse gives the same value.
#![no_main]

use ac_btoe::wire::AppMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = AppMessage::parse(data) {
        let out = v.emit();
        assert_eq!(AppMessage::parse(&out).expect("re-parses"), v);
    }
});
