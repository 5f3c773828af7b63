//! `docker network connect|disconnect` on a running container, end to end
//! with real traffic (issue 12): two containers on different user
//! networks cannot reach each other; once one is connected to the other's
//! network they can, by address and by name through that network's
//! embedded DNS server; once disconnected they cannot, and its veth pair
//! on that bridge is gone. `berth network connect --alias` does the same
//! through berth's own client.

use std::time::Duration;

use berth_tests::cmd::Output;
use berth_tests::daemon::Daemon;
use berth_tests::netlab::bridge_ports;

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    out.stdout.trim().to_owned()
}

fn bridge_of(d: &Daemon, network: &str) -> String {
    let id = ok(
        &d.docker(&["network", "inspect", network, "--format", "{{.Id}}"]),
        "network id",
    );
    format!("br-{}", &id[..12])
}

/// One bounded fetch of `url` from inside container `from` (busybox 1.35's
/// own `wget -T` crashes: `timeout` bounds it instead).
fn fetch(d: &Daemon, from: &str, url: &str) -> Output {
    d.docker(&["exec", from, "timeout", "3", "wget", "-q", "-O", "-", url])
}

/// `url` answers from `from` (bounded retries while httpd starts and the
/// veth comes up; nothing timed is asserted).
fn reaches(d: &Daemon, from: &str, url: &str) -> Result<String, Output> {
    let mut last = None;
    for _ in 0..25 {
        let out = fetch(d, from, url);
        if out.status.success() {
            return Ok(out.stdout.trim().to_owned());
        }
        last = Some(out);
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last.expect("at least one try"))
}

fn address_on(d: &Daemon, container: &str, network: &str) -> String {
    ok(
        &d.docker(&[
            "inspect",
            container,
            "--format",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        ]),
        "address",
    )
}

#[test]
fn connect_lets_two_networks_talk_and_disconnect_parts_them_again() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().expect("temp dir");
    // The daemon's resolvers: none reachable, nothing here needs one.
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.155\n").expect("resolv.conf");
    let resolv = resolv.to_str().expect("utf-8").to_owned();
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    ok(&d.docker(&["network", "create", "front"]), "create front");
    ok(&d.docker(&["network", "create", "back"]), "create back");
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "cli",
            "--network",
            "front",
            "busybox",
            "sleep",
            "1000",
        ]),
        "run cli",
    );
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            "back",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-connect > /www/index.html && exec httpd -f -p 80 -h /www",
        ]),
        "run srv",
    );
    let front_bridge = bridge_of(&d, "front");
    let alone = bridge_ports(&front_bridge);
    assert_eq!(alone.len(), 1, "cli's veth on {front_bridge}: {alone:?}");

    // Different networks: srv's address on back is out of cli's reach
    // (the firewall's isolation of bridges), and srv is no name on front.
    let on_back = address_on(&d, "srv", "back");
    let out = fetch(&d, "cli", &format!("http://{on_back}/"));
    assert!(!out.status.success(), "reached across networks: {out:?}");
    let out = fetch(&d, "cli", "http://srv/");
    assert!(!out.status.success(), "srv resolved on front: {out:?}");

    // Connected to front while it runs: an address there, a name there.
    ok(
        &d.docker(&["network", "connect", "front", "srv"]),
        "connect",
    );
    let on_front = address_on(&d, "srv", "front");
    assert!(!on_front.is_empty(), "srv has no address on front");
    assert_eq!(address_on(&d, "srv", "back"), on_back, "back is kept");
    let by_address = reaches(&d, "cli", &format!("http://{on_front}/"));
    assert_eq!(
        by_address.as_deref().ok(),
        Some("hello-connect"),
        "{by_address:?}"
    );
    let by_name = reaches(&d, "cli", "http://srv/");
    assert_eq!(
        by_name.as_deref().ok(),
        Some("hello-connect"),
        "{by_name:?}"
    );
    let joined = bridge_ports(&front_bridge);
    assert_eq!(
        joined.len(),
        2,
        "srv's new veth on {front_bridge}: {joined:?}"
    );
    let srv_veth: Vec<String> = joined.into_iter().filter(|p| !alone.contains(p)).collect();

    // A second connect is moby's refusal.
    let again = d.docker(&["network", "connect", "front", "srv"]);
    assert!(!again.status.success(), "connected twice: {again:?}");
    assert!(
        again
            .stderr
            .contains("endpoint with name srv already exists in network front"),
        "{again:?}"
    );

    // Disconnected: unreachable again, its veth gone, back kept.
    ok(
        &d.docker(&["network", "disconnect", "front", "srv"]),
        "disconnect",
    );
    let out = fetch(&d, "cli", &format!("http://{on_front}/"));
    assert!(!out.status.success(), "reached after disconnect: {out:?}");
    let out = fetch(&d, "cli", "http://srv/");
    assert!(
        !out.status.success(),
        "srv resolves after disconnect: {out:?}"
    );
    assert_eq!(bridge_ports(&front_bridge), alone);
    for port in &srv_veth {
        let out = berth_tests::cmd::run(
            ["ip", "link", "show", port.as_str()],
            Duration::from_secs(30),
        );
        assert!(!out.status.success(), "{port} is left: {out:?}");
    }
    let networks = ok(
        &d.docker(&[
            "inspect",
            "srv",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        ]),
        "networks",
    );
    assert_eq!(networks, "back");

    // berth's own client, with an alias.
    ok(
        &d.berth(&["network", "connect", "--alias", "files", "front", "srv"]),
        "berth network connect",
    );
    let by_alias = reaches(&d, "cli", "http://files/");
    assert_eq!(
        by_alias.as_deref().ok(),
        Some("hello-connect"),
        "{by_alias:?}"
    );
    ok(
        &d.berth(&["network", "disconnect", "front", "srv"]),
        "berth network disconnect",
    );
    let out = fetch(&d, "cli", "http://files/");
    assert!(
        !out.status.success(),
        "the alias outlived the disconnect: {out:?}"
    );

    // The events, as moby names them.
    let actions: Vec<String> = d
        .past_events(Some("network"))
        .iter()
        .filter(|e| e["Action"] == "connect" || e["Action"] == "disconnect")
        .filter(|e| e["Actor"]["Attributes"]["name"] == "front")
        .map(|e| e["Action"].as_str().unwrap_or_default().to_owned())
        .collect();
    // cli's start, then srv's two rounds.
    assert_eq!(
        actions,
        vec!["connect", "connect", "disconnect", "connect", "disconnect"],
        "{actions:?}"
    );

    ok(&d.docker(&["rm", "-f", "cli", "srv"]), "rm");
    ok(&d.docker(&["network", "rm", "front", "back"]), "network rm");
}
