//! Published ports over IPv6, with real traffic (issue 12). Each test runs
//! its berthd in a namespace of its own standing in for the host, linked
//! by a veth pair to an "outside" machine (`HostLink`: an IPv4 and a ULA
//! address on each end), so traffic from another machine takes the host's
//! forward path and berthd may turn forwarding on without touching the
//! real host. On a dual-stack network, `-p 8080:80` is reached from
//! outside over IPv6 and IPv4 and by another container at the host's ULA
//! (hairpin), is listed as Docker 28 lists it (a `0.0.0.0` and a `::`
//! binding), and outbound IPv6 leaves with the host's address. A port on
//! one host IPv6 address works; `[::1]` is refused at create (berth has no
//! userland proxy); an IPv6 connection no rule forwards (to an IPv4-only
//! container, or to the host's own `[::1]`) is refused at once. An
//! explicit `0.0.0.0` or `[::]` publishes on that family only, as Docker
//! 28, so two containers share a host port, one per family; `[::]` on an
//! IPv4-only container is refused at start.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use berth_tests::daemon::Daemon;
use berth_tests::hostlink::HostLink;
use berth_tests::http::get_from_host;

/// busybox httpd answering `body` on port 80.
fn serve(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

/// A daemon in `link`'s host namespace, allowed to turn forwarding on
/// there, with busybox and a dual-stack network `dual`.
fn daemon(link: &HostLink) -> Daemon {
    let d = Daemon::start_in(link.host(), &["--ip-forward=true"]);
    d.import_busybox("busybox");
    d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.231.60.0/24",
        "--subnet",
        "fd00:231:60::/64",
        "dual",
    ])
    .ok();
    d
}

/// `docker run -d --name NAME --network NET -p PUBLISH busybox` serving
/// `body`.
fn run_web(d: &Daemon, name: &str, network: &str, publish: &str, body: &str) {
    d.docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "-p",
        publish,
        "busybox",
        "sh",
        "-c",
        &serve(body),
    ])
    .ok();
}

/// The published port's JSON in inspect.
fn inspect_ports(d: &Daemon, name: &str) -> serde_json::Value {
    let ports = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", name])
        .ok();
    serde_json::from_str(&ports).expect("json")
}

/// A connection that must be refused at once (the timeout only bounds a
/// hang, which is the failure this guards against).
fn assert_refused(target: SocketAddr) {
    let err = TcpStream::connect_timeout(&target, Duration::from_secs(10))
        .expect_err("no rule forwards this connection and nothing listens");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{target}: {err}"
    );
}

#[test]
fn a_dual_stack_published_port_is_reached_from_outside_over_ipv6_and_ipv4_and_by_hairpin() {
    let link = HostLink::new();
    let d = daemon(&link);
    run_web(&d, "web", "dual", "8080:80", "hello-dual");

    // dockerd's setupIPv4Forwarding and setupIPv6Forwarding, in berthd's
    // namespace.
    for key in [
        "net/ipv4/ip_forward",
        "net/ipv6/conf/all/forwarding",
        "net/ipv6/conf/default/forwarding",
    ] {
        assert_eq!(link.host_sysctl(key), "1", "{key}");
    }

    // What Docker 28 lists for a dual-stack container.
    assert_eq!(
        d.docker(&["port", "web"]).ok(),
        "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"
    );
    assert_eq!(
        inspect_ports(&d, "web"),
        serde_json::json!({"80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": "8080"},
            {"HostIp": "::", "HostPort": "8080"},
        ]})
    );
    let ps = d.docker(&["ps", "--format", "{{.Ports}}"]).ok();
    assert_eq!(ps.trim(), "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp");

    // From the machine outside, at the host's addresses.
    for host in [IpAddr::V6(HostLink::HOST_V6), IpAddr::V4(HostLink::HOST_V4)] {
        let response = link.in_outside(|| get_from_host(SocketAddr::new(host, 8080)));
        assert!(response.contains("hello-dual"), "{host}: {response}");
    }

    // Hairpin: another container of the network, at the host's ULA.
    let url = format!("http://[{}]:8080/", HostLink::HOST_V6);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "busybox",
        "timeout",
        "10",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    assert!(out.stdout.contains("hello-dual"), "{out:?}");

    // Stopped: both families' rules go.
    d.docker(&["stop", "-t", "1", "web"]).ok();
    let rules = d.nft_rules();
    assert!(!rules.contains("dport 8080"), "rules left: {rules}");
    link.in_outside(|| assert_refused(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 8080)));
}

