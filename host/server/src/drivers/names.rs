//! The engine's name seam ([`NameService`]) on berth-network's embedded
//! DNS server: the engine's models become the server's networks and
//! records here, once.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use berth_engine::driver::{EndpointModel, NameService, NetworkModel, NetworkState};
use berth_engine::job::{ErrorKind, JobError};
use berth_network::dns::{
    DEFAULT_UPSTREAM_TIMEOUT, DnsConfig, DnsError, DnsNetwork, DnsRecord, DnsServer, Upstreams,
};

/// The host resolver configuration whose resolvers the server forwards to
/// (berthd `--dns-resolv-conf`).
pub const DEFAULT_RESOLV_CONF: &str = "/etc/resolv.conf";

/// The port DNS clients ask on (RFC 1035 4.2).
const DNS_PORT: u16 = 53;

/// berthd's embedded DNS server behind the engine's seam.
#[derive(Debug)]
pub struct NameAdapter {
    server: DnsServer,
}

impl NameAdapter {
    /// The server on port 53 of the networks' gateways, forwarding to the
    /// `nameserver`s of `resolv_conf`.
    pub fn new(resolv_conf: PathBuf) -> anyhow::Result<NameAdapter> {
        Ok(NameAdapter::with_config(DnsConfig {
            port: DNS_PORT,
            upstreams: Upstreams::ResolvConf(resolv_conf),
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
        })?)
    }

    /// The seam over a server set up as `config` (tests take port 0).
    pub fn with_config(config: DnsConfig) -> Result<NameAdapter, DnsError> {
        Ok(NameAdapter {
            server: DnsServer::new(config)?,
        })
    }

    /// The server (the tests ask it where it listens).
    #[cfg(test)]
    pub fn server(&self) -> &DnsServer {
        &self.server
    }
}

fn dns_network(network: &NetworkModel) -> DnsNetwork {
    DnsNetwork {
        id: network.id.clone(),
        gateways: network
            .ipv4
            .iter()
            .chain(network.ipv6.iter())
            .map(|s| s.gateway())
            .collect(),
        internal: network.internal,
    }
}

fn dns_record(endpoint: &EndpointModel) -> DnsRecord {
    let addresses: Vec<IpAddr> = endpoint
        .ipv4
        .iter()
        .chain(endpoint.ipv6.iter())
        .map(|a| a.addr)
        .collect();
    DnsRecord {
        container_id: endpoint.container_id.clone(),
        names: endpoint.aliases.clone(),
        addresses,
        // The container's `--dns` or its policy's servers; the host's
        // resolvers (the server's own upstreams) without them.
        upstreams: endpoint
            .dns_servers
            .iter()
            .map(|ip| SocketAddr::new(*ip, DNS_PORT))
            .collect(),
    }
}

fn job_error(network: &NetworkModel, error: DnsError) -> JobError {
    tracing::error!(network = %network.name, error = ?error, "embedded DNS server failed");
    JobError::new(
        ErrorKind::Internal,
        format!("failed to serve names on network {}: {error}", network.name),
    )
}

impl NameService for NameAdapter {
    fn publish(&self, network: &NetworkModel, endpoint: &EndpointModel) -> Result<(), JobError> {
        self.server
            .publish(&dns_network(network), dns_record(endpoint))
            .map_err(|e| job_error(network, e))
    }

    fn withdraw(&self, network: &NetworkModel, container_id: &str) -> Result<(), JobError> {
        self.server.withdraw(&network.id, container_id);
        Ok(())
    }

    fn remove_network(&self, network: &NetworkModel) -> Result<(), JobError> {
        self.server.remove_network(&network.id);
        Ok(())
    }

    fn reconcile(&self, state: &NetworkState) -> Result<(), JobError> {
        let served = state
            .networks
            .iter()
            .map(|network| {
                let records = state
                    .sandboxes
                    .iter()
                    .flat_map(|s| s.endpoints.iter())
                    .filter(|e| e.network_id == network.id)
                    .map(dns_record)
                    .collect();
                (dns_network(network), records)
            })
            .collect();
        self.server.reconcile(served).map_err(|error| {
            tracing::error!(error = ?error, "embedded DNS server: reconcile failed");
            JobError::new(
                ErrorKind::Internal,
                format!("failed to serve names: {error}"),
            )
        })
    }
}

#[cfg(test)]
mod tests;
