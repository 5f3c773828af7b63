//! The graph driver on the real kernel: overlay mounts of an imported
//! busybox image, whiteouts and flattening as overlayfs sees them, the vfs
//! fallback, and cleanup (nothing left mounted).

use std::fs;
use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use berth_graph::{DriverChoice, Graph, GraphConfig, ImportOptions, KernelMounter, StorageDriver};
use berth_store::Store;

const C1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const C2: &str = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";
const C3: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

/// A policy that flattens layers 1 and 2 of a four-layer chain.
struct MiddleRun;

impl berth_graph::LayoutPolicy for MiddleRun {
    fn name(&self) -> String {
        "middle-run (test)".into()
    }
    fn plan_rootfs(
        &self,
        r: &berth_graph::RootfsRequest,
    ) -> Result<berth_graph::RootfsPlan, berth_graph::PolicyError> {
        let lower = |ids: &[usize]| berth_graph::Lower {
            layers: ids.iter().map(|&i| r.layers[i].id.clone()).collect(),
        };
        Ok(berth_graph::RootfsPlan {
            lowers: vec![lower(&[0]), lower(&[1, 2]), lower(&[3])],
        })
    }
    fn plan_import(
        &self,
        _: &berth_graph::ImportRequest,
    ) -> Result<berth_graph::ImportPlan, berth_graph::PolicyError> {
        Ok(berth_graph::ImportPlan::default())
    }
    fn plan_gc(
        &self,
        r: &berth_graph::GcRequest,
    ) -> Result<berth_graph::GcPlan, berth_graph::PolicyError> {
        berth_graph::NativeLayoutPolicy.plan_gc(r)
    }
}

/// A data root in a temp dir; on drop, detaches every mount below it
/// (also when the test failed half way) before the dir is removed.
struct DataRoot {
    dir: tempfile::TempDir,
}

