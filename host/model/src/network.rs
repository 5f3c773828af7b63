//! The trusted model of container networking: what the engine decides and
//! the network driver applies (issue 12).
//!
//! The engine owns every decision (which bridge, which subnet, which
//! address, MAC and published port an endpoint gets: IPAM, the
//! network-policy plugin's plan, the host's checks of that plan) and
//! persists it; the driver (`NetworkService` in the engine's `driver.rs`)
//! only applies a validated [`NetworkModel`] / [`EndpointModel`] to the
//! kernel (bridge, veth pair, addresses, routes, nftables) and can
//! reconcile the kernel with what the store knows after a crash
//! ([`NetworkState`]). Nothing here is a wire type of the Docker API.
//!
//! Leaves check their invariants in their constructors and their serde
//! form goes through the same constructors, so a record read back cannot
//! carry a value the constructor refuses.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;

pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A value the network model refuses; the engine returns it as
/// InvalidParameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkModelError {
    /// Not CIDR notation (moby's `ParseCIDR` failure, as the API reports
    /// it: `invalid CIDR address: ...`).
    #[error("invalid CIDR address: {0}")]
    Cidr(String),
    /// A subnet written with host bits set (moby
    /// `libnetwork/ipamutils`/`daemon/network.go`: `invalid subnet ...`).
    #[error("invalid subnet {given} : it should be {network}")]
    HostBits {
        /// As written.
        given: String,
        /// Its network address with the prefix.
        network: String,
    },
    /// A subnet too small to hold a gateway and one container.
    #[error("invalid subnet {0}: it has no room for a gateway and a container")]
    TooSmall(String),
    /// A gateway outside its subnet, or one of the addresses no host may
    /// have (network, broadcast).
    #[error("no matching subnet for gateway {0}")]
    Gateway(String),
    /// Not an IP address.
    #[error("invalid IP address: {0}")]
    Address(String),
    /// An interface name the kernel refuses (`dev_valid_name`: 1 to 15
    /// bytes, no `/`, `:` or white space, not `.` or `..`).
    #[error("invalid interface name {0:?}")]
    InterfaceName(String),
    /// Not a MAC address (`xx:xx:xx:xx:xx:xx`).
    #[error("invalid MAC address: {0}")]
    Mac(String),
    /// Not `tcp`, `udp` or `sctp`.
    #[error("invalid proto: {0}")]
    Protocol(String),
}

/// A subnet of a network with its gateway: the network address (no host
/// bits), its prefix, and the gateway inside it, which is neither the
/// network nor (IPv4) the broadcast address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "SubnetRecord", into = "SubnetRecord")]
pub struct Subnet {
    cidr: IpNet,
    gateway: IpAddr,
}

/// The serde form of [`Subnet`], read back through [`Subnet::new`].
#[derive(Serialize, Deserialize)]
struct SubnetRecord {
    cidr: String,
    gateway: String,
}

impl TryFrom<SubnetRecord> for Subnet {
    type Error = NetworkModelError;
    fn try_from(record: SubnetRecord) -> Result<Subnet, NetworkModelError> {
        let gateway = parse_ip(&record.gateway)?;
        Subnet::new(parse_cidr(&record.cidr)?, Some(gateway))
    }
}

impl From<Subnet> for SubnetRecord {
    fn from(subnet: Subnet) -> SubnetRecord {
        SubnetRecord {
            cidr: subnet.cidr.to_string(),
            gateway: subnet.gateway.to_string(),
        }
    }
}

/// Parses `a.b.c.d/n` or `x::y/n` (host bits allowed: [`Subnet::new`]
/// refuses them with moby's message).
pub fn parse_cidr(text: &str) -> Result<IpNet, NetworkModelError> {
    IpNet::from_str(text.trim()).map_err(|_| NetworkModelError::Cidr(text.to_owned()))
}

/// Parses an IPv4 or IPv6 address.
pub fn parse_ip(text: &str) -> Result<IpAddr, NetworkModelError> {
    IpAddr::from_str(text.trim()).map_err(|_| NetworkModelError::Address(text.to_owned()))
}

