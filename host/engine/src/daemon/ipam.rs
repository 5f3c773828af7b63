//! Address management for bridge networks (moby's default IPAM,
//! `libnetwork/ipams/defaultipam`): which subnet a new network gets, and
//! which address an endpoint gets in it. Pure: the daemon passes in what
//! is in use (from the store) and the host's routes (from the network
//! driver), and persists what is chosen.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_model::network::{IpNet, Subnet};
pub use ipnet::Ipv6Net;
use sha2::{Digest, Sha256};

/// Why no subnet or address could be given; the messages are moby's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// Every default pool overlaps a network or a route (moby
    /// `ipamutils`/`defaultipam`).
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    NoPool,
    /// Every /64 of the default IPv6 pool overlaps a network or a route
    /// (moby `defaultipam`, the same message for the other family).
    #[error(
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
    )]
    NoPool6,
    /// A requested subnet overlaps one in use (moby `ErrPoolOverlap`, as
    /// `docker network create` reports it).
    #[error("Pool overlaps with other one on this address space")]
    Overlap,
    /// Every host address of the subnet is taken (moby `ErrNoAvailableIPs`).
    #[error("No available addresses on this pool")]
    NoAddress,
    /// A requested address is taken (moby `ErrIPAlreadyAllocated`).
    #[error("Address already in use")]
    InUse,
    /// A requested address is outside the subnet, or is its network,
    /// broadcast or gateway address (moby `ErrIPOutOfRange`).
    #[error("Requested address is out of range")]
    OutOfRange,
}

/// The first of moby's default pools that overlaps neither a network's
/// subnet in `in_use` nor a host route in `routes` (the walk is
/// `berth_ipam`'s, shared with the built-in network policy). The engine
/// chooses itself only when the serving network policy predates WIT 1.3
/// (no `plan-subnet`) or none is wired.
pub fn choose_subnet(in_use: &[IpNet], routes: &[IpNet]) -> Result<IpNet, IpamError> {
    berth_ipam::choose_default_ipv4(in_use, routes).ok_or(IpamError::NoPool)
}

/// The first free /64 of the daemon's default IPv6 pool `pool` (the walk
/// is `berth_ipam`'s, as for IPv4).
pub fn choose_subnet_v6(
    pool: Ipv6Net,
    in_use: &[IpNet],
    routes: &[IpNet],
) -> Result<IpNet, IpamError> {
    berth_ipam::choose_default_ipv6(pool, in_use, routes).ok_or(IpamError::NoPool6)
}

pub use berth_ipam::DEFAULT_IPV6_POOL_CONFIG;

/// The daemon's default IPv6 pool: a ULA /48 (`fd00::/8` with a 40-bit
/// global id, RFC 4193 3.2) whose global id is the low 40 bits of the
/// first 8 bytes, big-endian, of the SHA-256 of `engine_id`, to be carved
/// in /64s. This is moby's `deriveULABaseNetwork` (`daemon/daemon.go`,
/// called with `daemon.id`, the id `docker info` shows), so the pool is
/// stable for as long as the engine id is, and differs between hosts.
pub fn default_ipv6_pool(engine_id: &str) -> Ipv6Net {
    let sha = Sha256::digest(engine_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&sha[..8]);
    let global_id = u64::from_be_bytes(first) & ((1 << 40) - 1);
    // moby `ipbits.Add(fd00::, gid, 80)`: the id goes right after the
    // `fd` byte, filling bits 8..48.
    let base = (0xfd_u128 << 120) | (u128::from(global_id) << 80);
    // 48 is a valid IPv6 prefix length: `new_assert` cannot panic.
    Ipv6Net::new_assert(Ipv6Addr::from(base), 48)
}

/// Checks a subnet the user asked for against the ones in use.
pub fn check_subnet(subnet: &IpNet, in_use: &[IpNet]) -> Result<(), IpamError> {
    if in_use.iter().any(|net| berth_ipam::overlaps(subnet, net)) {
        return Err(IpamError::Overlap);
    }
    Ok(())
}

/// An address for an endpoint on `subnet`: `requested` when it is a free
/// host address of the subnet (not its gateway), else the lowest free one.
/// `used` holds the addresses of the network's other endpoints.
pub fn allocate(
    subnet: &Subnet,
    used: &BTreeSet<IpAddr>,
    requested: Option<IpAddr>,
) -> Result<IpAddr, IpamError> {
    if let Some(addr) = requested {
        if !subnet.is_host_address(addr) || addr == subnet.gateway() {
            return Err(IpamError::OutOfRange);
        }
        if used.contains(&addr) {
            return Err(IpamError::InUse);
        }
        return Ok(addr);
    }
    // At most `used.len() + 2` candidates are taken (the gateway, the
    // used ones), so the walk is short even in an IPv6 /64.
    let mut candidate = next(subnet.cidr().network());
    while let Some(addr) = candidate {
        if !subnet.is_host_address(addr) {
            break;
        }
        if addr != subnet.gateway() && !used.contains(&addr) {
            return Ok(addr);
        }
        candidate = next(addr);
    }
    Err(IpamError::NoAddress)
}

