//! `--dns`, `--dns-search`, `--dns-option` and `--add-host` at create
//! (issue 12): checked with moby's messages, kept in the model for the
//! exec driver, refused with another container's network.

use super::*;

async fn model_of(
    f: &Fixture,
    host: &str,
) -> Result<berth_model::container::ContainerModel, JobError> {
    let id = f
        .create(
            None,
            &format!(r#"{{"Image":"busybox","Cmd":["sh"],"HostConfig":{host}}}"#),
        )
        .await?;
    let record = f.daemon.containers.get(&id).expect("created");
    let model = record.lock().record.model.clone().expect("model");
    Ok(model)
}

#[tokio::test]
async fn dns_settings_reach_the_model_and_host_gateway_is_the_default_bridges_gateway() {
    let f = fixture();
    f.daemon.restore().await.expect("restore");
    let model = model_of(
        &f,
        r#"{"Dns":["1.1.1.1"],"DnsSearch":["example.com"],"DnsOptions":["ndots:2"],"ExtraHosts":["db:10.0.0.5","gw:host-gateway"]}"#,
    )
    .await
    .expect("created");
    assert_eq!(
        model.dns.nameservers(),
        ["1.1.1.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(model.dns.search(), ["example.com"]);
    assert_eq!(model.dns.options(), ["ndots:2"]);
    let hosts: Vec<String> = model
        .dns
        .extra_hosts()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(hosts, ["10.0.0.5\tdb", "172.17.0.1\tgw"]);
}

#[tokio::test]
async fn bad_dns_settings_are_refused_with_mobys_messages_and_leave_nothing() {
    let f = fixture();
    let cases = [
        (
            r#"{"Dns":["1.2.3"]}"#,
            "IP address is not correctly formatted: 1.2.3",
        ),
        (
            r#"{"DnsSearch":["-x.com"]}"#,
            "-x.com is not a valid domain",
        ),
        (
            r#"{"ExtraHosts":["db"]}"#,
            r#"bad format for add-host: "db""#,
        ),
        (
            r#"{"ExtraHosts":["db:10.0.0.300"]}"#,
            r#"invalid IP address in add-host: "10.0.0.300""#,
        ),
        (
            // No default network yet (the fixture is not restored).
            r#"{"ExtraHosts":["gw:host-gateway"]}"#,
            "unable to derive the IP value for host-gateway",
        ),
        (
            r#"{"NetworkMode":"container:other","Dns":["1.1.1.1"]}"#,
            "conflicting options: dns and the network mode",
        ),
        (
            r#"{"NetworkMode":"container:other","ExtraHosts":["a:1.1.1.1"]}"#,
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
    ];
    f.create(Some("other"), r#"{"Image":"busybox","Cmd":["sh"]}"#)
        .await
        .expect("other");
    for (host, message) in cases {
        let err = model_of(&f, host).await.expect_err(host);
        assert_eq!(err.kind, ErrorKind::InvalidParameter, "{host}");
        assert_eq!(err.message, message, "{host}");
    }
    assert_eq!(f.record_count(), 1, "only `other`");
}
