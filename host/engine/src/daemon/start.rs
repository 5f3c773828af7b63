//! `POST /containers/{id}/start`: bounded by the start timeout, cancellable
//! by `rm -f`, and undone when abandoned.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_api::container::{Status, start_failure_code};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{self, Container};
use crate::daemon::restart_policy::RestartManager;
use crate::daemon::{Daemon, attach, now_rfc3339, signal};
use crate::driver::{NetworkReady, StartRequest};
use crate::job::{ErrorKind, JobError};

/// How a start ended ([`Daemon::start`]).
enum StartOutcome {
    /// The exec driver answered.
    Done(Result<crate::driver::Started, JobError>),
    /// `rm -f` cancelled it.
    Cancelled,
    /// [`DaemonConfig::start_timeout`](crate::daemon::DaemonConfig::start_timeout) passed.
    TimedOut,
}

/// Who starts a container: the user (`start`, `restart`), or its restart
/// policy after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartBy {
    User,
    Policy,
}

/// Bound of each step that undoes an abandoned start.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of [`Daemon::abandon_start`], bounded by [`CLEANUP_TIMEOUT`];
/// its failure is logged: the start fails anyway.
async fn bounded(
    id: &str,
    what: &'static str,
    step: impl std::future::Future<Output = Result<(), JobError>>,
) {
    match tokio::time::timeout(CLEANUP_TIMEOUT, step).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(id, what, error = %e, "after an abandoned start"),
        Err(_) => tracing::warn!(id, what, "timed out after an abandoned start"),
    }
}

