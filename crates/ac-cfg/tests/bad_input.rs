//! Hostile and broken input: binary garbage, 1 MB lines, truncated `.cfx`, wrong keys. Each
//! gives a clear error, never a panic; and the CLI maps them to exit code 1 (usage: 2).

use std::path::Path;
use std::process::{Command, Output};

use ac_cfg::crypto::{self, CryptoError, Keys, TdesKey};
use ac_cfg::document::{Document, ParseError};
use ac_cfg::validate::{self, DiagKind};
use ac_cfg::Model;

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn binary_garbage_is_rejected_with_a_position() {
    for seed in 1..50 {
        let g = garbage(4096, seed);
        match Document::parse_bytes(&g) {
            Err(ParseError::NotUtf8 { line, column })
            | Err(ParseError::NulByte { line, column }) => {
                assert!(line >= 1 && column >= 1)
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("4 KiB of random bytes parsed as a .cfg"),
        }
    }
}

#[test]
fn one_megabyte_line_is_refused() {
    let mut src = String::from("network/lan_type=DHCP\n");
    src.push_str("voip/line/0/auth_password=");
    src.push_str(&"A".repeat(1 << 20));
    src.push('\n');
    assert_eq!(
        Document::parse(&src).unwrap_err(),
        ParseError::LineTooLong {
            line: 2,
            len: (1 << 20) + 26,
            max: 16 * 1024
        }
    );
    // A 1 MB line of garbage without a newline, too.
    let g = "x".repeat(1 << 20);
    assert!(matches!(
        Document::parse(&g),
        Err(ParseError::LineTooLong { line: 1, .. })
    ));
}

#[test]
fn truncated_cfx_files() {
    let k = TdesKey::passphrase("pw");
    let ct = crypto::encrypt_cfx(b"network/lan_type=DHCP\nsystem/user_name=admin\n", &k);
    let keys = Keys::passphrase("pw");
    for cut in 0..ct.len() {
        let err = crypto::decrypt_config(&ct[..cut], &keys).unwrap_err();
        match err {
            CryptoError::Empty
            | CryptoError::NotBlockAligned(_)
            | CryptoError::BadPadding
            | CryptoError::NotText => {}
            other => panic!("cut at {cut}: unexpected {other}"),
        }
        assert!(!err.to_string().is_empty());
    }
    let aead = crypto::encrypt_aead(
        b"a=1\n",
        &crypto::AeadKey::Passphrase {
            passphrase: zeroize::Zeroizing::new(b"pw".to_vec()),
            iterations: 1000,
        },
    )
    .unwrap();
    for cut in 0..aead.len() {
        assert!(
            crypto::decrypt_config(&aead[..cut], &keys).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn wrong_keys_over_many_trials() {
    // 3DES has no MAC: a wrong key passes the padding check by chance (~1/256); the text check
    // must still catch it.
    let plain = "network/lan_type=DHCP\nvoip/line/0/auth_password=1234\n".repeat(4);
    let ct = crypto::encrypt_cfx(plain.as_bytes(), &TdesKey::passphrase("right"));
    for i in 0..2000 {
        let wrong = format!("wrong-{i}");
        assert!(
            crypto::decrypt_config(&ct, &Keys::passphrase(&wrong)).is_err(),
            "{wrong} accepted"
        );
    }
}

#[test]
fn validation_reports_every_problem_with_position() {
    let src = "network/lan_type=STATIK\n\
               no/such/param=1\n\
               just some words\n\
               network/lan_type=dhcp\n\
               voip/codec/codec_info/9/name=G722\n\
               personal_settings/functional_key/18/type=SPEED_DIAL\n";
    let doc = Document::parse(src).unwrap();
    let diags = validate::validate(&doc, &validate::Options::for_model(Some(Model::Hd440)));
    let got: Vec<(usize, usize, DiagKind)> =
        diags.iter().map(|d| (d.line, d.column, d.kind)).collect();
    assert_eq!(
        got,
        vec![
            (1, 18, DiagKind::BadEnum),
            (2, 1, DiagKind::UnknownKey),
            (3, 1, DiagKind::Syntax),
            (4, 1, DiagKind::Duplicate),
            (4, 18, DiagKind::EnumCase),
            (5, 1, DiagKind::IndexOutOfRange),
            (6, 1, DiagKind::WrongModel),
        ]
    );
}

fn cfgtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ac-cfgtool"))
        .args(args)
        .env_remove("AC_CFG_PASSPHRASE")
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn cli_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.cfg", b"network/lan_type=STATIC\n");
    let bad = write(dir.path(), "bad.cfg", b"network/lan_type=NOPE\n");
    let bin = write(dir.path(), "garbage.cfg", &garbage(1000, 7));

    assert_eq!(
        cfgtool(&["validate", &good, "--model", "440HD"])
            .status
            .code(),
        Some(0)
    );
    let out = cfgtool(&["validate", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(":1:18: error[bad-enum]"));
    let out = cfgtool(&["validate", &bin]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid UTF-8"));
    assert_eq!(
        cfgtool(&["validate", "/nonexistent/x.cfg"]).status.code(),
        Some(1)
    );
    // Usage errors.
    assert_eq!(cfgtool(&["validate"]).status.code(), Some(2));
    assert_eq!(cfgtool(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        cfgtool(&["defaults", "--model", "999HD"]).status.code(),
        Some(2)
    );
    assert_eq!(cfgtool(&["--help"]).status.code(), Some(0));

    // encrypt / decrypt, wrong key, truncated file, no key.
    let out = cfgtool(&["encrypt", "-f", &good, "-k", "pw"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfx = dir.path().join("good.cfx");
    let cfx_s = cfx.to_str().unwrap();
    let out = cfgtool(&["decrypt", "-f", cfx_s, "-k", "pw"]);
    assert_eq!(out.stdout, b"network/lan_type=STATIC\n");
    let out = cfgtool(&["decrypt", "-f", cfx_s, "-k", "wrong"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong key or corrupt file"));
    let data = std::fs::read(&cfx).unwrap();
    let trunc = write(dir.path(), "trunc.cfx", &data[..data.len() - 1]);
    let out = cfgtool(&["decrypt", "-f", &trunc, "-k", "pw"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    let out = cfgtool(&["decrypt", "-f", cfx_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key given"));
    // Refuses to encrypt garbage.
    assert_eq!(
        cfgtool(&["encrypt", "-f", &bin, "-k", "pw"]).status.code(),
        Some(1)
    );
}

#[test]
fn cli_merge_rejects_other_models_and_keeps_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let base_text = b"# model: 420HD\nnetwork/lan_type=DHCP\n";
    let base = write(dir.path(), "base.cfg", base_text);
    let other = write(
        dir.path(),
        "other.cfg",
        b"# model: 450HD\nnetwork/lan_type=STATIC\n",
    );
    let invalid = write(
        dir.path(),
        "invalid.cfg",
        b"network/lan_type=STATIC\nnetwork/lan_type=NOPE\n",
    );
    for delta in [&other, &invalid] {
        let out = cfgtool(&["merge", &base, delta, "--model", "420HD", "-o", &base]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing applied"));
        assert_eq!(
            std::fs::read(&base).unwrap(),
            base_text,
            "the target was touched"
        );
    }
    let good = write(dir.path(), "delta.cfg", b"network/lan_type=STATIC\n");
    assert_eq!(
        cfgtool(&["merge", &base, &good, "--model", "420HD", "-o", &base])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        std::fs::read_to_string(&base).unwrap(),
        "# model: 420HD\nnetwork/lan_type=STATIC\n"
    );
}

#[test]
fn cli_schema_json_lists_every_parameter() {
    let out = cfgtool(&["schema", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total: usize = ac_cfg::Schema::get()
        .params()
        .iter()
        .map(|p| p.concrete_count())
        .sum();
    assert_eq!(objs.len(), total);
    for o in &objs {
        assert!(
            o["key"].is_string() && o["default"].is_string() && o["type"].is_string(),
            "{o}"
        );
    }
    assert!(objs
        .iter()
        .any(|o| o["key"] == "network/lan_type" && o["default"] == "DHCP"));
}

#[test]
fn unknown_key_floods_get_bounded_suggestions() {
    let src: String = (0..5000)
        .map(|i| format!("network/lan_typ{i}=DHCP\n"))
        .collect();
    let doc = Document::parse(&src).unwrap();
    let diags = validate::validate(&doc, &validate::Options::for_model(None));
    assert_eq!(diags.len(), 5000);
    assert!(diags.iter().all(|d| d.kind == DiagKind::UnknownKey));
    let hinted = diags
        .iter()
        .filter(|d| d.message.contains("did you mean"))
        .count();
    assert!(hinted > 0 && hinted <= 32, "{hinted} suggestions");
}
