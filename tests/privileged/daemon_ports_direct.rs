//! A machine with a route to a bridge's subnet through the host reaches a
//! container's published ports, never its other ports (issue 12; Docker
//! 28 drops what was not published: its `DOCKER` chain's per-port
//! `ACCEPT`, then `! -i BRIDGE -o BRIDGE -j DROP`). The daemon runs in a
//! namespace of its own with forwarding on ([`HostLink`]); the outside
//! machine routes the subnet to it.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use berth_tests::daemon::Daemon;
use berth_tests::hostlink::HostLink;
use berth_tests::http::get_from_host;

const SUBNET: &str = "10.231.61.0/24";

#[test]
fn only_published_ports_are_reached_from_another_machine() {
    let link = HostLink::new();
    let d = Daemon::start_in(link.host(), &["--ip-forward=true"]);
    d.import_busybox("busybox");
    d.docker(&["network", "create", "--subnet", SUBNET, "routed"])
        .ok();
    // httpd on 80 (published as 8080) and on 81 (not published).
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "routed",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo open > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let ip: IpAddr = d
        .docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.routed.IPAddress}}",
            "web",
        ])
        .ok()
        .trim()
        .parse()
        .expect("the container's address");
    let gateway = HostLink::HOST_V4.to_string();
    let out = link.run_outside(&["ip", "route", "add", SUBNET, "via", &gateway]);
    assert!(out.status.success(), "{out:?}");

    // Through the host's published port, and to the container's
    // published port directly.
    for target in [
        SocketAddr::new(IpAddr::V4(HostLink::HOST_V4), 8080),
        SocketAddr::new(ip, 80),
    ] {
        let response = link.in_outside(|| get_from_host(target));
        assert!(response.contains("open"), "{target}: {response}");
    }
    // Port 81 was never published: the host drops what is routed to it
    // (the bound is only there to end the wait; the answer never comes).
    let target = SocketAddr::new(ip, 81);
    let err = link
        .in_outside(|| TcpStream::connect_timeout(&target, Duration::from_secs(2)))
        .expect_err("an unpublished port is not reached from outside");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    // The container itself still reaches out, and its own port 81 works
    // from the host.
    let out = d.docker(&[
        "exec",
        "web",
        "wget",
        "-q",
        "-O-",
        &format!("http://{}:81/", HostLink::OUTSIDE_V4),
    ]);
    // Nothing listens outside on 81: refused, which means the SYN went
    // out and the RST came back through the forward chain.
    assert!(
        out.stderr.contains("refused") || out.stdout.contains("refused"),
        "{out:#?}"
    );
    let response = link.in_host(|| get_from_host(SocketAddr::new(ip, 81)));
    assert!(response.contains("open"), "{response}");
}
