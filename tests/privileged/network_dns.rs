//! The embedded DNS server (`berth_network::dns`) with real traffic: it
//! listens on the gateways of bridges made by the network driver in a
//! throwaway host namespace (`tests/src/netlab.rs`), and containers'
//! namespaces ask it through their veth and the bridge — with berth's
//! nftables table in place, so a rule dropping queries to the gateway
//! would fail here, internal networks included.

use std::fs::File;
use std::net::IpAddr;
use std::time::Duration;

use berth_network::dns::{DnsConfig, DnsNetwork, DnsRecord, DnsServer, Upstreams};
use berth_network::{EndpointSpec, IfName, IpNetwork, NetworkSpec};
use berth_tests::busybox::BUSYBOX;
use berth_tests::netlab::Lab;
use nix::sched::{CloneFlags, setns};

fn net(addr: &str) -> IpNetwork {
    IpNetwork::new(addr.parse().expect("address"), 24).expect("prefix")
}

fn ip(addr: &str) -> IpAddr {
    addr.parse().expect("address")
}

fn network(id: &str, bridge: &str, gateway: &str, internal: bool) -> NetworkSpec {
    NetworkSpec {
        id: id.into(),
        bridge: IfName::new(bridge).expect("bridge name"),
        gateways: vec![net(gateway)],
        internal,
    }
}

fn endpoint(container: &str, network: &str, addr: &str, gateway: &str) -> EndpointSpec {
    EndpointSpec {
        container_id: container.into(),
        network_id: network.into(),
        host_ifname: IfName::new(&format!("vethd{container}")).expect("veth name"),
        container_ifname: IfName::new("eth0").expect("eth0"),
        mac: [0x02, 0x42, 0x0a, 0xe7, 0x09, addr.len() as u8],
        addresses: vec![net(addr)],
        gateways: vec![ip(gateway)],
        ports: vec![],
    }
}

#[test]
fn containers_ask_their_gateway_and_get_their_own_networks_names_only() {
    let lab = Lab::new("berth_t_dns");
    lab.driver
        .create_network(&network("n1", "bnd1", "10.231.9.1", true))
        .unwrap();
    lab.driver
        .create_network(&network("n2", "bnd2", "10.231.10.1", false))
        .unwrap();
    let c1 = lab.driver.create_sandbox("c1").unwrap();
    let c2 = lab.driver.create_sandbox("c2").unwrap();
    lab.driver
        .connect(&endpoint("c1", "n1", "10.231.9.2", "10.231.9.1"))
        .unwrap();
    lab.driver
        .connect(&endpoint("c2", "n2", "10.231.10.2", "10.231.10.1"))
        .unwrap();

    let server = DnsServer::new(DnsConfig {
        port: 53,
        upstreams: Upstreams::Fixed(vec![]),
        timeout: Duration::from_secs(1),
    })
    .expect("server");
    // Sockets belong to the namespace of the thread that opens them: the
    // server binds in the lab's "host" as berthd binds in the real one.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let host = File::open(&lab.host).expect("the lab's host namespace");
                setns(&host, CloneFlags::CLONE_NEWNET).expect("enter it");
                let publish =
                    |id: &str, gateway: &str, internal, container: &str, name: &str, addr: &str| {
                        server
                            .publish(
                                &DnsNetwork {
                                    id: id.into(),
                                    gateways: vec![ip(gateway)],
                                    internal,
                                },
                                DnsRecord {
                                    container_id: container.into(),
                                    names: vec![name.into()],
                                    addresses: vec![ip(addr)],
                                    upstreams: vec![],
                                },
                            )
                            .expect("publish")
                    };
                publish("n1", "10.231.9.1", true, "c1", "web", "10.231.9.2");
                publish("n2", "10.231.10.1", false, "c2", "db", "10.231.10.2");
            })
            .join()
            .expect("publish thread");
    });

    // An internal network resolves its own names through the gateway.
    let out = lab.run_in(&c1, &[BUSYBOX, "nslookup", "web", "10.231.9.1"]);
    assert!(out.stdout.contains("10.231.9.2"), "{out:?}");
    let out = lab.run_in(&c2, &[BUSYBOX, "nslookup", "db", "10.231.10.1"]);
    assert!(out.stdout.contains("10.231.10.2"), "{out:?}");
    // Each network's names only.
    let out = lab.run_in(&c2, &[BUSYBOX, "nslookup", "web", "10.231.10.1"]);
    assert!(!out.stdout.contains("10.231.9.2"), "{out:?}");
    let out = lab.run_in(&c1, &[BUSYBOX, "nslookup", "db", "10.231.9.1"]);
    assert!(!out.stdout.contains("10.231.10.2"), "{out:?}");
    drop(server);
}
