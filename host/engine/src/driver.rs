//! The seams between the engine and its drivers.
//!
//! The engine does not know how images are stored or how processes are run:
//! it talks to an [`ImageService`] (the graph driver with the metadata
//! store) and a [`ExecService`] (the exec driver and its per-container shims).
//! The daemon wires the real drivers in; unit tests use fakes.
//!
//! Errors cross these seams as [`JobError`]s: the adapters decide which
//! driver failures are the client's fault (NotFound, InvalidParameter,
//! Conflict) and log internal ones.

use std::io::Read;
use std::path::PathBuf;
use std::pin::Pin;

use berth_api::container::FilesystemChange;
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use berth_api::stream::StreamType;
use berth_model::container::ContainerModel;
use berth_model::files::{ContainerFs, ExtractOptions, PathStat};
use berth_model::graph::DiskUsage;
pub use berth_model::graph::archive::{
    CommitDefaults, CommitRequest, HistoryEntry, LoadReport, LoadedImage,
};
use berth_model::stats::ResourceSample;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

use crate::job::{BoxFuture, JobError};

// The types the exec seam shares with the driver, defined once below both.
pub use berth_model::exec::{
    AttachOptions, ContainerFiles, ExitRecord, LOST_EXIT_CODE, LogOptions, LogRecord, RunState,
    StreamKind,
};

/// What `POST /images/create?fromSrc=...` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `repo` or `repo:tag` to tag the new image with (may be empty).
    pub repo: String,
    /// Tag (when `repo` has none).
    pub tag: String,
    /// Dockerfile-like `changes` (`CMD ["sh"]`, `ENV A=b`, ...).
    pub changes: Vec<String>,
    /// Commit message.
    pub message: String,
    /// `os[/arch]`, empty for the host's.
    pub platform: String,
}

