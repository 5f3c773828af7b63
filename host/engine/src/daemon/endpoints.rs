//! Containers on their networks (issue 12): at start a container whose
//! mode is `bridge`/`default` or a user network gets a sandbox (its network
//! namespace), an address leased from each network's subnet, and a veth
//! pair into each network's bridge; at its exit (stop, kill, death, `rm
//! -f`) or a failed start all of it goes again. moby does the same in
//! `daemon/container_operations.go` (`allocateNetwork` at start,
//! `releaseNetwork` at exit).
//!
//! The leases are the endpoints themselves: [`SANDBOXES`] holds, per
//! container that runs, its sandbox with the endpoints it has, so a daemon
//! restart neither loses nor hands out twice an address, and
//! [`Daemon::reconcile_networks`] gives the kernel driver exactly that at
//! daemon start. An exited container's addresses are kept in
//! [`ADDRESS_HINTS`] and given back at its next start when still free, so a
//! restarted container keeps its address.
//!
//! Every step of a join or a leave runs in order under the container's own
//! network lock, in a task of its own: a start whose future is dropped
//! (timed out, cancelled by `rm -f`) cannot leave a half-made attachment,
//! since the undo ([`Daemon::leave_networks`]) waits for the join to end.
//! The leave side, and an exit's teardown that goes on after the exit is
//! recorded, are in `teardown.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_api::container::{EndpointSettings, NetworkSettings};
use berth_api::network::{EndpointResource, NetworkResource};
use berth_model::container::ContainerModel;
use berth_model::network::{
    EndpointModel, InterfaceAddress, InterfaceName, MacAddress, NetworkMode, NetworkModel,
    NetworkState, SandboxModel, SandboxState,
};
use berth_model::ports::PortRequest;
use berth_store::{StoreError, Table};

use super::blocking::BlockingKind;
use super::container::ContainerRecord;
use super::{Daemon, ipam, names, store_error};
use crate::job::{ErrorKind, JobError};

/// The sandbox and endpoints of every container that runs, by container
/// id: the address leases.
pub const SANDBOXES: Table<SandboxState> = Table::new("sandboxes");

/// The addresses a container had on each network (by network id) when it
/// last stopped, offered again at its next start.
pub const ADDRESS_HINTS: Table<BTreeMap<String, Vec<IpAddr>>> = Table::new("address_hints");

/// The name of the default network (moby `network.NetworkBridge`).
pub(super) const DEFAULT_NETWORK: &str = "bridge";

/// What a container asks of one of its networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointWish {
    /// `--ip`: an IPv4 address that must be given, or the start fails.
    pub ipv4: Option<IpAddr>,
    /// `--ip6`.
    pub ipv6: Option<IpAddr>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
}

/// Everything the planning of one endpoint depends on ([`plan_endpoint`]).
#[derive(Debug)]
pub struct EndpointRequest<'a> {
    /// The container's id.
    pub container_id: &'a str,
    /// The network, as stored.
    pub network: &'a NetworkModel,
    /// Its place among the container's networks: `eth<index>`; the first
    /// one carries the default route.
    pub index: usize,
    /// The addresses the network's other endpoints hold.
    pub used: &'a BTreeSet<IpAddr>,
    /// What the container asks for.
    pub wish: &'a EndpointWish,
    /// Addresses it had on this network before, given again when free.
    pub previous: &'a [IpAddr],
    /// The names the embedded DNS server answers for it on this network.
    pub dns_names: Vec<String>,
    /// Its `--dns` servers: where its queries go from every network,
    /// before any a network policy plans ([`EndpointModel::dns_servers`]).
    pub nameservers: &'a [IpAddr],
}

