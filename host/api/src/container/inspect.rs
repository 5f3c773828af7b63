//! `GET /containers/{id}/json`: status, state and the inspect body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Config, HostConfig};

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
    /// The health check's state; only for a container that has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<super::Health>,
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
    /// Mounts: binds, volumes and `--mount` tmpfs mounts.
    #[serde(deserialize_with = "super::null_as_default")]
    pub mounts: Vec<super::MountPoint>,
    /// The container configuration.
    pub config: Config,
    /// Network settings (none yet).
    pub network_settings: NetworkSettings,
}

/// Network settings of a container (Docker API `NetworkSettings`): its
/// sandbox, and one endpoint per network it is connected to. The
/// top-level address fields describe the default `bridge` network only, as
/// moby fills them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// Endpoints by network name.
    pub networks: BTreeMap<String, super::EndpointSettings>,
    /// The sandbox's id (the container's id while it runs, as berth keeps
    /// one namespace per container).
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    /// The network namespace's path while the container runs.
    pub sandbox_key: String,
    /// The default bridge endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The default bridge's gateway.
    pub gateway: String,
    /// The address on the default bridge.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Its prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// The default bridge's IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// The IPv6 address on the default bridge.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Its prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    /// The MAC address on the default bridge.
    pub mac_address: String,
    /// Exposed ports (`"80/tcp"`) with their host bindings while the
    /// container runs: `null` for an exposed port that is not published,
    /// empty when it is stopped (moby `nat.PortMap`).
    pub ports: BTreeMap<String, Option<Vec<PortMapping>>>,
}

/// One host binding of a published port (moby `nat.PortBinding`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortMapping {
    /// The host address (`0.0.0.0` for every address).
    pub host_ip: String,
    /// The host port, as a string.
    pub host_port: String,
}
