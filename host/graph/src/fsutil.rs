//! Small filesystem helpers: `*at` operations that never follow a symlink in
//! the final component, whiteout markers, syncs, sizes.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use cap_std::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps};

use crate::error::GraphError;

/// The xattr overlayfs reads to treat a directory as opaque
/// (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque
/// directories").
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Prefix of AUFS-style whiteout names in image layers (OCI image spec,
/// layer.md "Whiteouts").
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
/// The AUFS-style opaque-directory marker.
pub(crate) const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// How whiteouts are represented inside a stored layer directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhiteoutFormat {
    /// overlayfs' own: a character device 0/0 per deleted name and
    /// `trusted.overlay.opaque=y` on opaque directories, so the directory
    /// can be a lower layer as is. Creating either needs root.
    Overlay,
    /// The image format itself: empty `.wh.<name>` and `.wh..wh..opq` files,
    /// applied when layers are copied into a vfs rootfs. Needs no privilege.
    Aufs,
}

/// Extended attributes copied from tar headers and between layers, and
/// their PAX records: the workspace's one rule (`berth_fsutil::xattr`).
pub use berth_fsutil::xattr::allowed as xattr_allowed;
pub(crate) use berth_fsutil::xattr::{
    append_pax as append_pax_xattrs, from_pax as pax_xattrs, read_fd as read_xattrs,
    read_nofollow as read_xattrs_nofollow,
};

/// Whether a failed cap-std call refused a path that resolves outside its
/// directory (cap-primitives' "escape attempt").
pub(crate) fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        && e.to_string().contains("outside of the filesystem")
}

/// What [`remove_entry`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// Nothing was there.
    Nothing,
    /// A directory (removed recursively).
    Dir,
    /// Anything else (file, symlink, whiteout, fifo...).
    Other,
}

/// Removes `name` in `dir` whatever it is (a directory recursively), without
/// following symlinks.
pub(crate) fn remove_entry(dir: &Dir, name: &OsStr) -> io::Result<Removed> {
    let meta = match dir.symlink_metadata(name) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Removed::Nothing),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        dir.remove_dir_all(name)?;
        Ok(Removed::Dir)
    } else {
        dir.remove_file(name)?;
        Ok(Removed::Other)
    }
}

/// Sets owner (without following a symlink at `name`).
pub(crate) fn chown_at(dir: &Dir, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::chownat(
        dir.as_fd(),
        name,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)
}

/// Sets atime and mtime (without following a symlink at `name`).
pub(crate) fn set_times_at(dir: &Dir, name: &OsStr, mtime: Timespec) -> io::Result<()> {
    rustix::fs::utimensat(
        dir.as_fd(),
        name,
        &Timestamps {
            last_access: mtime,
            last_modification: mtime,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)
}

/// Sets atime and mtime of an open file or directory.
pub(crate) fn set_times_fd(fd: impl AsFd, mtime: Timespec) -> io::Result<()> {
    rustix::fs::futimens(
        fd,
        &Timestamps {
            last_access: mtime,
            last_modification: mtime,
        },
    )
    .map_err(io::Error::from)
}

/// Seconds since the epoch as a timestamp.
pub(crate) fn timespec(secs: i64, nanos: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: nanos as _,
    }
}

/// Creates an overlayfs whiteout (char device 0/0) named `name`.
pub(crate) fn make_overlay_whiteout(dir: &Dir, name: &OsStr) -> io::Result<()> {
    rustix::fs::mknodat(
        dir.as_fd(),
        name,
        FileType::CharacterDevice,
        Mode::empty(),
        0,
    )
    .map_err(io::Error::from)
}

/// Creates a fifo named `name`.
pub(crate) fn make_fifo(dir: &Dir, name: &OsStr, mode: u32) -> io::Result<()> {
    rustix::fs::mknodat(
        dir.as_fd(),
        name,
        FileType::Fifo,
        Mode::from_raw_mode(mode & 0o7777),
        0,
    )
    .map_err(io::Error::from)
}

