//! A container leaving its networks, and the teardown at its exit that
//! runs off the exit's path (issue 12).
//!
//! A leave has two halves. [`Daemon::take_off_networks`] waits on no
//! kernel work: the container leaves the daemon's view of its networks
//! (inspect, the embedded DNS server) and the `disconnect` events go out.
//! [`Daemon::release_attachment`] then deletes the veth pairs and the
//! sandbox and only after that drops the address leases. Deleting a veth
//! waits out an RCU grace period in the kernel's `unregister_netdevice`
//! (15 to 20 ms on an idle machine): at an exit that was most of what the
//! network cost `run --rm`. moby pays it on the exit's path too
//! (`daemon/container_operations.go` `releaseNetwork`, run from the exit's
//! `Cleanup`, ends in libnetwork's `sandbox.Delete`, whose bridge driver
//! `DeleteEndpoint` deletes the host veth), and so does netavark's
//! teardown, which podman runs before it reports the container stopped.
//!
//! Here the exit does the first half and hands the second to a task of
//! its own ([`Daemon::leave_networks_in_background`]), which holds the
//! container's attachment lock until it ends. A container that publishes
//! ports is the exception: its host ports are freed with the rules that
//! forward them, which go with its veth, and a stop that returns has
//! freed them for the host's own listeners, as dockerd's does; so its
//! teardown stays on its exit's path. Of the two ways to take the
//! deletion off the path (the other: unmount the namespace and let the
//! kernel's `cleanup_net` delete both ends in a worker, then watch for the
//! host end to go before releasing the lease), this one keeps the order
//! the leases rely on, in one place: the leases stay held until the veth
//! is really gone, so a new container is never given an address or MAC
//! whose old interface is still on the bridge.
//! What must see the container's networks gone waits for it instead:
//!
//! - a start, connect or disconnect of the same container takes its
//!   attachment lock, which the teardown holds;
//! - `network rm` and `network prune` wait for the teardowns in flight
//!   ([`Daemon::finish_teardowns`]) before they look for active endpoints,
//!   so compose's `down`, which removes the containers and then the
//!   network at once, is never refused;
//! - a start whose lease is refused while teardowns are in flight (its
//!   `--ip` still held by a dying container, a full subnet) waits for
//!   them and tries once more;
//! - a removal does not wait: the teardown forgets the container's
//!   remembered addresses itself when it ends;
//! - berthd's shutdown and its restore of the containers wait for them.
//!   A teardown cut short (`kill -9`) leaves its lease in the store, and
//!   the next start's reconcile releases it with whatever the kernel kept.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use berth_store::StoreError;
use tokio::sync::watch;

use super::blocking::BlockingKind;
use super::endpoints::{ADDRESS_HINTS, Attached, SANDBOXES, undo};
use super::{Daemon, store_error};
use crate::job::JobError;

/// The teardowns in flight, by container id.
#[derive(Debug, Default)]
pub(super) struct Teardowns {
    in_flight: Mutex<HashMap<String, InFlight>>,
}

#[derive(Debug)]
struct InFlight {
    /// Closed when the teardown ends (its sender is dropped).
    done: watch::Receiver<()>,
    /// The container was removed meanwhile: its remembered addresses go
    /// at the end.
    forget: bool,
}

impl Teardowns {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the teardown of `id`; it ends when the sender drops.
    fn begin(&self, id: &str) -> watch::Sender<()> {
        let (tx, done) = watch::channel(());
        self.map().insert(
            id.to_owned(),
            InFlight {
                done,
                forget: false,
            },
        );
        tx
    }

    /// Unregisters the teardown of `id`, unless its container was removed
    /// since the last call: then it stays registered (whoever waits for
    /// it waits for the forgetting too) and this says so; call again once
    /// the addresses are forgotten.
    fn end_unless_forgetting(&self, id: &str) -> bool {
        let mut map = self.map();
        match map.get_mut(id) {
            Some(in_flight) if in_flight.forget => {
                in_flight.forget = false;
                true
            }
            _ => {
                map.remove(id);
                false
            }
        }
    }

    /// At the removal of `id`: true when its teardown is in flight, which
    /// then forgets its addresses when it ends.
    pub(super) fn forget_when_done(&self, id: &str) -> bool {
        match self.map().get_mut(id) {
            Some(in_flight) => {
                in_flight.forget = true;
                true
            }
            None => false,
        }
    }

    /// Whether any teardown is in flight.
    pub(super) fn any(&self) -> bool {
        !self.map().is_empty()
    }

    fn pending(&self) -> Vec<watch::Receiver<()>> {
        self.map().values().map(|t| t.done.clone()).collect()
    }
}

impl Daemon {
    /// At a container's exit: takes it off its networks now, and leaves
    /// the kernel teardown and the release of its leases and host ports
    /// to a task that holds its attachment lock (see the module's doc).
    /// Returns once the task holds the lock and is registered, so that
    /// whoever sees the exit recorded also sees the teardown; for a
    /// container that publishes ports, once the teardown is done.
    pub(super) async fn leave_networks_in_background(self: &Arc<Self>, id: &str) {
        let held = self.attachments.lock_of(id).lock_owned().await;
        let Some(attached) = self.take_off_networks(id).await else {
            // No network, no lease to hold: its ports (none, normally)
            // go at once.
            self.release_ports(id).await;
            return;
        };
        if attached
            .endpoints
            .iter()
            .any(|(_, ep)| !ep.ports.is_empty())
        {
            // Its host ports go with the rules that forward them, which go
            // with its veth (`NetworkService::disconnect`): it is torn down
            // before its exit is recorded, as before, so that a stop that
            // returns has freed its ports for the host, as dockerd's does.
            self.release_attachment(id, &attached, BlockingKind::NetworkTeardown)
                .await;
            self.release_ports(id).await;
            return;
        }
        let done = self.teardowns.begin(id);
        let daemon = Arc::clone(self);
        let id = id.to_owned();
        tokio::spawn(async move {
            daemon
                .release_attachment(&id, &attached, BlockingKind::NetworkTeardown)
                .await;
            daemon.release_ports(&id).await;
            while daemon.teardowns.end_unless_forgetting(&id) {
                daemon.forget_addresses(&id).await;
            }
            // The lock goes last: whoever waited for it finds the
            // teardown ended.
            drop(done);
            drop(held);
        });
    }

