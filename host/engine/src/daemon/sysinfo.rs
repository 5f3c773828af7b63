//! What the host offers containers (moby `pkg/sysinfo`): probed once by
//! berthd at start, consulted when a container is created. A setting the
//! host cannot honour becomes a warning in the create answer (swap) or an
//! error naming the problem (cpusets, rlimits, OOM score), with dockerd's
//! messages where dockerd has one, instead of a container that fails to
//! start.

use std::collections::BTreeMap;

pub use berth_model::host::CgroupFeatures;

/// The host's capabilities as far as container settings go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysInfo {
    /// What the host's cgroups offer (the exec driver probes them); `cpus`
    /// and `mems` are what containers may be pinned to (`0-1`, `0`).
    pub cgroups: CgroupFeatures,
    /// Number of CPUs (`NanoCpus` range).
    pub ncpu: u64,
    /// Whether the daemon (and so a container's init, before it drops its
    /// capabilities) holds `CAP_SYS_RESOURCE`. Without it the kernel
    /// refuses to raise a hard rlimit and to lower `oom_score_adj` below
    /// the daemon's own (proc(5), setrlimit(2)).
    pub cap_sys_resource: bool,
    /// The daemon's `oom_score_adj`, which containers inherit.
    pub oom_score_adj: i64,
    /// The daemon's hard rlimits by Docker's ulimit name (`nofile`); absent
    /// ones are unlimited.
    pub hard_rlimits: BTreeMap<String, u64>,
    /// `CgroupnsMode` of a container that does not choose (dockerd's
    /// `--default-cgroupns-mode`): `private` on cgroup v2 hosts, `host` on
    /// v1, as dockerd does.
    pub default_cgroupns_mode: CgroupnsMode,
}

/// The model's mode: one definition for the create request, the daemon's
/// default and the exec driver.
pub use berth_model::container::CgroupnsMode;

impl Default for SysInfo {
    /// A host that offers everything, with the CPUs of this machine.
    fn default() -> SysInfo {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let cpus = if ncpu > 1 {
            format!("0-{}", ncpu - 1)
        } else {
            "0".to_owned()
        };
        SysInfo {
            cgroups: CgroupFeatures::all(cpus, "0".to_owned()),
            ncpu,
            cap_sys_resource: true,
            oom_score_adj: 0,
            hard_rlimits: BTreeMap::new(),
            default_cgroupns_mode: CgroupnsMode::Private,
        }
    }
}

/// The cpuset list syntax is the model's ([`berth_model::container::Cpu`]
/// checks it); the engine compares lists with the host's.
pub use berth_model::container::resources::{MAX_CPUSET_MEMBER, parse_cpuset_list};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_offers_every_cpu() {
        let info = SysInfo::default();
        assert_eq!(
            parse_cpuset_list(&info.cgroups.cpus).map(|c| c.len() as u64),
            Some(info.ncpu)
        );
    }
}
