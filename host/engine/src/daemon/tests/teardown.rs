//! An exit's network teardown off the exit's path (issue 12,
//! `daemon/teardown.rs`), against the network fake with its disconnects
//! held as the kernel holds a veth's deletion: the exit and the removal
//! are recorded while it is held, and what needs the container's networks
//! gone (its address, its next start, `network rm`) waits for it. No
//! assertion depends on timing: the order of the fake's calls says who
//! waited for whom.

use std::net::IpAddr;

use super::network_fake::NetCall;
use super::*;
use crate::daemon::endpoints::{ADDRESS_HINTS, SANDBOXES};

/// A daemon with the default bridge and the user network `net`
/// (10.9.0.0/24), with no call recorded yet.
async fn networked() -> Fixture {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"net","IPAM":{"Config":[{"Subnet":"10.9.0.0/24"}]}}"#)
            .unwrap();
    f.daemon.network_create(request).await.expect("network");
    f.network.calls.lock().unwrap().clear();
    f
}

async fn run(f: &Fixture, name: &str, body: &str) -> String {
    let id = f.create(Some(name), body).await.expect("create");
    f.daemon.start(&id).await.expect("start");
    id
}

const ON_BRIDGE: &str = r#"{"Image":"busybox","Cmd":["sh"]}"#;

fn on_net_at(ip: &str) -> String {
    format!(
        r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"net"}},"NetworkingConfig":{{"EndpointsConfig":{{"net":{{"IPAMConfig":{{"IPv4Address":"{ip}"}}}}}}}}}}"#
    )
}

fn address(f: &Fixture, id: &str, network: &str) -> String {
    f.daemon.inspect(id).unwrap().network_settings.networks[network]
        .ip_address
        .clone()
}

fn lease_count(f: &Fixture) -> usize {
    f.store.list(SANDBOXES).unwrap().len()
}

/// Lets the held disconnects go once `task` has had the time to reach
/// what it waits on. The pause only gives a regression the chance to
/// show in the calls; a correct daemon passes however short it is.
async fn release_after_a_pause<T>(f: &Fixture, task: tokio::task::JoinHandle<T>) -> T {
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.network.hold_disconnects(false);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task ends once the teardown does")
        .expect("the task")
}

fn position(calls: &[NetCall], call: &NetCall) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("{call:?} not in {calls:?}"))
}

#[tokio::test]
async fn an_exit_is_recorded_while_its_veth_goes_and_its_address_is_held_until_then() {
    let f = networked().await;
    let web = run(&f, "web", ON_BRIDGE).await;
    assert_eq!(address(&f, &web, "bridge"), "172.17.0.2");
    f.network.hold_disconnects(true);
    f.runtime.exit(&web, 0);
    // Recorded while the kernel still deletes its veth.
    f.wait_status(&web, Status::Exited).await;
    assert!(f.network.kernel().sandboxes.contains(&web));
    // Off its network for whoever asks already.
    assert_eq!(address(&f, &web, "bridge"), "");
    let bridge = f.daemon.network_inspect("bridge").await.unwrap();
    assert!(!bridge.containers.contains_key(&web));
    // Its lease is held: a new container does not get the address whose
    // interface is still on the bridge, and its start does not wait for
    // the teardown either.
    assert_eq!(lease_count(&f), 1);
    let other = run(&f, "other", ON_BRIDGE).await;
    assert_eq!(address(&f, &other, "bridge"), "172.17.0.3");

    f.network.hold_disconnects(false);
    f.daemon.finish_teardowns().await;
    assert!(!f.network.kernel().sandboxes.contains(&web));
    assert_eq!(lease_count(&f), 1);
    let third = run(&f, "third", ON_BRIDGE).await;
    assert_eq!(address(&f, &third, "bridge"), "172.17.0.2");
}

