//! The exec seam: what the engine asks of the exec driver and its shims.

use std::path::PathBuf;
use std::pin::Pin;

use berth_api::stream::StreamType;
use berth_model::container::ContainerModel;
use berth_model::stats::ResourceSample;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use super::{
    AttachOptions, ContainerFiles, ExitRecord, LogOptions, LogRecord, RunState, StreamKind,
};
use crate::job::{BoxFuture, JobError};

/// Everything the exec driver needs to start a container's process.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Container id (64 hex).
    pub id: String,
    /// Mounted root filesystem.
    pub rootfs: PathBuf,
    /// The container's directory under the data root (logs, hostname, ...).
    pub container_dir: PathBuf,
    /// The container to run, as its record stores it.
    pub container: ContainerModel,
    /// One attachment per client attached before start, each connected
    /// from the process's first byte to its own [`AttachStreams`].
    pub attach: Vec<AttachOptions>,
    /// Its network namespace and `/etc` files, as the engine decided them
    /// for this start.
    pub network: berth_model::network::NetworkSetup,
    /// What its process waits for once the container is created: the
    /// network setup the engine does meanwhile. The runtime awaits it
    /// before the process runs, and fails the start with its error.
    pub network_ready: NetworkReady,
}

/// The end of the engine's network setup of a starting container (veth
/// pairs, addresses, routes, rules), which proceeds beside the runtime's
/// creation of the container, as moby's did from a prestart hook; the
/// runtime releases the container's process only once it is `Ok`. Cheap to
/// clone: every clone sees the one outcome.
#[derive(Clone)]
pub struct NetworkReady(futures_util::future::Shared<BoxFuture<Result<(), JobError>>>);

impl NetworkReady {
    /// Ready once `setup` ends, with its outcome.
    pub fn new(setup: impl Future<Output = Result<(), JobError>> + Send + 'static) -> Self {
        use futures_util::FutureExt as _;
        NetworkReady((Box::pin(setup) as BoxFuture<_>).shared())
    }

    /// Nothing to wait for.
    pub fn now() -> Self {
        NetworkReady::new(std::future::ready(Ok(())))
    }

    /// Waits for the setup's end.
    pub async fn wait(self) -> Result<(), JobError> {
        self.0.await
    }
}

impl Default for NetworkReady {
    fn default() -> Self {
        NetworkReady::now()
    }
}

impl std::fmt::Debug for NetworkReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.peek() {
            None => "pending",
            Some(Ok(())) => "ready",
            Some(Err(_)) => "failed",
        };
        f.debug_tuple("NetworkReady").field(&state).finish()
    }
}

/// A started container, with the streams of [`StartRequest::attach`] in
/// the same order.
pub type Started = berth_model::exec::Started<AttachStreams>;

/// A container's output as one attached client receives it: chunks of the
/// streams it asked for, tagged with their stream, as the process wrote
/// them; it ends when the process ends (or the runtime's connection
/// breaks). The client's session pulls it and writes each chunk to the
/// client, so that output crosses no task or channel between the
/// runtime's connection and the client's.
pub type OutputSource = Pin<Box<dyn Stream<Item = (StreamType, Bytes)> + Send>>;

/// Live streams of an attached container, for one client.
pub struct AttachStreams {
    /// The container's stdin (when it was opened with `OpenStdin`);
    /// shutting it down closes the container's stdin.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// The output this client asked for.
    pub output: OutputSource,
}

impl std::fmt::Debug for AttachStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachStreams")
            .field("stdin", &self.stdin.is_some())
            .finish_non_exhaustive()
    }
}

/// A started exec process (`docker exec`).
pub struct ExecStreams {
    /// Host pid of the process.
    pub pid: i32,
    /// Its stdin (when attached) and output; the output ends when the
    /// process has exited and its output is drained.
    pub streams: AttachStreams,
    /// Its exit record, sent once the output has ended (dropped when the
    /// runtime's connection broke first).
    pub exit: tokio::sync::oneshot::Receiver<ExitRecord>,
}

impl std::fmt::Debug for ExecStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStreams")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// What became of an exec's start.
#[derive(Debug)]
pub enum ExecLaunch {
    /// The process runs.
    Running(ExecStreams),
    /// The command could not be started: Docker's exit code for it (126,
    /// 127, 128) and the runtime's message as `error`.
    Failed(ExitRecord),
}

/// The wire stream (Docker's multiplexed header) of a container stream:
/// the numbers are the same by design.
pub fn stream_type(kind: StreamKind) -> StreamType {
    match kind {
        StreamKind::Stdin => StreamType::Stdin,
        StreamKind::Stdout => StreamType::Stdout,
        StreamKind::Stderr => StreamType::Stderr,
    }
}

