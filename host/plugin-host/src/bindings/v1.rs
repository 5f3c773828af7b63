//! Bindings for `berth:plugin@1.0.0` (`wit/since_v1.0.0`), for plugins
//! built against 1.0.x, mapped onto the newest bindings (`latest`).
//!
//! The imported interfaces and the shared `types` are bound to `latest`'s
//! modules with `with` (the records are the same field for field, and the
//! component model checks them structurally); a 1.0.0 plugin's imports are
//! served by the linkers' 1.1.0 definitions through wasmtime's semver
//! matching. What remains version-specific are the exported interfaces'
//! records, converted below: requests from `latest` to 1.0.0, plans from
//! 1.0.0 to `latest`.

#![allow(missing_docs, clippy::all)]

use super::latest;

/// `world job-handler`: async.
pub mod job_handler {
    wasmtime::component::bindgen!({
        world: "job-handler",
        path: "../../wit/since_v1.0.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "berth:plugin/types": crate::bindings::latest::graph_policy::berth::plugin::types,
            "berth:plugin/host": crate::bindings::latest::job_handler::berth::plugin::host,
            "berth:plugin/graph-admin": crate::bindings::latest::job_handler::berth::plugin::graph_admin,
        },
    });
}

/// `world graph-policy`: sync.
pub mod graph_policy {
    wasmtime::component::bindgen!({
        world: "graph-policy",
        path: "../../wit/since_v1.0.0",
        with: {
            "berth:plugin/host": crate::bindings::latest::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::latest::graph_policy::berth::plugin::types,
        },
    });
}

/// `world network-policy`: sync; serves network policies built for 1.0 to
/// 1.2 (the interface did not change before 1.3).
pub mod network_policy {
    wasmtime::component::bindgen!({
        world: "network-policy",
        path: "../../wit/since_v1.0.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "berth:plugin/host": crate::bindings::latest::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::latest::graph_policy::berth::plugin::types,
        },
    });
}

/// `world registry-auth`: sync.
pub mod registry_auth {
    wasmtime::component::bindgen!({
        world: "registry-auth",
        path: "../../wit/since_v1.0.0",
        with: {
            "berth:plugin/host": crate::bindings::latest::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::latest::graph_policy::berth::plugin::types,
        },
    });
}

// --- graph-layout ----------------------------------------------------------

use graph_policy::exports::berth::plugin::graph_layout as graph;
use latest::graph_policy::exports::berth::plugin::graph_layout as graph_latest;

impl From<&graph_latest::LayerInfo> for graph::LayerInfo {
    fn from(l: &graph_latest::LayerInfo) -> Self {
        Self {
            id: l.id.clone(),
            size: l.size,
        }
    }
}

impl From<&graph_latest::FlattenedInfo> for graph::FlattenedInfo {
    fn from(f: &graph_latest::FlattenedInfo) -> Self {
        Self {
            id: f.id.clone(),
            layers: f.layers.clone(),
            size: f.size,
        }
    }
}

impl From<&graph_latest::RootfsRequest> for graph::RootfsRequest {
    fn from(r: &graph_latest::RootfsRequest) -> Self {
        Self {
            container_id: r.container_id.clone(),
            image_id: r.image_id.clone(),
            driver: r.driver.clone(),
            layers: r.layers.iter().map(Into::into).collect(),
            max_lower_dirs: r.max_lower_dirs,
            flattened: r.flattened.iter().map(Into::into).collect(),
        }
    }
}

impl From<&graph_latest::ImportRequest> for graph::ImportRequest {
    fn from(r: &graph_latest::ImportRequest) -> Self {
        Self {
            image_id: r.image_id.clone(),
            driver: r.driver.clone(),
            layers: r.layers.iter().map(Into::into).collect(),
            new_layers: r.new_layers.clone(),
            max_lower_dirs: r.max_lower_dirs,
            flattened: r.flattened.iter().map(Into::into).collect(),
        }
    }
}

