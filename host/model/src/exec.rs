//! What crosses the seam between the engine and the exec driver: how a
//! container's process ended, what a client attaches to, and where the
//! driver keeps a container's files.
//!
//! The shim writes the [`ExitRecord`] (`exit.json`), the exec driver reads
//! it and the engine records it in the container's state: one type from
//! the file to the API's `State`, so no side copies it field by field.
//! Log records and the state the driver finds a container in after a
//! daemon restart cross the same way.

use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// How a container's init process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit status with Docker's convention: the process's exit code, or
    /// 128 + N when signal N killed it.
    pub exit_code: i32,
    /// The signal that killed init, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer killed a process of the container
    /// (the cgroup's OOM-kill count rose while it ran).
    pub oom_killed: bool,
    /// When the user process was started, if it ever was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When the shim saw init exit (or gave up on it).
    pub finished_at: Timestamp,
    /// Why the container did not run to completion normally (start failure,
    /// lost shim), for the API's `State.Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExitRecord {
    /// The record of a process that exited with `code`.
    pub fn exited(code: i32, started_at: Option<Timestamp>, finished_at: Timestamp) -> ExitRecord {
        ExitRecord {
            exit_code: code,
            signal: None,
            oom_killed: false,
            started_at,
            finished_at,
            error: None,
        }
    }

    /// The record of a process killed by `signal`: exit code 128 + signal,
    /// as a shell and Docker report it.
    pub fn signaled(
        signal: i32,
        started_at: Option<Timestamp>,
        finished_at: Timestamp,
    ) -> ExitRecord {
        ExitRecord {
            exit_code: 128 + signal,
            signal: Some(signal),
            oom_killed: false,
            started_at,
            finished_at,
            error: None,
        }
    }

    /// The record of a container that never ran or whose end was not
    /// observed, with the reason.
    pub fn failed(exit_code: i32, error: impl Into<String>, finished_at: Timestamp) -> ExitRecord {
        ExitRecord {
            exit_code,
            signal: None,
            oom_killed: false,
            started_at: None,
            finished_at,
            error: Some(error.into()),
        }
    }
}

/// A container stream. The numbers are those of Docker's multiplexed stream
/// header (Docker Engine API, "Attach to a container": `STREAM_TYPE` 0 stdin,
/// 1 stdout, 2 stderr), so the HTTP edge can use them as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum StreamKind {
    /// Standard input.
    Stdin = 0,
    /// Standard output (also everything a TTY prints).
    Stdout = 1,
    /// Standard error.
    Stderr = 2,
}

impl StreamKind {
    /// The name used in json-file logs (`"stdout"`, `"stderr"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdin => "stdin",
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }

    /// Parses a json-file `stream` value.
    pub fn parse(s: &str) -> Option<StreamKind> {
        match s {
            "stdin" => Some(StreamKind::Stdin),
            "stdout" => Some(StreamKind::Stdout),
            "stderr" => Some(StreamKind::Stderr),
            _ => None,
        }
    }
}

/// One record of a container's log, as the exec driver reads it from the
/// json-file log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Which stream it came from.
    pub stream: StreamKind,
    /// When the shim read it.
    pub time: Timestamp,
    /// The bytes (with their newline unless the record is a partial line),
    /// prefixed with the time when [`LogOptions::timestamps`] was asked for.
    pub data: Bytes,
}

/// A started container: init's pid, when its process started, and one
/// attachment per client attached before start, in the order asked for.
/// `A` is the attachment as each side holds it (the exec driver's shim
/// connections, the engine's streams), so the type is the same on both
/// sides of the seam without the engine depending on the driver.
#[derive(Debug)]
pub struct Started<A> {
    /// Host pid of the container's init.
    pub pid: i32,
    /// When its process was started (the shim's clock).
    pub started_at: Timestamp,
    /// The attachments, in the order they were asked for.
    pub attach: Vec<A>,
}

impl<A> Started<A> {
    /// The same start with each attachment converted by `f`.
    pub fn map_attach<B>(self, f: impl FnMut(A) -> B) -> Started<B> {
        Started {
            pid: self.pid,
            started_at: self.started_at,
            attach: self.attach.into_iter().map(f).collect(),
        }
    }
}

/// What the exec driver knows about a container (after a daemon restart,
/// what became of one that was running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Its shim runs and its init waits to be started (a start was
    /// interrupted, e.g. by a daemon crash).
    Created {
        /// Host pid of init.
        pid: i32,
    },
    /// Its process runs.
    Running {
        /// Host pid of init.
        pid: i32,
        /// Start time.
        started_at: Timestamp,
    },
    /// Its process runs, frozen.
    Paused {
        /// Host pid of init.
        pid: i32,
        /// Start time.
        started_at: Timestamp,
    },
    /// It exited. When the shim vanished without a record, the driver
    /// records (and returns) exit code [`LOST_EXIT_CODE`] with an error.
    Exited(ExitRecord),
    /// Never started by this driver, or removed since.
    NeverStarted,
}

/// Exit code recorded for a container whose shim vanished without an exit
/// record (its end was not observed).
pub const LOST_EXIT_CODE: i32 = 255;

/// What a client attaches to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Forward input to the container's stdin (ignored unless the
    /// container was created with `OpenStdin`).
    pub stdin: bool,
    /// Receive stdout (everything, with a TTY).
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
}

/// Which records to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Include stdout records.
    pub stdout: bool,
    /// Include stderr records.
    pub stderr: bool,
    /// Keep streaming new records until the container exits.
    pub follow: bool,
    /// Only the last N records of the file (`None`: all).
    pub tail: Option<usize>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Only records at or before this time.
    pub until: Option<Timestamp>,
    /// Prefix each record's data with its time (moby's `RFC3339NanoFixed`
    /// and a space). berthd's engine prefixes the records itself and
    /// leaves this unset.
    pub timestamps: bool,
}

/// Where the exec driver keeps a container's files, as inspect reports
/// them (`LogPath`, `HostnamePath`, `HostsPath`, `ResolvConfPath`); the
/// last three are bind-mounted over the image's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFiles {
    /// The json-file log.
    pub log: PathBuf,
    /// Mounted at `/etc/hostname`.
    pub hostname: PathBuf,
    /// Mounted at `/etc/hosts`.
    pub hosts: PathBuf,
    /// Mounted at `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_record_reads_what_older_shims_wrote() {
        // exit.json of a shim that predates the optional fields.
        let json = r#"{"exit_code":3,"oom_killed":false,"finished_at":"2024-05-01T12:00:00Z"}"#;
        let record: ExitRecord = serde_json::from_str(json).expect("parse");
        assert_eq!(
            record,
            ExitRecord::exited(3, None, Timestamp::from_unix(1_714_564_800, 0))
        );
    }
}
