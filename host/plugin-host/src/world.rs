//! The instantiable form of a plugin, by world and by the bindings module of
//! the WIT version it was built for, and its calls in the newest bindings'
//! types: callers pass and get `latest` records whatever version the plugin
//! speaks; a 1.0 plugin's records are converted at this boundary
//! (`bindings::v1`).
//!
//! Every call instantiates afresh from the `InstancePre` into the caller's
//! `Store` (one store per call: nothing survives between calls).

use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::bindings::{latest, v1, v1_2, v1_3};
use crate::manifest::World;
use crate::state::CallState;
use crate::wit::BindingsVersion;

use latest::graph_policy::berth::plugin::types::{HandlerInfo, PluginInfo};
use latest::graph_policy::exports::berth::plugin::graph_layout as graph;
use latest::registry_auth::exports::berth::plugin::credentials;
use v1_2::registry_policy::exports::berth::plugin::credential_choice as choice;
use v1_3::network_policy::exports::berth::plugin::network;

/// A world's `InstancePre`, in the bindings of the plugin's WIT version.
pub(crate) enum Versioned<Old, New> {
    /// Built against WIT 1.0.x (`bindings::v1`); for `network-policy`,
    /// against 1.0.x to 1.2.x (its interface changed in 1.3).
    V1(Old),
    /// Built against the WIT that last changed the world or later
    /// (`bindings::latest`; `bindings::v1_3` for `network-policy`).
    Latest(New),
}

/// A job handler.
pub(crate) type JobPre = Versioned<
    v1::job_handler::JobHandlerPre<CallState>,
    latest::job_handler::JobHandlerPre<CallState>,
>;
/// A graph-layout policy.
pub(crate) type GraphPre = Versioned<
    v1::graph_policy::GraphPolicyPre<CallState>,
    latest::graph_policy::GraphPolicyPre<CallState>,
>;
/// A network policy.
pub(crate) type NetworkPre = Versioned<
    v1::network_policy::NetworkPolicyPre<CallState>,
    v1_3::network_policy::NetworkPolicyPre<CallState>,
>;
/// A registry-auth policy.
pub(crate) type RegistryPre = Versioned<
    v1::registry_auth::RegistryAuthPre<CallState>,
    latest::registry_auth::RegistryAuthPre<CallState>,
>;
/// An authz policy (the world exists since 1.1.0 only).
pub(crate) type AuthzPre = latest::authz::AuthzPre<CallState>;
/// A registry policy (the world exists since 1.2.0 only).
pub(crate) type RegistryPolicyPre = v1_2::registry_policy::RegistryPolicyPre<CallState>;

/// The instantiable form of a plugin, by world.
pub(crate) enum WorldPre {
    Job(JobPre),
    Graph(GraphPre),
    Network(NetworkPre),
    Registry(RegistryPre),
    Authz(AuthzPre),
    RegistryPolicy(RegistryPolicyPre),
}

impl WorldPre {
    /// Checks the component's exports against `world` in the bindings of
    /// `version` and keeps the typed form.
    pub fn new(
        world: World,
        version: BindingsVersion,
        pre: InstancePre<CallState>,
    ) -> wasmtime::Result<WorldPre> {
        use BindingsVersion::{V1, V1_1, V1_2, V1_3};
        use Versioned::{Latest, V1 as Old};
        // 1.2.0 only adds a world, 1.3.0 only changes `network-policy`: a
        // plugin of a world carried forward is served by the bindings of
        // the version that last changed it (see `bindings::v1_2`).
        Ok(match (world, version) {
            (World::JobHandler, V1) => {
                WorldPre::Job(Old(v1::job_handler::JobHandlerPre::new(pre)?))
            }
            (World::JobHandler, V1_1 | V1_2 | V1_3) => {
                WorldPre::Job(Latest(latest::job_handler::JobHandlerPre::new(pre)?))
            }
            (World::GraphPolicy, V1) => {
                WorldPre::Graph(Old(v1::graph_policy::GraphPolicyPre::new(pre)?))
            }
            (World::GraphPolicy, V1_1 | V1_2 | V1_3) => {
                WorldPre::Graph(Latest(latest::graph_policy::GraphPolicyPre::new(pre)?))
            }
            // `network` was the same from 1.0 to 1.2 (`bindings::v1`).
            (World::NetworkPolicy, V1 | V1_1 | V1_2) => {
                WorldPre::Network(Old(v1::network_policy::NetworkPolicyPre::new(pre)?))
            }
            (World::NetworkPolicy, V1_3) => {
                WorldPre::Network(Latest(v1_3::network_policy::NetworkPolicyPre::new(pre)?))
            }
            (World::RegistryAuth, V1) => {
                WorldPre::Registry(Old(v1::registry_auth::RegistryAuthPre::new(pre)?))
            }
            (World::RegistryAuth, V1_1 | V1_2 | V1_3) => {
                WorldPre::Registry(Latest(latest::registry_auth::RegistryAuthPre::new(pre)?))
            }
            (World::Authz, V1_1 | V1_2 | V1_3) => {
                WorldPre::Authz(latest::authz::AuthzPre::new(pre)?)
            }
            (World::RegistryPolicy, V1_2 | V1_3) => {
                WorldPre::RegistryPolicy(v1_2::registry_policy::RegistryPolicyPre::new(pre)?)
            }
            // Manifest::parse refuses a world older than the WIT it needs.
            (World::RegistryPolicy, V1 | V1_1) => {
                return Err(wasmtime::format_err!(
                    "world registry-policy needs berth:plugin WIT {} or newer",
                    World::RegistryPolicy.since()
                ));
            }
            // Manifest::parse refuses an authz manifest with wit < 1.1.0.
            (World::Authz, V1) => {
                return Err(wasmtime::format_err!(
                    "world authz needs berth:plugin WIT {} or newer",
                    World::Authz.since()
                ));
            }
        })
    }

