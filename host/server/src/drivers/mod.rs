//! Wiring of the real drivers behind the engine's seams: the graph driver
//! ([`graph::GraphImages`]) and the exec driver ([`exec::ExecRuntime`]).

pub mod exec;
pub mod graph;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use berth_engine::daemon::DaemonConfig;
use berth_engine::driver::{ImageService, Runtime};

/// Opens the graph and exec drivers over the daemon's directories.
pub fn open(
    config: &DaemonConfig,
    store: &berth_store::Store,
    storage_driver: Option<&str>,
    shim: &Path,
) -> anyhow::Result<(Arc<dyn ImageService>, Arc<dyn Runtime>)> {
    let choice: berth_graph::DriverChoice = storage_driver
        .unwrap_or("auto")
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let graph = berth_graph::Graph::open(
        store.clone(),
        berth_graph::GraphConfig::new(&config.data_root).driver(choice),
    )
    .context("failed to open the graph driver")?;
    tracing::info!(driver = graph.driver().docker_name(), "graph driver ready");
    let images: Arc<dyn ImageService> = Arc::new(graph::GraphImages::new(Arc::new(graph)));
    let exec = berth_exec::ExecDriver::new(berth_exec::ExecConfig::new(
        config.exec_root.clone(),
        config.data_root.join("containers"),
        shim.to_owned(),
    ))
    .context("failed to open the exec driver")?;
    let runtime: Arc<dyn Runtime> = Arc::new(exec::ExecRuntime::new(exec));
    Ok((images, runtime))
}
