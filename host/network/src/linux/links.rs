//! The rtnetlink conversations: links, addresses, routes. Each function
//! runs in whatever namespace its thread is in (see `thread.rs`).

use std::net::IpAddr;
use std::os::fd::AsRawFd;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::AddressHeaderFlags;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::{IfName, IpNetwork, NetworkError};

/// The positive errno of a netlink error reply.
fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| -code.get()),
        _ => None,
    }
}

fn netlink(
    op: &'static str,
    object: impl ToString,
) -> impl FnOnce(rtnetlink::Error) -> NetworkError {
    let object = object.to_string();
    move |source| NetworkError::Netlink { op, object, source }
}

/// The index of the link named `name`, `None` when there is none.
pub(crate) async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(netlink("look up link", name)(e)),
    }
}

async fn require_index(
    handle: &Handle,
    name: &str,
    context: &'static str,
) -> Result<u32, NetworkError> {
    index_of(handle, name)
        .await?
        .ok_or_else(|| NetworkError::NoSuchLink {
            name: name.to_string(),
            context,
        })
}

pub(crate) async fn set_up_by_name(handle: &Handle, name: &str) -> Result<(), NetworkError> {
    let index = require_index(handle, name, "to bring up").await?;
    set_up(handle, index, name).await
}

async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<(), NetworkError> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(netlink("bring up", name))
}

/// Adds `address` to the link; an address already there is success.
async fn add_address(
    handle: &Handle,
    index: u32,
    name: &str,
    address: &IpNetwork,
) -> Result<(), NetworkError> {
    let mut request = handle
        .address()
        .add(index, address.addr(), address.prefix())
        .replace();
    if address.is_ipv6() {
        // No duplicate address detection: the subnet is ours, and a
        // tentative address would not answer until DAD ends (moby sets
        // the same flag on the addresses it assigns).
        request.message_mut().header.flags |= AddressHeaderFlags::Nodad;
    }
    match request.execute().await {
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        other => other.map_err(netlink("add address", format!("{address} to {name}"))),
    }
}

pub(crate) async fn ensure_bridge(
    handle: &Handle,
    name: &IfName,
    alias: &str,
    addresses: &[IpNetwork],
) -> Result<(), NetworkError> {
    let index = match index_of(handle, name.as_str()).await? {
        Some(index) => index,
        None => {
            match handle
                .link()
                .add(LinkBridge::new(name.as_str()).build())
                .execute()
                .await
            {
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                other => other.map_err(netlink("create bridge", name))?,
            }
            require_index(handle, name.as_str(), "after creating it").await?
        }
    };
    for address in addresses {
        add_address(handle, index, name.as_str(), address).await?;
    }
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).alias(alias).up().build())
        .execute()
        .await
        .map_err(netlink("mark and bring up", name))
}

pub(crate) async fn delete(handle: &Handle, name: &str) -> Result<(), NetworkError> {
    let Some(index) = index_of(handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(index).execute().await {
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        other => other.map_err(netlink("delete link", name)),
    }
}

fn name_of(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

pub(crate) async fn ports_of(
    handle: &Handle,
    bridge: &IfName,
) -> Result<Vec<IfName>, NetworkError> {
    let Some(bridge_index) = index_of(handle, bridge.as_str()).await? else {
        return Ok(Vec::new());
    };
    let mut links = handle.link().get().execute();
    let mut ports = Vec::new();
    while let Some(link) = links
        .try_next()
        .await
        .map_err(netlink("list links of", bridge))?
    {
        let enslaved = link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Controller(i) if *i == bridge_index));
        if enslaved && let Some(name) = name_of(&link).and_then(|n| IfName::new(n).ok()) {
            ports.push(name);
        }
    }
    Ok(ports)
}

fn alias_of(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(alias) => Some(alias.as_str()),
        _ => None,
    })
}

pub(crate) async fn with_alias(handle: &Handle, alias: &str) -> Result<Vec<IfName>, NetworkError> {
    let mut links = handle.link().get().execute();
    let mut found = Vec::new();
    while let Some(link) = links
        .try_next()
        .await
        .map_err(netlink("list links with alias", alias))?
    {
        if alias_of(&link) == Some(alias)
            && let Some(name) = name_of(&link).and_then(|n| IfName::new(n).ok())
        {
            found.push(name);
        }
    }
    Ok(found)
}

