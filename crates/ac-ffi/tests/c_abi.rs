//! The C test `tests/c/api_test.c` compiled against the installed library (shared through
//! the SONAME, and static) with `gcc -Wall -Wextra -Werror -Wpedantic -std=c11` and the flags
//! of `pkg-config`, run under valgrind.

mod common;

use common::{passed_failed, stage, valgrind, Link};

fn api_test(link: Link) {
    let st = stage(link);
    let src = common::repo_root().join("crates/ac-ffi/tests/c/api_test.c");
    let exe = st.compile(&src, "api_test");
    let out = valgrind(&exe, &[]);
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(passed >= 70, "only {passed} checks ran");
}

#[test]
fn c_api_test_shared_under_valgrind() {
    let st = stage(Link::Shared);
    let flags = st.pkg_config();
    assert!(flags.iter().any(|f| f == "-lac_phone"), "{flags:?}");
    assert!(flags.iter().any(|f| f.starts_with("-I")), "{flags:?}");
    api_test(Link::Shared);
}

#[test]
fn c_api_test_static_under_valgrind() {
    api_test(Link::Static);
}

#[test]
fn shared_library_needs_its_soname() {
    // The executable records libac_phone.so.<major> (the SONAME), not the dev symlink.
    let st = stage(Link::Shared);
    let src = common::repo_root().join("crates/ac-ffi/tests/c/api_test.c");
    let exe = st.compile(&src, "api_test");
    let out = std::process::Command::new("readelf")
        .arg("-d")
        .arg(&exe)
        .output()
        .expect("readelf (binutils)");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "Shared library: [libac_phone.so.{}]",
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert!(dynamic.contains(&want), "{dynamic}");
}

#[test]
fn valgrind_catches_a_forgotten_free() {
    let st = stage(Link::Shared);
    let src = common::repo_root().join("crates/ac-ffi/tests/c/forgotten_free.c");
    let exe = st.compile(&src, "forgotten_free");
    let out = common::valgrind_cmd(&exe, &[]).output().expect("valgrind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("definitely lost"), "{stderr}");
    assert!(stderr.contains("ac_cfg_parse"), "{stderr}");
}
