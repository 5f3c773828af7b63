//! Garbage collection through the policy, and the disk usage report.

use berth_model::graph::{
    ContainerUsage, DiskUsage, GcReport, GraphAdmin, GraphAdminError, ImageUsage,
};

use crate::error::GraphError;
use crate::fsutil;
use crate::graph::{Graph, StorageDriver, now_unix};
use crate::image::{familiar_sorted, tags_of};
use crate::policy::{GcLayer, GcRequest, layer_kinds, validate_gc_plan};
use crate::records::{
    IMAGES, ImageRecord, LAYERS, LayerKind, LayerRecord, ROOTFS, RootfsRecord, TAGS,
};

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
        let pinned: Vec<String> = self
            .pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        for id in &plan.remove {
            let Some((_, record)) = layers.iter().find(|(l, _)| l == id) else {
                continue;
            };
            // Added for an image that is being registered: whatever the
            // plan, not removed (the race of add_layer and create_image).
            if pinned.contains(id) {
                continue;
            }
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
            dry_run: !apply,
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

/// The graph serves plugin job handlers granted `graph-admin` directly:
/// the reports are the model's types, so nothing is copied on the way.
impl GraphAdmin for Graph {
    fn disk_usage(&self) -> Result<DiskUsage, GraphAdminError> {
        Graph::disk_usage(self).map_err(|e| GraphAdminError {
            op: "measure the disk usage of",
            source: Box::new(e),
        })
    }

    fn gc(&self, dry_run: bool) -> Result<GcReport, GraphAdminError> {
        if dry_run {
            self.gc_dry_run()
        } else {
            Graph::gc(self)
        }
        .map_err(|e| GraphAdminError {
            op: "garbage-collect",
            source: Box::new(e),
        })
    }
}
