//! Resource settings of a create request (moby `daemon/daemon_unix.go`,
//! `verifyPlatformContainerResources` and `adaptContainerSettings`): what
//! cannot work is an error, what the kernel lacks a warning (and the setting
//! dropped) where dockerd warns, and every value the kernel would refuse when
//! the container starts is refused here, so that a container that was
//! created can start.

use berth_api::container::{DEFAULT_SHM_SIZE, HostConfig};

use berth_model::container::resources::MIN_NANO_CPUS;
use berth_model::container::{Cfs, Cpu, Memory, Resources, Rlimit};

use super::invalid;
use crate::daemon::sysinfo::{SysInfo, parse_cpuset_list};
use crate::job::JobError;

/// Docker's minimum memory limit (moby `daemon/daemon_unix.go`,
/// `linuxMinMemory`).
pub const MIN_MEMORY: i64 = berth_model::container::resources::MIN_MEMORY as i64;

/// The largest `pids.max` (`PID_MAX_LIMIT` on 64-bit kernels;
/// `kernel/cgroup/pids.c` refuses anything above).
const PIDS_MAX: i64 = 4 * 1024 * 1024;

/// The block I/O weight range of the API (moby `verifyPlatformContainerResources`),
/// which is the range of `blkio.weight` (cgroup-v1/blkio-controller.rst).
const BLKIO_WEIGHT: std::ops::RangeInclusive<u16> = 10..=1000;

/// The ulimit names Docker knows (go-units `ulimit.go`), each an
/// `RLIMIT_*` of setrlimit(2).
pub const ULIMIT_NAMES: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Warnings of [`ContainerSpec::warnings`] when the kernel lacks a
/// controller (moby `daemon/daemon_unix.go`, verbatim).
pub(super) mod warning {
    pub const MEMORY: &str = "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.";
    pub const SWAP: &str = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";
    pub const CPU_SHARES: &str =
        "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.";
    pub const CFS_PERIOD: &str = "Your kernel does not support CPU cfs period or the cgroup is not mounted. Period discarded.";
    pub const CFS_QUOTA: &str =
        "Your kernel does not support CPU cfs quota or the cgroup is not mounted. Quota discarded.";
    pub const CPUSET: &str =
        "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.";
    pub const PIDS: &str = "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.";
}

/// Checks and normalises the resource settings; returns the warnings.
pub(super) fn validate(host: &mut HostConfig, sys: &SysInfo) -> Result<Vec<String>, JobError> {
    let mut warnings = Vec::new();
    let mut warn = |w: &str| warnings.push(w.to_owned());
    validate_memory(host, sys, &mut warn)?;
    validate_cpu(host, sys, &mut warn)?;
    // Docker treats 0 and negative pids limits as unlimited.
    if host.pids_limit.is_some_and(|p| p <= 0) {
        host.pids_limit = None;
    }
    if host.pids_limit.is_some() && !sys.cgroups.pids_limit {
        warn(warning::PIDS);
        host.pids_limit = None;
    }
    if let Some(limit) = host.pids_limit
        && limit > PIDS_MAX
    {
        return Err(JobError::invalid(format!(
            "invalid PidsLimit {limit}: the kernel allows at most {PIDS_MAX} processes (0 or -1: unlimited)"
        )));
    }
    validate_blkio_weight(host.blkio_weight, sys)?;

    if host.shm_size < 0 {
        return Err(JobError::invalid("SHM size can not be less than 0"));
    }
    if host.shm_size == 0 {
        // moby `adaptContainerSettings`: inspect shows the size in effect.
        host.shm_size = DEFAULT_SHM_SIZE;
    }
    validate_oom_score_adj(host.oom_score_adj, sys)?;
    for ulimit in &host.ulimits {
        validate_ulimit(ulimit, sys)?;
    }
    Ok(warnings)
}

