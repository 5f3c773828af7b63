//! The container's persisted state: `<state root>/<id>/state.json`.
//!
//! Written atomically (temp file, fsync, rename, directory fsync) so that a concurrent
//! `state` never reads half a file and a crash never leaves one.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// File name of the state record in the container's directory
/// (`<state_root>/<id>/state.json`, as runc names it). It is replaced
/// (written aside and renamed) whenever the record changes, so a caller
/// that keeps something derived from it can tell by the file's identity
/// when to read it again.
pub const STATE_FILE: &str = "state.json";
/// File name of the exec FIFO in the container's directory.
pub(crate) const EXEC_FIFO: &str = "exec.fifo";

/// Runtime status of a container (OCI runtime spec "State", plus runc's
/// `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created (not observable after `create` returned).
    Creating,
    /// Init is waiting on the exec FIFO.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Init has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state` reports: the OCI state plus the fields runc adds
/// (`rootfs`, `created`, `owner`) that containerd's runc client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// OCI runtime spec version of the bundle.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init's pid (0 once stopped, as runc prints it).
    pub pid: i32,
    /// Current status.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// Owner (always empty, as runc as root).
    pub owner: String,
    /// The spec's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What is persisted about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (proc(5), stat field
    /// 22): tells our init from a recycled pid.
    pub pid_start_time: u64,
    pub created: String,
    /// The cgroups path as given (or defaulted).
    pub cgroups_path: String,
    /// `/proc/self/cgroup` of the creating runtime, for relative paths.
    pub creator_cgroups: String,
    /// The full spec (exec and delete need it; the bundle may be gone).
    pub config: Spec,
}

impl Record {
    /// Loads `<dir>/state.json`.
    pub fn load(dir: &Path) -> Result<Record, Error> {
        let path = dir.join(STATE_FILE);
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io("read container state", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::CorruptState { path, source: e })
    }

    /// The reportable state for `status`.
    pub fn to_state(&self, status: Status) -> State {
        State {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: String::new(),
            annotations: self.config.annotations().clone().unwrap_or_default(),
        }
    }

    /// Writes `<dir>/state.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec(self).map_err(|e| Error::CorruptState {
            path: dir.join(STATE_FILE),
            source: e,
        })?;
        write_atomic(&dir.join(STATE_FILE), &bytes)
    }
}

/// Writes `bytes` to `path` with the workspace's durable atomic write
/// (temp file, fsync, rename, fsync of the directory). Mode 0666 less the
/// umask, as `File::create` gave before the helper moved to berth-fsutil.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    berth_fsutil::write_atomic(path, bytes, 0o666).map_err(|e| Error::io(e.op, path, e.source))
}

/// Writes a `--pid-file` as runc does (the pid in decimal, no newline),
/// atomically, so that a caller polling for it never reads half of it.
pub fn write_pid_file(path: &Path, pid: nix::unistd::Pid) -> Result<(), Error> {
    write_atomic(path, pid.as_raw().to_string().as_bytes())
}

/// Start time (field 22) and state (field 3) of a process from
/// `/proc/<pid>/stat`; `None` if there is no such process.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    // The command name (field 2) may contain spaces and parentheses: the
    // fields after it start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// RFC 3339 UTC time with nanoseconds, as runc writes `created`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line =
            "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100 0";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_found() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
    }

    #[test]
    fn state_serialises_like_runc() {
        let s = State {
            oci_version: "1.0.2".into(),
            id: "c1".into(),
            pid: 42,
            status: Status::Running,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2024-01-01T00:00:00.000000000Z".into(),
            owner: String::new(),
            annotations: HashMap::new(),
        };
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ociVersion"], "1.0.2");
        assert_eq!(v["status"], "running");
        assert_eq!(v["pid"], 42);
        assert!(v.get("annotations").is_none());
    }
}
