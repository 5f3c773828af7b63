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
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api::container::{Config, HostConfig, LogDriver};
use berth_fsutil::write_atomic_non_durable;
use berth_shim::args::ShimArgs;
use berth_shim::logfile::Rotation;
use berth_shim::protocol::{
    ContainerStatus, Reply, Request, ShimFailure, StartupReport, error_chain,
};
use berth_shim::{ExitRecord, Timestamp};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::sync::{Notify, Semaphore};

use crate::attach::{self, AttachOptions, Attached};
use crate::client::{REQUEST_TIMEOUT, ShimSocket, exists};
use crate::error::ExecError;
use crate::files;
use crate::logs::{self, LogOptions, LogStream};
use crate::spec::{self, ContainerFiles, SpecOptions};

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

/// Exit code recorded for a container whose shim vanished without an exit
/// record (its end was not observed).
pub const LOST_EXIT_CODE: i32 = 255;

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
    /// The effective configuration (image defaults merged in by the engine).
    pub config: Config,
    /// Host configuration.
    pub host_config: HostConfig,
    /// The mounted root filesystem.
    pub rootfs: PathBuf,
    /// Attachments made before the process starts, so that they miss no
    /// output (`docker run` attaches before it starts the container): one
    /// shim connection each, in order.
    pub attach: Vec<AttachOptions>,
}

/// A started container.
#[derive(Debug)]
pub struct Started {
    /// Host pid of the container's init.
    pub pid: i32,
    /// When its process was started.
    pub started_at: Timestamp,
    /// The attachments requested in [`StartOptions::attach`], in order.
    pub attach: Vec<Attached>,
}

/// What the driver knows about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Its shim runs and its init waits to be started (a start was
    /// interrupted, e.g. by a daemon crash).
    Created {
        /// Host pid of init.
        pid: i32,
    },
    /// Its process runs.
    Running {
        /// Host pid of init.
        pid: i32,
        /// Start time.
        started_at: Timestamp,
    },
    /// Its process runs, frozen.
    Paused {
        /// Host pid of init.
        pid: i32,
        /// Start time.
        started_at: Timestamp,
    },
    /// It exited. When the shim vanished without a record, the driver
    /// records (and returns) exit code [`LOST_EXIT_CODE`] with an error.
    Exited(ExitRecord),
    /// Never started by this driver, or removed since.
    NeverStarted,
}

/// Paths of one container's persistent files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPaths {
    /// `<containers>/<id>`.
    pub dir: PathBuf,
    /// The json-file log (`LogPath`).
    pub log: PathBuf,
    /// The exit record.
    pub exit: PathBuf,
    /// Files mounted over `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`
    /// (`HostnamePath`, `HostsPath`, `ResolvConfPath`).
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

/// Kills the container of a start that did not complete; see
/// [`ExecDriver::start`]. Dropped armed, it asks the shim to SIGKILL every
/// process of the container from a task of its own (drop cannot wait); the
/// shim then records the exit and goes.
struct ShimReaper {
    socket: Option<ShimSocket>,
}

impl ShimReaper {
    /// The start completed: nothing to kill.
    fn disarm(mut self) {
        self.socket = None;
    }
}