impl Subnet {
    /// A subnet of `cidr`, whose host bits must be zero, with `gateway`
    /// (by default the first host address, as moby's default IPAM).
    pub fn new(cidr: IpNet, gateway: Option<IpAddr>) -> Result<Subnet, NetworkModelError> {
        if cidr.trunc() != cidr {
            return Err(NetworkModelError::HostBits {
                given: cidr.to_string(),
                network: cidr.trunc().to_string(),
            });
        }
        // A gateway and at least one container besides the addresses no
        // host may take: /30 is the smallest IPv4 subnet, /126 for IPv6.
        let host_bits = cidr.max_prefix_len() - cidr.prefix_len();
        if host_bits < 2 {
            return Err(NetworkModelError::TooSmall(cidr.to_string()));
        }
        let gateway = match gateway {
            Some(gateway) => gateway,
            None => first_host(cidr),
        };
        let subnet = Subnet { cidr, gateway };
        if !subnet.is_host_address(gateway) {
            return Err(NetworkModelError::Gateway(gateway.to_string()));
        }
        Ok(subnet)
    }

    /// The network address and prefix.
    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    /// The gateway (the bridge's address).
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.cidr.prefix_len()
    }

    /// Whether this is an IPv6 subnet.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.cidr, IpNet::V6(_))
    }

    /// Whether `addr` is inside the subnet.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.cidr.contains(&addr)
    }

    /// Whether `addr` may be given to an interface: inside the subnet,
    /// not the network address (the IPv6 subnet-router anycast address)
    /// and, for IPv4, not the broadcast address.
    pub fn is_host_address(&self, addr: IpAddr) -> bool {
        if !self.contains(addr) || addr == self.cidr.network() {
            return false;
        }
        match self.cidr {
            IpNet::V4(net) => addr != IpAddr::V4(net.broadcast()),
            IpNet::V6(_) => true,
        }
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &IpNet) -> bool {
        self.cidr.contains(other) || other.contains(&self.cidr)
    }
}

fn first_host(cidr: IpNet) -> IpAddr {
    match cidr {
        IpNet::V4(net) => IpAddr::V4(Ipv4Addr::from(u32::from(net.network()).wrapping_add(1))),
        IpNet::V6(net) => IpAddr::V6(Ipv6Addr::from(u128::from(net.network()).wrapping_add(1))),
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (gateway {})", self.cidr, self.gateway)
    }
}

/// A network interface name as the kernel takes it (`IFNAMSIZ` - 1 = 15
/// bytes; `net/core/dev.c` `dev_valid_name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterfaceName(String);

/// The longest interface name the kernel takes.
pub const IFNAME_MAX: usize = 15;

