//! Containers on the test daemon's default bridge with real traffic
//! (issue 12): an address, a veth into the bridge and a default route at
//! start; container to container and host to container; inspect's
//! `NetworkSettings`; `/etc/hosts`; nothing left at stop or removal; a
//! `kill -9` of berthd and its restart keep a running container's address
//! and connectivity.

use std::time::Duration;

use berth_tests::daemon::Daemon;
use berth_tests::http::get_from_host;
use berth_tests::netlab::bridge_ports;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `busybox httpd` serving `body` on port 80, detached, named `name`.
fn run_httpd(d: &Daemon, name: &str, body: &str) -> String {
    d.docker(&[
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        &format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www"),
    ])
    .ok()
    .trim()
    .to_owned()
}

fn inspect(d: &Daemon, name: &str, format: &str) -> String {
    d.docker(&["inspect", "-f", format, name])
        .ok()
        .trim()
        .to_owned()
}

/// The default network's bridge interface.
fn bridge_of(d: &Daemon) -> String {
    inspect_network(d, "{{index .Options \"com.docker.network.bridge.name\"}}")
}

fn inspect_network(d: &Daemon, format: &str) -> String {
    d.docker(&["network", "inspect", "-f", format, "bridge"])
        .ok()
        .trim()
        .to_owned()
}

/// GET / of `addr` port 80 from the host (bounded retries).
fn fetch_from_host(addr: &str) -> String {
    get_from_host(format!("{addr}:80").parse().expect("address"))
}

/// `wget` of `http://addr/` from a new container on the default bridge,
/// retried inside it while the server comes up (bounded; busybox 1.35's
/// own `wget -T` crashes, so `timeout` bounds each try).
fn fetch_from_container(d: &Daemon, addr: &str) -> String {
    d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &format!(
            "for i in $(seq 50); do timeout 5 wget -q -O- http://{addr}/ && exit 0; sleep 0.2; done; exit 1"
        ),
    ])
    .ok()
}

#[test]
fn two_containers_on_the_default_bridge_talk_and_the_host_reaches_them() {
    let d = ready();
    let bridge = bridge_of(&d);
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
    let subnet = inspect_network(&d, "{{(index .IPAM.Config 0).Subnet}}");
    let gateway = inspect_network(&d, "{{(index .IPAM.Config 0).Gateway}}");
    let web = run_httpd(&d, "web", "hello-bridge");

    let addr = inspect(&d, "web", "{{.NetworkSettings.IPAddress}}");
    let (network, prefix) = subnet.split_once('/').expect("a CIDR");
    let network: std::net::Ipv4Addr = network.parse().expect("the subnet's address");
    let prefix: u32 = prefix.parse().expect("the subnet's prefix");
    let ip: std::net::Ipv4Addr = addr.parse().expect("an IPv4 address");
    let mask = u32::MAX << (32 - prefix);
    assert_eq!(
        u32::from(ip) & mask,
        u32::from(network),
        "{addr} outside {subnet}"
    );
    assert_eq!(
        inspect(&d, "web", "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        addr
    );
    assert_eq!(inspect(&d, "web", "{{.NetworkSettings.Gateway}}"), gateway);
    let [a, b, c, e] = ip.octets();
    assert_eq!(
        inspect(&d, "web", "{{.NetworkSettings.MacAddress}}"),
        format!("02:42:{a:02x}:{b:02x}:{c:02x}:{e:02x}")
    );
    let sandbox = inspect(&d, "web", "{{.NetworkSettings.SandboxKey}}");
    assert!(
        sandbox.starts_with(&d.exec_root().display().to_string()),
        "{sandbox}"
    );
    // The container's side: eth0 with the address and the default route.
    let inside = d
        .docker(&[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -4 addr show eth0; ip route; cat /etc/hosts",
        ])
        .ok();
    assert!(
        inside.contains(&format!("inet {addr}/{prefix}")),
        "{inside}"
    );
    assert!(
        inside.contains(&format!("default via {gateway}")),
        "{inside}"
    );
    let hostname = &web[..12];
    assert!(
        inside.ends_with(&format!("{addr}\t{hostname}\n")),
        "{inside}"
    );
    let ports = bridge_ports(&bridge);
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert!(
        ports[0].starts_with("veth") && ports[0].len() == 11,
        "{ports:?}"
    );

    // Container to container, then host to container.
    assert_eq!(fetch_from_container(&d, &addr), "hello-bridge\n");
    let response = fetch_from_host(&addr);
    assert!(response.ends_with("hello-bridge\n"), "{response}");

    // Stopped: its veth, namespace and address go.
    d.docker(&["stop", "-t", "1", "web"]).ok();
    d.wait_for_network_teardowns();
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
    assert_eq!(inspect(&d, "web", "{{.NetworkSettings.IPAddress}}"), "");
    let netns_dir = d.exec_root().join("netns");
    let left: Vec<_> = std::fs::read_dir(&netns_dir)
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "namespaces left in {netns_dir:?}: {left:?}"
    );
    // Started again, it has its address back.
    d.docker(&["start", "web"]).ok();
    assert_eq!(inspect(&d, "web", "{{.NetworkSettings.IPAddress}}"), addr);
    d.docker(&["rm", "-f", "web"]).ok();
    d.wait_for_network_teardowns();
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
}

