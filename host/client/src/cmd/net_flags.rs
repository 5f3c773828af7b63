//! `create`/`run` flags for the container's name resolution (`--dns`,
//! `--dns-search`, `--dns-option`, `--add-host`), its published ports
//! (`-p`, `-P`, `--expose`), its addresses (`--ip`, `--ip6`: the
//! endpoint's `IPAMConfig`) and its names on its network
//! (`--network-alias`: the endpoint's `Aliases`), sent as the docker CLI
//! sends them
//! (`cli/command/container/opts.go`: the DNS lists as given; ports through
//! go-connections `nat.ParsePortSpecs`: `ExposedPorts` and
//! `PortBindings`). berthd checks each value at create.

use anyhow::{Result, anyhow, bail};
use berth_api::container::{Config, HostConfig, PortBinding};
use clap::Args;

/// DNS flags.
#[derive(Debug, Clone, Default, Args)]
pub struct NetArgs {
    /// Set custom DNS servers.
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_options: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, host=ip, host:host-gateway).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    /// Publish a container's port(s) to the host
    /// ([ip:][hostPort|range:]containerPort[/tcp|udp]).
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104) on the `--network`, a user
    /// network with a subnet of the user's.
    #[arg(long = "ip", value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33) on the `--network`, a user
    /// network with a subnet of the user's.
    #[arg(long = "ip6", value_name = "ADDRESS")]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container (on a user-defined
    /// `--network` only).
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_aliases: Vec<String>,
}

/// The docker CLI's refusal of `--network-alias` off a user-defined
/// network (`cli/command/container/opts.go` `parseNetworkAttachmentOpt`).
const ALIAS_NEEDS_USER_NETWORK: &str =
    "network-scoped aliases are only supported for user-defined networks";

/// moby `container.NetworkMode.IsUserDefined`: not `default`, `bridge`,
/// `host`, `none` or `container:<id>`.
fn is_user_defined(network: &str) -> bool {
    !matches!(network, "default" | "bridge" | "host" | "none") && !network.starts_with("container:")
}

/// go-connections `nat.ParsePortRange`: `N` or `N-M`.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let number = |n: &str| {
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse::<u16>().ok())
            .flatten()
    };
    let (first, last) = (number(first)?, number(last)?);
    (first <= last).then_some((first, last))
}

/// go-connections `nat.ParsePortSpec`: `[ip:][hostPort|range:]containerPort[/proto]`
/// (an IPv6 address in brackets), one `(key, binding)` per container port.
fn parse_port_spec(spec: &str) -> Result<Vec<(String, PortBinding)>> {
    let (rest, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    if !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    // The container port is after the last colon; the host port before it,
    // the address before that (which may hold colons itself: `[::1]`).
    let (head, container) = match rest.rsplit_once(':') {
        Some((head, container)) => (Some(head), container),
        None => (None, rest),
    };
    let (ip, host) = match head {
        None => ("", ""),
        Some(head) => match head.rsplit_once(':') {
            Some((ip, host)) => (ip, host),
            None => ("", head),
        },
    };
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address: {ip}");
    }
    let (c_first, c_last) =
        port_range(container).ok_or_else(|| anyhow!("invalid containerPort: {container}"))?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(port_range(host).ok_or_else(|| anyhow!("invalid hostPort: {host}"))?)
    };
    let count = c_last - c_first;
    if let Some((h_first, h_last)) = host_range
        && h_last - h_first != count
        && count != 0
    {
        bail!("invalid ranges specified for container and host Ports: {container} and {host}");
    }
    let mut out = Vec::new();
    for i in 0..=count {
        let host_port = match host_range {
            None => String::new(),
            // One container port, a host range: the daemon picks in it.
            Some((first, last)) if count == 0 && first != last => format!("{first}-{last}"),
            Some((first, _)) => (first + i).to_string(),
        };
        out.push((
            format!("{}/{}", c_first + i, proto.to_ascii_lowercase()),
            PortBinding {
                host_ip: ip.to_owned(),
                host_port,
            },
        ));
    }
    Ok(out)
}

impl NetArgs {
    /// Writes the flags into `config` and `host`.
    pub fn apply(&self, config: &mut Config, host: &mut HostConfig) -> Result<()> {
        host.dns = self.dns.clone();
        host.dns_search = self.dns_search.clone();
        host.dns_options = self.dns_options.clone();
        host.extra_hosts = self.add_hosts.clone();
        for spec in &self.publish {
            for (key, binding) in parse_port_spec(spec)? {
                config
                    .exposed_ports
                    .insert(key.clone(), serde_json::json!({}));
                host.port_bindings
                    .entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(binding);
            }
        }
        for spec in &self.expose {
            let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
            let (first, last) = port_range(port)
                .ok_or_else(|| anyhow!("invalid range format for --expose: {spec}"))?;
            for port in first..=last {
                config
                    .exposed_ports
                    .insert(format!("{port}/{proto}"), serde_json::json!({}));
            }
        }
        host.publish_all_ports = self.publish_all;
        Ok(())
    }

