//! [`Graph`]: opening a data root, the storage driver decision, the policy
//! handle and the shared helpers of the image, rootfs and GC operations.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use berth_store::{ReadTxn, Store};

use crate::error::GraphError;
use crate::fsutil::{self, WhiteoutFormat};
use crate::mount::{KernelMounter, Mounter};
use crate::policy::{FlattenedInfo, LayoutPolicy, NativeLayoutPolicy, PolicyError, driver_names};
use crate::records::{
    IMAGES, LAYERS, LayerKind, LayerRecord, Layout, META, META_DRIVER, ROOTFS, SHORT_LINK_LEN,
};

/// Docker's overlay2 stacks at most 128 layers; the kernel allows 500
/// (`OVL_MAX_STACK`). The mount option page budget usually binds first.
pub const DEFAULT_MAX_LOWER_DIRS: u32 = 128;

/// How a container's root filesystem is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDriver {
    /// overlayfs: image layers as lower dirs, a per-container upper/work dir.
    Overlay,
    /// A plain copy of the layers per container (no mounts; slow, works
    /// everywhere, e.g. when the data root is itself on overlayfs).
    Vfs,
}

impl StorageDriver {
    /// `"overlay"` or `"vfs"` (the names the policy sees).
    pub fn name(self) -> &'static str {
        match self {
            Self::Overlay => driver_names::OVERLAY,
            Self::Vfs => driver_names::VFS,
        }
    }

    /// The name Docker clients expect in `docker info` / inspect
    /// (`overlay2`, `vfs`).
    pub fn docker_name(self) -> &'static str {
        match self {
            Self::Overlay => "overlay2",
            Self::Vfs => "vfs",
        }
    }

    fn whiteouts(self) -> WhiteoutFormat {
        match self {
            Self::Overlay => WhiteoutFormat::Overlay,
            Self::Vfs => WhiteoutFormat::Aufs,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            driver_names::OVERLAY | "overlay2" => Some(Self::Overlay),
            driver_names::VFS => Some(Self::Vfs),
            _ => None,
        }
    }
}

impl fmt::Display for StorageDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `--storage-driver`: a fixed driver, or decide by probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriverChoice {
    /// The driver the data root already uses; on a fresh data root overlay
    /// when a test mount on it works, vfs otherwise.
    #[default]
    Auto,
    /// overlay, or fail at open.
    Overlay,
    /// vfs.
    Vfs,
}

/// A `--storage-driver` berth does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage driver {0:?}: choose overlay, vfs or auto")]
pub struct UnknownDriver(pub String);

impl std::str::FromStr for DriverChoice {
    type Err = UnknownDriver;
    fn from_str(s: &str) -> Result<Self, UnknownDriver> {
        match s {
            "" | "auto" => Ok(Self::Auto),
            "overlay" | "overlay2" => Ok(Self::Overlay),
            "vfs" => Ok(Self::Vfs),
            other => Err(UnknownDriver(other.to_owned())),
        }
    }
}

/// Why overlay cannot be used on the data root (found by the probe at
/// open).
#[derive(Debug, thiserror::Error)]
pub enum OverlayUnavailable {
    /// The mounter says the kernel or the privilege is missing.
    #[error(
        "overlay is unavailable: the kernel lacks it, or this process is not root (overlay \
         layers store whiteouts as device nodes)"
    )]
    Unsupported,
    /// The probe's scratch directory could not be made.
    #[error("cannot create a probe directory: {0}")]
    ProbeDir(std::io::Error),
    /// One of the probe mount's directories could not be made.
    #[error("cannot create {dir}: {error}")]
    ProbeSubdir {
        /// `lower`, `upper`, `work` or `merged`.
        dir: &'static str,
        /// Why.
        error: std::io::Error,
    },
    /// The test mount failed (e.g. the data root is itself on overlay).
    #[error("test mount failed: {0}")]
    Mount(std::io::Error),
    /// The test mount could not be unmounted.
    #[error("test unmount failed: {0}")]
    Unmount(std::io::Error),
}

