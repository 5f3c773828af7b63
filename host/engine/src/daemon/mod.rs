//! The daemon's container and image operations (moby's `daemon/`): the
//! container set and its records in the metadata store, the state machine,
//! and the calls into the graph ([`ImageService`]) and exec ([`ExecService`])
//! drivers. [`handlers`] turns these operations into jobs.

pub mod attach;
pub mod blocking;
pub mod container;
pub mod handlers;
pub mod images;
pub mod list;
pub mod names;
pub mod signal;
pub mod spec;
pub mod sysinfo;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_api::container::{
    ContainerInspect, CreateRequest, CreateResponse, LogDriver, Status, WaitCondition,
    start_failure_code,
};
use berth_api::units::human_duration;
use berth_model::Timestamp;
use berth_store::{Store, StoreError};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::driver::{AttachOptions, ExecService, ExitRecord, ImageService, Restored, StartRequest};
use crate::events::Events;
use crate::job::{ErrorKind, JobError, JobOutput, JobStdin};
use attach::{ClientOutput, PendingAttach};
use blocking::{BlockingKind, BlockingPool};
use container::{CONTAINERS, Container, ContainerRecord, ContainerSet, NAMES};
use spec::ContainerSpecBuilder;

/// What an attach sends besides live output (`logs`, `stream` of
/// `POST /containers/{id}/attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachReplay {
    /// Replay the container's log first.
    pub logs: bool,
    /// Then stream live output (and forward input).
    pub stream: bool,
}

impl Default for AttachReplay {
    /// Live output only, what `docker attach` and `docker start -a` ask.
    fn default() -> AttachReplay {
        AttachReplay {
            logs: false,
            stream: true,
        }
    }
}

/// Where the daemon keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// `--data-root`: metadata, images, container directories.
    pub data_root: PathBuf,
    /// `--exec-root`: sockets and runtime state.
    pub exec_root: PathBuf,
    /// What the host offers containers, probed at start.
    pub sysinfo: sysinfo::SysInfo,
    /// How long a container start may take, from mounting its root
    /// filesystem to its process running ([`DEFAULT_START_TIMEOUT`]). A
    /// start past it fails, and what it set up is undone.
    pub start_timeout: Duration,
}

/// [`DaemonConfig::start_timeout`] by default: beyond the exec driver's
/// own bounds on preparing the bundle and on the shim's startup (60 s
/// each), so that a slow but healthy start on a loaded machine completes.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(150);

impl DaemonConfig {
    /// `<data-root>/containers`: one directory per container, shared with
    /// the exec driver (its `ExecConfig::containers_dir`).
    pub fn containers_root(&self) -> PathBuf {
        self.data_root.join("containers")
    }

    /// `<data-root>/containers/<id>`: logs and per-container files.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_root().join(id)
    }
}

/// The container and image subsystem of berthd.
pub struct Daemon {
    config: DaemonConfig,
    store: Store,
    images: Arc<dyn ImageService>,
    runtime: Arc<dyn ExecService>,
    events: Arc<Events>,
    containers: ContainerSet,
    pool: BlockingPool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How a start ended ([`Daemon::start`]).
enum StartOutcome {
    /// The exec driver answered.
    Done(Result<crate::driver::Started, JobError>),
    /// `rm -f` cancelled it.
    Cancelled,
    /// [`DaemonConfig::start_timeout`] passed.
    TimedOut,
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

pub use berth_model::time::now_rfc3339;

fn store_error(what: &str, err: StoreError) -> JobError {
    JobError::internal(what, &err)
}

impl Daemon {
    /// Builds the daemon over its store and drivers; call [`Daemon::restore`]
    /// next to load existing containers.
    pub fn new(
        config: DaemonConfig,
        store: Store,
        images: Arc<dyn ImageService>,
        runtime: Arc<dyn ExecService>,
        events: Arc<Events>,
    ) -> Arc<Daemon> {
        Arc::new(Daemon {
            config,
            store,
            images,
            runtime,
            events,
            containers: ContainerSet::default(),
            pool: BlockingPool::default(),
        })
    }

