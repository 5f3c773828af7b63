//! Restore: exits while the daemon was away, AutoRemove, crashes mid-removal and mid-create.

use super::*;

#[tokio::test]
async fn restore_records_exits_that_happened_while_away() {
    let f = fixture();
    let id = f
        .create(Some("pp"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("pp").await.unwrap();
    // A new daemon over the same store: the shim reports an exit.
    let f = f.restart(FakeRuntime::exited_meanwhile(9));
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!((state.status, state.exit_code), (Status::Exited, 9));
}

#[tokio::test]
async fn restore_records_a_container_the_driver_lost_track_of() {
    let f = fixture();
    let id = f
        .create(Some("lost"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("lost").await.unwrap();
    // Neither shim nor exit record: the driver never saw it end.
    let runtime = Arc::new(FakeRuntime::default());
    *runtime.restored.lock().unwrap() = Some(RunState::NeverStarted);
    let f = f.restart(runtime);
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    let state = f.daemon.inspect(&id).unwrap().state;
    assert_eq!(
        (state.status, state.exit_code, state.error.as_str()),
        (
            Status::Exited,
            i64::from(LOST_EXIT_CODE),
            "the container's monitor is gone and left no exit record"
        )
    );
}

#[tokio::test]
async fn restore_removes_auto_remove_containers_that_ended_meanwhile() {
    let f = fixture();
    let id = f
        .create(
            Some("tmp"),
            r#"{"Image":"busybox","HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    f.daemon.start("tmp").await.unwrap();
    let f = f.restart(FakeRuntime::exited_meanwhile(0));
    f.daemon.restore().await.unwrap();
    assert!(f.daemon.containers().get(&id).is_err());
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn a_removal_cut_short_by_a_crash_leaves_a_dead_container_that_rm_finishes() {
    let f = fixture();
    let id = f
        .create(Some("half"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let mut record = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    record.state.status = Status::Removing;
    f.store.put(CONTAINERS, &id, &record).unwrap();
    let f = f.restart(Arc::default());
    f.daemon.restore().await.unwrap();
    assert_eq!(f.daemon.inspect(&id).unwrap().state.status, Status::Dead);
    f.daemon.remove("half", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn restore_removes_what_an_unfinished_create_left() {
    let f = fixture();
    let kept = f
        .create(Some("kept"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    // berthd killed between preparing a container's rootfs and saving its
    // record: a directory and a rootfs that nothing refers to.
    let orphan = names::generate_id();
    std::fs::create_dir_all(f.daemon.config().container_dir(&orphan)).unwrap();
    f.images.rootfs.lock().unwrap().push(orphan.clone());
    // Not a container's: left alone.
    let other = f.daemon.config().containers_root().join("notes");
    std::fs::create_dir_all(&other).unwrap();

    let images = Arc::clone(&f.images);
    let f = f.restart(Arc::default());
    *f.images.rootfs.lock().unwrap() = images.rootfs.lock().unwrap().clone();
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    assert!(!f.daemon.config().container_dir(&orphan).exists());
    assert_eq!(
        *f.images.rootfs.lock().unwrap(),
        std::slice::from_ref(&kept)
    );
    assert!(f.daemon.config().container_dir(&kept).exists());
    assert!(other.exists());
}

#[tokio::test]
async fn a_record_written_before_records_carried_the_model_still_starts() {
    // The containers table as untyped records, to write what an older
    // berthd wrote.
    const RAW: berth_store::Table<serde_json::Value> = berth_store::Table::new("containers");
    type Age = fn(&mut serde_json::Value);
    let old_records: [(&str, Age); 2] = [
        ("no model", |raw| {
            raw.as_object_mut()
                .and_then(|r| r.remove("model"))
                .expect("a new record carries its model");
        }),
        ("a model that no longer reads back", |raw| {
            raw["model"] = serde_json::json!({"process": {"command": []}});
        }),
    ];
    for (what, age) in old_records {
        let f = fixture();
        let id = f
            .create(
                Some("old"),
                r#"{"Image":"busybox","Cmd":["echo","old"],"HostConfig":{"Memory":67108864,"CapDrop":["MKNOD"]}}"#,
            )
            .await
            .unwrap();
        let model = f.store.get(CONTAINERS, &id).unwrap().unwrap().model;
        let model = model.expect("a new record carries its model");
        let mut raw = f.store.get(RAW, &id).unwrap().unwrap();
        age(&mut raw);
        f.store.put(RAW, &id, &raw).unwrap();
        let runtime = Arc::new(FakeRuntime::default());
        let f = f.restart(Arc::clone(&runtime));
        assert_eq!(f.daemon.restore().await.unwrap(), 1, "{what}");
        f.daemon.start("old").await.expect(what);
        assert_eq!(
            runtime.started.lock().unwrap().as_slice(),
            [model],
            "{what}: the model is rebuilt from the wire configuration"
        );
    }
}