    /// Calls a policy's `describe` (job handlers describe themselves
    /// through [`JobPre::describe`]).
    pub fn describe_policy(&self, store: &mut Store<CallState>) -> wasmtime::Result<PluginInfo> {
        use Versioned::{Latest, V1};
        match self {
            WorldPre::Graph(V1(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Graph(Latest(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Network(V1(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Network(Latest(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Registry(V1(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Registry(Latest(pre)) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Authz(pre) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::RegistryPolicy(pre) => pre.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Job(_) => Err(wasmtime::format_err!(
                "a job handler describes itself with its jobs"
            )),
        }
    }
}

impl JobPre {
    /// Calls `describe`: the plugin and its jobs.
    pub async fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<HandlerInfo> {
        match self {
            Versioned::V1(pre) => {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.call_describe(store).await
            }
            Versioned::Latest(pre) => {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.call_describe(store).await
            }
        }
    }

    /// Runs job `name`; returns its exit status.
    pub async fn run(
        &self,
        store: &mut Store<CallState>,
        name: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> wasmtime::Result<i32> {
        match self {
            Versioned::V1(pre) => {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings
                    .berth_plugin_job()
                    .call_run(store, name, args, env)
                    .await
            }
            Versioned::Latest(pre) => {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings
                    .berth_plugin_job()
                    .call_run(store, name, args, env)
                    .await
            }
        }
    }
}

/// What a policy call returns: the plugin's value or its refusal, inside
/// wasmtime's error for traps.
type PolicyResult<T> = wasmtime::Result<Result<T, String>>;

/// Converts a 1.0 plugin's answer to the newest types.
fn up<T, U: From<T>>(answer: PolicyResult<T>) -> PolicyResult<U> {
    answer.map(|r| r.map(U::from))
}

impl GraphPre {
    /// `plan-rootfs`.
    pub fn plan_rootfs(
        &self,
        store: &mut Store<CallState>,
        request: &graph::RootfsRequest,
    ) -> PolicyResult<graph::RootfsPlan> {
        match self {
            Versioned::V1(pre) => up(pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_rootfs(store, &request.into())),
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_rootfs(store, request),
        }
    }

    /// `plan-import`.
    pub fn plan_import(
        &self,
        store: &mut Store<CallState>,
        request: &graph::ImportRequest,
    ) -> PolicyResult<graph::ImportPlan> {
        match self {
            Versioned::V1(pre) => up(pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_import(store, &request.into())),
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_import(store, request),
        }
    }

    /// `plan-gc`.
    pub fn plan_gc(
        &self,
        store: &mut Store<CallState>,
        request: &graph::GcRequest,
    ) -> PolicyResult<graph::GcPlan> {
        match self {
            Versioned::V1(pre) => up(pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_gc(store, &request.into())),
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_graph_layout()
                .call_plan_gc(store, request),
        }
    }
}

impl NetworkPre {
    /// Whether the policy plans subnets and every family of a network
    /// (built for WIT 1.3 or later); an older one plans one family's
    /// address (see `bindings::v1`).
    pub fn plans_every_family(&self) -> bool {
        matches!(self, Versioned::Latest(_))
    }

    /// `plan-network`. A pre-1.3 policy is asked the request's IPv4 side,
    /// else its IPv6 side, and its address comes back as that family's.
    pub fn plan_network(
        &self,
        store: &mut Store<CallState>,
        request: &network::NetworkRequest,
    ) -> PolicyResult<network::NetworkPlan> {
        match self {
            Versioned::V1(pre) => {
                let (family, side) = v1::asked_side(request).ok_or_else(|| {
                    wasmtime::format_err!("network {} has no subnet to plan", request.network)
                })?;
                let old = v1::request_down(request, side);
                let answer = pre
                    .instantiate(&mut *store)?
                    .berth_plugin_network()
                    .call_plan_network(store, &old)?;
                Ok(answer.map(|plan| v1::plan_up(plan, family)))
            }
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_network()
                .call_plan_network(store, request),
        }
    }

    /// `plan-subnet`; a policy built before 1.3 has none (callers ask
    /// [`Self::plans_every_family`] first).
    pub fn plan_subnet(
        &self,
        store: &mut Store<CallState>,
        request: &network::SubnetRequest,
    ) -> PolicyResult<network::SubnetPlan> {
        match self {
            Versioned::V1(_) => Err(wasmtime::format_err!(
                "a network policy built before berth:plugin WIT 1.3.0 has no plan-subnet"
            )),
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_network()
                .call_plan_subnet(store, request),
        }
    }
}

impl RegistryPre {
    /// `lookup`.
    pub fn lookup(
        &self,
        store: &mut Store<CallState>,
        request: &credentials::AuthRequest,
    ) -> PolicyResult<credentials::Credential> {
        match self {
            Versioned::V1(pre) => up(pre
                .instantiate(&mut *store)?
                .berth_plugin_credentials()
                .call_lookup(store, &request.into())),
            Versioned::Latest(pre) => pre
                .instantiate(&mut *store)?
                .berth_plugin_credentials()
                .call_lookup(store, request),
        }
    }
}

impl RegistryPolicyPre {
    /// `choose`.
    pub fn choose(
        &self,
        store: &mut Store<CallState>,
        request: &choice::AccessRequest,
        held: &[choice::CredentialRef],
    ) -> PolicyResult<choice::Choice> {
        self.instantiate(&mut *store)?
            .berth_plugin_credential_choice()
            .call_choose(store, request, held)
    }
}
