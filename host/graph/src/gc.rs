//! Garbage collection through the policy, and the disk usage report.

use crate::error::GraphError;
use crate::fsutil;
use crate::graph::{Graph, StorageDriver, now_unix};
use crate::image::{familiar_sorted, tags_of};
use crate::policy::{GcLayer, GcRequest, layer_kinds, validate_gc_plan};
use crate::records::{
    IMAGES, ImageRecord, LAYERS, LayerKind, LayerRecord, ROOTFS, RootfsRecord, TAGS,
};

/// What [`Graph::gc`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// The policy that planned it.
    pub policy: String,
    /// Removed layer and flattened-cache ids (64 hex).
    pub removed: Vec<String>,
    /// Bytes of content removed.
    pub reclaimed: u64,
}

/// `docker system df`-like figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskUsage {
    /// `overlay` or `vfs`.
    pub driver: String,
    /// Bytes of all layers and flattened caches.
    pub layers_size: u64,
    /// Per image.
    pub images: Vec<ImageUsage>,
    /// Per layer and flattened cache.
    pub layers: Vec<LayerUsage>,
    /// Per container rootfs.
    pub containers: Vec<ContainerUsage>,
}

/// An image's share of the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A layer's or flattened cache's figures: what the policy sees when it
/// plans a garbage collection.
pub type LayerUsage = GcLayer;

/// A container rootfs' writable size.
#[derive(Debug, Clone, PartialEq, Eq)]
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

fn contains_run(chain: &[String], run: &[String]) -> bool {
    !run.is_empty() && chain.windows(run.len()).any(|w| w == run)
}

/// Reference counts of every layer from images and container rootfs.
fn gc_layers(
    layers: &[(String, LayerRecord)],
    images: &[(String, ImageRecord)],
    rootfs: &[(String, RootfsRecord)],
) -> Vec<GcLayer> {
    layers
        .iter()
        .map(|(id, l)| {
            let images = images
                .iter()
                .filter(|(_, i)| match l.kind {
                    LayerKind::Layer => i.layers.contains(id),
                    LayerKind::Flattened if l.base => i.layers.starts_with(&l.source_layers),
                    LayerKind::Flattened => contains_run(&i.layers, &l.source_layers),
                })
                .count() as u32;
            // A container holds every layer it stacks and every layer a
            // flattened lower of it was built from (its image may be gone).
            let containers = rootfs
                .iter()
                .filter(|(_, r)| {
                    r.lowers.iter().any(|lower| {
                        lower == id
                            || layers.iter().any(|(fid, f)| {
                                fid == lower
                                    && f.kind == LayerKind::Flattened
                                    && f.source_layers.contains(id)
                            })
                    })
                })
                .count() as u32;
            GcLayer {
                id: id.clone(),
                kind: match l.kind {
                    LayerKind::Layer => layer_kinds::LAYER,
                    LayerKind::Flattened => layer_kinds::FLATTENED,
                }
                .into(),
                size: l.size,
                images,
                containers,
                last_used: l.last_used,
            }
        })
        .collect()
}

impl Graph {
    /// Asks the policy which unreferenced layers to remove, validates the
    /// plan and removes them.
    pub fn gc(&self) -> Result<GcReport, GraphError> {
        self.collect(true)
    }

    /// What [`Graph::gc`] would remove now (planned by the policy and
    /// validated), without removing anything.
    pub fn gc_dry_run(&self) -> Result<GcReport, GraphError> {
        self.collect(false)
    }

    fn collect(&self, apply: bool) -> Result<GcReport, GraphError> {
        let _guard = self.lock();
        let read = self.store.read()?;
        let layers = read.list(LAYERS)?;
        let request = GcRequest {
            now: now_unix(),
            layers: gc_layers(&layers, &read.list(IMAGES)?, &read.list(ROOTFS)?),
        };
        drop(read);
        let (policy, plan) = self.plan(
            "gc",
            &request,
            |policy, request| policy.plan_gc(request),
            validate_gc_plan,
        )?;
        let mut reclaimed = 0;
        let mut removed = Vec::new();
        for id in &plan.remove {
            let Some((_, record)) = layers.iter().find(|(l, _)| l == id) else {
                continue;
            };
            if apply {
                // Record first; a crash leaves a directory the next open
                // sweeps.
                self.store.delete(LAYERS, id)?;
                self.remove_layer_files(record.kind, id)?;
            }
            reclaimed += record.size;
            removed.push(id.clone());
        }
        if apply && !removed.is_empty() {
            tracing::info!(%policy, removed = removed.len(), reclaimed, "graph gc");
        }
        Ok(GcReport {
            policy,
            removed,
            reclaimed,
        })
    }

    /// Sizes of images, layers and container root filesystems.
    pub fn disk_usage(&self) -> Result<DiskUsage, GraphError> {
        let read = self.store.read()?;
        let layers = read.list(LAYERS)?;
        let images = read.list(IMAGES)?;
        let rootfs = read.list(ROOTFS)?;
        let tags = read.list(TAGS)?;
        drop(read);
        let gc = gc_layers(&layers, &images, &rootfs);
        let images_out = images
            .iter()
            .map(|(hex, i)| {
                let shared_size = i
                    .layers
                    .iter()
                    .filter_map(|l| gc.iter().find(|g| &g.id == l))
                    .filter(|g| g.images > 1)
                    .map(|g| g.size)
                    .sum();
                ImageUsage {
                    id: format!("sha256:{hex}"),
                    repo_tags: familiar_sorted(&tags_of(&tags, hex)),
                    size: i.size,
                    shared_size,
                    containers: rootfs.iter().filter(|(_, r)| &r.image_id == hex).count() as u32,
                    created: i.created_unix,
                }
            })
            .collect();
        let containers = rootfs
            .iter()
            .map(|(id, r)| ContainerUsage {
                container_id: id.clone(),
                image_id: format!("sha256:{}", r.image_id),
                size_rw: fsutil::tree_size(&match self.driver {
                    StorageDriver::Overlay => self.layout.upper(id),
                    StorageDriver::Vfs => self.layout.vfs_rootfs(id),
                }),
                mounted: r.mounted,
            })
            .collect();
        Ok(DiskUsage {
            driver: self.driver.name().into(),
            layers_size: layers.iter().map(|(_, l)| l.size).sum(),
            images: images_out,
            layers: gc,
            containers,
        })
    }
}
