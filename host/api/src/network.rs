//! The `/networks` bodies (Docker Engine API 1.43, moby `api/types/network`):
//! `CreateOptions`, `CreateResponse` and `Inspect` (`NetworkResource`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /networks/create` body (moby `network.CreateRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    /// The network's name (required).
    pub name: String,
    /// Deprecated; moby always checks.
    pub check_duplicate: Option<bool>,
    /// `bridge` (the default) is the only driver berth has.
    pub driver: String,
    /// `local` (or empty): berth has no swarm.
    pub scope: String,
    /// No route out of the network.
    pub internal: bool,
    /// A swarm option: refused when set.
    pub attachable: bool,
    /// A swarm option: refused when set.
    pub ingress: bool,
    /// A swarm option: refused when set.
    pub config_only: bool,
    /// A swarm option: refused when set.
    pub config_from: Option<ConfigReference>,
    /// Address management.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// IPv6 on the network (`--ipv6`).
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    /// IPv4 on the network (must not be false).
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: Option<bool>,
    /// Driver options (`-o`).
    pub options: BTreeMap<String, String>,
    /// User labels.
    pub labels: BTreeMap<String, String>,
}

/// moby `network.ConfigReference`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    /// The config-only network.
    pub network: String,
}

/// moby `network.IPAM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    /// `default` (or empty).
    pub driver: String,
    /// One entry per subnet.
    pub config: Vec<IpamConfig>,
    /// IPAM driver options.
    pub options: BTreeMap<String, String>,
}

/// moby `network.IPAMConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    /// `a.b.c.d/n`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// A sub-range to allocate from (`--ip-range`).
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    /// The gateway.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// `--aux-address`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub auxiliary_addresses: BTreeMap<String, String>,
}

/// `POST /networks/create` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateResponse {
    /// The new network's id.
    pub id: String,
    /// Warnings.
    pub warning: String,
}

/// `GET /networks/{id}` and each entry of `GET /networks` (moby
/// `network.Inspect`, formerly `NetworkResource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkResource {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// `local`.
    pub scope: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// IPv4 on the network.
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    /// IPv6 on the network.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Its address management.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// No route out.
    pub internal: bool,
    /// Always false (swarm).
    pub attachable: bool,
    /// Always false (swarm).
    pub ingress: bool,
    /// Always empty (swarm).
    pub config_from: ConfigReference,
    /// Always false (swarm).
    pub config_only: bool,
    /// The containers connected, by id.
    pub containers: BTreeMap<String, EndpointResource>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// User labels.
    pub labels: BTreeMap<String, String>,
}

/// moby `network.EndpointResource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointResource {
    /// The container's name.
    pub name: String,
    /// The endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Its MAC address.
    pub mac_address: String,
    /// `a.b.c.d/n`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `x::y/n`.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}
