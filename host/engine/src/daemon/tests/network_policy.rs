//! A container's address and host ports through the network-policy seam
//! (issue 12), with a fake policy: what it is asked, its plan applied, its
//! refusal, failure or invalid plan a start error that leaves nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use berth_model::dns::Resolver;
use berth_model::net_policy::{FamilyRequest, Plan, PlanRequest, SubnetPlan, SubnetRequest};

use super::*;
use crate::daemon::endpoints::SANDBOXES;
use crate::driver::{NetworkPolicy, PolicyAnswer, SubnetAnswer};

pub(super) type Decide =
    dyn Fn(&PlanRequest) -> Result<Option<PolicyAnswer>, JobError> + Send + Sync;
pub(super) type DecideSubnet =
    dyn Fn(&SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> + Send + Sync;

/// A policy that records what it is asked and answers with `decide` and
/// `decide_subnet`.
pub(super) struct FakePolicy {
    pub asked: Mutex<Vec<PlanRequest>>,
    pub asked_subnets: Mutex<Vec<SubnetRequest>>,
    decide: Box<Decide>,
    decide_subnet: Box<DecideSubnet>,
}

impl NetworkPolicy for FakePolicy {
    fn plan_network(&self, request: &PlanRequest) -> Result<Option<PolicyAnswer>, JobError> {
        self.asked.lock().unwrap().push(request.clone());
        (self.decide)(request)
    }

    fn plan_subnet(&self, request: &SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> {
        self.asked_subnets.lock().unwrap().push(request.clone());
        (self.decide_subnet)(request)
    }
}

/// The fake policy's answer, from a policy that plans every family.
pub(super) fn answer(decision: Result<Plan, String>) -> Result<Option<PolicyAnswer>, JobError> {
    Ok(Some(PolicyAnswer {
        plugin: "fake-policy 1.0.0".into(),
        every_family: true,
        decision,
    }))
}

/// The highest free host address of `side`'s subnet, or the wanted one.
pub(super) fn top_of(side: &FamilyRequest) -> String {
    if let Some(wanted) = &side.requested_address {
        return wanted.clone();
    }
    let net: ipnet::IpNet = side.subnet.parse().unwrap();
    let (mut candidate, v4) = match net {
        ipnet::IpNet::V4(n) => (u128::from(u32::from(n.broadcast())) - 1, true),
        ipnet::IpNet::V6(n) => (u128::from(n.broadcast()), false),
    };
    let text = |n: u128| {
        if v4 {
            Ipv4Addr::from(n as u32).to_string()
        } else {
            std::net::Ipv6Addr::from(n).to_string()
        }
    };
    while side.used_addresses.contains(&text(candidate)) {
        candidate -= 1;
    }
    text(candidate)
}

/// The highest free host address of each of the request's families; ports
/// as asked.
pub(super) fn from_the_top(request: &PlanRequest) -> Result<Option<PolicyAnswer>, JobError> {
    answer(Ok(Plan {
        ipv4_address: request.ipv4.as_ref().map(top_of),
        ipv6_address: request.ipv6.as_ref().map(top_of),
        dns_servers: Vec::new(),
        ports: request.ports.clone(),
    }))
}

fn plan(address: &str, request: &PlanRequest) -> Plan {
    Plan {
        ipv4_address: Some(address.into()),
        ipv6_address: None,
        dns_servers: Vec::new(),
        ports: request.ports.clone(),
    }
}

/// `10.50.N.0/24` for the Nth network asked, without a gateway.
pub(super) fn tens(request: &SubnetRequest) -> Result<Option<SubnetAnswer>, JobError> {
    Ok(Some(SubnetAnswer {
        plugin: "fake-policy 1.0.0".into(),
        decision: Ok(SubnetPlan {
            subnet: format!("10.50.{}.0/24", request.subnets_in_use.len()),
            gateway: None,
        }),
    }))
}

async fn with_policy(
    decide: impl Fn(&PlanRequest) -> Result<Option<PolicyAnswer>, JobError> + Send + Sync + 'static,
) -> (Fixture, Arc<FakePolicy>) {
    with_policies(decide, tens).await
}

/// A fixture whose daemon asks a [`FakePolicy`] (after its restore: the
/// default network is the engine's).
pub(super) async fn with_policies(
    decide: impl Fn(&PlanRequest) -> Result<Option<PolicyAnswer>, JobError> + Send + Sync + 'static,
    decide_subnet: impl Fn(&SubnetRequest) -> Result<Option<SubnetAnswer>, JobError>
    + Send
    + Sync
    + 'static,
) -> (Fixture, Arc<FakePolicy>) {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    f.network.calls.lock().unwrap().clear();
    let policy = Arc::new(FakePolicy {
        asked: Mutex::new(Vec::new()),
        asked_subnets: Mutex::new(Vec::new()),
        decide: Box::new(decide),
        decide_subnet: Box::new(decide_subnet),
    });
    f.daemon
        .set_network_policy(Arc::clone(&policy) as Arc<dyn NetworkPolicy>);
    (f, policy)
}

const PLAIN: &str = r#"{"Image":"busybox","Cmd":["sh"]}"#;

fn publishing(host_port: &str) -> String {
    format!(
        r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"PortBindings":{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{host_port}"}}]}}}}}}"#
    )
}

fn address(f: &Fixture, id: &str) -> String {
    f.daemon.inspect(id).unwrap().network_settings.networks["bridge"]
        .ip_address
        .clone()
}

fn reservations(f: &Fixture) -> Vec<berth_model::network::PortBinding> {
    f.store
        .list(crate::daemon::ports::PORTS)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.binding)
        .collect()
}

/// Nothing of a failed start is left: no lease, sandbox, veth or host
/// port reservation.
fn nothing_left(f: &Fixture) {
    assert!(f.store.list(SANDBOXES).unwrap().is_empty());
    let kernel = f.network.kernel();
    assert!(kernel.sandboxes.is_empty(), "{:?}", kernel.sandboxes);
    assert!(kernel.endpoints.is_empty(), "{:?}", kernel.endpoints);
    assert!(reservations(f).is_empty());
}

#[tokio::test]
async fn the_policy_chooses_the_address_and_is_asked_with_what_the_engine_knows() {
    let (f, policy) = with_policy(from_the_top).await;
    let web = f.create(Some("web"), PLAIN).await.expect("create");
    f.daemon.start(&web).await.expect("start");
    assert_eq!(address(&f, &web), "172.17.255.254");
    let (_, endpoint) = f.network.kernel().endpoints.into_iter().next().unwrap();
    // The MAC follows the policy's address, as moby derives it.
    assert_eq!(endpoint.mac.to_string(), "02:42:ac:11:ff:fe");

    let other = f.create(Some("other"), PLAIN).await.expect("create");
    f.daemon.start(&other).await.expect("start");
    assert_eq!(address(&f, &other), "172.17.255.253");

    // A restart offers the old address as the one wanted.
    f.daemon.stop(&web, Some(1), None).await.expect("stop");
    f.daemon.start(&web).await.expect("start");
    assert_eq!(address(&f, &web), "172.17.255.254");

    let asked = policy.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 3);
    assert_eq!(
        asked[0],
        PlanRequest {
            container_id: web.clone(),
            network: "bridge".into(),
            ipv4: Some(FamilyRequest {
                subnet: "172.17.0.0/16".into(),
                gateway: "172.17.0.1".into(),
                used_addresses: Vec::new(),
                requested_address: None,
            }),
            ipv6: None,
            ports: Vec::new(),
        }
    );
    let v4 = |n: usize| asked[n].ipv4.clone().unwrap();
    assert_eq!(v4(1).used_addresses, ["172.17.255.254"]);
    assert_eq!(v4(2).used_addresses, ["172.17.255.253"]);
    assert_eq!(v4(2).requested_address.as_deref(), Some("172.17.255.254"));
}

#[tokio::test]
async fn the_policy_plans_the_host_ports_that_are_reserved() {
    // Ports 20000-20009: the policy takes the last of the range.
    let (f, policy) = with_policy(|request| {
        let mut plan = plan("172.17.0.9", request);
        for port in &mut plan.ports {
            port.host_port = 20009;
        }
        answer(Ok(plan))
    })
    .await;
    let id = f
        .create(Some("web"), &publishing("20000-20009"))
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    let asked = policy.asked.lock().unwrap()[0].ports.clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].container_port, asked[0].host_port),
        (80, 0),
        "a range goes to the policy as 0"
    );
    assert_eq!(asked[0].host_ip, "127.0.0.1");
    assert_eq!(asked[0].protocol, "tcp");
    let bindings = reservations(&f);
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].host_port, 20009);
    let (_, endpoint) = f.network.kernel().endpoints.into_iter().next().unwrap();
    assert_eq!(endpoint.ports, bindings);
    assert_eq!(address(&f, &id), "172.17.0.9");
}

