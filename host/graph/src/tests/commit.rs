//! `docker commit`: the upper directory as a new layer, whiteouts and the
//! init mount points handled, the config merged.

use berth_model::graph::archive::{CommitDefaults, CommitRequest};

use super::{Fixture, Tar};

const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

#[test]
fn commit_makes_the_upper_dir_a_layer_with_whiteouts_and_a_history_entry() {
    let f = Fixture::overlay();
    let base = Tar::new()
        .dir("etc/")
        .file("etc/passwd", "root\n")
        .file("gone", "x")
        .dir("keep/")
        .file("keep/old", "o")
        .build();
    f.import(&base, Some("base")).unwrap();
    f.graph.create_rootfs(C, "base").unwrap();
    let upper = f.graph.root().join("containers").join(C).join("upper");
    std::fs::write(upper.join("new"), "n\n").unwrap();
    // A deletion as overlayfs records it, and an emptied directory.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    std::fs::create_dir(upper.join("keep")).unwrap();
    rustix::fs::setxattr(
        upper.join("keep"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // berth's mount points: left out.
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::write(upper.join("etc/hosts"), "").unwrap();
    std::fs::create_dir(upper.join("proc")).unwrap();

    let id = f
        .graph
        .commit(&CommitRequest {
            container_id: C.into(),
            repo: "snap".into(),
            tag: "1".into(),
            comment: "a snapshot".into(),
            author: "me".into(),
            changes: vec!["ENV B=2".into()],
            defaults: CommitDefaults {
                cmd: Some(vec!["sh".into()]),
                env: vec!["A=1".into()],
                ..Default::default()
            },
            created_by: "sh -c touch".into(),
        })
        .unwrap();
    assert_eq!(f.graph.resolve("snap:1").unwrap(), id);
    let details = f.graph.inspect("snap:1").unwrap();
    assert_eq!(details.layers.len(), 2);
    assert_eq!(details.author, "me");
    let config = details.config.config().clone().unwrap();
    assert_eq!(config.env().clone().unwrap(), ["A=1", "B=2"]);
    assert_eq!(config.cmd().clone().unwrap(), ["sh"]);
    let layer = f.layer_diff(&details.layers[1]);
    let mut names: Vec<String> = std::fs::read_dir(&layer)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["etc", "gone", "keep", "new"], "no proc");
    assert!(!layer.join("etc/hosts").exists());
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(layer.join("gone"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let history = f.graph.history("snap:1").unwrap();
    assert_eq!(history[0].created_by, "sh -c touch");
    assert_eq!(history[0].comment, "a snapshot");
    assert_eq!(history[0].size, 2);

    // Unknown container, bad change: refused, nothing new.
    let err = f
        .graph
        .commit(&CommitRequest {
            container_id: "d".repeat(64),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, crate::GraphError::RootfsNotFound { .. }),
        "{err:?}"
    );
    let err = f
        .graph
        .commit(&CommitRequest {
            container_id: C.into(),
            changes: vec!["RUN rm -rf /".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidParameter, "{err}");
    assert_eq!(f.graph.images().unwrap().len(), 2);
}

#[test]
fn commit_on_vfs_is_refused_by_name() {
    let f = Fixture::vfs();
    f.import(&Tar::new().file("a", "a").build(), Some("base"))
        .unwrap();
    f.graph.create_rootfs(C, "base").unwrap();
    let err = f
        .graph
        .commit(&CommitRequest {
            container_id: C.into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("vfs"), "{err}");
}
