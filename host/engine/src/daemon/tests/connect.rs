//! `docker network connect|disconnect` (issue 12) against the recording
//! network and name fakes: a running container joins and leaves now, a
//! created or stopped one at its next start, and every refusal leaves
//! nothing behind.

use std::sync::Arc;

use berth_api::container::{EndpointIpamConfig, EndpointSettings};
use berth_api::network_connect::{NetworkConnectRequest, NetworkDisconnectRequest};
use berth_model::dns::Resolver;

use super::names_fake::{FakeNames, NameCall};
use super::network_fake::{FailOn, NetCall};
use super::*;
use crate::daemon::connect::{
    CONFLICT_HOST_NETWORK, CONFLICT_NO_NETWORK, CONFLICT_SHARED_NETWORK, IP_ON_DEFAULT_NETWORK,
};
use crate::daemon::endpoints::SANDBOXES;

/// A daemon with the default bridge, user networks `front` and `back`, a
/// name service, and no call recorded yet.
async fn networked() -> (Fixture, Arc<FakeNames>) {
    let f = fixture();
    let names = Arc::new(FakeNames::default());
    f.daemon.set_name_service(names.clone());
    f.daemon.restore().await.expect("restore");
    for (name, subnet) in [("front", "10.9.0.0/24"), ("back", "10.8.0.0/24")] {
        let request: berth_api::network::NetworkCreateRequest = serde_json::from_str(&format!(
            r#"{{"Name":"{name}","IPAM":{{"Config":[{{"Subnet":"{subnet}"}}]}}}}"#
        ))
        .unwrap();
        f.daemon.network_create(request).await.expect("network");
    }
    f.network.calls.lock().unwrap().clear();
    names.calls.lock().unwrap().clear();
    (f, names)
}

async fn created(f: &Fixture, name: &str, mode: &str) -> String {
    f.create(
        Some(name),
        &format!(r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"{mode}"}}}}"#),
    )
    .await
    .expect("create")
}

fn connect(container: &str) -> NetworkConnectRequest {
    NetworkConnectRequest {
        container: container.into(),
        endpoint_config: None,
    }
}

fn with(container: &str, ipv4: &str, aliases: &[&str]) -> NetworkConnectRequest {
    NetworkConnectRequest {
        container: container.into(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: ipv4.into(),
                ..EndpointIpamConfig::default()
            }),
            aliases: Some(aliases.iter().map(|a| (*a).to_owned()).collect()),
            ..EndpointSettings::default()
        }),
    }
}

fn disconnect(container: &str) -> NetworkDisconnectRequest {
    NetworkDisconnectRequest {
        container: container.into(),
        force: false,
    }
}

/// The container's leased endpoints, by network id.
fn leased(f: &Fixture, id: &str) -> Vec<String> {
    f.store
        .get(SANDBOXES, id)
        .unwrap()
        .map(|s| s.endpoints.into_iter().map(|e| e.network_id).collect())
        .unwrap_or_default()
}

fn network_id(f: &Fixture, name: &str) -> String {
    f.store
        .list(crate::daemon::networks::NETWORKS)
        .unwrap()
        .into_iter()
        .find(|(_, n)| n.name == name)
        .map(|(id, _)| id)
        .expect("network")
}

fn networks_of(f: &Fixture, id: &str) -> Vec<String> {
    f.daemon
        .inspect(id)
        .unwrap()
        .network_settings
        .networks
        .into_keys()
        .collect()
}

