//! [`PluginHost`]: the table of plugins (built-in and from the plugin
//! directory), its atomic swaps, the admin operations and the calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::capabilities::Grants;
use crate::events::{PluginEvent, PluginEventKind};
use crate::manifest::{Capability, Manifest, World};
use crate::plugin::{HealthPolicy, JobIo, JobSpec, LoadRequest, LoadedPlugin, PluginSource};
use crate::runtime::{CompileOrigin, HostLimits, Limits, WasmRuntime};
use crate::{CallFailure, PluginError, builtin};
use berth_model::graph::GraphAdmin;

/// berthd's default plugin directory.
pub const DEFAULT_PLUGIN_DIR: &str = "/etc/berth/plugins";
/// berthd's default grants file (outside the plugin directory on purpose).
pub const DEFAULT_GRANTS_FILE: &str = "/etc/berth/plugin-grants.toml";

/// How to set up a [`PluginHost`].
#[derive(Debug, Clone)]
pub struct PluginHostConfig {
    /// The watched plugin directory; `None` runs the built-in plugins only.
    /// A directory that does not exist yet is treated as empty.
    pub plugin_dir: Option<PathBuf>,
    /// The daemon's data root: compiled components are cached in
    /// `<data_root>/plugins/cache` (entries no loaded plugin uses are pruned
    /// at start), scratch directories live in
    /// `<data_root>/plugins/scratch/<plugin>`, the admin's enable/disable
    /// choices in `<data_root>/plugins/disabled.toml`.
    pub data_root: PathBuf,
    /// The admin's grants file; `None` grants nothing.
    pub grants_file: Option<PathBuf>,
    /// Load the plugins embedded in berthd (the default graph-layout and
    /// authz policies, `image-gc`, `disk-usage`). Without them and without
    /// an authz plugin nothing decides on API requests and every one is
    /// allowed (berthd always loads them).
    pub builtins: bool,
    /// Ceilings and defaults for limits.
    pub limits: HostLimits,
    /// Backoff of failing plugins.
    pub health: HealthPolicy,
    /// The authz plugins that decide on API requests, in order (berthd's
    /// `--authorization-plugin`); empty: the directory's authz plugins, else
    /// the built-in `authz-default` (see [`PluginHost::authorize`]).
    pub authorization_plugins: Vec<String>,
}

impl PluginHostConfig {
    /// Built-in plugins only, default limits, under `data_root`.
    pub fn new(data_root: impl Into<PathBuf>) -> PluginHostConfig {
        PluginHostConfig {
            plugin_dir: None,
            data_root: data_root.into(),
            grants_file: None,
            builtins: true,
            limits: HostLimits::default(),
            health: HealthPolicy::default(),
            authorization_plugins: Vec::new(),
        }
    }
}

/// A plugin's state as the admin sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginState {
    /// Serving.
    Loaded,
    /// Failed repeatedly; calls are refused until `backoff_until`.
    Failing,
    /// Disabled by the admin.
    Disabled,
    /// Refused at load, and no earlier version is serving.
    Refused,
}

/// Everything `berth plugin inspect` shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginStatus {
    /// The plugin's name (for a refused file: its file name).
    pub name: String,
    /// Loaded, failing, disabled or refused.
    pub state: PluginState,
    /// Whether it currently serves its role: the policy the driver uses, or
    /// a job handler whose jobs are in the table.
    pub active: bool,
    /// The serving version.
    pub version: Option<String>,
    /// Its world.
    pub world: Option<World>,
    /// The WIT version it was built against.
    pub wit: Option<String>,
    /// sha256 of the serving component.
    pub digest: Option<String>,
    /// Where it came from.
    pub source: Option<PluginSource>,
    /// Whether this directory plugin replaces a built-in of the same name.
    pub overrides_builtin: bool,
    /// One line.
    pub summary: String,
    /// Granted capabilities.
    pub capabilities: Vec<Capability>,
    /// Jobs offered (job handlers).
    pub jobs: Vec<JobSpec>,
    /// Effective limits.
    pub limits: Option<Limits>,
    /// Whether the component was compiled or came from the cache.
    pub compile: Option<CompileOrigin>,
    /// When the serving version was loaded (unix seconds in JSON).
    #[serde(serialize_with = "unix_seconds")]
    pub loaded_at: Option<SystemTime>,
    /// Calls made to the serving version.
    pub calls: u64,
    /// Failed calls of the serving version.
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// End of the current backoff, when failing (unix seconds in JSON).
    #[serde(serialize_with = "unix_seconds")]
    pub backoff_until: Option<SystemTime>,
    /// The last call failure.
    pub last_error: Option<String>,
    /// Why the newest file version was refused (the previous version, if
    /// any, keeps serving).
    pub refused: Option<String>,
}

