//! BToE ClientHello record body: parse -> emit -> re-parse gives the same value.
#![no_main]

use ac_btoe::wire::ClientHello;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = ClientHello::parse(data) {
        let out = v.emit();
        assert_eq!(ClientHello::parse(&out).expect("re-parses"), v);
    }
});
