//! Limits of a container: cgroup resources and rlimits, each value in the
//! range the kernel accepts at start (moby `verifyPlatformContainerResources`;
//! kernel limits as `host/engine/src/daemon/spec/resources.rs` cites them).
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

/// CPU limits: shares, a CFS quota over a period, cpusets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// `cpu.shares` in the kernel's 2..=262144.
    pub shares: Option<u64>,
    /// The CFS bandwidth.
    pub cfs: Cfs,
    /// `CpusetCpus`, checked against the host's CPUs; `None` inherits.
    pub cpuset_cpus: Option<String>,
    /// `CpusetMems`, likewise.
    pub cpuset_mems: Option<String>,
}

/// `NanoCpus`, or `CpuPeriod`/`CpuQuota` (moby: never both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cfs {
    /// No bandwidth limit.
    #[default]
    Unlimited,
    /// `NanoCpus` ≥ 0.01 CPU: quota over [`NANO_CPUS_PERIOD`].
    NanoCpus(u64),
    /// `CpuPeriod` (1000..=1000000 µs) and `CpuQuota` (≥ 1000 µs, or -1).
    Explicit {
        /// `cpu.cfs_period_us`.
        period: Option<u64>,
        /// `cpu.cfs_quota_us`.
        quota: Option<i64>,
    },
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
