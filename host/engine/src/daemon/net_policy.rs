//! The host's checks of a network-policy plan (DESIGN: "policies are pure
//! decisions ... the host validates the plan and does the privileged
//! work"): the address is a free host address of the subnet, every host
//! port is one the request allows and is taken once, every name server is
//! an address. A plan that fails is refused with the plugin's name; nothing
//! of it is applied.

use std::collections::BTreeSet;
use std::net::IpAddr;

use berth_model::net_policy::{PlanRequest, PlannedPort};
use berth_model::network::{Protocol, Subnet};
use berth_model::ports::{ContainerPort, HostPorts, PortRequest};

use crate::job::JobError;

/// A plan the host accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPlan {
    /// The container's address.
    pub address: IpAddr,
    /// Its name servers (empty: the host's).
    pub dns_servers: Vec<IpAddr>,
    /// What to reserve: the policy's host port where it chose one.
    pub ports: Vec<PortRequest>,
}

/// The request's ports as the policy sees them: a single host port as is,
/// a range or an ephemeral port as 0 (the host chooses).
pub fn planned_ports(requests: &[PortRequest]) -> Vec<PlannedPort> {
    requests
        .iter()
        .map(|r| PlannedPort {
            protocol: r.container.proto.to_string(),
            container_port: r.container.port,
            host_ip: r.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            host_port: match r.host_ports {
                HostPorts::Range { first, last } if first == last => first,
                _ => 0,
            },
        })
        .collect()
}

/// Checks `plan` (from the plugin `plugin`) against `request`, the
/// network's `subnet`, the addresses in `used`, and the container's
/// publications `requests`.
pub fn check_plan(
    plugin: &str,
    request: &PlanRequest,
    subnet: &Subnet,
    used: &BTreeSet<IpAddr>,
    requests: &[PortRequest],
    plan: &berth_model::net_policy::Plan,
) -> Result<CheckedPlan, JobError> {
    let refuse = |why: String| {
        JobError::invalid(format!(
            "network policy {plugin:?} gave an invalid plan for container {}: {why}",
            request.container_id
        ))
    };
    let address: IpAddr = plan
        .address
        .parse()
        .map_err(|_| refuse(format!("address {:?} is not an IP address", plan.address)))?;
    if !subnet.is_host_address(address) {
        return Err(refuse(format!(
            "address {address} is not a host address of {}",
            subnet.cidr()
        )));
    }
    if address == subnet.gateway() {
        return Err(refuse(format!("address {address} is the gateway")));
    }
    if used.contains(&address) {
        return Err(refuse(format!("address {address} is in use")));
    }
    let dns_servers = plan
        .dns_servers
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|_| refuse(format!("name server {s:?} is not an IP address")))
        })
        .collect::<Result<Vec<IpAddr>, _>>()?;
    if plan.ports.len() != requests.len() {
        return Err(refuse(format!(
            "it has {} ports for the {} the container publishes",
            plan.ports.len(),
            requests.len()
        )));
    }
    let mut remaining: Vec<&PortRequest> = requests.iter().collect();
    let mut ports = Vec::new();
    let mut taken: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    for p in &plan.ports {
        let proto: Protocol = p
            .protocol
            .parse()
            .map_err(|_| refuse(format!("protocol {:?} is not tcp or udp", p.protocol)))?;
        let host_ip: Option<IpAddr> = match p.host_ip.as_str() {
            "" => None,
            ip => Some(
                ip.parse()
                    .map_err(|_| refuse(format!("host address {ip:?} is not an IP address")))?,
            ),
        }
        .filter(|ip: &IpAddr| !ip.is_unspecified());
        let container = ContainerPort {
            port: p.container_port,
            proto,
        };
        let shown = format!("{container}");
        let at = remaining
            .iter()
            .position(|r| r.container == container && r.host_ip == host_ip)
            .ok_or_else(|| {
                refuse(format!(
                    "port {shown} on {} is not one the container publishes",
                    host_ip
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "0.0.0.0".into())
                ))
            })?;
        let asked = remaining.remove(at);
        let host_ports = match (p.host_port, asked.host_ports) {
            (0, wanted) => wanted,
            (port, HostPorts::Range { first, last }) if !(first..=last).contains(&port) => {
                return Err(refuse(format!(
                    "host port {port} for {shown} is outside the requested {first}-{last}"
                )));
            }
            (port, _) => {
                if !taken.insert((proto, port)) {
                    return Err(refuse(format!(
                        "host port {port}/{proto} is reserved twice"
                    )));
                }
                HostPorts::Range {
                    first: port,
                    last: port,
                }
            }
        };
        ports.push(PortRequest {
            container,
            host_ip,
            host_ports,
        });
    }
    Ok(CheckedPlan {
        address,
        dns_servers,
        ports,
    })
}

/// A policy's own refusal, with its name (the plugin host has wrapped
/// traps and timeouts already).
pub fn refused(plugin: &str, container_id: &str, why: &str) -> JobError {
    JobError::invalid(format!(
        "network policy {plugin:?} refused container {container_id}: {why}"
    ))
}