/// Serialises a time as seconds since the Unix epoch (what API clients
/// parse most easily), `null` when absent.
fn unix_seconds<S: serde::Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
        Some(d) => serializer.serialize_some(&d.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// A job in the table, with the plugin serving it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobEntry {
    /// The job.
    pub job: JobSpec,
    /// The plugin offering it.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
}

#[derive(Clone)]
pub(crate) struct Refusal {
    pub message: String,
    /// The world its manifest names, when the manifest could be read (an
    /// authz plugin that cannot load denies every request).
    pub world: Option<World>,
}

#[derive(Clone)]
pub(crate) struct DirEntry {
    pub active: Option<Arc<LoadedPlugin>>,
    pub refused: Option<Refusal>,
    /// Digest of the manifest and component last attempted, so that an
    /// unchanged broken file is not retried on every event.
    stamp: String,
}

/// One consistent view of every plugin; replaced atomically.
#[derive(Clone, Default)]
pub(crate) struct Table {
    pub builtins: BTreeMap<String, Arc<LoadedPlugin>>,
    pub dir: BTreeMap<String, DirEntry>,
    pub disabled: BTreeSet<String>,
}

impl Table {
    /// The serving plugin named `name`: the directory's, else the built-in.
    pub(crate) fn effective(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.dir
            .get(name)
            .and_then(|e| e.active.as_ref())
            .or_else(|| self.builtins.get(name))
    }

    /// Every serving plugin, directory ones first (they take precedence).
    fn serving(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        let dir = self.dir.values().filter_map(|e| e.active.as_ref());
        let builtins = self
            .builtins
            .iter()
            .filter(|(name, _)| self.dir.get(*name).is_none_or(|e| e.active.is_none()))
            .map(|(_, p)| p);
        dir.chain(builtins)
    }

    fn enabled(&self, plugin: &LoadedPlugin) -> bool {
        !self.disabled.contains(plugin.name())
    }

    /// The plugin serving job `job`: a directory plugin's job overrides a
    /// built-in one.
    fn job_owner(&self, job: &str) -> Option<&Arc<LoadedPlugin>> {
        self.serving()
            .filter(|p| self.enabled(p))
            .find(|p| p.jobs.iter().any(|j| j.name == job))
    }

    /// The policy serving `world`: an enabled directory plugin that is not
    /// resting, else the built-in (so a failing replacement degrades to the
    /// default rather than failing every operation).
    fn policy(&self, world: World) -> Option<&Arc<LoadedPlugin>> {
        let candidates = || {
            self.serving()
                .filter(|p| p.manifest.world == world && self.enabled(p))
        };
        candidates()
            .find(|p| p.source != PluginSource::Builtin && !p.is_resting())
            .or_else(|| candidates().find(|p| p.source == PluginSource::Builtin))
            .or_else(|| candidates().next())
    }
}

/// Where the admin's enable/disable choices are kept.
fn disabled_file(data_root: &Path) -> PathBuf {
    data_root.join("plugins").join("disabled.toml")
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct DisabledFile {
    disabled: BTreeSet<String>,
}

fn load_disabled(path: &Path) -> Result<BTreeSet<String>, PluginError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str::<DisabledFile>(&text)
            .map(|f| f.disabled)
            .map_err(|e| PluginError::Manifest {
                path: path.to_path_buf(),
                reason: format!("cannot parse the list of disabled plugins: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(source) => Err(PluginError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the disabled set atomically.
fn save_disabled(path: &Path, disabled: &BTreeSet<String>) -> Result<(), PluginError> {
    let write_error = |source| PluginError::Write {
        path: path.to_path_buf(),
        source,
    };
    let text = toml::to_string(&DisabledFile {
        disabled: disabled.clone(),
    })
    .map_err(|e| write_error(std::io::Error::other(e.to_string())))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    berth_fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|e| write_error(e.source))
}

/// A plugin found in the directory.
pub(crate) struct Candidate {
    id: String,
    manifest_path: PathBuf,
    component_path: PathBuf,
    stamp: String,
    /// The parsed manifest and the component bytes, or why they could not
    /// be read.
    contents: Result<(Manifest, Vec<u8>), PluginError>,
}

struct Inner {
    runtime: Arc<WasmRuntime>,
    config: PluginHostConfig,
    grants: ArcSwap<Grants>,
    table: ArcSwap<Table>,
    /// Serialises changes to the table: the reload task and admin calls.
    writer: tokio::sync::Mutex<()>,
    events: broadcast::Sender<PluginEvent>,
    /// The latest events, so that a subscriber arriving after start (the
    /// engine's event hub) still sees the loads at start.
    history: std::sync::Mutex<std::collections::VecDeque<PluginEvent>>,
    graph_admin: RwLock<Option<Arc<dyn GraphAdmin>>>,
    /// Lists the plugin directory ([`scan_dir`]; tests inject failures).
    scanner: std::sync::Mutex<Scanner>,
}

/// Events kept for late subscribers.
const EVENT_HISTORY: usize = 256;

/// The plugin host: loads plugins, keeps them current, and runs calls.
/// Cheap to clone (one shared table).
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("plugin_dir", &self.inner.config.plugin_dir)
            .finish_non_exhaustive()
    }
}

fn is_ignored_file(name: &str) -> bool {
    // Editors' and atomic writers' temporaries appear and vanish around
    // every save; only finished files are plugins.
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".tmp") || name.ends_with(".swp")
}

