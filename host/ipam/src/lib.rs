//! moby's default address pools and the walk over them that gives a new
//! network its subnet (moby `libnetwork/ipamutils` and the default IPAM's
//! pool allocation, `libnetwork/ipams/defaultipam`).
//!
//! One implementation for two callers: the built-in `network-policy-default`
//! plugin (built for `wasm32-wasip2`, so this crate needs nothing beyond
//! `std` and `ipnet`) answers WIT 1.3's `plan-subnet` with it, and the
//! engine uses it itself when the serving network policy predates 1.3 and
//! has no `plan-subnet`.

#![warn(missing_docs)]

use std::net::Ipv4Addr;

pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The plugin configuration key under which berthd hands every plugin its
/// default IPv6 pool, a ULA /48 in CIDR (a host fact a pure policy cannot
/// derive: it comes from the engine id). The manifest's `[config]` or the
/// admin's grants may set another.
pub const DEFAULT_IPV6_POOL_CONFIG: &str = "default-ipv6-pool";

/// The size of the subnets carved from the default IPv6 pool (moby
/// `deriveULABaseNetwork`: `Size: 64`).
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// moby's default IPv4 address pools (`ipamutils.localScopeDefaultNetworks`):
/// 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20s.
///
/// The default IPv6 pool is the daemon's own ULA /48 (see
/// [`choose_default_ipv6`]); its derivation from the engine id is the
/// host's (berthd hands the /48 to the policy).
pub fn default_pools() -> Vec<Ipv4Net> {
    let mut pools = Vec::new();
    for second in 17..=31u8 {
        pools.extend(Ipv4Net::new(Ipv4Addr::new(172, second, 0, 0), 16).ok());
    }
    if let Ok(base) = Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16)
        && let Ok(subnets) = base.subnets(20)
    {
        pools.extend(subnets);
    }
    pools
}

/// Whether two networks share an address (one contains the other: CIDR
/// blocks never overlap partially).
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// The first of `pools` that overlaps neither a subnet in `in_use` nor a
/// host route in `routes`. A default route (prefix length 0) overlaps
/// everything and is not counted, as moby skips it.
pub fn first_free(
    pools: impl IntoIterator<Item = IpNet>,
    in_use: &[IpNet],
    routes: &[IpNet],
) -> Option<IpNet> {
    let routes: Vec<&IpNet> = routes.iter().filter(|r| r.prefix_len() != 0).collect();
    pools.into_iter().find(|pool| {
        !in_use.iter().any(|net| overlaps(pool, net))
            && !routes.iter().any(|route| overlaps(pool, route))
    })
}

/// The first of moby's default IPv4 pools free of `in_use` and `routes`
/// ([`first_free`] over [`default_pools`]); `None` when every pool is
/// taken (moby: "could not find an available, non-overlapping IPv4 address
/// pool among the defaults to assign to the network").
pub fn choose_default_ipv4(in_use: &[IpNet], routes: &[IpNet]) -> Option<IpNet> {
    first_free(default_pools().into_iter().map(IpNet::V4), in_use, routes)
}

/// The first /64 of `pool` (the daemon's ULA /48, moby
/// `deriveULABaseNetwork`) free of `in_use` and `routes` ([`first_free`]),
/// as moby's default IPAM carves its IPv6 default pool; `None` when every
/// one is taken, or `pool` is smaller than a /64.
pub fn choose_default_ipv6(pool: Ipv6Net, in_use: &[IpNet], routes: &[IpNet]) -> Option<IpNet> {
    let subnets = pool.subnets(DEFAULT_IPV6_PREFIX).ok()?;
    first_free(subnets.map(IpNet::V6), in_use, routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn the_pools_are_mobys_in_order() {
        let pools = default_pools();
        assert_eq!(pools.len(), 15 + 16);
        assert_eq!(pools[0].to_string(), "172.17.0.0/16");
        assert_eq!(pools[14].to_string(), "172.31.0.0/16");
        assert_eq!(pools[15].to_string(), "192.168.0.0/20");
        assert_eq!(pools[16].to_string(), "192.168.16.0/20");
    }

    #[test]
    fn the_walk_skips_subnets_in_use_and_the_hosts_routes() {
        assert_eq!(choose_default_ipv4(&[], &[]), Some(net("172.17.0.0/16")));
        let in_use = [net("172.17.0.0/16"), net("fd00::/64")];
        let routes = [net("0.0.0.0/0"), net("::/0"), net("172.18.5.0/24")];
        assert_eq!(
            choose_default_ipv4(&in_use, &routes),
            Some(net("172.19.0.0/16"))
        );
        // A route covering all of 172.16/12 sends it to 192.168.
        assert_eq!(
            choose_default_ipv4(&[], &[net("172.16.0.0/12")]),
            Some(net("192.168.0.0/20"))
        );
        let everything = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(choose_default_ipv4(&everything, &[]), None);
    }

    #[test]
    fn any_pool_list_is_walked_the_same_way() {
        let pools = ["10.10.0.0/24", "10.10.1.0/24", "fd00:1::/64"].map(net);
        assert_eq!(
            first_free(pools, &[net("10.10.0.0/16")], &[]),
            Some(net("fd00:1::/64"))
        );
        assert_eq!(
            first_free(pools, &[], &[net("10.10.0.128/25")]),
            Some(net("10.10.1.0/24"))
        );
    }

    #[test]
    fn the_ipv6_pool_is_walked_in_64s_skipping_what_is_taken() {
        let pool: Ipv6Net = "fd12:3456:789a::/48".parse().unwrap();
        assert_eq!(
            choose_default_ipv6(pool, &[], &[]),
            Some(net("fd12:3456:789a::/64"))
        );
        let in_use = [net("fd12:3456:789a::/64"), net("10.0.0.0/8")];
        let routes = [net("fd12:3456:789a:1::/64"), net("::/0")];
        assert_eq!(
            choose_default_ipv6(pool, &in_use, &routes),
            Some(net("fd12:3456:789a:2::/64"))
        );
        // A route over the whole pool leaves nothing.
        assert_eq!(
            choose_default_ipv6(pool, &[], &[net("fd12:3456::/32")]),
            None
        );
    }
}
