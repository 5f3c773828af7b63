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

use std::sync::Arc;

use berth_model::dns::Resolver;

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

/// Where a container joined to `endpoints` (each network with its
/// endpoint, in the order it joined them) sends its queries; `names`: the
/// embedded DNS server is wired in.
///
/// One network decides, the container's *resolver network*: its first
/// user-defined network when names are served, else its first network.
/// On a user network the embedded DNS server on that network's gateway is
/// the only name server of its `resolv.conf` (IPv4 if the network has
/// it), and forwards the names it does not know to the servers of the
/// container's endpoint there ([`EndpointModel::dns_servers`]: its
/// `--dns`, else what that network's policy planned; the host's without
/// either). Otherwise (the default bridge, as moby) that endpoint's
/// servers are the file's `nameserver`s, the host's when it has none. So
/// when the policy plans different servers on the container's networks,
/// the plan of the network it resolves through wins; a connect or
/// disconnect that changes that network rewrites the file
/// ([`super::network_resolver`]), and each network's records carry the
/// servers planned on it.
pub fn resolver_of(endpoints: &[(NetworkModel, EndpointModel)], names: bool) -> Resolver {
    let embedded = endpoints
        .iter()
        .map(|(n, _)| n)
        .filter(|_| names)
        .find(|n| has_names(n))
        .and_then(|n| n.ipv4.or(n.ipv6))
        .map(|subnet| subnet.gateway());
    match (embedded, endpoints.first()) {
        (Some(server), _) => Resolver::Embedded(server),
        (None, Some((_, endpoint))) if !endpoint.dns_servers.is_empty() => {
            Resolver::Servers(endpoint.dns_servers.clone())
        }
        (None, _) => Resolver::Host,
    }
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
    /// order), as [`resolver_of`] decides it.
    pub(super) fn resolver_for(&self, endpoints: &[(NetworkModel, EndpointModel)]) -> Resolver {
        resolver_of(endpoints, self.names.get().is_some())
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
