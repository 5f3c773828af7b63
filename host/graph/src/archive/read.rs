//! `HEAD` and `GET /containers/{id}/archive`: the stat of a path, and a
//! tar stream of it (moby `containerStatPath`, `containerArchivePath`).
//!
//! Each entry carries the extended attributes a container may own
//! (`user.*`, `security.capability`; `fsutil::xattr_allowed`) as PAX
//! `SCHILY.xattr.<name>` records, sorted by name, as moby `pkg/archive`
//! `addTarFile` writes them: a file's capabilities survive `docker cp`
//! and `docker export`. They are read without following a symlink.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_fsutil::inroot::{self, InRootError, Resolved};
use berth_model::Timestamp;
use berth_model::files::{ContainerFs, PathStat, go_file_mode};
use rustix::fs::{FileType, Mode, OFlags, Stat};

use super::{ArchiveError, ClientPath, Opened};
use crate::fsutil;

/// The stat of `path` in the container (moby `StatPath`): the final
/// symlink is not followed unless the path ends in `/` or `/.`.
pub fn stat_path(fs: &ContainerFs, container: &str, path: &str) -> Result<PathStat, ArchiveError> {
    let opened = Opened::open(fs, container)?;
    let client = ClientPath::parse(path)?;
    let resolved = resolve(&opened, &client, path)?;
    Ok(path_stat(&opened, &client, &resolved))
}

/// Writes a tar stream of `path` to `out`, after handing its stat to
/// `on_stat` (the edge sends it as a header before the body). A directory
/// is archived with everything under it, its entries named under the
/// path's base name (moby's rebase); links are archived as links, never
/// followed.
pub fn archive_path(
    fs: &ContainerFs,
    container: &str,
    path: &str,
    on_stat: &mut dyn FnMut(&PathStat) -> io::Result<()>,
    out: &mut dyn Write,
) -> Result<(), ArchiveError> {
    let opened = Opened::open(fs, container)?;
    let client = ClientPath::parse(path)?;
    let resolved = resolve(&opened, &client, path)?;
    let stat = path_stat(&opened, &client, &resolved);
    on_stat(&stat).map_err(ArchiveError::Stream)?;
    // moby: a directory's entries are rebased from "." onto the base
    // name; the root's base name "/" gives names relative to the root.
    let top = match client.base.as_str() {
        "/" => PathBuf::new(),
        base => PathBuf::from(base),
    };
    let mut writer = TarWriter {
        opened: &opened,
        builder: tar::Builder::new(out),
        links: HashMap::new(),
    };
    writer.builder.mode(tar::HeaderMode::Complete);
    let kind = resolved.file_type();
    if kind == FileType::Directory {
        writer.directory(resolved.fd, &resolved.path, &top, &resolved.stat)?;
    } else {
        writer.entry_of(&resolved, &top)?;
    }
    writer
        .builder
        .into_inner()
        .and_then(|w| w.flush())
        .map_err(ArchiveError::Stream)
}

fn resolve(
    opened: &Opened<'_>,
    client: &ClientPath,
    asked: &str,
) -> Result<Resolved, ArchiveError> {
    let resolved = opened
        .root
        .resolve(&client.abs, client.trailing)
        .map_err(|e| opened.resolve_error(asked, e))?;
    opened.check_not_tmpfs(&resolved.path, asked)?;
    if client.trailing && resolved.file_type() != FileType::Directory {
        // `cp c:/file/ -`: lstat("file/") is ENOTDIR in moby.
        return Err(ArchiveError::BadPath {
            path: asked.to_owned(),
            reason: "not a directory".into(),
        });
    }
    Ok(resolved)
}

fn mtime(stat: &Stat) -> String {
    Timestamp::from_unix(stat.st_mtime, stat.st_mtime_nsec as u32).to_rfc3339_nano()
}

