//! `Config` and `HostConfig`: what a create request asks for, and the
//! `HostConfig` parts that are plain records (ulimits, restart policy).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LogConfig, null_as_default, str_slice};

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
    /// How to probe the container's health (`HEALTHCHECK`, `--health-*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::HealthConfig>,
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
    /// Volume paths: the image's `VOLUME`s and `-v /path`, each an
    /// anonymous volume unless another mount has that destination.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// Fields berth has no typed member for, as sent: checked against
    /// [`fields::CONFIG`](super::fields::CONFIG) at create and dropped after.
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// Size of `/dev/shm` when `HostConfig.ShmSize` is 0: dockerd's default
/// `--default-shm-size`, 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Host-dependent configuration (Docker API: `HostConfig`), the subset
/// berth honours ([`fields::HOST_CONFIG`](super::fields::HOST_CONFIG)). `Resources` fields are inlined
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
    /// `--mount` entries.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mounts: Vec<super::MountSpec>,
    /// `--volumes-from`: `container[:ro|rw]`.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes_from: Vec<String>,
    /// Security options ([`security::SecurityOptions::parse`](super::security::SecurityOptions::parse)).
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
    /// Namespaced kernel parameters (`--sysctl`), key → value; checked
    /// with runc's rules at create (`berth_model::container::Sysctls`).
    #[serde(deserialize_with = "null_as_default")]
    pub sysctls: BTreeMap<String, String>,
    /// Run an init as PID 1 in front of the command (`--init`); `None`
    /// is berthd's default, which is no init.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Supplementary groups (`--group-add`), names or gids, resolved in
    /// the container's `/etc/group` at start.
    #[serde(deserialize_with = "null_as_default")]
    pub group_add: Vec<String>,
    /// Host devices for the container (`--device`).
    #[serde(deserialize_with = "null_as_default")]
    pub devices: Vec<DeviceMapping>,
    /// Device cgroup allow rules (`--device-cgroup-rule 'c 1:3 rwm'`).
    #[serde(deserialize_with = "null_as_default")]
    pub device_cgroup_rules: Vec<String>,
    /// `--dns`: name servers for the container's `resolv.conf`.
    #[serde(deserialize_with = "null_as_default")]
    pub dns: Vec<String>,
    /// `--dns-option`: the `options` of its `resolv.conf`.
    #[serde(deserialize_with = "null_as_default")]
    pub dns_options: Vec<String>,
    /// `--dns-search`: the `search` domains of its `resolv.conf`.
    #[serde(deserialize_with = "null_as_default")]
    pub dns_search: Vec<String>,
    /// `--add-host`: `name:ip` (or `name=ip`, `name:host-gateway`) lines
    /// for its `/etc/hosts`.
    #[serde(deserialize_with = "null_as_default")]
    pub extra_hosts: Vec<String>,
    /// `-p`: container port (`80/tcp`) → host bindings; a key with no
    /// binding is exposed only (published by `-P`).
    #[serde(deserialize_with = "null_as_default")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    /// `-P`: publish every exposed port on an ephemeral host port.
    pub publish_all_ports: bool,
    /// Fields berth has no typed member for, as sent: checked against
    /// [`fields::HOST_CONFIG`](super::fields::HOST_CONFIG) at create and dropped after.
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_json::Value>,
}

/// One entry of `HostConfig.Devices` (moby `container.DeviceMapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// The node on the host.
    pub path_on_host: String,
    /// Where the container sees it (empty: the host's path).
    pub path_in_container: String,
    /// Device cgroup access, some of `rwm` (empty: `rwm`).
    pub cgroup_permissions: String,
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

/// One host binding of a published port (Docker API: `PortBinding`):
/// `HostIp` empty for every address, `HostPort` empty for an ephemeral
/// port, or a number, or a range `first-last`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// Host address.
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    /// Host port(s).
    #[serde(rename = "HostPort")]
    pub host_port: String,
}
