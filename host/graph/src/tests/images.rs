//! Import, list, inspect, resolve, tag and rmi.

use std::fs;
use std::io::{Cursor, Write};

use super::{Fixture, Tar, small_rootfs};
use crate::compress::sha256_hex;
use crate::{DeleteRecord, GraphError, ImportOptions};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[test]
fn import_plain_gzip_and_zstd_share_the_layer() {
    let f = Fixture::vfs();
    let tar = small_rootfs();
    let plain = f.import(&tar, Some("busybox")).unwrap();
    assert_eq!(plain.diff_id, format!("sha256:{}", sha256_hex(&tar)));
    assert_eq!(plain.tagged.as_deref(), Some("busybox:latest"));
    assert!(!plain.layer_reused);
    let content = "#!/bin/sh\necho tool\n".len() + "root:x:0:0:root:/root:/bin/sh\n".len();
    assert_eq!(
        plain.size, content as u64,
        "hard links are not counted twice"
    );

    let gz = f.import(&gzip(&tar), Some("busybox:gz")).unwrap();
    let zst = f
        .import(
            &zstd::encode_all(Cursor::new(&tar), 3).unwrap(),
            Some("busybox:zst"),
        )
        .unwrap();
    assert_eq!(
        gz.diff_id, plain.diff_id,
        "diff id is of the uncompressed tar"
    );
    assert_eq!(zst.diff_id, plain.diff_id);
    assert!(gz.layer_reused && zst.layer_reused);
    assert_eq!(
        fs::read_dir(f.graph.root().join("layers")).unwrap().count(),
        1
    );
    assert_eq!(
        fs::read_dir(f.graph.root().join("tmp")).unwrap().count(),
        0,
        "staging dirs are removed"
    );
    assert_eq!(f.graph.images().unwrap().len(), 3);
}

#[test]
fn inspect_shows_docker_fields_and_the_verified_config() {
    let f = Fixture::vfs();
    let report = f
        .graph
        .import(
            Cursor::new(small_rootfs()),
            &ImportOptions {
                repo: Some("docker.io/library/app".into()),
                tag: Some("v1".into()),
                changes: vec![
                    "CMD [\"/bin/tool\"]".into(),
                    "ENV A=b".into(),
                    "WORKDIR /srv".into(),
                    "USER 1000".into(),
                    "LABEL k=v".into(),
                    "ENTRYPOINT [\"/bin/sh\", \"-c\"]".into(),
                ],
                message: Some("made by a test".into()),
                platform: Some("linux/arm64/v8".into()),
            },
        )
        .unwrap();
    assert_eq!(report.tagged.as_deref(), Some("app:v1"));
    let d = f.graph.inspect("app:v1").unwrap();
    assert_eq!(d.id, report.image_id);
    assert_eq!(d.repo_tags, ["app:v1"]);
    assert_eq!(d.comment, "made by a test");
    assert_eq!(d.architecture, "arm64");
    assert_eq!(d.variant.as_deref(), Some("v8"));
    assert_eq!(d.os, "linux");
    assert_eq!(d.layers, std::slice::from_ref(&report.diff_id));
    assert_eq!(d.driver, "vfs");
    let c = d.config.config().clone().unwrap();
    assert_eq!(c.cmd().clone().unwrap(), ["/bin/tool"]);
    assert_eq!(c.env().clone().unwrap(), ["A=b"]);
    assert_eq!(c.working_dir().as_deref(), Some("/srv"));
    assert_eq!(c.user().as_deref(), Some("1000"));
    assert_eq!(c.labels().clone().unwrap()["k"], "v");
    let list = f.graph.images().unwrap();
    assert_eq!(list[0].labels["k"], "v");
    assert_eq!(list[0].size, report.size);

    // The image id is the digest of the stored config blob.
    let hex = report.image_id.strip_prefix("sha256:").unwrap();
    let blob = f.graph.root().join("blobs/sha256").join(hex);
    assert_eq!(sha256_hex(&fs::read(&blob).unwrap()), hex);
    // A corrupted blob is detected, not served.
    fs::write(&blob, b"{}").unwrap();
    assert!(matches!(
        f.graph.inspect(&report.image_id),
        Err(GraphError::DigestMismatch { .. })
    ));
}

