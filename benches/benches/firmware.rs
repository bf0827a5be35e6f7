//! Firmware verification throughput (issue 4), side by side with coreutils `sha256sum` on the
//! same file in the same run.
//!
//! The image: 64 MiB in four sections (boot 1 MiB, kernel 7 MiB, rootfs 48 MiB, dsp 8 MiB),
//! signed with Ed25519. Its digest work is one SHA-256 pass over the body, which is what
//! `sha256sum` does over the whole file; the image check adds header parsing, the signature
//! and per-section bookkeeping.
//!
//! * `verify_image (memory)`: the whole image in memory (after a download into RAM).
//! * `verify_slot (file slot)`: the bootloader's / installer's read-back check from a
//!   file-backed slot (64 KiB reads through `SlotStore`), the boot-time cost.
//! * `sha256sum (coreutils)`: `sha256sum FILE` as a child process on the image file (page
//!   cache warm, like the slot file).
//! * `openssl dgst -sha256`: OpenSSL's SHA-256 (the C reference with SHA extensions) on the
//!   same file, as a child process.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ac_cfg::Model;
use ac_prov::firmware::boot::verify_slot;
use ac_prov::firmware::{
    build, install_factory, verify_image, BuildSpec, FileSlots, Keyring, Slot,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;

const MIB: usize = 1 << 20;

fn body(n: usize, seed: u32) -> Vec<u8> {
    // xorshift: incompressible, deterministic.
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

fn openssl_dgst(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(path)
        .output()
        .expect("openssl dgst");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

fn verification(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let boot = body(MIB, 1);
    let kernel = body(7 * MIB, 2);
    let rootfs = body(48 * MIB, 3);
    let dsp = body(8 * MIB, 4);
    let image = build(
        &key,
        &BuildSpec {
            version: "3.4.8",
            models: &[Model::Hd420, Model::Hd440],
            security_counter: 1,
            build_time: 1_790_000_000,
            sections: &[
                ("boot", &boot),
                ("kernel", &kernel),
                ("rootfs", &rootfs),
                ("dsp", &dsp),
            ],
        },
    )
    .expect("build");
    let mut keys = Keyring::new();
    keys.add(key.verifying_key());

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("420HD.img");
    std::fs::write(&file, &image).expect("write image");
    let slots_dir = dir.path().join("slots");
    let mut slots = FileSlots::open(&slots_dir, 80 * MIB as u64).expect("slots");
    install_factory(&mut slots, Slot::A, &image, &keys, Model::Hd420).expect("factory install");

    // Same answer from both sides before timing them.
    let h = verify_image(&image, &keys).expect("verifies");
    assert_eq!(h.body_len(), 64 * MIB as u64);
    let whole: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(&image)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(sha256sum(&file), whole, "sha256sum and sha2 disagree");
    assert_eq!(openssl_dgst(&file), whole, "openssl and sha2 disagree");

    let mut g = c.benchmark_group("firmware_verify_64MiB");
    g.throughput(Throughput::Bytes(image.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.bench_function("verify_image (memory)", |b| {
        b.iter(|| verify_image(black_box(&image), &keys).expect("verifies"))
    });
    g.bench_function("verify_slot (file slot)", |b| {
        b.iter(|| verify_slot(&mut slots, Slot::A, &keys, Model::Hd420).expect("verifies"))
    });
    g.bench_function("sha256sum (coreutils)", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(sha256sum(&file));
            }
            t.elapsed()
        })
    });
    g.bench_function("openssl dgst -sha256", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(openssl_dgst(&file));
            }
            t.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
