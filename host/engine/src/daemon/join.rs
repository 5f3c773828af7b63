//! A container's join of its networks at start, in two phases (moby
//! `initializeNetworking`, then the setup its prestart hook once did).
//!
//! 1. *Plan*, before the runtime is asked for anything: the namespace is
//!    created (the runtime's container joins it by path) and an address is
//!    leased on each network (its `/etc/hosts` names them).
//! 2. *Apply*, beside the runtime's creation of the container (a shim to
//!    spawn, namespaces, mounts: tens of milliseconds): the veth pairs,
//!    addresses, routes and firewall rules. The container's process is
//!    released only once they are in place ([`NetworkReady`]), so what it
//!    runs never sees a half-configured network, and a failure here fails
//!    the start before the process runs.
//!
//! Both phases run in one task holding the container's attachment lock: it
//! runs to its end even when the start that asked for it is abandoned, and
//! an undo ([`Daemon::leave_networks`]) waits for it.

use std::net::IpAddr;
use std::sync::Arc;

use berth_model::container::ContainerModel;
use berth_model::network::{NetworkFiles, NetworkModel, NetworkNamespace, NetworkSetup};
use berth_model::ports::PortRequest;
use tokio::sync::oneshot;

use super::Daemon;
use super::blocking::BlockingKind;
use super::endpoints::{Attached, EndpointWish, apply};
use crate::driver::NetworkReady;
use crate::job::{ErrorKind, JobError};

/// A planned join: what the exec driver writes into the container's files
/// and namespace now, and the kernel setup its process waits for.
pub(super) struct Joined {
    /// The namespace, `/etc` files, addresses and resolver.
    pub setup: NetworkSetup,
    /// The end of the apply phase.
    pub ready: NetworkReady,
}

impl Daemon {
    /// Joins container `id` to its networks: `None` when it has none (its
    /// mode decides its namespace), else the plan and the apply in flight.
    /// A failed plan undoes itself before this returns; a failed apply
    /// undoes itself before [`Joined::ready`] fails.
    pub(super) async fn join_networks(
        self: &Arc<Self>,
        id: &str,
        name: &str,
        model: &ContainerModel,
    ) -> Result<Option<Joined>, JobError> {
        let wanted = self.networks_to_join(id, model).await?;
        if wanted.is_empty() {
            // Host mode drops its publications at create (with moby's
            // warning), none and container: refuse them; what is left is
            // a bridge container on a daemon without a default network.
            if !model.ports.is_empty() {
                return Err(JobError::invalid(
                    "publishing ports (-p, -P) needs a network to forward to: this daemon has no default bridge network (--bridge=none)",
                ));
            }
            return Ok(None);
        }
        let requests = model.ports.clone();
        let nameservers = model.dns.nameservers().to_vec();
        let daemon = Arc::clone(self);
        let (id, name) = (id.to_owned(), name.to_owned());
        let (planned_tx, planned_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let lock = daemon.attachments.lock_of(&id);
            let _held = lock.lock().await;
            // Its host ports are reserved with its leases, as the
            // network policy planned them (`lease`).
            let joined = daemon
                .join_locked(&id, &name, wanted, requests, &nameservers, planned_tx)
                .await;
            if joined.is_err() {
                daemon.release_ports(&id).await;
            }
            joined
        });
        let ready = NetworkReady::new(async move {
            task.await
                .map_err(|e| JobError::internal("the network join failed", &e))?
        });
        let Ok(attached) = planned_rx.await else {
            // The plan failed (and was undone): the task says why.
            return Err(ready.wait().await.err().unwrap_or_else(|| {
                JobError::new(
                    ErrorKind::Internal,
                    "the network join failed: it ended without a plan",
                )
            }));
        };
        let addresses = attached
            .endpoints
            .iter()
            .flat_map(|(_, ep)| ep.ipv4.iter().chain(ep.ipv6.iter()).map(|a| a.addr))
            .collect();
        let setup = NetworkSetup {
            namespace: NetworkNamespace::Sandbox(attached.sandbox.netns_path.clone()),
            files: NetworkFiles::Own,
            addresses,
            resolver: self.resolver_for(&attached.endpoints),
        };
        Ok(Some(Joined { setup, ready }))
    }

    /// Both phases, under the attachment lock; the plan goes to `planned`
    /// as soon as it is made (dropped unsent when it fails).
    async fn join_locked(
        &self,
        id: &str,
        name: &str,
        wanted: Vec<(NetworkModel, EndpointWish)>,
        requests: Vec<PortRequest>,
        nameservers: &[IpAddr],
        planned: oneshot::Sender<Attached>,
    ) -> Result<(), JobError> {
        // What a run whose end went unseen left behind goes first.
        self.leave_locked(id).await;
        let network = Arc::clone(&self.network);
        let owned = id.to_owned();
        let sandbox = self
            .blocking(BlockingKind::Network, move || {
                network.create_sandbox(&owned)
            })
            .await?;
        let mut leased = self
            .lease(id, name, &sandbox, &wanted, requests.clone(), nameservers)
            .await;
        if leased.is_err() && self.teardowns.any() {
            // Exited containers hold their addresses until their veth
            // pairs are gone (`teardown.rs`): this lease may have been
            // refused for one of them (its --ip, a full subnet). Once those
            // teardowns end, it is tried once more, with whatever host
            // ports the refused one held given back first.
            self.release_ports(id).await;
            self.finish_teardowns().await;
            leased = self
                .lease(id, name, &sandbox, &wanted, requests, nameservers)
                .await;
        }
        let endpoints = match leased {
            Ok(endpoints) => endpoints,
            Err(e) => {
                self.remove_sandbox_logged(&sandbox).await;
                return Err(e);
            }
        };
        let attached = Attached {
            sandbox,
            endpoints: wanted.into_iter().map(|(n, _)| n).zip(endpoints).collect(),
        };
        // An abandoned start no longer listens; the apply goes on, and the
        // abandon's undo waits for it.
        let _ = planned.send(attached.clone());
        let network = Arc::clone(&self.network);
        let applied = attached.clone();
        let result = self
            .blocking(BlockingKind::Network, move || {
                apply(network.as_ref(), &applied)
            })
            .await;
        if let Err(e) = result {
            // The kernel is as it was: the leases go too.
            if let Err(undo) = self.drop_lease(id, None).await {
                tracing::warn!(id, error = %undo.message, "cannot release the addresses of a failed join");
            }
            return Err(e);
        }
        self.attachments
            .live()
            .insert(id.to_owned(), attached.clone());
        self.publish_all_names(id, &attached.endpoints);
        for (network, _) in &attached.endpoints {
            self.endpoint_event("connect", network, id);
        }
        Ok(())
    }
}
