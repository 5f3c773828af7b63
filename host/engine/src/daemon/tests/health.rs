//! Health checks against the recording fake runtime: the monitor probes
//! through the exec driver with the container's user and working
//! directory, moves the status as moby does, publishes `health_status`
//! events, and stops (unhealthy) on pause and exit.

use std::time::Duration;

use super::*;

/// Creates and starts `name` with `check` as its `Healthcheck`.
async fn checked(f: &Fixture, name: &str, check: &str) {
    let body = format!(
        r#"{{"Image":"busybox","Cmd":["sleep"],"User":"guest","WorkingDir":"/srv","Healthcheck":{check}}}"#
    );
    f.create(Some(name), &body).await.unwrap();
    f.daemon.start(name).await.unwrap();
}

/// The health status once `done` holds (bounded).
async fn health_when(
    f: &Fixture,
    name: &str,
    done: impl Fn(&berth_api::container::Health) -> bool,
) -> berth_api::container::Health {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = f.daemon.inspect(name).unwrap().state;
        if let Some(h) = state.health.as_ref().filter(|h| done(h)) {
            return h.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: the health never got there: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn health_events(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
) -> Vec<String> {
    events_seen(events, |e| {
        e.action.starts_with("health_status").then_some(e.action)
    })
}

#[tokio::test]
async fn failing_probes_make_it_unhealthy_after_the_retries() {
    let f = fixture();
    let mut events = f.engine.events().subscribe();
    checked(
        &f,
        "sick",
        r#"{"Test":["CMD","exit","1"],"Interval":5000000,"Retries":2}"#,
    )
    .await;
    let h = health_when(&f, "sick", |h| h.status == "unhealthy").await;
    assert!(h.failing_streak >= 2, "{h:?}");
    assert!(h.log.iter().all(|r| r.exit_code == 1), "{h:?}");
    assert_eq!(health_events(&mut events), ["health_status: unhealthy"]);
    // The probe ran as the container's user in its working directory,
    // without stdin, a tty or privileges (moby's cmdProbe).
    let execs = f.runtime.execs.lock().unwrap().clone();
    let (_, _, config) = execs.first().expect("a probe ran");
    assert_eq!(config.command, ["exit", "1"]);
    assert_eq!(config.user, "guest");
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));
    assert!(
        !config.tty && !config.privileged && !config.attach.stdin,
        "{config:?}"
    );
    // ps says so, and filters on it.
    let list = f
        .daemon
        .list(
            true,
            &Filters::parse(r#"{"health":["unhealthy"]}"#).unwrap(),
        )
        .unwrap();
    assert_eq!(list.len(), 1);
    assert!(
        list[0].status.ends_with("(unhealthy)"),
        "{}",
        list[0].status
    );
    let none = f
        .daemon
        .list(true, &Filters::parse(r#"{"health":["none"]}"#).unwrap())
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn a_passing_probe_makes_it_healthy_and_a_shell_check_runs_bin_sh() {
    let f = fixture();
    checked(
        &f,
        "well",
        r#"{"Test":["CMD","echo","fine"],"Interval":5000000}"#,
    )
    .await;
    let h = health_when(&f, "well", |h| h.status == "healthy").await;
    assert_eq!(h.failing_streak, 0);
    assert_eq!(h.log[0].output, "fine\n");
    let list = f.daemon.list(true, &Filters::default()).unwrap();
    assert!(list[0].status.ends_with("(healthy)"), "{}", list[0].status);

    // CMD-SHELL goes through /bin/sh -c (the fake ends a command it does
    // not know with 137, so only the command line is checked).
    checked(
        &f,
        "shell",
        r#"{"Test":["CMD-SHELL","echo hi"],"Interval":5000000,"Timeout":20000000}"#,
    )
    .await;
    health_when(&f, "shell", |h| !h.log.is_empty()).await;
    let execs = f.runtime.execs.lock().unwrap().clone();
    assert!(
        execs
            .iter()
            .any(|(_, _, c)| c.command == ["/bin/sh", "-c", "echo hi"]),
        "{execs:?}"
    );
}

#[tokio::test]
async fn a_probe_past_its_timeout_fails_with_mobys_output_is_killed_and_the_next_runs() {
    let f = fixture();
    checked(
        &f,
        "slow",
        r#"{"Test":["CMD","wait"],"Interval":5000000,"Timeout":20000000,"Retries":1}"#,
    )
    .await;
    let h = health_when(&f, "slow", |h| h.status == "unhealthy").await;
    assert_eq!(h.log[0].exit_code, -1);
    assert_eq!(h.log[0].output, "Health check exceeded timeout (20ms)");
    // moby kills the overdue probe (SIGKILL), then the next one runs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while f.runtime.execs.lock().unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no probe after the overdue one"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let execs = f.runtime.execs.lock().unwrap().clone();
    let kills = f.runtime.exec_kills.lock().unwrap().clone();
    assert_eq!(kills[0], (execs[0].0.clone(), execs[0].1.clone(), 9));
}

#[tokio::test]
async fn an_overdue_probe_that_outlives_its_kill_is_awaited_before_the_next() {
    let f = fixture();
    checked(
        &f,
        "stuck",
        r#"{"Test":["CMD","stubborn"],"Interval":5000000,"Timeout":20000000,"Retries":1}"#,
    )
    .await;
    health_when(&f, "stuck", |h| h.status == "unhealthy").await;
    // Killed, but it runs on: no second probe starts until it ends, so
    // probes never pile up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while f.runtime.exec_kills.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never killed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let execs = f.runtime.execs.lock().unwrap().clone();
    assert_eq!(execs.len(), 1, "{execs:?}");
    f.runtime.end_exec(&execs[0].1, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while f.runtime.execs.lock().unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no probe after the overdue one ended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn pause_and_exit_stop_the_monitor_and_leave_it_unhealthy() {
    let f = fixture();
    let mut events = f.engine.events().subscribe();
    checked(
        &f,
        "doc",
        r#"{"Test":["CMD","echo","ok"],"Interval":5000000}"#,
    )
    .await;
    health_when(&f, "doc", |h| h.status == "healthy").await;
    f.daemon.pause("doc").await.unwrap();
    let paused = f.daemon.inspect("doc").unwrap().state.health.unwrap();
    assert_eq!(paused.status, "unhealthy");
    let probes = f.runtime.execs.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        f.runtime.execs.lock().unwrap().len(),
        probes,
        "no probe while paused"
    );
    f.daemon.unpause("doc").await.unwrap();
    health_when(&f, "doc", |h| h.status == "healthy").await;
    // An exit stops it too; the status is persisted with the exit.
    let id = f.daemon.inspect("doc").unwrap().id;
    f.runtime.exit(&id, 0);
    f.wait_status(&id, Status::Exited).await;
    let stopped = f.daemon.inspect("doc").unwrap().state.health.unwrap();
    assert_eq!(stopped.status, "unhealthy");
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert_eq!(stored.state.health.unwrap().status, "unhealthy");
    let seen = health_events(&mut events);
    assert_eq!(
        seen.first().map(String::as_str),
        Some("health_status: healthy"),
        "{seen:?}"
    );
    // A new start begins again at starting.
    f.daemon.start("doc").await.unwrap();
    let again = f.daemon.inspect("doc").unwrap().state.health.unwrap();
    assert!(
        again.status == "starting" || again.status == "healthy",
        "{again:?}"
    );
}

#[tokio::test]
async fn no_check_or_none_means_no_health() {
    let f = fixture();
    f.create(Some("plain"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.create(
        Some("off"),
        r#"{"Image":"busybox","Cmd":["sleep"],"Healthcheck":{"Test":["NONE"]}}"#,
    )
    .await
    .unwrap();
    for name in ["plain", "off"] {
        f.daemon.start(name).await.unwrap();
        assert_eq!(f.daemon.inspect(name).unwrap().state.health, None, "{name}");
    }
    let none = f
        .daemon
        .list(true, &Filters::parse(r#"{"health":["none"]}"#).unwrap())
        .unwrap();
    assert_eq!(none.len(), 2);
    assert!(f.runtime.execs.lock().unwrap().is_empty());
}
