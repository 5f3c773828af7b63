//! Seccomp: compiles an OCI `linux.seccomp` profile with libseccomp and
//! loads it into the kernel.
//!
//! Two steps, so that every error surfaces while the runtime can still
//! report it cleanly:
//! 1. [`compile`] (or [`parse_profile`] + [`compile`]) before the point of
//!    no return of container init; it validates actions, operators,
//!    argument indices, architectures and flags.
//! 2. [`Filter::load`] in container init, as the last step before
//!    `execve(2)`; or, where the loading process must not allocate (a child
//!    between `fork` and `execve`), [`Filter::program`] beforehand and
//!    [`BpfProgram::load`] in the child, a single seccomp(2) call.
//!
//! # Ordering (runc `libcontainer/standard_init_linux.go`)
//!
//! Installing a filter needs either `no_new_privs` or `CAP_SYS_ADMIN`
//! (seccomp(2)):
//! - with `process.noNewPrivileges: true`, set `PR_SET_NO_NEW_PRIVS` and
//!   load the filter *after* dropping capabilities and switching user, right
//!   before `execve`, so the filter needs to allow as few of the runtime's
//!   own syscalls as possible;
//! - with `noNewPrivileges: false`, load it *before* capabilities are
//!   dropped, while `CAP_SYS_ADMIN` is still held; the profile must then
//!   allow the syscalls the runtime makes afterwards (`capset`, `setuid`,
//!   `setgroups`, `prctl`, `execve`, ... — Docker's default profile does).
//!
//! libseccomp sets `no_new_privs` itself by default when loading
//! (`SCMP_FLTATR_CTL_NNP`); berth turns that off, like runc, so that the
//! bit follows the spec's `noNewPrivileges` only.

mod profile;
mod program;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

pub use profile::{
    DOCKER_DEFAULT_CAPABILITIES, docker_default_profile, docker_default_profile_for,
};
pub use program::BpfProgram;

