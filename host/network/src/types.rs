//! The validated values the kernel side works with.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_model::network::PortBinding;

use crate::NetworkError;

/// A network interface name, checked once: the kernel's rules
/// (`dev_valid_name` in `net/core/dev.c`: 1 to 15 bytes, not `.` or `..`,
/// no `/`, `:` or whitespace), and no `"` so it can be quoted in an nft
/// script, no `.` so it can name a sysctl path component unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName(String);

impl IfName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<IfName, NetworkError> {
        let invalid = |reason| NetworkError::Invalid {
            what: "interface name",
            value: name.to_string(),
            reason,
        };
        if name.is_empty() || name.len() > 15 {
            return Err(invalid("must be 1 to 15 bytes (IFNAMSIZ)"));
        }
        if name.chars().any(|c| {
            c == '/' || c == ':' || c == '"' || c == '.' || c.is_whitespace() || c.is_control()
        }) {
            return Err(invalid(
                "must not contain '/', ':', '.', '\"' or whitespace",
            ));
        }
        Ok(IfName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An interface address with its prefix length (`172.30.0.1/16`): the
/// address an interface gets, from which the subnet follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Validates the prefix length against the address family.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNetwork, NetworkError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(NetworkError::Invalid {
                what: "prefix length",
                value: format!("{addr}/{prefix}"),
                reason: "longer than the address",
            });
        }
        Ok(IpNetwork { addr, prefix })
    }

    /// The interface's address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The subnet's first address (the address with the host bits cleared).
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }

    /// The subnet in CIDR notation (`172.30.0.0/16`).
    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network(), self.prefix)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A bridge network as the kernel side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The network's id (rules are tagged with it).
    pub id: String,
    /// The bridge interface.
    pub bridge: IfName,
    /// The bridge's (gateway) addresses with the subnets' prefix lengths.
    pub gateways: Vec<IpNetwork>,
    /// An internal network has no masquerade and no forwarding in or out.
    pub internal: bool,
}

/// A container's endpoint on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// The container's id (its rules are tagged with it).
    pub container_id: String,
    /// The network's id.
    pub network_id: String,
    /// The host side of the veth pair (the bridge port).
    pub host_ifname: IfName,
    /// The interface's name inside the container (`eth0`).
    pub container_ifname: IfName,
    /// The container interface's MAC address.
    pub mac: [u8; 6],
    /// The container's addresses, with their subnets' prefix lengths.
    pub addresses: Vec<IpNetwork>,
    /// Default routes through these gateways (the engine sets them on a
    /// container's first network only; none on an internal one).
    pub gateways: Vec<IpAddr>,
    /// Published ports.
    pub ports: Vec<PortBinding>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert!(IfName::new("berth0").is_ok());
        assert!(IfName::new("veth0123456789a").is_ok());
        for bad in ["", "veth0123456789ab", "a/b", "a b", "a:b", "a\"b", "."] {
            assert!(IfName::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn networks_clear_the_host_bits() {
        let v4 = IpNetwork::new("172.30.5.1".parse().unwrap(), 16).unwrap();
        assert_eq!(v4.subnet(), "172.30.0.0/16");
        let v6 = IpNetwork::new("fd00:1::1".parse().unwrap(), 64).unwrap();
        assert_eq!(v6.subnet(), "fd00:1::/64");
        let all = IpNetwork::new("10.1.2.3".parse().unwrap(), 0).unwrap();
        assert_eq!(all.subnet(), "0.0.0.0/0");
        assert!(IpNetwork::new("10.0.0.1".parse().unwrap(), 33).is_err());
    }
}
