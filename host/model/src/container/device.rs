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