/// What can go wrong while compiling or loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile's JSON is malformed or names an unknown action, operator,
    /// architecture or flag.
    #[error("invalid seccomp profile: {0}")]
    Parse(#[from] serde_json::Error),
    /// libseccomp could not create a filter with the default action.
    #[error("failed to create a seccomp filter with default action {action}")]
    Context {
        /// The default action.
        action: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// An architecture could not be added to the filter.
    #[error("failed to add architecture {arch:?} to the seccomp filter")]
    Arch {
        /// The architecture.
        arch: Arch,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A filter flag is not supported by this libseccomp/kernel.
    #[error("failed to set seccomp filter flag {flag:?}")]
    Flag {
        /// The flag.
        flag: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// An errno value does not fit the 16 bits of `SECCOMP_RET_DATA`.
    #[error("errno {value} for {context} is out of range (0..=65535)")]
    Errno {
        /// The errno value.
        value: u32,
        /// Where it was given (`defaultAction` or a syscall name).
        context: String,
    },
    /// An argument index outside 0..=5.
    #[error("syscall {syscall}: argument index {index} is out of range (0..=5)")]
    ArgIndex {
        /// The syscall of the rule.
        syscall: String,
        /// The index given.
        index: usize,
    },
    /// The profile uses a feature berth does not implement.
    #[error("{what} is not supported")]
    Unsupported {
        /// The feature.
        what: &'static str,
    },
    /// libseccomp refused a rule.
    #[error("failed to add seccomp rule {action} for syscall {syscall}")]
    Rule {
        /// The syscall.
        syscall: String,
        /// The rule's action.
        action: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// The compiled program could not be exported from libseccomp.
    #[error("failed to export the compiled seccomp program")]
    Export {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused the filter.
    #[error("failed to load the seccomp filter into the kernel")]
    Load {
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
}

/// A compiled filter, ready to be loaded into the calling thread.
///
/// Not `Send`: it owns a libseccomp context, and it is meant to be compiled
/// and loaded by the same (single-threaded) container init.
#[derive(Debug)]
pub struct Filter {
    context: ScmpFilterContext,
    /// seccomp(2) flags for [`BpfProgram`], from the profile's `flags`.
    flags: u32,
    /// Syscall names in the profile unknown to libseccomp for this
    /// architecture, skipped as runc does.
    skipped: Vec<String>,
}

impl Filter {
    /// Installs the filter for the calling thread (and its future
    /// children). Needs `no_new_privs` or `CAP_SYS_ADMIN`; see the module
    /// docs for where container init must call it.
    pub fn load(self) -> Result<(), SeccompError> {
        self.context
            .load()
            .map_err(|source| SeccompError::Load { source })
    }

    /// The filter as raw BPF with the profile's flags, for loading without
    /// allocation in a forked child ([`BpfProgram::load`]).
    pub fn program(&self) -> Result<BpfProgram, SeccompError> {
        BpfProgram::export(&self.context, self.flags)
    }

    /// Syscall names the profile listed that this architecture does not
    /// know (skipped, not an error).
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }
}

/// Parses a `linux.seccomp` JSON object. An unknown action, operator,
/// architecture or flag is an error naming the offending value.
pub fn parse_profile(json: &[u8]) -> Result<LinuxSeccomp, SeccompError> {
    Ok(serde_json::from_slice(json)?)
}

/// Compiles `profile` into a [`Filter`]; nothing is loaded yet.
pub fn compile(profile: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    if profile.listener_path().is_some() {
        return Err(SeccompError::Unsupported {
            what: "seccomp listenerPath (user notification agents)",
        });
    }
    let default_action = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultAction",
    )?;
    let mut context =
        ScmpFilterContext::new(default_action).map_err(|source| SeccompError::Context {
            action: profile.default_action().to_string(),
            source,
        })?;
    // no_new_privs follows the spec, not libseccomp's default.
    context
        .set_ctl_nnp(false)
        .map_err(|source| SeccompError::Flag {
            flag: "SCMP_FLTATR_CTL_NNP".to_string(),
            source,
        })?;
    for &arch in profile.architectures().iter().flatten() {
        let scmp = scmp_arch(arch);
        let present = context
            .is_arch_present(scmp)
            .map_err(|source| SeccompError::Arch { arch, source })?;
        if !present {
            context
                .add_arch(scmp)
                .map_err(|source| SeccompError::Arch { arch, source })?;
        }
    }
    let mut flags = 0;
    for &flag in profile.flags().iter().flatten() {
        let outcome = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                flags |= program::flags::LOG;
                context.set_ctl_log(true)
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                flags |= program::flags::SPEC_ALLOW;
                context.set_ctl_ssb(true)
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {
                flags |= program::flags::TSYNC;
                context.set_ctl_tsync(true)
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                flags |= program::flags::WAIT_KILLABLE_RECV;
                context.set_ctl_waitkill(true)
            }
        };
        outcome.map_err(|source| SeccompError::Flag {
            flag: flag.to_string(),
            source,
        })?;
    }
    let mut skipped = Vec::new();
    for rule in profile.syscalls().iter().flatten() {
        add_rule(&mut context, rule, default_action, &mut skipped)?;
    }
    Ok(Filter {
        context,
        flags,
        skipped,
    })
}

fn add_rule(
    context: &mut ScmpFilterContext,
    rule: &LinuxSyscall,
    default_action: ScmpAction,
    skipped: &mut Vec<String>,
) -> Result<(), SeccompError> {
    let first = rule.names().first().cloned().unwrap_or_default();
    let rule_action = action(rule.action(), rule.errno_ret(), &first)?;
    let args = rule.args().as_deref().unwrap_or_default();
    let conditions = args
        .iter()
        .map(|arg| condition(&first, arg))
        .collect::<Result<Vec<_>, _>>()?;
    // libseccomp refuses rules whose action equals the default action;
    // they are redundant anyway (runc skips them the same way).
    if rule_action == default_action {
        return Ok(());
    }
    // Conditions on distinct arguments are ANDed in one rule. libseccomp
    // cannot AND two conditions on the same argument, so then each
    // condition becomes its own rule (ORed), which is what runc does and
    // what profiles written for it expect.
    let mut indices: Vec<usize> = args.iter().map(LinuxSeccompArg::index).collect();
    indices.sort_unstable();
    indices.dedup();
    let same_index_twice = indices.len() != args.len();
    for name in rule.names() {
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            tracing::debug!(syscall = %name, "seccomp: syscall unknown on this architecture, skipped");
            skipped.push(name.clone());
            continue;
        };
        let refused = |source| SeccompError::Rule {
            syscall: name.clone(),
            action: rule.action().to_string(),
            source,
        };
        if conditions.is_empty() {
            context.add_rule(rule_action, syscall).map_err(refused)?;
        } else if same_index_twice {
            for condition in &conditions {
                context
                    .add_rule_conditional(rule_action, syscall, std::slice::from_ref(condition))
                    .map_err(refused)?;
            }
        } else {
            context
                .add_rule_conditional(rule_action, syscall, &conditions)
                .map_err(refused)?;
        }
    }
    Ok(())
}

/// Maps an OCI action; `SCMP_ACT_ERRNO` without `errnoRet` returns `EPERM`
/// and `SCMP_ACT_TRACE` without it passes `EPERM` as the tracer's message
/// data, as in runc.
fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    context: &str,
) -> Result<ScmpAction, SeccompError> {
    let ret = |default: u32| -> Result<u16, SeccompError> {
        let value = errno_ret.unwrap_or(default);
        u16::try_from(value).map_err(|_| SeccompError::Errno {
            value,
            context: context.to_string(),
        })
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret(libc::EPERM as u32)?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret(libc::EPERM as u32)?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::Unsupported {
                what: "SCMP_ACT_NOTIFY (seccomp user notification)",
            });
        }
    })
}

/// Maps one argument condition. For `SCMP_CMP_MASKED_EQ` the OCI `value`
/// is the mask and `valueTwo` the value compared after masking (the order of
/// libseccomp's `SCMP_A0(SCMP_CMP_MASKED_EQ, mask, datum)`).
fn condition(syscall: &str, arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, SeccompError> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|&i| i <= 5)
        .ok_or_else(|| SeccompError::ArgIndex {
            syscall: syscall.to_string(),
            index: arg.index(),
        })?;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index, op, datum))
}

fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

#[cfg(test)]
mod tests;
