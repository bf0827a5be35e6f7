//! `ac-imgtool` against OpenSSL: keys from `openssl genpkey -algorithm ed25519` sign images
//! we verify, and OpenSSL verifies the signatures we make; the slot commands and their exit
//! codes.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn imgtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ac-imgtool"))
        .args(args)
        .output()
        .expect("run ac-imgtool")
}

fn openssl(args: &[&str]) -> Output {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    o
}

fn ok(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{out}: {e}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn build(d: &Path, key: &Path, version: &str, counter: u32, out: &str) -> std::path::PathBuf {
    fs::write(d.join("kernel.bin"), vec![0x11u8; 3000]).unwrap();
    fs::write(
        d.join(format!("rootfs-{version}.bin")),
        version.repeat(2000),
    )
    .unwrap();
    let o = d.join(out);
    ok(&imgtool(&[
        "build",
        "--key",
        s(key),
        "--fw-version",
        version,
        "--model",
        "420HD",
        "--model",
        "440HD",
        "--counter",
        &counter.to_string(),
        "--build-time",
        "1790000000",
        "--section",
        &format!("kernel={}", s(&d.join("kernel.bin"))),
        "--section",
        &format!("rootfs={}", s(&d.join(format!("rootfs-{version}.bin")))),
        "-o",
        s(&o),
    ]));
    o
}

#[test]
fn openssl_keys_and_signatures_interoperate() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // OpenSSL key -> our image -> our verifier and OpenSSL's.
    ok_status(&openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        s(&d.join("k.pem")),
    ]));
    ok_status(&openssl(&[
        "pkey",
        "-in",
        s(&d.join("k.pem")),
        "-pubout",
        "-out",
        s(&d.join("pub.pem")),
    ]));
    let img = build(d, &d.join("k.pem"), "3.4.6", 1, "fw.img");
    let v = ok(&imgtool(&[
        "verify",
        "--key",
        s(&d.join("pub.pem")),
        "--model",
        "440HD",
        s(&img),
    ]));
    assert_eq!(v["version"], "3.4.6");
    let info = ok(&imgtool(&["inspect", s(&img)]));
    let hl = info["header_bytes"].as_u64().unwrap() as usize;
    let b = fs::read(&img).unwrap();
    fs::write(d.join("signed.bin"), &b[..hl - 64]).unwrap();
    fs::write(d.join("sig.bin"), &b[hl - 64..hl]).unwrap();
    let o = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        s(&d.join("pub.pem")),
        "-rawin",
        "-in",
        s(&d.join("signed.bin")),
        "-sigfile",
        s(&d.join("sig.bin")),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Signature Verified Successfully"),
        "{o:?}"
    );
    // Our key -> OpenSSL reads it and derives the same public key.
    ok(&imgtool(&[
        "keygen",
        "--out",
        s(&d.join("k2.pem")),
        "--pub",
        s(&d.join("p2.pem")),
    ]));
    let o = openssl(&["pkey", "-in", s(&d.join("k2.pem")), "-pubout"]);
    ok_status(&o);
    assert_eq!(o.stdout, fs::read(d.join("p2.pem")).unwrap());
    // A signature OpenSSL makes over the header we emit is accepted.
    let img2 = build(d, &d.join("k2.pem"), "3.4.7", 1, "fw2.img");
    let mut b2 = fs::read(&img2).unwrap();
    fs::write(d.join("signed2.bin"), &b2[..hl - 64]).unwrap();
    ok_status(&openssl(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        s(&d.join("k2.pem")),
        "-rawin",
        "-in",
        s(&d.join("signed2.bin")),
        "-out",
        s(&d.join("sig2.bin")),
    ]));
    let sig = fs::read(d.join("sig2.bin")).unwrap();
    assert_eq!(&sig[..], &b2[hl - 64..hl], "Ed25519 is deterministic");
    b2[hl - 64..hl].copy_from_slice(&sig);
    // The wrong key is refused with exit status 1 and a reason.
    let o = imgtool(&["verify", "--key", s(&d.join("pub.pem")), s(&img2)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("untrusted key"));
    let o = imgtool(&[
        "verify",
        "--key",
        s(&d.join("p2.pem")),
        "--model",
        "450HD",
        s(&img2),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = imgtool(&["inspect", s(&d.join("pub.pem"))]);
    assert_eq!(o.status.code(), Some(1));
    let o = imgtool(&["verify", "--key", s(&d.join("nothing.pem")), s(&img2)]);
    assert_eq!(o.status.code(), Some(2));
}

fn ok_status(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn slot_commands_update_confirm_and_roll_back() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(&imgtool(&[
        "keygen",
        "--out",
        s(&d.join("k.pem")),
        "--pub",
        s(&d.join("p.pem")),
    ]));
    let old = build(d, &d.join("k.pem"), "3.4.0", 1, "old.img");
    let new = build(d, &d.join("k.pem"), "3.4.6", 2, "new.img");
    let slots = d.join("slots");
    let pubkey = d.join("p.pem");
    let common = [
        "--dir",
        s(&slots),
        "--size",
        "1048576",
        "--key",
        s(&pubkey),
        "--model",
        "420HD",
    ];
    let run = |cmd: &[&str]| {
        let mut a: Vec<&str> = vec!["slots"];
        a.extend_from_slice(cmd);
        a.extend_from_slice(&common);
        imgtool(&a)
    };
    // Blank: recovery.
    let o = run(&["boot"]);
    assert_eq!(o.status.code(), Some(3));
    ok(&run(&["init", s(&old)]));
    let b = ok(&run(&["boot"]));
    assert_eq!(
        (b["slot"].as_str(), b["version"].as_str()),
        (Some("A"), Some("3.4.0"))
    );
    // Downgrade refused, exit 1, nothing changed.
    let older = build(d, &d.join("k.pem"), "3.3.0", 1, "older.img");
    let o = run(&["install", s(&older)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("downgrade"));
    let i = ok(&run(&["install", s(&new)]));
    assert_eq!(i["slot"], "B");
    for n in 1..=3 {
        let b = ok(&run(&["boot"]));
        assert_eq!(
            (b["version"].as_str(), b["trial"].as_bool()),
            (Some("3.4.6"), Some(true))
        );
        let st = ok(&run(&["status"]));
        assert_eq!(st["boot_count"], n);
    }
    // Never confirmed: rollback.
    let b = ok(&run(&["boot"]));
    assert_eq!(
        (b["version"].as_str(), b["rolled_back"].as_bool()),
        (Some("3.4.0"), Some(true))
    );
    // Again, and this time it registers and is confirmed.
    ok(&run(&["install", s(&new)]));
    ok(&run(&["boot"]));
    let g = ok(&run(&["mark-good"]));
    assert_eq!(g["confirmed"], "B");
    let st = ok(&run(&["status"]));
    assert_eq!(
        (
            st["active"].as_str(),
            st["trial"].as_bool(),
            st["min_counter"].as_u64()
        ),
        (Some("B"), Some(false), Some(2))
    );
    // Rollback protection now refuses the old counter-1 image even with downgrades allowed.
    let mut a: Vec<&str> = vec!["slots", "install", "--allow-downgrade", s(&old)];
    a.extend_from_slice(&common);
    let o = imgtool(&a);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rollback"),
        "{o:?}"
    );
}
