use std::sync::Arc;

use super::*;
use crate::fake::{FakeFirewall, FakeKernel, KernelCall};
use crate::{IpNetwork, PortBinding, Protocol};

fn net(addr: &str, prefix: u8) -> IpNetwork {
    IpNetwork::new(addr.parse().unwrap(), prefix).unwrap()
}

fn bridge_net(id: &str, bridge: &str, gateway: &str, internal: bool) -> NetworkSpec {
    NetworkSpec {
        id: id.into(),
        bridge: IfName::new(bridge).unwrap(),
        gateways: vec![net(gateway, 24)],
        internal,
    }
}

fn endpoint(
    container: &str,
    network: &str,
    host: &str,
    addr: &str,
    ports: Vec<PortBinding>,
) -> EndpointSpec {
    let gateway: std::net::Ipv4Addr = addr.parse().unwrap();
    let [a, b, c, _] = gateway.octets();
    EndpointSpec {
        container_id: container.into(),
        network_id: network.into(),
        host_ifname: IfName::new(host).unwrap(),
        container_ifname: IfName::new("eth0").unwrap(),
        mac: [2, 0x42, 10, 0, 0, 2],
        addresses: vec![net(addr, 24)],
        gateways: vec![std::net::Ipv4Addr::new(a, b, c, 1).into()],
        ports,
    }
}

fn tcp(host_ip: Option<&str>, host_port: u16, container_port: u16) -> PortBinding {
    PortBinding {
        proto: Protocol::Tcp,
        host_ip: host_ip.map(|ip| ip.parse().unwrap()),
        host_port,
        container_port,
    }
}

struct Rig {
    kernel: Arc<FakeKernel>,
    firewall: Arc<FakeFirewall>,
    driver: NetworkDriver,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::default());
    let firewall = Arc::new(FakeFirewall::default());
    let driver = NetworkDriver::new(
        kernel.clone(),
        firewall.clone(),
        NetworkDriverConfig {
            netns_dir: dir.path().join("netns"),
            table: TableName::new("berth_t").unwrap(),
            ip_forward: true,
        },
    );
    Rig {
        kernel,
        firewall,
        driver,
        _dir: dir,
    }
}

#[test]
fn a_network_gets_its_bridge_forwarding_and_masquerade() {
    let rig = rig();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    let calls = rig.kernel.calls();
    assert_eq!(
        calls,
        vec![
            KernelCall::EnsureBridge(BridgeSpec {
                name: IfName::new("br-t1").unwrap(),
                addresses: vec![net("10.9.0.1", 24)],
                alias: "berth:berth_t".into(),
            }),
            KernelCall::WriteSysctl("net/ipv4/ip_forward".into(), "1".into()),
        ]
    );
    let script = rig.firewall.last().unwrap();
    assert!(
        script.contains(
            "ip saddr 10.9.0.0/24 oifname != \"br-t1\" masquerade comment \"network:n1\""
        ),
        "{script}"
    );
    assert!(
        script.starts_with("table inet berth_t {}\ndelete table inet berth_t\n"),
        "{script}"
    );
}

#[test]
fn forwarding_already_on_is_left_alone_and_internal_networks_never_turn_it_on() {
    let rig = rig();
    rig.kernel
        .sysctls
        .lock()
        .unwrap()
        .push(("net/ipv4/ip_forward".into(), "1".into()));
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    let rig2 = self::rig();
    rig2.driver
        .create_network(&bridge_net("n2", "br-t2", "10.9.1.1", true))
        .unwrap();
    for calls in [rig.kernel.calls(), rig2.kernel.calls()] {
        assert!(
            !calls
                .iter()
                .any(|c| matches!(c, KernelCall::WriteSysctl(..))),
            "{calls:?}"
        );
    }
    let script = rig2.firewall.last().unwrap();
    assert!(!script.contains("masquerade"), "{script}");
    assert!(
        script.contains("iifname \"br-t2\" oifname != \"br-t2\" drop comment \"network:n2\""),
        "{script}"
    );
    assert!(
        script.contains("oifname \"br-t2\" iifname != \"br-t2\" drop comment \"network:n2\""),
        "{script}"
    );
}

