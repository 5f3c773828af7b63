//! `--network none|host|container:` through berthd and the real docker
//! CLI (issue 12): the modes that need no network driver.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// The network namespace of a process, as `readlink /proc/<pid>/ns/net`.
fn netns_of(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .unwrap_or_else(|e| panic!("netns of {pid}: {e}"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn none_has_only_loopback_in_a_namespace_of_its_own() {
    let d = ready();
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok();
    assert_eq!(out, "lo\n");
}

#[test]
fn host_shares_the_hosts_namespace_files_and_name() {
    let d = ready();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let hosts = std::fs::read_to_string("/etc/hosts").expect("the host's /etc/hosts");
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; hostname; cat /etc/hosts",
        ])
        .ok();
    let expected = format!("{}\n{}{hosts}", netns_of("self"), host_name);
    assert_eq!(out, expected);
    let inspect = d.http("GET", "/containers/json?all=1", b"");
    assert_eq!(inspect.status, 200, "{}", inspect.text());
    // A net.* sysctl would change the host: refused at create.
    let refused = d.docker(&[
        "create",
        "--network",
        "host",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox",
    ]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused
            .stderr
            .contains("sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"),
        "{refused:?}"
    );
}

#[test]
fn container_mode_joins_a_running_containers_namespace_and_files() {
    let d = ready();
    d.docker(&[
        "create",
        "--name",
        "web",
        "--hostname",
        "webhost",
        "busybox",
        "sleep",
        "100",
    ])
    .ok();
    let web_id = d
        .docker(&["inspect", "-f", "{{.Id}}", "web"])
        .ok()
        .trim()
        .to_owned();
    // moby's refusals: a container that is not running, a missing one.
    let side = d
        .docker(&[
            "create",
            "--name",
            "side",
            "--network",
            "container:web",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; hostname; cat /etc/hostname",
        ])
        .ok();
    let stopped = d.docker(&["start", "side"]);
    assert_ne!(stopped.code(), 0);
    assert!(
        stopped.stderr.contains(&format!(
            "cannot join network of a non running container: {web_id}"
        )),
        "{stopped:?}"
    );
    let missing = d.docker(&["create", "--network", "container:nope", "busybox"]);
    assert!(
        missing.stderr.contains("No such container: nope"),
        "{missing:?}"
    );
    let hostname = d.docker(&[
        "create",
        "--network",
        "container:web",
        "--hostname",
        "h",
        "busybox",
    ]);
    assert!(
        hostname
            .stderr
            .contains("conflicting options: hostname and the network mode"),
        "{hostname:?}"
    );

    d.docker(&["start", "web"]).ok();
    let web_pid = d
        .docker(&["inspect", "-f", "{{.State.Pid}}", "web"])
        .ok()
        .trim()
        .to_owned();
    let mode = d
        .docker(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", side.trim()])
        .ok();
    assert_eq!(mode.trim(), format!("container:{web_id}"));
    d.docker(&["start", "side"]).ok();
    assert_eq!(d.docker(&["wait", "side"]).ok().trim(), "0");
    assert_eq!(
        d.docker(&["logs", "side"]).ok(),
        format!("{}\nwebhost\nwebhost\n", netns_of(&web_pid))
    );
    d.docker(&["rm", "-f", "web", "side"]).ok();
}
