//! Paths of a container resolved inside its root, for the daemon's file
//! operations on a container (`docker cp`).
//!
//! A container's files are the container's to shape: `/data` may be a
//! symlink to `/`, `/etc` a symlink to `../../../../etc`, and a process
//! inside may swap a directory for a symlink while the daemon works.
//! Joining the container path onto the rootfs path and handing the string to
//! the kernel would follow those links on the host. [`InRoot`] holds an
//! `O_PATH` descriptor of the rootfs and walks each path one component at a
//! time with `openat(O_PATH | O_NOFOLLOW)` from the descriptor of the
//! directory before it, with the semantics of `openat2(2)`
//! `RESOLVE_IN_ROOT` and of moby's `FollowSymlinkInScope`
//! (`pkg/symlink/fs.go`): a symlink's target is read as a container path
//! (an absolute target restarts at the root), and `..` at the root stays
//! there. `..` never reaches the kernel: the walk keeps the descriptors of
//! the directories it went through and pops one, so a concurrent rename
//! cannot move the walk out of the root (the approach of libpathrs and
//! cyphar/filepath-securejoin's `OpenInRoot`).
//!
//! The container's own mounts (binds, volumes) are part of its view of the
//! file system but not of the rootfs on the host: a walk that reaches a
//! mount's destination goes on in the mount's source, as the container
//! would see it.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, Stat};

/// The kernel's limit on symlinks followed in one lookup (`MAXSYMLINKS`,
/// `include/linux/namei.h`); moby's `FollowSymlinkInScope` uses 255, the
/// kernel's is what a process in the container gets.
pub const MAX_SYMLINKS: u32 = 40;