#[tokio::test]
async fn a_running_container_joins_now_and_leaves_now() {
    let (f, names) = networked().await;
    let id = created(&f, "web", "front").await;
    f.daemon.start(&id).await.expect("start");
    let mut events = f.daemon.events().subscribe();
    f.network.calls.lock().unwrap().clear();
    names.calls.lock().unwrap().clear();

    f.daemon
        .network_connect("back", with("web", "", &["api"]))
        .await
        .expect("connect");
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateNetwork("back".into()),
            NetCall::Connect(id.clone(), "back".into(), "eth1".into()),
        ]
    );
    let back = network_id(&f, "back");
    let front = network_id(&f, "front");
    let endpoint = f.network.kernel().endpoints[&(id.clone(), back.clone())].clone();
    assert_eq!(endpoint.ipv4.unwrap().to_string(), "10.8.0.2/24");
    // Only the first network routes.
    assert_eq!(endpoint.gateway4, None);
    assert_eq!(leased(&f, &id), vec![front.clone(), back.clone()]);
    let names_on_back = vec!["web".to_owned(), id[..12].to_owned(), "api".to_owned()];
    assert_eq!(
        names.calls(),
        vec![NameCall::Publish(
            "back".into(),
            id.clone(),
            names_on_back.clone()
        )]
    );
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(settings.networks["back"].ip_address, "10.8.0.2");
    assert_eq!(settings.networks["back"].aliases, Some(vec!["api".into()]));
    assert_eq!(settings.networks["back"].dns_names, Some(names_on_back));
    assert_eq!(settings.networks["front"].ip_address, "10.9.0.2");

    f.network.calls.lock().unwrap().clear();
    names.calls.lock().unwrap().clear();
    f.daemon
        .network_disconnect("back", disconnect("web"))
        .await
        .expect("disconnect");
    assert_eq!(
        f.network.calls(),
        vec![NetCall::Disconnect(id.clone(), "back".into())]
    );
    assert!(
        !f.network
            .kernel()
            .endpoints
            .contains_key(&(id.clone(), back.clone()))
    );
    assert!(f.network.kernel().sandboxes.contains(&id), "still running");
    assert_eq!(leased(&f, &id), vec![front.clone()]);
    assert_eq!(
        names.calls(),
        vec![NameCall::Withdraw("back".into(), id.clone())]
    );
    assert_eq!(networks_of(&f, &id), vec!["front".to_owned()]);
    let seen = events_seen(&mut events, |e| {
        (e.kind == "network").then(|| {
            (
                e.action.clone(),
                e.actor.attributes.get("name").cloned().unwrap_or_default(),
            )
        })
    });
    assert_eq!(
        seen,
        vec![
            ("connect".to_owned(), "back".to_owned()),
            ("disconnect".to_owned(), "back".to_owned())
        ]
    );

    // Its address is free again, and a connect after the disconnect takes
    // eth1 again, not a name still in use.
    f.daemon
        .network_connect("back", connect("web"))
        .await
        .expect("connect again");
    assert!(
        f.network
            .calls()
            .ends_with(&[NetCall::Connect(id.clone(), "back".into(), "eth1".into())]),
        "{:?}",
        f.network.calls()
    );
    // The next start joins both, in connect order.
    f.daemon.stop(&id, Some(1), None).await.expect("stop");
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert_eq!(leased(&f, &id), Vec::<String>::new());
    f.network.calls.lock().unwrap().clear();
    f.daemon.start(&id).await.expect("start again");
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox(id.clone()),
            NetCall::CreateNetwork("front".into()),
            NetCall::Connect(id.clone(), "front".into(), "eth0".into()),
            NetCall::CreateNetwork("back".into()),
            NetCall::Connect(id.clone(), "back".into(), "eth1".into()),
        ]
    );
}

#[tokio::test]
async fn a_created_container_is_connected_at_its_next_start() {
    let (f, _names) = networked().await;
    let id = created(&f, "db", "front").await;
    f.daemon
        .network_connect("back", with("db", "10.8.0.50", &["store"]))
        .await
        .expect("connect");
    // Nothing runs: nothing is made.
    assert_eq!(f.network.calls(), vec![]);
    assert_eq!(leased(&f, &id), Vec::<String>::new());
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(
        settings.networks.keys().cloned().collect::<Vec<_>>(),
        vec!["back".to_owned(), "front".to_owned()]
    );
    let back = &settings.networks["back"];
    assert_eq!(back.ip_address, "");
    assert_eq!(back.aliases, Some(vec!["store".into()]));
    assert_eq!(
        back.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()),
        Some("10.8.0.50")
    );

    // compose's way: off its own network and on again with its aliases.
    f.daemon
        .network_disconnect("front", disconnect("db"))
        .await
        .expect("disconnect");
    f.daemon
        .network_connect("front", with("db", "", &["db", "database"]))
        .await
        .expect("connect again");
    // The record keeps the list across a daemon restart.
    let record = f
        .store
        .get(crate::daemon::container::CONTAINERS, &id)
        .unwrap()
        .expect("record");
    let kept: Vec<String> = record
        .connections
        .expect("connections")
        .into_iter()
        .map(|c| c.network_name)
        .collect();
    assert_eq!(kept, vec!["back".to_owned(), "front".to_owned()]);

    f.daemon.start(&id).await.expect("start");
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox(id.clone()),
            NetCall::CreateNetwork("back".into()),
            NetCall::Connect(id.clone(), "back".into(), "eth0".into()),
            NetCall::CreateNetwork("front".into()),
            NetCall::Connect(id.clone(), "front".into(), "eth1".into()),
        ]
    );
    let kernel = f.network.kernel();
    let on_back = &kernel.endpoints[&(id.clone(), network_id(&f, "back"))];
    assert_eq!(on_back.ipv4.unwrap().to_string(), "10.8.0.50/24");
    let on_front = &kernel.endpoints[&(id.clone(), network_id(&f, "front"))];
    assert_eq!(
        on_front.aliases,
        vec!["db".to_owned(), id[..12].to_owned(), "database".to_owned()]
    );
}

