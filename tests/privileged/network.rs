//! The network driver's kernel side with real traffic, inside a throwaway
//! host namespace per test (`tests/src/netlab.rs`): bridge, veths, named
//! namespaces, masquerade, published ports from the host's 127.0.0.1 and
//! from a peer (hairpin), internal networks, and a removal that leaves
//! nothing behind.

use berth_network::{EndpointSpec, IfName, IpNetwork, NetworkSpec, PortBinding, Protocol};
use berth_tests::busybox::BUSYBOX;
use berth_tests::netlab::{Lab, is_mounted};

fn net(addr: &str, prefix: u8) -> IpNetwork {
    IpNetwork::new(addr.parse().expect("address"), prefix).expect("prefix")
}

fn network(id: &str, bridge: &str, gateway: &str, internal: bool) -> NetworkSpec {
    NetworkSpec {
        id: id.into(),
        bridge: IfName::new(bridge).expect("bridge name"),
        gateways: vec![net(gateway, 24)],
        internal,
    }
}

fn endpoint(
    container: &str,
    network: &str,
    addr: &str,
    last: u8,
    ports: Vec<PortBinding>,
) -> EndpointSpec {
    EndpointSpec {
        container_id: container.into(),
        network_id: network.into(),
        host_ifname: IfName::new(&format!("veth{container}")).expect("veth name"),
        container_ifname: IfName::new("eth0").expect("eth0"),
        mac: [0x02, 0x42, 0x0a, 0xe7, 0x01, last],
        addresses: vec![net(addr, 24)],
        gateways: vec![gateway_of(addr)],
        ports,
    }
}

/// The first host of the /24 (the tests' gateways).
fn gateway_of(addr: &str) -> std::net::IpAddr {
    let addr: std::net::Ipv4Addr = addr.parse().expect("address");
    let [a, b, c, _] = addr.octets();
    std::net::Ipv4Addr::new(a, b, c, 1).into()
}

fn tcp(host_ip: Option<&str>, host_port: u16, container_port: u16) -> PortBinding {
    PortBinding {
        proto: Protocol::Tcp,
        host_ip: host_ip.map(|ip| ip.parse().expect("host ip")),
        host_port,
        container_port,
    }
}

#[test]
fn two_namespaces_on_one_bridge_ping_and_connect() {
    let lab = Lab::new("berth_t_pair");
    lab.driver
        .create_network(&network("n1", "bnk1", "10.231.1.1", false))
        .unwrap();
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    // Idempotent: a second create keeps the namespace.
    assert_eq!(lab.driver.create_sandbox("c1").unwrap(), c1);
    lab.driver
        .connect(&endpoint("c1", "n1", "10.231.1.2", 2, vec![]))
        .unwrap();
    lab.driver
        .connect(&endpoint("c2", "n1", "10.231.1.3", 3, vec![]))
        .unwrap();

    let links = lab.links(&c1);
    assert!(
        links.contains("lo ") && links.contains("UNKNOWN"),
        "lo is not up: {links}"
    );
    let eth0 = links
        .lines()
        .find(|l| l.starts_with("eth0"))
        .unwrap_or_else(|| panic!("{links}"));
    assert!(
        eth0.contains(" UP ") && eth0.contains("02:42:0a:e7:01:02"),
        "{eth0}"
    );
    let routes = lab.run_in(&c1, &["ip", "route"]).ok();
    assert!(
        routes.contains("default via 10.231.1.1 dev eth0"),
        "{routes}"
    );
    let host_links = lab.links(&lab.host);
    assert!(
        host_links.contains("bnk1") && host_links.contains("vethc1@"),
        "{host_links}"
    );
    let port = lab
        .run_in(&lab.host, &["ip", "-d", "link", "show", "vethc1"])
        .ok();
    assert!(
        port.contains("master bnk1") && port.contains("hairpin on"),
        "{port}"
    );

    lab.run_in(&c2, &[BUSYBOX, "ping", "-c", "1", "-W", "5", "10.231.1.2"])
        .ok();
    lab.serve_http(&c1, 80, "hello from c1");
    let body = lab.fetch(&c2, "http://10.231.1.2:80/").ok();
    assert_eq!(body, "hello from c1");
}

