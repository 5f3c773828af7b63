//! `GET /version` and `GET /info`.

use serde::{Deserialize, Serialize};

/// This machine's architecture under Go's name (`amd64`, `arm64`, ...),
/// which Docker clients expect in `Arch` and print in `OS/Arch`.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `GET /version` (Docker API: `SystemVersion`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VersionResponse {
    /// `{"Name": "berth"}`.
    pub platform: Platform,
    /// Versions of the parts of the engine.
    pub components: Vec<ComponentVersion>,
    /// The engine's version.
    pub version: String,
    /// The API version the server speaks (advertised).
    pub api_version: String,
    /// The oldest API version accepted.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    /// Source revision of the build.
    pub git_commit: String,
    /// Docker reports its Go version here; berth reports its Rust toolchain.
    pub go_version: String,
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ... (Go's names, which clients expect).
    pub arch: String,
    /// The host kernel's release.
    pub kernel_version: String,
    /// Whether experimental features are on.
    pub experimental: bool,
    /// When the binary was built (may be empty).
    pub build_time: String,
}

/// The platform name of [`VersionResponse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Platform {
    /// Product name.
    pub name: String,
}

/// One component of [`VersionResponse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    /// Component name (`Engine`, ...).
    pub name: String,
    /// Its version.
    pub version: String,
    /// Free-form details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /info` (Docker API: `SystemInfo`), the subset berth fills.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InfoResponse {
    /// Daemon instance id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Number of containers.
    pub containers: u64,
    /// ... of which running.
    pub containers_running: u64,
    /// ... of which paused.
    pub containers_paused: u64,
    /// ... of which stopped.
    pub containers_stopped: u64,
    /// Number of images.
    pub images: u64,
    /// Storage driver name.
    pub driver: String,
    /// Storage driver details as key/value pairs.
    pub driver_status: Vec<[String; 2]>,
    /// The data root.
    pub docker_root_dir: String,
    /// Memory limits supported.
    pub memory_limit: bool,
    /// Swap limits supported.
    pub swap_limit: bool,
    /// CFS period supported.
    pub cpu_cfs_period: bool,
    /// CFS quota supported.
    pub cpu_cfs_quota: bool,
    /// CPU shares supported.
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    /// Cpusets supported.
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    /// Pids limit supported.
    pub pids_limit: bool,
    /// Disabling the OOM killer supported (never: berth does not offer it).
    pub oom_kill_disable: bool,
    /// Host kernel release.
    pub kernel_version: String,
    /// Host OS description.
    pub operating_system: String,
    /// `linux`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// Host architecture (`x86_64`).
    pub architecture: String,
    /// Number of CPUs.
    #[serde(rename = "NCPU")]
    pub ncpu: u64,
    /// Total memory in bytes.
    pub mem_total: u64,
    /// Host name.
    pub name: String,
    /// Engine version.
    pub server_version: String,
    /// `cgroupfs`.
    pub cgroup_driver: String,
    /// `1` or `2`.
    pub cgroup_version: String,
    /// Default logging driver (`json-file`).
    pub logging_driver: String,
    /// Security features (`name=seccomp,profile=builtin`).
    pub security_options: Vec<String>,
    /// Runtime name of containers by default.
    pub default_runtime: String,
    /// Runtimes known to the daemon.
    pub runtimes: serde_json::Map<String, serde_json::Value>,
    /// Swarm state: always inactive (berth has no swarm mode).
    pub swarm: SwarmInfo,
    /// Warnings shown by `docker info`.
    pub warnings: Vec<String>,
}

/// `Swarm` of [`InfoResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmInfo {
    /// Node id (empty).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// `inactive`.
    pub local_node_state: String,
}

impl Default for SwarmInfo {
    fn default() -> SwarmInfo {
        SwarmInfo {
            node_id: String::new(),
            local_node_state: "inactive".to_owned(),
        }
    }
}

/// `GET /system/df` (Docker API: `SystemDataUsageResponse`, the fields of
/// API versions before 1.52): each list is present when its `type` was
/// asked for (all of them when none was).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsageResponse {
    /// Bytes of all image layers, each counted once.
    pub layers_size: i64,
    /// Images, with `Containers`, `Size` and `SharedSize` filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<crate::image::ImageSummary>>,
    /// Containers, with `SizeRw` and `SizeRootFs` filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<crate::container::ContainerSummary>>,
    /// Volumes, with `UsageData` filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<crate::volume::Volume>>,
    /// Build cache: berth does not build images, so always empty when
    /// asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_cache: Option<Vec<serde_json::Value>>,
}
