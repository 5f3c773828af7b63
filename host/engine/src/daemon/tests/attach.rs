//! Attach: before the start, with the log replayed, and a client that left.

use super::*;

#[tokio::test]
async fn attach_before_start_gets_framed_output_and_auto_remove_cleans_up() {
    let f = fixture();
    let id = f
        .create(
            Some("ee"),
            r#"{"Image":"busybox","Cmd":["echo","hi"],"HostConfig":{"AutoRemove":true}}"#,
        )
        .await
        .unwrap();
    let (job, mut streams) = Job::new("container_attach");
    let job = job
        .arg("ee")
        .env("stream", "1")
        .env("stdout", "1")
        .env("stderr", "1");
    let attach = f.engine.spawn(job);
    // The session is set up before the container starts.
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    let waiter = {
        let d = Arc::clone(&f.daemon);
        tokio::spawn(async move { d.wait("ee", WaitCondition::Removed, async {}).await })
    };
    tokio::task::yield_now().await;
    f.daemon.start("ee").await.unwrap();
    let out = streams.stdout.collect().await;
    assert_eq!(out, encode_frame(StreamType::Stdout, b"hi\n"));
    assert_eq!(attach.await.unwrap(), Ok(0));
    assert_eq!(waiter.await.unwrap().unwrap(), 0);
    assert!(f.daemon.containers().get(&id).is_err(), "auto-removed");
    assert_eq!(f.record_count(), 0);
}

#[tokio::test]
async fn attach_with_logs_replays_the_log_first() {
    let f = fixture();
    let id = f
        .create(Some("lg"), r#"{"Image":"busybox","Cmd":["echo","hi"]}"#)
        .await
        .unwrap();
    let attach_logs = |stream: &'static str| {
        let (job, streams) = Job::new("container_attach");
        let job = job
            .arg("lg")
            .env("logs", "1")
            .env("stream", stream)
            .env("stdout", "1")
            .env("stderr", "1");
        (job, streams)
    };
    // Never started: no log, nothing to replay.
    let (job, streams) = attach_logs("0");
    let (result, out) = f.run_job(job, streams).await;
    assert_eq!((result, out.len()), (Ok(0), 0));

    f.daemon.start("lg").await.unwrap();
    f.runtime.exit(&id, 0);
    f.wait_status("lg", Status::Exited).await;
    // logs=1, stream=0: the log (the fake's one stderr record), then end.
    let (job, streams) = attach_logs("0");
    let (result, out) = f.run_job(job, streams).await;
    assert_eq!(result, Ok(0));
    assert_eq!(out, encode_frame(StreamType::Stderr, b"err\n"));

    // logs=1, stream=1 on a stopped container: the log, then the session
    // waits for the next start, whose output follows.
    let (job, mut streams) = attach_logs("1");
    let attach = f.engine.spawn(job);
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Begin { .. })
    ));
    assert!(matches!(
        streams.stdout.next().await,
        Some(crate::job::Chunk::Data(d)) if d == encode_frame(StreamType::Stderr, b"err\n")
    ));
    f.daemon.start("lg").await.unwrap();
    let out = streams.stdout.collect().await;
    assert_eq!(out, encode_frame(StreamType::Stdout, b"hi\n"));
    assert_eq!(attach.await.unwrap(), Ok(0));
}

#[tokio::test]
async fn a_client_that_left_before_the_start_is_not_attached() {
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
    // The client goes away before anyone starts the container.
    drop(streams);
    assert_eq!(attach.await.unwrap(), Ok(0));
    f.daemon.start("gone").await.unwrap();
    assert_eq!(*f.runtime.attach_requests.lock().unwrap(), [false]);
}