    /// Runs blocking driver work of `kind` off the async workers, within
    /// its kind's bound ([`blocking`]).
    pub async fn blocking<T, F>(&self, kind: BlockingKind, f: F) -> Result<T, JobError>
    where
        F: FnOnce() -> Result<T, JobError> + Send + 'static,
        T: Send + 'static,
    {
        self.pool.run(kind, f).await
    }

    /// The daemon's configuration.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    /// The graph driver.
    pub fn images(&self) -> &Arc<dyn ImageService> {
        &self.images
    }

    /// The events hub.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The containers.
    pub fn containers(&self) -> &ContainerSet {
        &self.containers
    }

    /// Loads the containers from the store and reconciles those that were
    /// running with the exec driver: live shims are monitored again, the
    /// exits that happened while the daemon was away are recorded.
    pub async fn restore(self: &Arc<Self>) -> Result<usize, JobError> {
        let records = self
            .store
            .list(CONTAINERS)
            .map_err(|e| store_error("failed to load container records", e))?;
        let count = records.len();
        let known: HashSet<&str> = records.iter().map(|(id, _)| id.as_str()).collect();
        self.discard_orphans(&known).await;
        for (_, mut record) in records {
            // A removal cut short by a crash: the container is dead, and
            // `rm` (which accepts dead containers) finishes the job.
            if record.state.status == Status::Removing {
                record.state.status = Status::Dead;
                record.state.dead = true;
            }
            let was_running = record.state.running;
            let container = Container::new(record);
            self.containers.insert(Arc::clone(&container));
            if !was_running {
                continue;
            }
            match self.runtime.restore(&container.id).await {
                Ok(Restored::Running { pid }) => {
                    tracing::info!(id = %container.id, pid, "reattached to running container");
                    container.lock().record.state.pid = pid;
                    self.spawn_monitor(container);
                }
                Ok(Restored::Exited(exit)) => {
                    tracing::info!(id = %container.id, code = exit.exit_code, "container exited while the daemon was down");
                    // An AutoRemove container that ended meanwhile goes now,
                    // as it would have had the daemon been up.
                    if self.record_exit(&container, exit).await
                        && let Err(e) = self.remove_container(&container, false).await
                    {
                        tracing::warn!(id = %container.id, error = %e, "auto-remove at restore failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(id = %container.id, error = %e, "cannot restore container");
                    let exit = ExitRecord::failed(
                        255,
                        format!("lost track of the container: {e}"),
                        Timestamp::now(),
                    );
                    self.record_exit(&container, exit).await;
                }
            }
        }
        Ok(count)
    }

    /// Container directories without a record are what a create left when
    /// berthd was killed between preparing the root filesystem and saving
    /// the record: nothing refers to them, so they go (with their rootfs,
    /// which would otherwise pin its image) before anything is served.
    async fn discard_orphans(&self, known: &HashSet<&str>) {
        let root = self.config.containers_root();
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str() else { continue };
            if known.contains(id) || !names::is_id(id) {
                continue;
            }
            tracing::warn!(id, "removing a container that was never fully created");
            if let Err(e) = self.discard_unrecorded(id).await {
                tracing::warn!(id, error = %e, "cannot remove the unfinished container");
            }
        }
    }

    /// Removes what `create` made for a container that has no record: its
    /// root filesystem, then its directory. The directory goes last so that
    /// a root filesystem that could not be removed is found again through
    /// it at the next start ([`Daemon::discard_orphans`]).
    async fn discard_unrecorded(&self, id: &str) -> Result<(), JobError> {
        let images = Arc::clone(&self.images);
        let rootfs_id = id.to_owned();
        self.blocking(BlockingKind::Rootfs, move || {
            images.remove_rootfs(&rootfs_id)
        })
        .await?;
        self.remove_tree(self.config.container_dir(id)).await
    }

    /// Removes a container's directory tree (absent is fine).
    async fn remove_tree(&self, dir: PathBuf) -> Result<(), JobError> {
        self.blocking(
            BlockingKind::TreeRemoval,
            move || match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(JobError::internal(
                    &format!("failed to remove {}", dir.display()),
                    &e,
                )),
            },
        )
        .await
    }

