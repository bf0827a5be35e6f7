//! Atomic file replacement: a reader sees the old file or the new one, never a mix, and a
//! crash or power cut leaves one of the two intact.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp = name.to_os_string();
    tmp.push(format!(".tmp.{}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// Writes `data` to `path` atomically: a temporary file in the same directory is written and
/// fsynced, renamed over `path`, and the directory is fsynced.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Persist the rename; directories can be opened read-only for fsync on Unix.
        if let Ok(d) = File::open(dir) {
            d.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("phone.cfg");
        atomic_write(&p, b"a=1\n").unwrap();
        atomic_write(&p, b"a=2\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"a=2\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A failed write leaves the old file as it was.
        let bad = dir.path().join("missing-dir").join("x.cfg");
        assert!(atomic_write(&bad, b"x").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"a=2\n");
    }
}
