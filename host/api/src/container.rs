//! Container bodies: create, list, inspect, wait.
//!
//! - [`fields`]: which fields of a create request berth honours.
//! - [`security`]: `HostConfig.SecurityOpt`, parsed.

pub mod fields;
pub mod security;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// A container's configuration as the client gives it (Docker API:
/// `ContainerConfig`). Also the default configuration of an image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    /// Host name inside the container's UTS namespace.
    pub hostname: String,
    /// Domain name inside the container's UTS namespace.
    pub domainname: String,
    /// `user`, `uid`, `user:group` or `uid:gid`.
    pub user: String,
    /// Whether the client attaches stdin.
    pub attach_stdin: bool,
    /// Whether the client attaches stdout.
    pub attach_stdout: bool,
    /// Whether the client attaches stderr.
    pub attach_stderr: bool,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Close stdin after the first attached client detaches.
    pub stdin_once: bool,
    /// `KEY=value` environment entries.
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// Command; a string or an array on the wire.
    #[serde(
        deserialize_with = "str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub cmd: Option<Vec<String>>,
    /// Image name the container was created from.
    pub image: String,
    /// Working directory.
    pub working_dir: String,
    /// Entrypoint; a string or an array on the wire. An empty array resets
    /// the image's entrypoint.
    #[serde(
        deserialize_with = "str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// Labels.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Signal that stops the container (`SIGTERM` by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing on stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Ports the image exposes (`{"80/tcp": {}}`), kept for inspect.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// Volume paths, kept for inspect. In a create request they ask for
    /// anonymous volumes, which berth refuses ([`fields::CONFIG`]).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// Fields berth has no typed member for, as sent: checked against
    /// [`fields::CONFIG`] at create and dropped after.
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// Size of `/dev/shm` when `HostConfig.ShmSize` is 0: dockerd's default
/// `--default-shm-size`, 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Host-dependent configuration (Docker API: `HostConfig`), the subset
/// berth honours ([`fields::HOST_CONFIG`]). `Resources` fields are inlined
/// as on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Memory limit in bytes; 0 means unlimited.
    pub memory: i64,
    /// Memory + swap limit in bytes; -1 unlimited, 0 unset.
    pub memory_swap: i64,
    /// Soft memory limit in bytes.
    pub memory_reservation: i64,
    /// CPU quota in units of 10⁻⁹ CPUs.
    pub nano_cpus: i64,
    /// Relative CPU weight.
    pub cpu_shares: i64,
    /// CFS period in microseconds.
    pub cpu_period: i64,
    /// CFS quota in microseconds.
    pub cpu_quota: i64,
    /// Maximum number of pids; `None`, 0 or -1 mean unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// CPUs the container may run on, cpuset(7) list format (`0-2,4`).
    pub cpuset_cpus: String,
    /// Memory nodes the container may use, list format.
    pub cpuset_mems: String,
    /// Size of `/dev/shm` in bytes; 0 means [`DEFAULT_SHM_SIZE`].
    pub shm_size: i64,
    /// OOM score adjustment of the container's processes (-1000..=1000).
    pub oom_score_adj: i64,
    /// Resource limits (`setrlimit`) of the container's processes.
    #[serde(deserialize_with = "null_as_default")]
    pub ulimits: Vec<Ulimit>,
    /// tmpfs mounts: container path → mount options (`size=64m,mode=1777`).
    #[serde(deserialize_with = "null_as_default")]
    pub tmpfs: BTreeMap<String, String>,
    /// Remove the container when it exits.
    pub auto_remove: bool,
    /// Network mode (`default`, `none`, `host`, `bridge`).
    pub network_mode: String,
    /// Restart policy (recorded; restart is the exec driver's business).
    pub restart_policy: RestartPolicy,
    /// Cgroup namespace: `private` (its own), `host` (the host's), or empty
    /// for the daemon's default, which create fills in.
    pub cgroupns_mode: String,
    /// Run privileged.
    pub privileged: bool,
    /// Mount the root filesystem read-only.
    pub readonly_rootfs: bool,
    /// Capabilities to add.
    #[serde(deserialize_with = "null_as_default")]
    pub cap_add: Vec<String>,
    /// Capabilities to drop.
    #[serde(deserialize_with = "null_as_default")]
    pub cap_drop: Vec<String>,
    /// Terminal size `[height, width]` at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    /// Logging configuration.
    pub log_config: LogConfig,
    /// Bind mounts `host-path:container-path[:options]`; a missing host
    /// directory is created, as Docker's `-v` does.
    #[serde(deserialize_with = "null_as_default")]
    pub binds: Vec<String>,
    /// Security options ([`security::SecurityOptions::parse`]).
    #[serde(deserialize_with = "null_as_default")]
    pub security_opt: Vec<String>,
    /// Block I/O weight (10..=1000; 0: the kernel's default).
    pub blkio_weight: u16,
    /// Paths masked in the container, replacing Docker's list (`None`:
    /// Docker's; `--security-opt systempaths=unconfined` sends `[]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_paths: Option<Vec<String>>,
    /// Paths mounted read-only in the container, replacing Docker's list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly_paths: Option<Vec<String>>,
    /// Where the client wrote the container's id (`--cidfile`); recorded
    /// only, as dockerd does.
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    /// Fields berth has no typed member for, as sent: checked against
    /// [`fields::HOST_CONFIG`] at create and dropped after.
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// One `HostConfig.Binds` entry, parsed: `host-path:container-path[:opts]`
/// where `opts` is a comma-separated list of `ro`/`rw`, a propagation mode,
/// and SELinux (`z`/`Z`) or `nocopy` flags, which are accepted and ignored
/// (moby's `volume/mounts` linux parser, bind form only). Named volumes are
/// not supported: the host path must be absolute.
///
/// One parser for the daemon, which refuses a bad entry at create, and the
/// exec driver, which turns the entry into a mount at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute host path.
    pub source: String,
    /// Absolute path in the container, not `/`, without `..`.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Mount propagation (`rprivate` by default).
    pub propagation: &'static str,
}

