//! The driver: the known state of networks and endpoints, applied to the
//! kernel and the firewall.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::firewall::render;
use crate::{
    BridgeSpec, EndpointSpec, Firewall, IfName, IpNetwork, Kernel, NetworkError, NetworkSpec,
    TableName, VethSpec,
};

/// Where the driver keeps its namespaces and what its table is called.
#[derive(Debug, Clone)]
pub struct NetworkDriverConfig {
    /// `<exec-root>/netns`: one bind-mounted namespace per container.
    pub netns_dir: PathBuf,
    /// The daemon's nftables table (`berth` by default; test daemons name
    /// their own so they never share one).
    pub table: TableName,
    /// Turn forwarding on when a bridge network needs it (dockerd's
    /// `--ip-forward`, on by default): `net.ipv4.ip_forward` for a network
    /// with IPv4, IPv6's `all` and `default` forwarding for a dual-stack
    /// one. Off, the host's settings are left alone and only same-bridge
    /// and host-local traffic flows.
    pub ip_forward: bool,
}

#[derive(Debug, Default)]
struct State {
    networks: BTreeMap<String, NetworkSpec>,
    /// Keyed by (container id, network id).
    endpoints: BTreeMap<(String, String), EndpointSpec>,
    /// The script the firewall last accepted; `None` when unknown (before
    /// the first apply, after a delete or a failed apply). The table
    /// depends only on the networks and the published ports, so most
    /// starts and stops render the same script again and cost no nft run.
    applied: Option<String>,
}

