//! Personal directory CSV oracle: parse -> emit -> re-parse gives the same contacts.
#![no_main]

use ac_cfg::companion::{emit_directory, parse_directory};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = parse_directory(data) {
        let text = emit_directory(&list);
        assert_eq!(
            parse_directory(text.as_bytes()).expect("emitted directory re-parses"),
            list
        );
    }
});
