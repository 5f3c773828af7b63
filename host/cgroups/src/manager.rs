//! The one trait every cgroup version implements, and the enum that
//! dispatches over the closed set of versions.

use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::common::FreezerState;
use crate::error::Result;
use crate::mountinfo::CgroupSetup;
use crate::path::{CgroupsPath, OwnCgroups};
use crate::stats::Stats;
use crate::{v1, v2};

/// Operations on one container's cgroup, whatever the cgroup version.
///
/// All methods are synchronous and touch only cgroupfs files below the
/// manager's directories.
pub trait CgroupManager {
    /// Creates the cgroup directory in every hierarchy (with its missing
    /// parents), preparing parents as the version requires (v1 cpuset
    /// inheritance, v2 `cgroup.subtree_control`). Idempotent.
    fn create(&self) -> Result<()>;

    /// Moves process `pid` (with all its threads) into the cgroup by
    /// writing it to `cgroup.procs` in every hierarchy.
    fn add_task(&self, pid: Pid) -> Result<()>;

    /// The files a single-threaded process writes `0` to, each, to move
    /// *itself* into the cgroup; `None` where the version has no such
    /// file (v2's `cgroup.threads` needs a threaded subtree).
    ///
    /// Why: moving another process ([`CgroupManager::add_task`]) takes the
    /// kernel's global `cgroup_threadgroup_rwsem` for writing, which waits
    /// for an RCU grace period (10-20 ms on a loaded host) on the first
    /// write of a burst; moving the calling thread (`0` to v1's `tasks`)
    /// skips that lock (kernel/cgroup/cgroup.c, `cgroup_procs_write_start`:
    /// "If we migrate a single thread, we don't care about threadgroup
    /// stability ... we can skip the global lock"). For a process of one
    /// thread, moving its thread moves the process.
    fn self_join_files(&self) -> Option<Vec<PathBuf>>;

    /// Applies the OCI resource limits. Fields left unset (and, as in runc,
    /// numeric fields set to 0) are not touched.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;

    /// Freezes or thaws every task in the cgroup and waits until the kernel
    /// reports the state reached.
    fn freeze(&self, state: FreezerState) -> Result<()>;

    /// The freezer's current state.
    fn freezer_state(&self) -> Result<FreezerState>;

    /// Every process in the cgroup and its descendants, sorted.
    fn pids(&self) -> Result<Vec<Pid>>;

    /// Resource usage for `docker stats`.
    fn stats(&self) -> Result<Stats>;

    /// How many processes the kernel's OOM killer killed in this cgroup
    /// (kernel ≥ 4.13 on v1). A monitor compares it before and after the
    /// container's exit to tell whether the container was OOM-killed.
    fn oom_kill_count(&self) -> Result<u64>;

    /// Removes the cgroup (and any child cgroups) from every hierarchy,
    /// retrying briefly while the last tasks exit. Removing a cgroup that
    /// does not exist succeeds.
    fn remove(&self) -> Result<()>;

    /// The cgroup's directories, one per hierarchy (deduplicated).
    fn dirs(&self) -> Vec<PathBuf>;
}

/// Dispatch over the cgroup versions.
#[derive(Debug, Clone)]
pub enum AnyCgroupManager {
    /// cgroup v1 (also used on hybrid hosts).
    V1(v1::V1Manager),
    /// cgroup v2.
    V2(v2::V2Manager),
}

impl AnyCgroupManager {
    /// The manager for the OCI `cgroupsPath` `path` on this host: detects
    /// the layout once from `/proc/self/mountinfo` and resolves a relative
    /// path against `/proc/self/cgroup`. Creates nothing.
    pub fn for_path(path: &Path) -> Result<AnyCgroupManager> {
        let setup = CgroupSetup::detect()?;
        let path = CgroupsPath::parse(&path.to_string_lossy())?;
        let own = match path {
            CgroupsPath::Absolute(_) => OwnCgroups::default(),
            CgroupsPath::Relative(_) => OwnCgroups::from_proc_self()?,
        };
        AnyCgroupManager::new(setup, &path, &own)
    }

    /// The manager for `path` in an explicit layout (fixture trees in tests,
    /// or a caller that already read its own cgroups).
    pub fn new(
        setup: &CgroupSetup,
        path: &CgroupsPath,
        own: &OwnCgroups,
    ) -> Result<AnyCgroupManager> {
        Ok(match setup {
            CgroupSetup::Legacy { controllers, .. } => {
                AnyCgroupManager::V1(v1::V1Manager::new(controllers, path, own)?)
            }
            CgroupSetup::Unified(mount) => {
                AnyCgroupManager::V2(v2::V2Manager::new(mount, path, own)?)
            }
        })
    }

    fn inner(&self) -> &dyn CgroupManager {
        match self {
            AnyCgroupManager::V1(m) => m,
            AnyCgroupManager::V2(m) => m,
        }
    }
}

impl CgroupManager for AnyCgroupManager {
    fn create(&self) -> Result<()> {
        self.inner().create()
    }
    fn add_task(&self, pid: Pid) -> Result<()> {
        self.inner().add_task(pid)
    }
    fn self_join_files(&self) -> Option<Vec<PathBuf>> {
        self.inner().self_join_files()
    }
    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.inner().apply(resources)
    }
    fn freeze(&self, state: FreezerState) -> Result<()> {
        self.inner().freeze(state)
    }
    fn freezer_state(&self) -> Result<FreezerState> {
        self.inner().freezer_state()
    }
    fn pids(&self) -> Result<Vec<Pid>> {
        self.inner().pids()
    }
    fn stats(&self) -> Result<Stats> {
        self.inner().stats()
    }
    fn oom_kill_count(&self) -> Result<u64> {
        self.inner().oom_kill_count()
    }
    fn remove(&self) -> Result<()> {
        self.inner().remove()
    }
    fn dirs(&self) -> Vec<PathBuf> {
        self.inner().dirs()
    }
}
