//! What docker-compose 1.29 sends that berth must take.

use super::*;

/// compose creates every project network with `Attachable: true` (its
/// `network.py` sets it for API 1.24 and later). On a local bridge network
/// the flag has no effect in dockerd either (it lets swarm tasks' peers
/// attach to a swarm-scoped network), so it is taken, not refused.
#[tokio::test]
async fn an_attachable_bridge_network_is_created() {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    f.daemon
        .network_create(berth_api::network::NetworkCreateRequest {
            name: "proj_default".into(),
            attachable: true,
            ..Default::default()
        })
        .await
        .expect("an attachable bridge network");
    f.daemon
        .network_inspect("proj_default")
        .await
        .expect("created");
    let ingress = f
        .daemon
        .network_create(berth_api::network::NetworkCreateRequest {
            name: "ingress".into(),
            ingress: true,
            ..Default::default()
        })
        .await
        .expect_err("ingress is swarm's");
    assert_eq!(ingress.kind, ErrorKind::InvalidParameter);
}
