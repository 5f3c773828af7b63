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

/// `world network-policy`: sync.
pub mod network_policy {
    wasmtime::component::bindgen!({
        world: "network-policy",
        path: "../../wit/since_v1.0.0",
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

use latest::network_policy::exports::berth::plugin::network as network_latest;
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

impl From<&network_latest::NetworkRequest> for network::NetworkRequest {
    fn from(r: &network_latest::NetworkRequest) -> Self {
        Self {
            container_id: r.container_id.clone(),
            network: r.network.clone(),
            subnet: r.subnet.clone(),
            gateway: r.gateway.clone(),
            used_addresses: r.used_addresses.clone(),
            requested_address: r.requested_address.clone(),
            ports: r.ports.iter().map(Into::into).collect(),
        }
    }
}

impl From<network::NetworkPlan> for network_latest::NetworkPlan {
    fn from(p: network::NetworkPlan) -> Self {
        Self {
            address: p.address,
            dns_servers: p.dns_servers,
            ports: p.ports.into_iter().map(Into::into).collect(),
        }
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
