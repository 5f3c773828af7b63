//! Safe layer extraction: tar entries written into a layer directory through
//! `cap-std` handles, so that nothing lands outside it whatever the tar says.
//!
//! Rules (each refusal names the entry; the import then fails and the caller
//! removes the half-written layer):
//!
//! - Paths: a leading `/` and `.` components are dropped (Docker treats tar
//!   paths as relative to the layer root); a `..` component is refused.
//! - Parent directories are resolved by cap-std inside the layer: a symlink
//!   that points inside the layer is followed, one that leads outside (an
//!   absolute target such as `evil -> /etc`, or `../..`) makes the entry
//!   fail, and so does one under a file, fifo or symlink loop of the
//!   layer (the archive's fault, not the host's). The final component is
//!   never followed: whatever is there (file, symlink, fifo) is removed
//!   first, unless both are directories (merge).
//! - Symlinks are stored with their target unchanged (absolute targets are
//!   normal in images: they resolve inside the container's root later).
//! - Hard links must name an existing entry of the same layer, resolved like
//!   any other path (a leading `/` is the layer root, `..` is refused).
//! - Character and block devices are skipped with a warning (as rootless
//!   engines do): a container gets its devices from the runtime, and a
//!   device node in an image is at best useless and at worst a door to the
//!   host's disks. Fifos are created.
//! - Ownership (`uid`/`gid`, without following symlinks) is applied when the
//!   graph runs as root; mode bits including setuid/setgid/sticky are
//!   applied after ownership (`chown` clears setuid); mtimes are applied,
//!   directories' at the end (creating children changes them).
//! - Extended attributes from PAX `SCHILY.xattr.*` records: only `user.*`
//!   and `security.capability`; `trusted.*` (which would let a tar steer
//!   overlayfs) and `security.selinux` (the host's policy) are dropped.
//! - Whiteouts (`.wh.<name>`, `.wh..wh..opq`) are stored in the layer's
//!   whiteout format (overlay: char device 0/0 and `trusted.overlay.opaque`;
//!   vfs: the `.wh.` files as they are); other `.wh..wh.*` names (AUFS
//!   bookkeeping) are dropped.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::OpenOptionsExt as _;
use cap_std::fs::{Dir, OpenOptions};
use rustix::fs::{Mode, OFlags};

use crate::error::GraphError;
use crate::fsutil::{
    self, Removed, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, WhiteoutFormat, is_escape, remove_entry,
    timespec,
};
use crate::tarsplit::SplitHandle;

/// errno values (rustix's, as raw numbers) of a path the tar itself broke.
mod libc_errno {
    pub(super) const ENOTDIR: i32 = rustix::io::Errno::NOTDIR.raw_os_error();
    pub(super) const ELOOP: i32 = rustix::io::Errno::LOOP.raw_os_error();
    pub(super) const EEXIST: i32 = rustix::io::Errno::EXIST.raw_os_error();
}

/// Longest path we accept in a tar entry (`PATH_MAX` less the NUL).
const MAX_PATH: usize = 4095;
/// Longest single name (`NAME_MAX`).
const MAX_NAME: usize = 255;

/// How to extract.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtractOptions {
    /// How whiteouts are stored.
    pub format: WhiteoutFormat,
    /// Apply the tar's uid/gid (needs root).
    pub chown: bool,
}

/// What an extraction did.
#[derive(Debug, Default)]
pub(crate) struct ExtractReport {
    /// Bytes of regular file content written.
    pub size: u64,
    /// Entries written.
    pub entries: u64,
    /// Entries skipped, with the reason (device nodes, unsupported types).
    pub warnings: Vec<String>,
}

struct DeferredDir {
    rel: PathBuf,
    mode: u32,
    mtime: i64,
}

/// Extracts every entry of `archive` into the directory `root` (which must
/// exist and should be empty).
///
/// With `split`, the tar is recorded as it is read ([`crate::tarsplit`]):
/// the extractor tells it each entry's path and where file content starts
/// and ends.
pub(crate) fn extract<R: Read>(
    archive: &mut tar::Archive<R>,
    root: &Path,
    opts: ExtractOptions,
    split: Option<SplitHandle>,
) -> Result<ExtractReport, GraphError> {
    let root_dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())
        .map_err(GraphError::io("open layer directory", root))?;
    let mut x = Extractor {
        root: root_dir,
        opts,
        report: ExtractReport::default(),
        deferred: Vec::new(),
        parent_cache: None,
        split,
    };
    let entries = archive.entries().map_err(|e| GraphError::InvalidArchive {
        reason: "cannot read the tar stream".into(),
        source: Some(e),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| GraphError::InvalidArchive {
            reason: "cannot read a tar header".into(),
            source: Some(e),
        })?;
        x.entry(entry)?;
    }
    x.finish()?;
    Ok(x.report)
}

