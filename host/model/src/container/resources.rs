//! Limits of a container: cgroup resources and rlimits, each value in the
//! range the kernel accepts at start (moby `verifyPlatformContainerResources`;
//! the kernel's limits cited where they are defined, here or in
//! `host/engine/src/daemon/spec/resources.rs`).
//!
//! What depends on the host (the controllers it has, its CPUs, the
//! daemon's own rlimits and `oom_score_adj`) is not checked here: the
//! engine checks it against `SysInfo` before it makes these values.

use serde::{Deserialize, Serialize};

use super::ModelError;

/// Docker's minimum memory limit (moby `linuxMinMemory`).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// `/dev/shm` when `ShmSize` is 0 (moby `config.DefaultShmSize`).
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;
/// CFS period Docker uses to express `NanoCpus` (100 ms, in µs).
pub const NANO_CPUS_PERIOD: u64 = 100_000;

/// `linux.resources` and rlimits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory, swap and reservation.
    pub memory: Memory,
    /// Shares, CFS and cpusets.
    pub cpu: Cpu,
    /// `PidsLimit` > 0; `None` is unlimited.
    pub pids_limit: Option<u64>,
    /// `BlkioWeight` in 10..=1000; `None` leaves the cgroup's.
    pub blkio_weight: Option<u16>,
    /// `/dev/shm` size in bytes (Docker's default filled in).
    pub shm_size: u64,
    /// `OomScoreAdj` in -1000..=1000.
    pub oom_score_adj: i16,
    /// `Ulimits`, one per kind.
    pub ulimits: Vec<Rlimit>,
}

/// Memory limits; swap as the kernel gets it (Docker's "twice the limit"
/// default already resolved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawMemory", into = "RawMemory")]
pub struct Memory {
    limit: Option<u64>,
    swap: Option<Swap>,
    reservation: Option<u64>,
}

/// `memory.memsw.limit_in_bytes` / `memory.swap.max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Swap {
    /// `-1`.
    Unlimited,
    /// Memory plus swap, in bytes (at least the memory limit).
    Bytes(u64),
}

#[derive(Serialize, Deserialize)]
struct RawMemory {
    limit: Option<u64>,
    swap: Option<Swap>,
    reservation: Option<u64>,
}

impl Memory {
    /// From `Memory`, `MemorySwap`, `MemoryReservation` (bytes; 0 unset,
    /// swap -1 unlimited), after the engine dropped what the host lacks.
    /// Errors and defaults of moby `verifyPlatformContainerResources` and
    /// `adaptContainerSettings`.
    pub fn new(memory: i64, swap: i64, reservation: i64) -> Result<Memory, ModelError> {
        let fail = |m: &str| Err(ModelError::Resource(m.to_owned()));
        if memory < 0 {
            return fail("invalid memory limit: must not be negative");
        }
        let limit = u64::try_from(memory).ok().filter(|&m| m > 0);
        if limit.is_some_and(|m| m < MIN_MEMORY) {
            return fail("Minimum memory limit allowed is 6MB");
        }
        if memory > 0 && swap > 0 && swap < memory {
            return fail("Minimum memoryswap limit should be larger than memory limit, see usage");
        }
        if memory == 0 && swap > 0 {
            return fail(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            );
        }
        if swap < -1 {
            return fail(
                "invalid memory swap limit: -1 is unlimited, anything else must not be negative",
            );
        }
        if reservation < 0 {
            return fail("invalid memory reservation: must not be negative");
        }
        let reservation = u64::try_from(reservation).ok().filter(|&r| r > 0);
        if reservation.is_some_and(|r| r < MIN_MEMORY) {
            return fail("Minimum memory reservation allowed is 6MB");
        }
        if let (Some(m), Some(r)) = (limit, reservation)
            && m < r
        {
            return fail(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            );
        }
        let swap = match (swap, limit) {
            (-1, _) => Some(Swap::Unlimited),
            // Twice the limit, saturating at the kernel's (and the API's)
            // largest value, i64::MAX.
            (0, Some(_)) => Some(Swap::Bytes(memory.saturating_mul(2).unsigned_abs())),
            (0, None) => None,
            (s, _) => Some(Swap::Bytes(s.unsigned_abs())),
        };
        Ok(Memory {
            limit,
            swap,
            reservation,
        })
    }