/// What a refusal must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    calls: Vec<NetCall>,
    kernel: super::network_fake::FakeKernel,
    leases: Vec<String>,
    connections: Vec<Option<Vec<crate::daemon::connect::Connection>>>,
    names: Vec<NameCall>,
}

fn snapshot(f: &Fixture, names: &FakeNames) -> Snapshot {
    let records = f.store.list(crate::daemon::container::CONTAINERS).unwrap();
    Snapshot {
        calls: f.network.calls(),
        kernel: f.network.kernel(),
        leases: f
            .store
            .list(SANDBOXES)
            .unwrap()
            .into_iter()
            .map(|(id, s)| format!("{id}:{}", s.endpoints.len()))
            .collect(),
        connections: records.into_iter().map(|(_, r)| r.connections).collect(),
        names: names.calls(),
    }
}

#[tokio::test]
async fn every_refusal_leaves_nothing_and_says_what_moby_says() {
    let (f, names) = networked().await;
    let web = created(&f, "web", "front").await;
    f.daemon.start(&web).await.expect("start");
    created(&f, "stopped", "front").await;
    created(&f, "plain", "bridge").await;
    created(&f, "hosted", "host").await;
    created(&f, "alone", "none").await;
    created(&f, "shared", &format!("container:{web}")).await;
    let before = snapshot(&f, &names);

    let cases: Vec<(&str, Result<(), JobError>, ErrorKind, String)> = vec![
        (
            "unknown network",
            f.daemon.network_connect("nope", connect("web")).await,
            ErrorKind::NotFound,
            "network nope not found".into(),
        ),
        (
            "unknown container",
            f.daemon.network_connect("back", connect("ghost")).await,
            ErrorKind::NotFound,
            "No such container: ghost".into(),
        ),
        (
            "already connected (running)",
            f.daemon.network_connect("front", connect("web")).await,
            ErrorKind::Forbidden,
            "endpoint with name web already exists in network front".into(),
        ),
        (
            "already connected (stopped)",
            f.daemon.network_connect("front", connect("stopped")).await,
            ErrorKind::Forbidden,
            "endpoint with name stopped already exists in network front".into(),
        ),
        (
            "to the host network",
            f.daemon.network_connect("host", connect("web")).await,
            ErrorKind::InvalidParameter,
            CONFLICT_HOST_NETWORK.into(),
        ),
        (
            "a host-mode container",
            f.daemon.network_connect("back", connect("hosted")).await,
            ErrorKind::InvalidParameter,
            CONFLICT_HOST_NETWORK.into(),
        ),
        (
            "off the host network",
            f.daemon
                .network_disconnect("host", disconnect("hosted"))
                .await,
            ErrorKind::InvalidParameter,
            CONFLICT_HOST_NETWORK.into(),
        ),
        (
            "to none",
            f.daemon.network_connect("none", connect("web")).await,
            ErrorKind::InvalidParameter,
            CONFLICT_NO_NETWORK.into(),
        ),
        (
            "a none-mode container",
            f.daemon.network_connect("back", connect("alone")).await,
            ErrorKind::InvalidParameter,
            CONFLICT_NO_NETWORK.into(),
        ),
        (
            "a container: container",
            f.daemon.network_connect("back", connect("shared")).await,
            ErrorKind::InvalidParameter,
            CONFLICT_SHARED_NETWORK.into(),
        ),
        (
            "not connected (running)",
            f.daemon.network_disconnect("back", disconnect("web")).await,
            ErrorKind::InvalidParameter,
            format!("container {web} is not connected to network back"),
        ),
        (
            "an address on the default bridge",
            f.daemon
                .network_connect("bridge", with("stopped", "172.17.0.9", &[]))
                .await,
            ErrorKind::InvalidParameter,
            IP_ON_DEFAULT_NETWORK.into(),
        ),
        (
            "an alias on the default bridge",
            f.daemon
                .network_connect("bridge", with("stopped", "", &["x"]))
                .await,
            ErrorKind::InvalidParameter,
            crate::daemon::aliases::ALIAS_ON_DEFAULT_NETWORK.into(),
        ),
        (
            "an address outside the subnet",
            f.daemon
                .network_connect("back", with("web", "10.7.0.5", &[]))
                .await,
            ErrorKind::InvalidParameter,
            "Invalid address 10.7.0.5: It does not belong to any of this network's subnets (10.8.0.0/24 on network back)".into(),
        ),
        (
            "a gateway priority (docker CLI 28 sends it when --gw-priority is given)",
            f.daemon
                .network_connect(
                    "back",
                    serde_json::from_str(
                        r#"{"Container":"web","EndpointConfig":{"GwPriority":10}}"#,
                    )
                    .unwrap(),
                )
                .await,
            ErrorKind::InvalidParameter,
            "EndpointConfig.GwPriority (--gw-priority) is not supported by berth".into(),
        ),
        (
            "an IPv6 address as --ip",
            f.daemon
                .network_connect("back", with("web", "fd00::5", &[]))
                .await,
            ErrorKind::InvalidParameter,
            "invalid IPv4 address: fd00::5".into(),
        ),
    ];
    for (what, result, kind, message) in cases {
        let err = result.expect_err(what);
        assert_eq!((err.kind, err.message), (kind, message), "{what}");
    }
    assert_eq!(snapshot(&f, &names), before);
    // The plain bridge container is not on back: not connected.
    let err = f
        .daemon
        .network_disconnect("back", disconnect("plain"))
        .await
        .expect_err("not on back");
    assert!(err.message.ends_with("is not connected to network back"));
    assert_eq!(snapshot(&f, &names), before);
}