/// An entry's metadata from its tar header and PAX records, checked once.
struct EntryMeta {
    /// Permission bits, including setuid/setgid/sticky.
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    /// The extended attributes we keep (see [`fsutil::pax_xattrs`]).
    xattrs: Vec<(String, Vec<u8>)>,
}

impl EntryMeta {
    fn read<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<Self, GraphError> {
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0) as i64;
        let (uid, gid) = match (u32::try_from(uid), u32::try_from(gid)) {
            (Ok(u), Ok(g)) => (u, g),
            _ => {
                return Err(GraphError::UnsafeEntry {
                    entry: shown.to_owned(),
                    reason: format!("uid {uid} or gid {gid} does not fit in 32 bits"),
                });
            }
        };
        let xattrs = fsutil::pax_xattrs(entry).map_err(|e| GraphError::InvalidArchive {
            reason: format!("cannot read the PAX records of {shown:?}"),
            source: Some(e),
        })?;
        Ok(Self {
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }
}

/// Where an entry is written: its parent directory, opened inside the
/// layer, and its name there (`shown` names the entry in errors).
struct At<'a> {
    parent: &'a Dir,
    name: &'a OsStr,
    shown: &'a str,
}

struct Extractor {
    root: Dir,
    opts: ExtractOptions,
    report: ExtractReport,
    deferred: Vec<DeferredDir>,
    /// The last parent directory opened, to avoid resolving the same path
    /// for every entry of a directory. Dropped whenever a directory is
    /// removed, since the handle could then point at an unlinked directory.
    parent_cache: Option<(PathBuf, Dir)>,
    /// The recording of the tar, if one is made.
    split: Option<SplitHandle>,
}

/// Turns a tar path into a relative path of normal components.
pub(crate) fn sanitize(raw: &[u8], shown: &str) -> Result<PathBuf, GraphError> {
    let unsafe_entry = |reason: String| GraphError::UnsafeEntry {
        entry: shown.to_owned(),
        reason,
    };
    if raw.len() > MAX_PATH {
        return Err(unsafe_entry(format!(
            "path is {} bytes long, more than {MAX_PATH}",
            raw.len()
        )));
    }
    if raw.contains(&0) {
        return Err(unsafe_entry("path contains a NUL byte".into()));
    }
    let mut out = PathBuf::new();
    for comp in Path::new(OsStr::from_bytes(raw)).components() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(unsafe_entry(
                    "path contains a '..' component, which could escape the layer".into(),
                ));
            }
            Component::Normal(name) => {
                if name.len() > MAX_NAME {
                    return Err(unsafe_entry(format!(
                        "a path component is {} bytes long, more than {MAX_NAME}",
                        name.len()
                    )));
                }
                out.push(name);
            }
            Component::Prefix(_) => return Err(unsafe_entry("path has a prefix".into())),
        }
    }
    Ok(out)
}

impl Extractor {
    fn extract_err(entry: &str, op: impl Into<String>) -> impl FnOnce(io::Error) -> GraphError {
        let entry = entry.to_owned();
        let op = op.into();
        move |source| {
            if is_escape(&source) {
                GraphError::UnsafeEntry {
                    entry,
                    reason: format!(
                        "{op}: the path resolves outside the layer (through a symlink or '..')"
                    ),
                }
            } else if matches!(
                source.raw_os_error(),
                Some(libc_errno::ENOTDIR | libc_errno::ELOOP | libc_errno::EEXIST)
            ) {
                // The tar put the entry under a file, fifo, symlink loop or
                // dangling symlink of its own (creating the parents over the
                // last answers EEXIST): the archive is at fault, not the
                // host.
                GraphError::UnsafeEntry {
                    entry,
                    reason: format!("{op}: a parent of the entry is not a directory"),
                }
            } else {
                GraphError::Extract { entry, op, source }
            }
        }
    }

