//! Reading files of a container's root filesystem without leaving it.
//!
//! An image controls its rootfs, so `/etc/passwd` may be a symlink to
//! `/etc/shadow` or `../../..`, or a FIFO that blocks whoever opens it.
//! Files are read through libcontainer's [`Root`], the one resolver for
//! container paths: symlinks are followed as if the rootfs were `/`
//! (`openat2` `RESOLVE_IN_ROOT`, what Docker's `FollowSymlinkInScope`
//! emulates in user space), and the file is checked to be regular and
//! small enough before it is opened for reading, so a FIFO or a device is
//! never opened.

use std::path::Path;

use berth_libcontainer::root::{Root, RootError};

/// Largest image file read this way (passwd, group): real ones are a few
/// KiB; a bigger one is refused with a clear error rather than read.
pub const MAX_IMAGE_FILE: u64 = 1024 * 1024;

/// Reads `path` (a container path such as `/etc/passwd`) inside `rootfs`;
/// `Ok(None)` when it does not exist.
pub fn read_in_root(rootfs: &Path, path: &str) -> Result<Option<Vec<u8>>, RootError> {
    Root::open(rootfs)?.read_regular(Path::new(path), MAX_IMAGE_FILE)
}
