//! Lifecycle of issue 10 through berthd: restart policies (the container's
//! process killed from the host comes back; on-failure's count; a
//! `kill -9` of berthd while a container waits to be restarted) and
//! `--stop-signal` / `--stop-timeout`, driven through the API, `berth` and
//! the real `docker` CLI.

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// The container's inspect.
#[track_caller]
fn inspect(d: &Daemon, name: &str) -> serde_json::Value {
    let r = d.http("GET", &format!("/containers/{name}/json"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Polls inspect until `done` holds; a bound on a hang, not a timing
/// assertion.
#[track_caller]
fn wait_for(d: &Daemon, name: &str, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = inspect(d, name);
        if done(&c) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {what} not seen within 60 s: {}\n{}",
            c["State"],
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn running_again(c: &serde_json::Value, count: i64, old_pid: i64) -> bool {
    c["RestartCount"] == count
        && c["State"]["Running"] == true
        && c["State"]["Restarting"] == false
        && c["State"]["Pid"]
            .as_i64()
            .is_some_and(|p| p > 0 && p != old_pid)
}

#[test]
fn a_container_killed_from_the_host_comes_back_with_its_restart_count() {
    let d = ready();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "rp",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let c = inspect(&d, "rp");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "always");
    assert_eq!(c["RestartCount"], 0);
    for count in 1..=2 {
        let pid = inspect(&d, "rp")["State"]["Pid"].as_i64().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the container's process");
        wait_for(&d, "rp", "the restart", |c| running_again(c, count, pid));
    }
    // moby's events: die then start at each restart. The state changes
    // before the event is published: poll for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    let actions = loop {
        let actions: Vec<String> = d
            .past_events(Some("container"))
            .iter()
            .filter_map(|e| e["Action"].as_str().map(str::to_owned))
            .filter(|a| a == "die" || a == "start")
            .collect();
        if actions.len() >= 5 || Instant::now() > deadline {
            break actions;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(actions, ["start", "die", "start", "die", "start"]);
    // A user stop ends it for good; docker ps says how it ended.
    d.docker(&["stop", "-t", "1", "rp"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    let state = inspect(&d, "rp")["State"].clone();
    assert_eq!(
        (&state["Status"], &state["Restarting"]),
        (&"exited".into(), &false.into()),
        "{state}"
    );
}

#[test]
fn on_failure_2_restarts_a_failing_container_twice_then_leaves_it_exited() {
    let d = ready();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "of",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ])
    .ok();
    wait_for(&d, "of", "the last exit", |c| {
        c["RestartCount"] == 2 && c["State"]["Status"] == "exited"
    });
    let c = inspect(&d, "of");
    assert_eq!(c["State"]["ExitCode"], 3);
    assert_eq!(d.berth(&["logs", "of"]).ok(), "run\nrun\nrun\n");
    let ps = d.docker(&["ps", "-a", "--format", "{{.Status}}"]).ok();
    assert!(ps.starts_with("Exited (3) "), "{ps}");
    // A clean exit is no failure: once, not restarted.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ])
    .ok();
    wait_for(&d, "ok", "the exit", |c| c["State"]["Status"] == "exited");
    assert_eq!(inspect(&d, "ok")["RestartCount"], 0);
}

#[test]
fn restart_policies_are_checked_with_mobys_messages() {
    let d = ready();
    for (policy, extra, message) in [
        (
            r#"{"Name":"always"}"#,
            r#","AutoRemove":true"#,
            "can't create 'AutoRemove' container with restart policy",
        ),
        (
            r#"{"Name":"sometimes"}"#,
            "",
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
    ] {
        let body =
            format!(r#"{{"Image":"busybox","HostConfig":{{"RestartPolicy":{policy}{extra}}}}}"#);
        let r = d.http("POST", "/containers/create", body.as_bytes());
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["message"], message);
    }
    let out = d.docker(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(d.container_ids().is_empty());
}

#[test]
fn a_kill_9_of_berthd_during_a_backoff_leaves_the_policy_going_on() {
    let mut d = ready();
    // It fails at once, so the backoff grows: 100 ms, 200 ms, ... 6.4 s.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "kb",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 5",
    ])
    .ok();
    wait_for(&d, "kb", "a long backoff", |c| {
        c["RestartCount"].as_i64().unwrap_or_default() >= 6 && c["State"]["Restarting"] == true
    });
    let before = inspect(&d, "kb")["RestartCount"].as_i64().unwrap();
    d.kill9();
    d.restart();
    let c = inspect(&d, "kb");
    // The truth after the restart: the count goes on from where it was.
    assert!(
        c["RestartCount"].as_i64().unwrap() >= before,
        "{before} -> {}",
        c["RestartCount"]
    );
    assert_eq!(c["State"]["ExitCode"], 5, "{}", c["State"]);
    wait_for(&d, "kb", "restarts after the daemon's restart", |c| {
        c["RestartCount"].as_i64().unwrap_or_default() > before
    });
    // And stopping a restarting container works.
    wait_for(&d, "kb", "restarting", |c| c["State"]["Restarting"] == true);
    d.docker(&["stop", "kb"]).ok();
    let state = inspect(&d, "kb")["State"].clone();
    assert_eq!(
        (&state["Status"], &state["Running"], &state["Restarting"]),
        (&"exited".into(), &false.into(), &false.into()),
        "{state}"
    );
}

#[test]
fn stop_signal_and_stop_timeout_are_honoured_by_stop_and_restart() {
    let d = ready();
    // The stop signal reaches the process's handler.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 7' USR1; echo up; while :; do sleep 0.1; done",
    ])
    .ok();
    let c = inspect(&d, "sig");
    assert_eq!(c["Config"]["StopSignal"], "SIGUSR1");
    wait_for(&d, "sig", "the trap", |_| {
        d.docker(&["logs", "sig"]).ok().contains("up")
    });
    d.docker(&["stop", "sig"]).ok();
    assert_eq!(inspect(&d, "sig")["State"]["ExitCode"], 7);
    assert!(d.docker(&["logs", "sig"]).ok().contains("got-usr1"));
    // `restart` stops with it too.
    d.docker(&["start", "sig"]).ok();
    wait_for(&d, "sig", "the second trap", |_| {
        d.docker(&["logs", "sig"]).ok().matches("up").count() == 2
    });
    d.docker(&["restart", "sig"]).ok();
    assert_eq!(
        d.docker(&["logs", "sig"]).ok().matches("got-usr1").count(),
        2
    );

    // `sleep` as PID 1 ignores SIGTERM: --stop-timeout 1 escalates.
    d.berth(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    assert_eq!(inspect(&d, "slow")["Config"]["StopTimeout"], 1);
    d.berth(&["stop", "slow"]).ok();
    assert_eq!(inspect(&d, "slow")["State"]["ExitCode"], 137);
    let id = inspect(&d, "slow")["Id"].as_str().unwrap().to_owned();
    let signals: Vec<String> = d
        .past_events(Some("container"))
        .iter()
        .filter(|e| e["Action"] == "kill" && e["Actor"]["ID"] == id.as_str())
        .filter_map(|e| {
            e["Actor"]["Attributes"]["signal"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(signals, ["15", "9"]);
}

/// The container's directory in the v1 hierarchy `controller` (or the v2
/// one): where its limits are.
#[track_caller]
fn cgroup_dir(d: &Daemon, id: &str, controller: &str) -> std::path::PathBuf {
    let dirs = berth_tests::daemon::cgroup_dirs(&format!("{}/{id}", d.cgroup_parent()));
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    dirs.into_iter()
        .find(|p| unified || p.to_string_lossy().contains(&format!("/{controller}/")))
        .unwrap_or_else(|| panic!("no {controller} cgroup of {id}"))
}

#[track_caller]
fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_owned()
}

#[test]
fn docker_update_changes_the_running_containers_cgroup_and_refuses_with_mobys_errors() {
    let d = ready();
    assert!(
        !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
        "this test reads cgroup v1 files (memory.limit_in_bytes); the host is unified"
    );
    let id = d
        .docker(&[
            "run", "-d", "--name", "up", "-m", "64m", "busybox", "sleep", "1000",
        ])
        .ok()
        .trim()
        .to_owned();
    let memory = cgroup_dir(&d, &id, "memory");
    assert_eq!(
        read(&memory, "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    let out = d
        .docker(&[
            "update",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "--pids-limit",
            "50",
            "up",
        ])
        .ok();
    assert_eq!(out, "up\n");
    assert_eq!(
        read(&memory, "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    if memory.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            read(&memory, "memory.memsw.limit_in_bytes"),
            (256u64 << 20).to_string()
        );
    }
    assert_eq!(read(&cgroup_dir(&d, &id, "pids"), "pids.max"), "50");
    let host = inspect(&d, "up")["HostConfig"].clone();
    assert_eq!(
        (&host["Memory"], &host["PidsLimit"]),
        (&(128i64 << 20).into(), &50.into())
    );

    // Above the swap limit: moby's error, nothing changed.
    let out = d.docker(&["update", "--memory", "512m", "up"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!("Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")),
        "{out:?}"
    );
    assert_eq!(
        read(&memory, "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(inspect(&d, "up")["HostConfig"]["Memory"], 128i64 << 20);
    // Below 6 MB, through berth.
    let out = d.berth(&["update", "-m", "4m", "--memory-swap", "-1", "up"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("Minimum memory limit allowed is 6MB"),
        "{out:?}"
    );
    // A field berth cannot update is refused by name, never ignored.
    let r = d.http(
        "POST",
        "/containers/up/update",
        br#"{"KernelMemory":1048576}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "UpdateConfig.KernelMemory (--kernel-memory) is not supported by berth"
    );
    let r = d.http("POST", "/containers/up/update", br#"{"CpuShares":512}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    assert_eq!(read(&cgroup_dir(&d, &id, "cpu"), "cpu.shares"), "512");

    // Recorded: a restart's new cgroup has them.
    d.berth(&["update", "--restart", "unless-stopped", "up"])
        .ok();
    d.docker(&["restart", "-t", "0", "up"]).ok();
    let memory = cgroup_dir(&d, &id, "memory");
    assert_eq!(
        read(&memory, "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(read(&cgroup_dir(&d, &id, "pids"), "pids.max"), "50");
    assert_eq!(
        inspect(&d, "up")["HostConfig"]["RestartPolicy"]["Name"],
        "unless-stopped"
    );
    let updates = d
        .past_events(Some("container"))
        .iter()
        .filter(|e| e["Action"] == "update")
        .count();
    assert_eq!(updates, 3);
}