#[tokio::test]
async fn an_address_in_use_and_a_refused_veth_leave_nothing() {
    let (f, names) = networked().await;
    let web = created(&f, "web", "back").await;
    f.daemon.start(&web).await.expect("start");
    let api = created(&f, "api", "front").await;
    f.daemon.start(&api).await.expect("start");
    let before = snapshot(&f, &names);
    // web holds 10.8.0.2 on back (moby's IPAM: "Address already in use").
    let err = f
        .daemon
        .network_connect("back", with("api", "10.8.0.2", &[]))
        .await
        .expect_err("in use");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("Address already in use"), "{err:?}");
    assert_eq!(snapshot(&f, &names), before);

    f.network.fail_on(Some(FailOn::Connect));
    let err = f
        .daemon
        .network_connect("back", connect("api"))
        .await
        .expect_err("the kernel refuses");
    assert_eq!(err.kind, ErrorKind::Internal);
    f.network.fail_on(None);
    let after = snapshot(&f, &names);
    assert_eq!(after.kernel, before.kernel);
    assert_eq!(after.leases, before.leases);
    assert_eq!(after.connections, before.connections);
    assert_eq!(after.names, before.names);
    assert_eq!(leased(&f, &api), vec![network_id(&f, "front")]);
    assert_eq!(networks_of(&f, &api), vec!["front".to_owned()]);
}

/// `docker rename` of a running container: the embedded DNS server answers
/// the new name and no longer the old one (moby `daemon/rename.go`
/// renames the endpoints' DNS entries, `sb.updateDNSNames`).
#[tokio::test]
async fn a_renamed_container_is_answered_by_its_new_name_only() {
    let (f, names) = networked().await;
    let id = f
        .create(
            Some("web"),
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"front"},"NetworkingConfig":{"EndpointsConfig":{"front":{"Aliases":["site"]}}}}"#,
        )
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    f.daemon.rename(&id, "www").await.expect("rename");
    let renamed = vec!["www".to_owned(), id[..12].to_owned(), "site".to_owned()];
    assert_eq!(
        names.served.lock().unwrap()["front"][&id],
        renamed,
        "{:?}",
        names.calls()
    );
    let front = network_id(&f, "front");
    let stored = f.store.get(SANDBOXES, &id).unwrap().expect("lease");
    assert_eq!(stored.endpoints[0].aliases, renamed);
    assert_eq!(stored.endpoints[0].network_id, front);
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(settings.networks["front"].dns_names, Some(renamed));
    // A stopped container is renamed at its next start by itself.
    f.daemon.stop(&id, Some(1), None).await.expect("stop");
    f.daemon.rename(&id, "web2").await.expect("rename stopped");
    f.daemon.start(&id).await.expect("start");
    assert_eq!(names.served.lock().unwrap()["front"][&id][0], "web2");
}