/// Runs and supervises container processes (the exec driver).
pub trait ExecService: Send + Sync + 'static {
    /// The paths of the container's files (whether they exist yet or not).
    fn files(&self, id: &str) -> ContainerFiles;

    /// Refuses at create what this driver could never start on this host
    /// (what the model cannot know: e.g. a capability outside berthd's
    /// bounding set), so that the client sees the error from `create` and
    /// nothing is stored.
    fn validate(&self, container: &ContainerModel) -> Result<(), JobError>;

    /// Starts the container's process (through its shim).
    fn start(&self, request: StartRequest) -> BoxFuture<Result<Started, JobError>>;

    /// Resolves when the process has exited (also after a daemon restart,
    /// and when it exited already).
    fn wait(&self, id: &str) -> BoxFuture<Result<ExitRecord, JobError>>;

    /// Sends `signal` to the container's init process.
    fn kill(&self, id: &str, signal: i32) -> BoxFuture<Result<(), JobError>>;

    /// Attaches one client to a running container: every call gets its
    /// own streams, filtered by its `options`.
    fn attach(
        &self,
        id: &str,
        options: AttachOptions,
    ) -> BoxFuture<Result<AttachStreams, JobError>>;

    /// Sets the terminal size of a TTY container.
    fn resize(&self, id: &str, height: u16, width: u16) -> BoxFuture<Result<(), JobError>>;

    /// The host pids of every process of the running container (its
    /// cgroup's), for `top`.
    fn processes(&self, id: &str) -> BoxFuture<Result<Vec<u32>, JobError>>;

    /// One sample of the running container's resource usage (its cgroup's
    /// counters and the host's CPU clock); `None` when it is not running.
    /// Blocking (file reads): the engine calls it on its blocking pool.
    fn stats(&self, id: &str) -> Result<Option<ResourceSample>, JobError>;

    /// Freezes every process of the container.
    fn pause(&self, id: &str) -> BoxFuture<Result<(), JobError>>;

    /// Thaws a frozen container.
    fn resume(&self, id: &str) -> BoxFuture<Result<(), JobError>>;

    /// Reads the container's logs; the receiver ends when there is nothing
    /// more to send.
    fn logs(
        &self,
        id: &str,
        options: LogOptions,
    ) -> BoxFuture<Result<mpsc::Receiver<LogRecord>, JobError>>;

    /// Forgets a stopped container's runtime state (logs go with its
    /// directory, which the engine removes).
    fn remove(&self, id: &str) -> BoxFuture<Result<(), JobError>>;

    /// Finds out, after a daemon restart, what became of a container that
    /// was running.
    fn restore(&self, id: &str) -> BoxFuture<Result<RunState, JobError>>;

    /// Runs an exec process (`docker exec`) in running container `id`,
    /// named `exec_id`; `container` is the container's model (its
    /// environment and user are the exec's defaults).
    fn exec(
        &self,
        id: &str,
        exec_id: &str,
        container: &ContainerModel,
        config: &berth_model::exec_process::ExecProcessConfig,
    ) -> BoxFuture<Result<ExecLaunch, JobError>>;

    /// Sets the terminal size of a running exec process with a TTY.
    fn resize_exec(
        &self,
        id: &str,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> BoxFuture<Result<(), JobError>>;

    /// Sends `signal` to running exec process `exec_id` of container `id`
    /// (an overdue health probe is killed, as moby's `ContainerExecStart`
    /// kills its process when its context ends); `false` when it does not
    /// run (it ended, or has not started).
    fn kill_exec(&self, id: &str, exec_id: &str, signal: i32) -> BoxFuture<Result<bool, JobError>>;

    /// Writes the limits of `container` into the running container's
    /// cgroup (`docker update`); when the kernel refuses part of them, the
    /// limits of `previous` are written back before the error returns.
    fn update(
        &self,
        id: &str,
        container: ContainerModel,
        previous: ContainerModel,
    ) -> BoxFuture<Result<(), JobError>>;

    /// Rewrites the `resolv.conf` of running container `id` (on a network
    /// of its own, DNS settings `dns`) after a connect or disconnect
    /// changed its resolver from `before` to `after`: what a start would
    /// write now, in place, unless the user changed the file since.
    /// Whether it was rewritten. Blocking.
    fn update_resolver(
        &self,
        id: &str,
        dns: &berth_model::dns::DnsConfig,
        before: &berth_model::dns::Resolver,
        after: &berth_model::dns::Resolver,
    ) -> Result<bool, JobError>;
}
