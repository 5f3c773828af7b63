//! `docker network connect` and `disconnect` (issue 12; moby
//! `daemon/network.go` `ConnectContainerToNetwork`,
//! `DisconnectContainerFromNetwork`, and `daemon/container_operations.go`).
//!
//! A running container joins or leaves now: the endpoint is planned as a
//! start plans it ([`plan_endpoint`]), leased under the network lock and
//! its veth made in the sandbox the container already runs in; a leave
//! takes the veth, the lease and the names away. A created or stopped
//! container has its list of networks changed in its record
//! ([`ContainerRecord::connections`]), which the next start joins in
//! order (moby keeps the same list in `NetworkSettings.Networks`).
//!
//! A running container's `resolv.conf` follows its resolver as its
//! networks change ([`super::network_resolver`]).
//!
//! Every refusal is decided before anything changes, so it leaves nothing.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use berth_api::container::{EndpointIpamConfig, EndpointSettings};
use berth_api::network_connect::{NetworkConnectRequest, NetworkDisconnectRequest};
use berth_model::container::ContainerModel;
use berth_model::network::{EndpointModel, NetworkMode, NetworkModel, SandboxState};
use berth_store::StoreError;
use serde::{Deserialize, Serialize};

use super::blocking::BlockingKind;
use super::container::{Container, ContainerRecord};
use super::endpoints::{
    Attached, DEFAULT_NETWORK, EndpointRequest, EndpointWish, SANDBOXES, dns_names,
};
use super::{Daemon, store_error};
use crate::job::{ErrorKind, JobError};

/// moby `runconfig.ErrConflictHostNetwork`.
pub const CONFLICT_HOST_NETWORK: &str =
    "container cannot be disconnected from host network or connected to host network";
/// moby `runconfig.ErrConflictNoNetwork`.
pub const CONFLICT_NO_NETWORK: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";
/// moby `runconfig.ErrConflictSharedNetwork`.
pub const CONFLICT_SHARED_NETWORK: &str = "container sharing network namespace with another container or host cannot be connected to any other network";
/// moby `runconfig.ErrUnsupportedNetworkAndIP`.
pub const IP_ON_DEFAULT_NETWORK: &str =
    "user specified IP address is supported on user defined networks only";
/// moby `runconfig.ErrUnsupportedNetworkNoSubnetAndIP`.
pub const IP_WITHOUT_USER_SUBNET: &str = "user specified IP address is supported only when connecting to networks with user configured subnets";

/// One network a container is on, with what it asks of it, as its record
/// keeps it once `connect` or `disconnect` changed its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// The network's id.
    pub network_id: String,
    /// Its name when connected (inspect of a stopped container shows it).
    pub network_name: String,
    /// `--ip`.
    pub ipv4: Option<IpAddr>,
    /// `--ip6`.
    pub ipv6: Option<IpAddr>,
    /// `--alias`.
    pub aliases: Vec<String>,
}

impl Connection {
    fn new(network: &NetworkModel, wish: &EndpointWish) -> Connection {
        Connection {
            network_id: network.id.clone(),
            network_name: network.name.clone(),
            ipv4: wish.ipv4,
            ipv6: wish.ipv6,
            aliases: wish.aliases.clone(),
        }
    }

    fn wish(&self) -> EndpointWish {
        EndpointWish {
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            aliases: self.aliases.clone(),
        }
    }

    /// inspect's entry for it while the container is not running: what it
    /// asked for, no address yet (as moby).
    pub(super) fn settings(&self) -> EndpointSettings {
        EndpointSettings {
            ipam_config: asked_ipam(self.ipv4, self.ipv6),
            aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
            network_id: self.network_id.clone(),
            ..EndpointSettings::default()
        }
    }
}

