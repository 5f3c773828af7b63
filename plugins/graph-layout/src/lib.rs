//! The default graph-layout policy, built into berthd.
//!
//! It makes the same decisions as the graph driver's `NativeLayoutPolicy`
//! (the plugin host's tests compare their plans input for input):
//! - rootfs: one lower directory per layer while the chain fits in
//!   `max-lower-dirs`; a deeper chain keeps its top `max-lower-dirs - 1`
//!   layers separate and merges the layers below into one flattened lower.
//!   The base of a chain is what related images share, so the flattened base
//!   is the cache most likely to be reused.
//! - import: flatten ahead of time exactly the run `plan-rootfs` would, so
//!   that the image's first container does not pay for it.
//! - gc: remove every layer and flattened cache no image and no container
//!   references, in the order of the request. An admin may spare recently
//!   used ones with the `gc-grace-seconds` configuration value (unset or 0:
//!   no grace, as the native policy).

use berth_plugin_sdk::graph::{
    GcPlan, GcRequest, GraphPolicy, ImportPlan, ImportRequest, LayerInfo, Lower, RootfsPlan,
    RootfsRequest,
};
use berth_plugin_sdk::{PluginInfo, host, register_graph_policy};

struct DefaultLayout;

/// The bottom run to flatten so that `layers` fits in `max_lower_dirs`
/// lowers, or `None` when the chain fits as it is.
fn base_run(layers: &[LayerInfo], max_lower_dirs: u32) -> Result<Option<Lower>, String> {
    let max = max_lower_dirs as usize;
    if layers.len() <= max {
        return Ok(None);
    }
    if max < 1 {
        return Err(format!(
            "cannot lay out {} layers in {max_lower_dirs} lower directories",
            layers.len()
        ));
    }
    let flatten = layers.len() - (max - 1);
    Ok(Some(Lower {
        layers: layers[..flatten].iter().map(|l| l.id.clone()).collect(),
    }))
}

/// The `gc-grace-seconds` configuration value; 0 when unset.
fn gc_grace() -> Result<i64, String> {
    match host::config("gc-grace-seconds") {
        None => Ok(0),
        Some(value) => value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("gc-grace-seconds is {value:?}, not a whole number of seconds")),
    }
}

impl GraphPolicy for DefaultLayout {
    fn new() -> Self {
        DefaultLayout
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "graph-layout",
            env!("CARGO_PKG_VERSION"),
            "default layout: one lower per layer, flattened base for deep chains",
        )
    }

    fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String> {
        let mut lowers = Vec::with_capacity(request.layers.len());
        let mut rest = &request.layers[..];
        if let Some(base) = base_run(&request.layers, request.max_lower_dirs)? {
            rest = &rest[base.layers.len()..];
            lowers.push(base);
        }
        lowers.extend(rest.iter().map(|l| Lower {
            layers: vec![l.id.clone()],
        }));
        Ok(RootfsPlan { lowers })
    }

    fn plan_import(&mut self, request: &ImportRequest) -> Result<ImportPlan, String> {
        Ok(ImportPlan {
            flatten: base_run(&request.layers, request.max_lower_dirs)?
                .into_iter()
                .collect(),
        })
    }

    fn plan_gc(&mut self, request: &GcRequest) -> Result<GcPlan, String> {
        let grace = gc_grace()?;
        Ok(GcPlan {
            remove: request
                .layers
                .iter()
                .filter(|l| l.images == 0 && l.containers == 0)
                .filter(|l| grace <= 0 || request.now.saturating_sub(l.last_used) >= grace)
                .map(|l| l.id.clone())
                .collect(),
        })
    }
}

register_graph_policy!(DefaultLayout);
