//! The exec driver (`berth-exec`, one `berth-shim` per container) behind the
//! engine's [`ExecService`].

use berth_engine::driver::{
    AttachOptions, AttachStreams, ContainerFiles, ExecService, ExitRecord, LogOptions, LogRecord,
    RunState, StartRequest, Started, stream_type,
};
use berth_engine::job::BoxFuture;
use berth_engine::{ErrorKind, JobError};
use berth_exec::{AttachEvent, ExecDriver, ExecError};
use berth_model::container::ContainerModel;
use tokio::sync::mpsc;

/// [`ExecService`] over an [`ExecDriver`].
pub struct ExecAdapter {
    driver: ExecDriver,
}

impl ExecAdapter {
    /// Wraps a driver.
    pub fn new(driver: ExecDriver) -> ExecAdapter {
        ExecAdapter { driver }
    }
}

/// State errors are the client's (Conflict, NotFound); start failures of
/// the user's command are 400 like dockerd's (the docker CLI reads their
/// message to pick 126/127); the rest is internal.
fn job_error(err: ExecError) -> JobError {
    let kind = match &err {
        ExecError::InvalidId(_) | ExecError::Spec { .. } => ErrorKind::InvalidParameter,
        ExecError::AlreadyRunning(_) | ExecError::NotRunning(_) | ExecError::NeverStarted(_) => {
            ErrorKind::Conflict
        }
        ExecError::StartFailed { exit_code, .. } if *exit_code == 126 || *exit_code == 127 => {
            ErrorKind::InvalidParameter
        }
        ExecError::StartFailed { .. } | ExecError::Shim { .. } => ErrorKind::Internal,
        _ => return JobError::internal("exec driver failure", &err),
    };
    let error = JobError::with_cause(kind, &err);
    if kind == ErrorKind::Internal {
        tracing::warn!(error = %error.message, "exec driver failure");
    }
    error
}

/// The driver's attach halves as the engine's: the output is the driver's
/// own reader, pulled by the engine's session (no task in between).
fn attach_streams(attached: berth_exec::Attached) -> AttachStreams {
    let berth_exec::Attached { stdin, output } = attached;
    let output = futures_util::stream::unfold(output, |mut output| async move {
        match output.next().await? {
            Ok(AttachEvent::Output(chunk)) => {
                Some(((stream_type(chunk.stream), chunk.data), output))
            }
            Ok(AttachEvent::Exited(_)) => None,
            Err(e) => {
                tracing::debug!(error = %e, "attach stream ended");
                None
            }
        }
    });
    AttachStreams {
        stdin: stdin.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
        output: Box::pin(output),
    }
}

impl ExecService for ExecAdapter {
    fn files(&self, id: &str) -> ContainerFiles {
        self.driver.paths(id).files
    }

    fn validate(&self, container: &ContainerModel) -> Result<(), JobError> {
        self.driver
            .validate(container)
            .map_err(|e| JobError::invalid(e.to_string()))
    }

    fn start(&self, request: StartRequest) -> BoxFuture<Result<Started, JobError>> {
        let driver = self.driver.clone();
        Box::pin(async move {
            let ready = request.network_ready;
            let options = berth_exec::StartOptions {
                container: request.container,
                rootfs: request.rootfs,
                attach: request.attach,
                network: request.network,
            };
            let ready = async move {
                ready
                    .wait()
                    .await
                    .map_err(|e| berth_exec::ReadyError::from(Box::new(e)))
            };
            let started = driver
                .start_when_ready(&request.id, options, ready)
                .await
                .map_err(job_error)?;
            Ok(started.map_attach(attach_streams))
        })
    }