/// `EndpointConfig` of a connect request, checked once: the addresses
/// parse and are of their family, and what berth has no use for (links,
/// link-local addresses, driver options, a MAC address, a gateway
/// priority) is refused rather than dropped.
pub fn endpoint_wish(config: Option<&EndpointSettings>) -> Result<EndpointWish, JobError> {
    let Some(config) = config else {
        return Ok(EndpointWish::default());
    };
    let refuse = |what: &str| {
        Err(JobError::invalid(format!(
            "EndpointConfig.{what} is not supported by berth"
        )))
    };
    if config.links.as_ref().is_some_and(|l| !l.is_empty()) {
        return refuse("Links");
    }
    if config.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
        return refuse("DriverOpts");
    }
    if !config.mac_address.is_empty() {
        return refuse("MacAddress");
    }
    // API 1.48's `--gw-priority` picks which network gives the default
    // route; berth routes through the first network only, so a priority
    // would be silently ignored (moby `network.EndpointSettings.GwPriority`).
    if config.gw_priority != 0 {
        return refuse("GwPriority (--gw-priority)");
    }
    let mut wish = EndpointWish::default();
    if let Some(ipam) = &config.ipam_config {
        if ipam.link_local_ips.as_ref().is_some_and(|l| !l.is_empty()) {
            return refuse("IPAMConfig.LinkLocalIPs");
        }
        wish.ipv4 = parse_address(&ipam.ipv4_address, true)?;
        wish.ipv6 = parse_address(&ipam.ipv6_address, false)?;
    }
    for alias in config.aliases.iter().flatten() {
        if !alias.is_empty() && !wish.aliases.contains(alias) {
            wish.aliases.push(alias.clone());
        }
    }
    Ok(wish)
}

/// An `IPAMConfig` address: empty is none; else an address of the family
/// its field names (moby `validateEndpointSettings`: "invalid IPv4
/// address", "invalid IPv6 address").
pub(super) fn parse_address(text: &str, v4: bool) -> Result<Option<IpAddr>, JobError> {
    if text.is_empty() {
        return Ok(None);
    }
    let family = if v4 { "IPv4" } else { "IPv6" };
    match text.parse::<IpAddr>() {
        Ok(addr) if addr.is_ipv4() == v4 => Ok(Some(addr)),
        _ => Err(JobError::invalid(format!(
            "invalid {family} address: {text}"
        ))),
    }
}

/// What a network accepts of a wish: aliases and addresses on user
/// networks only, an address only of a family whose subnet the user gave,
/// inside it (moby v24 `validateNetworkingConfig`:
/// `ErrUnsupportedNetworkAndAlias`, `ErrUnsupportedNetworkAndIP`,
/// `ErrUnsupportedNetworkNoSubnetAndIP`, in that order; then libnetwork's
/// range check).
pub fn check_wish(network: &NetworkModel, wish: &EndpointWish) -> Result<(), JobError> {
    if network.name == DEFAULT_NETWORK {
        if wish.ipv4.is_some() || wish.ipv6.is_some() {
            return Err(JobError::invalid(IP_ON_DEFAULT_NETWORK));
        }
        if !wish.aliases.is_empty() {
            return Err(JobError::invalid(super::aliases::ALIAS_ON_DEFAULT_NETWORK));
        }
    }
    // An IPv6 subnet is the user's unless the network policy planned it
    // (`--ipv6` without an IPv6 `--subnet`).
    let user_subnets = [
        (
            wish.ipv4,
            network.ipv4.is_some() && network.ipv4_user_subnet,
        ),
        (wish.ipv6, network.ipv6.is_some() && !network.ipv6_planned),
    ];
    if user_subnets
        .iter()
        .any(|(addr, user_given)| addr.is_some() && !user_given)
    {
        return Err(JobError::invalid(IP_WITHOUT_USER_SUBNET));
    }
    for (addr, subnet) in [(wish.ipv4, network.ipv4), (wish.ipv6, network.ipv6)] {
        // Both present when asked: checked just above.
        let (Some(addr), Some(subnet)) = (addr, subnet) else {
            continue;
        };
        if !subnet.is_host_address(addr) || addr == subnet.gateway() {
            return Err(JobError::invalid(format!(
                "Invalid address {addr}: It does not belong to any of this network's subnets ({} on network {})",
                subnet.cidr(),
                network.name
            )));
        }
    }
    Ok(())
}

/// The refusal of a container whose mode fixes its namespace.
fn mode_conflict(mode: &NetworkMode) -> Option<&'static str> {
    match mode {
        NetworkMode::Host => Some(CONFLICT_HOST_NETWORK),
        NetworkMode::None => Some(CONFLICT_NO_NETWORK),
        NetworkMode::Container(_) => Some(CONFLICT_SHARED_NETWORK),
        NetworkMode::Bridge | NetworkMode::Network(_) => None,
    }
}

fn not_connected(container_id: &str, network: &str) -> JobError {
    // moby `disconnectFromNetwork`: a plain error; a 400 here, the
    // request names a pair that does not exist.
    JobError::invalid(format!(
        "container {container_id} is not connected to network {network}"
    ))
}

