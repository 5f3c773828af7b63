//! The graph-layout policy's vocabulary: what the graph driver asks a
//! [`LayoutPolicy`], what a policy answers, and the checks every answer
//! passes before the graph acts on it.
//!
//! Defined here, below both the graph driver (which asks, validates and
//! acts; its built-in answer is `berth_graph::NativeLayoutPolicy`) and the
//! plugin host (which answers through a `graph-policy` WASM plugin), so
//! neither depends on the other.
//!
//! The graph driver asks three questions:
//!
//! - [`plan_rootfs`](LayoutPolicy::plan_rootfs), on every container create: how
//!   the image's layer chain maps onto lower directories, and which contiguous
//!   runs are merged ("flattened") into one cached directory because the
//!   driver cannot stack them all (overlayfs' lower-dir limit, which the graph
//!   computes from the mount option page budget);
//! - [`plan_import`](LayoutPolicy::plan_import), on every image import: which
//!   runs of the new image's chain to flatten ahead of time so that its first
//!   container starts without paying for it;
//! - [`plan_gc`](LayoutPolicy::plan_gc), on garbage collection: which
//!   unreferenced layers (and flattened caches) to remove.
//!
//! Every request and plan is plain data — strings, integers, vectors — so the
//! types map 1:1 onto WIT records of the `graph-policy` world.
//!
//! Layer ids are the bare 64-digit lower-case hex of the layer's diff id (for
//! flattened caches: of the run they were built from). They are never paths:
//! the graph maps ids onto directories itself, and a plan naming anything that
//! is not a layer of the request is refused ([`PlanError`]) before anything
//! is written.
//!
//! Orders are always bottom-first (the base layer first), as in the image
//! config's `rootfs.diff_ids`; the graph reverses them for overlayfs'
//! `lowerdir=` (which lists the top layer first).

use std::collections::HashSet;

/// What a policy reports when it cannot produce a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// Human-readable reason.
    pub message: String,
}

impl PolicyError {
    /// A policy error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The storage driver names the policy sees in requests.
pub mod driver_names {
    /// overlayfs: layers are stacked as lower directories.
    pub const OVERLAY: &str = "overlay";
    /// vfs: layers are copied, bottom first, into a plain directory.
    pub const VFS: &str = "vfs";
}

/// Layer kinds the policy sees in [`GcLayer::kind`].
pub mod layer_kinds {
    /// A layer imported from a tarball (its id is its diff id).
    pub const LAYER: &str = "layer";
    /// A cached merge of a contiguous run of layers.
    pub const FLATTENED: &str = "flattened";
}

/// One layer of an image chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// 64 hex digits (the diff id without `sha256:`).
    pub id: String,
    /// Bytes of regular file content in the layer.
    pub size: u64,
}

/// A flattened cache that already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlattenedInfo {
    /// The cache's id (64 hex).
    pub id: String,
    /// The layers it merges, bottom first.
    pub layers: Vec<String>,
    /// Bytes of regular file content.
    pub size: u64,
}

/// One lower directory of a rootfs: a single layer, or a contiguous run of
/// two or more layers that the graph merges into one cached directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lower {
    /// Layer ids, bottom first.
    pub layers: Vec<String>,
}

/// Input of [`LayoutPolicy::plan_rootfs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsRequest {
    /// The container the rootfs is for (64 hex).
    pub container_id: String,
    /// The image (`sha256:<hex>`).
    pub image_id: String,
    /// [`driver_names::OVERLAY`] or [`driver_names::VFS`].
    pub driver: String,
    /// The image's layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// How many lower directories the driver can stack at most.
    pub max_lower_dirs: u32,
    /// Flattened caches that exist now (reusing one costs nothing).
    pub flattened: Vec<FlattenedInfo>,
}

/// Output of [`LayoutPolicy::plan_rootfs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsPlan {
    /// Lower directories, bottom first. Their layers, concatenated, must be
    /// exactly the image's layers in order.
    pub lowers: Vec<Lower>,
}

