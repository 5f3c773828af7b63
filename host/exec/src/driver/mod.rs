//! [`ExecDriver`]: starts containers through `berth-shim` and talks to the
//! shims afterwards.
//!
//! The driver keeps no state of its own besides files: everything it knows
//! about a container is in the shim (reachable over its control socket) or
//! on disk (exit record, log). A new driver after a daemon restart therefore
//! sees exactly what the old one saw; [`ExecDriver::state`] is the whole of
//! reconciliation.
//!
//! Layout (`<exec-root>` is tmpfs-backed, `<containers>` persistent):
//!
//! ```text
//! <exec-root>/runtime/                 libcontainer state root
//! <exec-root>/shims/<id>/config.json   the OCI bundle (rootfs by absolute path)
//! <exec-root>/shims/<id>/sock          the shim's control socket
//! <exec-root>/shims/<id>/shim.log      the shim's own diagnostics
//! <containers>/<id>/<id>-json.log      the container's json-file log
//! <containers>/<id>/exit.json          its exit record
//! <containers>/<id>/{hostname,hosts,resolv.conf}
//! ```

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_model::Timestamp;
use berth_model::container::ContainerModel;
// What the driver tells the engine about a container is the model's.
use berth_model::exec::{AttachOptions, ContainerFiles, ExitRecord, LogOptions};
pub use berth_model::exec::{LOST_EXIT_CODE, RunState};
use berth_shim::ExitRecordFile;
use berth_shim::protocol::{ContainerStatus, Reply, Request, error_chain};
use tokio::sync::{Notify, Semaphore};

use crate::attach::{self, Attached};
use crate::client::{REQUEST_TIMEOUT, ShimSocket, exists};
use crate::error::ExecError;
use crate::logs::{self, LogStream};
use crate::spec::SpecOptions;

mod exec;
mod resolver;
mod start;
mod update;

pub use exec::ExecLaunch;
pub use resolver::ResolverUpdate;
mod stats;
mod stats_cache;

/// How long a shim may take to create a container (pull nothing, but mount,
/// set up cgroups and namespaces on a loaded machine), and how long the
/// bundle's preparation may take.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Preparations (file writes, user lookup in the image, spec) that may run
/// at once, and cleanups of orphaned runtime state: each blocks a thread of
/// the blocking pool, and one that hangs on an image's file keeps it. Kept
/// small so that berthd's pool (32 threads) always has threads for the
/// engine's own bounded kinds (`berth_engine::daemon::blocking`).
const PREPARE_PERMITS: usize = 4;
const CLEANUP_PERMITS: usize = 2;

/// Where the driver keeps things and how it builds specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecConfig {
    /// Runtime state (`--exec-root`, `/run/berth`): shim sockets, bundles,
    /// libcontainer state.
    pub exec_root: PathBuf,
    /// Per-container persistent directories (`<data-root>/containers`):
    /// logs, exit records, hostname/hosts/resolv.conf. The engine's
    /// per-container directory must be [`ExecDriver::container_dir`].
    pub containers_dir: PathBuf,
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// Spec generation settings (cgroup parent, swap accounting, ulimits).
    pub spec: SpecOptions,
    /// The host's resolver configuration, copied into containers.
    pub host_resolv_conf: PathBuf,
}

impl ExecConfig {
    /// A configuration with default spec options and `/etc/resolv.conf`.
    pub fn new(exec_root: PathBuf, containers_dir: PathBuf, shim_binary: PathBuf) -> ExecConfig {
        ExecConfig {
            exec_root,
            containers_dir,
            shim_binary,
            spec: SpecOptions::default(),
            host_resolv_conf: PathBuf::from("/etc/resolv.conf"),
        }
    }
}

/// What [`ExecDriver::start`] needs.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The container to run, as the engine validated it at create.
    pub container: ContainerModel,
    /// The mounted root filesystem.
    pub rootfs: PathBuf,
    /// Attachments made before the process starts, so that they miss no
    /// output (`docker run` attaches before it starts the container): one
    /// shim connection each, in order.
    pub attach: Vec<AttachOptions>,
    /// Its network namespace and `/etc` files, as the engine decided them.
    pub network: berth_model::network::NetworkSetup,
}

/// A started container, with the attachments requested in
/// [`StartOptions::attach`], in order.
pub type Started = berth_model::exec::Started<Attached>;

