//! One network endpoint of a container, as inspect reports it (Docker API
//! `EndpointSettings`, API 1.43 plus 1.44's `DNSNames`).

use serde::{Deserialize, Serialize};

/// A container's endpoint on one network. While the container is stopped
/// only `NetworkID`, `Aliases` and `IPAMConfig` are set, as moby.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    /// The addresses the user asked for (`--ip`, `--ip6`).
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links (berth has none).
    pub links: Option<Vec<String>>,
    /// `--network-alias`.
    pub aliases: Option<Vec<String>>,
    /// The interface's MAC address.
    pub mac_address: String,
    /// The network's id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The IPv4 gateway of the network.
    pub gateway: String,
    /// The IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Its prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// The IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// The IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Its prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    /// Driver options (berth takes none).
    pub driver_opts: Option<std::collections::BTreeMap<String, String>>,
    /// The names the embedded DNS server answers for the container on
    /// this network.
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
    /// `--gw-priority` (API 1.48): read so that a connect asking for one
    /// is refused rather than dropped; never written (berth advertises
    /// 1.43, whose `EndpointSettings` has no such field).
    #[serde(skip_serializing_if = "is_zero")]
    pub gw_priority: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `EndpointSettings.IPAMConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    /// `--ip`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `--ip6`.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
    /// `--link-local-ip`.
    #[serde(rename = "LinkLocalIPs")]
    pub link_local_ips: Option<Vec<String>>,
}
