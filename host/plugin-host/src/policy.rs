//! Policy calls: sync entry points for the drivers' blocking threads.
//!
//! Policies run in a sync `Store` straight on the caller's thread (the
//! graph driver calls from `spawn_blocking` threads): no runtime hop, no
//! fiber, just instantiate from the `InstancePre` and call.

use std::sync::Arc;

use berth_model::graph::policy::{LayoutPolicy, PlanError};
use wasmtime::Store;

use crate::manifest::World;
use crate::state::CallState;
use crate::world::{GraphPre, WorldPre};
use crate::{PluginError, PluginHost};

/// The `graph-layout` interface's types, as the plugin sees them.
pub mod graph_types {
    pub use crate::bindings::latest::graph_policy::exports::berth::plugin::graph_layout::{
        FlattenedInfo, GcLayer, GcPlan, GcRequest, ImportPlan, ImportRequest, LayerInfo, Lower,
        RootfsPlan, RootfsRequest,
    };
}

/// The `network` interface's types (WIT 1.3, the newest).
pub mod network_types {
    pub use crate::bindings::v1_3::network_policy::exports::berth::plugin::network::{
        FamilyRequest, IpFamily, NetworkPlan, NetworkRequest, PortMapping, SubnetPlan,
        SubnetRequest,
    };
}

/// The `credentials` interface's types.
pub mod registry_types {
    pub use crate::bindings::latest::registry_auth::exports::berth::plugin::credentials::{
        AuthRequest, Credential,
    };
}

/// The validation of a policy whose every well-typed answer is valid
/// (network, registry credentials).
fn accept<R>(_: &R) -> Result<(), std::convert::Infallible> {
    Ok(())
}

/// The graph driver's handle on the active graph-layout policy: the
/// directory's graph-policy plugin if one is loaded, enabled and not in
/// backoff, else the built-in `graph-layout` plugin, else (none enabled)
/// the fallback policy the daemon passed in.
#[derive(Clone)]
pub struct GraphPolicyHandle {
    host: PluginHost,
    /// Answers when no graph-policy plugin serves. The daemon passes the
    /// graph driver's native policy: the plugin host names no graph crate,
    /// so the dependency arrows keep pointing down to `berth-model`.
    pub(crate) fallback: Arc<dyn LayoutPolicy>,
}

impl std::fmt::Debug for GraphPolicyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphPolicyHandle")
            .field("host", &self.host)
            .field("fallback", &self.fallback.name())
            .finish()
    }
}

impl PluginHost {
    /// A handle for the graph driver; cheap to clone, always follows the
    /// currently active policy, and asks `fallback` (the graph's native
    /// policy) when no graph-policy plugin is loaded or enabled.
    pub fn graph_policy(&self, fallback: Arc<dyn LayoutPolicy>) -> GraphPolicyHandle {
        GraphPolicyHandle {
            host: self.clone(),
            fallback,
        }
    }

    /// Asks the active network policy for a plan; `None` when no
    /// network-policy plugin is loaded.
    pub fn plan_network(
        &self,
        request: &network_types::NetworkRequest,
    ) -> Option<Result<network_types::NetworkPlan, PluginError>> {
        self.call_policy(
            World::NetworkPolicy,
            "plan-network",
            |pre, store| {
                let WorldPre::Network(pre) = pre else {
                    unreachable!("a network-policy plugin has a network pre")
                };
                pre.plan_network(store, request)
            },
            accept,
        )
    }

    /// Asks the registry-auth plugin for credentials; `None` when none is
    /// loaded.
    pub fn registry_credentials(
        &self,
        request: &registry_types::AuthRequest,
    ) -> Option<Result<registry_types::Credential, PluginError>> {
        self.call_policy(
            World::RegistryAuth,
            "credentials",
            |pre, store| {
                let WorldPre::Registry(pre) = pre else {
                    unreachable!("a registry-auth plugin has a registry pre")
                };
                pre.lookup(store, request)
            },
            accept,
        )
    }

    /// Runs `call` on the plugin serving `world`'s policy (`None` when no
    /// plugin does) and reports a failure as an event; `validate` judges
    /// what the plugin returned (see `LoadedPlugin::call_policy`).
    pub(crate) fn call_policy<R, E: std::fmt::Display>(
        &self,
        world: World,
        call: &str,
        f: impl FnOnce(&WorldPre, &mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
        validate: impl FnOnce(&R) -> Result<(), E>,
    ) -> Option<Result<R, PluginError>> {
        let plugin = self.policy_for(world)?;
        let result = plugin.call_policy(self.runtime(), call, f, validate);
        self.report(&plugin, &result);
        Some(result)
    }
}

impl GraphPolicyHandle {
    /// `NAME VERSION (builtin|plugin)` of the policy serving now, or `None`.
    pub fn active(&self) -> Option<String> {
        let plugin = self.host.policy_for(World::GraphPolicy)?;
        let origin = match plugin.source {
            crate::PluginSource::Builtin => "built-in plugin",
            crate::PluginSource::Directory { .. } => "plugin",
        };
        Some(format!("{} ({origin})", plugin.label()))
    }

    fn call<R>(
        &self,
        call: &str,
        f: impl FnOnce(&GraphPre, &mut Store<CallState>) -> wasmtime::Result<Result<R, String>>,
        validate: impl FnOnce(&R) -> Result<(), PlanError>,
    ) -> Result<R, PluginError> {
        // The host validates every plan before anything acts on it: an
        // invalid plan is the plugin's failure, never a write.
        self.host
            .call_policy(
                World::GraphPolicy,
                call,
                |pre, store| {
                    let WorldPre::Graph(pre) = pre else {
                        unreachable!("a graph-policy plugin has a graph pre")
                    };
                    f(pre, store)
                },
                validate,
            )
            .unwrap_or_else(|| {
                Err(PluginError::NotFound {
                    what: "graph-policy plugin",
                    name: "(none loaded or enabled)".into(),
                })
            })
    }

    /// Asks the policy how to lay out a container's rootfs, in the WIT's
    /// types; `validate` checks the plan against the request (the graph
    /// driver uses the `LayoutPolicy` impl instead).
    pub fn plan_rootfs_wit(
        &self,
        request: &graph_types::RootfsRequest,
        validate: impl FnOnce(&graph_types::RootfsPlan) -> Result<(), PlanError>,
    ) -> Result<graph_types::RootfsPlan, PluginError> {
        self.call(
            "plan-rootfs",
            |pre, store| pre.plan_rootfs(store, request),
            validate,
        )
    }

    /// Asks the policy what to flatten on import.
    pub fn plan_import_wit(
        &self,
        request: &graph_types::ImportRequest,
        validate: impl FnOnce(&graph_types::ImportPlan) -> Result<(), PlanError>,
    ) -> Result<graph_types::ImportPlan, PluginError> {
        self.call(
            "plan-import",
            |pre, store| pre.plan_import(store, request),
            validate,
        )
    }

    /// Asks the policy which layers garbage collection removes.
    pub fn plan_gc_wit(
        &self,
        request: &graph_types::GcRequest,
        validate: impl FnOnce(&graph_types::GcPlan) -> Result<(), PlanError>,
    ) -> Result<graph_types::GcPlan, PluginError> {
        self.call(
            "plan-gc",
            |pre, store| pre.plan_gc(store, request),
            validate,
        )
    }
}