impl InterfaceName {
    /// Checks `name` as the kernel's `dev_valid_name` does.
    pub fn new(name: &str) -> Result<InterfaceName, NetworkModelError> {
        let valid = !name.is_empty()
            && name.len() <= IFNAME_MAX
            && name != "."
            && name != ".."
            && !name
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
        if valid {
            Ok(InterfaceName(name.to_owned()))
        } else {
            Err(NetworkModelError::InterfaceName(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InterfaceName {
    type Error = NetworkModelError;
    fn try_from(name: String) -> Result<InterfaceName, NetworkModelError> {
        InterfaceName::new(&name)
    }
}

impl From<InterfaceName> for String {
    fn from(name: InterfaceName) -> String {
        name.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ethernet address, written `02:42:ac:11:00:02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// The address of these bytes.
    pub fn from_bytes(bytes: [u8; 6]) -> MacAddress {
        MacAddress(bytes)
    }

    /// moby's address for a container's IPv4 address on a bridge network
    /// (`libnetwork/netutils.GenerateMACFromIP`): `02:42` then the four
    /// bytes of the address — locally administered, unicast.
    pub fn from_ipv4(addr: Ipv4Addr) -> MacAddress {
        let [a, b, c, d] = addr.octets();
        MacAddress([0x02, 0x42, a, b, c, d])
    }

    /// The six bytes.
    pub fn bytes(&self) -> [u8; 6] {
        self.0
    }
}

impl FromStr for MacAddress {
    type Err = NetworkModelError;
    fn from_str(text: &str) -> Result<MacAddress, NetworkModelError> {
        let bad = || NetworkModelError::Mac(text.to_owned());
        let mut bytes = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for byte in &mut bytes {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddress(bytes))
    }
}

impl TryFrom<String> for MacAddress {
    type Error = NetworkModelError;
    fn try_from(text: String) -> Result<MacAddress, NetworkModelError> {
        text.parse()
    }
}

impl From<MacAddress> for String {
    fn from(mac: MacAddress) -> String {
        mac.to_string()
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A network: what its bridge is called and which subnets it routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkModel {
    /// 64 hex digits.
    pub id: String,
    /// Unique among networks (`bridge` for the default network).
    pub name: String,
    /// The driver's name: `bridge` is the only one berth has.
    pub driver: String,
    /// The Linux bridge (`berth0` for the default network, `br-<12 hex>`
    /// for the others, as moby).
    pub bridge: InterfaceName,
    /// Its IPv4 subnet (every bridge network has one).
    pub ipv4: Option<Subnet>,
    /// Whether the user gave the IPv4 subnet (`--subnet`) rather than
    /// berth choosing it from its pools: only then may a container ask
    /// for its own address in it (moby `validateNetworkingConfig`, its
    /// `IpamConf.PreferredPool`). Records written before it read back as
    /// not given.
    #[serde(default)]
    pub ipv4_user_subnet: bool,
    /// Its IPv6 subnet (`--ipv6`).
    pub ipv6: Option<Subnet>,
    /// Whether the network policy planned the IPv6 subnet (`--ipv6`
    /// without an IPv6 `--subnet`, WIT 1.3) rather than the user giving
    /// it: then no container may ask for its own IPv6 address in it, as
    /// for an IPv4 subnet berth chose. Records written before policies
    /// planned subnets read back as not planned: their IPv6 subnets were
    /// all the user's.
    #[serde(default)]
    pub ipv6_planned: bool,
    /// `--internal`: no route out (no masquerade, no published ports).
    pub internal: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o`), as given.
    pub options: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    pub created: String,
}

/// The transport of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// `tcp`, `udp` or `sctp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl FromStr for Protocol {
    type Err = NetworkModelError;
    fn from_str(text: &str) -> Result<Protocol, NetworkModelError> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            _ => Err(NetworkModelError::Protocol(text.to_owned())),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published port, with its host port already chosen and reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortBinding {
    /// Transport.
    pub proto: Protocol,
    /// Host address to accept on; `None` for every address of every
    /// family, an unspecified address (`0.0.0.0`, `::`) for every address
    /// of its family only (as [`PortRequest`](crate::ports::PortRequest)).
    pub host_ip: Option<IpAddr>,
    /// Host port (never 0 here: the engine has chosen it).
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
}

/// An address of an interface with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InterfaceAddress {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length (the subnet's).
    pub prefix: u8,
}

impl fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A container's attachment to one network: a veth pair between the
/// network's bridge and the container's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointModel {
    /// 64 hex digits (inspect's `EndpointID`).
    pub id: String,
    /// The container's id.
    pub container_id: String,
    /// The network's id.
    pub network_id: String,
    /// The host end of the veth pair (`veth` + 7 hex, as moby), enslaved
    /// to the bridge.
    pub ifname_host: InterfaceName,
    /// The container's end, inside its namespace (`eth0`, `eth1`, ... in
    /// the order the container was connected).
    pub ifname_container: InterfaceName,
    /// The container end's MAC address.
    pub mac: MacAddress,
    /// Its IPv4 address.
    pub ipv4: Option<InterfaceAddress>,
    /// Its IPv6 address.
    pub ipv6: Option<InterfaceAddress>,
    /// The IPv4 default route's gateway: set only on the container's first
    /// network (and never on an internal one).
    pub gateway4: Option<Ipv4Addr>,
    /// The IPv6 default route's gateway, under the same rule.
    pub gateway6: Option<Ipv6Addr>,
    /// Published ports (DNAT from the host to `ipv4`/`ipv6`).
    pub ports: Vec<PortBinding>,
    /// DNS names of the container on this network (its name, short id,
    /// `--network-alias`), for the embedded DNS server; the kernel driver
    /// has no use for them.
    pub aliases: Vec<String>,
    /// Where the container's queries go from this network: its `--dns`
    /// servers, else the name servers the network policy planned for it
    /// here; empty: the host's resolvers. The embedded DNS server forwards
    /// the names it does not know there; on a network without one they are
    /// the `nameserver`s of the container's `resolv.conf`
    /// ([`crate::dns::Resolver`]). Read as empty from a record stored
    /// before it existed.
    #[serde(default)]
    pub dns_servers: Vec<IpAddr>,
}

/// A container's network namespace, bind-mounted at `netns_path` (under
/// `<exec-root>/netns/<id>`) so that it outlives no process and the
/// runtime joins it by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxModel {
    /// The container's id.
    pub container_id: String,
    /// The bind mount of the namespace (what the OCI spec's `network`
    /// namespace entry names).
    pub netns_path: PathBuf,
}

/// A sandbox with the endpoints it has, for [`NetworkState`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxState {
    /// The namespace.
    pub sandbox: SandboxModel,
    /// Its endpoints, in the order they were connected.
    pub endpoints: Vec<EndpointModel>,
}

/// Everything the store knows the kernel should hold, for the driver's
/// `reconcile` at daemon start (after a crash or `kill -9`): what is not
/// here goes, what is here is (re)applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    /// Every network.
    pub networks: Vec<NetworkModel>,
    /// Every sandbox of a container that is still running.
    pub sandboxes: Vec<SandboxState>,
}