/// Input of [`LayoutPolicy::plan_import`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    /// The image being imported (`sha256:<hex>`).
    pub image_id: String,
    /// [`driver_names::OVERLAY`] or [`driver_names::VFS`].
    pub driver: String,
    /// The new image's layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The ids among `layers` that this import adds to the store (the others
    /// were already present).
    pub new_layers: Vec<String>,
    /// How many lower directories the driver can stack at most.
    pub max_lower_dirs: u32,
    /// Flattened caches that exist now.
    pub flattened: Vec<FlattenedInfo>,
}

/// Output of [`LayoutPolicy::plan_import`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPlan {
    /// Runs to flatten now, each two or more contiguous layers of the image,
    /// not overlapping. Empty: flatten nothing ahead of time.
    pub flatten: Vec<Lower>,
}

/// One removable-or-not layer in a [`GcRequest`]: the model's
/// [`LayerUsage`](super::LayerUsage), which the disk usage report shares.
pub type GcLayer = super::LayerUsage;

/// Input of [`LayoutPolicy::plan_gc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcRequest {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Every layer and flattened cache in the store.
    pub layers: Vec<GcLayer>,
}

/// Output of [`LayoutPolicy::plan_gc`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GcPlan {
    /// Ids to remove; each must have no image and no container reference.
    pub remove: Vec<String>,
}

/// Decides how layers are laid out; consulted by the graph driver on every
/// image import, container create and garbage collection.
///
/// Implementations must be pure decisions (no I/O): the graph validates each
/// plan and does the work. Calls come from blocking threads, concurrently.
pub trait LayoutPolicy: Send + Sync {
    /// Names the policy in errors and logs, e.g. `"native"` or
    /// `"graph-layout 1.0.0 (plugin)"`.
    fn name(&self) -> String;

    /// Maps an image's layers onto lower directories for a container.
    fn plan_rootfs(&self, request: &RootfsRequest) -> Result<RootfsPlan, PolicyError>;

    /// Decides what to prepare when an image is imported.
    fn plan_import(&self, request: &ImportRequest) -> Result<ImportPlan, PolicyError>;

    /// Picks the layers garbage collection removes.
    fn plan_gc(&self, request: &GcRequest) -> Result<GcPlan, PolicyError>;
}

/// Whether `id` has the shape of a layer id: 64 lower-case hex digits.
pub fn is_layer_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why the graph refuses a layout policy's plan: each variant names what
/// in the plan breaks which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// An id in the plan is not 64 lower-case hex digits (it could be a path).
    #[error("{id:?} is not a layer id (64 lower-case hex digits)")]
    NotALayerId {
        /// The id as the plan gave it.
        id: String,
    },
    /// A rootfs plan names a lower directory without layers.
    #[error("a lower directory lists no layers")]
    EmptyLower,
    /// A rootfs plan's lower directories do not list the image's layers
    /// exactly once, in order.
    #[error(
        "the lower directories must list the image's {wanted} layers exactly once, in order \
         (bottom first); the plan lists {planned} layer ids{difference}"
    )]
    LayersMismatch {
        /// Layers of the image.
        wanted: usize,
        /// Layer ids the plan lists.
        planned: usize,
        /// The first position where they differ, as text (may be empty).
        difference: String,
    },
    /// A rootfs plan has more lower directories than the driver can mount.
    #[error("{lowers} lower directories exceed the driver's limit of {limit}")]
    TooManyLowers {
        /// Lower directories planned.
        lowers: usize,
        /// The driver's limit.
        limit: u32,
    },
    /// An import plan's flatten run has fewer than two layers.
    #[error("a flatten run needs at least two layers, got {len}")]
    ShortRun {
        /// Layers in the run.
        len: usize,
    },
    /// An import plan's flatten run is not a contiguous part of the chain.
    #[error("flatten run starting at {first} is not a contiguous part of the image's layers")]
    NotContiguous {
        /// The run's first layer.
        first: String,
    },
    /// Two flatten runs of an import plan overlap.
    #[error("flatten runs overlap at layers {start}..{end} of the image")]
    Overlap {
        /// First overlapping position.
        start: usize,
        /// End of the overlapping run.
        end: usize,
    },
    /// A GC plan names a layer twice.
    #[error("layer {id} is listed twice")]
    ListedTwice {
        /// The layer.
        id: String,
    },
    /// A GC plan names a layer the store does not have.
    #[error("{id} is not a layer in the store")]
    NotInStore {
        /// The layer.
        id: String,
    },
    /// A GC plan would remove a layer still in use.
    #[error("layer {id} is still referenced by {images} image(s) and {containers} container(s)")]
    Referenced {
        /// The layer.
        id: String,
        /// Images using it.
        images: u32,
        /// Containers using it.
        containers: u32,
    },
}

