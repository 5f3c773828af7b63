//! The shim's seam to the container runtime: create, start, signal, freeze,
//! count OOM kills, delete. The delivered shim uses libcontainer
//! ([`Libcontainer`]); unit tests of the monitor loop use a plain child
//! process (`tests::ProcessOps`), which needs no root.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_libcontainer::console::ConsoleSocket;
use berth_libcontainer::{Container, CreateOptions, InitStdio};
use berth_shim::protocol::ExecProcess;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// A failed container operation. The shim passes the message on to berthd
/// verbatim (the docker CLI inspects it, e.g. for "executable file not
/// found"), so causes are part of the message rather than `source`s.
#[derive(Debug, thiserror::Error)]
pub enum ContainerOpsError {
    /// The container runtime failed: its error and their sources, flattened
    /// to one line as the runtime worded them.
    #[error("{0}")]
    Runtime(String),
    /// A file the shim hands to the runtime could not be opened.
    #[error("open {}: {error}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// An operation on a container that was never created (or is deleted).
    #[error("the container does not exist")]
    NoContainer,
    /// Container init exited before `create` returned its pid.
    #[error("container init died during create")]
    InitDiedDuringCreate,
}

impl ContainerOpsError {
    /// Flattens a runtime error and its sources into one line.
    pub fn from_chain(err: &(dyn std::error::Error + 'static)) -> ContainerOpsError {
        ContainerOpsError::Runtime(berth_shim::protocol::error_chain(err))
    }
}

/// The container's stdio as the monitor hands it to the runtime.
#[derive(Debug)]
pub enum InitIo {
    /// Pipes (or /dev/null) that become init's 0, 1, 2.
    Pipes {
        /// Becomes fd 0.
        stdin: OwnedFd,
        /// Becomes fd 1.
        stdout: OwnedFd,
        /// Becomes fd 2.
        stderr: OwnedFd,
    },
    /// A pseudo-terminal: the runtime returns its master.
    Tty,
}

/// A created container.
#[derive(Debug)]
pub struct Created {
    /// Host pid of init; the shim is its parent.
    pub pid: Pid,
    /// The pty master, for [`InitIo::Tty`].
    pub console: Option<OwnedFd>,
}

/// What the monitor needs from a container runtime.
pub trait ContainerOps {
    /// Creates the container; init waits for [`ContainerOps::start`].
    fn create(&mut self, io: InitIo) -> Result<Created, ContainerOpsError>;
    /// Lets init execute the user process.
    fn start(&mut self) -> Result<(), ContainerOpsError>;
    /// Runs `process` in the running container (`docker exec`) with `io`
    /// as its stdio; the shim becomes its parent and reaps it.
    fn exec(&mut self, process: &ExecProcess, io: InitIo) -> Result<Created, ContainerOpsError>;
    /// Signals init, or every process of the container.
    fn kill(&mut self, signal: Signal, all: bool) -> Result<(), ContainerOpsError>;
    /// Freezes the container.
    fn pause(&mut self) -> Result<(), ContainerOpsError>;
    /// Thaws the container.
    fn resume(&mut self) -> Result<(), ContainerOpsError>;
    /// How many processes the kernel's OOM killer has killed in the
    /// container so far.
    fn oom_kill_count(&mut self) -> Result<u64, ContainerOpsError>;
    /// Removes what is left of the container (processes, cgroup, state).
    fn delete(&mut self) -> Result<(), ContainerOpsError>;
}

/// The real runtime: berth's libcontainer, in this process.
pub struct Libcontainer {
    id: String,
    bundle: PathBuf,
    state_root: PathBuf,
    container: Option<Container>,
}

impl Libcontainer {
    /// A runtime for container `id` of `bundle`, keeping its state under
    /// `state_root`.
    pub fn new(id: String, bundle: PathBuf, state_root: PathBuf) -> Libcontainer {
        Libcontainer {
            id,
            bundle,
            state_root,
            container: None,
        }
    }

