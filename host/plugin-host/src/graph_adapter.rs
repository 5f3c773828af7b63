//! The bridge between the plugin host and the graph driver:
//! [`GraphPolicyHandle`] implements `berth_model::graph::policy::LayoutPolicy`,
//! so the graph consults the active graph-policy plugin (the built-in
//! `graph-layout` by default; the handle's fallback, the graph's native
//! policy, when none is enabled). (The `graph-admin` capability needs no
//! bridge: the graph implements `berth_model::graph::GraphAdmin` itself.)
//!
//! The WIT records mirror the model's policy types field for field, so the
//! conversions below are mechanical.

use berth_model::graph::policy::{
    self as model, LayoutPolicy, PolicyError, validate_gc_plan, validate_import_plan,
    validate_rootfs_plan,
};

use crate::policy::graph_types as wit;
use crate::{GraphPolicyHandle, PluginError};

fn to_wit_layers(layers: &[model::LayerInfo]) -> Vec<wit::LayerInfo> {
    layers
        .iter()
        .map(|l| wit::LayerInfo {
            id: l.id.clone(),
            size: l.size,
        })
        .collect()
}

fn to_wit_flattened(flattened: &[model::FlattenedInfo]) -> Vec<wit::FlattenedInfo> {
    flattened
        .iter()
        .map(|f| wit::FlattenedInfo {
            id: f.id.clone(),
            layers: f.layers.clone(),
            size: f.size,
        })
        .collect()
}

fn from_wit_lowers(lowers: &[wit::Lower]) -> Vec<model::Lower> {
    lowers
        .iter()
        .map(|l| model::Lower {
            layers: l.layers.clone(),
        })
        .collect()
}

fn rootfs_request(r: &model::RootfsRequest) -> wit::RootfsRequest {
    wit::RootfsRequest {
        container_id: r.container_id.clone(),
        image_id: r.image_id.clone(),
        driver: r.driver.clone(),
        layers: to_wit_layers(&r.layers),
        max_lower_dirs: r.max_lower_dirs,
        flattened: to_wit_flattened(&r.flattened),
    }
}

fn import_request(r: &model::ImportRequest) -> wit::ImportRequest {
    wit::ImportRequest {
        image_id: r.image_id.clone(),
        driver: r.driver.clone(),
        layers: to_wit_layers(&r.layers),
        new_layers: r.new_layers.clone(),
        max_lower_dirs: r.max_lower_dirs,
        flattened: to_wit_flattened(&r.flattened),
    }
}

fn gc_request(r: &model::GcRequest) -> wit::GcRequest {
    wit::GcRequest {
        now: r.now,
        layers: r
            .layers
            .iter()
            .map(|l| wit::GcLayer {
                id: l.id.clone(),
                kind: l.kind.clone(),
                size: l.size,
                images: l.images,
                containers: l.containers,
                last_used: l.last_used,
            })
            .collect(),
    }
}

fn rootfs_plan(p: &wit::RootfsPlan) -> model::RootfsPlan {
    model::RootfsPlan {
        lowers: from_wit_lowers(&p.lowers),
    }
}

fn import_plan(p: &wit::ImportPlan) -> model::ImportPlan {
    model::ImportPlan {
        flatten: from_wit_lowers(&p.flatten),
    }
}

fn gc_plan(p: &wit::GcPlan) -> model::GcPlan {
    model::GcPlan {
        remove: p.remove.clone(),
    }
}

/// The active plugin's plan; the native policy's when no graph-policy
/// plugin serves now (none loaded, or disabled between the check and the
/// call); otherwise the plugin's failure, named, as a policy error.
fn plan_or_native<Plan>(
    planned: Result<Plan, PluginError>,
    native: impl FnOnce() -> Result<Plan, PolicyError>,
) -> Result<Plan, PolicyError> {
    match planned {
        Ok(plan) => Ok(plan),
        Err(PluginError::NotFound { .. }) => native(),
        Err(e) => Err(PolicyError::new(e.to_string())),
    }
}

impl LayoutPolicy for GraphPolicyHandle {
    fn name(&self) -> String {
        self.active().unwrap_or_else(|| self.fallback.name())
    }

    fn plan_rootfs(
        &self,
        request: &model::RootfsRequest,
    ) -> Result<model::RootfsPlan, PolicyError> {
        let planned = self.plan_rootfs_wit(&rootfs_request(request), |plan| {
            validate_rootfs_plan(request, &rootfs_plan(plan))
        });
        plan_or_native(planned.map(|plan| rootfs_plan(&plan)), || {
            self.fallback.plan_rootfs(request)
        })
    }

    fn plan_import(
        &self,
        request: &model::ImportRequest,
    ) -> Result<model::ImportPlan, PolicyError> {
        let planned = self.plan_import_wit(&import_request(request), |plan| {
            validate_import_plan(request, &import_plan(plan))
        });
        plan_or_native(planned.map(|plan| import_plan(&plan)), || {
            self.fallback.plan_import(request)
        })
    }

    fn plan_gc(&self, request: &model::GcRequest) -> Result<model::GcPlan, PolicyError> {
        let planned = self.plan_gc_wit(&gc_request(request), |plan| {
            validate_gc_plan(request, &gc_plan(plan))
        });
        plan_or_native(planned.map(|plan| gc_plan(&plan)), || {
            self.fallback.plan_gc(request)
        })
    }
}