#[tokio::test]
async fn a_refusal_fails_the_start_in_the_plugins_words_and_leaves_nothing() {
    let (f, _) = with_policy(|request| {
        if request
            .ports
            .iter()
            .any(|p| (1..1024).contains(&p.host_port))
        {
            return answer(Err("host port 80 is below 1024".into()));
        }
        answer(Ok(plan("172.17.0.5", request)))
    })
    .await;
    let id = f
        .create(Some("web"), &publishing("80"))
        .await
        .expect("create");
    let err = f.daemon.start(&id).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        err.message,
        format!(
            r#"network policy "fake-policy 1.0.0" refused container {id}: host port 80 is below 1024"#
        )
    );
    nothing_left(&f);
    // The same policy lets a high port through.
    let ok = f
        .create(Some("ok"), &publishing("20080"))
        .await
        .expect("create");
    f.daemon.start(&ok).await.expect("start");
    assert_eq!(reservations(&f)[0].host_port, 20080);
}

#[tokio::test]
async fn a_failed_call_or_a_bad_plan_fails_the_start_and_leaves_nothing() {
    let gateway = |request: &PlanRequest| answer(Ok(plan("172.17.0.1", request)));
    let crashed = |_: &PlanRequest| -> Result<Option<PolicyAnswer>, JobError> {
        Err(JobError::new(
            ErrorKind::Internal,
            "network policy failed: plugin fake-policy 1.0.0: plan-network failed: trapped",
        ))
    };
    let dns = |request: &PlanRequest| {
        let mut plan = plan("172.17.0.5", request);
        plan.dns_servers = (1..=4).map(|i| format!("192.0.2.{i}")).collect();
        answer(Ok(plan))
    };
    let extra_port = |request: &PlanRequest| {
        let mut plan = plan("172.17.0.5", request);
        plan.ports.extend(plan.ports.clone());
        answer(Ok(plan))
    };
    type Case = (Box<Decide>, &'static str);
    let cases: Vec<Case> = vec![
        (Box::new(gateway), "address 172.17.0.1 is the gateway"),
        (Box::new(crashed), "plan-network failed: trapped"),
        (
            Box::new(dns),
            "it plans 4 name servers, more than the 3 a resolv.conf uses",
        ),
        (
            Box::new(extra_port),
            "it has 2 ports for the 1 the container publishes",
        ),
    ];
    for (decide, why) in cases {
        let (f, _) = with_policy(decide).await;
        let id = f
            .create(Some("web"), &publishing("20081"))
            .await
            .expect("create");
        let err = f.daemon.start(&id).await.expect_err(why);
        assert!(err.message.ends_with(why), "{}", err.message);
        assert!(err.message.contains("fake-policy 1.0.0"), "{}", err.message);
        nothing_left(&f);
    }
}

#[tokio::test]
async fn an_old_address_is_only_a_hint_the_policy_may_pass_over() {
    let (f, policy) = with_policy(|request| {
        let hinted =
            request.ipv4.as_ref().unwrap().requested_address.as_deref() == Some("172.17.0.2");
        answer(Ok(plan(
            if hinted { "172.17.0.3" } else { "172.17.0.2" },
            request,
        )))
    })
    .await;
    let a = f.create(Some("a"), PLAIN).await.expect("create");
    f.daemon.start(&a).await.expect("start");
    assert_eq!(address(&f, &a), "172.17.0.2");
    f.daemon.stop(&a, Some(1), None).await.expect("stop");
    f.daemon.start(&a).await.expect("start");
    assert_eq!(address(&f, &a), "172.17.0.3");
    let asked = policy.asked.lock().unwrap()[1].ipv4.clone().unwrap();
    assert_eq!(asked.requested_address.as_deref(), Some("172.17.0.2"));
}

#[tokio::test]
async fn without_an_answer_the_engine_plans_as_the_default_does() {
    let (f, policy) = with_policy(|_| Ok(None)).await;
    let id = f
        .create(Some("web"), &publishing("20082"))
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    assert_eq!(address(&f, &id), "172.17.0.2");
    assert_eq!(reservations(&f)[0].host_port, 20082);
    assert_eq!(policy.asked.lock().unwrap().len(), 1);
    let _: IpAddr = address(&f, &id).parse().unwrap();
}

/// `docker network connect` of a running container plans its new endpoint
/// through the policy too, and a refusal leaves the container as it was.
#[tokio::test]
async fn a_connect_of_a_running_container_is_planned_by_the_policy() {
    // From the top; once `refuse` is set, nothing on `back`.
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refusing = Arc::clone(&refuse);
    let (f, policy) = with_policy(move |r: &PlanRequest| {
        let on_back = r.ipv4.as_ref().is_some_and(|s| s.subnet == "10.8.0.0/24");
        if refusing.load(std::sync::atomic::Ordering::SeqCst) && on_back {
            answer(Err("no more on back".into()))
        } else {
            from_the_top(r)
        }
    })
    .await;
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"back","IPAM":{"Config":[{"Subnet":"10.8.0.0/24"}]}}"#)
            .unwrap();
    f.daemon.network_create(request).await.expect("network");
    let web = f.create(Some("web"), PLAIN).await.expect("create");
    f.daemon.start(&web).await.expect("start");
    policy.asked.lock().unwrap().clear();

    let connect = |container: &str| berth_api::network_connect::NetworkConnectRequest {
        container: container.into(),
        endpoint_config: None,
    };
    f.daemon
        .network_connect("back", connect("web"))
        .await
        .expect("connect");
    let asked = policy.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].ipv4.as_ref().unwrap().subnet, "10.8.0.0/24");
    assert!(
        asked[0].ports.is_empty(),
        "ports go with the first network only"
    );
    let settings = f.daemon.inspect(&web).unwrap().network_settings;
    assert_eq!(settings.networks["back"].ip_address, "10.8.0.254");

    // A policy that refuses: the second container stays on its first
    // network only, with no lease on `back` and no veth there.
    refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let api = f.create(Some("api"), PLAIN).await.expect("create");
    f.daemon.start(&api).await.expect("start");
    let endpoints_before = f.network.kernel().endpoints.len();
    let err = f
        .daemon
        .network_connect("back", connect("api"))
        .await
        .expect_err("refused");
    assert!(err.message.contains("no more on back"), "{}", err.message);
    assert_eq!(f.network.kernel().endpoints.len(), endpoints_before);
    let lease = f.store.get(SANDBOXES, &api).unwrap().expect("lease");
    assert_eq!(lease.endpoints.len(), 1, "{:?}", lease.endpoints);
    let settings = f.daemon.inspect(&api).unwrap().network_settings;
    assert!(!settings.networks.contains_key("back"));
}

