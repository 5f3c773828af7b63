//! Every file operation on a container's root file system, resolved inside it.
//!
//! An image (or a bundle) controls its rootfs: `/dev` may be a symlink to a
//! host directory, `../../..` may climb out, `/etc/passwd` may be a FIFO.
//! Joining a container path onto the rootfs path and handing the string to
//! the kernel follows those links on the host. [`Root`] instead holds an
//! `O_PATH` descriptor of the rootfs and resolves every path relative to it
//! with the semantics of `openat2(2)` `RESOLVE_IN_ROOT`: an absolute symlink
//! restarts at the rootfs, `..` at the rootfs stays there, magic links
//! (`/proc/self/fd/N`, `/proc/1/root`) are refused. Operations then act on
//! descriptors (`mkdirat`, `mknodat`, `symlinkat`, `unlinkat` on the
//! resolved parent; mounts onto `/proc/self/fd/N`, as runc's `WithProcfd`),
//! so nothing is re-resolved by path between the check and the use.
//!
//! The resolver is `openat2` where the kernel has it (Linux 5.6); on
//! kernels without it (`ENOSYS`), or where seccomp refuses it (`EPERM`) or
//! the structure is unknown (`E2BIG`), a component-by-component walk does the
//! same with `openat(O_PATH | O_NOFOLLOW)` and `readlinkat`, keeping the
//! descriptors of the directories it went through so that `..` never leaves
//! the rootfs (the approach of libpathrs and filepath-securejoin). Creating
//! missing directories always uses the walk: `openat2` cannot say which
//! component was missing.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::{Gid, Uid, UnlinkatFlags};

/// The kernel's limit on symlinks followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// How often a lookup is retried when `openat2` reports a concurrent rename
/// or mount (`EAGAIN`) before it falls back to the walk.
const OPENAT2_RETRIES: u32 = 32;

/// Which resolver a [`Root`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// `openat2` when the kernel offers it, else the walk.
    Auto,
    /// Only `openat2` (tests; fails with `ENOSYS` without it).
    Openat2,
    /// Only the component-by-component walk.
    Walk,
}

