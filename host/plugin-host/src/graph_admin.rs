//! The host side of the `graph-admin` interface.
//!
//! Job handlers granted the `graph-admin` capability may read the image
//! store's disk use and run a garbage collection planned by the active
//! graph-layout policy. The daemon implements [`GraphAdmin`] on top of the
//! graph driver and installs it with
//! [`PluginHost::set_graph_admin`](crate::PluginHost::set_graph_admin); the
//! plugin host calls it on a blocking thread.

/// Disk use of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LayerUsage {
    /// Layer id (64 hex digits).
    pub id: String,
    /// Bytes used by the extracted layer.
    pub size: u64,
    /// Images whose chain contains it.
    pub images: u32,
    /// Containers whose rootfs uses it.
    pub containers: u32,
}

/// Disk use of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImageUsage {
    /// Image id (`sha256:<hex>`).
    pub id: String,
    /// `repository:tag` references.
    pub tags: Vec<String>,
    /// Sum of its layers' sizes.
    pub size: u64,
    /// Part of `size` shared with other images.
    pub shared_size: u64,
    /// Containers created from it.
    pub containers: u32,
}

/// The image store's disk use, like Docker's `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreUsage {
    /// Every layer.
    pub layers: Vec<LayerUsage>,
    /// Every image.
    pub images: Vec<ImageUsage>,
    /// Bytes used by all layers, each counted once.
    pub layers_size: u64,
    /// Bytes used by containers' writable layers.
    pub containers_size: u64,
}

/// What a garbage collection removed, or would remove when dry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Removed layer ids, in removal order.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub reclaimed: u64,
    /// Nothing was removed: the run was dry.
    pub dry_run: bool,
}

/// Image-store maintenance offered to job handlers with `graph-admin`.
///
/// Methods block (they walk and remove directories); errors are messages
/// for the job's caller.
pub trait GraphAdmin: Send + Sync + 'static {
    /// Current disk use of the image store.
    fn disk_usage(&self) -> Result<StoreUsage, String>;

    /// Garbage-collects what the active graph-layout policy plans; with
    /// `dry_run`, only reports.
    fn gc(&self, dry_run: bool) -> Result<GcReport, String>;
}
