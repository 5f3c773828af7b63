//! The `/volumes` jobs against the real local driver in a temporary data
//! root: create, list with its filters, inspect, remove, prune, df.

use berth_api::system::DiskUsageResponse;
use berth_api::volume::{Volume, VolumeListResponse, VolumePruneResponse};

use super::*;

impl Fixture {
    async fn volume_job<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        arg: Option<&str>,
        env: &[(&str, &str)],
        body: &str,
    ) -> Result<T, JobError> {
        let (mut job, streams) = Job::new(name);
        if let Some(arg) = arg {
            job = job.arg(arg);
        }
        for (k, v) in env {
            job = job.env(*k, *v);
        }
        let job = job.stdin(std::io::Cursor::new(body.as_bytes().to_vec()));
        let (result, out) = self.run_job(job, streams).await;
        result?;
        if out.is_empty() {
            return Ok(serde_json::from_str("null").unwrap());
        }
        Ok(serde_json::from_slice(&out).unwrap())
    }

    async fn volume_create(&self, body: &str) -> Result<Volume, JobError> {
        self.volume_job("volume_create", None, &[], body).await
    }

    async fn volume_names(&self, filters: &str) -> Result<Vec<String>, JobError> {
        let list: VolumeListResponse = self
            .volume_job("volume_list", None, &[("filters", filters)], "")
            .await?;
        Ok(list.volumes.into_iter().map(|v| v.name).collect())
    }
}

#[tokio::test]
async fn create_inspect_and_remove_a_volume_with_events() {
    let f = fixture();
    let mut events = f.engine.events().subscribe();
    let v = f
        .volume_create(r#"{"Name":"data","Labels":{"k":"v"}}"#)
        .await
        .unwrap();
    assert_eq!(
        (v.name.as_str(), v.driver.as_str(), v.scope.as_str()),
        ("data", "local", "local")
    );
    assert_eq!(v.labels["k"], "v");
    let mountpoint = f._dir.path().join("volumes/data/_data");
    assert_eq!(v.mountpoint, mountpoint.display().to_string());
    assert!(mountpoint.is_dir());
    let inspected: Volume = f
        .volume_job("volume_inspect", Some("data"), &[], "")
        .await
        .unwrap();
    assert_eq!(inspected, v);
    // Again with the same name: the same volume, no second event.
    let again = f.volume_create(r#"{"Name":"data"}"#).await.unwrap();
    assert_eq!(again, v);
    // No name: a generated one.
    let unnamed = f.volume_create("{}").await.unwrap();
    assert_eq!(unnamed.name.len(), 64);

    let () = f
        .volume_job("volume_delete", Some("data"), &[], "")
        .await
        .unwrap();
    assert!(!mountpoint.exists());
    let err = f
        .volume_job::<Volume>("volume_inspect", Some("data"), &[], "")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "get data: no such volume")
    );
    let err = f
        .volume_job::<()>("volume_delete", Some("data"), &[], "")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    // `force`: a missing volume is no error.
    let () = f
        .volume_job("volume_delete", Some("data"), &[("force", "1")], "")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind, e.action, e.actor.id));
    }
    let data: Vec<_> = seen.iter().filter(|(_, _, id)| id == "data").collect();
    assert_eq!(
        data,
        [
            &("volume".to_owned(), "create".to_owned(), "data".to_owned()),
            &("volume".to_owned(), "destroy".to_owned(), "data".to_owned())
        ]
    );
}