/// A `Binds` entry that [`Bind::parse`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bind mount {bind:?}: {reason}")]
pub struct BindError {
    /// The entry.
    pub bind: String,
    /// Why it is refused.
    pub reason: String,
}

impl Bind {
    /// Parses one `Binds` entry.
    pub fn parse(entry: &str) -> Result<Bind, BindError> {
        let fail = |reason: &str| BindError {
            bind: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = entry.split(':').collect();
        let (source, destination, opts) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, o] => (*s, *d, *o),
            _ => return Err(fail("expected host-path:container-path[:options]")),
        };
        if !source.starts_with('/') {
            return Err(fail(
                "the host path must be absolute (named volumes are not supported)",
            ));
        }
        if !destination.starts_with('/') || destination == "/" {
            return Err(fail("the container path must be absolute and not /"));
        }
        if destination.split('/').any(|component| component == "..") {
            return Err(fail("the container path must not contain .."));
        }
        let mut bind = Bind {
            source: source.to_owned(),
            destination: destination.to_owned(),
            read_only: false,
            propagation: "rprivate",
        };
        let (mut mode_seen, mut propagation_seen) = (false, false);
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" | "rw" if !mode_seen => {
                    bind.read_only = opt == "ro";
                    mode_seen = true;
                }
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                    if !propagation_seen =>
                {
                    bind.propagation = match opt {
                        "private" => "private",
                        "shared" => "shared",
                        "rshared" => "rshared",
                        "slave" => "slave",
                        "rslave" => "rslave",
                        _ => "rprivate",
                    };
                    propagation_seen = true;
                }
                "z" | "Z" | "nocopy" => {}
                _ => return Err(fail(&format!("invalid or repeated option {opt:?}"))),
            }
        }
        Ok(bind)
    }
}

/// One entry of `HostConfig.Ulimits`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Docker's name of the limit (`nofile`, `nproc`, ...: `RLIMIT_` and the
    /// name in capitals).
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// `""`, `no`, `always`, `unless-stopped`, `on-failure`.
    pub name: String,
    /// Retries for `on-failure`.
    pub maximum_retry_count: i64,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name (`json-file`).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options.
    #[serde(deserialize_with = "null_as_default")]
    pub config: BTreeMap<String, String>,
}

/// The log driver a container gets when `LogConfig.Type` is empty
/// (dockerd's `--log-driver` default).
pub const DEFAULT_LOG_DRIVER: &str = "json-file";