/// Plans one endpoint: its addresses (the requested one, else the one it
/// had, else the lowest free one: moby's default IPAM), the MAC derived
/// from the IPv4 address as moby's bridge driver does, its interface names
/// and its default route. The one place an endpoint's shape is decided:
/// the network-policy plugin's plan replaces the address choice here.
pub fn plan_endpoint(request: &EndpointRequest<'_>) -> Result<EndpointModel, JobError> {
    let network = request.network;
    let choose = |subnet: &berth_model::network::Subnet, requested: Option<IpAddr>| {
        let requested = requested.or_else(|| {
            request.previous.iter().copied().find(|addr| {
                subnet.is_host_address(*addr)
                    && *addr != subnet.gateway()
                    && !request.used.contains(addr)
            })
        });
        ipam::allocate(subnet, request.used, requested)
            .map(|addr| InterfaceAddress {
                addr,
                prefix: subnet.prefix(),
            })
            .map_err(|e| address_error(network, requested, e))
    };
    let ipv4 = network
        .ipv4
        .as_ref()
        .map(|subnet| choose(subnet, request.wish.ipv4))
        .transpose()?;
    let ipv6 = network
        .ipv6
        .as_ref()
        .map(|subnet| choose(subnet, request.wish.ipv6))
        .transpose()?;
    let mac = match ipv4.map(|a| a.addr) {
        Some(IpAddr::V4(v4)) => MacAddress::from_ipv4(v4),
        // A network without IPv4 has none to derive it from: a random,
        // locally administered unicast address (moby `netutils.GenerateRandomMAC`).
        _ => random_mac(),
    };
    let id = names::generate_id();
    let ifname_host = host_ifname(&id)?;
    let ifname_container = InterfaceName::new(&format!("eth{}", request.index))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    // The default route goes through the first network only, and never
    // through an internal one (moby: the gateway endpoint of a sandbox).
    let routed = request.index == 0 && !network.internal;
    let gateway4 = match network.ipv4.map(|s| s.gateway()) {
        Some(IpAddr::V4(gw)) if routed => Some(gw),
        _ => None,
    };
    let gateway6 = match network.ipv6.map(|s| s.gateway()) {
        Some(IpAddr::V6(gw)) if routed => Some(gw),
        _ => None,
    };
    Ok(EndpointModel {
        id,
        container_id: request.container_id.to_owned(),
        network_id: network.id.clone(),
        ifname_host,
        ifname_container,
        mac,
        ipv4,
        ipv6,
        gateway4,
        gateway6,
        ports: Vec::new(),
        aliases: request.dns_names.clone(),
        dns_servers: request.nameservers.to_vec(),
    })
}

/// `veth` and 7 hex digits of a hash of the endpoint's id: 11 bytes, within
/// the kernel's 15 (moby names its host ends `veth` + 7 hex too).
fn host_ifname(endpoint_id: &str) -> Result<InterfaceName, JobError> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    endpoint_id.hash(&mut hasher);
    let hash = hasher.finish() & 0x0fff_ffff;
    InterfaceName::new(&format!("veth{hash:07x}")).map_err(|e| JobError::invalid(e.to_string()))
}

fn random_mac() -> MacAddress {
    let mut bytes: [u8; 6] = rand::random();
    bytes[0] = (bytes[0] & 0xfe) | 0x02;
    MacAddress::from_bytes(bytes)
}

/// An address that cannot be given, with moby's IPAM messages.
fn address_error(
    network: &NetworkModel,
    requested: Option<IpAddr>,
    e: ipam::IpamError,
) -> JobError {
    let kind = match e {
        ipam::IpamError::InUse | ipam::IpamError::NoAddress => ErrorKind::Conflict,
        _ => ErrorKind::InvalidParameter,
    };
    let what = requested.map_or_else(String::new, |addr| format!(" {addr}"));
    JobError::new(
        kind,
        format!(
            "failed to allocate the address{what} on network {}: {e}",
            network.name
        ),
    )
}

/// A container's live attachment: its sandbox and, in connect order, each
/// network with the endpoint on it.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The namespace.
    pub sandbox: SandboxModel,
    /// The networks and endpoints.
    pub endpoints: Vec<(NetworkModel, EndpointModel)>,
}

impl Attached {
    /// What the store keeps of this attachment (table `sandboxes`): the
    /// sandbox and its endpoints, without the networks.
    pub(super) fn lease_state(&self) -> SandboxState {
        SandboxState {
            sandbox: self.sandbox.clone(),
            endpoints: self.endpoints.iter().map(|(_, ep)| ep.clone()).collect(),
        }
    }
}