    /// `memory.limit_in_bytes`.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Memory plus swap; applied only where the kernel accounts swap.
    pub fn swap(&self) -> Option<Swap> {
        self.swap
    }

    /// `memory.soft_limit_in_bytes`.
    pub fn reservation(&self) -> Option<u64> {
        self.reservation
    }
}

impl TryFrom<RawMemory> for Memory {
    type Error = ModelError;
    fn try_from(raw: RawMemory) -> Result<Memory, ModelError> {
        let as_i64 = |v: Option<u64>| v.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let swap = match raw.swap {
            None => 0,
            Some(Swap::Unlimited) => -1,
            Some(Swap::Bytes(b)) => i64::try_from(b).unwrap_or(i64::MAX),
        };
        Memory::new(as_i64(raw.limit), swap, as_i64(raw.reservation))
    }
}

impl From<Memory> for RawMemory {
    fn from(m: Memory) -> RawMemory {
        RawMemory {
            limit: m.limit,
            swap: m.swap,
            reservation: m.reservation,
        }
    }
}

/// The range of `cpu.shares` (kernel `MIN_SHARES`/`MAX_SHARES`,
/// `kernel/sched/sched.h`): the kernel clamps a value outside it, which runc
/// and berth-cgroups then refuse at start (runc `fs/cpu.go`).
pub const CPU_SHARES: std::ops::RangeInclusive<u64> = 2..=262_144;

/// The largest CFS quota in microseconds (`kernel/sched/core.c`,
/// `max_cfs_runtime`: `MAX_BW`, 2^44 - 1).
pub const MAX_CFS_QUOTA: i64 = (1 << 44) - 1;

/// 0.01 CPU: the quota of `NanoCpus` over Docker's 100 ms period is then
/// the kernel's minimum quota, 1 ms.
pub const MIN_NANO_CPUS: i64 = 10_000_000;

/// The CFS period range (`kernel/sched/core.c`, `min_cfs_quota_period` and
/// `max_cfs_quota_period`; moby checks the same range).
pub const CFS_PERIOD: std::ops::RangeInclusive<i64> = 1000..=1_000_000;

/// CPU limits: shares, a CFS quota over a period, cpusets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCpu", into = "RawCpu")]
pub struct Cpu {
    shares: Option<u64>,
    cfs: Cfs,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RawCpu {
    shares: Option<u64>,
    cfs: Cfs,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
}

impl Cpu {
    /// From `CpuShares` (0 unset), the CFS bandwidth and `CpusetCpus`/
    /// `CpusetMems` (empty: inherited), after the engine dropped what the
    /// host lacks. Shares outside the kernel's range and malformed cpuset
    /// lists (cpuset(7) "List format") are refused; whether the host has
    /// the CPUs named is the engine's check.
    pub fn new(
        shares: i64,
        cfs: Cfs,
        cpuset_cpus: &str,
        cpuset_mems: &str,
    ) -> Result<Cpu, ModelError> {
        if shares < 0 {
            return Err(ModelError::Resource(
                "invalid CPU shares: must not be negative".to_owned(),
            ));
        }
        let shares = shares.unsigned_abs();
        // moby clamps shares only for API < 1.19 clients
        // (`adaptContainerSettings`); for the rest runc fails the start.
        if shares > 0 && shares < *CPU_SHARES.start() {
            return Err(ModelError::Resource(format!(
                "invalid CPU shares: the minimum allowed cpu-shares is {}",
                CPU_SHARES.start()
            )));
        }
        if shares > *CPU_SHARES.end() {
            return Err(ModelError::Resource(format!(
                "invalid CPU shares: the maximum allowed cpu-shares is {}",
                CPU_SHARES.end()
            )));
        }
        let cpuset = |value: &str, what: &str| {
            if parse_cpuset_list(value).is_none() {
                // moby `verifyPlatformContainerResources`, verbatim.
                return Err(ModelError::Resource(format!(
                    "Invalid value {value} for cpuset {what}: invalid format: {value}"
                )));
            }
            Ok((!value.is_empty()).then(|| value.to_owned()))
        };
        Ok(Cpu {
            shares: (shares > 0).then_some(shares),
            cfs,
            cpuset_cpus: cpuset(cpuset_cpus, "cpus")?,
            cpuset_mems: cpuset(cpuset_mems, "mems")?,
        })
    }