#[test]
fn a_dual_stack_network_turns_ipv6_forwarding_on_too_and_only_what_is_off() {
    let dual = |id: &str, bridge: &str, internal| NetworkSpec {
        gateways: vec![net("10.9.0.1", 24), net("fd00:9::1", 64)],
        ..bridge_net(id, bridge, "10.9.0.1", internal)
    };
    let rig = rig();
    rig.driver
        .create_network(&dual("n1", "br-t1", false))
        .unwrap();
    let writes: Vec<KernelCall> = rig
        .kernel
        .calls()
        .into_iter()
        .filter(|c| matches!(c, KernelCall::WriteSysctl(..)))
        .collect();
    // moby setupIPv4Forwarding, then setupIPv6Forwarding: default, all.
    assert_eq!(
        writes,
        vec![
            KernelCall::WriteSysctl("net/ipv4/ip_forward".into(), "1".into()),
            KernelCall::WriteSysctl("net/ipv6/conf/default/forwarding".into(), "1".into()),
            KernelCall::WriteSysctl("net/ipv6/conf/all/forwarding".into(), "1".into()),
        ]
    );

    // Already on: left alone; an IPv4-only network never touches IPv6's.
    let on = self::rig();
    on.kernel
        .sysctls
        .lock()
        .unwrap()
        .push(("net/ipv6/conf/all/forwarding".into(), "1".into()));
    on.driver
        .create_network(&dual("n1", "br-t1", false))
        .unwrap();
    on.driver
        .create_network(&bridge_net("n2", "br-t2", "10.9.1.1", false))
        .unwrap();
    let writes: Vec<KernelCall> = on
        .kernel
        .calls()
        .into_iter()
        .filter(|c| matches!(c, KernelCall::WriteSysctl(..)))
        .collect();
    assert_eq!(
        writes,
        vec![
            KernelCall::WriteSysctl("net/ipv4/ip_forward".into(), "1".into()),
            KernelCall::WriteSysctl("net/ipv6/conf/default/forwarding".into(), "1".into()),
        ]
    );

    // Internal, or a daemon told --ip-forward=false: nothing is written.
    let internal = self::rig();
    internal
        .driver
        .create_network(&dual("n3", "br-t3", true))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::default());
    let off = NetworkDriver::new(
        kernel.clone(),
        Arc::new(FakeFirewall::default()),
        NetworkDriverConfig {
            netns_dir: dir.path().join("netns"),
            table: TableName::new("berth_t").unwrap(),
            ip_forward: false,
        },
    );
    off.create_network(&dual("n4", "br-t4", false)).unwrap();
    for calls in [internal.kernel.calls(), kernel.calls()] {
        assert!(
            !calls
                .iter()
                .any(|c| matches!(c, KernelCall::WriteSysctl(..))),
            "{calls:?}"
        );
    }
}