pub(crate) async fn route_destinations(
    handle: &Handle,
    exclude: &[IfName],
) -> Result<Vec<IpNetwork>, NetworkError> {
    let mut excluded = Vec::new();
    for name in exclude {
        if let Some(index) = index_of(handle, name.as_str()).await? {
            excluded.push(index);
        }
    }
    let mut found = Vec::new();
    let requests = [
        RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
        RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
    ];
    for request in requests {
        let mut routes = handle.route().get(request).execute();
        while let Some(route) = routes
            .try_next()
            .await
            .map_err(netlink("list routes", "of the host"))?
        {
            let prefix = route.header.destination_prefix_length;
            let mut destination = None;
            let mut through_excluded = false;
            for attribute in &route.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(a)) => {
                        destination = Some(IpAddr::V4(*a))
                    }
                    RouteAttribute::Destination(RouteAddress::Inet6(a)) => {
                        destination = Some(IpAddr::V6(*a))
                    }
                    RouteAttribute::Oif(index) => through_excluded = excluded.contains(index),
                    _ => {}
                }
            }
            // A default route (no destination, prefix 0) overlaps
            // everything and says nothing about which subnets are used.
            if let Some(addr) = destination
                && prefix > 0
                && !through_excluded
                && let Ok(network) = IpNetwork::new(addr, prefix)
                && !found.contains(&network)
            {
                found.push(network);
            }
        }
    }
    Ok(found)
}

/// Host half of an attach: creates the pair with its peer already in
/// `netns`, under its final name and MAC, and the host side enslaved to
/// the bridge; then hairpin mode on and up.
///
/// The peer is made where it belongs (the veth peer's own `IFLA_NET_NS_FD`,
/// as `ip link add … type veth peer name eth0 netns …` does) rather than
/// made here and moved: a move (`dev_change_net_namespace`) waits for an
/// RCU grace period, about 15 ms of every start, and needed a temporary
/// name here and a rename there.
pub(crate) async fn create_pair(
    handle: &Handle,
    host: &IfName,
    peer: &IfName,
    mac: [u8; 6],
    bridge: &IfName,
    netns: &std::fs::File,
) -> Result<(), NetworkError> {
    let bridge_index = require_index(handle, bridge.as_str(), "to attach a veth to").await?;
    let peer_message = LinkUnspec::new_with_name(peer.as_str())
        .address(mac.to_vec())
        .setns_by_fd(netns.as_raw_fd())
        .build();
    let pair = LinkVeth::new(host.as_str(), peer.as_str())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
        .controller(bridge_index)
        .build();
    handle
        .link()
        .add(pair)
        .execute()
        .await
        .map_err(netlink("create veth pair", format!("{host}/{peer}")))?;
    let host_index = require_index(handle, host.as_str(), "after creating the pair").await?;
    // Hairpin: a container reaching its own published port through the
    // host leaves and re-enters by the same bridge port (moby
    // `bridge.setHairpinMode` when the userland proxy is off).
    handle
        .link()
        .set_port(LinkBridgePort::new(host_index).hairpin(true).build())
        .execute()
        .await
        .map_err(netlink("set hairpin mode on", host))?;
    set_up(handle, host_index, host.as_str()).await
}

/// Container half of an attach, run inside the container's namespace:
/// addresses on the peer (named and addressed at its creation), up, routes.
pub(crate) async fn configure_peer(
    handle: &Handle,
    name: &IfName,
    addresses: &[IpNetwork],
    gateways: &[IpAddr],
) -> Result<(), NetworkError> {
    let index = require_index(handle, name.as_str(), "in the container's namespace").await?;
    for address in addresses {
        add_address(handle, index, name.as_str(), address).await?;
    }
    set_up(handle, index, name.as_str()).await?;
    for gateway in gateways {
        let route = match gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .gateway(*gw)
                .output_interface(index)
                .build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .gateway(*gw)
                .output_interface(index)
                .build(),
        };
        match handle.route().add(route).execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            other => other.map_err(netlink("add the default route via", gateway))?,
        }
    }
    Ok(())
}
