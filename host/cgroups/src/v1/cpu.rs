//! v1 cpu controller: CFS shares and bandwidth, RT bandwidth
//! (Documentation/scheduler/sched-design-CFS.rst, sched-bwc.rst,
//! sched-rt-group.rst).

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::ThrottlingData;

/// Whether the spec sets anything this controller owns (cpus/mems belong to
/// cpuset).
pub(super) fn wants_changes(cpu: &LinuxCpu) -> bool {
    cpu.shares().is_some_and(|s| s != 0)
        || cpu.quota().is_some_and(|q| q != 0)
        || cpu.period().is_some_and(|p| p != 0)
        || cpu.realtime_runtime().is_some_and(|r| r != 0)
        || cpu.realtime_period().is_some_and(|p| p != 0)
        || cpu.idle().is_some()
        || cpu.burst().is_some()
}

/// Writes the CPU limits; 0 leaves a value unchanged, as in runc.
pub(super) fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    if let Some(shares) = cpu.shares()
        && shares != 0
    {
        let path = dir.join("cpu.shares");
        common::write(&path, shares)?;
        // The kernel silently clamps shares to [2, 262144]; report it
        // instead of pretending the value was applied (runc does the same).
        let got = common::read(&path)?;
        if got.trim() != shares.to_string() {
            return Err(CgroupError::NotApplied {
                path,
                wanted: shares.to_string(),
                got: got.trim().to_string(),
            });
        }
    }
    let quota = cpu.quota().filter(|&q| q != 0);
    let period = cpu.period().filter(|&p| p != 0);
    let quota_path = dir.join("cpu.cfs_quota_us");
    let period_path = dir.join("cpu.cfs_period_us");
    let mut quota_written = false;
    if let Some(period) = period
        && let Err(e) = common::write(&period_path, period)
    {
        // A shorter period can be refused while the current quota is
        // larger than the new total bandwidth allows: set the quota first
        // and retry.
        match (quota, &e) {
            (Some(quota), CgroupError::Write { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) =>
            {
                common::write(&quota_path, quota)?;
                quota_written = true;
                common::write(&period_path, period)?;
            }
            _ => return Err(e),
        }
    }
    if let Some(quota) = quota
        && !quota_written
    {
        common::write(&quota_path, quota)?;
    }
    if let Some(burst) = cpu.burst() {
        common::write(&dir.join("cpu.cfs_burst_us"), burst)?;
    }
    if let Some(idle) = cpu.idle() {
        common::write(&dir.join("cpu.idle"), idle)?;
    }
    // RT: the period must be set before a runtime that fits in it.
    if let Some(rt_period) = cpu.realtime_period().filter(|&p| p != 0) {
        common::write(&dir.join("cpu.rt_period_us"), rt_period)?;
    }
    if let Some(rt_runtime) = cpu.realtime_runtime().filter(|&r| r != 0) {
        common::write(&dir.join("cpu.rt_runtime_us"), rt_runtime)?;
    }
    Ok(())
}

/// CFS throttling counters from `cpu.stat`.
pub(super) fn throttling(dir: &Path) -> Result<ThrottlingData> {
    let stat = common::read_flat_keyed(&dir.join("cpu.stat"))?;
    let get = |key: &str| stat.get(key).copied().unwrap_or(0);
    Ok(ThrottlingData {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_time"),
    })
}