/// [`from_the_top`] with two name servers in the plan.
fn with_servers(request: &PlanRequest) -> Result<Option<PolicyAnswer>, JobError> {
    let mut planned = from_the_top(request)?;
    if let Some(PolicyAnswer {
        decision: Ok(plan), ..
    }) = &mut planned
    {
        plan.dns_servers = vec!["192.0.2.53".into(), "2001:db8::53".into()];
    }
    Ok(planned)
}

fn last_resolver(f: &Fixture) -> Resolver {
    let started = f.runtime.started_networks.lock().unwrap().last().cloned();
    started.expect("a start").resolver
}

fn endpoint_servers(f: &Fixture, id: &str) -> Vec<IpAddr> {
    let lease = f.store.get(SANDBOXES, id).unwrap().expect("lease");
    lease.endpoints[0].dns_servers.clone()
}

/// The policy's name servers (issue 12) are where a container's queries
/// go: on the default bridge the `nameserver`s of its `resolv.conf`, kept
/// with its endpoint (so a restarted daemon's DNS server has them), and
/// its own `--dns` goes before them.
#[tokio::test]
async fn the_policys_name_servers_are_the_containers_unless_it_has_its_own() {
    let (f, _) = with_policy(with_servers).await;
    let planned: Vec<IpAddr> = vec![
        "192.0.2.53".parse().unwrap(),
        "2001:db8::53".parse().unwrap(),
    ];
    let web = f.create(Some("web"), PLAIN).await.expect("create");
    f.daemon.start(&web).await.expect("start");
    assert_eq!(last_resolver(&f), Resolver::Servers(planned.clone()));
    assert_eq!(endpoint_servers(&f, &web), planned);

    let own = r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"Dns":["1.1.1.1"]}}"#;
    let api = f.create(Some("api"), own).await.expect("create");
    f.daemon.start(&api).await.expect("start");
    let dns: Vec<IpAddr> = vec!["1.1.1.1".parse().unwrap()];
    assert_eq!(last_resolver(&f), Resolver::Servers(dns.clone()));
    assert_eq!(endpoint_servers(&f, &api), dns);
}

