//! `docker diff`: what a container changed in its root filesystem, worked
//! out from its overlay upper directory the way moby's `collectChanges`
//! (`moby/go-archive/changes.go`) does for overlay:
//!
//! - a whiteout (character device 0/0) is a deleted path;
//! - an opaque directory that a lower layer also has was deleted and made
//!   again: it is reported deleted, and what is in it added;
//! - anything else is added, unless a lower layer has the path: then it is
//!   modified — except a directory whose size, mode and mtime are the
//!   lower's, which was only copied up because something below it changed;
//! - the parent of an added or deleted path is reported modified once.
//!
//! The upper directory belongs to the container, which may be running and
//! hostile: it is walked with `O_NOFOLLOW` opens beneath it (a symlink is
//! reported as itself, never followed), iteratively (a deep tree cannot
//! exhaust the stack), and the lower layers are looked up one component at
//! a time without following links, as overlayfs itself looks them up.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, Metadata, MetadataExt as _};
use rustix::fs::OFlags;

use crate::error::GraphError;
use crate::extract::open_nofollow;
use crate::fsutil;
use crate::graph::{Graph, StorageDriver};
use crate::rootfs::check_container_id;

/// How a path changed (moby's `ChangeType`: the API sends the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `C`: 0.
    Modified,
    /// `A`: 1.
    Added,
    /// `D`: 2.
    Deleted,
}