fn stamp_of(manifest: &[u8], component: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update((manifest.len() as u64).to_le_bytes());
    hasher.update(manifest);
    hasher.update(component);
    hex::encode(hasher.finalize())
}

fn read(path: &Path) -> Result<Vec<u8>, PluginError> {
    std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads one candidate: its manifest and component.
fn read_candidate(id: String, manifest_path: PathBuf, default_component: PathBuf) -> Candidate {
    let manifest_bytes = match read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(error) => {
            return Candidate {
                id,
                manifest_path,
                component_path: default_component,
                stamp: String::new(),
                contents: Err(error),
            };
        }
    };
    let mut component_path = default_component;
    let contents = Manifest::parse(&String::from_utf8_lossy(&manifest_bytes), &manifest_path)
        .and_then(|manifest| {
            if manifest.name != id {
                return Err(PluginError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!(
                        "name {:?} does not match its file name {id:?}: the manifest of plugin \
                     NAME is NAME.toml or NAME/plugin.toml",
                        manifest.name
                    ),
                });
            }
            let dir = manifest_path.parent().unwrap_or(Path::new("."));
            component_path = dir.join(&manifest.component);
            let component = read(&component_path)?;
            Ok((manifest, component))
        });
    let component_bytes = contents.as_ref().map(|(_, c)| c.as_slice()).unwrap_or(&[]);
    Candidate {
        id,
        stamp: stamp_of(&manifest_bytes, component_bytes),
        manifest_path,
        component_path,
        contents,
    }
}

/// How the host lists its plugin directory: [`scan_dir`], or a test's
/// stand-in that fails.
pub(crate) type Scanner = fn(&Path, Option<&Path>) -> Result<Vec<Candidate>, PluginError>;

/// Lists the plugins in `dir`: `NAME.toml` (+ the component it names,
/// `NAME.wasm` by default) and `NAME/plugin.toml`. A `.wasm` file without a
/// manifest is reported, not loaded. A missing directory holds no plugins;
/// a directory that cannot be listed is an error, never an empty listing
/// (which would unload every directory plugin).
pub(crate) fn scan_dir(
    dir: &Path,
    grants_file: Option<&Path>,
) -> Result<Vec<Candidate>, PluginError> {
    let scan_error = |source| PluginError::ScanDir {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(scan_error(e)),
    };
    let mut candidates = BTreeMap::new();
    let mut orphans = Vec::new();
    for entry in entries {
        let path = entry.map_err(scan_error)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned) else {
            continue;
        };
        if is_ignored_file(&file) || Some(path.as_path()) == grants_file {
            continue;
        }
        if path.is_dir() {
            let manifest = path.join("plugin.toml");
            if manifest.is_file() {
                let component = path.join(format!("{file}.wasm"));
                candidates.insert(file.clone(), read_candidate(file, manifest, component));
            }
        } else if let Some(id) = file.strip_suffix(".toml") {
            let component = dir.join(format!("{id}.wasm"));
            candidates.insert(
                id.to_owned(),
                read_candidate(id.to_owned(), path, component),
            );
        } else if let Some(id) = file.strip_suffix(".wasm") {
            orphans.push((id.to_owned(), path));
        }
    }
    for (id, path) in orphans {
        if candidates.contains_key(&id) || candidates.values().any(|c| c.component_path == path) {
            continue;
        }
        let manifest_path = dir.join(format!("{id}.toml"));
        candidates.insert(
            id.clone(),
            Candidate {
                id: id.clone(),
                contents: Err(PluginError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!(
                        "{} has no manifest: write {id}.toml beside it (name, version, world, wit)",
                        path.display()
                    ),
                }),
                manifest_path,
                component_path: path,
                stamp: String::from("orphan"),
            },
        );
    }
    Ok(candidates.into_values().collect())
}

