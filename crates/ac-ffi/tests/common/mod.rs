//! Builds C programs against the library as a firmware vendor would: the built
//! `libac_phone.so` / `libac_phone.a` and `include/ac_phone.h` installed into a staging prefix
//! (with the SONAME symlinks), compiler flags from `pkg-config` on the generated
//! `ac_phone.pc`, and runs them under valgrind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `target/<profile>`, where cargo put the libraries and `ac_phone.pc`: the test executable
/// lives in its `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// A library cargo built for this package: `cargo build` puts it in `target/<profile>`,
/// while `cargo test` leaves the cdylib and staticlib in `target/<profile>/deps` (it uplifts
/// only what it was asked to build). The newer of the two, so a stale copy from an earlier
/// `cargo build` is never tested.
pub fn built_lib(name: &str) -> PathBuf {
    let prof = profile_dir();
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let (top, deps) = (prof.join(name), prof.join("deps").join(name));
    match (mtime(&top), mtime(&deps)) {
        (Some(a), Some(b)) if b > a => deps,
        (None, Some(_)) => deps,
        _ => top,
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Link {
    Shared,
    Static,
}

/// An installed copy of the library: `<prefix>/lib`, `<prefix>/include`.
pub struct Staging {
    _dir: tempfile::TempDir,
    pub prefix: PathBuf,
    pub link: Link,
}

pub fn stage(link: Link) -> Staging {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().to_path_buf();
    let lib = prefix.join("lib");
    let inc = prefix.join("include");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&inc).unwrap();
    match link {
        Link::Shared => {
            let v = env!("CARGO_PKG_VERSION");
            let major = env!("CARGO_PKG_VERSION_MAJOR");
            let real = format!("libac_phone.so.{v}");
            std::fs::copy(built_lib("libac_phone.so"), lib.join(&real))
                .expect("libac_phone.so (built by cargo test)");
            std::os::unix::fs::symlink(&real, lib.join(format!("libac_phone.so.{major}"))).unwrap();
            std::os::unix::fs::symlink(&real, lib.join("libac_phone.so")).unwrap();
        }
        Link::Static => {
            std::fs::copy(built_lib("libac_phone.a"), lib.join("libac_phone.a"))
                .expect("libac_phone.a (built by cargo test)");
        }
    }
    std::fs::copy(
        repo_root().join("include/ac_phone.h"),
        inc.join("ac_phone.h"),
    )
    .unwrap();
    Staging {
        _dir: dir,
        prefix,
        link,
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/install-deps installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Staging {
    /// `pkg-config --cflags --libs ac_phone` (with `--static` for the archive), the `.pc` from
    /// the build directory with `prefix` pointed at the staging directory.
    pub fn pkg_config(&self) -> Vec<String> {
        let mut cmd = Command::new("pkg-config");
        cmd.env("PKG_CONFIG_PATH", profile_dir()).arg(format!(
            "--define-variable=prefix={}",
            self.prefix.display()
        ));
        if self.link == Link::Static {
            cmd.arg("--static");
        }
        cmd.args(["--cflags", "--libs", "ac_phone"]);
        let out = run(&mut cmd);
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Compiles `src` with warnings as errors; returns the executable.
    pub fn compile(&self, src: &Path, name: &str) -> PathBuf {
        self.compile_with(src, name, &[])
    }

    /// [`Staging::compile`] with extra libraries.
    pub fn compile_with(&self, src: &Path, name: &str, libs: &[&str]) -> PathBuf {
        let exe = self.prefix.join(name);
        let mut cmd = Command::new("gcc");
        cmd.args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wpedantic",
            "-g",
            "-O1",
        ])
        .arg("-o")
        .arg(&exe)
        .arg(src);
        cmd.args(self.pkg_config());
        cmd.args(libs);
        if self.link == Link::Shared {
            cmd.arg(format!("-Wl,-rpath,{}", self.prefix.join("lib").display()));
        }
        run(&mut cmd);
        exe
    }
}

/// Runs `exe` under valgrind (memcheck, full leak check; any error or definite/indirect/
/// possible leak fails, except the process-lifetime statics named in `tests/valgrind.supp`)
/// and returns its output.
pub fn valgrind(exe: &Path, args: &[&str]) -> Output {
    run(&mut valgrind_cmd(exe, args))
}

/// The valgrind command line of [`valgrind`].
pub fn valgrind_cmd(exe: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--show-leak-kinds=definite,indirect,possible",
        "--track-origins=yes",
        "-q",
    ])
    .arg(format!(
        "--suppressions={}",
        repo_root()
            .join("crates/ac-ffi/tests/valgrind.supp")
            .display()
    ))
    .arg(exe)
    .args(args);
    cmd
}

/// `N passed, M failed` from a C test's stdout.
pub fn passed_failed(stdout: &[u8]) -> (u32, u32) {
    let s = String::from_utf8_lossy(stdout);
    let line = s
        .lines()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line in {s}"));
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}