#[test]
fn outbound_ipv6_and_ipv4_leave_a_dual_stack_container_with_the_hosts_address() {
    let link = HostLink::new();
    let d = daemon(&link);
    // A server outside that says who it saw: the dual-stack wildcard
    // takes both families (IPv4 peers come as mapped addresses).
    let listener = link.in_outside(|| TcpListener::bind("[::]:0").expect("bind outside"));
    let port = listener.local_addr().expect("port").port();
    listener.set_nonblocking(true).expect("nonblocking");
    for (server, host) in [
        (
            format!("[{}]", HostLink::OUTSIDE_V6),
            IpAddr::V6(HostLink::HOST_V6),
        ),
        (
            HostLink::OUTSIDE_V4.to_string(),
            IpAddr::V4(HostLink::HOST_V4),
        ),
    ] {
        let url = format!("http://{server}:{port}/");
        let peer = std::thread::scope(|scope| {
            let client = scope.spawn(|| {
                d.docker(&[
                    "run",
                    "--rm",
                    "--network",
                    "dual",
                    "busybox",
                    "timeout",
                    "10",
                    "wget",
                    "-q",
                    "-O",
                    "-",
                    &url,
                ])
            });
            // Bounded by the client: it gives up after 10 s.
            let peer = loop {
                match listener.accept() {
                    Ok((mut stream, peer)) => {
                        stream.set_nonblocking(false).expect("blocking");
                        let mut request = [0u8; 512];
                        let _ = stream.read(&mut request);
                        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nseen\n");
                        break Some(peer);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if client.is_finished() {
                            break None;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            };
            let out = client.join().expect("client thread");
            assert!(out.stdout.contains("seen"), "{url}: {out:?}");
            peer
        });
        let peer = peer.unwrap_or_else(|| panic!("no connection reached {url}"));
        assert_eq!(peer.ip().to_canonical(), host, "{url}");
    }
}

#[test]
fn a_port_on_a_host_ipv6_address_works_and_one_on_the_ipv6_loopback_is_refused() {
    let link = HostLink::new();
    let d = daemon(&link);
    let publish = format!("[{}]:9090:80", HostLink::HOST_V6);
    run_web(&d, "web", "dual", &publish, "hello-one");
    assert_eq!(
        d.docker(&["port", "web"]).ok(),
        format!("80/tcp -> [{}]:9090\n", HostLink::HOST_V6)
    );
    assert_eq!(
        inspect_ports(&d, "web"),
        serde_json::json!({"80/tcp": [{"HostIp": HostLink::HOST_V6.to_string(), "HostPort": "9090"}]})
    );
    let response =
        link.in_outside(|| get_from_host(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 9090)));
    assert!(response.contains("hello-one"), "{response}");
    // Only that address: the host's IPv4 one has nothing on 9090.
    link.in_outside(|| assert_refused(SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 9090)));

    // The IPv6 loopback: moby carries it with its userland proxy, which
    // berth does not have, and a DNAT from ::1 never gets an answer.
    let before = d.container_ids();
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--network",
        "dual",
        "-p",
        "[::1]:8081:80",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "publishing a port on the IPv6 loopback address ::1 is not supported by berth"
        ),
        "{out:?}"
    );
    assert_eq!(d.container_ids(), before, "nothing is created");
}

#[test]
fn an_ipv6_connection_no_rule_forwards_is_refused_at_once() {
    let link = HostLink::new();
    let d = daemon(&link);
    d.docker(&["network", "create", "--subnet", "10.231.61.0/24", "v4only"])
        .ok();
    run_web(&d, "web4", "v4only", "8080:80", "hello-v4");
    run_web(&d, "web6", "dual", "8081:80", "hello-v6");
    // No userland proxy: an IPv4-only container has no `::` binding.
    assert_eq!(d.docker(&["port", "web4"]).ok(), "80/tcp -> 0.0.0.0:8080\n");
    let v4 =
        link.in_outside(|| get_from_host(SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 8080)));
    assert!(v4.contains("hello-v4"), "{v4}");
    // Over IPv6 it meets berthd's held socket, which does not listen.
    link.in_outside(|| assert_refused(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 8080)));

    // The host's own [::1] to a dual-stack container's port: not DNATed
    // (the answer could not come back to ::1), so refused, not hung; the
    // host's ULA gets through.
    link.in_host(|| {
        assert_refused(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 8081)));
        let response = get_from_host(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 8081));
        assert!(response.contains("hello-v6"), "{response}");
    });
}

