//! Resource usage of a container, shaped after the Docker Engine API's
//! `ContainerStats` (`GET /containers/{id}/stats`: `cpu_stats`,
//! `memory_stats`, `pids_stats`, `blkio_stats`) so that `docker stats` can
//! be served from it. All times are nanoseconds, all sizes bytes.
//!
//! [`Stats`] is what `berth-cgroups` reads from one cgroup (v1 or v2);
//! [`ResourceSample`] is what the exec driver hands the engine: a cgroup's
//! [`Stats`] with the host's CPU clock it is measured against. Defined here
//! once, below both the cgroup reader and the engine, so no seam copies
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One reading of a running container's resource usage, as the engine
/// turns it into a Docker stats sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// When it was read.
    pub read: Timestamp,
    /// The container's cgroup counters.
    pub stats: Stats,
    /// The host's CPU time across all CPUs, ns: the sum of the first seven
    /// fields of `/proc/stat`'s `cpu` line (moby `getSystemCPUUsage`). CPU %
    /// is the container's CPU time over this, between two samples.
    pub system_cpu_usage: u64,
    /// CPUs online (`cpuN` lines of `/proc/stat`, as moby counts them).
    pub online_cpus: u32,
    /// The host's memory (`MemTotal`), bytes: the limit moby reports for a
    /// container without one (its `machineMemory`).
    pub host_memory: u64,
}

/// Everything `docker stats` shows for one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory usage and limit.
    pub memory: MemoryStats,
    /// Number of tasks and their limit.
    pub pids: PidsStats,
    /// Block I/O per device.
    #[serde(default)]
    pub blkio: BlkioStats,
}

/// Block I/O per device (Docker `blkio_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes transferred per device and operation (v1
    /// `blkio[.throttle].io_service_bytes_recursive`: `Read`, `Write`,
    /// `Sync`, `Async`, `Discard`, `Total`; v2 `io.stat` `rbytes`/`wbytes`
    /// as `read`/`write`, as moby reports them).
    pub io_service_bytes: Vec<BlkioEntry>,
    /// Operations per device and operation (v1
    /// `blkio[.throttle].io_serviced_recursive`; v2 `rios`/`wios` as
    /// `read`/`write`).
    pub io_serviced: Vec<BlkioEntry>,
}

/// One counter of one block device (Docker `BlkioStatEntry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// The operation counted (`Read`, `write`, ...).
    pub op: String,
    /// The count.
    pub value: u64,
}

/// CPU accounting (Docker `cpu_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// CPU time consumed.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: ThrottlingData,
}

/// CPU time consumed by the cgroup (Docker `cpu_usage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total CPU time, ns (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec`).
    pub total_usage: u64,
    /// Per-CPU time, ns (v1 `cpuacct.usage_percpu`; empty on v2, as in
    /// Docker).
    pub percpu_usage: Vec<u64>,
    /// Time in kernel mode, ns.
    pub usage_in_kernelmode: u64,
    /// Time in user mode, ns.
    pub usage_in_usermode: u64,
}

/// CFS throttling (Docker `throttling_data`, from `cpu.stat`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottlingData {
    /// Enforcement periods elapsed (`nr_periods`).
    pub periods: u64,
    /// Periods in which the cgroup was throttled (`nr_throttled`).
    pub throttled_periods: u64,
    /// Total time throttled, ns (`throttled_time` v1, `throttled_usec` v2).
    pub throttled_time: u64,
}

/// Memory accounting (Docker `memory_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage including page cache (v1 `memory.usage_in_bytes`, v2
    /// `memory.current`).
    pub usage: u64,
    /// Peak usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak` where
    /// the kernel has it (≥ 5.19), else 0).
    pub max_usage: u64,
    /// Limit; `None` when unlimited (Docker then reports host memory).
    pub limit: Option<u64>,
    /// Page cache (v1 `total_cache`, v2 `file` from `memory.stat`).
    pub cache: u64,
    /// Times the limit was hit (v1 `memory.failcnt`, v2 `memory.events max`).
    pub failcnt: u64,
    /// Swap in use when the kernel accounts it (v1 memsw usage minus usage,
    /// v2 `memory.swap.current`).
    pub swap_usage: Option<u64>,
    /// The raw `memory.stat` counters, keyed as the kernel names them
    /// (Docker passes them through as `stats`).
    pub stat: BTreeMap<String, u64>,
}

/// Task accounting (Docker `pids_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Tasks in the cgroup (`pids.current`).
    pub current: u64,
    /// `pids.max`; `None` when unlimited.
    pub limit: Option<u64>,
}
