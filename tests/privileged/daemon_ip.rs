//! `docker run --network NET --ip A` and a container on the default bridge
//! connected to a user network (issue 12), end to end through the real
//! docker CLI: the asked address is the container's, at each start; a
//! second container asking for it is refused with moby's message and
//! leaves no container, veth or namespace; `--ip` off a user network with
//! a subnet of the user's is refused as moby does.

use std::path::Path;

use berth_tests::cmd::Output;
use berth_tests::daemon::Daemon;
use berth_tests::netlab::bridge_ports;

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    out.stdout.trim().to_owned()
}

fn refused(out: &Output, what: &str, message: &str) {
    assert!(!out.status.success(), "{what} was accepted: {out:?}");
    assert!(out.stderr.contains(message), "{what}: {out:?}");
}

fn bridge_of(d: &Daemon, network: &str) -> String {
    let id = ok(
        &d.docker(&["network", "inspect", network, "--format", "{{.Id}}"]),
        "network id",
    );
    format!("br-{}", &id[..12])
}

/// The network namespaces berthd holds (`<exec-root>/netns`).
fn namespaces(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", dir.display()),
    }
}

#[test]
fn run_with_ip_gives_that_address_and_a_second_asker_is_refused() {
    berth_tests::require::root();
    let d = Daemon::start();
    d.import_busybox("busybox");
    ok(
        &d.docker(&["network", "create", "--subnet", "10.231.50.0/24", "ipnet"]),
        "network create",
    );
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "holder",
            "--network",
            "ipnet",
            "--ip",
            "10.231.50.50",
            "busybox",
            "sleep",
            "1000",
        ]),
        "run --ip",
    );
    let addr = ok(
        &d.docker(&["exec", "holder", "ip", "-4", "addr"]),
        "ip addr",
    );
    assert!(addr.contains("inet 10.231.50.50/24"), "{addr}");
    let asked = ok(
        &d.docker(&[
            "inspect",
            "holder",
            "--format",
            "{{(index .NetworkSettings.Networks \"ipnet\").IPAMConfig.IPv4Address}}",
        ]),
        "inspect",
    );
    assert_eq!(asked, "10.231.50.50");

    // A second container asking for the same address: moby's IPAM
    // message, and with --rm nothing of it is left.
    let bridge = bridge_of(&d, "ipnet");
    let ports = bridge_ports(&bridge);
    let netns = namespaces(&d.exec_root().join("netns"));
    let containers = d.container_ids();
    let second = d.docker(&[
        "run",
        "--rm",
        "--name",
        "second",
        "--network",
        "ipnet",
        "--ip",
        "10.231.50.50",
        "busybox",
        "true",
    ]);
    refused(&second, "the same address twice", "Address already in use");
    assert_eq!(bridge_ports(&bridge), ports, "a veth is left");
    assert_eq!(namespaces(&d.exec_root().join("netns")), netns);
    assert_eq!(d.container_ids(), containers, "the container is left");

    // Kept across a restart of the container.
    ok(&d.docker(&["restart", "-t", "1", "holder"]), "restart");
    let addr = ok(
        &d.docker(&["exec", "holder", "ip", "-4", "addr"]),
        "ip addr",
    );
    assert!(addr.contains("inet 10.231.50.50/24"), "{addr}");

    // moby's refusals off a user network with a subnet of the user's.
    refused(
        &d.docker(&["run", "--rm", "--ip", "10.231.50.60", "busybox", "true"]),
        "--ip on the default bridge",
        "user specified IP address is supported on user defined networks only",
    );
    ok(&d.docker(&["network", "create", "auto"]), "network create");
    refused(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "auto",
            "--ip",
            "10.231.50.60",
            "busybox",
            "true",
        ]),
        "--ip on a network whose subnet berth chose",
        "user specified IP address is supported only when connecting to networks with user configured subnets",
    );
    refused(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "ipnet",
            "--ip",
            "10.231.51.5",
            "busybox",
            "true",
        ]),
        "--ip outside the subnet",
        "Invalid address 10.231.51.5: It does not belong to any of this network's subnets",
    );
    assert_eq!(d.container_ids(), containers, "a refused container is left");
    // A gateway priority berth cannot honour is refused, not dropped.
    let out = d.docker(&["network", "connect", "--gw-priority", "5", "auto", "holder"]);
    refused(
        &out,
        "--gw-priority",
        "EndpointConfig.GwPriority (--gw-priority) is not supported by berth",
    );
    let networks = ok(
        &d.docker(&[
            "inspect",
            "holder",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        ]),
        "networks",
    );
    assert_eq!(networks, "ipnet");

    ok(&d.docker(&["rm", "-f", "holder"]), "rm");
    ok(&d.docker(&["network", "rm", "ipnet", "auto"]), "network rm");
}

/// One bounded lookup of `name` from inside container `from`.
fn lookup(d: &Daemon, from: &str, name: &str) -> Output {
    d.docker(&["exec", from, "timeout", "5", "nslookup", name])
}

