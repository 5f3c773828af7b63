//! `docker cp`: the files of a container read as a tar stream and a tar
//! stream extracted into them (moby `daemon/archive_unix.go`,
//! `container/archive.go`).
//!
//! Every path, the one the client names and every name inside an
//! extracted tar, is resolved inside the container's root and its mounts
//! by [`berth_fsutil::inroot`]: a symlink the container holds is read as a
//! container path (moby's `FollowSymlinkInScope`, and the chroot moby
//! enters for `UntarWithRoot`), never on the host. Files are then opened
//! and created with `*at` calls on the descriptor of their directory with
//! `O_NOFOLLOW`, so nothing is looked up by a host path string.

use std::io;
use std::path::{Path, PathBuf};

use berth_fsutil::inroot::{InRoot, InRootError};
use berth_model::files::ContainerFs;

use crate::error::ErrorKind;
use crate::fsutil;

mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{archive_path, stat_path};
pub use write::extract_to_dir;

/// A failed copy from or into a container.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path does not exist (moby `containerFileNotFound`).
    #[error("Could not find the file {path} in container {container}")]
    NotFound {
        /// The path as the client gave it.
        path: String,
        /// The container as the client named it.
        container: String,
    },
    /// The path is not usable: a component is a file, a symlink loop.
    #[error("invalid path {path}: {reason}")]
    BadPath {
        /// The path as the client gave it.
        path: String,
        /// Why.
        reason: String,
    },
    /// moby's `extraction point is not a directory`.
    #[error("extraction point is not a directory")]
    NotADirectory,
    /// moby `checkIfPathIsInAVolume`.
    #[error("mounted volume is marked read-only")]
    VolumeReadOnly,
    /// moby `containerExtractToDir` with `ReadonlyRootfs`.
    #[error("container rootfs is marked read-only")]
    RootfsReadOnly,
    /// A mount that exists only in the container's mount namespace.
    #[error(
        "copying to or from {path} is not supported: it is on the container's tmpfs mount at {mount}"
    )]
    Tmpfs {
        /// The path asked for.
        path: String,
        /// The tmpfs mount's destination.
        mount: PathBuf,
    },
    /// A tar entry refused: it climbs out of the extraction point, is a
    /// device node, or is of a type a copy does not create.
    #[error("refused tar entry {name:?}: {reason}")]
    UnsafeEntry {
        /// The entry's name as in the tar.
        name: String,
        /// Why.
        reason: String,
    },
    /// moby's `noOverwriteDirNonDir` refusals, verbatim.
    #[error("{0}")]
    Overwrite(String),
    /// The tar stream is malformed.
    #[error("invalid tar stream: {0}")]
    InvalidArchive(#[source] io::Error),
    /// A file operation failed.
    #[error("failed to {op} {path}: {source}")]
    Io {
        /// What was done.
        op: &'static str,
        /// The container path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// An extended attribute of an entry that the kernel would not set
    /// (moby `createTarFile` fails the copy too, except that it drops
    /// ENOTSUP and EPERM where berth names them).
    #[error("failed to set the extended attribute {name} of {path}: {source}")]
    Xattr {
        /// The attribute.
        name: String,
        /// The container path.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
        /// Whether it refused the attribute itself: a bad request, not a
        /// failure of the daemon.
        refused: bool,
    },
    /// The copy's reader or writer failed (the client went away).
    #[error("failed to stream the archive: {0}")]
    Stream(#[source] io::Error),
}

impl ArchiveError {
    /// How the edge classifies it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::NotFound { .. } => ErrorKind::NotFound,
            ArchiveError::BadPath { .. }
            | ArchiveError::NotADirectory
            | ArchiveError::VolumeReadOnly
            | ArchiveError::RootfsReadOnly
            | ArchiveError::UnsafeEntry { .. }
            | ArchiveError::Overwrite(_)
            | ArchiveError::InvalidArchive(_) => ErrorKind::InvalidParameter,
            ArchiveError::Xattr { refused: true, .. } => ErrorKind::InvalidParameter,
            ArchiveError::Tmpfs { .. } => ErrorKind::NotImplemented,
            ArchiveError::Xattr { .. } => ErrorKind::Internal,
            ArchiveError::Io { .. } | ArchiveError::Stream(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn xattr(path: &Path) -> impl FnOnce(fsutil::XattrError) -> ArchiveError {
        let path = path.to_path_buf();
        move |e| ArchiveError::Xattr {
            refused: e.is_refusal(),
            name: e.name,
            path,
            source: e.source,
        }
    }

    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ArchiveError {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { op, path, source }
    }
}

/// The container's root and mounts, opened for one request, and what the
/// errors name.
pub(crate) struct Opened<'a> {
    pub(crate) fs: &'a ContainerFs,
    pub(crate) root: InRoot,
    /// The index in [`InRoot`] of each mount of `fs.mounts` with a source.
    pub(crate) indices: Vec<(usize, usize)>,
    pub(crate) container: &'a str,
}

impl<'a> Opened<'a> {
    pub(crate) fn open(
        fs: &'a ContainerFs,
        container: &'a str,
    ) -> Result<Opened<'a>, ArchiveError> {
        let mut root = InRoot::open(&fs.root).map_err(|e| ArchiveError::Io {
            op: "open the container's root",
            path: fs.root.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        let mut indices = Vec::new();
        for (i, m) in fs.mounts.iter().enumerate() {
            if let Some(source) = &m.source {
                indices.push((root.add_mount(&m.destination, source), i));
            }
        }
        Ok(Opened {
            fs,
            root,
            indices,
            container,
        })
    }

    /// The model mount an [`InRoot`] mount index stands for.
    pub(crate) fn mount(&self, index: usize) -> Option<&berth_model::files::FsMount> {
        self.indices
            .iter()
            .find(|(r, _)| *r == index)
            .and_then(|(_, m)| self.fs.mounts.get(*m))
    }

    /// Refuses a container path on (or under) a tmpfs mount, which only the
    /// container's mount namespace has.
    pub(crate) fn check_not_tmpfs(&self, resolved: &Path, asked: &str) -> Result<(), ArchiveError> {
        for m in self.fs.mounts.iter().filter(|m| m.source.is_none()) {
            if resolved.starts_with(&m.destination) {
                return Err(ArchiveError::Tmpfs {
                    path: asked.to_owned(),
                    mount: m.destination.clone(),
                });
            }
        }
        Ok(())
    }

    /// Maps a resolution failure of the client's path.
    pub(crate) fn resolve_error(&self, asked: &str, e: InRootError) -> ArchiveError {
        match e {
            InRootError::NotFound { .. } => ArchiveError::NotFound {
                path: asked.to_owned(),
                container: self.container.to_owned(),
            },
            InRootError::NotDirectory { .. } | InRootError::TooManyLinks { .. } => {
                ArchiveError::BadPath {
                    path: asked.to_owned(),
                    reason: e.to_string(),
                }
            }
            InRootError::Open { path, source } => ArchiveError::Io {
                op: "open",
                path,
                source,
            },
            InRootError::Sys { op, path, source } => ArchiveError::Io { op, path, source },
        }
    }
}

/// The client's path as moby reads it: absolute, cleaned, and whether it
/// ended in `/` or `/.` (moby `archive.PreserveTrailingDotOrSeparator`),
/// which makes the final symlink followed.
pub(crate) struct ClientPath {
    pub(crate) abs: PathBuf,
    pub(crate) trailing: bool,
    /// Go's `filepath.Base` of the path with its trailing part: `.` for
    /// `/dir/.`, `dir` for `/dir/`, `/` for the root.
    pub(crate) base: String,
}

impl ClientPath {
    pub(crate) fn parse(path: &str) -> Result<ClientPath, ArchiveError> {
        if path.is_empty() {
            // moby `archiveFormValues`.
            return Err(ArchiveError::BadPath {
                path: String::new(),
                reason: "Path cannot be empty".into(),
            });
        }
        if path.contains('\0') {
            return Err(ArchiveError::BadPath {
                path: path.escape_debug().to_string(),
                reason: "the path contains a NUL byte".into(),
            });
        }
        let abs = berth_fsutil::inroot::clean(Path::new(path));
        let dot = path.ends_with("/.") || path == ".";
        let trailing = dot || path.ends_with('/');
        let base = if dot {
            ".".to_owned()
        } else {
            abs.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".to_owned())
        };
        Ok(ClientPath {
            abs,
            trailing,
            base,
        })
    }
}
