//! `/networks` in the engine: create, list, inspect, remove, over the
//! recording network driver.

use berth_api::network::{Ipam, IpamConfig, NetworkCreateRequest};

use super::network_fake::{FailOn, NetCall};
use super::*;
use crate::daemon::networks::NETWORKS;

fn create_request(name: &str, subnet: Option<&str>) -> NetworkCreateRequest {
    NetworkCreateRequest {
        name: name.to_owned(),
        ipam: subnet.map(|subnet| Ipam {
            config: vec![IpamConfig {
                subnet: subnet.to_owned(),
                ..IpamConfig::default()
            }],
            ..Ipam::default()
        }),
        ..NetworkCreateRequest::default()
    }
}

async fn restored() -> Fixture {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    f
}

#[tokio::test]
async fn the_default_bridge_is_made_once_and_keeps_its_subnet_across_restarts() {
    let f = restored().await;
    let bridge = f.daemon.network_inspect("bridge").await.expect("bridge");
    assert_eq!(bridge.driver, "bridge");
    assert_eq!(bridge.ipam.config[0].subnet, "172.17.0.0/16");
    assert_eq!(bridge.ipam.config[0].gateway, "172.17.0.1");
    assert_eq!(
        bridge.options["com.docker.network.bridge.name"],
        crate::daemon::networks::DEFAULT_BRIDGE
    );
    assert!(f.network.kernel().bridges.contains("berth0"));
    let f = f.restart(Arc::new(FakeRuntime::default()));
    f.daemon.restore().await.expect("restore");
    let again = f.daemon.network_inspect("bridge").await.expect("bridge");
    assert_eq!(again.id, bridge.id);
    assert_eq!(f.store.list(NETWORKS).unwrap().len(), 1);
}

#[tokio::test]
async fn a_network_gets_the_next_free_pool_past_the_hosts_routes() {
    let f = fixture();
    *f.network.routes.lock().unwrap() = vec!["172.18.0.0/16".parse().unwrap()];
    f.daemon.restore().await.expect("restore");
    let created = f
        .daemon
        .network_create(create_request("web", None))
        .await
        .expect("create");
    let web = f.daemon.network_inspect("web").await.expect("inspect");
    assert_eq!(web.id, created.id);
    assert_eq!(web.ipam.config[0].subnet, "172.19.0.0/16");
    assert!(
        f.network
            .kernel()
            .bridges
            .contains(&format!("br-{}", &created.id[..12]))
    );
    // By id prefix too.
    let by_prefix = f.daemon.network_inspect(&created.id[..8]).await.unwrap();
    assert_eq!(by_prefix.name, "web");
}

#[tokio::test]
async fn bad_creates_are_refused_with_mobys_words_and_store_nothing() {
    let f = restored().await;
    f.daemon
        .network_create(create_request("a", Some("10.10.0.0/16")))
        .await
        .expect("a");
    let calls_before = f.network.calls().len();
    let cases: Vec<(NetworkCreateRequest, ErrorKind, &str)> = vec![
        (
            create_request("a", Some("10.20.0.0/16")),
            ErrorKind::Conflict,
            "network with name a already exists",
        ),
        (
            create_request("b", Some("10.10.5.0/24")),
            ErrorKind::Forbidden,
            "invalid pool request: Pool overlaps with other one on this address space",
        ),
        (
            create_request("b", Some("10.30.0.0/33")),
            ErrorKind::InvalidParameter,
            "invalid CIDR address: 10.30.0.0/33",
        ),
        (
            create_request("b", Some("10.30.0.5/16")),
            ErrorKind::InvalidParameter,
            "invalid subnet 10.30.0.5/16 : it should be 10.30.0.0/16",
        ),
        (
            NetworkCreateRequest {
                driver: "overlay".into(),
                ..create_request("b", None)
            },
            ErrorKind::InvalidParameter,
            "network driver \"overlay\" is not supported by berth: only bridge",
        ),
        (
            create_request("host", None),
            ErrorKind::Forbidden,
            "host is a pre-defined network and cannot be created",
        ),
        (
            create_request("", None),
            ErrorKind::InvalidParameter,
            "network name must not be empty",
        ),
    ];
    for (request, kind, message) in cases {
        let err = f
            .daemon
            .network_create(request.clone())
            .await
            .expect_err(message);
        assert_eq!(
            (err.kind, err.message.as_str()),
            (kind, message),
            "{request:?}"
        );
    }
    let mut gateway_outside = create_request("b", Some("10.40.0.0/16"));
    gateway_outside.ipam.as_mut().unwrap().config[0].gateway = "10.41.0.1".into();
    let err = f.daemon.network_create(gateway_outside).await.unwrap_err();
    assert_eq!(err.message, "no matching subnet for gateway 10.41.0.1");
    // Only `bridge` and `a` are stored; the driver saw no new network.
    assert_eq!(f.store.list(NETWORKS).unwrap().len(), 2);
    assert_eq!(f.network.calls().len(), calls_before);
}

