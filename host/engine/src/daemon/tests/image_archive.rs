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

#[tokio::test]
async fn image_save_streams_the_named_images_as_a_tar() {
    let f = fixture();
    let (job, streams) = Job::new("image_save");
    let mut stdout = streams.stdout;
    let job = job.env("names", "busybox").env("names", "app:1");
    let handle = f.engine.spawn(job);
    let first = stdout.next().await.unwrap();
    assert!(
        matches!(&first, crate::job::Chunk::Begin { content_type: Some(t) } if t == "application/x-tar"),
        "{first:?}"
    );
    let mut body = Vec::new();
    while let Some(chunk) = stdout.next().await {
        if let crate::job::Chunk::Data(d) = chunk {
            body.extend_from_slice(&d);
        }
    }
    handle.await.unwrap().unwrap();
    assert_eq!(body.len(), 200 * 1024);
    assert_eq!(f.images.calls.lock().unwrap()[0], "save busybox,app:1");

    // An unknown name fails before any output: an HTTP error.
    let (job, streams) = Job::new("image_save");
    let (result, out) = f.run_job(job.arg("nope"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
    assert!(out.is_empty());
    let (job, streams) = Job::new("image_save");
    let (result, _) = f.run_job(job, streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn container_export_archives_the_root_without_its_mounts() {
    let f = fixture();
    let id = f
        .create(
            Some("ex1"),
            r#"{"Image":"busybox","Cmd":["sleep"],"HostConfig":{"Binds":["/tmp:/data"]}}"#,
        )
        .await
        .unwrap();
    f.images.calls.lock().unwrap().clear();
    let (job, streams) = Job::new("container_export");
    let (result, out) = f.run_job(job.arg("ex1"), streams).await;
    result.unwrap();
    assert_eq!(out, b"tar bytes");
    let calls = f.images.calls.lock().unwrap().clone();
    let root = f
        .images
        .mount_root
        .lock()
        .unwrap()
        .clone()
        .unwrap()
        .join(&id);
    assert_eq!(
        calls,
        [
            format!("mount {id}"),
            format!("archive {} ex1 /", root.display()),
            format!("unmount {id}"),
        ]
    );
    let (job, streams) = Job::new("container_export");
    let (result, _) = f.run_job(job.arg("missing"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn container_commit_freezes_a_running_container_and_answers_the_id() {
    let f = fixture();
    let id = f
        .create(Some("cm1"), r#"{"Image":"busybox","Cmd":["sleep","9"]}"#)
        .await
        .unwrap();
    f.daemon.start("cm1").await.unwrap();
    f.images.calls.lock().unwrap().clear();
    let mut events = f.engine.events().subscribe();
    let (job, streams) = Job::new("container_commit");
    let job = job
        .env("container", "cm1")
        .env("repo", "snap")
        .env("tag", "1")
        .env("changes", "ENV A=1");
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(out, b"{\"Id\":\"sha256:committed\"}\n");
    assert_eq!(
        f.images.calls.lock().unwrap().clone(),
        [format!(
            "commit {id} snap:1 [\"ENV A=1\"] Some([\"sleep\", \"9\"]) sleep 9"
        )]
    );
    assert_eq!(
        f.runtime.freezer.lock().unwrap().clone(),
        [(id.clone(), true), (id.clone(), false)]
    );
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind, e.action));
    }
    assert!(
        seen.contains(&("container".into(), "commit".into())),
        "{seen:?}"
    );

    // pause=false leaves it running; a body config is refused by name.
    f.runtime.freezer.lock().unwrap().clear();
    let (job, streams) = Job::new("container_commit");
    let (result, _) = f
        .run_job(job.env("container", "cm1").env("pause", "0"), streams)
        .await;
    result.unwrap();
    assert!(f.runtime.freezer.lock().unwrap().is_empty());
    let (job, streams) = Job::new("container_commit");
    let (result, _) = f
        .run_job(
            job.env("container", "cm1").stdin(&br#"{"Cmd":["x"]}"#[..]),
            streams,
        )
        .await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::NotImplemented);
    let (job, streams) = Job::new("container_commit");
    let (result, _) = f.run_job(job, streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::InvalidParameter);
}
