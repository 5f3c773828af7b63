//! The host's checks of a network-policy plan (DESIGN: "policies are pure
//! decisions ... the host validates the plan and does the privileged
//! work"): each address is a free host address of the network's subnet of
//! its family, every family the policy was asked is planned, every host
//! port is one the request allows and is taken once, every name server is
//! an address. A plan that fails is refused with the plugin's name;
//! nothing of it is applied.

use std::collections::BTreeSet;
use std::net::IpAddr;

use berth_model::net_policy::{Family, PlanRequest, PlannedPort};
use berth_model::network::{NetworkModel, Protocol, Subnet};
use berth_model::ports::{ContainerPort, HostPorts, PortRequest};

use crate::job::JobError;

/// A plan the host accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPlan {
    /// The container's IPv4 address, when the policy planned one.
    pub ipv4: Option<IpAddr>,
    /// Its IPv6 address, when the policy planned one.
    pub ipv6: Option<IpAddr>,
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

/// The network's subnets, by family.
fn subnets(network: &NetworkModel) -> [(Family, Option<Subnet>); 2] {
    [(Family::Ipv4, network.ipv4), (Family::Ipv6, network.ipv6)]
}

/// The families a policy must plan on `network`: every one the network
/// has when it plans them all (`every_family`, WIT 1.3 and later), else
/// the one it was asked (IPv4, else IPv6: what a plugin built for an older
/// WIT is given).
pub fn planned_families(network: &NetworkModel, every_family: bool) -> Vec<Family> {
    let present = subnets(network)
        .into_iter()
        .filter(|(_, subnet)| subnet.is_some())
        .map(|(family, _)| family);
    if every_family {
        present.collect()
    } else {
        present.take(1).collect()
    }
}

