//! `DELETE /containers/{id}`: waits for (or cancels) a start in progress,
//! kills a running container, then undoes what create made.

use std::sync::Arc;
use std::time::Duration;

use berth_api::container::Status;
use berth_store::StoreError;

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{CONTAINERS, Container, NAMES};
use crate::daemon::{Daemon, signal, store_error};
use crate::job::JobError;

impl Daemon {
    /// `DELETE /containers/{id}`.
    pub async fn remove(&self, reference: &str, force: bool) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        self.remove_container(&container, force).await
    }

    /// `AutoRemove` (`run --rm`): the container and its anonymous volumes,
    /// as moby's `ContainerRm` with `RemoveVolume`.
    pub(super) async fn auto_remove(
        &self,
        container: &Arc<Container>,
        force: bool,
    ) -> Result<(), JobError> {
        let record = container.record();
        self.remove_container(container, force).await?;
        self.remove_anonymous_volumes(&record).await;
        Ok(())
    }

    /// `DELETE /containers/{id}?v=1`: the container, then its anonymous
    /// volumes no other container uses (moby `ContainerRm` with
    /// `RemoveVolume`).
    pub async fn remove_with_volumes(&self, reference: &str, force: bool) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let record = container.record();
        self.remove_container(&container, force).await?;
        self.remove_anonymous_volumes(&record).await;
        Ok(())
    }

    /// A start in progress holds the container. dockerd's `rm` waits on the
    /// container's lock, and its `rm -f` of a container whose start hangs
    /// never returns. Here a start is bounded by
    /// [`DaemonConfig::start_timeout`], so `rm` waits for it to end and
    /// then decides as usual; `rm -f` first cancels it, because `rm -f` is
    /// how a user gets rid of a container whose start hangs (a hostile
    /// image) and should not take as long as the deadline.
    pub(super) async fn remove_container(
        &self,
        container: &Arc<Container>,
        force: bool,
    ) -> Result<(), JobError> {
        let running = loop {
            let mut rx = container.watch();
            let decided = {
                let mut inner = container.lock();
                if inner.busy {
                    if force && let Some(cancel) = &inner.cancel_start {
                        cancel.notify_one();
                    }
                    None
                } else {
                    let state = &mut inner.record.state;
                    if state.status == Status::Removing {
                        return Err(JobError::conflict(format!(
                            "removal of container {} is already in progress",
                            container.id
                        )));
                    }
                    if state.running && !force {
                        return Err(JobError::conflict(format!(
                            "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                            container.id
                        )));
                    }
                    // A container waiting to be restarted has no process
                    // to kill; its restart is cancelled (moby kills it,
                    // which cancels the restart).
                    let running = state.running && state.status != Status::Restarting;
                    state.status = Status::Removing;
                    inner.restart.cancel();
                    // Clients attached to a container that will never start:
                    // their sessions end now (dropping them closes their
                    // streams).
                    inner.pending_attach.clear();
                    Some(running)
                }
            };
            if let Some(running) = decided {
                break running;
            }
            // The start ends within its deadline (or at once, cancelled).
            let _ = rx.wait_for(|s| !s.busy || s.removed).await;
            if rx.borrow().removed {
                return Err(JobError::not_found(format!(
                    "No such container: {}",
                    container.id
                )));
            }
        };
        if let Err(e) = self.tear_down(container, running).await {
            // Leave the record so that `rm` can retry, marked dead like moby
            // does: a container left in Removing would refuse every retry.
            let record = {
                let mut inner = container.lock();
                inner.record.state.status = Status::Dead;
                inner.record.state.dead = true;
                inner.record.clone()
            };
            let _ = self.persist(&record).await;
            container.notify(false);
            return Err(e);
        }
        let record = container.record();
        if let Err(e) = self
            .remove_tree(self.config.container_dir(&record.id))
            .await
        {
            tracing::warn!(error = %e.message, "failed to remove the container directory");
        }
        self.containers.remove(&record.id);
        container.notify_removed();
        self.container_event("destroy", &record, &[]);
        Ok(())
    }

    /// What removal undoes: the process (killed when `running`), the exec
    /// driver's state, the root filesystem, then the record and the name.
    async fn tear_down(&self, container: &Arc<Container>, running: bool) -> Result<(), JobError> {
        if running {
            let mut rx = container.watch();
            let exits_before = rx.borrow_and_update().exits;
            if let Err(e) = self.signal(container, signal::SIGKILL).await {
                tracing::warn!(id = %container.id, error = %e, "kill before removal failed");
            }
            // The monitor records the exit (keeping the Removing status) and
            // unmounts the rootfs; removal waits for that, but not forever:
            // a shim that cannot report leaves the rest to the exec driver.
            let exited = rx.wait_for(|s| s.exits > exits_before);
            if tokio::time::timeout(Duration::from_secs(10), exited)
                .await
                .is_err()
            {
                tracing::warn!(id = %container.id, "no exit seen 10 s after SIGKILL; removing anyway");
            }
        }
        if let Err(e) = self.runtime.remove(&container.id).await {
            tracing::warn!(id = %container.id, error = %e, "exec driver cleanup failed");
        }
        self.forget_networks(&container.id).await;
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        self.blocking(BlockingKind::Rootfs, move || images.remove_rootfs(&id))
            .await?;
        let (id, name) = {
            let inner = container.lock();
            (inner.record.id.clone(), inner.record.name.clone())
        };
        let store = self.store.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .write(|txn| {
                    txn.delete(CONTAINERS, &id)?;
                    if txn.get(NAMES, &name)?.as_deref() == Some(id.as_str()) {
                        txn.delete(NAMES, &name)?;
                    }
                    Ok::<(), StoreError>(())
                })
                .map_err(|e| store_error("failed to delete the container record", e))
        })
        .await
    }
}
