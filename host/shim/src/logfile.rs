//! The container's json-file log as the shim writes it, rotated like
//! moby's `loggerutils.LogFile` when a `max-size` is set: before a write,
//! a file that holds `max_size` bytes or more is renamed `LOG.1` (older
//! ones shift up to `LOG.<max_files - 1>`, the oldest is dropped) and a new
//! file begins. With one file, the full file is removed instead.
//!
//! A reader that holds the old file open reads it to its end and then
//! opens `LOG` again: every rotation gives `LOG` a new inode, which is how
//! a follower notices it ([`rotated_path`] names the older files).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// When to rotate (json-file's `max-size` and `max-file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a write once the file holds this many bytes.
    pub max_size: u64,
    /// Files kept, the current one included; at least 1.
    pub max_files: u32,
}

/// The `n`-th older file of the log at `path` (`LOG.1` is the newest of
/// them).
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// An append-only log file that rotates itself.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Option<Rotation>,
}

impl LogFile {
    /// Opens (or creates) the log at `path` for appending.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<LogFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_owned(),
            file,
            size,
            rotation,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes`, rotating first when the file is full. A failed
    /// rotation is reported, and the bytes still go to the file at hand so
    /// that nothing is lost.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(rotation) = self.rotation
            && self.size > 0
            && self.size >= rotation.max_size
            && let Err(e) = self.rotate(rotation)
        {
            eprintln!("berth-shim: rotating log {}: {e}", self.path.display());
        }
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self, rotation: Rotation) -> io::Result<()> {
        if rotation.max_files >= 2 {
            for n in (1..rotation.max_files - 1).rev() {
                match std::fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1))
                {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        // Until this succeeds, writes go on to the renamed file.
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    File::options()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|_| "<none>".to_owned())
    }

    #[test]
    fn without_rotation_the_file_grows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        std::fs::write(&path, "old\n").expect("seed");
        let mut log = LogFile::open(&path, None).expect("open");
        for _ in 0..100 {
            log.write(b"0123456789\n").expect("write");
        }
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 4 + 1100);
        assert!(!rotated_path(&path, 1).exists());
    }

    #[test]
    fn full_files_shift_and_the_oldest_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: 8,
            max_files: 3,
        };
        let mut log = LogFile::open(&path, Some(rotation)).expect("open");
        // A follower holds the first file open, so its inode stays taken.
        let follower = File::open(&path).expect("open as a follower");
        for record in ["a-first\n", "b-second\n", "c-third\n", "d-fourth\n"] {
            log.write(record.as_bytes()).expect("write");
        }
        // Each record fills its file, so every write after the first rotated.
        assert_eq!(read(&path), "d-fourth\n");
        assert_eq!(read(&rotated_path(&path, 1)), "c-third\n");
        assert_eq!(read(&rotated_path(&path, 2)), "b-second\n");
        assert!(!rotated_path(&path, 3).exists(), "only max-file files kept");
        assert_ne!(
            std::fs::metadata(&path).expect("stat").ino(),
            follower.metadata().expect("fstat").ino(),
            "the follower can tell that LOG is a new file"
        );
    }

    #[test]
    fn one_file_starts_over_and_a_file_below_the_limit_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: 10,
            max_files: 1,
        };
        let mut log = LogFile::open(&path, Some(rotation)).expect("open");
        log.write(b"1234\n").expect("write");
        log.write(b"5678\n").expect("write");
        assert_eq!(read(&path), "1234\n5678\n", "below the limit: appended");
        log.write(b"next\n").expect("write");
        assert_eq!(read(&path), "next\n");
        assert!(!rotated_path(&path, 1).exists());
    }

    #[test]
    fn a_failed_rotation_loses_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: 1,
            max_files: 2,
        };
        let mut log = LogFile::open(&path, Some(rotation)).expect("open");
        log.write(b"one\n").expect("write");
        // LOG.1 as a non-empty directory: the rename into it fails.
        std::fs::create_dir_all(rotated_path(&path, 1).join("block")).expect("mkdir");
        log.write(b"two\n").expect("write");
        assert_eq!(read(&path), "one\ntwo\n");
    }
}
