//! `.cfx` through the C ABI against the real OpenSSL CLI, both ways: what `ac_cfg_encrypt`
//! writes, `openssl enc -d -des-ede3-cbc -nosalt -md md5` reads, and what `openssl enc` writes
//! (unsalted and salted), `ac_cfg_decrypt` reads (manual 3.4.1).

use std::process::Command;

use ac_phone::ac_result;
use ac_phone::cfg::{ac_cfg_cipher, ac_cfg_decrypt, ac_cfg_encrypt, ac_cfg_encrypted_len};

const PLAIN: &[u8] = b"# model: 440HD\nnetwork/lan_type=DHCP\nvoip/line/0/auth_password=s3cr3t\n";
const PASS: &str = "cfx-pass phrase";

fn openssl(args: &[&str], input: &std::path::Path, output: &std::path::Path) {
    let st = Command::new("openssl")
        .args([
            "enc",
            "-des-ede3-cbc",
            "-md",
            "md5",
            "-pass",
            &format!("pass:{PASS}"),
        ])
        .args(args)
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(output)
        .status()
        .expect("openssl (scripts/install-deps installs it)");
    assert!(st.success());
}

#[test]
fn c_abi_cfx_interoperates_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let cipher = ac_cfg_cipher::AC_CFG_CIPHER_CFX as u32;
    let mut need = 0;
    assert_eq!(
        unsafe { ac_cfg_encrypted_len(cipher, PLAIN.len(), &mut need) },
        ac_result::AC_RESULT_OK
    );
    let mut ct = vec![0u8; need];
    let mut n = 0;
    let r = unsafe {
        ac_cfg_encrypt(
            cipher,
            PLAIN.as_ptr(),
            PLAIN.len(),
            PASS.as_ptr(),
            PASS.len(),
            ct.as_mut_ptr(),
            ct.len(),
            &mut n,
        )
    };
    assert_eq!((r, n), (ac_result::AC_RESULT_OK, need));
    let ours = dir.path().join("ours.cfx");
    std::fs::write(&ours, &ct).unwrap();
    let back = dir.path().join("back.cfg");
    openssl(&["-d", "-nosalt"], &ours, &back);
    assert_eq!(std::fs::read(&back).unwrap(), PLAIN);

    let plain = dir.path().join("plain.cfg");
    std::fs::write(&plain, PLAIN).unwrap();
    for salt in [&["-nosalt"][..], &["-salt"][..]] {
        let theirs = dir.path().join("theirs.cfx");
        openssl(&[&["-e"][..], salt].concat(), &plain, &theirs);
        let data = std::fs::read(&theirs).unwrap();
        let mut out = vec![0u8; data.len()];
        let mut n = 0;
        let r = unsafe {
            ac_cfg_decrypt(
                data.as_ptr(),
                data.len(),
                PASS.as_ptr(),
                PASS.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            )
        };
        assert_eq!(r, ac_result::AC_RESULT_OK, "{salt:?}");
        assert_eq!(&out[..n], PLAIN, "{salt:?}");
    }
}