fn path_stat(opened: &Opened<'_>, client: &ClientPath, resolved: &Resolved) -> PathStat {
    let link_target = if resolved.file_type() == FileType::Symlink {
        link_target(opened, client, resolved)
    } else {
        String::new()
    };
    PathStat {
        name: client.base.clone(),
        size: resolved.stat.st_size,
        mode: go_file_mode(resolved.stat.st_mode),
        mtime: mtime(&resolved.stat),
        link_target,
    }
}

/// moby: the symlink fully evaluated in the container's scope, as an
/// absolute container path. A dangling link (whose target does not
/// exist) gets its target joined lexically, as `FollowSymlinkInScope`
/// does for components that do not exist.
fn link_target(opened: &Opened<'_>, client: &ClientPath, resolved: &Resolved) -> String {
    match opened.root.resolve(&client.abs, true) {
        Ok(r) => r.path.display().to_string(),
        Err(InRootError::NotFound { .. }) => {
            let target = rustix::fs::readlinkat(&resolved.fd, "", Vec::new())
                .map(|t| PathBuf::from(std::ffi::OsStr::from_bytes(t.as_bytes())))
                .unwrap_or_default();
            let dir = resolved.path.parent().unwrap_or(Path::new("/"));
            inroot::clean(&dir.join(target)).display().to_string()
        }
        Err(_) => String::new(),
    }
}

struct TarWriter<'a, 'o> {
    opened: &'a Opened<'a>,
    builder: tar::Builder<&'o mut dyn Write>,
    /// Regular files with more than one link already archived: a later
    /// name of the same inode becomes a hard link entry (moby `addTarFile`).
    links: HashMap<(u64, u64), PathBuf>,
}