/// A [`LogConfig`], parsed: what the shim writes and `logs` can read.
///
/// One parser for the daemon, which refuses a bad configuration at create,
/// and the exec driver, which hands the result to the shim at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDriver {
    /// Docker's `json-file`: one JSON record per line.
    JsonFile {
        /// `max-size`: the file is rotated before a write once it holds
        /// this many bytes; `None` lets it grow.
        max_size: Option<u64>,
        /// `max-file`: how many files are kept, the current one included
        /// (at least 1; with 1, rotation truncates).
        max_files: u32,
    },
    /// `none`: the output is not logged; `logs` refuses.
    None,
}

impl LogConfig {
    /// Parses the driver and its options with moby's rules and messages
    /// (`daemon/logger/jsonfilelog`). An empty type is
    /// [`DEFAULT_LOG_DRIVER`].
    pub fn driver(&self) -> Result<LogDriver, String> {
        match self.kind.as_str() {
            "" | DEFAULT_LOG_DRIVER => {}
            // moby validates no options for `none`.
            "none" => return Ok(LogDriver::None),
            other => {
                return Err(format!(
                    "logger: no log driver named '{other}' is registered"
                ));
            }
        }
        let mut max_size = None;
        let mut max_files = 1;
        for (key, value) in &self.config {
            match key.as_str() {
                "max-size" => {
                    let bytes = crate::units::from_human_size(value).map_err(|e| e.to_string())?;
                    if bytes <= 0 {
                        return Err("max-size must be a positive number".to_owned());
                    }
                    max_size = Some(bytes as u64);
                }
                "max-file" => {
                    let files: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid max-file '{value}': not an integer"))?;
                    if files < 1 {
                        return Err("max-file cannot be less than 1".to_owned());
                    }
                    max_files = u32::try_from(files)
                        .map_err(|_| format!("invalid max-file '{value}': too large"))?;
                }
                // json-file ignores the tag (other drivers use it).
                "tag" => {}
                "compress" => match value.as_str() {
                    "false" | "0" => {}
                    "true" | "1" => {
                        return Err(
                            "log opt 'compress' of the json-file log driver is not supported by \
                             berth: rotated logs are kept uncompressed"
                                .to_owned(),
                        );
                    }
                    _ => {
                        return Err(format!(
                            "error parsing compress option: invalid value '{value}'"
                        ));
                    }
                },
                "labels" | "labels-regex" | "env" | "env-regex" => {
                    return Err(format!(
                        "log opt '{key}' of the json-file log driver is not supported by berth: \
                         records carry no attrs"
                    ));
                }
                _ => return Err(format!("unknown log opt '{key}' for json-file log driver")),
            }
        }
        Ok(LogDriver::JsonFile {
            max_size,
            max_files,
        })
    }
}

/// `POST /containers/create` body: the [`Config`] with `HostConfig` and
/// `NetworkingConfig` beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    /// The container configuration.
    #[serde(flatten)]
    pub config: Config,
    /// Host configuration.
    #[serde(deserialize_with = "null_as_default")]
    pub host_config: HostConfig,
    /// Network endpoints: berth has no network driver yet, so only the
    /// entry of the container's own network with zero values is accepted
    /// ([`fields::ENDPOINT_SETTINGS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<serde_json::Value>,
}

/// Network modes berth gives containers: a network namespace of their own
/// with only `lo`. The default (`default`, `bridge`) gets the same until the
/// network driver exists; other modes (`host`, `container:ID`, a named
/// network) are refused.
const NETWORK_MODES: [&str; 4] = ["", "default", "bridge", "none"];

/// Restart policies Docker has that berth does not run yet.
const RESTART_POLICIES: [&str; 3] = ["always", "unless-stopped", "on-failure"];