/// How to open a [`Graph`].
pub struct GraphConfig {
    /// berthd's `--data-root`; the graph keeps its files in `graph/` below.
    pub data_root: PathBuf,
    /// `--storage-driver`.
    pub driver: DriverChoice,
    /// The mount seam; [`KernelMounter`] unless testing.
    pub mounter: Arc<dyn Mounter>,
    /// The layout policy; [`NativeLayoutPolicy`] unless a plugin replaces it
    /// (also later, with [`Graph::set_policy`]).
    pub policy: Arc<dyn LayoutPolicy>,
    /// Caps the number of lower directories (below the page budget and
    /// [`DEFAULT_MAX_LOWER_DIRS`]); tests use it to exercise flattening.
    pub max_lower_dirs: Option<u32>,
}

impl GraphConfig {
    /// Defaults: auto driver, kernel mounts, native policy.
    pub fn new(data_root: impl Into<PathBuf>) -> Self {
        Self {
            data_root: data_root.into(),
            driver: DriverChoice::Auto,
            mounter: Arc::new(KernelMounter),
            policy: Arc::new(NativeLayoutPolicy),
            max_lower_dirs: None,
        }
    }

    /// Sets the driver choice.
    pub fn driver(mut self, driver: DriverChoice) -> Self {
        self.driver = driver;
        self
    }

    /// Sets the mount seam.
    pub fn mounter(mut self, mounter: Arc<dyn Mounter>) -> Self {
        self.mounter = mounter;
        self
    }

    /// Sets the layout policy.
    pub fn policy(mut self, policy: Arc<dyn LayoutPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// Caps the lower directory count.
    pub fn max_lower_dirs(mut self, max: u32) -> Self {
        self.max_lower_dirs = Some(max);
        self
    }
}

impl fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphConfig")
            .field("data_root", &self.data_root)
            .field("driver", &self.driver)
            .field("policy", &self.policy.name())
            .field("max_lower_dirs", &self.max_lower_dirs)
            .finish_non_exhaustive()
    }
}