#[test]
fn published_ports_answer_on_the_hosts_loopback_and_to_peers_through_hairpin() {
    let lab = Lab::new("berth_t_ports");
    assert_eq!(
        lab.sysctl("net/ipv4/ip_forward"),
        "0",
        "a fresh namespace forwards nothing"
    );
    lab.driver
        .create_network(&network("n1", "bnk2", "10.231.2.1", false))
        .unwrap();
    assert_eq!(
        lab.sysctl("net/ipv4/ip_forward"),
        "1",
        "bridged traffic needs forwarding"
    );
    assert_eq!(lab.sysctl("net/ipv4/conf/bnk2/route_localnet"), "1");
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    let ports = vec![tcp(Some("127.0.0.1"), 8080, 80), tcp(None, 8081, 80)];
    lab.driver
        .connect(&endpoint("c1", "n1", "10.231.2.2", 2, ports))
        .unwrap();
    lab.driver
        .connect(&endpoint("c2", "n1", "10.231.2.3", 3, vec![]))
        .unwrap();
    lab.serve_http(&c1, 80, "published");

    // From the host itself, at 127.0.0.1 (the output hook + route_localnet
    // + the loopback masquerade) and at all addresses.
    assert_eq!(
        lab.fetch(&lab.host, "http://127.0.0.1:8080/").ok(),
        "published"
    );
    assert_eq!(
        lab.fetch(&lab.host, "http://127.0.0.1:8081/").ok(),
        "published"
    );
    // From a peer on the same bridge, through the host's address: DNAT in
    // prerouting, back out of the bridge, masqueraded so the reply returns.
    assert_eq!(lab.fetch(&c2, "http://10.231.2.1:8081/").ok(), "published");
    // From the container itself (out and back in by its own bridge port:
    // hairpin mode).
    assert_eq!(lab.fetch(&c1, "http://10.231.2.1:8081/").ok(), "published");
    // 8080 is published on 127.0.0.1 only: not on the bridge's address.
    let refused = lab.fetch(&c2, "http://10.231.2.1:8080/");
    assert!(
        !refused.status.success(),
        "127.0.0.1-only port answered a peer: {refused:?}"
    );
}

#[test]
fn outbound_traffic_is_masqueraded_and_internal_networks_stay_inside() {
    let lab = Lab::new("berth_t_masq");
    // "The outside world": a namespace reached by the lab host through a
    // veth, with no route back to the containers' subnets, so only a
    // masqueraded connection can get an answer.
    let outside = lab.extra_netns("outside");
    lab.run_in(
        &lab.host,
        &[
            "ip",
            "link",
            "add",
            "vout",
            "type",
            "veth",
            "peer",
            "name",
            "vin",
            "netns",
            &outside.display().to_string(),
        ],
    )
    .ok();
    lab.run_in(
        &lab.host,
        &["ip", "addr", "add", "192.0.2.1/24", "dev", "vout"],
    )
    .ok();
    lab.run_in(&lab.host, &["ip", "link", "set", "vout", "up"])
        .ok();
    lab.run_in(
        &outside,
        &["ip", "addr", "add", "192.0.2.2/24", "dev", "vin"],
    )
    .ok();
    lab.run_in(&outside, &["ip", "link", "set", "vin", "up"])
        .ok();
    lab.serve_http(&outside, 80, "outside");

    lab.driver
        .create_network(&network("n1", "bnk3", "10.231.3.1", false))
        .unwrap();
    lab.driver
        .create_network(&network("n2", "bnk4", "10.231.4.1", true))
        .unwrap();
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    lab.driver
        .connect(&endpoint("c1", "n1", "10.231.3.2", 2, vec![]))
        .unwrap();
    lab.driver
        .connect(&endpoint("c2", "n2", "10.231.4.2", 2, vec![]))
        .unwrap();

    let routes = lab.driver.host_routes().expect("host routes");
    let outside_route = IpNetwork::new("192.0.2.0".parse().expect("ip"), 24).expect("net");
    assert!(routes.contains(&outside_route), "{routes:?}");
    assert!(
        !routes.iter().any(|r| r.subnet() == "10.231.3.0/24"),
        "own bridge listed: {routes:?}"
    );
    let table = lab.table().expect("the table exists");
    assert!(
        table.contains("ip saddr 10.231.3.0/24 oifname != \"bnk3\" masquerade"),
        "{table}"
    );
    assert_eq!(lab.fetch(&c1, "http://192.0.2.2/").ok(), "outside");
    let isolated = lab.fetch(&c2, "http://192.0.2.2/");
    assert!(
        !isolated.status.success(),
        "an internal network reached outside: {isolated:?}"
    );
    // Inside its own bridge an internal network still works: the gateway answers.
    lab.run_in(&c2, &[BUSYBOX, "ping", "-c", "1", "-W", "5", "10.231.4.1"])
        .ok();
}

