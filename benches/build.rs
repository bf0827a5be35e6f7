//! Builds the C harnesses of the benches (reference implementations called side by side).
//! sofia-sip (SIP parser): libsofia-sip-ua-dev, found with pkg-config.

use std::process::Command;

fn pkg(args: &[&str], lib: &str) -> Vec<String> {
    let o = Command::new("pkg-config")
        .args(args)
        .arg(lib)
        .output()
        .unwrap_or_else(|e| panic!("pkg-config: {e} (scripts/install-deps installs it)"));
    assert!(
        o.status.success(),
        "pkg-config {lib}: {} (scripts/install-deps installs the -dev package)",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed=csrc/sofia_parse.c");
    let mut b = cc::Build::new();
    b.file("csrc/sofia_parse.c").warnings(false);
    for f in pkg(&["--cflags"], "sofia-sip-ua") {
        if let Some(i) = f.strip_prefix("-I") {
            b.include(i);
        }
    }
    b.compile("ac_bench_sofia");
    for f in pkg(&["--libs"], "sofia-sip-ua") {
        if let Some(l) = f.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={l}");
        } else if let Some(p) = f.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={p}");
        }
    }
}