    /// `cpu.shares`, in [`CPU_SHARES`].
    pub fn shares(&self) -> Option<u64> {
        self.shares
    }

    /// The CFS bandwidth.
    pub fn cfs(&self) -> Cfs {
        self.cfs
    }

    /// `cpuset.cpus`, a well-formed list; `None` inherits.
    pub fn cpuset_cpus(&self) -> Option<&str> {
        self.cpuset_cpus.as_deref()
    }

    /// `cpuset.mems`, likewise.
    pub fn cpuset_mems(&self) -> Option<&str> {
        self.cpuset_mems.as_deref()
    }
}

impl TryFrom<RawCpu> for Cpu {
    type Error = ModelError;
    fn try_from(raw: RawCpu) -> Result<Cpu, ModelError> {
        let shares = raw
            .shares
            .map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        Cpu::new(
            shares,
            raw.cfs,
            raw.cpuset_cpus.as_deref().unwrap_or_default(),
            raw.cpuset_mems.as_deref().unwrap_or_default(),
        )
    }
}

impl From<Cpu> for RawCpu {
    fn from(cpu: Cpu) -> RawCpu {
        RawCpu {
            shares: cpu.shares,
            cfs: cpu.cfs,
            cpuset_cpus: cpu.cpuset_cpus,
            cpuset_mems: cpu.cpuset_mems,
        }
    }
}

/// The CFS bandwidth: `NanoCpus`, or `CpuPeriod`/`CpuQuota` (moby: never
/// both), each in the range the kernel accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCfs", into = "RawCfs")]
pub struct Cfs(RawCfs);

/// The stored form of [`Cfs`] (and its representation once checked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum RawCfs {
    #[default]
    Unlimited,
    NanoCpus(u64),
    Explicit {
        period: Option<u64>,
        quota: Option<i64>,
    },
}

