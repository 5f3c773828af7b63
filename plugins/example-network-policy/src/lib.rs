//! An example network policy that replaces berthd's built-in one: it
//! refuses to publish a container on a host port below 1024 (the
//! privileged ports), and gives containers the highest free address of an
//! IPv4 subnet instead of the lowest (the wanted address when it is free).
//! Ports are kept as asked: a host port 0 lets berthd choose one.

use std::net::Ipv4Addr;

use berth_plugin_sdk::network::{NetworkPlan, NetworkPolicy, NetworkRequest};
use berth_plugin_sdk::{PluginInfo, register_network_policy};

struct HighPorts;

/// The subnet's network address and its host-part mask.
fn parse_subnet(subnet: &str) -> Result<(u32, u32), String> {
    let bad = || format!("subnet {subnet:?} is not an IPv4 CIDR");
    let (base, bits) = subnet.split_once('/').ok_or_else(bad)?;
    let base: Ipv4Addr = base.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    if !(1..=30).contains(&bits) {
        return Err(format!("subnet {subnet:?}: prefix must be /1 to /30"));
    }
    let host = u32::MAX >> bits;
    Ok((u32::from(base) & !host, host))
}

impl NetworkPolicy for HighPorts {
    fn new() -> Self {
        HighPorts
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-network-policy",
            env!("CARGO_PKG_VERSION"),
            "no host port below 1024; addresses from the top of the subnet",
        )
    }

    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
        if let Some(low) = request
            .ports
            .iter()
            .find(|p| p.host_port != 0 && p.host_port < 1024)
        {
            return Err(format!(
                "host port {} is below 1024: this host publishes on ports 1024 and up",
                low.host_port
            ));
        }
        let used = |a: &str| a == request.gateway || request.used_addresses.iter().any(|u| u == a);
        let address = match &request.requested_address {
            Some(wanted) if !used(wanted) => wanted.clone(),
            _ => {
                let (network, host) = parse_subnet(&request.subnet)?;
                // From the broadcast address down, not including it.
                (1..host)
                    .rev()
                    .map(|i| Ipv4Addr::from(network | i).to_string())
                    .find(|a| !used(a))
                    .ok_or_else(|| format!("subnet {} is full", request.subnet))?
            }
        };
        Ok(NetworkPlan {
            address,
            dns_servers: Vec::new(),
            ports: request.ports.clone(),
        })
    }
}

register_network_policy!(HighPorts);
