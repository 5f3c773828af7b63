//! What a container asks to publish (`HostConfig.PortBindings`,
//! `PublishAllPorts` with `Config.ExposedPorts`), checked at create. The
//! host port is chosen and reserved when the container starts (the
//! engine's port allocator), which turns each [`PortRequest`] into a
//! [`PortBinding`](crate::network::PortBinding).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::network::Protocol;

/// A publication moby refuses, with moby's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A container or host port that is not a number in 1..=65535 (or a
    /// range of them) (moby `daemon/container.go` `validatePortBindings`).
    #[error("invalid port specification: {0:?}")]
    Spec(String),
    /// A transport that is not `tcp`, `udp` or `sctp` (go-connections
    /// `nat.validateProto`).
    #[error("invalid proto: {0}")]
    Proto(String),
    /// A transport whose host port berthd cannot check and hold (it
    /// binds a tcp or udp socket for each reserved port; std has no sctp
    /// socket and the kernel module may be absent).
    #[error(
        "publishing {0} ports is not supported by berth: only tcp and udp host ports can be reserved"
    )]
    ProtoUnsupported(String),
    /// A `HostIp` that is not an address.
    #[error("invalid host IP: {0:?}")]
    HostIp(String),
    /// A port on the IPv6 loopback address, which berthd cannot forward:
    /// a connection to `[::1]` DNATed to a container gets no answer (IPv6
    /// has no `route_localnet`), so moby serves these through its userland
    /// proxy, which berth does not have.
    #[error(
        "publishing a port on the IPv6 loopback address {0} is not supported by berth: the kernel cannot forward it to a container without a userland proxy; publish on 127.0.0.1 instead"
    )]
    Ipv6Loopback(String),
}

/// A container port with its transport, the key of `ExposedPorts` and
/// `PortBindings` (`80/tcp`; no transport means tcp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerPort {
    /// The port, 1..=65535.
    pub port: u16,
    /// Its transport.
    pub proto: Protocol,
}

impl FromStr for ContainerPort {
    type Err = PortError;
    /// go-connections `nat.SplitProtoPort` then `ParsePort`.
    fn from_str(key: &str) -> Result<ContainerPort, PortError> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let proto = match proto {
            "" => Protocol::Tcp,
            other => other
                .parse()
                .map_err(|_| PortError::Proto(other.to_owned()))?,
        };
        Ok(ContainerPort {
            port: port_number(port).ok_or_else(|| PortError::Spec(port.to_owned()))?,
            proto,
        })
    }
}

impl fmt::Display for ContainerPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.proto)
    }
}

fn port_number(text: &str) -> Option<u16> {
    // Digits only: Rust's parse would take a leading `+`.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Host ports a publication may take: one, a range (`8000-8010`: the
/// first free one), or any from the ephemeral range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostPorts {
    /// `HostPort` empty or `0`: the allocator picks (moby: from
    /// `ip_local_port_range`).
    Ephemeral,
    /// A range, `first <= last` (one port: `first == last`).
    Range {
        /// First port.
        first: u16,
        /// Last port.
        last: u16,
    },
}

impl HostPorts {
    /// Parses `HostPort` as moby (`""` and `"0"`: ephemeral).
    pub fn parse(text: &str) -> Result<HostPorts, PortError> {
        let bad = || PortError::Spec(text.to_owned());
        if text.is_empty() || text == "0" {
            return Ok(HostPorts::Ephemeral);
        }
        let (first, last) = text.split_once('-').unwrap_or((text, text));
        let first = port_number(first).ok_or_else(bad)?;
        let last = port_number(last).ok_or_else(bad)?;
        if first > last {
            return Err(bad());
        }
        Ok(HostPorts::Range { first, last })
    }
}

/// One publication: container port, where on the host, which host ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRequest {
    /// The container's port.
    pub container: ContainerPort,
    /// Host address to accept on. `None`: every address of every family
    /// the container has (`HostIp` empty); an unspecified address
    /// (`0.0.0.0`, `::`): every address of that family only (see
    /// [`PortRequest::parse`]); records stored before the two were told
    /// apart have `None`, which is what they meant.
    pub host_ip: Option<IpAddr>,
    /// Host ports it may take.
    pub host_ports: HostPorts,
}

