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
//!
//! Layout: `create` and `exec` each in their own module, sharing the
//! `clone` machinery of `spawn`; the operations on an existing container
//! here.

mod create;
mod exec;
mod spawn;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_cgroups::{
    AnyCgroupManager, CgroupManager, CgroupSetup, CgroupsPath, FreezerState, OwnCgroups, Stats,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::error::Error;
use crate::state::{EXEC_FIFO, Record, State, Status, proc_stat};

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
    /// The seccomp program of its execs, once compiled (`exec`).
    exec_seccomp: std::cell::OnceCell<Option<crate::seccomp::BpfProgram>>,
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

impl Container {
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
            exec_seccomp: std::cell::OnceCell::new(),
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
