//! A container's endpoint planned through the network-policy plugin
//! (issue 12: "address allocation for containers, port-publishing
//! decisions ... decided by the `network-policy` plugin ... The host
//! validates each plan and applies it").
//!
//! For each network a container joins, under the network lock (so the
//! addresses the policy sees in use are the leases of the moment), the
//! engine asks the policy with each of the network's families (subnet,
//! gateway, the addresses of that family in use, the address it wants:
//! `--ip`/`--ip6`, else the one the container had if still free) and, on
//! the first network, the ports the container publishes. The answer is
//! checked ([`super::net_policy::check_plan`]) before anything is reserved
//! or configured; a refusal, a failed call or an invalid plan fails the
//! start naming the plugin, and the join's undo leaves no lease, veth or
//! reservation.
//!
//! A policy built for WIT 1.3 or later plans an address of every family
//! the network has. One built for an older WIT sees one subnet (IPv4,
//! else IPv6: the plugin host gives it that family only) and plans that
//! family; a dual-stack network's IPv6 address then stays with the
//! engine's own allocation, as before 1.3.
//!
//! The plan's name servers become the endpoint's
//! ([`EndpointModel::dns_servers`]) unless the container has `--dns`,
//! which goes first (moby: the container's own settings over the daemon's
//! and the host's); which network's plan a container resolves through is
//! [`super::name_service::resolver_of`]'s rule.

use std::net::IpAddr;
use std::sync::Arc;

use berth_model::net_policy::{FamilyRequest, PlanRequest};
use berth_model::network::{EndpointModel, Subnet};
use berth_model::ports::PortRequest;

use super::blocking::BlockingKind;
use super::endpoints::{EndpointRequest, EndpointWish, plan_endpoint};
use super::{Daemon, net_policy};
use crate::driver::NetworkPolicy;
use crate::job::JobError;

/// The most name servers a plan may give: a `resolv.conf` is read up to
/// three `nameserver` lines (glibc `MAXNS`, moby's resolver `maxExtDNS`),
/// so more would be silently dropped; such a plan is refused instead.
pub const MAX_PLANNED_NAME_SERVERS: usize = 3;

/// What the policy's side of planning gives an endpoint: the addresses it
/// chose, IPv4 and IPv6 (`None`: no policy serves, or it does not plan
/// that family; the engine allocates), the publications to reserve and the
/// name servers it planned (empty: none).
struct Planned {
    addresses: [Option<IpAddr>; 2],
    ports: Vec<PortRequest>,
    dns_servers: Vec<IpAddr>,
}

impl Daemon {
    /// Wires in the network-policy plugin; the first one set stays.
    /// Without one the engine plans addresses and ports itself, as the
    /// built-in default policy does.
    pub fn set_network_policy(&self, policy: Arc<dyn NetworkPolicy>) {
        let _ = self.net_policy.set(policy);
    }

    /// Plans one endpoint ([`plan_endpoint`]) with the addresses and name
    /// servers the policy chose (the container's `--dns` before the
    /// latter), and returns it with the publications to reserve (`ports`,
    /// as the policy planned them). Called under the network lock.
    pub(super) async fn plan_endpoint_by_policy(
        &self,
        request: EndpointRequest<'_>,
        ports: &[PortRequest],
    ) -> Result<(EndpointModel, Vec<PortRequest>), JobError> {
        let has_subnet = request.network.ipv4.is_some() || request.network.ipv6.is_some();
        let policy = match self.net_policy.get() {
            Some(policy) if has_subnet => Arc::clone(policy),
            _ => return Ok((plan_endpoint(&request)?, ports.to_vec())),
        };
        let planned = self.ask_policy(policy, &request, ports).await?;
        // The policy's addresses are the endpoint's; the engine's
        // allocation (and the container's old address) only for a family
        // it did not plan (a policy older than WIT 1.3).
        let mut wish = request.wish.clone();
        let mut previous: Vec<IpAddr> = request.previous.to_vec();
        for address in planned.addresses.into_iter().flatten() {
            previous.retain(|a| a.is_ipv4() != address.is_ipv4());
            if address.is_ipv4() {
                wish.ipv4 = Some(address);
            } else {
                wish.ipv6 = Some(address);
            }
        }
        let nameservers = request.nameservers;
        let mut endpoint = plan_endpoint(&EndpointRequest {
            wish: &wish,
            previous: &previous,
            ..request
        })?;
        if nameservers.is_empty() {
            endpoint.dns_servers = planned.dns_servers;
        }
        Ok((endpoint, planned.ports))
    }

