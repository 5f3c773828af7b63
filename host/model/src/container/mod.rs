//! The trusted model of a container to run: what the exec driver needs to
//! build a runtime spec and a shim's arguments, already validated.
//!
//! Built in one place, the engine's `ContainerSpecBuilder::build()`, from
//! the Docker API's wire types (`berth_api::container::{Config,
//! HostConfig}`) and the host's facts; stored in the container record
//! beside the wire configuration (which inspect shows); passed to
//! `berth_exec::ExecDriver::start`, which checks again only what depends on
//! the host at start time (its cgroup features, its bounding set).
//!
//! Each invariant lives in the leaf type that carries it: the fields of a
//! leaf are private, its constructor checks (with moby's wording where
//! moby has one, `daemon/daemon_unix.go`), and its serde form goes through
//! the same constructor (`try_from`), so that a record read back cannot
//! carry a value the constructor refuses. The aggregates
//! ([`ContainerModel`], [`Process`], [`Resources`], [`Security`]) have
//! public fields: any combination of valid leaves is a valid container.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod caps;
pub mod device;
pub mod groups;
pub mod resources;
pub mod seccomp;
pub mod sysctl;

pub use caps::{Capability, CapabilitySet, CapabilityTweak};
pub use device::{Device, DeviceCgroupRule, DeviceError};
pub use groups::{GroupAdd, GroupError};
pub use resources::{Cfs, Cpu, Memory, Resources, Rlimit, RlimitKind, Swap};
pub use seccomp::{KernelVersion, SeccompArchMap, SeccompCondition, SeccompProfile, SeccompRule};
pub use sysctl::{SysctlError, Sysctls};

