//! Which networks have names, and what a container's resolver is.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_model::dns::Resolver;
use berth_model::network::{InterfaceAddress, InterfaceName, MacAddress, Subnet, parse_cidr};

use super::names_fake::{FakeNames, NameCall};
use super::*;
use crate::daemon::name_service::{has_names, resolver_of};
use crate::driver::{EndpointModel, NetworkModel};

fn network(name: &str, cidr: &str) -> NetworkModel {
    NetworkModel {
        id: format!("{name:0>64}"),
        name: name.into(),
        driver: "bridge".into(),
        bridge: InterfaceName::new(&format!("br-{name}")).unwrap(),
        ipv4: Some(Subnet::new(parse_cidr(cidr).unwrap(), None).unwrap()),
        ipv4_user_subnet: true,
        ipv6: None,
        ipv6_planned: false,
        internal: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created: "2026-12-07T00:00:00Z".into(),
    }
}

fn endpoint(network: &NetworkModel, container: &str) -> EndpointModel {
    EndpointModel {
        id: "e".repeat(64),
        container_id: container.into(),
        network_id: network.id.clone(),
        ifname_host: InterfaceName::new("veth1234567").unwrap(),
        ifname_container: InterfaceName::new("eth0").unwrap(),
        mac: MacAddress::from_bytes([2, 0x42, 10, 0, 0, 2]),
        ipv4: Some(InterfaceAddress {
            addr: "10.0.0.2".parse().unwrap(),
            prefix: 24,
        }),
        ipv6: None,
        gateway4: None,
        gateway6: None,
        ports: vec![],
        aliases: vec!["web".into()],
        dns_servers: vec![],
    }
}

#[test]
fn the_default_bridge_has_no_names_and_user_networks_do() {
    let bridge = network("bridge", "172.17.0.0/16");
    let front = network("front", "10.9.0.0/24");
    let back = network("back", "10.8.0.0/24");
    assert!(!has_names(&bridge));
    assert!(has_names(&front));
    let on = |networks: &[&NetworkModel]| -> Vec<(NetworkModel, EndpointModel)> {
        networks
            .iter()
            .map(|n| ((*n).clone(), endpoint(n, "c1")))
            .collect()
    };
    // The first user network's gateway, whatever came before it.
    let joined = on(&[&bridge, &front, &back]);
    assert_eq!(
        resolver_of(&joined, true),
        Resolver::Embedded("10.9.0.1".parse().unwrap())
    );
    assert_eq!(resolver_of(&on(&[&bridge]), true), Resolver::Host);
    // Without a name server, the first network's servers decide.
    let mut joined = joined;
    joined[0].1.dns_servers = vec!["192.0.2.53".parse().unwrap()];
    joined[1].1.dns_servers = vec!["192.0.2.54".parse().unwrap()];
    assert_eq!(
        resolver_of(&joined, false),
        Resolver::Servers(vec!["192.0.2.53".parse().unwrap()])
    );
    assert_eq!(
        resolver_of(&joined[1..], false),
        Resolver::Servers(vec!["192.0.2.54".parse().unwrap()])
    );
    assert_eq!(
        resolver_of(&joined, true),
        Resolver::Embedded("10.9.0.1".parse().unwrap())
    );
}

#[tokio::test]
async fn names_are_published_on_user_networks_only() {
    let fixture = fixture();
    let names = Arc::new(FakeNames::default());
    fixture.daemon.set_name_service(names.clone());
    let bridge = network("bridge", "172.17.0.0/16");
    let front = network("front", "10.9.0.0/24");
    fixture
        .daemon
        .publish_names(&bridge, &endpoint(&bridge, "c1"))
        .unwrap();
    fixture
        .daemon
        .publish_names(&front, &endpoint(&front, "c1"))
        .unwrap();
    fixture.daemon.withdraw_names(&bridge, "c1");
    fixture.daemon.withdraw_names(&front, "c1");
    assert_eq!(
        names.calls(),
        vec![
            NameCall::Publish("front".into(), "c1".into(), vec!["web".into()]),
            NameCall::Withdraw("front".into(), "c1".into()),
        ]
    );
}

#[tokio::test]
async fn a_removed_network_is_no_longer_served() {
    let f = fixture();
    let names = Arc::new(FakeNames::default());
    f.daemon.set_name_service(names.clone());
    f.daemon.restore().await.expect("restore");
    f.daemon
        .network_create(berth_api::network::NetworkCreateRequest {
            name: "front".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    f.daemon.network_remove("front").await.expect("remove");
    // At start the server was given the user networks (none yet).
    assert_eq!(
        names.calls(),
        vec![
            NameCall::Reconcile(vec![], vec![]),
            NameCall::RemoveNetwork("front".into())
        ]
    );
}

/// What a joining container does with its endpoints (the calls in
/// `endpoints.rs`' join and leave): names published on its user networks
/// only, its resolver the first user network's gateway, names withdrawn
/// when it leaves. (Through `start`: once user networks are taken at
/// create, which is the netattach branch's next step.)
#[test]
fn a_joining_container_is_named_on_its_user_networks() {
    let f = fixture();
    let bridge = network("bridge", "172.17.0.0/16");
    let front = network("front", "10.9.0.0/24");
    let joined = vec![
        (bridge.clone(), endpoint(&bridge, "c1")),
        (front.clone(), endpoint(&front, "c1")),
    ];
    // No server wired in: no resolver, the host's resolvers stay.
    assert_eq!(f.daemon.resolver_for(&joined), Resolver::Host);
    let names = Arc::new(FakeNames::default());
    f.daemon.set_name_service(names.clone());
    assert_eq!(
        f.daemon.resolver_for(&joined),
        Resolver::Embedded("10.9.0.1".parse().unwrap())
    );
    f.daemon.publish_all_names("c1", &joined);
    f.daemon.withdraw_all_names("c1", &joined);
    assert_eq!(
        names.calls(),
        vec![
            NameCall::Publish("front".into(), "c1".into(), vec!["web".into()]),
            NameCall::Withdraw("front".into(), "c1".into()),
        ]
    );
}