    fn container(&mut self) -> Result<&mut Container, ContainerOpsError> {
        self.container
            .as_mut()
            .ok_or(ContainerOpsError::NoContainer)
    }
}

fn lc(err: berth_libcontainer::Error) -> ContainerOpsError {
    ContainerOpsError::from_chain(&err)
}

/// Opens a directory as a path handle (`O_PATH`), to reach entries in it.
fn open_dir(path: &Path) -> Result<OwnedFd, ContainerOpsError> {
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|error| ContainerOpsError::Open {
            path: path.to_path_buf(),
            error,
        })
}

/// Where the console socket is bound, inside the bundle directory `dir`.
///
/// `sun_path` holds 108 bytes, and `BUNDLE/console.sock` under a long
/// `--exec-root` does not fit ("path must be shorter than SUN_LEN"), which
/// failed every TTY container there. Only this process binds and connects
/// to it (libcontainer connects while `create` runs here), so the socket is
/// reached through this process's handle on the directory, a path whose
/// length does not depend on the exec root.
///
/// [`wire_io`] gives the stdio of a new process (init or exec) and, for a
/// terminal, that socket (named `socket_name`) with the directory handle
/// first: bound first, it is dropped last, after the socket.
type WiredIo = (Option<OwnedFd>, InitStdio, Option<ConsoleSocket>);

fn wire_io(bundle: &Path, io: InitIo, socket_name: &str) -> Result<WiredIo, ContainerOpsError> {
    match io {
        InitIo::Pipes {
            stdin,
            stdout,
            stderr,
        } => Ok((
            None,
            InitStdio::Fds {
                stdin,
                stdout,
                stderr,
            },
            None,
        )),
        InitIo::Tty => {
            let dir = open_dir(bundle)?;
            let path = PathBuf::from(format!("/proc/self/fd/{}/{socket_name}", dir.as_raw_fd()));
            let _ = std::fs::remove_file(&path);
            let socket = ConsoleSocket::bind(&path).map_err(lc)?;
            Ok((
                Some(dir),
                InitStdio::Fds {
                    stdin: dev_null()?,
                    stdout: dev_null()?,
                    stderr: dev_null()?,
                },
                Some(socket),
            ))
        }
    }
}

fn dev_null() -> Result<OwnedFd, ContainerOpsError> {
    std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|error| ContainerOpsError::Open {
            path: PathBuf::from("/dev/null"),
            error,
        })
}

