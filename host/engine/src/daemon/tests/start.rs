//! Start: the running state, the exit, and a failed start.

use super::*;

#[tokio::test]
async fn start_exit_and_wait() {
    let f = fixture();
    let id = f
        .create(Some("xx"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let waiter = {
        let d = Arc::clone(&f.daemon);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            d.wait("xx", WaitCondition::NextExit, async {
                let _ = tx.send(());
            })
            .await
        });
        rx.await.unwrap();
        task
    };
    f.daemon.start("xx").await.unwrap();
    let inspect = f.daemon.inspect("xx").unwrap();
    assert!(inspect.state.running);
    assert_eq!(inspect.state.pid, 4242);
    assert_eq!(
        f.daemon.start("xx").await.unwrap_err().kind,
        ErrorKind::NotModified
    );
    assert_eq!(
        f.daemon.remove("xx", false).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert!(
        f.daemon.list(false, &Filters::default()).unwrap()[0]
            .status
            .starts_with("Up ")
    );

    f.runtime.exit(&id, 3);
    assert_eq!(waiter.await.unwrap().unwrap(), 3);
    f.wait_status(&id, Status::Exited).await;
    let state = f.daemon.inspect("xx").unwrap().state;
    assert_eq!((state.exit_code, state.running, state.pid), (3, false, 0));
    assert!(
        f.images
            .calls
            .lock()
            .unwrap()
            .contains(&format!("unmount {id}"))
    );
    // Persisted.
    let stored = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    assert_eq!(stored.state.exit_code, 3);
    // not-running returns at once for a stopped container.
    assert_eq!(
        f.daemon
            .wait("xx", WaitCondition::NotRunning, async {})
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        f.daemon.kill("xx", None).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn failed_start_records_the_error() {
    let f = fixture();
    f.create(Some("mm"), r#"{"Image":"busybox","Cmd":["missing"]}"#)
        .await
        .unwrap();
    let err = f.daemon.start("mm").await.unwrap_err();
    assert!(err.message.contains("executable file not found"));
    let state = f.daemon.inspect("mm").unwrap().state;
    assert_eq!((state.running, state.exit_code), (false, 127));
    assert!(state.error.contains("executable file not found"));
    // With --rm the container does not outlive its failed start.
    f.create(
        Some("rm"),
        r#"{"Image":"busybox","Cmd":["missing"],"HostConfig":{"AutoRemove":true}}"#,
    )
    .await
    .unwrap();
    assert!(f.daemon.start("rm").await.is_err());
    assert!(f.daemon.containers().get("rm").is_err());
    assert!(f.store.get(NAMES, "rm").unwrap().is_none());
}
