//! Layer merging: copying a stored layer on top of a directory, applying its
//! whiteouts. Used to build vfs root filesystems (whiteouts consumed) and
//! flattened caches (whiteouts kept, so the merged run still hides what lies
//! below it).
//!
//! Semantics follow overlayfs (Documentation/filesystems/overlayfs.rst): a
//! whiteout hides the name in lower layers, an opaque directory hides all of
//! the lower directory's content, a directory over a directory merges, any
//! other combination replaces. When whiteouts are kept, a directory that
//! replaces a non-directory (or a whiteout) is marked opaque: unflattened,
//! that non-directory stopped the lookup, and after flattening the opaque
//! mark must keep doing so.

use cap_std::fs::FileTypeExt as _;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, MetadataExt as _, OpenOptions, OpenOptionsExt as _};
use rustix::fs::{Mode, OFlags};

use crate::error::GraphError;
use crate::extract::open_nofollow;
use crate::fsutil::{
    self, Removed, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, WhiteoutFormat, remove_entry, timespec,
};

/// How to merge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MergeOptions {
    /// The whiteout format of the source and destination.
    pub format: WhiteoutFormat,
    /// Keep whiteouts in the destination (flattening) instead of only
    /// applying them (a final root filesystem).
    pub keep_whiteouts: bool,
    /// Copy ownership (needs root).
    pub chown: bool,
}

/// Copies the layer directory `src` on top of the directory `dst`.
pub(crate) fn merge_layer(src: &Path, dst: &Path, opts: MergeOptions) -> Result<(), GraphError> {
    let open = |p: &Path| {
        Dir::open_ambient_dir(p, cap_std::ambient_authority()).map_err(GraphError::io("open", p))
    };
    let src_dir = open(src)?;
    let dst_dir = open(dst)?;
    let mut m = Merger {
        opts,
        dst_root: dst_dir.try_clone().map_err(GraphError::io("reopen", dst))?,
        links: HashMap::new(),
        src_root: src.to_path_buf(),
    };
    m.merge_dir(&src_dir, &dst_dir, Path::new(""))
}

struct Merger {
    opts: MergeOptions,
    dst_root: Dir,
    /// (dev, ino) of multiply-linked source files → their copy's path, so
    /// hard links stay hard links.
    links: HashMap<(u64, u64), PathBuf>,
    src_root: PathBuf,
}

impl Merger {
    fn err(&self, rel: &Path, op: &'static str) -> impl FnOnce(io::Error) -> GraphError {
        let path = self.src_root.join(rel);
        move |source| GraphError::Io { op, path, source }
    }

    fn clear_children(&self, dst: &Dir, rel: &Path) -> Result<(), GraphError> {
        for entry in dst.entries().map_err(self.err(rel, "list"))? {
            let entry = entry.map_err(self.err(rel, "list"))?;
            remove_entry(dst, &entry.file_name())
                .map_err(self.err(rel, "remove lower content of"))?;
        }
        Ok(())
    }

