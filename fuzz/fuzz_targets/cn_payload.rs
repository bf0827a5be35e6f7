//! RFC 3389 comfort noise payloads: parse -> emit -> re-parse; the generator accepts any.
#![no_main]

use ac_media::cng::{CnPayload, ComfortNoise};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = CnPayload::parse(data) {
        let mut wire = Vec::new();
        p.emit(&mut wire).expect("a parsed payload emits");
        assert_eq!(wire, data);
        assert_eq!(CnPayload::parse(&wire).expect("re-parses"), p);
        let mut cn = ComfortNoise::new();
        cn.update(&p);
        let mut out = [0i16; 160];
        cn.fill(&mut out);
    }
});