/// The smallest `eth<n>` the endpoints do not use: a connect after a
/// disconnect does not collide with an interface still in the sandbox.
fn free_index(endpoints: &[(NetworkModel, EndpointModel)]) -> usize {
    (0..)
        .find(|n| {
            let name = format!("eth{n}");
            !endpoints
                .iter()
                .any(|(_, ep)| ep.ifname_container.as_str() == name)
        })
        .unwrap_or(0)
}

impl Daemon {
    /// The networks container `id` joins at its next start, in order: the
    /// list `connect`/`disconnect` left in its record, else the one its
    /// mode names.
    pub(super) async fn networks_to_join(
        &self,
        id: &str,
        model: &ContainerModel,
    ) -> Result<Vec<(NetworkModel, EndpointWish)>, JobError> {
        let connections = self
            .containers
            .get(id)
            .ok()
            .and_then(|c| c.lock().record.connections.clone());
        let Some(connections) = connections else {
            return self.wanted_networks(model).await;
        };
        let mut wanted = Vec::with_capacity(connections.len());
        for connection in connections {
            let network = self.find_network(&connection.network_id).await?;
            wanted.push((network, connection.wish()));
        }
        Ok(wanted)
    }

    /// The container's networks as a list of connections.
    async fn connections_of(
        &self,
        record: &ContainerRecord,
        model: &ContainerModel,
    ) -> Result<Vec<Connection>, JobError> {
        if let Some(connections) = &record.connections {
            return Ok(connections.clone());
        }
        Ok(self
            .wanted_networks(model)
            .await?
            .iter()
            .map(|(network, wish)| Connection::new(network, wish))
            .collect())
    }

    async fn save_connections(
        &self,
        container: &Container,
        connections: Vec<Connection>,
    ) -> Result<(), JobError> {
        let record = {
            let mut inner = container.lock();
            inner.record.connections = Some(connections);
            inner.record.clone()
        };
        self.persist(&record).await
    }