impl ChangeKind {
    /// The API's number for it.
    pub fn code(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// One changed path of a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute inside the container (`/etc/hosts`).
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

impl Graph {
    /// The changes container `container_id` made to its image's files, in
    /// the order of a walk of its writable layer (parents first).
    pub fn changes(&self, container_id: &str) -> Result<Vec<Change>, GraphError> {
        check_container_id(container_id)?;
        let record = {
            let _guard = self.lock();
            self.rootfs_record(container_id)?
        };
        if self.driver == StorageDriver::Vfs {
            return Err(GraphError::Unsupported {
                what: "listing a container's changes (docker diff) on the vfs storage driver"
                    .to_owned(),
            });
        }
        let upper = self.layout.upper(container_id);
        // Top layer first, as overlayfs searches them.
        let lowers: Vec<PathBuf> = record
            .lowers
            .iter()
            .rev()
            .map(|id| self.layout.link(id))
            .collect();
        let open = |path: &Path| {
            Dir::open_ambient_dir(path, cap_std::ambient_authority())
                .map_err(GraphError::io("open", path))
        };
        let upper_dir = open(&upper)?;
        let lower_dirs = lowers
            .iter()
            .map(|p| open(p))
            .collect::<Result<Vec<_>, _>>()?;
        collect(&upper_dir, &lower_dirs).map_err(GraphError::io("list the changes in", &upper))
    }
}

/// A directory waiting to be walked: its handle and its path in the
/// container.
struct Pending {
    dir: Dir,
    path: PathBuf,
}

/// The mount points berth makes in a container's root filesystem before
/// it starts, which moby keeps in the container's init layer
/// (`daemon/initlayer`) and so never reports as changes. When one of them
/// was added to the writable layer it is not the container's change.
const INIT_PATHS: [&str; 10] = [
    "/dev/pts",
    "/dev/shm",
    "/dev/console",
    "/proc",
    "/sys",
    "/.dockerenv",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/mtab",
];

/// One change found by the walk; a directory whose only difference from
/// the lower one is its mtime waits for a change below it to be reported
/// (its mtime may have moved only because berth made a mount point in it).
struct Found {
    change: Change,
    confirmed: bool,
}

/// Walks `upper` (pre-order, names sorted, as Go's `filepath.Walk`) and
/// classifies each entry against `lowers` (top first).
pub(crate) fn collect(upper: &Dir, lowers: &[Dir]) -> io::Result<Vec<Change>> {
    let mut found: Vec<Found> = Vec::new();
    // Directories reported (or waiting to be) → their index in `found`.
    let mut changed_dirs: HashMap<PathBuf, usize> = HashMap::new();
    // A stack of sorted listings: the walk goes depth-first, each
    // directory's entries in name order, without recursion.
    let mut stack: Vec<(Pending, std::vec::IntoIter<(OsString, Metadata)>)> = Vec::new();
    let root = Pending {
        dir: upper.try_clone()?,
        path: PathBuf::from("/"),
    };
    let entries = sorted_entries(&root.dir)?;
    stack.push((root, entries.into_iter()));
    while let Some((parent, entries)) = stack.last_mut() {
        let Some((name, meta)) = entries.next() else {
            stack.pop();
            continue;
        };
        let path = parent.path.join(&name);
        let kind = classify(&parent.dir, &name, &meta, &path, lowers)?;
        if kind == Some(Kind::Added) && INIT_PATHS.iter().any(|p| Path::new(p) == path) {
            continue;
        }
        if let Some(kind) = kind {
            let (kind, confirmed) = match kind {
                Kind::Added => (ChangeKind::Added, true),
                Kind::Deleted => (ChangeKind::Deleted, true),
                Kind::Modified => (ChangeKind::Modified, true),
                Kind::Touched => (ChangeKind::Modified, false),
            };
            if matches!(kind, ChangeKind::Added | ChangeKind::Deleted)
                && let Some(up) = path.parent()
                && up != Path::new("/")
                && !changed_dirs.contains_key(up)
            {
                changed_dirs.insert(up.to_path_buf(), found.len());
                found.push(Found {
                    change: Change {
                        path: up.to_path_buf(),
                        kind: ChangeKind::Modified,
                    },
                    confirmed: true,
                });
            }
            if meta.is_dir() {
                changed_dirs.insert(path.clone(), found.len());
            }
            if confirmed {
                // A change below a waiting directory confirms it.
                for ancestor in path.ancestors().skip(1) {
                    if let Some(&i) = changed_dirs.get(ancestor) {
                        found[i].confirmed = true;
                    }
                }
            }
            found.push(Found {
                change: Change {
                    path: path.clone(),
                    kind,
                },
                confirmed,
            });
        }
        if meta.is_dir() {
            let dir = open_nofollow(&parent.dir, &name, OFlags::DIRECTORY)?;
            let entries = sorted_entries(&dir)?;
            stack.push((Pending { dir, path }, entries.into_iter()));
        }
    }
    Ok(found
        .into_iter()
        .filter(|f| f.confirmed)
        .map(|f| f.change)
        .collect())
}

/// A directory's entries with their (unfollowed) metadata, sorted by name.
fn sorted_entries(dir: &Dir) -> io::Result<Vec<(OsString, Metadata)>> {
    let mut out = Vec::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name();
        let meta = dir.symlink_metadata(&name)?;
        out.push((name, meta));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// What the walk decides for one upper entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Added,
    Deleted,
    Modified,
    /// A directory that differs from the lower one only in its mtime.
    Touched,
}

/// What happened to the upper entry `name` (at `path`); `None` for a
/// directory that was only copied up.
fn classify(
    parent: &Dir,
    name: &OsStr,
    meta: &Metadata,
    path: &Path,
    lowers: &[Dir],
) -> io::Result<Option<Kind>> {
    if fsutil::is_overlay_whiteout(meta) {
        return Ok(Some(Kind::Deleted));
    }
    let lower = lookup(lowers, path)?;
    if meta.is_dir() && lower.is_some() {
        let dir = open_nofollow(parent, name, OFlags::DIRECTORY)?;
        if fsutil::is_overlay_opaque(&dir) {
            return Ok(Some(Kind::Deleted));
        }
    }
    Ok(match lower {
        None => Some(Kind::Added),
        Some(l) if l.is_dir() && meta.is_dir() && same_dir(meta, &l) => None,
        Some(l)
            if l.is_dir() && meta.is_dir() && l.len() == meta.len() && l.mode() == meta.mode() =>
        {
            Some(Kind::Touched)
        }
        Some(_) => Some(Kind::Modified),
    })
}

/// moby's test for a directory copied up unchanged: size, mode and mtime
/// (to the second when either side has no sub-second part, `sameFsTime`).
fn same_dir(a: &Metadata, b: &Metadata) -> bool {
    let same_time = (a.mtime(), a.mtime_nsec()) == (b.mtime(), b.mtime_nsec())
        || (a.mtime() == b.mtime() && (a.mtime_nsec() == 0 || b.mtime_nsec() == 0));
    a.len() == b.len() && a.mode() == b.mode() && same_time
}

/// The merged lower layers' entry at `path`, if any: the topmost layer that
/// has it decides; a whiteout there means none. Each layer is walked one
/// component at a time, never through a link.
fn lookup(lowers: &[Dir], path: &Path) -> io::Result<Option<Metadata>> {
    let parts: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    let Some((last, dirs)) = parts.split_last() else {
        return Ok(None);
    };
    'layers: for lower in lowers {
        let mut dir = lower.try_clone()?;
        for part in dirs {
            match open_nofollow(&dir, part, OFlags::DIRECTORY) {
                Ok(d) => dir = d,
                // Absent here, or not a directory (a file, a link): this
                // layer does not have the path.
                Err(e) if is_absent(&e) => continue 'layers,
                Err(e) => return Err(e),
            }
        }
        match dir.symlink_metadata(last) {
            Ok(m) if fsutil::is_overlay_whiteout(&m) => return Ok(None),
            Ok(m) => return Ok(Some(m)),
            Err(e) if is_absent(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn is_absent(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &Path) -> Dir {
        Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap()
    }

    fn shown(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let letter = match c.kind {
                    ChangeKind::Modified => 'C',
                    ChangeKind::Added => 'A',
                    ChangeKind::Deleted => 'D',
                };
                format!("{letter} {}", c.path.display())
            })
            .collect()
    }

    #[test]
    fn added_modified_and_copied_up_paths_as_moby_reports_them() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        for d in [&lower, &upper] {
            std::fs::create_dir_all(d.join("etc/ssl")).unwrap();
        }
        std::fs::write(lower.join("etc/hosts"), "lower").unwrap();
        std::fs::write(lower.join("etc/ssl/cert"), "c").unwrap();
        std::fs::write(upper.join("etc/hosts"), "changed").unwrap();
        std::fs::write(upper.join("new"), "n").unwrap();
        // A link to the host's root is reported, never followed.
        std::os::unix::fs::symlink("/", upper.join("etc/ssl/escape")).unwrap();
        // Copied-up directories keep the lower's mode and times.
        for d in ["etc", "etc/ssl"] {
            let m = std::fs::metadata(lower.join(d)).unwrap();
            std::fs::File::open(upper.join(d))
                .unwrap()
                .set_modified(m.modified().unwrap())
                .unwrap();
        }
        let changes = collect(&dir(&upper), &[dir(&lower)]).unwrap();
        assert_eq!(
            shown(&changes),
            ["C /etc/hosts", "C /etc/ssl", "A /etc/ssl/escape", "A /new"]
        );
    }

    #[test]
    fn a_path_behind_a_lower_link_is_not_looked_up_through_it() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(&lower).unwrap();
        std::fs::create_dir_all(upper.join("tmp")).unwrap();
        // In the lower layer /tmp is a link to the host's /tmp, which has
        // the directory `t` names: overlayfs would not follow it, nor may we.
        std::os::unix::fs::symlink(t.path(), lower.join("tmp")).unwrap();
        std::fs::create_dir(upper.join("tmp/upper")).unwrap();
        let changes = collect(&dir(&upper), &[dir(&lower)]).unwrap();
        assert_eq!(shown(&changes), ["C /tmp", "A /tmp/upper"]);
    }

    #[test]
    fn berths_mount_points_are_not_the_containers_changes() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        for stub in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            std::fs::write(upper.join(stub), "").unwrap();
        }
        // /etc's mtime moved only because the stubs were made in it.
        let changes = collect(&dir(&upper), &[dir(&lower)]).unwrap();
        assert_eq!(shown(&changes), Vec::<String>::new());
        // A real change in /etc reports /etc too.
        std::fs::write(upper.join("etc/motd"), "hi").unwrap();
        let changes = collect(&dir(&upper), &[dir(&lower)]).unwrap();
        assert_eq!(shown(&changes), ["C /etc", "A /etc/motd"]);
    }

    #[test]
    fn a_deep_tree_is_walked_without_recursion() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(&lower).unwrap();
        let mut deep = upper.clone();
        for _ in 0..300 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        let changes = collect(&dir(&upper), &[dir(&lower)]).unwrap();
        assert_eq!(changes.len(), 300);
        assert!(changes.iter().all(|c| c.kind == ChangeKind::Added));
    }
}
