//! Compiles the small C harness around the Debian reference libraries (libsrtp2-dev,
//! libspandsp-dev, libspeexdsp-dev; scripts/install-deps installs them).
fn main() {
    println!("cargo:rerun-if-changed=csrc/ref.c");
    cc::Build::new()
        .file("csrc/ref.c")
        .include("/usr/include/srtp2")
        .flag_if_supported("-Wno-unused-parameter")
        .opt_level(2)
        .compile("acmediaref");
    println!("cargo:rustc-link-lib=srtp2");
    println!("cargo:rustc-link-lib=spandsp");
    println!("cargo:rustc-link-lib=speexdsp");
    // G.729A/B oracle: Debian's libbcg729 (libbcg729-dev), GPL, linked by tests and benches
    // only.
    println!("cargo:rerun-if-changed=csrc/bcg729_ref.c");
    cc::Build::new()
        .file("csrc/bcg729_ref.c")
        .opt_level(2)
        .compile("acmediaref_bcg729");
    println!("cargo:rustc-link-lib=bcg729");
}
