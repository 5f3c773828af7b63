//! An example graph-layout policy: a container's rootfs gets two lower
//! directories whatever the image's depth — the image's top layer, and
//! every layer below it flattened into one (built on import, so the first
//! container does not pay for it). Garbage collection is the default's:
//! what no image and no container uses.

use berth_plugin_sdk::graph::{
    GcPlan, GcRequest, GraphPolicy, ImportPlan, ImportRequest, LayerInfo, Lower, RootfsPlan,
    RootfsRequest,
};
use berth_plugin_sdk::{PluginInfo, register_graph_policy};

struct TwoLowers;

/// Every layer but the top one, when there are at least two.
fn base(layers: &[LayerInfo]) -> Option<Lower> {
    (layers.len() > 1).then(|| Lower {
        layers: layers[..layers.len() - 1]
            .iter()
            .map(|l| l.id.clone())
            .collect(),
    })
}

impl GraphPolicy for TwoLowers {
    fn new() -> Self {
        TwoLowers
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-graph-flatten",
            env!("CARGO_PKG_VERSION"),
            "two lowers: the image's top layer and everything below it flattened",
        )
    }

    fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String> {
        let mut lowers: Vec<Lower> = base(&request.layers).into_iter().collect();
        if let Some(top) = request.layers.last() {
            lowers.push(Lower {
                layers: vec![top.id.clone()],
            });
        }
        Ok(RootfsPlan { lowers })
    }

    fn plan_import(&mut self, request: &ImportRequest) -> Result<ImportPlan, String> {
        Ok(ImportPlan {
            flatten: base(&request.layers).into_iter().collect(),
        })
    }

    fn plan_gc(&mut self, request: &GcRequest) -> Result<GcPlan, String> {
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

register_graph_policy!(TwoLowers);
