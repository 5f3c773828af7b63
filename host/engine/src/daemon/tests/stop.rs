//! Stop, kill, pause and unpause.

use super::*;

#[tokio::test]
async fn stop_escalates_to_sigkill() {
    let f = fixture();
    let id = f
        .create(Some("ss"), r#"{"Image":"busybox","Cmd":["ignore-term"]}"#)
        .await
        .unwrap();
    f.daemon.start("ss").await.unwrap();
    let mut events = f.engine.events().subscribe();
    f.daemon.stop("ss", Some(0), None).await.unwrap();
    // moby's events: a `kill` per signal delivered, then the exit and the stop.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        let signal = e
            .actor
            .attributes
            .get("signal")
            .cloned()
            .unwrap_or_default();
        seen.push(format!("{} {signal}", e.action).trim().to_owned());
    }
    assert_eq!(seen, ["kill 15", "kill 9", "die", "stop"]);
    let signals: Vec<i32> = f
        .runtime
        .signals
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(signals, [15, 9]);
    f.wait_status(&id, Status::Exited).await;
    assert_eq!(f.daemon.inspect(&id).unwrap().state.exit_code, 137);
    assert_eq!(
        f.daemon.stop("ss", None, None).await.unwrap_err().kind,
        ErrorKind::NotModified
    );
}

#[tokio::test]
async fn pause_and_unpause_freeze_and_thaw_with_dockers_errors() {
    let f = fixture();
    let id = f
        .create(Some("pz"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let err = f.daemon.pause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is not running"));
    f.daemon.start("pz").await.unwrap();
    let err = f.daemon.unpause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is not paused"));

    f.daemon.pause("pz").await.unwrap();
    let state = f.daemon.inspect("pz").unwrap().state;
    assert_eq!(
        (state.status, state.paused, state.running),
        (Status::Paused, true, true)
    );
    assert!(human_status(&state, Utc::now()).ends_with(" (Paused)"));
    let err = f.daemon.pause("pz").await.unwrap_err();
    assert_eq!(err.message, format!("Container {id} is already paused"));
    // The paused state survives in the store.
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert!(stored.state.paused);

    f.daemon.unpause("pz").await.unwrap();
    let state = f.daemon.inspect("pz").unwrap().state;
    assert_eq!((state.status, state.paused), (Status::Running, false));
    assert_eq!(
        *f.runtime.freezer.lock().unwrap(),
        [(id.clone(), true), (id.clone(), false)]
    );
}

#[tokio::test]
async fn stopping_a_paused_container_thaws_it_after_the_signal() {
    let f = fixture();
    let id = f
        .create(Some("ps"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("ps").await.unwrap();
    f.daemon.pause("ps").await.unwrap();
    // A signal that does not end it leaves it frozen.
    f.daemon.kill("ps", Some("USR1")).await.unwrap();
    assert!(f.daemon.inspect("ps").unwrap().state.paused);
    f.daemon.stop("ps", Some(5), None).await.unwrap();
    let state = f.daemon.inspect("ps").unwrap().state;
    assert_eq!(state.status, Status::Exited);
    assert_eq!(
        *f.runtime.freezer.lock().unwrap(),
        [(id.clone(), true), (id.clone(), false)]
    );
    assert_eq!(
        f.runtime.signals_sent(),
        [(id.clone(), 10), (id.clone(), 15)]
    );
}