#[tokio::test]
async fn a_start_right_after_the_exit_waits_for_the_teardown_and_gets_its_address_back() {
    let f = networked().await;
    let web = run(&f, "web", ON_BRIDGE).await;
    let other = run(&f, "other", ON_BRIDGE).await;
    f.network.hold_disconnects(true);
    f.runtime.exit(&web, 0);
    f.wait_status(&web, Status::Exited).await;
    f.network.calls.lock().unwrap().clear();
    let daemon = Arc::clone(&f.daemon);
    let id = web.clone();
    let start = tokio::spawn(async move { daemon.start(&id).await });
    release_after_a_pause(&f, start).await.expect("start");
    // Its old veth and sandbox went before its new ones were made.
    assert_eq!(
        f.network.calls(),
        vec![
            NetCall::Disconnect(web.clone(), "bridge".into()),
            NetCall::RemoveSandbox(web.clone()),
            NetCall::CreateSandbox(web.clone()),
            NetCall::CreateNetwork("bridge".into()),
            NetCall::Connect(web.clone(), "bridge".into(), "eth0".into()),
        ]
    );
    assert_eq!(address(&f, &web, "bridge"), "172.17.0.2");
    assert_eq!(address(&f, &other, "bridge"), "172.17.0.3");
    assert_eq!(lease_count(&f), 2);
}

#[tokio::test]
async fn run_rm_then_network_rm_at_once_is_not_refused() {
    let f = networked().await;
    let id = f
        .create(
            Some("job"),
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"net","AutoRemove":true}}"#,
        )
        .await
        .expect("create");
    let container = f.daemon.containers().get(&id).unwrap();
    let mut changes = container.watch();
    f.daemon.start(&id).await.expect("start");
    f.network.hold_disconnects(true);
    f.runtime.exit(&id, 0);
    // Removed (what `run --rm` waits for) while its veth is still going.
    tokio::time::timeout(Duration::from_secs(5), changes.wait_for(|s| s.removed))
        .await
        .expect("removed")
        .unwrap();
    assert!(f.daemon.containers().get(&id).is_err());
    assert!(f.network.kernel().sandboxes.contains(&id));

    let daemon = Arc::clone(&f.daemon);
    let remove = tokio::spawn(async move { daemon.network_remove("net").await });
    release_after_a_pause(&f, remove)
        .await
        .expect("network rm waits for the endpoint on its way out");
    let calls = f.network.calls();
    assert!(
        position(&calls, &NetCall::Disconnect(id.clone(), "net".into()))
            < position(&calls, &NetCall::RemoveNetwork("net".into())),
        "{calls:?}"
    );
    assert!(f.network.kernel().sandboxes.is_empty());
    assert_eq!(lease_count(&f), 0);
    // Removed: the teardown forgot its addresses too.
    assert!(f.store.list(ADDRESS_HINTS).unwrap().is_empty());
}

#[tokio::test]
async fn an_address_an_exiting_container_holds_is_given_once_its_teardown_ends() {
    let f = networked().await;
    let first = run(&f, "first", &on_net_at("10.9.0.50")).await;
    f.network.hold_disconnects(true);
    f.runtime.exit(&first, 0);
    f.wait_status(&first, Status::Exited).await;
    let second = f
        .create(Some("second"), &on_net_at("10.9.0.50"))
        .await
        .expect("create");
    let daemon = Arc::clone(&f.daemon);
    let id = second.clone();
    let start = tokio::spawn(async move { daemon.start(&id).await });
    release_after_a_pause(&f, start)
        .await
        .expect("the address is free once the first's veth is gone");
    let calls = f.network.calls();
    assert!(
        position(&calls, &NetCall::Disconnect(first.clone(), "net".into()))
            < position(
                &calls,
                &NetCall::Connect(second.clone(), "net".into(), "eth0".into())
            ),
        "{calls:?}"
    );
    assert_eq!(address(&f, &second, "net"), "10.9.0.50");
    let leased: Vec<IpAddr> = f
        .store
        .list(SANDBOXES)
        .unwrap()
        .into_iter()
        .flat_map(|(_, state)| state.endpoints)
        .filter_map(|ep| ep.ipv4.map(|a| a.addr))
        .collect();
    assert_eq!(leased, vec!["10.9.0.50".parse::<IpAddr>().unwrap()]);
}

#[tokio::test]
async fn a_removed_container_whose_teardown_ended_first_forgets_its_addresses_too() {
    let f = networked().await;
    let web = run(&f, "web", ON_BRIDGE).await;
    f.runtime.exit(&web, 0);
    f.wait_status(&web, Status::Exited).await;
    f.daemon.finish_teardowns().await;
    assert_eq!(f.store.list(ADDRESS_HINTS).unwrap().len(), 1);
    f.daemon.remove(&web, false).await.expect("rm");
    assert!(f.store.list(ADDRESS_HINTS).unwrap().is_empty());
    assert_eq!(lease_count(&f), 0);
}
