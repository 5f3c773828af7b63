//! Published ports across a berthd restart (issue 12): after `kill -9` and
//! after a clean stop, a new berthd over the same roots keeps a running
//! container's published port working (the DNAT rule, the reservation and
//! the host socket that holds the port), shows the same port through
//! `docker port` and inspect, and a later `docker stop` removes the rule
//! and frees the port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use berth_tests::daemon::Daemon;
use berth_tests::http::get_from_host;

/// What the daemon says of `web`'s published port: `docker port` and
/// inspect's `NetworkSettings.Ports`, which must agree.
fn published(d: &Daemon) -> SocketAddr {
    let port_line = d.docker(&["port", "web"]).ok();
    let (spec, host) = port_line
        .trim()
        .split_once(" -> ")
        .unwrap_or_else(|| panic!("docker port: {port_line:?}"));
    assert_eq!(spec, "80/tcp");
    let target: SocketAddr = host.parse().expect("host address");
    let ports = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])
        .ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ports).expect("json"),
        serde_json::json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": target.port().to_string()}]})
    );
    target
}

/// The port is berthd's: the DNAT rule is there and another bind fails.
fn assert_held(d: &Daemon, target: SocketAddr) {
    let err = TcpListener::bind(target).expect_err("the published port is held by berthd");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    let rules = d.nft_rules();
    assert!(
        rules.contains(&format!("dport {} dnat", target.port())),
        "{rules}"
    );
}

fn assert_released(d: &Daemon, target: SocketAddr) {
    let stopped = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])
        .ok();
    assert_eq!(stopped.trim(), "{}");
    let rules = d.nft_rules();
    assert!(
        !rules.contains(&format!("dport {}", target.port())),
        "rules left: {rules}"
    );
    TcpListener::bind(target).expect("the port is free after stop");
}

/// A port free on 127.0.0.1 now, below the range berthd allocates from
/// (32768 up): while a test restarts its berthd the port is nobody's, and
/// a daemon of a test running beside it, allocating for `-p 80`, could
/// take one from that range and keep this test's berthd from holding it
/// again.
fn free_port_below_the_allocation_range() -> u16 {
    // Spread by the clock, so two tests of this file rarely try the same.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    for attempt in 0..100u32 {
        let port = 20000 + (start / 1000 + attempt * 7919) % 10000;
        let port = u16::try_from(port).expect("below 30000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in 20000..30000");
}

fn start_web(d: &Daemon) -> SocketAddr {
    d.import_busybox("busybox");
    let publish = format!("127.0.0.1:{}:80", free_port_below_the_allocation_range());
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-restart > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let target = published(d);
    assert!(get_from_host(target).contains("hello-restart"));
    assert_held(d, target);
    target
}

#[test]
fn a_published_port_survives_a_kill_9_of_berthd() {
    let mut d = Daemon::start();
    let target = start_web(&d);

    d.kill9();
    d.restart();
    let status = d
        .docker(&["inspect", "-f", "{{.State.Status}}", "web"])
        .ok();
    assert_eq!(status.trim(), "running");
    assert_eq!(published(&d), target, "the same port after the restart");
    assert!(get_from_host(target).contains("hello-restart"));
    assert_held(&d, target);

    d.docker(&["stop", "-t", "1", "web"]).ok();
    assert_released(&d, target);
}

#[test]
fn a_published_port_survives_a_clean_restart_of_berthd() {
    let mut d = Daemon::start();
    let target = start_web(&d);

    d.restart();
    let status = d
        .docker(&["inspect", "-f", "{{.State.Status}}", "web"])
        .ok();
    assert_eq!(status.trim(), "running");
    assert_eq!(published(&d), target, "the same port after the restart");
    assert!(get_from_host(target).contains("hello-restart"));
    assert_held(&d, target);

    d.docker(&["stop", "-t", "1", "web"]).ok();
    assert_released(&d, target);
}

#[test]
fn a_connection_the_dnat_rule_does_not_catch_is_refused_not_left_hanging() {
    // A port published on every address is held by berthd's socket on the
    // dual-stack wildcard; its DNAT rules are IPv4 only, so a connection
    // to [::1] reaches that socket. The socket does not listen: the kernel
    // refuses the connection at once (before, a listener that never
    // accepts completed the handshake and the client waited forever).
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-all > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let port_line = d.docker(&["port", "web", "80/tcp"]).ok();
    let port: u16 = port_line
        .lines()
        .next()
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, p)| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("docker port: {port_line:?}"));
    // Caught by the rule: the container answers.
    let caught = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(get_from_host(caught).contains("hello-all"));
    let rules = d.nft_rules();
    assert!(
        !rules.contains("ip6 "),
        "the rules now cover IPv6, pick an address they do not catch: {rules}"
    );
    // Not caught: refused, with the timeout only bounding a hang.
    let missed = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    let err = TcpStream::connect_timeout(&missed, Duration::from_secs(10))
        .expect_err("a connection to the held socket itself must not be accepted");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // Still held against other binders.
    let err = TcpListener::bind(missed).expect_err("held");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
}
