//! The container lifecycle: create, start, state, kill, pause, resume,
//! exec, delete (OCI runtime spec, "Operations").
//!
//! # Process model
//!
//! [`Container::create`] and [`Container::exec`] `clone` the calling
//! process. **The caller must be single-threaded** (berth-runc, berth-shim):
//! forking a multi-threaded process and running Rust code in the child is
//! undefined behaviour (another thread may hold the allocator's lock).
//! Both check this and refuse otherwise. The caller becomes the parent of
//! the new process and is responsible for reaping it (`waitpid`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_cgroups::{
    AnyCgroupManager, CgroupManager, CgroupSetup, CgroupsPath, FreezerState, OwnCgroups, Stats,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxNamespaceType, Process, Spec};

use crate::bundle::{Bundle, validate_process};
use crate::channel::{Channel, Message};
use crate::config::{InitConfig, ProcessConfig, clone_flag, proc_ns_name};
use crate::error::{Error, InitStep, ProtocolError};
use crate::init::{ChildFds, exec_main, init_main};
use crate::seccomp::BpfProgram;
use crate::state::{EXEC_FIFO, Record, State, Status, now_rfc3339, proc_stat, write_pid_file};

/// Where the container's stdio comes from.
#[derive(Debug, Default)]
pub enum InitStdio {
    /// The caller's own 0, 1, 2.
    #[default]
    Inherit,
    /// These fds become 0, 1, 2 (e.g. pipes owned by a shim). The runtime
    /// closes its copies once the process is set up.
    Fds {
        /// Becomes fd 0.
        stdin: OwnedFd,
        /// Becomes fd 1.
        stdout: OwnedFd,
        /// Becomes fd 2.
        stderr: OwnedFd,
    },
}

/// Arguments of [`Container::create`].
#[derive(Debug)]
pub struct CreateOptions {
    /// Container id: a non-empty name without `/` (it names the state
    /// directory).
    pub id: String,
    /// The OCI bundle directory.
    pub bundle: PathBuf,
    /// The state root (`--root`); the container's state goes to
    /// `<state_root>/<id>/`.
    pub state_root: PathBuf,
    /// stdio of init (ignored for 0..=2 when `process.terminal` is set).
    pub stdio: InitStdio,
    /// A Unix socket to send the pty master to (runc's protocol), required
    /// when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Where to write init's pid (atomically).
    pub pid_file: Option<PathBuf>,
}

/// A container known to a state root.
#[derive(Debug)]
pub struct Container {
    dir: PathBuf,
    record: Record,
    cgroup: AnyCgroupManager,
}

fn validate_id(id: &str) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidId {
        id: id.to_string(),
        reason,
    };
    if id.is_empty() {
        return Err(invalid("it is empty"));
    }
    if id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(invalid("it must not contain '/' or be '.' or '..'"));
    }
    if id.len() > 1024 {
        return Err(invalid("it is longer than 1024 bytes"));
    }
    Ok(())
}