impl PortRequest {
    /// One `PortBindings` entry: its key and one of its bindings
    /// (`HostIp`, `HostPort`). An unspecified address (`""`, `0.0.0.0`,
    /// `::`) means every address, as moby.
    pub fn parse(key: &str, host_ip: &str, host_port: &str) -> Result<PortRequest, PortError> {
        let container: ContainerPort = key.parse()?;
        if container.proto == Protocol::Sctp {
            return Err(PortError::ProtoUnsupported("sctp".to_owned()));
        }
        let host_ip = match host_ip {
            "" => None,
            text => {
                // An IPv4-mapped address is the IPv4 one, as moby unmaps
                // it (`configurePortBindingIPv4`, `To4`).
                let ip = text
                    .parse::<IpAddr>()
                    .map_err(|_| PortError::HostIp(text.to_owned()))?
                    .to_canonical();
                if ip == IpAddr::V6(std::net::Ipv6Addr::LOCALHOST) {
                    return Err(PortError::Ipv6Loopback(text.to_owned()));
                }
                Some(ip)
            }
        };
        Ok(PortRequest {
            container,
            host_ip,
            host_ports: HostPorts::parse(host_port)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net_policy::Family;

    #[test]
    fn keys_parse_as_go_connections() {
        assert_eq!(
            "80/udp".parse::<ContainerPort>(),
            Ok(ContainerPort {
                port: 80,
                proto: Protocol::Udp
            })
        );
        assert_eq!(
            "80".parse::<ContainerPort>().map(|p| p.to_string()),
            Ok("80/tcp".into())
        );
        assert_eq!(
            "80/icmp"
                .parse::<ContainerPort>()
                .expect_err("proto")
                .to_string(),
            "invalid proto: icmp"
        );
        for bad in ["0/tcp", "65536/tcp", "+80/tcp", "/tcp", "8o/tcp"] {
            let port = bad.split('/').next().unwrap_or_default();
            assert_eq!(
                bad.parse::<ContainerPort>().expect_err(bad).to_string(),
                format!("invalid port specification: {port:?}")
            );
        }
    }

    #[test]
    fn bindings_parse_as_moby() {
        let req = PortRequest::parse("80/tcp", "", "8080").expect("valid");
        assert_eq!(req.host_ip, None);
        assert_eq!(
            req.host_ports,
            HostPorts::Range {
                first: 8080,
                last: 8080
            }
        );
        let req = PortRequest::parse("80/tcp", "0.0.0.0", "").expect("valid");
        assert_eq!(
            (req.host_ip, req.host_ports),
            (Some("0.0.0.0".parse().expect("ip")), HostPorts::Ephemeral)
        );
        let req = PortRequest::parse("53/udp", "127.0.0.1", "8000-8010").expect("valid");
        assert_eq!(req.host_ip, Some("127.0.0.1".parse().expect("ip")));
        assert_eq!(
            req.host_ports,
            HostPorts::Range {
                first: 8000,
                last: 8010
            }
        );
        let err = |key: &str, ip: &str, port: &str| {
            PortRequest::parse(key, ip, port)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            err("80", "", "70000"),
            r#"invalid port specification: "70000""#
        );
        assert_eq!(err("80", "", "9-8"), r#"invalid port specification: "9-8""#);
        assert_eq!(err("80", "1.2.3", "8080"), r#"invalid host IP: "1.2.3""#);
        assert!(err("80/sctp", "", "8080").starts_with("publishing sctp ports is not supported"));
    }

    #[test]
    fn an_explicit_unspecified_address_keeps_its_family_and_none_means_both() {
        for (ip, family) in [
            ("", None),
            ("0.0.0.0", Some(Family::Ipv4)),
            ("::", Some(Family::Ipv6)),
            ("0:0:0:0:0:0:0:0", Some(Family::Ipv6)),
            // An IPv4-mapped unspecified address is the IPv4 one (moby
            // `To4`).
            ("::ffff:0.0.0.0", Some(Family::Ipv4)),
        ] {
            let req = PortRequest::parse("80/tcp", ip, "8080").expect(ip);
            assert_eq!(req.host_ip.map(Family::of), family, "{ip:?}");
            assert!(req.host_ip.is_none_or(|ip| ip.is_unspecified()), "{ip:?}");
        }
    }

    #[test]
    fn ipv6_host_addresses_are_kept_mapped_ones_unmapped_and_the_loopback_refused() {
        let req = PortRequest::parse("80/tcp", "fd00:b1::1", "9090").expect("valid");
        assert_eq!(req.host_ip, Some("fd00:b1::1".parse().expect("ip")));
        let req = PortRequest::parse("80/tcp", "::ffff:127.0.0.1", "9090").expect("valid");
        assert_eq!(req.host_ip, Some("127.0.0.1".parse().expect("ip")));
        for loopback in ["::1", "0:0:0:0:0:0:0:1"] {
            assert_eq!(
                PortRequest::parse("80/tcp", loopback, "8080")
                    .expect_err("::1")
                    .to_string(),
                format!(
                    "publishing a port on the IPv6 loopback address {loopback} is not supported by berth: the kernel cannot forward it to a container without a userland proxy; publish on 127.0.0.1 instead"
                )
            );
        }
    }
}
