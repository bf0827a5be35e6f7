//! Sets the SONAME of the shared library (`libac_phone.so.<major>`) and writes the pkg-config
//! file `ac_phone.pc` next to the built libraries.

use std::path::PathBuf;

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "0.0.0".into());
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        // Only the cdylib gets this; the staticlib and the tests are unaffected.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libac_phone.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    // OUT_DIR is <target dir>/[<triple>/]<profile>/build/ac-ffi-<hash>/out: three levels up is
    // where cargo puts libac_phone.so and libac_phone.a.
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        return;
    };
    // The installed layout: prefix/lib/libac_phone.so*, prefix/include/ac_phone.h. Packagers
    // and the tests set `prefix` with `pkg-config --define-variable=prefix=...`.
    // Libs.private: what the Rust standard library needs when linking libac_phone.a
    // (`rustc --print native-static-libs` on linux-gnu).
    let pc = format!(
        "prefix=/usr/local\n\
         libdir=${{prefix}}/lib\n\
         includedir=${{prefix}}/include\n\
         \n\
         Name: ac_phone\n\
         Description: AudioCodes 400HD phone software: C ABI (libac_phone)\n\
         Version: {version}\n\
         Libs: -L${{libdir}} -lac_phone\n\
         Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc\n\
         Cflags: -I${{includedir}}\n"
    );
    let path = profile_dir.join("ac_phone.pc");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(pc.as_str()) {
        if let Err(e) = std::fs::write(&path, pc) {
            println!("cargo:warning=cannot write {}: {e}", path.display());
        }
    }
}
