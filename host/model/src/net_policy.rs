//! The network-policy plugin's questions and answers (WIT
//! `berth:plugin/network@1.3.0`, `plan-subnet` and `plan-network`) as plain
//! types, so that the engine asks and checks without naming the plugin
//! host; the server's adapter maps them to and from the WIT records.

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: std::net::IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// What the engine asks when a new network needs a subnet of one family
/// (WIT `subnet-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetRequest {
    /// The new network's name.
    pub network: String,
    /// The family of the subnet wanted.
    pub family: Family,
    /// The subnets of the daemon's networks, CIDR.
    pub subnets_in_use: Vec<String>,
    /// The host's route destinations (not the daemon's bridges), CIDR.
    pub host_routes: Vec<String>,
}

/// The policy's subnet (WIT `subnet-plan`), unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    /// CIDR.
    pub subnet: String,
    /// The gateway; `None` takes the subnet's first host address.
    pub gateway: Option<String>,
}

/// One published port as the policy sees it (WIT `port-mapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPort {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The container's port.
    pub container_port: u16,
    /// Host address, empty for every address.
    pub host_ip: String,
    /// Host port; 0 lets the host choose (from the request's range or the
    /// ephemeral range).
    pub host_port: u16,
}

/// One family of the network a container joins (WIT `family-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRequest {
    /// The subnet, CIDR.
    pub subnet: String,
    /// Its gateway.
    pub gateway: String,
    /// Addresses of this family in use on the network.
    pub used_addresses: Vec<String>,
    /// `--ip`/`--ip6` if given (the plan must give it), else the address
    /// the container had if still free (a hint).
    pub requested_address: Option<String>,
}

/// What the engine asks for a container joining a network (WIT
/// `network-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// The container.
    pub container_id: String,
    /// The network's name.
    pub network: String,
    /// Its IPv4 side, if it has one.
    pub ipv4: Option<FamilyRequest>,
    /// Its IPv6 side, if it has one.
    pub ipv6: Option<FamilyRequest>,
    /// What the container publishes.
    pub ports: Vec<PlannedPort>,
}

impl PlanRequest {
    /// The request's side of `family`.
    pub fn family(&self, family: Family) -> Option<&FamilyRequest> {
        match family {
            Family::Ipv4 => self.ipv4.as_ref(),
            Family::Ipv6 => self.ipv6.as_ref(),
        }
    }
}

/// The policy's answer (WIT `network-plan`), unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The container's IPv4 address on the network.
    pub ipv4_address: Option<String>,
    /// Its IPv6 address.
    pub ipv6_address: Option<String>,
    /// Name servers for its `resolv.conf` (empty: the host's).
    pub dns_servers: Vec<String>,
    /// The ports, host ports chosen or 0.
    pub ports: Vec<PlannedPort>,
}

impl Plan {
    /// The plan's address of `family`.
    pub fn address(&self, family: Family) -> Option<&str> {
        match family {
            Family::Ipv4 => self.ipv4_address.as_deref(),
            Family::Ipv6 => self.ipv6_address.as_deref(),
        }
    }
}