impl DataRoot {
    fn new() -> Self {
        berth_tests::require::root();
        Self {
            dir: tempfile::Builder::new()
                .prefix("berth-graph-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn open(&self, driver: DriverChoice, max_lower_dirs: Option<u32>) -> Graph {
        let store = Store::open_in(&self.path()).expect("open store");
        let mut config = GraphConfig::new(self.path())
            .driver(driver)
            .mounter(Arc::new(KernelMounter));
        if let Some(max) = max_lower_dirs {
            config = config.max_lower_dirs(max);
        }
        Graph::open(store, config).expect("open graph")
    }

    fn mounts_below(&self) -> Vec<PathBuf> {
        mounts_below(self.dir.path())
    }
}

impl Drop for DataRoot {
    fn drop(&mut self) {
        for m in self.mounts_below().into_iter().rev() {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Mount points at or below `root`, from /proc/self/mountinfo.
fn mounts_below(root: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(root))
        .collect()
}

fn import_busybox(graph: &Graph) -> String {
    let tarball = berth_tests::busybox::shared_tarball();
    let file = fs::File::open(&tarball).expect("open busybox tarball");
    let report = graph
        .import(
            file,
            &ImportOptions {
                repo: Some("busybox".into()),
                ..Default::default()
            },
        )
        .expect("import busybox");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    report
        .diff_id
        .strip_prefix("sha256:")
        .expect("diff id is sha256")
        .to_owned()
}

/// Runs `sh -c script` inside `root` with chroot(8), under a timeout.
fn chroot_sh(root: &Path, script: &str) -> String {
    berth_tests::cmd::run_with_timeout(
        Command::new("chroot")
            .arg(root)
            .args(["/bin/sh", "-c", script]),
        Duration::from_secs(20),
    )
    .ok()
}

#[test]
fn graph_overlay_rootfs_of_busybox_image() {
    let root = DataRoot::new();
    let graph = root.open(DriverChoice::Overlay, None);
    assert_eq!(graph.driver(), StorageDriver::Overlay);
    let layer = import_busybox(&graph);
    let diff = graph.root().join("layers").join(&layer).join("diff");
    let home = fs::metadata(diff.join("home/berth")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1000), "ownership applied");

    let info = graph.create_rootfs(C1, "busybox").unwrap();
    let merged = graph.mount_rootfs(C1).unwrap();
    assert_eq!(merged, info.path);
    assert_eq!(root.mounts_below(), std::slice::from_ref(&merged));
    assert_eq!(graph.mount_rootfs(C1).unwrap(), merged, "idempotent");
    assert_eq!(root.mounts_below().len(), 1, "not mounted twice");

    // The image runs.
    assert_eq!(
        chroot_sh(&merged, "echo hello from $(cat /etc/hostname)"),
        "hello from busybox\n"
    );

    // Writes land in the upper dir; the layer is untouched.
    let upper = graph.root().join("containers").join(C1).join("upper");
    chroot_sh(
        &merged,
        "echo changed > /etc/hostname && echo new > /tmp/new-file && rm /etc/group",
    );
    assert_eq!(
        fs::read_to_string(upper.join("etc/hostname")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        fs::read_to_string(upper.join("tmp/new-file")).unwrap(),
        "new\n"
    );
    assert_eq!(
        fs::read_to_string(diff.join("etc/hostname")).unwrap(),
        "busybox\n"
    );
    // The deletion is a whiteout in the upper dir, the lower file stays.
    let wh = fs::symlink_metadata(upper.join("etc/group")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "whiteout"
    );
    assert!(diff.join("etc/group").is_file());
    assert!(!merged.join("etc/group").exists());

    // A second container from the same image sees the pristine image.
    graph.create_rootfs(C2, "busybox").unwrap();
    let merged2 = graph.mount_rootfs(C2).unwrap();
    assert_eq!(chroot_sh(&merged2, "cat /etc/hostname"), "busybox\n");

    let usage = graph.disk_usage().unwrap();
    let c1 = usage
        .containers
        .iter()
        .find(|c| c.container_id == C1)
        .unwrap();
    assert!(c1.mounted && c1.size_rw > 0);

    graph.unmount_rootfs(C1).unwrap();
    assert_eq!(root.mounts_below(), std::slice::from_ref(&merged2));
    graph.remove_rootfs(C1).unwrap();
    graph.remove_rootfs(C2).unwrap();
    assert!(root.mounts_below().is_empty(), "nothing left mounted");
    assert!(!graph.root().join("containers").join(C1).exists());
    assert!(!graph.root().join("containers").join(C2).exists());
}

fn tar_of(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in entries {
        let mut h = tar::Header::new_gnu();
        match content {
            Some(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(c.len() as u64);
                b.append_data(&mut h, path, c.as_bytes())
                    .expect("append file to tar");
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty())
                    .expect("append dir to tar");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

/// Layers with a whiteout, an opaque directory and replacements.
fn layered_image(graph: &Graph) -> Vec<String> {
    let tars = [
        tar_of(&[
            ("etc/", None),
            ("etc/passwd", Some("base")),
            ("etc/group", Some("base")),
            ("opt/", None),
            ("opt/a", Some("base")),
            ("opt/b", Some("base")),
            ("becomes-dir", Some("base")),
        ]),
        tar_of(&[("etc/.wh.group", Some("")), ("etc/passwd", Some("layer1"))]),
        tar_of(&[
            ("opt/", None),
            ("opt/.wh..wh..opq", Some("")),
            ("opt/c", Some("layer2")),
        ]),
        tar_of(&[("becomes-dir/", None), ("becomes-dir/y", Some("layer3"))]),
    ];
    let ids: Vec<String> = tars
        .iter()
        .map(|t| {
            let r = graph
                .add_layer(Cursor::new(t.clone()), None)
                .expect("add layer");
            r.diff_id
                .strip_prefix("sha256:")
                .expect("diff id is sha256")
                .to_owned()
        })
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": ids.iter().map(|i| format!("sha256:{i}")).collect::<Vec<_>>()},
    });
    graph
        .create_image(
            &serde_json::to_vec(&config).expect("serialize config"),
            Some("layered"),
        )
        .expect("create layered image");
    ids
}

/// An extended attribute of `path` (not following symlinks).
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let n = std::ffi::CString::new(name).expect("name without NUL");
    let mut buf = [0u8; 64];
    // SAFETY: two NUL-terminated strings and a buffer of the length given.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(r).ok().map(|len| buf[..len].to_vec())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect();
    v.sort();
    v
}

fn assert_layered_view(root: &Path) {
    assert_eq!(
        fs::read_to_string(root.join("etc/passwd")).expect("read etc/passwd"),
        "layer1"
    );
    assert_eq!(
        names(&root.join("etc")),
        ["passwd"],
        "whiteout hides etc/group"
    );
    assert_eq!(
        names(&root.join("opt")),
        ["c"],
        "opaque dir hides the lower content"
    );
    assert_eq!(names(&root.join("becomes-dir")), ["y"]);
}

#[test]
fn graph_overlay_whiteouts_and_flattened_lowers() {
    let root = DataRoot::new();
    let graph = root.open(DriverChoice::Overlay, None);
    let ids = layered_image(&graph);
    // Stored in overlay's own format.
    let layer = |i: usize| graph.root().join("layers").join(&ids[i]).join("diff");
    let wh = fs::symlink_metadata(layer(1).join("etc/group")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr(&layer(2).join("opt"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..]),
        "opaque xattr set"
    );

    graph.create_rootfs(C1, "layered").unwrap();
    let merged = graph.mount_rootfs(C1).unwrap();
    assert_layered_view(&merged);
    graph.remove_rootfs(C1).unwrap();
    drop(graph);

    // The same image with at most two lower dirs: the base run of three is
    // flattened into one lower, and overlayfs shows the same tree.
    let graph = root.open(DriverChoice::Overlay, Some(2));
    let info = graph.create_rootfs(C2, "layered").unwrap();
    assert_eq!(info.lower_dirs, 2);
    let merged = graph.mount_rootfs(C2).unwrap();
    assert_layered_view(&merged);
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(merged.to_str().unwrap()))
        .expect("the overlay is mounted");
    assert_eq!(
        line.split("lowerdir=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .split(':')
            .count(),
        2,
        "{line}"
    );
    graph.remove_rootfs(C2).unwrap();

    // Layers 1 and 2 flattened in the middle of the chain: the merged lower
    // keeps its whiteout and opaque mark, which must still hide layer 0.
    drop(graph);
    let graph = root.open(DriverChoice::Overlay, None);
    graph.set_policy(Arc::new(MiddleRun));
    let info = graph.create_rootfs(C3, "layered").unwrap();
    assert_eq!(info.lower_dirs, 3);
    let merged = graph.mount_rootfs(C3).unwrap();
    assert_layered_view(&merged);
    let usage = graph.disk_usage().unwrap();
    let middle = usage
        .layers
        .iter()
        .find(|l| l.kind == "flattened" && l.containers == 1)
        .expect("a flattened middle run");
    let flat = graph.root().join("flat").join(&middle.id).join("diff");
    let wh = fs::symlink_metadata(flat.join("etc/group")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr(&flat.join("opt"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    graph.remove_rootfs(C3).unwrap();
    graph.set_policy(Arc::new(berth_graph::NativeLayoutPolicy));

    let records = graph.remove_image("layered", false).unwrap();
    assert_eq!(records.len(), 2 + 4 + 2, "{records:?}");
    assert!(root.mounts_below().is_empty());
    assert!(names(&graph.root().join("layers")).is_empty());
    assert!(names(&graph.root().join("flat")).is_empty());
}

#[test]
fn graph_vfs_fallback_rootfs() {
    let root = DataRoot::new();
    let graph = root.open(DriverChoice::Vfs, None);
    assert_eq!(graph.driver(), StorageDriver::Vfs);
    import_busybox(&graph);
    let ids = layered_image(&graph);
    assert_eq!(ids.len(), 4);

    let info = graph.create_rootfs(C1, "busybox").unwrap();
    let path = graph.mount_rootfs(C1).unwrap();
    assert_eq!(path, info.path);
    assert!(root.mounts_below().is_empty(), "vfs mounts nothing");
    assert_eq!(
        chroot_sh(&path, "cat /etc/hostname; id -u berth"),
        "busybox\n1000\n"
    );
    let home = fs::metadata(path.join("home/berth")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1000));

    graph.create_rootfs(C2, "layered").unwrap();
    assert_layered_view(&graph.mount_rootfs(C2).unwrap());

    graph.remove_rootfs(C1).unwrap();
    graph.remove_rootfs(C2).unwrap();
    assert!(names(&graph.root().join("containers")).is_empty());
}

#[test]
fn graph_auto_driver_probes_overlay_on_the_data_root() {
    let root = DataRoot::new();
    let graph = root.open(DriverChoice::Auto, None);
    // The data root is on this machine's ext4, where overlay works.
    assert_eq!(graph.driver(), StorageDriver::Overlay);
    assert!(root.mounts_below().is_empty(), "the probe mount is gone");
    assert!(
        names(&graph.root().join("tmp")).is_empty(),
        "the probe dir is gone"
    );
}