/// A failed operation inside a rootfs.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// The rootfs itself cannot be opened.
    #[error("cannot open the rootfs {path}: {errno}")]
    OpenRoot {
        /// The rootfs.
        path: PathBuf,
        /// The errno.
        errno: Errno,
    },
    /// A system call on `path` (a path inside the rootfs) failed.
    #[error("failed to {op} {path} inside the rootfs: {errno}")]
    Sys {
        /// What was done (`"open"`, `"mkdir"`, ...).
        op: &'static str,
        /// The path inside the rootfs.
        path: PathBuf,
        /// The errno.
        errno: Errno,
    },
    /// A symlink's target climbs above the rootfs (strict checks only).
    #[error("{path} escapes the rootfs through symlink {symlink}")]
    Escapes {
        /// The path inside the rootfs.
        path: PathBuf,
        /// The symlink whose target leaves the rootfs.
        symlink: PathBuf,
    },
    /// A file read from the rootfs is a directory, FIFO, device...
    #[error("{path} in the rootfs is a {kind}, not a regular file")]
    NotRegular {
        /// The path inside the rootfs.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file read from the rootfs is larger than allowed.
    #[error("{path} in the rootfs is larger than {max} bytes")]
    TooLarge {
        /// The path inside the rootfs.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// A device node the runtime relies on is something else.
    #[error("{path} in the rootfs is not the expected device: {reason}")]
    WrongDevice {
        /// The path inside the rootfs.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl RootError {
    /// The errno that best describes the failure (for init's reports).
    pub fn errno(&self) -> Errno {
        match self {
            RootError::OpenRoot { errno, .. } | RootError::Sys { errno, .. } => *errno,
            RootError::Escapes { .. } => Errno::EXDEV,
            RootError::NotRegular { .. } | RootError::WrongDevice { .. } => Errno::EINVAL,
            RootError::TooLarge { .. } => Errno::EFBIG,
        }
    }

    fn sys(op: &'static str, path: &Path, errno: Errno) -> RootError {
        RootError::Sys {
            op,
            path: path.to_path_buf(),
            errno,
        }
    }
}

/// Whether `openat2` works here: 0 not yet known, 1 yes, 2 no.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// An open container rootfs: every path given to its methods is a path as
/// the container sees it (absolute or not, it starts at the rootfs).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    resolver: Resolver,
}

/// One component still to resolve, and the symlink it came from (for
/// [`Root::check_confined`]).
struct Part {
    name: OsString,
    via: Option<PathBuf>,
}

/// Where a walk ended.
enum Walked {
    /// Every component exists: the final one, `O_PATH`.
    Found(OwnedFd),
    /// The final component is missing; everything before it exists.
    MissingFinal { parent: OwnedFd, name: OsString },
    /// An earlier component is missing (walks that do not create).
    Missing,
}

struct WalkOpts {
    follow_final: bool,
    create_dirs: bool,
    strict: bool,
}

impl Root {
    /// Opens the rootfs at `path` (a host path the runtime trusts: the
    /// bundle's `root.path`, or `/` after `pivot_root`).
    pub fn open(path: &Path) -> Result<Root, RootError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| RootError::OpenRoot {
            path: path.to_path_buf(),
            errno,
        })?;
        Ok(Root {
            fd,
            resolver: Resolver::Auto,
        })
    }

    /// The same rootfs with another resolver (tests force the walk).
    pub fn with_resolver(mut self, resolver: Resolver) -> Root {
        self.resolver = resolver;
        self
    }

    /// The rootfs's own descriptor (`O_PATH`).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn use_openat2(&self) -> bool {
        match self.resolver {
            Resolver::Openat2 => true,
            Resolver::Walk => false,
            Resolver::Auto => OPENAT2.load(Ordering::Relaxed) != 2,
        }
    }

    /// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`; `None` when the
    /// kernel cannot do it (the caller walks instead).
    fn openat2(&self, path: &Path, flags: OFlag) -> Option<nix::Result<OwnedFd>> {
        let relative = relative(path);
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        for _ in 0..OPENAT2_RETRIES {
            match nix::fcntl::openat2(self.fd.as_fd(), relative, how) {
                // A rename or mount raced with the lookup of `..`
                // (openat2(2), EAGAIN): try again.
                Err(Errno::EAGAIN) => continue,
                Err(Errno::ENOSYS | Errno::E2BIG | Errno::EPERM)
                    if self.resolver == Resolver::Auto =>
                {
                    OPENAT2.store(2, Ordering::Relaxed);
                    return None;
                }
                other => {
                    if other.is_ok() {
                        OPENAT2.store(1, Ordering::Relaxed);
                    }
                    return Some(other);
                }
            }
        }
        None
    }

    /// The object at `path` as an `O_PATH` descriptor, symlinks (the final
    /// one too) followed inside the rootfs.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd, RootError> {
        self.lookup(path, true)
            .map_err(|e| RootError::sys("open", path, e))
    }

    /// Like [`Root::resolve`], but a final symlink is returned itself.
    pub fn resolve_nofollow(&self, path: &Path) -> Result<OwnedFd, RootError> {
        self.lookup(path, false)
            .map_err(|e| RootError::sys("open", path, e))
    }

    fn lookup(&self, path: &Path, follow_final: bool) -> nix::Result<OwnedFd> {
        if self.use_openat2() {
            let mut flags = OFlag::O_PATH;
            if !follow_final {
                flags |= OFlag::O_NOFOLLOW;
            }
            if let Some(result) = self.openat2(path, flags) {
                return result;
            }
        }
        let opts = WalkOpts {
            follow_final,
            create_dirs: false,
            strict: false,
        };
        match self.walk(path, &opts) {
            Ok(Walked::Found(fd)) => Ok(fd),
            Ok(Walked::MissingFinal { .. } | Walked::Missing) => Err(Errno::ENOENT),
            Err(WalkError::Errno(e)) => Err(e),
            Err(WalkError::Escapes(_)) => Err(Errno::EXDEV),
        }
    }

    /// Checks that `path` stays inside the rootfs without clamping: a
    /// symlink whose target climbs above the rootfs is an error (a literal
    /// `..` in `path` itself stays at the root, as the kernel's `/..`).
    /// Missing components are fine (they are created later). Used to refuse
    /// a broken or hostile bundle early with a clear message; the
    /// operations themselves clamp, so a race after this check still cannot
    /// leave the rootfs.
    pub fn check_confined(&self, path: &Path) -> Result<(), RootError> {
        let opts = WalkOpts {
            follow_final: true,
            create_dirs: false,
            strict: true,
        };
        match self.walk(path, &opts) {
            Ok(_) => Ok(()),
            Err(WalkError::Escapes(symlink)) => Err(RootError::Escapes {
                path: path.to_path_buf(),
                symlink,
            }),
            Err(WalkError::Errno(e)) => Err(RootError::sys("resolve", path, e)),
        }
    }

    /// `mkdir -p` inside the rootfs (missing directories get `mode`),
    /// following existing symlinks inside it; the directory, `O_PATH`.
    pub fn mkdir_all(&self, path: &Path, mode: Mode) -> Result<OwnedFd, RootError> {
        self.mkdir_all_errno(path, mode)
            .map_err(|e| RootError::sys("mkdir", path, e))
    }

    fn mkdir_all_errno(&self, path: &Path, mode: Mode) -> nix::Result<OwnedFd> {
        if self.use_openat2()
            && let Some(result) = self.openat2(path, OFlag::O_PATH | OFlag::O_DIRECTORY)
        {
            match result {
                Err(Errno::ENOENT) => {}
                other => return other,
            }
        }
        for _ in 0..MAX_SYMLINKS {
            match self.walk_create(path)? {
                Walked::Found(fd) => {
                    return if is_kind(&fd, SFlag::S_IFDIR)? {
                        Ok(fd)
                    } else {
                        Err(Errno::ENOTDIR)
                    };
                }
                Walked::MissingFinal { parent, name } => {
                    match nix::sys::stat::mkdirat(&parent, name.as_os_str(), mode) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                    // Opened without following: if something replaced the
                    // new directory by a symlink meanwhile, walk again.
                    match nix::fcntl::openat(
                        &parent,
                        name.as_os_str(),
                        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => return Ok(fd),
                        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Walked::Missing => return Err(Errno::ENOENT),
            }
        }
        Err(Errno::ELOOP)
    }

    fn walk_create(&self, path: &Path) -> nix::Result<Walked> {
        let opts = WalkOpts {
            follow_final: true,
            create_dirs: true,
            strict: false,
        };
        self.walk(path, &opts).map_err(|e| match e {
            WalkError::Errno(e) => e,
            WalkError::Escapes(_) => Errno::EXDEV,
        })
    }

    /// The parent directory of `path` (created if missing) and the final
    /// name, which must be a plain name.
    fn parent_of(&self, path: &Path) -> Result<(OwnedFd, OsString), RootError> {
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name.to_os_string(),
            _ => return Err(RootError::sys("create", path, Errno::EINVAL)),
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = self.mkdir_all(parent, Mode::from_bits_truncate(0o755))?;
        Ok((dir, name))
    }

    /// An empty file to bind a file onto: `path` resolved inside the
    /// rootfs (symlinks followed), missing parents and the file itself
    /// created (`mode`). Whatever exists there already is returned as it
    /// is, `O_PATH`.
    pub fn create_file(&self, path: &Path, mode: Mode) -> Result<OwnedFd, RootError> {
        let err = |e| RootError::sys("create", path, e);
        if let Ok(fd) = self.lookup(path, true) {
            return Ok(fd);
        }
        for _ in 0..MAX_SYMLINKS {
            match self.walk_create(path).map_err(err)? {
                Walked::Found(fd) => return Ok(fd),
                Walked::MissingFinal { parent, name } => {
                    // mknodat never follows a symlink at the final
                    // component, unlike open(O_CREAT).
                    match nix::sys::stat::mknodat(
                        &parent,
                        name.as_os_str(),
                        SFlag::S_IFREG,
                        mode,
                        0,
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(err(e)),
                    }
                    // A symlink raced in: resolve it on the next round.
                    if let Ok(fd) = nix::fcntl::openat(
                        &parent,
                        name.as_os_str(),
                        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    ) && !is_kind(&fd, SFlag::S_IFLNK).map_err(err)?
                    {
                        return Ok(fd);
                    }
                }
                Walked::Missing => return Err(err(Errno::ENOENT)),
            }
        }
        Err(err(Errno::ELOOP))
    }

    /// `mknod` at `path` (its parent resolved and created inside the
    /// rootfs, the final component never followed), owned by `uid:gid`.
    /// Something already there is left alone, as runc does.
    pub fn mknod(
        &self,
        path: &Path,
        kind: SFlag,
        perm: Mode,
        dev: u64,
        uid: u32,
        gid: u32,
    ) -> Result<(), RootError> {
        let (dir, name) = self.parent_of(path)?;
        match nix::sys::stat::mknodat(&dir, name.as_os_str(), kind, perm, dev) {
            Ok(()) => {}
            Err(Errno::EEXIST) => return Ok(()),
            Err(e) => return Err(RootError::sys("mknod", path, e)),
        }
        nix::unistd::fchownat(
            &dir,
            name.as_os_str(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| RootError::sys("chown", path, e))
    }

    /// A symlink at `path` pointing at `target` (the text is stored as it
    /// is; it is resolved by whoever follows it, inside the container). An
    /// existing entry is not an error.
    pub fn symlink(&self, target: &Path, path: &Path) -> Result<(), RootError> {
        let (dir, name) = self.parent_of(path)?;
        match nix::unistd::symlinkat(target, &dir, name.as_os_str()) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(RootError::sys("symlink", path, e)),
        }
    }

    /// Removes the non-directory at `path` (never following its final
    /// component); a missing one is not an error.
    pub fn unlink(&self, path: &Path) -> Result<(), RootError> {
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name,
            _ => return Err(RootError::sys("unlink", path, Errno::EINVAL)),
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = match self.lookup(parent, true) {
            Ok(dir) => dir,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(RootError::sys("unlink", path, e)),
        };
        match nix::unistd::unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(RootError::sys("unlink", path, e)),
        }
    }

    /// Reads the regular file at `path` (symlinks followed inside the
    /// rootfs) of at most `max` bytes; `None` when it does not exist. The
    /// file is opened `O_PATH` and checked before it is opened for reading,
    /// so a FIFO or a device is never opened (a FIFO would block, a device
    /// could act on open).
    pub fn read_regular(&self, path: &Path, max: u64) -> Result<Option<Vec<u8>>, RootError> {
        let fd = match self.lookup(path, true) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(RootError::sys("open", path, e)),
        };
        let err = |op, e| RootError::sys(op, path, e);
        let before = nix::sys::stat::fstat(&fd).map_err(|e| err("stat", e))?;
        check_regular(path, &before, max)?;
        // Reopen the very inode through its descriptor; O_NONBLOCK in case
        // it was swapped for a FIFO in between (then the check below fails).
        let reopened = nix::fcntl::open(
            &proc_fd_path(&fd),
            OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("open", e))?;
        let after = nix::sys::stat::fstat(&reopened).map_err(|e| err("stat", e))?;
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino) {
            return Err(err("open", Errno::EAGAIN));
        }
        check_regular(path, &after, max)?;
        let mut bytes = Vec::new();
        File::from(reopened)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err("read", crate::syscall::io_errno(e)))?;
        if bytes.len() as u64 > max {
            return Err(RootError::TooLarge {
                path: path.to_path_buf(),
                max,
            });
        }
        Ok(Some(bytes))
    }

    /// The component-by-component resolver.
    fn walk(&self, path: &Path, opts: &WalkOpts) -> Result<Walked, WalkError> {
        let mut pending: VecDeque<Part> = parts(path, None).into();
        // Descriptors of the directories walked through, below the root;
        // `..` pops one, so it can never go above the root.
        let mut stack: Vec<OwnedFd> = Vec::new();
        // The same walk as names, for messages.
        let mut shown: Vec<OsString> = Vec::new();
        let mut links = 0u32;
        let mut created = 0u32;
        while let Some(part) = pending.pop_front() {
            let last = pending.is_empty();
            if part.name == ".." {
                if stack.pop().is_none() {
                    if opts.strict
                        && let Some(symlink) = part.via
                    {
                        return Err(WalkError::Escapes(symlink));
                    }
                } else {
                    shown.pop();
                }
                continue;
            }
            let cur = stack.last().map_or(self.fd.as_fd(), |fd| fd.as_fd());
            let fd = match nix::fcntl::openat(
                cur,
                part.name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if last => {
                    return Ok(Walked::MissingFinal {
                        parent: dup(cur)?,
                        name: part.name,
                    });
                }
                Err(Errno::ENOENT) if opts.create_dirs => {
                    created += 1;
                    if created > MAX_SYMLINKS + 64 {
                        return Err(WalkError::Errno(Errno::ELOOP));
                    }
                    match nix::sys::stat::mkdirat(
                        cur,
                        part.name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(WalkError::Errno(e)),
                    }
                    pending.push_front(part);
                    continue;
                }
                Err(Errno::ENOENT) => return Ok(Walked::Missing),
                Err(e) => return Err(WalkError::Errno(e)),
            };
            let st = nix::sys::stat::fstat(&fd)?;
            let kind = st.st_mode & libc::S_IFMT;
            if kind == libc::S_IFLNK && (!last || opts.follow_final) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(WalkError::Errno(Errno::ELOOP));
                }
                let target = nix::fcntl::readlinkat(&fd, "")?;
                let mut link = shown.clone();
                link.push(part.name);
                let link = container_path(&link);
                let target = Path::new(&target);
                if target.is_absolute() {
                    stack.clear();
                    shown.clear();
                }
                for p in parts(target, Some(link)).into_iter().rev() {
                    pending.push_front(p);
                }
                continue;
            }
            if !last && kind != libc::S_IFDIR {
                return Err(WalkError::Errno(Errno::ENOTDIR));
            }
            stack.push(fd);
            shown.push(part.name);
        }
        match stack.pop() {
            Some(fd) => Ok(Walked::Found(fd)),
            None => Ok(Walked::Found(dup(self.fd.as_fd())?)),
        }
    }
}

