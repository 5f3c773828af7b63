//! [`ExecDriver::start`]: the bundle, the shim, the startup report, and
//! the kill of a start that does not complete.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use berth_fsutil::write_atomic_non_durable;
use berth_model::container::{ContainerModel, LogDriver};
use berth_model::exec::ContainerFiles;
use berth_model::network::NetworkFiles;
use berth_shim::args::ShimArgs;
use berth_shim::logfile::Rotation;
use berth_shim::protocol::{Reply, Request, ShimFailure, StartupReport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use super::{
    ExecDriver, STARTUP_TIMEOUT, StartOptions, Started, StartingGuard, mkdir, read_exit_record,
};
use crate::client::{REQUEST_TIMEOUT, ShimSocket};
use crate::error::{ExecError, ReadyError};
use crate::files;
use crate::spec;

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

impl ExecDriver {
    /// Refuses what this host cannot give the container (a capability
    /// outside berthd's bounding set): the engine asks at create, so that
    /// the refusal comes before anything is stored; the start checks again.
    pub fn validate(&self, container: &ContainerModel) -> Result<(), spec::SpecError> {
        spec::validate(container, &self.inner.config.spec)
    }

    /// Creates the container through a new shim and starts its process.
    ///
    /// Fails with [`ExecError::StartFailed`] (carrying Docker's exit code,
    /// also recorded in the exit record) when the process cannot be
    /// started, e.g. a missing executable (127).
    pub async fn start(&self, id: &str, options: StartOptions) -> Result<Started, ExecError> {
        self.start_when_ready(id, options, std::future::ready(Ok(())))
            .await
    }

    /// [`ExecDriver::start`], with the container's process held between
    /// its creation and its start until `ready` ends: what its caller sets
    /// up meanwhile (its network) is in place before the process runs. A
    /// `ready` that fails fails the start, and the created container is
    /// killed.
    pub async fn start_when_ready(
        &self,
        id: &str,
        mut options: StartOptions,
        ready: impl Future<Output = Result<(), ReadyError>> + Send,
    ) -> Result<Started, ExecError> {
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
        if let Err(source) = ready.await {
            // The reaper, still armed, kills the created container.
            return Err(ExecError::NotReady {
                id: id.to_owned(),
                source,
            });
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
                let record = read_exit_record(self.paths(id).exit).await?;
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
        let container = &options.container;
        let host_resolv = files::host_resolv_conf(&self.inner.config.host_resolv_conf);
        // moby: a container on the host's network gets the host's files as
        // they are (its resolvers are reachable, loopback ones included);
        // one sharing another container's network mounts that container's
        // files and writes none of its own.
        let (hosts, resolv) = match &options.network.files {
            NetworkFiles::Own | NetworkFiles::Shared(_) => (
                files::hosts_with_addresses(
                    &options.network.addresses,
                    container.hostname.as_str(),
                ),
                crate::embedded_dns::resolv_conf_for(
                    options.network.resolver.embedded(),
                    host_resolv.as_deref(),
                ),
            ),
            NetworkFiles::Host => (
                files::host_hosts(Path::new(files::HOST_HOSTS))
                    .unwrap_or_else(|| files::HOSTS.to_owned()),
                host_resolv
                    .clone()
                    .unwrap_or_else(|| files::resolv_conf(None)),
            ),
        };
        let (hosts, resolv) = crate::dns_files::apply(
            &container.dns,
            &options.network.files,
            &options.network.resolver,
            (hosts, resolv),
            host_resolv.as_deref(),
        );
        for (path, contents) in [
            (
                &paths.files.hostname,
                files::hostname_file(container.hostname.as_str()),
            ),
            (&paths.files.hosts, hosts),
            (&paths.files.resolv_conf, resolv),
        ] {
            // Written again at every start: atomic, but no fsync.
            write_atomic_non_durable(path, contents.as_bytes(), 0o644)
                .map_err(|e| ExecError::io("write", path, e.source))?;
        }
        let mounted_files = match &options.network.files {
            NetworkFiles::Shared(other) => ContainerFiles {
                log: paths.files.log.clone(),
                ..other.clone()
            },
            NetworkFiles::Own | NetworkFiles::Host => paths.files.clone(),
        };
        // A record of a previous run must not answer for this one.
        remove_if_exists(&paths.exit)?;
        remove_if_exists(&shim_dir.join("sock"))?;
        spec::create_bind_sources(container).map_err(|source| ExecError::Spec {
            id: id.to_owned(),
            source,
        })?;
        let spec = spec::build_spec_in(
            id,
            container,
            &options.rootfs,
            &mounted_files,
            &options.network.namespace,
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
        let (log_rotation, no_log) = match container.log {
            LogDriver::JsonFile(options) => (
                options.max_size().map(|max_size| Rotation {
                    max_size,
                    max_files: options.max_files(),
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
            log: paths.files.log,
            log_rotation,
            no_log,
            exit_file: paths.exit,
            tty: container.process.tty,
            open_stdin: container.process.open_stdin,
            stdin_once: container.process.stdin_once,
            console_size: container.process.console_size,
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
}

fn remove_if_exists(path: &Path) -> Result<(), ExecError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ExecError::io("remove", path, e)),
    }
}
