//! The image store's maintenance reports and the capability that produces
//! them: defined once here, produced by the graph driver, and mapped to the
//! WIT `graph-admin` records by the plugin host at its bindings only.

use std::fmt;

pub mod archive;
pub mod policy;

/// One layer's or flattened cache's figures: what the graph-layout policy
/// sees when it plans a garbage collection, and what `disk-usage` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerUsage {
    /// Layer id (64 hex digits).
    pub id: String,
    /// `layer` or `flattened` (the graph's `layer_kinds`).
    pub kind: String,
    /// Bytes of regular file content.
    pub size: u64,
    /// Images whose chain contains it (for a flattened cache: contains its
    /// whole run, contiguously).
    pub images: u32,
    /// Container root filesystems that use it as (part of) a lower.
    pub containers: u32,
    /// When it was last used to build a rootfs or imported, seconds since
    /// the Unix epoch.
    pub last_used: i64,
}

/// An image's share of the disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageUsage {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar `repo:tag` references.
    pub repo_tags: Vec<String>,
    /// Bytes of its layers.
    pub size: u64,
    /// Bytes of its layers that other images share.
    pub shared_size: u64,
    /// Container root filesystems made from it.
    pub containers: u32,
    /// Seconds since the epoch.
    pub created: i64,
}

/// A container rootfs' writable size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerUsage {
    /// 64 hex.
    pub container_id: String,
    /// `sha256:<hex>`.
    pub image_id: String,
    /// Bytes written by the container (overlay upper dir, or the whole vfs
    /// copy).
    pub size_rw: u64,
    /// Whether it is mounted.
    pub mounted: bool,
}

/// The image store's disk use, like Docker's `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskUsage {
    /// `overlay` or `vfs`.
    pub driver: String,
    /// Bytes of all layers and flattened caches, each counted once.
    pub layers_size: u64,
    /// Per image.
    pub images: Vec<ImageUsage>,
    /// Per layer and flattened cache.
    pub layers: Vec<LayerUsage>,
    /// Per container rootfs.
    pub containers: Vec<ContainerUsage>,
}

impl DiskUsage {
    /// Bytes written by all containers.
    pub fn containers_size(&self) -> u64 {
        self.containers.iter().map(|c| c.size_rw).sum()
    }
}

/// What a garbage collection removed, or would remove when dry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// The policy that planned it.
    pub policy: String,
    /// Removed layer and flattened-cache ids (64 hex), in removal order.
    pub removed: Vec<String>,
    /// Bytes of content removed (or that would be).
    pub reclaimed: u64,
    /// Nothing was removed: the run was dry.
    pub dry_run: bool,
}

/// A failed image-store maintenance operation, naming it.
#[derive(Debug)]
pub struct GraphAdminError {
    /// What was attempted (`"measure the disk usage of"`, `"garbage-collect"`).
    pub op: &'static str,
    /// Why it failed (the graph driver's error).
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for GraphAdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to {} the image store: {}", self.op, self.source)
    }
}

impl std::error::Error for GraphAdminError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Image-store maintenance offered to plugin job handlers granted
/// `graph-admin`: the graph driver implements it, the plugin host calls it
/// (on a blocking thread: both methods walk or remove directories).
pub trait GraphAdmin: Send + Sync + 'static {
    /// Current disk use of the image store.
    fn disk_usage(&self) -> Result<DiskUsage, GraphAdminError>;

    /// Garbage-collects what the active graph-layout policy plans; with
    /// `dry_run`, plans and validates without removing anything.
    fn gc(&self, dry_run: bool) -> Result<GcReport, GraphAdminError>;
}
