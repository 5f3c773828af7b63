//! The `graph-policy` world: the graph driver's layout decisions.
//!
//! The graph driver asks its policy on every image import and container
//! create: how a layer chain maps onto overlay lower directories, when a deep
//! chain is flattened, and which unreferenced layers garbage collection may
//! remove. A policy only decides: it gets plain data and returns a plan that
//! berthd validates before doing the work. It has no filesystem, network or
//! clock (requests carry the time). A `graph-policy` plugin in the plugin
//! directory overrides the built-in default (`plugins/graph-layout`).
//!
//! # Example
//!
//! A policy that flattens a chain only when it must, into as few lower
//! directories as possible, never flattens ahead of time, and collects
//! everything unreferenced:
//!
//! ```no_run
//! use berth_plugin_sdk::graph::*;
//! use berth_plugin_sdk::{register_graph_policy, PluginInfo};
//!
//! struct Flat;
//!
//! impl GraphPolicy for Flat {
//!     fn new() -> Self {
//!         Flat
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "flat layout")
//!     }
//!
//!     fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String> {
//!         let ids: Vec<String> = request.layers.iter().map(|l| l.id.clone()).collect();
//!         let lowers = if ids.len() <= request.max_lower_dirs as usize {
//!             ids.into_iter().map(|id| Lower { layers: vec![id] }).collect()
//!         } else {
//!             vec![Lower { layers: ids }]
//!         };
//!         Ok(RootfsPlan { lowers })
//!     }
//!
//!     fn plan_import(&mut self, _request: &ImportRequest) -> Result<ImportPlan, String> {
//!         Ok(ImportPlan { flatten: Vec::new() })
//!     }
//!
//!     fn plan_gc(&mut self, request: &GcRequest) -> Result<GcPlan, String> {
//!         let remove = request
//!             .layers
//!             .iter()
//!             .filter(|l| l.images == 0 && l.containers == 0)
//!             .map(|l| l.id.clone())
//!             .collect();
//!         Ok(GcPlan { remove })
//!     }
//! }
//!
//! register_graph_policy!(Flat);
//! ```
//!
//! Its manifest, `flat.toml` beside `flat.wasm`:
//!
//! ```toml
//! name = "flat"
//! version = "1.0.0"
//! world = "graph-policy"
//! wit = "1.0.0"
//! ```

use crate::PluginInfo;
use crate::bindings::graph_policy::exports::berth::plugin::graph_layout as wit_layout;
pub use crate::bindings::graph_policy::exports::berth::plugin::graph_layout::{
    FlattenedInfo, GcLayer, GcPlan, GcRequest, ImportPlan, ImportRequest, LayerInfo, Lower,
    RootfsPlan, RootfsRequest,
};
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;

/// The graph driver's layout policy.
pub trait GraphPolicy {
    /// Creates the policy; called once per call (every call gets a fresh
    /// instance).
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// Maps a container's layer chain onto lower directories, bottom first.
    /// The lowers' layers, concatenated, must be the chain in order, and there
    /// may be at most `max_lower_dirs` lowers.
    fn plan_rootfs(&mut self, request: &RootfsRequest) -> Result<RootfsPlan, String>;

    /// Decides which runs of a newly imported image's chain (two or more
    /// contiguous layers each, not overlapping) to flatten ahead of time.
    fn plan_import(&mut self, request: &ImportRequest) -> Result<ImportPlan, String>;

    /// Picks the layers and flattened caches garbage collection removes,
    /// among those no image and no container references.
    fn plan_gc(&mut self, request: &GcRequest) -> Result<GcPlan, String>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`GraphPolicy`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: GraphPolicy> crate::bindings::graph_policy::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: GraphPolicy> wit_layout::Guest for Export<T> {
        fn plan_rootfs(request: RootfsRequest) -> Result<RootfsPlan, String> {
            T::new().plan_rootfs(&request)
        }

        fn plan_import(request: ImportRequest) -> Result<ImportPlan, String> {
            T::new().plan_import(&request)
        }

        fn plan_gc(request: GcRequest) -> Result<GcPlan, String> {
            T::new().plan_gc(&request)
        }
    }
}

/// Exports `$policy`, a [`GraphPolicy`], as this component's `graph-policy`
/// world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_graph_policy {
    ($policy:ty) => {
        #[doc(hidden)]
        type __BerthGraphPolicyExport = $crate::graph::__private::Export<$policy>;
        $crate::bindings::graph_policy::__export_graph_policy!(
            __BerthGraphPolicyExport with_types_in $crate::bindings::graph_policy
        );
    };
}