    /// `POST /networks/{id}/connect`: puts the container on the network,
    /// now when it runs, at its next start otherwise.
    pub async fn network_connect(
        &self,
        reference: &str,
        request: NetworkConnectRequest,
    ) -> Result<(), JobError> {
        let wish = endpoint_wish(request.endpoint_config.as_ref())?;
        let container = self.containers.get(&request.container)?;
        let mut record = container.record();
        let model = record.ensure_model()?;
        match reference {
            "host" => return Err(JobError::invalid(CONFLICT_HOST_NETWORK)),
            "none" => return Err(JobError::invalid(CONFLICT_NO_NETWORK)),
            _ => {}
        }
        if let Some(conflict) = mode_conflict(&model.network) {
            return Err(JobError::invalid(conflict));
        }
        let network = self.find_network(reference).await?;
        check_wish(&network, &wish)?;
        let lock = self.attachments.lock_of(&container.id);
        let _held = lock.lock().await;
        // Read again under the lock: a start or another connect may have
        // changed either since.
        let record = container.record();
        let mut connections = self.connections_of(&record, &model).await?;
        if connections.iter().any(|c| c.network_id == network.id) {
            // libnetwork `ErrEndpointExists`-style Forbidden.
            return Err(JobError::new(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    record.name, network.name
                ),
            ));
        }
        if record.state.running {
            let attached = self.attachments.get(&container.id).ok_or_else(|| {
                JobError::conflict(format!(
                    "container {} runs without a network sandbox (its network is disabled): it cannot be connected while it runs",
                    container.id
                ))
            })?;
            let resolver = self.resolver_for(&attached.endpoints);
            let nameservers = model.dns.nameservers();
            self.connect_running(
                &container.id,
                &record.name,
                attached,
                &network,
                &wish,
                nameservers,
            )
            .await?;
            self.follow_resolver(&container.id, &model.dns, resolver)
                .await;
        }
        connections.push(Connection::new(&network, &wish));
        self.save_connections(&container, connections).await
    }

    /// Joins a running container's sandbox to one more network: lease,
    /// veth, names, as a start does for each of its networks.
    async fn connect_running(
        &self,
        id: &str,
        name: &str,
        attached: Attached,
        network: &NetworkModel,
        wish: &EndpointWish,
        nameservers: &[IpAddr],
    ) -> Result<(), JobError> {
        let before = attached.lease_state();
        let endpoint = {
            let _held = self.network_lock.lock().await;
            let store = self.store.clone();
            let leases = self
                .blocking(BlockingKind::StoreCommit, move || {
                    store
                        .list(SANDBOXES)
                        .map_err(|e| store_error("read the address leases", e))
                })
                .await?;
            let used: BTreeSet<IpAddr> = leases
                .iter()
                .flat_map(|(_, state)| state.endpoints.iter())
                .filter(|ep| ep.network_id == network.id)
                .flat_map(|ep| ep.ipv4.iter().chain(ep.ipv6.iter()).map(|a| a.addr))
                .collect();
            // Planned by the network policy, as a start's endpoints are;
            // the published ports stay with the first network.
            let request = EndpointRequest {
                container_id: id,
                network,
                index: free_index(&attached.endpoints),
                used: &used,
                wish,
                previous: &[],
                dns_names: dns_names(network, id, name, &wish.aliases),
                nameservers,
            };
            let (endpoint, _) = self.plan_endpoint_by_policy(request, &[]).await?;
            let mut after = before.clone();
            after.endpoints.push(endpoint.clone());
            self.put_lease(id, after).await?;
            endpoint
        };
        let driver = Arc::clone(&self.network);
        let (sandbox, net, ep) = (attached.sandbox.clone(), network.clone(), endpoint.clone());
        let joined = self
            .blocking(BlockingKind::Network, move || {
                let step = driver
                    .create_network(&net)
                    .and_then(|()| driver.connect(&sandbox, &net, &ep));
                if step.is_err() {
                    // A half-made veth goes; the error is the connect's.
                    if let Err(e) = driver.disconnect(&sandbox, &net, &ep) {
                        tracing::debug!(error = %e.message, "nothing to undo of a failed connect");
                    }
                }
                step
            })
            .await;
        if let Err(e) = joined {
            if let Err(undo) = self.put_lease(id, before).await {
                tracing::warn!(id, error = %undo.message, "cannot release the address of a failed connect");
            }
            return Err(e);
        }
        let mut attached = attached;
        attached.endpoints.push((network.clone(), endpoint.clone()));
        self.attachments.live().insert(id.to_owned(), attached);
        if let Err(e) = self.publish_names(network, &endpoint) {
            tracing::error!(id, network = %network.name, error = %e.message, "cannot publish the container's names");
        }
        self.endpoint_event("connect", network, id);
        Ok(())
    }

    async fn put_lease(&self, id: &str, state: SandboxState) -> Result<(), JobError> {
        let store = self.store.clone();
        let key = id.to_owned();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .write(|txn| txn.put(SANDBOXES, &key, &state))
                .map_err(|e: StoreError| store_error("store the address leases", e))
        })
        .await
    }

    /// `POST /networks/{id}/disconnect`: takes the container off the
    /// network, now when it runs; its published ports stay with its
    /// first endpoint.
    pub async fn network_disconnect(
        &self,
        reference: &str,
        request: NetworkDisconnectRequest,
    ) -> Result<(), JobError> {
        let container = self.containers.get(&request.container)?;
        let mut record = container.record();
        let model = record.ensure_model()?;
        if reference == "host" || model.network == NetworkMode::Host {
            return Err(JobError::invalid(CONFLICT_HOST_NETWORK));
        }
        if let Some(conflict) = mode_conflict(&model.network) {
            return Err(JobError::invalid(conflict));
        }
        let found = self.find_network(reference).await;
        let lock = self.attachments.lock_of(&container.id);
        let _held = lock.lock().await;
        let record = container.record();
        let mut connections = self.connections_of(&record, &model).await?;
        let network = match found {
            Ok(network) => network,
            // `-f` takes a stopped container off a network that is gone
            // (moby `DisconnectFromNetwork` with force).
            Err(e) if e.kind == ErrorKind::NotFound && request.force && !record.state.running => {
                let before = connections.len();
                connections.retain(|c| c.network_name != reference && c.network_id != reference);
                if connections.len() == before {
                    return Err(e);
                }
                return self.save_connections(&container, connections).await;
            }
            Err(e) => return Err(e),
        };
        let Some(position) = connections.iter().position(|c| c.network_id == network.id) else {
            return Err(not_connected(&container.id, &network.name));
        };
        if record.state.running {
            let resolver = self.current_resolver(&container.id);
            self.disconnect_running(&container.id, &network).await?;
            self.follow_resolver(&container.id, &model.dns, resolver)
                .await;
        }
        connections.remove(position);
        self.save_connections(&container, connections).await
    }

    /// Takes a running container's endpoint on `network` away: veth, names,
    /// lease.
    async fn disconnect_running(&self, id: &str, network: &NetworkModel) -> Result<(), JobError> {
        let Some(mut attached) = self.attachments.get(id) else {
            return Err(not_connected(id, &network.name));
        };
        let Some(position) = attached
            .endpoints
            .iter()
            .position(|(n, _)| n.id == network.id)
        else {
            return Err(not_connected(id, &network.name));
        };
        let (net, endpoint) = attached.endpoints[position].clone();
        let driver = Arc::clone(&self.network);
        let sandbox = attached.sandbox.clone();
        let (left_net, left_ep) = (net.clone(), endpoint.clone());
        self.blocking(BlockingKind::Network, move || {
            driver.disconnect(&sandbox, &left_net, &left_ep)
        })
        .await?;
        self.withdraw_names(&net, id);
        attached.endpoints.remove(position);
        let state = attached.lease_state();
        self.attachments.live().insert(id.to_owned(), attached);
        {
            let _held = self.network_lock.lock().await;
            self.put_lease(id, state).await?;
        }
        self.endpoint_event("disconnect", &net, id);
        Ok(())
    }
}