#[test]
fn removal_leaves_no_interface_rule_or_mount() {
    let lab = Lab::new("berth_t_rm");
    lab.driver
        .create_network(&network("n1", "bnk5", "10.231.5.1", false))
        .unwrap();
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    lab.driver
        .connect(&endpoint(
            "c1",
            "n1",
            "10.231.5.2",
            2,
            vec![tcp(None, 8080, 80)],
        ))
        .unwrap();
    lab.driver
        .connect(&endpoint(
            "c2",
            "n1",
            "10.231.5.3",
            3,
            vec![tcp(None, 8082, 80)],
        ))
        .unwrap();
    assert!(is_mounted(&c1) && is_mounted(&c2));

    lab.driver.disconnect("c1", "n1").unwrap();
    let table = lab.table().unwrap();
    assert!(
        !table.contains("container:c1") && table.contains("container:c2"),
        "{table}"
    );
    assert!(!lab.links(&lab.host).contains("vethc1"));
    assert!(!lab.links(&c1).contains("eth0"));

    lab.driver.remove_sandbox("c2").unwrap();
    lab.driver.remove_sandbox("c1").unwrap();
    // Idempotent: removing again is fine.
    lab.driver.remove_sandbox("c1").unwrap();
    for path in [&c1, &c2] {
        assert!(
            !is_mounted(path) && !path.exists(),
            "{} left",
            path.display()
        );
    }
    assert!(!lab.table().unwrap().contains("container:"));

    lab.driver.remove_network("n1").unwrap();
    let links = lab.links(&lab.host);
    assert_eq!(links.lines().count(), 1, "only lo may be left: {links}");
    lab.driver.delete_table().unwrap();
    assert_eq!(lab.table(), None);
    assert_eq!(lab.tables().trim(), "");
}

#[test]
fn reconcile_after_a_crash_removes_what_nobody_owns_and_keeps_the_rest() {
    let lab = Lab::new("berth_t_rec");
    let n1 = network("n1", "bnk6", "10.231.6.1", false);
    lab.driver.create_network(&n1).unwrap();
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    let e1 = endpoint(
        "c1",
        "n1",
        "10.231.6.2",
        2,
        vec![tcp(Some("127.0.0.1"), 8080, 80)],
    );
    lab.driver.connect(&e1).unwrap();
    lab.driver
        .connect(&endpoint("c2", "n1", "10.231.6.3", 3, vec![]))
        .unwrap();
    lab.serve_http(&c1, 80, "survivor");
    // A network the store no longer knows (removed while the daemon was down).
    lab.driver
        .create_network(&network("n9", "bnk9", "10.231.9.1", false))
        .expect("network n9");

    // A new daemon (a new driver on the same host) that knows only c1.
    let restarted = berth_network::NetworkDriver::new(
        std::sync::Arc::new(berth_network::LinuxKernel::in_namespace(lab.host.clone())),
        lab.firewall.clone(),
        berth_network::NetworkDriverConfig {
            netns_dir: lab.driver.netns_dir().to_path_buf(),
            table: lab.table.clone(),
            ip_forward: true,
        },
    );
    restarted.reconcile(&[n1], &[e1], &[]).unwrap();
    assert!(!c2.exists() && !is_mounted(&c2), "c2's namespace survived");
    let links = lab.links(&lab.host);
    assert!(
        !links.contains("vethc2") && !links.contains("bnk9") && links.contains("vethc1"),
        "{links}"
    );
    let table = lab.table().unwrap();
    assert!(
        table.contains("container:c1") && !table.contains("container:c2"),
        "{table}"
    );
    assert_eq!(
        lab.fetch(&lab.host, "http://127.0.0.1:8080/").ok(),
        "survivor"
    );
}
