//! [`ExecDriver::exec`]: `docker exec` through the container's shim.
//!
//! The driver builds the exec's OCI process from the container's bundle
//! (what the container runs with: capabilities, `noNewPrivileges`,
//! rlimits) and the exec's configuration, with the user resolved in the
//! container's root ([`spec::exec_process`]); the shim runs it in the
//! container (namespaces, cgroup, seccomp) and streams it over the
//! connection that asked, as an attach, ending with the exec's own exit
//! record.

use std::io;
use std::sync::Arc;

use berth_model::Timestamp;
use berth_model::container::ContainerModel;
use berth_model::exec::{AttachOptions, ExitRecord};
use berth_model::exec_process::ExecProcessConfig;
use berth_shim::protocol::{Reply, Request, ShimFailure};
use oci_spec::runtime::Spec;

use super::{ExecDriver, STARTUP_TIMEOUT, validate_id};
use crate::attach::{self, Attached};
use crate::client::REQUEST_TIMEOUT;
use crate::error::ExecError;
use crate::spec;

/// What became of an exec's start.
#[derive(Debug)]
pub enum ExecLaunch {
    /// The process runs: its host pid and its streams (the output ends
    /// with its exit record).
    Running {
        /// Host pid of the exec process.
        pid: i32,
        /// Its stdin (when attached) and output.
        attached: Attached,
    },
    /// The command could not be started (not found, not executable, bad
    /// working directory): the record carries Docker's exit code for it
    /// (127, 126 or 128) and the runtime's message as `error`.
    Failed(ExitRecord),
}

impl ExecDriver {
    /// Runs `config` in running container `id` (`container` is its model,
    /// for its environment and user). The exec is named `exec_id` in the
    /// shim (for [`ExecDriver::resize_exec`]).
    pub async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        container: &ContainerModel,
        config: &ExecProcessConfig,
    ) -> Result<ExecLaunch, ExecError> {
        validate_id(id)?;
        let socket = self.socket(id)?;
        let process = match self.exec_process_bounded(id, container, config).await {
            Ok(process) => process,
            // The user or the working directory does not resolve: moby
            // fails the exec's start the same way, as a start failure.
            Err(ExecError::Spec { source, .. }) => {
                return Ok(ExecLaunch::Failed(ExitRecord::failed(
                    126,
                    source.to_string(),
                    Timestamp::now(),
                )));
            }
            Err(e) => return Err(e),
        };
        let request = Request::Exec {
            exec_id: exec_id.to_owned(),
            process: Box::new(process),
            stdin: config.attach.stdin,
            stdout: config.attach.stdout,
            stderr: config.attach.stderr,
        };
        match socket.call(&request, Some(REQUEST_TIMEOUT)).await? {
            Some((stream, Reply::ExecStarted { pid })) => {
                let (read, write) = stream.into_split();
                let options = AttachOptions {
                    stdin: config.attach.stdin,
                    ..config.attach
                };
                let attached = attach::split(id, read, write, options, config.attach.stdin);
                Ok(ExecLaunch::Running { pid, attached })
            }
            Some((_, Reply::NotRunning)) | None => Err(ExecError::NotRunning(id.to_owned())),
            Some((
                _,
                Reply::Error(ShimFailure {
                    message,
                    exit_code: Some(exit_code),
                }),
            )) => Ok(ExecLaunch::Failed(ExitRecord::failed(
                exit_code,
                message,
                Timestamp::now(),
            ))),
            Some((_, Reply::Error(failure))) => Err(ExecError::from_failure(id, failure)),
            Some((_, other)) => Err(socket.unexpected(&other)),
        }
    }

    /// Sets the terminal size of exec `exec_id` in container `id`.
    pub async fn resize_exec(
        &self,
        id: &str,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ExecError> {
        let request = Request::ResizeExec {
            exec_id: exec_id.to_owned(),
            height,
            width,
        };
        self.simple(id, &request).await
    }

    /// Sends `signal` to exec `exec_id` in container `id`; `false` when it
    /// does not run (it ended, or never started), or no shim is there.
    pub async fn kill_exec(&self, id: &str, exec_id: &str, signal: i32) -> Result<bool, ExecError> {
        let request = Request::KillExec {
            exec_id: exec_id.to_owned(),
            signal,
        };
        self.socket(id)?.call_ok(&request).await
    }

    /// [`spec::exec_process`] over the container's bundle, on the blocking
    /// pool (it reads the bundle and the container's passwd and group
    /// files) within the preparations' bound.
    async fn exec_process_bounded(
        &self,
        id: &str,
        container: &ContainerModel,
        config: &ExecProcessConfig,
    ) -> Result<spec::ExecProcessSpec, ExecError> {
        let bundle = self.shim_dir(id).join("config.json");
        let available = self.inner.config.spec.available_caps;
        let (owned_id, container, config) = (id.to_owned(), container.clone(), config.clone());
        let permits = Arc::clone(&self.inner.prepare_permits);
        let on_error = bundle.clone();
        let build = async move {
            let permit = permits.acquire_owned().await.map_err(io::Error::other)?;
            tokio::task::spawn_blocking(move || {
                let result = build_process(&owned_id, &bundle, &container, &config, available);
                drop(permit);
                result
            })
            .await
            .map_err(io::Error::other)
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, build).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(ExecError::io("prepare exec from", on_error, e)),
            Err(_) => Err(ExecError::PrepareTimeout {
                id: id.to_owned(),
                seconds: STARTUP_TIMEOUT.as_secs(),
            }),
        }
    }
}

/// Reads the container's spec from its bundle and builds the exec's
/// process over its process. Blocking.
fn build_process(
    id: &str,
    bundle: &std::path::Path,
    container: &ContainerModel,
    config: &ExecProcessConfig,
    available: spec::CapabilitySet,
) -> Result<spec::ExecProcessSpec, ExecError> {
    let bytes = std::fs::read(bundle).map_err(|e| ExecError::io("read", bundle, e))?;
    let bundle_spec: Spec = serde_json::from_slice(&bytes)
        .map_err(|e| ExecError::io("parse", bundle, io::Error::other(e)))?;
    let base = bundle_spec.process().clone().unwrap_or_default();
    let rootfs = bundle_spec
        .root()
        .as_ref()
        .map(|root| root.path().clone())
        .ok_or_else(|| ExecError::io("find the root of", bundle, io::ErrorKind::NotFound.into()))?;
    spec::exec_process(&base, container, config, &rootfs, available).map_err(|source| {
        ExecError::Spec {
            id: id.to_owned(),
            source,
        }
    })
}
