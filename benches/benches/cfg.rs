//! ac-cfg benchmarks.
//!
//! * `cfg_parse_validate/10k_lines`: parse + validate a 10,000-line file (goal: >= 50 MB/s).
//! * `cfx_3des/*`: the `.cfx` cipher (3DES-EDE-CBC) of ac-cfg (RustCrypto) side by side with
//!   OpenSSL's libcrypto, the reference C implementation, on the same 64 KiB file.

use ac_cfg::crypto::{self, TdesKey};
use ac_cfg::document::Document;
use ac_cfg::validate;
use ac_cfg::Model;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use openssl::symm::{Cipher, Crypter, Mode};

fn parse_validate(c: &mut Criterion) {
    let text = ac_benches::sample_cfg(10_000);
    let mut g = c.benchmark_group("cfg_parse_validate");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("10k_lines/parse", |b| {
        b.iter(|| Document::parse(black_box(&text)).map(|d| d.len()))
    });
    g.bench_function("10k_lines/parse_validate", |b| {
        b.iter(|| {
            let doc = Document::parse(black_box(&text)).expect("sample parses");
            validate::validate(&doc, &validate::Options::for_model(Some(Model::Hd450))).len()
        })
    });
    g.bench_function("10k_lines/parse_emit", |b| {
        b.iter(|| Document::parse(black_box(&text)).map(|d| d.emit().len()))
    });
    g.finish();
}

fn openssl_3des(mode: Mode, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let cipher = Cipher::des_ede3_cbc();
    let mut c = Crypter::new(cipher, mode, key, Some(iv)).expect("openssl crypter");
    let mut out = vec![0u8; data.len() + cipher.block_size()];
    let n = c.update(data, &mut out).expect("openssl update");
    let m = c.finalize(&mut out[n..]).expect("openssl finalize");
    out.truncate(n + m);
    out
}

fn cfx_cipher(c: &mut Criterion) {
    let plain = ac_benches::sample_cfg(2_000).into_bytes();
    let plain = &plain[..(64 * 1024).min(plain.len())];
    let key_hex = "0123456789abcdeffedcba987654321000112233445566ff";
    let iv_hex = "a1b2c3d4e5f60718";
    let key: Vec<u8> = (0..24)
        .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let iv: Vec<u8> = (0..8)
        .map(|i| u8::from_str_radix(&iv_hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let k = TdesKey::from_hex(key_hex, iv_hex).expect("valid key");
    let ct = crypto::encrypt_cfx(plain, &k);
    assert_eq!(
        ct,
        openssl_3des(Mode::Encrypt, &key, &iv, plain),
        "ciphers disagree"
    );
    let mut g = c.benchmark_group("cfx_3des");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("encrypt/ac-cfg", |b| {
        b.iter(|| crypto::encrypt_cfx(black_box(plain), &k))
    });
    g.bench_function("encrypt/openssl", |b| {
        b.iter(|| openssl_3des(Mode::Encrypt, &key, &iv, black_box(plain)))
    });
    g.bench_function("decrypt/ac-cfg", |b| {
        b.iter(|| crypto::decrypt_cfx(black_box(&ct), &k))
    });
    g.bench_function("decrypt/openssl", |b| {
        b.iter(|| openssl_3des(Mode::Decrypt, &key, &iv, black_box(&ct)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = parse_validate, cfx_cipher
}
criterion_main!(benches);