/// Paths of one container's persistent files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPaths {
    /// `<containers>/<id>`.
    pub dir: PathBuf,
    /// The exit record.
    pub exit: PathBuf,
    /// The json-file log and the files mounted over `/etc/hostname`,
    /// `/etc/hosts`, `/etc/resolv.conf`, as inspect reports them.
    pub files: ContainerFiles,
}

/// The exec driver. Cheap to clone; all clones share one configuration.
#[derive(Debug, Clone)]
pub struct ExecDriver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ExecConfig,
    /// Containers whose `start` is in progress: their shim may not listen
    /// yet, which must not be mistaken for a vanished shim.
    starting: Mutex<HashSet<String>>,
    start_done: Notify,
    /// Bounds the preparations on the blocking pool ([`PREPARE_PERMITS`]).
    prepare_permits: Arc<Semaphore>,
    /// Bounds the cleanups on the blocking pool ([`CLEANUP_PERMITS`]).
    cleanup_permits: Arc<Semaphore>,
    /// Each container's cgroup manager for `docker stats`, kept between
    /// samples ([`stats_cache`]).
    cgroups: stats_cache::StateCache<berth_cgroups::AnyCgroupManager>,
}

/// Removes an id from the starting set when `start` returns (or is
/// cancelled).
struct StartingGuard<'a> {
    inner: &'a Inner,
    id: String,
}

impl Drop for StartingGuard<'_> {
    fn drop(&mut self) {
        self.inner
            .starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.id);
        self.inner.start_done.notify_waiters();
    }
}

/// Container ids become path components and socket names.
fn validate_id(id: &str) -> Result<(), ExecError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ExecError::InvalidId(id.to_owned()))
    }
}

fn mkdir(path: &Path, mode: u32) -> Result<(), ExecError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| ExecError::io("create directory", path, e))
}