#[tokio::test]
async fn a_bridge_the_driver_cannot_make_undoes_the_create() {
    let f = restored().await;
    f.network.fail_on(Some(FailOn::CreateNetwork));
    let err = f
        .daemon
        .network_create(create_request("web", None))
        .await
        .expect_err("driver refused");
    assert_eq!(err.kind, ErrorKind::Internal);
    assert_eq!(f.store.list(NETWORKS).unwrap().len(), 1);
    assert_eq!(
        f.daemon.network_inspect("web").await.unwrap_err().message,
        "network web not found"
    );
}

#[tokio::test]
async fn list_filters_are_mobys_and_unknown_ones_are_refused() {
    let f = restored().await;
    let mut labelled = create_request("front", None);
    labelled.labels.insert("tier".into(), "web".into());
    f.daemon.network_create(labelled).await.unwrap();
    f.daemon
        .network_create(create_request("back", None))
        .await
        .unwrap();
    let names = |list: Vec<berth_api::network::NetworkResource>| {
        list.into_iter().map(|n| n.name).collect::<Vec<_>>()
    };
    let all = f.daemon.network_list("").await.unwrap();
    assert_eq!(names(all), ["back", "bridge", "front", "host", "none"]);
    for (filters, expected) in [
        (r#"{"label":["tier=web"]}"#, vec!["front"]),
        (r#"{"type":["custom"]}"#, vec!["back", "front"]),
        (r#"{"type":["builtin"]}"#, vec!["bridge", "host", "none"]),
        (r#"{"driver":["null"]}"#, vec!["none"]),
        (r#"{"name":["ro"]}"#, vec!["front"]),
        (r#"{"dangling":["true"]}"#, vec!["back", "front"]),
        (
            r#"{"scope":["local"]}"#,
            vec!["back", "bridge", "front", "host", "none"],
        ),
    ] {
        let list = f.daemon.network_list(filters).await.expect(filters);
        assert_eq!(names(list), expected, "{filters}");
    }
    let err = f
        .daemon
        .network_list(r#"{"colour":["red"]}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    let err = f
        .daemon
        .network_list(r#"{"type":["odd"]}"#)
        .await
        .unwrap_err();
    assert_eq!(err.message, "invalid filter: 'type'='odd'");
}

#[tokio::test]
async fn remove_takes_the_bridge_then_the_record_and_refuses_the_predefined() {
    let f = restored().await;
    let mut events = f.daemon.events().subscribe();
    let created = f
        .daemon
        .network_create(create_request("web", None))
        .await
        .unwrap();
    f.daemon.network_remove("web").await.expect("rm");
    assert!(
        !f.network
            .kernel()
            .bridges
            .contains(&format!("br-{}", &created.id[..12]))
    );
    assert!(
        f.network
            .calls()
            .contains(&NetCall::RemoveNetwork("web".into()))
    );
    assert_eq!(f.store.list(NETWORKS).unwrap().len(), 1);
    let actions: Vec<(String, String)> =
        [events.recv().await.unwrap(), events.recv().await.unwrap()]
            .into_iter()
            .map(|e| (e.kind, e.action))
            .collect();
    assert_eq!(
        actions,
        [
            ("network".to_owned(), "create".to_owned()),
            ("network".to_owned(), "destroy".to_owned())
        ]
    );
    for name in ["bridge", "host", "none"] {
        let err = f.daemon.network_remove(name).await.unwrap_err();
        assert_eq!(
            (err.kind, err.message),
            (
                ErrorKind::Forbidden,
                format!("{name} is a pre-defined network and cannot be removed")
            )
        );
    }
    let err = f.daemon.network_remove("nope").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "network nope not found")
    );
}

#[tokio::test]
async fn prune_removes_the_unused_user_networks_its_filters_select() {
    let f = restored().await;
    let mut keep = create_request("keep", None);
    keep.labels.insert("keep".into(), "yes".into());
    f.daemon.network_create(keep).await.unwrap();
    f.daemon
        .network_create(create_request("old", None))
        .await
        .unwrap();
    let parse = |json: &str| berth_api::filters::Filters::parse(json).unwrap();
    // Nothing was created an hour ago.
    let none = f
        .daemon
        .network_prune(&parse(r#"{"until":["1h"]}"#))
        .await
        .unwrap();
    assert_eq!(none.networks_deleted, None);
    let report = f
        .daemon
        .network_prune(&parse(r#"{"label!":["keep"]}"#))
        .await
        .unwrap();
    assert_eq!(report.networks_deleted, Some(vec!["old".to_owned()]));
    let names: Vec<String> = f
        .daemon
        .network_list("")
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["bridge", "host", "keep", "none"]);
}

#[tokio::test]
async fn the_predefined_networks_have_a_creation_time_clients_can_parse() {
    let f = restored().await;
    let bridge = f.daemon.network_inspect("bridge").await.unwrap();
    for name in ["host", "none"] {
        let network = f.daemon.network_inspect(name).await.unwrap();
        assert_eq!(network.created, bridge.created, "{name}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(&network.created).is_ok(),
            "{name}: {:?}",
            network.created
        );
    }
}