/// A failed resolution inside a container root.
#[derive(Debug, thiserror::Error)]
pub enum InRootError {
    /// The root (or a mount's source) cannot be opened.
    #[error("failed to open {path}: {source}")]
    Open {
        /// The host path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// A component of the path does not exist.
    #[error("{path} does not exist in the container")]
    NotFound {
        /// The container path asked for.
        path: PathBuf,
    },
    /// A component that must be a directory is not one.
    #[error("{path}: a component of the path is not a directory")]
    NotDirectory {
        /// The container path asked for.
        path: PathBuf,
    },
    /// More than [`MAX_SYMLINKS`] symlinks (a loop).
    #[error("{path}: too many levels of symbolic links")]
    TooManyLinks {
        /// The container path asked for.
        path: PathBuf,
    },
    /// A system call failed.
    #[error("failed to {op} {path} in the container: {source}")]
    Sys {
        /// What was done.
        op: &'static str,
        /// The container path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// One mount of the container: where it sits and what backs it.
#[derive(Debug, Clone)]
struct MountPoint {
    /// The destination's components (clean, no root).
    at: Vec<OsString>,
    /// The host path mounted there (trusted: the container's
    /// configuration, as the runtime mounted it).
    source: PathBuf,
}

/// A container root and its mounts, ready to resolve container paths.
#[derive(Debug)]
pub struct InRoot {
    root: OwnedFd,
    mounts: Vec<MountPoint>,
}

/// One directory (or the final entry) the walk went through.
#[derive(Debug)]
struct Frame {
    name: OsString,
    fd: OwnedFd,
    /// The index of the mount whose root this is.
    mount: Option<usize>,
}

/// A resolved path: the entry's `O_PATH` descriptor, where it is, and
/// where the walk was just before it.
#[derive(Debug)]
pub struct Resolved {
    /// The container path the walk ended at, clean and absolute: every
    /// symlink followed is gone from it (moby's `GetResourcePath`, made
    /// relative to the root again).
    pub path: PathBuf,
    /// The entry (`O_PATH`): a symlink when the final one was not followed.
    pub fd: OwnedFd,
    /// The directory holding the entry (`O_PATH`) and the entry's name in
    /// it, or `None` for the root and for a mount's root.
    pub parent: Option<(OwnedFd, OsString)>,
    /// The innermost mount the entry lies in ([`InRoot::mount`]'s index),
    /// `None` for the rootfs itself.
    pub mount: Option<usize>,
    /// `fstat` of [`Resolved::fd`].
    pub stat: Stat,
}

impl Resolved {
    /// The entry's file type.
    pub fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.st_mode)
    }

    /// Opens the resolved entry itself for I/O, without a lookup by name:
    /// a directory through `openat(fd, ".")`, anything else through the
    /// descriptor's `/proc/self/fd` entry, which names this inode and no
    /// other.
    pub fn reopen(&self, flags: OFlags) -> io::Result<OwnedFd> {
        reopen(self.fd.as_fd(), self.file_type(), flags)
    }
}

/// Opens the entry an `O_PATH` descriptor refers to for I/O (see
/// [`Resolved::reopen`]).
pub fn reopen(fd: BorrowedFd<'_>, kind: FileType, flags: OFlags) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOCTTY;
    if kind == FileType::Directory {
        return Ok(rustix::fs::openat(
            fd,
            ".",
            flags | OFlags::DIRECTORY,
            Mode::empty(),
        )?);
    }
    if kind == FileType::Symlink {
        return Err(rustix::io::Errno::LOOP.into());
    }
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    Ok(rustix::fs::open(proc_path.as_str(), flags, Mode::empty())?)
}

impl InRoot {
    /// Opens the root at `root` (a host path the daemon trusts: the
    /// container's mounted rootfs).
    pub fn open(root: &Path) -> Result<InRoot, InRootError> {
        let root_fd = open_path(root).map_err(|source| InRootError::Open {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(InRoot {
            root: root_fd,
            mounts: Vec::new(),
        })
    }

    /// Adds a mount of the container: `source` (a host path) is what the
    /// container sees at `destination` (a container path). Returns its
    /// index for [`Resolved::mount`].
    pub fn add_mount(&mut self, destination: &Path, source: &Path) -> usize {
        self.mounts.push(MountPoint {
            at: clean_components(destination),
            source: source.to_path_buf(),
        });
        self.mounts.len() - 1
    }

    /// The root's descriptor (`O_PATH`).
    pub fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The index of the mount at exactly `path` (a clean container path),
    /// if any. A walk down a tree asks this for each child so that it goes
    /// on in the mount's source.
    pub fn mount_at(&self, path: &Path) -> Option<usize> {
        let comps = clean_components(path);
        // The last one added wins, as a later mount covers an earlier one.
        self.mounts.iter().rposition(|m| m.at == comps)
    }

    /// Opens the source of mount `index` (`O_PATH`).
    pub fn open_mount(&self, index: usize) -> Result<OwnedFd, InRootError> {
        let source = self
            .mounts
            .get(index)
            .map(|m| m.source.as_path())
            .unwrap_or(Path::new("/nonexistent"));
        open_path(source).map_err(|source_err| InRootError::Open {
            path: source.to_path_buf(),
            source: source_err,
        })
    }

    /// Resolves `path` (a container path; relative ones start at the root
    /// too) with every symlink followed inside the root, the final one
    /// only when `follow_final`.
    pub fn resolve(&self, path: &Path, follow_final: bool) -> Result<Resolved, InRootError> {
        let shown = || path.to_path_buf();
        let mut queue: VecDeque<OsString> = components(path).into();
        let mut stack: Vec<Frame> = Vec::new();
        let mut links = 0u32;
        while let Some(name) = queue.pop_front() {
            if name == ".." {
                stack.pop();
                continue;
            }
            let last = queue.is_empty();
            let here: Vec<&OsStr> = stack
                .iter()
                .map(|f| f.name.as_os_str())
                .chain(std::iter::once(name.as_os_str()))
                .collect();
            if let Some(index) = self.mounts.iter().rposition(|m| m.at == here) {
                let fd = self.open_mount(index)?;
                stack.push(Frame {
                    name,
                    fd,
                    mount: Some(index),
                });
                continue;
            }
            let dir = stack.last().map_or(self.root.as_fd(), |f| f.fd.as_fd());
            let fd = match rustix::fs::openat(
                dir,
                name.as_os_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => {
                    return Err(InRootError::NotFound { path: shown() });
                }
                Err(rustix::io::Errno::NOTDIR) => {
                    return Err(InRootError::NotDirectory { path: shown() });
                }
                Err(e) => {
                    return Err(InRootError::Sys {
                        op: "open",
                        path: shown(),
                        source: e.into(),
                    });
                }
            };
            let st = fstat(&fd, path)?;
            let kind = FileType::from_raw_mode(st.st_mode);
            if kind == FileType::Symlink && (!last || follow_final) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(InRootError::TooManyLinks { path: shown() });
                }
                let target =
                    rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| InRootError::Sys {
                        op: "read the symlink",
                        path: shown(),
                        source: e.into(),
                    })?;
                let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    stack.clear();
                }
                for part in components(target).into_iter().rev() {
                    queue.push_front(part);
                }
                continue;
            }
            if !last && kind != FileType::Directory {
                return Err(InRootError::NotDirectory { path: shown() });
            }
            stack.push(Frame {
                name,
                fd,
                mount: None,
            });
        }
        self.finish(path, stack)
    }

    fn finish(&self, asked: &Path, mut stack: Vec<Frame>) -> Result<Resolved, InRootError> {
        let mut resolved = PathBuf::from("/");
        for frame in &stack {
            resolved.push(&frame.name);
        }
        let mount = stack.iter().rev().find_map(|f| f.mount);
        let Some(last) = stack.pop() else {
            let fd = dup(self.root.as_fd(), asked)?;
            let stat = fstat(&fd, asked)?;
            return Ok(Resolved {
                path: resolved,
                fd,
                parent: None,
                mount: None,
                stat,
            });
        };
        let stat = fstat(&last.fd, asked)?;
        let parent = if last.mount.is_some() {
            None
        } else {
            let dir = match stack.pop() {
                Some(frame) => frame.fd,
                None => dup(self.root.as_fd(), asked)?,
            };
            Some((dir, last.name))
        };
        Ok(Resolved {
            path: resolved,
            fd: last.fd,
            parent,
            mount,
            stat,
        })
    }
}

fn open_path(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn fstat(fd: &OwnedFd, path: &Path) -> Result<Stat, InRootError> {
    rustix::fs::fstat(fd).map_err(|e| InRootError::Sys {
        op: "stat",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn dup(fd: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, InRootError> {
    fd.try_clone_to_owned().map_err(|source| InRootError::Sys {
        op: "duplicate the descriptor of",
        path: path.to_path_buf(),
        source,
    })
}

/// The names of `path` to walk, `..` kept (the walk pops its own stack on
/// it), `.` and the root dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// The components of `path` cleaned lexically (Go's `filepath.Clean` of
/// an absolute path: `..` at the root stays there).
pub fn clean_components(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in components(path) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

/// `path` cleaned lexically into an absolute container path.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in clean_components(path) {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