#[tokio::test]
async fn bad_requests_create_nothing() {
    let f = fixture();
    let err = f.volume_create(r#"{"Name":"a/b"}"#).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    assert!(
        err.message
            .starts_with("create a/b: \"a/b\" includes invalid characters for a local volume name"),
        "{err}"
    );
    let err = f
        .volume_create(r#"{"Name":"ab","Driver":"nfs"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
    let err = f
        .volume_create(r#"{"Name":"ab","DriverOpts":{"type":"nfs"}}"#)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "create ab: missing required option: \"device\""
    );
    assert!(f.volume_names("").await.unwrap().is_empty());
    assert!(!f._dir.path().join("volumes/ab").exists());
}

#[tokio::test]
async fn list_filters_are_mobys_and_unknown_ones_are_refused() {
    let f = fixture();
    f.volume_create(r#"{"Name":"web-data","Labels":{"app":"web"}}"#)
        .await
        .unwrap();
    f.volume_create(r#"{"Name":"db-data","Labels":{"app":"db","keep":""}}"#)
        .await
        .unwrap();
    assert_eq!(f.volume_names("").await.unwrap(), ["db-data", "web-data"]);
    assert_eq!(
        f.volume_names(r#"{"label":["app=web"]}"#).await.unwrap(),
        ["web-data"]
    );
    assert_eq!(
        f.volume_names(r#"{"label":["keep"]}"#).await.unwrap(),
        ["db-data"]
    );
    assert_eq!(
        f.volume_names(r#"{"name":["^db"]}"#).await.unwrap(),
        ["db-data"]
    );
    assert_eq!(
        f.volume_names(r#"{"driver":["local"]}"#)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        f.volume_names(r#"{"driver":["loc"]}"#)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.volume_names(r#"{"dangling":["true"]}"#)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        f.volume_names(r#"{"dangling":["false"]}"#)
            .await
            .unwrap()
            .is_empty()
    );
    let err = f.volume_names(r#"{"colour":["red"]}"#).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::InvalidParameter, "invalid filter 'colour'")
    );
    let err = f
        .volume_names(r#"{"dangling":["maybe"]}"#)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidParameter);
}

#[tokio::test]
async fn prune_takes_anonymous_volumes_unless_all_and_honours_labels() {
    let f = fixture();
    f.volume_create(r#"{"Name":"named"}"#).await.unwrap();
    f.volume_create(r#"{"Name":"anon1","Labels":{"com.docker.volume.anonymous":""}}"#)
        .await
        .unwrap();
    f.volume_create(r#"{"Name":"kept","Labels":{"keep":"1"}}"#)
        .await
        .unwrap();
    std::fs::write(f._dir.path().join("volumes/anon1/_data/f"), b"12345").unwrap();
    let report: VolumePruneResponse = f.volume_job("volume_prune", None, &[], "").await.unwrap();
    assert_eq!(report.volumes_deleted, ["anon1"]);
    assert_eq!(report.space_reclaimed, 5);
    let report: VolumePruneResponse = f
        .volume_job(
            "volume_prune",
            None,
            &[("filters", r#"{"all":["true"],"label!":["keep"]}"#)],
            "",
        )
        .await
        .unwrap();
    assert_eq!(report.volumes_deleted, ["named"]);
    assert_eq!(f.volume_names("").await.unwrap(), ["kept"]);
    let err = f
        .volume_job::<VolumePruneResponse>(
            "volume_prune",
            None,
            &[("filters", r#"{"until":["1h"]}"#)],
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "invalid filter 'until'");
}

#[tokio::test]
async fn system_df_reports_volumes_with_usage_data() {
    let f = fixture();
    f.volume_create(r#"{"Name":"data"}"#).await.unwrap();
    std::fs::write(f._dir.path().join("volumes/data/_data/f"), b"123").unwrap();
    let df: DiskUsageResponse = f
        .volume_job("system_df", None, &[("type", "volume")], "")
        .await
        .unwrap();
    let volumes = df.volumes.unwrap();
    assert_eq!(volumes.len(), 1);
    assert_eq!(
        volumes[0].usage_data,
        Some(berth_api::volume::UsageData {
            size: 3,
            ref_count: 0
        })
    );
}

#[tokio::test]
async fn a_restart_removes_directories_a_crash_left_without_a_record() {
    let f = fixture();
    f.volume_create(r#"{"Name":"kept"}"#).await.unwrap();
    std::fs::create_dir_all(f._dir.path().join("volumes/torn/_data")).unwrap();
    let f = f.restart(Arc::new(FakeRuntime::default()));
    f.daemon.restore().await.unwrap();
    assert!(!f._dir.path().join("volumes/torn").exists());
    assert!(f._dir.path().join("volumes/kept/_data").is_dir());
    assert_eq!(f.volume_names("").await.unwrap(), ["kept"]);
}

/// The volume names in the store.
fn stored(f: &Fixture) -> Vec<String> {
    f.store
        .list(berth_volume::VOLUMES)
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[tokio::test]
async fn a_container_gets_its_named_and_anonymous_volumes_and_inspect_shows_them() {
    let f = fixture();
    let id = f
        .create(
            Some("c1"),
            r#"{"Image":"busybox","Volumes":{"/anon":{}},"HostConfig":{"Binds":["data:/data:ro","/tmp:/host"]}}"#,
        )
        .await
        .unwrap();
    let names = stored(&f);
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"data".to_owned()));
    let anonymous = names.iter().find(|n| n.len() == 64).unwrap().clone();
    let anon_record = f
        .store
        .get(berth_volume::VOLUMES, &anonymous)
        .unwrap()
        .unwrap();
    assert!(anon_record.is_anonymous());
    let inspect = f.daemon.inspect(&id).unwrap();
    let mut kinds: Vec<(String, String, String, bool)> = inspect
        .mounts
        .iter()
        .map(|m| (m.kind.clone(), m.name.clone(), m.destination.clone(), m.rw))
        .collect();
    // By destination: the anonymous volume's name is random.
    kinds.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        kinds,
        [
            ("volume".into(), anonymous.clone(), "/anon".into(), true),
            ("volume".into(), "data".into(), "/data".into(), false),
            ("bind".into(), "".into(), "/host".into(), true),
        ]
    );
    let data = inspect.mounts.iter().find(|m| m.name == "data").unwrap();
    assert_eq!(
        data.source,
        f._dir
            .path()
            .join("volumes/data/_data")
            .display()
            .to_string()
    );
    // In use: moby's 409, and the list's `dangling` sees it.
    let err = f.daemon.volume_remove("data", false).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message),
        (
            ErrorKind::Conflict,
            format!("remove data: volume is in use - [{id}]")
        )
    );
    assert_eq!(
        f.volume_names(r#"{"dangling":["true"]}"#).await.unwrap(),
        Vec::<String>::new()
    );
    // A prune leaves volumes in use alone.
    let report = f.daemon.volume_prune(r#"{"all":["1"]}"#).await.unwrap();
    assert!(report.volumes_deleted.is_empty());

    // `rm -v`: the anonymous volume goes, the named one stays.
    f.daemon.remove_with_volumes(&id, false).await.unwrap();
    assert_eq!(stored(&f), ["data"]);
    assert!(!f._dir.path().join("volumes").join(&anonymous).exists());
    f.daemon.volume_remove("data", false).await.unwrap();
}

#[tokio::test]
async fn rm_without_v_keeps_every_volume() {
    let f = fixture();
    let id = f
        .create(None, r#"{"Image":"busybox","Volumes":{"/anon":{}}}"#)
        .await
        .unwrap();
    f.daemon.remove(&id, false).await.unwrap();
    assert_eq!(stored(&f).len(), 1);
}

#[tokio::test]
async fn volumes_from_shares_the_mounts_with_the_mode_asked_for() {
    let f = fixture();
    let first = f
        .create(
            Some("first"),
            r#"{"Image":"busybox","Volumes":{"/anon":{}},"HostConfig":{"Binds":["shared:/shared"]}}"#,
        )
        .await
        .unwrap();
    let second = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"VolumesFrom":["first:ro"]}}"#,
        )
        .await
        .unwrap();
    let mounts = f.daemon.inspect(&second).unwrap().mounts;
    assert_eq!(mounts.len(), 2);
    assert!(mounts.iter().all(|m| !m.rw && m.kind == "volume"));
    // `rm -v` of the first: its anonymous volume is in use by the second,
    // so it stays.
    f.daemon.remove_with_volumes(&first, false).await.unwrap();
    assert_eq!(stored(&f).len(), 2);
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"VolumesFrom":["first"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"VolumesFrom":["x:rx"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "invalid mode for volumes-from: rx");
}

#[tokio::test]
async fn a_failed_create_leaves_no_volume_behind() {
    let f = fixture();
    f.create(Some("taken"), r#"{"Image":"busybox"}"#)
        .await
        .unwrap();
    let err = f
        .create(
            Some("taken"),
            r#"{"Image":"busybox","HostConfig":{"Binds":["fresh:/x"]}}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(stored(&f).is_empty());
    assert!(!f._dir.path().join("volumes/fresh").exists());
    // Refused mounts make nothing either.
    for body in [
        r#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bogus","Target":"/x"}]}}"#,
        r#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/nonexistent/berth","Target":"/x"}]}}"#,
        r#"{"Image":"busybox","HostConfig":{"Binds":["ok1:/x"],"Mounts":[{"Type":"volume","Source":"ok2","Target":"/x"}]}}"#,
    ] {
        let err = f.create(None, body).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParameter, "{body}");
        assert!(stored(&f).is_empty(), "{body}");
    }
}

#[tokio::test]
async fn start_and_exit_publish_volume_mount_and_unmount_events() {
    let f = fixture();
    let id = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"Binds":["data:/data:ro"]}}"#,
        )
        .await
        .unwrap();
    let mut events = f.engine.events().subscribe();
    f.daemon.start(&id).await.unwrap();
    f.runtime.exit(&id, 0);
    f.wait_status(&id, Status::Exited).await;
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((e.kind.clone(), e.action.clone(), e.actor.attributes.clone()));
    }
    let order: Vec<(&str, &str)> = seen
        .iter()
        .map(|(k, a, _)| (k.as_str(), a.as_str()))
        .filter(|(k, _)| *k != "job")
        .collect();
    assert_eq!(
        order,
        [
            ("volume", "mount"),
            ("container", "start"),
            ("container", "die"),
            ("volume", "unmount")
        ]
    );
    let mount = &seen.iter().find(|(_, a, _)| a == "mount").unwrap().2;
    assert_eq!(mount["container"], id);
    assert_eq!(mount["destination"], "/data");
    assert_eq!(mount["read/write"], "false");
}

/// A volume with its own mount (`type`/`device`/`o`) made at `path`.
async fn volume_with_device(f: &Fixture, name: &str, device: &str) {
    f.volume_create(&format!(
        r#"{{"Name":"{name}","DriverOpts":{{"type":"none","device":"{device}","o":"bind"}}}}"#
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn copy_up_lands_on_the_volumes_own_mount_which_goes_after() {
    let f = fixture();
    f.images
        .image_files
        .lock()
        .unwrap()
        .push(("etc/passwd".into(), "root:x:0:0::/root:/bin/sh\n".into()));
    volume_with_device(&f, "bv", "/srv/x").await;
    f.create(
        None,
        r#"{"Image":"busybox","HostConfig":{"Binds":["bv:/etc"]}}"#,
    )
    .await
    .unwrap();
    // moby `CopyImagePathContent`: the volume is mounted, the content
    // copied into it, and the mount released.
    let target = f._dir.path().join("volumes/bv/_data");
    assert_eq!(
        f.mounter.calls(),
        [
            berth_volume::mount::MountCall::Mount {
                device: "/srv/x".into(),
                fstype: "none".into(),
                data: String::new(),
                target: target.clone(),
            },
            berth_volume::mount::MountCall::Unmount(target.clone()),
        ]
    );
    assert!(target.join("passwd").is_file());
    assert!(
        !f.daemon.volumes.is_mounted("bv"),
        "the create's hold is released"
    );

    // An image with nothing at the mount point copies nothing, and mounts
    // nothing (moby stats the path first).
    volume_with_device(&f, "nothing", "/srv/y").await;
    f.create(
        None,
        r#"{"Image":"busybox","HostConfig":{"Binds":["nothing:/absent"]}}"#,
    )
    .await
    .unwrap();
    assert_eq!(f.mounter.calls().len(), 2);
}

#[tokio::test]
async fn a_copy_up_whose_mount_fails_fails_the_create() {
    let f = fixture();
    f.images
        .image_files
        .lock()
        .unwrap()
        .push(("etc/passwd".into(), "root\n".into()));
    volume_with_device(&f, "bad", berth_volume::RecordingMounter::FAIL_DEVICE).await;
    let err = f
        .create(
            Some("c"),
            r#"{"Image":"busybox","HostConfig":{"Binds":["bad:/etc"]}}"#,
        )
        .await
        .unwrap_err();
    let path = f._dir.path().join("volumes/bad/_data");
    assert_eq!(
        err.message,
        format!(
            "failed to populate volume: error while mounting volume '{p}': failed to mount local volume: mount fail:{p}, data: : Invalid argument (os error 22)",
            p = path.display()
        )
    );
    assert_eq!(f.record_count(), 0);
    assert!(f.mounter.calls().is_empty());
    assert!(!f.daemon.volumes.is_mounted("bad"));
}

/// A tmpfs volume `name` (its own mount) and a container `ctr` using it.
async fn tmpfs_user(f: &Fixture, name: &str, ctr: &str) -> String {
    f.volume_create(&format!(
        r#"{{"Name":"{name}","DriverOpts":{{"type":"tmpfs","device":"tmpfs","o":"size=1m"}}}}"#
    ))
    .await
    .unwrap();
    f.create(
        Some(ctr),
        &format!(r#"{{"Image":"busybox","HostConfig":{{"Binds":["{name}:/data"]}}}}"#),
    )
    .await
    .unwrap()
}

/// An exec driver whose shim of `id` still runs after berthd's restart.
fn still_running(id: &str) -> Arc<FakeRuntime> {
    let runtime = Arc::new(FakeRuntime::default());
    *runtime.restored.lock().unwrap() = Some(RunState::Running {
        pid: 42,
        started_at: berth_model::Timestamp::now(),
    });
    let (exit, _) = watch::channel(None);
    runtime.procs.lock().unwrap().insert(
        id.to_owned(),
        Arc::new(FakeProc {
            exit,
            ignores_term: false,
        }),
    );
    runtime
}

#[tokio::test]
async fn a_running_containers_hold_on_a_volume_mount_survives_a_daemon_restart() {
    use berth_volume::mount::MountCall;
    let f = fixture();
    let id = tmpfs_user(&f, "tv", "c1").await;
    f.daemon.start(&id).await.unwrap();
    let target = f._dir.path().join("volumes/tv/_data");
    assert_eq!(f.mounter.calls().len(), 1);
    // berthd is killed; c1's shim still runs, and so does its tmpfs.
    let f = f.restart(still_running(&id));
    f.daemon.restore().await.unwrap();
    assert!(f.daemon.volumes.is_mounted("tv"), "c1 holds it again");
    // A second user shares the mount, not a new one on top of it.
    let second = f
        .create(
            Some("c2"),
            r#"{"Image":"busybox","HostConfig":{"Binds":["tv:/data"]}}"#,
        )
        .await
        .unwrap();
    f.daemon.start(&second).await.unwrap();
    assert_eq!(f.mounter.calls().len(), 1, "{:?}", f.mounter.calls());
    assert_eq!(
        f.daemon.volumes.holders("tv"),
        [id.clone(), second.clone()].into()
    );
    // The exits release the holds after their state is told.
    f.runtime.exit(&id, 0);
    until(|| f.daemon.volumes.holders("tv") == [second.clone()].into()).await;
    assert_eq!(f.mounter.calls().len(), 1, "c2 holds it");
    f.runtime.exit(&second, 0);
    until(|| !f.daemon.volumes.is_mounted("tv")).await;
    assert_eq!(f.mounter.calls().last(), Some(&MountCall::Unmount(target)));
}

/// Waits (bounded) until `done`.
async fn until(done: impl Fn() -> bool) {
    let wait = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("the condition within 5 s");
}

#[tokio::test]
async fn a_volume_mount_nobody_holds_after_a_restart_is_unmounted_at_daemon_start() {
    use berth_volume::mount::MountCall;
    let f = fixture();
    let id = tmpfs_user(&f, "tv", "c1").await;
    f.daemon.start(&id).await.unwrap();
    let target = f._dir.path().join("volumes/tv/_data");
    // c1 exited while berthd was down: its mount has no holder left.
    let f = f.restart(FakeRuntime::exited_meanwhile(0));
    f.daemon.restore().await.unwrap();
    assert_eq!(f.mounter.calls().last(), Some(&MountCall::Unmount(target)));
    assert!(!f.daemon.volumes.is_mounted("tv"));
}

#[tokio::test]
async fn an_unmount_that_fails_does_not_keep_the_other_volumes_held() {
    let f = fixture();
    // Released in name order: the failing one first.
    for (name, device) in [
        ("abusy", berth_volume::RecordingMounter::FAIL_UNMOUNT_DEVICE),
        ("bok", "tmpfs"),
    ] {
        f.volume_create(&format!(
            r#"{{"Name":"{name}","DriverOpts":{{"type":"tmpfs","device":"{device}"}}}}"#
        ))
        .await
        .unwrap();
    }
    let id = f
        .create(
            None,
            r#"{"Image":"busybox","HostConfig":{"Binds":["abusy:/a","bok:/b"]}}"#,
        )
        .await
        .unwrap();
    f.daemon.start(&id).await.unwrap();
    assert!(f.daemon.volumes.is_mounted("abusy") && f.daemon.volumes.is_mounted("bok"));
    f.runtime.exit(&id, 0);
    until(|| !f.daemon.volumes.is_mounted("bok")).await;
    assert!(
        f.mounter
            .calls()
            .contains(&berth_volume::mount::MountCall::Unmount(
                f._dir.path().join("volumes/bok/_data")
            ))
    );
    // Its hold went too; its mount, still up, stays known for the next
    // user to share (moby `localVolume.Unmount`).
    assert!(f.daemon.volumes.holders("abusy").is_empty());
    assert!(f.daemon.volumes.is_mounted("abusy"));
}

#[tokio::test(start_paused = true)]
async fn a_container_in_its_restart_backoff_at_daemon_start_holds_its_volumes_only_once_restarted()
{
    use berth_volume::mount::MountCall;
    let f = fixture();
    let id = tmpfs_user(&f, "tv", "w").await;
    // What the record says when berthd was killed during a backoff; the
    // tmpfs is still up (an unmount that failed before).
    let mut record: ContainerRecord = f.store.get(CONTAINERS, &id).unwrap().unwrap();
    record.state.status = Status::Restarting;
    record.state.running = true;
    record.state.restarting = true;
    record.state.started_at = "2026-01-01T00:00:00Z".into();
    f.store.put(CONTAINERS, &id, &record).unwrap();
    let target = f._dir.path().join("volumes/tv/_data");
    f.mounter.left_mounted(&target, "tmpfs");
    let f = f.restart(FakeRuntime::exited_meanwhile(1));
    f.daemon.restore().await.unwrap();
    // Its exit released it already: it holds nothing while it waits, so
    // a stop or removal meanwhile leaves nothing held.
    assert_eq!(f.mounter.calls(), [MountCall::Unmount(target.clone())]);
    assert!(!f.daemon.volumes.is_mounted("tv"));
    // Its restart takes a hold again.
    f.wait_status(&id, Status::Running).await;
    assert_eq!(f.daemon.volumes.holders("tv"), [id].into());
    assert!(matches!(
        f.mounter.calls().last(),
        Some(MountCall::Mount { .. })
    ));
}
