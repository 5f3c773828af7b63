//! Removal: of a running container, of one with parked clients, and a failed one.

use super::*;

#[tokio::test]
async fn force_remove_kills_a_running_container() {
    let f = fixture();
    f.create(Some("rr"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    f.daemon.start("rr").await.unwrap();
    f.daemon.remove("rr", true).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.daemon.containers().get("rr").is_err());
}

#[tokio::test]
async fn removing_a_container_ends_attach_sessions_waiting_for_its_start() {
    let f = fixture();
    f.create(Some("gone"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, mut streams) = Job::new("container_attach");
    let attach = f
        .engine
        .spawn(job.arg("gone").env("stream", "1").env("stdout", "1"));
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    f.daemon.remove("gone", false).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), attach)
        .await
        .expect("attach ended");
    assert_eq!(result.unwrap(), Ok(0));
}

#[tokio::test]
async fn a_failed_removal_leaves_a_dead_container_that_rm_retries() {
    let f = fixture();
    let id = f
        .create(Some("stuck"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    // A corrupt name entry makes deleting the record fail.
    let corrupt: berth_store::Table<u64> = berth_store::Table::new("container_names");
    f.store.put(corrupt, "stuck", &7).unwrap();
    let err = f.daemon.remove("stuck", false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal, "{err}");
    let state = f.daemon.inspect("stuck").unwrap().state;
    assert_eq!((state.status, state.dead), (Status::Dead, true));
    assert_eq!(
        f.store.get(CONTAINERS, &id).unwrap().unwrap().state.status,
        Status::Dead
    );
    // Once the store is sound again, rm finishes the job.
    f.store.put(NAMES, "stuck", &id).unwrap();
    f.daemon.remove("stuck", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.store.get(NAMES, "stuck").unwrap().is_none());
}
