//! A deliberately broken graph policy, for the host's tests. `plan-rootfs`
//! misbehaves according to the request's container id:
//! - `spin`: loops forever (the epoch deadline stops it);
//! - `bomb`: allocates until the memory limit stops it;
//! - `panic`: panics (a trap);
//! - `outside`: returns a plan naming a layer that is not in the chain;
//! - anything else: one lower directory per layer.
//!
//! Not built into berthd and not meant for a plugin directory.

use berth_plugin_sdk::graph::{
    GcPlan, GcRequest, GraphPolicy, ImportPlan, ImportRequest, Lower, RootfsPlan, RootfsRequest,
};
use berth_plugin_sdk::{PluginInfo, register_graph_policy};

struct MisbehavePolicy;

impl GraphPolicy for MisbehavePolicy {
    fn new() -> Self {
        MisbehavePolicy
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "misbehave-policy",
            env!("CARGO_PKG_VERSION"),
            "fails on purpose (tests)",
        )
    }

    fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String> {
        match request.container_id.as_str() {
            "spin" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            "panic" => panic!("asked to panic"),
            "outside" => Ok(RootfsPlan {
                lowers: vec![Lower {
                    layers: vec!["../../etc".into()],
                }],
            }),
            _ => Ok(RootfsPlan {
                lowers: request
                    .layers
                    .iter()
                    .map(|layer| Lower {
                        layers: vec![layer.id.clone()],
                    })
                    .collect(),
            }),
        }
    }

    fn plan_import(&mut self, _request: &ImportRequest) -> Result<ImportPlan, String> {
        Ok(ImportPlan {
            flatten: Vec::new(),
        })
    }

    fn plan_gc(&mut self, _request: &GcRequest) -> Result<GcPlan, String> {
        Err("misbehave-policy never collects".into())
    }
}

register_graph_policy!(MisbehavePolicy);
