//! ABI checks: the checked-in header is what the pinned cbindgen generates from the crate, the
//! library exports exactly the symbols of `symbols.txt`, and every function the header declares
//! is exported. `scripts/ffi-abi --update` regenerates both files after a deliberate change.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{built_lib, repo_root};

/// The cbindgen version pinned in scripts/install-deps (`cbindgen_version=X.Y.Z`).
fn pinned_cbindgen() -> String {
    let deps = std::fs::read_to_string(repo_root().join("scripts/install-deps")).unwrap();
    deps.lines()
        .find_map(|l| l.trim().strip_prefix("cbindgen_version="))
        .expect("scripts/install-deps pins cbindgen_version=")
        .trim_matches('"')
        .to_string()
}

#[test]
fn header_is_what_the_pinned_cbindgen_generates() {
    let pinned = pinned_cbindgen();
    let v = Command::new("cbindgen")
        .arg("--version")
        .output()
        .expect("cbindgen (scripts/install-deps installs the pinned version)");
    let v = String::from_utf8_lossy(&v.stdout);
    assert_eq!(
        v.trim(),
        format!("cbindgen {pinned}"),
        "run scripts/install-deps for the pinned cbindgen"
    );
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("ac_phone.h");
    let crate_dir = repo_root().join("crates/ac-ffi");
    let out = Command::new("cbindgen")
        .arg("--quiet")
        .arg("--config")
        .arg(crate_dir.join("cbindgen.toml"))
        .arg("--crate")
        .arg("ac-ffi")
        .arg("--output")
        .arg(&fresh)
        .arg(&crate_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = std::fs::read_to_string(&fresh).unwrap();
    let checked_in = std::fs::read_to_string(repo_root().join("include/ac_phone.h")).unwrap();
    if fresh != checked_in {
        let diff = Command::new("diff")
            .arg("-u")
            .arg(repo_root().join("include/ac_phone.h"))
            .arg(dir.path().join("ac_phone.h"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        panic!("include/ac_phone.h is stale; run scripts/ffi-abi --update\n{diff}");
    }
}

fn exported() -> BTreeSet<String> {
    let so = built_lib("libac_phone.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils)");
    assert!(out.status.success(), "nm {}", so.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .collect()
}

fn declared() -> BTreeSet<String> {
    std::fs::read_to_string(repo_root().join("crates/ac-ffi/symbols.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn exported_symbols_are_the_declared_list() {
    let exported = exported();
    let declared = declared();
    let extra: Vec<_> = exported.difference(&declared).collect();
    let missing: Vec<_> = declared.difference(&exported).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "libac_phone.so exports {extra:?} not in crates/ac-ffi/symbols.txt and lacks {missing:?}; \
         declare the change with scripts/ffi-abi --update"
    );
    assert!(
        exported.iter().all(|s| s.starts_with("ac_")),
        "{exported:?}"
    );
}

#[test]
fn every_header_function_is_exported() {
    let header = std::fs::read_to_string(repo_root().join("include/ac_phone.h")).unwrap();
    let mut functions = BTreeSet::new();
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with("//") || t.starts_with('#') || t.starts_with('*') || t.starts_with("/*") {
            continue;
        }
        // `<type> ac_name(` at the start of a declaration.
        if let Some(open) = t.find('(') {
            if let Some(name) = t[..open].split([' ', '*']).next_back() {
                if name.starts_with("ac_") {
                    functions.insert(name.to_string());
                }
            }
        }
    }
    assert!(functions.len() >= 20, "{functions:?}");
    assert_eq!(functions, declared(), "header functions vs symbols.txt");
}