    /// The `NetworkingConfig` of `--ip`/`--ip6` and `--network-alias`:
    /// the addresses and aliases in the `EndpointsConfig` entry of
    /// `network` (the container's network mode, `default` without
    /// `--network`), as the docker CLI sends them
    /// (`cli/command/container/opts.go` `parseNetworkOpts`: the first
    /// network takes them; `parseNetworkAttachmentOpt` sets `IPAMConfig`
    /// when an address is given, an empty one left out as Go's
    /// `omitempty`, and `Aliases`). The addresses go as given: berthd
    /// checks them against the network and refuses one off a user network
    /// with moby's message. Aliases off a user-defined network are refused
    /// here, with the docker CLI's message, as the CLI does.
    pub fn networking_config(&self, network: &str) -> Result<Option<serde_json::Value>> {
        if !self.network_aliases.is_empty() && !is_user_defined(network) {
            bail!(ALIAS_NEEDS_USER_NETWORK);
        }
        let mut ipam = serde_json::Map::new();
        for (key, address) in [("IPv4Address", &self.ip), ("IPv6Address", &self.ip6)] {
            if let Some(address) = address.as_deref().filter(|a| !a.is_empty()) {
                ipam.insert(key.to_owned(), address.into());
            }
        }
        let mut endpoint = serde_json::Map::new();
        if !ipam.is_empty() {
            endpoint.insert("IPAMConfig".to_owned(), ipam.into());
        }
        if !self.network_aliases.is_empty() {
            endpoint.insert("Aliases".to_owned(), self.network_aliases.clone().into());
        }
        if endpoint.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::json!({"EndpointsConfig": {network: endpoint}}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_flags_are_sent_as_given() {
        let args = NetArgs {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["lan".into()],
            dns_options: vec!["ndots:2".into()],
            add_hosts: vec!["db:10.0.0.5".into(), "gw:host-gateway".into()],
            ..NetArgs::default()
        };
        let mut host = HostConfig::default();
        args.apply(&mut Config::default(), &mut host).unwrap();
        assert_eq!(host.dns, ["1.1.1.1"]);
        assert_eq!(host.dns_search, ["lan"]);
        assert_eq!(host.dns_options, ["ndots:2"]);
        assert_eq!(host.extra_hosts, ["db:10.0.0.5", "gw:host-gateway"]);
    }

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn port_specs_parse_as_the_docker_cli() {
        let one = |s: &str| parse_port_spec(s).unwrap();
        assert_eq!(one("80"), [("80/tcp".into(), binding("", ""))]);
        assert_eq!(one("8080:80"), [("80/tcp".into(), binding("", "8080"))]);
        assert_eq!(
            one("127.0.0.1:8080:80/udp"),
            [("80/udp".into(), binding("127.0.0.1", "8080"))]
        );
        assert_eq!(
            one("127.0.0.1::80"),
            [("80/tcp".into(), binding("127.0.0.1", ""))]
        );
        assert_eq!(
            one("[::1]:8080:80"),
            [("80/tcp".into(), binding("::1", "8080"))]
        );
        assert_eq!(
            one("8000-8001:80-81"),
            [
                ("80/tcp".into(), binding("", "8000")),
                ("81/tcp".into(), binding("", "8001"))
            ]
        );
        assert_eq!(
            one("8000-8010:80"),
            [("80/tcp".into(), binding("", "8000-8010"))]
        );
        for (bad, message) in [
            ("80/icmp", "invalid proto: icmp"),
            ("x:80", "invalid hostPort: x"),
            ("8080:y", "invalid containerPort: y"),
            ("1.2.3:8080:80", "invalid IP address: 1.2.3"),
            (
                "8000-8002:80-81",
                "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
            ),
        ] {
            assert_eq!(
                parse_port_spec(bad).unwrap_err().to_string(),
                message,
                "{bad}"
            );
        }
    }

    #[test]
    fn publish_and_expose_fill_both_maps_as_the_docker_cli() {
        let args = NetArgs {
            publish: vec!["8080:80".into(), "9090:80".into()],
            publish_all: true,
            expose: vec!["7000-7001/udp".into()],
            ..NetArgs::default()
        };
        let (mut config, mut host) = (Config::default(), HostConfig::default());
        args.apply(&mut config, &mut host).unwrap();
        let exposed: Vec<&str> = config.exposed_ports.keys().map(String::as_str).collect();
        assert_eq!(exposed, ["7000/udp", "7001/udp", "80/tcp"]);
        assert_eq!(
            host.port_bindings["80/tcp"],
            Some(vec![binding("", "8080"), binding("", "9090")])
        );
        assert!(host.publish_all_ports);
    }
}
