//! BToE Discovery announce (UDP 9999): parse -> emit -> re-parse gives the same value.
#![no_main]

use ac_btoe::wire::Announce;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Announce::parse(data) {
        let out = v.emit();
        assert_eq!(Announce::parse(&out).expect("re-parses"), v);
    }
});
