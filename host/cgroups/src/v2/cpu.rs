//! v2 cpu and cpuset controllers ("CPU" and "Cpuset" in cgroup-v2.rst).

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::{CpuStats, CpuUsage, ThrottlingData};

/// Converts v1 `cpu.shares` ([2, 262144], default 1024) to v2 `cpu.weight`
/// ([1, 10000], default 100) with runc's linear mapping
/// (`libcontainer/cgroups/utils.go` `ConvertCPUSharesToCgroupV2Value`):
///
/// `weight = 1 + (shares - 2) * 9999 / 262142`
///
/// so 2 → 1 and 262144 → 10000; the default 1024 maps to 39, not 100 (crun
/// 1.x used the same mapping; both kept it for compatibility). Shares
/// outside the v1 range are clamped into it first, as the v1 kernel would.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + (shares - 2) * 9999 / 262_142
}

/// The `(file, value)` writes for `cpu`, in order.
pub(super) fn plan(cpu: &LinuxCpu) -> Result<Vec<(&'static str, String)>> {
    if cpu.realtime_runtime().is_some_and(|r| r != 0)
        || cpu.realtime_period().is_some_and(|p| p != 0)
    {
        return Err(CgroupError::Unsupported {
            what: "realtime CPU bandwidth (cpu.rt_*)",
            version: "cgroup v2",
        });
    }
    let mut writes = Vec::new();
    if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
        writes.push(("cpu.weight", shares_to_weight(shares).to_string()));
    }
    let quota = cpu.quota().unwrap_or(0);
    let period = cpu.period().unwrap_or(0);
    if quota != 0 || period != 0 {
        // "$MAX $PERIOD"; a non-positive quota is "max" (no limit); an
        // omitted period keeps the current one.
        let mut value = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        if period != 0 {
            value.push_str(&format!(" {period}"));
        }
        writes.push(("cpu.max", value));
    }
    if let Some(burst) = cpu.burst() {
        writes.push(("cpu.max.burst", burst.to_string()));
    }
    if let Some(idle) = cpu.idle() {
        writes.push(("cpu.idle", idle.to_string()));
    }
    if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
        writes.push(("cpuset.cpus", cpus.to_string()));
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
        writes.push(("cpuset.mems", mems.to_string()));
    }
    Ok(writes)
}

/// `cpu.stat` (always present, even without the cpu controller enabled;
/// the throttling keys appear only with it).
pub(super) fn stats(dir: &Path) -> Result<CpuStats> {
    let stat = common::read_flat_keyed(&dir.join("cpu.stat"))?;
    let ns = |key: &str| stat.get(key).copied().unwrap_or(0) * 1000;
    Ok(CpuStats {
        usage: CpuUsage {
            total_usage: ns("usage_usec"),
            percpu_usage: Vec::new(),
            usage_in_kernelmode: ns("system_usec"),
            usage_in_usermode: ns("user_usec"),
        },
        throttling: ThrottlingData {
            periods: stat.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: ns("throttled_usec"),
        },
    })
}
