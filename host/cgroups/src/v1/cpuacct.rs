//! v1 cpuacct controller (Documentation/admin-guide/cgroup-v1/cpuacct.rst).

use std::path::Path;

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::CpuUsage;

/// Total, per-CPU, user and system CPU time in ns.
pub(super) fn usage(dir: &Path) -> Result<CpuUsage> {
    let percpu_path = dir.join("cpuacct.usage_percpu");
    let percpu_text = common::read(&percpu_path)?;
    let percpu_usage = percpu_text
        .split_whitespace()
        .map(|v| common::parse_u64(&percpu_path, v))
        .collect::<Result<Vec<u64>>>()?;
    // cpuacct.usage_user/usage_sys (kernel ≥ 4.7) are in ns; cpuacct.stat is
    // in USER_HZ ticks and is the fallback.
    let user = common::read_optional_u64(&dir.join("cpuacct.usage_user"))?;
    let sys = common::read_optional_u64(&dir.join("cpuacct.usage_sys"))?;
    let (usage_in_usermode, usage_in_kernelmode) = match (user, sys) {
        (Some(user), Some(sys)) => (user, sys),
        _ => {
            let path = dir.join("cpuacct.stat");
            let stat = common::read_flat_keyed(&path)?;
            let ns_per_tick = ns_per_clock_tick(&path)?;
            (
                stat.get("user").copied().unwrap_or(0) * ns_per_tick,
                stat.get("system").copied().unwrap_or(0) * ns_per_tick,
            )
        }
    };
    Ok(CpuUsage {
        total_usage: common::read_u64(&dir.join("cpuacct.usage"))?,
        percpu_usage,
        usage_in_kernelmode,
        usage_in_usermode,
    })
}

fn ns_per_clock_tick(path: &Path) -> Result<u64> {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => Ok(1_000_000_000 / hz as u64),
        _ => Err(CgroupError::Parse {
            path: path.to_path_buf(),
            content: String::new(),
            reason: "sysconf(_SC_CLK_TCK) gave no tick rate to convert USER_HZ ticks".to_string(),
        }),
    }
}