/// The rules of the `published` chain for a dual-stack container
/// (10.9.0.2, fd00:9::2) on a dual-stack bridge publishing `ports`.
fn published_rules(ports: Vec<PortBinding>) -> Vec<String> {
    let table = TableName::new("berth").unwrap();
    let network = NetworkSpec {
        gateways: vec![net("10.9.0.1", 24), net("fd00:9::1", 64)],
        ..bridge_net("n1", "br-t1", "10.9.0.1", false)
    };
    let mut dual = endpoint("c1", "n1", "vethc1", "10.9.0.2", ports);
    dual.addresses.push(net("fd00:9::2", 64));
    render(&table, &[network], &[dual])
        .lines()
        .skip_while(|l| !l.contains("chain published"))
        .skip(1)
        .take_while(|l| !l.trim().starts_with('}'))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn ipv6_ports_on_every_address_leave_the_loopback_to_the_held_socket() {
    assert_eq!(
        published_rules(vec![tcp(None, 8080, 80), tcp(Some("fd00:b1::1"), 9090, 80)]),
        [
            "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.9.0.2:80 comment \"container:c1\"",
            "ip6 daddr != ::1 tcp dport 8080 dnat ip6 to [fd00:9::2]:80 comment \"container:c1\"",
            "ip6 daddr fd00:b1::1 tcp dport 9090 dnat ip6 to [fd00:9::2]:80 comment \"container:c1\"",
        ]
    );
}

#[test]
fn an_explicit_unspecified_address_publishes_on_its_family_only() {
    assert_eq!(
        published_rules(vec![
            tcp(Some("0.0.0.0"), 8080, 80),
            tcp(Some("::"), 8081, 81)
        ]),
        [
            "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.9.0.2:80 comment \"container:c1\"",
            "ip6 daddr != ::1 tcp dport 8081 dnat ip6 to [fd00:9::2]:81 comment \"container:c1\"",
        ]
    );
}

#[test]
fn a_container_gets_its_veth_and_dnat_rules_and_loses_exactly_them() {
    let rig = rig();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    let netns = rig.driver.create_sandbox("c1").unwrap();
    rig.driver.create_sandbox("c2").unwrap();
    rig.driver
        .connect(&endpoint(
            "c1",
            "n1",
            "vethc1",
            "10.9.0.2",
            vec![tcp(Some("127.0.0.1"), 8080, 80)],
        ))
        .unwrap();
    rig.driver
        .connect(&endpoint(
            "c2",
            "n1",
            "vethc2",
            "10.9.0.3",
            vec![tcp(None, 8081, 81)],
        ))
        .unwrap();
    assert!(
        rig.kernel
            .calls()
            .contains(&KernelCall::AttachVeth(VethSpec {
                host_ifname: IfName::new("vethc1").unwrap(),
                bridge: IfName::new("br-t1").unwrap(),
                netns,
                container_ifname: IfName::new("eth0").unwrap(),
                mac: [2, 0x42, 10, 0, 0, 2],
                addresses: vec![net("10.9.0.2", 24)],
                gateways: vec!["10.9.0.1".parse().unwrap()],
            }))
    );
    let c1_rule =
        "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.9.0.2:80 comment \"container:c1\"";
    let c2_rule =
        "meta nfproto ipv4 tcp dport 8081 dnat ip to 10.9.0.3:81 comment \"container:c2\"";
    let script = rig.firewall.last().unwrap();
    assert!(
        script.contains(c1_rule) && script.contains(c2_rule),
        "{script}"
    );

    rig.driver.disconnect("c1", "n1").unwrap();
    let script = rig.firewall.last().unwrap();
    assert!(
        !script.contains("container:c1") && script.contains(c2_rule),
        "{script}"
    );
    assert_eq!(
        rig.kernel.calls().last(),
        Some(&KernelCall::DeleteLink(IfName::new("vethc1").unwrap()))
    );

    rig.driver.remove_sandbox("c2").unwrap();
    let script = rig.firewall.last().unwrap();
    assert!(!script.contains("container:"), "{script}");
    let calls = rig.kernel.calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        &[
            KernelCall::DeleteLink(IfName::new("vethc2").unwrap()),
            KernelCall::RemoveNetns(rig.driver.netns_path("c2").unwrap()),
        ]
    );
}

#[test]
fn a_failed_firewall_change_leaves_no_veth_and_no_state() {
    let rig = rig();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    *rig.firewall.fail.lock().unwrap() = true;
    let err = rig
        .driver
        .connect(&endpoint(
            "c1",
            "n1",
            "vethc1",
            "10.9.0.2",
            vec![tcp(None, 8080, 80)],
        ))
        .unwrap_err();
    assert!(matches!(err, NetworkError::Nft { .. }), "{err}");
    assert_eq!(
        rig.kernel.calls().last(),
        Some(&KernelCall::DeleteLink(IfName::new("vethc1").unwrap()))
    );
    assert!(!rig.driver.ruleset().unwrap().contains("container:c1"));
}

