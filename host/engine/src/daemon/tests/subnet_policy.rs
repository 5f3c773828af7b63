//! A new network's subnets and a dual-stack network's addresses through
//! the network-policy seam (issue 12, WIT 1.3), with the fake policy of
//! `network_policy.rs`: what `plan-subnet` is asked, its subnet used, its
//! refusal, failure or invalid plan a create error that leaves no network;
//! and a policy older than 1.3 leaving the subnet and the other family to
//! the engine.

use berth_model::net_policy::{Family, Plan, PlanRequest, SubnetPlan, SubnetRequest};

use super::network_policy::{FakePolicy, answer, from_the_top, tens, top_of, with_policies};
use super::*;
use crate::daemon::connect::IP_WITHOUT_USER_SUBNET;
use crate::daemon::networks::NETWORKS;
use crate::driver::{PolicyAnswer, SubnetAnswer};

fn create(body: &str) -> berth_api::network::NetworkCreateRequest {
    serde_json::from_str(body).unwrap()
}

/// Subnet `cidr` (and `gateway`) from the fake plugin.
fn subnet(cidr: &str, gateway: Option<&str>) -> Result<Option<SubnetAnswer>, JobError> {
    Ok(Some(SubnetAnswer {
        plugin: "fake-policy 1.0.0".into(),
        decision: Ok(SubnetPlan {
            subnet: cidr.into(),
            gateway: gateway.map(str::to_owned),
        }),
    }))
}

/// IPv4 from [`tens`], IPv6 `fd00:50:N::/64` with gateway `::fe`.
fn both_families(request: &SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> {
    match request.family {
        Family::Ipv4 => tens(request),
        Family::Ipv6 => {
            let n = request.subnets_in_use.len();
            subnet(
                &format!("fd00:50:{n}::/64"),
                Some(&format!("fd00:50:{n}::fe")),
            )
        }
    }
}

fn subnets(f: &Fixture, name: &str) -> Vec<(String, String)> {
    f.store
        .list(NETWORKS)
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.name == name)
        .flat_map(|n| n.ipv4.into_iter().chain(n.ipv6))
        .map(|s| (s.cidr().to_string(), s.gateway().to_string()))
        .collect()
}

fn on(network: &str) -> String {
    format!(r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"{network}"}}}}"#)
}

#[tokio::test]
async fn a_network_without_a_subnet_gets_the_policys() {
    let (f, policy) = with_policies(from_the_top, tens).await;
    *f.network.routes.lock().unwrap() = vec!["192.0.2.0/24".parse().unwrap()];
    f.daemon
        .network_create(create(r#"{"Name":"lab"}"#))
        .await
        .expect("create");
    let inspected = f.daemon.network_inspect("lab").await.expect("inspect");
    assert_eq!(inspected.ipam.config.len(), 1);
    assert_eq!(inspected.ipam.config[0].subnet, "10.50.1.0/24");
    assert_eq!(inspected.ipam.config[0].gateway, "10.50.1.1");
    assert_eq!(
        policy.asked_subnets.lock().unwrap().clone(),
        [SubnetRequest {
            network: "lab".into(),
            family: Family::Ipv4,
            subnets_in_use: vec!["172.17.0.0/16".into()],
            host_routes: vec!["192.0.2.0/24".into()],
        }]
    );
    // A subnet the user gives is not the policy's to choose.
    f.daemon
        .network_create(create(
            r#"{"Name":"mine","IPAM":{"Config":[{"Subnet":"10.60.0.0/24"}]}}"#,
        ))
        .await
        .expect("create");
    assert_eq!(policy.asked_subnets.lock().unwrap().len(), 1);
    // A container on the policy's subnet is planned in it.
    let id = f.create(Some("web"), &on("lab")).await.expect("create");
    f.daemon.start(&id).await.expect("start");
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(settings.networks["lab"].ip_address, "10.50.1.254");
}

#[tokio::test]
async fn an_ipv6_network_gets_both_subnets_and_its_containers_both_addresses() {
    let (f, policy) = with_policies(from_the_top, both_families).await;
    f.daemon
        .network_create(create(r#"{"Name":"dual","EnableIPv6":true}"#))
        .await
        .expect("create");
    assert_eq!(
        subnets(&f, "dual"),
        [
            ("10.50.1.0/24".to_owned(), "10.50.1.1".to_owned()),
            ("fd00:50:2::/64".to_owned(), "fd00:50:2::fe".to_owned())
        ]
    );
    let asked = policy.asked_subnets.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1].family, Family::Ipv6);
    // The IPv6 request sees the IPv4 subnet just chosen as in use.
    assert_eq!(asked[1].subnets_in_use, ["172.17.0.0/16", "10.50.1.0/24"]);

    let id = f.create(Some("web"), &on("dual")).await.expect("create");
    f.daemon.start(&id).await.expect("start");
    let asked: PlanRequest = policy.asked.lock().unwrap()[0].clone();
    let v6 = asked.ipv6.clone().expect("the IPv6 side is asked");
    assert_eq!(
        (v6.subnet.as_str(), v6.gateway.as_str()),
        ("fd00:50:2::/64", "fd00:50:2::fe")
    );
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    let endpoint = &settings.networks["dual"];
    assert_eq!(endpoint.ip_address, "10.50.1.254");
    assert_eq!(endpoint.global_ipv6_address, top_of(&v6));
    assert_eq!(
        endpoint.global_ipv6_address,
        "fd00:50:2:0:ffff:ffff:ffff:ffff"
    );

    // berth chose that IPv6 subnet (through the policy), not the user:
    // no container may ask for its own address in it, as moby.
    let body = r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"dual"},"NetworkingConfig":{"EndpointsConfig":{"dual":{"IPAMConfig":{"IPv6Address":"fd00:50:2::9"}}}}}"#;
    let err = f.create(Some("asks"), body).await.unwrap_err();
    assert_eq!(err.message, IP_WITHOUT_USER_SUBNET);
}