/// The message of a panic caught by a join handle.
fn panic_reason(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| String::from("a panic without a message")),
        Err(error) => error.to_string(),
    }
}

impl PluginHost {
    /// Creates the runtime, loads the built-in plugins and the plugin
    /// directory. Plugins that fail to load are refused (see their status);
    /// only a broken runtime, cache directory or built-in plugin fails this.
    pub async fn start(config: PluginHostConfig) -> Result<PluginHost, PluginError> {
        let cache_dir = config.data_root.join("plugins").join("cache");
        let runtime = {
            let (limits, health) = (config.limits, config.health);
            tokio::task::spawn_blocking(move || WasmRuntime::new(&cache_dir, limits, health))
                .await
                .map_err(|e| PluginError::Setup {
                    what: "wasmtime runtime",
                    reason: e.to_string(),
                })??
        };
        let grants = match &config.grants_file {
            Some(path) => Grants::load(path)?,
            None => Grants::none(),
        };
        let (events, _) = broadcast::channel(256);
        let disabled = load_disabled(&disabled_file(&config.data_root))?;
        let host = PluginHost {
            inner: Arc::new(Inner {
                runtime: Arc::new(runtime),
                config,
                grants: ArcSwap::from_pointee(grants),
                table: ArcSwap::from_pointee(Table {
                    disabled,
                    ..Table::default()
                }),
                writer: tokio::sync::Mutex::new(()),
                events,
                history: std::sync::Mutex::new(std::collections::VecDeque::new()),
                graph_admin: RwLock::new(None),
                scanner: std::sync::Mutex::new(scan_dir),
            }),
        };
        if host.inner.config.builtins {
            host.load_builtins().await?;
        }
        host.rescan().await;
        host.prune_cache();
        Ok(host)
    }