impl ExecDriver {
    /// Creates the driver's directories and checks the shim binary.
    pub fn new(config: ExecConfig) -> Result<ExecDriver, ExecError> {
        if !config.shim_binary.is_file() {
            return Err(ExecError::io(
                "find shim binary",
                &config.shim_binary,
                io::Error::new(io::ErrorKind::NotFound, "no such file"),
            ));
        }
        crate::host_cgroups::validate_cgroup_parent(&config.spec.cgroup_parent).map_err(
            |source| ExecError::CgroupParent {
                parent: config.spec.cgroup_parent.clone(),
                source,
            },
        )?;
        mkdir(&config.exec_root, 0o711)?;
        mkdir(&config.exec_root.join("shims"), 0o700)?;
        mkdir(&config.exec_root.join("runtime"), 0o700)?;
        mkdir(&config.containers_dir, 0o710)?;
        Ok(ExecDriver {
            inner: Arc::new(Inner {
                config,
                starting: Mutex::new(HashSet::new()),
                start_done: Notify::new(),
                prepare_permits: Arc::new(Semaphore::new(PREPARE_PERMITS)),
                cleanup_permits: Arc::new(Semaphore::new(CLEANUP_PERMITS)),
                cgroups: stats_cache::StateCache::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.inner.config
    }

    /// Removes the daemon's cgroup parent ([`SpecOptions::cgroup_parent`])
    /// from every hierarchy where it is empty; berthd calls this when it
    /// shuts down. While containers run their cgroups keep it (the kernel
    /// refuses with `EBUSY`), which is what Docker's parent does too.
    /// Returns the directories that remain, each with the reason.
    pub fn release_cgroup_parent(&self) -> Result<Vec<(PathBuf, io::Error)>, ExecError> {
        let parent = &self.inner.config.spec.cgroup_parent;
        let fail = |source| ExecError::CgroupParent {
            parent: parent.clone(),
            source,
        };
        let setup = berth_cgroups::CgroupSetup::detect().map_err(fail)?;
        // A relative parent is below berthd's own cgroup, as the shims
        // (berthd's children) resolve it.
        let own = if parent.starts_with('/') {
            berth_cgroups::OwnCgroups::default()
        } else {
            berth_cgroups::OwnCgroups::from_proc_self().map_err(fail)?
        };
        crate::host_cgroups::remove_cgroup_parent(setup, &own, parent).map_err(fail)
    }

    /// libcontainer's state root, `<exec-root>/runtime`.
    pub fn runtime_root(&self) -> PathBuf {
        self.inner.config.exec_root.join("runtime")
    }

    /// The container's persistent directory, `<containers>/<id>`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.inner.config.containers_dir.join(id)
    }

    /// The container's persistent files.
    pub fn paths(&self, id: &str) -> ContainerPaths {
        let dir = self.container_dir(id);
        ContainerPaths {
            exit: dir.join("exit.json"),
            files: ContainerFiles {
                log: dir.join(format!("{id}-json.log")),
                hostname: dir.join("hostname"),
                hosts: dir.join("hosts"),
                resolv_conf: dir.join("resolv.conf"),
            },
            dir,
        }
    }

    fn shim_dir(&self, id: &str) -> PathBuf {
        self.inner.config.exec_root.join("shims").join(id)
    }

    fn socket(&self, id: &str) -> Result<ShimSocket, ExecError> {
        validate_id(id)?;
        ShimSocket::new(id, self.shim_dir(id).join("sock"))
    }

    /// Sends `signal` to the container's init.
    pub async fn kill(&self, id: &str, signal: i32) -> Result<(), ExecError> {
        self.simple(id, &Request::Kill { signal, all: false }).await
    }

    /// Docker's stop: `signal` (the image's `StopSignal`, SIGTERM by
    /// default), then SIGKILL when the container is still running after
    /// `timeout`. Returns the exit record; stopping an exited container
    /// returns its record.
    pub async fn stop(
        &self,
        id: &str,
        signal: i32,
        timeout: Duration,
    ) -> Result<ExitRecord, ExecError> {
        match self.kill(id, signal).await {
            Ok(()) => {}
            Err(ExecError::NotRunning(_)) => return self.wait(id).await,
            Err(e) => return Err(e),
        }
        if let Ok(result) = tokio::time::timeout(timeout, self.wait(id)).await {
            return result;
        }
        let socket = self.socket(id)?;
        // Everything, not only init: a container whose init ignores SIGKILL
        // cannot exist (the kernel delivers it to a pid namespace's init
        // from its parent namespace), but `all` also covers processes that
        // are in the middle of leaving the namespace.
        match socket
            .call_ok(&Request::Kill {
                signal: libc::SIGKILL,
                all: true,
            })
            .await
        {
            Ok(_) | Err(ExecError::Shim { .. }) => {}
            Err(e) => return Err(e),
        }
        self.wait(id).await
    }

    /// Waits until the container has exited and returns its exit record.
    /// Works after a daemon restart and after the shim is gone.
    pub async fn wait(&self, id: &str) -> Result<ExitRecord, ExecError> {
        let socket = self.socket(id)?;
        loop {
            self.wait_for_start(id).await;
            match socket.call(&Request::Wait, None).await? {
                Some((_, Reply::Exited(record))) => return Ok(record),
                Some((_, other)) => return Err(socket.unexpected(&other)),
                None => {}
            }
            if self.is_starting(id) {
                continue;
            }
            return match self.exited_or_lost(id).await? {
                Some(record) => Ok(record),
                None => Err(ExecError::NeverStarted(id.to_owned())),
            };
        }
    }

    fn is_starting(&self, id: &str) -> bool {
        self.inner
            .starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(id)
    }

    async fn wait_for_start(&self, id: &str) {
        loop {
            let notified = self.inner.start_done.notified();
            if !self.is_starting(id) {
                return;
            }
            notified.await;
        }
    }

    /// No shim answers: the exit record, or — when a shim was started here
    /// but left none — a durable "lost" record; `None` when the container
    /// was never started. A lost container's processes are killed: nothing
    /// monitors them any more, and Docker's state says it exited.
    async fn exited_or_lost(&self, id: &str) -> Result<Option<ExitRecord>, ExecError> {
        let paths = self.paths(id);
        if let Some(record) = read_exit_record(paths.exit.clone()).await? {
            return Ok(Some(record));
        }
        if !exists(&self.shim_dir(id)) {
            return Ok(None);
        }
        self.delete_orphan(id).await?;
        let record = ExitRecord::failed(
            LOST_EXIT_CODE,
            format!("berth-shim of container {id} is gone and left no exit status"),
            Timestamp::now(),
        );
        let written = record.clone();
        // A durable write (fsync of the file and the directory): off the
        // tokio workers (STYLE.md rule 5).
        let exit = paths.exit.clone();
        tokio::task::spawn_blocking(move || {
            mkdir(&paths.dir, 0o710)?;
            written.write(&paths.exit).map_err(ExecError::from)
        })
        .await
        .map_err(|e| ExecError::io("write", exit, io::Error::other(e)))??;
        Ok(Some(record))
    }

    /// The container's state, asking its shim when one runs. This is the
    /// reconciliation step after a daemon restart: shims that still run are
    /// found (and talked to by every later call), finished containers
    /// return their exit record, vanished shims get a "lost" record.
    pub async fn state(&self, id: &str) -> Result<RunState, ExecError> {
        let socket = self.socket(id)?;
        self.wait_for_start(id).await;
        match socket.call(&Request::State, Some(REQUEST_TIMEOUT)).await? {
            Some((_, Reply::State(state))) => {
                Ok(match (state.status, state.started_at, state.exit) {
                    (_, _, Some(exit)) => RunState::Exited(exit),
                    (ContainerStatus::Created, _, None) | (_, None, None) => {
                        RunState::Created { pid: state.pid }
                    }
                    (ContainerStatus::Paused, Some(started_at), None) => RunState::Paused {
                        pid: state.pid,
                        started_at,
                    },
                    (_, Some(started_at), None) => RunState::Running {
                        pid: state.pid,
                        started_at,
                    },
                })
            }
            Some((_, other)) => Err(socket.unexpected(&other)),
            None => Ok(match self.exited_or_lost(id).await? {
                Some(record) => RunState::Exited(record),
                None => RunState::NeverStarted,
            }),
        }
    }

    /// [`ExecDriver::state`] for each container the engine believes
    /// running, after a daemon restart.
    pub async fn reconcile(&self, ids: &[String]) -> Vec<(String, Result<RunState, ExecError>)> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push((id.clone(), self.state(id).await));
        }
        out
    }

    /// Ids of containers that have a shim directory, i.e. were started and
    /// not removed: with [`ExecDriver::state`], finds shims the engine does
    /// not know about.
    pub fn known_ids(&self) -> Result<Vec<String>, ExecError> {
        let dir = self.inner.config.exec_root.join("shims");
        let entries = fs::read_dir(&dir).map_err(|e| ExecError::io("list", &dir, e))?;
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ExecError::io("list", &dir, e))?;
            if let Some(name) = entry.file_name().to_str()
                && validate_id(name).is_ok()
            {
                ids.push(name.to_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Attaches to a running container.
    pub async fn attach(&self, id: &str, options: AttachOptions) -> Result<Attached, ExecError> {
        let socket = self.socket(id)?;
        let request = Request::Attach {
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
        };
        match socket.call(&request, Some(REQUEST_TIMEOUT)).await? {
            Some((stream, Reply::Attached { stdin })) => {
                let (read, write) = stream.into_split();
                Ok(attach::split(id, read, write, options, stdin))
            }
            Some((_, Reply::NotRunning)) | None => Err(ExecError::NotRunning(id.to_owned())),
            Some((_, Reply::Error(failure))) => Err(ExecError::from_failure(id, failure)),
            Some((_, other)) => Err(socket.unexpected(&other)),
        }
    }

    /// Reads the container's json-file log. With `follow`, the stream ends
    /// once the container has exited and everything is read. The reader is
    /// a tokio task: call this within a tokio runtime.
    pub fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream, ExecError> {
        validate_id(id)?;
        let driver = self.clone();
        let owned = id.to_owned();
        let exited = async move {
            // Any answer (exit record, lost, never started, error) means
            // nothing more will be written by a shim we could wait for.
            let _ = driver.wait(&owned).await;
        };
        Ok(logs::spawn_reader(
            self.paths(id).files.log,
            options,
            exited,
        ))
    }

    /// Sets the terminal size of a TTY container.
    pub async fn resize(&self, id: &str, height: u16, width: u16) -> Result<(), ExecError> {
        self.simple(id, &Request::Resize { height, width }).await
    }

    /// Freezes the container.
    pub async fn pause(&self, id: &str) -> Result<(), ExecError> {
        self.simple(id, &Request::Pause).await
    }

    /// Thaws the container.
    pub async fn resume(&self, id: &str) -> Result<(), ExecError> {
        self.simple(id, &Request::Resume).await
    }

    /// The host pids of the processes in the container's cgroup, for
    /// `docker top` (moby asks its runtime for the task's pids the same
    /// way). Loading the libcontainer state and reading `cgroup.procs` do
    /// not fork, so berthd does it itself; they read files, so on the
    /// blocking pool, under the cleanups' bound.
    pub async fn processes(&self, id: &str) -> Result<Vec<u32>, ExecError> {
        validate_id(id)?;
        let state_root = self.runtime_root();
        if !exists(&state_root.join(id)) {
            return Err(ExecError::NotRunning(id.to_owned()));
        }
        let owned = id.to_owned();
        let failed = |e: &dyn std::fmt::Display| ExecError::Shim {
            id: id.to_owned(),
            message: format!("cannot list the container's processes: {e}"),
        };
        let permit = Arc::clone(&self.inner.cleanup_permits)
            .acquire_owned()
            .await
            .map_err(|e| failed(&e))?;
        let pids = tokio::task::spawn_blocking(move || {
            let pids = berth_libcontainer::Container::load(&state_root, &owned)?.processes();
            drop(permit);
            pids
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&error_chain(&e)))?;
        // Pids are positive; the kernel never lists another.
        Ok(pids
            .into_iter()
            .filter_map(|p| u32::try_from(p.as_raw()).ok())
            .collect())
    }

    /// A request the running container's shim answers with `Ok`.
    async fn simple(&self, id: &str, request: &Request) -> Result<(), ExecError> {
        let socket = self.socket(id)?;
        match socket.call(request, Some(REQUEST_TIMEOUT)).await? {
            Some((_, Reply::Ok)) => Ok(()),
            Some((_, Reply::NotRunning)) | None => Err(ExecError::NotRunning(id.to_owned())),
            Some((_, Reply::Error(failure))) => Err(ExecError::from_failure(id, failure)),
            Some((_, other)) => Err(socket.unexpected(&other)),
        }
    }

    /// Deletes libcontainer state that no shim owns any more (its shim was
    /// killed): kills the container's processes, removes its cgroup and
    /// state directory. Loading and deleting do not fork, so berthd may do
    /// this itself; it blocks (it waits for the processes to die), so it
    /// runs on the blocking pool.
    async fn delete_orphan(&self, id: &str) -> Result<(), ExecError> {
        let state_root = self.runtime_root();
        if !exists(&state_root.join(id)) {
            return Ok(());
        }
        let owned = id.to_owned();
        let state_dir = state_root.join(id);
        let failed = |e: &dyn std::fmt::Display| {
            ExecError::io(
                "delete runtime state of",
                &state_dir,
                io::Error::other(e.to_string()),
            )
        };
        let permit = Arc::clone(&self.inner.cleanup_permits)
            .acquire_owned()
            .await
            .map_err(|e| failed(&e))?;
        let result = tokio::task::spawn_blocking(move || {
            let result = berth_libcontainer::Container::load(&state_root, &owned)?.delete(true);
            drop(permit);
            result
        })
        .await
        .map_err(|e| failed(&e))?;
        result.map_err(|e| ExecError::Shim {
            id: id.to_owned(),
            message: format!("cannot delete the orphaned container: {}", error_chain(&e)),
        })
    }

    /// Forgets the runtime state of an exited container (its bundle, socket
    /// and shim log). The persistent directory (log, exit record) is left
    /// to the engine, which removes it with the container.
    pub async fn remove(&self, id: &str) -> Result<(), ExecError> {
        let socket = self.socket(id)?;
        if self.is_starting(id) {
            return Err(ExecError::AlreadyRunning(id.to_owned()));
        }
        if socket
            .call(&Request::State, Some(REQUEST_TIMEOUT))
            .await?
            .is_some()
        {
            return Err(ExecError::AlreadyRunning(id.to_owned()));
        }
        self.delete_orphan(id).await?;
        let shim_dir = self.shim_dir(id);
        let permit = Arc::clone(&self.inner.cleanup_permits)
            .acquire_owned()
            .await
            .map_err(|e| ExecError::io("remove", self.shim_dir(id), io::Error::other(e)))?;
        tokio::task::spawn_blocking(move || {
            let result = match fs::remove_dir_all(&shim_dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ExecError::io("remove", shim_dir, e)),
            };
            drop(permit);
            result
        })
        .await
        .map_err(|e| ExecError::io("remove", self.shim_dir(id), io::Error::other(e)))?
    }
}

/// Reads an exit record on the blocking pool, not on a tokio worker
/// (STYLE.md rule 5): the disk may be slow.
async fn read_exit_record(path: PathBuf) -> Result<Option<ExitRecord>, ExecError> {
    let on_error = path.clone();
    tokio::task::spawn_blocking(move || ExitRecord::read(&path).map_err(ExecError::from))
        .await
        .map_err(|e| ExecError::io("read", on_error, io::Error::other(e)))?
}

#[cfg(test)]
mod tests;
