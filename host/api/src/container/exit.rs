//! How a container's end reaches the client: `POST /containers/{id}/wait`
//! and the exit status of a start failure.

use serde::{Deserialize, Serialize};

/// `POST /containers/{id}/wait` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitResponse {
    /// The exit code.
    pub status_code: i64,
    /// Set when waiting failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

/// The error of a [`WaitResponse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    /// What went wrong.
    pub message: String,
}

/// The `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    /// Return when the container is not running (immediately if it is not).
    #[default]
    NotRunning,
    /// Return at the next exit, even if it is not running now.
    NextExit,
    /// Return when the container has been removed.
    Removed,
}

impl WaitCondition {
    /// Parses the query value; empty means `not-running`.
    pub fn parse(s: &str) -> Option<WaitCondition> {
        match s {
            "" | "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

/// The exit status Docker derives from the message of a failed start:
/// 127 when the executable is missing, 126 when it cannot be executed,
/// `None` otherwise. dockerd records it as the container's exit code (128
/// for the rest, moby `daemon/start.go`); the docker CLI exits with it
/// (125 for the rest, `runStartContainerErr`).
pub fn start_failure_code(message: &str) -> Option<i32> {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        Some(127)
    } else if message.contains("permission denied") || message.contains("is a directory") {
        Some(126)
    } else {
        None
    }
}
