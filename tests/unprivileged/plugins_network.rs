//! The network and registry policies answering through a real
//! `PluginHost`, without root: the built-in network policy (WIT 1.3), a
//! network policy built for WIT 1.0 serving through the newest types, and a
//! registry-auth plugin.

use berth_plugin_host::CallFailure;
use berth_plugin_host::network_types::{
    FamilyRequest, IpFamily, NetworkRequest, PortMapping, SubnetRequest,
};
use berth_plugin_host::registry_types::{AuthRequest, Credential};

use crate::plugins_support::{fixture, install, test_plugins};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_and_registry_policies_answer_through_the_host() {
    let built = test_plugins();
    // Without a plugin of this world in the directory, the built-in
    // network-policy-default answers: the lowest free address, the ports as
    // asked (host port 0 left for the host to choose), no name servers.
    let empty = fixture(|_, _| {}).await;
    let request = NetworkRequest {
        container_id: "c".repeat(64),
        network: "bridge".into(),
        ipv4: Some(FamilyRequest {
            subnet: "172.30.0.0/24".into(),
            gateway: "172.30.0.1".into(),
            used_addresses: vec!["172.30.0.2".into()],
            requested_address: None,
        }),
        ipv6: None,
        ports: vec![PortMapping {
            protocol: "tcp".into(),
            container_port: 80,
            host_ip: String::new(),
            host_port: 0,
        }],
    };
    let default_plan = {
        let host = empty.host.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || host.plan_network(&request))
            .await
            .unwrap()
            .expect("the built-in network policy answers")
            .unwrap()
    };
    assert_eq!(default_plan.ipv4_address.as_deref(), Some("172.30.0.3"));
    assert!(default_plan.dns_servers.is_empty());
    assert_eq!(default_plan.ports[0].host_port, 0);

    // `example-network` is built for WIT 1.0.0 and still serves unchanged:
    // it is asked the IPv4 side, its address comes back as the IPv4 one,
    // and it plans no subnet (the engine chooses) nor the IPv6 address.
    let f = fixture(|dir, grants| {
        install(dir, &built.example_network, None);
        install(dir, &built.example_registry_auth, None);
        std::fs::write(
            grants,
            "[plugin.example-registry-auth.config]\n\"token.registry.example\" = \"s3cret\"\n",
        )
        .unwrap();
    })
    .await;
    let host = f.host.clone();
    tokio::task::spawn_blocking(move || {
        let plan = host.plan_network(&request).unwrap().unwrap();
        assert_eq!(plan.ipv4_address.as_deref(), Some("172.30.0.3"));
        assert_eq!(plan.ipv6_address, None);
        assert_eq!(plan.dns_servers, ["192.0.2.53"]);
        assert_eq!(plan.ports[0].host_port, 80);
        let dual = NetworkRequest {
            ipv6: Some(FamilyRequest {
                subnet: "fd00:30::/64".into(),
                gateway: "fd00:30::1".into(),
                used_addresses: Vec::new(),
                requested_address: None,
            }),
            ..request.clone()
        };
        let answer = host.plan_network_by(&dual).expect("it serves");
        assert_eq!(answer.plugin, "example-network 1.0.0");
        assert!(!answer.every_family, "a 1.0 policy plans one family");
        let plan = answer.result.unwrap();
        assert_eq!(
            (plan.ipv4_address.as_deref(), plan.ipv6_address),
            (Some("172.30.0.3"), None)
        );
        let subnet = SubnetRequest {
            network: "n".into(),
            family: IpFamily::Ipv4,
            subnets_in_use: Vec::new(),
            host_routes: Vec::new(),
        };
        assert!(
            host.plan_subnet_by(&subnet).is_none(),
            "a 1.0 policy has no plan-subnet"
        );
        let taken = NetworkRequest {
            ipv4: request.ipv4.clone().map(|side| FamilyRequest {
                requested_address: Some("172.30.0.2".into()),
                ..side
            }),
            ..request
        };
        let err = host.plan_network(&taken).unwrap().unwrap_err();
        assert_eq!(err.call_failure(), Some(CallFailure::Returned));
        assert!(err.to_string().contains("172.30.0.2 is in use"), "{err}");

        let ask = |registry: &str, action: &str| AuthRequest {
            registry: registry.into(),
            repository: "library/busybox".into(),
            actions: vec![action.into()],
        };
        let credential = host
            .registry_credentials(&ask("registry.example", "pull"))
            .unwrap()
            .unwrap();
        assert_eq!(credential, Credential::Bearer("s3cret".into()));
        let credential = host
            .registry_credentials(&ask("other.example", "pull"))
            .unwrap()
            .unwrap();
        assert_eq!(credential, Credential::Anonymous);
        let err = host
            .registry_credentials(&ask("registry.example", "push"))
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("pushing to registry.example is not allowed")
        );
    })
    .await
    .unwrap();
}
