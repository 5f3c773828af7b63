//! Published ports (`-p`, `-P`): what create checks and keeps in the model
//! (moby `daemon/container.go` `validatePortBindings`,
//! `runconfig.validateNetContainerMode`, `daemon_unix.go`
//! `verifyPlatformContainerSettings`), and the daemon's use of the port
//! allocator: reserve at start, release at exit, restore at daemon start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use berth_api::container::{Config, HostConfig, PortMapping};
use berth_model::network::{EndpointModel, NetworkMode, PortBinding};
use berth_model::ports::{ContainerPort, PortError, PortRequest};

use super::Daemon;
use super::blocking::BlockingKind;
use crate::job::JobError;

/// moby's warning when `--network host` is given published ports.
pub const HOST_MODE_WARNING: &str = "Published ports are discarded when using host network mode";

fn invalid(e: PortError) -> JobError {
    JobError::invalid(e.to_string())
}

/// Checks `ExposedPorts`, `PortBindings` and `PublishAllPorts` against the
/// network mode, joins the image's exposed ports and the published ones
/// into `config.exposed_ports` (moby `merge` and the CLI's `-p`), and
/// returns what the container publishes (`-P`: each exposed port without a
/// binding gets an ephemeral one) and create's warnings.
pub(super) fn port_requests(
    config: &mut Config,
    host: &HostConfig,
    image_exposed: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<(Vec<PortRequest>, Vec<String>), JobError> {
    let mode =
        NetworkMode::parse(&host.network_mode).map_err(|e| JobError::invalid(e.to_string()))?;
    let publishes = host.publish_all_ports || host.port_bindings.values().any(|b| b.is_some());
    // Every key checked, as moby does before it looks at the mode.
    for key in config.exposed_ports.keys().chain(image_exposed.keys()) {
        key.parse::<ContainerPort>().map_err(invalid)?;
    }
    let mut requests = Vec::new();
    let mut published = BTreeSet::new();
    for (key, bindings) in &host.port_bindings {
        let port: ContainerPort = key.parse().map_err(invalid)?;
        published.insert(port);
        let bindings = bindings.as_deref().unwrap_or_default();
        if bindings.is_empty() && host.publish_all_ports {
            requests.push(PortRequest::parse(key, "", "").map_err(invalid)?);
        }
        for b in bindings {
            requests.push(PortRequest::parse(key, &b.host_ip, &b.host_port).map_err(invalid)?);
        }
    }
    for (key, value) in image_exposed {
        config
            .exposed_ports
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    for key in host.port_bindings.keys() {
        config
            .exposed_ports
            .entry(key.clone())
            .or_insert_with(|| serde_json::json!({}));
    }
    if host.publish_all_ports {
        for key in config.exposed_ports.keys() {
            let port: ContainerPort = key.parse().map_err(invalid)?;
            if !published.contains(&port) {
                requests.push(PortRequest::parse(key, "", "").map_err(invalid)?);
            }
        }
    }
    match mode {
        // moby keeps the bindings in HostConfig and warns; nothing is
        // published on the host's own network.
        NetworkMode::Host if publishes => Ok((Vec::new(), vec![HOST_MODE_WARNING.to_owned()])),
        NetworkMode::Host => Ok((Vec::new(), Vec::new())),
        // A namespace with only `lo` has nothing to forward to.
        NetworkMode::None if !requests.is_empty() => Err(JobError::invalid(
            "conflicting options: port publishing and the network mode none: the container has no address to forward to",
        )),
        _ => Ok((requests, Vec::new())),
    }
}

/// moby `validateNetContainerMode`: a container on another's network
/// publishes nothing of its own (checked before `ExposedPorts`, as moby).
pub(super) fn check_container_mode(host: &HostConfig) -> Result<(), JobError> {
    if host.publish_all_ports || !host.port_bindings.is_empty() {
        return Err(JobError::invalid(
            "conflicting options: port publishing and the container type network mode",
        ));
    }
    Ok(())
}

impl Daemon {
    /// Reserves and holds the host ports of container `id`'s publications
    /// (at start, before its endpoint is planned): all of them or none.
    pub(super) async fn reserve_ports(
        &self,
        id: &str,
        requests: Vec<PortRequest>,
    ) -> Result<Vec<PortBinding>, JobError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let (ports, store, id) = (Arc::clone(&self.ports), self.store.clone(), id.to_owned());
        self.blocking(BlockingKind::StoreCommit, move || {
            ports.reserve(&store, &id, &requests)
        })
        .await
    }

    /// Gives up container `id`'s host ports (at its exit; never fails the
    /// exit: a reservation left behind goes at the next daemon start).
    pub(super) async fn release_ports(&self, id: &str) {
        let (ports, store, owned) = (Arc::clone(&self.ports), self.store.clone(), id.to_owned());
        let released = self
            .blocking(BlockingKind::StoreCommit, move || {
                ports.release(&store, &owned)
            })
            .await;
        if let Err(e) = released {
            tracing::warn!(id, error = %e.message, "releasing the published ports failed");
        }
    }

    /// At daemon start, after the containers are restored: the running
    /// ones keep (and hold again) their ports, the others' go.
    pub(super) async fn restore_ports(&self) {
        let running: BTreeSet<String> = self
            .containers
            .all()
            .into_iter()
            .filter(|c| c.lock().record.state.running)
            .map(|c| c.id.clone())
            .collect();
        let (ports, store) = (Arc::clone(&self.ports), self.store.clone());
        let restored = self
            .blocking(BlockingKind::StoreCommit, move || {
                ports.restore(&store, &|id| running.contains(id))
            })
            .await;
        if let Err(e) = restored {
            tracing::warn!(error = %e.message, "restoring the port reservations failed");
        }
    }
}

/// The host addresses inspect shows for `binding` of `endpoint`: its own
/// (an explicit `0.0.0.0` or `::` is one family's, shown alone), or for
/// one on every address one per family the endpoint has, `0.0.0.0`
/// then `::` (moby `addPortMappings` expands such a binding into an IPv4
/// and an IPv6 one, "because that's how the mapping is presented in
/// 'inspect'"; without a userland proxy there is no `::` binding for a
/// container without an IPv6 address, as berth's rules have none).
fn shown_host_ips(binding: &PortBinding, endpoint: &EndpointModel) -> Vec<String> {
    match binding.host_ip {
        Some(ip) => vec![ip.to_string()],
        None => [
            endpoint.ipv4.map(|_| Ipv4Addr::UNSPECIFIED.to_string()),
            endpoint.ipv6.map(|_| Ipv6Addr::UNSPECIFIED.to_string()),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}

/// Inspect's `NetworkSettings.Ports` of a running container: each exposed
/// port, `null` unless published, with the host bindings of `endpoint`,
/// the one its ports are published through (moby `getPortMapInfo`).
pub(super) fn inspect_ports<'a>(
    exposed: impl Iterator<Item = &'a String>,
    endpoint: Option<&EndpointModel>,
) -> BTreeMap<String, Option<Vec<PortMapping>>> {
    let mut ports: BTreeMap<String, Option<Vec<PortMapping>>> =
        exposed.map(|key| (key.clone(), None)).collect();
    let Some(endpoint) = endpoint else {
        return ports;
    };
    for binding in &endpoint.ports {
        let key = format!("{}/{}", binding.container_port, binding.proto);
        let mappings = ports.entry(key).or_default().get_or_insert_with(Vec::new);
        for host_ip in shown_host_ips(binding, endpoint) {
            mappings.push(PortMapping {
                host_ip,
                host_port: binding.host_port.to_string(),
            });
        }
    }
    ports
}

/// `Ports` of `/containers/json` from inspect's map (moby
/// `daemon/list.go` `transformContainer`): one row per binding, one row
/// without public port per exposed port that is not published.
pub(super) fn summary_ports(
    ports: &BTreeMap<String, Option<Vec<PortMapping>>>,
) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for (key, bindings) in ports {
        let Ok(port) = key.parse::<ContainerPort>() else {
            continue;
        };
        match bindings {
            None => rows.push(serde_json::json!({
                "PrivatePort": port.port,
                "Type": port.proto.as_str(),
            })),
            Some(bindings) => {
                for b in bindings {
                    let public: u16 = b.host_port.parse().unwrap_or_default();
                    rows.push(serde_json::json!({
                        "IP": b.host_ip,
                        "PrivatePort": port.port,
                        "PublicPort": public,
                        "Type": port.proto.as_str(),
                    }));
                }
            }
        }
    }
    rows
}
