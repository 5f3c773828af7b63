//! What both cgroup versions share: controller names, file access that
//! carries paths into errors, flat-keyed file parsing, directory removal.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::error::{CgroupError, Result};

/// Default mount point of the cgroup filesystems.
pub const DEFAULT_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup controllers (v1 "subsystems") berth manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// CPU scheduler weight, CFS bandwidth, RT bandwidth.
    Cpu,
    /// CPU accounting (a separate v1 hierarchy, folded into `cpu` in v2).
    CpuAcct,
    /// CPU and memory-node placement.
    Cpuset,
    /// Memory limits, accounting and OOM events.
    Memory,
    /// Device access control (v1 only; v2 uses an eBPF program).
    Devices,
    /// Freezing and thawing (v1 only; v2 uses `cgroup.freeze`).
    Freezer,
    /// Process-count limits.
    Pids,
    /// Block I/O weight and throttling (v1; `io` in v2). Joined like runc
    /// does, so that a weight set on the container's cgroup governs it.
    Blkio,
}

impl Controller {
    /// Every controller berth manages, in the order limits are applied.
    pub const ALL: [Controller; 8] = [
        Controller::Cpu,
        Controller::CpuAcct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Devices,
        Controller::Freezer,
        Controller::Pids,
        Controller::Blkio,
    ];

    /// The kernel's name for the controller (mount option in v1, token in
    /// `cgroup.controllers` in v2).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::CpuAcct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Devices => "devices",
            Controller::Freezer => "freezer",
            Controller::Pids => "pids",
            Controller::Blkio => "blkio",
        }
    }

    /// The controller named `name`, if berth manages it.
    pub fn from_name(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// State of a cgroup's freezer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    /// Every task in the cgroup (and its descendants) is stopped.
    Frozen,
    /// Tasks run normally.
    Thawed,
}

/// How long a freeze or thaw may take before it is reported as failed.
/// runc uses a similar bound; a cgroup with a task stuck in an
/// uninterruptible sleep may never finish freezing.
pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `remove` retries `rmdir` while the kernel still reports
/// `EBUSY` (the last tasks are exiting and their css is not released yet).
pub(crate) const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads a whole cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a cgroup file if it exists (optional kernel features).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(content) => Ok(Some(content)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `value` to an existing cgroup file in a single `write(2)`.
///
/// The file is never created: on cgroupfs every interface file exists as
/// soon as the directory does, so a missing file means a missing controller
/// or a kernel without the feature, which must be reported, not papered over
/// by creating a regular file (this also keeps fixture trees honest). Each
/// cgroupfs write is parsed by the kernel as one value, hence one
/// `write_all` of a complete buffer.
pub(crate) fn write(path: &Path, value: impl fmt::Display) -> Result<()> {
    let value = value.to_string();
    let outcome = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.as_bytes()));
    outcome.map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value,
        source,
    })
}

/// Parses a file holding one integer (e.g. `memory.usage_in_bytes`).
pub(crate) fn parse_u64(path: &Path, content: &str) -> Result<u64> {
    let trimmed = content.trim();
    trimmed.parse::<u64>().map_err(|e| CgroupError::Parse {
        path: path.to_path_buf(),
        content: trimmed.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a file holding one integer.
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    parse_u64(path, &read(path)?)
}

/// Reads a file holding one integer if it exists (optional kernel
/// features: `memory.peak`, `memory.swap.current`, ...).
pub(crate) fn read_optional_u64(path: &Path) -> Result<Option<u64>> {
    read_optional(path)?
        .map(|content| parse_u64(path, &content))
        .transpose()
}

/// Reads a file holding one integer or `max` (v2 limits, v1 `pids.max`);
/// `max` is `None`.
pub(crate) fn read_u64_or_max(path: &Path) -> Result<Option<u64>> {
    let content = read(path)?;
    // v2 `cpu.max`-like files are not handled here; only single values.
    if content.trim() == "max" {
        return Ok(None);
    }
    parse_u64(path, &content).map(Some)
}

/// Parses a flat-keyed file (`key value` per line: `memory.stat`,
/// `cpu.stat`, `memory.events`, `memory.oom_control`), see the kernel's
/// Documentation/admin-guide/cgroup-v2.rst "Interface Files".
pub(crate) fn parse_flat_keyed(path: &Path, content: &str) -> Result<BTreeMap<String, u64>> {
    let mut map = BTreeMap::new();
    for line in content.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(CgroupError::Parse {
                path: path.to_path_buf(),
                content: line.to_string(),
                reason: "expected `key value`".to_string(),
            });
        };
        let value = value.parse::<u64>().map_err(|e| CgroupError::Parse {
            path: path.to_path_buf(),
            content: line.to_string(),
            reason: e.to_string(),
        })?;
        map.insert(key.to_string(), value);
    }
    Ok(map)
}