impl ContainerOps for Libcontainer {
    fn create(&mut self, io: InitIo) -> Result<Created, ContainerOpsError> {
        // A state directory left by a shim that was SIGKILLed would make
        // create fail with "already exists": remove it first, killing
        // whatever it still describes (its monitor is gone).
        if let Ok(stale) = Container::load(&self.state_root, &self.id) {
            stale.delete(true).map_err(lc)?;
        }
        // Declared first so that it outlives the console socket, whose path
        // goes through it.
        let (bundle_dir, stdio, console) = wire_io(&self.bundle, io, "console.sock")?;
        let container = Container::create(CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            state_root: self.state_root.clone(),
            stdio,
            console_socket: console.as_ref().map(|c| c.path().to_path_buf()),
            pid_file: None,
        })
        .map_err(lc)?;
        let pid = container.pid();
        self.container = Some(container);
        let pid = pid.ok_or(ContainerOpsError::InitDiedDuringCreate)?;
        // Init sent the master while `create` ran; the connection waits in
        // the socket's backlog.
        let console = match console {
            Some(socket) => Some(socket.accept_master().map_err(lc)?),
            None => None,
        };
        drop(bundle_dir);
        Ok(Created { pid, console })
    }

    fn start(&mut self) -> Result<(), ContainerOpsError> {
        self.container()?.start().map_err(lc)
    }

    fn exec(&mut self, process: &ExecProcess, io: InitIo) -> Result<Created, ContainerOpsError> {
        // As in `create`: the directory handle outlives the console socket
        // whose path goes through it. One exec is set up at a time (the
        // shim is single-threaded), so one socket name serves them all.
        let mut bundle_dir = None;
        let (stdio, console) = match io {
            InitIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => (
                InitStdio::Fds {
                    stdin,
                    stdout,
                    stderr,
                },
                None,
            ),
            InitIo::Tty => {
                let dir = open_dir(&self.bundle)?;
                let path = PathBuf::from(format!(
                    "/proc/self/fd/{}/exec-console.sock",
                    dir.as_raw_fd()
                ));
                let _ = std::fs::remove_file(&path);
                let socket = ConsoleSocket::bind(&path).map_err(lc)?;
                bundle_dir = Some(dir);
                (
                    InitStdio::Fds {
                        stdin: dev_null()?,
                        stdout: dev_null()?,
                        stderr: dev_null()?,
                    },
                    Some(socket),
                )
            }
        };
        let container = self.container()?;
        let pid = container
            .exec(process, stdio, console.as_ref().map(|c| c.path()))
            .map_err(lc)?;
        let console = match console {
            Some(socket) => {
                let master = socket.accept_master().map_err(lc);
                let _ = std::fs::remove_file(socket.path());
                Some(master?)
            }
            None => None,
        };
        drop(bundle_dir);
        Ok(Created { pid, console })
    }

    fn kill(&mut self, signal: Signal, all: bool) -> Result<(), ContainerOpsError> {
        self.container()?.kill(signal, all).map_err(lc)
    }

    fn pause(&mut self) -> Result<(), ContainerOpsError> {
        self.container()?.pause().map_err(lc)
    }

    fn resume(&mut self) -> Result<(), ContainerOpsError> {
        self.container()?.resume().map_err(lc)
    }

    fn oom_kill_count(&mut self) -> Result<u64, ContainerOpsError> {
        self.container()?.oom_kill_count().map_err(lc)
    }

    fn delete(&mut self) -> Result<(), ContainerOpsError> {
        match self.container.take() {
            // Init has been reaped; `force` also sweeps processes that
            // outlived it (none can, in a pid namespace, but be thorough).
            Some(container) => container.delete(true).map_err(lc),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
pub mod tests {
    //! A runtime without isolation for unit tests: init is a plain child
    //! that waits on a pipe until `start`, like libcontainer's exec fifo.

    use std::io::Write;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    use super::{ContainerOps, ContainerOpsError, Created, InitIo};

    /// Gives `command` the stdio of `io`: the pipes as they are, or a new
    /// pty (of `size` rows and columns, set before the child runs, as
    /// libcontainer's child sets it) with its slave on all three; returns
    /// the pty's master. The child still has to make the pty its
    /// controlling terminal.
    fn wire_stdio(
        command: &mut Command,
        io: InitIo,
        size: Option<(u16, u16)>,
    ) -> Result<Option<OwnedFd>, ContainerOpsError> {
        match io {
            InitIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                command
                    .stdin(Stdio::from(stdin))
                    .stdout(Stdio::from(stdout))
                    .stderr(Stdio::from(stderr));
                Ok(None)
            }
            InitIo::Tty => {
                let winsize = size.map(|(rows, cols)| nix::pty::Winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                });
                let pty = nix::pty::openpty(winsize.as_ref(), None)
                    .map_err(|e| ContainerOpsError::Runtime(e.to_string()))?;
                let slave: OwnedFd = pty.slave;
                let dup = |fd: &OwnedFd| {
                    fd.try_clone()
                        .map_err(|e| ContainerOpsError::Runtime(e.to_string()))
                };
                command
                    .stdin(Stdio::from(dup(&slave)?))
                    .stdout(Stdio::from(dup(&slave)?))
                    .stderr(Stdio::from(slave));
                Ok(Some(pty.master))
            }
        }
    }

    /// Runs `argv` as the "container".
    pub struct ProcessOps {
        argv: Vec<String>,
        pid: Option<Pid>,
        gate: Option<std::fs::File>,
        /// What `oom_kill_count` reports.
        pub oom_kills: u64,
    }

    impl ProcessOps {
        pub fn new(argv: &[&str]) -> ProcessOps {
            ProcessOps {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                pid: None,
                gate: None,
                oom_kills: 0,
            }
        }
    }

    impl ContainerOps for ProcessOps {
        fn create(&mut self, io: InitIo) -> Result<Created, ContainerOpsError> {
            let program = std::path::Path::new(&self.argv[0]);
            if program.is_absolute() && !program.exists() {
                return Err(ContainerOpsError::Runtime(format!(
                    "exec {:?}: no such file or directory",
                    self.argv[0]
                )));
            }
            let (gate_r, gate_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| ContainerOpsError::Runtime(e.to_string()))?;
            // `spawn` returns once the child has exec'd, so the child cannot
            // block before exec: a shell waits on the gate (fd 3) instead,
            // then execs the "container" process.
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg("read _ <&3; exec 3<&-; exec \"$@\"")
                .arg("sh")
                .args(&self.argv);
            let console = wire_stdio(&mut command, io, None)?;
            let gate_fd = gate_r.as_raw_fd();
            let tty = console.is_some();
            // SAFETY: only async-signal-safe calls (setsid, ioctl, dup2) run
            // between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    if tty {
                        libc::setsid();
                        libc::ioctl(0, libc::TIOCSCTTY, 0);
                    }
                    if libc::dup2(gate_fd, 3) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = command
                .spawn()
                .map_err(|e| ContainerOpsError::Runtime(format!("exec {:?}: {e}", self.argv[0])))?;
            drop(gate_r);
            let pid = Pid::from_raw(child.id() as i32);
            self.pid = Some(pid);
            self.gate = Some(std::fs::File::from(gate_w));
            Ok(Created { pid, console })
        }

        fn start(&mut self) -> Result<(), ContainerOpsError> {
            let mut gate = self
                .gate
                .take()
                .ok_or_else(|| ContainerOpsError::Runtime("already started".to_owned()))?;
            gate.write_all(b"go\n")
                .map_err(|e| ContainerOpsError::Runtime(e.to_string()))
        }

        fn exec(
            &mut self,
            process: &berth_shim::protocol::ExecProcess,
            io: InitIo,
        ) -> Result<Created, ContainerOpsError> {
            let argv = process.args().clone().unwrap_or_default();
            let Some(program) = argv.first() else {
                return Err(ContainerOpsError::Runtime("no args".to_owned()));
            };
            let mut command = Command::new(program);
            command.args(&argv[1..]).env_clear();
            for var in process.env().iter().flatten() {
                if let Some((k, v)) = var.split_once('=') {
                    command.env(k, v);
                }
            }
            command.current_dir(process.cwd());
            let size = process.console_size().as_ref().map(|b| {
                let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
                (clamp(b.height()), clamp(b.width()))
            });
            let console = wire_stdio(&mut command, io, size)?;
            if console.is_some() {
                // SAFETY: only async-signal-safe calls (setsid, ioctl) run
                // between fork and exec.
                unsafe {
                    command.pre_exec(|| {
                        libc::setsid();
                        libc::ioctl(0, libc::TIOCSCTTY, 0);
                        Ok(())
                    });
                }
            }
            let child = command
                .spawn()
                .map_err(|e| ContainerOpsError::Runtime(format!("exec {program:?}: {e}")))?;
            Ok(Created {
                pid: Pid::from_raw(child.id() as i32),
                console,
            })
        }

        fn kill(&mut self, signal: Signal, _all: bool) -> Result<(), ContainerOpsError> {
            let pid = self
                .pid
                .ok_or_else(|| ContainerOpsError::Runtime("no process".to_owned()))?;
            kill(pid, signal).map_err(|e| ContainerOpsError::Runtime(e.to_string()))
        }

        fn pause(&mut self) -> Result<(), ContainerOpsError> {
            self.kill(Signal::SIGSTOP, false)
        }

        fn resume(&mut self) -> Result<(), ContainerOpsError> {
            self.kill(Signal::SIGCONT, false)
        }

        fn oom_kill_count(&mut self) -> Result<u64, ContainerOpsError> {
            Ok(self.oom_kills)
        }

        fn delete(&mut self) -> Result<(), ContainerOpsError> {
            Ok(())
        }
    }
}
