//! Unit tests of the graph as a whole, without root: vfs imports, overlay
//! through the recording mounter, hostile tars, rmi rules, policy
//! validation, crash recovery.

mod commit;
mod fuzz_extract;
mod fuzz_reference;
mod hostile;
mod images;
mod layout;
mod load;
mod save;
mod tarsplit;
pub(crate) mod xattrs;

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_store::Store;

use crate::{DriverChoice, Graph, GraphConfig, ImportOptions, ImportReport, RecordingMounter};

/// Settings of the property tests: `cases` cases (sized to keep each
/// property within seconds in a debug build), or `PROPTEST_CASES` when set
/// for a longer run by hand. Failures persist under `proptest-regressions/`
/// and are replayed first on every run.
pub(crate) fn fuzz_config(cases: u32) -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// Builds tar archives in memory, including entries `tar::Builder` would
/// refuse to write.
pub(crate) struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub fn new() -> Self {
        Self {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.b.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }

    pub fn file(self, path: &str, content: &str) -> Self {
        self.file_mode(path, content, 0o644)
    }

    pub fn file_mode(mut self, path: &str, content: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, content.len() as u64);
        self.b
            .append_data(&mut h, path, content.as_bytes())
            .unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn special(mut self, kind: tar::EntryType, path: &str) -> Self {
        let mut h = Self::header(kind, 0o644, 0);
        self.b.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }

    /// An entry whose name and link name bytes go into the header as is
    /// (up to 100 bytes each), bypassing the builder's path checks.
    pub fn raw(mut self, kind: tar::EntryType, path: &str, link: &str, data: &str) -> Self {
        let mut h = Self::header(kind, 0o644, data.len() as u64);
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..path.len()].copy_from_slice(path.as_bytes());
            old.linkname = [0; 100];
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        self.b.append(&h, data.as_bytes()).unwrap();
        self
    }

    pub fn build(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// A data root, a sentinel directory beside it that nothing may touch, and
/// a graph on the data root.
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub graph: Graph,
    pub mounter: Arc<RecordingMounter>,
}

impl Fixture {
    pub fn vfs() -> Self {
        Self::with(|c| c.driver(DriverChoice::Vfs))
    }

    pub fn overlay() -> Self {
        Self::with(|c| c.driver(DriverChoice::Overlay))
    }

    pub fn with(f: impl FnOnce(GraphConfig) -> GraphConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sentinel = dir.path().join("sentinel");
        fs::create_dir(&sentinel).unwrap();
        fs::write(sentinel.join("secret"), "untouched").unwrap();
        let mounter = Arc::new(RecordingMounter::new(true));
        let graph = open(dir.path(), mounter.clone(), f);
        Self {
            dir,
            graph,
            mounter,
        }
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn sentinel(&self) -> PathBuf {
        self.dir.path().join("sentinel")
    }

    /// `layers/<hex>/diff` of the layer with `diff_id` (`sha256:<hex>`),
    /// spelled out as the crate docs describe the layout.
    pub fn layer_diff(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").expect("a sha256 diff id");
        self.graph.root().join("layers").join(hex).join("diff")
    }

    /// Reopens the graph on the same data root (as after a restart).
    pub fn reopen(&mut self, f: impl FnOnce(GraphConfig) -> GraphConfig) {
        self.try_reopen(f).unwrap();
    }

    /// Like [`Fixture::reopen`]; on error the fixture is left on a
    /// throwaway graph.
    pub fn try_reopen(
        &mut self,
        f: impl FnOnce(GraphConfig) -> GraphConfig,
    ) -> Result<(), crate::GraphError> {
        // redb refuses a second open of the same file: drop the old one first.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spare = self.dir.path().join(format!("placeholder-{n}"));
        let placeholder = open(&spare, self.mounter.clone(), |c| {
            c.driver(DriverChoice::Vfs)
        });
        drop(std::mem::replace(&mut self.graph, placeholder));
        let data = self.data_root();
        let store = Store::open_in(&data)?;
        self.graph = Graph::open(
            store,
            f(GraphConfig::new(&data).mounter(self.mounter.clone())),
        )?;
        Ok(())
    }

    pub fn import(
        &self,
        tar: &[u8],
        repo: Option<&str>,
    ) -> Result<ImportReport, crate::GraphError> {
        self.graph.import(
            Cursor::new(tar.to_vec()),
            &ImportOptions {
                repo: repo.map(str::to_owned),
                ..Default::default()
            },
        )
    }

    /// Asserts the sentinel beside the data root is exactly as created.
    pub fn assert_sentinel_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.sentinel())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            ["secret"],
            "something was written next to the data root"
        );
        assert_eq!(
            fs::read_to_string(self.sentinel().join("secret")).unwrap(),
            "untouched"
        );
    }

    /// Asserts the store holds no image, tag, layer or rootfs and the graph
    /// directories hold no files.
    pub fn assert_empty(&self) {
        use crate::records::{IMAGES, LAYERS, ROOTFS, TAGS};
        let store = self.graph.store();
        assert!(store.list(IMAGES).unwrap().is_empty(), "image records left");
        assert!(store.list(TAGS).unwrap().is_empty(), "tag records left");
        assert!(store.list(LAYERS).unwrap().is_empty(), "layer records left");
        assert!(
            store.list(ROOTFS).unwrap().is_empty(),
            "rootfs records left"
        );
        let root = self.graph.root();
        for sub in ["tmp", "layers", "flat", "l", "blobs/sha256", "containers"] {
            let left: Vec<_> = fs::read_dir(root.join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(left.is_empty(), "{sub}/ is not empty: {left:?}");
        }
    }
}

