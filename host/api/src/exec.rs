//! `docker exec` wire types: `POST /containers/{id}/exec`,
//! `POST /exec/{id}/start`, `GET /exec/{id}/json` (moby
//! `api/types/container/exec.go`, `api/types/backend`).
//!
//! The request bodies refuse fields they do not know: an exec option
//! berthd does not handle is an error, never silently dropped.

use serde::{Deserialize, Serialize};

/// `POST /containers/{id}/exec` body (moby `container.ExecOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct ExecCreateRequest {
    /// `user`, `uid`, `user:group` or `uid:gid`; empty for the container's.
    pub user: String,
    /// Every capability for the process.
    pub privileged: bool,
    /// Run it on a pseudo-terminal.
    pub tty: bool,
    /// Initial terminal size `[height, width]`.
    pub console_size: Option<Vec<u64>>,
    /// Attach the client's input to the process's stdin.
    pub attach_stdin: bool,
    /// Attach the process's stderr.
    pub attach_stderr: bool,
    /// Attach the process's stdout.
    pub attach_stdout: bool,
    /// Legacy field the docker CLI still sends; the start's `Detach` decides.
    pub detach: bool,
    /// The key sequence that detaches a TTY client (`ctrl-p,ctrl-q`).
    pub detach_keys: String,
    /// `NAME=value` entries over the container's environment.
    pub env: Option<Vec<String>>,
    /// Absolute working directory; empty for the container's.
    pub working_dir: String,
    /// The command and its arguments.
    pub cmd: Option<Vec<String>>,
    /// Legacy field docker-py still sends (moby's old `ExecConfig.Container`):
    /// the container the path names; another one is refused.
    pub container: String,
}

/// `POST /containers/{id}/exec` answer (moby `IDResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCreateResponse {
    /// The new exec's id.
    #[serde(rename = "Id")]
    pub id: String,
}

/// `POST /exec/{id}/start` body (moby `container.ExecStartOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
pub struct ExecStartRequest {
    /// Start it and answer at once, without streams.
    pub detach: bool,
    /// The stream is raw (a TTY) rather than multiplexed.
    pub tty: bool,
    /// Terminal size `[height, width]`, over the create's.
    pub console_size: Option<Vec<u64>>,
}

/// `ProcessConfig` of an exec's inspect (moby `backend.ExecProcessConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecProcessConfig {
    /// Whether it has a TTY.
    pub tty: bool,
    /// The command.
    pub entrypoint: String,
    /// Its arguments.
    pub arguments: Vec<String>,
    /// `--privileged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// The user it runs as, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `GET /exec/{id}/json` answer (moby `backend.ExecInspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    /// The exec's id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Whether its process runs.
    pub running: bool,
    /// Its exit code once it has exited, else `null`.
    pub exit_code: Option<i32>,
    /// What it runs.
    pub process_config: ExecProcessConfig,
    /// Whether stdin is attached.
    pub open_stdin: bool,
    /// Whether stderr is attached.
    pub open_stderr: bool,
    /// Whether stdout is attached.
    pub open_stdout: bool,
    /// Whether the daemon may forget it.
    pub can_remove: bool,
    /// The container it runs in.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// The detach key sequence, as bytes (Go's `[]byte`: base64 in JSON).
    pub detach_keys: String,
    /// Host pid of its process (0 before it starts).
    pub pid: i32,
}
