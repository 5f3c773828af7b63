//! A seccomp profile in Docker's format, resolved into the OCI
//! `linux.seccomp` of one container, as moby's `setupSeccomp`
//! (`profiles/seccomp/seccomp_linux.go`) does: the `archMap` entry of the
//! host's architecture gives the architectures, and each rule's `includes`
//! and `excludes` are decided against the host's architecture and kernel
//! and the container's bounding capabilities.

use berth_model::container::{KernelVersion, SeccompCondition, SeccompProfile};
use oci_spec::runtime::{Arch, Capability, LinuxSeccomp, LinuxSyscall};

/// The host's architecture as Go (and so Docker's profiles) names it.
pub fn native_go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "riscv64" => "riscv64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips64" => "mips64",
        other => other,
    }
}

/// moby's `goToNative` then `nativeToSeccomp`: the seccomp architecture of
/// a Go architecture (`386` is libseccomp's `x86`).
fn seccomp_arch(go_arch: &str) -> Option<Arch> {
    Some(match go_arch {
        "386" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64le" => Arch::ScmpArchMipsel64,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "s390x" => Arch::ScmpArchS390x,
        "riscv64" => Arch::ScmpArchRiscv64,
        _ => return None,
    })
}

/// moby compares `includes.arches` with libseccomp's native name, which is
/// Go's except for `386` (`x86`).
fn native_name(go_arch: &str) -> &str {
    match go_arch {
        "386" => "x86",
        "mips64le" => "mipsel64",
        other => other,
    }
}

/// The running kernel's version and major revision (`6.18` of
/// `6.18.44-fc`), as moby's `kernelGreaterEqualThan` reads it.
fn host_kernel() -> Option<(u64, u64)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let kernel = parts.next()?.parse().ok()?;
    let major = parts.next()?.parse().ok()?;
    Some((kernel, major))
}

/// Why a seccomp profile cannot be resolved for this container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeccompError {
    /// A rule has a `minKernel` condition and the running kernel's version
    /// cannot be read from `/proc/sys/kernel/osrelease`.
    #[error("cannot read the kernel version")]
    KernelVersion,
}

fn at_least(version: KernelVersion) -> Result<bool, SeccompError> {
    let (kernel, major) = host_kernel().ok_or(SeccompError::KernelVersion)?;
    Ok((kernel, major) >= (u64::from(version.kernel), u64::from(version.major)))
}

/// Resolves `profile` for a container whose bounding set is `bounding`.
pub fn resolve(
    profile: &SeccompProfile,
    bounding: &[Capability],
) -> Result<LinuxSeccomp, SeccompError> {
    let go_arch = native_go_arch();
    let caps: Vec<String> = bounding
        .iter()
        .filter_map(|cap| serde_json::to_value(cap).ok())
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    let has_cap = |name: &String| caps.contains(name);
    let mut resolved = LinuxSeccomp::default();
    if let Some(action) = profile.default_action {
        resolved.set_default_action(action);
    }
    resolved.set_default_errno_ret(profile.default_errno_ret);
    let mut arches = profile.architectures.clone();
    if let Some(native) = seccomp_arch(go_arch)
        && let Some(entry) = profile.arch_map.iter().find(|m| m.architecture == native)
    {
        arches.push(entry.architecture);
        arches.extend(entry.sub_architectures.iter().copied());
    }
    resolved.set_architectures((!arches.is_empty()).then_some(arches));
    resolved.set_flags((!profile.flags.is_empty()).then(|| profile.flags.clone()));
    resolved.set_listener_path(profile.listener_path.clone().map(Into::into));
    resolved.set_listener_metadata(profile.listener_metadata.clone());

    let arch_name = native_name(go_arch);
    let in_arches =
        |condition: &SeccompCondition| condition.arches.iter().any(|a| a.as_str() == arch_name);
    let mut rules = Vec::new();
    for rule in &profile.syscalls {
        if let Some(excludes) = &rule.excludes {
            if in_arches(excludes) || excludes.caps.iter().any(has_cap) {
                continue;
            }
            if let Some(version) = excludes.min_kernel
                && at_least(version)?
            {
                continue;
            }
        }
        if let Some(includes) = &rule.includes {
            if !includes.arches.is_empty() && !in_arches(includes) {
                continue;
            }
            if !includes.caps.iter().all(has_cap) {
                continue;
            }
            if let Some(version) = includes.min_kernel
                && !at_least(version)?
            {
                continue;
            }
        }
        let names = if rule.name.is_empty() {
            rule.names.clone()
        } else {
            vec![rule.name.clone()]
        };
        let mut syscall = LinuxSyscall::default();
        syscall.set_names(names);
        syscall.set_action(rule.action);
        syscall.set_errno_ret(rule.errno_ret);
        syscall.set_args((!rule.args.is_empty()).then(|| rule.args.clone()));
        rules.push(syscall);
    }
    resolved.set_syscalls((!rules.is_empty()).then_some(rules));
    Ok(resolved)
}