#[test]
fn a_port_without_an_address_of_its_family_is_refused_before_any_kernel_work() {
    let rig = rig();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    let before = rig.kernel.calls().len();
    // `[::]` is IPv6 only: berth has no userland proxy to carry it to an
    // IPv4 address (moby `sortAndNormPBs` maps it to the IPv4 address only
    // through its proxy), so it is refused rather than dropped.
    for host_ip in ["::1", "::"] {
        let err = rig
            .driver
            .connect(&endpoint(
                "c1",
                "n1",
                "vethc1",
                "10.9.0.2",
                vec![tcp(Some(host_ip), 8080, 80)],
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "endpoint of container c1 on network n1 has no address to publish 8080/tcp to",
            "{host_ip}"
        );
        assert_eq!(rig.kernel.calls().len(), before);
    }
    let err = rig
        .driver
        .connect(&endpoint("c1", "nope", "vethc1", "10.9.0.2", vec![]))
        .unwrap_err();
    assert_eq!(err.to_string(), "network nope not found");
}

#[test]
fn reconcile_removes_stray_ports_and_namespaces_and_reattaches_missing_endpoints() {
    let rig = rig();
    let dir = rig.driver.netns_dir().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    for id in ["keep", "stray", "c1", "c2"] {
        std::fs::write(dir.join(id), b"").unwrap();
    }
    rig.kernel.ports.lock().unwrap().push((
        IfName::new("br-t1").unwrap(),
        vec![
            IfName::new("vethc1").unwrap(),
            IfName::new("vethold").unwrap(),
        ],
    ));
    rig.kernel.owned_bridges.lock().unwrap().extend([
        IfName::new("br-t1").unwrap(),
        IfName::new("br-old").unwrap(),
    ]);
    let network = bridge_net("n1", "br-t1", "10.9.0.1", false);
    let endpoints = [
        endpoint("c1", "n1", "vethc1", "10.9.0.2", vec![tcp(None, 8080, 80)]),
        endpoint("c2", "n1", "vethc2", "10.9.0.3", vec![]),
    ];
    rig.driver
        .reconcile(
            std::slice::from_ref(&network),
            &endpoints,
            &["keep".to_string()],
        )
        .unwrap();
    let calls = rig.kernel.calls();
    assert!(
        calls.contains(&KernelCall::RemoveNetns(dir.join("stray"))),
        "{calls:?}"
    );
    for kept in ["keep", "c1", "c2"] {
        assert!(
            !calls.contains(&KernelCall::RemoveNetns(dir.join(kept))),
            "{calls:?}"
        );
    }
    assert!(calls.contains(&KernelCall::DeleteLink(IfName::new("vethold").unwrap())));
    assert!(calls.contains(&KernelCall::DeleteLink(IfName::new("br-old").unwrap())));
    assert!(!calls.contains(&KernelCall::DeleteLink(IfName::new("br-t1").unwrap())));
    assert!(!calls.contains(&KernelCall::DeleteLink(IfName::new("vethc1").unwrap())));
    let attached: Vec<&IfName> = calls
        .iter()
        .filter_map(|c| match c {
            KernelCall::AttachVeth(v) => Some(&v.host_ifname),
            _ => None,
        })
        .collect();
    assert_eq!(attached, vec![&IfName::new("vethc2").unwrap()]);
    assert!(rig.firewall.last().unwrap().contains("container:c1"));
}

#[test]
fn the_rendered_table_is_complete_and_ordered() {
    let table = TableName::new("berth").unwrap();
    let networks = [
        bridge_net("n2", "br-int", "10.9.1.1", true),
        NetworkSpec {
            gateways: vec![net("10.9.0.1", 24), net("fd00:9::1", 64)],
            ..bridge_net("n1", "br-t1", "10.9.0.1", false)
        },
    ];
    let mut dual = endpoint("c1", "n1", "vethc1", "10.9.0.2", vec![tcp(None, 8080, 80)]);
    dual.addresses.push(net("fd00:9::2", 64));
    dual.ports.push(PortBinding {
        proto: Protocol::Sctp,
        host_ip: None,
        host_port: 9,
        container_port: 9,
    });
    dual.ports.push(PortBinding {
        proto: Protocol::Udp,
        host_ip: Some("10.0.0.5".parse().unwrap()),
        host_port: 53,
        container_port: 5353,
    });
    let orphan = endpoint("c9", "gone", "vethc9", "10.9.9.2", vec![tcp(None, 9, 9)]);
    let script = render(&table, &networks, &[orphan, dual]);
    let expected = "table inet berth {}
delete table inet berth
table inet berth {
\tchain published {
\t\tmeta nfproto ipv4 tcp dport 8080 dnat ip to 10.9.0.2:80 comment \"container:c1\"
\t\tip6 daddr != ::1 tcp dport 8080 dnat ip6 to [fd00:9::2]:80 comment \"container:c1\"
\t\tmeta nfproto ipv4 sctp dport 9 dnat ip to 10.9.0.2:9 comment \"container:c1\"
\t\tip6 daddr != ::1 sctp dport 9 dnat ip6 to [fd00:9::2]:9 comment \"container:c1\"
\t\tip daddr 10.0.0.5 udp dport 53 dnat ip to 10.9.0.2:5353 comment \"container:c1\"
\t}
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump published
\t}
\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t\tfib daddr type local jump published
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.9.0.0/24 oifname != \"br-t1\" masquerade comment \"network:n1\"
\t\toifname \"br-t1\" ip saddr 10.9.0.0/24 ct status dnat masquerade comment \"network:n1\"
\t\tip6 saddr fd00:9::/64 oifname != \"br-t1\" masquerade comment \"network:n1\"
\t\toifname \"br-t1\" ip6 saddr fd00:9::/64 ct status dnat masquerade comment \"network:n1\"
\t\toifname \"br-t1\" ip saddr 127.0.0.0/8 masquerade comment \"network:n1\"
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname \"br-t1\" oifname \"br-int\" drop comment \"network:n1\"
\t\tiifname \"br-int\" oifname \"br-t1\" drop comment \"network:n2\"
\t\tiifname \"br-t1\" accept comment \"network:n1\"
\t\toifname \"br-t1\" ct state established,related accept comment \"network:n1\"
\t\toifname \"br-t1\" ct status dnat accept comment \"network:n1\"
\t\toifname \"br-t1\" ip daddr 10.9.0.2 tcp dport 80 accept comment \"container:c1\"
\t\toifname \"br-t1\" ip6 daddr fd00:9::2 tcp dport 80 accept comment \"container:c1\"
\t\toifname \"br-t1\" ip daddr 10.9.0.2 sctp dport 9 accept comment \"container:c1\"
\t\toifname \"br-t1\" ip6 daddr fd00:9::2 sctp dport 9 accept comment \"container:c1\"
\t\toifname \"br-t1\" ip daddr 10.9.0.2 udp dport 5353 accept comment \"container:c1\"
\t\toifname \"br-t1\" drop comment \"network:n1\"
\t\tiifname \"br-int\" oifname != \"br-int\" drop comment \"network:n2\"
\t\toifname \"br-int\" iifname != \"br-int\" drop comment \"network:n2\"
\t}
}
";
    assert_eq!(script, expected);
}