#[test]
fn invalid_options_change_nothing() {
    let f = Fixture::vfs();
    let bad = [
        ImportOptions {
            repo: Some("Bad/Name".into()),
            ..Default::default()
        },
        ImportOptions {
            repo: Some("ok".into()),
            tag: Some("bad tag".into()),
            ..Default::default()
        },
        ImportOptions {
            tag: Some("t".into()),
            ..Default::default()
        },
        ImportOptions {
            changes: vec!["RUN rm -rf /".into()],
            ..Default::default()
        },
        ImportOptions {
            platform: Some("windows/amd64".into()),
            ..Default::default()
        },
    ];
    for options in bad {
        let err = f
            .graph
            .import(Cursor::new(small_rootfs()), &options)
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidParameter, "{err}");
        f.assert_empty();
    }
}

#[test]
fn refused_changes_and_platforms_are_typed_and_keep_their_words() {
    let f = Fixture::vfs();
    let import = |options: ImportOptions| {
        f.graph
            .import(Cursor::new(small_rootfs()), &options)
            .unwrap_err()
    };
    let err = import(ImportOptions {
        changes: vec!["RUN rm -rf /".into()],
        ..Default::default()
    });
    assert!(
        matches!(&err, GraphError::InvalidChange(crate::ChangeError::NotAChangeCommand { instruction }) if instruction == "RUN"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid import option: RUN is not a valid change command"
    );
    let err = import(ImportOptions {
        platform: Some("windows/amd64".into()),
        ..Default::default()
    });
    assert!(
        matches!(&err, GraphError::InvalidPlatform(crate::PlatformError::UnsupportedOs(os)) if os == "windows"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid import option: operating system \"windows\" is not supported: berth imports \
         linux images only"
    );
    let err = "zfs".parse::<crate::DriverChoice>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown storage driver \"zfs\": choose overlay, vfs or auto"
    );
}

#[test]
fn resolve_by_tag_id_digest_and_prefix() {
    let f = Fixture::vfs();
    let r = f.import(&small_rootfs(), Some("busybox")).unwrap();
    let id = r.image_id.clone();
    let hex = id.strip_prefix("sha256:").unwrap();
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
        "index.docker.io/library/busybox:latest",
        id.as_str(),
        hex,
        &hex[..12],
        &hex[..3],
        &id[..15],
    ] {
        assert_eq!(f.graph.resolve(name).unwrap(), id, "{name}");
    }
    for name in ["busybox:other", "nothere", "sha256:zz", "ffffffffffff"] {
        let err = f.graph.resolve(name).unwrap_err();
        assert!(
            matches!(err, GraphError::ImageNotFound { .. }),
            "{name}: {err}"
        );
        assert_eq!(err.to_string(), format!("No such image: {name}"));
    }
    assert!(matches!(
        f.graph.resolve("Invalid:Name:x"),
        Err(GraphError::Reference(_))
    ));
}

#[test]
fn ambiguous_prefixes_are_an_error() {
    let f = Fixture::vfs();
    // 17 images: two share a first hex digit (pigeonhole).
    let mut ids = Vec::new();
    for i in 0..17 {
        let tar = Tar::new().file("f", &format!("{i}")).build();
        ids.push(f.import(&tar, None).unwrap().image_id);
    }
    let firsts: Vec<char> = ids.iter().map(|i| i.chars().nth(7).unwrap()).collect();
    let dup = firsts
        .iter()
        .find(|c| firsts.iter().filter(|d| d == c).count() > 1)
        .unwrap();
    let err = f.graph.resolve(&dup.to_string()).unwrap_err();
    assert!(
        matches!(err, GraphError::AmbiguousImage { count, .. } if count >= 2),
        "{err}"
    );
    assert_eq!(err.kind(), crate::ErrorKind::Conflict);
}

