//! Published ports with real traffic (issue 12): `-p 127.0.0.1::80` reaches
//! the container's server from the host through the daemon's DNAT rule,
//! `docker port`/`ps`/inspect show the binding as moby does, a second
//! container asking for the same host port gets moby's error and leaves
//! nothing, and a stop frees the port and its rule.

use std::net::SocketAddr;

use berth_tests::daemon::Daemon;
use berth_tests::http::get_from_host;

#[test]
fn a_published_port_reaches_the_container_from_the_host_and_goes_at_stop() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let web = d
        .docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-published > /www/index.html && exec httpd -f -p 80 -h /www",
        ])
        .ok()
        .trim()
        .to_owned();
    let port_line = d.docker(&["port", "web"]).ok();
    let (spec, host) = port_line
        .trim()
        .split_once(" -> ")
        .unwrap_or_else(|| panic!("docker port: {port_line:?}"));
    assert_eq!(spec, "80/tcp");
    let target: SocketAddr = host.parse().expect("host address");
    assert_eq!(target.ip().to_string(), "127.0.0.1");
    let response = get_from_host(target);
    assert!(response.contains("hello-published"), "{response}");

    let ports = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])
        .ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ports).expect("json"),
        serde_json::json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": target.port().to_string()}]})
    );
    let ps = d.docker(&["ps", "--format", "{{.Ports}}"]).ok();
    assert_eq!(ps.trim(), format!("127.0.0.1:{}->80/tcp", target.port()));
    assert!(
        d.nft_rules()
            .contains(&format!("dport {} dnat", target.port())),
        "{}",
        d.nft_rules()
    );

    // The same host port again: moby's message, nothing left of it.
    let before = d.container_ids();
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "again",
        "-p",
        &format!("127.0.0.1:{}:80", target.port()),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "Bind for 127.0.0.1:{} failed: port is already allocated",
            target.port()
        )),
        "{out:?}"
    );
    let state = d
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.NetworkSettings.SandboxKey}}",
            "again",
        ])
        .ok();
    assert_eq!(state.trim(), "created", "{state:?}");
    assert_eq!(d.container_ids().len(), before.len() + 1);

    d.docker(&["stop", "-t", "1", "web"]).ok();
    let stopped = d
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "web"])
        .ok();
    assert_eq!(stopped.trim(), "{}");
    let rules = d.nft_rules();
    assert!(
        !rules.contains(&format!("dport {}", target.port())) && !rules.contains(&web[..12]),
        "rules left: {rules}"
    );
    // Free on the host again.
    std::net::TcpListener::bind(target).expect("the port is free after stop");
}