fn next(addr: IpAddr) -> Option<IpAddr> {
    match addr {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(1)
            .map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(1)
            .map(|n| IpAddr::V6(Ipv6Addr::from(n))),
    }
}

#[cfg(test)]
mod tests {
    use berth_model::network::parse_cidr;

    use super::*;

    fn net(text: &str) -> IpNet {
        parse_cidr(text).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_new_network_skips_subnets_in_use_and_the_hosts_routes() {
        assert_eq!(choose_subnet(&[], &[]), Ok(net("172.17.0.0/16")));
        let in_use = [net("172.17.0.0/16")];
        let routes = [net("0.0.0.0/0"), net("172.18.5.0/24")];
        assert_eq!(choose_subnet(&in_use, &routes), Ok(net("172.19.0.0/16")));
        // A route covering all of 172.16/12 sends it to 192.168.
        assert_eq!(
            choose_subnet(&[], &[net("172.16.0.0/12")]),
            Ok(net("192.168.0.0/20"))
        );
        let everything = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(choose_subnet(&everything, &[]), Err(IpamError::NoPool));
    }

    #[test]
    fn an_overlapping_subnet_is_refused() {
        let in_use = [net("10.1.0.0/16")];
        assert_eq!(
            check_subnet(&net("10.1.2.0/24"), &in_use),
            Err(IpamError::Overlap)
        );
        assert_eq!(
            check_subnet(&net("10.0.0.0/8"), &in_use),
            Err(IpamError::Overlap)
        );
        assert_eq!(check_subnet(&net("10.2.0.0/16"), &in_use), Ok(()));
    }

    #[test]
    fn addresses_skip_network_gateway_broadcast_and_the_used_ones() {
        let subnet = Subnet::new(net("10.0.0.0/29"), None).unwrap();
        let mut used = BTreeSet::new();
        let mut given = Vec::new();
        while let Ok(addr) = allocate(&subnet, &used, None) {
            used.insert(addr);
            given.push(addr.to_string());
        }
        // .0 network, .1 gateway, .7 broadcast.
        assert_eq!(
            given,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        assert_eq!(allocate(&subnet, &used, None), Err(IpamError::NoAddress));
        // A released address is given again.
        used.remove(&ip("10.0.0.4"));
        assert_eq!(allocate(&subnet, &used, None), Ok(ip("10.0.0.4")));
    }

    #[test]
    fn a_requested_address_is_checked() {
        let subnet = Subnet::new(net("10.0.0.0/24"), Some(ip("10.0.0.254"))).unwrap();
        let used = BTreeSet::from([ip("10.0.0.9")]);
        assert_eq!(
            allocate(&subnet, &used, Some(ip("10.0.0.8"))),
            Ok(ip("10.0.0.8"))
        );
        assert_eq!(
            allocate(&subnet, &used, Some(ip("10.0.0.9"))),
            Err(IpamError::InUse)
        );
        for bad in ["10.0.1.1", "10.0.0.0", "10.0.0.255", "10.0.0.254"] {
            assert_eq!(
                allocate(&subnet, &used, Some(ip(bad))),
                Err(IpamError::OutOfRange),
                "{bad}"
            );
        }
        // The gateway is not first: the first host is handed out.
        assert_eq!(allocate(&subnet, &used, None), Ok(ip("10.0.0.1")));
    }

    #[test]
    fn ipv6_addresses_are_handed_out_from_the_first_host() {
        let subnet = Subnet::new(net("fd00:1::/64"), None).unwrap();
        let used = BTreeSet::from([ip("fd00:1::2")]);
        assert_eq!(allocate(&subnet, &used, None), Ok(ip("fd00:1::3")));
    }

    #[test]
    fn the_default_ipv6_pool_is_mobys_ula_48_of_the_engine_id() {
        // Vectors computed with moby's deriveULABaseNetwork algorithm
        // (sha256, first 8 bytes big-endian, low 40 bits, added at bit 80
        // of fd00::), by an independent script.
        for (id, pool) in [
            (
                "ACUN:5ZQA:VFMT:2HKN:QX5V:7ABA:GHV4:JYOK:7KZX:6FSD:NNRS:OB3G",
                "fd48:f6e3:e663::/48",
            ),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "fd6e:e929:abea::/48",
            ),
        ] {
            assert_eq!(default_ipv6_pool(id).to_string(), pool, "{id}");
            assert_eq!(default_ipv6_pool(id), default_ipv6_pool(id), "stable");
        }
        let pool =
            default_ipv6_pool("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        assert_eq!(
            choose_subnet_v6(pool, &[net("fd6e:e929:abea::/64")], &[]),
            Ok(net("fd6e:e929:abea:1::/64"))
        );
        assert_eq!(
            choose_subnet_v6(pool, &[], &[net("fd6e::/16")]),
            Err(IpamError::NoPool6)
        );
    }
}