impl From<&graph_latest::GcRequest> for graph::GcRequest {
    fn from(r: &graph_latest::GcRequest) -> Self {
        Self {
            now: r.now,
            layers: r
                .layers
                .iter()
                .map(|l| graph::GcLayer {
                    id: l.id.clone(),
                    kind: l.kind.clone(),
                    size: l.size,
                    images: l.images,
                    containers: l.containers,
                    last_used: l.last_used,
                })
                .collect(),
        }
    }
}

fn lowers(lowers: Vec<graph::Lower>) -> Vec<graph_latest::Lower> {
    lowers
        .into_iter()
        .map(|l| graph_latest::Lower { layers: l.layers })
        .collect()
}

impl From<graph::RootfsPlan> for graph_latest::RootfsPlan {
    fn from(p: graph::RootfsPlan) -> Self {
        Self {
            lowers: lowers(p.lowers),
        }
    }
}

impl From<graph::ImportPlan> for graph_latest::ImportPlan {
    fn from(p: graph::ImportPlan) -> Self {
        Self {
            flatten: lowers(p.flatten),
        }
    }
}

impl From<graph::GcPlan> for graph_latest::GcPlan {
    fn from(p: graph::GcPlan) -> Self {
        Self { remove: p.remove }
    }
}

// --- network ---------------------------------------------------------------
//
// The `network` interface was the same from 1.0.0 to 1.2.0: these bindings
// serve network policies built for any of them (their exports are found
// under the 1.0.0 names, semver-compatibly). Such a policy has one subnet
// in its request and one address in its plan: it is given the newest
// request's IPv4 side, else its IPv6 side, and its address is that
// family's (the engine allocates the other family itself).

use crate::bindings::v1_3::network_policy::exports::berth::plugin::network as network_latest;
use network_policy::exports::berth::plugin::network;

impl From<&network_latest::PortMapping> for network::PortMapping {
    fn from(p: &network_latest::PortMapping) -> Self {
        Self {
            protocol: p.protocol.clone(),
            container_port: p.container_port,
            host_ip: p.host_ip.clone(),
            host_port: p.host_port,
        }
    }
}

impl From<network::PortMapping> for network_latest::PortMapping {
    fn from(p: network::PortMapping) -> Self {
        Self {
            protocol: p.protocol,
            container_port: p.container_port,
            host_ip: p.host_ip,
            host_port: p.host_port,
        }
    }
}

/// The side of `request` a pre-1.3 network policy plans, and its family:
/// IPv4 when the network has it, else IPv6 (`None`: the network has no
/// subnet, and the engine never asks then).
pub(crate) fn asked_side(
    request: &network_latest::NetworkRequest,
) -> Option<(network_latest::IpFamily, &network_latest::FamilyRequest)> {
    use network_latest::IpFamily;
    match (&request.ipv4, &request.ipv6) {
        (Some(side), _) => Some((IpFamily::Ipv4, side)),
        (None, Some(side)) => Some((IpFamily::Ipv6, side)),
        (None, None) => None,
    }
}

/// `request` as a pre-1.3 policy sees it: `side` its one subnet.
pub(crate) fn request_down(
    request: &network_latest::NetworkRequest,
    side: &network_latest::FamilyRequest,
) -> network::NetworkRequest {
    network::NetworkRequest {
        container_id: request.container_id.clone(),
        network: request.network.clone(),
        subnet: side.subnet.clone(),
        gateway: side.gateway.clone(),
        used_addresses: side.used_addresses.clone(),
        requested_address: side.requested_address.clone(),
        ports: request.ports.iter().map(Into::into).collect(),
    }
}

/// A pre-1.3 plan in the newest types: its one address is the address of
/// `family`, the family it was asked ([`asked_side`]).
pub(crate) fn plan_up(
    plan: network::NetworkPlan,
    family: network_latest::IpFamily,
) -> network_latest::NetworkPlan {
    let (ipv4_address, ipv6_address) = match family {
        network_latest::IpFamily::Ipv4 => (Some(plan.address), None),
        network_latest::IpFamily::Ipv6 => (None, Some(plan.address)),
    };
    network_latest::NetworkPlan {
        ipv4_address,
        ipv6_address,
        dns_servers: plan.dns_servers,
        ports: plan.ports.into_iter().map(Into::into).collect(),
    }
}