    /// Removes compiled components that no loaded plugin uses (earlier
    /// versions, removed plugins), so the cache does not grow forever.
    fn prune_cache(&self) {
        let table = self.inner.table.load();
        let keep: BTreeSet<PathBuf> = table
            .builtins
            .values()
            .chain(table.dir.values().filter_map(|e| e.active.as_ref()))
            .map(|p| self.inner.runtime.cache_path(&p.digest))
            .collect();
        let Some(dir) = keep.iter().next().and_then(|p| p.parent()) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let compiled = path.extension().is_some_and(|e| e == "cwasm");
            if compiled && !keep.contains(&path) {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::debug!(path = %path.display(), "pruned compilation cache entry")
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot prune compilation cache entry")
                    }
                }
            }
        }
    }

    async fn load_builtins(&self) -> Result<(), PluginError> {
        let _writer = self.inner.writer.lock().await;
        let grants = self.inner.grants.load_full();
        let mut table = (**self.inner.table.load()).clone();
        for plugin in builtin::BUILTINS {
            let path = PathBuf::from(format!("<builtin>/{}.toml", plugin.name));
            let manifest = Manifest::parse(plugin.manifest, &path)?;
            let loaded = LoadedPlugin::load(
                &self.inner.runtime,
                LoadRequest {
                    manifest,
                    component: plugin.component.to_vec(),
                    source: PluginSource::Builtin,
                    builtin: true,
                    grants: &grants,
                    scratch_root: &self.scratch_root(),
                },
            )
            .await?;
            self.emit(
                PluginEventKind::Load,
                loaded.name(),
                Some(loaded.version()),
                format!(
                    "built-in plugin {} loaded ({:?})",
                    loaded.label(),
                    loaded.origin
                ),
            );
            table
                .builtins
                .insert(plugin.name.to_owned(), Arc::new(loaded));
        }
        self.inner.table.store(Arc::new(table));
        Ok(())
    }

    fn scratch_root(&self) -> PathBuf {
        self.inner.config.data_root.join("plugins").join("scratch")
    }

    pub(crate) fn emit(
        &self,
        kind: PluginEventKind,
        plugin: &str,
        version: Option<&str>,
        message: String,
    ) {
        match kind {
            PluginEventKind::Refuse | PluginEventKind::Fail => {
                tracing::warn!(plugin, version, ?kind, "{message}")
            }
            _ => tracing::info!(plugin, version, ?kind, "{message}"),
        }
        let event = PluginEvent {
            kind,
            plugin: plugin.to_owned(),
            version: version.map(str::to_owned),
            message,
            time: SystemTime::now(),
        };
        // Sent under the history lock, so that `subscribe_with_history`
        // sees every event exactly once.
        let mut history = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == EVENT_HISTORY {
            history.pop_front();
        }
        history.push_back(event.clone());
        // No receiver is fine: nobody is listening to events right now.
        let _ = self.inner.events.send(event);
    }

    /// Subscribes to plugin events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PluginEvent> {
        self.inner.events.subscribe()
    }

    /// The latest events (up to 256, oldest first) and a subscription to
    /// every later one, with no gap and no duplicate between the two.
    pub fn subscribe_with_history(&self) -> (Vec<PluginEvent>, broadcast::Receiver<PluginEvent>) {
        let history = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        (
            history.iter().cloned().collect(),
            self.inner.events.subscribe(),
        )
    }

    /// The watched directory, if any.
    pub fn plugin_dir(&self) -> Option<&Path> {
        self.inner.config.plugin_dir.as_deref()
    }

    /// Installs the image store's maintenance functions for job handlers
    /// granted `graph-admin` (the daemon calls this once its graph exists).
    pub fn set_graph_admin(&self, admin: Arc<dyn GraphAdmin>) {
        *self
            .inner
            .graph_admin
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(admin);
    }

    /// Brings the table in line with the plugin directory: loads new
    /// plugins, swaps changed ones (after validating them off to the side),
    /// unloads removed ones. Returns the errors of plugins refused in this
    /// pass; a refused replacement leaves the previous version serving.
    pub async fn rescan(&self) -> Vec<PluginError> {
        let Some(dir) = self.inner.config.plugin_dir.clone() else {
            return Vec::new();
        };
        let _writer = self.inner.writer.lock().await;
        let candidates = match self.scan(dir.clone()).await {
            Ok(candidates) => candidates,
            Err(error) => {
                // Refused, not read as an empty directory: an empty listing
                // would unload every directory plugin.
                let serving = self.inner.table.load().dir.len();
                self.emit(
                    PluginEventKind::Refuse,
                    &dir.display().to_string(),
                    None,
                    format!("{error}; the {serving} plugins loaded from it keep serving"),
                );
                return vec![error];
            }
        };
        let grants = self.inner.grants.load_full();
        let mut errors = Vec::new();
        let mut table = (**self.inner.table.load()).clone();
        self.unload_removed(&mut table, &candidates);
        for candidate in candidates {
            let previous = table.dir.get(&candidate.id).cloned();
            if previous
                .as_ref()
                .is_some_and(|p| p.stamp == candidate.stamp)
            {
                continue;
            }
            let old = previous.and_then(|p| p.active);
            let id = candidate.id.clone();
            let (entry, error) = self.settle(&table, candidate, old, &grants).await;
            errors.extend(error);
            table.dir.insert(id, entry);
            // Publish each change as soon as it is ready: calls that already
            // hold the previous Arc finish on it.
            self.inner.table.store(Arc::new(table.clone()));
        }
        errors
    }

    /// Unloads the directory plugins whose files are gone, publishing each
    /// removal.
    fn unload_removed(&self, table: &mut Table, candidates: &[Candidate]) {
        let present: BTreeSet<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        let removed: Vec<String> = table
            .dir
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        for id in removed {
            if let Some(entry) = table.dir.remove(&id)
                && let Some(active) = entry.active
            {
                self.emit(
                    PluginEventKind::Unload,
                    active.name(),
                    Some(active.version()),
                    format!("plugin {} unloaded: its files were removed", active.label()),
                );
            }
            self.inner.table.store(Arc::new(table.clone()));
        }
    }

    /// Loads a new or changed candidate and decides its table entry: the
    /// new version serving (a load or a swap), or a refusal that keeps
    /// `old` serving. Returns the entry and the refusal's error.
    async fn settle(
        &self,
        table: &Table,
        candidate: Candidate,
        old: Option<Arc<LoadedPlugin>>,
        grants: &Grants,
    ) -> (DirEntry, Option<PluginError>) {
        let Candidate {
            id,
            manifest_path,
            component_path,
            stamp,
            contents,
        } = candidate;
        let world = contents.as_ref().ok().map(|(manifest, _)| manifest.world);
        let result = match contents {
            Err(e) => Err(e),
            Ok((manifest, component)) => {
                LoadedPlugin::load(
                    &self.inner.runtime,
                    LoadRequest {
                        manifest,
                        component,
                        source: PluginSource::Directory {
                            manifest: manifest_path,
                            component: component_path,
                        },
                        builtin: false,
                        grants,
                        scratch_root: &self.scratch_root(),
                    },
                )
                .await
            }
        }
        .and_then(|loaded| check_job_conflicts(table, &loaded).map(|()| loaded));
        match result {
            Ok(loaded) => {
                let loaded = Arc::new(loaded);
                match &old {
                    Some(old) => self.emit(
                        PluginEventKind::Swap,
                        loaded.name(),
                        Some(loaded.version()),
                        format!(
                            "plugin {} replaced version {} ({:?})",
                            loaded.label(),
                            old.version(),
                            loaded.origin
                        ),
                    ),
                    None => self.emit(
                        PluginEventKind::Load,
                        loaded.name(),
                        Some(loaded.version()),
                        format!("plugin {} loaded ({:?})", loaded.label(), loaded.origin),
                    ),
                }
                let entry = DirEntry {
                    active: Some(loaded),
                    refused: None,
                    stamp,
                };
                (entry, None)
            }
            Err(error) => {
                let message = match &old {
                    Some(old) => format!("{error}; version {} keeps serving", old.version()),
                    None => error.to_string(),
                };
                self.emit(
                    PluginEventKind::Refuse,
                    &id,
                    old.as_ref().map(|o| o.version()),
                    message.clone(),
                );
                let entry = DirEntry {
                    active: old,
                    refused: Some(Refusal { message, world }),
                    stamp,
                };
                (entry, Some(error))
            }
        }
    }

    /// Lists the plugin directory off the async workers; a panic in the
    /// scan is an error like an I/O failure.
    async fn scan(&self, dir: PathBuf) -> Result<Vec<Candidate>, PluginError> {
        let grants_file = self.inner.config.grants_file.clone();
        let scanner = *self.inner.scanner.lock().unwrap_or_else(|p| p.into_inner());
        let scan_dir = dir.clone();
        tokio::task::spawn_blocking(move || scanner(&scan_dir, grants_file.as_deref()))
            .await
            .unwrap_or_else(|join| {
                Err(PluginError::ScanPanicked {
                    dir,
                    reason: panic_reason(join),
                })
            })
    }

    /// Replaces how the plugin directory is listed (tests inject failures).
    #[cfg(test)]
    pub(crate) fn set_scanner(&self, scanner: Scanner) {
        *self.inner.scanner.lock().unwrap_or_else(|p| p.into_inner()) = scanner;
    }

    /// Re-reads the grants file and reloads plugin `name` from the
    /// directory (or re-validates the whole directory when `name` is a
    /// built-in), returning its status.
    pub async fn reload(&self, name: &str) -> Result<PluginStatus, PluginError> {
        if let Some(path) = &self.inner.config.grants_file {
            self.inner.grants.store(Arc::new(Grants::load(path)?));
        }
        {
            let _writer = self.inner.writer.lock().await;
            let mut table = (**self.inner.table.load()).clone();
            if let Some(entry) = table.dir.get_mut(name) {
                entry.stamp.clear();
            } else if !table.builtins.contains_key(name) {
                return Err(PluginError::NotFound {
                    what: "plugin",
                    name: name.to_owned(),
                });
            }
            self.inner.table.store(Arc::new(table));
        }
        self.rescan().await;
        self.inspect(name).ok_or_else(|| PluginError::NotFound {
            what: "plugin",
            name: name.to_owned(),
        })
    }

    /// Enables (`true`) or disables plugin `name`. Disabling a policy makes
    /// the driver fall back to the built-in default; disabling a job
    /// handler removes its jobs. Enabling also clears a failure backoff.
    pub async fn set_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<PluginStatus, PluginError> {
        {
            let _writer = self.inner.writer.lock().await;
            let mut table = (**self.inner.table.load()).clone();
            let exists = table.builtins.contains_key(name) || table.dir.contains_key(name);
            if !exists {
                return Err(PluginError::NotFound {
                    what: "plugin",
                    name: name.to_owned(),
                });
            }
            let version = table.effective(name).map(|p| p.version().to_owned());
            if !enabled
                && table.effective(name).is_some_and(|p| {
                    p.manifest.world == World::Authz && p.source == PluginSource::Builtin
                })
            {
                // With no other authz plugin, nothing would decide: the
                // daemon would have to deny every request, the admin's
                // re-enable included.
                return Err(PluginError::Refused {
                    plugin: name.to_owned(),
                    reason: "the built-in authz policy cannot be disabled; install an authz \
                             plugin in the plugin directory to replace it"
                        .into(),
                });
            }
            if enabled {
                table.disabled.remove(name);
                if let Some(plugin) = table.effective(name) {
                    plugin.reset_health();
                }
            } else {
                table.disabled.insert(name.to_owned());
            }
            // Persist first: a disable that would not survive a restart is
            // refused rather than half-done.
            save_disabled(
                &disabled_file(&self.inner.config.data_root),
                &table.disabled,
            )?;
            self.inner.table.store(Arc::new(table));
            let (kind, verb) = if enabled {
                (PluginEventKind::Enable, "enabled")
            } else {
                (PluginEventKind::Disable, "disabled")
            };
            self.emit(
                kind,
                name,
                version.as_deref(),
                format!("plugin {name} {verb}"),
            );
        }
        self.inspect(name).ok_or_else(|| PluginError::NotFound {
            what: "plugin",
            name: name.to_owned(),
        })
    }

    fn status_of(&self, table: &Table, name: &str) -> Option<PluginStatus> {
        let entry = table.dir.get(name);
        let plugin = table.effective(name);
        if plugin.is_none() && entry.is_none() {
            return None;
        }
        let refused = entry
            .and_then(|e| e.refused.as_ref())
            .map(|r| r.message.clone());
        let disabled = table.disabled.contains(name);
        let Some(plugin) = plugin else {
            return Some(PluginStatus {
                name: name.to_owned(),
                state: if disabled {
                    PluginState::Disabled
                } else {
                    PluginState::Refused
                },
                active: false,
                version: None,
                world: None,
                wit: None,
                digest: None,
                source: None,
                overrides_builtin: false,
                summary: String::new(),
                capabilities: Vec::new(),
                jobs: Vec::new(),
                limits: None,
                compile: None,
                loaded_at: None,
                calls: 0,
                failures: 0,
                consecutive_failures: 0,
                backoff_until: None,
                last_error: None,
                refused,
            });
        };
        let (calls, failures) = plugin.counters();
        let (consecutive_failures, backoff_until, last_error) = plugin.health();
        let state = if disabled {
            PluginState::Disabled
        } else if backoff_until.is_some() {
            PluginState::Failing
        } else {
            PluginState::Loaded
        };
        let world = plugin.manifest.world;
        let active = !disabled
            && match world {
                World::Authz => table
                    .authz_chain(&self.inner.config.authorization_plugins)
                    .iter()
                    .any(|link| link.as_ref().is_ok_and(|p| Arc::ptr_eq(p, plugin))),
                _ if world.is_policy() => {
                    table.policy(world).is_some_and(|p| Arc::ptr_eq(p, plugin))
                }
                _ => true,
            };
        Some(PluginStatus {
            name: name.to_owned(),
            state,
            active,
            version: Some(plugin.version().to_owned()),
            world: Some(world),
            wit: Some(plugin.manifest.wit.to_string()),
            digest: Some(format!("sha256:{}", plugin.digest)),
            source: Some(plugin.source.clone()),
            overrides_builtin: plugin.source != PluginSource::Builtin
                && table.builtins.contains_key(name),
            summary: plugin.summary.clone(),
            capabilities: plugin.capabilities.iter().copied().collect(),
            jobs: plugin.jobs.clone(),
            limits: Some(plugin.limits),
            compile: Some(plugin.origin),
            loaded_at: Some(plugin.loaded_at),
            calls,
            failures,
            consecutive_failures,
            backoff_until,
            last_error,
            refused,
        })
    }

    /// Every plugin (built-in and directory, refused ones included), by name.
    pub fn list(&self) -> Vec<PluginStatus> {
        let table = self.inner.table.load();
        let names: BTreeSet<&String> = table.builtins.keys().chain(table.dir.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| self.status_of(&table, name))
            .collect()
    }

    /// One plugin's status.
    pub fn inspect(&self, name: &str) -> Option<PluginStatus> {
        self.status_of(&self.inner.table.load(), name)
    }

    /// Every job offered by an enabled plugin, by job name.
    pub fn jobs(&self) -> Vec<JobEntry> {
        let table = self.inner.table.load();
        let mut jobs = BTreeMap::new();
        for plugin in table.serving().filter(|p| table.enabled(p)) {
            for job in &plugin.jobs {
                // serving() yields directory plugins first: they win.
                jobs.entry(job.name.clone()).or_insert_with(|| JobEntry {
                    job: job.clone(),
                    plugin: plugin.name().to_owned(),
                    version: plugin.version().to_owned(),
                });
            }
        }
        jobs.into_values().collect()
    }

    /// Whether an enabled plugin offers job `name`.
    pub fn has_job(&self, name: &str) -> bool {
        self.inner.table.load().job_owner(name).is_some()
    }

    /// Runs plugin job `job` with `args`, `env` and `io` as its stdio, and
    /// returns its exit status. The call runs on the plugin version current
    /// when it starts, even if a new version is swapped in meanwhile.
    pub async fn run_job(
        &self,
        job: &str,
        args: &[String],
        env: &[(String, String)],
        io: JobIo,
    ) -> Result<i32, PluginError> {
        let plugin = {
            let table = self.inner.table.load();
            table
                .job_owner(job)
                .cloned()
                .ok_or_else(|| PluginError::NotFound {
                    what: "job",
                    name: job.to_owned(),
                })?
        };
        let admin = self
            .inner
            .graph_admin
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let result = plugin
            .run_job(&self.inner.runtime, admin, job, args, env, io)
            .await;
        self.report(&plugin, &result);
        result
    }

    /// Emits a `fail` event for a failed call.
    pub(crate) fn report<T>(&self, plugin: &LoadedPlugin, result: &Result<T, PluginError>) {
        if let Err(error @ PluginError::Call { kind, .. }) = result
            && *kind != CallFailure::Returned
        {
            self.emit(
                PluginEventKind::Fail,
                plugin.name(),
                Some(plugin.version()),
                error.to_string(),
            );
        }
    }

    /// The authz chain now (see [`crate::authz`]).
    pub(crate) fn authz_chain(&self) -> Vec<crate::authz::Link> {
        self.inner
            .table
            .load()
            .authz_chain(&self.inner.config.authorization_plugins)
    }

    /// The plugin serving `world`'s policy and the runtime, for the policy
    /// adapters.
    pub(crate) fn policy_for(&self, world: World) -> Option<Arc<LoadedPlugin>> {
        self.inner.table.load().policy(world).cloned()
    }

    pub(crate) fn runtime(&self) -> &WasmRuntime {
        &self.inner.runtime
    }
}

