//! Errors of the container core.
//!
//! Every variant says what was done to which object. Failures inside the
//! container's init (the child side of `clone`) travel back to the caller as
//! [`InitStep`] + errno over the init socket and surface as [`Error::Init`].

use std::fmt;
use std::path::PathBuf;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// Everything that can go wrong while creating or operating a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container id is not usable as a directory name.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A container with this id already has a state directory.
    #[error("container {id:?} already exists ({path} is present)")]
    AlreadyExists {
        /// The container id.
        id: String,
        /// Its state directory.
        path: PathBuf,
    },
    /// No state directory for this id.
    #[error("container {id:?} does not exist (no {path})")]
    NotFound {
        /// The container id.
        id: String,
        /// The state directory that is missing.
        path: PathBuf,
    },
    /// `config.json` could not be read.
    #[error("failed to read bundle config {path}")]
    ReadConfig {
        /// Path of `config.json`.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON or does not match the OCI runtime spec.
    #[error("malformed bundle config {path}")]
    ParseConfig {
        /// Path of `config.json`.
        path: PathBuf,
        /// The decoder's error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// `config.json` parsed but asks for something invalid or unsupported.
    #[error("invalid bundle config {path}: {reason}")]
    InvalidConfig {
        /// Path of `config.json`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The bundle's `root.path` does not name a directory.
    #[error("rootfs {path} does not exist or is not a directory")]
    RootfsMissing {
        /// The resolved rootfs path.
        path: PathBuf,
    },
    /// A mount destination resolves (through a symlink) outside the rootfs.
    #[error(
        "mount destination {destination} escapes the rootfs {rootfs} through symlink {symlink}"
    )]
    MountEscapes {
        /// The destination as written in the spec.
        destination: PathBuf,
        /// The rootfs it must stay in.
        rootfs: PathBuf,
        /// The symlink (inside the rootfs) whose target leaves it.
        symlink: PathBuf,
    },
    /// A file-system operation on a runtime-owned path failed.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done (`"create state directory"`, ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A system call on behalf of the runtime (not inside init) failed.
    #[error("failed to {action}")]
    Sys {
        /// What was being done (`"clone container init"`, ...).
        action: String,
        /// The errno.
        #[source]
        source: Errno,
    },
    /// `state.json` of a container is unreadable.
    #[error("corrupt container state {path}")]
    CorruptState {
        /// Path of `state.json`.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A step of container init (or of an exec'd process's setup) failed.
    #[error("container init failed: {step}: {errno}{}", detail_suffix(detail))]
    Init {
        /// The step that failed.
        step: InitStep,
        /// The errno the kernel returned.
        errno: Errno,
        /// Extra explanation (e.g. why an EPERM happened).
        detail: String,
    },
    /// Init (or an exec'd process) died or closed its socket unexpectedly.
    #[error("container process {pid} exited during setup before reporting {expected}")]
    InitVanished {
        /// The process id.
        pid: i32,
        /// What the runtime was waiting for.
        expected: &'static str,
    },
    /// The init socket carried something that is not a protocol message.
    #[error("malformed message from container init: {0}")]
    Protocol(ProtocolError),
    /// A signal was sent to a container whose init has exited. The text
    /// contains "container not running", which containerd's runc shim
    /// matches to treat the kill as done.
    #[error("cannot signal container {id:?}: container not running")]
    NotRunning {
        /// The container id.
        id: String,
    },
    /// The operation needs a container in another state.
    #[error("container {id:?} is {status}: cannot {operation}")]
    WrongStatus {
        /// The container id.
        id: String,
        /// Its current status.
        status: crate::Status,
        /// What was asked.
        operation: &'static str,
    },
    /// A cgroup operation failed.
    #[error("cgroup operation failed for container {id:?}")]
    Cgroup {
        /// The container id.
        id: String,
        /// The cgroup crate's error.
        #[source]
        source: berth_cgroups::CgroupError,
    },
    /// The spec's `linux.seccomp` profile cannot be compiled.
    #[error("invalid seccomp profile in {path}")]
    Seccomp {
        /// Where the profile came from.
        path: PathBuf,
        /// The seccomp module's error.
        #[source]
        source: crate::seccomp::SeccompError,
    },
    /// A lifecycle hook failed.
    #[error("{kind} hook {path} failed: {reason}")]
    Hook {
        /// Which hook list (`prestart`, `poststart`, ...).
        kind: &'static str,
        /// The hook's program.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
    /// The console socket protocol failed.
    #[error("console socket {path}: failed to {action}")]
    Console {
        /// The console socket path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The errno.
        #[source]
        source: Errno,
    },
}

/// ` (detail)`, or nothing for an empty detail.
pub(crate) fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(action: impl Into<String>, source: Errno) -> Self {
        Error::Sys {
            action: action.into(),
            source,
        }
    }
}

/// The step of container setup that failed, as reported by init.
///
/// Carried over the init socket, so it is serialisable; its `Display` is
/// what users read ("mount /proc (proc)", "pivot_root", "capset", "exec
/// \"foo\"").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum InitStep {
    /// Waiting for the runtime to finish its side (cgroup, id maps).
    SyncWithParent,
    /// Moving itself into the container's cgroup (`0` to this v1 `tasks`
    /// file).
    JoinCgroup {
        /// The `tasks` file.
        path: PathBuf,
    },
    /// `setns` into a namespace given by path.
    JoinNamespace {
        /// Namespace type (`net`, `ipc`, ...).
        kind: String,
        /// The namespace file.
        path: PathBuf,
    },
    /// `unshare` of a namespace that cannot be created by `clone`.
    Unshare {
        /// Namespace type.
        kind: String,
    },
    /// `setsid`.
    Setsid,
    /// Joining a fresh session keyring.
    SessionKeyring,
    /// Wiring the given stdio file descriptors to 0, 1 and 2.
    Stdio,
    /// Changing the propagation of `/` before mounting.
    RootfsPropagation,
    /// Bind-mounting the rootfs onto itself.
    BindRootfs {
        /// The rootfs.
        path: PathBuf,
    },
    /// A mount from the spec (or a default one).
    Mount {
        /// Destination inside the container.
        destination: PathBuf,
        /// File-system type or `bind`.
        fstype: String,
    },
    /// Creating a device node (or binding it from the host).
    Device {
        /// Path inside the container.
        path: PathBuf,
    },
    /// Creating a `/dev` symlink.
    Symlink {
        /// Path inside the container.
        path: PathBuf,
    },
    /// `pivot_root` into the rootfs.
    PivotRoot,
    /// Masking a path (`/dev/null` or a read-only tmpfs over it).
    MaskPath {
        /// Path inside the container.
        path: PathBuf,
    },
    /// Making a path read-only.
    ReadonlyPath {
        /// Path inside the container.
        path: PathBuf,
    },
    /// Remounting the root read-only.
    ReadonlyRoot,
    /// Creating the pty and sending its master over the console socket.
    Console,
    /// `sethostname`.
    Hostname,
    /// `setdomainname`.
    Domainname,
    /// Writing a `linux.sysctl` entry.
    Sysctl {
        /// The sysctl key.
        key: String,
    },
    /// Writing `/proc/self/oom_score_adj`.
    OomScoreAdj {
        /// The requested value.
        value: i32,
    },
    /// `setrlimit`.
    Rlimit {
        /// The resource (`RLIMIT_NOFILE`, ...).
        resource: String,
    },
    /// `chdir` to the process's cwd.
    Chdir {
        /// The cwd.
        path: PathBuf,
    },
    /// `setgroups` with the additional gids.
    Setgroups,
    /// `setresgid`.
    Setgid {
        /// The gid.
        gid: u32,
    },
    /// `setresuid`.
    Setuid {
        /// The uid.
        uid: u32,
    },
    /// Dropping capabilities from the bounding set.
    DropBoundingSet,
    /// `capset` (effective, permitted, inheritable).
    Capset,
    /// Raising ambient capabilities.
    AmbientCapabilities,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivileges,
    /// Loading the seccomp filter.
    Seccomp,
    /// Waiting on the exec FIFO for `start`.
    ExecFifo,
    /// Finding the executable in the container's `PATH`.
    LookupExecutable {
        /// `args[0]`.
        program: String,
    },
    /// `execve` of the container process.
    Exec {
        /// The program.
        program: String,
    },
}