/// The kernel side of networking for one daemon.
///
/// Every method blocks (netlink on dedicated threads, `nft`): call it from a
/// blocking pool. Calls are serialised: the firewall is rendered from the
/// whole state, so two changes must not interleave.
pub struct NetworkDriver {
    kernel: Arc<dyn Kernel>,
    firewall: Arc<dyn Firewall>,
    config: NetworkDriverConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for NetworkDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkDriver")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const IP_FORWARD: &str = "net/ipv4/ip_forward";

/// IPv6 forwarding: `default` for interfaces made later, `all` for every
/// one (and the switch the kernel's forward path reads), in moby's order.
const IPV6_FORWARDING: [&str; 2] = [
    "net/ipv6/conf/default/forwarding",
    "net/ipv6/conf/all/forwarding",
];

impl NetworkDriver {
    /// A driver with no networks yet (see [`NetworkDriver::reconcile`]).
    pub fn new(
        kernel: Arc<dyn Kernel>,
        firewall: Arc<dyn Firewall>,
        config: NetworkDriverConfig,
    ) -> NetworkDriver {
        NetworkDriver {
            kernel,
            firewall,
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, NetworkError> {
        self.state
            .lock()
            .map_err(|_| NetworkError::Thread("the network state lock is poisoned".into()))
    }

    /// The path of a container's network namespace.
    pub fn netns_path(&self, container_id: &str) -> Result<PathBuf, NetworkError> {
        let valid = !container_id.is_empty()
            && container_id.len() <= 128
            && container_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(NetworkError::Invalid {
                what: "container id",
                value: container_id.to_string(),
                reason: "must be 1 to 128 letters, digits, '_' or '-'",
            });
        }
        Ok(self.config.netns_dir.join(container_id))
    }

    /// Creates the container's namespace (with `lo` up) and returns its path.
    pub fn create_sandbox(&self, container_id: &str) -> Result<PathBuf, NetworkError> {
        let path = self.netns_path(container_id)?;
        self.kernel.create_netns(&path)?;
        Ok(path)
    }

    /// Disconnects the container from every network and removes its
    /// namespace; what is already gone is skipped.
    pub fn remove_sandbox(&self, container_id: &str) -> Result<(), NetworkError> {
        let path = self.netns_path(container_id)?;
        let mut state = self.state()?;
        let gone: Vec<EndpointSpec> = state
            .endpoints
            .iter()
            .filter(|((c, _), _)| c == container_id)
            .map(|(_, e)| e.clone())
            .collect();
        if !gone.is_empty() {
            state.endpoints.retain(|(c, _), _| c != container_id);
            self.apply(&mut state)?;
        }
        // The links are the container's alone once its rules are gone:
        // their deletion (an RCU grace period each) does not hold up the
        // other containers' calls.
        drop(state);
        for endpoint in &gone {
            self.kernel.delete_link(&endpoint.host_ifname)?;
        }
        self.kernel.remove_netns(&path)
    }

    /// Creates (or brings back) a network's bridge and its rules.
    pub fn create_network(&self, network: &NetworkSpec) -> Result<(), NetworkError> {
        let mut state = self.state()?;
        self.ensure_network(network)?;
        let previous = state.networks.insert(network.id.clone(), network.clone());
        // The engine makes sure of the network before every connect: the
        // table only changes when the network does, so an unchanged one
        // costs no nft run on a container's start.
        if previous.as_ref() == Some(network) {
            return Ok(());
        }
        if let Err(e) = self.apply(&mut state) {
            match previous {
                Some(p) => state.networks.insert(p.id.clone(), p),
                None => {
                    let _ = self.kernel.delete_link(&network.bridge);
                    state.networks.remove(&network.id)
                }
            };
            return Err(e);
        }
        Ok(())
    }

    fn bridge_alias(&self) -> String {
        bridge_alias(&self.config.table)
    }

    /// The destinations of the host's routes except through this daemon's
    /// bridges, for the engine's choice of free subnets.
    pub fn host_routes(&self) -> Result<Vec<crate::IpNetwork>, NetworkError> {
        let owned = self.kernel.bridges_with_alias(&self.bridge_alias())?;
        self.kernel.route_destinations(&owned)
    }

    fn ensure_network(&self, network: &NetworkSpec) -> Result<(), NetworkError> {
        self.kernel.ensure_bridge(&BridgeSpec {
            name: network.bridge.clone(),
            addresses: network.gateways.clone(),
            alias: self.bridge_alias(),
        })?;
        if self.config.ip_forward && !network.internal {
            if network.gateways.iter().any(|g| !g.is_ipv6()) {
                self.ensure_forwarding(IP_FORWARD)?;
            }
            if network.gateways.iter().any(IpNetwork::is_ipv6) {
                for key in IPV6_FORWARDING {
                    self.ensure_forwarding(key)?;
                }
            }
        }
        Ok(())
    }

    /// Bridged traffic is routed through the host: like dockerd
    /// (`libnetwork/drivers/bridge/setup_ip_forwarding.go`,
    /// `setupIPv4Forwarding` and, for a network with IPv6,
    /// `setupIPv6Forwarding`), turn forwarding on when it is off, and say
    /// so. IPv6 has no per-interface switch for the forward path: without
    /// `all`, a packet DNATed to a container's IPv6 address is dropped.
    fn ensure_forwarding(&self, key: &str) -> Result<(), NetworkError> {
        if self.kernel.read_sysctl(key)? != "1" {
            self.kernel.write_sysctl(key, "1")?;
            tracing::warn!(
                sysctl = %key.replace('/', "."),
                "forwarding was off; turned it on for bridge networks, as dockerd does"
            );
        }
        Ok(())
    }

    /// Removes a network's rules and its bridge, and the endpoints still
    /// on it (the engine refuses to remove a network in use before this).
    pub fn remove_network(&self, network_id: &str) -> Result<(), NetworkError> {
        let mut state = self.state()?;
        let Some(network) = state.networks.remove(network_id) else {
            return Ok(());
        };
        state.endpoints.retain(|(_, n), _| n != network_id);
        self.apply(&mut state)?;
        self.kernel.delete_link(&network.bridge)
    }

    /// Attaches a container (whose sandbox exists) to a network: veth,
    /// addresses, routes, then its rules. On failure nothing is left.
    pub fn connect(&self, endpoint: &EndpointSpec) -> Result<(), NetworkError> {
        let mut state = self.state()?;
        let network = state
            .networks
            .get(&endpoint.network_id)
            .ok_or_else(|| NetworkError::UnknownNetwork(endpoint.network_id.clone()))?
            .clone();
        check_ports(endpoint)?;
        let veth = self.veth_for(&network, endpoint)?;
        self.kernel.attach_veth(&veth)?;
        let key = (endpoint.container_id.clone(), endpoint.network_id.clone());
        let previous = state.endpoints.insert(key.clone(), endpoint.clone());
        if let Err(e) = self.apply(&mut state) {
            match previous {
                Some(p) => state.endpoints.insert(key, p),
                None => state.endpoints.remove(&key),
            };
            let _ = self.kernel.delete_link(&endpoint.host_ifname);
            return Err(e);
        }
        Ok(())
    }

    fn veth_for(
        &self,
        network: &NetworkSpec,
        endpoint: &EndpointSpec,
    ) -> Result<VethSpec, NetworkError> {
        Ok(VethSpec {
            host_ifname: endpoint.host_ifname.clone(),
            bridge: network.bridge.clone(),
            netns: self.netns_path(&endpoint.container_id)?,
            container_ifname: endpoint.container_ifname.clone(),
            mac: endpoint.mac,
            addresses: endpoint.addresses.clone(),
            gateways: endpoint.gateways.clone(),
        })
    }

    /// Detaches a container from a network: its rules, then its veth.
    pub fn disconnect(&self, container_id: &str, network_id: &str) -> Result<(), NetworkError> {
        let mut state = self.state()?;
        let key = (container_id.to_string(), network_id.to_string());
        let Some(endpoint) = state.endpoints.remove(&key) else {
            return Ok(());
        };
        self.apply(&mut state)?;
        // Off the state lock, as in `remove_sandbox`.
        drop(state);
        self.kernel.delete_link(&endpoint.host_ifname)
    }

    /// Makes the kernel match the known state after a (re)start: bridges
    /// brought back, endpoints whose host side is missing re-attached,
    /// ports of our bridges and namespaces that belong to nobody removed
    /// (what a `kill -9` left), and the table rebuilt from scratch.
    /// `sandboxes` are the containers whose namespaces are kept (those of
    /// the endpoints are kept too).
    pub fn reconcile(
        &self,
        networks: &[NetworkSpec],
        endpoints: &[EndpointSpec],
        sandboxes: &[String],
    ) -> Result<(), NetworkError> {
        let mut state = self.state()?;
        // Rebuilt from scratch whatever was applied before: the table may
        // have been changed or deleted behind our back.
        state.applied = None;
        state.networks = networks.iter().map(|n| (n.id.clone(), n.clone())).collect();
        state.endpoints = endpoints
            .iter()
            .filter(|e| state.networks.contains_key(&e.network_id))
            .map(|e| ((e.container_id.clone(), e.network_id.clone()), e.clone()))
            .collect();

        let mut keep_netns: BTreeSet<PathBuf> = BTreeSet::new();
        for id in sandboxes
            .iter()
            .chain(state.endpoints.keys().map(|(c, _)| c))
        {
            keep_netns.insert(self.netns_path(id)?);
        }
        self.remove_stray_netns(&keep_netns)?;
        for bridge in self.kernel.bridges_with_alias(&self.bridge_alias())? {
            if !state.networks.values().any(|n| n.bridge == bridge) {
                tracing::info!(bridge = %bridge, "removing a bridge no network owns");
                self.kernel.delete_link(&bridge)?;
            }
        }

        for network in state.networks.values() {
            self.ensure_network(network)?;
            let present = self.kernel.bridge_ports(&network.bridge)?;
            let wanted: BTreeSet<&IfName> = state
                .endpoints
                .values()
                .filter(|e| e.network_id == network.id)
                .map(|e| &e.host_ifname)
                .collect();
            for port in &present {
                if !wanted.contains(port) {
                    tracing::info!(port = %port, bridge = %network.bridge, "removing a stray bridge port");
                    self.kernel.delete_link(port)?;
                }
            }
            for endpoint in state
                .endpoints
                .values()
                .filter(|e| e.network_id == network.id)
            {
                if !present.contains(&endpoint.host_ifname)
                    && self.netns_path(&endpoint.container_id)?.exists()
                {
                    let veth = self.veth_for(network, endpoint)?;
                    self.kernel.attach_veth(&veth)?;
                }
            }
        }
        if state.networks.is_empty() {
            // No network, no firewall footprint: a daemon started with
            // `--bridge none` and no user network leaves the host's ruleset
            // as it found it (and removes what an earlier run left), as
            // dockerd without networks adds no chain. The first network's
            // `create_network` makes the table again.
            return self.firewall.delete(&self.config.table);
        }
        self.apply(&mut state)
    }

    fn remove_stray_netns(&self, keep: &BTreeSet<PathBuf>) -> Result<(), NetworkError> {
        let dir = &self.config.netns_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(NetworkError::Io {
                    op: "list",
                    path: dir.clone(),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !keep.contains(&path) {
                tracing::info!(netns = %path.display(), "removing a stray network namespace");
                self.kernel.remove_netns(&path)?;
            }
        }
        Ok(())
    }

    /// Deletes the daemon's table (the last cleanup of a test daemon).
    pub fn delete_table(&self) -> Result<(), NetworkError> {
        self.state()?.applied = None;
        self.firewall.delete(&self.config.table)
    }

    /// The script the current state renders to.
    pub fn ruleset(&self) -> Result<String, NetworkError> {
        let state = self.state()?;
        Ok(self.render(&state))
    }

    fn render(&self, state: &State) -> String {
        let networks: Vec<NetworkSpec> = state.networks.values().cloned().collect();
        let endpoints: Vec<EndpointSpec> = state.endpoints.values().cloned().collect();
        render(&self.config.table, &networks, &endpoints)
    }

    /// Applies the table the state renders to, unless it is the one the
    /// firewall already has.
    fn apply(&self, state: &mut State) -> Result<(), NetworkError> {
        let script = self.render(state);
        if state.applied.as_deref() == Some(script.as_str()) {
            return Ok(());
        }
        state.applied = None;
        self.firewall.apply(&self.config.table, &script)?;
        state.applied = Some(script);
        Ok(())
    }

    /// The namespace directory.
    pub fn netns_dir(&self) -> &Path {
        &self.config.netns_dir
    }
}

/// The interface alias marking the bridges of the daemon whose table is
/// `table` (`berth:<table>`): reconcile removes the ones no network owns,
/// and a test's cleanup finds those of a daemon it killed.
pub fn bridge_alias(table: &TableName) -> String {
    format!("berth:{}", table.as_str())
}

/// A published port needs an address of its host address's family.
fn check_ports(endpoint: &EndpointSpec) -> Result<(), NetworkError> {
    for port in &endpoint.ports {
        let mappable = endpoint.addresses.iter().any(|a| match port.host_ip {
            Some(ip) => ip.is_ipv4() == a.addr().is_ipv4(),
            None => true,
        });
        if !mappable {
            return Err(NetworkError::NoAddressForPort {
                container: endpoint.container_id.clone(),
                network: endpoint.network_id.clone(),
                port: format!("{}/{}", port.host_port, port.proto.as_str()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
