//! The kernel seam of rootfs preparation.
//!
//! Container init builds the rootfs through [`Syscall`] so that the order and
//! arguments of its mounts are unit-tested with [`RecordingSyscall`] on a
//! fixture directory, without root. [`LinuxSyscall`] is the real thing.
//!
//! Everything inside the container's root is named by its container path
//! and a [`Root`]: the real implementation resolves the path inside the
//! root (`crate::root`) and acts on the resulting descriptor, mounting onto
//! `/proc/self/fd/N` as runc's `WithProcfd` does, so that no container path
//! is ever joined onto the rootfs path and re-resolved by the kernel on the
//! host. Only the two mounts of host paths that precede any container path
//! (propagation of `/`, the rootfs bound onto itself) take plain paths.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::statvfs::FsFlags;

use crate::root::{Root, RootError, proc_fd_path};

/// What a mount target must be, and whether to create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A directory, created (with its parents) when missing.
    Dir,
    /// A file to bind a file onto, created (with its parents) when missing.
    File,
    /// Whatever is there; a missing target is `ENOENT`.
    Existing,
}

/// Where a mount comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source<'a> {
    /// Nothing (propagation changes, remounts).
    None,
    /// A host path (a bind source from the spec) or a file system's source
    /// name (`proc`, `tmpfs`): trusted, given to `mount(2)` as it is.
    Host(&'a Path),
    /// A path inside the root, resolved there like the target.
    InRoot(&'a Path),
    /// The container's `/dev/null`, checked to be the 1:3 character device
    /// before anything is bound from it (runc `verifyDevNull`: a masked path
    /// must not show an image's file instead).
    DevNull,
}

/// Kernel operations used while preparing a rootfs. Paths passed with a
/// [`Root`] are container paths.
pub(crate) trait Syscall {
    /// `mount(2)` of host paths: only for `/`'s propagation and the bind
    /// of the rootfs onto itself.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// Mounts `source` onto `dest` inside `root`, creating the target as
    /// `target` says.
    #[allow(clippy::too_many_arguments)]
    fn mount_in(
        &self,
        root: &Root,
        source: Source<'_>,
        dest: &Path,
        target: Target,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), RootError>;
    /// Changes the mount now at `dest` (a remount, or propagation):
    /// `dest` is resolved again, so that the change applies to the mount on
    /// top rather than to what it covers.
    fn remount_in(&self, root: &Root, dest: &Path, flags: MsFlags) -> Result<(), RootError>;
    /// The `nosuid`/`nodev`/`noexec` flags of the mount holding `dest`,
    /// which a bind remount must keep (the kernel refuses to clear locked
    /// flags, and keeping them is what the user expects).
    fn locked_flags_in(&self, root: &Root, dest: &Path) -> Result<MsFlags, RootError>;
    /// `mkdir -p` inside `root` with mode 0755.
    fn mkdir_in(&self, root: &Root, path: &Path) -> Result<(), RootError>;
    /// `mknod` + `chown` of a device node inside `root`.
    #[allow(clippy::too_many_arguments)]
    fn mknod_in(
        &self,
        root: &Root,
        path: &Path,
        kind: SFlag,
        perm: Mode,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> Result<(), RootError>;
    /// A symlink at `link` inside `root`; an existing one is not an error.
    fn symlink_in(&self, root: &Root, target: &Path, link: &Path) -> Result<(), RootError>;
    /// Removes a non-directory inside `root` if it exists.
    fn unlink_in(&self, root: &Root, path: &Path) -> Result<(), RootError>;
    /// Makes `root` the root: `pivot_root(".", ".")` then detaches the
    /// old root, as runc does (no temporary directory needed).
    fn pivot_root(&self, root: &Root) -> nix::Result<()>;
}

/// The real kernel.
pub(crate) struct LinuxSyscall;

impl LinuxSyscall {
    fn target(&self, root: &Root, dest: &Path, target: Target) -> Result<OwnedFd, RootError> {
        match target {
            Target::Dir => root.mkdir_all(dest, Mode::from_bits_truncate(0o755)),
            Target::File => root.create_file(dest, Mode::from_bits_truncate(0o755)),
            Target::Existing => root.resolve(dest),
        }
    }
}

fn mount_err(dest: &Path) -> impl Fn(Errno) -> RootError + '_ {
    move |errno| RootError::Sys {
        op: "mount onto",
        path: dest.to_path_buf(),
        errno,
    }
}

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

    fn mount_in(
        &self,
        root: &Root,
        source: Source<'_>,
        dest: &Path,
        target: Target,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), RootError> {
        // The target first: a missing target is the caller's ENOENT
        // (skipped for masked paths), a missing source never is.
        let fd = self.target(root, dest, target)?;
        let source_fd = match source {
            Source::InRoot(path) => Some(root.resolve(path)?),
            Source::DevNull => Some(dev_null(root)?),
            Source::None | Source::Host(_) => None,
        };
        let source_path = match (&source, &source_fd) {
            (_, Some(fd)) => Some(proc_fd_path(fd)),
            (Source::Host(path), None) => Some(path.to_path_buf()),
            _ => None,
        };
        nix::mount::mount(
            source_path.as_deref(),
            &proc_fd_path(&fd),
            fstype,
            flags,
            data,
        )
        .map_err(mount_err(dest))
    }

    fn remount_in(&self, root: &Root, dest: &Path, flags: MsFlags) -> Result<(), RootError> {
        // A descriptor opened before a mount refers to the covered
        // directory; resolving again reaches the new mount (runc
        // `reopenAfterMount`). The lookup stays inside the root either way.
        let fd = root.resolve(dest)?;
        let path = proc_fd_path(&fd);
        let source = flags
            .contains(MsFlags::MS_REMOUNT)
            .then_some(path.as_path());
        nix::mount::mount(source, &path, None::<&str>, flags, None::<&str>).map_err(mount_err(dest))
    }

    fn locked_flags_in(&self, root: &Root, dest: &Path) -> Result<MsFlags, RootError> {
        let fd = root.resolve(dest)?;
        let st = nix::sys::statvfs::fstatvfs(&fd).map_err(|errno| RootError::Sys {
            op: "statfs",
            path: dest.to_path_buf(),
            errno,
        })?;
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

    fn mkdir_in(&self, root: &Root, path: &Path) -> Result<(), RootError> {
        root.mkdir_all(path, Mode::from_bits_truncate(0o755))
            .map(drop)
    }

    fn mknod_in(
        &self,
        root: &Root,
        path: &Path,
        kind: SFlag,
        perm: Mode,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> Result<(), RootError> {
        root.mknod(path, kind, perm, dev, uid, gid)
    }

    fn symlink_in(&self, root: &Root, target: &Path, link: &Path) -> Result<(), RootError> {
        root.symlink(target, link)
    }

    fn unlink_in(&self, root: &Root, path: &Path) -> Result<(), RootError> {
        root.unlink(path)
    }

    fn pivot_root(&self, root: &Root) -> nix::Result<()> {
        use nix::fcntl::{OFlag, open};
        let old = open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        nix::unistd::fchdir(root.as_fd())?;
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
}

/// The container's `/dev/null`, `O_PATH`, after checking that it is the
/// null device (an image or bundle may put a file or a link there).
fn dev_null(root: &Root) -> Result<OwnedFd, RootError> {
    let path = Path::new("/dev/null");
    let fd = root
        .resolve_nofollow(path)
        .map_err(|e| RootError::WrongDevice {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|errno| RootError::Sys {
        op: "stat",
        path: path.to_path_buf(),
        errno,
    })?;
    let null = nix::sys::stat::makedev(1, 3);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != null {
        return Err(RootError::WrongDevice {
            path: path.to_path_buf(),
            reason: format!(
                "mode {:o}, device {}:{} instead of the character device 1:3",
                st.st_mode,
                nix::sys::stat::major(st.st_rdev),
                nix::sys::stat::minor(st.st_rdev)
            ),
        });
    }
    Ok(fd)
}

/// The errno behind an I/O error of a system call (`EIO` for the rare error
/// that carries none), for code that reports errnos.
pub(crate) fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// One recorded kernel operation (container paths inside the root).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// A mount of host paths.
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    /// A mount onto a path inside the root.
    MountIn {
        source: String,
        dest: PathBuf,
        target: Target,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Remount {
        dest: PathBuf,
        flags: MsFlags,
    },
    Mknod {
        path: PathBuf,
        dev: u64,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    Unlink(PathBuf),
    Mkdir(PathBuf),
    PivotRoot,
}

/// Records every operation and succeeds, except for mounts onto (container)
/// paths listed in `fail_mounts` and, with `refuse_unlocked_remounts`,
/// remounts that drop `nosuid`/`nodev`/`noexec` (as the kernel refuses them
/// for locked mounts in a user namespace); those fail with `EPERM` and are
/// not recorded. Mounts onto paths in `missing` fail with `ENOENT`, and
/// binds of `/dev/null` onto paths in `dirs` with `ENOTDIR` (the kernel's
/// answer for a file bound onto a directory).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct RecordingSyscall {
    pub ops: std::cell::RefCell<Vec<Op>>,
    pub fail_mounts: Vec<PathBuf>,
    pub refuse_unlocked_remounts: bool,
    pub missing: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

#[cfg(test)]
impl RecordingSyscall {
    /// The mounts recorded so far (any kind).
    pub fn mounts(&self) -> Vec<Op> {
        self.ops
            .borrow()
            .iter()
            .filter(|op| {
                matches!(
                    op,
                    Op::Mount { .. } | Op::MountIn { .. } | Op::Remount { .. }
                )
            })
            .cloned()
            .collect()
    }

    fn record(&self, op: Op) {
        self.ops.borrow_mut().push(op);
    }
}

#[cfg(test)]
fn eperm(path: &Path) -> RootError {
    RootError::Sys {
        op: "mount onto",
        path: path.to_path_buf(),
        errno: Errno::EPERM,
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
        self.record(Op::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        });
        Ok(())
    }

    fn mount_in(
        &self,
        _: &Root,
        source: Source<'_>,
        dest: &Path,
        target: Target,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), RootError> {
        if self.fail_mounts.iter().any(|p| p == dest) {
            return Err(eperm(dest));
        }
        if self.missing.iter().any(|p| p == dest) {
            return Err(RootError::Sys {
                op: "open",
                path: dest.to_path_buf(),
                errno: Errno::ENOENT,
            });
        }
        if source == Source::DevNull && self.dirs.iter().any(|p| p == dest) {
            return Err(RootError::Sys {
                op: "mount onto",
                path: dest.to_path_buf(),
                errno: Errno::ENOTDIR,
            });
        }
        let source = match source {
            Source::None => String::new(),
            Source::Host(p) => format!("host:{}", p.display()),
            Source::InRoot(p) => format!("root:{}", p.display()),
            Source::DevNull => "devnull".to_owned(),
        };
        self.record(Op::MountIn {
            source,
            dest: dest.to_path_buf(),
            target,
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        });
        Ok(())
    }

    fn remount_in(&self, _: &Root, dest: &Path, flags: MsFlags) -> Result<(), RootError> {
        let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let unlocked_remount = flags.contains(MsFlags::MS_REMOUNT) && !flags.contains(locked);
        if self.fail_mounts.iter().any(|p| p == dest)
            || (self.refuse_unlocked_remounts && unlocked_remount)
        {
            return Err(eperm(dest));
        }
        self.record(Op::Remount {
            dest: dest.to_path_buf(),
            flags,
        });
        Ok(())
    }

    fn locked_flags_in(&self, _: &Root, _: &Path) -> Result<MsFlags, RootError> {
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
    }

    fn mkdir_in(&self, _: &Root, path: &Path) -> Result<(), RootError> {
        self.record(Op::Mkdir(path.to_path_buf()));
        Ok(())
    }

    fn mknod_in(
        &self,
        _: &Root,
        path: &Path,
        _: SFlag,
        _: Mode,
        dev: u64,
        _: u32,
        _: u32,
    ) -> Result<(), RootError> {
        self.record(Op::Mknod {
            path: path.to_path_buf(),
            dev,
        });
        Ok(())
    }

    fn symlink_in(&self, _: &Root, target: &Path, link: &Path) -> Result<(), RootError> {
        self.record(Op::Symlink {
            target: target.to_path_buf(),
            link: link.to_path_buf(),
        });
        Ok(())
    }

    fn unlink_in(&self, _: &Root, path: &Path) -> Result<(), RootError> {
        self.record(Op::Unlink(path.to_path_buf()));
        Ok(())
    }

    fn pivot_root(&self, _: &Root) -> nix::Result<()> {
        self.record(Op::PivotRoot);
        Ok(())
    }
}