fn check_ids<'a>(ids: impl IntoIterator<Item = &'a String>) -> Result<(), PlanError> {
    for id in ids {
        if !is_layer_id(id) {
            return Err(PlanError::NotALayerId { id: id.clone() });
        }
    }
    Ok(())
}

/// Checks a rootfs plan against its request. The graph turns a refusal
/// into `GraphError::InvalidPlan`.
pub fn validate_rootfs_plan(request: &RootfsRequest, plan: &RootfsPlan) -> Result<(), PlanError> {
    for lower in &plan.lowers {
        check_ids(&lower.layers)?;
        if lower.layers.is_empty() {
            return Err(PlanError::EmptyLower);
        }
    }
    let planned: Vec<&String> = plan.lowers.iter().flat_map(|l| &l.layers).collect();
    let wanted: Vec<&String> = request.layers.iter().map(|l| &l.id).collect();
    if planned != wanted {
        return Err(PlanError::LayersMismatch {
            wanted: wanted.len(),
            planned: planned.len(),
            difference: first_difference(&planned, &wanted),
        });
    }
    if plan.lowers.len() > request.max_lower_dirs as usize {
        return Err(PlanError::TooManyLowers {
            lowers: plan.lowers.len(),
            limit: request.max_lower_dirs,
        });
    }
    Ok(())
}

fn first_difference(planned: &[&String], wanted: &[&String]) -> String {
    for (i, (p, w)) in planned.iter().zip(wanted).enumerate() {
        if p != w {
            return format!(" (position {i}: {p} where the image has {w})");
        }
    }
    String::new()
}

/// Checks an import plan: every run has at least two layers, is a contiguous
/// part of the image's chain and does not overlap another run.
pub fn validate_import_plan(request: &ImportRequest, plan: &ImportPlan) -> Result<(), PlanError> {
    let ids: Vec<&String> = request.layers.iter().map(|l| &l.id).collect();
    let mut used: Vec<(usize, usize)> = Vec::new();
    for run in &plan.flatten {
        check_ids(&run.layers)?;
        if run.layers.len() < 2 {
            return Err(PlanError::ShortRun {
                len: run.layers.len(),
            });
        }
        let run_ids: Vec<&String> = run.layers.iter().collect();
        let start = ids
            .windows(run_ids.len())
            .position(|w| w == run_ids.as_slice())
            .ok_or_else(|| PlanError::NotContiguous {
                first: run.layers[0].clone(),
            })?;
        let end = start + run_ids.len();
        if used.iter().any(|&(s, e)| start < e && s < end) {
            return Err(PlanError::Overlap { start, end });
        }
        used.push((start, end));
    }
    Ok(())
}

