//! BToE Alert record body: parse -> emit -> re-parse gives the same value.
#![no_main]

use ac_btoe::wire::Alert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Alert::parse(data) {
        let out = v.emit();
        assert_eq!(Alert::parse(&out).expect("re-parses"), v);
    }
});