/// A container on the default bridge (the host's resolvers in its
/// resolv.conf) connected to a user network switches to that network's
/// embedded DNS server, as moby's sandbox starts its resolver at the
/// first user network (libnetwork `populateNetworkResources` →
/// `startResolver` → `rebuildDNS`): names on the network resolve.
#[test]
fn a_bridge_container_connected_to_a_user_network_resolves_its_names() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().expect("temp dir");
    // The daemon's resolvers: none reachable, nothing here needs one (no
    // `search` either: busybox would ask `other.<domain>` first, which the
    // embedded server forwards to the unreachable upstream).
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 192.0.2.53\noptions attempts:2\n").expect("resolv.conf");
    let resolv = resolv.to_str().expect("utf-8").to_owned();
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    ok(
        &d.docker(&["network", "create", "--subnet", "10.231.52.0/24", "dnsnet"]),
        "network create",
    );
    ok(
        &d.docker(&[
            "run",
            "-d",
            "--name",
            "other",
            "--network",
            "dnsnet",
            "busybox",
            "sleep",
            "1000",
        ]),
        "run other",
    );
    ok(
        &d.docker(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]),
        "run plain",
    );
    let before = ok(
        &d.docker(&["exec", "plain", "cat", "/etc/resolv.conf"]),
        "resolv.conf",
    );
    assert!(before.contains("nameserver 192.0.2.53"), "{before}");
    let out = lookup(&d, "plain", "other");
    assert!(
        !out.status.success(),
        "resolved on the default bridge: {out:?}"
    );

    ok(
        &d.docker(&["network", "connect", "dnsnet", "plain"]),
        "connect",
    );
    let after = ok(
        &d.docker(&["exec", "plain", "cat", "/etc/resolv.conf"]),
        "resolv.conf",
    );
    // The embedded server on dnsnet's gateway; the host's options kept.
    assert!(after.contains("nameserver 10.231.52.1"), "{after}");
    assert!(!after.contains("192.0.2.53"), "{after}");
    assert!(after.contains("options attempts:2"), "{after}");
    let out = lookup(&d, "plain", "other");
    assert!(out.status.success(), "other does not resolve: {out:?}");
    let other = ok(
        &d.docker(&[
            "inspect",
            "other",
            "--format",
            "{{(index .NetworkSettings.Networks \"dnsnet\").IPAddress}}",
        ]),
        "address",
    );
    assert!(out.stdout.contains(&other), "{out:?} is not {other}");

    ok(&d.docker(&["rm", "-f", "plain", "other"]), "rm");
    ok(&d.docker(&["network", "rm", "dnsnet"]), "network rm");
}

/// `berth run --network NET --ip A --ip6 B` through berth's own client:
/// the container has both addresses, and berth inspect reports what it
/// asked for; `--ip` without a user network is sent for the daemon to
/// refuse with moby's message, as the docker CLI does.
#[test]
fn berth_run_with_ip_and_ip6_gives_those_addresses() {
    berth_tests::require::root();
    let d = Daemon::start();
    d.import_busybox("busybox");
    ok(
        &d.berth(&[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            "10.231.53.0/24",
            "--subnet",
            "fd00:231:53::/64",
            "ipnet6",
        ]),
        "network create",
    );
    ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "addressed",
            "--network",
            "ipnet6",
            "--ip",
            "10.231.53.53",
            "--ip6",
            "fd00:231:53::53",
            "busybox",
            "sleep",
            "1000",
        ]),
        "berth run --ip --ip6",
    );
    let v4 = ok(
        &d.berth(&["exec", "addressed", "ip", "-4", "addr"]),
        "ip -4",
    );
    assert!(v4.contains("inet 10.231.53.53/24"), "{v4}");
    let v6 = ok(
        &d.berth(&["exec", "addressed", "ip", "-6", "addr"]),
        "ip -6",
    );
    assert!(v6.contains("inet6 fd00:231:53::53/64"), "{v6}");
    let asked = ok(
        &d.docker(&[
            "inspect",
            "addressed",
            "--format",
            "{{with index .NetworkSettings.Networks \"ipnet6\"}}{{.IPAMConfig.IPv4Address}} {{.IPAMConfig.IPv6Address}}{{end}}",
        ]),
        "inspect",
    );
    assert_eq!(asked, "10.231.53.53 fd00:231:53::53");

    let containers = d.container_ids();
    refused(
        &d.berth(&["run", "--rm", "--ip", "10.231.53.60", "busybox", "true"]),
        "berth run --ip on the default bridge",
        "user specified IP address is supported on user defined networks only",
    );
    assert_eq!(d.container_ids(), containers, "a refused container is left");

    ok(&d.berth(&["rm", "-f", "addressed"]), "rm");
    ok(&d.berth(&["network", "rm", "ipnet6"]), "network rm");
}
