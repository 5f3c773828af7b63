//! What the graph keeps in the metadata database, and where it keeps files.

use std::path::{Path, PathBuf};

use berth_store::Table;
use serde::{Deserialize, Serialize};

/// `graph.meta`: `"driver"` → the storage driver the layers were stored for.
pub(crate) const META: Table<String> = Table::new("graph.meta");
pub(crate) const META_DRIVER: &str = "driver";
/// `graph.images`: image id hex → [`ImageRecord`].
pub(crate) const IMAGES: Table<ImageRecord> = Table::new("graph.images");
/// `graph.tags`: fully qualified reference (`docker.io/library/busybox:latest`)
/// → image id hex.
pub(crate) const TAGS: Table<String> = Table::new("graph.tags");
/// `graph.layers`: layer id hex → [`LayerRecord`] (layers and flattened caches).
pub(crate) const LAYERS: Table<LayerRecord> = Table::new("graph.layers");
/// `graph.rootfs`: container id → [`RootfsRecord`].
pub(crate) const ROOTFS: Table<RootfsRecord> = Table::new("graph.rootfs");

/// An image: its config blob is `blobs/sha256/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    /// Hex of the config digest.
    pub id: String,
    /// Layer ids (diff id hex), bottom first.
    pub layers: Vec<String>,
    /// Sum of the layers' sizes.
    pub size: u64,
    /// RFC 3339, from the config.
    pub created: String,
    /// Seconds since the epoch.
    pub created_unix: i64,
    /// RFC 3339 time of the last tag operation, empty if never tagged.
    #[serde(default)]
    pub last_tag_time: String,
}

/// Whether a layer directory holds an imported layer or a flattened run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LayerKind {
    Layer,
    Flattened,
}

/// A layer directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    pub id: String,
    pub kind: LayerKind,
    /// Bytes of regular file content.
    pub size: u64,
    /// For flattened caches, the layers merged, bottom first.
    #[serde(default)]
    pub source_layers: Vec<String>,
    /// For flattened caches: built for the base of a chain (whiteouts
    /// dropped) rather than a run higher up (whiteouts kept).
    #[serde(default)]
    pub base: bool,
    pub created: i64,
    pub last_used: i64,
}

impl LayerRecord {
    /// The record of a layer imported now (not a flattened cache).
    pub fn imported(id: &str, size: u64, now: i64) -> Self {
        Self {
            id: id.to_owned(),
            kind: LayerKind::Layer,
            size,
            source_layers: Vec::new(),
            base: false,
            created: now,
            last_used: now,
        }
    }
}

/// A container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RootfsRecord {
    pub container_id: String,
    /// Image id hex.
    pub image_id: String,
    /// `overlay` or `vfs`.
    pub driver: String,
    /// Lower layer ids (layers or flattened caches), bottom first.
    pub lowers: Vec<String>,
    /// Whether it is mounted (overlay) or handed out (vfs); the graph's
    /// stand-in for "the container is running" in `rmi` conflicts.
    pub mounted: bool,
    pub created: i64,
}

/// Length of the short link names under `l/`.
pub(crate) const SHORT_LINK_LEN: usize = 16;

/// The directory layout under `<data-root>/graph` (see the crate docs).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(data_root: &Path) -> Self {
        Self {
            root: data_root.join("graph"),
        }
    }
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub fn blob(&self, hex: &str) -> PathBuf {
        self.blobs().join(hex)
    }
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }
    pub fn flat(&self) -> PathBuf {
        self.root.join("flat")
    }
    /// `layers/<id>` or `flat/<id>`.
    pub fn layer_dir(&self, kind: LayerKind, id: &str) -> PathBuf {
        match kind {
            LayerKind::Layer => self.layers().join(id),
            LayerKind::Flattened => self.flat().join(id),
        }
    }
    pub fn layer_diff(&self, kind: LayerKind, id: &str) -> PathBuf {
        self.layer_dir(kind, id).join("diff")
    }
    pub fn links(&self) -> PathBuf {
        self.root.join("l")
    }
    pub fn short(id: &str) -> &str {
        &id[..SHORT_LINK_LEN.min(id.len())]
    }
    /// `l/<short>`: what overlay's `lowerdir=` names.
    pub fn link(&self, id: &str) -> PathBuf {
        self.links().join(Self::short(id))
    }
    /// The link's target, relative to `l/`.
    pub fn link_target(kind: LayerKind, id: &str) -> PathBuf {
        let dir = match kind {
            LayerKind::Layer => "layers",
            LayerKind::Flattened => "flat",
        };
        Path::new("..").join(dir).join(id).join("diff")
    }
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn upper(&self, id: &str) -> PathBuf {
        self.container(id).join("upper")
    }
    pub fn work(&self, id: &str) -> PathBuf {
        self.container(id).join("work")
    }
    pub fn merged(&self, id: &str) -> PathBuf {
        self.container(id).join("merged")
    }
    pub fn vfs_rootfs(&self, id: &str) -> PathBuf {
        self.container(id).join("rootfs")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
}
