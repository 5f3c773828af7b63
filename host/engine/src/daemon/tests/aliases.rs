//! `--network-alias` (issue 12): kept at create, carried by the endpoint
//! on the container's user-defined network, reported in inspect; refused
//! on the default bridge with moby's message.

use super::*;
use crate::daemon::aliases::ALIAS_ON_DEFAULT_NETWORK;

#[tokio::test]
async fn aliases_reach_the_endpoint_and_inspect_on_a_user_network() {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"mynet"}"#).unwrap();
    f.daemon.network_create(request).await.unwrap();
    let id = f
        .create(
            Some("api"),
            r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"mynet"},"NetworkingConfig":{"EndpointsConfig":{"mynet":{"Aliases":["db","cache","db"]}}}}"#,
        )
        .await
        .expect("create");
    let stopped = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(
        stopped.networks["mynet"].aliases,
        Some(vec!["db".to_owned(), "cache".to_owned()])
    );
    f.daemon.start(&id).await.expect("start");
    let (_, endpoint) = f.network.kernel().endpoints.into_iter().next().unwrap();
    assert_eq!(
        endpoint.aliases,
        vec![
            "api".to_owned(),
            id[..12].to_owned(),
            "db".to_owned(),
            "cache".to_owned()
        ]
    );
    let mynet = &f.daemon.inspect(&id).unwrap().network_settings.networks["mynet"];
    assert_eq!(
        mynet.aliases,
        Some(vec!["db".to_owned(), "cache".to_owned()])
    );
    assert_eq!(mynet.dns_names, Some(endpoint.aliases.clone()));
}

#[tokio::test]
async fn an_alias_on_the_default_bridge_is_refused_with_mobys_message() {
    let f = fixture();
    let err = f
        .create(
            Some("web"),
            r#"{"Image":"busybox","Cmd":["sh"],"NetworkingConfig":{"EndpointsConfig":{"default":{"Aliases":["db"]}}}}"#,
        )
        .await
        .expect_err("refused");
    assert_eq!(err.message, ALIAS_ON_DEFAULT_NETWORK);
    assert!(f.daemon.list(true, &Default::default()).unwrap().is_empty());
}
