//! Rename: validated like create, moby's conflict, the old name freed,
//! persisted in one transaction.

use super::*;

#[tokio::test]
async fn rename_moves_the_name_frees_the_old_one_and_survives_a_daemon_restart() {
    let f = fixture();
    let id = f
        .create(Some("old"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("old").await.unwrap();
    let mut events = f.engine.events().subscribe();
    f.daemon.rename("old", "/new").await.unwrap();
    assert_eq!(f.daemon.containers().get("new").unwrap().id, id);
    assert_eq!(f.daemon.inspect(&id).unwrap().name, "/new");
    assert_eq!(
        f.daemon.containers().get("old").unwrap_err().kind,
        ErrorKind::NotFound
    );
    let e = events.try_recv().unwrap();
    assert_eq!(
        (e.kind.as_str(), e.action.as_str()),
        ("container", "rename")
    );
    assert_eq!(e.actor.attributes["oldName"], "/old");
    assert_eq!(e.actor.attributes["name"], "new");
    // The old name is free for a new container.
    f.create(Some("old"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    // The store holds the rename: the record and the name table.
    assert_eq!(
        f.store.get(NAMES, "new").unwrap().as_deref(),
        Some(id.as_str())
    );
    assert_ne!(
        f.store.get(NAMES, "old").unwrap().as_deref(),
        Some(id.as_str())
    );
    assert_eq!(f.store.get(CONTAINERS, &id).unwrap().unwrap().name, "new");
    // An exit saved after the rename keeps the new name.
    f.runtime.exit(&id, 0);
    f.wait_status(&id, Status::Exited).await;
    let f = f.restart(Arc::new(FakeRuntime::default()));
    f.daemon.restore().await.unwrap();
    assert_eq!(f.daemon.containers().get("new").unwrap().id, id);
    assert_eq!(f.daemon.inspect("new").unwrap().name, "/new");
}

#[tokio::test]
async fn rename_refuses_with_mobys_errors_and_changes_nothing() {
    let f = fixture();
    let a = f.create(Some("a"), r#"{"Image":"busybox"}"#).await.unwrap();
    let b = f.create(Some("b"), r#"{"Image":"busybox"}"#).await.unwrap();
    let err = f.daemon.rename("a", "b").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(
        err.message,
        format!(
            "Error when allocating new name: Conflict. The container name \"/b\" is already in use by container \"{b}\". You have to remove (or rename) that container to be able to reuse that name."
        )
    );
    let err = f.daemon.rename("a", "a").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "Renaming a container with the same name as its current name"
        )
    );
    let err = f.daemon.rename("a", "bad/name").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "Invalid container name (bad/name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    );
    let err = f.daemon.rename("a", "").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "Neither old nor new names may be empty"
        )
    );
    let err = f.daemon.rename("zz", "c").await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such container: zz")
    );
    // Nothing changed, in memory or in the store.
    assert_eq!(f.daemon.containers().get("a").unwrap().id, a);
    assert_eq!(f.daemon.containers().get("b").unwrap().id, b);
    assert_eq!(
        f.store.get(NAMES, "a").unwrap().as_deref(),
        Some(a.as_str())
    );
    assert_eq!(
        f.store.get(NAMES, "b").unwrap().as_deref(),
        Some(b.as_str())
    );
    assert_eq!(f.store.get(CONTAINERS, &a).unwrap().unwrap().name, "a");
}

#[tokio::test]
async fn the_rename_job_takes_the_name_from_env() {
    let f = fixture();
    let id = f
        .create(Some("j1"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, streams) = Job::new("container_rename");
    let (result, _) = f.run_job(job.arg("j1").env("name", "j2"), streams).await;
    result.unwrap();
    assert_eq!(f.daemon.containers().get("j2").unwrap().id, id);
}
