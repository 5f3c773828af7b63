//! An example network policy that replaces berthd's built-in one (WIT
//! 1.3):
//! - a new network's subnet is carved from the plugin's own pool of its
//!   family (`[config]` `pool`/`prefix` for IPv4, `pool6`/`prefix6` for
//!   IPv6): the first block overlapping neither a network of berthd nor a
//!   host route, so `--ipv6` networks need no `--subnet` either;
//! - it refuses to publish a container on a host port below 1024 (the
//!   privileged ports);
//! - it gives containers the highest free address of each subnet instead
//!   of the lowest (the wanted address when it is free).
//!
//! Ports are kept as asked: a host port 0 lets berthd choose one.

use std::net::IpAddr;

use berth_ipam::IpNet;
use berth_plugin_sdk::network::v1_3::{
    FamilyRequest, IpFamily, NetworkPlan, NetworkPolicy, NetworkRequest, SubnetPlan, SubnetRequest,
};
use berth_plugin_sdk::{PluginInfo, host, register_network_policy_v1_3};

struct HighPorts;

/// `[config]` key `key`, parsed, or a message naming it.
fn config<T: std::str::FromStr>(key: &str) -> Result<T, String> {
    let text = host::config(key).ok_or_else(|| format!("[config] {key} is not set"))?;
    text.parse()
        .map_err(|_| format!("[config] {key} = {text:?} is not valid"))
}

fn networks(texts: &[String]) -> Result<Vec<IpNet>, String> {
    texts
        .iter()
        .map(|t| t.parse().map_err(|_| format!("{t:?} is not CIDR")))
        .collect()
}

/// The highest free address of `side`'s subnet, or the wanted one when it
/// is free.
fn from_the_top(side: &FamilyRequest) -> Result<String, String> {
    let used = |a: &str| a == side.gateway || side.used_addresses.iter().any(|u| u == a);
    if let Some(wanted) = &side.requested_address
        && !used(wanted)
    {
        return Ok(wanted.clone());
    }
    let subnet: IpNet = side
        .subnet
        .parse()
        .map_err(|_| format!("subnet {:?} is not CIDR", side.subnet))?;
    // IPv4 keeps its broadcast address out; IPv6 has none.
    let (top, skip) = match subnet {
        IpNet::V4(net) => (u128::from(u32::from(net.broadcast())), 1),
        IpNet::V6(net) => (u128::from(net.broadcast()), 0),
    };
    let network = match subnet.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let address = |n: u128| match subnet {
        IpNet::V4(_) => IpAddr::from(u32::try_from(n).unwrap_or(0).to_be_bytes()),
        IpNet::V6(_) => IpAddr::from(n.to_be_bytes()),
    };
    // The walk down takes at most `used.len() + 2` steps.
    ((network + 1)..=(top - skip))
        .rev()
        .map(|n| address(n).to_string())
        .find(|a| !used(a))
        .ok_or_else(|| format!("subnet {} is full", side.subnet))
}

impl NetworkPolicy for HighPorts {
    fn new() -> Self {
        HighPorts
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "example-network-policy",
            env!("CARGO_PKG_VERSION"),
            "subnets from its own pools; no host port below 1024; addresses from the top of the subnet",
        )
    }

    fn plan_subnet(&mut self, request: &SubnetRequest) -> Result<SubnetPlan, String> {
        let (pool, prefix) = match request.family {
            IpFamily::Ipv4 => ("pool", "prefix"),
            IpFamily::Ipv6 => ("pool6", "prefix6"),
        };
        let pool: IpNet = config(pool)?;
        let prefix: u8 = config(prefix)?;
        let blocks = pool
            .subnets(prefix)
            .map_err(|_| format!("{pool} has no /{prefix} blocks"))?;
        let in_use = networks(&request.subnets_in_use)?;
        let routes = networks(&request.host_routes)?;
        let subnet = berth_ipam::first_free(blocks, &in_use, &routes)
            .ok_or_else(|| format!("every /{prefix} of {pool} is in use"))?;
        Ok(SubnetPlan {
            subnet: subnet.to_string(),
            gateway: None,
        })
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
        let plan = |side: &Option<FamilyRequest>| side.as_ref().map(from_the_top).transpose();
        Ok(NetworkPlan {
            ipv4_address: plan(&request.ipv4)?,
            ipv6_address: plan(&request.ipv6)?,
            dns_servers: Vec::new(),
            ports: request.ports.clone(),
        })
    }
}

register_network_policy_v1_3!(HighPorts);