    async fn ask_policy(
        &self,
        policy: Arc<dyn NetworkPolicy>,
        request: &EndpointRequest<'_>,
        ports: &[PortRequest],
    ) -> Result<Planned, JobError> {
        let network = request.network;
        let family = |subnet: &Subnet| {
            let asked = wished(request.wish, subnet);
            let hint = asked.or_else(|| {
                request.previous.iter().copied().find(|addr| {
                    subnet.is_host_address(*addr)
                        && *addr != subnet.gateway()
                        && !request.used.contains(addr)
                })
            });
            FamilyRequest {
                subnet: subnet.cidr().to_string(),
                gateway: subnet.gateway().to_string(),
                used_addresses: request
                    .used
                    .iter()
                    .filter(|a| a.is_ipv4() != subnet.is_ipv6())
                    .map(ToString::to_string)
                    .collect(),
                requested_address: hint.map(|a| a.to_string()),
            }
        };
        let plan_request = PlanRequest {
            container_id: request.container_id.to_owned(),
            network: network.name.clone(),
            ipv4: network.ipv4.as_ref().map(family),
            ipv6: network.ipv6.as_ref().map(family),
            ports: net_policy::planned_ports(ports),
        };
        let sent = plan_request.clone();
        let answer = self
            .blocking(BlockingKind::Network, move || policy.plan_network(&sent))
            .await?;
        let Some(answer) = answer else {
            return Ok(Planned {
                addresses: [None, None],
                ports: ports.to_vec(),
                dns_servers: Vec::new(),
            });
        };
        let id = request.container_id;
        let plan = answer
            .decision
            .map_err(|why| net_policy::refused(&answer.plugin, id, &why))?;
        let checked = net_policy::check_plan(
            &answer.plugin,
            &plan_request,
            network,
            request.used,
            ports,
            answer.every_family,
            &plan,
        )?;
        let invalid = |why: String| {
            JobError::invalid(format!(
                "network policy {:?} gave an invalid plan for container {id}: {why}",
                answer.plugin
            ))
        };
        // `--ip`/`--ip6` must be given or the start fails; the old address
        // is only a hint the policy may pass over. A family the policy did
        // not plan (older than 1.3) gets it from the engine's allocation.
        for (asked, planned) in [
            (request.wish.ipv4, checked.ipv4),
            (request.wish.ipv6, checked.ipv6),
        ] {
            if let (Some(asked), Some(planned)) = (asked, planned)
                && planned != asked
            {
                return Err(invalid(format!(
                    "address {planned} is not the requested {asked}"
                )));
            }
        }
        if checked.dns_servers.len() > MAX_PLANNED_NAME_SERVERS {
            return Err(invalid(format!(
                "it plans {} name servers, more than the {MAX_PLANNED_NAME_SERVERS} a resolv.conf uses",
                checked.dns_servers.len()
            )));
        }
        Ok(Planned {
            addresses: [checked.ipv4, checked.ipv6],
            ports: checked.ports,
            dns_servers: checked.dns_servers,
        })
    }
}

/// The address `wish` asks for in `subnet`'s family.
fn wished(wish: &EndpointWish, subnet: &Subnet) -> Option<IpAddr> {
    if subnet.gateway().is_ipv4() {
        wish.ipv4
    } else {
        wish.ipv6
    }
}
