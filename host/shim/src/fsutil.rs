//! Atomic file replacement shared by the shim, the exec driver and
//! berthd: durable ([`write_atomic`]) or not ([`replace`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A failed crash-safe write, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("failed to write {path} atomically: {source}")]
pub struct AtomicWriteError {
    /// The file that was being replaced.
    pub path: PathBuf,
    /// What failed.
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `contents` so that a crash leaves either the old or
/// the new file, never a torn one: write a temporary file beside it, fsync
/// it, rename it over `path`, fsync the directory (the rename is only
/// durable once the directory entry is; see fsync(2)).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), AtomicWriteError> {
    replace_file(path, contents, mode, true)
}

/// Replaces `path` with `contents` atomically (a reader sees the old file
/// or the new one) but without the fsyncs of [`write_atomic`]: for files
/// that are generated again from durable state before anything reads them
/// after a crash, such as a container's bundle and the files mounted over
/// its `/etc`, which the exec driver writes at every start. There the
/// syncs would only slow the start down (two per file).
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), AtomicWriteError> {
    replace_file(path, contents, mode, false)
}

fn replace_file(
    path: &Path,
    contents: &[u8],
    mode: u32,
    durable: bool,
) -> Result<(), AtomicWriteError> {
    let fail = |source| AtomicWriteError {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| fail(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, path)?;
        if durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        write_atomic(&path, b"one", 0o600).expect("first write");
        write_atomic(&path, b"two", 0o600).expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("record.json")]);
    }

    #[test]
    fn replace_swaps_the_file_in_one_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        replace(&path, b"old", 0o600).expect("first write");
        let before = fs::File::open(&path).expect("open old");
        replace(&path, b"new", 0o600).expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        // A reader of the old file keeps it whole: a new inode took its name.
        let mut old = String::new();
        std::io::Read::read_to_string(&mut &before, &mut old).expect("read old");
        assert_eq!(old, "old");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(dir.path()).expect("readdir").count(), 1);
    }

    #[test]
    fn names_the_path_when_the_directory_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing/record.json");
        let err = write_atomic(&path, b"x", 0o600).expect_err("no directory");
        assert!(err.to_string().contains("missing/record.json"), "{err}");
    }
}