impl fmt::Display for InitStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitStep::SyncWithParent => write!(f, "sync with runtime"),
            InitStep::JoinCgroup { path } => write!(f, "join cgroup {}", path.display()),
            InitStep::JoinNamespace { kind, path } => {
                write!(f, "join {kind} namespace {}", path.display())
            }
            InitStep::Unshare { kind } => write!(f, "unshare {kind} namespace"),
            InitStep::Setsid => write!(f, "setsid"),
            InitStep::SessionKeyring => write!(f, "join a new session keyring"),
            InitStep::Stdio => write!(f, "set up stdio"),
            InitStep::RootfsPropagation => write!(f, "set rootfs propagation"),
            InitStep::BindRootfs { path } => write!(f, "bind rootfs {}", path.display()),
            InitStep::Mount {
                destination,
                fstype,
            } => write!(f, "mount {} ({fstype})", destination.display()),
            InitStep::Device { path } => write!(f, "create device {}", path.display()),
            InitStep::Symlink { path } => write!(f, "create symlink {}", path.display()),
            InitStep::PivotRoot => write!(f, "pivot_root"),
            InitStep::MaskPath { path } => write!(f, "mask {}", path.display()),
            InitStep::ReadonlyPath { path } => write!(f, "make {} read-only", path.display()),
            InitStep::ReadonlyRoot => write!(f, "remount / read-only"),
            InitStep::Console => write!(f, "set up console"),
            InitStep::Hostname => write!(f, "sethostname"),
            InitStep::Domainname => write!(f, "setdomainname"),
            InitStep::Sysctl { key } => write!(f, "write sysctl {key}"),
            InitStep::OomScoreAdj { value } => write!(f, "set oom_score_adj to {value}"),
            InitStep::Rlimit { resource } => write!(f, "setrlimit {resource}"),
            InitStep::Chdir { path } => write!(f, "chdir to {}", path.display()),
            InitStep::Setgroups => write!(f, "setgroups"),
            InitStep::Setgid { gid } => write!(f, "setgid {gid}"),
            InitStep::Setuid { uid } => write!(f, "setuid {uid}"),
            InitStep::DropBoundingSet => write!(f, "drop bounding capabilities"),
            InitStep::Capset => write!(f, "capset"),
            InitStep::AmbientCapabilities => write!(f, "raise ambient capabilities"),
            InitStep::NoNewPrivileges => write!(f, "set no_new_privs"),
            InitStep::Seccomp => write!(f, "load seccomp filter"),
            InitStep::ExecFifo => write!(f, "wait on exec fifo"),
            InitStep::LookupExecutable { program } => {
                write!(f, "exec {program:?}: executable file not found in $PATH")
            }
            InitStep::Exec { program } => write!(f, "exec {program:?}"),
        }
    }
}

/// What was wrong on the init socket. The causes are part of the message
/// (not `source`s), so that the one-line chain the shim passes to berthd
/// reads as before.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// recv(2) on the socket failed.
    #[error("recv: {0}")]
    Recv(Errno),
    /// A packet that is not a protocol message.
    #[error("{error}: {packet:?}")]
    Decode {
        /// The JSON error.
        error: serde_json::Error,
        /// The packet, lossily decoded.
        packet: String,
    },
    /// A valid message where another one was expected.
    #[error("unexpected {message}")]
    Unexpected {
        /// The message received, as `Debug` prints it.
        message: String,
    },
}
