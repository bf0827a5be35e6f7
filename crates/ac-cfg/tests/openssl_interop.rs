//! `.cfx` interoperability with the OpenSSL command line, in both directions (manual 3.4.1,
//! 3.4.2). These tests need `openssl` on PATH; `.ci/run` installs it, and they fail (never skip)
//! without it.

use std::io::Write;
use std::process::{Command, Stdio};

use ac_cfg::crypto::{self, Keys, TdesKey};

const SAMPLE: &str =
    "# model: 440HD\r\nnetwork/lan_type=DHCP\r\nvoip/line/0/auth_password=s3cret\r\n\
; a comment with ümlauts\r\nlync/sign_in/method=NUMBER_AND_PIN\r\n";

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl must be installed (apt-get install openssl); .ci/run installs it");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const NOSALT: [&str; 5] = ["enc", "-des-ede3-cbc", "-nosalt", "-md", "md5"];

#[test]
fn openssl_encrypts_we_decrypt() {
    for pass in ["k", "correct horse battery staple", "ünïcödé-pässwörd"] {
        let p = format!("pass:{pass}");
        let mut args = NOSALT.to_vec();
        args.extend(["-pass", &p]);
        let ct = openssl(&args, SAMPLE.as_bytes());
        let text = crypto::decrypt_config(&ct, &Keys::passphrase(pass)).unwrap();
        assert_eq!(text, SAMPLE);
    }
}

#[test]
fn we_encrypt_openssl_decrypts() {
    let ct = crypto::encrypt_cfx(SAMPLE.as_bytes(), &TdesKey::passphrase("k3y"));
    let mut args = NOSALT.to_vec();
    args.extend(["-d", "-pass", "pass:k3y"]);
    assert_eq!(openssl(&args, &ct), SAMPLE.as_bytes());
    // And our ciphertext is byte-identical to OpenSSL's.
    let mut enc = NOSALT.to_vec();
    enc.extend(["-pass", "pass:k3y"]);
    assert_eq!(openssl(&enc, SAMPLE.as_bytes()), ct);
}

#[test]
fn salted_openssl_files_decrypt() {
    // `openssl enc` without -nosalt writes `Salted__` + salt.
    let ct = openssl(
        &["enc", "-des-ede3-cbc", "-md", "md5", "-pass", "pass:salty"],
        SAMPLE.as_bytes(),
    );
    assert!(ct.starts_with(b"Salted__"));
    assert_eq!(
        crypto::decrypt_config(&ct, &Keys::passphrase("salty")).unwrap(),
        SAMPLE
    );
}

#[test]
fn raw_key_and_iv_interoperate() {
    let key = "0123456789abcdeffedcba987654321000112233445566ff";
    let iv = "a1b2c3d4e5f60718";
    let k = TdesKey::from_hex(key, iv).unwrap();
    let ours = crypto::encrypt_cfx(SAMPLE.as_bytes(), &k);
    let theirs = openssl(
        &["enc", "-des-ede3-cbc", "-K", key, "-iv", iv],
        SAMPLE.as_bytes(),
    );
    assert_eq!(ours, theirs);
    assert_eq!(
        openssl(&["enc", "-d", "-des-ede3-cbc", "-K", key, "-iv", iv], &ours),
        SAMPLE.as_bytes()
    );
}

#[test]
fn encrypted_values_match_openssl_base64() {
    // {"base64"} of manual 3.4.2 is the same cipher over the password, base64-encoded.
    let k = TdesKey::passphrase("value-key");
    let enc = crypto::encrypt_value("1234", &k);
    let b64 = openssl(
        &[
            "enc",
            "-des-ede3-cbc",
            "-nosalt",
            "-md",
            "md5",
            "-a",
            "-A",
            "-pass",
            "pass:value-key",
        ],
        b"1234",
    );
    assert_eq!(
        enc,
        format!("{{\"{}\"}}", String::from_utf8(b64).unwrap().trim())
    );
    assert_eq!(crypto::decrypt_value(&enc, &k).unwrap(), "1234");
}

#[test]
fn wrong_key_is_a_clear_error() {
    let mut args = NOSALT.to_vec();
    args.extend(["-pass", "pass:right"]);
    let ct = openssl(&args, SAMPLE.as_bytes());
    for wrong in ["wrong", "Right", "right "] {
        let err = crypto::decrypt_config(&ct, &Keys::passphrase(wrong)).unwrap_err();
        assert!(
            err.to_string().contains("wrong key or corrupt file"),
            "{err}"
        );
    }
}