/// `docker run --network NET --ip A --ip6 B`: the create request's
/// `NetworkingConfig.EndpointsConfig.NET.IPAMConfig`.
fn create_body(mode: &str, ipam: &str) -> String {
    format!(
        r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"{mode}"}},"NetworkingConfig":{{"EndpointsConfig":{{"{mode}":{{"IPAMConfig":{ipam},"GwPriority":0}}}}}}}}"#
    )
}

/// An address asked at create is the container's at each of its starts,
/// and a second container asking for it cannot start and leaves nothing
/// (moby's IPAM: "Address already in use").
#[tokio::test]
async fn an_address_asked_at_create_is_given_at_every_start() {
    let (f, names) = networked().await;
    let web = f
        .create(
            Some("web"),
            &create_body("front", r#"{"IPv4Address":"10.9.0.50"}"#),
        )
        .await
        .expect("create");
    // Asked, not yet given: inspect shows it as moby does.
    let settings = f.daemon.inspect(&web).unwrap().network_settings;
    assert_eq!(
        settings.networks["front"]
            .ipam_config
            .as_ref()
            .map(|c| c.ipv4_address.as_str()),
        Some("10.9.0.50")
    );
    f.daemon.start(&web).await.expect("start");
    let front = network_id(&f, "front");
    let address = |f: &Fixture| {
        f.network.kernel().endpoints[&(web.clone(), front.clone())]
            .ipv4
            .unwrap()
            .to_string()
    };
    assert_eq!(address(&f), "10.9.0.50/24");
    let settings = f.daemon.inspect(&web).unwrap().network_settings;
    assert_eq!(settings.networks["front"].ip_address, "10.9.0.50");

    // Another container asks for the same address: created (moby checks
    // the address at the start), refused at its start, nothing left.
    let other = f
        .create(
            Some("other"),
            &create_body("front", r#"{"IPv4Address":"10.9.0.50"}"#),
        )
        .await
        .expect("create");
    let before = snapshot(&f, &names);
    let err = f.daemon.start(&other).await.expect_err("in use");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("Address already in use"), "{err:?}");
    let after = snapshot(&f, &names);
    assert_eq!(after.kernel, before.kernel);
    assert_eq!(after.leases, before.leases);
    assert_eq!(after.names, before.names);
    assert_eq!(leased(&f, &other), Vec::<String>::new());

    // The address is asked at every start, not only remembered: while
    // the other holds it web cannot start (a remembered address would
    // give way to another one), once it is free web has it again.
    f.daemon.stop(&web, Some(1), None).await.expect("stop");
    f.daemon
        .start(&other)
        .await
        .expect("the address is free now");
    let err = f.daemon.start(&web).await.expect_err("taken by other");
    assert!(err.message.contains("Address already in use"), "{err:?}");
    f.daemon.remove(&other, true).await.expect("rm");
    f.daemon.start(&web).await.expect("start again");
    assert_eq!(address(&f), "10.9.0.50/24");
    // And connect's list, once made, keeps it.
    f.daemon
        .network_connect("back", connect("web"))
        .await
        .expect("connect");
    f.daemon.stop(&web, Some(1), None).await.expect("stop");
    f.daemon.start(&web).await.expect("start once more");
    assert_eq!(address(&f), "10.9.0.50/24");
}

/// moby `verifyNetworkingConfig` and `validateNetworkingConfig` (v24),
/// libnetwork's range check: each refused at create, nothing recorded.
#[tokio::test]
async fn addresses_at_create_are_refused_as_moby_refuses_them() {
    let (f, _names) = networked().await;
    // A network whose subnet berth chose from its pools.
    let auto: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"auto"}"#).unwrap();
    f.daemon.network_create(auto).await.expect("network");
    let no_subnet = "user specified IP address is supported only when connecting to networks with user configured subnets";
    let cases = [
        (
            create_body("bridge", r#"{"IPv4Address":"172.17.0.9"}"#),
            IP_ON_DEFAULT_NETWORK.to_owned(),
        ),
        (
            create_body("default", r#"{"IPv4Address":"172.17.0.9"}"#),
            IP_ON_DEFAULT_NETWORK.to_owned(),
        ),
        (
            create_body("host", r#"{"IPv4Address":"172.17.0.9"}"#),
            IP_ON_DEFAULT_NETWORK.to_owned(),
        ),
        (
            create_body("auto", r#"{"IPv4Address":"172.17.0.9"}"#),
            no_subnet.to_owned(),
        ),
        (
            create_body("front", r#"{"IPv6Address":"fd00::9"}"#),
            no_subnet.to_owned(),
        ),
        (
            create_body("front", r#"{"IPv4Address":"10.7.0.5"}"#),
            "Invalid address 10.7.0.5: It does not belong to any of this network's subnets (10.9.0.0/24 on network front)".to_owned(),
        ),
        (
            create_body("front", r#"{"IPv4Address":"fd00::5"}"#),
            "invalid IPv4 address: fd00::5".to_owned(),
        ),
        (
            create_body("front", r#"{"IPv6Address":"10.9.0.5"}"#),
            "invalid IPv6 address: 10.9.0.5".to_owned(),
        ),
    ];
    for (body, message) in cases {
        let err = f.create(Some("refused"), &body).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::InvalidParameter, message.as_str()),
            "{body}"
        );
        assert_eq!(f.record_count(), 0, "{body}");
    }
    // connect checks the same.
    created(&f, "web", "front").await;
    let err = f
        .daemon
        .network_connect("auto", with("web", "172.17.0.9", &[]))
        .await
        .expect_err("no user subnet");
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::InvalidParameter, no_subnet)
    );
}

/// A running container's `resolv.conf` follows its resolver as connects
/// and disconnects change it (moby starts a sandbox's resolver at its
/// first user network: `startResolver` → `rebuildDNS`); berth's resolver is
/// the gateway of its first user network, the host's without one.
#[tokio::test]
async fn the_resolver_of_a_running_container_follows_its_networks() {
    let (f, _names) = networked().await;
    let id = created(&f, "plain", "bridge").await;
    f.daemon.start(&id).await.expect("start");
    let started = f.runtime.started_networks.lock().unwrap().last().cloned();
    assert_eq!(started.expect("started").resolver, Resolver::Host);
    let calls = || f.runtime.resolvers.lock().unwrap().clone();
    let front = Resolver::Embedded("10.9.0.1".parse().unwrap());
    let back = Resolver::Embedded("10.8.0.1".parse().unwrap());
    let none = Resolver::Host;

    f.daemon
        .network_connect("front", connect("plain"))
        .await
        .expect("connect front");
    assert_eq!(calls(), vec![(id.clone(), none.clone(), front.clone())]);
    // A second user network: the resolver is the first one's still.
    f.daemon
        .network_connect("back", connect("plain"))
        .await
        .expect("connect back");
    assert_eq!(calls().len(), 1);
    f.daemon
        .network_disconnect("front", disconnect("plain"))
        .await
        .expect("disconnect front");
    f.daemon
        .network_disconnect("back", disconnect("plain"))
        .await
        .expect("disconnect back");
    assert_eq!(
        calls(),
        vec![
            (id.clone(), none.clone(), front.clone()),
            (id.clone(), front, back.clone()),
            (id.clone(), back, none),
        ]
    );

    // A container that does not run has its files written at its start.
    created(&f, "stopped", "bridge").await;
    f.daemon
        .network_connect("front", connect("stopped"))
        .await
        .expect("connect");
    assert_eq!(calls().len(), 3);
}

/// `--ip` and `--ip6` on a dual-stack network: each family's address is
/// the asked one (the policy plans the IPv4 one, the engine the IPv6 one).
#[tokio::test]
async fn both_families_asked_at_create_are_given() {
    let (f, _names) = networked().await;
    let dual: berth_api::network::NetworkCreateRequest = serde_json::from_str(
        r#"{"Name":"dual","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"10.7.0.0/24"},{"Subnet":"fd00:7::/64"}]}}"#,
    )
    .unwrap();
    f.daemon.network_create(dual).await.expect("network");
    let id = f
        .create(
            Some("both"),
            &create_body(
                "dual",
                r#"{"IPv4Address":"10.7.0.40","IPv6Address":"fd00:7::40"}"#,
            ),
        )
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    let endpoint = f.network.kernel().endpoints[&(id.clone(), network_id(&f, "dual"))].clone();
    assert_eq!(endpoint.ipv4.unwrap().to_string(), "10.7.0.40/24");
    assert_eq!(endpoint.ipv6.unwrap().to_string(), "fd00:7::40/64");
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    let ipam = settings.networks["dual"]
        .ipam_config
        .clone()
        .expect("asked");
    assert_eq!(
        (ipam.ipv4_address.as_str(), ipam.ipv6_address.as_str()),
        ("10.7.0.40", "fd00:7::40")
    );
}
