//! `-p`/`-P` at create (issue 12): moby's checks and messages, `-P` over
//! the image's and the request's exposed ports, the network modes.

use berth_api::container::{Config, HostConfig};
use berth_model::ports::{HostPorts, PortRequest};

use crate::daemon::publish::{HOST_MODE_WARNING, port_requests};
use crate::daemon::spec::ContainerSpecBuilder;

use super::*;

/// The `Ports` `docker ps` shows for container `id`.
fn ps_ports(f: &Fixture, id: &str) -> Vec<serde_json::Value> {
    let rows = f
        .daemon
        .list(false, &berth_api::filters::Filters::default())
        .unwrap();
    rows.into_iter()
        .find(|r| r.id == id)
        .expect("the container is listed")
        .ports
}

fn host(json: &str) -> HostConfig {
    serde_json::from_str(json).unwrap()
}

fn requests(
    config: &mut Config,
    host_json: &str,
    image: &[&str],
) -> Result<(Vec<PortRequest>, Vec<String>), JobError> {
    let image = image
        .iter()
        .map(|k| (k.to_string(), serde_json::json!({})))
        .collect();
    port_requests(config, &host(host_json), &image)
}

#[test]
fn bindings_become_requests_and_exposed_ports() {
    let mut config = Config::default();
    let (reqs, warnings) = requests(
        &mut config,
        r#"{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":[{"HostIp":"","HostPort":""}]}}"#,
        &["443/tcp"],
    )
    .unwrap();
    assert!(warnings.is_empty());
    assert_eq!(reqs.len(), 2);
    let web = reqs.iter().find(|r| r.container.port == 80).unwrap();
    assert_eq!(web.host_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(
        web.host_ports,
        HostPorts::Range {
            first: 8080,
            last: 8080
        }
    );
    let dns = reqs.iter().find(|r| r.container.port == 53).unwrap();
    assert_eq!(dns.host_ports, HostPorts::Ephemeral);
    let exposed: Vec<&str> = config.exposed_ports.keys().map(String::as_str).collect();
    assert_eq!(exposed, ["443/tcp", "53/udp", "80/tcp"]);
}

#[test]
fn publish_all_gives_every_exposed_port_without_a_binding_an_ephemeral_one() {
    let mut config = Config::default();
    config
        .exposed_ports
        .insert("9000/tcp".into(), serde_json::json!({}));
    let (reqs, _) = requests(
        &mut config,
        r#"{"PublishAllPorts":true,"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}}"#,
        &["443/tcp"],
    )
    .unwrap();
    let mut got: Vec<(u16, HostPorts)> = reqs
        .iter()
        .map(|r| (r.container.port, r.host_ports))
        .collect();
    got.sort_by_key(|(p, _)| *p);
    assert_eq!(
        got,
        [
            (
                80,
                HostPorts::Range {
                    first: 8080,
                    last: 8080
                }
            ),
            (443, HostPorts::Ephemeral),
            (9000, HostPorts::Ephemeral),
        ]
    );
}

#[test]
fn bad_publications_are_refused_with_mobys_messages() {
    let cases = [
        (
            r#"{"PortBindings":{"0/tcp":[]}}"#,
            r#"invalid port specification: "0""#,
        ),
        (
            r#"{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"99999"}]}}"#,
            r#"invalid port specification: "99999""#,
        ),
        (r#"{"PortBindings":{"80/icmp":[]}}"#, "invalid proto: icmp"),
        (
            r#"{"PortBindings":{"80/tcp":[{"HostIp":"nowhere","HostPort":"80"}]}}"#,
            r#"invalid host IP: "nowhere""#,
        ),
        (
            r#"{"NetworkMode":"none","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"80"}]}}"#,
            "conflicting options: port publishing and the network mode none: the container has no address to forward to",
        ),
    ];
    for (json, message) in cases {
        let err = requests(&mut Config::default(), json, &[]).expect_err(json);
        assert_eq!(err.message, message, "{json}");
    }
    assert!(
        requests(
            &mut Config::default(),
            r#"{"PortBindings":{"80/sctp":[{"HostIp":"","HostPort":"80"}]}}"#,
            &[]
        )
        .expect_err("sctp")
        .message
        .starts_with("publishing sctp ports is not supported by berth")
    );
}

#[test]
fn the_hosts_network_discards_published_ports_with_mobys_warning() {
    let (reqs, warnings) = requests(
        &mut Config::default(),
        r#"{"NetworkMode":"host","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"80"}]}}"#,
        &[],
    )
    .unwrap();
    assert!(reqs.is_empty());
    assert_eq!(warnings, [HOST_MODE_WARNING]);
}

#[tokio::test]
async fn a_container_on_anothers_network_cannot_publish() {
    let f = fixture();
    f.create(Some("web"), r#"{"Image":"busybox","Cmd":["sh"]}"#)
        .await
        .unwrap();
    let spec = ContainerSpecBuilder::new(
        request(
            r#"{"Image":"busybox","Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},"HostConfig":{"NetworkMode":"container:web","PortBindings":{"80/tcp":[]}}}"#,
        ),
        Default::default(),
        &"ab".repeat(32),
    )
    .build();
    assert_eq!(
        spec.expect_err("conflict").message,
        "conflicting options: port publishing and the container type network mode"
    );
}

/// A daemon whose default `bridge` network exists, no call recorded yet.
async fn bridged() -> Fixture {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    f.network.calls.lock().unwrap().clear();
    f
}

fn publishing(host_port: &str) -> String {
    format!(
        r#"{{"Image":"busybox","Cmd":["sh"],"ExposedPorts":{{"443/tcp":{{}}}},"HostConfig":{{"PortBindings":{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{host_port}"}}]}}}}}}"#
    )
}

fn reservations(f: &Fixture) -> Vec<berth_model::network::PortBinding> {
    f.store
        .list(crate::daemon::ports::PORTS)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.binding)
        .collect()
}

#[tokio::test]
async fn a_published_port_is_reserved_and_carried_by_the_endpoint_until_exit() {
    let f = bridged().await;
    let id = f
        .create(Some("web"), &publishing(""))
        .await
        .expect("create");
    f.daemon.start(&id).await.expect("start");
    let kernel = f.network.kernel();
    let (_, endpoint) = kernel.endpoints.iter().next().expect("an endpoint");
    assert_eq!(endpoint.ports.len(), 1, "{endpoint:?}");
    let binding = endpoint.ports[0];
    assert_eq!(binding.container_port, 80);
    assert_eq!(binding.host_ip, Some("127.0.0.1".parse().unwrap()));
    assert_ne!(binding.host_port, 0);
    assert_eq!(reservations(&f), vec![binding]);
    // Inspect and ps as moby shows them; 443 is exposed, not published.
    let settings = f.daemon.inspect(&id).unwrap().network_settings;
    let port = binding.host_port.to_string();
    assert_eq!(
        serde_json::to_value(&settings.ports).unwrap(),
        serde_json::json!({
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}],
            "443/tcp": null,
        })
    );
    assert_eq!(
        ps_ports(&f, &id),
        vec![
            serde_json::json!({"PrivatePort": 443, "Type": "tcp"}),
            serde_json::json!({"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": binding.host_port, "Type": "tcp"}),
        ]
    );

    // The same host port for another container: moby's message, and
    // neither an endpoint nor a reservation of its own is left.
    let other = f
        .create(Some("other"), &publishing(&binding.host_port.to_string()))
        .await
        .expect("create");
    let err = f.daemon.start(&other).await.expect_err("port taken");
    assert_eq!(
        err.message,
        format!(
            "Bind for 127.0.0.1:{} failed: port is already allocated",
            binding.host_port
        )
    );
    assert_eq!(f.network.kernel().endpoints.len(), 1);
    assert!(!f.network.kernel().sandboxes.contains(&other));
    assert_eq!(reservations(&f), vec![binding]);

    f.daemon.stop(&id, Some(1), None).await.expect("stop");
    assert!(f.network.kernel().endpoints.is_empty());
    assert!(reservations(&f).is_empty());
    let stopped = f.daemon.inspect(&id).unwrap().network_settings;
    assert_eq!(
        serde_json::to_value(&stopped.ports).unwrap(),
        serde_json::json!({})
    );
    // The port is free again: the other container gets it.
    f.daemon.start(&other).await.expect("start");
    assert_eq!(
        f.network.kernel().endpoints.iter().next().unwrap().1.ports,
        vec![binding]
    );
}

