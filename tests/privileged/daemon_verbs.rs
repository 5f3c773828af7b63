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
