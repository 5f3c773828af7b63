//! Copy-up: the image's content at a volume's mount point goes into the
//! volume when the volume is empty (moby `container.CopyImagePathContent`
//! and `copyExistingContents`, with the directory's owner and mode after
//! `copyOwnership`).
//!
//! The image controls the rootfs, so its path to the mount point may hold
//! symlinks that point anywhere: the mount point is resolved inside the
//! rootfs with libcontainer's [`Root`] (`openat2` `RESOLVE_IN_ROOT`), and
//! below it nothing is ever followed: symlinks are copied as symlinks,
//! entries are checked with `lstat` and files opened `O_NOFOLLOW`. The
//! rootfs is a new container's, with nothing running in it, so what the
//! walk sees does not change under it.
//!
//! What is copied (moby copies with containerd's `fs.CopyDir`): directories,
//! regular files, symlinks and fifos, with owner and mode, and the extended
//! attributes image layers keep (`user.*` and `security.capability`, the
//! graph's `xattr_allowed` rule: `trusted.*` would steer overlayfs and
//! `security.selinux` is the host's policy), set after the owner since
//! `chown` drops `security.capability`. Device nodes and sockets are left
//! out, as layer extraction leaves devices out: a volume is data, and a
//! device node there would be a door to the host's devices.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_graph::xattr_allowed;
use berth_libcontainer::root::{Root, RootError, proc_fd_path};

/// How deep a copied tree may go; deeper is an image built to hurt.
const MAX_DEPTH: usize = 512;

/// A copy-up that failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The mount point could not be resolved inside the rootfs.
    #[error("failed to resolve {destination} in the container's root filesystem")]
    Resolve {
        /// The container path.
        destination: String,
        /// Why.
        #[source]
        source: RootError,
    },
    /// A file-system step failed.
    #[error("failed to {op} {} while copying image content into the volume", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The image's tree is deeper than [`MAX_DEPTH`].
    #[error("image content under {0} is nested deeper than {MAX_DEPTH} directories")]
    TooDeep(String),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CopyError + use<> {
    let path = path.to_owned();
    move |source| CopyError::Io { op, path, source }
}

/// Copies what the rootfs has at `destination` (a container path) into
/// `data`, the volume's empty data directory. Nothing at `destination`,
/// or something that is not a directory, copies nothing (moby copies only
/// directories). Returns whether anything was copied.
pub fn copy_up(rootfs: &Path, destination: &str, data: &Path) -> Result<bool, CopyError> {
    let root = Root::open(rootfs).map_err(|source| CopyError::Resolve {
        destination: destination.to_owned(),
        source,
    })?;
    let fd = match root.resolve(Path::new(destination)) {
        Ok(fd) => fd,
        Err(e) if e.errno() == nix::errno::Errno::ENOENT => return Ok(false),
        Err(source) => {
            return Err(CopyError::Resolve {
                destination: destination.to_owned(),
                source,
            });
        }
    };
    // The resolved directory, reached through its descriptor: no path
    // from the image is interpreted by the host again.
    let source = proc_fd_path(&fd);
    let meta = fs::metadata(&source).map_err(io_err("stat", &source))?;
    if !meta.is_dir() {
        return Ok(false);
    }
    copy_tree(&source, data, destination)?;
    copy_owner_and_mode(&meta, data)?;
    copy_xattrs(&source, Source::ProcFd, data)?;
    Ok(true)
}

/// How [`copy_xattrs`] reaches its source.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// An entry of the walk: a symlink there is read as itself.
    Entry,
    /// The resolved mount point's `/proc/self/fd` magic link, which is
    /// followed to the directory it stands for (read without following,
    /// it is the link's own, empty, attributes).
    ProcFd,
}

/// Copies the allowed extended attributes of `from` to `to`, never
/// following a symlink at `to` (`l*xattr`).
fn copy_xattrs(from: &Path, how: Source, to: &Path) -> Result<(), CopyError> {
    let list = |buf: &mut [u8]| match how {
        Source::Entry => rustix::fs::llistxattr(from, buf),
        Source::ProcFd => rustix::fs::listxattr(from, buf),
    };
    let get = |name: &str, buf: &mut [u8]| match how {
        Source::Entry => rustix::fs::lgetxattr(from, name, buf),
        Source::ProcFd => rustix::fs::getxattr(from, name, buf),
    };
    let mut names = vec![0u8; 1024];
    let len = loop {
        match list(&mut names) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(io_err("list the extended attributes of", from)(e.into())),
        }
    };
    let mut value = vec![0u8; 256];
    for name in names[..len].split(|&b| b == 0) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if !xattr_allowed(name) {
            continue;
        }
        let n = loop {
            match get(name, &mut value) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                Err(e) => return Err(io_err("read the extended attributes of", from)(e.into())),
            }
        };
        rustix::fs::lsetxattr(to, name, &value[..n], rustix::fs::XattrFlags::empty())
            .map_err(|e| io_err("set the extended attributes of", to)(e.into()))?;
    }
    Ok(())
}

fn copy_owner_and_mode(meta: &fs::Metadata, to: &Path) -> Result<(), CopyError> {
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))
        .map_err(io_err("chown", to))?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io_err("chmod", to))
}

fn copy_tree(from: &Path, to: &Path, destination: &str) -> Result<(), CopyError> {
    let mut stack = vec![(from.to_owned(), to.to_owned(), 0usize)];
    while let Some((src, dst, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(CopyError::TooDeep(destination.to_owned()));
        }
        for entry in fs::read_dir(&src).map_err(io_err("read", &src))? {
            let entry = entry.map_err(io_err("read", &src))?;
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            let meta = fs::symlink_metadata(&s).map_err(io_err("stat", &s))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                fs::create_dir(&d).map_err(io_err("create", &d))?;
                copy_owner_and_mode(&meta, &d)?;
                copy_xattrs(&s, Source::Entry, &d)?;
                stack.push((s, d, depth + 1));
            } else if kind.is_symlink() {
                let target = fs::read_link(&s).map_err(io_err("read link", &s))?;
                std::os::unix::fs::symlink(&target, &d).map_err(io_err("create", &d))?;
                std::os::unix::fs::lchown(&d, Some(meta.uid()), Some(meta.gid()))
                    .map_err(io_err("chown", &d))?;
                copy_xattrs(&s, Source::Entry, &d)?;
            } else if kind.is_file() {
                let mut input = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&s)
                    .map_err(io_err("open", &s))?;
                let mut output = File::create_new(&d).map_err(io_err("create", &d))?;
                io::copy(&mut input, &mut output).map_err(io_err("copy", &s))?;
                copy_owner_and_mode(&meta, &d)?;
                copy_xattrs(&s, Source::Entry, &d)?;
            } else if kind.is_fifo() {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &d,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| io_err("create", &d)(e.into()))?;
                copy_owner_and_mode(&meta, &d)?;
                copy_xattrs(&s, Source::Entry, &d)?;
            } else {
                // Devices and sockets in an image's volume path are not
                // data; moby's copy would recreate devices, berth leaves
                // them out rather than make device nodes on the host.
                tracing::debug!(path = %s.display(), "copy-up skips a device node or socket");
            }
        }
    }
    Ok(())
}
