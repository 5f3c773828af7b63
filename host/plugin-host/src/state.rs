//! What a `Store` holds during one call, and the host side of the
//! `berth:plugin` interfaces every plugin imports.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::latest;
use berth_model::graph::GraphAdmin;

/// Who is calling into the host: fixed for a loaded plugin, shared by all
/// its calls.
#[derive(Debug)]
pub(crate) struct PluginIdentity {
    pub name: String,
    pub version: String,
    pub config: BTreeMap<String, String>,
}

/// The data of one call's `Store`.
pub(crate) struct CallState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: CallLimiter,
    pub plugin: Arc<PluginIdentity>,
    /// Present only when the plugin was granted `graph-admin` and the daemon
    /// installed an implementation.
    pub graph_admin: Option<Arc<dyn GraphAdmin>>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Per-store limits. Growing past a limit traps at once (rather than making
/// `memory.grow` return -1, which Rust turns into an abort that looks like
/// any other trap) and records why, so the error can say "memory limit".
#[derive(Debug)]
pub(crate) struct CallLimiter {
    pub memory: usize,
    pub table_elements: usize,
    pub memory_exceeded: bool,
}

impl CallLimiter {
    pub fn new(memory: u64, table_elements: u32) -> CallLimiter {
        CallLimiter {
            memory: usize::try_from(memory).unwrap_or(usize::MAX),
            table_elements: table_elements as usize,
            memory_exceeded: false,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.memory_exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes exceeded (growing to {desired} bytes)",
                self.memory
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(wasmtime::format_err!(
                "table limit of {} elements exceeded (growing to {desired})",
                self.table_elements
            ));
        }
        Ok(true)
    }

    // A Rust component instantiates a handful of core instances, tables
    // and memories; these caps stop a malicious component from asking the
    // pool for hundreds.
    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}

/// Log levels of the WIT `log-level` enum, independent of the bindings
/// version.
#[derive(Debug, Clone, Copy)]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

fn log_record(plugin: &PluginIdentity, level: Level, message: &str, fields: &[(String, String)]) {
    let fields = fields
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (name, version) = (plugin.name.as_str(), plugin.version.as_str());
    match level {
        Level::Trace => tracing::trace!(plugin = name, version, fields, "{message}"),
        Level::Debug => tracing::debug!(plugin = name, version, fields, "{message}"),
        Level::Info => tracing::info!(plugin = name, version, fields, "{message}"),
        Level::Warn => tracing::warn!(plugin = name, version, fields, "{message}"),
        Level::Error => tracing::error!(plugin = name, version, fields, "{message}"),
    }
}

fn config_entries(plugin: &PluginIdentity) -> Vec<(String, String)> {
    plugin
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

// --- sync (policies) -------------------------------------------------------
//
// Only the newest bindings' host interfaces are implemented: plugins built
// for older 1.x versions import them through the linker's semver matching,
// and their `types` are the newest ones (`bindings::v1` binds them with
// `with`).

mod sync {
    use super::*;
    use latest::graph_policy::berth::plugin::{host, types};

    // Every world shares these `types` bindings.
    impl From<types::LogLevel> for Level {
        fn from(level: types::LogLevel) -> Level {
            match level {
                types::LogLevel::Trace => Level::Trace,
                types::LogLevel::Debug => Level::Debug,
                types::LogLevel::Info => Level::Info,
                types::LogLevel::Warn => Level::Warn,
                types::LogLevel::Error => Level::Error,
            }
        }
    }

    impl types::Host for CallState {}

    impl host::Host for CallState {
        fn log(&mut self, level: types::LogLevel, message: String, fields: Vec<(String, String)>) {
            log_record(&self.plugin, level.into(), &message, &fields);
        }

        fn config(&mut self, key: String) -> Option<String> {
            self.plugin.config.get(&key).cloned()
        }

        fn config_entries(&mut self) -> Vec<(String, String)> {
            config_entries(&self.plugin)
        }
    }
}

// --- async (job handlers) --------------------------------------------------

mod asynchronous {
    use super::*;
    use berth_model::graph::{DiskUsage, GcReport};
    use latest::job_handler::berth::plugin::{graph_admin, host, types};

    impl host::Host for CallState {
        async fn log(
            &mut self,
            level: types::LogLevel,
            message: String,
            fields: Vec<(String, String)>,
        ) {
            log_record(&self.plugin, level.into(), &message, &fields);
        }

        async fn config(&mut self, key: String) -> Option<String> {
            self.plugin.config.get(&key).cloned()
        }

        async fn config_entries(&mut self) -> Vec<(String, String)> {
            config_entries(&self.plugin)
        }
    }

    /// Why a graph-admin call failed on the host's side. The WIT interface
    /// answers the plugin with `result<_, string>`, so this is turned into
    /// its words at the two `graph_admin::Host` methods only.
    #[derive(Debug, thiserror::Error)]
    enum GraphAdminCallError {
        /// No image store to offer.
        #[error(
            "graph-admin is not available: this plugin was not granted the graph-admin \
             capability, or the daemon has no image store"
        )]
        Unavailable,
        /// The blocking task did not finish.
        #[error("graph-admin operation panicked or was cancelled: {0}")]
        Task(tokio::task::JoinError),
        /// The graph driver failed.
        #[error(transparent)]
        Graph(#[from] berth_model::graph::GraphAdminError),
    }

    /// Runs a blocking graph-admin operation off the async worker.
    async fn blocking<T: Send + 'static>(
        admin: Option<Arc<dyn GraphAdmin>>,
        op: impl FnOnce(&dyn GraphAdmin) -> Result<T, berth_model::graph::GraphAdminError>
        + Send
        + 'static,
    ) -> Result<T, GraphAdminCallError> {
        // The capability check happened at load (a plugin importing
        // graph-admin without the grant is refused); `None` here means the
        // daemon has no image store to offer.
        let admin = admin.ok_or(GraphAdminCallError::Unavailable)?;
        Ok(tokio::task::spawn_blocking(move || op(admin.as_ref()))
            .await
            .map_err(GraphAdminCallError::Task)??)
    }

    // The model's reports become the WIT records here, and only here.
    impl graph_admin::Host for CallState {
        async fn disk_usage(&mut self) -> Result<graph_admin::StoreUsage, String> {
            let usage: DiskUsage = blocking(self.graph_admin.clone(), |a| a.disk_usage())
                .await
                .map_err(|e| e.to_string())?;
            let containers_size = usage.containers_size();
            Ok(graph_admin::StoreUsage {
                layers: usage
                    .layers
                    .into_iter()
                    .map(|l| graph_admin::LayerUsage {
                        id: l.id,
                        size: l.size,
                        images: l.images,
                        containers: l.containers,
                    })
                    .collect(),
                images: usage
                    .images
                    .into_iter()
                    .map(|i| graph_admin::ImageUsage {
                        id: i.id,
                        tags: i.repo_tags,
                        size: i.size,
                        shared_size: i.shared_size,
                        containers: i.containers,
                    })
                    .collect(),
                layers_size: usage.layers_size,
                containers_size,
            })
        }

        async fn gc(&mut self, dry_run: bool) -> Result<graph_admin::GcReport, String> {
            let report: GcReport = blocking(self.graph_admin.clone(), move |a| a.gc(dry_run))
                .await
                .map_err(|e| e.to_string())?;
            Ok(graph_admin::GcReport {
                removed: report.removed,
                reclaimed: report.reclaimed,
                dry_run: report.dry_run,
            })
        }
    }
}