/// The graph driver. Blocking; `Send + Sync`, shared in an `Arc` by the
/// daemon and called through `spawn_blocking`.
pub struct Graph {
    pub(crate) store: Store,
    pub(crate) layout: Layout,
    pub(crate) driver: StorageDriver,
    pub(crate) mounter: Arc<dyn Mounter>,
    policy: RwLock<Arc<dyn LayoutPolicy>>,
    pub(crate) chown: bool,
    pub(crate) max_lower_cap: u32,
    /// Extra overlay mount options (`,index=off` where the kernel has the
    /// inodes index feature).
    pub(crate) overlay_options: &'static str,
    /// Serialises every change of records and published directories.
    /// Extraction (the slow part of an import) runs outside it.
    lock: Mutex<()>,
    /// Layers held from collection during a pull (`hold`).
    pub(crate) holds: crate::hold::Holds,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("root", &self.layout.root)
            .field("driver", &self.driver)
            .field("policy", &self.policy().name())
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Now in RFC 3339 with nanoseconds, as Docker writes image times (the
/// workspace's one clock helper).
pub(crate) use berth_model::time::now_rfc3339;

impl Graph {
    /// Opens (creating as needed) the graph under `config.data_root`,
    /// decides the storage driver, and removes what an interrupted operation
    /// left behind (temp dirs, unrecorded layers, links and blobs).
    pub fn open(store: Store, config: GraphConfig) -> Result<Self, GraphError> {
        let layout = Layout::new(&config.data_root);
        for dir in [
            layout.root.clone(),
            layout.blobs(),
            layout.layers(),
            layout.flat(),
            layout.links(),
            layout.containers(),
            layout.tmp(),
        ] {
            fsutil::create_dirs(&dir)?;
        }
        // Layers hold whole root filesystems (setuid binaries included):
        // only root may look inside, as Docker does with its data root.
        let _ = fs::set_permissions(
            &layout.root,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        );
        let chown = rustix::process::geteuid().is_root();
        let stored = store.get(META, META_DRIVER)?;
        let has_layers = !store.list(LAYERS)?.is_empty();
        let stored_driver = stored.as_deref().and_then(StorageDriver::parse);
        let driver = match (config.driver, stored_driver) {
            (DriverChoice::Vfs, Some(StorageDriver::Overlay)) if has_layers => {
                return Err(mismatch(&config.data_root, StorageDriver::Overlay, "vfs"));
            }
            (DriverChoice::Overlay, Some(StorageDriver::Vfs)) if has_layers => {
                return Err(mismatch(&config.data_root, StorageDriver::Vfs, "overlay"));
            }
            (DriverChoice::Vfs, _) => StorageDriver::Vfs,
            (DriverChoice::Overlay, _) => {
                probe_overlay(&*config.mounter, &layout).map_err(|reason| {
                    GraphError::DriverUnavailable {
                        driver: "overlay".into(),
                        data_root: config.data_root.clone(),
                        reason,
                    }
                })?;
                StorageDriver::Overlay
            }
            (DriverChoice::Auto, Some(d)) if has_layers => d,
            (DriverChoice::Auto, _) => match probe_overlay(&*config.mounter, &layout) {
                Ok(()) => StorageDriver::Overlay,
                Err(reason) => {
                    tracing::warn!(%reason, "overlay is not usable on the data root; using vfs");
                    StorageDriver::Vfs
                }
            },
        };
        if stored_driver != Some(driver) {
            store.put(META, META_DRIVER, &driver.name().to_owned())?;
        }
        let graph = Self {
            store,
            layout,
            driver,
            mounter: config.mounter,
            policy: RwLock::new(config.policy),
            chown,
            max_lower_cap: config
                .max_lower_dirs
                .unwrap_or(DEFAULT_MAX_LOWER_DIRS)
                .min(DEFAULT_MAX_LOWER_DIRS),
            // Docker's overlay2 turns the inodes index off when the kernel
            // has it: with it on, an upper dir is tied to the lower dirs it
            // was first mounted with (Documentation/filesystems/overlayfs.rst,
            // "Inodes index"), and berth mounts layers into many overlays.
            overlay_options: if Path::new("/sys/module/overlay/parameters/index").exists() {
                ",index=off"
            } else {
                ""
            },
            lock: Mutex::new(()),
            holds: Default::default(),
        };
        graph.sweep()?;
        tracing::info!(root = %graph.layout.root.display(), driver = %driver, "graph opened");
        Ok(graph)
    }

    /// The storage driver in use.
    pub fn driver(&self) -> StorageDriver {
        self.driver
    }

    /// `<data-root>/graph`.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// The metadata store the graph writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The policy consulted now.
    pub fn policy(&self) -> Arc<dyn LayoutPolicy> {
        self.policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the layout policy (e.g. with a plugin's); calls in flight
    /// finish with the policy they started with.
    pub fn set_policy(&self, policy: Arc<dyn LayoutPolicy>) {
        tracing::info!(policy = %policy.name(), "graph layout policy set");
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// Asks the current policy for a plan (`what`: `"rootfs"`, `"import"`
    /// or `"gc"`) and validates it against the request, so that the graph
    /// only ever acts on a valid plan. Returns the planning policy's name
    /// with the plan.
    pub(crate) fn plan<Request, Plan>(
        &self,
        what: &'static str,
        request: &Request,
        ask: impl FnOnce(&dyn LayoutPolicy, &Request) -> Result<Plan, PolicyError>,
        validate: impl FnOnce(&Request, &Plan) -> Result<(), crate::policy::PlanError>,
    ) -> Result<(String, Plan), GraphError> {
        let policy = self.policy();
        let name = policy.name();
        let plan = ask(&*policy, request).map_err(|source| GraphError::Policy {
            policy: name.clone(),
            what,
            source,
        })?;
        validate(request, &plan).map_err(|reason| GraphError::InvalidPlan {
            policy: name.clone(),
            what,
            reason,
        })?;
        Ok((name, plan))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn whiteouts(&self) -> WhiteoutFormat {
        self.driver.whiteouts()
    }

    /// How many lower dirs a mount for `container_id` can name: overlayfs
    /// reads its options from one page (mount(2): `data` "is interpreted by
    /// the different filesystems", and the VFS copies at most a page), so
    /// `lowerdir=` with its `l/<short>` paths, `upperdir=` and `workdir=`
    /// must fit in it.
    pub(crate) fn max_lower_dirs(&self, container_id: &str) -> u32 {
        if self.driver == StorageDriver::Vfs {
            return self.max_lower_cap;
        }
        let page = rustix::param::page_size();
        let fixed = "lowerdir=".len()
            + ",upperdir=".len()
            + self.layout.upper(container_id).as_os_str().len()
            + ",workdir=".len()
            + self.layout.work(container_id).as_os_str().len()
            + self.overlay_options.len()
            + 1; // the terminating NUL
        let per_lower = self.layout.links().as_os_str().len() + 1 + SHORT_LINK_LEN + 1;
        let fit = page.saturating_sub(fixed) / per_lower;
        (fit as u32).min(self.max_lower_cap)
    }

    /// Flattened caches that exist, for policy requests.
    pub(crate) fn flattened_infos(&self, read: &ReadTxn) -> Result<Vec<FlattenedInfo>, GraphError> {
        Ok(read
            .list(LAYERS)?
            .into_iter()
            .filter(|(_, l)| l.kind == LayerKind::Flattened)
            .map(|(id, l)| FlattenedInfo {
                id,
                layers: l.source_layers,
                size: l.size,
            })
            .collect())
    }

    /// A new staging directory in `tmp/` (removed when dropped) with an
    /// empty `diff/`, where a layer is built before a rename publishes it.
    pub(crate) fn staging_dir(
        &self,
        prefix: &str,
    ) -> Result<(tempfile::TempDir, PathBuf), GraphError> {
        let tmp = self.layout.tmp();
        let staging = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .map_err(GraphError::io("create a staging directory in", &tmp))?;
        let diff = staging.path().join("diff");
        fs::create_dir(&diff).map_err(GraphError::io("create directory", &diff))?;
        Ok((staging, diff))
    }

    /// Creates `l/<short>` → `../layers/<id>/diff` (or `flat/`).
    pub(crate) fn create_link(&self, kind: LayerKind, id: &str) -> Result<(), GraphError> {
        let link = self.layout.link(id);
        let target = Layout::link_target(kind, id);
        match fs::read_link(&link) {
            Ok(existing) if existing == target => return Ok(()),
            Ok(existing) => {
                // Two ids sharing their first 16 hex digits: 2^-64 per pair.
                return Err(GraphError::Io {
                    op: "create short link (it points elsewhere)",
                    path: link,
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} already links to {}", id, existing.display()),
                    ),
                });
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&target, &link).map_err(GraphError::io("create link", &link))?;
        fsutil::sync_dir(&self.layout.links())
    }

    /// Removes a layer directory and its link (records are the caller's).
    pub(crate) fn remove_layer_files(&self, kind: LayerKind, id: &str) -> Result<(), GraphError> {
        let link = self.layout.link(id);
        if fs::read_link(&link).is_ok_and(|t| t == Layout::link_target(kind, id)) {
            fs::remove_file(&link).map_err(GraphError::io("remove link", &link))?;
        }
        fsutil::remove_tree(&self.layout.layer_dir(kind, id))
    }

    /// Removes leftovers of interrupted operations. Records are the truth;
    /// a directory or blob without one was never committed.
    fn sweep(&self) -> Result<(), GraphError> {
        let _guard = self.lock();
        let tmp = self.layout.tmp();
        for entry in read_dir_names(&tmp)? {
            let path = tmp.join(&entry);
            // Staging areas are directories; a pull's blobs (streamed into
            // `tmp/blob-*` before extraction) are plain files.
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => fsutil::remove_tree(&path)?,
                Ok(_) => fs::remove_file(&path).map_err(GraphError::io("remove", &path))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(GraphError::io("inspect", &path)(e)),
            }
        }
        let read = self.store.read()?;
        let layers = read.list(LAYERS)?;
        let known =
            |kind: LayerKind, name: &str| layers.iter().any(|(id, l)| id == name && l.kind == kind);
        for (kind, dir) in [
            (LayerKind::Layer, self.layout.layers()),
            (LayerKind::Flattened, self.layout.flat()),
        ] {
            for name in read_dir_names(&dir)? {
                if !known(kind, &name) {
                    tracing::warn!(layer = %name, "removing uncommitted layer directory");
                    fsutil::remove_tree(&dir.join(&name))?;
                }
            }
        }
        for (id, l) in &layers {
            // A crash between the directory rename and the link.
            if fs::read_link(self.layout.link(id)).is_err() {
                self.create_link(l.kind, id)?;
            }
        }
        let links = self.layout.links();
        for name in read_dir_names(&links)? {
            let path = links.join(&name);
            if fs::metadata(&path).is_err() {
                let _ = fs::remove_file(&path);
            }
        }
        let images = read.list(IMAGES)?;
        for name in read_dir_names(&self.layout.blobs())? {
            if !images.iter().any(|(id, _)| *id == name) {
                tracing::warn!(blob = %name, "removing unreferenced blob");
                let _ = fs::remove_file(self.layout.blob(&name));
            }
        }
        let rootfs = read.list(ROOTFS)?;
        // After a reboot (or a manual umount) an overlay recorded as mounted
        // is not: correct the record, which rmi reads as "running".
        if self.driver == StorageDriver::Overlay {
            for (id, record) in &rootfs {
                let merged = self.layout.merged(id);
                if record.mounted && !self.mounter.is_mounted(&merged).unwrap_or(true) {
                    let mut record = record.clone();
                    record.mounted = false;
                    self.store.put(ROOTFS, id, &record)?;
                }
            }
        }
        for name in read_dir_names(&self.layout.containers())? {
            if rootfs.iter().any(|(id, _)| *id == name) {
                continue;
            }
            self.unmount_locked(&name)?;
            tracing::warn!(container = %name, "removing uncommitted container rootfs");
            fsutil::remove_tree(&self.layout.container(&name))?;
        }
        Ok(())
    }

    /// Records that layers were used now (best effort: only GC reads it).
    pub(crate) fn touch_layers(&self, ids: &[String]) {
        let now = now_unix();
        let r: Result<(), GraphError> = self.store.write(|txn| {
            for id in ids {
                if let Some(mut l) = txn.get(LAYERS, id)? {
                    l.last_used = now;
                    txn.put(LAYERS, id, &l)?;
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot record layer use");
        }
    }

    /// A layer record or an error naming it.
    pub(crate) fn layer_record(read: &ReadTxn, id: &str) -> Result<LayerRecord, GraphError> {
        read.get(LAYERS, id)?
            .ok_or_else(|| GraphError::MissingLayer { id: id.to_owned() })
    }
}

fn mismatch(data_root: &Path, stored: StorageDriver, requested: &str) -> GraphError {
    GraphError::DriverMismatch {
        data_root: data_root.to_path_buf(),
        stored: stored.name().into(),
        requested: requested.into(),
    }
}

pub(crate) fn read_dir_names(dir: &Path) -> Result<Vec<String>, GraphError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(GraphError::io("list", dir))? {
        let entry = entry.map_err(GraphError::io("list", dir))?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

/// Checks that overlay works on the data root: the mounter says it is
/// supported (kernel and privilege), and a test mount over directories of the data
/// root's filesystem succeeds (it fails e.g. when that filesystem is itself
/// an overlay).
fn probe_overlay(mounter: &dyn Mounter, layout: &Layout) -> Result<(), OverlayUnavailable> {
    if !mounter.overlay_supported() {
        return Err(OverlayUnavailable::Unsupported);
    }
    let dir = tempfile::Builder::new()
        .prefix("probe-")
        .tempdir_in(layout.tmp())
        .map_err(OverlayUnavailable::ProbeDir)?;
    for sub in ["lower", "upper", "work", "merged"] {
        fs::create_dir(dir.path().join(sub))
            .map_err(|error| OverlayUnavailable::ProbeSubdir { dir: sub, error })?;
    }
    let p = |s: &str| dir.path().join(s).display().to_string();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        p("lower"),
        p("upper"),
        p("work")
    );
    let merged = dir.path().join("merged");
    mounter
        .mount_overlay(&options, &merged)
        .map_err(OverlayUnavailable::Mount)?;
    mounter
        .unmount(&merged)
        .map_err(OverlayUnavailable::Unmount)?;
    Ok(())
}
