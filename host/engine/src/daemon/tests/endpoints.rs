//! Containers join their networks (issue 12): the sandbox, lease, veth and
//! routes at start, and their undo at every end, against the recording
//! network fake.

use std::net::IpAddr;

use super::network_fake::{FailOn, NetCall};
use super::*;
use crate::daemon::endpoints::{ADDRESS_HINTS, SANDBOXES};
use berth_model::network::{NetworkFiles, NetworkNamespace, NetworkSetup};

/// A daemon whose default `bridge` network exists (as `restore` makes it
/// at berthd's start), with no call recorded yet.
async fn bridged() -> Fixture {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    f.network.calls.lock().unwrap().clear();
    f
}

async fn run(f: &Fixture, name: &str) -> String {
    let id = f
        .create(Some(name), r#"{"Image":"busybox","Cmd":["sh"]}"#)
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    id
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn lease_count(f: &Fixture) -> usize {
    f.store.list(SANDBOXES).unwrap().len()
}

fn address(f: &Fixture, id: &str) -> String {
    f.daemon
        .inspect(id)
        .unwrap()
        .network_settings
        .networks
        .get("bridge")
        .expect("on bridge")
        .ip_address
        .clone()
}

#[tokio::test]
async fn a_container_on_the_default_bridge_gets_a_sandbox_an_address_and_a_route() {
    let f = bridged().await;
    let id = run(&f, "web").await;
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox(id.clone()),
            NetCall::CreateNetwork("bridge".into()),
            NetCall::Connect(id.clone(), "bridge".into(), "eth0".into()),
        ]
    );
    let netns = f.network.netns_dir.join(&id);
    assert_eq!(
        f.runtime.started_networks.lock().unwrap().last().cloned(),
        Some(NetworkSetup {
            namespace: NetworkNamespace::Sandbox(netns.clone()),
            files: NetworkFiles::Own,
            addresses: vec![ip("172.17.0.2")],
            resolver: berth_model::dns::Resolver::Host,
        })
    );
    let kernel = f.network.kernel();
    let (_, endpoint) = kernel.endpoints.iter().next().expect("an endpoint");
    assert_eq!(endpoint.mac.to_string(), "02:42:ac:11:00:02");
    assert_eq!(endpoint.gateway4, Some("172.17.0.1".parse().unwrap()));
    let host = endpoint.ifname_host.as_str();
    assert!(
        host.len() == 11 && host.starts_with("veth"),
        "host end {host}"
    );
    assert!(host[4..].chars().all(|c| c.is_ascii_hexdigit()));

    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    let bridge = &settings.networks["bridge"];
    assert_eq!(bridge.ip_address, "172.17.0.2");
    assert_eq!(bridge.ip_prefix_len, 16);
    assert_eq!(bridge.gateway, "172.17.0.1");
    assert_eq!(bridge.mac_address, "02:42:ac:11:00:02");
    assert_eq!(bridge.endpoint_id, endpoint.id);
    assert_eq!(bridge.network_id, endpoint.network_id);
    // moby fills the top level for the default bridge.
    assert_eq!(settings.ip_address, "172.17.0.2");
    assert_eq!(settings.ip_prefix_len, 16);
    assert_eq!(settings.gateway, "172.17.0.1");
    assert_eq!(settings.mac_address, "02:42:ac:11:00:02");
    assert_eq!(settings.sandbox_key, netns.display().to_string());

    let other = run(&f, "other").await;
    assert_eq!(address(&f, &other), "172.17.0.3");
    assert_eq!(lease_count(&f), 2);
}

#[tokio::test]
async fn a_stop_takes_the_container_off_and_its_next_start_gives_its_address_back() {
    let f = bridged().await;
    let web = run(&f, "web").await;
    let other = run(&f, "other").await;
    let mut events = f.daemon.events().subscribe();
    f.daemon.stop(&web, Some(1), None).await.expect("stop");
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert!(
        f.network.calls().ends_with(&[
            NetCall::Disconnect(web.clone(), "bridge".into()),
            NetCall::RemoveSandbox(web.clone()),
        ]),
        "{:?}",
        f.network.calls()
    );
    let kernel = f.network.kernel();
    assert!(!kernel.sandboxes.contains(&web));
    assert_eq!(kernel.endpoints.len(), 1);
    assert_eq!(lease_count(&f), 1);
    // Stopped: the network is named, its addresses are empty (moby).
    let settings = f.daemon.inspect(&web).unwrap().network_settings;
    assert_eq!(settings.networks["bridge"].ip_address, "");
    assert_eq!(settings.ip_address, "");
    assert_eq!(settings.sandbox_key, "");
    let disconnects = events_seen(&mut events, |e| {
        (e.kind == "network" && e.action == "disconnect")
            .then(|| e.actor.attributes.get("container").cloned())
            .flatten()
    });
    assert_eq!(disconnects, vec![web.clone()]);
    // A third container takes the lowest free address; the stopped one
    // gets its own back.
    f.daemon.start(&web).await.expect("start again");
    assert_eq!(address(&f, &web), "172.17.0.2");
    assert_eq!(address(&f, &other), "172.17.0.3");
}

