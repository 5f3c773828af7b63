//! `GET /containers/{id}/stats` (moby `api/types/container/stats.go`,
//! `StatsResponse`): one JSON object per sample. Field names, and which of
//! them Go's `omitempty` drops when zero, are moby's, because the docker
//! CLI and the SDKs decode exactly these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Go's zero `time.Time` as its JSON encoder prints it: what moby sends as
/// `read` and `preread` when there is no sample (a stopped container, or
/// the first sample's `preread`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn zero_time() -> String {
    ZERO_TIME.to_owned()
}

/// One stats sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// The container's name, with moby's leading `/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The container's id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// When this sample was read (RFC 3339, nanoseconds).
    #[serde(default = "zero_time")]
    pub read: String,
    /// When the previous sample (`precpu_stats`) was read.
    #[serde(default = "zero_time")]
    pub preread: String,
    /// Tasks in the container.
    #[serde(default)]
    pub pids_stats: PidsStats,
    /// Block I/O per device.
    #[serde(default)]
    pub blkio_stats: BlkioStats,
    /// Windows only; 0 on Linux, as moby sends it.
    #[serde(default)]
    pub num_procs: u32,
    /// Windows only; empty on Linux.
    #[serde(default)]
    pub storage_stats: StorageStats,
    /// CPU time now.
    #[serde(default)]
    pub cpu_stats: CpuStats,
    /// CPU time at the previous sample: the CLI's CPU % is the delta.
    #[serde(default)]
    pub precpu_stats: CpuStats,
    /// Memory use.
    #[serde(default)]
    pub memory_stats: MemoryStats,
}

impl StatsResponse {
    /// moby's sample for a container that is not running: name and id, and
    /// every counter zero.
    pub fn zeroed(name: &str, id: &str) -> StatsResponse {
        StatsResponse {
            name: name.to_owned(),
            id: id.to_owned(),
            read: zero_time(),
            preread: zero_time(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            num_procs: 0,
            storage_stats: StorageStats::default(),
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
        }
    }
}

/// `pids_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Tasks now.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit; 0 (absent) when unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// `blkio_stats`: moby sends every list, `null` when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes per device and operation.
    #[serde(default)]
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    /// Operations per device and operation.
    #[serde(default)]
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only (kernels before 5.0).
    #[serde(default)]
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only.
    #[serde(default)]
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only.
    #[serde(default)]
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only.
    #[serde(default)]
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only.
    #[serde(default)]
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// CFQ only.
    #[serde(default)]
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// One device counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStatEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, ... (v1) or `read`, `write` (v2).
    pub op: String,
    /// The count.
    pub value: u64,
}

/// `storage_stats` (Windows only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    /// Reads.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read_count_normalized: u64,
    /// Bytes read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read_size_bytes: u64,
    /// Writes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub write_count_normalized: u64,
    /// Bytes written.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub write_size_bytes: u64,
}

/// `cpu_stats` / `precpu_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// The container's CPU time.
    #[serde(default)]
    pub cpu_usage: CpuUsage,
    /// The host's CPU time, ns.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    /// CPUs online.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    /// CFS throttling.
    #[serde(default)]
    pub throttling_data: ThrottlingData,
}

/// `cpu_usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total CPU time, ns.
    #[serde(default)]
    pub total_usage: u64,
    /// Per-CPU time, ns (cgroup v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    /// Kernel-mode time, ns.
    #[serde(default)]
    pub usage_in_kernelmode: u64,
    /// User-mode time, ns.
    #[serde(default)]
    pub usage_in_usermode: u64,
}

/// `throttling_data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottlingData {
    /// Enforcement periods.
    #[serde(default)]
    pub periods: u64,
    /// Periods throttled.
    #[serde(default)]
    pub throttled_periods: u64,
    /// Time throttled, ns.
    #[serde(default)]
    pub throttled_time: u64,
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Usage, page cache included.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (cgroup v1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_usage: u64,
    /// The raw `memory.stat` counters (the CLI subtracts
    /// `total_inactive_file` on v1, `inactive_file` on v2, from `usage`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    /// Times the limit was hit (cgroup v1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failcnt: u64,
    /// The limit, or the host's memory when there is none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zeroed_sample_is_what_moby_sends_for_a_stopped_container() {
        let json = serde_json::to_value(StatsResponse::zeroed("/web", "abc")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "/web",
                "id": "abc",
                "read": "0001-01-01T00:00:00Z",
                "preread": "0001-01-01T00:00:00Z",
                "pids_stats": {},
                "blkio_stats": {
                    "io_service_bytes_recursive": null,
                    "io_serviced_recursive": null,
                    "io_queue_recursive": null,
                    "io_service_time_recursive": null,
                    "io_wait_time_recursive": null,
                    "io_merged_recursive": null,
                    "io_time_recursive": null,
                    "sectors_recursive": null
                },
                "num_procs": 0,
                "storage_stats": {},
                "cpu_stats": {
                    "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                    "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
                },
                "precpu_stats": {
                    "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                    "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
                },
                "memory_stats": {}
            })
        );
    }
}
