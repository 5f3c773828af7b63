use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use berth_engine::driver::{
    InterfaceAddress, InterfaceName, MacAddress, SandboxModel, SandboxState, Subnet,
};
use berth_model::network::parse_cidr;

use super::*;

fn adapter() -> NameAdapter {
    NameAdapter::with_config(DnsConfig {
        port: 0,
        upstreams: Upstreams::Fixed(vec![]),
        timeout: Duration::from_millis(100),
    })
    .unwrap()
}

/// A user network whose gateway is a loopback address, so the test
/// listens where a bridge would carry the gateway.
fn network(id: char, gateway: &str) -> NetworkModel {
    NetworkModel {
        id: id.to_string().repeat(64),
        name: format!("net{id}"),
        driver: "bridge".into(),
        bridge: InterfaceName::new("br-0123456789ab").unwrap(),
        ipv4: Some(
            Subnet::new(
                parse_cidr("127.0.0.0/8").unwrap(),
                Some(gateway.parse().unwrap()),
            )
            .unwrap(),
        ),
        ipv4_user_subnet: true,
        ipv6: None,
        ipv6_planned: false,
        internal: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created: "2026-12-07T00:00:00Z".into(),
    }
}

fn endpoint(
    network: &NetworkModel,
    container: char,
    addr: &str,
    aliases: &[&str],
) -> EndpointModel {
    EndpointModel {
        id: "e".repeat(64),
        container_id: container.to_string().repeat(64),
        network_id: network.id.clone(),
        ifname_host: InterfaceName::new("veth1234567").unwrap(),
        ifname_container: InterfaceName::new("eth0").unwrap(),
        mac: MacAddress::from_bytes([2, 0x42, 10, 77, 0, 2]),
        ipv4: Some(InterfaceAddress {
            addr: addr.parse().unwrap(),
            prefix: 16,
        }),
        ipv6: None,
        gateway4: None,
        gateway6: None,
        ports: vec![],
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        dns_servers: vec![],
    }
}

/// Asks `server` for the A record of `name` with a hand-made query (RFC
/// 1035 4.1) and returns the response code and the addresses answered.
fn ask(server: SocketAddr, name: &str) -> (u8, Vec<Ipv4Addr>) {
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.send_to(&query, server).unwrap();
    let mut buf = [0; 512];
    let n = socket.recv(&mut buf).unwrap();
    let reply = &buf[..n];
    assert_eq!(reply[..2], [0x12, 0x34]);
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    // Each A answer ends with its 4 address bytes; with one question and
    // compressed names every answer is 16 bytes after the question.
    let question_end = query.len();
    let addrs = (0..usize::from(answers))
        .map(|i| {
            let end = question_end + 16 * (i + 1);
            Ipv4Addr::new(
                reply[end - 4],
                reply[end - 3],
                reply[end - 2],
                reply[end - 1],
            )
        })
        .collect();
    (reply[3] & 0x0f, addrs)
}

#[test]
fn endpoints_names_resolve_at_their_networks_gateway() {
    let adapter = adapter();
    let net = network('a', "127.0.0.71");
    adapter
        .publish(
            &net,
            &endpoint(&net, 'c', "10.77.0.2", &["web", "cccccccccccc"]),
        )
        .unwrap();
    let [addr] = adapter.server().local_addrs(&net.id)[..] else {
        panic!("one listener");
    };
    assert_eq!(addr.ip().to_string(), "127.0.0.71");
    assert_eq!(ask(addr, "web"), (0, vec![Ipv4Addr::new(10, 77, 0, 2)]));
    assert_eq!(
        ask(addr, "cccccccccccc"),
        (0, vec![Ipv4Addr::new(10, 77, 0, 2)])
    );
    adapter.withdraw(&net, &"c".repeat(64)).unwrap();
    // No upstream: an unknown name is SERVFAIL (rcode 2).
    assert_eq!(ask(addr, "web"), (2, vec![]));
    adapter.remove_network(&net).unwrap();
    assert!(adapter.server().local_addrs(&net.id).is_empty());
}

#[test]
fn reconcile_serves_each_network_with_its_own_endpoints() {
    let adapter = adapter();
    let a = network('a', "127.0.0.72");
    let b = network('b', "127.0.0.73");
    let state = NetworkState {
        networks: vec![a.clone(), b.clone()],
        sandboxes: vec![SandboxState {
            sandbox: SandboxModel {
                container_id: "c".repeat(64),
                netns_path: "/run/berth/netns/c".into(),
            },
            endpoints: vec![endpoint(&a, 'c', "10.77.0.2", &["web"])],
        }],
    };
    adapter.reconcile(&state).unwrap();
    let on_a = adapter.server().local_addrs(&a.id)[0];
    let on_b = adapter.server().local_addrs(&b.id)[0];
    assert_eq!(ask(on_a, "web"), (0, vec![Ipv4Addr::new(10, 77, 0, 2)]));
    assert_eq!(ask(on_b, "web"), (2, vec![]));
}

/// A container's own name servers (its `--dns` or its policy's) are its
/// record's upstreams on port 53; without them the server's own are used.
#[test]
fn an_endpoints_name_servers_are_its_records_upstreams() {
    let net = network('a', "127.0.0.74");
    let mut ep = endpoint(&net, 'c', "10.77.0.2", &["web"]);
    assert!(dns_record(&ep).upstreams.is_empty());
    ep.dns_servers = vec![
        "192.0.2.53".parse().unwrap(),
        "2001:db8::53".parse().unwrap(),
    ];
    assert_eq!(
        dns_record(&ep).upstreams,
        [
            "192.0.2.53:53".parse::<SocketAddr>().unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        ]
    );
}
