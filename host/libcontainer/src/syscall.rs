//! The kernel seam of rootfs preparation.
//!
//! Container init builds the rootfs through [`Syscall`] so that the order and
//! arguments of its mounts are unit-tested with [`RecordingSyscall`] on a
//! fixture directory, without root. [`LinuxSyscall`] is the real thing.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::statvfs::FsFlags;

/// Kernel operations used while preparing a rootfs.
pub(crate) trait Syscall {
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// `mknod(2)` followed by `chown(2)`.
    fn mknod(
        &self,
        path: &Path,
        kind: SFlag,
        perm: Mode,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> nix::Result<()>;
    /// `symlink(2)`; an existing link is not an error.
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()>;
    /// Removes a file if it exists (`unlink(2)`).
    fn remove_file(&self, path: &Path) -> nix::Result<()>;
    /// `mkdir -p` with mode 0755.
    fn mkdir_all(&self, path: &Path) -> nix::Result<()>;
    /// Creates an empty file (and its parents) to bind a file onto.
    fn create_file(&self, path: &Path) -> nix::Result<()>;
    /// Makes `new_root` the root: `pivot_root(".", ".")` then detaches the
    /// old root, as runc does (no temporary directory needed).
    fn pivot_root(&self, new_root: &Path) -> nix::Result<()>;
    /// The `nosuid`/`nodev`/`noexec` flags of the mount holding `path`,
    /// which a bind remount must keep (the kernel refuses to clear locked
    /// flags, and keeping them is what the user expects).
    fn locked_flags(&self, path: &Path) -> nix::Result<MsFlags>;
}

/// The real kernel.
pub(crate) struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn mknod(
        &self,
        path: &Path,
        kind: SFlag,
        perm: Mode,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> nix::Result<()> {
        match nix::sys::stat::mknod(path, kind, perm, dev) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        nix::unistd::chown(path, Some(uid.into()), Some(gid.into()))
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        match nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn remove_file(&self, path: &Path) -> nix::Result<()> {
        match nix::unistd::unlink(path) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn mkdir_all(&self, path: &Path) -> nix::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(path)
            .map_err(io_errno)
    }

    fn create_file(&self, path: &Path) -> nix::Result<()> {
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(()),
            Err(_) => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o755)
                .open(path)
                .map(drop)
                .map_err(io_errno),
        }
    }

    fn pivot_root(&self, new_root: &Path) -> nix::Result<()> {
        use nix::fcntl::{OFlag, open};
        let old = open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let new = open(
            new_root,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        nix::unistd::fchdir(&new)?;
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // see pivot_root(2), "NOTES": the old root is then unmounted from
        // the same directory.
        nix::unistd::pivot_root(".", ".")?;
        nix::unistd::fchdir(&old)?;
        // Keep the unmount from propagating to the host.
        nix::mount::mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH)?;
        nix::unistd::chdir("/")
    }

    fn locked_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        let st = nix::sys::statvfs::statvfs(path)?;
        let mut flags = MsFlags::empty();
        let f = st.flags();
        if f.contains(FsFlags::ST_NOSUID) {
            flags |= MsFlags::MS_NOSUID;
        }
        if f.contains(FsFlags::ST_NODEV) {
            flags |= MsFlags::MS_NODEV;
        }
        if f.contains(FsFlags::ST_NOEXEC) {
            flags |= MsFlags::MS_NOEXEC;
        }
        Ok(flags)
    }
}

/// The errno behind an I/O error of a system call (`EIO` for the rare error
/// that carries none), for code that reports errnos.
pub(crate) fn io_errno(e: std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// One recorded kernel operation.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Mknod {
        path: PathBuf,
        dev: u64,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    Remove(PathBuf),
    Mkdir(PathBuf),
    CreateFile(PathBuf),
    PivotRoot(PathBuf),
}

/// Records every operation and succeeds, except for mounts onto paths
/// listed in `fail_mounts` and, with `refuse_unlocked_remounts`, remounts
/// that drop `nosuid`/`nodev`/`noexec` (as the kernel refuses them for
/// locked mounts in a user namespace); those fail with `EPERM` and are not
/// recorded.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct RecordingSyscall {
    pub ops: std::cell::RefCell<Vec<Op>>,
    pub fail_mounts: Vec<PathBuf>,
    pub refuse_unlocked_remounts: bool,
}

#[cfg(test)]
impl RecordingSyscall {
    /// The mounts recorded so far.
    pub fn mounts(&self) -> Vec<Op> {
        self.ops
            .borrow()
            .iter()
            .filter(|op| matches!(op, Op::Mount { .. }))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let unlocked_remount = flags.contains(MsFlags::MS_REMOUNT) && !flags.contains(locked);
        if self.fail_mounts.iter().any(|p| p == target)
            || (self.refuse_unlocked_remounts && unlocked_remount)
        {
            return Err(nix::errno::Errno::EPERM);
        }
        self.ops.borrow_mut().push(Op::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        });
        Ok(())
    }
    fn mknod(&self, path: &Path, _: SFlag, _: Mode, dev: u64, _: u32, _: u32) -> nix::Result<()> {
        self.ops.borrow_mut().push(Op::Mknod {
            path: path.to_path_buf(),
            dev,
        });
        Ok(())
    }
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        self.ops.borrow_mut().push(Op::Symlink {
            target: target.to_path_buf(),
            link: link.to_path_buf(),
        });
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> nix::Result<()> {
        self.ops.borrow_mut().push(Op::Remove(path.to_path_buf()));
        Ok(())
    }
    fn mkdir_all(&self, path: &Path) -> nix::Result<()> {
        self.ops.borrow_mut().push(Op::Mkdir(path.to_path_buf()));
        Ok(())
    }
    fn create_file(&self, path: &Path) -> nix::Result<()> {
        self.ops
            .borrow_mut()
            .push(Op::CreateFile(path.to_path_buf()));
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path) -> nix::Result<()> {
        self.ops
            .borrow_mut()
            .push(Op::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }
    fn locked_flags(&self, _: &Path) -> nix::Result<MsFlags> {
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
    }
}
