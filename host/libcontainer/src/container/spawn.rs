//! Cloning a container process: init at create, a process at exec.
//!
//! Both go the same way: the runtime opens everything the child needs
//! (namespace fds, console socket, exec FIFO), enters a PID namespace to
//! join around `clone`, clones, and talks to the child over a [`Channel`]
//! until it reports `Ready` (init) or `execve`s (exec).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxNamespaceType};

use super::InitStdio;
use crate::channel::{Channel, Message};
use crate::config::{InitConfig, ProcessConfig, clone_flag, proc_ns_name};
use crate::error::{Error, InitStep, ProtocolError};
use crate::init::{ChildFds, exec_main, init_main};
use crate::seccomp::BpfProgram;

/// Refuses to `clone` from a multi-threaded process (see the module docs
/// of `container`).
pub(super) fn ensure_single_threaded() -> Result<(), Error> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(|e| Error::io("list threads in", "/proc/self/task", e))?
        .count();
    if threads > 1 {
        return Err(Error::sys(
            format!(
                "clone container process: the runtime has {threads} threads and must be single-threaded"
            ),
            Errno::EINVAL,
        ));
    }
    Ok(())
}

/// `clone(2)` without a new stack: fork semantics plus namespace flags.
/// Returns `None` in the child.
///
/// # Safety
/// The caller must be single-threaded; the child must end in `execve` or
/// `_exit`.
unsafe fn raw_clone(flags: CloneFlags) -> Result<Option<Pid>, Errno> {
    // SAFETY: x86_64/aarch64 clone(flags, newsp=0, ptid, ctid, tls): with
    // no new stack the child continues on a copy of ours, like fork(2).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        r if r < 0 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Enters the PID namespace at `path` for our children, and back on drop.
struct PidNsSwitch {
    own: OwnedFd,
}

impl PidNsSwitch {
    fn enter(path: &Path) -> Result<PidNsSwitch, Error> {
        let own = open(
            "/proc/self/ns/pid",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys("open /proc/self/ns/pid", e))?;
        let target = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(format!("open pid namespace {}", path.display()), e))?;
        nix::sched::setns(&target, CloneFlags::CLONE_NEWPID)
            .map_err(|e| Error::sys(format!("join pid namespace {}", path.display()), e))?;
        Ok(PidNsSwitch { own })
    }
}

impl Drop for PidNsSwitch {
    fn drop(&mut self) {
        // Returning to our own active namespace is always allowed.
        let _ = nix::sched::setns(&self.own, CloneFlags::CLONE_NEWPID);
    }
}

/// A namespace the child joins with `setns`, opened by the runtime (the
/// child may no longer see the path once it has joined others).
pub(super) struct JoinedNamespace {
    kind: LinuxNamespaceType,
    path: PathBuf,
    fd: OwnedFd,
}

impl JoinedNamespace {
    /// Opens the namespace at `path`.
    pub(super) fn open(kind: LinuxNamespaceType, path: PathBuf) -> Result<JoinedNamespace, Error> {
        let fd = open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(format!("open namespace {}", path.display()), e))?;
        Ok(JoinedNamespace { kind, path, fd })
    }

    /// What the child needs to join it and to name it in an error.
    fn for_child(&self) -> (CloneFlags, BorrowedFd<'_>, InitStep) {
        (
            clone_flag(self.kind),
            self.fd.as_fd(),
            InitStep::JoinNamespace {
                kind: proc_ns_name(self.kind).into(),
                path: self.path.clone(),
            },
        )
    }
}

/// Compiles the spec's seccomp profile into a program the child can load
/// without allocating; `source` names where the profile came from.
pub(super) fn seccomp_program(linux: &Linux, source: &Path) -> Result<Option<BpfProgram>, Error> {
    linux
        .seccomp()
        .as_ref()
        .map(|profile| crate::seccomp::compile(profile)?.program())
        .transpose()
        .map_err(|source_error| Error::Seccomp {
            path: source.to_path_buf(),
            source: source_error,
        })
}

/// Connects to the console socket when the process wants a terminal;
/// `source` names where `process.terminal` came from, for the error.
pub(super) fn connect_console(
    path: Option<&Path>,
    terminal: bool,
    source: &Path,
) -> Result<Option<UnixStream>, Error> {
    match (terminal, path) {
        (false, _) => Ok(None),
        (true, None) => Err(Error::InvalidConfig {
            path: source.to_path_buf(),
            reason: "process.terminal is true but no console socket was given".into(),
        }),
        (true, Some(path)) => UnixStream::connect(path)
            .map(Some)
            .map_err(|e| Error::io("connect to console socket", path, e)),
    }
}

/// The fds that become the child's 0, 1, 2, unless it inherits ours.
fn stdio_fds(stdio: &InitStdio) -> Option<[BorrowedFd<'_>; 3]> {
    match stdio {
        InitStdio::Inherit => None,
        InitStdio::Fds {
            stdin,
            stdout,
            stderr,
        } => Some([stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]),
    }
}

