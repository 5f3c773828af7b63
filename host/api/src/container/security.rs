//! `HostConfig.SecurityOpt`, parsed once, at create: the daemon refuses a
//! bad option and keeps the result in the container model
//! (`berth_model::container::Security`), which the exec driver turns into
//! the runtime spec at start.
//!
//! What berth honours: `no-new-privileges` (bare, `=bool` or `:bool`),
//! `seccomp=unconfined`, `seccomp=builtin`, `seccomp=<profile JSON>` (the
//! docker CLI reads `seccomp=FILE` and sends the file's content). berth
//! applies no AppArmor profile and no SELinux label (libcontainer refuses
//! both in a spec), so `apparmor=unconfined` and `label=disable` ask for
//! what a container gets anyway and are accepted; any other AppArmor
//! profile or label would be silently dropped and is refused.

// The seccomp choice and Docker's profile format are the container model's
// (`berth_model::container`): the exec driver reads them without this crate.
pub use berth_model::container::{
    KernelVersion, Seccomp, SeccompArchMap, SeccompCondition, SeccompProfile, SeccompRule,
};

/// The parsed `SecurityOpt` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityOptions {
    /// Set `no_new_privs` on the container's processes.
    pub no_new_privileges: bool,
    /// Which seccomp filter the container gets.
    pub seccomp: Seccomp,
}

/// A `SecurityOpt` entry berth refuses, with moby's message where moby has
/// one (`daemon/daemon_unix.go`, `parseSecurityOpt`;
/// `profiles/seccomp/seccomp.go`, `LoadProfile`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityOptError {
    /// Neither `key=value`, `key:value` nor a bare known option.
    #[error("invalid --security-opt 1: {0:?}")]
    Malformed(String),
    /// An unknown key, or a `no-new-privileges` value that is no boolean.
    #[error("invalid --security-opt 2: {0:?}")]
    Invalid(String),
    /// A valid Docker option that berth cannot honour.
    #[error("--security-opt {option:?} is not supported by berth: {reason}")]
    Unsupported {
        /// The entry.
        option: String,
        /// Why.
        reason: &'static str,
    },
    /// A seccomp profile that does not decode.
    #[error("Decoding seccomp profile failed: {0}")]
    Seccomp(String),
    /// A seccomp profile that decodes but breaks one of moby's rules
    /// (worded as moby's decoding failure).
    #[error("Decoding seccomp profile failed: {0}")]
    SeccompRule(#[from] berth_model::container::seccomp::ProfileError),
}