#[cfg(test)]
mod network_tests {
    use super::network;
    use super::network_latest::{
        FamilyRequest, IpFamily, NetworkPlan, NetworkRequest, PortMapping,
    };
    use super::*;

    fn side(subnet: &str, gateway: &str, used: &str, wanted: Option<&str>) -> FamilyRequest {
        FamilyRequest {
            subnet: subnet.into(),
            gateway: gateway.into(),
            used_addresses: vec![used.into()],
            requested_address: wanted.map(str::to_owned),
        }
    }

    fn request(ipv4: Option<FamilyRequest>, ipv6: Option<FamilyRequest>) -> NetworkRequest {
        NetworkRequest {
            container_id: "c".into(),
            network: "lab".into(),
            ipv4,
            ipv6,
            ports: vec![PortMapping {
                protocol: "udp".into(),
                container_port: 53,
                host_ip: "127.0.0.1".into(),
                host_port: 5353,
            }],
        }
    }

    #[test]
    fn an_old_policy_is_asked_the_ipv4_side_else_the_ipv6_side() {
        let v4 = side("10.1.0.0/24", "10.1.0.1", "10.1.0.2", Some("10.1.0.9"));
        let v6 = side("fd00:1::/64", "fd00:1::1", "fd00:1::2", None);
        let dual = request(Some(v4.clone()), Some(v6.clone()));
        let (family, asked) = asked_side(&dual).unwrap();
        assert_eq!((family, asked), (IpFamily::Ipv4, &v4));
        let old = request_down(&dual, asked);
        assert_eq!(
            old,
            network::NetworkRequest {
                container_id: "c".into(),
                network: "lab".into(),
                subnet: "10.1.0.0/24".into(),
                gateway: "10.1.0.1".into(),
                used_addresses: vec!["10.1.0.2".into()],
                requested_address: Some("10.1.0.9".into()),
                ports: vec![network::PortMapping {
                    protocol: "udp".into(),
                    container_port: 53,
                    host_ip: "127.0.0.1".into(),
                    host_port: 5353,
                }],
            }
        );
        let only6 = request(None, Some(v6.clone()));
        assert_eq!(asked_side(&only6), Some((IpFamily::Ipv6, &v6)));
        assert_eq!(asked_side(&request(None, None)), None);
    }

    #[test]
    fn an_old_plans_address_is_the_asked_familys() {
        let old = |address: &str| network::NetworkPlan {
            address: address.into(),
            dns_servers: vec!["192.0.2.53".into()],
            ports: vec![network::PortMapping {
                protocol: "tcp".into(),
                container_port: 80,
                host_ip: String::new(),
                host_port: 8080,
            }],
        };
        let up = plan_up(old("10.1.0.3"), IpFamily::Ipv4);
        assert_eq!(
            up,
            NetworkPlan {
                ipv4_address: Some("10.1.0.3".into()),
                ipv6_address: None,
                dns_servers: vec!["192.0.2.53".into()],
                ports: vec![PortMapping {
                    protocol: "tcp".into(),
                    container_port: 80,
                    host_ip: String::new(),
                    host_port: 8080,
                }],
            }
        );
        let up = plan_up(old("fd00:1::3"), IpFamily::Ipv6);
        assert_eq!(
            (up.ipv4_address, up.ipv6_address.as_deref()),
            (None, Some("fd00:1::3"))
        );
    }
}

// --- credentials -----------------------------------------------------------

use latest::registry_auth::exports::berth::plugin::credentials as credentials_latest;
use registry_auth::exports::berth::plugin::credentials;

impl From<&credentials_latest::AuthRequest> for credentials::AuthRequest {
    fn from(r: &credentials_latest::AuthRequest) -> Self {
        Self {
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            actions: r.actions.clone(),
        }
    }
}

impl From<credentials::Credential> for credentials_latest::Credential {
    fn from(c: credentials::Credential) -> Self {
        match c {
            credentials::Credential::Anonymous => Self::Anonymous,
            credentials::Credential::Basic(pair) => Self::Basic(pair),
            credentials::Credential::Bearer(token) => Self::Bearer(token),
        }
    }
}