impl Drop for ShimReaper {
    fn drop(&mut self) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        // Outside a runtime (the driver's futures run on tokio) there is
        // nothing to kill with; berthd's engine, which abandoned the start,
        // kills the container again through `kill`.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let kill = Request::Kill {
                signal: libc::SIGKILL,
                all: true,
            };
            // A shim that is gone already needs no kill.
            let _ = socket.call_ok(&kill).await;
        });
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
        crate::cgroups::validate_cgroup_parent(&config.spec.cgroup_parent).map_err(|source| {
            ExecError::CgroupParent {
                parent: config.spec.cgroup_parent.clone(),
                source,
            }
        })?;
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
        crate::cgroups::remove_cgroup_parent(setup, &own, parent).map_err(fail)
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
            log: dir.join(format!("{id}-json.log")),
            exit: dir.join("exit.json"),
            files: ContainerFiles {
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

    /// Creates the container through a new shim and starts its process.
    ///
    /// Fails with [`ExecError::StartFailed`] (carrying Docker's exit code,
    /// also recorded in the exit record) when the process cannot be
    /// started, e.g. a missing executable (127).
    pub async fn start(&self, id: &str, mut options: StartOptions) -> Result<Started, ExecError> {
        let socket = self.socket(id)?;
        {
            let mut starting = self
                .inner
                .starting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !starting.insert(id.to_owned()) {
                return Err(ExecError::AlreadyRunning(id.to_owned()));
            }
        }
        let _guard = StartingGuard {
            inner: &self.inner,
            id: id.to_owned(),
        };
        if socket
            .call(&Request::State, Some(REQUEST_TIMEOUT))
            .await?
            .is_some()
        {
            return Err(ExecError::AlreadyRunning(id.to_owned()));
        }
        let attach_options = std::mem::take(&mut options.attach);
        let args = self.prepare_bounded(id, options).await?;
        let report = self.spawn_shim(id, &args).await?;
        // From here a container exists: if this start does not complete
        // (an error below, or its future dropped by the engine's deadline or
        // a cancelling `rm -f`), it is killed rather than left created,
        // waiting for a Start that never comes.
        let reaper = ShimReaper {
            socket: Some(socket.clone()),
        };
        match report {
            StartupReport::Created { .. } => {}
            StartupReport::Failed(failure) => {
                return Err(self.start_failure(id, failure));
            }
        }
        let mut attach = Vec::with_capacity(attach_options.len());
        for opts in attach_options {
            match self.attach(id, opts).await {
                Ok(attached) => attach.push(attached),
                Err(e) => {
                    // Do not leave a created container behind.
                    let _ = socket
                        .call_ok(&Request::Kill {
                            signal: libc::SIGKILL,
                            all: true,
                        })
                        .await;
                    return Err(e);
                }
            }
        }
        match socket.call(&Request::Start, Some(STARTUP_TIMEOUT)).await? {
            Some((_, Reply::Started { pid, started_at })) => {
                reaper.disarm();
                Ok(Started {
                    pid,
                    started_at,
                    attach,
                })
            }
            Some((_, Reply::Error(failure))) => Err(self.start_failure(id, failure)),
            Some((_, other)) => Err(socket.unexpected(&other)),
            None => {
                // The shim exited instead of answering; its exit record says
                // why, if it got to write one.
                let record = ExitRecord::read(&self.paths(id).exit)?;
                let message = record
                    .as_ref()
                    .and_then(|r| r.error.clone())
                    .unwrap_or_else(|| "berth-shim exited during start".to_owned());
                Err(ExecError::StartFailed {
                    id: id.to_owned(),
                    exit_code: record.map_or(128, |r| r.exit_code),
                    message,
                })
            }
        }
    }

    fn start_failure(&self, id: &str, failure: ShimFailure) -> ExecError {
        let failure = if failure.exit_code.is_none() {
            ShimFailure::start_failed(failure.message)
        } else {
            failure
        };
        ExecError::from_failure(id, failure)
    }

    /// [`ExecDriver::prepare`] on the blocking pool, within
    /// [`PREPARE_PERMITS`] and [`STARTUP_TIMEOUT`] (waiting for a permit
    /// included). A preparation that hangs keeps its thread and its permit
    /// until it returns; the start fails at the deadline.
    async fn prepare_bounded(
        &self,
        id: &str,
        options: StartOptions,
    ) -> Result<ShimArgs, ExecError> {
        let timeout = ExecError::PrepareTimeout {
            id: id.to_owned(),
            seconds: STARTUP_TIMEOUT.as_secs(),
        };
        let driver = self.clone();
        let owned_id = id.to_owned();
        let permits = Arc::clone(&self.inner.prepare_permits);
        let prepare = async move {
            let permit = permits.acquire_owned().await.map_err(io::Error::other)?;
            tokio::task::spawn_blocking(move || {
                let result = driver.prepare(&owned_id, &options);
                drop(permit);
                result
            })
            .await
            .map_err(io::Error::other)
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, prepare).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(ExecError::io("prepare bundle", self.shim_dir(id), e)),
            Err(_) => Err(timeout),
        }
    }

    /// Writes the container's files and bundle; returns the shim's
    /// arguments. Blocking.
    fn prepare(&self, id: &str, options: &StartOptions) -> Result<ShimArgs, ExecError> {
        let paths = self.paths(id);
        let shim_dir = self.shim_dir(id);
        mkdir(&paths.dir, 0o710)?;
        mkdir(&shim_dir, 0o700)?;
        let hostname = spec::hostname_of(id, &options.config);
        let resolv = files::resolv_conf(
            files::host_resolv_conf(&self.inner.config.host_resolv_conf).as_deref(),
        );
        for (path, contents) in [
            (&paths.files.hostname, files::hostname_file(&hostname)),
            (&paths.files.hosts, files::HOSTS.to_owned()),
            (&paths.files.resolv_conf, resolv),
        ] {
            // Written again at every start: atomic, but no fsync.
            write_atomic_non_durable(path, contents.as_bytes(), 0o644)
                .map_err(|e| ExecError::io("write", path, e.source))?;
        }
        // A record of a previous run must not answer for this one.
        remove_if_exists(&paths.exit)?;
        remove_if_exists(&shim_dir.join("sock"))?;
        spec::create_bind_sources(&options.host_config).map_err(|source| ExecError::Spec {
            id: id.to_owned(),
            source,
        })?;
        let spec = spec::build_spec(
            id,
            &options.config,
            &options.host_config,
            &options.rootfs,
            &paths.files,
            &self.inner.config.spec,
        )
        .map_err(|source| ExecError::Spec {
            id: id.to_owned(),
            source,
        })?;
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| {
            ExecError::io(
                "serialise runtime spec",
                shim_dir.join("config.json"),
                io::Error::other(e),
            )
        })?;
        let config_path = shim_dir.join("config.json");
        write_atomic_non_durable(&config_path, &json, 0o600)
            .map_err(|e| ExecError::io("write", &config_path, e.source))?;
        let console_size = options
            .host_config
            .console_size
            .filter(|[h, w]| *h > 0 && *w > 0)
            .map(|[h, w]| {
                (
                    u16::try_from(h).unwrap_or(u16::MAX),
                    u16::try_from(w).unwrap_or(u16::MAX),
                )
            });
        let log_driver =
            options
                .host_config
                .log_config
                .driver()
                .map_err(|reason| ExecError::Spec {
                    id: id.to_owned(),
                    source: spec::SpecError::Resource {
                        field: "LogConfig",
                        reason,
                    },
                })?;
        let (log_rotation, no_log) = match log_driver {
            LogDriver::JsonFile {
                max_size,
                max_files,
            } => (
                max_size.map(|max_size| Rotation {
                    max_size,
                    max_files,
                }),
                false,
            ),
            LogDriver::None => (None, true),
        };
        Ok(ShimArgs {
            id: id.to_owned(),
            bundle: shim_dir.clone(),
            state_root: self.runtime_root(),
            socket: shim_dir.join("sock"),
            log: paths.log,
            log_rotation,
            no_log,
            exit_file: paths.exit,
            tty: options.config.tty,
            open_stdin: options.config.open_stdin,
            stdin_once: options.config.stdin_once,
            console_size,
        })
    }

    /// Runs the shim and reads its startup report. The shim forks: the
    /// process we started exits at once (so berthd never has to reap the
    /// monitor), its child writes the report line.
    async fn spawn_shim(&self, id: &str, args: &ShimArgs) -> Result<StartupReport, ExecError> {
        let shim_log = self.shim_dir(id).join("shim.log");
        let stderr = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&shim_log)
            .map_err(|e| ExecError::io("open", &shim_log, e))?;
        let binary = &self.inner.config.shim_binary;
        let mut child = tokio::process::Command::new(binary)
            .args(args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|source| ExecError::SpawnShim {
                id: id.to_owned(),
                path: binary.clone(),
                source,
            })?;
        let mut stdout = child.stdout.take().ok_or_else(|| ExecError::ShimStartup {
            id: id.to_owned(),
            message: "no stdout pipe".to_owned(),
        })?;
        // One line, not EOF: until it execs the user process, the
        // container's init holds a copy of the pipe (close-on-exec).
        let startup = async {
            let mut out = Vec::new();
            let read = tokio::io::BufReader::new((&mut stdout).take(64 * 1024))
                .read_until(b'\n', &mut out)
                .await;
            let status = child.wait().await;
            (read.map(|_| out), status)
        };
        let (out, status) = tokio::time::timeout(STARTUP_TIMEOUT, startup)
            .await
            .map_err(|_| ExecError::Timeout {
                id: id.to_owned(),
                what: "startup",
                seconds: STARTUP_TIMEOUT.as_secs(),
            })?;
        let out = out.map_err(|e| ExecError::io("read startup report of", binary, e))?;
        let line = out.split(|&b| b == b'\n').next().unwrap_or_default();
        serde_json::from_slice::<StartupReport>(line).map_err(|_| ExecError::ShimStartup {
            id: id.to_owned(),
            message: format!(
                "no startup report (exit status {}, output {:?}); see {}",
                status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                String::from_utf8_lossy(&out),
                shim_log.display()
            ),
        })
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
        if let Some(record) = ExitRecord::read(&paths.exit)? {
            return Ok(Some(record));
        }
        if !exists(&self.shim_dir(id)) {
            return Ok(None);
        }
        self.delete_orphan(id).await?;
        mkdir(&paths.dir, 0o710)?;
        let record = ExitRecord::failed(
            LOST_EXIT_CODE,
            format!("berth-shim of container {id} is gone and left no exit status"),
            Timestamp::now(),
        );
        record.write(&paths.exit)?;
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
        Ok(logs::spawn_reader(self.paths(id).log, options, exited))
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
        let permit = Arc::clone(&self.inner.cleanup_permits)
            .acquire_owned()
            .await
            .map_err(|e| {
                ExecError::io(
                    "delete runtime state of",
                    self.runtime_root().join(id),
                    io::Error::other(e),
                )
            })?;
        let result = tokio::task::spawn_blocking(move || {
            let result = berth_libcontainer::Container::load(&state_root, &owned)?.delete(true);
            drop(permit);
            result
        })
        .await
        .map_err(|e| {
            ExecError::io(
                "delete runtime state of",
                self.runtime_root().join(id),
                io::Error::other(e),
            )
        })?;
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

