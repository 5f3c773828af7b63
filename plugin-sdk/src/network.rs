//! The `network-policy` world: the network driver's configuration decisions.
//!
//! The network driver asks its policy which address a container gets, which
//! DNS servers it uses and how its published ports map onto the host. The
//! policy returns a plan that berthd validates before configuring anything.
//!
//! # Example
//!
//! ```no_run
//! use berth_plugin_sdk::network::*;
//! use berth_plugin_sdk::{register_network_policy, PluginInfo};
//!
//! struct Resolvers;
//!
//! impl NetworkPolicy for Resolvers {
//!     fn new() -> Self {
//!         Resolvers
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "fixed DNS")
//!     }
//!
//!     fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
//!         let address = request
//!             .requested_address
//!             .clone()
//!             .ok_or_else(|| "this policy needs an explicit address".to_string())?;
//!         Ok(NetworkPlan {
//!             address,
//!             dns_servers: vec![request.gateway.clone()],
//!             ports: request.ports.clone(),
//!         })
//!     }
//! }
//!
//! register_network_policy!(Resolvers);
//! ```
//!
//! Its manifest names `world = "network-policy"`.
//!
//! This is the world as WIT 1.0.0 to 1.2.0 have it: one subnet per request,
//! one address per plan, no subnet planning; berthd still serves it (the
//! engine then chooses subnets, and a dual-stack network's IPv6 address,
//! itself). [`v1_3`] is the world as 1.3.0 has it.

pub mod v1_3;

use crate::PluginInfo;
use crate::bindings::network_policy::exports::berth::plugin::network as wit_network;
pub use crate::bindings::network_policy::exports::berth::plugin::network::{
    NetworkPlan, NetworkRequest, PortMapping,
};
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;

/// The network driver's policy.
pub trait NetworkPolicy {
    /// Creates the policy; called once per call.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// The network configuration for `request`.
    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`NetworkPolicy`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: NetworkPolicy> crate::bindings::network_policy::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: NetworkPolicy> wit_network::Guest for Export<T> {
        fn plan_network(request: NetworkRequest) -> Result<NetworkPlan, String> {
            T::new().plan_network(&request)
        }
    }
}

/// Exports `$policy`, a [`NetworkPolicy`], as this component's
/// `network-policy` world. Use it once, at the top level of a plugin crate.
#[macro_export]
macro_rules! register_network_policy {
    ($policy:ty) => {
        #[doc(hidden)]
        type __BerthNetworkPolicyExport = $crate::network::__private::Export<$policy>;
        $crate::bindings::network_policy::__export_network_policy!(
            __BerthNetworkPolicyExport with_types_in $crate::bindings::network_policy
        );
    };
}
