//! `--dns`, `--dns-search`, `--dns-option` and `--add-host` at create:
//! checked into the model's [`DnsConfig`], `host-gateway` resolved to the
//! default bridge's gateway (moby: the daemon's `--host-gateway-ip`, by
//! default the default bridge's address, `daemon/daemon_unix.go`
//! `setHostGatewayIP`).

use std::net::IpAddr;

use berth_api::container::HostConfig;
use berth_model::dns::{DnsConfig, HOST_GATEWAY};
use berth_model::network::NetworkMode;

use super::Daemon;
use crate::job::JobError;

/// The container's DNS settings from `host` (`host_gateway`: the address
/// `host-gateway` stands for, `None` without a default bridge).
pub(super) fn dns_config(
    host: &HostConfig,
    host_gateway: Option<IpAddr>,
) -> Result<DnsConfig, JobError> {
    DnsConfig::new(
        &host.dns,
        &host.dns_search,
        &host.dns_options,
        &host.extra_hosts,
        host_gateway,
    )
    .map_err(|e| JobError::invalid(e.to_string()))
}

/// moby `validateNetContainerMode` for the DNS settings: a container
/// sharing another's network has that container's files. moby checks
/// `Dns` and `ExtraHosts` with these messages; `DnsSearch` and
/// `DnsOptions`, which moby would drop, are refused with the `Dns` one.
pub(super) fn check_container_mode(host: &HostConfig) -> Result<(), JobError> {
    if !host.dns.is_empty() || !host.dns_search.is_empty() || !host.dns_options.is_empty() {
        return Err(JobError::invalid(
            "conflicting options: dns and the network mode",
        ));
    }
    if !host.extra_hosts.is_empty() {
        return Err(JobError::invalid(
            "conflicting options: custom host-to-IP mapping and the network mode",
        ));
    }
    Ok(())
}

impl Daemon {
    /// The address `host-gateway` stands for, looked up only when an
    /// `--add-host` entry asks for it: the IPv4 gateway of the default
    /// `bridge` network (none with `--bridge none`).
    pub(super) async fn host_gateway(&self, host: &HostConfig) -> Result<Option<IpAddr>, JobError> {
        let wanted = host.extra_hosts.iter().any(|entry| {
            entry
                .split_once('=')
                .or_else(|| entry.split_once(':'))
                .is_some_and(|(_, addr)| addr == HOST_GATEWAY)
        });
        if !wanted || NetworkMode::parse(&host.network_mode).is_err() {
            return Ok(None);
        }
        match self.find_network("bridge").await {
            Ok(bridge) => Ok(bridge.ipv4.map(|subnet| subnet.gateway())),
            Err(e) if e.kind == crate::job::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