/// How a container is networked (`HostConfig.NetworkMode`, moby
/// `container.NetworkMode`), as create resolved it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// `bridge` or `default` (also the records written before networks
    /// existed): the default bridge network.
    #[default]
    Bridge,
    /// `none`: a network namespace of its own with only `lo`.
    None,
    /// `host`: no network namespace; the host's `/etc/hosts`,
    /// `/etc/resolv.conf` and host name.
    Host,
    /// `container:<id>`: the namespace (and the `/etc` files) of that
    /// container, resolved to its full id at create.
    Container(String),
    /// A user-defined network, by name or id.
    Network(String),
}

impl NetworkMode {
    /// Parses `HostConfig.NetworkMode` (moby `runconfig`: an empty
    /// `container:` is refused with moby's message).
    pub fn parse(mode: &str) -> Result<NetworkMode, NetworkModeError> {
        Ok(match mode {
            "" | "default" | "bridge" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match mode.strip_prefix("container:") {
                Some("") => return Err(NetworkModeError::ContainerFormat),
                Some(reference) => NetworkMode::Container(reference.to_owned()),
                None if mode == "container" => return Err(NetworkModeError::ContainerFormat),
                None => NetworkMode::Network(mode.to_owned()),
            },
        })
    }
}

/// A `NetworkMode` moby refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkModeError {
    /// `container:` without a container (moby `validateNetContainerMode`).
    #[error("invalid network mode: invalid container format container:<name|id>")]
    ContainerFormat,
}

/// The network namespace a container's process gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkNamespace {
    /// A new one the runtime creates, holding only `lo` (`--network none`).
    #[default]
    New,
    /// The host's: the spec has no network namespace entry.
    Host,
    /// The container's own sandbox, made by the network driver and joined
    /// by the path of its bind mount (Docker's "private" namespace: the
    /// network sysctl defaults apply).
    Sandbox(PathBuf),
    /// Another container's, joined by `/proc/<pid>/ns/net` (`container:`
    /// mode: nothing of the namespace is set for this container).
    Join(PathBuf),
}

/// Where a container's `/etc/hostname`, `/etc/hosts` and
/// `/etc/resolv.conf` come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkFiles {
    /// Its own, written by the exec driver for a namespace without an
    /// address (loopback `hosts`, the host's resolvers minus loopback).
    #[default]
    Own,
    /// Its own, copied from the host's `/etc/hosts` and
    /// `/etc/resolv.conf` as they are (moby, `--network host`: the same
    /// namespace reaches the same resolvers).
    Host,
    /// Another container's files, bind-mounted as they are (moby
    /// `initializeNetworking` for `container:` mode).
    Shared(crate::exec::ContainerFiles),
}

