//! RTCP compound packets (SR, RR, SDES, BYE, APP, XR): parse -> emit -> re-parse.
#![no_main]

use ac_media::rtcp::{check_compound, emit_compound, parse_compound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_compound(data);
    if let Ok(p) = parse_compound(data) {
        let wire = emit_compound(&p).expect("a parsed compound emits");
        assert_eq!(parse_compound(&wire).expect("re-parses"), p);
    }
});
