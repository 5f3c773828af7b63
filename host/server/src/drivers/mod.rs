//! Wiring of the real drivers behind the engine's seams: the graph driver
//! ([`graph::GraphImages`]) and the exec driver ([`exec::ExecAdapter`]).

pub mod exec;
pub mod exec_launch;
pub mod graph;
pub mod names;
pub mod network;
pub mod network_policy;
pub mod registry;
pub mod registry_auth;
mod registry_push;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use berth_engine::daemon::DaemonConfig;
use berth_engine::driver::{ExecService, ImageService};

/// How berthd configures the exec driver.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The `berth-shim` binary.
    pub shim: PathBuf,
    /// Spec generation settings (cgroup parent, swap accounting).
    pub spec: berth_exec::spec::SpecOptions,
    /// The host's resolver configuration containers' `resolv.conf` is
    /// made from (berthd `--dns-resolv-conf`).
    pub resolv_conf: PathBuf,
}

/// The opened drivers: behind the engine's seams, plus the exec driver
/// itself for what berthd does at shutdown.
pub struct Drivers {
    /// The graph driver.
    pub images: Arc<dyn ImageService>,
    /// The exec driver as the engine's runtime.
    pub runtime: Arc<dyn ExecService>,
    /// The exec driver.
    pub exec: berth_exec::ExecDriver,
}

/// Opens the graph and exec drivers over the daemon's directories.
pub fn open(
    config: &DaemonConfig,
    store: &berth_store::Store,
    storage_driver: Option<&str>,
    exec: &ExecOptions,
    plugins: &berth_plugin_host::PluginHost,
) -> anyhow::Result<Drivers> {
    let choice: berth_graph::DriverChoice = storage_driver.unwrap_or("auto").parse()?;
    let graph = berth_graph::Graph::open(
        store.clone(),
        berth_graph::GraphConfig::new(&config.data_root)
            .driver(choice)
            // The active graph-policy plugin (built-in: graph-layout); the
            // native policy when none is enabled.
            .policy(Arc::new(
                plugins.graph_policy(Arc::new(berth_graph::NativeLayoutPolicy)),
            )),
    )
    .context("failed to open the graph driver")?;
    let graph = Arc::new(graph);
    plugins.set_graph_admin(graph.clone());
    tracing::info!(driver = graph.driver().docker_name(), "graph driver ready");
    let images: Arc<dyn ImageService> = Arc::new(graph::GraphImages::new(graph));
    let mut exec_config = berth_exec::ExecConfig::new(
        config.exec_root.clone(),
        config.containers_root(),
        exec.shim.clone(),
    );
    exec_config.spec = exec.spec.clone();
    exec_config.host_resolv_conf = exec.resolv_conf.clone();
    let exec =
        berth_exec::ExecDriver::new(exec_config).context("failed to open the exec driver")?;
    let runtime: Arc<dyn ExecService> = Arc::new(exec::ExecAdapter::new(exec.clone()));
    Ok(Drivers {
        images,
        runtime,
        exec,
    })
}