/// moby's range; where the kernel has no weight file dockerd warns and
/// drops the setting, berth refuses it: discarding would run the container
/// with another weight than it asked for.
fn validate_blkio_weight(weight: u16, sys: &SysInfo) -> Result<(), JobError> {
    if weight == 0 {
        return Ok(());
    }
    if !BLKIO_WEIGHT.contains(&weight) {
        return Err(JobError::invalid(
            "Range of blkio weight is from 10 to 1000",
        ));
    }
    if !sys.cgroups.blkio_weight {
        return Err(JobError::invalid(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted: berth refuses BlkioWeight rather than discard it",
        ));
    }
    Ok(())
}

fn validate_memory(
    host: &mut HostConfig,
    sys: &SysInfo,
    warn: &mut impl FnMut(&str),
) -> Result<(), JobError> {
    // The limit alone first, as dockerd: a limit the kernel could not take
    // is refused even where the memory controller is missing.
    Memory::new(host.memory, 0, 0).map_err(invalid)?;
    if host.memory > 0 && !sys.cgroups.memory_limit {
        warn(warning::MEMORY);
        host.memory = 0;
        host.memory_swap = -1;
    }
    // Without swap accounting the limit applies to memory alone: dockerd
    // warns and records MemorySwap -1 rather than failing the start.
    if host.memory > 0 && host.memory_swap != -1 && !sys.cgroups.swap_limit {
        warn(warning::SWAP);
        host.memory_swap = -1;
    }
    // The rest of the checks on what is left, in the model's words.
    Memory::new(host.memory, host.memory_swap, host.memory_reservation).map_err(invalid)?;
    Ok(())
}

