//! docker cp's jobs: the rootfs mounted for the request when the container
//! is stopped and left mounted when it runs; the stat before the tar; the
//! container's binds handed to the graph driver.

use super::*;

fn calls(f: &Fixture) -> Vec<String> {
    f.images.calls.lock().unwrap().clone()
}

#[tokio::test]
async fn a_stopped_containers_rootfs_is_mounted_for_the_copy_and_unmounted_after() {
    let f = fixture();
    let id = f
        .create(Some("cp1"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.images.calls.lock().unwrap().clear();
    let (job, streams) = Job::new("container_archive");
    let (result, out) = f
        .run_job(job.arg("cp1").env("path", "/etc/hosts"), streams)
        .await;
    result.unwrap();
    let out = String::from_utf8(out).unwrap();
    let (stat, tar) = out.split_once('\n').unwrap();
    let stat: berth_model::files::PathStat = serde_json::from_str(stat).unwrap();
    assert_eq!(stat.name, "hosts");
    assert_eq!(tar, "tar bytes");
    // Where the fake graph driver mounts a container's root.
    let root = f
        .images
        .mount_root
        .lock()
        .unwrap()
        .clone()
        .unwrap()
        .join(&id);
    assert_eq!(
        calls(&f),
        [
            format!("mount {id}"),
            format!("archive {} cp1 /etc/hosts", root.display()),
            format!("unmount {id}"),
        ]
    );
}

#[tokio::test]
async fn a_running_containers_rootfs_stays_mounted() {
    let f = fixture();
    let id = f
        .create(Some("cp2"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("cp2").await.unwrap();
    f.images.calls.lock().unwrap().clear();
    let (job, streams) = Job::new("container_archive_stat");
    let (result, out) = f.run_job(job.arg(&id).env("path", "/x"), streams).await;
    result.unwrap();
    let stat: berth_model::files::PathStat = serde_json::from_slice(&out).unwrap();
    assert_eq!(stat.name, "x");
    assert!(
        !calls(&f).iter().any(|c| c.starts_with("unmount")),
        "{:?}",
        calls(&f)
    );
}

#[tokio::test]
async fn an_extraction_streams_the_body_with_the_options_and_the_binds() {
    let f = fixture();
    f.create(
        Some("cp3"),
        r#"{"Image":"busybox","Cmd":["sleep"],"User":"app","HostConfig":{"Binds":["/srv/data:/data:ro"]}}"#,
    )
    .await
    .unwrap();
    let (job, streams) = Job::new("container_extract_to_dir");
    let job = job
        .arg("cp3")
        .env("path", "/data")
        .env("noOverwriteDirNonDir", "1")
        .env("copyUIDGID", "true")
        .stdin(&b"0123456789"[..]);
    let (result, _) = f.run_job(job, streams).await;
    result.unwrap();
    let extract = calls(&f)
        .into_iter()
        .find(|c| c.starts_with("extract"))
        .unwrap();
    assert!(
        extract.ends_with(r#"cp3 /data 10 Some("app") true [/data=Some("/srv/data")]"#),
        "{extract}"
    );
}

#[tokio::test]
async fn a_missing_path_parameter_or_container_is_refused() {
    let f = fixture();
    f.create(Some("cp4"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let (job, streams) = Job::new("container_archive");
    let (result, _) = f.run_job(job.arg("cp4"), streams).await;
    let e = result.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::InvalidParameter, "Path cannot be empty")
    );
    let (job, streams) = Job::new("container_archive_stat");
    let (result, _) = f.run_job(job.arg("nope").env("path", "/"), streams).await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::NotFound);
    assert!(!calls(&f).iter().any(|c| c.starts_with("archive")));
}