#[tokio::test]
async fn a_container_that_dies_by_itself_or_is_killed_leaves_nothing() {
    let f = bridged().await;
    let dies = run(&f, "dies").await;
    let killed = run(&f, "killed").await;
    f.runtime.exit(&dies, 3);
    f.wait_status(&dies, Status::Exited).await;
    f.daemon.kill(&killed, None).await.expect("kill");
    f.wait_status(&killed, Status::Exited).await;
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert_eq!(f.network.kernel().sandboxes.len(), 0);
    assert!(f.network.kernel().endpoints.is_empty());
    assert_eq!(lease_count(&f), 0);
}

#[tokio::test]
async fn rm_force_of_a_running_container_releases_and_forgets_its_address() {
    let f = bridged().await;
    let id = run(&f, "web").await;
    f.daemon.remove(&id, true).await.expect("rm -f");
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert!(f.network.kernel().sandboxes.is_empty());
    assert!(f.network.kernel().endpoints.is_empty());
    assert_eq!(lease_count(&f), 0);
    assert!(f.store.list(ADDRESS_HINTS).unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_connect_undoes_the_sandbox_and_the_lease() {
    let f = bridged().await;
    let id = f
        .create(Some("web"), r#"{"Image":"busybox","Cmd":["sh"]}"#)
        .await
        .unwrap();
    f.network.fail_on(Some(FailOn::Connect));
    let err = f.daemon.start(&id).await.expect_err("connect fails");
    assert_eq!(err.message, "fake network driver: Connect refused");
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox(id.clone()),
            NetCall::CreateNetwork("bridge".into()),
            NetCall::Connect(id.clone(), "bridge".into(), "eth0".into()),
            NetCall::Disconnect(id.clone(), "bridge".into()),
            NetCall::RemoveSandbox(id.clone()),
        ]
    );
    assert!(f.network.kernel().sandboxes.is_empty());
    assert_eq!(lease_count(&f), 0);
    // The runtime created it while the network was set up, but its
    // process never ran; its root filesystem went again.
    assert_eq!(f.runtime.started.lock().unwrap().len(), 1);
    assert!(f.runtime.procs.lock().unwrap().is_empty());
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!(state.status, Status::Created);
    // The next start has the address free.
    f.network.fail_on(None);
    f.daemon.start(&id).await.expect("start");
    assert_eq!(address(&f, &id), "172.17.0.2");
}

#[tokio::test]
async fn a_failed_sandbox_or_bridge_leaves_nothing_either() {
    for fail in [FailOn::CreateSandbox, FailOn::CreateNetwork] {
        let f = bridged().await;
        let id = f
            .create(Some("web"), r#"{"Image":"busybox","Cmd":["sh"]}"#)
            .await
            .unwrap();
        f.network.fail_on(Some(fail));
        f.daemon.start(&id).await.expect_err("refused");
        assert!(f.network.kernel().sandboxes.is_empty(), "{fail:?}");
        assert!(f.network.kernel().endpoints.is_empty(), "{fail:?}");
        assert_eq!(lease_count(&f), 0, "{fail:?}");
    }
}

#[tokio::test]
async fn a_process_that_cannot_start_gives_its_network_back() {
    let f = bridged().await;
    let id = f
        .create(Some("bad"), r#"{"Image":"busybox","Cmd":["missing"]}"#)
        .await
        .unwrap();
    f.daemon.start(&id).await.expect_err("no such executable");
    assert!(
        f.network.calls().ends_with(&[
            NetCall::Disconnect(id.clone(), "bridge".into()),
            NetCall::RemoveSandbox(id.clone())
        ]),
        "{:?}",
        f.network.calls()
    );
    assert!(f.network.kernel().sandboxes.is_empty());
    assert_eq!(lease_count(&f), 0);
}

#[tokio::test]
async fn an_abandoned_start_gives_its_network_back() {
    let f = FixtureBuilder::default()
        .start_timeout(Duration::from_millis(200))
        .build();
    f.daemon.restore().await.unwrap();
    let id = f
        .create(Some("hangs"), r#"{"Image":"busybox","Cmd":["hang"]}"#)
        .await
        .unwrap();
    f.daemon.start(&id).await.expect_err("timed out");
    assert!(f.network.kernel().sandboxes.is_empty());
    assert!(f.network.kernel().endpoints.is_empty());
    assert_eq!(lease_count(&f), 0);
}

#[tokio::test]
async fn leases_survive_a_daemon_restart_and_strays_are_reconciled_away() {
    let f = bridged().await;
    let web = run(&f, "web").await;
    let gone = run(&f, "gone").await;
    // A lease berthd left behind for a container that is not running (it
    // was killed between the lease and the record).
    let mut stray = f.store.get(SANDBOXES, &gone).unwrap().unwrap();
    f.daemon.stop(&gone, Some(1), None).await.unwrap();
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    stray.sandbox.container_id = gone.clone();
    f.store.put(SANDBOXES, &gone, &stray).unwrap();
    // berthd is killed; web's shim still runs.
    let runtime = Arc::new(FakeRuntime::default());
    *runtime.restored.lock().unwrap() = Some(RunState::Running {
        pid: 42,
        started_at: berth_model::Timestamp::now(),
    });
    let (exit, _) = watch::channel(None);
    runtime.procs.lock().unwrap().insert(
        web.clone(),
        Arc::new(FakeProc {
            exit,
            ignores_term: false,
        }),
    );
    let f = f.restart(runtime);
    f.network.calls.lock().unwrap().clear();
    f.daemon.restore().await.unwrap();
    assert!(
        f.network.calls().contains(&NetCall::Reconcile {
            networks: vec!["bridge".into()],
            sandboxes: vec![web.clone()],
        }),
        "{:?}",
        f.network.calls()
    );
    assert_eq!(lease_count(&f), 1);
    // web keeps its address; a new container does not get it twice.
    assert_eq!(address(&f, &web), "172.17.0.2");
    let new = run(&f, "new").await;
    assert_eq!(address(&f, &new), "172.17.0.3");
    // web's exit, seen by the new daemon, releases it.
    f.runtime.exit(&web, 0);
    f.wait_status(&web, Status::Exited).await;
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert!(!f.network.kernel().sandboxes.contains(&web));
    assert_eq!(lease_count(&f), 1);
}

#[tokio::test]
async fn without_a_default_network_a_bridge_container_has_only_lo() {
    // dockerd --bridge=none: no `bridge` network is stored.
    let f = fixture();
    let id = run(&f, "web").await;
    assert!(f.network.calls().is_empty());
    assert_eq!(
        f.runtime.started_networks.lock().unwrap().last().cloned(),
        Some(NetworkSetup::default())
    );
    assert_eq!(lease_count(&f), 0);
    let _ = id;
}

#[tokio::test]
async fn a_container_on_a_user_network_joins_it_with_its_dns_names() {
    let f = bridged().await;
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"mynet"}"#).unwrap();
    let net_id = f.daemon.network_create(request).await.unwrap().id;
    f.network.calls.lock().unwrap().clear();
    let id = f
        .create(
            Some("api"),
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"mynet"}}"#,
        )
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::CreateSandbox(id.clone()),
            NetCall::CreateNetwork("mynet".into()),
            NetCall::Connect(id.clone(), "mynet".into(), "eth0".into()),
        ]
    );
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    assert!(!settings.networks.contains_key("bridge"));
    let mynet = &settings.networks["mynet"];
    assert_eq!(mynet.network_id, net_id);
    // The first user pool after the default bridge's.
    assert_eq!(mynet.ip_address, "172.18.0.2");
    assert_eq!(mynet.gateway, "172.18.0.1");
    assert_eq!(
        mynet.dns_names,
        Some(vec!["api".to_owned(), id[..12].to_owned()])
    );
    // Only the default bridge fills the top level (moby).
    assert_eq!(settings.ip_address, "");
    let (_, endpoint) = f.network.kernel().endpoints.into_iter().next().unwrap();
    assert_eq!(endpoint.gateway4, Some("172.18.0.1".parse().unwrap()));
    f.daemon.stop(&id, Some(1), None).await.unwrap();
    // The exit's network teardown goes on after it (teardown.rs).
    f.daemon.finish_teardowns().await;
    assert!(f.network.kernel().endpoints.is_empty());
}

