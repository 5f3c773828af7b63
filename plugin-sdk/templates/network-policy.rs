//! {{name}}: a berth network policy (WIT 1.3). The network driver asks it
//! for a new network's subnet when none is given, and for a container's
//! addresses (one per family of the network), DNS servers and port
//! mappings; berthd validates every plan before configuring anything.

use berth_plugin_sdk::network::v1_3::{
    FamilyRequest, NetworkPlan, NetworkPolicy, NetworkRequest, SubnetPlan, SubnetRequest,
};
use berth_plugin_sdk::{PluginInfo, host, register_network_policy_v1_3};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Policy;

/// The address wanted on one family of the network (`--ip`/`--ip6`).
fn wanted(side: &FamilyRequest) -> Result<String, String> {
    let address = side
        .requested_address
        .clone()
        .ok_or_else(|| format!("{NAME} needs an explicit address (--ip, --ip6)"))?;
    if address == side.gateway || side.used_addresses.contains(&address) {
        return Err(format!("address {address} is in use"));
    }
    Ok(address)
}

impl NetworkPolicy for Policy {
    fn new() -> Self {
        Policy
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn plan_subnet(&mut self, request: &SubnetRequest) -> Result<SubnetPlan, String> {
        // `subnet-<network>` from the admin's `[config]`.
        let subnet = host::config(&format!("subnet-{}", request.network))
            .ok_or_else(|| format!("{NAME} has no subnet configured for {}", request.network))?;
        Ok(SubnetPlan {
            subnet,
            gateway: None,
        })
    }

    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
        let ipv4_address = request.ipv4.as_ref().map(wanted).transpose()?;
        let ipv6_address = request.ipv6.as_ref().map(wanted).transpose()?;
        // `dns` from the admin's `[config]`, else none (the host's).
        let dns_servers = host::config("dns").into_iter().collect();
        Ok(NetworkPlan {
            ipv4_address,
            ipv6_address,
            dns_servers,
            ports: request.ports.clone(),
        })
    }
}

register_network_policy_v1_3!(Policy);
