//! Which subnet a new network gets and which addresses and host ports a
//! container gets ([`PluginHost::plan_subnet_by`],
//! [`PluginHost::plan_network_by`]): the `network-policy` world. berthd
//! asks for every network it creates without a subnet and every endpoint
//! it plans, and checks the answer before it configures anything (issue
//! 12).
//!
//! Which plugin decides: an enabled `network-policy` plugin of the plugin
//! directory, else the built-in [`DEFAULT_NETWORK_POLICY_PLUGIN`] (what the
//! engine's own IPAM does: moby's default pools; the wanted address, else
//! the lowest free one; ports as asked) — the same override rule as the
//! other policies. A plugin built before WIT 1.3 plans no subnet and one
//! family's address (see `bindings::v1`).

use crate::manifest::World;
use crate::policy::network_types::{NetworkPlan, NetworkRequest, SubnetPlan, SubnetRequest};
use crate::world::{NetworkPre, WorldPre};
use crate::{PluginError, PluginHost};

/// The built-in network policy.
pub const DEFAULT_NETWORK_POLICY_PLUGIN: &str = "network-policy-default";

/// A network policy's answer to `plan-network`.
#[derive(Debug)]
pub struct NetworkAnswer {
    /// The plugin's name and version (`NAME VERSION`), so that the
    /// caller's checks of the plan can name it.
    pub plugin: String,
    /// Whether the plugin plans every family of the network (built for
    /// WIT 1.3 or later); an older one was asked the network's IPv4 side,
    /// else its IPv6 side, and its plan has that family's address only.
    pub every_family: bool,
    /// Its plan, or its failure; its own refusal comes back as
    /// [`PluginError::Call`] ([`crate::CallFailure::Returned`]).
    pub result: Result<NetworkPlan, PluginError>,
}

fn network_pre(pre: &WorldPre) -> &NetworkPre {
    let WorldPre::Network(pre) = pre else {
        unreachable!("a network-policy plugin has a network pre")
    };
    pre
}

impl PluginHost {
    /// Asks the serving network policy to plan `request`; `None` when no
    /// network-policy plugin is loaded or enabled.
    pub fn plan_network_by(&self, request: &NetworkRequest) -> Option<NetworkAnswer> {
        let plugin = self.policy_for(World::NetworkPolicy)?;
        let every_family = network_pre(plugin.world_pre()).plans_every_family();
        let result = plugin.call_policy(
            self.runtime(),
            "plan-network",
            |pre, store| network_pre(pre).plan_network(store, request),
            |_| Ok::<(), std::convert::Infallible>(()),
        );
        self.report(&plugin, &result);
        Some(NetworkAnswer {
            plugin: plugin.label(),
            every_family,
            result,
        })
    }

    /// Asks the serving network policy for a new network's subnet; `None`
    /// when no network-policy plugin is loaded or enabled, or the serving
    /// one was built before WIT 1.3 (it has no `plan-subnet`: the caller
    /// chooses). Besides the answer, the plugin's `NAME VERSION`.
    pub fn plan_subnet_by(
        &self,
        request: &SubnetRequest,
    ) -> Option<(String, Result<SubnetPlan, PluginError>)> {
        let plugin = self.policy_for(World::NetworkPolicy)?;
        if !network_pre(plugin.world_pre()).plans_every_family() {
            return None;
        }
        let result = plugin.call_policy(
            self.runtime(),
            "plan-subnet",
            |pre, store| network_pre(pre).plan_subnet(store, request),
            |_| Ok::<(), std::convert::Infallible>(()),
        );
        self.report(&plugin, &result);
        Some((plugin.label(), result))
    }
}
