//! Authentication headers: challenge / credentials / Authentication-Info parsing never
//! panics; answering any accepted Digest challenge gives credentials that parse and verify.
#![no_main]

use ac_sip::auth::{authorization, verify, AuthParams, DigestInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = AuthParams::parse_info(s);
    let Ok(ch) = AuthParams::parse(s) else {
        return;
    };
    let i = DigestInput {
        username: "alice",
        password: "p@ss\"word",
        method: "REGISTER",
        uri: "sip:contoso.com",
        body: b"",
        cnonce: "0a4f113b",
        nc: 1,
    };
    if let Ok(a) = authorization(&ch, &i) {
        let cred = AuthParams::parse(&a).expect("our credentials parse");
        assert_eq!(cred.get("username"), Some("alice"));
        assert!(verify(&cred, "p@ss\"word", "REGISTER", b""));
    }
});