/// A value the model refuses; the engine returns it as InvalidParameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Neither Entrypoint nor Cmd (moby `daemon/create.go`).
    #[error("No command specified")]
    NoCommand,
    /// A relative `WorkingDir` (moby `daemon/container.go`).
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    WorkingDir(String),
    /// A host name the kernel or Docker refuses (moby `validateHostname`).
    #[error("invalid hostname format: {0}")]
    Hostname(String),
    /// A resource value out of range; the message is moby's, or says why
    /// the kernel would refuse it at start.
    #[error("{0}")]
    Resource(String),
    /// A `Binds` entry (moby's `volume/mounts` message).
    #[error("invalid volume specification: '{0}'")]
    Bind(String),
    /// A `Tmpfs` mount point or option.
    #[error("{0}")]
    Tmpfs(String),
    /// `MaskedPaths`/`ReadonlyPaths` with a relative entry.
    #[error("invalid {field} entry {path:?}: it must be an absolute path")]
    Path {
        /// `MaskedPaths` or `ReadonlyPaths`.
        field: &'static str,
        /// The entry.
        path: String,
    },
    /// json-file's `max-size` of 0 (moby `jsonfilelog.New`).
    #[error("max-size must be a positive number")]
    LogMaxSize,
    /// json-file's `max-file` below 1 (moby `jsonfilelog.New`).
    #[error("max-file cannot be less than 1")]
    LogMaxFiles,
    /// A `CapAdd`/`CapDrop` name (moby `validateCapabilities`).
    #[error("invalid {field}: unknown capability: {name:?}")]
    UnknownCapability {
        /// `CapAdd` or `CapDrop`.
        field: &'static str,
        /// Normalised (`CAP_` prefix, upper case).
        name: String,
    },
    /// A `Sysctls` entry (runc's messages).
    #[error(transparent)]
    Sysctl(#[from] SysctlError),
    /// A `GroupAdd` entry.
    #[error(transparent)]
    GroupAdd(#[from] GroupError),
    /// A `Devices` entry.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// A container to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerModel {
    /// Its first process.
    pub process: Process,
    /// `Config.Hostname` (the short id when the request has none).
    pub hostname: Hostname,
    /// `Config.Domainname`, when set.
    pub domainname: Option<String>,
    /// Limits.
    pub resources: Resources,
    /// Binds and tmpfs mounts, parents before children (moby `sortMounts`).
    pub mounts: Vec<Mount>,
    /// What confines it.
    pub security: Security,
    /// `HostConfig.CgroupnsMode`, the daemon's default filled in.
    pub cgroupns: CgroupnsMode,
    /// `HostConfig.ReadonlyRootfs`.
    pub readonly_rootfs: bool,
    /// `HostConfig.LogConfig`, parsed.
    pub log: LogDriver,
    /// `HostConfig.NetworkMode`, parsed (records written before it read
    /// back as the default bridge).
    #[serde(default)]
    pub network: crate::network::NetworkMode,
    /// `--dns`, `--dns-search`, `--dns-option`, `--add-host` (records
    /// written before them read back empty).
    #[serde(default)]
    pub dns: crate::dns::DnsConfig,
    /// What it publishes (`-p`, `-P`), host ports not yet chosen: the
    /// engine reserves them at each start.
    #[serde(default)]
    pub ports: Vec<crate::ports::PortRequest>,
    /// `--network-alias` on its user-defined network (records written
    /// before them read back empty).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`: the IPv4 address it must have on its user-defined network,
    /// at every start (records written before it read back without).
    #[serde(default)]
    pub ipv4_address: Option<std::net::IpAddr>,
    /// `--ip6`, likewise.
    #[serde(default)]
    pub ipv6_address: Option<std::net::IpAddr>,
}

/// The first process (moby `daemon/create.go` merges the image's
/// Entrypoint, Cmd, Env, WorkingDir and User in before this is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Entrypoint then Cmd.
    pub command: Command,
    /// `Config.Env` over the image's: `KEY=value`, or `KEY` to unset.
    pub env: Vec<String>,
    /// `Config.User` as given (`name`, `uid`, `uid:gid`, ...): only the
    /// exec driver can resolve it, against the container's `/etc/passwd`.
    pub user: String,
    /// `Config.WorkingDir`; `/` when `None`.
    pub working_dir: Option<AbsolutePath>,
    /// `Config.Tty`.
    pub tty: bool,
    /// `HostConfig.ConsoleSize` (height, width), with a TTY and both non-zero.
    pub console_size: Option<(u16, u16)>,
    /// `Config.OpenStdin`.
    pub open_stdin: bool,
    /// `Config.StdinOnce`.
    pub stdin_once: bool,
    /// `HostConfig.Init`: berth's init runs as PID 1 in front of the
    /// command (records written before berth honoured it have none).
    #[serde(default)]
    pub init: bool,
    /// `HostConfig.GroupAdd`: supplementary groups beyond the user's,
    /// resolved in the container's `/etc/group` at start.
    #[serde(default)]
    pub group_add: Vec<GroupAdd>,
}

/// A command line with at least the executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Command(Vec<String>);

impl Command {
    /// Entrypoint then Cmd; refused when both are empty.
    pub fn new(args: Vec<String>) -> Result<Command, ModelError> {
        if args.is_empty() {
            return Err(ModelError::NoCommand);
        }
        Ok(Command(args))
    }

