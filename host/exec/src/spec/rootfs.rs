//! Reading files of a container's root filesystem without leaving it.
//!
//! An image controls its rootfs, so `/etc/passwd` may be a symlink to
//! `/etc/shadow` or `../../..`. `openat2(2)` with `RESOLVE_IN_ROOT` resolves
//! every component as if the rootfs were `/` (absolute symlinks and `..`
//! stay inside), which is what Docker's `FollowSymlinkInScope` emulates in
//! user space.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;

/// Largest file read this way; passwd and group files are small.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// `struct open_how` of openat2(2) (libc's is `#[non_exhaustive]`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Reads `relative` inside `rootfs`; `Ok(None)` when it does not exist.
pub fn read_in_root(rootfs: &Path, relative: &str) -> io::Result<Option<Vec<u8>>> {
    let root = File::open(rootfs)?;
    let path = std::ffi::CString::new(relative.trim_start_matches('/'))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `root` is an open directory, `path` a valid C string and `how`
    // a fully initialised open_how whose size we pass; the kernel returns a
    // new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOENT) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd as i32) };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}
