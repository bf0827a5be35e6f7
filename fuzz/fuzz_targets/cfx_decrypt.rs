//! Decryption of untrusted `.cfx` / ACFX-GCM files and `{"base64"}` values: errors, never
//! panics; what decrypts as configuration text must parse.
#![no_main]

use ac_cfg::crypto::{self, AeadKey, Keys, TdesKey};
use ac_cfg::document::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = Keys {
        tdes: Some(TdesKey::passphrase("fuzz")),
        // A raw key: no PBKDF2 per input, so the fuzzer spends its time in the parsers.
        aead: AeadKey::from_hex(&"11".repeat(32)).ok(),
    };
    if let Ok(text) = crypto::decrypt_config(data, &keys) {
        let _ = Document::parse(&text);
    }
    if let Some(k) = &keys.aead {
        let _ = crypto::decrypt_aead(data, k);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crypto::decrypt_value(s, &TdesKey::passphrase("fuzz"));
    }
});