    /// Waits for the teardowns in flight now (`network rm`, berthd's
    /// shutdown and restore); those that begin meanwhile are not waited
    /// for.
    pub async fn finish_teardowns(&self) {
        for mut done in self.teardowns.pending() {
            // An error is the end: the sender dropped.
            let _ = done.changed().await;
        }
    }

    /// Takes container `id` off its networks and removes its sandbox (at
    /// its exit, a failed start, its removal); its addresses are released
    /// and remembered for its next start. Nothing to do when it has none.
    /// Failures are logged: what the kernel kept is cleared at the next
    /// daemon start (reconcile).
    pub(super) async fn leave_networks(&self, id: &str) {
        let lock = self.attachments.lock_of(id);
        let _held = lock.lock().await;
        self.leave_locked(id).await;
    }

    pub(super) async fn leave_locked(&self, id: &str) {
        if let Some(attached) = self.take_off_networks(id).await {
            self.release_attachment(id, &attached, BlockingKind::Network)
                .await;
        }
    }

    /// The first half of a leave, which waits on no kernel work: the
    /// container is taken off the daemon's view of its networks (inspect,
    /// the embedded DNS server) and each `disconnect` is told, as moby's
    /// `releaseNetwork` does before the exit's `die`. Returns what is
    /// left for [`Daemon::release_attachment`], `None` when it had none.
    /// Under the container's attachment lock.
    pub(super) async fn take_off_networks(&self, id: &str) -> Option<Attached> {
        let live = self.attachments.live().remove(id);
        let attached = match live {
            Some(attached) => attached,
            None => match self.stored_attachment(id).await {
                Ok(attached) => attached?,
                Err(e) => {
                    tracing::warn!(id, error = %e.message, "cannot read the container's network attachment");
                    return None;
                }
            },
        };
        self.withdraw_all_names(id, &attached.endpoints);
        for (network, _) in &attached.endpoints {
            self.endpoint_event("disconnect", network, id);
        }
        Some(attached)
    }

    /// The second half: the veth pairs and the sandbox go (on a thread of
    /// `kind`), and only then the address leases, remembered for the
    /// container's next start: an address is never leased again while
    /// its old interface may still sit on the bridge. Under the
    /// container's attachment lock.
    pub(super) async fn release_attachment(
        &self,
        id: &str,
        attached: &Attached,
        kind: BlockingKind,
    ) {
        let network = Arc::clone(&self.network);
        let undone = attached.clone();
        let result = self
            .blocking(kind, move || {
                undo(network.as_ref(), &undone, undone.endpoints.len());
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(id, error = %e.message, "cannot take the container off its networks");
        }
        let hints: BTreeMap<String, Vec<IpAddr>> = attached
            .endpoints
            .iter()
            .map(|(network, ep)| {
                let addrs = ep.ipv4.iter().chain(ep.ipv6.iter()).map(|a| a.addr);
                (network.id.clone(), addrs.collect())
            })
            .collect();
        if let Err(e) = self.drop_lease(id, Some(hints)).await {
            tracing::warn!(id, error = %e.message, "cannot release the container's addresses");
        }
    }

    /// Deletes the container's leases, and records `hints` (its addresses)
    /// for its next start when given.
    pub(super) async fn drop_lease(
        &self,
        id: &str,
        hints: Option<BTreeMap<String, Vec<IpAddr>>>,
    ) -> Result<(), JobError> {
        let store = self.store.clone();
        let key = id.to_owned();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .write(|txn| {
                    txn.delete(SANDBOXES, &key)?;
                    if let Some(hints) = &hints {
                        txn.put(ADDRESS_HINTS, &key, hints)?;
                    }
                    Ok::<(), StoreError>(())
                })
                .map_err(|e| store_error("release the address leases", e))
        })
        .await
    }

    /// At removal: the container's networks are left and its remembered
    /// addresses forgotten. A teardown still in flight from its exit is
    /// not waited for (`run --rm` waits for the removal): it forgets them
    /// itself when it ends ([`super::teardown`]).
    pub(super) async fn forget_networks(&self, id: &str) {
        if self.teardowns.forget_when_done(id) {
            return;
        }
        self.leave_networks(id).await;
        self.forget_addresses(id).await;
    }

    /// Deletes the addresses remembered for the next start of `id`.
    pub(super) async fn forget_addresses(&self, id: &str) {
        let store = self.store.clone();
        let key = id.to_owned();
        let forgotten = self
            .blocking(BlockingKind::StoreCommit, move || {
                store
                    .delete(ADDRESS_HINTS, &key)
                    .map(drop)
                    .map_err(|e| store_error("forget the container's addresses", e))
            })
            .await;
        if let Err(e) = forgotten {
            tracing::warn!(id, error = %e.message, "cannot forget the container's addresses");
        }
    }
}