#[test]
fn an_explicit_unspecified_address_publishes_one_family_so_two_containers_share_the_port() {
    let link = HostLink::new();
    let d = daemon(&link);
    run_web(&d, "web4", "dual", "0.0.0.0:8090:80", "hello-four");
    run_web(&d, "web6", "dual", "[::]:8090:80", "hello-six");

    // Each lists only its own family's binding.
    assert_eq!(d.docker(&["port", "web4"]).ok(), "80/tcp -> 0.0.0.0:8090\n");
    assert_eq!(d.docker(&["port", "web6"]).ok(), "80/tcp -> [::]:8090\n");
    assert_eq!(
        inspect_ports(&d, "web4"),
        serde_json::json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8090"}]})
    );
    assert_eq!(
        inspect_ports(&d, "web6"),
        serde_json::json!({"80/tcp": [{"HostIp": "::", "HostPort": "8090"}]})
    );
    let ps = d.docker(&["ps", "--format", "{{.Names}} {{.Ports}}"]).ok();
    let mut rows: Vec<&str> = ps.lines().collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        ["web4 0.0.0.0:8090->80/tcp", "web6 [::]:8090->80/tcp"]
    );

    // From outside: each family reaches its own container.
    for (host, body) in [
        (IpAddr::V4(HostLink::HOST_V4), "hello-four"),
        (IpAddr::V6(HostLink::HOST_V6), "hello-six"),
    ] {
        let response = link.in_outside(|| get_from_host(SocketAddr::new(host, 8090)));
        assert!(response.contains(body), "{host}: {response}");
    }

    // With one of them gone, its family is refused at once, not hung, and
    // not carried to the other container.
    d.docker(&["rm", "-f", "web6"]).ok();
    link.in_outside(|| assert_refused(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 8090)));
    let response =
        link.in_outside(|| get_from_host(SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 8090)));
    assert!(response.contains("hello-four"), "{response}");
    d.docker(&["rm", "-f", "web4"]).ok();
    run_web(&d, "web6", "dual", "[::]:8090:80", "hello-six");
    link.in_outside(|| assert_refused(SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 8090)));
    let response =
        link.in_outside(|| get_from_host(SocketAddr::new(IpAddr::V6(HostLink::HOST_V6), 8090)));
    assert!(response.contains("hello-six"), "{response}");
    let rules = d.nft_rules();
    assert!(
        rules.contains("ip6 daddr != ::1 tcp dport 8090") && !rules.contains("ipv4 tcp dport 8090"),
        "{rules}"
    );

    // `-p 8090:80` (every address) finds the IPv6 side taken.
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "both",
        "--network",
        "dual",
        "-p",
        "8090:80",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Bind for 0.0.0.0:8090 failed: port is already allocated"),
        "{out:?}"
    );
}

#[test]
fn an_explicit_ipv6_wildcard_on_an_ipv4_only_container_is_refused_at_start() {
    // moby without its userland proxy logs and drops such a binding
    // (`sortAndNormPBs`: "Cannot map from IPv6 to an IPv4-only container
    // because the userland proxy is disabled"); berth has no proxy and
    // refuses what it cannot honour instead of dropping it.
    let link = HostLink::new();
    let d = daemon(&link);
    d.docker(&["network", "create", "--subnet", "10.231.62.0/24", "v4only"])
        .ok();
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "v4only",
        "-p",
        "[::]:8091:80",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("has no address to publish 8091/tcp to"),
        "{out:?}"
    );
    let rules = d.nft_rules();
    assert!(!rules.contains("dport 8091"), "{rules}");
    // Nothing holds the port: the container's start was undone.
    d.docker(&["rm", "-f", "web"]).ok();
    run_web(&d, "web4", "v4only", "0.0.0.0:8091:80", "hello-v4");
    let v4 =
        link.in_outside(|| get_from_host(SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 8091)));
    assert!(v4.contains("hello-v4"), "{v4}");
}