/// On a user network the container's resolver is the embedded DNS
/// server whatever the policy plans; the plan's servers ride with the
/// endpoint, for the server to forward that container's queries to.
#[tokio::test]
async fn on_a_user_network_the_embedded_server_forwards_to_the_policys_servers() {
    let (f, _) = with_policy(with_servers).await;
    let names = Arc::new(super::names_fake::FakeNames::default());
    f.daemon.set_name_service(names);
    let request: berth_api::network::NetworkCreateRequest =
        serde_json::from_str(r#"{"Name":"front","IPAM":{"Config":[{"Subnet":"10.9.0.0/24"}]}}"#)
            .unwrap();
    f.daemon.network_create(request).await.expect("network");
    let body = r#"{"Image":"busybox","Cmd":["sh"],"HostConfig":{"NetworkMode":"front"}}"#;
    let web = f.create(Some("web"), body).await.expect("create");
    f.daemon.start(&web).await.expect("start");
    assert_eq!(
        last_resolver(&f),
        Resolver::Embedded("10.9.0.1".parse().unwrap())
    );
    assert_eq!(
        endpoint_servers(&f, &web),
        [
            "192.0.2.53".parse::<IpAddr>().unwrap(),
            "2001:db8::53".parse().unwrap()
        ]
    );
}
