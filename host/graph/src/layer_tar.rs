//! A layer directory written back as a layer tar (`docker save`): the
//! reverse of [`crate::extract`], deterministic so that the same
//! directory always gives the same bytes, and so the same diff id.
//!
//! - Entries in a pre-order walk, names sorted bytewise; the layer's root
//!   itself is not an entry. Nothing is followed: symlinks are entries.
//! - Headers carry mode (with setuid/setgid/sticky), uid, gid and the
//!   mtime in seconds, which extraction restores; user and group names,
//!   atime and ctime are left out (they are not restored).
//! - A second name of a hard-linked file is a link entry to the first.
//! - Whiteouts go back to the OCI form: an overlay whiteout (char device
//!   0/0) is `.wh.<name>`, an opaque directory (`trusted.overlay.opaque=y`)
//!   gets `.wh..wh..opq`; vfs layers keep them as `.wh.` files already.
//!   Whiteout entries have mode 0 and mtime 0 (extraction keeps neither).
//! - Other device nodes are not written (extraction never stores them).
//! - Extended attributes that extraction keeps (`user.*`,
//!   `security.capability`: [`crate::fsutil::xattr_allowed`]) go before
//!   their entry as PAX `SCHILY.xattr.<name>` records, sorted by name, as
//!   moby `pkg/archive` writes them (`ReadSecurityXattrToTarHeader`), so a
//!   file's capabilities survive commit, save and push (a namespaced, v3
//!   capability is written as v2, as moby does). They are read
//!   without following a symlink. `trusted.*` is never written: the
//!   overlay's own (`trusted.overlay.opaque`, `.origin`, `.redirect`)
//!   belong to this host's overlayfs, and the opaque marker is written as
//!   `.wh..wh..opq` instead. Whiteouts and second names of a hard-linked
//!   file carry none (the first name carries the inode's).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::fsutil::{self, OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// Writes the layer directory `root` as a tar stream to `out`.
pub(crate) fn write_layer_tar(root: &Path, out: impl Write) -> io::Result<()> {
    write_layer_tar_filtered(root, out, &|_, _, _| false)
}

/// Like [`write_layer_tar`], leaving out the entries `skip` names (by
/// entry name, metadata and host path) and what is below them.
pub(crate) fn write_layer_tar_filtered(
    root: &Path,
    out: impl Write,
    skip: &dyn Fn(&Path, &Metadata, &Path) -> bool,
) -> io::Result<()> {
    let mut writer = Writer {
        builder: tar::Builder::new(out),
        links: HashMap::new(),
    };
    // Explicit stack: a deep tree must not recurse.
    let mut stack: Vec<(PathBuf, PathBuf)> = vec![(root.to_path_buf(), PathBuf::new())];
    while let Some((dir, name)) = stack.pop() {
        let mut children: Vec<OsString> = fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        if !name.as_os_str().is_empty() && is_opaque(&dir) {
            writer.whiteout(&name.join(WHITEOUT_OPAQUE))?;
        }
        let mut subdirs = Vec::new();
        for child in children {
            let path = dir.join(&child);
            let entry_name = name.join(&child);
            let meta = fs::symlink_metadata(&path)?;
            if skip(&entry_name, &meta, &path) {
                continue;
            }
            if writer.entry(&path, &entry_name, &meta)? {
                subdirs.push((path, entry_name));
            }
        }
        // Reversed so that the stack pops them in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    writer.builder.into_inner()?.flush()
}

fn is_opaque(dir: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(dir, OVERLAY_OPAQUE_XATTR, &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}

struct Writer<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, ino) of hard-linked files written, and their entry names.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Writer<W> {
    fn header(meta: &Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        h.set_size(0);
        h
    }

    fn whiteout(&mut self, name: &Path) -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0);
        h.set_mtime(0);
        h.set_size(0);
        self.builder.append_data(&mut h, name, io::empty())
    }

    /// Writes the allowed extended attributes of `path` as the PAX
    /// records of the entry appended next.
    fn xattrs(&mut self, path: &Path) -> io::Result<()> {
        let xattrs = fsutil::read_xattrs_nofollow(path)?;
        fsutil::append_pax_xattrs(&mut self.builder, &xattrs)
    }

    /// Writes one entry; whether it is a directory to descend into.
    fn entry(&mut self, path: &Path, name: &Path, meta: &Metadata) -> io::Result<bool> {
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = Self::header(meta, tar::EntryType::Directory);
            self.xattrs(path)?;
            self.builder.append_data(&mut h, name, io::empty())?;
            return Ok(true);
        }
        if ft.is_char_device() && meta.rdev() == 0 {
            let base = name.file_name().unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(base);
            self.whiteout(&name.with_file_name(wh))?;
            return Ok(false);
        }
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            let mut h = Self::header(meta, tar::EntryType::Symlink);
            self.xattrs(path)?;
            self.builder.append_link(&mut h, name, target)?;
            return Ok(false);
        }
        if ft.is_fifo() {
            let mut h = Self::header(meta, tar::EntryType::Fifo);
            self.xattrs(path)?;
            self.builder.append_data(&mut h, name, io::empty())?;
            return Ok(false);
        }
        if !ft.is_file() {
            // Device nodes and sockets: extraction never stores them.
            return Ok(false);
        }
        if name
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()))
        {
            // A vfs layer's whiteout or opaque marker: extraction makes it
            // without the tar's mode and mtime, so they are not written.
            self.whiteout(name)?;
            return Ok(false);
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                let mut h = Self::header(meta, tar::EntryType::Link);
                let first = first.clone();
                self.builder.append_link(&mut h, name, first)?;
                return Ok(false);
            }
            self.links.insert(key, name.to_path_buf());
        }
        let mut h = Self::header(meta, tar::EntryType::Regular);
        h.set_size(meta.len());
        let file = File::open(path)?;
        let xattrs = fsutil::read_xattrs(&file)?;
        fsutil::append_pax_xattrs(&mut self.builder, &xattrs)?;
        let mut limited = file.take(meta.len());
        self.builder.append_data(&mut h, name, &mut limited)?;
        if limited.limit() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was archived", path.display()),
            ));
        }
        Ok(false)
    }
}