#[test]
fn default_routes_are_the_engines_choice() {
    let rig = rig();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    let mut second = endpoint("c1", "n1", "vethc1", "10.9.0.2", vec![]);
    second.gateways.clear();
    rig.driver.connect(&second).unwrap();
    let veth = rig
        .kernel
        .calls()
        .into_iter()
        .find_map(|c| match c {
            KernelCall::AttachVeth(v) => Some(v),
            _ => None,
        })
        .unwrap();
    assert!(veth.gateways.is_empty(), "{veth:?}");
}

#[test]
fn host_routes_leave_out_the_daemons_own_bridges() {
    let rig = rig();
    rig.kernel
        .routes
        .lock()
        .unwrap()
        .push(net("192.168.7.0", 24));
    assert_eq!(
        rig.driver.host_routes().unwrap(),
        vec![net("192.168.7.0", 24)]
    );
    assert!(
        rig.kernel
            .calls()
            .contains(&KernelCall::BridgesWithAlias("berth:berth_t".into()))
    );
}

#[test]
fn creating_a_known_network_again_does_not_rewrite_the_table() {
    let rig = rig();
    let network = bridge_net("n1", "br-t1", "10.9.0.1", false);
    rig.driver.create_network(&network).unwrap();
    rig.driver.create_network(&network).unwrap();
    assert_eq!(rig.firewall.applied.lock().unwrap().len(), 1);
    // The bridge is still made sure of (it may have been deleted by hand).
    let ensured = rig
        .kernel
        .calls()
        .iter()
        .filter(|c| matches!(c, KernelCall::EnsureBridge(_)))
        .count();
    assert_eq!(ensured, 2);
    // A changed network is applied.
    rig.driver
        .create_network(&NetworkSpec {
            internal: true,
            ..network
        })
        .unwrap();
    assert_eq!(rig.firewall.applied.lock().unwrap().len(), 2);
}

