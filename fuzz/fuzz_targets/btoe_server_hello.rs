//! BToE ServerHello record body: parse -> emit -> re-parse gives the same value.
#![no_main]

use ac_btoe::wire::ServerHello;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = ServerHello::parse(data) {
        let out = v.emit();
        assert_eq!(ServerHello::parse(&out).expect("re-parses"), v);
    }
});