    fn mark_opaque(&self, dst: &Dir, rel: &Path) -> Result<(), GraphError> {
        match self.opts.format {
            WhiteoutFormat::Overlay => fsutil::set_overlay_opaque(dst),
            WhiteoutFormat::Aufs => match fsutil::make_marker(dst, OsStr::new(WHITEOUT_OPAQUE)) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            },
        }
        .map_err(self.err(rel, "mark opaque"))
    }

    fn merge_dir(&mut self, src: &Dir, dst: &Dir, rel: &Path) -> Result<(), GraphError> {
        let mut entries: Vec<(OsString, cap_std::fs::Metadata)> = Vec::new();
        for entry in src.entries().map_err(self.err(rel, "list"))? {
            let entry = entry.map_err(self.err(rel, "list"))?;
            let meta = entry.metadata().map_err(self.err(rel, "stat entry in"))?;
            entries.push((entry.file_name(), meta));
        }
        // 1. Opaque: the lower content of this directory disappears.
        let opaque = match self.opts.format {
            WhiteoutFormat::Overlay => fsutil::is_overlay_opaque(src),
            WhiteoutFormat::Aufs => entries
                .iter()
                .any(|(n, _)| n.as_bytes() == WHITEOUT_OPAQUE.as_bytes()),
        };
        if opaque {
            self.clear_children(dst, rel)?;
            if self.opts.keep_whiteouts {
                self.mark_opaque(dst, rel)?;
            }
        }
        // 2. Whiteouts: the named lower entry disappears.
        for (name, meta) in &entries {
            let bytes = name.as_bytes();
            let target: Option<OsString> = match self.opts.format {
                WhiteoutFormat::Aufs
                    if bytes.starts_with(WHITEOUT_PREFIX.as_bytes())
                        && !bytes.starts_with(b".wh..wh.") =>
                {
                    Some(OsStr::from_bytes(&bytes[WHITEOUT_PREFIX.len()..]).to_os_string())
                }
                WhiteoutFormat::Overlay if fsutil::is_overlay_whiteout(meta) => Some(name.clone()),
                _ => None,
            };
            let Some(target) = target else { continue };
            let child = rel.join(&target);
            remove_entry(dst, &target).map_err(self.err(&child, "apply whiteout of"))?;
            if self.opts.keep_whiteouts {
                let made = match self.opts.format {
                    WhiteoutFormat::Overlay => fsutil::make_overlay_whiteout(dst, &target),
                    WhiteoutFormat::Aufs => fsutil::make_marker(dst, name),
                };
                match made {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    other => other.map_err(self.err(&child, "keep whiteout of"))?,
                }
            }
        }
        // 3. Everything else is copied over.
        for (name, meta) in &entries {
            let bytes = name.as_bytes();
            let is_marker = bytes.starts_with(WHITEOUT_PREFIX.as_bytes());
            if (self.opts.format == WhiteoutFormat::Aufs && is_marker)
                || (self.opts.format == WhiteoutFormat::Overlay
                    && fsutil::is_overlay_whiteout(meta))
            {
                continue;
            }
            self.copy_entry(src, dst, rel, name, meta)?;
        }
        Ok(())
    }

    fn copy_entry(
        &mut self,
        src: &Dir,
        dst: &Dir,
        rel: &Path,
        name: &OsStr,
        meta: &cap_std::fs::Metadata,
    ) -> Result<(), GraphError> {
        let child = rel.join(name);
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        let mtime = timespec(meta.mtime(), meta.mtime_nsec());
        if ft.is_dir() {
            let existing = dst.symlink_metadata(name).ok();
            let replaced = match existing {
                Some(m) if m.is_dir() => false,
                _ => {
                    let removed = remove_entry(dst, name).map_err(self.err(&child, "replace"))?;
                    dst.create_dir(name)
                        .map_err(self.err(&child, "create directory"))?;
                    removed != Removed::Nothing
                }
            };
            let src_child =
                open_nofollow(src, name, OFlags::DIRECTORY).map_err(self.err(&child, "open"))?;
            let dst_child =
                open_nofollow(dst, name, OFlags::DIRECTORY).map_err(self.err(&child, "open"))?;
            if replaced && self.opts.keep_whiteouts {
                self.mark_opaque(&dst_child, &child)?;
            }
            self.owner(dst, name, meta, &child)?;
            copy_xattrs(&src_child, &dst_child).map_err(self.err(&child, "copy xattrs of"))?;
            self.merge_dir(&src_child, &dst_child, &child)?;
            rustix::fs::fchmod(&dst_child, Mode::from_raw_mode(mode))
                .map_err(|e| self.err(&child, "set mode of")(e.into()))?;
            fsutil::set_times_fd(&dst_child, mtime).map_err(self.err(&child, "set times of"))?;
            return Ok(());
        }
        remove_entry(dst, name).map_err(self.err(&child, "replace"))?;
        if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1
                && let Some(first) = self.links.get(&key)
            {
                return self
                    .dst_root
                    .hard_link(first, dst, name)
                    .map_err(self.err(&child, "hard link"));
            }
            let mut input = open_nofollow(src, name, OFlags::empty())
                .map(|d| d.into_std_file())
                .map_err(self.err(&child, "open"))?;
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true).mode(0o600);
            let mut output = dst
                .open_with(name, &opts)
                .map_err(self.err(&child, "create copy of"))?
                .into_std();
            io::copy(&mut input, &mut output).map_err(self.err(&child, "copy"))?;
            if self.opts.chown {
                rustix::fs::fchown(
                    &output,
                    Some(rustix::fs::Uid::from_raw(meta.uid())),
                    Some(rustix::fs::Gid::from_raw(meta.gid())),
                )
                .map_err(|e| self.err(&child, "set owner of")(e.into()))?;
            }
            rustix::fs::fchmod(&output, Mode::from_raw_mode(mode))
                .map_err(|e| self.err(&child, "set mode of")(e.into()))?;
            copy_xattrs(&input, &output).map_err(self.err(&child, "copy xattrs of"))?;
            fsutil::set_times_fd(&output, mtime).map_err(self.err(&child, "set times of"))?;
            if meta.nlink() > 1 {
                self.links.insert(key, child);
            }
        } else if ft.is_symlink() {
            let target = src
                .read_link_contents(name)
                .map_err(self.err(&child, "read link"))?;
            rustix::fs::symlinkat(&target, dst.as_fd(), name)
                .map_err(|e| self.err(&child, "create symlink")(e.into()))?;
            self.owner(dst, name, meta, &child)?;
            fsutil::set_times_at(dst, name, mtime).map_err(self.err(&child, "set times of"))?;
        } else if ft.is_fifo() {
            fsutil::make_fifo(dst, name, mode).map_err(self.err(&child, "create fifo"))?;
            self.owner(dst, name, meta, &child)?;
            rustix::fs::chmodat(
                dst.as_fd(),
                name,
                Mode::from_raw_mode(mode),
                rustix::fs::AtFlags::empty(),
            )
            .map_err(|e| self.err(&child, "set mode of")(e.into()))?;
            fsutil::set_times_at(dst, name, mtime).map_err(self.err(&child, "set times of"))?;
        } else {
            // Devices and sockets never enter a stored layer (extraction
            // skips them); ignore anything unexpected rather than create it.
            tracing::debug!(path = %child.display(), "not copying special file");
        }
        Ok(())
    }

    fn owner(
        &self,
        dst: &Dir,
        name: &OsStr,
        meta: &cap_std::fs::Metadata,
        rel: &Path,
    ) -> Result<(), GraphError> {
        if self.opts.chown {
            fsutil::chown_at(dst, name, meta.uid(), meta.gid())
                .map_err(self.err(rel, "set owner of"))?;
        }
        Ok(())
    }
}

fn copy_xattrs(src: impl AsFd, dst: impl AsFd) -> io::Result<()> {
    for (name, value) in fsutil::read_xattrs(src)? {
        fsutil::set_xattr(&dst, &name, &value)?;
    }
    Ok(())
}