#[test]
fn tag_moves_and_rmi_follows_dockers_rules() {
    let f = Fixture::vfs();
    let a = f.import(&small_rootfs(), Some("app")).unwrap().image_id;
    assert_eq!(f.graph.tag("app", "app", Some("v2")).unwrap(), "app:v2");
    assert_eq!(
        f.graph
            .tag(&a, "registry.example.com:5000/team/app", None)
            .unwrap(),
        "registry.example.com:5000/team/app:latest"
    );
    assert_eq!(
        f.graph.inspect(&a).unwrap().repo_tags,
        [
            "app:latest",
            "app:v2",
            "registry.example.com:5000/team/app:latest"
        ]
    );
    assert!(f.graph.tag("nothere", "x", None).is_err());
    assert!(
        f.graph
            .tag("app", &format!("x@sha256:{}", "a".repeat(64)), None)
            .is_err()
    );

    // By id with tags in two repositories: refused unless forced.
    let err = f.graph.remove_image(&a, false).unwrap_err();
    assert!(err.to_string().contains("multiple repositories"), "{err}");

    // By tag while other tags remain: only the tag goes.
    assert_eq!(
        f.graph.remove_image("app:v2", false).unwrap(),
        [DeleteRecord::Untagged("app:v2".into())]
    );
    assert_eq!(
        f.graph
            .remove_image("registry.example.com:5000/team/app", false)
            .unwrap(),
        [DeleteRecord::Untagged(
            "registry.example.com:5000/team/app:latest".into()
        )]
    );
    // The last tag: tag, image and its now unused layer go.
    let layer = f.graph.inspect(&a).unwrap().layers[0].clone();
    let records = f.graph.remove_image("app", false).unwrap();
    assert_eq!(
        records,
        [
            DeleteRecord::Untagged("app:latest".into()),
            DeleteRecord::Deleted(a.clone()),
            DeleteRecord::Deleted(layer),
        ]
    );
    f.assert_empty();
    assert!(matches!(
        f.graph.remove_image("app", false),
        Err(GraphError::ImageNotFound { .. })
    ));
}

#[test]
fn rmi_conflicts_with_containers() {
    let f = Fixture::vfs();
    let a = f.import(&small_rootfs(), Some("app")).unwrap().image_id;
    let cid = "c".repeat(64);
    f.graph.create_rootfs(&cid, "app").unwrap();

    // Last tag, a (stopped) container uses it: must force.
    let err = f.graph.remove_image("app", false).unwrap_err();
    assert!(err.to_string().contains("must force"), "{err}");
    assert_eq!(err.kind(), crate::ErrorKind::Conflict);
    // By id: must be forced.
    let err = f.graph.remove_image(&a, false).unwrap_err();
    assert!(err.to_string().contains("stopped container"), "{err}");

    // Running (mounted): forced rmi by name only untags.
    f.graph.mount_rootfs(&cid).unwrap();
    assert_eq!(
        f.graph.remove_image("app", true).unwrap(),
        [DeleteRecord::Untagged("app:latest".into())]
    );
    assert_eq!(f.graph.resolve(&a).unwrap(), a, "image stays, untagged");
    let err = f.graph.remove_image(&a, true).unwrap_err();
    assert!(err.to_string().contains("cannot be forced"), "{err}");

    // Stopped again: forced removal by id deletes the image; the layer
    // stays while the container's rootfs uses it.
    f.graph.unmount_rootfs(&cid).unwrap();
    let records = f.graph.remove_image(&a, true).unwrap();
    assert_eq!(records, [DeleteRecord::Deleted(a.clone())]);
    assert_eq!(f.graph.disk_usage().unwrap().layers.len(), 1);
    f.graph.remove_rootfs(&cid).unwrap();
    let gc = f.graph.gc().unwrap();
    assert_eq!(gc.removed.len(), 1);
    f.assert_empty();
}

