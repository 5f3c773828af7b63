//! The network-policy plugin's question and answer (WIT
//! `berth:plugin/network@1.1.0`, `plan-network`) as plain types, so that the
//! engine asks and checks without naming the plugin host; the server's
//! adapter maps them to and from the WIT records.

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

/// What the engine asks (WIT `network-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// The container.
    pub container_id: String,
    /// The network's name.
    pub network: String,
    /// Its IPv4 subnet, CIDR.
    pub subnet: String,
    /// Its gateway.
    pub gateway: String,
    /// Addresses in use on the network.
    pub used_addresses: Vec<String>,
    /// `--ip`, if given.
    pub requested_address: Option<String>,
    /// What the container publishes.
    pub ports: Vec<PlannedPort>,
}

/// The policy's answer (WIT `network-plan`), unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The container's address on the network.
    pub address: String,
    /// Name servers for its `resolv.conf` (empty: the host's).
    pub dns_servers: Vec<String>,
    /// The ports, host ports chosen or 0.
    pub ports: Vec<PlannedPort>,
}