#[test]
fn a_killed_berthd_comes_back_with_its_containers_addresses_and_nothing_leaked() {
    let mut d = ready();
    let bridge = bridge_of(&d);
    run_httpd(&d, "web", "still-here");
    let addr = inspect(&d, "web", "{{.NetworkSettings.IPAddress}}");
    assert!(fetch_from_host(&addr).ends_with("still-here\n"));
    // A second container that ends while berthd is away.
    d.docker(&["run", "-d", "--name", "brief", "busybox", "sleep", "1000"])
        .ok();
    let brief_addr = inspect(&d, "brief", "{{.NetworkSettings.IPAddress}}");
    assert_ne!(brief_addr, addr);
    assert_eq!(bridge_ports(&bridge).len(), 2);
    let brief_pid: i32 = inspect(&d, "brief", "{{.State.Pid}}")
        .parse()
        .expect("a pid");
    d.kill9();
    // `brief` ends while berthd is away (its shim records the exit).
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(brief_pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{brief_pid}")).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    d.restart();
    // web runs on, with its address, reachable; brief's veth is gone.
    assert_eq!(inspect(&d, "web", "{{.NetworkSettings.IPAddress}}"), addr);
    assert!(fetch_from_host(&addr).ends_with("still-here\n"));
    assert_eq!(inspect(&d, "brief", "{{.State.Running}}"), "false");
    assert_eq!(
        bridge_ports(&bridge).len(),
        1,
        "{:?}",
        bridge_ports(&bridge)
    );
    // No address is handed out twice.
    let other = d
        .docker(&[
            "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0",
        ])
        .ok();
    assert!(!other.contains(&format!("inet {addr}/")), "{other}");
    d.docker(&["rm", "-f", "web", "brief"]).ok();
    d.wait_for_network_teardowns();
    assert!(
        bridge_ports(&bridge).is_empty(),
        "{:?}",
        bridge_ports(&bridge)
    );
}

#[test]
fn containers_on_a_user_network_talk_and_the_network_stays_while_they_run() {
    let d = ready();
    let missing = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","HostConfig":{"NetworkMode":"nope"}}"#,
    );
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert_eq!(missing.json()["message"], "network nope not found");
    let net_id = d.docker(&["network", "create", "n"]).ok().trim().to_owned();
    d.docker(&[
        "run",
        "-d",
        "--network",
        "n",
        "--name",
        "a",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo on-n > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    let addr = inspect(&d, "a", "{{.NetworkSettings.Networks.n.IPAddress}}");
    assert!(!addr.is_empty());
    assert_eq!(
        inspect(&d, "a", "{{.NetworkSettings.Networks.n.NetworkID}}"),
        net_id
    );
    // Only the default bridge fills the top level, as moby.
    assert_eq!(inspect(&d, "a", "{{.NetworkSettings.IPAddress}}"), "");
    let got = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "n",
            "busybox",
            "sh",
            "-c",
            &format!(
                "for i in $(seq 50); do timeout 5 wget -q -O- http://{addr}/ && exit 0; sleep 0.2; done; exit 1"
            ),
        ])
        .ok();
    assert_eq!(got, "on-n\n");
    let refused = d.docker(&["network", "rm", "n"]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused.stderr.contains(&format!(
            "error while removing network: network n id {net_id} has active endpoints"
        )),
        "{refused:?}"
    );
    d.docker(&["rm", "-f", "a"]).ok();
    d.docker(&["network", "rm", "n"]).ok();
}