/// Images and container root filesystems (graph driver + metadata store).
///
/// Blocking: the engine calls it from `spawn_blocking`.
pub trait ImageService: Send + Sync + 'static {
    /// Storage driver name for `info` and inspect (`overlay2`, `vfs`).
    fn driver_name(&self) -> String;

    /// Imports a rootfs tarball (plain, gzip or zstd) as a new image;
    /// returns its id (`sha256:...`). A failed import changes nothing.
    fn import(
        &self,
        source: Box<dyn Read + Send>,
        options: &ImportOptions,
    ) -> Result<String, JobError>;

    /// Every image.
    fn list(&self) -> Result<Vec<ImageSummary>, JobError>;

    /// One image by reference, id or unique id prefix. NotFound:
    /// `No such image: <name>`.
    fn inspect(&self, name: &str) -> Result<ImageInspect, JobError>;

    /// Adds `repo:tag` to the image `name` resolves to.
    fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), JobError>;

    /// Removes a reference or an image with Docker's `rmi` rules.
    fn remove(&self, name: &str, force: bool) -> Result<Vec<ImageDeleteItem>, JobError>;

    /// Prepares the writable root filesystem of a new container.
    fn create_rootfs(&self, container_id: &str, image_id: &str) -> Result<(), JobError>;

    /// Mounts the container's root filesystem (idempotent); returns its path.
    fn mount_rootfs(&self, container_id: &str) -> Result<PathBuf, JobError>;

    /// Unmounts it (idempotent).
    fn unmount_rootfs(&self, container_id: &str) -> Result<(), JobError>;

    /// Unmounts and deletes it (idempotent).
    fn remove_rootfs(&self, container_id: &str) -> Result<(), JobError>;

    /// The store's disk use: layers, images and container root filesystems
    /// (`GET /system/df`, the prune reports). Walks the layers' files.
    fn disk_usage(&self) -> Result<DiskUsage, JobError>;

    /// What the container changed in its image's files (`docker diff`),
    /// parents before children. Walks its writable layer.
    fn changes(&self, container_id: &str) -> Result<Vec<FilesystemChange>, JobError>;

    /// The stat of `path` in a container's files (`HEAD
    /// /containers/{id}/archive`); `container` is the name the client
    /// used, for moby's messages. Every path is resolved inside `fs`.
    fn path_stat(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
    ) -> Result<PathStat, JobError>;

    /// Writes a tar stream of `path` to `out` (`GET
    /// /containers/{id}/archive`), after handing its stat to `on_stat`.
    fn archive_path(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
        on_stat: &mut dyn FnMut(&PathStat) -> std::io::Result<()>,
        out: &mut dyn std::io::Write,
    ) -> Result<(), JobError>;

    /// Extracts the tar stream `input` under the directory `path`
    /// (`PUT /containers/{id}/archive`), reading it as it arrives.
    fn extract_to_dir(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
        options: &ExtractOptions,
        input: &mut dyn Read,
    ) -> Result<(), JobError>;

    /// If the layer with this diff id (`sha256:...`) is stored, holds it
    /// from collection (a pull never fetches it again, and it must still be
    /// there when the image is created); `None` if it is not stored.
    fn hold_layer(&self, _diff_id: &str) -> Result<Option<LayerHold>, JobError> {
        Err(pull_unsupported())
    }

    /// A directory on the data root's filesystem for a pull's temporary
    /// blob files; emptied when the driver opens, so a killed pull leaves
    /// nothing behind.
    fn scratch_dir(&self) -> Result<PathBuf, JobError> {
        Err(pull_unsupported())
    }

    /// Stores one layer from a (plain, gzip or zstd) tar stream whose diff
    /// id must be `diff_id`; the layer is held from collection until
    /// [`LayerHold`] is dropped, so a concurrent `rmi` cannot remove it
    /// before [`ImageService::create_image`] references it.
    fn add_layer(
        &self,
        _source: Box<dyn Read + Send>,
        _diff_id: &str,
    ) -> Result<LayerHold, JobError> {
        Err(pull_unsupported())
    }

    /// Registers an image from its config JSON (kept byte for byte; the id
    /// is its digest), whose layers are stored, tagged with `reference`
    /// (`registry/repo:tag`) if given. Returns the image id.
    fn create_image(&self, _config: &[u8], _reference: Option<&str>) -> Result<String, JobError> {
        Err(pull_unsupported())
    }

    /// Loads the images of an image archive (`POST /images/load`:
    /// docker-archive or OCI layout), read once as it arrives; every
    /// digest is checked before anything is committed, so a refused
    /// archive changes nothing.
    fn load(&self, source: Box<dyn Read + Send>) -> Result<LoadReport, JobError>;

    /// The history of an image, newest first (`GET /images/{name}/history`).
    fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, JobError>;

    /// Writes the images `names` as one image archive to `out` (`GET
    /// /images/get`): docker-archive and OCI layout at once, as docker 25+
    /// writes it. Every name is resolved before the first byte.
    fn save(&self, names: &[String], out: &mut dyn std::io::Write) -> Result<(), JobError>;

    /// Commits a container's changes as a new image (`POST /commit`);
    /// returns its id. The caller keeps the container from writing.
    fn commit(&self, request: &CommitRequest) -> Result<String, JobError>;

    /// The id and config JSON (byte for byte) of the image `name` resolves
    /// to (a push). NotFound: `No such image: <name>`.
    fn image_config(&self, _name: &str) -> Result<(String, Vec<u8>), JobError> {
        Err(pull_unsupported())
    }

    /// Writes the stored layer `diff_id` to `out` as a layer tar,
    /// deterministically (a push compresses it). The caller holds it.
    fn write_layer(&self, _diff_id: &str, _out: &mut dyn std::io::Write) -> Result<(), JobError> {
        Err(pull_unsupported())
    }

    /// Keeps the file `blob`, the verified gzip blob `digest` the stored
    /// layer `diff_id` was pulled as, so that a push can send it back as it
    /// came instead of recompressing the layer; it is moved (it lies in
    /// [`ImageService::scratch_dir`]) and removed with the layer. `false`
    /// if nothing was kept (a driver that keeps no blobs, or one is kept).
    fn keep_layer_blob(
        &self,
        _diff_id: &str,
        _digest: &str,
        _blob: &std::path::Path,
    ) -> Result<bool, JobError> {
        Ok(false)
    }

    /// The blob `digest` kept for the stored layer `diff_id`
    /// ([`ImageService::keep_layer_blob`]), if any. The caller holds the
    /// layer and checks the file's digest before sending it.
    fn layer_blob(&self, _diff_id: &str, _digest: &str) -> Result<Option<PathBuf>, JobError> {
        Ok(None)
    }
}