#[test]
fn reconcile_without_networks_removes_the_table_instead_of_writing_an_empty_one() {
    let rig = rig();
    rig.driver.reconcile(&[], &[], &[]).unwrap();
    let applied = rig.firewall.applied.lock().unwrap().clone();
    assert_eq!(applied, [None], "{applied:?}");
}

#[test]
fn the_table_is_rewritten_only_when_its_rules_change() {
    let rig = rig();
    let applies = || rig.firewall.applied.lock().unwrap().len();
    rig.driver
        .create_network(&bridge_net("n1", "br-t1", "10.9.0.1", false))
        .unwrap();
    assert_eq!(applies(), 1);
    // A container without published ports adds no rule: no nft run on its
    // start or its stop, though its veth comes and goes.
    rig.driver
        .connect(&endpoint("c1", "n1", "vethc1", "10.9.0.2", vec![]))
        .unwrap();
    rig.driver.remove_sandbox("c1").unwrap();
    assert_eq!(applies(), 1);
    assert!(
        rig.kernel
            .calls()
            .contains(&KernelCall::DeleteLink(IfName::new("vethc1").unwrap()))
    );
    // Published ports are rules: applied when they come and when they go.
    rig.driver
        .connect(&endpoint(
            "c2",
            "n1",
            "vethc2",
            "10.9.0.3",
            vec![tcp(None, 8080, 80)],
        ))
        .unwrap();
    assert_eq!(applies(), 2);
    assert!(rig.firewall.last().unwrap().contains("container:c2"));
    rig.driver.remove_sandbox("c2").unwrap();
    assert_eq!(applies(), 3);
    assert!(!rig.firewall.last().unwrap().contains("container:c2"));
    // After a failed apply the firewall's table is not known to be ours:
    // the next change applies even a script equal to the last one.
    *rig.firewall.fail.lock().unwrap() = true;
    rig.driver
        .connect(&endpoint(
            "c3",
            "n1",
            "vethc3",
            "10.9.0.4",
            vec![tcp(None, 8081, 80)],
        ))
        .unwrap_err();
    *rig.firewall.fail.lock().unwrap() = false;
    rig.driver
        .connect(&endpoint("c4", "n1", "vethc4", "10.9.0.5", vec![]))
        .unwrap();
    assert_eq!(applies(), 4);
    // A reconcile (daemon start) rebuilds the table whatever was applied.
    let networks = [bridge_net("n1", "br-t1", "10.9.0.1", false)];
    rig.driver.reconcile(&networks, &[], &[]).unwrap();
    assert_eq!(applies(), 5);
}