/// Creates an empty AUFS-style marker file.
pub(crate) fn make_marker(dir: &Dir, name: &OsStr) -> io::Result<()> {
    let mut opts = cap_std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    dir.open_with(name, &opts).map(drop)
}

/// Whether `meta` is an overlayfs whiteout.
pub(crate) fn is_overlay_whiteout(meta: &cap_std::fs::Metadata) -> bool {
    use cap_std::fs::MetadataExt as _;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Opens the directory `dir` refers to for reading. cap-std's handles are
/// `O_PATH` descriptors, which `*at` calls accept but `fchmod`, `futimens`
/// and the `f*xattr` calls refuse with `EBADF`.
pub(crate) fn reopen_rdonly(dir: &Dir) -> io::Result<std::os::fd::OwnedFd> {
    rustix::fs::openat(
        dir.as_fd(),
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Marks a directory opaque for overlayfs.
pub(crate) fn set_overlay_opaque(dir: &Dir) -> io::Result<()> {
    let fd = reopen_rdonly(dir)?;
    rustix::fs::fsetxattr(
        &fd,
        OVERLAY_OPAQUE_XATTR,
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(io::Error::from)
}

/// Whether a directory is marked opaque for overlayfs.
pub(crate) fn is_overlay_opaque(dir: &Dir) -> bool {
    let Ok(fd) = reopen_rdonly(dir) else {
        return false;
    };
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::fgetxattr(&fd, OVERLAY_OPAQUE_XATTR, &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}

/// The allowed extended attributes of `name` in the directory `dir`,
/// without following a symlink at `name`. There is no `*xattrat` call
/// before Linux 6.13, so the name is reached through the directory's
/// `/proc/self/fd` entry: the magic link resolves to the directory itself
/// (not to a path that could have changed) and `name` is one component
/// looked up in it, so nothing outside `dir` can be read.
pub(crate) fn read_xattrs_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    read_xattrs_nofollow(&proc_fd_child(dir, name)?)
}

/// Sets extended attributes on `name` in `dir` without following a
/// symlink there, the way [`read_xattrs_at`] reads them.
pub(crate) fn set_xattrs_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    xattrs: &[(String, Vec<u8>)],
) -> Result<(), XattrError> {
    if xattrs.is_empty() {
        return Ok(());
    }
    let path = proc_fd_child(dir, name).map_err(|source| XattrError {
        name: xattrs[0].0.clone(),
        source,
    })?;
    for (key, value) in xattrs {
        rustix::fs::lsetxattr(&path, key.as_str(), value, rustix::fs::XattrFlags::empty())
            .map_err(|e| XattrError::new(key, e))?;
    }
    Ok(())
}

/// `/proc/self/fd/<dir>/<name>`, refusing a `name` that is not a single
/// component.
fn proc_fd_child(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<PathBuf> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single path component"),
        ));
    }
    let mut path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    path.push(name);
    Ok(path)
}

/// Sets an extended attribute on an open file or directory.
pub(crate) fn set_xattr(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty()).map_err(io::Error::from)
}

/// Sets extended attributes on an open file or directory.
pub(crate) fn set_xattrs(fd: impl AsFd, xattrs: &[(String, Vec<u8>)]) -> Result<(), XattrError> {
    let fd = fd.as_fd();
    for (name, value) in xattrs {
        set_xattr(fd, name, value).map_err(|source| XattrError {
            name: name.clone(),
            source,
        })?;
    }
    Ok(())
}

/// An extended attribute the kernel would not set, named: a tar's
/// attributes come from its author, and "which one" is what they need to
/// know (an invalid `security.capability`, a `user.*` on a symlink).
#[derive(Debug, thiserror::Error)]
#[error("cannot set the extended attribute {name}: {source}")]
pub(crate) struct XattrError {
    /// The attribute's name.
    pub(crate) name: String,
    /// The kernel's answer.
    #[source]
    pub(crate) source: io::Error,
}

