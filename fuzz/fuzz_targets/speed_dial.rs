//! Speed-dial CSV oracle: parse -> emit -> re-parse gives the same list.
#![no_main]

use ac_cfg::companion::{emit_speed_dials, parse_speed_dials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = parse_speed_dials(data) {
        let text = emit_speed_dials(&list);
        assert_eq!(
            parse_speed_dials(text.as_bytes()).expect("emitted list re-parses"),
            list
        );
    }
});