enum WalkError {
    Errno(Errno),
    Escapes(PathBuf),
}

impl From<Errno> for WalkError {
    fn from(e: Errno) -> Self {
        WalkError::Errno(e)
    }
}

/// `/proc/self/fd/N` of a descriptor: the path through which the kernel
/// reaches exactly that file again (a magic link), for `mount(2)` and for
/// reopening an `O_PATH` descriptor.
pub fn proc_fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether `fd` is of file type `kind`.
pub fn is_kind(fd: &impl AsFd, kind: SFlag) -> nix::Result<bool> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok(st.st_mode & libc::S_IFMT == kind.bits())
}

fn check_regular(path: &Path, st: &FileStat, max: u64) -> Result<(), RootError> {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => {
            if st.st_size as u64 > max {
                return Err(RootError::TooLarge {
                    path: path.to_path_buf(),
                    max,
                });
            }
            return Ok(());
        }
        libc::S_IFDIR => "directory",
        libc::S_IFIFO => "FIFO",
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        libc::S_IFSOCK => "socket",
        libc::S_IFLNK => "symlink",
        _ => "special file",
    };
    Err(RootError::NotRegular {
        path: path.to_path_buf(),
        kind,
    })
}

fn dup(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one (or
    // -1), which nothing else owns.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    Errno::result(new)?;
    // SAFETY: `new` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The components of `path` to resolve (`.` and the root dropped).
fn parts(path: &Path, via: Option<PathBuf>) -> Vec<Part> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .map(|name| Part {
            name,
            via: via.clone(),
        })
        .collect()
}

/// `path` relative to the rootfs, for `openat2` (`.` for the root).
fn relative(path: &Path) -> &Path {
    let stripped = path
        .as_os_str()
        .as_bytes()
        .iter()
        .position(|b| *b != b'/')
        .map_or(OsStr::new("."), |i| {
            OsStr::from_bytes(&path.as_os_str().as_bytes()[i..])
        });
    Path::new(stripped)
}

fn container_path(names: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for n in names {
        p.push(n);
    }
    p
}

#[cfg(test)]
mod tests;