/// Keeps a stored layer from garbage collection while it is held (the
/// window between [`ImageService::add_layer`] and
/// [`ImageService::create_image`]).
pub struct LayerHold(pub Box<dyn Send + Sync>);

impl std::fmt::Debug for LayerHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayerHold")
    }
}

fn pull_unsupported() -> JobError {
    JobError::new(
        crate::job::ErrorKind::NotImplemented,
        "this image service cannot store pulled images",
    )
}

/// Credentials for a registry, from the client's `X-Registry-Auth` header
/// (moby's `registry.AuthConfig`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// A token for the registry's token service (OAuth refresh token).
    pub identity_token: String,
    /// A bearer token to send to the registry as is.
    pub registry_token: String,
    /// The registry these are for (`serveraddress`; login only).
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What `POST /images/create?fromImage=` asks for, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequest {
    /// `[registry/]repo[:tag|@digest]`.
    pub reference: String,
    /// A tag or digest replacing the reference's (may be empty).
    pub tag: String,
    /// `os[/arch[/variant]]`, empty for linux/amd64.
    pub platform: String,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// One layer blob of a remote image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLayer {
    /// The blob's digest (`sha256:...`).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An image manifest resolved in a registry for one platform.
#[derive(Debug, Clone)]
pub struct RemoteImage {
    /// The repository as Docker shows it (`busybox`, `127.0.0.1:5000/app`).
    pub repository: String,
    /// The tag, or the digest for a pull by digest.
    pub tag: String,
    /// The full reference as Docker shows it (`busybox:latest`).
    pub familiar: String,
    /// The tag to record (`registry/repo:tag`), `None` for a pull by digest.
    pub tagged: Option<String>,
    /// The manifest (list) digest the reference resolved to.
    pub digest: String,
    /// The image config JSON, verified.
    pub config: Vec<u8>,
    /// The layer blobs, bottom first.
    pub layers: Vec<RemoteLayer>,
}

/// Called with the bytes of a blob received so far.
pub type BlobProgressFn = Box<dyn FnMut(u64) + Send>;

/// The sending half of a blob stream: a fetch sends the blob's bytes
/// into `data` as they arrive and `verified` once its size and digest are
/// checked (the reading half, in the engine, reports the end of the blob
/// only then, and an error if `verified` is dropped unsent).
#[derive(Debug)]
pub struct BlobStream {
    /// The blob's bytes, in order; a bounded channel, the stream's only
    /// buffer.
    pub data: mpsc::Sender<Bytes>,
    /// The mark that the whole blob was received and verified.
    pub verified: tokio::sync::oneshot::Sender<()>,
}

/// Called at the start of every source a fetch tries, for a fresh
/// [`BlobStream`] (the previous attempt's reader sees its failure).
pub type BlobStreamFn = Box<dyn FnMut() -> BlobStream + Send>;

/// The registry driver: the distribution client.
pub trait RegistryService: Send + Sync + 'static {
    /// Resolves the request's reference to one image manifest (choosing the
    /// platform in a manifest list) and fetches its config.
    fn resolve(&self, request: PullRequest) -> BoxFuture<Result<RemoteImage, JobError>>;

    /// Streams a layer blob into the open file `dest` (`dest_path` names it
    /// in errors), verifying its digest and size (not syncing it: it is
    /// kept and checked again before a push sends it); on error `dest` may
    /// hold a partial blob. The fetch never opens `dest_path`: the caller
    /// owns that path and removes it when it likes, even while a write of
    /// a dropped fetch is still on the blocking pool.
    /// Every attempt (source) also sends the blob into a stream from
    /// `stream`, for the caller to extract it meanwhile; only the attempt
    /// that returns `Ok` marks its stream verified.
    fn fetch_blob(
        &self,
        request: PullRequest,
        layer: RemoteLayer,
        dest: std::fs::File,
        dest_path: PathBuf,
        progress: BlobProgressFn,
        stream: BlobStreamFn,
    ) -> BoxFuture<Result<(), JobError>>;

    /// Checks `auth` against the registry `auth.server_address` (`docker
    /// login`); returns an identity token if the registry issued one.
    fn login(&self, auth: RegistryAuth) -> BoxFuture<Result<Option<String>, JobError>>;

    /// Normalizes `reference` (+ `tag`) as the registry sees it
    /// (InvalidParameter: moby's `invalid reference format`).
    fn remote_name(&self, _reference: &str, _tag: &str) -> Result<RemoteName, JobError> {
        Err(push_unsupported())
    }

    /// Authenticates for a push to `target` (refused credentials fail
    /// here, before any upload).
    fn push_authorize(&self, _target: PushTarget) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Whether `target`'s repository has the blob `digest` (`HEAD`).
    fn blob_exists(
        &self,
        _target: PushTarget,
        _digest: String,
    ) -> BoxFuture<Result<bool, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Mounts the blob `digest` from the repository `from` of the same
    /// registry into `target`'s; `false` if the registry did not.
    fn mount_blob(&self, _target: PushTarget, _digest: String, _from: String) -> BoxFuture<bool> {
        Box::pin(async { false })
    }

    /// Uploads the blob file `path` (digest and size known) to `target`'s
    /// repository, streamed.
    fn push_blob(
        &self,
        _target: PushTarget,
        _blob: RemoteLayer,
        _path: PathBuf,
        _progress: BlobProgressFn,
    ) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// PUTs a manifest under `target`'s tag; returns the registry's digest
    /// of it.
    fn push_manifest(
        &self,
        _target: PushTarget,
        _body: Vec<u8>,
        _media_type: String,
    ) -> BoxFuture<Result<String, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Searches a registry's repositories (`GET /images/search`).
    fn search(&self, _request: SearchRequest) -> BoxFuture<Result<Vec<SearchHit>, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Lists a repository's tags (`GET /images/search?listTags=true`).
    fn list_tags(&self, _request: TagsRequest) -> BoxFuture<Result<Vec<String>, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }
}

