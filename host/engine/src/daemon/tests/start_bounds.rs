//! The class "no request can block the daemon": a start is bounded in
//! time, and `rm` of a container whose start hangs does not answer "busy"
//! for as long as the start hangs.

use super::*;

/// Bounds every wait of these tests: none of them may hang.
const BOUND: Duration = Duration::from_secs(10);

fn timed(start_timeout: Duration) -> Fixture {
    FixtureBuilder::default()
        .start_timeout(start_timeout)
        .build()
}

impl Fixture {
    /// Starts `id` in a task, returns once the start is in progress.
    async fn start_in_background(&self, id: &str) -> tokio::task::JoinHandle<Result<(), JobError>> {
        let container = self.daemon.containers().get(id).unwrap();
        let mut rx = container.watch();
        let (daemon, id) = (Arc::clone(&self.daemon), id.to_owned());
        let task = tokio::spawn(async move { daemon.start(&id).await });
        tokio::time::timeout(BOUND, rx.wait_for(|s| s.busy))
            .await
            .expect("the start began")
            .unwrap();
        task
    }
}

#[tokio::test]
async fn a_start_that_hangs_fails_at_its_deadline() {
    let f = timed(Duration::from_millis(200));
    let id = f
        .create(Some("stuck"), r#"{"Image":"busybox","Cmd":["hang"]}"#)
        .await
        .unwrap();
    let err = tokio::time::timeout(BOUND, f.daemon.start("stuck"))
        .await
        .expect("bounded by the start deadline")
        .unwrap_err();
    assert!(err.message.contains("timed out after"), "{err}");
    let state = f.daemon.inspect("stuck").unwrap().state;
    assert!(!state.running);
    assert!(state.error.contains("timed out after"), "{}", state.error);
    // The rootfs is unmounted again and the container is usable: rm works.
    assert!(
        f.images
            .calls
            .lock()
            .unwrap()
            .contains(&format!("unmount {id}"))
    );
    f.daemon.remove("stuck", false).await.unwrap();
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn rm_f_cancels_a_start_in_progress() {
    // A deadline far away: only the removal can end this start.
    let f = timed(Duration::from_secs(3600));
    let id = f
        .create(Some("stuck"), r#"{"Image":"busybox","Cmd":["hang"]}"#)
        .await
        .unwrap();
    let start = f.start_in_background(&id).await;
    // Before: "busy"; now rm -f cancels the start and removes.
    tokio::time::timeout(BOUND, f.daemon.remove("stuck", true))
        .await
        .expect("rm -f does not wait for the hung start")
        .unwrap();
    let err = tokio::time::timeout(BOUND, start)
        .await
        .expect("the start ended")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("cancelled"), "{err}");
    assert_eq!(f.record_count(), 0);
    assert!(f.daemon.containers().get(&id).is_err());
    assert!(f.images.rootfs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rm_f_of_an_auto_remove_container_whose_start_hangs_removes_it_once() {
    let f = timed(Duration::from_secs(3600));
    let id = f
        .create(
            None,
            r#"{"Image":"busybox","Cmd":["hang"],"HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    let start = f.start_in_background(&id).await;
    tokio::time::timeout(BOUND, f.daemon.remove(&id, true))
        .await
        .expect("bounded")
        .unwrap();
    assert!(
        tokio::time::timeout(BOUND, start)
            .await
            .expect("bounded")
            .unwrap()
            .is_err()
    );
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn rm_without_force_waits_for_the_bounded_start() {
    let f = timed(Duration::from_millis(300));
    let id = f
        .create(Some("stuck"), r#"{"Image":"busybox","Cmd":["hang"]}"#)
        .await
        .unwrap();
    let start = f.start_in_background(&id).await;
    // Docker waits on the container's lock; here the lock is held no
    // longer than the start's deadline, after which the container never
    // ran and goes.
    tokio::time::timeout(BOUND, f.daemon.remove("stuck", false))
        .await
        .expect("bounded by the start deadline")
        .unwrap();
    assert!(start.await.unwrap().is_err());
    assert_eq!(f.record_count(), 0);
}
