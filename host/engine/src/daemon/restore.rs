//! The daemon's start: containers loaded from the store, running ones
//! reconciled with the exec driver, unfinished creates discarded.

use std::collections::HashSet;
use std::sync::Arc;

use berth_api::container::Status;

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{self, CONTAINERS, Container};
use crate::daemon::exit::AfterExit;
use crate::daemon::{Daemon, names, store_error};
use crate::driver::{ExitRecord, LOST_EXIT_CODE, RunState};
use crate::job::JobError;

impl Daemon {
    /// Loads the containers from the store and reconciles those that were
    /// running with the exec driver: live shims are monitored again, the
    /// exits that happened while the daemon was away are recorded.
    pub async fn restore(self: &Arc<Self>) -> Result<usize, JobError> {
        let store = self.store.clone();
        let mut records = self
            .blocking(BlockingKind::StoreCommit, move || {
                store
                    .list(CONTAINERS)
                    .map_err(|e| store_error("failed to load container records", e))
            })
            .await?;
        // Records written before records carried the model get it now
        // from their wire configuration; one that no longer validates
        // keeps none, and its start says why.
        for (_, record) in &mut records {
            if let Err(e) = record.ensure_model() {
                tracing::warn!(id = %record.id, error = %e.message, "cannot rebuild the container model");
            }
        }
        let count = records.len();
        let known: HashSet<&str> = records.iter().map(|(id, _)| id.as_str()).collect();
        self.discard_orphans(&known).await;
        if let Err(e) = self.reconcile_volumes().await {
            tracing::warn!(error = %e.message, "cannot reconcile the volumes' directories");
        }
        self.restore_volume_mounts(&records).await;
        self.ensure_default_network().await?;
        // Before any container starts: the kernel gets the sandboxes of
        // the containers that ran, and loses what else of berth's it has.
        let running: HashSet<String> = records
            .iter()
            .filter(|(_, r)| r.state.running)
            .map(|(id, _)| id.clone())
            .collect();
        if let Err(e) = self.reconcile_networks(&running).await {
            tracing::warn!(error = %e.message, "cannot reconcile the networks with the kernel");
        }
        for (_, mut record) in records {
            // A removal cut short by a crash: the container is dead, and
            // `rm` (which accepts dead containers) finishes the job.
            if record.state.status == Status::Removing {
                record.state.status = Status::Dead;
                record.state.dead = true;
            }
            let was_running = record.state.running;
            let was_restarting = record.state.status == Status::Restarting;
            let container = Container::new(record);
            self.containers.insert(Arc::clone(&container));
            if !was_running {
                self.restart_at_daemon_start(&container);
                continue;
            }
            let exit = match self.runtime.restore(&container.id).await {
                Ok(
                    RunState::Created { pid }
                    | RunState::Running { pid, .. }
                    | RunState::Paused { pid, .. },
                ) => {
                    let pid = i64::from(pid);
                    tracing::info!(id = %container.id, pid, "reattached to running container");
                    {
                        let mut inner = container.lock();
                        // A restart by policy got as far as the process
                        // before the daemon went away: it runs.
                        if was_restarting {
                            let now = crate::daemon::now_rfc3339();
                            container::set_running(&mut inner.record.state, pid, &now);
                        }
                        inner.record.state.pid = pid;
                    }
                    self.init_health(&container);
                    self.spawn_monitor(container);
                    continue;
                }
                // The daemon went away while the container waited out its
                // restart backoff: its exit is recorded already (and its
                // `die` told); the policy goes on where it was.
                _ if was_restarting => {
                    tracing::info!(id = %container.id, "resuming the restart of a container");
                    // Its exit released its volumes; the hold its record
                    // gave back goes, and its restart takes one again.
                    let volumes = crate::daemon::volumes::record_volumes(&container.lock().record);
                    self.unmount_volumes(&container.id, volumes).await;
                    self.resume_restart(container);
                    continue;
                }
                Ok(RunState::Exited(exit)) => exit,
                // The driver knows nothing of it: its shim is gone and left
                // no exit record.
                Ok(RunState::NeverStarted) => ExitRecord::failed(
                    LOST_EXIT_CODE,
                    "the container's monitor is gone and left no exit record",
                    berth_model::Timestamp::now(),
                ),
                Err(e) => {
                    tracing::warn!(id = %container.id, error = %e, "cannot restore container");
                    let exit = ExitRecord::failed(
                        255,
                        format!("lost track of the container: {e}"),
                        berth_model::Timestamp::now(),
                    );
                    // Its process may still run out of sight: neither
                    // removed nor started a second time.
                    if let AfterExit::Restart(_) = self.record_exit(&container, exit).await {
                        container.lock().restart.cancel();
                        self.end_restarting(&container).await;
                    }
                    continue;
                }
            };
            tracing::info!(id = %container.id, code = exit.exit_code, "container exited while the daemon was down");
            // What would have followed the exit had the daemon been up:
            // an AutoRemove container goes now, a restart policy restarts
            // it after its backoff (in its own task).
            match self.record_exit(&container, exit).await {
                AfterExit::Restart(restart) => {
                    let daemon = Arc::clone(self);
                    tokio::spawn(async move { daemon.run_restart(container, restart).await });
                }
                after => self.after_exit(container, after).await,
            }
        }
        // The network teardowns of the exits recorded above end before
        // anything is served, and before the ports of the containers that
        // no longer run are given up.
        self.finish_teardowns().await;
        self.restore_ports().await;
        Ok(count)
    }

    /// Container directories without a record are what a create left when
    /// berthd was killed between preparing the root filesystem and saving
    /// the record: nothing refers to them, so they go (with their rootfs,
    /// which would otherwise pin its image) before anything is served.
    async fn discard_orphans(&self, known: &HashSet<&str>) {
        let root = self.config.containers_root();
        let listed = self.blocking(BlockingKind::ContainerDir, move || {
            // Unreadable (absent at the first start): nothing to discard.
            let Ok(entries) = std::fs::read_dir(&root) else {
                return Ok(Vec::new());
            };
            let names = entries.flatten().map(|entry| entry.file_name());
            Ok(names.filter_map(|n| n.into_string().ok()).collect())
        });
        let ids: Vec<String> = listed.await.unwrap_or_default();
        for id in &ids {
            let id = id.as_str();
            if known.contains(id) || !names::is_id(id) {
                continue;
            }
            tracing::warn!(id, "removing a container that was never fully created");
            if let Err(e) = self.discard_unrecorded(id).await {
                tracing::warn!(id, error = %e, "cannot remove the unfinished container");
            }
        }
    }
}
