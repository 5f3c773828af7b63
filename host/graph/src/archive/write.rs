//! `PUT /containers/{id}/archive`: a tar stream extracted under a
//! directory of the container (moby `containerExtractToDir` and
//! `archive.Unpack`, run by moby inside a chroot of the container's root;
//! here every entry is resolved inside the root instead).
//!
//! Extended attributes from an entry's PAX `SCHILY.xattr.*` records are
//! applied as moby `createTarFile` applies them (after the owner: `chown`
//! drops `security.capability`), but only those a container may own, as
//! for image layers (`fsutil::xattr_allowed`: `user.*` and
//! `security.capability`); `trusted.*` (which steers overlayfs) and
//! `security.selinux` (the host's policy) are dropped. One the file system
//! refuses (a `user.*` on a symlink or fifo) fails the copy, as in moby.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_fsutil::inroot::{self, InRootError, Resolved};
use berth_model::files::{ContainerFs, ExtractOptions};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

use super::{ArchiveError, ClientPath, Opened};
use crate::fsutil;

/// The most bytes read from the container's `/etc/passwd` or `/etc/group`
/// for `copyUIDGID`.
const MAX_ID_FILE: u64 = 4 << 20;

/// Extracts the tar stream `input` under the directory `path` of the
/// container. The stream is read entry by entry and each file's data is
/// copied to disk as it arrives; nothing is buffered whole.
pub fn extract_to_dir(
    fs: &ContainerFs,
    container: &str,
    path: &str,
    options: &ExtractOptions,
    input: &mut dyn Read,
) -> Result<(), ArchiveError> {
    let opened = Opened::open(fs, container)?;
    let client = ClientPath::parse(path)?;
    // moby resolves the final element too: "so that you can extract an
    // archive to a symlink that points to a directory".
    let dest = opened
        .root
        .resolve(&client.abs, true)
        .map_err(|e| opened.resolve_error(path, e))?;
    if dest.file_type() != FileType::Directory {
        return Err(ArchiveError::NotADirectory);
    }
    opened.check_not_tmpfs(&dest.path, path)?;
    check_writable(&opened, &dest)?;
    let owner = match &options.copy_uid_gid {
        Some(user) => Some(lookup_owner(&opened, user)?),
        None => None,
    };
    let mut extractor = Extractor {
        opened: &opened,
        dest: dest.path.clone(),
        options,
        owner,
        dirs: Vec::new(),
    };
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(ArchiveError::InvalidArchive)?;
    for entry in entries {
        let entry = entry.map_err(ArchiveError::InvalidArchive)?;
        extractor.entry(entry)?;
    }
    extractor.finish()
}

/// moby `checkIfPathIsInAVolume` and the read-only rootfs check.
fn check_writable(opened: &Opened<'_>, resolved: &Resolved) -> Result<(), ArchiveError> {
    match resolved.mount.and_then(|i| opened.mount(i)) {
        Some(m) if m.read_only => Err(ArchiveError::VolumeReadOnly),
        Some(_) => Ok(()),
        None if opened.fs.readonly_rootfs => Err(ArchiveError::RootfsReadOnly),
        None => Ok(()),
    }
}

struct Extractor<'a> {
    opened: &'a Opened<'a>,
    /// The extraction point, resolved (a clean container path).
    dest: PathBuf,
    options: &'a ExtractOptions,
    owner: Option<(u32, u32)>,
    /// Directories extracted, and their mtime: set once every entry is in
    /// (moby `Unpack` does the same, as entries below change it).
    dirs: Vec<(PathBuf, i64)>,
}

/// The entry's name made relative and clean (moby `Unpack`:
/// `filepath.Clean`, then a name that climbs out of the extraction
/// point is a `breakoutError`). `None` for the extraction point itself.
fn clean_name(raw: &Path) -> Result<Option<PathBuf>, String> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err("the name climbs out of the extraction point".into());
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out.iter().collect()))
}