impl SecurityOptions {
    /// Parses `HostConfig.SecurityOpt` with moby's rules: later entries win.
    pub fn parse(options: &[String]) -> Result<SecurityOptions, SecurityOptError> {
        let mut parsed = SecurityOptions::default();
        for option in options {
            match option.as_str() {
                "no-new-privileges" => {
                    parsed.no_new_privileges = true;
                    continue;
                }
                // The legacy spelling of label=disable.
                "disable" => continue,
                _ => {}
            }
            // moby splits at the first '=', else at the first ':' (the
            // deprecated separator).
            let separator = if option.contains('=') { '=' } else { ':' };
            let Some((key, value)) = option.split_once(separator) else {
                return Err(SecurityOptError::Malformed(option.clone()));
            };
            match key {
                "no-new-privileges" => {
                    parsed.no_new_privileges = parse_go_bool(value)
                        .ok_or_else(|| SecurityOptError::Invalid(option.clone()))?;
                }
                "seccomp" => parsed.seccomp = parse_seccomp(value)?,
                // The default (empty) profile is none at all here.
                "apparmor" if value.is_empty() || value == "unconfined" => {}
                "apparmor" => {
                    return Err(SecurityOptError::Unsupported {
                        option: option.clone(),
                        reason: "it applies no AppArmor profile (only apparmor=unconfined is accepted)",
                    });
                }
                "label" if value == "disable" => {}
                "label" => {
                    return Err(SecurityOptError::Unsupported {
                        option: option.clone(),
                        reason: "it applies no SELinux label (only label=disable is accepted)",
                    });
                }
                _ => return Err(SecurityOptError::Invalid(option.clone())),
            }
        }
        Ok(parsed)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_seccomp(value: &str) -> Result<Seccomp, SecurityOptError> {
    match value {
        // moby `dconfig.SeccompProfileDefault`; an empty value is the
        // daemon's default, which is Docker's profile.
        "" | "builtin" => Ok(Seccomp::Default),
        "unconfined" => Ok(Seccomp::Unconfined),
        json => {
            let profile: SeccompProfile =
                serde_json::from_str(json).map_err(|e| SecurityOptError::Seccomp(e.to_string()))?;
            profile.check()?;
            // moby `setupSeccomp`: no default action and no rules means
            // seccomp disabled.
            if profile.default_action.is_none() && profile.syscalls.is_empty() {
                return Ok(Seccomp::Unconfined);
            }
            Ok(Seccomp::Profile(Box::new(profile)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> Result<SecurityOptions, SecurityOptError> {
        SecurityOptions::parse(&options.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn no_new_privileges_in_every_spelling() {
        for on in [
            &["no-new-privileges"][..],
            &["no-new-privileges=true"],
            &["no-new-privileges:true"],
            &["no-new-privileges=1"],
            &["no-new-privileges=false", "no-new-privileges"],
        ] {
            assert!(parse(on).unwrap().no_new_privileges, "{on:?}");
        }
        for off in [
            &[][..],
            &["no-new-privileges=false"],
            &["no-new-privileges:False"],
            &["no-new-privileges", "no-new-privileges=0"],
        ] {
            assert!(!parse(off).unwrap().no_new_privileges, "{off:?}");
        }
    }

    #[test]
    fn mobys_messages_for_what_docker_refuses() {
        for (option, message) in [
            ("bogus", r#"invalid --security-opt 1: "bogus""#),
            ("label", r#"invalid --security-opt 1: "label""#),
            ("bogus=1", r#"invalid --security-opt 2: "bogus=1""#),
            ("unknown:x", r#"invalid --security-opt 2: "unknown:x""#),
            (
                "no-new-privileges=maybe",
                r#"invalid --security-opt 2: "no-new-privileges=maybe""#,
            ),
            // A CLI-only option that an API client passed through.
            (
                "systempaths=unconfined",
                r#"invalid --security-opt 2: "systempaths=unconfined""#,
            ),
        ] {
            assert_eq!(parse(&[option]).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn apparmor_and_selinux_only_as_the_nothing_berth_applies() {
        for ok in [
            "apparmor=unconfined",
            "apparmor:unconfined",
            "label=disable",
            "disable",
        ] {
            assert_eq!(parse(&[ok]).unwrap(), SecurityOptions::default(), "{ok}");
        }
        for refused in [
            "apparmor=docker-default",
            "label=type:svirt_apache_t",
            "label=level:s0",
        ] {
            let err = parse(&[refused]).unwrap_err();
            assert!(
                matches!(err, SecurityOptError::Unsupported { .. }),
                "{refused}: {err}"
            );
        }
    }

    #[test]
    fn seccomp_choices() {
        assert_eq!(parse(&[]).unwrap().seccomp, Seccomp::Default);
        assert_eq!(
            parse(&["seccomp=builtin"]).unwrap().seccomp,
            Seccomp::Default
        );
        assert_eq!(
            parse(&["seccomp=unconfined"]).unwrap().seccomp,
            Seccomp::Unconfined
        );
        assert_eq!(parse(&["seccomp={}"]).unwrap().seccomp, Seccomp::Unconfined);
        let profile = r#"seccomp={"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
            "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[],
              "includes":{"caps":["CAP_SYS_ADMIN"],"minKernel":"4.8"},"excludes":{}},
              {"name":"mount","action":"SCMP_ACT_ALLOW","args":null,"comment":"old"}]}"#;
        let Seccomp::Profile(parsed) = parse(&[profile]).unwrap().seccomp else {
            panic!("a profile");
        };
        assert_eq!(parsed.syscalls.len(), 2);
        assert_eq!(
            parsed.syscalls[0]
                .includes
                .as_ref()
                .and_then(|i| i.min_kernel),
            Some(KernelVersion {
                kernel: 4,
                major: 8
            })
        );
        assert_eq!(parsed.syscalls[1].name, "mount");
    }

    #[test]
    fn bad_profiles_fail_with_mobys_prefix() {
        for (json, wanted) in [
            ("/etc/profile.json", "Decoding seccomp profile failed: "),
            (
                r#"{"defaultAction":"SCMP_ACT_NOPE"}"#,
                "Decoding seccomp profile failed: unknown variant",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
                "Decoding seccomp profile failed: both 'architectures' and 'archMap'",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
                "Decoding seccomp profile failed: both 'name' and 'names'",
            ),
            (
                r#"{"syscalls":[{"names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
                "Decoding seccomp profile failed: the profile has syscall rules but no defaultAction",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["b"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"0.0"}}]}"#,
                "Decoding seccomp profile failed: invalid kernel version",
            ),
        ] {
            let err = parse(&[&format!("seccomp={json}")])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(wanted), "{json}: {err}");
        }
        let json = r#"{"syscalls":[{"names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#;
        assert!(matches!(
            parse(&[&format!("seccomp={json}")]),
            Err(SecurityOptError::SeccompRule(
                berth_model::container::seccomp::ProfileError::RulesWithoutDefaultAction
            ))
        ));
    }
}
