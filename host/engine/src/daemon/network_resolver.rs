//! A running container's `resolv.conf` follows its networks (issue 12):
//! its resolver is the embedded DNS server on the gateway of its first
//! user-defined network, or without one its first network's name servers
//! (its `--dns` or its network policy's) or the host's resolvers
//! ([`super::name_service::resolver_of`], which says which network's
//! policy plan decides); a start writes it, and a `docker network
//! connect` or `disconnect` that changes it has the exec driver rewrite
//! the file in place ([`ExecService::update_resolver`]).
//!
//! moby starts a sandbox's resolver when its first user network joins
//! (libnetwork `sandbox.populateNetworkResources` → `startResolver` →
//! `rebuildDNS`), so a container started on the default bridge and
//! connected to a user network resolves the names there. moby's resolver
//! listens on 127.0.0.11 inside the container and stays when that network
//! leaves; berth's listens on the network's gateway, which the container
//! no longer reaches once it left, so a disconnect moves it to the next
//! user network's gateway, or back to the first network's name servers.
//!
//! [`ExecService::update_resolver`]: crate::driver::ExecService::update_resolver

use std::sync::Arc;

use berth_model::dns::{DnsConfig, Resolver};

use super::Daemon;
use super::blocking::BlockingKind;

impl Daemon {
    /// The resolver of running container `id` as its endpoints are now
    /// (the host's also when it does not run).
    pub(super) fn current_resolver(&self, id: &str) -> Resolver {
        self.attachments.get(id).map_or(Resolver::Host, |attached| {
            self.resolver_for(&attached.endpoints)
        })
    }

    /// After a connect or disconnect of running container `id` (DNS
    /// settings `dns`) whose resolver was `before`: its `resolv.conf`
    /// names the resolver it has now. A failure is logged and the
    /// connect stands (moby logs "Updating resolv.conf failed" and goes
    /// on): the container stays reachable by address.
    pub(super) async fn follow_resolver(&self, id: &str, dns: &DnsConfig, before: Resolver) {
        let after = self.current_resolver(id);
        if after == before {
            return;
        }
        let runtime = Arc::clone(&self.runtime);
        let (owned, dns) = (id.to_owned(), dns.clone());
        let updated = self
            .blocking(BlockingKind::ContainerDir, move || {
                runtime.update_resolver(&owned, &dns, &before, &after)
            })
            .await;
        match updated {
            Ok(true) => tracing::debug!(id, "resolv.conf follows the container's networks"),
            Ok(false) => tracing::debug!(
                id,
                "resolv.conf kept: the container's own settings or the user's edits decide it"
            ),
            Err(e) => {
                tracing::error!(id, error = %e.message, "cannot update the container's resolv.conf")
            }
        }
    }
}
