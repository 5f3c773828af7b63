//! Published ports (`-p`, `-P`): what create checks and keeps in the model
//! (moby `daemon/container.go` `validatePortBindings`,
//! `runconfig.validateNetContainerMode`, `daemon_unix.go`
//! `verifyPlatformContainerSettings`), and the daemon's use of the port
//! allocator: reserve at start, release at exit, restore at daemon start.

use std::collections::BTreeSet;
use std::sync::Arc;

use berth_api::container::{Config, HostConfig};
use berth_model::network::{NetworkMode, PortBinding};
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

/// Until containers join their networks (the endpoint carries the ports
/// into the driver's DNAT rules), there is nothing to publish through: a
/// publication is refused at create, never dropped.
pub(super) fn until_wired(requests: &[PortRequest]) -> Result<(), JobError> {
    if requests.is_empty() {
        Ok(())
    } else {
        Err(JobError::invalid(
            "publishing ports (-p, -P) is not supported by berth yet: the container's endpoint is not wired",
        ))
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
    /// (at start, before its endpoint is planned).
    // Called by the endpoint plan at start (netattach's planning).
    #[allow(dead_code)]
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

    /// The host ports reserved for container `id`.
    #[allow(dead_code)]
    pub(super) async fn reserved_ports(&self, id: &str) -> Result<Vec<PortBinding>, JobError> {
        let (ports, store, id) = (Arc::clone(&self.ports), self.store.clone(), id.to_owned());
        self.blocking(BlockingKind::StoreCommit, move || {
            ports.bindings(&store, &id)
        })
        .await
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
