//! Restart: stop with stop's semantics, then start.

use super::*;

/// The actions of the container events seen so far.
fn actions(
    events: &mut tokio::sync::broadcast::Receiver<berth_api::event::EventMessage>,
) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == "container" {
            seen.push(e.action);
        }
    }
    seen
}

#[tokio::test]
async fn restart_stops_then_starts_a_running_container_with_moby_events() {
    let f = fixture();
    let id = f
        .create(Some("rs"), r#"{"Image":"busybox","Cmd":["ignore-term"]}"#)
        .await
        .unwrap();
    f.daemon.start("rs").await.unwrap();
    let mut events = f.engine.events().subscribe();
    // t=0 and a process that ignores SIGTERM: stop's escalation, then a
    // second start.
    f.daemon.restart("rs", Some(0), None).await.unwrap();
    let signals: Vec<i32> = f
        .runtime
        .signals
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(signals, [15, 9]);
    assert_eq!(f.runtime.started.lock().unwrap().len(), 2);
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!((state.status, state.running), (Status::Running, true));
    assert_eq!(
        actions(&mut events),
        ["kill", "kill", "die", "stop", "start", "restart"]
    );
}

#[tokio::test]
async fn restart_takes_the_signal_of_the_request_and_starts_a_stopped_container() {
    let f = fixture();
    f.create(Some("rq"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    // Never started: a restart starts it.
    f.daemon.restart("rq", None, None).await.unwrap();
    assert!(f.daemon.inspect("rq").unwrap().state.running);
    assert!(f.runtime.signals_sent().is_empty());
    f.daemon
        .restart("rq", Some(5), Some("SIGUSR1"))
        .await
        .unwrap();
    let signals: Vec<i32> = f
        .runtime
        .signals
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(signals, [10]);
    assert!(f.daemon.inspect("rq").unwrap().state.running);
}

#[tokio::test]
async fn restart_keeps_an_auto_remove_container() {
    let f = fixture();
    let id = f
        .create(
            Some("rm1"),
            r#"{"Image":"busybox","Cmd":["sleep"],"HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    f.daemon.start("rm1").await.unwrap();
    f.daemon.restart("rm1", Some(1), None).await.unwrap();
    assert!(f.daemon.inspect(&id).unwrap().state.running);
    // Its next exit still removes it.
    f.runtime.exit(&id, 0);
    let c = f.daemon.containers().get(&id).unwrap();
    let mut rx = c.watch();
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.removed))
        .await
        .expect("auto-removed")
        .unwrap();
}

#[tokio::test]
async fn restart_refuses_with_mobys_errors() {
    let f = fixture();
    let err = f.daemon.restart("nope", None, None).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such container: nope")
    );
    f.create(Some("rb"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let err = f
        .daemon
        .restart("rb", None, Some("SIGNOPE"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter, "{err}");
    assert!(f.runtime.started.lock().unwrap().is_empty());
    // A start that fails is moby's "Cannot restart container".
    f.create(Some("rx"), r#"{"Image":"busybox","Cmd":["missing"]}"#)
        .await
        .unwrap();
    let err = f.daemon.restart("rx", None, None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal);
    assert!(
        err.message
            .starts_with("Cannot restart container rx: exec: \"missing\""),
        "{err}"
    );
}

#[tokio::test]
async fn the_restart_job_passes_t_and_signal() {
    let f = fixture();
    f.create(Some("rj"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("rj").await.unwrap();
    let (job, streams) = Job::new("container_restart");
    let job = job.arg("rj").env("t", "3").env("signal", "HUP");
    let (result, _) = f.run_job(job, streams).await;
    result.unwrap();
    let signals: Vec<i32> = f
        .runtime
        .signals
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(signals, [1]);
    assert!(f.daemon.inspect("rj").unwrap().state.running);
}