/// The daemon's in-memory view of the attachments (the store has the
/// same), and one lock per container that orders its joins and leaves.
#[derive(Debug, Default)]
pub struct Attachments {
    live: Mutex<HashMap<String, Attached>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Attachments {
    pub(super) fn live(&self) -> MutexGuard<'_, HashMap<String, Attached>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn lock_of(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(id.to_owned()).or_default())
    }

    /// The container's attachment while it runs.
    pub fn get(&self, id: &str) -> Option<Attached> {
        self.live().get(id).cloned()
    }
}

impl Daemon {
    /// The networks `model` joins at start, in connect order, with what it
    /// asks of each. The default network when it exists (dockerd with
    /// `--bridge=none` leaves a `bridge`-mode container with only `lo`:
    /// moby `connectToNetwork` sets `NetworkDisabled`).
    pub(super) async fn wanted_networks(
        &self,
        model: &ContainerModel,
    ) -> Result<Vec<(NetworkModel, EndpointWish)>, JobError> {
        match &model.network {
            NetworkMode::Bridge => match self.find_network(DEFAULT_NETWORK).await {
                Ok(network) if network.name == DEFAULT_NETWORK => {
                    Ok(vec![(network, EndpointWish::default())])
                }
                Ok(_) => Ok(Vec::new()),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            NetworkMode::Network(name) => {
                let network = self.find_network(name).await?;
                let wish = EndpointWish {
                    ipv4: model.ipv4_address,
                    ipv6: model.ipv6_address,
                    aliases: model.aliases.clone(),
                };
                Ok(vec![(network, wish)])
            }
            NetworkMode::None | NetworkMode::Host | NetworkMode::Container(_) => Ok(Vec::new()),
        }
    }

    /// Leases an address on each wanted network and stores the sandbox
    /// with its endpoints, under the network lock so that two starts, or a
    /// start and a network's removal, see each other's leases.
    pub(super) async fn lease(
        &self,
        id: &str,
        name: &str,
        sandbox: &SandboxModel,
        wanted: &[(NetworkModel, EndpointWish)],
        requests: Vec<PortRequest>,
        nameservers: &[IpAddr],
    ) -> Result<Vec<EndpointModel>, JobError> {
        let _held = self.network_lock.lock().await;
        let store = self.store.clone();
        let key = id.to_owned();
        let (leases, hints) = self
            .blocking(BlockingKind::StoreCommit, move || {
                let read = || -> Result<_, StoreError> {
                    let txn = store.read()?;
                    Ok((txn.list(SANDBOXES)?, txn.get(ADDRESS_HINTS, &key)?))
                };
                read().map_err(|e| store_error("read the address leases", e))
            })
            .await?;
        let hints = hints.unwrap_or_default();
        let mut endpoints: Vec<EndpointModel> = Vec::new();
        let mut planned_ports = Vec::new();
        for (index, (network, wish)) in wanted.iter().enumerate() {
            let used: BTreeSet<IpAddr> = leases
                .iter()
                .filter(|(owner, _)| owner != id)
                .flat_map(|(_, state)| state.endpoints.iter())
                .chain(endpoints.iter())
                .filter(|ep| ep.network_id == network.id)
                .flat_map(|ep| ep.ipv4.iter().chain(ep.ipv6.iter()).map(|a| a.addr))
                .collect();
            let previous = hints.get(&network.id).map_or(&[][..], Vec::as_slice);
            // Published through the first network, as moby's bridge
            // driver does for the container's gateway endpoint.
            let publishes = if index == 0 { &requests[..] } else { &[] };
            let request = EndpointRequest {
                container_id: id,
                network,
                index,
                used: &used,
                wish,
                previous,
                dns_names: dns_names(network, id, name, &wish.aliases),
                nameservers,
            };
            let (endpoint, ports) = self.plan_endpoint_by_policy(request, publishes).await?;
            planned_ports.extend(ports);
            endpoints.push(endpoint);
        }
        // Its host ports, all or none (moby `allocatePorts` before the
        // endpoint joins): the endpoint carries them into the driver's
        // DNAT rules. The join's undo releases them on a later failure.
        let ports = self.reserve_ports(id, planned_ports).await?;
        if let Some(first) = endpoints.first_mut() {
            first.ports = ports;
        }
        let record = SandboxState {
            sandbox: sandbox.clone(),
            endpoints: endpoints.clone(),
        };
        let store = self.store.clone();
        let key = id.to_owned();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .put(SANDBOXES, &key, &record)
                .map_err(|e| store_error("store the address leases", e))
        })
        .await?;
        Ok(endpoints)
    }

    /// The attachment the store has for `id`, with its networks as stored
    /// (an endpoint whose network is gone is dropped: its bridge and veth
    /// went with the network).
    pub(super) async fn stored_attachment(&self, id: &str) -> Result<Option<Attached>, JobError> {
        let store = self.store.clone();
        let key = id.to_owned();
        let state = self
            .blocking(BlockingKind::StoreCommit, move || {
                store
                    .get(SANDBOXES, &key)
                    .map_err(|e| store_error("read the address leases", e))
            })
            .await?;
        let Some(state) = state else {
            return Ok(None);
        };
        let networks = self.stored_networks_by_id().await?;
        Ok(Some(attached_from(state, &networks)))
    }

    async fn stored_networks_by_id(&self) -> Result<HashMap<String, NetworkModel>, JobError> {
        let store = self.store.clone();
        self.blocking(BlockingKind::StoreCommit, move || {
            store
                .list(super::networks::NETWORKS)
                .map_err(|e| store_error("list networks", e))
        })
        .await
        .map(|rows| rows.into_iter().collect())
    }

    pub(super) async fn remove_sandbox_logged(&self, sandbox: &SandboxModel) {
        let network = Arc::clone(&self.network);
        let removed = sandbox.clone();
        if let Err(e) = self
            .blocking(BlockingKind::Network, move || {
                network.remove_sandbox(&removed)
            })
            .await
        {
            tracing::warn!(id = %sandbox.container_id, error = %e.message, "cannot remove the network namespace");
        }
    }

    /// At daemon start, before any container starts: the leases of the
    /// containers that ran (`running`, by id) are kept, the others
    /// released; the kernel driver is then given exactly the stored
    /// networks and those sandboxes, and removes whatever else of berth's
    /// it finds (after a `kill -9` of berthd).
    pub(super) async fn reconcile_networks(
        &self,
        running: &std::collections::HashSet<String>,
    ) -> Result<(), JobError> {
        let store = self.store.clone();
        let keep: std::collections::HashSet<String> = running.clone();
        let (kept, networks) = self
            .blocking(BlockingKind::StoreCommit, move || {
                store
                    .write(|txn| {
                        let mut kept = Vec::new();
                        for (id, state) in txn.list(SANDBOXES)? {
                            if keep.contains(&id) {
                                kept.push(state);
                            } else {
                                txn.delete(SANDBOXES, &id)?;
                            }
                        }
                        let networks: HashMap<String, NetworkModel> =
                            txn.list(super::networks::NETWORKS)?.into_iter().collect();
                        Ok::<_, StoreError>((kept, networks))
                    })
                    .map_err(|e| store_error("reconcile the address leases", e))
            })
            .await?;
        {
            let mut live = self.attachments.live();
            for state in &kept {
                let attached = attached_from(state.clone(), &networks);
                live.insert(state.sandbox.container_id.clone(), attached);
            }
        }
        let state = NetworkState {
            networks: networks.into_values().collect(),
            sandboxes: kept,
        };
        self.reconcile_names(&state);
        let network = Arc::clone(&self.network);
        match self
            .blocking(BlockingKind::Network, move || network.reconcile(&state))
            .await
        {
            Err(e) if e.kind != ErrorKind::Unavailable => Err(e),
            _ => Ok(()),
        }
    }

    /// A network with containers on it cannot go (moby
    /// `libnetwork.ActiveEndpointsError`, a 403). Called under the network
    /// lock, which every lease takes too.
    pub(super) async fn refuse_active_endpoints(
        &self,
        network: &NetworkModel,
    ) -> Result<(), JobError> {
        let store = self.store.clone();
        let leases = self
            .blocking(BlockingKind::StoreCommit, move || {
                store
                    .list(SANDBOXES)
                    .map_err(|e| store_error("read the address leases", e))
            })
            .await?;
        let active = leases
            .iter()
            .flat_map(|(_, state)| state.endpoints.iter())
            .any(|ep| ep.network_id == network.id);
        if active {
            return Err(JobError::new(
                ErrorKind::Forbidden,
                format!(
                    "error while removing network: network {} id {} has active endpoints",
                    network.name, network.id
                ),
            ));
        }
        Ok(())
    }

    /// A network's wire form with the running containers on it
    /// (`Containers`, by container id, as moby's network inspect).
    pub(super) fn with_containers(&self, mut resource: NetworkResource) -> NetworkResource {
        let live = self.attachments.live().clone();
        for (id, attached) in live {
            for (network, ep) in &attached.endpoints {
                if network.id != resource.id {
                    continue;
                }
                let name = self
                    .containers
                    .get(&id)
                    .map(|c| c.lock().record.name.clone())
                    .unwrap_or_default();
                let cidr =
                    |a: Option<InterfaceAddress>| a.map(|a| a.to_string()).unwrap_or_default();
                resource.containers.insert(
                    id.clone(),
                    EndpointResource {
                        name,
                        endpoint_id: ep.id.clone(),
                        mac_address: ep.mac.to_string(),
                        ipv4_address: cidr(ep.ipv4),
                        ipv6_address: cidr(ep.ipv6),
                    },
                );
            }
        }
        resource
    }

    /// moby's `connect`/`disconnect` events of a network.
    pub(super) fn endpoint_event(&self, action: &str, network: &NetworkModel, container_id: &str) {
        let attrs = BTreeMap::from([
            ("container".to_owned(), container_id.to_owned()),
            ("name".to_owned(), network.name.clone()),
            ("type".to_owned(), network.driver.clone()),
        ]);
        self.events.publish("network", action, &network.id, attrs);
    }

    /// inspect's `NetworkSettings` of a container: its endpoints while it
    /// runs (the default bridge's also at the top level, as moby), else
    /// the networks it is on with their addresses empty, as moby.
    pub(super) fn network_settings(&self, record: &ContainerRecord) -> NetworkSettings {
        let mut settings = NetworkSettings::default();
        // moby reports the asked aliases whether it runs or not.
        let aliases = record
            .model
            .as_ref()
            .map(|m| m.aliases.clone())
            .filter(|a| !a.is_empty());
        let attached = if record.state.running {
            self.attachments.get(&record.id)
        } else {
            None
        };
        let Some(attached) = attached else {
            if let Some(connections) = &record.connections {
                for connection in connections {
                    let endpoint = connection.settings();
                    settings
                        .networks
                        .insert(connection.network_name.clone(), endpoint);
                }
                return settings;
            }
            if let Some(name) = configured_network(record) {
                let endpoint = EndpointSettings {
                    aliases,
                    ipam_config: record
                        .model
                        .as_ref()
                        .and_then(|m| super::connect::asked_ipam(m.ipv4_address, m.ipv6_address)),
                    ..EndpointSettings::default()
                };
                settings.networks.insert(name, endpoint);
            }
            return settings;
        };
        settings.sandbox_id = record.id.clone();
        settings.sandbox_key = attached.sandbox.netns_path.display().to_string();
        // Published through the first network (see `lease`).
        settings.ports = super::publish::inspect_ports(
            record.config.exposed_ports.keys(),
            attached.endpoints.first().map(|(_, ep)| ep),
        );
        for (network, ep) in &attached.endpoints {
            let mut endpoint = endpoint_settings(network, ep);
            if network.name != DEFAULT_NETWORK {
                endpoint.aliases = super::connect::inspect_aliases(record, network, &aliases);
                endpoint.ipam_config = super::connect::inspect_ipam(record, network);
            }
            if network.name == DEFAULT_NETWORK {
                settings.endpoint_id = endpoint.endpoint_id.clone();
                settings.gateway = endpoint.gateway.clone();
                settings.ip_address = endpoint.ip_address.clone();
                settings.ip_prefix_len = endpoint.ip_prefix_len;
                settings.ipv6_gateway = endpoint.ipv6_gateway.clone();
                settings.global_ipv6_address = endpoint.global_ipv6_address.clone();
                settings.global_ipv6_prefix_len = endpoint.global_ipv6_prefix_len;
                settings.mac_address = endpoint.mac_address.clone();
            }
            settings.networks.insert(network.name.clone(), endpoint);
        }
        settings
    }
}

