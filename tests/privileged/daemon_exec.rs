//! `docker exec` through berthd (issue 10): the real `docker` CLI, the API
//! and `berth exec` against one daemon; the process runs in the container's
//! namespaces and cgroup with its capabilities, and its exit code is the
//! client's.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `State.Pid` of a container.
#[track_caller]
fn init_pid(d: &Daemon, name: &str) -> i64 {
    let r = d.http("GET", &format!("/containers/{name}/json"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["State"]["Pid"].as_i64().unwrap_or_default()
}

/// The `CapEff` line of `/proc/self/status` printed by `out`.
fn cap_eff(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in {out:?}"))
        .trim()
        .to_owned()
}

#[test]
fn docker_exec_runs_in_the_container_with_its_output_and_exit_code() {
    let d = ready();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "box",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    assert_eq!(d.docker(&["exec", "box", "echo", "hi"]).ok(), "hi\n");
    // The exit code is the exec's (the CLI reads it when the stream ends).
    let out = d.docker(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.code(), 3, "{out:?}");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "err\n")
    );
    // -e over the container's environment, -w.
    let env = d
        .docker(&[
            "exec",
            "-e",
            "FROM_EXEC=2",
            "-w",
            "/tmp",
            "box",
            "sh",
            "-c",
            "echo $FROM_RUN $FROM_EXEC $(pwd) $HOME",
        ])
        .ok();
    assert_eq!(env, "1 2 /tmp /root\n");
    // -u: numeric, and a name from the container's own /etc/passwd.
    assert_eq!(
        d.docker(&["exec", "-u", "1000", "box", "id", "-u"]).ok(),
        "1000\n"
    );
    assert_eq!(
        d.docker(&["exec", "-u", "nobody", "box", "id", "-un"]).ok(),
        "nobody\n"
    );
    // The container's capabilities (Docker's default set), all with
    // --privileged.
    let plain = cap_eff(
        &d.docker(&["exec", "box", "grep", "Cap", "/proc/self/status"])
            .ok(),
    );
    assert_eq!(plain, "00000000a80425fb");
    let privileged = cap_eff(
        &d.docker(&[
            "exec",
            "--privileged",
            "box",
            "grep",
            "Cap",
            "/proc/self/status",
        ])
        .ok(),
    );
    assert_ne!(privileged, plain);
    assert!(
        u64::from_str_radix(&privileged, 16).unwrap() > 0xa80425fb,
        "{privileged}"
    );
    // Its pid namespace: the container's init is PID 1 there, and the exec
    // process is in the container's cgroup.
    let ps = d.docker(&["exec", "box", "ps", "-o", "pid,comm"]).ok();
    assert!(ps.contains("    1 sleep"), "{ps}");
    let init = init_pid(&d, "box");
    let init_cgroup = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let memory = |text: &str| {
        text.lines()
            .find(|l| l.contains(":memory:"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no memory line in {text}"))
    };
    // What the host sees of a (detached) exec process: it is listed in
    // the container's cgroup, and its memory cgroup is init's.
    let long = d.docker(&["exec", "-d", "box", "sleep", "77"]).ok();
    assert!(long.is_empty(), "{long}");
    let pids = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/pids/{}/{}/cgroup.procs",
        d.cgroup_parent(),
        d.http("GET", "/containers/box/json", b"").json()["Id"]
            .as_str()
            .unwrap()
    ))
    .expect("the container's pids cgroup");
    let sleeper = pids
        .lines()
        .filter_map(|p| p.parse::<u32>().ok())
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c == "sleep\x0077\x00")
        })
        .unwrap_or_else(|| panic!("the detached exec is not in the container's cgroup: {pids}"));
    assert_eq!(
        memory(&std::fs::read_to_string(format!("/proc/{sleeper}/cgroup")).unwrap()),
        memory(&init_cgroup)
    );
    // In every hierarchy (on cgroup v1 the exec moves itself through each
    // `tasks` file), as init is.
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{sleeper}/cgroup")).unwrap(),
        init_cgroup
    );
    // Each exec gets the container's seccomp filter, the first one and the
    // next ones (the shim keeps the compiled program).
    for _ in 0..2 {
        let status = d
            .docker(&["exec", "box", "grep", "^Seccomp:", "/proc/self/status"])
            .ok();
        assert_eq!(status, "Seccomp:\t2\n");
    }
    // stdin piped, half-closed at its end.
    let out = d.docker_with_input(&["exec", "-i", "box", "cat"], Some(b"hi\n"));
    assert_eq!(out.ok(), "hi\n");
    // A command that does not exist: Docker's 127, its message.
    let out = d.docker(&["exec", "box", "no-such-command"]);
    assert_eq!(out.code(), 127, "{out:?}");
    assert!(
        out.stdout.contains("executable file not found")
            || out.stderr.contains("executable file not found"),
        "{out:?}"
    );
    // Events, as moby names them.
    let actions: Vec<String> = d
        .past_events(Some("container"))
        .iter()
        .filter_map(|e| e["Action"].as_str().map(str::to_owned))
        .filter(|a| a.starts_with("exec_"))
        .collect();
    assert!(
        actions.contains(&"exec_create: echo hi".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"exec_start: echo hi".to_owned()),
        "{actions:?}"
    );
    assert!(actions.contains(&"exec_die".to_owned()), "{actions:?}");
    d.docker(&["rm", "-f", "box"]).ok();
}

