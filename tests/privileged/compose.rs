//! Debian's docker-compose 1.29 (docker-py) as a real multi-container
//! client of berthd: a two-service project on its own network — a web
//! server with a named volume, and a client that reaches it by service
//! name through the embedded DNS server — then `ps`, `logs`, `down -v`,
//! and nothing of the project is left: containers, network, volume, veth
//! pairs, nftables rules.
//!
//! Published ports are left out of the project: they come with the
//! netports branch, which had not landed when this test was written.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_tests::cmd::{Output, run_with_timeout};
use berth_tests::daemon::Daemon;
use berth_tests::netlab::bridge_ports;

/// A bound on a hung compose command, not an expectation.
const COMPOSE_TIMEOUT: Duration = Duration::from_secs(180);

const PROJECT_FILE: &str = r#"version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello-compose > /www/index.html && exec httpd -f -p 80 -h /www"]
    volumes:
      - webdata:/www
  client:
    image: busybox
    depends_on:
      - web
    command: ["sh", "-c", "until timeout 2 wget -q -O - http://web/; do sleep 0.2; done; exec sleep 1000"]
volumes:
  webdata:
"#;

fn compose(d: &Daemon, dir: &Path, project: &str, args: &[&str]) -> Output {
    let program = berth_tests::require::program("docker-compose", "docker-compose");
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .arg("--no-ansi")
        .args(["-p", project])
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1");
    run_with_timeout(&mut command, COMPOSE_TIMEOUT)
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {out:?}");
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn a_compose_project_comes_up_talks_by_service_name_and_goes_without_a_trace() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().expect("temp dir");
    // The daemon's resolvers: none reachable, nothing here needs one.
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.154\n").expect("resolv.conf");
    let resolv = resolv.to_str().expect("utf-8").to_owned();
    let d = Daemon::start_with(&["--dns-resolv-conf", &resolv]);
    d.import_busybox("busybox");
    let project = format!("bdns{}", std::process::id());
    std::fs::write(dir.path().join("docker-compose.yml"), PROJECT_FILE).expect("project");

    ok(&compose(&d, dir.path(), &project, &["up", "-d"]), "up");
    let network = format!("{project}_default");
    let id = d.docker(&["network", "inspect", &network, "--format", "{{.Id}}"]);
    let bridge = format!("br-{}", &ok(&id, "network id").trim()[..12]);
    let ports = bridge_ports(&bridge);
    assert_eq!(
        ports.len(),
        2,
        "a veth pair per container on {bridge}: {ports:?}"
    );

    let ps = ok(&compose(&d, dir.path(), &project, &["ps"]), "ps");
    for service in ["web", "client"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(&format!("{project}_{service}_1")))
            .unwrap_or_else(|| panic!("{service} in ps: {ps}"));
        assert!(line.contains("Up"), "{line}");
    }

    // The client reached web by its service name (bounded wait for its
    // wget loop; nothing timed is asserted).
    let mut logs = String::new();
    for _ in 0..100 {
        logs = ok(
            &compose(&d, dir.path(), &project, &["logs", "client"]),
            "logs",
        );
        if logs.contains("hello-compose") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(logs.contains("hello-compose"), "{logs}");

    ok(&compose(&d, dir.path(), &project, &["down", "-v"]), "down");

    let label = format!("label=com.docker.compose.project={project}");
    let left = ok(&d.docker(&["ps", "-aq", "--filter", &label]), "ps -a");
    assert_eq!(left.trim(), "", "containers left");
    let networks = ok(
        &d.docker(&["network", "ls", "--format", "{{.Name}}"]),
        "network ls",
    );
    assert!(!networks.lines().any(|n| n == network), "{networks}");
    let volumes = ok(&d.docker(&["volume", "ls", "-q"]), "volume ls");
    assert!(
        !volumes.contains(&format!("{project}_webdata")),
        "{volumes}"
    );
    for port in &ports {
        let out = berth_tests::cmd::run(
            ["ip", "link", "show", port.as_str()],
            Duration::from_secs(30),
        );
        assert!(!out.status.success(), "{port} is left: {out:?}");
    }
    let bridge_left = berth_tests::cmd::run(
        ["ip", "link", "show", bridge.as_str()],
        Duration::from_secs(30),
    );
    assert!(!bridge_left.status.success(), "{bridge} is left");
    let table = berth_tests::cmd::run(
        ["nft", "list", "table", "inet", d.nft_table()],
        Duration::from_secs(30),
    );
    assert!(
        !table.stdout.contains("container:") && !table.stdout.contains(&id.stdout.trim()[..12]),
        "rules left: {}",
        table.stdout
    );
}