#[tokio::test]
async fn a_refused_failed_or_invalid_subnet_plan_fails_the_create_and_leaves_no_network() {
    type Case = (
        Box<dyn Fn(&SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> + Send + Sync>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Box::new(|_: &SubnetRequest| {
                Ok(Some(SubnetAnswer {
                    plugin: "fake-policy 1.0.0".into(),
                    decision: Err("the pool is exhausted".into()),
                }))
            }),
            r#"network policy "fake-policy 1.0.0" refused network lab: the pool is exhausted"#,
        ),
        (
            Box::new(|_: &SubnetRequest| {
                Err(JobError::new(
                    ErrorKind::Internal,
                    "network policy failed: plugin fake-policy 1.0.0: plan-subnet failed: trapped",
                ))
            }),
            "network policy failed: plugin fake-policy 1.0.0: plan-subnet failed: trapped",
        ),
        (
            Box::new(|_: &SubnetRequest| subnet("172.17.9.0/24", None)),
            r#"network policy "fake-policy 1.0.0" gave an invalid IPv4 subnet for network lab: 172.17.9.0/24: invalid pool request: Pool overlaps with other one on this address space"#,
        ),
        (
            Box::new(|_: &SubnetRequest| subnet("fd00:9::/64", None)),
            r#"network policy "fake-policy 1.0.0" gave an invalid IPv4 subnet for network lab: fd00:9::/64 is an IPv6 subnet"#,
        ),
        (
            Box::new(|_: &SubnetRequest| subnet("10.9.0.0/24", Some("10.8.0.1"))),
            r#"network policy "fake-policy 1.0.0" gave an invalid IPv4 subnet for network lab: "#,
        ),
    ];
    for (decide, why) in cases {
        let (f, _) = with_policies(from_the_top, decide).await;
        let err = f
            .daemon
            .network_create(create(r#"{"Name":"lab"}"#))
            .await
            .expect_err(why);
        assert!(err.message.starts_with(why), "{}", err.message);
        assert!(subnets(&f, "lab").is_empty(), "{why}");
        assert_eq!(f.network.kernel().bridges.len(), 1, "only berth0: {why}");
        assert!(
            !f.daemon
                .network_list("")
                .await
                .unwrap()
                .iter()
                .any(|n| n.name == "lab")
        );
    }
}

#[tokio::test]
async fn without_plan_subnet_the_engine_chooses_and_plans_the_other_family() {
    // A policy built before WIT 1.3: no plan-subnet, and one family
    // planned (IPv4, the one it was asked).
    let old = |request: &PlanRequest| -> Result<Option<PolicyAnswer>, JobError> {
        Ok(Some(PolicyAnswer {
            plugin: "old-policy 1.0.0".into(),
            every_family: false,
            decision: Ok(Plan {
                ipv4_address: request.ipv4.as_ref().map(top_of),
                ipv6_address: None,
                dns_servers: Vec::new(),
                ports: request.ports.clone(),
            }),
        }))
    };
    let (f, policy): (Fixture, Arc<FakePolicy>) = with_policies(old, |_| Ok(None)).await;
    f.daemon
        .network_create(create(r#"{"Name":"auto"}"#))
        .await
        .expect("create");
    assert_eq!(
        subnets(&f, "auto")[0].0,
        "172.18.0.0/16",
        "moby's next pool"
    );
    assert_eq!(policy.asked_subnets.lock().unwrap().len(), 1);
    // The engine's own IPv6 choice: the first /64 of the daemon's ULA
    // /48 (the fixture's engine id is "test-engine").
    let pool = crate::daemon::ipam::default_ipv6_pool("test-engine");
    f.daemon
        .network_create(create(r#"{"Name":"six","EnableIPv6":true}"#))
        .await
        .expect("create");
    let first = pool.subnets(64).unwrap().next().unwrap();
    assert_eq!(subnets(&f, "six")[1].0, first.to_string());
    assert_eq!(pool, f.daemon.config().default_ipv6_pool);

    f.daemon
        .network_create(create(
            r#"{"Name":"dual","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"10.70.0.0/24"},{"Subnet":"fd00:70::/64"}]}}"#,
        ))
        .await
        .expect("create");
    let id = f.create(Some("web"), &on("dual")).await.expect("create");
    f.daemon.start(&id).await.expect("start");
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    let endpoint = &settings.networks["dual"];
    assert_eq!(endpoint.ip_address, "10.70.0.254", "the policy's");
    assert_eq!(
        endpoint.global_ipv6_address, "fd00:70::2",
        "the engine's lowest"
    );
}

/// A plan that leaves out a family a 1.3 policy was asked fails the start.
#[tokio::test]
async fn a_1_3_plan_without_the_ipv6_address_fails_the_start() {
    let v4_only = |request: &PlanRequest| {
        answer(Ok(Plan {
            ipv4_address: request.ipv4.as_ref().map(top_of),
            ipv6_address: None,
            dns_servers: Vec::new(),
            ports: request.ports.clone(),
        }))
    };
    let (f, _) = with_policies(v4_only, both_families).await;
    f.daemon
        .network_create(create(r#"{"Name":"dual","EnableIPv6":true}"#))
        .await
        .expect("create");
    let id = f.create(Some("web"), &on("dual")).await.expect("create");
    let err = f.daemon.start(&id).await.unwrap_err();
    assert_eq!(
        err.message,
        format!(
            r#"network policy "fake-policy 1.0.0" gave an invalid plan for container {id}: it gives no IPv6 address"#
        )
    );
    assert!(f.network.kernel().endpoints.is_empty());
}