fn push_unsupported() -> JobError {
    JobError::new(
        crate::job::ErrorKind::NotImplemented,
        "this registry driver cannot push or search",
    )
}

/// A reference as a registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    /// The registry host (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/busybox`, `test/app`).
    pub repository: String,
    /// The repository as Docker shows it (`busybox`, `127.0.0.1:5000/test/app`).
    pub familiar: String,
    /// The tag (`latest` when none was given).
    pub tag: String,
}

/// Where a push goes: a repository and tag, with the client's credentials.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The repository and tag.
    pub name: RemoteName,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// What `GET /images/search` asks a registry, validated.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The registry host (`docker.io` unless the term names one).
    pub registry: String,
    /// The term, without the registry.
    pub term: String,
    /// At most this many results (1..=100).
    pub limit: usize,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// What `GET /images/search?listTags=true` asks a registry, validated.
#[derive(Debug, Clone)]
pub struct TagsRequest {
    /// The repository (its `tag` is unused).
    pub name: RemoteName,
    /// At most this many tags (`usize::MAX`: all the driver reads).
    pub limit: usize,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// One search result (moby's `registry.SearchResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHit {
    /// The repository name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its stars.
    pub star_count: u64,
    /// Whether it is an official image.
    pub is_official: bool,
    /// Whether it is an automated build.
    pub is_automated: bool,
}

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

// The types the network seam shares with the driver, defined once below both.
pub use berth_model::network::{
    EndpointModel, InterfaceAddress, InterfaceName, IpNet, MacAddress, NetworkModel, NetworkState,
    PortBinding, Protocol, SandboxModel, SandboxState, Subnet,
};