/// What depends on the host is checked here: the CPUs it has, whether
/// it has the CFS scheduler, the controllers whose settings dockerd drops
/// with a warning. The values themselves are the model's to check
/// ([`Cfs::new`], [`Cpu::new`]: moby's conflicts and ranges, the kernel's
/// limits, the cpuset syntax).
fn validate_cpu(
    host: &mut HostConfig,
    sys: &SysInfo,
    warn: &mut impl FnMut(&str),
) -> Result<(), JobError> {
    let ncpu = sys.ncpu;
    // moby checks only the upper end; below 0.01 CPU the quota over the
    // 100 ms period is under the kernel's 1 ms minimum and the start
    // fails, so the lower end is in moby's words too.
    if host.nano_cpus < 0
        || (host.nano_cpus > 0 && host.nano_cpus < MIN_NANO_CPUS)
        || host.nano_cpus as u128 > u128::from(ncpu) * 1_000_000_000
    {
        return Err(JobError::invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if host.nano_cpus > 0 && !(sys.cgroups.cpu_cfs_period && sys.cgroups.cpu_cfs_quota) {
        return Err(JobError::invalid(
            "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted",
        ));
    }
    if host.cpu_shares > 0 && !sys.cgroups.cpu_shares {
        warn(warning::CPU_SHARES);
        host.cpu_shares = 0;
    }
    if host.cpu_period > 0 && !sys.cgroups.cpu_cfs_period {
        warn(warning::CFS_PERIOD);
        host.cpu_period = 0;
    }
    if host.cpu_quota > 0 && !sys.cgroups.cpu_cfs_quota {
        warn(warning::CFS_QUOTA);
        host.cpu_quota = 0;
    }
    if (!host.cpuset_cpus.is_empty() || !host.cpuset_mems.is_empty()) && !sys.cgroups.cpuset {
        warn(warning::CPUSET);
        host.cpuset_cpus.clear();
        host.cpuset_mems.clear();
    }
    let cfs = Cfs::new(host.nano_cpus, host.cpu_period, host.cpu_quota).map_err(invalid)?;
    Cpu::new(host.cpu_shares, cfs, &host.cpuset_cpus, &host.cpuset_mems).map_err(invalid)?;
    validate_cpuset(host, sys)
}

/// Cpusets, well-formed, must name CPUs and memory nodes the host has
/// (moby `sysinfo.IsCpusetCpusAvailable`).
fn validate_cpuset(host: &HostConfig, sys: &SysInfo) -> Result<(), JobError> {
    for (value, available, unavailable) in [
        (&host.cpuset_cpus, &sys.cgroups.cpus, "CPUs"),
        (&host.cpuset_mems, &sys.cgroups.mems, "memory nodes"),
    ] {
        let requested = parse_cpuset_list(value).unwrap_or_default();
        let offered = parse_cpuset_list(available).unwrap_or_default();
        if requested.iter().any(|n| !offered.contains(n)) {
            return Err(JobError::invalid(format!(
                "Requested {unavailable} are not available - requested {value}, available: {available}"
            )));
        }
    }
    Ok(())
}

/// The kernel's range, and what a daemon without `CAP_SYS_RESOURCE` can
/// set: proc(5) — lowering `oom_score_adj` below the value last set with
/// that capability fails with `EACCES`.
fn validate_oom_score_adj(value: i64, sys: &SysInfo) -> Result<(), JobError> {
    if !(-1000..=1000).contains(&value) {
        return Err(JobError::invalid(format!(
            "Invalid value {value}, range for oom score adj is [-1000, 1000]"
        )));
    }
    if value < sys.oom_score_adj && !sys.cap_sys_resource {
        return Err(JobError::invalid(format!(
            "Invalid value {value} for oom score adj: lowering it below the daemon's {} needs CAP_SYS_RESOURCE, which berthd does not have",
            sys.oom_score_adj
        )));
    }
    Ok(())
}

/// A known name, soft ≤ hard, and a hard limit the daemon may grant: only
/// `CAP_SYS_RESOURCE` may raise a hard limit (setrlimit(2), `EPERM`).
fn validate_ulimit(ulimit: &berth_api::container::Ulimit, sys: &SysInfo) -> Result<(), JobError> {
    Rlimit::new(&ulimit.name, ulimit.soft, ulimit.hard).map_err(invalid)?;
    // -1 is unlimited (RLIM_INFINITY), as runc reads it.
    let as_limit = |v: i64| u64::try_from(v).unwrap_or(u64::MAX);
    if let Some(&max) = sys.hard_rlimits.get(&ulimit.name)
        && as_limit(ulimit.hard) > max
        && !sys.cap_sys_resource
    {
        return Err(JobError::invalid(format!(
            "ulimit {}: hard limit {} is above the daemon's hard limit {max}; raising a hard limit needs CAP_SYS_RESOURCE, which berthd does not have",
            ulimit.name, ulimit.hard
        )));
    }
    Ok(())
}

/// The model's resources from a `HostConfig` that [`validate`]
/// has checked and normalised against the host.
pub(super) fn model(host: &HostConfig) -> Result<Resources, JobError> {
    let positive = |v: i64| u64::try_from(v).ok().filter(|&v| v > 0);
    let cfs = Cfs::new(host.nano_cpus, host.cpu_period, host.cpu_quota).map_err(invalid)?;
    let cpu =
        Cpu::new(host.cpu_shares, cfs, &host.cpuset_cpus, &host.cpuset_mems).map_err(invalid)?;
    let oom_score_adj = i16::try_from(host.oom_score_adj).map_err(|_| {
        JobError::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            host.oom_score_adj
        ))
    })?;
    let mut ulimits: Vec<Rlimit> = Vec::with_capacity(host.ulimits.len());
    for ulimit in &host.ulimits {
        let limit = Rlimit::new(&ulimit.name, ulimit.soft, ulimit.hard).map_err(invalid)?;
        // A later entry of the same kind wins, as it did in the spec.
        ulimits.retain(|l| l.kind() != limit.kind());
        ulimits.push(limit);
    }
    Ok(Resources {
        memory: Memory::new(host.memory, host.memory_swap, host.memory_reservation)
            .map_err(invalid)?,
        cpu,
        pids_limit: host.pids_limit.and_then(positive),
        blkio_weight: (host.blkio_weight > 0).then_some(host.blkio_weight),
        shm_size: positive(host.shm_size)
            .unwrap_or(berth_model::container::resources::DEFAULT_SHM_SIZE),
        oom_score_adj,
        ulimits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_on(host: &str, sys: &SysInfo) -> Result<HostConfig, JobError> {
        let mut host: HostConfig = serde_json::from_str(host).expect("a HostConfig");
        validate(&mut host, sys).map(|_| host)
    }

    fn check(host: &str) -> Result<HostConfig, JobError> {
        let two_cpus = SysInfo {
            ncpu: 2,
            ..SysInfo::default()
        };
        check_on(host, &two_cpus)
    }

    #[test]
    fn values_the_kernel_refuses_at_start_are_refused_at_create() {
        let max = i64::MAX;
        let min = i64::MIN;
        for (host, message) in [
            (
                r#"{"CpuShares":1}"#.to_owned(),
                "invalid CPU shares: the minimum allowed cpu-shares is 2",
            ),
            (
                r#"{"CpuShares":262145}"#.to_owned(),
                "invalid CPU shares: the maximum allowed cpu-shares is 262144",
            ),
            (
                format!(r#"{{"CpuShares":{max}}}"#),
                "invalid CPU shares: the maximum allowed cpu-shares is 262144",
            ),
            (
                format!(r#"{{"PidsLimit":{max}}}"#),
                "invalid PidsLimit 9223372036854775807: the kernel allows at most 4194304 processes (0 or -1: unlimited)",
            ),
            (
                r#"{"PidsLimit":4194305}"#.to_owned(),
                "invalid PidsLimit 4194305: the kernel allows at most 4194304 processes (0 or -1: unlimited)",
            ),
            (
                r#"{"CpuQuota":17592186044416}"#.to_owned(),
                "CPU cfs quota can not be larger than 17592186044415 (the kernel's maximum)",
            ),
            (
                format!(r#"{{"Memory":10485760,"MemorySwap":{min}}}"#),
                "invalid memory swap limit: -1 is unlimited, anything else must not be negative",
            ),
            (
                r#"{"MemorySwap":-2}"#.to_owned(),
                "invalid memory swap limit: -1 is unlimited, anything else must not be negative",
            ),
            (
                r#"{"MemoryReservation":-1}"#.to_owned(),
                "invalid memory reservation: must not be negative",
            ),
            (
                r#"{"NanoCpus":9999999}"#.to_owned(),
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
            ),
            (
                r#"{"BlkioWeight":9}"#.to_owned(),
                "Range of blkio weight is from 10 to 1000",
            ),
            (
                r#"{"BlkioWeight":1001}"#.to_owned(),
                "Range of blkio weight is from 10 to 1000",
            ),
        ] {
            let err = check(&host).expect_err(&host);
            assert_eq!(err.message, message, "{host}");
        }
        for host in [
            r#"{"NanoCpus":10000000}"#.to_owned(),
            r#"{"CpuShares":2}"#.to_owned(),
            r#"{"CpuShares":262144}"#.to_owned(),
            r#"{"PidsLimit":4194304}"#.to_owned(),
            format!(r#"{{"ShmSize":{max}}}"#),
            format!(r#"{{"Memory":{max},"MemorySwap":{max},"MemoryReservation":{max}}}"#),
            r#"{"Memory":10485760,"MemorySwap":-1}"#.to_owned(),
            r#"{"CpuQuota":-1}"#.to_owned(),
            r#"{"CpuQuota":17592186044415}"#.to_owned(),
            r#"{"BlkioWeight":10}"#.to_owned(),
            r#"{"BlkioWeight":1000}"#.to_owned(),
        ] {
            check(&host).unwrap_or_else(|e| panic!("{host}: {e}"));
        }
    }

    #[test]
    fn blkio_weight_needs_the_kernels_weight_file() {
        let sys = SysInfo {
            cgroups: berth_model::host::CgroupFeatures {
                blkio_weight: false,
                ..SysInfo::default().cgroups
            },
            ..SysInfo::default()
        };
        let err = check_on(r#"{"BlkioWeight":500}"#, &sys).expect_err("refused");
        assert_eq!(
            err.message,
            "Your kernel does not support Block I/O weight or the cgroup is not mounted: berth refuses BlkioWeight rather than discard it"
        );
        assert_eq!(
            check_on(r#"{"BlkioWeight":0}"#, &sys)
                .expect("unset")
                .blkio_weight,
            0
        );
        assert_eq!(
            check(r#"{"BlkioWeight":500}"#).expect("set").blkio_weight,
            500
        );
    }
}