/// Checks `plan` (from the plugin `plugin`) against `request`, the
/// `network`'s subnets, the addresses in `used`, and the container's
/// publications `requests`; `every_family` as [`planned_families`].
pub fn check_plan(
    plugin: &str,
    request: &PlanRequest,
    network: &NetworkModel,
    used: &BTreeSet<IpAddr>,
    requests: &[PortRequest],
    every_family: bool,
    plan: &berth_model::net_policy::Plan,
) -> Result<CheckedPlan, JobError> {
    let refuse = |why: String| {
        JobError::invalid(format!(
            "network policy {plugin:?} gave an invalid plan for container {}: {why}",
            request.container_id
        ))
    };
    let wanted = planned_families(network, every_family);
    let mut addresses = [None, None];
    for ((family, subnet), slot) in subnets(network).into_iter().zip(&mut addresses) {
        let planned = plan.address(family);
        let subnet = match (subnet, planned) {
            (_, None) if wanted.contains(&family) => {
                return Err(refuse(format!("it gives no {family} address")));
            }
            (_, None) => continue,
            (Some(subnet), Some(_)) if wanted.contains(&family) => subnet,
            (_, Some(text)) => {
                return Err(refuse(format!(
                    "{family} address {text:?} was not asked for"
                )));
            }
        };
        let text = planned.unwrap_or_default();
        let address: IpAddr = text
            .parse()
            .map_err(|_| refuse(format!("address {text:?} is not an IP address")))?;
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
        *slot = Some(address);
    }
    let [ipv4, ipv6] = addresses;
    let dns_servers = plan
        .dns_servers
        .iter()
        .map(|s| {
            let server: IpAddr = s
                .parse()
                .map_err(|_| refuse(format!("name server {s:?} is not an IP address")))?;
            // Written into a container's resolv.conf (the default bridge,
            // or after the last user network leaves), a loopback address
            // is the container's own namespace, where nothing answers.
            // moby drops the host's loopback name servers from the file it
            // gives containers (libnetwork `resolvconf` `FilterResolvDNS`,
            // as berth does for the host's); a plan is the plugin's, and
            // refused rather than silently trimmed.
            if server.to_canonical().is_loopback() {
                return Err(refuse(format!(
                    "name server {server} is a loopback address, which inside the container is the container's own"
                )));
            }
            Ok(server)
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
        // Kept as given: `0.0.0.0` and `::` are one family's addresses,
        // "" is every address (see `PortRequest::parse`), and the plan
        // must publish what was asked, not widen or narrow it.
        let host_ip: Option<IpAddr> = match p.host_ip.as_str() {
            "" => None,
            ip => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| refuse(format!("host address {ip:?} is not an IP address")))?
                    .to_canonical(),
            ),
        };
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
                        .unwrap_or_else(|| "every address".into())
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
        ipv4,
        ipv6,
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

    fn subnet(cidr: &str) -> Subnet {
        Subnet::new(parse_cidr(cidr).unwrap(), None).unwrap()
    }

    /// 10.9.0.0/24, and fd00:9::/64 when `dual`.
    fn network(dual: bool) -> NetworkModel {
        NetworkModel {
            id: "n".into(),
            name: "lab".into(),
            driver: "bridge".into(),
            bridge: berth_model::network::InterfaceName::new("br-lab").unwrap(),
            ipv4: Some(subnet("10.9.0.0/24")),
            ipv4_user_subnet: true,
            ipv6: dual.then(|| subnet("fd00:9::/64")),
            ipv6_planned: false,
            internal: false,
            labels: Default::default(),
            options: Default::default(),
            created: String::new(),
        }
    }

    fn request(ports: &[PortRequest]) -> PlanRequest {
        PlanRequest {
            container_id: "c1".into(),
            network: "lab".into(),
            ipv4: Some(berth_model::net_policy::FamilyRequest {
                subnet: "10.9.0.0/24".into(),
                gateway: "10.9.0.1".into(),
                used_addresses: vec!["10.9.0.2".into()],
                requested_address: None,
            }),
            ipv6: None,
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
            ipv4_address: Some(address.into()),
            ipv6_address: None,
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
        check_on(false, true, p, requests)
    }

    fn check_on(
        dual: bool,
        every_family: bool,
        p: &Plan,
        requests: &[PortRequest],
    ) -> Result<CheckedPlan, String> {
        let used = BTreeSet::from(["10.9.0.2".parse().unwrap(), "fd00:9::2".parse().unwrap()]);
        check_plan(
            "low-ports",
            &request(requests),
            &network(dual),
            &used,
            requests,
            every_family,
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
        assert_eq!(got.ipv4, Some("10.9.0.3".parse().unwrap()));
        assert_eq!(got.ipv6, None);
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
                "port 82/tcp on every address is not one the container publishes",
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
        for loopback in ["127.0.0.53", "::1", "::ffff:127.0.0.1"] {
            bad_dns.dns_servers = vec!["10.9.0.1".into(), loopback.into()];
            assert_eq!(
                check(&bad_dns, &reqs).unwrap_err(),
                format!(
                    "{prefix}name server {} is a loopback address, which inside the container is the container's own",
                    loopback.parse::<IpAddr>().unwrap()
                )
            );
        }
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

    #[test]
    fn an_explicit_family_reaches_the_policy_and_its_plan_must_keep_it() {
        let reqs = [
            PortRequest {
                host_ip: Some("0.0.0.0".parse().unwrap()),
                ..publish(80, HostPorts::Ephemeral)
            },
            PortRequest {
                host_ip: Some("::".parse().unwrap()),
                ..publish(81, HostPorts::Ephemeral)
            },
            publish(82, HostPorts::Ephemeral),
        ];
        let asked = planned_ports(&reqs);
        assert_eq!(
            asked.iter().map(|p| p.host_ip.as_str()).collect::<Vec<_>>(),
            ["0.0.0.0", "::", ""]
        );
        let echo = Plan {
            ports: asked.clone(),
            ..plan("10.9.0.3", &[])
        };
        assert_eq!(check(&echo, &reqs).unwrap().ports, reqs);
        let prefix = r#"network policy "low-ports" gave an invalid plan for container c1: "#;
        for (at, host_ip, why) in [
            (0, "", "port 80/tcp on every address"),
            (1, "0.0.0.0", "port 81/tcp on 0.0.0.0"),
            (2, "::", "port 82/tcp on ::"),
        ] {
            let mut widened = echo.clone();
            widened.ports[at].host_ip = host_ip.into();
            assert_eq!(
                check(&widened, &reqs).unwrap_err(),
                format!("{prefix}{why} is not one the container publishes")
            );
        }
    }

    #[test]
    fn a_dual_stack_plan_gives_each_family_its_address() {
        let mut both = plan("10.9.0.3", &[]);
        both.ipv6_address = Some("fd00:9::3".into());
        let got = check_on(true, true, &both, &[]).unwrap();
        assert_eq!(
            (got.ipv4, got.ipv6),
            (
                Some("10.9.0.3".parse().unwrap()),
                Some("fd00:9::3".parse().unwrap())
            )
        );
        let prefix = r#"network policy "low-ports" gave an invalid plan for container c1: "#;
        let with = |v4: Option<&str>, v6: Option<&str>| Plan {
            ipv4_address: v4.map(str::to_owned),
            ipv6_address: v6.map(str::to_owned),
            ..plan("10.9.0.3", &[])
        };
        for (dual, every, p, why) in [
            (
                true,
                true,
                with(Some("10.9.0.3"), None),
                "it gives no IPv6 address",
            ),
            (
                true,
                true,
                with(None, Some("fd00:9::3")),
                "it gives no IPv4 address",
            ),
            (
                true,
                true,
                with(Some("10.9.0.3"), Some("fd00:9::2")),
                "address fd00:9::2 is in use",
            ),
            (
                true,
                true,
                with(Some("10.9.0.3"), Some("fd00:8::3")),
                "address fd00:8::3 is not a host address of fd00:9::/64",
            ),
            (
                true,
                true,
                with(Some("fd00:9::3"), Some("fd00:9::4")),
                "address fd00:9::3 is not a host address of 10.9.0.0/24",
            ),
            (
                false,
                true,
                with(Some("10.9.0.3"), Some("fd00:9::3")),
                r#"IPv6 address "fd00:9::3" was not asked for"#,
            ),
        ] {
            assert_eq!(
                check_on(dual, every, &p, &[]).unwrap_err(),
                format!("{prefix}{why}"),
                "{p:?}"
            );
        }
        // A plugin older than 1.3 plans the first family only: the engine
        // allocates the other.
        let got = check_on(true, false, &with(Some("10.9.0.3"), None), &[]).unwrap();
        assert_eq!((got.ipv4.is_some(), got.ipv6), (true, None));
        assert_eq!(planned_families(&network(true), false), [Family::Ipv4]);
        assert_eq!(
            planned_families(&network(true), true),
            [Family::Ipv4, Family::Ipv6]
        );
    }
}