/// A `MAJOR:MINOR` device number as cgroup files print it.
pub(crate) fn parse_device(device: &str) -> Option<(u64, u64)> {
    let (major, minor) = device.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Reads a flat-keyed file.
pub(crate) fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>> {
    parse_flat_keyed(path, &read(path)?)
}

/// Reads counter `key` of a flat-keyed file; its absence is an error that
/// says why it may be missing (`missing`).
pub(crate) fn read_counter(path: &Path, key: &str, missing: &str) -> Result<u64> {
    let content = read(path)?;
    let map = parse_flat_keyed(path, &content)?;
    map.get(key).copied().ok_or_else(|| CgroupError::Parse {
        path: path.to_path_buf(),
        content,
        reason: missing.to_string(),
    })
}

/// Refuses memory values that are neither a byte count nor -1 (OCI
/// config-linux.md "Memory": -1 is unlimited), in either version.
pub(crate) fn validate_memory_values(memory: &oci_spec::runtime::LinuxMemory) -> Result<()> {
    for (resource, value) in [
        ("memory.limit", memory.limit()),
        ("memory.reservation", memory.reservation()),
        ("memory.swap", memory.swap()),
    ] {
        if let Some(v) = value
            && v < -1
        {
            return Err(CgroupError::InvalidResource {
                resource,
                reason: format!("{v} is neither a byte count nor -1 (unlimited)"),
            });
        }
    }
    Ok(())
}

/// Parses `cgroup.procs` (one pid per line).
pub(crate) fn parse_pids(path: &Path, content: &str) -> Result<Vec<Pid>> {
    content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.trim()
                .parse::<i32>()
                .map(Pid::from_raw)
                .map_err(|e| CgroupError::Parse {
                    path: path.to_path_buf(),
                    content: line.to_string(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// The pids in `dir`'s `cgroup.procs` and in every descendant cgroup's,
/// sorted and de-duplicated (what `ps` inside a container needs).
pub(crate) fn pids_recursive(dir: &Path) -> Result<Vec<Pid>> {
    let mut pids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let procs = current.join("cgroup.procs");
        let content = match fs::read_to_string(&procs) {
            Ok(content) => content,
            // A child cgroup removed while we walk: its tasks are gone too.
            Err(e) if e.kind() == io::ErrorKind::NotFound && current != dir => continue,
            Err(source) => {
                return Err(CgroupError::Read {
                    path: procs,
                    source,
                });
            }
        };
        pids.extend(parse_pids(&procs, &content)?);
        stack.extend(child_dirs(&current)?);
    }
    pids.sort_by_key(|p| p.as_raw());
    pids.dedup();
    Ok(pids)
}

/// The sub-directories (child cgroups) of `dir`; none when `dir` is gone.
fn child_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::ReadDir {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CgroupError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            children.push(entry.path());
        }
    }
    Ok(children)
}

/// Creates `dir` and its missing parents. Existing directories are fine.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| CgroupError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Removes the cgroup `dir` and every descendant cgroup, deepest first.
///
/// A cgroup directory is removed with `rmdir(2)` even though it "contains"
/// interface files (cgroupfs allows that); it fails with `EBUSY` while tasks
/// remain, so we retry for a short while to let exiting tasks go, as runc
/// does. A directory that does not exist is already removed. `deadline`
/// bounds the retrying; callers removing several hierarchies share one.
pub(crate) fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    for child in child_dirs(dir)? {
        remove_tree(&child, deadline)?;
    }
    let mut delay = Duration::from_millis(5);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::RemoveDir {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Polls `check` until it reports the wanted state or [`FREEZE_TIMEOUT`]
/// passes; `check` returns `(done, last_state_text)`. `nudge` is called
/// between polls (v1 re-writes `FROZEN`, which makes the kernel retry tasks
/// that were not freezable on the first pass).
pub(crate) fn poll_until(
    path: &Path,
    wanted: &'static str,
    mut check: impl FnMut() -> Result<(bool, String)>,
    mut nudge: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    let mut delay = Duration::from_millis(1);
    loop {
        let (done, last) = check()?;
        if done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::FreezeTimeout {
                path: path.to_path_buf(),
                wanted,
                last,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
        nudge()?;
    }
}

/// Joins an absolute cgroup path (`/a/b`) under a hierarchy's mount point;
/// `Path::join` would replace the base with an absolute argument.
pub(crate) fn join_cgroup(mount: &Path, cgroup: &Path) -> PathBuf {
    let relative = cgroup.strip_prefix("/").unwrap_or(cgroup);
    if relative.as_os_str().is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(relative)
    }
}

/// Logs the resource sections berth does not apply, so that a spec using
/// them is not silently half-honoured without a trace.
pub(crate) fn warn_unapplied(resources: &oci_spec::runtime::LinuxResources) {
    // The weight is applied; per-device weights and throttling are not.
    let block_io_rest = resources.block_io().as_ref().is_some_and(|b| {
        b.leaf_weight().is_some()
            || b.weight_device().as_ref().is_some_and(|d| !d.is_empty())
            || b.throttle_read_bps_device()
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            || b.throttle_write_bps_device()
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            || b.throttle_read_iops_device()
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            || b.throttle_write_iops_device()
                .as_ref()
                .is_some_and(|d| !d.is_empty())
    });
    let ignored = [
        (
            "blockIO (per-device weights, leaf weight and throttling)",
            block_io_rest,
        ),
        ("hugepageLimits", resources.hugepage_limits().is_some()),
        ("network", resources.network().is_some()),
        ("rdma", resources.rdma().is_some()),
    ];
    for (section, present) in ignored {
        if present {
            tracing::warn!(section, "linux.resources section not applied by berth");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_parses_and_rejects_garbage() {
        let path = Path::new("memory.stat");
        let map = parse_flat_keyed(path, "cache 10\nrss 20\n\n").unwrap();
        assert_eq!(map["cache"], 10);
        assert_eq!(map["rss"], 20);
        let err = parse_flat_keyed(path, "cache ten\n").unwrap_err();
        assert!(err.to_string().contains("memory.stat"), "{err}");
        assert!(parse_flat_keyed(path, "a 1 2\n").is_err());
    }

    #[test]
    fn write_never_creates_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("memory.limit_in_bytes");
        let err = write(&missing, 5).unwrap_err();
        assert!(matches!(err, CgroupError::Write { .. }));
        assert!(!missing.exists());
        fs::write(&missing, "0123456789").unwrap();
        write(&missing, 5).unwrap();
        assert_eq!(fs::read_to_string(&missing).unwrap(), "5");
    }

    #[test]
    fn join_keeps_mount_for_absolute_paths() {
        let mount = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(
            join_cgroup(mount, Path::new("/a/b")),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
        assert_eq!(join_cgroup(mount, Path::new("/")), mount);
    }

    #[test]
    fn pids_are_collected_recursively() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cgroup.procs"), "3\n1\n").unwrap();
        let child = dir.path().join("child");
        fs::create_dir(&child).unwrap();
        fs::write(child.join("cgroup.procs"), "2\n3\n").unwrap();
        let pids = pids_recursive(dir.path()).unwrap();
        assert_eq!(
            pids,
            vec![Pid::from_raw(1), Pid::from_raw(2), Pid::from_raw(3)]
        );
    }

    #[test]
    fn remove_tree_removes_children_first_and_tolerates_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("cg");
        fs::create_dir_all(cg.join("a/b")).unwrap();
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        remove_tree(&cg, deadline).unwrap();
        assert!(!cg.exists());
        remove_tree(&cg, deadline).unwrap();
    }
}
