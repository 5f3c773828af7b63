//! The `network-policy` world as WIT 1.3.0 has it: the policy also
//! chooses a new network's subnet, and plans an address for every family
//! of the network a container joins (a dual-stack network's IPv6 address
//! included).
//!
//! berthd asks [`NetworkPolicy::plan_subnet`] when `network create` gives
//! no `--subnet` of a family the network has, with the subnets of its
//! networks and the host's routes, and [`NetworkPolicy::plan_network`] for
//! every container joining a network. It checks every plan before acting:
//! a subnet of the asked family, usable, overlapping no network's; an
//! address of each family the request has, a free host address of that
//! subnet.
//!
//! # Example
//!
//! ```no_run
//! use berth_plugin_sdk::network::v1_3::*;
//! use berth_plugin_sdk::{PluginInfo, register_network_policy_v1_3};
//!
//! struct Lowest;
//!
//! impl NetworkPolicy for Lowest {
//!     fn new() -> Self {
//!         Lowest
//!     }
//!
//!     fn info(&self) -> PluginInfo {
//!         PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), "fixed subnet")
//!     }
//!
//!     fn plan_subnet(&mut self, request: &SubnetRequest) -> Result<SubnetPlan, String> {
//!         match request.family {
//!             IpFamily::Ipv4 => Ok(SubnetPlan { subnet: "10.77.0.0/24".into(), gateway: None }),
//!             IpFamily::Ipv6 => Err("no IPv6 here".into()),
//!         }
//!     }
//!
//!     fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
//!         let wanted = |side: &Option<FamilyRequest>| {
//!             side.as_ref().map(|s| s.requested_address.clone().ok_or("give --ip"))
//!                 .transpose()
//!         };
//!         Ok(NetworkPlan {
//!             ipv4_address: wanted(&request.ipv4)?,
//!             ipv6_address: wanted(&request.ipv6)?,
//!             dns_servers: Vec::new(),
//!             ports: request.ports.clone(),
//!         })
//!     }
//! }
//!
//! register_network_policy_v1_3!(Lowest);
//! ```
//!
//! Its manifest names `world = "network-policy"` and `wit = "1.3.0"`
//! ([`WIT_VERSION`]).

use crate::PluginInfo;
use crate::bindings::network_policy_v1_3::exports::berth::plugin::network as wit_network;
pub use crate::bindings::network_policy_v1_3::exports::berth::plugin::network::{
    FamilyRequest, IpFamily, NetworkPlan, NetworkRequest, PortMapping, SubnetPlan, SubnetRequest,
};
use crate::bindings::plugin_imports::berth::plugin::types as wit_types;

/// The WIT version of this module's `network-policy` world. Put it in the
/// manifest's `wit` key.
pub const WIT_VERSION: &str = "1.3.0";

/// The network driver's policy, WIT 1.3.
pub trait NetworkPolicy {
    /// Creates the policy; called once per call.
    fn new() -> Self
    where
        Self: Sized;

    /// Who the plugin is; must match the manifest.
    fn info(&self) -> PluginInfo;

    /// The subnet of `request.family` for a new network.
    fn plan_subnet(&mut self, request: &SubnetRequest) -> Result<SubnetPlan, String>;

    /// The network configuration for `request`: an address for each family
    /// the request has, and none for the others.
    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Adapts a [`NetworkPolicy`] to the generated export traits.
    pub struct Export<T>(core::marker::PhantomData<T>);

    impl<T: NetworkPolicy> crate::bindings::network_policy_v1_3::Guest for Export<T> {
        fn describe() -> wit_types::PluginInfo {
            T::new().info().into()
        }
    }

    impl<T: NetworkPolicy> wit_network::Guest for Export<T> {
        fn plan_subnet(request: SubnetRequest) -> Result<SubnetPlan, String> {
            T::new().plan_subnet(&request)
        }

        fn plan_network(request: NetworkRequest) -> Result<NetworkPlan, String> {
            T::new().plan_network(&request)
        }
    }
}

/// Exports `$policy`, a [`v1_3::NetworkPolicy`](NetworkPolicy), as this
/// component's `network-policy` world of WIT 1.3.0. Use it once, at the
/// top level of a plugin crate.
#[macro_export]
macro_rules! register_network_policy_v1_3 {
    ($policy:ty) => {
        #[doc(hidden)]
        type __BerthNetworkPolicyExport = $crate::network::v1_3::__private::Export<$policy>;
        $crate::bindings::network_policy_v1_3::__export_network_policy_v1_3!(
            __BerthNetworkPolicyExport with_types_in $crate::bindings::network_policy_v1_3
        );
    };
}
