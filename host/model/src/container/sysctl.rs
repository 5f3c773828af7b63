//! `HostConfig.Sysctls` (`--sysctl`): kernel parameters set in the
//! container's own namespaces, checked at create with runc's rules
//! (`libcontainer/configs/validate/validator.go`, `sysctl`), which dockerd
//! leaves to the runtime at start. A berth container always has its own
//! IPC, network and UTS namespaces (the modes that would share the host's
//! are refused at create), so what runc allows there is what berth allows:
//! the IPC ones (`kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`),
//! `net.*`, and `kernel.domainname`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The IPC namespace's sysctls that are not under `fs.mqueue.` (runc's
/// `validSysctlMap`, the list of moby `opts.ValidateSysctl` too).
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// A sysctl berth refuses, with runc's message where runc has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysctlError {
    /// Not in a namespace of the container's own (runc's message).
    #[error("sysctl {0:?} is not in a separate kernel namespace")]
    NotNamespaced(String),
    /// `kernel.hostname`, which `Config.Hostname` sets (runc's message).
    #[error("sysctl {0:?} is not allowed as it conflicts with the OCI \"hostname\" field")]
    Hostname(String),
    /// A key with an empty component or a character `/proc/sys` has no
    /// name for, or a value with a NUL or newline, which the kernel would
    /// cut or refuse at start.
    #[error("invalid sysctl {key:?}={value:?}: {reason}")]
    Malformed {
        /// The key as given.
        key: String,
        /// The value as given.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// Checked sysctls, key (dot-separated) → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct Sysctls(BTreeMap<String, String>);

impl Sysctls {
    /// Checks each entry; a key written with `/` separators
    /// (`net/ipv4/ip_forward`) is normalised to dots as runc does
    /// (`convertSysctlVariableToDotsSeparator`).
    pub fn new(given: BTreeMap<String, String>) -> Result<Sysctls, SysctlError> {
        let mut checked = BTreeMap::new();
        for (key, value) in given {
            let normal = dotted(&key);
            check(&normal, &value).map_err(|reason| match reason {
                Refusal::Malformed(reason) => SysctlError::Malformed {
                    key: key.clone(),
                    value: value.clone(),
                    reason,
                },
                Refusal::Hostname => SysctlError::Hostname(normal.clone()),
                Refusal::NotNamespaced => SysctlError::NotNamespaced(normal.clone()),
            })?;
            checked.insert(normal, value);
        }
        Ok(Sysctls(checked))
    }

    /// The entries, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// No sysctl.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

enum Refusal {
    Malformed(&'static str),
    Hostname,
    NotNamespaced,
}

/// runc: a key whose first separator is `/` has `/` and `.` swapped.
fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_owned(),
    }
}

fn check(key: &str, value: &str) -> Result<(), Refusal> {
    if key.split('.').any(str::is_empty) {
        return Err(Refusal::Malformed("the key has an empty component"));
    }
    if key
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\0')
    {
        return Err(Refusal::Malformed(
            "the key has a control or space character",
        ));
    }
    if value.contains(['\0', '\n']) {
        return Err(Refusal::Malformed("the value has a NUL or newline"));
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") || key.starts_with("net.") {
        return Ok(());
    }
    match key {
        // Namespaced by UTS, and no OCI field sets it (runc since 1.2).
        "kernel.domainname" => Ok(()),
        "kernel.hostname" => Err(Refusal::Hostname),
        _ => Err(Refusal::NotNamespaced),
    }
}

impl TryFrom<BTreeMap<String, String>> for Sysctls {
    type Error = SysctlError;
    fn try_from(given: BTreeMap<String, String>) -> Result<Sysctls, SysctlError> {
        Sysctls::new(given)
    }
}

impl From<Sysctls> for BTreeMap<String, String> {
    fn from(sysctls: Sysctls) -> BTreeMap<String, String> {
        sysctls.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> Result<Sysctls, String> {
        Sysctls::new(BTreeMap::from([(key.to_owned(), value.to_owned())]))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn namespaced_sysctls_are_kept() {
        for key in [
            "kernel.msgmax",
            "kernel.sem",
            "kernel.shmmax",
            "kernel.shm_rmid_forced",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "net.ipv4.conf.all.forwarding",
            "kernel.domainname",
        ] {
            let sysctls = one(key, "1").unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(sysctls.iter().collect::<Vec<_>>(), [(key, "1")]);
        }
        // The slash form becomes the dotted one; a dot in a component
        // (an interface name) survives as a slash.
        let sysctls = one("net/ipv4/conf/eth0.1/forwarding", "1").expect("slash form");
        assert_eq!(
            sysctls.iter().next(),
            Some(("net.ipv4.conf.eth0/1.forwarding", "1"))
        );
    }

    #[test]
    fn the_rest_is_refused_with_runcs_messages() {
        for (key, message) in [
            (
                "kernel.hostname",
                r#"sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field"#,
            ),
            (
                "kernel.pid_max",
                r#"sysctl "kernel.pid_max" is not in a separate kernel namespace"#,
            ),
            (
                "vm.swappiness",
                r#"sysctl "vm.swappiness" is not in a separate kernel namespace"#,
            ),
            (
                "kernel.msg",
                r#"sysctl "kernel.msg" is not in a separate kernel namespace"#,
            ),
            (
                "fs.mqueue",
                r#"sysctl "fs.mqueue" is not in a separate kernel namespace"#,
            ),
            (
                "net..x",
                r#"invalid sysctl "net..x"="1": the key has an empty component"#,
            ),
            (
                "net.ipv4.",
                r#"invalid sysctl "net.ipv4."="1": the key has an empty component"#,
            ),
        ] {
            assert_eq!(one(key, "1").unwrap_err(), message, "{key}");
        }
        assert_eq!(
            one("net.ipv4.ip_forward", "1\n0").unwrap_err(),
            r#"invalid sysctl "net.ipv4.ip_forward"="1\n0": the value has a NUL or newline"#
        );
    }

    #[test]
    fn a_record_cannot_carry_what_the_constructor_refuses() {
        let json = r#"{"net.ipv4.ip_forward":"1"}"#;
        let sysctls: Sysctls = serde_json::from_str(json).expect("valid");
        assert_eq!(serde_json::to_string(&sysctls).expect("serialise"), json);
        assert!(serde_json::from_str::<Sysctls>(r#"{"kernel.pid_max":"1"}"#).is_err());
    }
}
