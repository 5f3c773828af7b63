//! The spec's limits: `linux.resources` (device rules, memory, CPU, pids,
//! block I/O weight) and the process's rlimits, from `HostConfig` with
//! Docker's defaults.

use berth_api::container::HostConfig;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType,
};

use super::{NANO_CPUS_PERIOD, SpecError, SpecOptions};

/// The spec's `linux.resources`: device rules, memory, CPU, pids, block
/// I/O weight.
pub(super) fn resources(
    host: &HostConfig,
    options: &SpecOptions,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    let mut resources = LinuxResourcesBuilder::default()
        .devices(device_rules(host.privileged)?)
        .memory(memory(host, options)?)
        .cpu(cpu(host)?);
    if let Some(limit) = pids_limit(host) {
        resources = resources.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    if host.blkio_weight > 0 {
        resources = resources.block_io(
            LinuxBlockIoBuilder::default()
                .weight(host.blkio_weight)
                .build()?,
        );
    }
    Ok(resources.build()?)
}

/// `Ulimits` over the daemon's default rlimits, by name (moby
/// `daemon/oci_linux.go`, `WithRlimits`: the container's win). -1 is
/// unlimited.
pub(super) fn rlimits(
    host: &HostConfig,
    options: &SpecOptions,
) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut limits = options.default_rlimits.clone();
    for ulimit in &host.ulimits {
        let typ = rlimit_type(&ulimit.name).ok_or_else(|| SpecError::Resource {
            field: "Ulimits",
            reason: format!("unknown ulimit type {:?}", ulimit.name),
        })?;
        let as_limit = |v: i64| u64::try_from(v).unwrap_or(u64::MAX);
        let limit = PosixRlimitBuilder::default()
            .typ(typ)
            .soft(as_limit(ulimit.soft))
            .hard(as_limit(ulimit.hard))
            .build()?;
        limits.retain(|l| l.typ() != typ);
        limits.push(limit);
    }
    Ok(limits)
}

/// The OCI rlimit type of a Docker ulimit name.
fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    Some(match name {
        "as" => PosixRlimitType::RlimitAs,
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        _ => return None,
    })
}

/// Device cgroup rules: deny everything, then allow Docker's defaults
/// (moby `oci/defaults.go`) plus what runc always allows (`specconv.
/// AllowedDevices`: `mknod` of anything, `/dev/pts/*`, `/dev/ptmx`,
/// `/dev/net/tun`); privileged containers may use every device.
fn device_rules(privileged: bool) -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    let rule = |allow: bool,
                typ: Option<LinuxDeviceType>,
                major: Option<i64>,
                minor: Option<i64>,
                access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .access(access);
        if let Some(typ) = typ {
            b = b.typ(typ);
        }
        if let Some(major) = major {
            b = b.major(major);
        }
        if let Some(minor) = minor {
            b = b.minor(minor);
        }
        b.build()
    };
    if privileged {
        return Ok(vec![rule(true, None, None, None, "rwm")?]);
    }
    let c = Some(LinuxDeviceType::C);
    Ok(vec![
        rule(false, None, None, None, "rwm")?,
        rule(true, c, None, None, "m")?,
        rule(true, Some(LinuxDeviceType::B), None, None, "m")?,
        rule(true, c, Some(1), Some(3), "rwm")?, // /dev/null
        rule(true, c, Some(1), Some(5), "rwm")?, // /dev/zero
        rule(true, c, Some(1), Some(7), "rwm")?, // /dev/full
        rule(true, c, Some(1), Some(8), "rwm")?, // /dev/random
        rule(true, c, Some(1), Some(9), "rwm")?, // /dev/urandom
        rule(true, c, Some(5), Some(0), "rwm")?, // /dev/tty
        rule(true, c, Some(5), Some(1), "rwm")?, // /dev/console
        rule(true, c, Some(5), Some(2), "rwm")?, // /dev/ptmx
        rule(true, c, Some(136), None, "rwm")?,  // /dev/pts/*
        rule(true, c, Some(10), Some(200), "rwm")?, // /dev/net/tun
        rule(false, c, Some(10), Some(229), "rwm")?, // /dev/fuse
    ])
}

/// Memory limits (moby `daemon/oci_linux.go`, `getMemoryResources`, with
/// `adaptContainerSettings`' default: an unset `MemorySwap` with a memory
/// limit means swap up to the same amount again, i.e. twice the limit).
fn memory(
    host: &HostConfig,
    options: &SpecOptions,
) -> Result<oci_spec::runtime::LinuxMemory, SpecError> {
    let mut b = LinuxMemoryBuilder::default();
    if host.memory < 0 {
        return Err(SpecError::Resource {
            field: "Memory",
            reason: format!("{} is negative", host.memory),
        });
    }
    if host.memory > 0 {
        b = b.limit(host.memory);
    }
    if host.memory_reservation > 0 {
        b = b.reservation(host.memory_reservation);
    }
    if options.swap_limit {
        match host.memory_swap {
            -1 => b = b.swap(-1),
            0 if host.memory > 0 => b = b.swap(host.memory.saturating_mul(2)),
            0 => {}
            swap if swap < host.memory || host.memory == 0 => {
                return Err(SpecError::Resource {
                    field: "MemorySwap",
                    reason: format!(
                        "{swap} must be -1, or at least Memory ({}) which must be set",
                        host.memory
                    ),
                });
            }
            swap => b = b.swap(swap),
        }
    }
    Ok(b.build()?)
}

/// CPU limits: `NanoCpus` becomes a quota over a 100 ms period (moby
/// `daemon/oci_linux.go`, `getCPUResources`); `CpuPeriod`/`CpuQuota` are
/// passed as they are and cannot be combined with `NanoCpus`.
fn cpu(host: &HostConfig) -> Result<oci_spec::runtime::LinuxCpu, SpecError> {
    let mut b = LinuxCpuBuilder::default();
    if host.cpu_shares < 0 || host.cpu_period < 0 || host.nano_cpus < 0 {
        return Err(SpecError::Resource {
            field: "CpuShares/CpuPeriod/NanoCpus",
            reason: "must not be negative".to_owned(),
        });
    }
    if host.cpu_shares > 0 {
        b = b.shares(host.cpu_shares as u64);
    }
    // An empty cpuset field is inherited from the parent cgroup.
    if !host.cpuset_cpus.is_empty() {
        b = b.cpus(host.cpuset_cpus.clone());
    }
    if !host.cpuset_mems.is_empty() {
        b = b.mems(host.cpuset_mems.clone());
    }
    if host.nano_cpus > 0 {
        if host.cpu_period > 0 || host.cpu_quota > 0 {
            return Err(SpecError::Resource {
                field: "NanoCpus",
                reason: "conflicting options: NanoCpus and CpuPeriod/CpuQuota cannot both be set"
                    .to_owned(),
            });
        }
        let quota = i128::from(host.nano_cpus) * i128::from(NANO_CPUS_PERIOD) / 1_000_000_000;
        b = b
            .period(NANO_CPUS_PERIOD)
            .quota(i64::try_from(quota).unwrap_or(i64::MAX));
    } else {
        if host.cpu_period > 0 {
            b = b.period(host.cpu_period as u64);
        }
        if host.cpu_quota != 0 {
            b = b.quota(host.cpu_quota);
        }
    }
    Ok(b.build()?)
}

/// `PidsLimit`: positive values limit, 0/-1/unset mean unlimited (API
/// ≥ 1.41, moby `daemon/oci_linux.go`), which is the cgroup's default.
fn pids_limit(host: &HostConfig) -> Option<i64> {
    host.pids_limit.filter(|limit| *limit > 0)
}
