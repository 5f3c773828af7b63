//! {{name}}: a berth network policy. The network driver asks it for a
//! container's address, DNS servers and port mappings; it validates the
//! plan before configuring anything.

use berth_plugin_sdk::network::{NetworkPlan, NetworkPolicy, NetworkRequest};
use berth_plugin_sdk::{PluginInfo, host, register_network_policy};

/// The plugin's name, as in `{{name}}.toml`.
const NAME: &str = "{{name}}";

struct Policy;

impl NetworkPolicy for Policy {
    fn new() -> Self {
        Policy
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), "{{summary}}")
    }

    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
        let address = request
            .requested_address
            .clone()
            .ok_or_else(|| format!("{NAME} needs an explicit address (--ip)"))?;
        if address == request.gateway || request.used_addresses.contains(&address) {
            return Err(format!("address {address} is in use"));
        }
        // `dns` from the admin's `[config]`, else the gateway.
        let dns = host::config("dns").unwrap_or_else(|| request.gateway.clone());
        Ok(NetworkPlan {
            address,
            dns_servers: vec![dns],
            ports: request.ports.clone(),
        })
    }
}

register_network_policy!(Policy);