fn open(
    dir: &Path,
    mounter: Arc<RecordingMounter>,
    f: impl FnOnce(GraphConfig) -> GraphConfig,
) -> Graph {
    let data = dir.join("data");
    let store = Store::open_in(&data).unwrap();
    Graph::open(store, f(GraphConfig::new(&data).mounter(mounter))).unwrap()
}

/// A small rootfs tarball: dirs, files, a symlink, a hard link, a setuid
/// file, a fifo.
pub(crate) fn small_rootfs() -> Vec<u8> {
    Tar::new()
        .dir("./")
        .dir("./bin/")
        .file_mode("./bin/tool", "#!/bin/sh\necho tool\n", 0o4755)
        .symlink("./bin/sh", "/bin/tool")
        .hardlink("./bin/tool-link", "./bin/tool")
        .dir("./etc/")
        .file("./etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .special(tar::EntryType::Fifo, "./run-fifo")
        .dir("./tmp/")
        .build()
}

/// A config JSON for an image of `diff_ids` (hex), for multi-layer tests.
pub(crate) fn config_json(diff_hexes: &[String], salt: &str) -> Vec<u8> {
    let rootfs = oci_spec::image::RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            diff_hexes
                .iter()
                .map(|h| format!("sha256:{h}"))
                .collect::<Vec<_>>(),
        )
        .build()
        .unwrap();
    let config = oci_spec::image::ImageConfigurationBuilder::default()
        .created("2024-01-02T03:04:05Z".to_string())
        .architecture(oci_spec::image::Arch::Amd64)
        .os(oci_spec::image::Os::Linux)
        .author(salt.to_string())
        .rootfs(rootfs)
        .build()
        .unwrap();
    serde_json::to_vec(&config).unwrap()
}

/// Adds each tar as a layer and registers an image of them, tagged.
pub(crate) fn multi_layer_image(graph: &Graph, tars: &[Vec<u8>], tag: &str) -> String {
    let hexes: Vec<String> = tars
        .iter()
        .map(|t| {
            let r = graph.add_layer(Cursor::new(t.clone()), None).unwrap();
            r.diff_id.strip_prefix("sha256:").unwrap().to_owned()
        })
        .collect();
    graph
        .create_image(&config_json(&hexes, tag), Some(tag))
        .unwrap()
}

#[test]
fn graph_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Graph>();
    assert_send_sync::<Arc<dyn crate::LayoutPolicy>>();
}
