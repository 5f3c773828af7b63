//! Container rootfs (vfs copies, overlay through the recording mounter),
//! flattening, policy validation, gc and disk usage.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::{Fixture, Tar, multi_layer_image, small_rootfs};
use crate::policy::{
    GcPlan, GcRequest, ImportPlan, ImportRequest, LayoutPolicy, Lower, PolicyError, RootfsPlan,
    RootfsRequest,
};
use crate::{GraphError, MountCall, NativeLayoutPolicy, StorageDriver};

const C1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Four layers exercising whiteouts, opaque dirs and replacements.
fn layered_tars() -> Vec<Vec<u8>> {
    vec![
        Tar::new()
            .dir("etc/")
            .file("etc/passwd", "base")
            .file("etc/group", "base")
            .dir("opt/")
            .file("opt/a", "base")
            .file("opt/b", "base")
            .dir("becomes-file/")
            .file("becomes-file/x", "base")
            .file("becomes-dir", "base")
            .build(),
        Tar::new()
            .file("etc/.wh.group", "")
            .file("etc/passwd", "layer1")
            .build(),
        Tar::new()
            .dir("opt/")
            .file("opt/.wh..wh..opq", "")
            .file("opt/c", "layer2")
            .file("becomes-file", "now a file")
            .build(),
        Tar::new()
            .dir("becomes-dir/")
            .file("becomes-dir/y", "layer3")
            .file("etc/hostname", "layer3")
            .build(),
    ]
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn assert_layered_rootfs(root: &Path) {
    assert_eq!(
        fs::read_to_string(root.join("etc/passwd")).unwrap(),
        "layer1"
    );
    assert!(!root.join("etc/group").exists(), "whiteout applied");
    assert_eq!(names(&root.join("etc")), ["hostname", "passwd"]);
    assert_eq!(
        names(&root.join("opt")),
        ["c"],
        "opaque dir hides lower content"
    );
    assert_eq!(
        fs::read_to_string(root.join("becomes-file")).unwrap(),
        "now a file"
    );
    assert_eq!(names(&root.join("becomes-dir")), ["y"]);
    assert_eq!(
        names(root),
        ["becomes-dir", "becomes-file", "etc", "opt"],
        "no whiteout markers in a final rootfs"
    );
}

#[test]
fn vfs_rootfs_applies_layers_and_whiteouts() {
    let f = Fixture::vfs();
    multi_layer_image(&f.graph, &layered_tars(), "layered");
    let info = f.graph.create_rootfs(C1, "layered").unwrap();
    assert_eq!(info.driver, StorageDriver::Vfs);
    assert_eq!(info.lower_dirs, 4);
    let path = f.graph.mount_rootfs(C1).unwrap();
    assert_eq!(path, info.path);
    assert_layered_rootfs(&path);
    assert!(f.mounter.calls().is_empty(), "vfs never mounts");

    // Writes stay in this container's copy.
    fs::write(path.join("etc/passwd"), "changed").unwrap();
    let other = f.graph.create_rootfs(C2, "layered").unwrap();
    assert_eq!(
        fs::read_to_string(other.path.join("etc/passwd")).unwrap(),
        "layer1"
    );
    let usage = f.graph.disk_usage().unwrap();
    assert_eq!(usage.containers.len(), 2);
    assert_eq!(usage.images[0].containers, 2);

    assert!(matches!(
        f.graph.create_rootfs(C1, "layered"),
        Err(GraphError::RootfsExists { .. })
    ));
    f.graph.remove_rootfs(C1).unwrap();
    f.graph.remove_rootfs(C1).unwrap();
    assert!(!f.graph.root().join("containers").join(C1).exists());
    assert!(matches!(
        f.graph.mount_rootfs(C1),
        Err(GraphError::RootfsNotFound { .. })
    ));
}

#[test]
fn deep_chains_are_flattened_within_the_limit() {
    let f = Fixture::with(|c| c.driver(crate::DriverChoice::Vfs).max_lower_dirs(2));
    multi_layer_image(&f.graph, &layered_tars(), "layered");
    // The import pre-built the flattened base (native policy: bottom 3).
    let usage = f.graph.disk_usage().unwrap();
    let flat: Vec<_> = usage
        .layers
        .iter()
        .filter(|l| l.kind == "flattened")
        .collect();
    assert_eq!(flat.len(), 1, "{:?}", usage.layers);
    assert_eq!(flat[0].images, 1);
    let flat_diff = f.graph.root().join("flat").join(&flat[0].id).join("diff");
    // The run is the base of the chain: nothing lies below it, so its
    // whiteouts are applied and dropped.
    assert_eq!(names(&flat_diff.join("etc")), ["passwd"]);
    assert_eq!(names(&flat_diff.join("opt")), ["c"]);
    assert!(
        flat_diff.join("becomes-dir").is_file(),
        "becomes-dir is replaced only in the top layer"
    );

    let info = f.graph.create_rootfs(C1, "layered").unwrap();
    assert_eq!(info.lower_dirs, 2);
    assert_layered_rootfs(&info.path);

    // Removing image and rootfs leaves the flattened cache unreferenced: gc
    // removes it along with the layers.
    f.graph.remove_rootfs(C1).unwrap();
    let records = f.graph.remove_image("layered", false).unwrap();
    assert_eq!(
        records.len(),
        2 + 5,
        "untag, image, 4 layers, 1 flattened: {records:?}"
    );
    f.assert_empty();
}

/// Flattens the middle of the chain: layers 1 and 2 into one lower.
struct MiddleRun;

impl LayoutPolicy for MiddleRun {
    fn name(&self) -> String {
        "middle-run".into()
    }
    fn plan_rootfs(&self, r: &RootfsRequest) -> Result<RootfsPlan, PolicyError> {
        let id = |i: usize| r.layers[i].id.clone();
        Ok(RootfsPlan {
            lowers: vec![
                Lower {
                    layers: vec![id(0)],
                },
                Lower {
                    layers: vec![id(1), id(2)],
                },
                Lower {
                    layers: vec![id(3)],
                },
            ],
        })
    }
    fn plan_import(&self, _: &ImportRequest) -> Result<ImportPlan, PolicyError> {
        Ok(ImportPlan::default())
    }
    fn plan_gc(&self, r: &GcRequest) -> Result<GcPlan, PolicyError> {
        NativeLayoutPolicy.plan_gc(r)
    }
}

#[test]
fn a_flattened_middle_run_keeps_its_whiteouts() {
    let f = Fixture::with(|c| {
        c.driver(crate::DriverChoice::Vfs)
            .policy(Arc::new(MiddleRun))
    });
    multi_layer_image(&f.graph, &layered_tars(), "layered");
    let info = f.graph.create_rootfs(C1, "layered").unwrap();
    assert_eq!(info.lower_dirs, 3);
    let usage = f.graph.disk_usage().unwrap();
    let flat = usage.layers.iter().find(|l| l.kind == "flattened").unwrap();
    assert_eq!((flat.images, flat.containers), (1, 1));
    let flat_diff = f.graph.root().join("flat").join(&flat.id).join("diff");
    // Whiteouts must keep hiding the base layer's entries.
    assert!(flat_diff.join("etc/.wh.group").exists());
    assert!(flat_diff.join("opt/.wh..wh..opq").exists());
    assert_layered_rootfs(&info.path);
}

#[test]
fn overlay_mounts_through_short_links_in_overlay_order() {
    let f = Fixture::overlay();
    assert_eq!(f.graph.driver(), StorageDriver::Overlay);
    // The probe mounted and unmounted once.
    assert_eq!(f.mounter.calls().len(), 2);
    let tars: Vec<Vec<u8>> = (0..3)
        .map(|i| Tar::new().file(&format!("f{i}"), "x").build())
        .collect();
    multi_layer_image(&f.graph, &tars, "three");
    let details = f.graph.inspect("three").unwrap();
    assert!(details.driver_data.contains_key("UpperDir"));
    assert_eq!(details.driver, "overlay2");

    let info = f.graph.create_rootfs(C1, "three").unwrap();
    let root = f.graph.root();
    for d in ["upper", "work", "merged"] {
        assert!(root.join("containers").join(C1).join(d).is_dir(), "{d}");
    }
    let path = f.graph.mount_rootfs(C1).unwrap();
    assert_eq!(path, info.path);
    assert_eq!(f.graph.mount_rootfs(C1).unwrap(), path, "idempotent");
    let mounts: Vec<_> = f
        .mounter
        .calls()
        .into_iter()
        .skip(2)
        .filter(|c| matches!(c, MountCall::Mount { .. }))
        .collect();
    assert_eq!(mounts.len(), 1, "a mounted rootfs is not mounted again");
    let MountCall::Mount { options, target } = &mounts[0] else {
        unreachable!()
    };
    assert_eq!(target, &path);
    let lowers: Vec<&str> = options
        .strip_prefix("lowerdir=")
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split(':')
        .collect();
    assert_eq!(lowers.len(), 3);
    let layer_ids: Vec<String> = details
        .layers
        .iter()
        .map(|l| l.strip_prefix("sha256:").unwrap().to_owned())
        .collect();
    for (lower, id) in lowers.iter().zip(layer_ids.iter().rev()) {
        // Top layer first; each a short link resolving to the layer's diff.
        assert!(
            lower.starts_with(&root.join("l").display().to_string()),
            "{lower}"
        );
        assert_eq!(
            fs::canonicalize(lower).unwrap(),
            fs::canonicalize(root.join("layers").join(id).join("diff")).unwrap()
        );
    }
    assert!(options.contains(&format!(
        ",upperdir={}",
        root.join("containers").join(C1).join("upper").display()
    )));
    assert!(options.contains(&format!(
        ",workdir={}",
        root.join("containers").join(C1).join("work").display()
    )));

    f.graph.unmount_rootfs(C1).unwrap();
    assert!(f.mounter.mounted().is_empty());
    f.graph.mount_rootfs(C1).unwrap();
    f.graph.remove_rootfs(C1).unwrap();
    assert!(f.mounter.mounted().is_empty(), "remove unmounts");
    assert!(!root.join("containers").join(C1).exists());
}

#[test]
fn the_lower_dir_limit_follows_the_page_budget() {
    let f = Fixture::overlay();
    let max = f.graph.max_lower_dirs(C1);
    let per = f.graph.root().join("l").as_os_str().len() + 1 + 16 + 1;
    assert!(max >= 1 && (max as usize) * per < 4096, "{max}");
    assert!(max <= crate::DEFAULT_MAX_LOWER_DIRS);
}

#[test]
fn a_failed_mount_is_reported_and_leaves_it_unmounted() {
    let f = Fixture::overlay();
    f.import(&small_rootfs(), Some("x")).unwrap();
    f.graph.create_rootfs(C1, "x").unwrap();
    f.mounter
        .fail_next_mount(std::io::ErrorKind::PermissionDenied);
    let err = f.graph.mount_rootfs(C1).unwrap_err();
    assert!(matches!(err, GraphError::Mount { .. }), "{err}");
    assert!(err.to_string().contains("lowerdir="), "{err}");
    // Not recorded as mounted: rmi by id is a "stopped container" conflict.
    let id = f.graph.resolve("x").unwrap();
    let e = f.graph.remove_image(&id, false).unwrap_err();
    assert!(e.to_string().contains("stopped"), "{e}");
}

type Planner<Req, Plan> = Box<dyn Fn(&Req) -> Result<Plan, PolicyError> + Send + Sync>;

/// A policy returning whatever plans it was built with.
struct Scripted {
    rootfs: Planner<RootfsRequest, RootfsPlan>,
    import: Planner<ImportRequest, ImportPlan>,
    gc: Planner<GcRequest, GcPlan>,
}

impl Scripted {
    fn native() -> Self {
        Self {
            rootfs: Box::new(|r| NativeLayoutPolicy.plan_rootfs(r)),
            import: Box::new(|r| NativeLayoutPolicy.plan_import(r)),
            gc: Box::new(|r| NativeLayoutPolicy.plan_gc(r)),
        }
    }
}

impl LayoutPolicy for Scripted {
    fn name(&self) -> String {
        "scripted-test-policy".into()
    }
    fn plan_rootfs(&self, r: &RootfsRequest) -> Result<RootfsPlan, PolicyError> {
        (self.rootfs)(r)
    }
    fn plan_import(&self, r: &ImportRequest) -> Result<ImportPlan, PolicyError> {
        (self.import)(r)
    }
    fn plan_gc(&self, r: &GcRequest) -> Result<GcPlan, PolicyError> {
        (self.gc)(r)
    }
}

fn assert_invalid_plan(err: GraphError, what: &str) {
    match &err {
        GraphError::InvalidPlan {
            policy, what: w, ..
        } => {
            assert_eq!(policy, "scripted-test-policy");
            assert_eq!(*w, what);
        }
        other => panic!("expected an invalid {what} plan, got {other:?}"),
    }
    assert!(err.to_string().contains("scripted-test-policy"), "{err}");
}

#[test]
fn invalid_rootfs_plans_write_nothing() {
    let f = Fixture::vfs();
    multi_layer_image(&f.graph, &layered_tars(), "layered");
    type BadPlan = Box<dyn Fn(&RootfsRequest) -> RootfsPlan + Send + Sync>;
    let bad_plans: Vec<BadPlan> = vec![
        // Reordered.
        Box::new(|r| RootfsPlan {
            lowers: r
                .layers
                .iter()
                .rev()
                .map(|l| Lower {
                    layers: vec![l.id.clone()],
                })
                .collect(),
        }),
        // A path instead of an id.
        Box::new(|_| RootfsPlan {
            lowers: vec![Lower {
                layers: vec!["/etc".into()],
            }],
        }),
        // An invented layer on top.
        Box::new(|r| {
            let mut lowers: Vec<Lower> = r
                .layers
                .iter()
                .map(|l| Lower {
                    layers: vec![l.id.clone()],
                })
                .collect();
            lowers.push(Lower {
                layers: vec!["9".repeat(64)],
            });
            RootfsPlan { lowers }
        }),
        // A non-contiguous flatten group.
        Box::new(|r| RootfsPlan {
            lowers: vec![
                Lower {
                    layers: vec![r.layers[0].id.clone(), r.layers[2].id.clone()],
                },
                Lower {
                    layers: vec![r.layers[1].id.clone()],
                },
                Lower {
                    layers: vec![r.layers[3].id.clone()],
                },
            ],
        }),
    ];
    for bad in bad_plans {
        let mut policy = Scripted::native();
        policy.rootfs = Box::new(move |r| Ok(bad(r)));
        f.graph.set_policy(Arc::new(policy));
        let err = f.graph.create_rootfs(C1, "layered").unwrap_err();
        assert_invalid_plan(err, "rootfs");
        assert!(names(&f.graph.root().join("containers")).is_empty());
        assert!(names(&f.graph.root().join("flat")).is_empty());
        assert!(f.graph.disk_usage().unwrap().containers.is_empty());
    }
    // A policy error is reported with the policy's name.
    let mut policy = Scripted::native();
    policy.rootfs = Box::new(|_| Err(PolicyError::new("no layout today")));
    f.graph.set_policy(Arc::new(policy));
    let err = f.graph.create_rootfs(C1, "layered").unwrap_err();
    assert!(matches!(err, GraphError::Policy { .. }), "{err}");
    assert!(
        format!("{err}: {}", std::error::Error::source(&err).unwrap()).contains("no layout today")
    );
}

#[test]
fn invalid_import_plans_store_nothing() {
    let f = Fixture::vfs();
    let mut policy = Scripted::native();
    policy.import = Box::new(|r| {
        Ok(ImportPlan {
            flatten: vec![Lower {
                layers: vec![r.layers[0].id.clone(), "../../etc".into()],
            }],
        })
    });
    f.graph.set_policy(Arc::new(policy));
    let err = f.import(&small_rootfs(), Some("x")).unwrap_err();
    assert_invalid_plan(err, "import");
    f.assert_empty();
}

#[test]
fn gc_removes_only_what_a_valid_plan_names() {
    let f = Fixture::vfs();
    f.import(&small_rootfs(), Some("kept")).unwrap();
    let orphan = f
        .graph
        .add_layer(
            std::io::Cursor::new(Tar::new().file("o", "orphan").build()),
            None,
        )
        .unwrap();
    let kept_layer = f.graph.inspect("kept").unwrap().layers[0].clone();

    // A policy that also wants the referenced layer: refused, nothing removed.
    let mut greedy = Scripted::native();
    greedy.gc = Box::new(|r| {
        Ok(GcPlan {
            remove: r.layers.iter().map(|l| l.id.clone()).collect(),
        })
    });
    f.graph.set_policy(Arc::new(greedy));
    assert_invalid_plan(f.graph.gc().unwrap_err(), "gc");
    assert_eq!(f.graph.disk_usage().unwrap().layers.len(), 2);

    f.graph.set_policy(Arc::new(NativeLayoutPolicy));
    let dry = f.graph.gc_dry_run().unwrap();
    assert_eq!(
        f.graph.disk_usage().unwrap().layers.len(),
        2,
        "dry run removes nothing"
    );
    let report = f.graph.gc().unwrap();
    // The same plan, told apart only by the dry-run flag.
    assert!(dry.dry_run && !report.dry_run);
    assert_eq!(
        crate::GcReport {
            dry_run: false,
            ..dry
        },
        report
    );
    assert_eq!(report.policy, "native");
    assert_eq!(
        report.removed,
        [orphan.diff_id.strip_prefix("sha256:").unwrap()]
    );
    assert_eq!(report.reclaimed, "orphan".len() as u64);
    let usage = f.graph.disk_usage().unwrap();
    assert_eq!(usage.layers.len(), 1);
    assert_eq!(format!("sha256:{}", usage.layers[0].id), kept_layer);
    assert_eq!(usage.layers_size, usage.images[0].size);
}

#[test]
fn create_image_checks_its_layers() {
    let f = Fixture::vfs();
    let missing = super::config_json(&["a".repeat(64)], "x");
    let err = f.graph.create_image(&missing, Some("x")).unwrap_err();
    assert!(err.to_string().contains("not stored"), "{err}");
    let err = f.graph.create_image(b"{not json", None).unwrap_err();
    assert!(matches!(err, GraphError::ImageConfig { .. }), "{err}");
    f.assert_empty();
}

#[test]
fn container_ids_are_validated() {
    let f = Fixture::vfs();
    f.import(&small_rootfs(), Some("x")).unwrap();
    for bad in ["", "../../etc", "ABC", &"g".repeat(64)] {
        assert!(matches!(
            f.graph.create_rootfs(bad, "x"),
            Err(GraphError::InvalidContainerId { .. })
        ));
    }
    assert!(matches!(
        f.graph.create_rootfs(C1, "missing"),
        Err(GraphError::ImageNotFound { .. })
    ));
}

#[test]
fn mount_state_is_reconciled_at_open() {
    let mut f = Fixture::overlay();
    f.import(&small_rootfs(), Some("x")).unwrap();
    f.graph.create_rootfs(C1, "x").unwrap();
    let merged = f.graph.mount_rootfs(C1).unwrap();
    // As if the machine rebooted: the mount is gone, the record says mounted.
    crate::Mounter::unmount(&*f.mounter, &merged).unwrap();
    f.reopen(|c| c.driver(crate::DriverChoice::Overlay));
    let usage = f.graph.disk_usage().unwrap();
    assert!(!usage.containers[0].mounted);
    // So rmi sees a stopped container, and mount works again.
    let id = f.graph.resolve("x").unwrap();
    let err = f.graph.remove_image(&id, false).unwrap_err();
    assert!(err.to_string().contains("stopped"), "{err}");
    assert_eq!(f.graph.mount_rootfs(C1).unwrap(), merged);
    assert!(f.graph.disk_usage().unwrap().containers[0].mounted);
}

#[test]
fn add_layer_checks_an_announced_diff_id() {
    let f = Fixture::vfs();
    let tar = Tar::new().file("f", "content").build();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = f
        .graph
        .add_layer(std::io::Cursor::new(tar.clone()), Some(&wrong))
        .unwrap_err();
    assert!(matches!(err, GraphError::DiffIdMismatch { .. }), "{err}");
    f.assert_empty();
    let right = format!("sha256:{}", crate::compress::sha256_hex(&tar));
    let report = f
        .graph
        .add_layer(std::io::Cursor::new(tar), Some(&right))
        .unwrap();
    assert_eq!(report.diff_id, right);
    assert!(!report.reused);
}

/// Yields its bytes, then fails where its end would be: a pull's blob
/// stream whose digest did not verify.
struct FailsAtTheEnd(std::io::Cursor<Vec<u8>>);

impl std::io::Read for FailsAtTheEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 if !buf.is_empty() => Err(std::io::Error::other("digest mismatch")),
            n => Ok(n),
        }
    }
}