#[tokio::test]
async fn a_process_that_cannot_start_gives_its_ports_back() {
    let f = bridged().await;
    let body = publishing("").replace(r#"["sh"]"#, r#"["missing"]"#);
    let id = f.create(Some("bad"), &body).await.expect("create");
    f.daemon.start(&id).await.expect_err("no such executable");
    assert!(f.network.kernel().endpoints.is_empty());
    assert!(reservations(&f).is_empty());
}

/// `-p 80` (every address) as Docker 28 shows it: one binding per family
/// the container has on the network it publishes through, the same host
/// port for both; an IPv4-only container has no `::` one (berth has no
/// userland proxy to carry IPv6 to an IPv4 address).
#[tokio::test]
async fn a_port_on_every_address_is_shown_once_per_family_of_the_container() {
    let f = bridged().await;
    let dual: berth_api::network::NetworkCreateRequest = serde_json::from_str(
        r#"{"Name":"dual","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"10.7.0.0/24"},{"Subnet":"fd00:7::/64"}]}}"#,
    )
    .unwrap();
    f.daemon.network_create(dual).await.expect("network");
    let body = |network: &str| {
        format!(
            r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"{network}","PortBindings":{{"80/tcp":[{{"HostIp":"","HostPort":""}}]}}}}}}"#
        )
    };
    let both = f.create(Some("both"), &body("dual")).await.expect("create");
    f.daemon.start(&both).await.expect("start");
    let v4 = f.create(Some("v4"), &body("bridge")).await.expect("create");
    f.daemon.start(&v4).await.expect("start");

    let kernel = f.network.kernel();
    let port = |id: &str| {
        let (_, endpoint) = kernel
            .endpoints
            .iter()
            .find(|((c, _), _)| c == id)
            .expect("an endpoint");
        assert_eq!(endpoint.ports.len(), 1, "one binding: {endpoint:?}");
        assert_eq!(endpoint.ports[0].host_ip, None);
        endpoint.ports[0].host_port
    };
    let (dual_port, v4_port) = (port(&both), port(&v4));
    let ports = |id: &str| {
        serde_json::to_value(f.daemon.inspect(id).unwrap().network_settings.ports).unwrap()
    };
    assert_eq!(
        ports(&both),
        serde_json::json!({"80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": dual_port.to_string()},
            {"HostIp": "::", "HostPort": dual_port.to_string()},
        ]})
    );
    assert_eq!(
        ports(&v4),
        serde_json::json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": v4_port.to_string()}]})
    );
    assert_eq!(
        ps_ports(&f, &both),
        vec![
            serde_json::json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": dual_port, "Type": "tcp"}),
            serde_json::json!({"IP": "::", "PrivatePort": 80, "PublicPort": dual_port, "Type": "tcp"}),
        ]
    );
}

