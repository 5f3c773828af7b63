//! Resource usage of a cgroup, shaped after the Docker Engine API's
//! `ContainerStats` (`GET /containers/{id}/stats`: `cpu_stats`,
//! `memory_stats`, `pids_stats`) so that `docker stats` can be served from it.
//! All times are nanoseconds, all sizes bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `docker stats` shows for one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory usage and limit.
    pub memory: MemoryStats,
    /// Number of tasks and their limit.
    pub pids: PidsStats,
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

/// v1 reports "no limit" as the largest page-aligned counter value
/// (`PAGE_COUNTER_MAX * PAGE_SIZE`, 0x7FFFFFFFFFFFF000 with 4 KiB pages,
/// 0x7FFFFFFFFFFF0000 with 64 KiB pages); anything from there up is "none".
pub(crate) fn v1_limit(value: u64) -> Option<u64> {
    (value < 0x7FFF_FFFF_FFFF_0000).then_some(value)
}