/// inspect's `IPAMConfig`: the addresses asked for (`--ip`, `--ip6`),
/// `None` when none was.
pub(super) fn asked_ipam(ipv4: Option<IpAddr>, ipv6: Option<IpAddr>) -> Option<EndpointIpamConfig> {
    let text = |addr: Option<IpAddr>| addr.map(|a| a.to_string()).unwrap_or_default();
    (ipv4.is_some() || ipv6.is_some()).then(|| EndpointIpamConfig {
        ipv4_address: text(ipv4),
        ipv6_address: text(ipv6),
        ..EndpointIpamConfig::default()
    })
}

/// inspect's `IPAMConfig` of a running container on `network`: what its
/// connection asked for when `connect` made its list, else what the
/// create request asked for its own network (moby reports the asked
/// addresses whether it runs or not).
pub(super) fn inspect_ipam(
    record: &ContainerRecord,
    network: &NetworkModel,
) -> Option<EndpointIpamConfig> {
    match &record.connections {
        Some(connections) => connections
            .iter()
            .find(|c| c.network_id == network.id)
            .and_then(|c| asked_ipam(c.ipv4, c.ipv6)),
        None => {
            let model = record.model.as_ref()?;
            asked_ipam(model.ipv4_address, model.ipv6_address)
        }
    }
}

/// inspect's `Aliases` of a running container on `network`: those its
/// connection asked for when `connect` made its list, else `asked` (the
/// create request's).
pub(super) fn inspect_aliases(
    record: &ContainerRecord,
    network: &NetworkModel,
    asked: &Option<Vec<String>>,
) -> Option<Vec<String>> {
    let Some(connections) = &record.connections else {
        return asked.clone();
    };
    connections
        .iter()
        .find(|c| c.network_id == network.id)
        .filter(|c| !c.aliases.is_empty())
        .map(|c| c.aliases.clone())
}

impl Daemon {
    /// After `docker rename` of a running container: each of its endpoints
    /// answers `new` where it answered `old` (moby `daemon/rename.go`
    /// updates the sandbox's DNS names). The names are withdrawn and
    /// published again, the lease keeps them for a daemon restart. A
    /// stopped container needs nothing: its next start names it anew.
    pub(super) async fn rename_dns_names(&self, id: &str, old: &str, new: &str) {
        let lock = self.attachments.lock_of(id);
        let _held = lock.lock().await;
        let Some(mut attached) = self.attachments.get(id) else {
            return;
        };
        let mut changed = false;
        for (_, endpoint) in &mut attached.endpoints {
            // The container's name is the first of its DNS names.
            if endpoint.aliases.first().map(String::as_str) != Some(old) {
                continue;
            }
            endpoint.aliases[0] = new.to_owned();
            let mut seen = BTreeSet::new();
            endpoint.aliases.retain(|a| seen.insert(a.clone()));
            changed = true;
        }
        if !changed {
            return;
        }
        for (network, endpoint) in &attached.endpoints {
            self.withdraw_names(network, id);
            if let Err(e) = self.publish_names(network, endpoint) {
                tracing::error!(id, network = %network.name, error = %e.message, "cannot publish the container's new name");
            }
        }
        let state = attached.lease_state();
        self.attachments.live().insert(id.to_owned(), attached);
        let _network = self.network_lock.lock().await;
        if let Err(e) = self.put_lease(id, state).await {
            tracing::warn!(id, error = %e.message, "cannot store the container's new DNS names");
        }
    }
}