/// Applies the engine's networking decisions to the kernel (the network
/// driver: bridges, veth pairs, addresses, routes, nftables rules).
///
/// The engine decides everything — subnets, addresses, MACs, interface
/// names, host ports — validates it, and persists it before it calls here;
/// the driver only applies a plan it is given and never chooses. Every
/// call is idempotent (applying what is already there succeeds, removing
/// what is gone succeeds), so that the engine can retry and
/// [`NetworkService::reconcile`] can rebuild after a crash.
///
/// Blocking (netlink and nftables round trips, namespace switches on the
/// driver's own threads): the engine calls it through its bounded
/// blocking helper (`BlockingKind::Network`).
pub trait NetworkService: Send + Sync + 'static {
    /// Creates a container's network namespace, holding only `lo` (up),
    /// bind-mounted at `<exec-root>/netns/<container_id>`, and returns it.
    /// The runtime joins the namespace by that path, so the namespace
    /// exists before the container's process does (no create/start race).
    fn create_sandbox(&self, container_id: &str) -> Result<SandboxModel, JobError>;

    /// Removes a sandbox: its endpoints' host ends (whatever is left of
    /// them), its bind mount and the file. Idempotent.
    fn remove_sandbox(&self, sandbox: &SandboxModel) -> Result<(), JobError>;

    /// Makes the network's bridge exist with the gateways' addresses, up,
    /// and its firewall rules (masquerade unless internal, isolation from
    /// the other bridges). Idempotent: the engine calls it right before
    /// every connect too, so that `connect` need not.
    fn create_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// Removes the bridge and its rules. Idempotent. The engine calls it
    /// only once no endpoint is left on the network.
    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// Connects a sandbox to a network: the veth pair (host end enslaved
    /// to the bridge, container end made in the sandbox as
    /// `endpoint.ifname_container` with its MAC), its addresses, the default route
    /// when the endpoint has a gateway, and the DNAT/hairpin rules of its
    /// published ports. A failed connect leaves nothing of the endpoint
    /// behind.
    fn connect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError>;

    /// Undoes [`NetworkService::connect`]: the port rules and the veth
    /// pair. Idempotent.
    fn disconnect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError>;

    /// At daemon start (also after `kill -9`): removes the bridges,
    /// sandboxes, veth pairs and rules of berth's that `state` does not
    /// list, and re-applies what it does list.
    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError>;

    /// The destinations of the host's routes (every table the daemon can
    /// read, berth's own bridges excluded), so that the engine picks a
    /// subnet for a new network that clashes with none (moby
    /// `netutils.FindAvailableNetwork`).
    fn host_routes(&self) -> Result<Vec<IpNet>, JobError>;
}

/// The network driver of a berthd that has none: every call that would
/// change the kernel is refused with [`ErrorKind::Unavailable`] and a
/// message naming why, so that `--network none|host|container:` (which
/// need no driver) and the store-only network verbs still work.
///
/// [`ErrorKind::Unavailable`]: crate::job::ErrorKind::Unavailable
#[derive(Debug, Clone)]
pub struct UnavailableNetwork {
    reason: String,
}

impl UnavailableNetwork {
    /// A driver refusing with `networking is not available: <reason>`.
    pub fn new(reason: impl Into<String>) -> UnavailableNetwork {
        UnavailableNetwork {
            reason: reason.into(),
        }
    }

    fn refuse(&self) -> JobError {
        JobError::new(
            crate::job::ErrorKind::Unavailable,
            format!("networking is not available: {}", self.reason),
        )
    }
}

impl NetworkService for UnavailableNetwork {
    fn create_sandbox(&self, _container_id: &str) -> Result<SandboxModel, JobError> {
        Err(self.refuse())
    }

    // Nothing was ever created: removing succeeds.
    fn remove_sandbox(&self, _sandbox: &SandboxModel) -> Result<(), JobError> {
        Ok(())
    }

    fn create_network(&self, _network: &NetworkModel) -> Result<(), JobError> {
        Err(self.refuse())
    }

    fn remove_network(&self, _network: &NetworkModel) -> Result<(), JobError> {
        Ok(())
    }

    fn connect(
        &self,
        _sandbox: &SandboxModel,
        _network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        Err(self.refuse())
    }

    fn disconnect(
        &self,
        _sandbox: &SandboxModel,
        _network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        Ok(())
    }

