//! The graph-layout policy seam, and berth's built-in policy.
//!
//! The vocabulary (requests, plans, the [`LayoutPolicy`] trait and the
//! plan checks) lives in [`berth_model::graph::policy`] so that the plugin
//! host can answer for a WASM policy without depending on this crate; it is
//! re-exported here whole. This module adds [`NativeLayoutPolicy`], the
//! answer the graph uses when no other policy is configured.
//!
//! A plan naming anything that is not a layer of the request is rejected as
//! [`GraphError::InvalidPlan`](crate::GraphError::InvalidPlan) before
//! anything is written.

pub use berth_model::graph::policy::*;

/// berth's built-in policy, the reference the `graph-layout` plugin must
/// reproduce:
///
/// - rootfs: one lower per layer while the chain fits in `max_lower_dirs`;
///   otherwise the bottom `len - (max - 1)` layers are flattened into one
///   lower and the top `max - 1` stay separate (the top of a chain is what
///   differs between related images, the base is what they share, so the
///   flattened base is the cache most likely to be reused);
/// - import: flatten ahead of time exactly the run `plan_rootfs` would;
/// - gc: remove every layer and flattened cache that no image and no
///   container references.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeLayoutPolicy;

impl NativeLayoutPolicy {
    fn base_run(layers: &[LayerInfo], max_lower_dirs: u32) -> Result<Option<Lower>, PolicyError> {
        let max = max_lower_dirs as usize;
        if layers.len() <= max {
            return Ok(None);
        }
        if max < 1 {
            return Err(PolicyError::new(format!(
                "cannot lay out {} layers in {max_lower_dirs} lower directories",
                layers.len()
            )));
        }
        let flatten = layers.len() - (max - 1);
        Ok(Some(Lower {
            layers: layers[..flatten].iter().map(|l| l.id.clone()).collect(),
        }))
    }
}

impl LayoutPolicy for NativeLayoutPolicy {
    fn name(&self) -> String {
        "native".to_owned()
    }

    fn plan_rootfs(&self, request: &RootfsRequest) -> Result<RootfsPlan, PolicyError> {
        let mut lowers = Vec::with_capacity(request.layers.len());
        let mut rest = &request.layers[..];
        if let Some(base) = Self::base_run(&request.layers, request.max_lower_dirs)? {
            rest = &rest[base.layers.len()..];
            lowers.push(base);
        }
        lowers.extend(rest.iter().map(|l| Lower {
            layers: vec![l.id.clone()],
        }));
        Ok(RootfsPlan { lowers })
    }

    fn plan_import(&self, request: &ImportRequest) -> Result<ImportPlan, PolicyError> {
        Ok(ImportPlan {
            flatten: Self::base_run(&request.layers, request.max_lower_dirs)?
                .into_iter()
                .collect(),
        })
    }

    fn plan_gc(&self, request: &GcRequest) -> Result<GcPlan, PolicyError> {
        Ok(GcPlan {
            remove: request
                .layers
                .iter()
                .filter(|l| l.images == 0 && l.containers == 0)
                .map(|l| l.id.clone())
                .collect(),
        })
    }
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
    fn native_keeps_short_chains_as_is() {
        let req = rootfs_request(3, 10);
        let plan = NativeLayoutPolicy.plan_rootfs(&req).unwrap();
        assert_eq!(plan.lowers.len(), 3);
        assert!(plan.lowers.iter().all(|l| l.layers.len() == 1));
        validate_rootfs_plan(&req, &plan).unwrap();
    }

    #[test]
    fn native_flattens_the_base_of_deep_chains() {
        let req = rootfs_request(10, 4);
        let plan = NativeLayoutPolicy.plan_rootfs(&req).unwrap();
        assert_eq!(plan.lowers.len(), 4);
        assert_eq!(plan.lowers[0].layers, (0..7).map(id).collect::<Vec<_>>());
        assert_eq!(plan.lowers[3].layers, vec![id(9)]);
        validate_rootfs_plan(&req, &plan).unwrap();

        let import = ImportRequest {
            image_id: req.image_id.clone(),
            driver: req.driver.clone(),
            layers: req.layers.clone(),
            new_layers: vec![id(9)],
            max_lower_dirs: 4,
            flattened: vec![],
        };
        let iplan = NativeLayoutPolicy.plan_import(&import).unwrap();
        assert_eq!(iplan.flatten, vec![plan.lowers[0].clone()]);
        validate_import_plan(&import, &iplan).unwrap();
    }

    #[test]
    fn native_with_limit_one_flattens_everything() {
        let req = rootfs_request(3, 1);
        let plan = NativeLayoutPolicy.plan_rootfs(&req).unwrap();
        assert_eq!(plan.lowers.len(), 1);
        validate_rootfs_plan(&req, &plan).unwrap();
        assert!(
            NativeLayoutPolicy
                .plan_rootfs(&rootfs_request(3, 0))
                .is_err()
        );
    }

    #[test]
    fn gc_may_only_remove_unreferenced_known_layers() {
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
        let plan = NativeLayoutPolicy.plan_gc(&req).unwrap();
        assert_eq!(plan.remove, vec![id(0)]);
        validate_gc_plan(&req, &plan).unwrap();
        for remove in [vec![id(1)], vec![id(2)], vec![id(9)], vec![id(0), id(0)]] {
            assert!(validate_gc_plan(&req, &GcPlan { remove }).is_err());
        }
    }
}