/// The network a stopped container is on, by name, as its mode says.
fn configured_network(record: &ContainerRecord) -> Option<String> {
    match NetworkMode::parse(&record.host_config.network_mode).ok()? {
        NetworkMode::Bridge => Some(DEFAULT_NETWORK.to_owned()),
        NetworkMode::Network(name) => Some(name),
        NetworkMode::None => Some("none".to_owned()),
        NetworkMode::Host => Some("host".to_owned()),
        NetworkMode::Container(_) => None,
    }
}

fn endpoint_settings(network: &NetworkModel, ep: &EndpointModel) -> EndpointSettings {
    let text = |addr: Option<IpAddr>| addr.map(|a| a.to_string()).unwrap_or_default();
    let user_network = network.name != DEFAULT_NETWORK;
    EndpointSettings {
        network_id: network.id.clone(),
        endpoint_id: ep.id.clone(),
        mac_address: ep.mac.to_string(),
        gateway: text(network.ipv4.map(|s| s.gateway())),
        ip_address: text(ep.ipv4.map(|a| a.addr)),
        ip_prefix_len: ep.ipv4.map_or(0, |a| a.prefix),
        ipv6_gateway: text(network.ipv6.map(|s| s.gateway())),
        global_ipv6_address: text(ep.ipv6.map(|a| a.addr)),
        global_ipv6_prefix_len: ep.ipv6.map_or(0, |a| a.prefix),
        dns_names: user_network.then(|| ep.aliases.clone()),
        ..EndpointSettings::default()
    }
}