impl Daemon {
    /// `POST /containers/{id}/start`. Fails with NotModified when it runs.
    ///
    /// The start is bounded by [`DaemonConfig::start_timeout`] and can be
    /// cancelled by `rm -f` ([`Daemon::remove`]); either way what it set up
    /// is undone (`abandon_start`) and it fails.
    ///
    /// [`DaemonConfig::start_timeout`]: crate::daemon::DaemonConfig::start_timeout
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        self.start_container(&container, StartBy::User)
            .await
            .map(drop)
    }

    /// Starts a container its restart policy restarts, unless the restart
    /// was cancelled meanwhile (then `Ok(false)`).
    pub(super) async fn start_by_policy(
        self: &Arc<Self>,
        container: &Arc<Container>,
    ) -> Result<bool, JobError> {
        self.start_container(container, StartBy::Policy).await
    }

    async fn start_container(
        self: &Arc<Self>,
        container: &Arc<Container>,
        by: StartBy,
    ) -> Result<bool, JobError> {
        let cancel = Arc::new(tokio::sync::Notify::new());
        // Decided before this container's lock is taken: it looks up (and
        // locks) the container whose network it may join. Its error counts
        // only once the state checks below have passed.
        let network = {
            let model = container.lock().record.ensure_model();
            model.and_then(|model| self.network_setup(&container.id, &model))
        };
        let (pending, request) = {
            let mut inner = container.lock();
            let state = &inner.record.state;
            match by {
                StartBy::User => {
                    if state.running {
                        return Err(JobError::not_modified());
                    }
                    if inner.busy || state.status == Status::Removing {
                        return Err(JobError::conflict(format!(
                            "container {} is busy: another operation is in progress",
                            container.id
                        )));
                    }
                    if state.status == Status::Dead {
                        return Err(JobError::conflict(format!(
                            "cannot start a dead container {}",
                            container.id
                        )));
                    }
                }
                // Checked under the same lock as `cancel_restart` cancels:
                // a restart cancelled before this point never starts.
                StartBy::Policy => {
                    if state.status != Status::Restarting
                        || inner.busy
                        || inner.restart.is_cancelled()
                    {
                        return Ok(false);
                    }
                }
            }
            // Before the container is marked busy: a record whose model
            // cannot be rebuilt refuses the start and stays as it is.
            let container_model = inner.record.ensure_model()?;
            let network = network?;
            if by == StartBy::User {
                // moby `containerStart(..., resetRestartManager=true)`: a
                // user start begins a new policy run.
                inner.restart.cancel();
                inner.restart = RestartManager::new(0);
                inner.record.restart_count = 0;
                inner.record.manually_stopped = false;
            }
            inner.busy = true;
            inner.cancel_start = Some(Arc::clone(&cancel));
            let mut pending = std::mem::take(&mut inner.pending_attach);
            // Clients that stopped waiting for the start get nothing: with
            // none left, the process starts without an attachment.
            pending.retain(|client| !client.out.is_closed());
            let request = StartRequest {
                id: container.id.clone(),
                rootfs: PathBuf::new(),
                container_dir: self.config.container_dir(&container.id),
                container: container_model,
                attach: attach::start_options(&pending),
                network,
                network_ready: NetworkReady::now(),
            };
            (pending, request)
        };
        container.notify(false);
        let volumes = crate::daemon::volumes::model_volumes(&request.container);
        let (result, cancelled) = match self.mount_volumes(&container.id, &volumes).await {
            Ok(()) => self.run_start(container, request, &cancel).await,
            Err(e) => (Err(e), false),
        };
        let started = match result {
            Ok(started) => started,
            Err(e) => {
                self.unmount_volumes(&container.id, volumes).await;
                // Clients waiting for output get end-of-stream.
                drop(pending);
                self.start_failed(container, &e, cancelled).await;
                return Err(e);
            }
        };
        let record = {
            let mut inner = container.lock();
            inner.busy = false;
            inner.cancel_start = None;
            inner.started = Some(tokio::time::Instant::now());
            container::set_running(
                &mut inner.record.state,
                i64::from(started.pid),
                &now_rfc3339(),
            );
            inner.record.clone()
        };
        // The process runs: its exit must be watched whatever happens to
        // the record now. A failed save is logged (JobError::internal) and
        // the monitor saves the state again at the exit; returning it here
        // would leave a running container that nothing monitors.
        let _ = self.persist(&record).await;
        container.notify(false);
        self.volume_mount_events("mount", &record);
        self.container_event("start", &record, &[]);
        self.init_health(container);
        // One session per client, each over its own streams.
        for (client, streams) in pending.into_iter().zip(started.attach) {
            tokio::spawn(client.serve(streams));
        }
        self.spawn_monitor(Arc::clone(container));
        Ok(true)
    }

    /// Runs the start until it ends, `cancel` is notified (`rm -f`) or
    /// [`DaemonConfig::start_timeout`] passes; an abandoned start is undone.
    /// Returns its result and whether it was cancelled.
    ///
    /// [`DaemonConfig::start_timeout`]: crate::daemon::DaemonConfig::start_timeout
    async fn run_start(
        self: &Arc<Self>,
        container: &Arc<Container>,
        request: StartRequest,
        cancel: &tokio::sync::Notify,
    ) -> (Result<crate::driver::Started, JobError>, bool) {
        let deadline = self.config.start_timeout;
        let outcome = tokio::select! {
            result = self.start_locked(container, request) => StartOutcome::Done(result),
            () = cancel.notified() => StartOutcome::Cancelled,
            () = tokio::time::sleep(deadline) => StartOutcome::TimedOut,
        };
        match outcome {
            StartOutcome::Done(result) => (result, false),
            StartOutcome::Cancelled => {
                self.abandon_start(container).await;
                let e = JobError::conflict(format!(
                    "start of container {} cancelled: the container is being removed",
                    container.id
                ));
                (Err(e), true)
            }
            StartOutcome::TimedOut => {
                self.abandon_start(container).await;
                let e = JobError::new(
                    ErrorKind::Internal,
                    format!(
                        "starting container {} timed out after {deadline:?}; what the start had set up was undone",
                        container.id
                    ),
                );
                (Err(e), false)
            }
        }
    }

    /// Records a start that failed with `e`, and removes an AutoRemove
    /// container unless a removal `cancelled` the start.
    async fn start_failed(&self, container: &Arc<Container>, e: &JobError, cancelled: bool) {
        let record = {
            let mut inner = container.lock();
            inner.busy = false;
            inner.cancel_start = None;
            let state = &mut inner.record.state;
            state.error = e.message.clone();
            // A restart by policy that fails ends the restarting (moby
            // `SetStopped` after a failed `containerStart`).
            if state.status == Status::Restarting {
                state.status = Status::Exited;
                state.running = false;
                state.restarting = false;
            }
            // moby `daemon/start.go`: 127/126 from the message, else 128.
            state.exit_code = start_failure_code(&e.message).map_or(128, i64::from);
            inner.record.clone()
        };
        let _ = self.persist(&record).await;
        container.notify(false);
        // moby (daemon/start.go): an AutoRemove container that
        // cannot start is cleaned up, as if it had exited; unless
        // the start was cancelled by a removal, which does that.
        if record.host_config.auto_remove
            && !cancelled
            && let Err(cleanup) = self.auto_remove(container, true).await
        {
            tracing::warn!(id = %container.id, error = %cleanup, "auto-remove after a failed start failed");
        }
    }

    async fn start_locked(
        self: &Arc<Self>,
        container: &Arc<Container>,
        mut request: StartRequest,
    ) -> Result<crate::driver::Started, JobError> {
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        request.rootfs = self
            .blocking(BlockingKind::Rootfs, move || images.mount_rootfs(&id))
            .await?;
        // Its networks, before its process starts (moby `initializeNetworking`).
        let name = container.lock().record.name.clone();
        let joined = self
            .join_networks(&container.id, &name, &request.container)
            .await;
        let joined = match joined {
            Ok(joined) => joined,
            Err(e) => {
                let images = Arc::clone(&self.images);
                let id = container.id.clone();
                let _ = self
                    .blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id))
                    .await;
                return Err(e);
            }
        };
        // The kernel side of the join goes on while the runtime creates the
        // container; its process waits for it (`StartRequest::network_ready`).
        let ready = joined.map(|joined| {
            request.network = joined.setup;
            request.network_ready = joined.ready.clone();
            joined.ready
        });
        match self.runtime.start(request).await {
            Ok(started) => Ok(started),
            Err(e) => {
                // A network setup that failed says why the runtime gave up.
                // It is awaited, not peeked: the runtime may fail first, on
                // the namespace the failed setup has just removed, before
                // anything polled the setup to its end. It is kernel work
                // that ends by itself, and the leave below waits for it
                // anyway (it takes the same attachment lock).
                let e = match ready {
                    Some(ready) => ready.wait().await.err().unwrap_or(e),
                    None => e,
                };
                self.leave_networks(&container.id).await;
                self.release_ports(&container.id).await;
                let images = Arc::clone(&self.images);
                let id = container.id.clone();
                let _ = self
                    .blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id))
                    .await;
                Err(e)
            }
        }
    }

    /// Undoes what a start that was abandoned (past its deadline, or
    /// cancelled) may have set up. Its future was dropped wherever it was:
    /// the exec driver kills a shim it had spawned when its start is
    /// dropped; here the container's processes are killed again and their
    /// end awaited, then the root filesystem is unmounted. Each step is
    /// bounded, so that the start's caller and a waiting `rm` are too.
    async fn abandon_start(&self, container: &Arc<Container>) {
        let id = container.id.as_str();
        bounded(id, "kill", self.runtime.kill(id, signal::SIGKILL)).await;
        let wait = self.runtime.wait(id);
        bounded(id, "wait", async move { wait.await.map(drop) }).await;
        bounded(id, "networks", async {
            self.leave_networks(id).await;
            self.release_ports(id).await;
            Ok(())
        })
        .await;
        let images = Arc::clone(&self.images);
        let rootfs_id = id.to_owned();
        let unmount = self.blocking(BlockingKind::Rootfs, move || {
            images.unmount_rootfs(&rootfs_id)
        });
        bounded(id, "unmount", unmount).await;
    }
}
