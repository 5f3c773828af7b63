//! Wiring of the real drivers behind the engine's seams: the graph driver
//! ([`graph::GraphImages`]) and the exec driver.

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
    let _ = shim;
    let runtime: Arc<dyn Runtime> = Arc::new(pending::NoExecDriver);
    Ok((images, runtime))
}

/// Until the exec driver is wired: every runtime call fails clearly.
mod pending {
    use berth_engine::driver::*;
    use berth_engine::job::BoxFuture;
    use berth_engine::{ErrorKind, JobError};
    use tokio::sync::mpsc;

    pub struct NoExecDriver;

    fn unavailable<T: Send + 'static>() -> BoxFuture<Result<T, JobError>> {
        Box::pin(async {
            Err(JobError::new(
                ErrorKind::Unavailable,
                "the exec driver is not available in this berthd build",
            ))
        })
    }

    impl Runtime for NoExecDriver {
        fn start(&self, _: StartRequest) -> BoxFuture<Result<Started, JobError>> {
            unavailable()
        }
        fn wait(&self, _: &str) -> BoxFuture<Result<ExitRecord, JobError>> {
            unavailable()
        }
        fn kill(&self, _: &str, _: i32) -> BoxFuture<Result<(), JobError>> {
            unavailable()
        }
        fn attach(&self, _: &str, _: AttachOptions) -> BoxFuture<Result<AttachStreams, JobError>> {
            unavailable()
        }
        fn resize(&self, _: &str, _: u16, _: u16) -> BoxFuture<Result<(), JobError>> {
            unavailable()
        }
        fn logs(
            &self,
            _: &str,
            _: LogOptions,
        ) -> BoxFuture<Result<mpsc::Receiver<LogRecord>, JobError>> {
            unavailable()
        }
        fn remove(&self, _: &str) -> BoxFuture<Result<(), JobError>> {
            Box::pin(async { Ok(()) })
        }
        fn restore(&self, _: &str) -> BoxFuture<Result<Restored, JobError>> {
            unavailable()
        }
    }
}
