//! Create: validation, names, and what a refused request leaves (nothing).

use super::*;

#[tokio::test]
async fn create_inspect_list_remove() {
    let f = fixture();
    let id = f
        .create(
            Some("web"),
            r#"{"Image":"busybox","Labels":{"tier":"front"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(id.len(), 64);
    let inspect = f.daemon.inspect("web").unwrap();
    assert_eq!(inspect.name, "/web");
    assert_eq!(inspect.path, "sh");
    assert_eq!(inspect.state.status, Status::Created);
    assert_eq!(inspect.image, "sha256:feed");
    // The files are where the exec driver says.
    let files = f.runtime.files(&id);
    assert_eq!(inspect.log_path, files.log.to_string_lossy());
    assert_eq!(inspect.hosts_path, files.hosts.to_string_lossy());
    assert!(f.images.rootfs.lock().unwrap().contains(&id));

    let none = f.daemon.list(false, &Filters::default()).unwrap();
    assert!(none.is_empty(), "created containers only show with all");
    let all = f.daemon.list(true, &Filters::default()).unwrap();
    assert_eq!(all[0].names, ["/web"]);
    assert_eq!(all[0].status, "Created");
    let by_label = Filters::parse(r#"{"label":["tier=front"]}"#).unwrap();
    assert_eq!(f.daemon.list(true, &by_label).unwrap().len(), 1);
    let other = Filters::parse(r#"{"label":["tier=back"]}"#).unwrap();
    assert!(f.daemon.list(true, &other).unwrap().is_empty());
    assert!(
        f.daemon
            .list(true, &Filters::parse(r#"{"bogus":["x"]}"#).unwrap())
            .is_err()
    );

    f.daemon.remove("web", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
    assert!(f.images.rootfs.lock().unwrap().is_empty());
    assert!(f.store.get(NAMES, "web").unwrap().is_none());
    assert_eq!(
        f.daemon.inspect("web").unwrap_err().kind,
        ErrorKind::NotFound
    );
    // The name is free again.
    f.create(Some("web"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
}

#[tokio::test]
async fn name_conflicts_change_nothing() {
    let f = fixture();
    let first = f
        .create(Some("db"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let err = f
        .create(Some("/db"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains(&first), "{err}");
    assert_eq!(f.record_count(), 1);
    assert_eq!(f.images.rootfs.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let f = fixture();
    let err = f.create(None, r#"{"Image":"nope"}"#).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such image: nope")
    );
    let err = f
        .create(None, r#"{"Image":"busybox","HostConfig":{"Memory":1}}"#)
        .await
        .unwrap_err();
    assert_eq!(err.message, "Minimum memory limit allowed is 6MB");
    let err = f
        .create(
            Some("flyer"),
            r#"{"Image":"busybox","HostConfig":{"CapAdd":["SYS_MODULE"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "fake: CAP_SYS_MODULE is not available"
        ),
        "the runtime's refusal fails the create"
    );
    assert!(f.store.get(NAMES, "flyer").unwrap().is_none());
    let err = f
        .create(Some("bad name"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    let (job, streams) = Job::new("container_create");
    let (result, _) = f.run_job(job.stdin(&b"{\"Image\": "[..]), streams).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert!(err.message.starts_with("invalid JSON"), "{err}");
    assert_eq!(f.record_count(), 0);
    assert!(f.images.rootfs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn random_names_are_assigned() {
    let f = fixture();
    let id = f.create(None, r#"{"Image":"busybox"}"#).await.unwrap();
    let name = f.daemon.inspect(&id).unwrap().name;
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
}

/// STYLE rule 5: the store and the container directories are touched from
/// the blocking pool, never from an async worker (a commit waits for fsync;
/// a stalled disk would otherwise stall every task of the worker).
#[tokio::test]
async fn create_and_restore_touch_the_disk_from_the_blocking_pool() {
    use blocking::BlockingKind::{ContainerDir, StoreCommit};
    let f = fixture();
    let ran = |d: &Daemon| (d.pool.ran(StoreCommit), d.pool.ran(ContainerDir));
    let request = request(r#"{"Image":"busybox"}"#);
    f.daemon.create(Some("web"), request).await.unwrap();
    // The name's check and the record's commit; the container's directory.
    assert_eq!(ran(&f.daemon), (2, 1));
    let f = f.restart(Arc::default());
    assert_eq!(f.daemon.restore().await.unwrap(), 1);
    // The records' load, the networks' load and the default network's
    // commit (no daemon was restored on this data root before), the
    // address leases' reconcile, the port reservations' check; the
    // listing of the containers' directories and of the volumes' (a
    // crash's leftovers), the volumes' own mounts given back to their users.
    assert_eq!(ran(&f.daemon), (5, 3));
}
