//! The default network policy, built into berthd: what dockerd's default
//! IPAM and port mapper do (moby `libnetwork/ipams/defaultipam`,
//! `libnetwork/portmapper`).
//!
//! - a new network's IPv4 subnet: the first of moby's default pools that
//!   overlaps neither a network of berthd nor a host route (the walk is
//!   `berth_ipam`'s, the one the engine uses for older policies); an IPv6
//!   one: the first free /64 of the daemon's ULA /48, which berthd hands
//!   it as `[config] default-ipv6-pool` (moby 27's default IPv6 pool);
//! - for each family of the network, the address berthd asks for (`--ip`, else the address the container
//!   had, which berthd offers only while it is free) when it is a host
//!   address of the subnet other than the gateway and not in use, else the
//!   lowest free host address; moby's IPAM messages when there is none;
//! - no name servers of its own (berthd's resolver rules apply);
//! - every published port as asked: a host port 0 lets berthd choose.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_ipam::{IpNet, Ipv6Net};
use berth_plugin_sdk::network::v1_3::{
    FamilyRequest, IpFamily, NetworkPlan, NetworkPolicy, NetworkRequest, SubnetPlan, SubnetRequest,
};
use berth_plugin_sdk::{PluginInfo, host, register_network_policy_v1_3};

struct Default;

/// A subnet as numbers: its first and last host address, its family.
struct Range {
    first: u128,
    last: u128,
    v4: bool,
}

impl Range {
    fn parse(cidr: &str) -> Result<Range, String> {
        let bad = || format!("subnet {cidr:?} is not CIDR");
        let (base, bits) = cidr.split_once('/').ok_or_else(bad)?;
        let base: IpAddr = base.parse().map_err(|_| bad())?;
        let bits: u32 = bits.parse().map_err(|_| bad())?;
        let (value, width, v4) = match base {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32, true),
            IpAddr::V6(a) => (u128::from(a), 128, false),
        };
        if bits > width {
            return Err(bad());
        }
        let host_bits = width - bits;
        let size_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let network = value & !size_mask;
        let top = network | size_mask;
        // IPv4 has a broadcast address; IPv6 only its subnet-router
        // (network) address is not a host's (as berthd's `Subnet`).
        let last = if v4 { top.saturating_sub(1) } else { top };
        Ok(Range {
            first: network + 1,
            last,
            v4,
        })
    }

    fn number(&self, addr: IpAddr) -> Option<u128> {
        match addr {
            IpAddr::V4(a) if self.v4 => Some(u128::from(u32::from(a))),
            IpAddr::V6(a) if !self.v4 => Some(u128::from(a)),
            _ => None,
        }
    }

    fn address(&self, n: u128) -> IpAddr {
        if self.v4 {
            // The range of an IPv4 subnet holds 32-bit numbers only.
            IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
        } else {
            IpAddr::V6(Ipv6Addr::from(n))
        }
    }
}

/// The address of one family: the wanted one when it is a free host
/// address of the subnet, else the lowest free one.
fn address(side: &FamilyRequest) -> Result<IpAddr, String> {
    let range = Range::parse(&side.subnet)?;
    let gateway: IpAddr = side
        .gateway
        .parse()
        .map_err(|_| format!("gateway {:?} is not an address", side.gateway))?;
    let used: Vec<IpAddr> = side
        .used_addresses
        .iter()
        .filter_map(|a| a.parse().ok())
        .chain([gateway])
        .collect();
    match &side.requested_address {
        Some(wanted) => {
            // moby `ErrIPOutOfRange`, `ErrIPAlreadyAllocated`.
            let addr: IpAddr = wanted
                .parse()
                .map_err(|_| "Requested address is out of range".to_owned())?;
            let inside = range
                .number(addr)
                .is_some_and(|n| (range.first..=range.last).contains(&n));
            if !inside || addr == gateway {
                return Err("Requested address is out of range".into());
            }
            if used.contains(&addr) {
                return Err("Address already in use".into());
            }
            Ok(addr)
        }
        // The walk takes at most `used.len() + 1` steps.
        None => (range.first..=range.last)
            .map(|n| range.address(n))
            .find(|a| !used.contains(a))
            // moby `ErrNoAvailableIPs`.
            .ok_or_else(|| "No available addresses on this pool".to_owned()),
    }
}

/// The daemon's default IPv6 pool, which berthd hands every plugin as
/// configuration (derived from its engine id as moby derives its ULA /48
/// from its host id); an admin's `[config]` may set another.
fn ipv6_pool() -> Result<Ipv6Net, String> {
    let key = berth_ipam::DEFAULT_IPV6_POOL_CONFIG;
    let text = host::config(key).ok_or_else(|| {
        format!(
            "--ipv6 without an IPv6 --subnet needs a default IPv6 pool: [config] {key} is not set"
        )
    })?;
    text.parse()
        .map_err(|_| format!("[config] {key} = {text:?} is not an IPv6 CIDR"))
}

/// `texts` as networks; what berthd sends is CIDR, anything else is said.
fn networks(texts: &[String]) -> Result<Vec<IpNet>, String> {
    texts
        .iter()
        .map(|t| t.parse().map_err(|_| format!("{t:?} is not CIDR")))
        .collect()
}

impl NetworkPolicy for Default {
    fn new() -> Self {
        Default
    }

    fn info(&self) -> PluginInfo {
        PluginInfo::new(
            "network-policy-default",
            env!("CARGO_PKG_VERSION"),
            "default network policy: moby's default pools; the wanted address, else the lowest free one; ports as asked",
        )
    }

    fn plan_subnet(&mut self, request: &SubnetRequest) -> Result<SubnetPlan, String> {
        let in_use = networks(&request.subnets_in_use)?;
        let routes = networks(&request.host_routes)?;
        let subnet = match request.family {
            IpFamily::Ipv4 => berth_ipam::choose_default_ipv4(&in_use, &routes).ok_or(
                // moby's message when every default pool is taken.
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
            )?,
            IpFamily::Ipv6 => {
                berth_ipam::choose_default_ipv6(ipv6_pool()?, &in_use, &routes).ok_or(
                    // moby's message for the other family.
                    "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network",
                )?
            }
        };
        Ok(SubnetPlan {
            subnet: subnet.to_string(),
            gateway: None,
        })
    }

    fn plan_network(&mut self, request: &NetworkRequest) -> Result<NetworkPlan, String> {
        let plan = |side: &Option<FamilyRequest>| {
            side.as_ref()
                .map(|s| address(s).map(|a| a.to_string()))
                .transpose()
        };
        Ok(NetworkPlan {
            ipv4_address: plan(&request.ipv4)?,
            ipv6_address: plan(&request.ipv6)?,
            dns_servers: Vec::new(),
            ports: request.ports.clone(),
        })
    }
}

register_network_policy_v1_3!(Default);
