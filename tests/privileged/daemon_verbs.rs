//! The container verbs of Docker's breadth (issue 10) through berthd:
//! `restart`, `rename`, `top`, driven through the API, `berth` and the
//! real `docker` CLI.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `State.Pid` of a container.
#[track_caller]
fn pid(d: &Daemon, name: &str) -> i64 {
    let r = d.http("GET", &format!("/containers/{name}/json"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["State"]["Pid"].as_i64().unwrap_or_default()
}

#[test]
fn restart_stops_and_starts_through_berth_docker_and_the_api() {
    let d = ready();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "again",
        "busybox",
        "sh",
        "-c",
        "echo boot; exec sleep 100",
    ])
    .ok();
    let first = pid(&d, "again");
    // `sleep` as PID 1 ignores SIGTERM: -t 1 escalates to SIGKILL.
    assert_eq!(d.berth(&["restart", "-t", "1", "again"]).ok(), "again\n");
    let second = pid(&d, "again");
    assert!(second > 0 && second != first, "{first} -> {second}");
    assert!(!std::path::Path::new(&format!("/proc/{first}")).exists());
    assert_eq!(d.berth(&["logs", "again"]).ok(), "boot\nboot\n");

    // The real docker CLI, with a signal that ends the process at once.
    d.docker(&["restart", "-s", "KILL", "again"]).ok();
    let third = pid(&d, "again");
    assert!(third > 0 && third != second, "{second} -> {third}");
    assert_eq!(d.docker(&["logs", "again"]).ok(), "boot\nboot\nboot\n");

    // A stopped container is started.
    d.docker(&["kill", "again"]).ok();
    assert_eq!(d.docker(&["wait", "again"]).ok().trim(), "137");
    let r = d.http("POST", "/containers/again/restart?t=1", b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let state = d.http("GET", "/containers/again/json", b"").json()["State"].clone();
    assert_eq!(state["Running"], true, "{state}");

    // moby's errors: a missing container, a bad signal.
    let r = d.http("POST", "/containers/nope/restart", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (404, "No such container: nope")
    );
    let r = d.http("POST", "/containers/again/restart?signal=NOPE", b"");
    assert_eq!(r.status, 400, "{}", r.text());
    let out = d.docker(&["restart", "nope"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("No such container: nope"), "{out:?}");

    // --rm survives a restart, as in Docker.
    d.docker(&[
        "run", "-d", "--rm", "--name", "temp", "busybox", "sleep", "100",
    ])
    .ok();
    d.docker(&["restart", "-t", "0", "temp"]).ok();
    let r = d.http("GET", "/containers/temp/json", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["State"]["Running"], true);

    let restarts = d
        .past_events(Some("container"))
        .iter()
        .filter(|e| e["Action"] == "restart")
        .count();
    assert_eq!(restarts, 4);
    d.docker(&["rm", "-f", "again", "temp"]).ok();
    assert!(d.container_ids().is_empty(), "{:?}", d.container_ids());
}

#[test]
fn rename_through_berth_and_docker_persists_across_a_daemon_restart() {
    let mut d = ready();
    d.docker(&["run", "-d", "--name", "first", "busybox", "sleep", "100"])
        .ok();
    d.docker(&["create", "--name", "taken", "busybox", "true"])
        .ok();
    assert_eq!(d.berth(&["rename", "first", "second"]).ok(), "");
    d.docker(&["rename", "second", "third"]).ok();
    let names = d
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .lines()
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        names,
        ["taken", "third"].map(str::to_owned).into_iter().collect()
    );
    // The old names are free again.
    d.docker(&["create", "--name", "first", "busybox", "true"])
        .ok();

    // moby's conflict, 409, and nothing changed.
    let out = d.docker(&["rename", "third", "taken"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains(
            "Error when allocating new name: Conflict. The container name \"/taken\" is already in use"
        ),
        "{out:?}"
    );
    let r = d.http("POST", "/containers/third/rename?name=taken", b"");
    assert_eq!(r.status, 409, "{}", r.text());
    let r = d.http("POST", "/containers/third/rename?name=a%2Fb", b"");
    assert_eq!(r.status, 400, "{}", r.text());
    let out = d.berth(&["rename", "third", "no/slash"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("Invalid container name (no/slash)"),
        "{out:?}"
    );

    let event = d
        .past_events(Some("container"))
        .into_iter()
        .find(|e| e["Action"] == "rename" && e["Actor"]["Attributes"]["name"] == "third")
        .expect("a rename event for third");
    assert_eq!(event["Actor"]["Attributes"]["oldName"], "/second");

    // The rename is in the store: a new daemon knows the container by its
    // new name only, and the name stays reserved.
    d.kill9();
    d.restart();
    let r = d.http("GET", "/containers/third/json", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Name"], "/third");
    assert_eq!(r.json()["State"]["Running"], true);
    assert_eq!(d.http("GET", "/containers/second/json", b"").status, 404);
    let out = d.docker(&["create", "--name", "third", "busybox", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("is already in use"), "{out:?}");
    d.docker(&["rm", "-f", "third", "taken", "first"]).ok();
    assert!(d.container_ids().is_empty(), "{:?}", d.container_ids());
}

#[test]
fn top_lists_the_containers_processes_through_docker_berth_and_the_api() {
    let d = ready();
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "sleep 300 & exec sleep 301",
    ]);
    let id = out.ok().trim().to_owned();
    let init = pid(&d, "busy");
    let r = d.http("GET", "/containers/busy/top", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    assert_eq!(
        list["Titles"],
        serde_json::json!(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
    );
    let rows = list["Processes"].as_array().cloned().unwrap_or_default();
    let commands: Vec<&str> = rows.iter().filter_map(|r| r[7].as_str()).collect();
    // Exactly the container's two processes, nothing of the host's.
    let mut sorted = commands.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["sleep 300", "sleep 301"], "{list}");
    assert!(
        rows.iter().any(|r| r[1] == init.to_string().as_str()),
        "init {init} missing: {list}"
    );

    // The docker CLI renders it; ps arguments pass through.
    let out = d.docker(&["top", "busy", "-o", "pid,comm"]).ok();
    let mut lines = out.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["PID", "COMMAND"]),
        "{out}"
    );
    assert_eq!(lines.filter(|l| l.ends_with("sleep")).count(), 2, "{out}");
    let out = d.berth(&["top", "busy"]).ok();
    assert!(out.starts_with("UID "), "{out}");
    assert!(out.contains("sleep 301"), "{out}");

    // moby's refusals.
    let r = d.http("GET", "/containers/busy/top?ps_args=-o%20user%3DPID", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (500, "specifying \"user=PID\" is not allowed")
    );
    let out = d.docker(&["top", "busy", "-o", "comm"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("Couldn't find PID field in ps output"),
        "{out:?}"
    );
    d.docker(&["kill", "busy"]).ok();
    d.docker(&["wait", "busy"]).ok();
    let r = d.http("GET", "/containers/busy/top", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap_or_default()),
        (409, format!("Container {id} is not running").as_str())
    );
    let out = d.berth(&["top", "busy"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("is not running"), "{out:?}");
    d.docker(&["rm", "busy"]).ok();
}

/// What dockerd writes into `/etc/hosts` of a container without a network
/// address (`--network none`; one on a network also gets a line for its
/// address, `daemon_bridge.rs`): libnetwork's
/// `etchosts` default records, IPv4 then IPv6, `IP\tnames`. The hostname
/// line is added only for an interface address (`Sandbox.updateHostsFile`
/// returns early without one), so there is none here.
const DOCKER_HOSTS_WITHOUT_ADDRESS: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

#[test]
fn etc_hosts_and_hostname_are_what_docker_writes_without_a_network_address() {
    let d = ready();
    // The IPv6 records are written when the kernel has IPv6, as dockerd
    // writes them unless IPv6 is definitely off.
    assert!(
        std::path::Path::new("/proc/net/if_inet6").exists(),
        "this test needs a kernel with IPv6 (/proc/net/if_inet6)"
    );
    let script = "cat /etc/hosts; echo --; cat /etc/hostname; echo --; hostname; \
                  cat /proc/sys/kernel/domainname";
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        "h",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(
        out.stdout,
        format!("{DOCKER_HOSTS_WITHOUT_ADDRESS}--\nh\n--\nh\n(none)\n"),
        "{out:?}"
    );
    // A domain name goes to the UTS namespace, not to the files.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        "web",
        "--domainname",
        "example.com",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(
        out.stdout,
        format!("{DOCKER_HOSTS_WITHOUT_ADDRESS}--\nweb\n--\nweb\nexample.com\n"),
        "{out:?}"
    );
    // Without --hostname: the short id, in the file and the UTS namespace,
    // through berth too.
    let id = d
        .berth(&[
            "create",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "cat /etc/hostname; hostname",
        ])
        .ok()
        .trim()
        .to_owned();
    d.berth(&["start", &id]).ok();
    assert_eq!(d.berth(&["wait", &id]).ok().trim(), "0");
    let short = &id[..12];
    assert_eq!(d.berth(&["logs", &id]).ok(), format!("{short}\n{short}\n"));
    let r = d.http("GET", &format!("/containers/{id}/json"), b"");
    let hosts_path = r.json()["HostsPath"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        std::fs::read_to_string(&hosts_path).unwrap_or_default(),
        DOCKER_HOSTS_WITHOUT_ADDRESS
    );
    d.berth(&["rm", &id]).ok();
}