    /// Saves a record; a commit waits for fsync, so it runs as blocking
    /// work of its own kind.
    async fn persist(&self, record: &ContainerRecord) -> Result<(), JobError> {
        let (store, record) = (self.store.clone(), record.clone());
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .put(CONTAINERS, &record.id, &record)
                .map_err(|e| store_error("failed to save the container record", e))
        })
        .await
    }

    fn container_event(&self, action: &str, record: &ContainerRecord, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([
            ("image".to_owned(), record.image.clone()),
            ("name".to_owned(), record.name.clone()),
        ]);
        for (k, v) in &record.config.labels {
            attrs.insert(k.clone(), v.clone());
        }
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), v.clone());
        }
        self.events.publish("container", action, &record.id, attrs);
    }

    /// `POST /containers/create`.
    pub async fn create(
        &self,
        name: Option<&str>,
        request: CreateRequest,
    ) -> Result<CreateResponse, JobError> {
        if request.config.image.is_empty() {
            return Err(JobError::invalid("config.Image must not be empty"));
        }
        let name = name
            .filter(|n| !n.is_empty())
            .map(names::validate_name)
            .transpose()?;
        if let Some(name) = &name {
            self.check_name_free(name)?;
        }
        // Before anything else: a field berth would drop must not get as far
        // as a stored container.
        request
            .check_fields()
            .map_err(|e| JobError::invalid(e.to_string()))?;
        // moby checks capability names before the resource settings.
        self.runtime.validate(&request.host_config)?;
        let image_name = request.config.image.clone();
        let images = Arc::clone(&self.images);
        let image = self
            .blocking(BlockingKind::ImageMetadata, move || {
                images.inspect(&image_name)
            })
            .await?;
        let id = names::generate_id();
        let spec = ContainerSpecBuilder::new(request, image, &id)
            .sysinfo(&self.config.sysinfo)
            .build()?;
        let warnings = spec.warnings.clone();

        let container_dir = self.config.container_dir(&id);
        std::fs::create_dir_all(&container_dir).map_err(|e| {
            JobError::internal(&format!("failed to create {}", container_dir.display()), &e)
        })?;
        let images = Arc::clone(&self.images);
        let (rootfs_id, image_id) = (id.clone(), spec.image_id.clone());
        // A writable layer may be a copy of the image's content (vfs).
        let created = self.blocking(BlockingKind::ImageContent, move || {
            images.create_rootfs(&rootfs_id, &image_id)
        });
        if let Err(e) = created.await {
            self.discard_after_failed_create(&id).await;
            return Err(e);
        }

        let mut record = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: now_rfc3339(),
            image_id: spec.image_id,
            image: spec.image,
            path: spec.path,
            args: spec.args,
            config: spec.config,
            host_config: spec.host_config,
            state: spec::created_state(),
            restart_count: 0,
        };
        // Name and record in one transaction: the name is reserved
        // atomically, and a failure leaves neither behind.
        let mut attempt = 0;
        let result = loop {
            record.name = match &name {
                Some(n) => n.clone(),
                None => names::random_name(attempt),
            };
            match self.insert_record(&record).await {
                Err(e) if name.is_none() && e.kind == ErrorKind::Conflict && attempt < 10 => {
                    attempt += 1
                }
                other => break other,
            }
        };
        if let Err(e) = result {
            self.discard_after_failed_create(&id).await;
            return Err(e);
        }
        self.containers.insert(Container::new(record.clone()));
        self.container_event("create", &record, &[]);
        for warning in &warnings {
            tracing::warn!(container = %id, "{warning}");
        }
        Ok(CreateResponse { id, warnings })
    }

    async fn discard_after_failed_create(&self, id: &str) {
        if let Err(e) = self.discard_unrecorded(id).await {
            tracing::warn!(id, error = %e, "cleanup after a failed create failed; the next start of berthd retries");
        }
    }

    fn name_conflict(name: &str, id: &str) -> JobError {
        JobError::conflict(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    fn check_name_free(&self, name: &str) -> Result<(), JobError> {
        match self.store.get(NAMES, name) {
            Ok(Some(id)) => Err(Self::name_conflict(name, &id)),
            Ok(None) => Ok(()),
            Err(e) => Err(store_error("failed to read the container names", e)),
        }
    }

    async fn insert_record(&self, record: &ContainerRecord) -> Result<(), JobError> {
        let (store, record) = (self.store.clone(), record.clone());
        self.blocking(BlockingKind::StoreCommit, move || {
            store.write(|txn| {
                if let Some(owner) = txn
                    .get(NAMES, &record.name)
                    .map_err(|e| store_error("failed to read the container names", e))?
                {
                    return Err(Self::name_conflict(&record.name, &owner));
                }
                txn.put(NAMES, &record.name, &record.id)
                    .and_then(|()| txn.put(CONTAINERS, &record.id, &record))
                    .map_err(|e| store_error("failed to save the container record", e))
            })
        })
        .await
    }

    /// `POST /containers/{id}/start`. Fails with NotModified when it runs.
    ///
    /// The start is bounded by [`DaemonConfig::start_timeout`] and can be
    /// cancelled by `rm -f` ([`Daemon::remove`]); either way what it set up
    /// is undone ([`Daemon::abandon_start`]) and it fails.
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let cancel = Arc::new(tokio::sync::Notify::new());
        let (pending, request) = {
            let mut inner = container.lock();
            let state = &inner.record.state;
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
                config: inner.record.config.clone(),
                host_config: inner.record.host_config.clone(),
                attach: attach::start_options(&pending),
            };
            (pending, request)
        };
        container.notify(false);
        let deadline = self.config.start_timeout;
        let outcome = tokio::select! {
            result = self.start_locked(&container, request) => StartOutcome::Done(result),
            () = cancel.notified() => StartOutcome::Cancelled,
            () = tokio::time::sleep(deadline) => StartOutcome::TimedOut,
        };
        let (result, cancelled) = match outcome {
            StartOutcome::Done(result) => (result, false),
            StartOutcome::Cancelled => {
                self.abandon_start(&container).await;
                let e = JobError::conflict(format!(
                    "start of container {} cancelled: the container is being removed",
                    container.id
                ));
                (Err(e), true)
            }
            StartOutcome::TimedOut => {
                self.abandon_start(&container).await;
                let e = JobError::new(
                    ErrorKind::Internal,
                    format!(
                        "starting container {} timed out after {deadline:?}; what the start had set up was undone",
                        container.id
                    ),
                );
                (Err(e), false)
            }
        };
        let started = match result {
            Ok(started) => started,
            Err(e) => {
                // Clients waiting for output get end-of-stream.
                drop(pending);
                let record = {
                    let mut inner = container.lock();
                    inner.busy = false;
                    inner.cancel_start = None;
                    let state = &mut inner.record.state;
                    state.error = e.message.clone();
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
                    && let Err(cleanup) = self.remove_container(&container, true).await
                {
                    tracing::warn!(id = %container.id, error = %cleanup, "auto-remove after a failed start failed");
                }
                return Err(e);
            }
        };
        let record = {
            let mut inner = container.lock();
            inner.busy = false;
            inner.cancel_start = None;
            if inner.record.state.finished_at != berth_api::ZERO_TIME {
                inner.record.restart_count += 1;
            }
            container::set_running(&mut inner.record.state, started.pid, &now_rfc3339());
            inner.record.clone()
        };
        // The process runs: its exit must be watched whatever happens to
        // the record now. A failed save is logged (JobError::internal) and
        // the monitor saves the state again at the exit; returning it here
        // would leave a running container that nothing monitors.
        let _ = self.persist(&record).await;
        container.notify(false);
        self.container_event("start", &record, &[]);
        // One session per client, each over its own streams.
        for (client, streams) in pending.into_iter().zip(started.attach) {
            tokio::spawn(client.serve(streams));
        }
        self.spawn_monitor(container);
        Ok(())
    }

    async fn start_locked(
        &self,
        container: &Arc<Container>,
        mut request: StartRequest,
    ) -> Result<crate::driver::Started, JobError> {
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        request.rootfs = self
            .blocking(BlockingKind::Rootfs, move || images.mount_rootfs(&id))
            .await?;
        match self.runtime.start(request).await {
            Ok(started) => Ok(started),
            Err(e) => {
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
        let images = Arc::clone(&self.images);
        let rootfs_id = id.to_owned();
        let unmount = self.blocking(BlockingKind::Rootfs, move || {
            images.unmount_rootfs(&rootfs_id)
        });
        bounded(id, "unmount", unmount).await;
    }

    fn spawn_monitor(self: &Arc<Self>, container: Arc<Container>) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let exit = match daemon.runtime.wait(&container.id).await {
                Ok(exit) => exit,
                Err(e) => ExitRecord::failed(
                    255,
                    format!("lost track of the container: {}", e.message),
                    Timestamp::now(),
                ),
            };
            let auto_remove = daemon.record_exit(&container, exit).await;
            if auto_remove && let Err(e) = daemon.remove_container(&container, false).await {
                tracing::warn!(id = %container.id, error = %e, "auto-remove failed");
            }
        });
    }

    /// Records an exit; returns whether the container should now be
    /// auto-removed.
    async fn record_exit(&self, container: &Arc<Container>, exit: ExitRecord) -> bool {
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        if let Err(e) = self
            .blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id))
            .await
        {
            tracing::warn!(id = %container.id, error = %e, "unmounting the rootfs after exit failed");
        }
        let finished_at = exit.finished_at.to_rfc3339_nano();
        let (record, auto_remove) = {
            let mut inner = container.lock();
            let removing = inner.record.state.status == Status::Removing;
            container::set_exited(
                &mut inner.record.state,
                i64::from(exit.exit_code),
                exit.oom_killed,
                exit.error.as_deref().unwrap_or_default(),
                &finished_at,
            );
            if removing {
                inner.record.state.status = Status::Removing;
            }
            (
                inner.record.clone(),
                inner.record.host_config.auto_remove && !removing,
            )
        };
        if let Err(e) = self.persist(&record).await {
            tracing::warn!(id = %record.id, error = %e, "failed to persist the exit");
        }
        container.notify(true);
        let mut extra = vec![("exitCode", exit.exit_code.to_string())];
        if exit.oom_killed {
            self.container_event("oom", &record, &[]);
            extra.push(("oomKilled", "true".to_owned()));
        }
        self.container_event("die", &record, &extra);
        auto_remove
    }

    /// The container `reference` names, which must be running (dockerd's
    /// `errNotRunning`: 409 "Container <id> is not running").
    fn running_container(&self, reference: &str) -> Result<Arc<Container>, JobError> {
        let container = self.containers.get(reference)?;
        if !container.lock().record.state.running {
            return Err(JobError::conflict(format!(
                "Container {} is not running",
                container.id
            )));
        }
        Ok(container)
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, reference: &str, signal: Option<&str>) -> Result<(), JobError> {
        let signal = signal::parse(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        let container = self.running_container(reference)?;
        self.signal(&container, signal).await?;
        let record = container.record();
        self.container_event("kill", &record, &[("signal", signal.to_string())]);
        Ok(())
    }

    /// Sends `signal` to the container's init. A frozen process cannot act
    /// on a signal, so a paused container is thawed after SIGKILL or its
    /// stop signal, which are meant to end it (moby `daemon/kill.go`).
    async fn signal(&self, container: &Arc<Container>, signal: i32) -> Result<(), JobError> {
        self.runtime.kill(&container.id, signal).await?;
        let (paused, stop_signal) = {
            let inner = container.lock();
            (
                inner.record.state.paused,
                inner.record.config.stop_signal.clone(),
            )
        };
        let stop_signal = signal::parse(stop_signal.as_deref().unwrap_or("SIGTERM"))?;
        if paused && (signal == signal::SIGKILL || signal == stop_signal) {
            if let Err(e) = self.runtime.resume(&container.id).await {
                tracing::warn!(id = %container.id, error = %e, "cannot unpause the signalled container");
                return Ok(());
            }
            self.set_paused(container, false).await;
        }
        Ok(())
    }

    /// Records the freezer state; a container that exited meanwhile keeps
    /// its exit.
    async fn set_paused(
        &self,
        container: &Arc<Container>,
        paused: bool,
    ) -> Option<ContainerRecord> {
        let record = {
            let mut inner = container.lock();
            let state = &mut inner.record.state;
            if !state.running {
                return None;
            }
            state.paused = paused;
            match (paused, state.status) {
                (true, Status::Running) => state.status = Status::Paused,
                (false, Status::Paused) => state.status = Status::Running,
                _ => {}
            }
            inner.record.clone()
        };
        if let Err(e) = self.persist(&record).await {
            tracing::warn!(id = %record.id, error = %e, "cannot persist the paused state");
        }
        container.notify(false);
        Some(record)
    }

    /// `POST /containers/{id}/pause`: freezes every process of the
    /// container (cgroup freezer).
    pub async fn pause(&self, reference: &str) -> Result<(), JobError> {
        let container = self.running_container(reference)?;
        if container.lock().record.state.paused {
            return Err(JobError::conflict(format!(
                "Container {} is already paused",
                container.id
            )));
        }
        self.runtime.pause(&container.id).await?;
        if let Some(record) = self.set_paused(&container, true).await {
            self.container_event("pause", &record, &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/unpause`: thaws a paused container.
    pub async fn unpause(&self, reference: &str) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        if !container.lock().record.state.paused {
            return Err(JobError::conflict(format!(
                "Container {} is not paused",
                container.id
            )));
        }
        self.runtime.resume(&container.id).await?;
        if let Some(record) = self.set_paused(&container, false).await {
            self.container_event("unpause", &record, &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after
    /// `timeout` seconds (`None`: the container's StopTimeout or 10; -1:
    /// wait forever). NotModified when it is not running.
    pub async fn stop(
        &self,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let (running, stop_signal, stop_timeout) = {
            let inner = container.lock();
            (
                inner.record.state.running,
                inner.record.config.stop_signal.clone(),
                inner.record.config.stop_timeout,
            )
        };
        if !running {
            return Err(JobError::not_modified());
        }
        let signal = signal
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or(stop_signal)
            .unwrap_or_else(|| "SIGTERM".to_owned());
        let signal = signal::parse(&signal)?;
        let timeout = timeout.or(stop_timeout).unwrap_or(10);
        if let Err(e) = self.signal(&container, signal).await {
            // It may have exited on its own since we looked: then it is
            // stopped, which is what was asked.
            if container.lock().record.state.running {
                return Err(e);
            }
        }
        if timeout < 0 {
            container.stopped().await;
        } else if tokio::time::timeout(Duration::from_secs(timeout as u64), container.stopped())
            .await
            .is_err()
        {
            tracing::info!(id = %container.id, timeout, "container did not stop in time, killing it");
            if let Err(e) = self.signal(&container, signal::SIGKILL).await
                && container.lock().record.state.running
            {
                return Err(e);
            }
            container.stopped().await;
        }
        self.container_event("stop", &container.record(), &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: calls `registered` once the waiter is in
    /// place (so the caller can send its headers), then resolves with the
    /// exit code.
    pub async fn wait(
        &self,
        reference: &str,
        condition: WaitCondition,
        registered: impl std::future::Future<Output = ()>,
    ) -> Result<i64, JobError> {
        let container = self.containers.get(reference)?;
        let mut rx = container.watch();
        let start = *rx.borrow_and_update();
        registered.await;
        let done = |s: &container::Snapshot| match condition {
            WaitCondition::NotRunning => {
                s.removed
                    || !matches!(
                        s.status,
                        Status::Running | Status::Restarting | Status::Paused
                    )
            }
            WaitCondition::NextExit => s.removed || s.exits > start.exits,
            WaitCondition::Removed => s.removed,
        };
        let result = rx.wait_for(done).await.map(|s| *s);
        // The sender lives in the container: dropped means removed.
        let snapshot = result.unwrap_or_else(|_| *rx.borrow());
        Ok(snapshot.exit_code)
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove(&self, reference: &str, force: bool) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        self.remove_container(&container, force).await
    }

    /// A start in progress holds the container. dockerd's `rm` waits on the
    /// container's lock, and its `rm -f` of a container whose start hangs
    /// never returns. Here a start is bounded by
    /// [`DaemonConfig::start_timeout`], so `rm` waits for it to end and
    /// then decides as usual; `rm -f` first cancels it, because `rm -f` is
    /// how a user gets rid of a container whose start hangs (a hostile
    /// image) and should not take as long as the deadline.
    async fn remove_container(
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
                    let running = state.running;
                    state.status = Status::Removing;
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

    /// `POST /containers/{id}/attach`: the stream begins when the session
    /// is set up (the HTTP edge then answers 101 and hands over the
    /// connection); returns when the session ends.
    pub async fn attach(
        &self,
        reference: &str,
        options: AttachOptions,
        replay: AttachReplay,
        stdin: Option<JobStdin>,
        out: JobOutput,
    ) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let (running, tty, open_stdin, ever_started) = {
            let inner = container.lock();
            (
                inner.record.state.running,
                inner.record.config.tty,
                inner.record.config.open_stdin,
                inner.record.state.started_at != berth_api::ZERO_TIME,
            )
        };
        let options = AttachOptions {
            stdin: options.stdin && open_stdin,
            ..options
        };
        // moby `daemon/attach.go`: the whole json-file log first, then (with
        // `stream`) the live output. Output written between the two may be
        // missed, as with dockerd. Read before the stream begins, so that a
        // failure is an ordinary error response.
        let records = if replay.logs && ever_started && (options.stdout || options.stderr) {
            let log_options = crate::driver::LogOptions {
                stdout: options.stdout,
                stderr: options.stderr,
                ..Default::default()
            };
            Some(self.runtime.logs(&container.id, log_options).await?)
        } else {
            None
        };
        if !replay.stream {
            let mut client = ClientOutput::begin(out, tty).await?;
            client.replay(records).await?;
            client.finish().await;
            return Ok(());
        }
        if running {
            let (client, streams) = if replay.logs {
                let mut client = ClientOutput::begin(out, tty).await?;
                client.replay(records).await?;
                (client, self.runtime.attach(&container.id, options).await?)
            } else {
                let streams = self.runtime.attach(&container.id, options).await?;
                (ClientOutput::begin(out, tty).await?, streams)
            };
            attach::serve(streams, stdin, client).await;
            return Ok(());
        }
        // Parked before the stream begins: a client that starts the
        // container as soon as it has the response finds itself attached.
        let (session_tx, session_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        {
            let mut inner = container.lock();
            // Sessions whose client left stay parked until the next start;
            // drop them here so that they cannot pile up meanwhile.
            inner
                .pending_attach
                .retain(|client| !client.out.is_closed());
            inner.pending_attach.push(PendingAttach {
                options,
                out: out.clone(),
                session: session_rx,
                done,
            });
        }
        let mut client = ClientOutput::begin(out.clone(), tty).await?;
        client.replay(records).await?;
        if let Err(session) = session_tx.send(attach::Session { stdin, out: client }) {
            // Unparked meanwhile (removed): the session is over.
            session.out.finish().await;
            return Ok(());
        }
        tokio::select! {
            _ = done_rx => {}
            _ = out.closed() => {}
        }
        Ok(())
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, reference: &str, height: u16, width: u16) -> Result<(), JobError> {
        let container = self.running_container(reference)?;
        self.runtime.resize(&container.id, height, width).await
    }

    /// `GET /containers/{id}/logs`.
    pub async fn logs(
        &self,
        reference: &str,
        options: crate::driver::LogOptions,
        timestamps: bool,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        if !options.stdout && !options.stderr {
            return Err(JobError::invalid(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let container = self.containers.get(reference)?;
        let (tty, log_driver) = {
            let inner = container.lock();
            (
                inner.record.config.tty,
                inner.record.host_config.log_config.driver(),
            )
        };
        if log_driver == Ok(LogDriver::None) {
            // moby `logger.ErrReadLogsNotSupported`.
            return Err(JobError::new(
                ErrorKind::NotImplemented,
                "configured logging driver does not support reading",
            ));
        }
        let mut records = self.runtime.logs(&container.id, options).await?;
        out.begin(Some(if tty {
            berth_api::stream::RAW
        } else {
            berth_api::stream::MULTIPLEXED
        }))
        .await?;
        while let Some(record) = records.recv().await {
            let data = if timestamps {
                let mut line = Vec::with_capacity(record.time.len() + 1 + record.data.len());
                line.extend_from_slice(record.time.as_bytes());
                line.push(b' ');
                line.extend_from_slice(&record.data);
                bytes::Bytes::from(line)
            } else {
                record.data
            };
            out.write(attach::encode(record.stream, &data, tty)).await?;
        }
        Ok(())
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, reference: &str) -> Result<ContainerInspect, JobError> {
        let container = self.containers.get(reference)?;
        let record = container.record();
        let files = self.runtime.files(&record.id);
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        Ok(ContainerInspect {
            id: record.id.clone(),
            created: record.created,
            path: record.path,
            args: record.args,
            state: record.state,
            image: record.image_id,
            resolv_conf_path: path(files.resolv_conf),
            hostname_path: path(files.hostname),
            hosts_path: path(files.hosts),
            // As dockerd: only a driver that writes a file has a path.
            log_path: match record.host_config.log_config.driver() {
                Ok(LogDriver::None) => String::new(),
                _ => path(files.log),
            },
            name: format!("/{}", record.name),
            restart_count: record.restart_count,
            driver: self.images.driver_name(),
            platform: "linux".to_owned(),
            host_config: record.host_config,
            config: record.config,
            ..ContainerInspect::default()
        })
    }

    /// Whether a container uses the image (for `info` and `rmi`).
    pub fn image_in_use(&self, image_id: &str) -> bool {
        self.containers
            .all()
            .iter()
            .any(|c| c.lock().record.image_id == image_id)
    }
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `docker ps`'s STATUS column, as moby's `State.String()`
/// (`container/state.go`) words it: `Up 3 seconds`, `Up 2 hours (Paused)`,
/// `Restarting (1) 5 seconds ago`, `Exited (0) 2 minutes ago`, `Created`
/// (also for a container whose start failed: it never ran), `Removal In
/// Progress`, `Dead`.
pub fn human_status(state: &berth_api::container::State, now: DateTime<Utc>) -> String {
    let since = |t: &str| {
        parse_time(t)
            .filter(|_| t != berth_api::ZERO_TIME)
            .map(|t| human_duration((now - t).num_seconds()))
    };
    match state.status {
        Status::Running => format!("Up {}", since(&state.started_at).unwrap_or_default()),
        Status::Paused => format!(
            "Up {} (Paused)",
            since(&state.started_at).unwrap_or_default()
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            since(&state.finished_at).unwrap_or_default()
        ),
        Status::Removing => "Removal In Progress".to_owned(),
        Status::Dead => "Dead".to_owned(),
        Status::Created => "Created".to_owned(),
        // Never started: moby says Created whatever the state.
        Status::Exited if since(&state.started_at).is_none() => "Created".to_owned(),
        Status::Exited => since(&state.finished_at).map_or_else(String::new, |ago| {
            format!("Exited ({}) {ago} ago", state.exit_code)
        }),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
