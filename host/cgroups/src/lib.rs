//! berth-cgroups: a container's cgroup on cgroup v1 (legacy and hybrid
//! hosts) and v2 (unified hosts), behind one trait.
//!
//! ```no_run
//! use berth_cgroups::{AnyCgroupManager, CgroupManager, FreezerState};
//! # fn demo(resources: &oci_spec::runtime::LinuxResources, pid: nix::unistd::Pid)
//! # -> Result<(), berth_cgroups::CgroupError> {
//! let cgroup = AnyCgroupManager::for_path("/berth/abc".as_ref())?;
//! cgroup.create()?;
//! cgroup.apply(resources)?;
//! cgroup.add_task(pid)?;
//! cgroup.freeze(FreezerState::Frozen)?;
//! let oom_kills = cgroup.oom_kill_count()?;
//! cgroup.remove()?;
//! # let _ = oom_kills; Ok(()) }
//! ```
//!
//! Layout: [`CgroupSetup`] detects unified / legacy / hybrid from the mount
//! table once; [`CgroupsPath`] validates the OCI `cgroupsPath`;
//! [`AnyCgroupManager`] dispatches to [`v1::V1Manager`] or
//! [`v2::V2Manager`], each split by controller. All kernel interaction is
//! plain file I/O below a configurable root, so unit tests run against
//! fixture directory trees.

mod common;
mod error;
mod manager;
mod mountinfo;
mod path;
mod stats;
pub mod v1;
pub mod v2;

pub use common::{Controller, DEFAULT_CGROUP_ROOT, FreezerState};
pub use error::CgroupError;
pub use manager::{AnyCgroupManager, CgroupManager};
pub use mountinfo::{CgroupMode, CgroupSetup, Mount};
pub use path::{CgroupsPath, OwnCgroups};
pub use stats::{CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, ThrottlingData};
pub use v2::shares_to_weight;
