//! The built-in network policy (WIT 1.3) through the host: the addresses
//! it plans for each family, and the subnets it walks moby's pools for.

use super::*;

#[tokio::test]
async fn the_builtin_network_policy_plans_as_the_engine_s_ipam_did() {
    use crate::network_types::{FamilyRequest, NetworkRequest, PortMapping};
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    assert_eq!(
        host.inspect(crate::DEFAULT_NETWORK_POLICY_PLUGIN)
            .unwrap()
            .world,
        Some(World::NetworkPolicy)
    );
    let side = |subnet: &str, gateway: &str, used: &[&str], wanted: Option<&str>| FamilyRequest {
        subnet: subnet.into(),
        gateway: gateway.into(),
        used_addresses: used.iter().map(|u| (*u).to_owned()).collect(),
        requested_address: wanted.map(str::to_owned),
    };
    let request = |ipv4: Option<FamilyRequest>, ipv6: Option<FamilyRequest>| NetworkRequest {
        container_id: "c".repeat(64),
        network: "bridge".into(),
        ipv4,
        ipv6,
        ports: vec![PortMapping {
            protocol: "tcp".into(),
            container_port: 80,
            host_ip: String::new(),
            host_port: 0,
        }],
    };
    // The plan's addresses, IPv4 and IPv6, or the refusal.
    let plan = |r: NetworkRequest| {
        let host = host.clone();
        tokio::task::spawn_blocking(move || {
            let answer = host.plan_network_by(&r).expect("the built-in serves");
            assert_eq!(answer.plugin, "network-policy-default 1.2.0");
            assert!(answer.every_family, "a 1.3 policy");
            answer
                .result
                .map(|p| {
                    assert!(p.dns_servers.is_empty());
                    assert_eq!(p.ports, r.ports, "ports as asked");
                    (p.ipv4_address, p.ipv6_address)
                })
                .map_err(|e| {
                    assert_eq!(e.call_failure(), Some(crate::CallFailure::Returned), "{e}");
                    e.to_string()
                })
        })
    };
    let v4 = |used: &[&str], wanted: Option<&str>| {
        let r = request(
            Some(side("172.17.0.0/16", "172.17.0.1", used, wanted)),
            None,
        );
        async move { plan(r).await.unwrap().map(|(v4, v6)| (v4.unwrap(), v6)) }
    };
    // The lowest free host address, the gateway and used ones skipped.
    assert_eq!(v4(&[], None).await.unwrap(), ("172.17.0.2".into(), None));
    assert_eq!(
        v4(&["172.17.0.2", "172.17.0.4"], None).await.unwrap().0,
        "172.17.0.3"
    );
    // The wanted one when free, moby's IPAM messages when not.
    assert_eq!(
        v4(&["172.17.0.2"], Some("172.17.0.9")).await.unwrap().0,
        "172.17.0.9"
    );
    for (wanted, why) in [
        ("172.17.0.2", "Address already in use"),
        ("172.17.0.1", "Requested address is out of range"),
        ("172.17.255.255", "Requested address is out of range"),
        ("10.0.0.2", "Requested address is out of range"),
    ] {
        let err = v4(&["172.17.0.2"], Some(wanted)).await.unwrap_err();
        assert!(err.ends_with(why), "{wanted}: {err}");
    }
    let full = plan(request(
        Some(side("10.9.0.0/30", "10.9.0.1", &["10.9.0.2"], None)),
        None,
    ));
    let err = full.await.unwrap().unwrap_err();
    assert!(
        err.ends_with("No available addresses on this pool"),
        "{err}"
    );
    // IPv6 only: the subnet-router address is not a host's, the rest are.
    let v6 = plan(request(
        None,
        Some(side("fd00:1::/64", "fd00:1::1", &["fd00:1::2"], None)),
    ));
    assert_eq!(v6.await.unwrap().unwrap(), (None, Some("fd00:1::3".into())));
    // Dual stack: an address of each family, each by the same rules.
    let dual = plan(request(
        Some(side("10.9.0.0/24", "10.9.0.1", &["10.9.0.2"], None)),
        Some(side("fd00:1::/64", "fd00:1::1", &[], Some("fd00:1::99"))),
    ));
    assert_eq!(
        dual.await.unwrap().unwrap(),
        (Some("10.9.0.3".into()), Some("fd00:1::99".into()))
    );
}

#[tokio::test]
async fn the_builtin_network_policy_walks_mobys_default_pools() {
    use crate::network_types::{IpFamily, SubnetRequest};
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let ask = |family, in_use: &[&str], routes: &[&str]| {
        let request = SubnetRequest {
            network: "n".into(),
            family,
            subnets_in_use: in_use.iter().map(|s| (*s).to_owned()).collect(),
            host_routes: routes.iter().map(|s| (*s).to_owned()).collect(),
        };
        let host = host.clone();
        tokio::task::spawn_blocking(move || {
            let (plugin, result) = host.plan_subnet_by(&request).expect("a 1.3 policy");
            assert_eq!(plugin, "network-policy-default 1.2.0");
            result.map_err(|e| {
                assert_eq!(e.call_failure(), Some(crate::CallFailure::Returned), "{e}");
                e.to_string()
            })
        })
    };
    let plan = ask(
        IpFamily::Ipv4,
        &["172.17.0.0/16"],
        &["0.0.0.0/0", "172.18.3.0/24"],
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(plan.subnet, "172.19.0.0/16");
    assert_eq!(plan.gateway, None);
    let err = ask(IpFamily::Ipv4, &["172.16.0.0/12", "192.168.0.0/16"], &[])
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.ends_with("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"),
        "{err}"
    );
    // No pool from the host: said, naming the key.
    let err = ask(IpFamily::Ipv6, &[], &[]).await.unwrap().unwrap_err();
    assert!(
        err.ends_with("--ipv6 without an IPv6 --subnet needs a default IPv6 pool: [config] default-ipv6-pool is not set"),
        "{err}"
    );
}

#[tokio::test]
async fn the_builtin_network_policy_carves_the_hosts_ipv6_pool_in_64s() {
    use crate::network_types::{IpFamily, SubnetRequest};
    let data = tempfile::tempdir().unwrap();
    let mut config = crate::PluginHostConfig::new(data.path());
    config.host_config.insert(
        "default-ipv6-pool".to_owned(),
        "fd6e:e929:abea::/48".to_owned(),
    );
    let host = crate::PluginHost::start(config).await.unwrap();
    let request = SubnetRequest {
        network: "v6".into(),
        family: IpFamily::Ipv6,
        subnets_in_use: vec!["172.17.0.0/16".into(), "fd6e:e929:abea::/64".into()],
        host_routes: vec!["::/0".into(), "fd6e:e929:abea:1::/64".into()],
    };
    let plan = tokio::task::spawn_blocking(move || {
        let (_, result) = host.plan_subnet_by(&request).expect("a 1.3 policy");
        result.map_err(|e| e.to_string())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(plan.subnet, "fd6e:e929:abea:2::/64");
    assert_eq!(plan.gateway, None);
}