    // There is no kernel state of berth's to reconcile.
    fn reconcile(&self, _state: &NetworkState) -> Result<(), JobError> {
        Ok(())
    }

    // No route is known: subnets are chosen from the pools alone.
    fn host_routes(&self) -> Result<Vec<IpNet>, JobError> {
        Ok(Vec::new())
    }
}

/// The embedded DNS server of user-defined networks (Podman's
/// aardvark-dns, moby's libnetwork resolver): each served network's
/// containers reach it at their network's gateway, port 53, and it answers
/// the names published on *that* network (container name, short id,
/// aliases: [`EndpointModel::aliases`]) and forwards the rest to the host's
/// resolvers.
///
/// The engine calls it for user-defined networks only: containers on the
/// default `bridge` have no name resolution (as moby). The calls bind
/// sockets and update a table, both quick and non-blocking; the server's
/// own work runs on its own thread.
pub trait NameService: Send + Sync + 'static {
    /// Makes `endpoint`'s names resolve to its addresses on `network`,
    /// serving the network (listening on its gateways) if it was not yet.
    /// Idempotent: publishing again replaces the container's names there.
    fn publish(&self, network: &NetworkModel, endpoint: &EndpointModel) -> Result<(), JobError>;

    /// Forgets the names of `container_id` on `network`. Idempotent.
    fn withdraw(&self, network: &NetworkModel, container_id: &str) -> Result<(), JobError>;

    /// Stops serving `network`. Idempotent.
    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError>;

    /// At daemon start: serves exactly the networks of `state` with the
    /// names of its endpoints (the engine passes the user-defined networks
    /// and the running containers' endpoints on them).
    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError>;
}

/// The network-policy plugin (issue 12; WIT `berth:plugin/network`): it
/// decides a new network's subnet (`plan-subnet`, WIT 1.3), a container's
/// addresses on a network and its host ports (`plan-network`); the engine
/// checks every plan ([`crate::daemon::net_policy`],
/// [`crate::daemon::subnet_policy`]) before anything is created or
/// configured. berthd's adapter asks the plugin host, where a
/// `network-policy` plugin of the plugin directory replaces the built-in
/// `network-policy-default`.
pub trait NetworkPolicy: Send + Sync + 'static {
    /// Asks the serving policy to plan `request`: `Ok(None)` when no
    /// network-policy plugin serves (the engine then plans as the default
    /// does), the plugin's answer or refusal with its name, or an error
    /// naming the plugin when it failed (trapped, ran out of time, is
    /// resting). Blocking: a sync wasm call under an epoch deadline.
    fn plan_network(
        &self,
        request: &berth_model::net_policy::PlanRequest,
    ) -> Result<Option<PolicyAnswer>, JobError>;

    /// Asks the serving policy for a new network's subnet of one family:
    /// `Ok(None)` when no network-policy plugin serves or the serving one
    /// predates WIT 1.3 (it has no `plan-subnet`: the engine chooses from
    /// moby's default pools, as before), else as [`Self::plan_network`].
    fn plan_subnet(
        &self,
        request: &berth_model::net_policy::SubnetRequest,
    ) -> Result<Option<SubnetAnswer>, JobError>;
}

/// What a network policy answered to `plan-network`, and which plugin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAnswer {
    /// The plugin's name and version (`network-policy-default 1.2.0`).
    pub plugin: String,
    /// Whether the plugin plans every family of the network (built for
    /// WIT 1.3 or later): then its plan must give an address of each. A
    /// plugin built for an older WIT was asked for one family (IPv4, else
    /// IPv6) and the engine allocates the other, as before 1.3.
    pub every_family: bool,
    /// Its plan, unchecked, or its refusal in its own words.
    pub decision: Result<berth_model::net_policy::Plan, String>,
}

/// What a network policy answered to `plan-subnet`, and which plugin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetAnswer {
    /// The plugin's name and version.
    pub plugin: String,
    /// Its subnet, unchecked, or its refusal in its own words.
    pub decision: Result<berth_model::net_policy::SubnetPlan, String>,
}