/// Waits for the child's verdict on the channel: `Ready` from init, the
/// channel closing (its `execve`) from an exec'd process.
pub(super) fn await_child(chan: &Channel, pid: Pid, expect_ready: bool) -> Result<(), Error> {
    match chan.recv().map_err(Error::Protocol)? {
        Some(Message::Ready) if expect_ready => Ok(()),
        None if !expect_ready => Ok(()),
        Some(Message::Failed {
            step,
            errno,
            detail,
        }) => Err(Error::Init {
            step,
            errno: Errno::from_raw(errno),
            detail,
        }),
        None => Err(Error::InitVanished {
            pid: pid.as_raw(),
            expected: "ready",
        }),
        Some(other) => Err(Error::Protocol(ProtocolError::Unexpected {
            message: format!("{other:?}"),
        })),
    }
}

/// Which process is cloned and what it runs.
pub(super) enum Child<'a> {
    /// Container init: sets up the container, then blocks on the exec
    /// FIFO until `start`.
    Init {
        /// Everything init does, in data.
        cfg: &'a InitConfig,
        /// `O_PATH` fd of the exec FIFO.
        fifo: BorrowedFd<'a>,
    },
    /// A process joining a running container.
    Exec {
        /// The process to run.
        process: &'a ProcessConfig,
    },
}

/// One `clone` of a container process, with everything the child is
/// handed (all opened by the runtime beforehand).
pub(super) struct Spawn<'a> {
    /// The child and its configuration.
    pub child: Child<'a>,
    /// Namespaces `clone` creates.
    pub clone_flags: CloneFlags,
    /// A PID namespace the child is born into (entered around `clone`,
    /// because `setns` on a PID namespace only affects later children).
    pub pid_ns: Option<&'a Path>,
    /// Namespaces the child joins with `setns`, in order.
    pub namespaces: Vec<JoinedNamespace>,
    /// The child's stdio.
    pub stdio: &'a InitStdio,
    /// The connected console socket of a terminal process.
    pub console: Option<UnixStream>,
    /// The seccomp program the child loads.
    pub seccomp: Option<BpfProgram>,
    /// Open cgroup v1 `tasks` files the child writes `0` to, moving
    /// itself into the container's cgroup before anything else
    /// ([`berth_cgroups::CgroupManager::self_join_files`]); empty when the
    /// runtime moves it (`add_task`) instead.
    pub cgroup_tasks: &'a [(OwnedFd, PathBuf)],
}

impl Spawn<'_> {
    /// Clones the child and returns its pid and the runtime's end of the
    /// channel; the runtime's copies of the namespace and console fds are
    /// closed on return. The caller must be single-threaded (checked by
    /// [`ensure_single_threaded`] beforehand) and reaps the child.
    pub(super) fn clone_child(self) -> Result<(Pid, Channel), Error> {
        let (init, what) = match self.child {
            Child::Init { .. } => (true, "init"),
            Child::Exec { .. } => (false, "exec"),
        };
        let (parent_chan, child_chan) =
            Channel::pair().map_err(|e| Error::sys(format!("create {what} socketpair"), e))?;
        let last_cap = crate::capabilities::last_cap();
        let pid_switch = self.pid_ns.map(PidNsSwitch::enter).transpose()?;
        // SAFETY: the caller is single-threaded (checked by the caller);
        // the child ends in execve or _exit (init_main and exec_main never
        // return).
        let cloned = unsafe { raw_clone(self.clone_flags) };
        if let Ok(None) = cloned {
            drop(parent_chan);
            let fds = ChildFds {
                stdio: stdio_fds(self.stdio),
                console: self.console.as_ref().map(|c| c.as_fd()),
                namespaces: self
                    .namespaces
                    .iter()
                    .map(JoinedNamespace::for_child)
                    .collect(),
                fifo: match self.child {
                    Child::Init { fifo, .. } => Some(fifo),
                    Child::Exec { .. } => None,
                },
                last_cap,
                cgroup_tasks: self
                    .cgroup_tasks
                    .iter()
                    .map(|(fd, path)| (fd.as_fd(), path.as_path()))
                    .collect(),
            };
            match self.child {
                Child::Init { cfg, .. } => init_main(cfg, child_chan, fds, self.seccomp),
                Child::Exec { process } => exec_main(process, child_chan, fds, self.seccomp),
            }
        }
        drop(pid_switch);
        match cloned {
            Ok(Some(pid)) => Ok((pid, parent_chan)),
            Err(e) if init => Err(Error::sys("clone container init", e)),
            Err(e) => Err(Error::sys("clone exec process", e)),
            Ok(None) => unreachable!("the child never gets here"),
        }
    }
}