impl Extractor<'_> {
    fn unsafe_entry(raw: &Path, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::UnsafeEntry {
            name: raw.display().to_string(),
            reason: reason.into(),
        }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        let raw = entry
            .path()
            .map_err(ArchiveError::InvalidArchive)?
            .into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let xattrs = fsutil::pax_xattrs(&mut entry).map_err(ArchiveError::InvalidArchive)?;
        let name = clean_name(&raw).map_err(|r| Self::unsafe_entry(&raw, r))?;
        let Some(name) = name else {
            // "." : the extraction point itself, which exists (moby skips it).
            return Ok(());
        };
        let at = self.dest.join(&name);
        let parent_at = at.parent().unwrap_or(Path::new("/")).to_path_buf();
        let file_name = name
            .file_name()
            .map(OsStr::to_os_string)
            .unwrap_or_default();
        if self.opened.root.mount_at(&at).is_some() {
            // A mount point of the container: moby's untar, in the
            // container's mount namespace, cannot replace it (EBUSY). A
            // directory entry over a mounted directory just goes on
            // below it, in the mount's source.
            if kind == tar::EntryType::Directory {
                return Ok(());
            }
            return Err(Self::unsafe_entry(
                &raw,
                format!("{} is a mount point of the container", at.display()),
            ));
        }
        let parent = self.parent_dir(&parent_at, &raw)?;
        check_writable(self.opened, &parent)?;
        let dir = parent.fd.as_fd();
        let header = entry.header().clone();
        let mode = numeric(header.mode().map(u64::from), &header.as_old().mode)? as u32 & 0o7777;
        let existing = stat_at(dir, &file_name);
        if let Some(st) = &existing {
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            let want_dir = kind == tar::EntryType::Directory;
            if self.options.no_overwrite_dir_non_dir {
                // moby `Unpack`, verbatim.
                if is_dir && !want_dir {
                    return Err(ArchiveError::Overwrite(format!(
                        "cannot overwrite directory {:?} with non-directory {:?}",
                        at.display().to_string(),
                        raw.display().to_string()
                    )));
                }
                if !is_dir && want_dir {
                    return Err(ArchiveError::Overwrite(format!(
                        "cannot overwrite non-directory {:?} with directory {:?}",
                        at.display().to_string(),
                        raw.display().to_string()
                    )));
                }
            }
            if !(is_dir && want_dir) {
                remove_at(dir, &file_name).map_err(ArchiveError::io("remove", &at))?;
            }
        }
        match kind {
            tar::EntryType::Directory => {
                if existing.is_none() {
                    rustix::fs::mkdirat(dir, file_name.as_os_str(), Mode::from_raw_mode(0o700))
                        .map_err(|e| ArchiveError::io("create the directory", &at)(e.into()))?;
                }
                let fd = open_nofollow(dir, &file_name, OFlags::RDONLY | OFlags::DIRECTORY)
                    .map_err(ArchiveError::io("open the directory", &at))?;
                self.finish_fd(&fd, &header, mode, &at)?;
                set_xattrs(&fd, &xattrs, &at)?;
                let mtime = mtime_of(&header)?;
                self.dirs.push((at, mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let fd = rustix::fs::openat(
                    dir,
                    file_name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC
                        | OFlags::NOCTTY,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| ArchiveError::io("create", &at)(e.into()))?;
                let mut file = File::from(fd);
                io::copy(&mut entry, &mut file).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        ArchiveError::InvalidArchive(e)
                    } else {
                        ArchiveError::io("write", &at)(e)
                    }
                })?;
                self.finish_fd(&file.as_fd(), &header, mode, &at)?;
                set_xattrs(&file, &xattrs, &at)?;
                set_times(file.as_fd(), &header, &at)?;
            }
            tar::EntryType::Symlink => {
                let target = header
                    .link_name()
                    .map_err(ArchiveError::InvalidArchive)?
                    .ok_or_else(|| Self::unsafe_entry(&raw, "a symlink without a target"))?
                    .into_owned();
                // moby `createTarFile`: the target, joined to the entry's
                // directory, must stay under the extraction point.
                if !target.is_absolute()
                    && !inroot::clean(&parent_at.join(&target)).starts_with(&self.dest)
                {
                    return Err(Self::unsafe_entry(
                        &raw,
                        format!(
                            "the symlink target {} is outside of the extraction point",
                            target.display()
                        ),
                    ));
                }
                rustix::fs::symlinkat(target.as_os_str(), dir, file_name.as_os_str())
                    .map_err(|e| ArchiveError::io("create the symlink", &at)(e.into()))?;
                self.chown_at(dir, &file_name, &header, &at)?;
                fsutil::set_xattrs_at(dir, &file_name, &xattrs)
                    .map_err(ArchiveError::xattr(&at))?;
                let mtime = mtime_of(&header)?;
                rustix::fs::utimensat(
                    dir,
                    file_name.as_os_str(),
                    &times(mtime),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| ArchiveError::io("set the times of", &at)(e.into()))?;
            }
            tar::EntryType::Link => {
                let target = header
                    .link_name()
                    .map_err(ArchiveError::InvalidArchive)?
                    .ok_or_else(|| Self::unsafe_entry(&raw, "a hard link without a target"))?
                    .into_owned();
                // moby: the target is joined to the extraction point and
                // must stay under it.
                let target_name = clean_name(&target)
                    .map_err(|r| Self::unsafe_entry(&raw, r))?
                    .ok_or_else(|| {
                        Self::unsafe_entry(&raw, "a hard link to the extraction point")
                    })?;
                let source = self
                    .opened
                    .root
                    .resolve(&self.dest.join(&target_name), false)
                    .map_err(|e| match e {
                        InRootError::NotFound { .. } => Self::unsafe_entry(
                            &raw,
                            format!("the hard link target {} does not exist", target.display()),
                        ),
                        other => self.opened.resolve_error(&raw.display().to_string(), other),
                    })?;
                let Some((src_dir, src_name)) = &source.parent else {
                    return Err(Self::unsafe_entry(&raw, "a hard link to a mount point"));
                };
                rustix::fs::linkat(
                    src_dir,
                    src_name.as_os_str(),
                    dir,
                    file_name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| ArchiveError::io("create the hard link", &at)(e.into()))?;
                fsutil::set_xattrs_at(dir, &file_name, &xattrs)
                    .map_err(ArchiveError::xattr(&at))?;
            }
            tar::EntryType::Fifo => {
                rustix::fs::mknodat(
                    dir,
                    file_name.as_os_str(),
                    FileType::Fifo,
                    Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| ArchiveError::io("create the fifo", &at)(e.into()))?;
                let fd = open_nofollow(dir, &file_name, OFlags::PATH)
                    .map_err(ArchiveError::io("open the fifo", &at))?;
                self.finish_path_fd(&fd, &header, mode, &at)?;
                fsutil::set_xattrs_at(dir, &file_name, &xattrs)
                    .map_err(ArchiveError::xattr(&at))?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                // As image layers (graph `extract`): a container gets its
                // devices from the runtime, and a node copied in would be a
                // door to the host's devices wherever the cgroup allows.
                return Err(Self::unsafe_entry(
                    &raw,
                    "device nodes cannot be copied into a container",
                ));
            }
            other => {
                // moby `createTarFile`: "unhandled tar header type".
                return Err(Self::unsafe_entry(
                    &raw,
                    format!("unhandled tar header type {other:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The directory an entry goes in, created (0755, as moby's
    /// `MkdirAllAndChownNew`) when missing.
    fn parent_dir(&self, parent_at: &Path, raw: &Path) -> Result<Resolved, ArchiveError> {
        loop {
            match self.opened.root.resolve(parent_at, true) {
                Ok(r) if r.file_type() == FileType::Directory => {
                    self.opened
                        .check_not_tmpfs(&r.path, &raw.display().to_string())?;
                    return Ok(r);
                }
                Ok(_) | Err(InRootError::NotDirectory { .. }) => {
                    return Err(Self::unsafe_entry(
                        raw,
                        "a parent of the entry is not a directory",
                    ));
                }
                Err(InRootError::NotFound { .. }) => self.create_missing(parent_at, raw)?,
                Err(e) => return Err(self.opened.resolve_error(&raw.display().to_string(), e)),
            }
        }
    }

    /// Creates the first missing directory on the way to `path`.
    fn create_missing(&self, path: &Path, raw: &Path) -> Result<(), ArchiveError> {
        let mut existing = path.to_path_buf();
        let mut missing: Option<OsString> = None;
        loop {
            match self.opened.root.resolve(&existing, true) {
                Ok(r) => {
                    let Some(name) = missing else {
                        return Ok(());
                    };
                    if r.file_type() != FileType::Directory {
                        return Err(Self::unsafe_entry(
                            raw,
                            "a parent of the entry is not a directory",
                        ));
                    }
                    check_writable(self.opened, &r)?;
                    let made = existing.join(&name);
                    return match rustix::fs::mkdirat(
                        &r.fd,
                        name.as_os_str(),
                        Mode::from_raw_mode(0o755),
                    ) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
                        Err(e) => Err(ArchiveError::io("create the directory", &made)(e.into())),
                    };
                }
                Err(InRootError::NotFound { .. }) => {
                    missing = existing.file_name().map(OsStr::to_os_string);
                    if !existing.pop() || missing.is_none() {
                        return Err(Self::unsafe_entry(raw, "no directory to create it in"));
                    }
                }
                Err(e) => return Err(self.opened.resolve_error(&raw.display().to_string(), e)),
            }
        }
    }

    fn ids(&self, header: &tar::Header) -> Result<(u32, u32), ArchiveError> {
        if let Some(owner) = self.owner {
            return Ok(owner);
        }
        let uid = numeric(header.uid(), &header.as_old().uid)?;
        let gid = numeric(header.gid(), &header.as_old().gid)?;
        let bad = |_| ArchiveError::InvalidArchive(io::Error::other("a uid or gid beyond 32 bits"));
        Ok((
            u32::try_from(uid).map_err(bad)?,
            u32::try_from(gid).map_err(bad)?,
        ))
    }

    /// Owner then mode (chown clears set-id bits) of an open file or dir.
    fn finish_fd(
        &self,
        fd: &impl AsFd,
        header: &tar::Header,
        mode: u32,
        at: &Path,
    ) -> Result<(), ArchiveError> {
        let (uid, gid) = self.ids(header)?;
        rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(|e| ArchiveError::io("change the owner of", at)(e.into()))?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
            .map_err(|e| ArchiveError::io("change the mode of", at)(e.into()))
    }

    /// [`Extractor::finish_fd`] for an `O_PATH` descriptor (a fifo, which
    /// must not be opened for I/O): through its `/proc/self/fd` entry.
    fn finish_path_fd(
        &self,
        fd: &OwnedFd,
        header: &tar::Header,
        mode: u32,
        at: &Path,
    ) -> Result<(), ArchiveError> {
        let (uid, gid) = self.ids(header)?;
        rustix::fs::chownat(
            fd,
            "",
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::EMPTY_PATH,
        )
        .map_err(|e| ArchiveError::io("change the owner of", at)(e.into()))?;
        use std::os::fd::AsRawFd;
        let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        rustix::fs::chmod(proc_path.as_str(), Mode::from_raw_mode(mode))
            .map_err(|e| ArchiveError::io("change the mode of", at)(e.into()))?;
        let mtime = mtime_of(header)?;
        rustix::fs::utimensat(fd, "", &times(mtime), AtFlags::EMPTY_PATH)
            .map_err(|e| ArchiveError::io("set the times of", at)(e.into()))
    }

    fn chown_at(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        header: &tar::Header,
        at: &Path,
    ) -> Result<(), ArchiveError> {
        let (uid, gid) = self.ids(header)?;
        rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| ArchiveError::io("change the owner of", at)(e.into()))
    }

    /// Sets the directories' times, deepest first.
    fn finish(self) -> Result<(), ArchiveError> {
        for (at, mtime) in self.dirs.iter().rev() {
            let resolved = match self.opened.root.resolve(at, false) {
                Ok(r) if r.file_type() == FileType::Directory => r,
                // Replaced by a later entry: its own entry set its times.
                _ => continue,
            };
            let fd = resolved
                .reopen(OFlags::RDONLY)
                .map_err(ArchiveError::io("open the directory", at))?;
            rustix::fs::futimens(&fd, &times(*mtime))
                .map_err(|e| ArchiveError::io("set the times of", at)(e.into()))?;
        }
        Ok(())
    }
}

/// A numeric header field; an empty one (NULs or spaces) reads as 0, as
/// Go's `archive/tar` reads it (moby's side of the API).
fn numeric(value: io::Result<u64>, raw: &[u8]) -> Result<u64, ArchiveError> {
    match value {
        Ok(v) => Ok(v),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        Err(e) => Err(ArchiveError::InvalidArchive(e)),
    }
}

fn mtime_of(header: &tar::Header) -> Result<i64, ArchiveError> {
    Ok(numeric(header.mtime(), &header.as_old().mtime)? as i64)
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn set_times(fd: BorrowedFd<'_>, header: &tar::Header, at: &Path) -> Result<(), ArchiveError> {
    let mtime = mtime_of(header)?;
    rustix::fs::futimens(fd, &times(mtime))
        .map_err(|e| ArchiveError::io("set the times of", at)(e.into()))
}

fn set_xattrs(fd: impl AsFd, xattrs: &[(String, Vec<u8>)], at: &Path) -> Result<(), ArchiveError> {
    fsutil::set_xattrs(fd, xattrs).map_err(ArchiveError::xattr(at))
}

fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Option<rustix::fs::Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()
}

fn open_nofollow(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?)
}

/// Removes `name` in `dir` whatever it is, a directory with everything
/// under it, never following a symlink.
fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::ISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = open_nofollow(dir, name, OFlags::RDONLY | OFlags::DIRECTORY)?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&sub)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    for n in names {
        remove_at(sub.as_fd(), &n)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// moby `tarCopyOptions`: the container's `Config.User` as a uid and gid,
/// names looked up in the container's own `/etc/passwd` and `/etc/group`
/// (read inside the root, bounded).
pub(super) fn lookup_owner(opened: &Opened<'_>, user: &str) -> Result<(u32, u32), ArchiveError> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_id_file(opened, "/etc/passwd")?;
    let (uid, primary_gid) = if user_part.is_empty() {
        (0, 0)
    } else if let Ok(uid) = user_part.parse::<u32>() {
        let gid = find_entry(&passwd, |f| f.get(2) == Some(&user_part))
            .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
            .unwrap_or(0);
        (uid, gid)
    } else {
        let fields = find_entry(&passwd, |f| f.first() == Some(&user_part)).ok_or_else(|| {
            ArchiveError::BadPath {
                path: "/etc/passwd".into(),
                reason: format!(
                    "unable to find user {user_part}: no matching entries in passwd file"
                ),
            }
        })?;
        let num = |i: usize| fields.get(i).and_then(|v| v.parse::<u32>().ok());
        (num(2).unwrap_or(0), num(3).unwrap_or(0))
    };
    let gid = match group_part {
        None | Some("") => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let group = read_id_file(opened, "/etc/group")?;
                find_entry(&group, |f| f.first() == Some(&g))
                    .and_then(|f| f.get(2).and_then(|v| v.parse().ok()))
                    .ok_or_else(|| ArchiveError::BadPath {
                        path: "/etc/group".into(),
                        reason: format!(
                            "unable to find group {g}: no matching entries in group file"
                        ),
                    })?
            }
        },
    };
    Ok((uid, gid))
}

fn find_entry<'s>(file: &'s str, pick: impl Fn(&Vec<&'s str>) -> bool) -> Option<Vec<&'s str>> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| pick(f))
}

fn read_id_file(opened: &Opened<'_>, path: &str) -> Result<String, ArchiveError> {
    let resolved = match opened.root.resolve(Path::new(path), true) {
        Ok(r) => r,
        Err(InRootError::NotFound { .. }) => return Ok(String::new()),
        Err(e) => return Err(opened.resolve_error(path, e)),
    };
    if resolved.file_type() != FileType::RegularFile {
        return Err(ArchiveError::BadPath {
            path: path.into(),
            reason: "not a regular file".into(),
        });
    }
    let fd = resolved
        .reopen(OFlags::RDONLY | OFlags::NONBLOCK)
        .map_err(ArchiveError::io("open", Path::new(path)))?;
    let mut text = String::new();
    File::from(fd)
        .take(MAX_ID_FILE)
        .read_to_string(&mut text)
        .map_err(ArchiveError::io("read", Path::new(path)))?;
    Ok(text)
}