#[test]
fn add_layer_reads_its_input_to_the_end_before_it_publishes() {
    use std::io::Write as _;
    let f = Fixture::vfs();
    let tar = Tar::new().file("f", "streamed").build();
    let diff_id = format!("sha256:{}", crate::compress::sha256_hex(&tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let zst = zstd::encode_all(std::io::Cursor::new(&tar), 3).unwrap();
    for (kind, blob) in [
        ("plain", tar.clone()),
        ("gzip", gz.finish().unwrap()),
        ("zstd", zst),
    ] {
        // The archive and its compression end before the input fails.
        let err = f
            .graph
            .add_layer(FailsAtTheEnd(std::io::Cursor::new(blob)), Some(&diff_id))
            .expect_err(kind);
        assert!(
            matches!(err, GraphError::InvalidArchive { .. }),
            "{kind}: {err}"
        );
        f.assert_empty();
    }
    let report = f
        .graph
        .add_layer(std::io::Cursor::new(tar), Some(&diff_id))
        .unwrap();
    assert_eq!(report.diff_id, diff_id);
}

#[test]
fn a_held_layer_survives_gc_until_its_hold_is_dropped() {
    // The window between add_layer and create_image of a pull: a
    // concurrent rmi's gc must not take the layer.
    let f = Fixture::vfs();
    let tar = Tar::new().file("f", "held").build();
    let diff_id = format!("sha256:{}", crate::compress::sha256_hex(&tar));
    let (_, hold) = f
        .graph
        .add_layer_held(std::io::Cursor::new(tar), &diff_id)
        .unwrap();
    assert!(f.graph.gc().unwrap().removed.is_empty());
    let again = f.graph.hold_layer(&diff_id).unwrap().expect("stored");
    drop(hold);
    assert!(f.graph.gc().unwrap().removed.is_empty(), "still held once");
    drop(again);
    let removed = f.graph.gc().unwrap().removed;
    assert_eq!(removed.len(), 1);
    assert!(f.graph.hold_layer(&diff_id).unwrap().is_none());
    assert!(f.graph.hold_layer("sha256:../x").is_err());
}

#[test]
fn a_pulled_blob_is_kept_with_its_layer_and_goes_with_it() {
    let f = Fixture::vfs();
    let tar = Tar::new().file("f", "kept").build();
    let diff_id = format!("sha256:{}", crate::compress::sha256_hex(&tar));
    let digest = format!("sha256:{}", "b".repeat(64));
    let blob = |name: &str| {
        let path = f.graph.scratch_dir().join(name);
        fs::write(&path, name).unwrap();
        path
    };
    // Not stored yet: nothing kept, the file left alone.
    let first = blob("blob-1");
    assert!(!f.graph.keep_layer_blob(&diff_id, &digest, &first).unwrap());
    assert!(first.exists());
    assert_eq!(f.graph.layer_blob(&diff_id, &digest).unwrap(), None);

    let (_, hold) = f
        .graph
        .add_layer_held(std::io::Cursor::new(tar), &diff_id)
        .unwrap();
    assert!(f.graph.keep_layer_blob(&diff_id, &digest, &first).unwrap());
    assert!(!first.exists(), "moved, not copied");
    let kept = f
        .graph
        .layer_blob(&diff_id, &digest)
        .unwrap()
        .expect("kept");
    assert_eq!(fs::read(&kept).unwrap(), b"blob-1");
    // One blob per layer: a second one is not kept.
    let other = format!("sha256:{}", "c".repeat(64));
    let second = blob("blob-2");
    assert!(!f.graph.keep_layer_blob(&diff_id, &other, &second).unwrap());
    assert!(second.exists());
    assert_eq!(f.graph.layer_blob(&diff_id, &other).unwrap(), None);
    for bad in ["sha256:../x", "md5:00"] {
        assert!(f.graph.layer_blob(&diff_id, bad).is_err(), "{bad}");
        assert!(f.graph.keep_layer_blob(&diff_id, bad, &second).is_err());
    }
    fs::remove_file(&second).unwrap();

    // Collected with the layer.
    drop(hold);
    assert_eq!(f.graph.gc().unwrap().removed.len(), 1);
    assert!(!kept.exists());
    assert_eq!(f.graph.layer_blob(&diff_id, &digest).unwrap(), None);
    f.assert_empty();
}
