//! The engine's side of the embedded DNS server ([`NameService`]): which
//! networks have names, and what a container's resolver is.
//!
//! As moby, containers on user-defined networks resolve each other by name
//! and the default `bridge` has no name resolution (moby
//! `libnetwork/sandbox_dns_unix.go`: the embedded resolver is started only
//! for sandboxes on user-defined networks).
//!
//! A difference from moby, on purpose: moby listens on 127.0.0.11 *inside*
//! every container's namespace (with iptables rules there redirecting port
//! 53 to its real port) and writes `nameserver 127.0.0.11` into the
//! container's `resolv.conf`. berth, like Podman's aardvark-dns, runs one
//! server in the host namespace on each user network's gateway and writes
//! `nameserver <gateway of the container's first user network>`: no socket
//! or rule per container, no entering namespaces, and the server sees each
//! query arrive on the network it is about.

use std::net::IpAddr;
use std::sync::Arc;

use crate::driver::{EndpointModel, NameService, NetworkModel, NetworkState};
use crate::job::JobError;

use super::Daemon;

/// The default network's name, which has no name resolution.
const DEFAULT_NETWORK: &str = "bridge";

/// Whether containers on `network` resolve each other by name: every
/// user-defined network.
pub fn has_names(network: &NetworkModel) -> bool {
    network.name != DEFAULT_NETWORK
}

/// The name server a container on `networks` (in the order it joined
/// them) gets in its `resolv.conf`: the gateway of its first user-defined
/// network (IPv4 if it has one), `None` when it is on none (the host's
/// resolvers then, as moby for the default bridge).
pub fn resolver_of<'a>(networks: impl IntoIterator<Item = &'a NetworkModel>) -> Option<IpAddr> {
    networks
        .into_iter()
        .find(|n| has_names(n))
        .and_then(|n| n.ipv4.or(n.ipv6))
        .map(|subnet| subnet.gateway())
}

impl Daemon {
    /// Wires in the embedded DNS server; the first one set stays. Without
    /// one, no network has names and containers keep the host's resolvers.
    pub fn set_name_service(&self, names: Arc<dyn NameService>) {
        let _ = self.names.set(names);
    }

    /// The embedded DNS server, if one is wired in.
    pub fn name_service(&self) -> Option<&Arc<dyn NameService>> {
        self.names.get()
    }

    /// Publishes `endpoint`'s names on `network` if it has names.
    pub fn publish_names(
        &self,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        match self.names.get() {
            Some(names) if has_names(network) => names.publish(network, endpoint),
            _ => Ok(()),
        }
    }

    /// Withdraws the names of `container_id` on `network`; a failure is
    /// logged (the container is leaving either way).
    pub fn withdraw_names(&self, network: &NetworkModel, container_id: &str) {
        if let Some(names) = self.names.get().filter(|_| has_names(network))
            && let Err(e) = names.withdraw(network, container_id)
        {
            tracing::warn!(network = %network.name, error = %e.message, "cannot withdraw names");
        }
    }

    /// Stops serving names on a network that is going.
    pub fn forget_network_names(&self, network: &NetworkModel) {
        if let Some(names) = self.names.get()
            && let Err(e) = names.remove_network(network)
        {
            tracing::warn!(network = %network.name, error = %e.message, "cannot stop serving names");
        }
    }

    /// At daemon start: the server serves the user-defined networks of
    /// `state` with the names of the endpoints on them.
    pub fn reconcile_names(&self, state: &NetworkState) {
        let Some(names) = self.names.get() else {
            return;
        };
        let mut served = state.clone();
        served.networks.retain(has_names);
        if let Err(e) = names.reconcile(&served) {
            tracing::warn!(error = %e.message, "cannot reconcile the embedded DNS server");
        }
    }
}

impl Daemon {
    /// The resolver of a container joined to `endpoints` (in connect
    /// order): its first user network's gateway when names are served.
    pub(super) fn resolver_for(
        &self,
        endpoints: &[(NetworkModel, EndpointModel)],
    ) -> Option<IpAddr> {
        self.names.get()?;
        resolver_of(endpoints.iter().map(|(n, _)| n))
    }

    /// Publishes the names of container `id` on each of its user networks.
    /// A failure is logged and the container runs (moby logs a resolver
    /// that cannot start and goes on too): it stays reachable by address.
    pub(super) fn publish_all_names(&self, id: &str, endpoints: &[(NetworkModel, EndpointModel)]) {
        for (network, endpoint) in endpoints {
            if let Err(e) = self.publish_names(network, endpoint) {
                tracing::error!(id, network = %network.name, error = %e.message, "cannot publish the container's names");
            }
        }
    }

    /// Withdraws the names of container `id` from each of its networks.
    pub(super) fn withdraw_all_names(&self, id: &str, endpoints: &[(NetworkModel, EndpointModel)]) {
        for (network, _) in endpoints {
            self.withdraw_names(network, id);
        }
    }
}
