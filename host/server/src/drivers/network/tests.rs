use std::collections::BTreeMap;
use std::sync::Arc;

use berth_engine::driver::{
    InterfaceAddress, InterfaceName, MacAddress, PortBinding, Protocol, SandboxState, Subnet,
};
use berth_model::network::parse_cidr;
use berth_network::fake::{FakeFirewall, FakeKernel, KernelCall};

use super::*;

fn rig() -> (
    Arc<FakeKernel>,
    Arc<FakeFirewall>,
    NetworkAdapter,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = Arc::new(FakeKernel::default());
    let firewall = Arc::new(FakeFirewall::default());
    let adapter = NetworkAdapter::with_driver(NetworkDriver::new(
        kernel.clone(),
        firewall.clone(),
        NetworkDriverConfig {
            netns_dir: dir.path().join("netns"),
            table: TableName::new("berth_u").unwrap(),
            ip_forward: true,
        },
    ));
    (kernel, firewall, adapter, dir)
}

fn network() -> NetworkModel {
    NetworkModel {
        id: "n".repeat(64),
        name: "web".into(),
        driver: "bridge".into(),
        bridge: InterfaceName::new("br-0123456789ab").unwrap(),
        ipv4: Some(Subnet::new(parse_cidr("10.77.0.0/16").unwrap(), None).unwrap()),
        ipv4_user_subnet: true,
        ipv6: None,
        ipv6_planned: false,
        internal: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created: "2026-12-06T00:00:00Z".into(),
    }
}

fn endpoint() -> EndpointModel {
    EndpointModel {
        id: "e".repeat(64),
        container_id: "c".repeat(64),
        network_id: "n".repeat(64),
        ifname_host: InterfaceName::new("veth1234567").unwrap(),
        ifname_container: InterfaceName::new("eth0").unwrap(),
        mac: MacAddress::from_bytes([2, 0x42, 10, 77, 0, 2]),
        ipv4: Some(InterfaceAddress {
            addr: "10.77.0.2".parse().unwrap(),
            prefix: 16,
        }),
        ipv6: None,
        gateway4: Some("10.77.0.1".parse().unwrap()),
        gateway6: None,
        ports: vec![PortBinding {
            proto: Protocol::Tcp,
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: 8080,
            container_port: 80,
        }],
        aliases: vec!["web".into()],
        dns_servers: vec![],
    }
}

#[test]
fn connect_applies_the_engines_plan_as_given() {
    let (kernel, firewall, adapter, _dir) = rig();
    let sandbox = adapter.create_sandbox(&"c".repeat(64)).unwrap();
    assert!(
        sandbox
            .netns_path
            .ends_with(format!("netns/{}", "c".repeat(64)))
    );
    // As the engine does: the network made sure of, then the connect.
    adapter.create_network(&network()).unwrap();
    adapter.connect(&sandbox, &network(), &endpoint()).unwrap();
    let calls = kernel.calls();
    let ensured = calls
        .iter()
        .filter(|c| matches!(c, KernelCall::EnsureBridge(_)))
        .count();
    assert_eq!(ensured, 1, "the bridge is made sure of once per connect");
    let veth = calls
        .iter()
        .find_map(|c| match c {
            KernelCall::AttachVeth(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(veth.host_ifname.as_str(), "veth1234567");
    assert_eq!(veth.bridge.as_str(), "br-0123456789ab");
    assert_eq!(veth.netns, sandbox.netns_path);
    assert_eq!(veth.mac, [2, 0x42, 10, 77, 0, 2]);
    assert_eq!(veth.addresses[0].to_string(), "10.77.0.2/16");
    assert_eq!(
        veth.gateways,
        vec!["10.77.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(calls.iter().any(|c| matches!(c, KernelCall::EnsureBridge(b)
        if b.addresses[0].to_string() == "10.77.0.1/16")));
    let script = firewall.last().unwrap();
    assert!(
        script.contains("ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.77.0.2:80"),
        "{script}"
    );
    assert!(script.contains("ip saddr 10.77.0.0/16 oifname != \"br-0123456789ab\" masquerade"));

    adapter
        .disconnect(&sandbox, &network(), &endpoint())
        .unwrap();
    assert!(!firewall.last().unwrap().contains("dnat ip to"));
    adapter.remove_sandbox(&sandbox).unwrap();
    assert_eq!(
        kernel.calls().last(),
        Some(&KernelCall::RemoveNetns(sandbox.netns_path.clone()))
    );
}

#[test]
fn reconcile_keeps_the_sandboxes_the_store_lists() {
    let (kernel, firewall, adapter, dir) = rig();
    let netns = dir.path().join("netns");
    std::fs::create_dir_all(&netns).unwrap();
    std::fs::write(netns.join("c".repeat(64)), b"").unwrap();
    std::fs::write(netns.join("d".repeat(64)), b"").unwrap();
    let state = NetworkState {
        networks: vec![network()],
        sandboxes: vec![SandboxState {
            sandbox: SandboxModel {
                container_id: "c".repeat(64),
                netns_path: netns.join("c".repeat(64)),
            },
            endpoints: vec![endpoint()],
        }],
    };
    adapter.reconcile(&state).unwrap();
    let calls = kernel.calls();
    assert!(calls.contains(&KernelCall::RemoveNetns(netns.join("d".repeat(64)))));
    assert!(!calls.contains(&KernelCall::RemoveNetns(netns.join("c".repeat(64)))));
    assert!(
        firewall
            .last()
            .unwrap()
            .contains(&format!("container:{}", "c".repeat(64)))
    );
}

#[test]
fn driver_errors_keep_their_kind() {
    let (kernel, _firewall, adapter, _dir) = rig();
    let err = adapter.create_sandbox("../escape").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter, "{err}");
    *kernel.fail_on.lock().unwrap() = Some("EnsureBridge".into());
    let err = adapter.create_network(&network()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal, "{err}");
    assert!(
        err.message
            .starts_with("failed to create the network's bridge"),
        "{err}"
    );
}

#[test]
fn host_routes_are_whole_networks() {
    let (kernel, _firewall, adapter, _dir) = rig();
    kernel
        .routes
        .lock()
        .unwrap()
        .push(IpNetwork::new("192.168.7.9".parse().unwrap(), 24).unwrap());
    let routes = adapter.host_routes().unwrap();
    assert_eq!(routes, vec![parse_cidr("192.168.7.0/24").unwrap()]);
}