    /// The executable then its arguments.
    pub fn args(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for Command {
    type Error = ModelError;
    fn try_from(args: Vec<String>) -> Result<Command, ModelError> {
        Command::new(args)
    }
}

impl From<Command> for Vec<String> {
    fn from(command: Command) -> Vec<String> {
        command.0
    }
}

/// An absolute path inside the container. Mount destinations are also
/// free of `..` (the engine's parsers refuse it); a working directory or a
/// masked path need only be absolute, as in moby.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbsolutePath(String);

impl AbsolutePath {
    /// `None` unless `path` is absolute.
    pub fn new(path: &str) -> Option<AbsolutePath> {
        path.starts_with('/').then(|| AbsolutePath(path.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Components below `/`: parents sort before their children.
    pub fn depth(&self) -> usize {
        std::path::Path::new(&self.0).components().count()
    }
}

/// A path that does not start with `/`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an absolute path")]
pub struct NotAbsolute(pub String);

impl TryFrom<String> for AbsolutePath {
    type Error = NotAbsolute;
    fn try_from(path: String) -> Result<AbsolutePath, NotAbsolute> {
        AbsolutePath::new(&path).ok_or(NotAbsolute(path))
    }
}

impl From<AbsolutePath> for String {
    fn from(path: AbsolutePath) -> String {
        path.0
    }
}

/// Longest host name the kernel accepts (`HOST_NAME_MAX`).
pub const HOST_NAME_MAX: usize = 64;

/// A host name: dot-separated labels of letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hostname(String);

impl Hostname {
    /// moby `validateHostname`'s rules with the kernel's length.
    pub fn new(name: &str) -> Result<Hostname, ModelError> {
        let valid = name.len() <= HOST_NAME_MAX
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if valid {
            Ok(Hostname(name.to_owned()))
        } else {
            Err(ModelError::Hostname(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Hostname {
    type Error = ModelError;
    fn try_from(name: String) -> Result<Hostname, ModelError> {
        Hostname::new(&name)
    }
}

impl From<Hostname> for String {
    fn from(name: Hostname) -> String {
        name.0
    }
}

/// A user mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mount {
    /// A `Binds` entry (`-v /host:/ctr[:opts]`).
    Bind {
        /// Absolute host path (created like `-v` does when missing).
        source: PathBuf,
        /// Where in the container (not `/`).
        destination: AbsolutePath,
        /// `ro`.
        read_only: bool,
        /// Mount propagation.
        propagation: Propagation,
    },
    /// A volume of the volume driver: `-v name:/ctr`, `-v /ctr`,
    /// `--mount type=volume`, an image's `VOLUME`; mounted as a bind of
    /// its directory.
    Volume {
        /// The volume's name (generated for an anonymous one).
        name: String,
        /// The driver (`local`).
        driver: String,
        /// The volume's data directory on the host.
        source: PathBuf,
        /// Where in the container (not `/`).
        destination: AbsolutePath,
        /// `ro`.
        read_only: bool,
        /// Made for this container alone (`-v /ctr`, `VOLUME`): removed
        /// with it by `rm -v`.
        anonymous: bool,
    },
    /// A `Tmpfs` entry.
    Tmpfs {
        /// Where in the container (not `/`).
        destination: AbsolutePath,
        /// The user's options, each known to mount(8)/tmpfs(5); Docker's
        /// defaults are merged in when the spec is built.
        options: Vec<String>,
    },
}

impl Mount {
    /// Where in the container.
    pub fn destination(&self) -> &AbsolutePath {
        match self {
            Mount::Bind { destination, .. }
            | Mount::Volume { destination, .. }
            | Mount::Tmpfs { destination, .. } => destination,
        }
    }
}

/// Mount propagation of a bind (mount(8)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// `private`.
    Private,
    /// `rprivate`, Docker's default.
    #[default]
    Rprivate,
    /// `shared`.
    Shared,
    /// `rshared`.
    Rshared,
    /// `slave`.
    Slave,
    /// `rslave`.
    Rslave,
}

impl Propagation {
    /// The mount option.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

/// What confines the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// `HostConfig.Privileged`.
    pub privileged: bool,
    /// `CapAdd`/`CapDrop`, names resolved; the daemon's bounding set is
    /// applied by the exec driver ([`CapabilityTweak::apply`]).
    pub capabilities: CapabilityTweak,
    /// `no-new-privileges` of `SecurityOpt`.
    pub no_new_privileges: bool,
    /// `seccomp=` of `SecurityOpt`.
    pub seccomp: Seccomp,
    /// `MaskedPaths`: `None` is Docker's list.
    pub masked_paths: Option<Vec<AbsolutePath>>,
    /// `ReadonlyPaths`: `None` is Docker's list.
    pub readonly_paths: Option<Vec<AbsolutePath>>,
    /// `Sysctls`, over Docker's two network defaults (records written
    /// before berth honoured it have none).
    #[serde(default)]
    pub sysctls: Sysctls,
    /// `Devices`: host device nodes in the container's `/dev`.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// `DeviceCgroupRules`: allow rules after Docker's deny-all.
    #[serde(default)]
    pub device_cgroup_rules: Vec<DeviceCgroupRule>,
}

/// The seccomp choice of a container (moby `daemon/seccomp_linux.go`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A profile in Docker's format, checked (moby `LoadProfile`).
    Profile(Box<SeccompProfile>),
}

/// Whether the container gets its own cgroup namespace
/// (`HostConfig.CgroupnsMode`, and dockerd's `--default-cgroupns-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupnsMode {
    /// Its own: `/proc/self/cgroup` shows `/`.
    Private,
    /// The host's: `/proc/self/cgroup` shows the container's full path.
    Host,
}

impl CgroupnsMode {
    /// The `HostConfig.CgroupnsMode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupnsMode::Private => "private",
            CgroupnsMode::Host => "host",
        }
    }

    /// Parses a `HostConfig.CgroupnsMode` value (not the empty default).
    pub fn parse(value: &str) -> Option<CgroupnsMode> {
        match value {
            "private" => Some(CgroupnsMode::Private),
            "host" => Some(CgroupnsMode::Host),
            _ => None,
        }
    }
}

/// The log driver and its options (moby `daemon/logger/jsonfilelog`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogDriver {
    /// `json-file`.
    JsonFile(JsonFileLog),
    /// `none`: nothing is logged; `logs` refuses.
    None,
}

/// The options of the `json-file` log driver, checked as moby's
/// `jsonfilelog.New` checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawJsonFileLog", into = "RawJsonFileLog")]
pub struct JsonFileLog {
    max_size: Option<u64>,
    max_files: u32,
}

#[derive(Serialize, Deserialize)]
struct RawJsonFileLog {
    max_size: Option<u64>,
    max_files: u32,
}

impl JsonFileLog {
    /// `max-size` in bytes (`None` lets the file grow) and `max-file`;
    /// a zero size or fewer than one file is refused with moby's words.
    pub fn new(max_size: Option<u64>, max_files: u32) -> Result<JsonFileLog, ModelError> {
        if max_size == Some(0) {
            return Err(ModelError::LogMaxSize);
        }
        if max_files < 1 {
            return Err(ModelError::LogMaxFiles);
        }
        Ok(JsonFileLog {
            max_size,
            max_files,
        })
    }

    /// `max-size` in bytes, positive; `None` lets the file grow.
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }

    /// `max-file`: files kept, the current one included; at least 1.
    pub fn max_files(&self) -> u32 {
        self.max_files
    }
}

impl Default for JsonFileLog {
    /// moby's defaults: one file that grows.
    fn default() -> JsonFileLog {
        JsonFileLog {
            max_size: None,
            max_files: 1,
        }
    }
}

impl TryFrom<RawJsonFileLog> for JsonFileLog {
    type Error = ModelError;
    fn try_from(raw: RawJsonFileLog) -> Result<JsonFileLog, ModelError> {
        JsonFileLog::new(raw.max_size, raw.max_files)
    }
}

impl From<JsonFileLog> for RawJsonFileLog {
    fn from(log: JsonFileLog) -> RawJsonFileLog {
        RawJsonFileLog {
            max_size: log.max_size,
            max_files: log.max_files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_file_options_are_checked_with_mobys_words() {
        assert_eq!(
            JsonFileLog::new(Some(10), 0).map_err(|e| e.to_string()),
            Err("max-file cannot be less than 1".to_owned())
        );
        assert_eq!(
            JsonFileLog::new(Some(0), 1).map_err(|e| e.to_string()),
            Err("max-size must be a positive number".to_owned())
        );
        let log = JsonFileLog::new(Some(10), 3).expect("valid");
        assert_eq!((log.max_size(), log.max_files()), (Some(10), 3));
        let json = serde_json::to_string(&LogDriver::JsonFile(log)).expect("serialise");
        assert_eq!(json, r#"{"JsonFile":{"max_size":10,"max_files":3}}"#);
        assert_eq!(
            serde_json::from_str::<LogDriver>(&json).ok(),
            Some(LogDriver::JsonFile(log))
        );
        let refused = r#"{"JsonFile":{"max_size":10,"max_files":0}}"#;
        assert!(serde_json::from_str::<LogDriver>(refused).is_err());
    }

    #[test]
    fn cgroupns_modes_parse_what_they_print() {
        for mode in [CgroupnsMode::Private, CgroupnsMode::Host] {
            assert_eq!(CgroupnsMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(CgroupnsMode::parse(""), None);
        assert_eq!(CgroupnsMode::parse("shared"), None);
    }
}
