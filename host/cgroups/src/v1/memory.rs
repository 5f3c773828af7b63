//! v1 memory controller (Documentation/admin-guide/cgroup-v1/memory.rst).

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::{MemoryStats, v1_limit};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

/// Checks the values before anything is written.
pub(super) fn validate(memory: &LinuxMemory) -> Result<()> {
    common::validate_memory_values(memory)?;
    if let (Some(limit), Some(swap)) = (memory.limit(), memory.swap())
        && limit > 0
        && swap > 0
        && swap < limit
    {
        // OCI swap is memory+swap (v1 memsw semantics): it cannot be below
        // the memory limit.
        return Err(CgroupError::InvalidResource {
            resource: "memory.swap",
            reason: format!("memory+swap limit {swap} is below the memory limit {limit}"),
        });
    }
    if let Some(swappiness) = memory.swappiness()
        && swappiness > 100
    {
        return Err(CgroupError::InvalidResource {
            resource: "memory.swappiness",
            reason: format!("{swappiness} is above 100"),
        });
    }
    Ok(())
}

/// Whether any field asks for a change (so an empty `memory` object does
/// not require the controller).
pub(super) fn wants_changes(memory: &LinuxMemory) -> bool {
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
    set(memory.limit())
        || set(memory.reservation())
        || set(memory.swap())
        || set(memory.kernel_tcp())
        || memory.swappiness().is_some()
        || memory.disable_oom_killer() == Some(true)
}

/// Writes the limits. 0 means "leave as is", like runc (Docker sends 0 for
/// unset fields); -1 means unlimited.
pub(super) fn apply(dir: &Path, memory: &LinuxMemory) -> Result<()> {
    let limit = memory.limit().unwrap_or(0);
    let mut swap = memory.swap().unwrap_or(0);
    // Lifting the memory limit without a word on swap lifts swap too,
    // otherwise the old memsw limit would keep capping memory.
    if limit == -1 && swap == 0 {
        swap = -1;
    }
    let memsw = dir.join(MEMSW_LIMIT);
    if swap != 0 && !memsw.exists() {
        if swap > 0 {
            return Err(CgroupError::SwapAccountingUnavailable { path: memsw });
        }
        // Unlimited swap without swap accounting is what we already have.
        swap = 0;
    }
    if swap != 0 {
        // The kernel keeps memsw >= memory at all times: when the memory
        // limit grows, raise memsw first; when it shrinks, lower memory
        // first.
        let current = common::read_u64(&dir.join(LIMIT))?;
        let growing = limit == -1 || (limit > 0 && limit as u64 > current);
        if growing {
            common::write(&memsw, swap)?;
            if limit != 0 {
                common::write(&dir.join(LIMIT), limit)?;
            }
        } else {
            if limit != 0 {
                common::write(&dir.join(LIMIT), limit)?;
            }
            common::write(&memsw, swap)?;
        }
    } else if limit != 0 {
        common::write(&dir.join(LIMIT), limit)?;
    }
    if let Some(reservation) = memory.reservation()
        && reservation != 0
    {
        common::write(&dir.join("memory.soft_limit_in_bytes"), reservation)?;
    }
    if let Some(kernel_tcp) = memory.kernel_tcp()
        && kernel_tcp != 0
    {
        common::write(&dir.join("memory.kmem.tcp.limit_in_bytes"), kernel_tcp)?;
    }
    #[allow(deprecated)]
    if memory.kernel().is_some_and(|k| k != 0) {
        // Kernel memory limits were removed from the kernel (5.4 deprecated,
        // 6.x gone) and runc ignores them too.
        tracing::warn!("ignoring linux.resources.memory.kernel: kernel memory limits are obsolete");
    }
    if let Some(swappiness) = memory.swappiness() {
        common::write(&dir.join("memory.swappiness"), swappiness)?;
    }
    if memory.disable_oom_killer() == Some(true) {
        common::write(&dir.join("memory.oom_control"), 1)?;
    }
    Ok(())
}

/// Usage, limit and `memory.stat` counters.
pub(super) fn stats(dir: &Path) -> Result<MemoryStats> {
    let stat = common::read_flat_keyed(&dir.join("memory.stat"))?;
    let usage = common::read_u64(&dir.join("memory.usage_in_bytes"))?;
    let swap_usage = common::read_optional_u64(&dir.join("memory.memsw.usage_in_bytes"))?
        .map(|memsw| memsw.saturating_sub(usage));
    Ok(MemoryStats {
        usage,
        max_usage: common::read_u64(&dir.join("memory.max_usage_in_bytes"))?,
        limit: v1_limit(common::read_u64(&dir.join(LIMIT))?),
        // `total_cache` includes descendants (use_hierarchy is always on in
        // current kernels); fall back to the local counter.
        cache: stat
            .get("total_cache")
            .or_else(|| stat.get("cache"))
            .copied()
            .unwrap_or(0),
        failcnt: common::read_u64(&dir.join("memory.failcnt"))?,
        swap_usage,
        stat,
    })
}

/// The `oom_kill` counter of `memory.oom_control` (kernel ≥ 4.13).
pub(super) fn oom_kill_count(dir: &Path) -> Result<u64> {
    common::read_counter(
        &dir.join("memory.oom_control"),
        "oom_kill",
        "no oom_kill counter (the kernel is older than 4.13)",
    )
}
