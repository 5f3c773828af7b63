//! The exec driver's error type.

use std::path::PathBuf;

use berth_shim::exit::ExitRecordError;
use berth_shim::protocol::{ProtocolError, ShimFailure};

use crate::spec::SpecError;

/// What can go wrong in the exec driver. Variants say what was done to
/// which container or path; the engine maps them to API errors
/// (`NotFound`/`Conflict` for the state errors, `InvalidParameter` for
/// [`ExecError::Spec`] and [`ExecError::InvalidId`]).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// What the container's process waited for between its creation and
    /// its start failed ([`crate::ExecDriver::start_when_ready`]).
    #[error("container {id} was not started: its setup failed: {source}")]
    NotReady {
        /// Container id.
        id: String,
        /// The failure.
        #[source]
        source: ReadyError,
    },
    /// The id cannot name a container (empty, too long, or characters that
    /// do not belong in a path).
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// The configuration cannot become a runtime spec.
    #[error("invalid configuration of container {id}: {source}")]
    Spec {
        /// Container id.
        id: String,
        /// Why.
        #[source]
        source: SpecError,
    },
    /// A shim already monitors this container.
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    /// No shim monitors this container (it exited, or never started).
    #[error("container {0} is not running")]
    NotRunning(String),
    /// The container was never started by this driver (or was removed): no
    /// shim, no exit record.
    #[error("container {0} was never started")]
    NeverStarted(String),
    /// The container's process could not be started. `exit_code` is what
    /// Docker records for such a container (127: command not found, 126:
    /// not executable, 128: other); `message` is the runtime's text, which
    /// the docker CLI inspects to choose its own exit status.
    #[error("failed to start container {id}: {message}")]
    StartFailed {
        /// Container id.
        id: String,
        /// The runtime's message.
        message: String,
        /// Docker's exit code for this failure.
        exit_code: i32,
    },
    /// The shim refused or failed a request.
    #[error("container {id}: {message}")]
    Shim {
        /// Container id.
        id: String,
        /// The shim's message.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done (`create directory`, `write`, ...).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The shim binary could not be started.
    #[error("failed to run shim {path} for container {id}: {source}")]
    SpawnShim {
        /// Container id.
        id: String,
        /// The shim binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The shim ended without a usable startup report.
    #[error("berth-shim for container {id} failed during startup: {message}")]
    ShimStartup {
        /// Container id.
        id: String,
        /// What happened (exit status, its output, a malformed report).
        message: String,
    },
    /// Talking to the shim's control socket failed.
    #[error("control socket of container {id} ({path}): {source}")]
    Protocol {
        /// Container id.
        id: String,
        /// The socket.
        path: PathBuf,
        /// What failed.
        #[source]
        source: ProtocolError,
    },
    /// Preparing a container's bundle (files, user lookup in the image,
    /// runtime spec) did not finish in time: something in the image's
    /// files blocks, or too many preparations hang already.
    #[error("preparing container {id} did not finish within {seconds} s")]
    PrepareTimeout {
        /// Container id.
        id: String,
        /// The deadline.
        seconds: u64,
    },
    /// A shim did not answer in time.
    #[error("berth-shim of container {id} did not answer {what} within {seconds} s")]
    Timeout {
        /// Container id.
        id: String,
        /// The request.
        what: &'static str,
        /// The deadline.
        seconds: u64,
    },
    /// The exit record could not be read or written.
    #[error(transparent)]
    ExitRecord(#[from] ExitRecordError),
    /// The daemon's cgroup parent is not a usable cgroup path, or the
    /// cgroup filesystems cannot be resolved for it.
    #[error("cgroup parent {parent:?}: {source}")]
    CgroupParent {
        /// The configured parent.
        parent: String,
        /// What is wrong.
        #[source]
        source: berth_cgroups::CgroupError,
    },
    /// A path is too long for a unix socket address (108 bytes).
    #[error("socket path {0} is too long for a unix socket; use a shorter exec root")]
    SocketPathTooLong(PathBuf),
}

impl ExecError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> ExecError {
        ExecError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn from_failure(id: &str, failure: ShimFailure) -> ExecError {
        match failure.exit_code {
            Some(exit_code) => ExecError::StartFailed {
                id: id.to_owned(),
                message: failure.message,
                exit_code,
            },
            None => ExecError::Shim {
                id: id.to_owned(),
                message: failure.message,
            },
        }
    }
}

/// Why what a start waited for failed ([`ExecError::NotReady`]).
pub type ReadyError = Box<dyn std::error::Error + Send + Sync>;
