//! Health checks (`HEALTHCHECK`, `--health-*`) through berthd: the probe
//! runs as an exec process in the container, `State.Health` follows moby's
//! rules, `docker ps` shows the status and filters on it, each change is a
//! `health_status` event; a probe past its timeout fails and is killed;
//! bad settings are refused at create with moby's messages.

use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `State.Health` of a container (null without a check).
fn health(d: &Daemon, name: &str) -> serde_json::Value {
    let r = d.http("GET", &format!("/containers/{name}/json"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["State"]["Health"].clone()
}

/// Waits (bounded) until the container's health status is `status`.
#[track_caller]
fn wait_status(d: &Daemon, name: &str, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = health(d, name);
        if h["Status"] == status {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became {status}: {h}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_probe_moves_the_status_through_unhealthy_and_healthy_with_events() {
    let d = ready();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "echo probing; test -f /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let sick = wait_status(&d, "doc", "unhealthy");
    assert!(
        sick["FailingStreak"].as_i64().unwrap_or_default() >= 2,
        "{sick}"
    );
    let last = &sick["Log"].as_array().expect("a log")[0];
    assert_eq!(last["ExitCode"], 1, "{sick}");
    assert_eq!(last["Output"], "probing\n", "{sick}");
    let ps = d
        .docker(&[
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}} {{.Status}}",
        ])
        .ok();
    assert!(
        ps.starts_with("doc Up ") && ps.trim_end().ends_with("(unhealthy)"),
        "{ps}"
    );

    // The probe sees what an exec changes in the container.
    d.docker(&["exec", "doc", "touch", "/tmp/ok"]).ok();
    let well = wait_status(&d, "doc", "healthy");
    assert_eq!(well["FailingStreak"], 0, "{well}");
    assert!(well["Log"].as_array().expect("a log").len() <= 5, "{well}");
    let ps = d
        .docker(&[
            "ps",
            "--filter",
            "health=healthy",
            "--format",
            "{{.Names}} {{.Status}}",
        ])
        .ok();
    assert!(ps.trim_end().ends_with("(healthy)"), "{ps}");
    assert_eq!(
        d.docker(&["ps", "-q", "--filter", "health=none"])
            .ok()
            .trim(),
        "",
        "a container with a check is not `none`"
    );
    let actions: Vec<String> = d
        .past_events(Some("container"))
        .iter()
        .filter_map(|e| e["Action"].as_str().map(str::to_owned))
        .filter(|a| a.starts_with("health_status"))
        .collect();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("health_status: unhealthy"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"health_status: healthy".to_owned()),
        "{actions:?}"
    );

    // A pause stops the monitor (moby: unhealthy); a stop too, and the
    // status is kept in the record.
    d.docker(&["pause", "doc"]).ok();
    assert_eq!(health(&d, "doc")["Status"], "unhealthy");
    d.docker(&["unpause", "doc"]).ok();
    wait_status(&d, "doc", "healthy");
    d.docker(&["stop", "-t", "0", "doc"]).ok();
    assert_eq!(health(&d, "doc")["Status"], "unhealthy");
    // A start begins again: starting, no failures.
    d.docker(&["start", "doc"]).ok();
    let again = health(&d, "doc");
    assert!(
        again["Status"] == "starting" || again["Status"] == "unhealthy",
        "{again}"
    );
    d.docker(&["rm", "-f", "doc"]).ok();
}

#[test]
fn a_probe_past_its_timeout_fails_and_no_healthcheck_has_none() {
    let d = ready();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "200ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let h = wait_status(&d, "slow", "unhealthy");
    let last = &h["Log"].as_array().expect("a log")[0];
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(
        last["Output"], "Health check exceeded timeout (200ms)",
        "{h}"
    );
    let ps = d.berth(&["ps", "--filter", "name=slow"]).ok();
    assert!(ps.contains("(unhealthy)"), "{ps}");

    d.docker(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    assert!(health(&d, "plain").is_null(), "{}", health(&d, "plain"));
    let status = d
        .docker(&["ps", "--filter", "name=plain", "--format", "{{.Status}}"])
        .ok();
    assert!(!status.contains('('), "{status}");
    d.docker(&["rm", "-f", "slow", "plain"]).ok();
}

#[test]
fn an_overdue_probe_is_killed_and_the_next_probe_runs() {
    let d = ready();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "stuck",
        "--health-cmd",
        "sleep 1000",
        "--health-timeout",
        "1s",
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    // A second timed-out probe in the log: the first one's `sleep 1000`
    // was killed (the monitor awaits an overdue probe before the next).
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let h = health(&d, "stuck");
        let log = h["Log"].as_array().cloned().unwrap_or_default();
        if log.len() >= 2 {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "no second probe: the overdue one was not killed: {h}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for entry in &log[..2] {
        assert_eq!(entry["ExitCode"], -1, "{entry}");
        assert_eq!(
            entry["Output"], "Health check exceeded timeout (1s)",
            "{entry}"
        );
    }
    // At most the probe under way runs in the container: none piled up.
    let top = d.docker(&["top", "stuck"]).ok();
    let probes = top.lines().filter(|l| l.ends_with("sleep 1000")).count();
    assert!(probes <= 1, "{top}");
    d.docker(&["rm", "-f", "stuck"]).ok();
}

#[test]
fn bad_health_settings_are_refused_at_create_with_mobys_messages() {
    let d = ready();
    let create = |check: &str| {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"Healthcheck":{check}}}"#);
        d.http("POST", "/containers/create", body.as_bytes())
    };
    for (check, message) in [
        (
            r#"{"Test":["CMD","true"],"Interval":500000}"#,
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            r#"{"Test":["CMD","true"],"Retries":-1}"#,
            "Retries in Healthcheck cannot be negative",
        ),
        (
            r#"{"Test":["HTTP","/"]}"#,
            "unknown healthcheck type 'HTTP' (expected CMD, CMD-SHELL or NONE)",
        ),
    ] {
        let r = create(check);
        assert_eq!(
            (r.status, r.json()["message"].as_str().unwrap_or_default()),
            (400, message),
            "{check}"
        );
    }
    let out = d.docker(&[
        "create",
        "--health-cmd",
        "true",
        "--health-start-period",
        "1us",
        "busybox",
    ]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr
            .contains("StartPeriod in Healthcheck cannot be less than 1ms"),
        "{out:?}"
    );
    let out = d.berth(&[
        "create",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "busybox",
    ]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr
            .contains("--no-healthcheck conflicts with --health-* options"),
        "{out:?}"
    );
    assert!(d.container_ids().is_empty(), "nothing was created");
}
