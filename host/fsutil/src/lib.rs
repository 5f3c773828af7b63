//! File-system helpers shared by every berth crate, at the bottom of the
//! crate graph (no berth dependency).
//!
//! There is one atomic write for the workspace. [`write_atomic`] is
//! crash-safe: a temporary file beside the target, `fsync` of the file,
//! `rename(2)` over the target, `fsync` of the directory. The last step is
//! what makes the rename itself durable: fsync(2) says "calling fsync()
//! does not necessarily ensure that the entry in the directory containing
//! the file has also reached disk. For that an explicit fsync() on a file
//! descriptor for the directory is also needed."
//!
//! [`write_atomic_non_durable`] keeps the atomicity (a reader sees the old
//! file or the new one) and drops both syncs. It exists for files that are
//! generated again from durable state before anything reads them after a
//! crash; a caller picks it by name, so the choice shows at the call site.
//!
//! [`inroot`] resolves container paths inside a container's root and its
//! mounts, never following a link out of it (the daemon's `docker cp`).
//!
//! [`xattr`] is the one rule for the extended attributes that cross a copy
//! or an archive, and their PAX records.

pub mod inroot;
pub mod xattr;

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A failed atomic write, naming the file and the step that failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to {op} while writing {path} atomically: {source}")]
pub struct AtomicWriteError {
    /// The step that failed (`"create a temporary file for"`, `"rename over"`, ...).
    pub op: &'static str,
    /// The file that was being replaced.
    pub path: PathBuf,
    /// What failed.
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `contents` (file mode `mode`, less the umask) so
/// that a crash leaves either the old or the new file, never a torn one,
/// and the new file survives a crash once this returns: temp file, `fsync`,
/// `rename`, `fsync` of the directory. On error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), AtomicWriteError> {
    write_with(path, contents, mode, &mut Durable)
}

/// Replaces `path` with `contents` atomically (a reader sees the old file
/// or the new one) but without the syncs of [`write_atomic`]: after a crash
/// the file may be the old one, or empty. Only for files the caller writes
/// again from durable state before anything reads them after a crash (the
/// exec driver's bundle `config.json` and the `/etc` files it mounts into a
/// container, written at every start), where the two syncs per file would
/// only slow the start down.
pub fn write_atomic_non_durable(
    path: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<(), AtomicWriteError> {
    write_with(path, contents, mode, &mut NonDurable)
}

/// What [`write_with`] syncs, and how: the seam the tests record through.
trait Syncer {
    /// Makes the temporary file's contents durable.
    fn sync_file(&mut self, file: &File) -> io::Result<()>;
    /// Makes the rename in `dir` durable.
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
}

struct Durable;

impl Syncer for Durable {
    fn sync_file(&mut self, file: &File) -> io::Result<()> {
        file.sync_all()
    }
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

struct NonDurable;

impl Syncer for NonDurable {
    fn sync_file(&mut self, _: &File) -> io::Result<()> {
        Ok(())
    }
    fn sync_dir(&mut self, _: &Path) -> io::Result<()> {
        Ok(())
    }
}

fn write_with(
    path: &Path,
    contents: &[u8],
    mode: u32,
    sync: &mut dyn Syncer,
) -> Result<(), AtomicWriteError> {
    let fail = |op| {
        move |source| AtomicWriteError {
            op,
            path: path.to_owned(),
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        fail("name")(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    // A hidden name that says which file it will become; tempfile adds a
    // random part and opens it O_EXCL, so concurrent writers of one path
    // never share a temporary file. Dropping `tmp` on any error removes it.
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(fail("create a temporary file for"))?;
    tmp.write_all(contents).map_err(fail("write"))?;
    sync.sync_file(tmp.as_file()).map_err(fail("fsync"))?;
    tmp.persist(path)
        .map_err(|e| fail("rename the temporary file over")(e.error))?;
    sync.sync_dir(dir).map_err(fail("fsync the directory of"))
}

#[cfg(test)]
mod tests;
