//! The image archive jobs against the fake image service.

use super::*;

#[tokio::test]
async fn image_load_streams_the_archive_and_answers_mobys_lines() {
    let f = fixture();
    let mut events = f.engine.events().subscribe();
    let (job, streams) = Job::new("image_load");
    let job = job.env("quiet", "1").stdin(&b"archive bytes"[..]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            "{\"stream\":\"Loaded image: app:1\\n\"}\n",
            "{\"stream\":\"Loaded image: app:2\\n\"}\n",
            "{\"stream\":\"Loaded image ID: sha256:bbbb\\n\"}\n",
        )
    );
    assert_eq!(f.images.calls.lock().unwrap()[0], "load 13");
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind, e.action, e.actor.id));
    }
    assert!(seen.contains(&("image".into(), "load".into(), "sha256:aaaa".into())));
    assert!(seen.contains(&("image".into(), "load".into(), "sha256:bbbb".into())));
}

#[tokio::test]
async fn image_load_refusals_are_errors_before_any_output() {
    let f = fixture();
    let (job, streams) = Job::new("image_load");
    let (result, out) = f.run_job(job.stdin(&b"bad archive"[..]), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
    assert!(out.is_empty());
    let (job, streams) = Job::new("image_load");
    let (result, _) = f
        .run_job(job.env("quiet", "maybe").stdin(&b""[..]), streams)
        .await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn image_history_answers_mobys_items() {
    let f = fixture();
    let (job, streams) = Job::new("image_history");
    let (result, out) = f.run_job(job.arg("busybox"), streams).await;
    result.unwrap();
    let items: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        items,
        serde_json::json!([
            {"Id": "sha256:feed", "Created": 2, "CreatedBy": "RUN x",
             "Tags": ["busybox:latest"], "Size": 10, "Comment": "c"},
            {"Id": "<missing>", "Created": 1, "CreatedBy": "ADD rootfs",
             "Tags": null, "Size": 0, "Comment": ""},
        ])
    );
    let (job, streams) = Job::new("image_history");
    let (result, _) = f.run_job(job.arg("nope"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
}