/// Refuses a directory plugin offering a job another directory plugin
/// already offers (overriding a built-in's job is allowed: that is how a
/// plugin replaces a default).
fn check_job_conflicts(table: &Table, loaded: &LoadedPlugin) -> Result<(), PluginError> {
    for (name, entry) in &table.dir {
        if name == loaded.name() {
            continue;
        }
        let Some(other) = &entry.active else { continue };
        for job in &loaded.jobs {
            if other.jobs.iter().any(|j| j.name == job.name) {
                return Err(PluginError::JobConflict {
                    job: job.name.clone(),
                    plugin: loaded.name().to_owned(),
                    owner: other.name().to_owned(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_ignored() {
        for name in [".x.wasm", "x.wasm~", "x.wasm.tmp", ".x.toml.swp"] {
            assert!(is_ignored_file(name), "{name}");
        }
        assert!(!is_ignored_file("x.wasm"));
    }

    #[test]
    fn scan_finds_flat_and_folder_plugins_and_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |name: &str| {
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\nworld = \"job-handler\"\nwit = \"1.0.0\"\n"
            )
        };
        std::fs::write(dir.path().join("a.toml"), manifest("a")).unwrap();
        std::fs::write(dir.path().join("a.wasm"), b"a").unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/plugin.toml"), manifest("b")).unwrap();
        std::fs::write(dir.path().join("b/b.wasm"), b"b").unwrap();
        std::fs::write(dir.path().join("c.wasm"), b"c").unwrap();
        std::fs::write(dir.path().join("d.toml"), manifest("not-d")).unwrap();
        std::fs::write(dir.path().join(".e.wasm.tmp"), b"e").unwrap();
        std::fs::write(dir.path().join("grants.toml"), "").unwrap();

        let grants = dir.path().join("grants.toml");
        let found = scan_dir(dir.path(), Some(&grants)).unwrap();
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let (m, bytes) = found[0].contents.as_ref().unwrap();
        assert_eq!((m.name.as_str(), bytes.as_slice()), ("a", &b"a"[..]));
        assert!(found[1].contents.is_ok());
        let orphan = found[2].contents.as_ref().err().unwrap().to_string();
        assert!(orphan.contains("has no manifest"), "{orphan}");
        let mismatch = found[3].contents.as_ref().err().unwrap().to_string();
        assert!(
            mismatch.contains("does not match its file name"),
            "{mismatch}"
        );
    }

    #[test]
    fn stamps_change_with_either_file() {
        assert_ne!(stamp_of(b"m", b"c"), stamp_of(b"m", b"d"));
        assert_ne!(stamp_of(b"m", b"c"), stamp_of(b"n", b"c"));
        // The manifest length is hashed, so bytes cannot move between files.
        assert_ne!(stamp_of(b"mc", b""), stamp_of(b"m", b"c"));
    }
}