/// Checks a GC plan: every id is in the request, named once, and has no
/// image or container reference.
pub fn validate_gc_plan(request: &GcRequest, plan: &GcPlan) -> Result<(), PlanError> {
    check_ids(&plan.remove)?;
    let mut seen = HashSet::new();
    for id in &plan.remove {
        if !seen.insert(id) {
            return Err(PlanError::ListedTwice { id: id.clone() });
        }
        let layer = request
            .layers
            .iter()
            .find(|l| &l.id == id)
            .ok_or_else(|| PlanError::NotInStore { id: id.clone() })?;
        if layer.images > 0 || layer.containers > 0 {
            return Err(PlanError::Referenced {
                id: id.clone(),
                images: layer.images,
                containers: layer.containers,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> String {
        format!("{n:064x}")
    }

    fn layers(n: u32) -> Vec<LayerInfo> {
        (0..n)
            .map(|i| LayerInfo {
                id: id(i),
                size: 10,
            })
            .collect()
    }

    fn rootfs_request(n: u32, max: u32) -> RootfsRequest {
        RootfsRequest {
            container_id: "c".repeat(64),
            image_id: format!("sha256:{}", "a".repeat(64)),
            driver: driver_names::OVERLAY.into(),
            layers: layers(n),
            max_lower_dirs: max,
            flattened: vec![],
        }
    }

    #[test]
    fn rootfs_plans_that_reorder_drop_invent_or_exceed_are_rejected() {
        let req = rootfs_request(3, 2);
        let one = |i| Lower {
            layers: vec![id(i)],
        };
        let cases = [
            (vec![one(1), one(0), one(2)], "order"),
            (vec![one(0), one(2)], "dropped"),
            (vec![one(0), one(1), one(2), one(7)], "invented"),
            (vec![one(0), one(1), one(2)], "too many"),
            (
                vec![
                    Lower {
                        layers: vec![id(0), id(1)],
                    },
                    Lower { layers: vec![] },
                    one(2),
                ],
                "empty lower",
            ),
            (
                vec![Lower {
                    layers: vec!["../../etc".into(), id(1), id(2)],
                }],
                "path",
            ),
        ];
        for (lowers, what) in cases {
            let err = validate_rootfs_plan(&req, &RootfsPlan { lowers });
            assert!(err.is_err(), "{what} must be rejected");
        }
        let ok = RootfsPlan {
            lowers: vec![
                Lower {
                    layers: vec![id(0), id(1)],
                },
                one(2),
            ],
        };
        validate_rootfs_plan(&req, &ok).unwrap();
    }

    #[test]
    fn import_plans_must_be_contiguous_disjoint_runs() {
        let req = ImportRequest {
            image_id: String::new(),
            driver: driver_names::VFS.into(),
            layers: layers(5),
            new_layers: vec![],
            max_lower_dirs: 2,
            flattened: vec![],
        };
        let run = |ids: &[u32]| Lower {
            layers: ids.iter().map(|&i| id(i)).collect(),
        };
        let bad = [
            vec![run(&[0])],
            vec![run(&[0, 2])],
            vec![run(&[0, 1, 2]), run(&[2, 3])],
            vec![run(&[3, 9])],
        ];
        for flatten in bad {
            assert!(validate_import_plan(&req, &ImportPlan { flatten }).is_err());
        }
        validate_import_plan(
            &req,
            &ImportPlan {
                flatten: vec![run(&[0, 1]), run(&[2, 3, 4])],
            },
        )
        .unwrap();
    }

    #[test]
    fn gc_plans_may_only_remove_unreferenced_known_layers() {
        let layer = |i, images, containers| GcLayer {
            id: id(i),
            kind: layer_kinds::LAYER.into(),
            size: 1,
            images,
            containers,
            last_used: 0,
        };
        let req = GcRequest {
            now: 100,
            layers: vec![layer(0, 0, 0), layer(1, 1, 0), layer(2, 0, 1)],
        };
        validate_gc_plan(
            &req,
            &GcPlan {
                remove: vec![id(0)],
            },
        )
        .unwrap();
        for remove in [vec![id(1)], vec![id(2)], vec![id(9)], vec![id(0), id(0)]] {
            assert!(validate_gc_plan(&req, &GcPlan { remove }).is_err());
        }
    }
}
