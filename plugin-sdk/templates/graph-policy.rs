//! {{name}}: a berth graph-layout policy. The graph driver asks it how to
//! lay out a container's lower directories, what to flatten at import and
//! what to remove at gc; it validates every plan before acting on it.

use berth_plugin_sdk::graph::{
    GcPlan, GcRequest, GraphPolicy, ImportPlan, ImportRequest, Lower, RootfsPlan, RootfsRequest,
};
use berth_plugin_sdk::{PluginInfo, register_graph_policy};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Layout;

impl GraphPolicy for Layout {
    fn new() -> Self {
        Layout
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String> {
        // One lower directory per layer, as long as the chain fits.
        if request.layers.len() > request.max_lower_dirs as usize {
            return Err(format!(
                "{} layers do not fit in {} lower directories",
                request.layers.len(),
                request.max_lower_dirs
            ));
        }
        Ok(RootfsPlan {
            lowers: request
                .layers
                .iter()
                .map(|layer| Lower {
                    layers: vec![layer.id.clone()],
                })
                .collect(),
        })
    }

    fn plan_import(&mut self, _request: &ImportRequest) -> Result<ImportPlan, String> {
        Ok(ImportPlan {
            flatten: Vec::new(),
        })
    }

    fn plan_gc(&mut self, request: &GcRequest) -> Result<GcPlan, String> {
        // Every layer no image and no container uses.
        Ok(GcPlan {
            remove: request
                .layers
                .iter()
                .filter(|layer| layer.images == 0 && layer.containers == 0)
                .map(|layer| layer.id.clone())
                .collect(),
        })
    }
}

register_graph_policy!(Layout);
