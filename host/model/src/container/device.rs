//! `HostConfig.Devices` (`--device /dev/x[:/dev/y][:rwm]`): host device
//! nodes a container gets in its `/dev`, with the access its device cgroup
//! allows (moby `daemon/oci_linux.go`, `WithDevices`). The syntax is
//! checked at create (the docker CLI's `validateDevice` rules, so that an
//! API client gets the same); the node itself is the host's, read when
//! the spec is built.

use serde::{Deserialize, Serialize};

use super::AbsolutePath;

/// A `Devices` entry berth refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// A relative path (the CLI's message).
    #[error("{0} is not an absolute path")]
    NotAbsolute(String),
    /// Permissions other than a subset of `rwm` (the CLI's message).
    #[error("bad mode specified: {0}")]
    Mode(String),
    /// A `DeviceCgroupRules` entry that is not `TYPE MAJOR:MINOR ACCESS`
    /// (moby's message, `daemon/oci_linux.go`).
    #[error("invalid device cgroup rule format: '{0}'")]
    Rule(String),
}

/// A `DeviceCgroupRules` entry (`--device-cgroup-rule 'c 42:* rmw'`): one
/// more allow rule of the device cgroup, after Docker's deny-all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceCgroupRule {
    text: String,
    kind: char,
    major: Option<i64>,
    minor: Option<i64>,
    access: String,
}

impl DeviceCgroupRule {
    /// moby's `deviceCgroupRuleRegex`: `^([acb]) ([0-9]+|\*):([0-9]+|\*)
    /// ([rwm]{1,3})$`.
    pub fn new(rule: &str) -> Result<DeviceCgroupRule, DeviceError> {
        let bad = || DeviceError::Rule(rule.to_owned());
        let parts: Vec<&str> = rule.split(' ').collect();
        let [kind, numbers, access] = parts[..] else {
            return Err(bad());
        };
        let kind = match kind {
            "a" | "b" | "c" => kind.chars().next().ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let number = |n: &str| -> Result<Option<i64>, DeviceError> {
            match n {
                "*" => Ok(None),
                n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().map(Some).map_err(|_| bad())
                }
                _ => Err(bad()),
            }
        };
        if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(bad());
        }
        Ok(DeviceCgroupRule {
            text: rule.to_owned(),
            kind,
            major: number(major)?,
            minor: number(minor)?,
            access: access.to_owned(),
        })
    }

    /// `a` (all), `b` (block) or `c` (character).
    pub fn kind(&self) -> char {
        self.kind
    }

    /// The major number; `None` is `*`.
    pub fn major(&self) -> Option<i64> {
        self.major
    }

    /// The minor number; `None` is `*`.
    pub fn minor(&self) -> Option<i64> {
        self.minor
    }

    /// Some of `r`, `w`, `m`.
    pub fn access(&self) -> &str {
        &self.access
    }
}

impl TryFrom<String> for DeviceCgroupRule {
    type Error = DeviceError;
    fn try_from(rule: String) -> Result<DeviceCgroupRule, DeviceError> {
        DeviceCgroupRule::new(&rule)
    }
}

impl From<DeviceCgroupRule> for String {
    fn from(rule: DeviceCgroupRule) -> String {
        rule.text
    }
}

/// One device of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The node on the host.
    pub path_on_host: AbsolutePath,
    /// Where the container sees it.
    pub path_in_container: AbsolutePath,
    /// Some of `r`, `w`, `m`, each once: what the device cgroup allows.
    permissions: String,
}

impl Device {
    /// Checks a `DeviceMapping`: an empty container path is the host's, an
    /// empty permission string is `rwm` (moby's defaults).
    pub fn new(host: &str, container: &str, permissions: &str) -> Result<Device, DeviceError> {
        let absolute = |path: &str| {
            AbsolutePath::new(path)
                .filter(|p| !p.as_str().split('/').any(|c| c == ".."))
                .ok_or_else(|| DeviceError::NotAbsolute(path.to_owned()))
        };
        let path_on_host = absolute(host)?;
        let path_in_container = match container {
            "" => path_on_host.clone(),
            path => absolute(path)?,
        };
        let permissions = match permissions {
            "" => "rwm",
            p => p,
        };
        let mut seen = String::new();
        for c in permissions.chars() {
            if !"rwm".contains(c) || seen.contains(c) {
                return Err(DeviceError::Mode(permissions.to_owned()));
            }
            seen.push(c);
        }
        Ok(Device {
            path_on_host,
            path_in_container,
            permissions: permissions.to_owned(),
        })
    }

    /// The device cgroup access (`rwm` or a subset).
    pub fn permissions(&self) -> &str {
        &self.permissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_rules_follow_mobys_pattern() {
        let rule = DeviceCgroupRule::new("c 42:* rmw").expect("valid");
        assert_eq!(
            (rule.kind(), rule.major(), rule.minor(), rule.access()),
            ('c', Some(42), None, "rmw")
        );
        let rule = DeviceCgroupRule::new("a *:* m").expect("valid");
        assert_eq!((rule.kind(), rule.major(), rule.minor()), ('a', None, None));
        for bad in [
            "c 1:3",
            "x 1:3 r",
            "c 1 r",
            "c 1:3 rwmr",
            "c 1:3 x",
            "c  1:3 r",
            "c -1:3 r",
            "c 1:3 r ",
        ] {
            assert_eq!(
                DeviceCgroupRule::new(bad).map_err(|e| e.to_string()),
                Err(format!("invalid device cgroup rule format: '{bad}'")),
                "{bad}"
            );
        }
    }

    #[test]
    fn mobys_defaults_and_the_clis_checks() {
        let d = Device::new("/dev/zero", "", "").expect("valid");
        assert_eq!(
            (d.path_in_container.as_str(), d.permissions()),
            ("/dev/zero", "rwm")
        );
        let d = Device::new("/dev/zero", "/dev/z", "r").expect("valid");
        assert_eq!(
            (d.path_in_container.as_str(), d.permissions()),
            ("/dev/z", "r")
        );
        assert_eq!(
            Device::new("dev/zero", "", ""),
            Err(DeviceError::NotAbsolute("dev/zero".into()))
        );
        assert_eq!(
            Device::new("/dev/zero", "/dev/../etc/x", ""),
            Err(DeviceError::NotAbsolute("/dev/../etc/x".into()))
        );
        for bad in ["rwx", "rr", "a"] {
            assert_eq!(
                Device::new("/dev/zero", "", bad),
                Err(DeviceError::Mode(bad.into()))
            );
        }
    }
}