impl Cfs {
    /// From `NanoCpus`, `CpuPeriod` and `CpuQuota` (0 unset; a negative
    /// quota is unlimited, as the kernel reads it), with moby's messages
    /// (`verifyPlatformContainerResources`) and the kernel's limits. How
    /// many CPUs the host has is the engine's check.
    pub fn new(nano_cpus: i64, period: i64, quota: i64) -> Result<Cfs, ModelError> {
        let fail = |m: String| Err(ModelError::Resource(m));
        if nano_cpus > 0 && period > 0 {
            return fail("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
        }
        if nano_cpus > 0 && quota > 0 {
            return fail("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
        }
        // moby checks only the upper end (the host's CPUs); below 0.01 CPU
        // the quota over the 100 ms period is under the kernel's 1 ms
        // minimum and the start fails.
        if nano_cpus < 0 || (nano_cpus > 0 && nano_cpus < MIN_NANO_CPUS) {
            return fail(format!(
                "invalid NanoCpus {nano_cpus}: the minimum is 0.01 CPU ({MIN_NANO_CPUS})"
            ));
        }
        if period != 0 && !CFS_PERIOD.contains(&period) {
            return fail(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                    .into(),
            );
        }
        if quota > 0 && quota < 1000 {
            return fail("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
        }
        if quota > MAX_CFS_QUOTA {
            return fail(format!(
                "CPU cfs quota can not be larger than {MAX_CFS_QUOTA} (the kernel's maximum)"
            ));
        }
        // Below the quota's maximum: NanoCpus up to 2^44 - 1 ms of CPU time
        // per 100 ms period, far above any host's CPUs.
        if nano_cpus / 10_000 > MAX_CFS_QUOTA {
            return fail(format!(
                "invalid NanoCpus {nano_cpus}: the quota would exceed the kernel's maximum {MAX_CFS_QUOTA}"
            ));
        }
        let raw = if nano_cpus > 0 {
            RawCfs::NanoCpus(nano_cpus.unsigned_abs())
        } else if period > 0 || quota != 0 {
            RawCfs::Explicit {
                period: (period > 0).then(|| period.unsigned_abs()),
                quota: (quota != 0).then_some(quota),
            }
        } else {
            RawCfs::Unlimited
        };
        Ok(Cfs(raw))
    }

    /// `cpu.cfs_period_us`: [`NANO_CPUS_PERIOD`] for `NanoCpus`.
    pub fn period(&self) -> Option<u64> {
        match self.0 {
            RawCfs::Unlimited => None,
            RawCfs::NanoCpus(_) => Some(NANO_CPUS_PERIOD),
            RawCfs::Explicit { period, .. } => period,
        }
    }

    /// `cpu.cfs_quota_us`: for `NanoCpus` the share of
    /// [`NANO_CPUS_PERIOD`] (moby `daemon/oci_linux.go`,
    /// `getCPUResources`).
    pub fn quota(&self) -> Option<i64> {
        match self.0 {
            RawCfs::Unlimited => None,
            RawCfs::NanoCpus(nano) => {
                let quota = u128::from(nano) * u128::from(NANO_CPUS_PERIOD) / 1_000_000_000;
                Some(i64::try_from(quota).unwrap_or(i64::MAX))
            }
            RawCfs::Explicit { quota, .. } => quota,
        }
    }
}

impl TryFrom<RawCfs> for Cfs {
    type Error = ModelError;
    fn try_from(raw: RawCfs) -> Result<Cfs, ModelError> {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        match raw {
            RawCfs::Unlimited => Ok(Cfs(raw)),
            RawCfs::NanoCpus(nano) => Cfs::new(as_i64(nano), 0, 0),
            RawCfs::Explicit { period, quota } => {
                Cfs::new(0, period.map_or(0, as_i64), quota.unwrap_or(0))
            }
        }
    }
}

impl From<Cfs> for RawCfs {
    fn from(cfs: Cfs) -> RawCfs {
        cfs.0
    }
}

/// The largest CPU or memory node number a cpuset list may name: moby's
/// `isCpusetListAvailable` takes numbers up to 8192, "the normal maximum
/// number of CPUs in Linux" (the kernel's `NR_CPUS` tops out there, and
/// `MAX_NUMNODES` lower).
pub const MAX_CPUSET_MEMBER: u32 = 8192;

/// Parses a cpuset list (`0-2,4`, cpuset(7) "List format") into its
/// members, each once and in order; `None` when malformed or naming a
/// number above [`MAX_CPUSET_MEMBER`]. Empty means none.
///
/// The work and the result are bounded by [`MAX_CPUSET_MEMBER`], not by
/// the list's length: a request repeating `0-4096` over megabytes must not
/// expand to billions of members (moby's `ParseUintList` keeps a set too).
pub fn parse_cpuset_list(list: &str) -> Option<Vec<u32>> {
    let mut ranges = Vec::new();
    if list.trim().is_empty() {
        return Some(Vec::new());
    }
    for part in list.trim().split(',') {
        let (low, high): (u32, u32) = match part.split_once('-') {
            Some((low, high)) => (low.parse().ok()?, high.parse().ok()?),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        // go-units' ParseUintList caps ranges too: a typo must not
        // allocate a huge list.
        if low > high || high - low > 4096 || high > MAX_CPUSET_MEMBER {
            return None;
        }
        ranges.push((low, high));
    }
    // Sorted ranges, each expanded past what the previous ones covered:
    // at most MAX_CPUSET_MEMBER + 1 members are ever pushed.
    ranges.sort_unstable();
    let mut members: Vec<u32> = Vec::new();
    for (low, high) in ranges {
        let from = members.last().map_or(low, |&last| low.max(last + 1));
        members.extend(from..=high);
    }
    Some(members)
}

/// setrlimit(2) resources Docker knows (go-units `ulimit.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum RlimitKind {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RlimitKind {
    /// Every kind with its Docker name.
    pub const ALL: [(&'static str, RlimitKind); 16] = [
        ("as", RlimitKind::As),
        ("core", RlimitKind::Core),
        ("cpu", RlimitKind::Cpu),
        ("data", RlimitKind::Data),
        ("fsize", RlimitKind::Fsize),
        ("locks", RlimitKind::Locks),
        ("memlock", RlimitKind::Memlock),
        ("msgqueue", RlimitKind::Msgqueue),
        ("nice", RlimitKind::Nice),
        ("nofile", RlimitKind::Nofile),
        ("nproc", RlimitKind::Nproc),
        ("rss", RlimitKind::Rss),
        ("rtprio", RlimitKind::Rtprio),
        ("rttime", RlimitKind::Rttime),
        ("sigpending", RlimitKind::Sigpending),
        ("stack", RlimitKind::Stack),
    ];

    /// The kind of a Docker ulimit name.
    pub fn parse(name: &str) -> Option<RlimitKind> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// One ulimit: soft ≤ hard, `u64::MAX` is unlimited (`RLIM_INFINITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRlimit", into = "RawRlimit")]
pub struct Rlimit {
    kind: RlimitKind,
    soft: u64,
    hard: u64,
}

#[derive(Serialize, Deserialize)]
struct RawRlimit {
    kind: RlimitKind,
    soft: u64,
    hard: u64,
}

impl Rlimit {
    /// A `Ulimits` entry (-1 unlimited), with the engine's messages.
    pub fn new(name: &str, soft: i64, hard: i64) -> Result<Rlimit, ModelError> {
        let kind = RlimitKind::parse(name)
            .ok_or_else(|| ModelError::Resource(format!("invalid ulimit type: {name}")))?;
        if soft < -1 || hard < -1 {
            return Err(ModelError::Resource(format!(
                "invalid ulimit {name}: limits must not be negative (-1 is unlimited)"
            )));
        }
        let as_limit = |v: i64| u64::try_from(v).unwrap_or(u64::MAX);
        if as_limit(soft) > as_limit(hard) {
            return Err(ModelError::Resource(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        Ok(Rlimit {
            kind,
            soft: as_limit(soft),
            hard: as_limit(hard),
        })
    }

    /// Which resource.
    pub fn kind(&self) -> RlimitKind {
        self.kind
    }
    /// Soft limit.
    pub fn soft(&self) -> u64 {
        self.soft
    }
    /// Hard limit.
    pub fn hard(&self) -> u64 {
        self.hard
    }
}

impl TryFrom<RawRlimit> for Rlimit {
    type Error = ModelError;
    fn try_from(raw: RawRlimit) -> Result<Rlimit, ModelError> {
        if raw.soft > raw.hard {
            return Err(ModelError::Resource(
                "ulimit soft limit must be less than or equal to hard limit".to_owned(),
            ));
        }
        Ok(Rlimit {
            kind: raw.kind,
            soft: raw.soft,
            hard: raw.hard,
        })
    }
}

impl From<Rlimit> for RawRlimit {
    fn from(r: Rlimit) -> RawRlimit {
        RawRlimit {
            kind: r.kind,
            soft: r.soft,
            hard: r.hard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_defaults_to_twice_the_limit_within_i64() {
        let m = Memory::new(64 << 20, 0, 0).expect("valid");
        assert_eq!(m.swap(), Some(Swap::Bytes(128 << 20)));
        let huge = Memory::new(i64::MAX - 1, 0, 0).expect("valid");
        assert_eq!(huge.swap(), Some(Swap::Bytes(i64::MAX.unsigned_abs())));
        assert_eq!(
            Memory::new(0, -1, 0).expect("valid").swap(),
            Some(Swap::Unlimited)
        );
        assert_eq!(Memory::new(0, 0, 0).expect("valid"), Memory::default());
    }

    #[test]
    fn cpu_values_the_kernel_refuses_are_refused() {
        let cfs = Cfs::default();
        for (shares, cpus, message) in [
            (-1, "", "invalid CPU shares: must not be negative"),
            (
                1,
                "",
                "invalid CPU shares: the minimum allowed cpu-shares is 2",
            ),
            (
                262_145,
                "",
                "invalid CPU shares: the maximum allowed cpu-shares is 262144",
            ),
            (
                0,
                "x-",
                "Invalid value x- for cpuset cpus: invalid format: x-",
            ),
        ] {
            assert_eq!(
                Cpu::new(shares, cfs, cpus, "").map_err(|e| e.to_string()),
                Err(message.to_owned()),
                "{shares} {cpus}"
            );
        }
        let cpu = Cpu::new(512, cfs, "0-1", "").expect("valid");
        assert_eq!(
            (cpu.shares(), cpu.cpuset_cpus(), cpu.cpuset_mems()),
            (Some(512), Some("0-1"), None)
        );
        for (nano, period, quota, message) in [
            (
                1_000_000_000,
                100_000,
                0,
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ),
            (
                1_000_000_000,
                0,
                50_000,
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ),
            (
                9_999_999,
                0,
                0,
                "invalid NanoCpus 9999999: the minimum is 0.01 CPU (10000000)",
            ),
            (
                0,
                999,
                0,
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                0,
                -5,
                0,
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ),
            (
                0,
                0,
                999,
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ),
            (
                0,
                0,
                MAX_CFS_QUOTA + 1,
                "CPU cfs quota can not be larger than 17592186044415 (the kernel's maximum)",
            ),
        ] {
            assert_eq!(
                Cfs::new(nano, period, quota).map_err(|e| e.to_string()),
                Err(message.to_owned()),
                "{nano} {period} {quota}"
            );
        }
        let nano = Cfs::new(1_500_000_000, 0, -1).expect("valid");
        assert_eq!(
            (nano.period(), nano.quota()),
            (Some(100_000), Some(150_000))
        );
        let explicit = Cfs::new(0, 50_000, 25_000).expect("valid");
        assert_eq!(
            (explicit.period(), explicit.quota()),
            (Some(50_000), Some(25_000))
        );
        let unlimited = Cfs::new(0, 0, 0).expect("valid");
        assert_eq!((unlimited.period(), unlimited.quota()), (None, None));
    }

    #[test]
    fn cpuset_lists() {
        assert_eq!(parse_cpuset_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpuset_list("1"), Some(vec![1]));
        assert_eq!(parse_cpuset_list(""), Some(vec![]));
        assert_eq!(parse_cpuset_list("2-1"), None);
        assert_eq!(parse_cpuset_list("a"), None);
        assert_eq!(parse_cpuset_list("1,"), None);
        assert_eq!(parse_cpuset_list("0-100000"), None);
        // Each member once, whatever the repetition; nothing past 8192.
        assert_eq!(parse_cpuset_list("3,0-2,1,2-3"), Some(vec![0, 1, 2, 3]));
        let repeated = vec!["0-4096"; 1000].join(",");
        assert_eq!(parse_cpuset_list(&repeated).map(|m| m.len()), Some(4097));
        assert_eq!(parse_cpuset_list("8193"), None);
    }

    #[test]
    fn stored_cpu_values_read_back_through_the_constructors() {
        let cpu = Cpu::new(512, Cfs::new(0, 50_000, -1).expect("valid"), "0", "0").expect("valid");
        let json = serde_json::to_string(&cpu).expect("serialise");
        assert_eq!(serde_json::from_str::<Cpu>(&json).ok(), Some(cpu));
        for refused in [
            r#"{"shares":1,"cfs":"Unlimited","cpuset_cpus":null,"cpuset_mems":null}"#,
            r#"{"shares":null,"cfs":{"NanoCpus":5},"cpuset_cpus":null,"cpuset_mems":null}"#,
            r#"{"shares":null,"cfs":{"Explicit":{"period":5,"quota":null}},"cpuset_cpus":null,"cpuset_mems":null}"#,
            r#"{"shares":null,"cfs":"Unlimited","cpuset_cpus":"x-","cpuset_mems":null}"#,
        ] {
            assert!(serde_json::from_str::<Cpu>(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn stored_values_read_back_through_the_constructors() {
        for memory in [
            Memory::new(i64::MAX - 1, 0, 0),
            Memory::new(64 << 20, -1, 32 << 20),
            Memory::new(64 << 20, 128 << 20, 0),
        ] {
            let memory = memory.expect("valid");
            let json = serde_json::to_string(&memory).expect("serialise");
            let back: Memory = serde_json::from_str(&json).expect("reads back");
            assert_eq!(back, memory);
        }
        let refused = r#"{"limit":1,"swap":null,"reservation":null}"#;
        assert!(serde_json::from_str::<Memory>(refused).is_err());
        let rlimit = Rlimit::new("nofile", 1024, -1).expect("valid");
        let json = serde_json::to_string(&rlimit).expect("serialise");
        assert_eq!(serde_json::from_str::<Rlimit>(&json).ok(), Some(rlimit));
        let inverted = r#"{"kind":"nofile","soft":2,"hard":1}"#;
        assert!(serde_json::from_str::<Rlimit>(inverted).is_err());
    }
}