    /// Opens (creating as needed, mode 0755 like Docker's implicit parents)
    /// the parent directory `rel` inside the layer.
    fn parent(&mut self, rel: &Path, entry: &str) -> Result<Dir, GraphError> {
        if let Some((cached, dir)) = &self.parent_cache
            && cached == rel
        {
            return dir
                .try_clone()
                .map_err(Self::extract_err(entry, "reopen parent directory"));
        }
        let dir = if rel.as_os_str().is_empty() {
            self.root
                .try_clone()
                .map_err(Self::extract_err(entry, "reopen layer root"))?
        } else {
            match self.root.open_dir(rel) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.root
                        .create_dir_all(rel)
                        .map_err(Self::extract_err(entry, "create parent directories"))?;
                    self.root
                        .open_dir(rel)
                        .map_err(Self::extract_err(entry, "open parent directory"))?
                }
                Err(e) => return Err(Self::extract_err(entry, "open parent directory")(e)),
            }
        };
        self.parent_cache = Some((
            rel.to_path_buf(),
            dir.try_clone()
                .map_err(Self::extract_err(entry, "reopen parent directory"))?,
        ));
        Ok(dir)
    }

    /// Removes whatever is at `name` unless `keep_dir` and it is a directory.
    fn clear(
        &mut self,
        parent: &Dir,
        name: &OsStr,
        keep_dir: bool,
        entry: &str,
    ) -> Result<bool, GraphError> {
        if keep_dir
            && let Ok(meta) = parent.symlink_metadata(name)
            && meta.is_dir()
        {
            return Ok(true);
        }
        let removed = remove_entry(parent, name)
            .map_err(Self::extract_err(entry, "remove the existing entry"))?;
        if removed == Removed::Dir {
            self.parent_cache = None;
        }
        Ok(false)
    }

    /// Writes one tar entry into the layer: the path and header are checked
    /// first, then the entry goes to the writer for its kind.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), GraphError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = sanitize(&raw, &shown)?;
        if let Some(split) = &self.split
            && !rel.as_os_str().is_empty()
        {
            split.entry(&rel);
        }
        let kind = entry.header().entry_type();
        let meta = EntryMeta::read(&mut entry, &shown)?;

        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            return self.layer_root(kind, &meta, shown);
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();

        if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(&parent_rel, &name, &shown);
        }

        let parent = self.parent(&parent_rel, &shown)?;
        let at = At {
            parent: &parent,
            name: &name,
            shown: &shown,
        };
        match kind {
            tar::EntryType::Directory => self.directory(&at, rel, &meta)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.regular(&at, &rel, &mut entry, &meta)?;
            }
            tar::EntryType::Symlink => self.symlink(&at, &entry, &meta)?,
            tar::EntryType::Link => match self.link_target(&entry, &rel, &shown)? {
                Some(target) => self.hard_link(&at, &target)?,
                // A hard link to itself: nothing to write.
                None => return Ok(()),
            },
            tar::EntryType::Fifo => self.fifo(&at, &meta)?,
            tar::EntryType::Char | tar::EntryType::Block => {
                let w = format!("skipped device node {shown:?}: images may not carry devices");
                tracing::warn!(entry = %shown, "skipped device node in layer");
                self.report.warnings.push(w);
                return Ok(());
            }
            other => {
                let w = format!("skipped {shown:?}: unsupported tar entry type {other:?}");
                tracing::warn!(entry = %shown, kind = ?other, "skipped unsupported tar entry");
                self.report.warnings.push(w);
                return Ok(());
            }
        }
        self.report.entries += 1;
        Ok(())
    }

    /// The layer root itself ("./"): only its metadata applies.
    fn layer_root(
        &mut self,
        kind: tar::EntryType,
        meta: &EntryMeta,
        shown: String,
    ) -> Result<(), GraphError> {
        if !kind.is_dir() {
            return Err(GraphError::UnsafeEntry {
                entry: shown,
                reason: "the layer root can only be a directory".into(),
            });
        }
        self.deferred.push(DeferredDir {
            rel: PathBuf::new(),
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A directory: merged with one already there, its mode and mtime
    /// deferred to the end (creating children changes the mtime).
    fn directory(&mut self, at: &At<'_>, rel: PathBuf, meta: &EntryMeta) -> Result<(), GraphError> {
        let e = |op: &str| Self::extract_err(at.shown, op.to_owned());
        let existed = self.clear(at.parent, at.name, true, at.shown)?;
        if !existed {
            at.parent
                .create_dir(at.name)
                .map_err(e("create directory"))?;
        }
        self.ownership(at.parent, at.name, meta.uid, meta.gid, at.shown)?;
        if !meta.xattrs.is_empty() {
            let d = open_nofollow(at.parent, at.name, OFlags::DIRECTORY)
                .map_err(e("open directory"))?;
            fsutil::set_xattrs(&d, &meta.xattrs)
                .map_err(|x| e("set extended attributes")(x.into()))?;
        }
        self.deferred.push(DeferredDir {
            rel,
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A regular file: created new (whatever was there is removed first),
    /// filled, then owner, mode (after the owner: `chown` clears setuid),
    /// xattrs and mtime set through the open handle.
    fn regular<R: Read>(
        &mut self,
        at: &At<'_>,
        rel: &Path,
        entry: &mut tar::Entry<'_, R>,
        meta: &EntryMeta,
    ) -> Result<(), GraphError> {
        let e = |op: &str| Self::extract_err(at.shown, op.to_owned());
        self.clear(at.parent, at.name, false, at.shown)?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(0o600);
        let mut file = at
            .parent
            .open_with(at.name, &opts)
            .map_err(e("create file"))?;
        if let Some(split) = &self.split {
            split.content_begins(rel);
        }
        let written = io::copy(entry, &mut file).map_err(|source| GraphError::InvalidArchive {
            reason: format!("cannot read the content of {:?}", at.shown),
            source: Some(source),
        })?;
        if let Some(split) = &self.split {
            split.content_ends(written);
        }
        self.report.size += written;
        if self.opts.chown {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )
            .map_err(|er| e("set owner")(er.into()))?;
        }
        rustix::fs::fchmod(&file, Mode::from_raw_mode(meta.mode))
            .map_err(|er| e("set mode")(er.into()))?;
        fsutil::set_xattrs(&file, &meta.xattrs)
            .map_err(|x| e("set extended attributes")(x.into()))?;
        fsutil::set_times_fd(&file, timespec(meta.mtime, 0)).map_err(e("set times"))?;
        Ok(())
    }

    /// A symlink, stored with its target unchanged.
    fn symlink<R: Read>(
        &mut self,
        at: &At<'_>,
        entry: &tar::Entry<'_, R>,
        meta: &EntryMeta,
    ) -> Result<(), GraphError> {
        let e = |op: &str| Self::extract_err(at.shown, op.to_owned());
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| GraphError::UnsafeEntry {
                entry: at.shown.to_owned(),
                reason: "symlink without a target".into(),
            })?
            .into_owned();
        self.clear(at.parent, at.name, false, at.shown)?;
        rustix::fs::symlinkat(OsStr::from_bytes(&target), at.parent.as_fd(), at.name)
            .map_err(|er| e("create symlink")(er.into()))?;
        self.ownership(at.parent, at.name, meta.uid, meta.gid, at.shown)?;
        fsutil::set_times_at(at.parent, at.name, timespec(meta.mtime, 0))
            .map_err(e("set times"))?;
        Ok(())
    }

    /// Checks a hard link's target: an earlier non-directory entry of this
    /// layer, resolved inside it. `None` for a link to itself.
    fn link_target<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        rel: &Path,
        shown: &str,
    ) -> Result<Option<PathBuf>, GraphError> {
        let refuse = |reason: String| GraphError::UnsafeEntry {
            entry: shown.to_owned(),
            reason,
        };
        let raw_target = entry
            .link_name_bytes()
            .ok_or_else(|| refuse("hard link without a target".into()))?
            .into_owned();
        let target_display = String::from_utf8_lossy(&raw_target).into_owned();
        let target = sanitize(&raw_target, &target_display).map_err(|_| {
            refuse(format!(
                "hard link target {target_display:?} is outside the layer"
            ))
        })?;
        if target == rel {
            return Ok(None);
        }
        match self.root.symlink_metadata(&target) {
            Ok(m) if !m.is_dir() => Ok(Some(target)),
            Ok(_) => Err(refuse(format!(
                "hard link target {target_display:?} is a directory"
            ))),
            Err(er) if is_escape(&er) => Err(refuse(format!(
                "hard link target {target_display:?} resolves outside the layer"
            ))),
            Err(_) => Err(refuse(format!(
                "hard link target {target_display:?} is not an earlier entry of this layer"
            ))),
        }
    }

    /// A hard link to a target already checked by [`Self::link_target`].
    fn hard_link(&mut self, at: &At<'_>, target: &Path) -> Result<(), GraphError> {
        self.clear(at.parent, at.name, false, at.shown)?;
        self.root
            .hard_link(target, at.parent, at.name)
            .map_err(Self::extract_err(at.shown, "create hard link"))
    }

    /// A fifo; its mode is set after the owner (`chown` clears setuid).
    fn fifo(&mut self, at: &At<'_>, meta: &EntryMeta) -> Result<(), GraphError> {
        let e = |op: &str| Self::extract_err(at.shown, op.to_owned());
        self.clear(at.parent, at.name, false, at.shown)?;
        fsutil::make_fifo(at.parent, at.name, meta.mode).map_err(e("create fifo"))?;
        self.ownership(at.parent, at.name, meta.uid, meta.gid, at.shown)?;
        rustix::fs::chmodat(
            at.parent.as_fd(),
            at.name,
            Mode::from_raw_mode(meta.mode),
            rustix::fs::AtFlags::empty(),
        )
        .map_err(|er| e("set mode")(er.into()))?;
        fsutil::set_times_at(at.parent, at.name, timespec(meta.mtime, 0))
            .map_err(e("set times"))?;
        Ok(())
    }

    fn ownership(
        &self,
        parent: &Dir,
        name: &OsStr,
        uid: u32,
        gid: u32,
        entry: &str,
    ) -> Result<(), GraphError> {
        if self.opts.chown {
            fsutil::chown_at(parent, name, uid, gid)
                .map_err(Self::extract_err(entry, "set owner"))?;
        }
        Ok(())
    }

    fn whiteout(&mut self, parent_rel: &Path, name: &OsStr, entry: &str) -> Result<(), GraphError> {
        let bytes = name.as_bytes();
        let parent = self.parent(parent_rel, entry)?;
        if bytes == WHITEOUT_OPAQUE.as_bytes() {
            match self.opts.format {
                WhiteoutFormat::Overlay => {
                    fsutil::set_overlay_opaque(&parent)
                        .map_err(Self::extract_err(entry, "mark the directory opaque"))?;
                }
                WhiteoutFormat::Aufs => {
                    self.clear(&parent, name, false, entry)?;
                    fsutil::make_marker(&parent, name)
                        .map_err(Self::extract_err(entry, "create opaque marker"))?;
                }
            }
            self.report.entries += 1;
            return Ok(());
        }
        if bytes.starts_with(b".wh..wh.") {
            // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless here.
            return Ok(());
        }
        let target = OsString::from(OsStr::from_bytes(&bytes[WHITEOUT_PREFIX.len()..]));
        if target.is_empty() || target == "." || target == ".." {
            return Err(GraphError::UnsafeEntry {
                entry: entry.to_owned(),
                reason: "whiteout of an invalid name".into(),
            });
        }
        match self.opts.format {
            WhiteoutFormat::Overlay => {
                if let Some(split) = &self.split {
                    split.whiteout(&parent_rel.join(&target));
                }
                self.clear(&parent, &target, false, entry)?;
                fsutil::make_overlay_whiteout(&parent, &target)
                    .map_err(Self::extract_err(entry, "create whiteout device"))?;
            }
            WhiteoutFormat::Aufs => {
                self.clear(&parent, name, false, entry)?;
                fsutil::make_marker(&parent, name)
                    .map_err(Self::extract_err(entry, "create whiteout marker"))?;
            }
        }
        self.report.entries += 1;
        Ok(())
    }

    /// Applies directories' modes and mtimes, deepest first.
    fn finish(&mut self) -> Result<(), GraphError> {
        self.parent_cache = None;
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        for d in deferred {
            let shown = d.rel.display().to_string();
            let e = |op: &str| Self::extract_err(&shown, op.to_owned());
            let dir = if d.rel.as_os_str().is_empty() {
                Dir::from_std_file(std::fs::File::from(
                    fsutil::reopen_rdonly(&self.root).map_err(e("reopen layer root"))?,
                ))
            } else {
                let parent_rel = d.rel.parent().unwrap_or(Path::new(""));
                let Some(name) = d.rel.file_name() else {
                    continue;
                };
                let parent = if parent_rel.as_os_str().is_empty() {
                    self.root.try_clone().map_err(e("reopen layer root"))?
                } else {
                    self.root
                        .open_dir(parent_rel)
                        .map_err(e("open parent directory"))?
                };
                match open_nofollow(&parent, name, OFlags::DIRECTORY) {
                    Ok(d) => d,
                    // Replaced by a later non-directory entry: nothing to do.
                    Err(_) => continue,
                }
            };
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(d.mode))
                .map_err(|er| e("set mode")(er.into()))?;
            fsutil::set_times_fd(&dir, timespec(d.mtime, 0)).map_err(e("set times"))?;
        }
        Ok(())
    }
}

/// Opens `name` in `parent` without following a symlink there.
pub(crate) fn open_nofollow(parent: &Dir, name: &OsStr, extra: OFlags) -> io::Result<Dir> {
    let fd = rustix::fs::openat(
        parent.as_fd(),
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra,
        Mode::empty(),
    )?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}