    fn wait(&self, id: &str) -> BoxFuture<Result<ExitRecord, JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.wait(&id).await.map_err(job_error) })
    }

    fn kill(&self, id: &str, signal: i32) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.kill(&id, signal).await.map_err(job_error) })
    }

    fn attach(
        &self,
        id: &str,
        options: AttachOptions,
    ) -> BoxFuture<Result<AttachStreams, JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move {
            driver
                .attach(&id, options)
                .await
                .map(attach_streams)
                .map_err(job_error)
        })
    }

    fn resize(&self, id: &str, height: u16, width: u16) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.resize(&id, height, width).await.map_err(job_error) })
    }

    fn processes(&self, id: &str) -> BoxFuture<Result<Vec<u32>, JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.processes(&id).await.map_err(job_error) })
    }

    fn stats(&self, id: &str) -> Result<Option<berth_model::stats::ResourceSample>, JobError> {
        self.driver.stats(id).map_err(job_error)
    }

    fn pause(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.pause(&id).await.map_err(job_error) })
    }

    fn resume(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.resume(&id).await.map_err(job_error) })
    }

    fn logs(
        &self,
        id: &str,
        options: LogOptions,
    ) -> BoxFuture<Result<mpsc::Receiver<LogRecord>, JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move {
            let mut stream = driver.logs(&id, options).map_err(job_error)?;
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(async move {
                while let Some(record) = stream.next().await {
                    let record = match record {
                        Ok(record) => record,
                        Err(e) => {
                            tracing::warn!(error = %e, "reading a container log failed");
                            return;
                        }
                    };
                    if tx.send(record).await.is_err() {
                        return;
                    }
                }
            });
            Ok(rx)
        })
    }

    fn remove(&self, id: &str) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.remove(&id).await.map_err(job_error) })
    }

    fn restore(&self, id: &str) -> BoxFuture<Result<RunState, JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move { driver.state(&id).await.map_err(job_error) })
    }

    fn exec(
        &self,
        id: &str,
        exec_id: &str,
        container: &ContainerModel,
        config: &berth_model::exec_process::ExecProcessConfig,
    ) -> BoxFuture<Result<berth_engine::driver::ExecLaunch, JobError>> {
        let driver = self.driver.clone();
        let (id, exec_id) = (id.to_owned(), exec_id.to_owned());
        let (container, config) = (container.clone(), config.clone());
        Box::pin(async move {
            let launch = driver
                .exec(&id, &exec_id, &container, &config)
                .await
                .map_err(job_error)?;
            Ok(crate::drivers::exec_launch::launch(launch))
        })
    }

    fn resize_exec(
        &self,
        id: &str,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> BoxFuture<Result<(), JobError>> {
        let (driver, id, exec_id) = (self.driver.clone(), id.to_owned(), exec_id.to_owned());
        Box::pin(async move {
            driver
                .resize_exec(&id, &exec_id, height, width)
                .await
                .map_err(job_error)
        })
    }

    fn kill_exec(&self, id: &str, exec_id: &str, signal: i32) -> BoxFuture<Result<bool, JobError>> {
        let (driver, id, exec_id) = (self.driver.clone(), id.to_owned(), exec_id.to_owned());
        Box::pin(async move {
            driver
                .kill_exec(&id, &exec_id, signal)
                .await
                .map_err(job_error)
        })
    }

    fn update(
        &self,
        id: &str,
        container: ContainerModel,
        previous: ContainerModel,
    ) -> BoxFuture<Result<(), JobError>> {
        let (driver, id) = (self.driver.clone(), id.to_owned());
        Box::pin(async move {
            driver
                .update(&id, &container, &previous)
                .await
                .map_err(job_error)
        })
    }

    fn update_resolver(
        &self,
        id: &str,
        dns: &berth_model::dns::DnsConfig,
        before: &berth_model::dns::Resolver,
        after: &berth_model::dns::Resolver,
    ) -> Result<bool, JobError> {
        self.driver
            .update_resolver(id, dns, before, after)
            .map(|done| done == berth_exec::ResolverUpdate::Rewritten)
            .map_err(job_error)
    }
}
