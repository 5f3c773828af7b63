//! Wiring of the real drivers behind the engine's seams.

use std::path::Path;
use std::sync::Arc;

use berth_engine::daemon::DaemonConfig;
use berth_engine::driver::{ImageService, Runtime};

/// Opens the graph and exec drivers.
pub fn open(
    _config: &DaemonConfig,
    _store: &berth_store::Store,
    _storage_driver: Option<&str>,
    _shim: &Path,
) -> anyhow::Result<(Arc<dyn ImageService>, Arc<dyn Runtime>)> {
    anyhow::bail!("the graph and exec drivers are not wired yet")
}