impl XattrError {
    fn new(name: &str, errno: rustix::io::Errno) -> XattrError {
        XattrError {
            name: name.to_owned(),
            source: errno.into(),
        }
    }

    /// Whether the kernel refused the attribute itself (its name, value or
    /// the file it was for), rather than failing to store it: the archive's
    /// fault, not the daemon's.
    pub(crate) fn is_refusal(&self) -> bool {
        use rustix::io::Errno;
        matches!(
            self.source.raw_os_error().map(Errno::from_raw_os_error),
            Some(Errno::INVAL | Errno::RANGE | Errno::TOOBIG | Errno::PERM | Errno::NOTSUP)
        )
    }
}

impl From<XattrError> for io::Error {
    fn from(e: XattrError) -> io::Error {
        io::Error::new(e.source.kind(), e)
    }
}

/// Flushes every dirty page of the filesystem holding `path` (`syncfs(2)`):
/// one call instead of an `fsync` per extracted file.
pub(crate) fn sync_filesystem(path: &Path) -> Result<(), GraphError> {
    let f = fs::File::open(path).map_err(GraphError::io("open", path))?;
    rustix::fs::syncfs(&f).map_err(|e| GraphError::Io {
        op: "syncfs",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// What the disk writes back in the time an `fsync` of one small file
/// takes (its journal commit). Measured with `tests/bench/sync.sh` on ext4
/// over virtio (the CI's kind of machine): a `syncfs` behind 256 MiB of
/// another writer's dirty pages took about 200 ms, an `fsync` a file about
/// 0.2 ms, the same with or without them.
const BYTES_PER_FSYNC: u64 = 256 << 10;

/// The most entries [`sync_tree`] `fsync`s one by one when the page cache
/// cannot be read (no `/proc`): what was used before it was measured.
const SYNC_EACH_FALLBACK: usize = 64;

/// The most files and directories a staged tree holding `tree_bytes` of
/// content may have for [`sync_tree`] to `fsync` them one by one rather
/// than `syncfs` the filesystem, by what a `syncfs` would wait for besides
/// the tree: every other writer's dirty pages.
///
/// On a quiet filesystem one `syncfs` is the cheaper at any size (2.2 ms
/// against 3.5 ms for 8 files, 4.7 against 23.7 ms for 128, in
/// `tests/bench/sync.sh`), so the answer is 0. With 256 MiB of another
/// writer's pages dirty, a `syncfs` took 200 ms and more while 128
/// `fsync`s took 26 ms: each entry is worth an `fsync` while the others'
/// pending bytes exceed [`BYTES_PER_FSYNC`] for it. The host's `Dirty` and
/// `Writeback` count every filesystem, so a busy one elsewhere only makes
/// berth choose the `fsync`s, which stay correct.
pub(crate) fn sync_each_max(tree_bytes: u64) -> usize {
    let Some(pending) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| pending_writeback(&m))
    else {
        return SYNC_EACH_FALLBACK;
    };
    let others = pending.saturating_sub(tree_bytes);
    usize::try_from(others / BYTES_PER_FSYNC).unwrap_or(usize::MAX)
}

/// `Dirty` + `Writeback` of `/proc/meminfo`'s text, in bytes.
fn pending_writeback(meminfo: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(name))?;
        let kib = line[name.len()..].trim().strip_suffix("kB")?.trim();
        kib.parse::<u64>().ok()?.checked_mul(1024)
    };
    field("Dirty:")?.checked_add(field("Writeback:")?)
}

