//! `create`/`run` flags for kernel settings and devices (`--sysctl`,
//! `--device`, `--device-cgroup-rule`, `--group-add`, `--init`), turned into
//! `HostConfig` as the docker CLI does (`cli/command/container/opts.go`).
//! berthd checks each value; the client only splits them.

use anyhow::{Result, bail};
use berth_api::container::{DeviceMapping, HostConfig};
use clap::Args;

/// Kernel and device flags.
#[derive(Debug, Clone, Default, Args)]
pub struct HostArgs {
    /// Namespaced kernel parameter (KEY=VALUE, e.g. net.ipv4.ip_forward=1).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctls: Vec<String>,
    /// Host device for the container (HOST[:CONTAINER][:PERMISSIONS]).
    #[arg(long = "device", value_name = "DEVICE")]
    pub devices: Vec<String>,
    /// Rule for the devices cgroup ('c 1:3 rwm').
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rules: Vec<String>,
    /// Additional groups to join (names or ids).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps
    /// processes.
    #[arg(long)]
    pub init: bool,
    /// Connect the container to a network (`none`, `host`,
    /// `container:NAME`, `bridge` or a network's name); berthd refuses
    /// what it cannot honour.
    #[arg(long = "network", alias = "net", value_name = "NETWORK")]
    pub network: Option<String>,
}

/// Whether `mode` is a device access mode: some of `rwm`, each once.
fn valid_device_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && mode
            .chars()
            .enumerate()
            .all(|(i, c)| !mode[..i].contains(c))
}

/// The docker CLI's `parseLinuxDevice`: `src`, `src:dst`, `src:mode` or
/// `src:dst:mode`, the mode `rwm` by default, the destination the source.
fn parse_device(spec: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = spec.splitn(4, ':').collect();
    let (src, second, third) = match parts[..] {
        [src] => (src, None, None),
        [src, second] => (src, Some(second), None),
        [src, second, third] => (src, Some(second), Some(third)),
        _ => bail!("invalid device specification: {spec}"),
    };
    let mut permissions = third.unwrap_or("rwm");
    let mut dst = "";
    if let Some(second) = second {
        if third.is_none() && valid_device_mode(second) {
            permissions = second;
        } else {
            dst = second;
        }
    }
    Ok(DeviceMapping {
        path_on_host: src.to_owned(),
        path_in_container: if dst.is_empty() { src } else { dst }.to_owned(),
        cgroup_permissions: permissions.to_owned(),
    })
}

impl HostArgs {
    /// Writes the flags into `host`.
    pub fn apply(&self, host: &mut HostConfig) -> Result<()> {
        for entry in &self.sysctls {
            let Some((key, value)) = entry.split_once('=') else {
                bail!(
                    "invalid argument {entry:?} for \"--sysctl\" flag: sysctl '{entry}' is not allowed"
                );
            };
            host.sysctls.insert(key.to_owned(), value.to_owned());
        }
        host.devices = self
            .devices
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_>>()?;
        host.device_cgroup_rules = self.device_cgroup_rules.clone();
        host.group_add = self.group_add.clone();
        host.init = self.init.then_some(true);
        if let Some(network) = &self.network {
            if network.is_empty() {
                bail!("invalid argument \"\" for \"--network\" flag: empty network name");
            }
            host.network_mode = network.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, container: &str, mode: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: container.into(),
            cgroup_permissions: mode.into(),
        }
    }

    #[test]
    fn devices_parse_as_the_docker_cli_parses_them() {
        assert_eq!(
            parse_device("/dev/null").unwrap(),
            mapping("/dev/null", "/dev/null", "rwm")
        );
        assert_eq!(
            parse_device("/dev/null:r").unwrap(),
            mapping("/dev/null", "/dev/null", "r")
        );
        assert_eq!(
            parse_device("/dev/null:/dev/x").unwrap(),
            mapping("/dev/null", "/dev/x", "rwm")
        );
        assert_eq!(
            parse_device("/dev/null:/dev/x:rw").unwrap(),
            mapping("/dev/null", "/dev/x", "rw")
        );
        // Not a mode (a letter twice): a destination.
        assert_eq!(
            parse_device("/dev/null:rr").unwrap(),
            mapping("/dev/null", "rr", "rwm")
        );
        assert_eq!(
            parse_device("/a:/b:r:x").unwrap_err().to_string(),
            "invalid device specification: /a:/b:r:x"
        );
    }

    #[test]
    fn flags_fill_the_host_config() {
        let args = HostArgs {
            sysctls: vec!["net.ipv4.ip_forward=1".into(), "kernel.msgmax=65536".into()],
            devices: vec!["/dev/null:/dev/x:r".into()],
            device_cgroup_rules: vec!["c 1:3 rwm".into()],
            group_add: vec!["audio".into(), "1234".into()],
            network: Some("host".into()),
            init: true,
        };
        let mut host = HostConfig::default();
        args.apply(&mut host).unwrap();
        assert_eq!(
            host.sysctls.get("net.ipv4.ip_forward").map(String::as_str),
            Some("1")
        );
        assert_eq!(host.sysctls.len(), 2);
        assert_eq!(host.devices, [mapping("/dev/null", "/dev/x", "r")]);
        assert_eq!(host.device_cgroup_rules, ["c 1:3 rwm"]);
        assert_eq!(host.group_add, ["audio", "1234"]);
        assert_eq!(host.network_mode, "host");
        assert_eq!(host.init, Some(true));
        let mut plain = HostConfig::default();
        HostArgs::default().apply(&mut plain).unwrap();
        assert_eq!(plain.init, None);
        let bad = HostArgs {
            sysctls: vec!["net.ipv4.ip_forward".into()],
            ..HostArgs::default()
        };
        assert!(bad.apply(&mut HostConfig::default()).is_err());
    }
}
