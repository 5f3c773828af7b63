//! v2 memory controller ("Memory" in cgroup-v2.rst).

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::MemoryStats;

/// `-1` is "max" in v2 files.
fn limit_value(value: i64) -> String {
    if value == -1 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

/// Converts OCI `swap` to `memory.swap.max`.
///
/// OCI (like Docker's `--memory-swap`) means memory **plus** swap, the v1
/// `memsw` semantics; v2 limits swap alone, so `swap.max = swap - memory`.
/// Same rules as runc's `ConvertMemorySwapToCgroupV2Value`: -1 is
/// unlimited; a swap limit needs a memory limit; swap below memory is an
/// error. Returns `None` when nothing is to be written.
pub(crate) fn swap_max(limit: i64, swap: i64) -> Result<Option<String>> {
    let invalid = |reason: String| CgroupError::InvalidResource {
        resource: "memory.swap",
        reason,
    };
    match (limit, swap) {
        (_, 0) if limit == -1 => Ok(Some("max".to_string())),
        (_, 0) => Ok(None),
        (_, -1) => Ok(Some("max".to_string())),
        (0 | -1, _) => Err(invalid(format!(
            "a memory+swap limit ({swap}) needs a memory limit"
        ))),
        (limit, swap) if swap < limit => Err(invalid(format!(
            "memory+swap limit {swap} is below the memory limit {limit}"
        ))),
        (limit, swap) => Ok(Some((swap - limit).to_string())),
    }
}

/// The `(file, value)` writes for `memory`, in order.
pub(super) fn plan(memory: &LinuxMemory) -> Result<Vec<(&'static str, String)>> {
    common::validate_memory_values(memory)?;
    if memory.swappiness().is_some() {
        // v2 has no per-cgroup swappiness knob.
        return Err(CgroupError::Unsupported {
            what: "memory.swappiness",
            version: "cgroup v2",
        });
    }
    if memory.disable_oom_killer() == Some(true) {
        return Err(CgroupError::Unsupported {
            what: "disableOOMKiller",
            version: "cgroup v2",
        });
    }
    let limit = memory.limit().unwrap_or(0);
    let mut writes = Vec::new();
    // swap.max first: when both shrink the order does not matter in v2
    // (the two limits are independent), but a failure on the swap file
    // (no swap accounting) then leaves memory.max untouched.
    if let Some(value) = swap_max(limit, memory.swap().unwrap_or(0))? {
        writes.push(("memory.swap.max", value));
    }
    if limit != 0 {
        writes.push(("memory.max", limit_value(limit)));
    }
    if let Some(reservation) = memory.reservation().filter(|&r| r != 0) {
        writes.push(("memory.low", limit_value(reservation)));
    }
    Ok(writes)
}

pub(super) fn stats(dir: &Path) -> Result<MemoryStats> {
    let stat = common::read_flat_keyed(&dir.join("memory.stat"))?;
    let events = common::read_flat_keyed(&dir.join("memory.events"))?;
    let max_usage = common::read_optional_u64(&dir.join("memory.peak"))?.unwrap_or(0);
    let swap_usage = common::read_optional_u64(&dir.join("memory.swap.current"))?;
    Ok(MemoryStats {
        usage: common::read_u64(&dir.join("memory.current"))?,
        max_usage,
        limit: common::read_u64_or_max(&dir.join("memory.max"))?,
        cache: stat.get("file").copied().unwrap_or(0),
        failcnt: events.get("max").copied().unwrap_or(0),
        swap_usage,
        stat,
    })
}

/// `oom_kill` from `memory.events` (hierarchical: includes descendants).
pub(super) fn oom_kill_count(dir: &Path) -> Result<u64> {
    common::read_counter(
        &dir.join("memory.events"),
        "oom_kill",
        "no oom_kill counter",
    )
}