/// The names the embedded DNS server answers for a container on a
/// user-defined network: its name, its short id, its aliases (moby
/// `EndpointSettings.DNSNames`); none on the default bridge, which has no
/// DNS server.
pub(super) fn dns_names(
    network: &NetworkModel,
    id: &str,
    name: &str,
    aliases: &[String],
) -> Vec<String> {
    if network.name == DEFAULT_NETWORK {
        return Vec::new();
    }
    let mut names = vec![name.to_owned(), id.chars().take(12).collect()];
    for alias in aliases {
        if !names.contains(alias) {
            names.push(alias.clone());
        }
    }
    names
}

fn attached_from(state: SandboxState, networks: &HashMap<String, NetworkModel>) -> Attached {
    let endpoints = state
        .endpoints
        .into_iter()
        .filter_map(|ep| networks.get(&ep.network_id).cloned().map(|n| (n, ep)))
        .collect();
    Attached {
        sandbox: state.sandbox,
        endpoints,
    }
}

/// Makes each network's bridge exist and connects the sandbox to it, in
/// order; on a failure what was done is undone (the failed endpoint's
/// half-made veth, the earlier endpoints, the sandbox) and the error
/// returned. Blocking.
pub(super) fn apply(
    network: &dyn crate::driver::NetworkService,
    attached: &Attached,
) -> Result<(), JobError> {
    for (done, (net, ep)) in attached.endpoints.iter().enumerate() {
        let step = network
            .create_network(net)
            .and_then(|()| network.connect(&attached.sandbox, net, ep));
        if let Err(e) = step {
            undo(network, attached, done + 1);
            return Err(e);
        }
    }
    Ok(())
}

/// Disconnects the first `count` endpoints, last first, then removes the
/// sandbox; failures are logged. Blocking.
pub(super) fn undo(network: &dyn crate::driver::NetworkService, attached: &Attached, count: usize) {
    let id = &attached.sandbox.container_id;
    for (net, ep) in attached.endpoints.iter().take(count).rev() {
        if let Err(e) = network.disconnect(&attached.sandbox, net, ep) {
            tracing::warn!(id = %id, network = %net.name, error = %e.message, "cannot disconnect the container");
        }
    }
    if let Err(e) = network.remove_sandbox(&attached.sandbox) {
        tracing::warn!(id = %id, error = %e.message, "cannot remove the network namespace");
    }
}
