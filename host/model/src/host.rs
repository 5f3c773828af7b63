//! What the host offers containers, as the exec driver finds it and the
//! engine checks a request against it (and `info` reports it).

/// The cgroup features the host offers (Docker API `SystemInfo`:
/// `MemoryLimit`, `SwapLimit`, `CpuCfsPeriod`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFeatures {
    /// `1` (legacy and hybrid hosts) or `2` (unified).
    pub version: u8,
    /// The memory controller is there.
    pub memory_limit: bool,
    /// The kernel accounts swap: `memory.memsw.limit_in_bytes` on v1,
    /// `memory.swap.max` on v2 (absent with `swapaccount=0` or without
    /// `CONFIG_MEMCG_SWAP`).
    pub swap_limit: bool,
    /// `cpu.cfs_period_us` (v1) or `cpu.max` (v2).
    pub cpu_cfs_period: bool,
    /// `cpu.cfs_quota_us` (v1) or `cpu.max` (v2).
    pub cpu_cfs_quota: bool,
    /// `cpu.shares` (v1) or `cpu.weight` (v2).
    pub cpu_shares: bool,
    /// The cpuset controller is there.
    pub cpuset: bool,
    /// The pids controller is there.
    pub pids_limit: bool,
    /// A block I/O weight can be set: `blkio.weight` (CFQ) or
    /// `blkio.bfq.weight` (BFQ) on v1, `io.bfq.weight` or `io.weight` on v2
    /// (moby `sysinfo`'s `BlkioWeight`).
    pub blkio_weight: bool,
    /// CPUs of the root cpuset (`0-1`); empty when unknown.
    pub cpus: String,
    /// Memory nodes of the root cpuset (`0`); empty when unknown.
    pub mems: String,
}

impl CgroupFeatures {
    /// A host without cgroups: nothing can be limited.
    pub fn none() -> CgroupFeatures {
        CgroupFeatures {
            version: 1,
            memory_limit: false,
            swap_limit: false,
            cpu_cfs_period: false,
            cpu_cfs_quota: false,
            cpu_shares: false,
            cpuset: false,
            pids_limit: false,
            blkio_weight: false,
            cpus: String::new(),
            mems: String::new(),
        }
    }

    /// A cgroup v2 host that offers everything, with `cpus` and `mems` as
    /// its root cpuset.
    pub fn all(cpus: String, mems: String) -> CgroupFeatures {
        CgroupFeatures {
            version: 2,
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpuset: true,
            pids_limit: true,
            blkio_weight: true,
            cpus,
            mems,
        }
    }
}
