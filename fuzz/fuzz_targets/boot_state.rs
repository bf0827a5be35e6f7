//! Boot state records (the A/B slot selector on flash): decode -> encode -> decode, and the
//! encoding of an accepted record is the record. Each input is tried as is and with its
//! SHA-256 trailer recomputed, so the fuzzer reaches the field checks behind the digest.
#![no_main]

use ac_prov::firmware::slots::RECORD_LEN;
use ac_prov::firmware::BootState;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn check(data: &[u8]) {
    let Ok(s) = BootState::decode(data) else {
        return;
    };
    let rec = s.encode();
    assert_eq!(&data[..rec.len()], &rec[..], "encode is byte-identical");
    assert_eq!(BootState::decode(&rec).expect("re-decodes"), s);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= RECORD_LEN {
        let mut r = data[..RECORD_LEN].to_vec();
        let d = Sha256::digest(&r[..RECORD_LEN - 32]);
        r[RECORD_LEN - 32..].copy_from_slice(&d);
        check(&r);
    }
});
