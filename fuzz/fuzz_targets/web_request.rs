//! HTTP request head oracle: parse -> emit -> re-parse gives the same head; cookies and
//! paths never panic and cookies round-trip.
#![no_main]

use ac_web::http::{decode_path, emit_cookies, parse_cookies, parse_head, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(Some((head, n))) = parse_head(data, &limits) {
        assert!(n <= data.len());
        let out = head.emit();
        // The emitted form may be a little longer ("a:b" -> "a: b"): re-parse with room.
        let wide = Limits {
            max_head: limits.max_head * 2,
            ..limits
        };
        let (again, m) = parse_head(&out, &wide)
            .expect("emitted head re-parses")
            .expect("emitted head is complete");
        assert_eq!(m, out.len());
        assert_eq!(again, head);
        let _ = head.path();
        let _ = head.query();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = decode_path(s);
        let c = parse_cookies(s);
        assert_eq!(parse_cookies(&emit_cookies(&c)), c);
    }
});
