//! Option-160 / static provisioning URL parser: parse -> emit -> re-parse is stable and the
//! expansions never panic.
#![no_main]

use ac_prov::url::{ProvUrl, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(u) = ProvUrl::parse(s) {
        let text = u.to_string();
        let again = ProvUrl::parse(&text).expect("emitted URL re-parses");
        assert_eq!(again, u);
        let t = Target { model: "440HD", mac: [0, 0x90, 0x8f, 1, 2, 3] };
        let _ = u.firmware_url(&t);
        let _ = u.config_url(&t);
    }
});