#[tokio::test]
async fn a_network_with_a_running_container_cannot_be_removed() {
    let f = bridged().await;
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"mynet"}"#).unwrap();
    let net_id = f.daemon.network_create(request).await.unwrap().id;
    let id = f
        .create(
            Some("api"),
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"mynet"}}"#,
        )
        .await
        .unwrap();
    f.daemon.start(&id).await.unwrap();
    let err = f.daemon.network_remove("mynet").await.expect_err("in use");
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert_eq!(
        err.message,
        format!("error while removing network: network mynet id {net_id} has active endpoints")
    );
    assert!(f.network.kernel().bridges.len() == 2);
    // network inspect lists it, and it is not dangling.
    let listed = f.daemon.network_inspect("mynet").await.unwrap().containers;
    assert_eq!(listed[&id].name, "api");
    assert_eq!(listed[&id].ipv4_address, "172.18.0.2/16");
    assert_eq!(listed[&id].mac_address, "02:42:ac:12:00:02");
    let dangling = f
        .daemon
        .network_list(r#"{"dangling":["true"]}"#)
        .await
        .unwrap();
    assert!(dangling.iter().all(|n| n.name != "mynet"));
    f.daemon.stop(&id, Some(1), None).await.unwrap();
    f.daemon
        .network_remove("mynet")
        .await
        .expect("no endpoint left");
    // Its container now fails to start, with moby's 404.
    let err = f.daemon.start(&id).await.expect_err("network gone");
    assert_eq!(err.message, "network mynet not found");
    assert!(f.network.kernel().sandboxes.is_empty());
}
