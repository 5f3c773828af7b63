//! The engine's network seam ([`NetworkService`]) on berth's kernel-side
//! network driver (`berth-network`): the engine's trusted models become
//! the driver's kernel-level specs here, once, and the driver's errors
//! become job errors.

use std::path::PathBuf;
use std::sync::Arc;

use berth_engine::driver::{
    EndpointModel, IpNet, NetworkModel, NetworkService, NetworkState, SandboxModel,
};
use berth_engine::job::{ErrorKind, JobError};
use berth_network::{
    EndpointSpec, IfName, IpNetwork, LinuxKernel, NetworkDriver, NetworkDriverConfig, NetworkError,
    NetworkSpec, NftFirewall, TableName,
};

/// The default nftables table of a daemon (`--nft-table`).
pub const DEFAULT_TABLE: &str = "berth";

/// berthd's network driver behind the engine's seam.
#[derive(Debug)]
pub struct NetworkAdapter {
    driver: NetworkDriver,
}

impl NetworkAdapter {
    /// The real driver: namespaces under `<exec_root>/netns`, rules in the
    /// nftables table `table`, in berthd's own network namespace.
    pub fn new(
        exec_root: &std::path::Path,
        table: &str,
        ip_forward: bool,
    ) -> anyhow::Result<NetworkAdapter> {
        let table = TableName::new(table)?;
        Ok(NetworkAdapter::with_driver(NetworkDriver::new(
            Arc::new(LinuxKernel::new()),
            Arc::new(NftFirewall::new()),
            NetworkDriverConfig {
                netns_dir: exec_root.join("netns"),
                table,
                ip_forward,
            },
        )))
    }

    /// The seam over any driver (the unit tests give it fakes).
    pub fn with_driver(driver: NetworkDriver) -> NetworkAdapter {
        NetworkAdapter { driver }
    }
}

/// A driver error as the client sees it; the details go to the log.
fn job_error(op: &str, error: NetworkError) -> JobError {
    tracing::error!(error = ?error, "network driver: {op} failed");
    let kind = match &error {
        NetworkError::Invalid { .. } | NetworkError::NoAddressForPort { .. } => {
            ErrorKind::InvalidParameter
        }
        NetworkError::UnknownNetwork(_) => ErrorKind::NotFound,
        _ => ErrorKind::Internal,
    };
    JobError::new(kind, format!("failed to {op}: {error}"))
}

fn if_name(name: &str) -> Result<IfName, JobError> {
    IfName::new(name).map_err(|e| job_error("read an interface name", e))
}

fn interface(addr: std::net::IpAddr, prefix: u8) -> Result<IpNetwork, JobError> {
    IpNetwork::new(addr, prefix).map_err(|e| job_error("read an address", e))
}

fn network_spec(network: &NetworkModel) -> Result<NetworkSpec, JobError> {
    let mut gateways = Vec::new();
    for subnet in network.ipv4.iter().chain(network.ipv6.iter()) {
        gateways.push(interface(subnet.gateway(), subnet.prefix())?);
    }
    Ok(NetworkSpec {
        id: network.id.clone(),
        bridge: if_name(network.bridge.as_str())?,
        gateways,
        internal: network.internal,
    })
}

fn endpoint_spec(endpoint: &EndpointModel) -> Result<EndpointSpec, JobError> {
    let mut addresses = Vec::new();
    for address in endpoint.ipv4.iter().chain(endpoint.ipv6.iter()) {
        addresses.push(interface(address.addr, address.prefix)?);
    }
    let gateways = endpoint
        .gateway4
        .map(std::net::IpAddr::from)
        .into_iter()
        .chain(endpoint.gateway6.map(std::net::IpAddr::from))
        .collect();
    Ok(EndpointSpec {
        container_id: endpoint.container_id.clone(),
        network_id: endpoint.network_id.clone(),
        host_ifname: if_name(endpoint.ifname_host.as_str())?,
        container_ifname: if_name(endpoint.ifname_container.as_str())?,
        mac: endpoint.mac.bytes(),
        addresses,
        gateways,
        ports: endpoint.ports.clone(),
    })
}

impl NetworkService for NetworkAdapter {
    fn create_sandbox(&self, container_id: &str) -> Result<SandboxModel, JobError> {
        let netns_path: PathBuf = self
            .driver
            .create_sandbox(container_id)
            .map_err(|e| job_error("create the network namespace", e))?;
        Ok(SandboxModel {
            container_id: container_id.to_string(),
            netns_path,
        })
    }

    fn remove_sandbox(&self, sandbox: &SandboxModel) -> Result<(), JobError> {
        self.driver
            .remove_sandbox(&sandbox.container_id)
            .map_err(|e| job_error("remove the network namespace", e))
    }

    fn create_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.driver
            .create_network(&network_spec(network)?)
            .map_err(|e| job_error("create the network's bridge", e))
    }

    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.driver
            .remove_network(&network.id)
            .map_err(|e| job_error("remove the network's bridge", e))
    }

    fn connect(
        &self,
        _sandbox: &SandboxModel,
        _network: &NetworkModel,
        endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        // The engine calls create_network right before every connect (the
        // trait's contract): making sure of the bridge again here cost a
        // second netlink round of every start.
        self.driver
            .connect(&endpoint_spec(endpoint)?)
            .map_err(|e| job_error("connect the container", e))
    }

    fn disconnect(
        &self,
        sandbox: &SandboxModel,
        network: &NetworkModel,
        _endpoint: &EndpointModel,
    ) -> Result<(), JobError> {
        self.driver
            .disconnect(&sandbox.container_id, &network.id)
            .map_err(|e| job_error("disconnect the container", e))
    }

    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError> {
        let networks = state
            .networks
            .iter()
            .map(network_spec)
            .collect::<Result<Vec<_>, _>>()?;
        let mut endpoints = Vec::new();
        for sandbox in &state.sandboxes {
            for endpoint in &sandbox.endpoints {
                endpoints.push(endpoint_spec(endpoint)?);
            }
        }
        let sandboxes: Vec<String> = state
            .sandboxes
            .iter()
            .map(|s| s.sandbox.container_id.clone())
            .collect();
        self.driver
            .reconcile(&networks, &endpoints, &sandboxes)
            .map_err(|e| job_error("reconcile the kernel's network state", e))
    }

    fn host_routes(&self) -> Result<Vec<IpNet>, JobError> {
        let routes = self
            .driver
            .host_routes()
            .map_err(|e| job_error("list the host's routes", e))?;
        Ok(routes
            .into_iter()
            .filter_map(|r| IpNet::new(r.addr(), r.prefix()).ok().map(|n| n.trunc()))
            .collect())
    }
}

#[cfg(test)]
mod tests;
