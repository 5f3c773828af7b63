//! The seams between the engine and its drivers.
//!
//! The engine does not know how images are stored or how processes are run:
//! it talks to an [`ImageService`] (the graph driver with the metadata
//! store, here), a [`RegistryService`] (the distribution client,
//! `registry.rs`), an [`ExecService`] (the exec driver and its
//! per-container shims, `exec.rs`) and the network seams
//! ([`NetworkService`], [`NameService`], [`NetworkPolicy`], `network.rs`).
//! The daemon wires the real drivers in; unit tests use fakes.
//!
//! Errors cross these seams as [`JobError`]s: the adapters decide which
//! driver failures are the client's fault (NotFound, InvalidParameter,
//! Conflict) and log internal ones.

use std::io::Read;
use std::path::PathBuf;

use berth_api::container::FilesystemChange;
use berth_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use berth_model::files::{ContainerFs, ExtractOptions, PathStat};
use berth_model::graph::DiskUsage;
pub use berth_model::graph::archive::{
    CommitDefaults, CommitRequest, HistoryEntry, LoadReport, LoadedImage,
};

use crate::job::JobError;

// The types the exec seam shares with the driver, defined once below both.
pub use berth_model::exec::{
    AttachOptions, ContainerFiles, ExitRecord, LOST_EXIT_CODE, LogOptions, LogRecord, RunState,
    StreamKind,
};

// The types the network seam shares with the driver, defined once below both.
pub use berth_model::network::{
    EndpointModel, InterfaceAddress, InterfaceName, IpNet, MacAddress, NetworkModel, NetworkState,
    PortBinding, Protocol, SandboxModel, SandboxState, Subnet,
};

mod exec;
mod network;
mod registry;

pub use exec::{
    AttachStreams, ExecLaunch, ExecService, ExecStreams, NetworkReady, OutputSource, StartRequest,
    Started, stream_type,
};
pub use network::{
    NameService, NetworkPolicy, NetworkService, PolicyAnswer, SubnetAnswer, UnavailableNetwork,
};
pub use registry::{
    BlobProgressFn, BlobStream, BlobStreamFn, PullRequest, PushTarget, RegistryAuth,
    RegistryService, RemoteImage, RemoteLayer, RemoteName, SearchHit, SearchRequest, TagsRequest,
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