#[cfg(test)]
mod tests {
    use berth_model::net_policy::Plan;
    use berth_model::network::parse_cidr;

    use super::*;

    fn subnet() -> Subnet {
        Subnet::new(parse_cidr("10.9.0.0/24").unwrap(), None).unwrap()
    }

    fn request(ports: &[PortRequest]) -> PlanRequest {
        PlanRequest {
            container_id: "c1".into(),
            network: "bridge".into(),
            subnet: "10.9.0.0/24".into(),
            gateway: "10.9.0.1".into(),
            used_addresses: vec!["10.9.0.2".into()],
            requested_address: None,
            ports: planned_ports(ports),
        }
    }

    fn publish(port: u16, host: HostPorts) -> PortRequest {
        PortRequest {
            container: ContainerPort {
                port,
                proto: Protocol::Tcp,
            },
            host_ip: None,
            host_ports: host,
        }
    }

    fn plan(address: &str, ports: &[(u16, u16)]) -> Plan {
        Plan {
            address: address.into(),
            dns_servers: vec!["10.9.0.1".into()],
            ports: ports
                .iter()
                .map(|(c, h)| PlannedPort {
                    protocol: "tcp".into(),
                    container_port: *c,
                    host_ip: String::new(),
                    host_port: *h,
                })
                .collect(),
        }
    }

    fn check(p: &Plan, requests: &[PortRequest]) -> Result<CheckedPlan, String> {
        let used = BTreeSet::from(["10.9.0.2".parse().unwrap()]);
        check_plan(
            "low-ports",
            &request(requests),
            &subnet(),
            &used,
            requests,
            p,
        )
        .map_err(|e| e.message)
    }

    #[test]
    fn a_good_plan_is_taken_with_the_hosts_choice_where_the_policy_left_it() {
        let reqs = [
            publish(80, HostPorts::Ephemeral),
            publish(
                81,
                HostPorts::Range {
                    first: 8000,
                    last: 8010,
                },
            ),
        ];
        assert_eq!(
            request(&reqs)
                .ports
                .iter()
                .map(|p| p.host_port)
                .collect::<Vec<_>>(),
            [0, 0]
        );
        let got = check(&plan("10.9.0.3", &[(80, 0), (81, 8005)]), &reqs).unwrap();
        assert_eq!(got.address.to_string(), "10.9.0.3");
        assert_eq!(got.ports[0].host_ports, HostPorts::Ephemeral);
        assert_eq!(
            got.ports[1].host_ports,
            HostPorts::Range {
                first: 8005,
                last: 8005
            }
        );
    }

    #[test]
    fn bad_plans_are_refused_naming_the_plugin_and_why() {
        let reqs = [
            publish(80, HostPorts::Ephemeral),
            publish(81, HostPorts::Ephemeral),
        ];
        let prefix = r#"network policy "low-ports" gave an invalid plan for container c1: "#;
        for (address, ports, why) in [
            (
                "10.9.1.3",
                vec![(80, 0), (81, 0)],
                "address 10.9.1.3 is not a host address of 10.9.0.0/24",
            ),
            (
                "10.9.0.255",
                vec![(80, 0), (81, 0)],
                "address 10.9.0.255 is not a host address of 10.9.0.0/24",
            ),
            (
                "10.9.0.1",
                vec![(80, 0), (81, 0)],
                "address 10.9.0.1 is the gateway",
            ),
            (
                "10.9.0.2",
                vec![(80, 0), (81, 0)],
                "address 10.9.0.2 is in use",
            ),
            (
                "x",
                vec![(80, 0), (81, 0)],
                "address \"x\" is not an IP address",
            ),
            (
                "10.9.0.3",
                vec![(80, 9000), (81, 9000)],
                "host port 9000/tcp is reserved twice",
            ),
            (
                "10.9.0.3",
                vec![(80, 0)],
                "it has 1 ports for the 2 the container publishes",
            ),
            (
                "10.9.0.3",
                vec![(80, 0), (82, 0)],
                "port 82/tcp on 0.0.0.0 is not one the container publishes",
            ),
        ] {
            assert_eq!(
                check(&plan(address, &ports), &reqs).unwrap_err(),
                format!("{prefix}{why}"),
                "{address} {ports:?}"
            );
        }
        let mut bad_dns = plan("10.9.0.3", &[(80, 0), (81, 0)]);
        bad_dns.dns_servers = vec!["resolver".into()];
        assert!(
            check(&bad_dns, &reqs)
                .unwrap_err()
                .ends_with("name server \"resolver\" is not an IP address")
        );
        let fixed = [publish(
            80,
            HostPorts::Range {
                first: 8080,
                last: 8080,
            },
        )];
        assert!(
            check(&plan("10.9.0.3", &[(80, 8081)]), &fixed)
                .unwrap_err()
                .ends_with("host port 8081 for 80/tcp is outside the requested 8080-8080")
        );
        assert_eq!(
            refused("low-ports", "c1", "host port 80 is below 1024").message,
            r#"network policy "low-ports" refused container c1: host port 80 is below 1024"#
        );
    }
}
