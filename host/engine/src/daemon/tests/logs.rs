//! Logs: framing, timestamps, and the log drivers.

use super::*;

#[tokio::test]
async fn logs_are_framed_with_optional_timestamps() {
    let f = fixture();
    f.create(Some("ll"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let (job, streams) = Job::new("container_logs");
    let job = job
        .arg("ll")
        .env("stdout", "1")
        .env("stderr", "1")
        .env("timestamps", "1");
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(
        out,
        // moby's RFC3339NanoFixed (`daemon/logger/jsonfilelog`), as dockerd
        // prefixes each line.
        encode_frame(StreamType::Stderr, b"2024-01-01T00:00:00.000000000Z err\n")
    );
    let (job, streams) = Job::new("container_logs");
    let (result, _) = f.run_job(job.arg("ll"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn log_drivers_are_checked_at_create_and_none_cannot_be_read() {
    let f = fixture();
    let err = f
        .create(
            Some("bad-log"),
            r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-sise":"1m"}}}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "unknown log opt 'max-sise' for json-file log driver"
        )
    );
    assert_eq!(f.record_count(), 0);

    let id = f.create(None, r#"{"Image":"busybox"}"#).await.unwrap();
    let inspect = f.daemon.inspect(&id).unwrap();
    assert_eq!(
        inspect.host_config.log_config.kind, "json-file",
        "the default is filled in"
    );
    assert!(!inspect.log_path.is_empty());

    f.create(
        Some("quiet"),
        r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"none"}}}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        f.daemon.inspect("quiet").unwrap().log_path,
        "",
        "no file, no path"
    );
    let (job, streams) = Job::new("container_logs");
    let job = job.arg("quiet").env("stdout", "1");
    let (result, _) = f.run_job(job, streams).await;
    let err = result.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::NotImplemented,
            "configured logging driver does not support reading"
        )
    );
}