fn header(stat: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(stat.st_mode & 0o7777);
    h.set_uid(u64::from(stat.st_uid));
    h.set_gid(u64::from(stat.st_gid));
    h.set_mtime(stat.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

impl TarWriter<'_, '_> {
    /// Appends an entry with `name` (and a link's `target`) byte for byte:
    /// the tar crate's path setters normalise (`./a` becomes `a`, a link
    /// to `/` becomes `//`), while moby's names keep the `./` of a
    /// `/dir/.` copy, which the docker CLI's rebase relies on. A name or
    /// target too long for the header goes first as a GNU long-name
    /// (`L`) or long-link (`K`) record, as GNU tar and Go's archive/tar do.
    fn append(
        &mut self,
        h: &mut tar::Header,
        name: &Path,
        target: Option<&[u8]>,
        data: impl Read,
    ) -> Result<(), ArchiveError> {
        let name = name.as_os_str().as_bytes();
        if let Some(target) = target {
            if target.len() >= 100 {
                self.long_record(tar::EntryType::GNULongLink, target)?;
            }
            let field = &mut h.as_old_mut().linkname;
            let n = target.len().min(100);
            field.fill(0);
            field[..n].copy_from_slice(&target[..n]);
        }
        if name.len() >= 100 {
            self.long_record(tar::EntryType::GNULongName, name)?;
        }
        let field = &mut h.as_old_mut().name;
        let n = name.len().min(100);
        field.fill(0);
        field[..n].copy_from_slice(&name[..n]);
        h.set_cksum();
        self.builder.append(h, data).map_err(ArchiveError::Stream)
    }

    /// Writes `xattrs` (read by the caller from what is archived next) as
    /// the PAX records of the entry appended next.
    fn xattrs(
        &mut self,
        xattrs: io::Result<Vec<(String, Vec<u8>)>>,
        shown: &Path,
    ) -> Result<(), ArchiveError> {
        let xattrs = xattrs.map_err(ArchiveError::io("read the extended attributes of", shown))?;
        fsutil::append_pax_xattrs(&mut self.builder, &xattrs).map_err(ArchiveError::Stream)
    }

    fn long_record(&mut self, kind: tar::EntryType, value: &[u8]) -> Result<(), ArchiveError> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        let mut data = value.to_vec();
        data.push(0);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_cksum();
        self.builder
            .append(&h, data.as_slice())
            .map_err(ArchiveError::Stream)
    }

    /// One entry that is not a directory: a file, symlink, fifo, device.
    fn entry_of(&mut self, resolved: &Resolved, name: &Path) -> Result<(), ArchiveError> {
        let Some((parent, file_name)) = &resolved.parent else {
            // A mount of a single file: open its source through the
            // resolved descriptor.
            return self.file_at(
                resolved.reopen(OFlags::RDONLY | OFlags::NONBLOCK),
                &resolved.stat,
                name,
                &resolved.path,
            );
        };
        self.child(
            parent.as_fd(),
            file_name,
            &resolved.stat,
            name,
            &resolved.path,
        )
    }

    /// The child `file_name` of directory `dir` (already `fstat`ed as
    /// `stat` through an `O_PATH` descriptor), archived as `name`.
    fn child(
        &mut self,
        dir: std::os::fd::BorrowedFd<'_>,
        file_name: &OsString,
        stat: &Stat,
        name: &Path,
        shown: &Path,
    ) -> Result<(), ArchiveError> {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => {
                // O_NONBLOCK: if the file was swapped for a FIFO since the
                // stat, the open does not hang; the type is checked again
                // on the opened descriptor.
                let fd = rustix::fs::openat(
                    dir,
                    file_name.as_os_str(),
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NONBLOCK
                        | OFlags::CLOEXEC
                        | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .map_err(io::Error::from);
                self.file_at(fd, stat, name, shown)
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, file_name.as_os_str(), Vec::new())
                    .map_err(|e| ArchiveError::io("read the symlink", shown)(e.into()))?;
                let target = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
                let mut h = header(stat, tar::EntryType::Symlink);
                self.xattrs(fsutil::read_xattrs_at(dir, file_name), shown)?;
                self.append(
                    &mut h,
                    name,
                    Some(target.as_os_str().as_bytes()),
                    io::empty(),
                )
            }
            FileType::Fifo => {
                self.xattrs(fsutil::read_xattrs_at(dir, file_name), shown)?;
                self.special(stat, tar::EntryType::Fifo, name)
            }
            FileType::CharacterDevice => {
                self.xattrs(fsutil::read_xattrs_at(dir, file_name), shown)?;
                self.special(stat, tar::EntryType::Char, name)
            }
            FileType::BlockDevice => {
                self.xattrs(fsutil::read_xattrs_at(dir, file_name), shown)?;
                self.special(stat, tar::EntryType::Block, name)
            }
            // moby `addTarFile`: "archive: skipping %q since it is a socket".
            FileType::Socket => {
                tracing::warn!(path = %shown.display(), "archive: skipping a socket");
                Ok(())
            }
            FileType::Directory | FileType::Unknown => Ok(()),
        }
    }

    fn special(
        &mut self,
        stat: &Stat,
        kind: tar::EntryType,
        name: &Path,
    ) -> Result<(), ArchiveError> {
        let mut h = header(stat, kind);
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            let dev = stat.st_rdev;
            let _ = h.set_device_major(rustix::fs::major(dev));
            let _ = h.set_device_minor(rustix::fs::minor(dev));
        }
        self.append(&mut h, name, None, io::empty())
    }

    fn file_at(
        &mut self,
        fd: io::Result<OwnedFd>,
        stat: &Stat,
        name: &Path,
        shown: &Path,
    ) -> Result<(), ArchiveError> {
        let fd = fd.map_err(ArchiveError::io("open", shown))?;
        let now = rustix::fs::fstat(&fd).map_err(|e| ArchiveError::io("stat", shown)(e.into()))?;
        if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile {
            // Swapped since the first stat: archive what it is now.
            return match FileType::from_raw_mode(now.st_mode) {
                FileType::Fifo => {
                    self.xattrs(fsutil::read_xattrs(&fd), shown)?;
                    self.special(&now, tar::EntryType::Fifo, name)
                }
                _ => Err(ArchiveError::io("archive", shown)(io::Error::other(
                    "the file changed type while it was archived",
                ))),
            };
        }
        let _ = stat;
        if now.st_nlink > 1 {
            let key = (now.st_dev, now.st_ino);
            if let Some(first) = self.links.get(&key) {
                let mut h = header(&now, tar::EntryType::Link);
                let first = first.clone();
                return self.append(
                    &mut h,
                    name,
                    Some(first.as_os_str().as_bytes()),
                    io::empty(),
                );
            }
            self.links.insert(key, name.to_path_buf());
        }
        let size = now.st_size.max(0) as u64;
        let mut h = header(&now, tar::EntryType::Regular);
        h.set_size(size);
        self.xattrs(fsutil::read_xattrs(&fd), shown)?;
        // Exactly `size` bytes whatever the file does meanwhile: a file that
        // grows is cut, one that shrinks is padded with zeros, so the
        // stream stays a valid tar.
        let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
        self.append(&mut h, name, None, data)
    }

    /// A directory and everything under it. `fd` is its `O_PATH`
    /// descriptor, `at` its container path, `name` its name in the tar.
    fn directory(
        &mut self,
        fd: OwnedFd,
        at: &Path,
        name: &Path,
        stat: &Stat,
    ) -> Result<(), ArchiveError> {
        let mut stack = vec![(fd, at.to_path_buf(), name.to_path_buf(), *stat)];
        while let Some((fd, at, name, stat)) = stack.pop() {
            let read = inroot::reopen(fd.as_fd(), FileType::Directory, OFlags::RDONLY)
                .map_err(ArchiveError::io("open the directory", &at))?;
            if !name.as_os_str().is_empty() {
                let mut h = header(&stat, tar::EntryType::Directory);
                let mut dir_name = name.clone().into_os_string();
                dir_name.push("/");
                self.xattrs(fsutil::read_xattrs(&read), &at)?;
                self.append(&mut h, Path::new(&dir_name), None, io::empty())?;
            }
            let mut names: Vec<OsString> = Vec::new();
            let dir = rustix::fs::Dir::read_from(&read)
                .map_err(|e| ArchiveError::io("read the directory", &at)(e.into()))?;
            for entry in dir {
                let entry =
                    entry.map_err(|e| ArchiveError::io("read the directory", &at)(e.into()))?;
                let n = entry.file_name().to_bytes();
                if n != b"." && n != b".." {
                    names.push(std::ffi::OsStr::from_bytes(n).to_os_string());
                }
            }
            // filepath.Walk's lexical order, reversed onto the stack below
            // so that subdirectories come out in order.
            names.sort();
            let mut subdirs = Vec::new();
            for file_name in names {
                let child_at = at.join(&file_name);
                let child_name = name.join(&file_name);
                self.opened
                    .check_not_tmpfs(&child_at, &child_at.display().to_string())?;
                let child = match self.opened.root.mount_at(&child_at) {
                    Some(index) => self.opened.root.open_mount(index).map_err(|e| {
                        self.opened
                            .resolve_error(&child_at.display().to_string(), e)
                    })?,
                    None => match rustix::fs::openat(
                        &fd,
                        file_name.as_os_str(),
                        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(child) => child,
                        // Removed since the listing: nothing to archive.
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(e) => return Err(ArchiveError::io("open", &child_at)(e.into())),
                    },
                };
                let child_stat = rustix::fs::fstat(&child)
                    .map_err(|e| ArchiveError::io("stat", &child_at)(e.into()))?;
                if FileType::from_raw_mode(child_stat.st_mode) == FileType::Directory {
                    subdirs.push((child, child_at, child_name, child_stat));
                } else if self.opened.root.mount_at(&child_at).is_some() {
                    // A file mounted over this name.
                    let reopened = inroot::reopen(
                        child.as_fd(),
                        FileType::RegularFile,
                        OFlags::RDONLY | OFlags::NONBLOCK,
                    );
                    self.file_at(reopened, &child_stat, &child_name, &child_at)?;
                } else {
                    self.child(fd.as_fd(), &file_name, &child_stat, &child_name, &child_at)?;
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}