fn remove_if_exists(path: &Path) -> Result<(), ExecError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ExecError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_safe_path_components() {
        for ok in ["abc", "0123456789abcdef", "web_1", "a.b-c"] {
            validate_id(ok).expect(ok);
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", &"x".repeat(65), "ü"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    fn driver() -> (tempfile::TempDir, ExecDriver) {
        let dir = tempfile::tempdir().expect("tempdir");
        let shim = dir.path().join("berth-shim");
        fs::write(&shim, b"").expect("fake shim");
        let config = ExecConfig::new(dir.path().join("run"), dir.path().join("containers"), shim);
        let driver = ExecDriver::new(config).expect("driver");
        (dir, driver)
    }

    #[test]
    fn new_creates_the_layout_and_needs_the_shim() {
        let (dir, driver) = driver();
        assert!(dir.path().join("run/shims").is_dir());
        assert!(dir.path().join("run/runtime").is_dir());
        assert!(dir.path().join("containers").is_dir());
        let paths = driver.paths("c1");
        assert_eq!(paths.log, dir.path().join("containers/c1/c1-json.log"));
        assert_eq!(paths.files.hosts, dir.path().join("containers/c1/hosts"));
        let missing = ExecConfig::new(
            dir.path().join("r2"),
            dir.path().join("c2"),
            dir.path().join("nope"),
        );
        let err = ExecDriver::new(missing).expect_err("no shim");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn a_container_without_shim_or_record_was_never_started() {
        let (_dir, driver) = driver();
        assert_eq!(
            driver.state("c1").await.expect("state"),
            RunState::NeverStarted
        );
        assert!(matches!(
            driver.wait("c1").await,
            Err(ExecError::NeverStarted(_))
        ));
        assert!(matches!(
            driver.kill("c1", 15).await,
            Err(ExecError::NotRunning(_))
        ));
        assert!(matches!(
            driver.attach("c1", AttachOptions::default()).await,
            Err(ExecError::NotRunning(_))
        ));
    }

    #[tokio::test]
    async fn an_exit_record_answers_when_the_shim_is_gone() {
        let (_dir, driver) = driver();
        let paths = driver.paths("c1");
        fs::create_dir_all(&paths.dir).expect("dir");
        let record = ExitRecord::exited(3, None, Timestamp::from_unix(10, 0));
        record.write(&paths.exit).expect("record");
        assert_eq!(driver.wait("c1").await.expect("wait"), record);
        assert_eq!(
            driver.state("c1").await.expect("state"),
            RunState::Exited(record.clone())
        );
        assert_eq!(
            driver
                .stop("c1", 15, Duration::from_secs(1))
                .await
                .expect("stop"),
            record
        );
    }

    #[tokio::test]
    async fn a_vanished_shim_gets_a_durable_lost_record() {
        let (_dir, driver) = driver();
        // A shim directory with a stale socket and no exit record: the shim
        // was SIGKILLed.
        let shim_dir = driver.shim_dir("c1");
        fs::create_dir_all(&shim_dir).expect("shim dir");
        let stale = std::os::unix::net::UnixListener::bind(shim_dir.join("sock")).expect("bind");
        drop(stale);
        let state = driver.state("c1").await.expect("state");
        let RunState::Exited(record) = state else {
            panic!("expected exited, got {state:?}");
        };
        assert_eq!(record.exit_code, LOST_EXIT_CODE);
        assert!(record.error.as_deref().unwrap_or_default().contains("gone"));
        assert_eq!(
            driver.wait("c1").await.expect("wait"),
            record,
            "the record is durable"
        );
        assert_eq!(driver.known_ids().expect("ids"), ["c1"]);
        driver.remove("c1").await.expect("remove");
        assert!(!shim_dir.exists());
        assert!(driver.known_ids().expect("ids").is_empty());
    }
}
