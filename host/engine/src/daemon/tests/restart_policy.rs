//! Restart policies: the backoff on tokio's paused clock, on-failure's
//! count, cancellation by the user's verbs, and the policy across a
//! daemon restart.

use super::*;
use crate::daemon::container::ContainerRecord;

/// The actions of the container events seen so far.
fn actions(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
) -> Vec<String> {
    events_seen(events, |e| (e.kind == "container").then_some(e.action))
}

fn with_policy(policy: &str) -> String {
    format!(r#"{{"Image":"busybox","Cmd":["sleep"],"HostConfig":{{"RestartPolicy":{policy}}}}}"#)
}

impl Fixture {
    /// Waits until the container's snapshot satisfies `done` (bounded: a
    /// hang fails the test).
    async fn wait_until(&self, id: &str, done: impl Fn(&container::Snapshot) -> bool) {
        let c = self.daemon.containers().get(id).unwrap();
        let mut rx = c.watch();
        tokio::time::timeout(Duration::from_secs(600), rx.wait_for(|s| done(s)))
            .await
            .expect("state change")
            .unwrap();
    }

    fn starts(&self) -> usize {
        self.runtime.start_times.lock().unwrap().len()
    }
}

#[tokio::test(start_paused = true)]
async fn always_restarts_with_a_doubling_backoff_that_resets_after_ten_seconds() {
    let f = fixture();
    let id = f
        .create(Some("a"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    f.daemon.start("a").await.unwrap();
    let mut events = f.engine.events().subscribe();
    let mut waits = Vec::new();
    for n in 1..=5u64 {
        if n == 5 {
            // A run of ten seconds or more: the backoff starts over.
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        let exited_at = tokio::time::Instant::now();
        f.runtime.exit(&id, 1);
        f.wait_until(&id, |s| s.exits == n && s.status == Status::Restarting)
            .await;
        let c = f.daemon.inspect(&id).unwrap();
        assert!(c.state.running && c.state.restarting, "{:?}", c.state);
        assert_eq!(c.restart_count, i64::try_from(n).unwrap());
        let listed = f.daemon.list(true, &Filters::default()).unwrap();
        assert!(
            listed[0].status.starts_with("Restarting (1) "),
            "{}",
            listed[0].status
        );
        f.wait_until(&id, |s| s.exits == n && s.status == Status::Running)
            .await;
        let started_at = *f.runtime.start_times.lock().unwrap().last().unwrap();
        waits.push(started_at - exited_at);
    }
    let ms = Duration::from_millis;
    assert_eq!(waits, [ms(100), ms(200), ms(400), ms(800), ms(100)]);
    assert_eq!(f.starts(), 6);
    // moby: die, then start, at each restart.
    assert_eq!(actions(&mut events), ["die", "start"].repeat(5));
    // A user start or restart begins a new run: RestartCount goes to 0.
    f.daemon.restart("a", Some(1), None).await.unwrap();
    assert_eq!(f.daemon.inspect(&id).unwrap().restart_count, 0);
}

#[tokio::test(start_paused = true)]
async fn on_failure_restarts_failures_at_most_n_times() {
    let f = fixture();
    let id = f
        .create(
            Some("of"),
            &with_policy(r#"{"Name":"on-failure","MaximumRetryCount":2}"#),
        )
        .await
        .unwrap();
    f.daemon.start("of").await.unwrap();
    for n in 1..=2u64 {
        f.runtime.exit(&id, 3);
        f.wait_until(&id, |s| s.exits == n && s.status == Status::Running)
            .await;
    }
    f.runtime.exit(&id, 3);
    f.wait_until(&id, |s| s.exits == 3).await;
    // Long past any backoff: no third restart.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let c = f.daemon.inspect(&id).unwrap();
    assert_eq!(
        (c.state.status, c.state.exit_code, c.restart_count),
        (Status::Exited, 3, 2)
    );
    assert_eq!(f.starts(), 3);

    // A clean exit is no failure.
    f.daemon.start("of").await.unwrap();
    f.runtime.exit(&id, 0);
    f.wait_until(&id, |s| s.exits == 4).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(f.daemon.inspect(&id).unwrap().state.status, Status::Exited);
    assert_eq!(f.starts(), 4);
}

#[tokio::test(start_paused = true)]
async fn stop_of_a_restarting_container_cancels_the_restart() {
    let f = fixture();
    let id = f
        .create(Some("s"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    f.daemon.start("s").await.unwrap();
    f.runtime.exit(&id, 1);
    f.wait_until(&id, |s| s.status == Status::Restarting).await;
    let mut events = f.engine.events().subscribe();
    f.daemon.stop("s", None, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!(
        (
            state.status,
            state.running,
            state.restarting,
            state.exit_code
        ),
        (Status::Exited, false, false, 1)
    );
    assert_eq!(f.starts(), 1);
    // No process to signal: only the stop is told.
    assert_eq!(actions(&mut events), ["stop"]);
    assert!(f.runtime.signals_sent().is_empty());
    // Stopped already: a second stop is NotModified.
    let again = f.daemon.stop("s", None, None).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotModified);
}

#[tokio::test(start_paused = true)]
async fn a_user_stop_or_kill_of_a_running_container_is_not_restarted() {
    let f = fixture();
    for (name, policy) in [("st", "always"), ("us", "unless-stopped")] {
        f.create(
            Some(name),
            &with_policy(&format!(r#"{{"Name":"{policy}"}}"#)),
        )
        .await
        .unwrap();
        f.daemon.start(name).await.unwrap();
    }
    f.daemon.stop("st", None, None).await.unwrap();
    f.daemon.kill("us", None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    for name in ["st", "us"] {
        let state = f.daemon.inspect(name).unwrap().state;
        assert_eq!(state.status, Status::Exited, "{name}");
    }
    assert_eq!(f.starts(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_kill_with_another_signal_restarts_always_but_not_unless_stopped() {
    let f = fixture();
    for (name, policy) in [("al", "always"), ("un", "unless-stopped")] {
        f.create(
            Some(name),
            &with_policy(&format!(r#"{{"Name":"{policy}"}}"#)),
        )
        .await
        .unwrap();
        f.daemon.start(name).await.unwrap();
        // The fake ends on any signal: SIGUSR1 ends it with 138.
        f.daemon.kill(name, Some("SIGUSR1")).await.unwrap();
    }
    // moby: a signal other than SIGKILL and the stop signal does not end
    // the policy's run, but the container counts as stopped by the user.
    f.wait_until("al", |s| s.exits == 1 && s.status == Status::Running)
        .await;
    f.wait_until("un", |s| s.exits == 1).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let un = f.daemon.inspect("un").unwrap();
    assert_eq!((un.state.status, un.restart_count), (Status::Exited, 0));
    assert_eq!(f.daemon.inspect("al").unwrap().restart_count, 1);
}

#[tokio::test(start_paused = true)]
async fn rm_force_and_kill_end_a_pending_restart() {
    let f = fixture();
    let gone = f
        .create(Some("gone"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    let killed = f
        .create(Some("killed"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    for id in [&gone, &killed] {
        f.daemon.start(id).await.unwrap();
        f.runtime.exit(id, 1);
        f.wait_until(id, |s| s.status == Status::Restarting).await;
    }
    // moby's refusals while it waits.
    for refused in [
        f.daemon.pause("gone").await.unwrap_err(),
        f.daemon.top("gone", "").await.unwrap_err(),
    ] {
        assert_eq!(
            (refused.kind, refused.message),
            (
                ErrorKind::Conflict,
                format!("Container {gone} is restarting, wait until the container is running")
            )
        );
    }
    // Running in its state (as moby): rm without force refuses.
    let refused = f.daemon.remove("gone", false).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Conflict);
    f.daemon.remove("gone", true).await.unwrap();
    f.daemon.kill("killed", None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(f.daemon.containers().get(&gone).is_err());
    assert_eq!(
        f.daemon.inspect("killed").unwrap().state.status,
        Status::Exited
    );
    assert_eq!(f.starts(), 2);
    // Neither had a process to signal.
    assert!(f.runtime.signals_sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn restore_goes_on_with_a_restart_the_old_daemon_was_waiting_for() {
    let f = fixture();
    let id = f
        .create(Some("r"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    // What the record says when berthd was killed during a backoff.
    let mut record: ContainerRecord = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    record.state.status = Status::Restarting;
    record.state.running = true;
    record.state.restarting = true;
    record.state.exit_code = 1;
    record.state.started_at = "2026-01-01T00:00:00Z".into();
    record.state.finished_at = "2026-01-01T00:00:01Z".into();
    record.restart_count = 3;
    f.store.put(CONTAINERS, &id, &record).unwrap();
    let f = f.restart(FakeRuntime::exited_meanwhile(1));
    let mut events = f.engine.events().subscribe();
    f.daemon.restore().await.unwrap();
    f.wait_until(&id, |s| s.status == Status::Running).await;
    let c = f.daemon.inspect(&id).unwrap();
    assert_eq!((c.state.running, c.restart_count), (true, 3));
    // The exit was told by the old daemon: only the start now.
    assert_eq!(actions(&mut events), ["start"]);
}

#[tokio::test(start_paused = true)]
async fn restore_restarts_a_container_that_exited_while_the_daemon_was_away() {
    let f = fixture();
    let id = f
        .create(Some("m"), &with_policy(r#"{"Name":"on-failure"}"#))
        .await
        .unwrap();
    f.daemon.start("m").await.unwrap();
    let f = f.restart(FakeRuntime::exited_meanwhile(2));
    let mut events = f.engine.events().subscribe();
    f.daemon.restore().await.unwrap();
    f.wait_until(&id, |s| s.status == Status::Running).await;
    assert_eq!(f.daemon.inspect(&id).unwrap().restart_count, 1);
    assert_eq!(actions(&mut events), ["die", "start"]);
}

#[tokio::test(start_paused = true)]
async fn at_daemon_start_always_comes_back_and_a_stopped_unless_stopped_stays() {
    let f = fixture();
    let mut ids = Vec::new();
    for (name, policy) in [
        ("al", "always"),
        ("us", "unless-stopped"),
        ("no", "no"),
        ("usx", "unless-stopped"),
    ] {
        ids.push(
            f.create(
                Some(name),
                &with_policy(&format!(r#"{{"Name":"{policy}"}}"#)),
            )
            .await
            .unwrap(),
        );
    }
    for name in ["al", "us", "no"] {
        f.daemon.start(name).await.unwrap();
        f.daemon.stop(name, None, None).await.unwrap();
    }
    // Never started: nothing to come back to.
    let f = f.restart(Arc::new(FakeRuntime::default()));
    f.daemon.restore().await.unwrap();
    f.wait_until(&ids[0], |s| s.status == Status::Running).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let status = |name: &str| f.daemon.inspect(name).unwrap().state.status;
    assert_eq!(status("al"), Status::Running);
    assert_eq!(status("us"), Status::Exited);
    assert_eq!(status("no"), Status::Exited);
    assert_eq!(status("usx"), Status::Created);
    assert_eq!(f.starts(), 1);
}

#[tokio::test(start_paused = true)]
async fn wait_not_running_returns_at_an_exit_the_policy_restarts() {
    let f = fixture();
    let id = f
        .create(Some("w"), &with_policy(r#"{"Name":"always"}"#))
        .await
        .unwrap();
    f.daemon.start("w").await.unwrap();
    let daemon = Arc::clone(&f.daemon);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let registered = async {
            let _ = tx.send(());
        };
        daemon
            .wait("w", WaitCondition::NotRunning, registered)
            .await
    });
    rx.await.unwrap();
    f.runtime.exit(&id, 7);
    assert_eq!(waiter.await.unwrap().unwrap(), 7);
}