impl CreateRequest {
    /// Refuses a request that sets a field berth does not honour
    /// ([`fields`]), names a network mode berth has no driver for, or
    /// asks for a restart policy, naming the field and the option.
    pub fn check_fields(&self) -> Result<(), fields::FieldError> {
        use fields::{FieldError, Section, check_section};
        let unsupported = |field: &str, option: &'static str| FieldError::Unsupported {
            field: field.to_owned(),
            option: Some(option),
        };
        let members = |value: serde_json::Result<serde_json::Value>| match value {
            Ok(serde_json::Value::Object(members)) => members,
            _ => serde_json::Map::new(),
        };
        check_section(
            Section::Config,
            "Config",
            &members(serde_json::to_value(&self.config)),
        )?;
        check_section(
            Section::HostConfig,
            "HostConfig",
            &members(serde_json::to_value(&self.host_config)),
        )?;
        let mode = self.host_config.network_mode.as_str();
        if !NETWORK_MODES.contains(&mode) {
            return Err(FieldError::Unsupported {
                field: format!("HostConfig.NetworkMode (--network) {mode:?}"),
                option: None,
            });
        }
        if RESTART_POLICIES.contains(&self.host_config.restart_policy.name.as_str()) {
            return Err(unsupported("HostConfig.RestartPolicy", "--restart"));
        }
        let networking = match &self.networking_config {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(serde_json::Value::Object(members)) => members,
            Some(_) => {
                return Err(FieldError::Unknown {
                    field: "NetworkingConfig".to_owned(),
                });
            }
        };
        check_section(Section::NetworkingConfig, "NetworkingConfig", networking)?;
        let own_network = if mode.is_empty() { "default" } else { mode };
        let endpoints = match networking.get("EndpointsConfig") {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(serde_json::Value::Object(endpoints)) => endpoints,
            Some(_) => return Err(unsupported("NetworkingConfig.EndpointsConfig", "--network")),
        };
        for (network, settings) in endpoints {
            let path = format!("NetworkingConfig.EndpointsConfig.{network}");
            if network != own_network {
                return Err(FieldError::Unsupported {
                    field: path,
                    option: Some("--network"),
                });
            }
            match settings {
                serde_json::Value::Null => {}
                serde_json::Value::Object(members) => {
                    check_section(Section::EndpointSettings, &path, members)?;
                }
                _ => return Err(FieldError::Unknown { field: path }),
            }
        }
        Ok(())
    }
}

/// `POST /containers/create` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateResponse {
    /// The new container's id.
    pub id: String,
    /// Warnings about the configuration.
    pub warnings: Vec<String>,
}

/// A container's lifecycle state as the API names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started.
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Its process ended.
    Exited,
    /// Failed to be removed; only removal is possible.
    Dead,
}

impl Status {
    /// The lowercase API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Parses an API name (as used by the `status` filter).
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "removing" => Status::Removing,
            "exited" => Status::Exited,
            "dead" => Status::Dead,
            _ => return None,
        })
    }
}

/// `State` of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    /// Lifecycle state.
    pub status: Status,
    /// Whether the process runs (also true while paused).
    pub running: bool,
    /// Whether it is frozen.
    pub paused: bool,
    /// Whether it is being restarted.
    pub restarting: bool,
    /// Whether the kernel's OOM killer ended it.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Whether it is dead.
    pub dead: bool,
    /// Host pid of its init process, 0 when not running.
    pub pid: i64,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Why the last start failed.
    pub error: String,
    /// RFC 3339 time of the last start.
    pub started_at: String,
    /// RFC 3339 time of the last exit.
    pub finished_at: String,
}

/// `GET /containers/{id}/json` (Docker API: `ContainerInspectResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    /// 64 hex digits.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The executable.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Runtime state.
    pub state: State,
    /// Image id (`sha256:...`).
    pub image: String,
    /// Path of the container's resolv.conf (empty: not managed yet).
    pub resolv_conf_path: String,
    /// Path of the container's hostname file.
    pub hostname_path: String,
    /// Path of the container's hosts file.
    pub hosts_path: String,
    /// Path of the json-file log.
    pub log_path: String,
    /// `/name`.
    pub name: String,
    /// Number of restarts.
    pub restart_count: i64,
    /// Storage driver.
    pub driver: String,
    /// `linux`.
    pub platform: String,
    /// Ids of exec sessions.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// Host configuration.
    pub host_config: HostConfig,
    /// Mounts (none yet).
    pub mounts: Vec<serde_json::Value>,
    /// The container configuration.
    pub config: Config,
    /// Network settings (none yet).
    pub network_settings: NetworkSettings,
}

/// Network settings of a container (empty in this slice).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// Endpoints by network name.
    pub networks: BTreeMap<String, serde_json::Value>,
}

