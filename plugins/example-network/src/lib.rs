//! An example network policy: the requested address if it is free, else
//! the lowest free address of the subnet (IPv4), DNS from the `dns`
//! configuration value (default: the gateway), ports as requested with
//! host port 0 mapped to the container port.

use std::net::Ipv4Addr;

use berth_plugin_sdk::network::{NetworkPlan, NetworkPolicy, NetworkRequest};
use berth_plugin_sdk::{PluginInfo, host, register_network_policy};

struct FirstFree;

fn parse_subnet(subnet: &str) -> Result<(u32, u32), String> {
    let (base, bits) = subnet
        .split_once('/')
        .ok_or_else(|| format!("subnet {subnet:?} is not CIDR"))?;
    let base: Ipv4Addr = base
        .parse()
        .map_err(|_| format!("subnet {subnet:?} is not IPv4"))?;
    let bits: u32 = bits
        .parse()
        .map_err(|_| format!("subnet {subnet:?} has a bad prefix"))?;
    if !(8..=30).contains(&bits) {
        return Err(format!("subnet {subnet:?}: prefix must be /8 to /30"));
    }
    let mask = u32::MAX << (32 - bits);
    Ok((u32::from(base) & mask, !mask))
}

impl NetworkPolicy for FirstFree {
    fn new() -> Self {
        FirstFree
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-network",
            env!("CARGO_PKG_VERSION"),
            "first free address, configured DNS",
        )
    }

    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
        let used = |a: &str| a == request.gateway || request.used_addresses.iter().any(|u| u == a);
        let address = match &request.requested_address {
            Some(wanted) if used(wanted) => return Err(format!("address {wanted} is in use")),
            Some(wanted) => wanted.clone(),
            None => {
                let (network, hosts) = parse_subnet(&request.subnet)?;
                (1..hosts)
                    .map(|i| Ipv4Addr::from(network + i).to_string())
                    .find(|a| !used(a))
                    .ok_or_else(|| format!("subnet {} is full", request.subnet))?
            }
        };
        let dns = host::config("dns").unwrap_or_else(|| request.gateway.clone());
        let mut ports = request.ports.clone();
        for port in &mut ports {
            if port.host_port == 0 {
                port.host_port = port.container_port;
            }
        }
        Ok(NetworkPlan {
            address,
            dns_servers: vec![dns],
            ports,
        })
    }
}

register_network_policy!(FirstFree);
