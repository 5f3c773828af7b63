//! The spec's limits: `linux.resources` (device rules, memory, CPU, pids,
//! block I/O weight) and the process's rlimits, from the container model's
//! [`Resources`], which the engine validated at create.

use berth_model::container::{ContainerModel, Resources, RlimitKind, Swap};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType,
};

use super::{SpecError, SpecOptions};

/// The spec's `linux.resources`: device rules, memory, CPU, pids, block
/// I/O weight.
pub(super) fn resources(
    container: &ContainerModel,
    options: &SpecOptions,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    let limits = &container.resources;
    let mut resources = LinuxResourcesBuilder::default()
        .devices(device_rules(container.security.privileged)?)
        .memory(memory(limits, options)?)
        .cpu(cpu(limits)?);
    if let Some(limit) = limits.pids_limit {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .build()?,
        );
    }
    if let Some(weight) = limits.blkio_weight {
        resources = resources.block_io(LinuxBlockIoBuilder::default().weight(weight).build()?);
    }
    Ok(resources.build()?)
}

/// `Ulimits` over the daemon's default rlimits, by kind (moby
/// `daemon/oci_linux.go`, `WithRlimits`: the container's win).
pub(super) fn rlimits(
    limits: &Resources,
    options: &SpecOptions,
) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut rlimits = options.default_rlimits.clone();
    for ulimit in &limits.ulimits {
        let typ = rlimit_type(ulimit.kind());
        let limit = PosixRlimitBuilder::default()
            .typ(typ)
            .soft(ulimit.soft())
            .hard(ulimit.hard())
            .build()?;
        rlimits.retain(|l| l.typ() != typ);
        rlimits.push(limit);
    }
    Ok(rlimits)
}

/// The OCI rlimit type of a ulimit kind.
fn rlimit_type(kind: RlimitKind) -> PosixRlimitType {
    match kind {
        RlimitKind::As => PosixRlimitType::RlimitAs,
        RlimitKind::Core => PosixRlimitType::RlimitCore,
        RlimitKind::Cpu => PosixRlimitType::RlimitCpu,
        RlimitKind::Data => PosixRlimitType::RlimitData,
        RlimitKind::Fsize => PosixRlimitType::RlimitFsize,
        RlimitKind::Locks => PosixRlimitType::RlimitLocks,
        RlimitKind::Memlock => PosixRlimitType::RlimitMemlock,
        RlimitKind::Msgqueue => PosixRlimitType::RlimitMsgqueue,
        RlimitKind::Nice => PosixRlimitType::RlimitNice,
        RlimitKind::Nofile => PosixRlimitType::RlimitNofile,
        RlimitKind::Nproc => PosixRlimitType::RlimitNproc,
        RlimitKind::Rss => PosixRlimitType::RlimitRss,
        RlimitKind::Rtprio => PosixRlimitType::RlimitRtprio,
        RlimitKind::Rttime => PosixRlimitType::RlimitRttime,
        RlimitKind::Sigpending => PosixRlimitType::RlimitSigpending,
        RlimitKind::Stack => PosixRlimitType::RlimitStack,
    }
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

/// Memory limits (moby `daemon/oci_linux.go`, `getMemoryResources`); the
/// model has resolved `adaptContainerSettings`' default swap (twice the
/// limit). Without swap accounting on this host the swap limit is left out,
/// as Docker does.
fn memory(
    limits: &Resources,
    options: &SpecOptions,
) -> Result<oci_spec::runtime::LinuxMemory, SpecError> {
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let memory = &limits.memory;
    let mut b = LinuxMemoryBuilder::default();
    if let Some(limit) = memory.limit() {
        b = b.limit(as_i64(limit));
    }
    if let Some(reservation) = memory.reservation() {
        b = b.reservation(as_i64(reservation));
    }
    if options.swap_limit {
        match memory.swap() {
            Some(Swap::Unlimited) => b = b.swap(-1),
            Some(Swap::Bytes(bytes)) => b = b.swap(as_i64(bytes)),
            None => {}
        }
    }
    Ok(b.build()?)
}

/// CPU limits: `NanoCpus` becomes a quota over a 100 ms period (moby
/// `daemon/oci_linux.go`, `getCPUResources`); `CpuPeriod`/`CpuQuota` are
/// passed as they are.
fn cpu(limits: &Resources) -> Result<oci_spec::runtime::LinuxCpu, SpecError> {
    let cpu = &limits.cpu;
    let mut b = LinuxCpuBuilder::default();
    if let Some(shares) = cpu.shares() {
        b = b.shares(shares);
    }
    // An unset cpuset field is inherited from the parent cgroup.
    if let Some(cpus) = cpu.cpuset_cpus() {
        b = b.cpus(cpus.to_owned());
    }
    if let Some(mems) = cpu.cpuset_mems() {
        b = b.mems(mems.to_owned());
    }
    if let Some(period) = cpu.cfs().period() {
        b = b.period(period);
    }
    if let Some(quota) = cpu.cfs().quota() {
        b = b.quota(quota);
    }
    Ok(b.build()?)
}