/// Refuses to `clone` from a multi-threaded process (see the module docs).
fn ensure_single_threaded() -> Result<(), Error> {
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

/// Undoes a half-done create: kills and reaps init, removes the cgroup
/// and the state directory.
struct CreateGuard<'a> {
    dir: PathBuf,
    cgroup: Option<&'a AnyCgroupManager>,
    child: Option<Pid>,
    armed: bool,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.child {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cgroup) = self.cgroup
            && let Err(e) = cgroup.remove()
        {
            tracing::warn!(error = %e, "failed to remove cgroup of a failed create");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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
struct JoinedNamespace {
    kind: LinuxNamespaceType,
    path: PathBuf,
    fd: OwnedFd,
}

impl JoinedNamespace {
    fn open(kind: LinuxNamespaceType, path: PathBuf) -> Result<JoinedNamespace, Error> {
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
fn seccomp_program(linux: &Linux, source: &Path) -> Result<Option<BpfProgram>, Error> {
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
fn connect_console(
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

/// Waits for the child's verdict on the channel.
fn await_child(chan: &Channel, pid: Pid, expect_ready: bool) -> Result<(), Error> {
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

fn write_id_maps(pid: Pid, linux: &Linux) -> Result<(), Error> {
    for (file, maps) in [
        ("uid_map", linux.uid_mappings()),
        ("gid_map", linux.gid_mappings()),
    ] {
        let text: String = maps
            .iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, text).map_err(|e| Error::io("write id map", path, e))?;
    }
    Ok(())
}

impl Container {
    /// Creates the container: validates the bundle, creates the cgroup,
    /// clones init into its namespaces and returns once init has set
    /// everything up and waits for [`Container::start`] on the exec FIFO.
    ///
    /// On failure nothing is left behind (no process, cgroup or state
    /// directory) and a failure inside init is an [`Error::Init`] naming
    /// the step. The caller becomes init's parent (see module docs).
    pub fn create(opts: CreateOptions) -> Result<Container, Error> {
        validate_id(&opts.id)?;
        ensure_single_threaded()?;
        let bundle = Bundle::load(&opts.bundle)?;
        let spec = &bundle.spec;
        let cfg = InitConfig::from_bundle(&bundle, &opts.id);
        let config_path = bundle.dir.join("config.json");
        let no_linux = Linux::default();
        let linux = spec.linux().as_ref().unwrap_or(&no_linux);
        let seccomp = seccomp_program(linux, &config_path)?;
        let cgroups_path = linux
            .cgroups_path()
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/{}", opts.id)));
        let creator_cgroups = if cgroups_path.is_relative() {
            std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default()
        } else {
            String::new()
        };
        let cgroup = cgroup_manager(&opts.id, &cgroups_path, &creator_cgroups)?;
        let console = connect_console(
            opts.console_socket.as_deref(),
            cfg.process.terminal,
            &config_path,
        )?;

        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.state_root)
            .map_err(|e| Error::io("create state root", &opts.state_root, e))?;
        let dir = opts.state_root.join(&opts.id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists {
                    id: opts.id,
                    path: dir,
                });
            }
            Err(e) => return Err(Error::io("create state directory", dir, e)),
        }
        let mut guard = CreateGuard {
            dir: dir.clone(),
            cgroup: None,
            child: None,
            armed: true,
        };

        // The FIFO is writable by anyone so that init can still open it
        // after switching to an unprivileged user (runc uses 0622 too).
        let fifo_path = dir.join(EXEC_FIFO);
        nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
            .map_err(|e| Error::sys(format!("create exec fifo {}", fifo_path.display()), e))?;
        std::fs::set_permissions(&fifo_path, std::fs::Permissions::from_mode(0o622))
            .map_err(|e| Error::io("chmod", &fifo_path, e))?;
        let fifo = open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(format!("open exec fifo {}", fifo_path.display()), e))?;

        cgroup
            .create()
            .map_err(|source| cgroup_error(&opts.id, source))?;
        guard.cgroup = Some(&cgroup);
        if let Some(resources) = crate::config::resources_with_default_devices(spec) {
            cgroup
                .apply(&resources)
                .map_err(|source| cgroup_error(&opts.id, source))?;
        }

        let ns_fds = cfg
            .namespaces
            .join
            .iter()
            .map(|(kind, path)| JoinedNamespace::open(*kind, path.clone()))
            .collect::<Result<Vec<_>, Error>>()?;
        let (parent_chan, child_chan) =
            Channel::pair().map_err(|e| Error::sys("create init socketpair", e))?;
        let last_cap = crate::capabilities::last_cap();

        let pid_switch = cfg
            .namespaces
            .join_pid
            .as_deref()
            .map(PidNsSwitch::enter)
            .transpose()?;
        // SAFETY: single-threaded (checked above); the child ends in
        // execve or _exit (init_main never returns).
        let cloned = unsafe { raw_clone(cfg.namespaces.clone_flags) };
        if let Ok(None) = cloned {
            drop(parent_chan);
            let fds = ChildFds {
                stdio: stdio_fds(&opts.stdio),
                console: console.as_ref().map(|c| c.as_fd()),
                namespaces: ns_fds.iter().map(JoinedNamespace::for_child).collect(),
                fifo: Some(fifo.as_fd()),
                last_cap,
            };
            init_main(&cfg, child_chan, fds, seccomp)
        }
        drop(pid_switch);
        let pid = match cloned {
            Ok(Some(pid)) => pid,
            Err(e) => return Err(Error::sys("clone container init", e)),
            Ok(None) => unreachable!("the child never gets here"),
        };
        drop(child_chan);
        drop(ns_fds);
        drop(console);
        guard.child = Some(pid);

        if cfg.namespaces.new_user {
            write_id_maps(pid, linux)?;
        }
        cgroup
            .add_task(pid)
            .map_err(|source| cgroup_error(&opts.id, source))?;
        if parent_chan.send(&Message::Continue).is_err() {
            // The child is gone; its verdict (if any) is in the socket.
        }
        await_child(&parent_chan, pid, true)?;
        drop(opts.stdio);

        let (_, pid_start_time) = proc_stat(pid.as_raw()).ok_or(Error::InitVanished {
            pid: pid.as_raw(),
            expected: "its state to be recorded",
        })?;
        let record = Record {
            id: opts.id.clone(),
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            pid: pid.as_raw(),
            pid_start_time,
            created: now_rfc3339(),
            cgroups_path: cgroups_path.to_string_lossy().into_owned(),
            creator_cgroups,
            config: bundle.spec.clone(),
        };
        // OCI runtime spec: prestart (deprecated) and createRuntime hooks
        // run after the namespaces exist, before `create` returns.
        if let Some(hooks) = spec.hooks() {
            let state = record.to_state(Status::Created);
            crate::hooks::run(
                "prestart",
                hooks.prestart().as_deref().unwrap_or_default(),
                &state,
            )?;
            crate::hooks::run(
                "createRuntime",
                hooks.create_runtime().as_deref().unwrap_or_default(),
                &state,
            )?;
        }
        record.save(&dir)?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        guard.armed = false;
        drop(guard);
        Ok(Container {
            dir,
            record,
            cgroup,
        })
    }

    /// Loads the container `id` from `state_root`.
    pub fn load(state_root: &Path, id: &str) -> Result<Container, Error> {
        validate_id(id)?;
        let dir = state_root.join(id);
        if !dir.join(crate::state::STATE_FILE).exists() {
            return Err(Error::NotFound {
                id: id.to_string(),
                path: dir,
            });
        }
        let record = Record::load(&dir)?;
        let cgroup = cgroup_manager(id, Path::new(&record.cgroups_path), &record.creator_cgroups)?;
        Ok(Container {
            dir,
            record,
            cgroup,
        })
    }

    /// Ids of the containers under `state_root` (sorted).
    pub fn list(state_root: &Path) -> Result<Vec<String>, Error> {
        let entries = match std::fs::read_dir(state_root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list state root", state_root, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(crate::state::STATE_FILE).exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The bundle directory.
    pub fn bundle(&self) -> &Path {
        &self.record.bundle
    }

    /// The spec the container was created with.
    pub fn config(&self) -> &Spec {
        &self.record.config
    }

    /// The container's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The container's cgroup.
    pub fn cgroup(&self) -> &AnyCgroupManager {
        &self.cgroup
    }

    /// Init's pid as recorded at create, alive or not. For the caller of
    /// `create` (init's parent, which reaps it) this stays the right pid
    /// until it has waited for it, even if init already exited.
    pub fn init_pid(&self) -> Pid {
        Pid::from_raw(self.record.pid)
    }

    /// Init's pid while it lives (the recorded pid is checked against the
    /// process's start time, so a recycled pid is not mistaken for it).
    pub fn pid(&self) -> Option<Pid> {
        match proc_stat(self.record.pid) {
            Some((state, start))
                if start == self.record.pid_start_time && state != 'Z' && state != 'X' =>
            {
                Some(Pid::from_raw(self.record.pid))
            }
            _ => None,
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        if self.pid().is_none() {
            return Status::Stopped;
        }
        if self.dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        match self.cgroup.freezer_state() {
            Ok(FreezerState::Frozen) => Status::Paused,
            _ => Status::Running,
        }
    }

    /// The state as `berth-runc state` prints it.
    pub fn state(&self) -> Result<State, Error> {
        Ok(self.record.to_state(self.status()))
    }

    fn wrong_status(&self, status: Status, operation: &'static str) -> Error {
        Error::WrongStatus {
            id: self.record.id.clone(),
            status,
            operation,
        }
    }

    /// Lets init `execve` the user process (it is blocked on the exec
    /// FIFO until now). Fails if init died meanwhile.
    pub fn start(&mut self) -> Result<(), Error> {
        let status = self.status();
        if status != Status::Created {
            return Err(self.wrong_status(status, "start"));
        }
        let fifo_path = self.dir.join(EXEC_FIFO);
        // Non-blocking open never waits for a writer; poll tells when init
        // has opened its end and written, and the timeout lets us notice an
        // init that died instead.
        let fifo = open(
            &fifo_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("open exec fifo {}", fifo_path.display()), e))?;
        loop {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u16)) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll exec fifo", e)),
                Ok(0) => {
                    if self.pid().is_none() {
                        return Err(Error::InitVanished {
                            pid: self.record.pid,
                            expected: "start",
                        });
                    }
                }
                Ok(_) => {
                    let mut byte = [0u8; 1];
                    match nix::unistd::read(&fifo, &mut byte) {
                        Ok(1) => break,
                        Err(Errno::EAGAIN | Errno::EINTR) => continue,
                        Ok(_) | Err(_) => {
                            return Err(Error::InitVanished {
                                pid: self.record.pid,
                                expected: "start",
                            });
                        }
                    }
                }
            }
        }
        std::fs::remove_file(&fifo_path)
            .map_err(|e| Error::io("remove exec fifo", fifo_path, e))?;
        Ok(())
    }

    /// Sends `signal` to init, or with `all` to every process of the
    /// container's cgroup.
    pub fn kill(&self, signal: Signal, all: bool) -> Result<(), Error> {
        if !all {
            let not_running = || Error::NotRunning {
                id: self.record.id.clone(),
            };
            let Some(pid) = self.pid() else {
                return Err(not_running());
            };
            return match kill(pid, signal) {
                Ok(()) => Ok(()),
                Err(Errno::ESRCH) => Err(not_running()),
                Err(e) => Err(Error::sys(format!("send {signal} to {pid}"), e)),
            };
        }
        // Freeze first so that no process forks away from a SIGKILL sweep
        // (runc's signalAllProcesses does the same).
        let frozen = signal == Signal::SIGKILL && self.cgroup.freeze(FreezerState::Frozen).is_ok();
        let pids = self.processes();
        let result = pids.and_then(|pids| {
            for pid in pids {
                match kill(pid, signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(Error::sys(format!("send {signal} to {pid}"), e)),
                }
            }
            Ok(())
        });
        if frozen {
            let _ = self.cgroup.freeze(FreezerState::Thawed);
        }
        result
    }

    /// Freezes every process of the container.
    pub fn pause(&mut self) -> Result<(), Error> {
        let status = self.status();
        if status != Status::Running {
            return Err(self.wrong_status(status, "pause"));
        }
        self.cgroup
            .freeze(FreezerState::Frozen)
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// Thaws a paused container.
    pub fn resume(&mut self) -> Result<(), Error> {
        let status = self.status();
        if status != Status::Paused {
            return Err(self.wrong_status(status, "resume"));
        }
        self.cgroup
            .freeze(FreezerState::Thawed)
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// Applies new resource limits to a live container (`runc update`).
    /// Device rules are not changed here: containerd never sends them
    /// with an update, and resetting them would drop runc's defaults.
    pub fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), Error> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.wrong_status(status, "update"));
        }
        let mut resources = resources.clone();
        resources.set_devices(None);
        self.cgroup
            .apply(&resources)
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// The pids in the container's cgroup.
    pub fn processes(&self) -> Result<Vec<Pid>, Error> {
        self.cgroup
            .pids()
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// How many processes the OOM killer killed in the container.
    pub fn oom_kill_count(&self) -> Result<u64, Error> {
        self.cgroup
            .oom_kill_count()
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// Resource usage of the container.
    pub fn stats(&self) -> Result<Stats, Error> {
        self.cgroup
            .stats()
            .map_err(|source| cgroup_error(&self.record.id, source))
    }

    /// Removes the container: its processes (a created container's init
    /// is killed; a running or paused one only with `force`), its cgroup
    /// and its state directory.
    pub fn delete(self, force: bool) -> Result<(), Error> {
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created | Status::Creating => {
                self.kill(Signal::SIGKILL, true)?;
            }
            Status::Running | Status::Paused if force => {
                self.kill(Signal::SIGKILL, true)?;
                if status == Status::Paused {
                    // SIGKILL is only delivered to thawed tasks (v1 freezer).
                    let _ = self.cgroup.freeze(FreezerState::Thawed);
                }
            }
            Status::Running | Status::Paused => {
                return Err(self.wrong_status(status, "delete it without force"));
            }
        }
        self.wait_empty(Duration::from_secs(10));
        self.cgroup
            .remove()
            .map_err(|source| cgroup_error(&self.record.id, source))?;
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| Error::io("remove state directory", &self.dir, e))
    }

    /// Waits (bounded) until init is gone and the cgroup has no process.
    fn wait_empty(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            let empty = self.cgroup.pids().map(|p| p.is_empty()).unwrap_or(true);
            if empty && self.pid().is_none() {
                return;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Runs `process` in the container (its namespaces, cgroup, seccomp
    /// profile; the process's own user, capabilities and rlimits) and
    /// returns its pid once it has `execve`d. The caller is its parent.
    pub fn exec(
        &self,
        process: &Process,
        stdio: InitStdio,
        console_socket: Option<&Path>,
    ) -> Result<Pid, Error> {
        let status = self.status();
        if status != Status::Running && status != Status::Created {
            return Err(self.wrong_status(status, "exec"));
        }
        ensure_single_threaded()?;
        validate_process(process).map_err(|reason| Error::InvalidConfig {
            path: PathBuf::from("process"),
            reason,
        })?;
        let pcfg = ProcessConfig::from_process(process);
        let no_linux = Linux::default();
        let linux = self.record.config.linux().as_ref().unwrap_or(&no_linux);
        let seccomp = seccomp_program(linux, &self.dir.join(crate::state::STATE_FILE))?;
        let init = self
            .pid()
            .ok_or_else(|| self.wrong_status(Status::Stopped, "exec"))?;
        // Join init's namespaces: user first (it grants the rights for the
        // others), mount last (it changes our root).
        let mut kinds: Vec<LinuxNamespaceType> = linux
            .namespaces()
            .iter()
            .flatten()
            .map(|ns| ns.typ())
            .filter(|k| *k != LinuxNamespaceType::Pid)
            .collect();
        kinds.sort_by_key(|k| match k {
            LinuxNamespaceType::User => 0,
            LinuxNamespaceType::Mount => 2,
            _ => 1,
        });
        let ns_fds = kinds
            .into_iter()
            .map(|kind| {
                let path = PathBuf::from(format!("/proc/{init}/ns/{}", proc_ns_name(kind)));
                JoinedNamespace::open(kind, path)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let has_pid_ns = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|ns| ns.typ() == LinuxNamespaceType::Pid);
        let console = connect_console(console_socket, pcfg.terminal, Path::new("exec process"))?;
        let (parent_chan, child_chan) =
            Channel::pair().map_err(|e| Error::sys("create exec socketpair", e))?;
        let last_cap = crate::capabilities::last_cap();
        let pid_ns = PathBuf::from(format!("/proc/{init}/ns/pid"));
        let pid_switch = if has_pid_ns {
            Some(PidNsSwitch::enter(&pid_ns)?)
        } else {
            None
        };
        // SAFETY: single-threaded (checked above); exec_main never returns.
        let cloned = unsafe { raw_clone(CloneFlags::empty()) };
        if let Ok(None) = cloned {
            drop(parent_chan);
            let fds = ChildFds {
                stdio: stdio_fds(&stdio),
                console: console.as_ref().map(|c| c.as_fd()),
                namespaces: ns_fds.iter().map(JoinedNamespace::for_child).collect(),
                fifo: None,
                last_cap,
            };
            exec_main(&pcfg, child_chan, fds, seccomp)
        }
        drop(pid_switch);
        let pid = match cloned {
            Ok(Some(pid)) => pid,
            Err(e) => return Err(Error::sys("clone exec process", e)),
            Ok(None) => unreachable!("the child never gets here"),
        };
        drop(child_chan);
        drop(ns_fds);
        drop(console);
        let reap = |err: Error| {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            err
        };
        self.cgroup
            .add_task(pid)
            .map_err(|source| reap(cgroup_error(&self.record.id, source)))?;
        let _ = parent_chan.send(&Message::Continue);
        await_child(&parent_chan, pid, false).map_err(reap)?;
        Ok(pid)
    }
}

fn cgroup_manager(id: &str, path: &Path, creator_cgroups: &str) -> Result<AnyCgroupManager, Error> {
    let build = || {
        let setup = CgroupSetup::detect()?;
        let parsed = CgroupsPath::parse(&path.to_string_lossy())?;
        let own = if path.is_relative() {
            OwnCgroups::parse(creator_cgroups)?
        } else {
            OwnCgroups::default()
        };
        AnyCgroupManager::new(setup, &parsed, &own)
    };
    build().map_err(|source| cgroup_error(id, source))
}

fn cgroup_error(id: &str, source: berth_cgroups::CgroupError) -> Error {
    Error::Cgroup {
        id: id.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_escape_the_state_root_are_rejected() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        validate_id("abc-123_x.y").unwrap();
    }

    #[test]
    fn loading_an_unknown_container_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = Container::load(dir.path(), "nope").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn list_of_a_missing_root_is_empty() {
        assert!(
            Container::list(Path::new("/nonexistent/berth-root"))
                .unwrap()
                .is_empty()
        );
    }
}