#[test]
fn crash_leftovers_are_swept_at_open() {
    let mut f = Fixture::vfs();
    let kept = f.import(&small_rootfs(), Some("kept")).unwrap();
    let root = f.graph.root().to_path_buf();
    // What a crash at each step of an import or create could leave.
    fs::create_dir_all(root.join("tmp/layer-crashed/diff/etc")).unwrap();
    fs::create_dir_all(root.join("layers").join("e".repeat(64)).join("diff")).unwrap();
    fs::create_dir_all(root.join("flat").join("f".repeat(64)).join("diff")).unwrap();
    fs::write(root.join("blobs/sha256").join("d".repeat(64)), b"{}").unwrap();
    std::os::unix::fs::symlink("../layers/nothing/diff", root.join("l/dangling")).unwrap();
    fs::create_dir_all(root.join("containers").join("a".repeat(64)).join("upper")).unwrap();
    f.reopen(|c| c.driver(crate::DriverChoice::Vfs));
    let names = |sub: &str| -> Vec<String> {
        fs::read_dir(root.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    assert!(names("tmp").is_empty());
    assert_eq!(
        names("layers"),
        [kept.diff_id.strip_prefix("sha256:").unwrap()]
    );
    assert!(names("flat").is_empty());
    assert_eq!(
        names("blobs/sha256"),
        [kept.image_id.strip_prefix("sha256:").unwrap()]
    );
    assert_eq!(names("l").len(), 1);
    assert!(names("containers").is_empty());
    assert_eq!(f.graph.resolve("kept").unwrap(), kept.image_id);
}

#[test]
fn a_data_root_keeps_its_driver() {
    let mut f = Fixture::vfs();
    f.import(&small_rootfs(), Some("x")).unwrap();
    let err = f
        .try_reopen(|c| c.driver(crate::DriverChoice::Overlay))
        .unwrap_err();
    assert!(matches!(err, GraphError::DriverMismatch { .. }), "{err}");
    // Auto keeps the stored driver.
    f.reopen(|c| c.driver(crate::DriverChoice::Auto));
    assert_eq!(f.graph.driver(), crate::StorageDriver::Vfs);
    assert_eq!(f.graph.images().unwrap().len(), 1);
}

#[test]
fn concurrent_imports_of_one_layer_share_it() {
    let f = Fixture::vfs();
    let tar = small_rootfs();
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (f, tar) = (&f, &tar);
                s.spawn(move || f.import(tar, Some(&format!("same:{i}"))).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(reports.iter().all(|r| r.diff_id == reports[0].diff_id));
    assert_eq!(
        reports.iter().filter(|r| !r.layer_reused).count(),
        1,
        "exactly one import published the layer"
    );
    assert_eq!(
        fs::read_dir(f.graph.root().join("layers")).unwrap().count(),
        1
    );
    assert_eq!(fs::read_dir(f.graph.root().join("tmp")).unwrap().count(), 0);
    assert_eq!(f.graph.images().unwrap().len(), 4);
}

#[test]
fn a_blob_file_a_killed_pull_left_in_tmp_is_swept_at_open() {
    // A pull streams each layer blob into a plain file `tmp/blob-*`; a
    // `kill -9` leaves it there. Opening the graph again must remove it
    // (and must not refuse to open because it is not a directory).
    let mut f = Fixture::vfs();
    let tmp = f.graph.root().join("tmp");
    fs::write(tmp.join("blob-partial"), b"half a layer").unwrap();
    fs::create_dir(tmp.join("import-staging")).unwrap();
    fs::write(tmp.join("import-staging/file"), b"x").unwrap();
    f.reopen(|c| c.driver(crate::DriverChoice::Vfs));
    let left: Vec<_> = fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