#[test]
fn exec_into_a_stopped_paused_or_missing_container_is_refused_and_berthd_serves_on() {
    let d = ready();
    d.docker(&["create", "--name", "idle", "busybox", "sleep", "1000"])
        .ok();
    let id = d.http("GET", "/containers/idle/json", b"").json()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = d.docker(&["exec", "idle", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("Container {id} is not running")),
        "{out:?}"
    );
    d.docker(&["start", "idle"]).ok();
    d.docker(&["pause", "idle"]).ok();
    let out = d.docker(&["exec", "idle", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("Container idle is paused, unpause the container before exec"),
        "{out:?}"
    );
    d.docker(&["unpause", "idle"]).ok();
    let out = d.docker(&["exec", "nope", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("No such container: nope"), "{out:?}");
    // Through the API: moby's codes and messages.
    let r = d.http("POST", "/containers/idle/exec", br#"{"Cmd":[]}"#);
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap()),
        (400, "No exec command specified")
    );
    let r = d.http("GET", "/exec/deadbeef/json", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str().unwrap()),
        (404, "No such exec instance: deadbeef")
    );
    let r = d.http(
        "POST",
        "/containers/idle/exec",
        br#"{"Cmd":["sh","-c","exit 4"]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().unwrap().to_owned();
    let r = d.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        br#"{"Detach":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The detached exec ends on its own; its exit code is kept.
    let mut inspect = serde_json::Value::Null;
    for _ in 0..500 {
        inspect = d.http("GET", &format!("/exec/{exec_id}/json"), b"").json();
        if inspect["Running"] == false && !inspect["ExitCode"].is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(inspect["ExitCode"], 4, "{inspect}");
    assert_eq!(inspect["ContainerID"], id.as_str());
    assert_eq!(inspect["ProcessConfig"]["entrypoint"], "sh");
    assert!(inspect["Pid"].as_i64().unwrap() > 0, "{inspect}");
    let r = d.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        br#"{"Detach":true}"#,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // berthd serves on.
    assert_eq!(d.docker(&["exec", "idle", "echo", "still"]).ok(), "still\n");
    d.docker(&["rm", "-f", "idle"]).ok();
}

#[test]
fn kill_9_of_berthd_while_an_exec_runs_leaves_the_truth_in_inspect() {
    let mut d = ready();
    d.docker(&["run", "-d", "--name", "k9", "busybox", "sleep", "1000"])
        .ok();
    let r = d.http(
        "POST",
        "/containers/k9/exec",
        br#"{"Cmd":["sleep","1000"]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().unwrap().to_owned();
    let r = d.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        br#"{"Detach":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let inspect = d.http("GET", "/containers/k9/json", b"").json();
    assert_eq!(
        inspect["ExecIDs"],
        serde_json::json!([exec_id]),
        "{inspect}"
    );
    d.kill9();
    d.restart();
    let inspect = d.http("GET", "/containers/k9/json", b"").json();
    assert_eq!(inspect["State"]["Running"], true, "{inspect}");
    assert!(
        inspect["ExecIDs"].is_null(),
        "execs are not kept over a restart: {inspect}"
    );
    let r = d.http("GET", &format!("/exec/{exec_id}/json"), b"");
    assert_eq!(r.status, 404, "{}", r.text());
    // The container still takes execs, and stops with its exec inside.
    assert_eq!(d.docker(&["exec", "k9", "echo", "back"]).ok(), "back\n");
    d.docker(&["rm", "-f", "k9"]).ok();
}

#[test]
fn berth_exec_takes_dockers_flags_and_exits_with_the_exec_status() {
    let d = ready();
    d.berth(&["run", "-d", "--name", "be", "busybox", "sleep", "1000"])
        .ok();
    assert_eq!(d.berth(&["exec", "be", "echo", "hi"]).ok(), "hi\n");
    let out = d.berth(&["exec", "be", "sh", "-c", "echo err >&2; exit 7"]);
    assert_eq!((out.code(), out.stderr.as_str()), (7, "err\n"), "{out:?}");
    let env_file = d.dir().join("exec.env");
    std::fs::write(&env_file, "# a comment\n\nFROM_FILE=f\n").unwrap();
    let out = d
        .berth(&[
            "exec",
            "-e",
            "FROM_FLAG=e",
            "--env-file",
            env_file.to_str().unwrap(),
            "-w",
            "/etc",
            "-u",
            "1000:1000",
            "be",
            "sh",
            "-c",
            "echo $FROM_FLAG $FROM_FILE $(pwd) $(id -u):$(id -g)",
        ])
        .ok();
    assert_eq!(out, "e f /etc 1000:1000\n");
    let caps = cap_eff(
        &d.berth(&[
            "exec",
            "--privileged",
            "be",
            "grep",
            "Cap",
            "/proc/self/status",
        ])
        .ok(),
    );
    assert_ne!(caps, "00000000a80425fb");
    let out = d.berth_with_input(&["exec", "-i", "be", "tr", "a-z", "A-Z"], Some(b"piped\n"));
    assert_eq!(out.ok(), "PIPED\n");
    assert_eq!(d.berth(&["exec", "-d", "be", "sleep", "5"]).ok(), "");
    let out = d.berth(&["exec", "gone", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("No such container: gone"), "{out:?}");
    d.berth(&["rm", "-f", "be"]).ok();
}

#[test]
fn tty_execs_get_a_terminal_of_the_clients_size_and_follow_it() {
    use crate::daemon_tty::{OnPty, PRINT_SIZE_PER_LINE};
    let d = ready();
    d.berth(&["run", "-d", "--name", "tt", "busybox", "sleep", "1000"])
        .ok();
    let mut t = OnPty::spawn(
        &d,
        &["exec", "-it", "tt", "sh", "-c", PRINT_SIZE_PER_LINE],
        24,
        80,
    );
    t.expect_size("24 80");
    t.resize(50, 120);
    t.expect_size("50 120");
    assert_eq!(t.finish(), 0);
    // The docker CLI's -t: the process has a terminal.
    let out = d.docker(&["exec", "-t", "tt", "sh", "-c", "test -t 1 && echo on-a-tty"]);
    assert_eq!(out.ok(), "on-a-tty\r\n");
    // The API's ConsoleSize reaches the terminal; the stream is raw.
    let r = d.http(
        "POST",
        "/containers/tt/exec",
        br#"{"Cmd":["stty","size"],"Tty":true,"AttachStdout":true,"ConsoleSize":[33,101]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().unwrap().to_owned();
    let (head, mut stream) = d.http_hijack(&format!("/exec/{exec_id}/start"));
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stream, &mut out).unwrap();
    assert_eq!(out, "33 101\r\n");
    d.berth(&["rm", "-f", "tt"]).ok();
}
