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
//!
//! # Decisions
//!
//! - **Hybrid is v1**, as in runc: on a host with v1 controller hierarchies
//!   and a controller-less cgroup2 mount, the container's cgroup is created
//!   in the v1 hierarchies `cpu`, `cpuacct`, `cpuset`, `memory`, `devices`,
//!   `freezer`, `pids` and `blkio` (co-mounted ones share a directory);
//!   `hugetlb`, `net_cls`, `perf_event` and `name=systemd` are not joined.
//! - **Values**: as in runc, numeric limits set to 0 are "leave as is" and
//!   -1 is "unlimited"; `pids.limit` below 0 is `max`.
//! - **v2 translations**: `cpu.shares` → `cpu.weight` with runc's linear
//!   formula ([`shares_to_weight`]); OCI `swap` (memory+swap, v1
//!   semantics) → `memory.swap.max = swap - memory`.
//! - **v2 devices** are enforced with a `BPF_PROG_TYPE_CGROUP_DEVICE`
//!   program generated from the rules, like runc and crun
//!   ([`v2`] module docs give the rule semantics).
//! - **Refused, not ignored**: v1-only knobs on v2 (`swappiness`,
//!   `disableOOMKiller`, realtime CPU), `unified` on v1, a swap limit
//!   without kernel swap accounting, and `cpu.shares` the kernel clamped.
//! - **Block I/O weight** as runc writes it: `blkio.weight` or
//!   `blkio.bfq.weight` on v1, `io.bfq.weight` or `io.weight` (scaled) on
//!   v2; refused on a kernel with none of them.
//! - **Not applied** (logged with `tracing::warn!`): the rest of `blockIO`
//!   (per-device weights, throttling), `hugepageLimits`, `network`, `rdma`.

// unsafe_code is denied workspace-wide; this crate loads the cgroup v2 device
// filter, an eBPF program, with bpf(2) (no safe wrapper in our dependencies)
// and takes ownership of the fd it returns (v2/devices.rs).
#![allow(unsafe_code)]
#![warn(missing_docs)]

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
pub use mountinfo::{CgroupMode, CgroupMount, CgroupSetup, Mount, cgroup_mounts};
pub use path::{CgroupsPath, OwnCgroups};
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, ThrottlingData,
};
pub use v2::shares_to_weight;