/// One entry of `GET /containers/json` (Docker API: `ContainerSummary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    /// 64 hex digits.
    pub id: String,
    /// `["/name"]`.
    pub names: Vec<String>,
    /// Image name as given at create.
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The command line, joined with spaces.
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Published ports.
    pub ports: Vec<serde_json::Value>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Lifecycle state name (`running`).
    pub state: String,
    /// Human status (`Up 3 seconds`, `Exited (0) 2 minutes ago`).
    pub status: String,
    /// `{"NetworkMode": ...}`.
    pub host_config: SummaryHostConfig,
    /// Network settings.
    pub network_settings: NetworkSettings,
    /// Mounts.
    pub mounts: Vec<serde_json::Value>,
}

/// `HostConfig` of [`ContainerSummary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    /// Network mode.
    pub network_mode: String,
}

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

/// Accepts `null` where a collection is expected (Go clients send `null` for
/// nil slices and maps).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `StrSlice` of the Docker API: a JSON string (one word) or an array.
fn str_slice<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrVec {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrOrVec>::deserialize(d)? {
        None => None,
        Some(StrOrVec::One(s)) => Some(vec![s]),
        Some(StrOrVec::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_reads_what_the_docker_cli_sends() {
        let body = r#"{"Hostname":"box","User":"1000","Env":null,"Cmd":["echo","hi"],
            "Image":"busybox","Entrypoint":null,"Labels":{"a":"b"},"OpenStdin":true,
            "HostConfig":{"Memory":6291456,"PidsLimit":null,"AutoRemove":true,"Binds":null,
            "Unknown":1},"NetworkingConfig":{"EndpointsConfig":{}},"Whatever":[1]}"#;
        let req: CreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.config.hostname, "box");
        assert_eq!(
            req.config.cmd,
            Some(vec!["echo".to_owned(), "hi".to_owned()])
        );
        assert_eq!(req.config.entrypoint, None);
        assert!(req.config.env.is_empty());
        assert!(req.config.open_stdin);
        assert_eq!(req.host_config.memory, 6291456);
        assert!(req.host_config.auto_remove);
        assert_eq!(req.host_config.pids_limit, None);
        // Kept, and refused: berth cannot know what they would ask for.
        assert_eq!(req.host_config.rest["Unknown"], 1);
        assert_eq!(
            req.check_fields().unwrap_err().to_string(),
            "Config.Whatever is not a field of the Docker Engine API 1.43: berth cannot honour it"
        );
    }

    #[test]
    fn the_typed_fields_are_the_honoured_ones_of_the_table() {
        use fields::Handling;
        // Every optional member set, so that each is serialized.
        let config = Config {
            cmd: Some(vec![]),
            entrypoint: Some(vec![]),
            stop_signal: Some("SIGTERM".into()),
            stop_timeout: Some(1),
            exposed_ports: BTreeMap::from([("80/tcp".into(), serde_json::json!({}))]),
            volumes: BTreeMap::from([("/v".into(), serde_json::json!({}))]),
            ..Config::default()
        };
        let host = HostConfig {
            pids_limit: Some(1),
            console_size: Some([1, 1]),
            masked_paths: Some(vec![]),
            readonly_paths: Some(vec![]),
            ..HostConfig::default()
        };
        let keys = |value: serde_json::Value| -> Vec<String> {
            value.as_object().unwrap().keys().cloned().collect()
        };
        let honoured = |table: &[(&str, Handling)]| -> Vec<String> {
            let mut names: Vec<String> = table
                .iter()
                .filter(|(_, h)| *h == Handling::Honoured)
                .map(|(n, _)| (*n).to_owned())
                .collect();
            names.sort();
            names
        };
        let mut config_keys = keys(serde_json::to_value(&config).unwrap());
        // Typed for images' VOLUMEs, refused in a request.
        config_keys.retain(|k| k != "Volumes");
        assert_eq!(config_keys, honoured(fields::CONFIG));
        assert_eq!(
            keys(serde_json::to_value(&host).unwrap()),
            honoured(fields::HOST_CONFIG)
        );
    }

    #[test]
    fn string_commands_become_one_word() {
        let req: CreateRequest =
            serde_json::from_str(r#"{"Image":"x","Cmd":"sh","Entrypoint":[]}"#).unwrap();
        assert_eq!(req.config.cmd, Some(vec!["sh".to_owned()]));
        assert_eq!(req.config.entrypoint, Some(vec![]));
    }

    #[test]
    fn state_uses_dockers_key_names() {
        let json = serde_json::to_value(State {
            status: Status::Running,
            oom_killed: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(json["Status"], "running");
        assert_eq!(json["OOMKilled"], true);
        assert!(json.get("StartedAt").is_some());
    }

    #[test]
    fn binds_parse_with_their_options() {
        let bind = Bind::parse("/srv:/data/sub:ro,rslave,z").unwrap();
        assert_eq!(
            bind,
            Bind {
                source: "/srv".into(),
                destination: "/data/sub".into(),
                read_only: true,
                propagation: "rslave",
            }
        );
        let plain = Bind::parse("/srv:/data").unwrap();
        assert_eq!((plain.read_only, plain.propagation), (false, "rprivate"));
        for bad in [
            "relative:/x",
            "/srv:relative",
            "/srv:/",
            "/srv:/x/../y",
            "/srv:/x:rw,ro",
            "/srv:/x:bogus",
            "volume-name:/x",
            "/srv:/x:ro:extra",
        ] {
            let err = Bind::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn start_failures_map_to_dockers_exit_codes() {
        let code = start_failure_code;
        assert_eq!(
            code("exec: \"nope\": executable file not found in $PATH"),
            Some(127)
        );
        assert_eq!(code("open /x: no such file or directory"), Some(127));
        assert_eq!(code("exec /etc: permission denied"), Some(126));
        assert_eq!(code("exec /etc: is a directory"), Some(126));
        assert_eq!(code("cgroup setup failed"), None);
        // libcontainer's wording, as the exec driver passes it on.
        assert_eq!(
            code(
                r#"container init failed: exec "x": ENOENT: No such file or directory (executable file not found in $PATH)"#
            ),
            Some(127)
        );
        assert_eq!(
            code(
                r#"container init failed: exec "/etc/passwd": EACCES: Permission denied (permission denied)"#
            ),
            Some(126)
        );
        assert_eq!(code("cgroup: device or resource busy"), None);
    }

    #[test]
    fn wait_conditions() {
        assert_eq!(WaitCondition::parse(""), Some(WaitCondition::NotRunning));
        assert_eq!(
            WaitCondition::parse("removed"),
            Some(WaitCondition::Removed)
        );
        assert_eq!(WaitCondition::parse("bogus"), None);
    }

    #[test]
    fn log_configs_parse_with_mobys_rules() {
        let config = |kind: &str, opts: &[(&str, &str)]| LogConfig {
            kind: kind.to_owned(),
            config: opts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let unbounded = LogDriver::JsonFile {
            max_size: None,
            max_files: 1,
        };
        assert_eq!(config("", &[]).driver(), Ok(unbounded));
        assert_eq!(config("json-file", &[("tag", "x")]).driver(), Ok(unbounded));
        assert_eq!(
            config("json-file", &[("max-size", "10k"), ("max-file", "3")]).driver(),
            Ok(LogDriver::JsonFile {
                max_size: Some(10_000),
                max_files: 3
            })
        );
        assert_eq!(config("none", &[]).driver(), Ok(LogDriver::None));
        for (kind, opts, message) in [
            (
                "syslog",
                &[][..],
                "logger: no log driver named 'syslog' is registered",
            ),
            (
                "json-file",
                &[("max-sise", "1m")][..],
                "unknown log opt 'max-sise' for json-file log driver",
            ),
            (
                "json-file",
                &[("max-size", "big")][..],
                "invalid size: 'big'",
            ),
            (
                "json-file",
                &[("max-size", "0")][..],
                "max-size must be a positive number",
            ),
            (
                "json-file",
                &[("max-file", "0")][..],
                "max-file cannot be less than 1",
            ),
            (
                "json-file",
                &[("max-file", "x")][..],
                "invalid max-file 'x': not an integer",
            ),
        ] {
            assert_eq!(config(kind, opts).driver(), Err(message.to_owned()));
        }
        let compress = config("json-file", &[("compress", "true")]).driver();
        assert!(compress.is_err_and(|e| e.contains("not supported by berth")));
    }
}
