//! The graph driver's errors.

use std::path::PathBuf;

use crate::changes::{ChangeError, PlatformError};
use crate::graph::OverlayUnavailable;
use crate::policy::PolicyError;
use crate::reference::ReferenceError;

/// How the HTTP edge should classify an error (Docker's status codes:
/// 404, 409, 400, 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An image, tag or container rootfs does not exist.
    NotFound,
    /// The operation conflicts with the current state (image in use,
    /// ambiguous id prefix, rootfs exists).
    Conflict,
    /// The caller's input is invalid (reference, import options, tarball).
    InvalidParameter,
    /// The storage driver does not offer the operation.
    NotImplemented,
    /// Anything else: I/O, database, policy failures.
    Internal,
}

/// Errors of the graph driver. Each says what was done to what.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A filesystem operation failed.
    #[error("failed to {op} {path}")]
    Io {
        /// What was attempted (`"create directory"`, `"rename"`, ...).
        op: &'static str,
        /// The path it was attempted on.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An operation the configured storage driver does not offer.
    #[error("{what} is not supported")]
    Unsupported {
        /// The operation, and where it is missing.
        what: String,
    },
    /// The metadata database failed.
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    /// A reference could not be parsed.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// No image matches the name, tag or id.
    #[error("No such image: {name}")]
    ImageNotFound {
        /// What the caller asked for.
        name: String,
    },
    /// A short id matches several images.
    #[error("image id prefix {prefix:?} is ambiguous: it matches {count} images")]
    AmbiguousImage {
        /// The prefix.
        prefix: String,
        /// How many images match.
        count: usize,
    },
    /// Docker's `rmi` conflicts (image in use, referenced in several
    /// repositories, ...), with Docker's wording.
    #[error("conflict: {message}")]
    Conflict {
        /// The explanation.
        message: String,
    },
    /// An import option (`repo`, `tag`, `changes`, `platform`) is invalid.
    #[error("invalid import option: {reason}")]
    InvalidImportOption {
        /// What is wrong.
        reason: String,
    },
    /// A `--change` instruction is refused.
    #[error("invalid import option: {0}")]
    InvalidChange(#[from] ChangeError),
    /// The `--platform` is refused.
    #[error("invalid import option: {0}")]
    InvalidPlatform(#[from] PlatformError),
    /// The input is not a tar archive we can read (or its compression is not
    /// supported). Nothing was stored.
    #[error("invalid layer archive: {reason}")]
    InvalidArchive {
        /// What is wrong.
        reason: String,
        /// The underlying read error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// An image archive (`docker load`: docker-archive or OCI image layout)
    /// is refused: not a tar, a member climbing out of it, a manifest naming
    /// a missing or mismatching blob, an oversized JSON file. Nothing was
    /// stored.
    #[error("invalid image archive: {reason}")]
    InvalidImageArchive {
        /// What is wrong, naming the member.
        reason: String,
    },
    /// A tar entry was refused (escapes the layer, unsafe link, unsupported
    /// type). Nothing was stored.
    #[error("refused layer entry {entry:?}: {reason}")]
    UnsafeEntry {
        /// The entry's path as the tar gave it.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// Writing a tar entry into the layer failed. Nothing was stored.
    #[error("failed to extract layer entry {entry:?}: {op}")]
    Extract {
        /// The entry's path as the tar gave it.
        entry: String,
        /// What was attempted.
        op: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An image refers to a layer the store does not hold (the store was
    /// changed behind berth's back, or a layer was collected before the
    /// image that needs it was registered).
    #[error("layer sha256:{id} is not stored")]
    MissingLayer {
        /// The layer id (64 hex).
        id: String,
    },
    /// A layer's content does not match the diff id it was announced with.
    /// Nothing was stored.
    #[error("layer content has diff id sha256:{actual}, expected {expected}")]
    DiffIdMismatch {
        /// What the caller announced.
        expected: String,
        /// What the content hashes to (64 hex).
        actual: String,
    },
    /// A stored layer written back from the record of its tar is not the
    /// tar it came as: its files changed on disk, or the record is
    /// damaged.
    #[error("layer sha256:{id} cannot be written back as it came: {reason}")]
    LayerChanged {
        /// The layer id (64 hex).
        id: String,
        /// What differs.
        reason: String,
    },
    /// A stored blob's content does not match its digest.
    #[error("blob {path} does not match digest {expected} (found {actual})")]
    DigestMismatch {
        /// The blob file.
        path: PathBuf,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// A stored image config could not be read.
    #[error("image config {image_id} is invalid")]
    ImageConfig {
        /// The image.
        image_id: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The layout policy failed to produce a plan.
    #[error("layout policy {policy} failed to plan {what}")]
    Policy {
        /// The policy's name.
        policy: String,
        /// `"rootfs"`, `"import"` or `"gc"`.
        what: &'static str,
        /// What the policy reported.
        #[source]
        source: PolicyError,
    },
    /// The layout policy returned a plan the graph refuses to act on. Nothing
    /// was written.
    #[error("layout policy {policy} returned an invalid {what} plan: {reason}")]
    InvalidPlan {
        /// The policy's name.
        policy: String,
        /// `"rootfs"`, `"import"` or `"gc"`.
        what: &'static str,
        /// Why the plan was refused.
        reason: crate::policy::PlanError,
    },
    /// A container id is not 64 lower-case hex digits.
    #[error("invalid container id {id:?}: expected 64 lower-case hex digits")]
    InvalidContainerId {
        /// The id given.
        id: String,
    },
    /// The container has no rootfs in the graph.
    #[error("no rootfs for container {container_id}")]
    RootfsNotFound {
        /// The container.
        container_id: String,
    },
    /// The container already has a rootfs.
    #[error("container {container_id} already has a rootfs")]
    RootfsExists {
        /// The container.
        container_id: String,
    },
    /// Mounting the overlay failed.
    #[error("failed to mount overlay at {target} (options {options:?})")]
    Mount {
        /// The mount point.
        target: PathBuf,
        /// The mount option string.
        options: String,
        /// The error the kernel returned.
        #[source]
        source: std::io::Error,
    },
    /// Unmounting failed.
    #[error("failed to unmount {target}")]
    Unmount {
        /// The mount point.
        target: PathBuf,
        /// The error the kernel returned.
        #[source]
        source: std::io::Error,
    },
    /// The requested storage driver cannot be used here.
    #[error("storage driver {driver} is not usable on {data_root}: {reason}")]
    DriverUnavailable {
        /// The driver.
        driver: String,
        /// The data root.
        data_root: PathBuf,
        /// Why.
        reason: OverlayUnavailable,
    },
    /// The data root was set up with another storage driver.
    #[error(
        "data root {data_root} holds layers for storage driver {stored}; it cannot be used with \
         {requested} (choose {stored} or another data root)"
    )]
    DriverMismatch {
        /// The data root.
        data_root: PathBuf,
        /// The driver its layers were stored for.
        stored: String,
        /// The driver requested now.
        requested: String,
    },
}

impl GraphError {
    /// Classifies the error for the API edge.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ImageNotFound { .. } | Self::RootfsNotFound { .. } => ErrorKind::NotFound,
            Self::AmbiguousImage { .. } | Self::Conflict { .. } | Self::RootfsExists { .. } => {
                ErrorKind::Conflict
            }
            Self::Reference(_)
            | Self::InvalidImportOption { .. }
            | Self::InvalidChange(_)
            | Self::InvalidPlatform(_)
            | Self::InvalidArchive { .. }
            | Self::InvalidImageArchive { .. }
            | Self::DiffIdMismatch { .. }
            | Self::UnsafeEntry { .. }
            | Self::InvalidContainerId { .. } => ErrorKind::InvalidParameter,
            Self::Unsupported { .. } => ErrorKind::NotImplemented,
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }
}