/// What the exec driver needs of a container's networking at start, as
/// the engine decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSetup {
    /// Its network namespace.
    pub namespace: NetworkNamespace,
    /// Its `/etc` files.
    pub files: NetworkFiles,
    /// The container's own addresses on its networks: each gets a line
    /// `<address>\t<hostname>` in its own `/etc/hosts` (moby
    /// `Sandbox.updateHostsFile`).
    pub addresses: Vec<IpAddr>,
    /// Where its `resolv.conf` sends its queries, as its networks decide
    /// it (its `--dns` settings are applied over it).
    pub resolver: crate::dns::Resolver,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> IpNet {
        parse_cidr(text).expect("cidr")
    }

    #[test]
    fn a_network_stored_before_user_subnets_were_told_apart_has_none() {
        let old = r#"{"id":"n","name":"lab","driver":"bridge","bridge":"br-0123456789ab",
            "ipv4":{"cidr":"10.9.0.0/24","gateway":"10.9.0.1"},"ipv6":null,"internal":false,
            "labels":{},"options":{},"created":"2026-01-01T00:00:00Z"}"#;
        let network: NetworkModel = serde_json::from_str(old).expect("an old record");
        assert!(!network.ipv4_user_subnet);
        let mut given = network.clone();
        given.ipv4_user_subnet = true;
        let back: NetworkModel =
            serde_json::from_str(&serde_json::to_string(&given).expect("json")).expect("read");
        assert!(back.ipv4_user_subnet);
    }

    #[test]
    fn network_modes_parse_as_moby() {
        assert_eq!(NetworkMode::parse(""), Ok(NetworkMode::Bridge));
        assert_eq!(NetworkMode::parse("default"), Ok(NetworkMode::Bridge));
        assert_eq!(NetworkMode::parse("none"), Ok(NetworkMode::None));
        assert_eq!(NetworkMode::parse("host"), Ok(NetworkMode::Host));
        assert_eq!(
            NetworkMode::parse("container:web"),
            Ok(NetworkMode::Container("web".into()))
        );
        assert_eq!(
            NetworkMode::parse("mynet"),
            Ok(NetworkMode::Network("mynet".into()))
        );
        for bad in ["container:", "container"] {
            assert_eq!(
                NetworkMode::parse(bad).expect_err(bad).to_string(),
                "invalid network mode: invalid container format container:<name|id>"
            );
        }
    }

    #[test]
    fn a_subnet_gets_its_first_host_as_gateway() {
        let subnet = Subnet::new(cidr("172.18.0.0/16"), None).expect("subnet");
        assert_eq!(subnet.gateway().to_string(), "172.18.0.1");
        let v6 = Subnet::new(cidr("fd00:1::/64"), None).expect("subnet");
        assert_eq!(v6.gateway().to_string(), "fd00:1::1");
    }

    #[test]
    fn host_bits_are_refused_with_the_network_named() {
        let err = Subnet::new(cidr("172.18.0.5/16"), None).expect_err("host bits");
        assert_eq!(
            err.to_string(),
            "invalid subnet 172.18.0.5/16 : it should be 172.18.0.0/16"
        );
    }

    #[test]
    fn the_gateway_must_be_a_host_of_the_subnet() {
        for gateway in ["10.0.0.1", "172.18.0.0", "172.18.255.255"] {
            let err = Subnet::new(cidr("172.18.0.0/16"), Some(parse_ip(gateway).expect("ip")))
                .expect_err(gateway);
            assert_eq!(err, NetworkModelError::Gateway(gateway.to_owned()));
        }
        assert!(Subnet::new(cidr("10.0.0.0/31"), None).is_err());
    }

    #[test]
    fn a_subnet_reads_back_through_its_constructor() {
        let subnet = Subnet::new(cidr("10.1.0.0/24"), Some("10.1.0.254".parse().expect("ip")))
            .expect("subnet");
        let json = serde_json::to_string(&subnet).expect("json");
        assert_eq!(json, r#"{"cidr":"10.1.0.0/24","gateway":"10.1.0.254"}"#);
        assert_eq!(serde_json::from_str::<Subnet>(&json).expect("back"), subnet);
        let outside = r#"{"cidr":"10.1.0.0/24","gateway":"10.2.0.1"}"#;
        assert!(serde_json::from_str::<Subnet>(outside).is_err());
    }

    #[test]
    fn interface_names_follow_the_kernel() {
        assert!(InterfaceName::new("berth0").is_ok());
        assert!(InterfaceName::new("br-0123456789ab").is_ok());
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-bytes-xx"] {
            assert!(InterfaceName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mac_addresses_parse_and_print_as_moby() {
        let mac = MacAddress::from_ipv4(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac.to_string(), "02:42:ac:11:00:02");
        assert_eq!("02:42:AC:11:00:02".parse::<MacAddress>().expect("mac"), mac);
        for bad in [
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "zz:42:ac:11:00:02",
            "2:42:ac:11:0:2",
        ] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn host_addresses_exclude_network_and_broadcast() {
        let subnet = Subnet::new(cidr("10.0.0.0/30"), None).expect("subnet");
        let host = |a: &str| subnet.is_host_address(a.parse().expect("ip"));
        assert!(!host("10.0.0.0"));
        assert!(host("10.0.0.1"));
        assert!(host("10.0.0.2"));
        assert!(!host("10.0.0.3"));
        assert!(!host("10.0.0.4"));
        assert!(subnet.overlaps(&cidr("10.0.0.0/8")));
        assert!(!subnet.overlaps(&cidr("10.0.0.4/30")));
    }
}
