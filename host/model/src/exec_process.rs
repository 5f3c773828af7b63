//! A `docker exec` process as it crosses the seam between the engine and
//! the exec driver: validated once by the engine when the exec is created
//! (moby `daemon/exec.go`, `ContainerExecCreate`), then run by the driver
//! in the container's shim.

use crate::exec::AttachOptions;

/// What one exec runs and how, with the container's defaults already
/// applied by the engine (`User` and `WorkingDir` fall back to the
/// container's, as in moby).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecProcessConfig {
    /// Entrypoint and arguments; never empty.
    pub command: Vec<String>,
    /// The exec's own `Env`, applied over the container's environment
    /// (`NAME=value` replaces or adds, `NAME` alone removes).
    pub env: Vec<String>,
    /// Absolute working directory; `None` for `/`.
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group` or `uid:gid`, resolved against the
    /// container's own `/etc/passwd` and `/etc/group`; empty for root.
    pub user: String,
    /// Run it on a pseudo-terminal.
    pub tty: bool,
    /// Every capability of the daemon's bounding set, as moby's
    /// `--privileged` exec (the container's seccomp profile still applies).
    pub privileged: bool,
    /// Initial terminal size (height, width), with `tty`.
    pub console_size: Option<(u16, u16)>,
    /// Which streams the client attaches (`AttachStdin` opens the
    /// process's stdin).
    pub attach: AttachOptions,
}
