//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod traces;

use std::path::PathBuf;

/// `../shared/testdata/itu-stl/<rel>` next to the repository (the ITU-T data is never copied
/// into the project).
pub fn stl(rel: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/ac-media -> repository root -> its parent holds shared/.
    let root = manifest.join("../..");
    let p = root.join("../shared/testdata/itu-stl").join(rel);
    if p.exists() {
        return p;
    }
    PathBuf::from("/work/shared/testdata/itu-stl").join(rel)
}

/// Reads a file of 16-bit little-endian words.
pub fn read_words(rel: &str) -> Vec<i16> {
    let p = stl(rel);
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(b.len() % 2, 0);
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}
