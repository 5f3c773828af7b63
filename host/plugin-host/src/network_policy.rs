//! Which address and host ports a container gets
//! ([`PluginHost::plan_network_by`]): the `network-policy` world. berthd
//! asks for every endpoint it plans and checks the answer before it
//! configures anything (issue 12).
//!
//! Which plugin decides: an enabled `network-policy` plugin of the plugin
//! directory, else the built-in [`DEFAULT_NETWORK_POLICY_PLUGIN`] (what the
//! engine's own IPAM does: the wanted address, else the lowest free one;
//! ports as asked) — the same override rule as the other policies.

use crate::manifest::World;
use crate::policy::network_types::{NetworkPlan, NetworkRequest};
use crate::world::WorldPre;
use crate::{PluginError, PluginHost};

/// The built-in network policy.
pub const DEFAULT_NETWORK_POLICY_PLUGIN: &str = "network-policy-default";

impl PluginHost {
    /// Asks the serving network policy to plan `request`; `None` when no
    /// network-policy plugin is loaded or enabled. Besides the answer, the
    /// plugin's name and version (`NAME VERSION`), so that the caller's
    /// checks of the plan can name it. The plugin's own refusal comes back
    /// as [`PluginError::Call`] ([`crate::CallFailure::Returned`]).
    pub fn plan_network_by(
        &self,
        request: &NetworkRequest,
    ) -> Option<(String, Result<NetworkPlan, PluginError>)> {
        let plugin = self.policy_for(World::NetworkPolicy)?;
        let result = plugin.call_policy(
            self.runtime(),
            "plan-network",
            |pre, store| {
                let WorldPre::Network(pre) = pre else {
                    unreachable!("a network-policy plugin has a network pre")
                };
                pre.plan_network(store, request)
            },
            |_| Ok::<(), std::convert::Infallible>(()),
        );
        self.report(&plugin, &result);
        Some((plugin.label(), result))
    }
}