/// `-p 0.0.0.0:P:80` and `-p [::]:P:80` publish one family each (Docker
/// 28), so two containers share host port P, one per family, and each
/// lists only its own binding; `-p P:80` (every address) then finds P
/// taken.
#[tokio::test]
async fn an_explicit_unspecified_address_publishes_one_family_and_leaves_the_other() {
    let f = bridged().await;
    let dual: berth_api::network::NetworkCreateRequest = serde_json::from_str(
        r#"{"Name":"dual","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"10.7.0.0/24"},{"Subnet":"fd00:7::/64"}]}}"#,
    )
    .unwrap();
    f.daemon.network_create(dual).await.expect("network");
    // A port free on both families now (the real holder binds it).
    let port = std::net::TcpListener::bind("[::]:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let body = |host_ip: &str| {
        format!(
            r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{{"NetworkMode":"dual","PortBindings":{{"80/tcp":[{{"HostIp":"{host_ip}","HostPort":"{port}"}}]}}}}}}"#
        )
    };
    let v4 = f
        .create(Some("v4"), &body("0.0.0.0"))
        .await
        .expect("create");
    f.daemon.start(&v4).await.expect("start 0.0.0.0");
    let v6 = f.create(Some("v6"), &body("::")).await.expect("create");
    f.daemon
        .start(&v6)
        .await
        .expect("start [::] beside 0.0.0.0");

    let kernel = f.network.kernel();
    for (id, host_ip) in [(&v4, "0.0.0.0"), (&v6, "::")] {
        let (_, endpoint) = kernel
            .endpoints
            .iter()
            .find(|((c, _), _)| c == id)
            .expect("an endpoint");
        assert_eq!(
            endpoint.ports,
            [berth_model::network::PortBinding {
                proto: berth_model::network::Protocol::Tcp,
                host_ip: Some(host_ip.parse().unwrap()),
                host_port: port,
                container_port: 80,
            }]
        );
        assert_eq!(
            serde_json::to_value(f.daemon.inspect(id).unwrap().network_settings.ports).unwrap(),
            serde_json::json!({"80/tcp": [{"HostIp": host_ip, "HostPort": port.to_string()}]})
        );
    }
    assert_eq!(
        ps_ports(&f, &v6),
        [serde_json::json!({"IP": "::", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"})]
    );
    let both = f.create(Some("both"), &body("")).await.expect("create");
    let err = f.daemon.start(&both).await.expect_err("port taken");
    assert_eq!(
        err.message,
        format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
}
