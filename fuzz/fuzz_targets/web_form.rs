//! Form body oracle: urlencoded and multipart/form-data parse -> emit -> re-parse give the
//! same fields and parts.
#![no_main]

use ac_web::form::{emit_multipart, emit_urlencoded, parse_multipart, parse_urlencoded};
use libfuzzer_sys::fuzz_target;

const BOUNDARY: &str = "----WebKitFormBoundaryfuzz";

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = parse_urlencoded(data) {
        let out = emit_urlencoded(&f);
        assert_eq!(parse_urlencoded(out.as_bytes()).expect("re-parses"), f);
    }
    if let Ok(parts) = parse_multipart(data, BOUNDARY) {
        let out = emit_multipart(&parts, BOUNDARY);
        assert_eq!(parse_multipart(&out, BOUNDARY).expect("re-parses"), parts);
    }
});
