//! [`PluginHost`]: the table of plugins (built-in and from the plugin
//! directory), its atomic swaps and the admin operations; the directory
//! scan and reload are in `reload`, the calls into plugins in `calls`.

mod calls;
mod reload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::capabilities::Grants;
use crate::events::{PluginEvent, PluginEventKind};
use crate::manifest::{Capability, Manifest, World};
use crate::plugin::{HealthPolicy, JobSpec, LoadRequest, LoadedPlugin, PluginSource};
use crate::runtime::{CompileOrigin, HostLimits, Limits, WasmRuntime};
use crate::{PluginError, builtin};
use berth_model::graph::GraphAdmin;
pub(crate) use reload::{Scanner, scan_dir};

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
    /// Configuration the host itself supplies to every plugin, beneath the
    /// manifest's `[config]` and the admin's grants (which override it):
    /// facts of this daemon a pure policy cannot derive, such as berthd's
    /// default IPv6 pool (`default-ipv6-pool`, from its engine id).
    pub host_config: BTreeMap<String, String>,
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
            host_config: BTreeMap::new(),
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
                    host_config: &self.inner.config.host_config,
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
}
