//! The narrow seam over the kernel's networking: namespaces, links,
//! addresses, routes, sysctls.

use std::path::Path;

use crate::{IfName, IpNetwork, NetworkError};

/// A bridge to create or bring to its wanted state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// The bridge's name.
    pub name: IfName,
    /// Its addresses (the networks' gateways).
    pub addresses: Vec<IpNetwork>,
    /// The interface alias (`ip link set alias`) marking the bridge as
    /// this daemon's, so that a reconcile can find the bridges it owns
    /// whatever their names.
    pub alias: String,
}

/// A veth pair for one container endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    /// The host side, enslaved to `bridge`.
    pub host_ifname: IfName,
    /// The bridge it joins.
    pub bridge: IfName,
    /// The container's network namespace (a bind-mounted nsfs file).
    pub netns: std::path::PathBuf,
    /// The name of the peer inside the namespace.
    pub container_ifname: IfName,
    /// The peer's MAC address.
    pub mac: [u8; 6],
    /// The peer's addresses.
    pub addresses: Vec<IpNetwork>,
    /// Default routes through these gateways (one per family at most).
    pub gateways: Vec<std::net::IpAddr>,
}

/// Every kernel side effect of the network driver except the firewall.
///
/// Operations are idempotent where the driver retries or reconciles
/// (creating what exists, removing what is gone, succeeds).
pub trait Kernel: Send + Sync {
    /// Creates a named network namespace at `path` (a file bind-mounted
    /// onto the namespace) with `lo` up; a namespace already there is kept.
    fn create_netns(&self, path: &Path) -> Result<(), NetworkError>;
    /// Unmounts and unlinks `path`; nothing there is success.
    fn remove_netns(&self, path: &Path) -> Result<(), NetworkError>;
    /// Creates the bridge when missing, adds its addresses, brings it up,
    /// and sets `route_localnet` on it so published ports answer on
    /// 127.0.0.1 (moby `bridge/setup_ip_tables.go`).
    fn ensure_bridge(&self, bridge: &BridgeSpec) -> Result<(), NetworkError>;
    /// Deletes a link in the host namespace (a bridge, or the host side of
    /// a veth pair, which takes its peer with it); a missing link is success.
    fn delete_link(&self, name: &IfName) -> Result<(), NetworkError>;
    /// Creates the veth pair, moves the peer into the namespace, configures
    /// both sides (hairpin on the bridge port); on failure nothing is left.
    /// A stale host side of the same name is replaced.
    fn attach_veth(&self, veth: &VethSpec) -> Result<(), NetworkError>;
    /// The names of the links enslaved to `bridge` (its ports); empty when
    /// the bridge does not exist.
    fn bridge_ports(&self, bridge: &IfName) -> Result<Vec<IfName>, NetworkError>;
    /// The bridges whose alias is `alias` (see [`BridgeSpec::alias`]).
    fn bridges_with_alias(&self, alias: &str) -> Result<Vec<IfName>, NetworkError>;
    /// The destinations of the host's routes, IPv4 and IPv6, every table,
    /// default routes and routes through the `exclude`d links left out.
    fn route_destinations(&self, exclude: &[IfName]) -> Result<Vec<IpNetwork>, NetworkError>;
    /// Reads a sysctl of the host namespace, `key` as a path under
    /// `/proc/sys` (`net/ipv4/ip_forward`).
    fn read_sysctl(&self, key: &str) -> Result<String, NetworkError>;
    /// Writes a sysctl of the host namespace.
    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), NetworkError>;
}
