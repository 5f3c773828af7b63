//! A seccomp profile in Docker's format (moby `profiles/seccomp`), moved
//! from `berth_api::container::security` (which re-exports it): the model
//! carries a checked profile; the exec driver resolves it per container.

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag};
use serde::{Deserialize, Deserializer, Serialize};

/// A seccomp profile in Docker's format (moby `profiles/seccomp`,
/// `Seccomp`): the OCI `linux.seccomp` object plus `archMap` and
/// conditional rules, resolved against the container's capabilities and
/// the host's architecture and kernel when the runtime spec is built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeccompProfile {
    /// The action for syscalls no rule matches.
    pub default_action: Option<LinuxSeccompAction>,
    /// The errno of an `SCMP_ACT_ERRNO` default action.
    pub default_errno_ret: Option<u32>,
    /// Architectures, as in the OCI profile.
    #[serde(deserialize_with = "null_as_default")]
    pub architectures: Vec<Arch>,
    /// Architectures by native one: the entry of the host's architecture
    /// contributes it and its sub-architectures.
    #[serde(deserialize_with = "null_as_default")]
    pub arch_map: Vec<SeccompArchMap>,
    /// seccomp(2) filter flags.
    #[serde(deserialize_with = "null_as_default")]
    pub flags: Vec<LinuxSeccompFilterFlag>,
    /// A seccomp agent's socket (refused when the spec is compiled).
    pub listener_path: Option<String>,
    /// Data for the agent.
    pub listener_metadata: Option<String>,
    /// Rules, each possibly conditional.
    #[serde(deserialize_with = "null_as_default")]
    pub syscalls: Vec<SeccompRule>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompArchMap {
    /// The native architecture.
    pub architecture: Arch,
    /// Its compat ABIs.
    #[serde(
        rename = "subArchitectures",
        default,
        deserialize_with = "null_as_default"
    )]
    pub sub_architectures: Vec<Arch>,
}

/// One rule of a Docker profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompRule {
    /// Syscall names.
    #[serde(default, deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    /// One syscall name (the old format; not with `names`).
    #[serde(default)]
    pub name: String,
    /// What happens when it matches.
    pub action: LinuxSeccompAction,
    /// The errno of an `SCMP_ACT_ERRNO` action.
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// Argument conditions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub args: Vec<LinuxSeccompArg>,
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// The rule applies only when all of these hold.
    #[serde(default)]
    pub includes: Option<SeccompCondition>,
    /// The rule applies only when none of these holds.
    #[serde(default)]
    pub excludes: Option<SeccompCondition>,
}

/// `includes`/`excludes` of a rule (moby's `Filter`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeccompCondition {
    /// Capability names (`CAP_SYS_ADMIN`): includes needs all of them in the
    /// container's bounding set, excludes any.
    #[serde(deserialize_with = "null_as_default")]
    pub caps: Vec<String>,
    /// Go architecture names (`amd64`, `arm64`, ...).
    #[serde(deserialize_with = "null_as_default")]
    pub arches: Vec<String>,
    /// `"<kernel>.<major>"`: the host's kernel is at least this version.
    pub min_kernel: Option<KernelVersion>,
}

/// A `minKernel` value: kernel and major revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct KernelVersion {
    /// `4` of `4.1`.
    pub kernel: u8,
    /// `1` of `4.1`.
    pub major: u8,
}

impl From<KernelVersion> for String {
    fn from(v: KernelVersion) -> String {
        format!("{}.{}", v.kernel, v.major)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    /// moby's `KernelVersion.UnmarshalJSON`, with its messages.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KernelVersion, D::Error> {
        let raw = String::deserialize(d)?;
        let invalid = |why: &str| {
            serde::de::Error::custom(format!(
                r#"invalid kernel version: "{raw}", expected "<kernel>.<major>"{why}"#
            ))
        };
        let mut parts = raw.splitn(3, '.');
        let (Some(kernel), Some(major), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid(""));
        };
        let (Ok(kernel), Ok(major)) = (kernel.parse::<u8>(), major.parse::<u8>()) else {
            return Err(invalid(": not a number"));
        };
        if kernel == 0 && major == 0 {
            return Err(invalid(": version cannot be 0.0"));
        }
        Ok(KernelVersion { kernel, major })
    }
}

/// A seccomp profile that breaks one of moby's `setupSeccomp` rules (the
/// first two messages are moby's, `profiles/seccomp/seccomp_linux.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Both `architectures` and `archMap`.
    #[error(
        "both 'architectures' and 'archMap' are specified in the seccomp profile, use either \
         'architectures' or 'archMap'"
    )]
    ArchitecturesAndArchMap,
    /// A rule with both `name` and `names`.
    #[error(
        "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or \
         'names'"
    )]
    NameAndNames,
    /// Syscall rules without a `defaultAction`.
    #[error("the profile has syscall rules but no defaultAction")]
    RulesWithoutDefaultAction,
}

impl SeccompProfile {
    /// The checks of moby's `setupSeccomp` that do not depend on the host.
    pub fn check(&self) -> Result<(), ProfileError> {
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(ProfileError::ArchitecturesAndArchMap);
        }
        if self
            .syscalls
            .iter()
            .any(|rule| !rule.name.is_empty() && !rule.names.is_empty())
        {
            return Err(ProfileError::NameAndNames);
        }
        // runc refuses this at start; here it is a create error.
        if self.default_action.is_none() && !self.syscalls.is_empty() {
            return Err(ProfileError::RulesWithoutDefaultAction);
        }
        Ok(())
    }
}

/// Accepts `null` where a collection is expected, as Go does.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