/// Makes the tree at `root` durable before it is published: its regular
/// files (data and inode) and its directories (so their entries: files,
/// symlinks, whiteouts, hard links, fifos), `root` itself included, with an
/// `fsync` of each when there are at most `max` of them, else with one
/// `syncfs` of the filesystem (which covers the tree as well). The caller
/// makes the entry that names `root` durable where it is moved to.
/// Returns how it was done.
pub(crate) fn sync_tree(root: &Path, max: usize) -> Result<TreeSync, GraphError> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    let mut next = 0;
    while next < dirs.len() {
        let dir = dirs[next].clone();
        next += 1;
        for entry in fs::read_dir(&dir).map_err(GraphError::io("read directory", &dir))? {
            let entry = entry.map_err(GraphError::io("read directory", &dir))?;
            // Not following symlinks: the tree's own entries only.
            let kind = entry
                .file_type()
                .map_err(GraphError::io("inspect", &entry.path()))?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
            if files.len() + dirs.len() > max {
                sync_filesystem(root)?;
                return Ok(TreeSync::Filesystem);
            }
        }
    }
    for file in &files {
        fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(GraphError::io("fsync", file))?;
    }
    // Deepest first: a directory's entries are durable once it is synced,
    // its parent's entry for it once the parent is.
    for dir in dirs.iter().rev() {
        sync_dir(dir)?;
    }
    Ok(TreeSync::Each(files.len() + dirs.len()))
}

/// How [`sync_tree`] made a tree durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TreeSync {
    /// An `fsync` of each of this many files and directories.
    Each(usize),
    /// One `syncfs` of the filesystem.
    Filesystem,
}

/// `fsync` of a directory, making renames and creations in it durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), GraphError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(GraphError::io("fsync directory", path))
}

/// Bytes of regular file content under `path` (not following symlinks;
/// hard links counted once).
pub(crate) fn tree_size(path: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = fs::read_dir(&p) else { continue };
        for entry in rd.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && (meta.nlink() == 1 || seen.insert((meta.dev(), meta.ino())))
            {
                total += meta.len();
            }
        }
    }
    total
}

/// Removes a directory tree if it exists.
pub(crate) fn remove_tree(path: &Path) -> Result<(), GraphError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GraphError::Io {
            op: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Creates a directory and its parents.
pub(crate) fn create_dirs(path: &Path) -> Result<(), GraphError> {
    fs::create_dir_all(path).map_err(GraphError::io("create directory", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of every kind of entry: 2 files (one hard-linked), 3
    /// directories with the root, a symlink and a fifo.
    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let p = root.path();
        fs::create_dir_all(p.join("a/b")).expect("dirs");
        fs::write(p.join("a/file"), b"data").expect("file");
        fs::write(p.join("a/b/other"), b"more").expect("file");
        fs::hard_link(p.join("a/file"), p.join("link")).expect("hard link");
        std::os::unix::fs::symlink("a/file", p.join("sym")).expect("symlink");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .expect("fifo");
        root
    }

    #[test]
    fn the_fsync_budget_grows_with_the_other_writers_pending_pages() {
        let meminfo = "MemTotal:       24000000 kB\nDirty:             65536 kB\n\
                       Writeback:          1024 kB\nAnonPages:   10 kB\n";
        let pending = pending_writeback(meminfo).expect("parses");
        assert_eq!(pending, 66_560 << 10);
        // 65 MiB pending, 1 MiB of it the tree's own: 256 entries' worth.
        assert_eq!(pending.saturating_sub(1 << 20) / BYTES_PER_FSYNC, 256);
        for bad in ["", "Dirty: 12 kB\n", "Dirty: x kB\nWriteback: 0 kB\n"] {
            assert_eq!(pending_writeback(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_small_tree_is_synced_file_by_file_and_a_large_one_by_syncfs() {
        let root = tree();
        // a/file and link are one file, counted as two entries: the walk
        // sees names, and a second fsync of an inode is harmless.
        assert_eq!(
            sync_tree(root.path(), 6).expect("sync"),
            TreeSync::Each(6),
            "3 directories, 3 regular file names; symlink and fifo are entries of their directory"
        );
        assert_eq!(
            sync_tree(root.path(), 5).expect("sync"),
            TreeSync::Filesystem
        );
    }

    #[test]
    fn a_tree_that_cannot_be_read_is_an_error_naming_it() {
        let missing = tempfile::tempdir().expect("tempdir").path().join("gone");
        let err = sync_tree(&missing, SYNC_EACH_FALLBACK).expect_err("missing root");
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
