//! `Container::exec`: a process joins a running container (`runc exec`).

use std::path::{Path, PathBuf};

use berth_cgroups::CgroupManager;
use nix::fcntl::{OFlag, open};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxNamespaceType, Process};

use super::spawn::{
    Child, JoinedNamespace, Spawn, await_child, connect_console, ensure_single_threaded,
    seccomp_program,
};
use super::{Container, InitStdio, cgroup_error};
use crate::bundle::validate_process;
use crate::channel::Message;
use crate::config::{ProcessConfig, proc_ns_name};
use crate::error::Error;
use crate::seccomp::BpfProgram;
use crate::state::Status;

impl Container {
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
            reason: reason.to_string(),
        })?;
        let pcfg = ProcessConfig::from_process(process);
        let no_linux = Linux::default();
        let linux = self.record.config.linux().as_ref().unwrap_or(&no_linux);
        let seccomp = self.exec_seccomp(linux)?;
        let init = self
            .pid()
            .ok_or_else(|| self.wrong_status(Status::Stopped, "exec"))?;
        let namespaces = open_init_namespaces(linux, init)?;
        let has_pid_ns = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|ns| ns.typ() == LinuxNamespaceType::Pid);
        let console = connect_console(console_socket, pcfg.terminal, Path::new("exec process"))?;
        let pid_ns = PathBuf::from(format!("/proc/{init}/ns/pid"));
        let cgroup_tasks = match self.cgroup.self_join_files() {
            Some(files) => files
                .into_iter()
                .map(|path| {
                    open(&path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
                        .map(|fd| (fd, path.clone()))
                        .map_err(|e| Error::sys(format!("open {}", path.display()), e))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let (pid, chan) = Spawn {
            child: Child::Exec { process: &pcfg },
            clone_flags: CloneFlags::empty(),
            pid_ns: has_pid_ns.then_some(pid_ns.as_path()),
            namespaces,
            stdio: &stdio,
            console,
            seccomp,
            cgroup_tasks: &cgroup_tasks,
        }
        .clone_child()?;
        let reap = |err: Error| {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            err
        };
        // Where the child cannot move itself (v2), it is moved by pid.
        if cgroup_tasks.is_empty() {
            self.cgroup
                .add_task(pid)
                .map_err(|source| reap(cgroup_error(&self.record.id, source)))?;
        }
        let _ = chan.send(&Message::Continue);
        await_child(&chan, pid, false).map_err(reap)?;
        Ok(pid)
    }

    /// The container's seccomp program for an exec: compiled by libseccomp
    /// on the first exec and kept, since the profile is the container's
    /// and does not change (a compile costs milliseconds each exec).
    fn exec_seccomp(&self, linux: &Linux) -> Result<Option<BpfProgram>, Error> {
        if let Some(program) = self.exec_seccomp.get() {
            return Ok(program.clone());
        }
        let program = seccomp_program(linux, &self.dir.join(crate::state::STATE_FILE))?;
        Ok(self.exec_seccomp.get_or_init(|| program).clone())
    }
}

/// Opens init's namespaces (but the PID namespace, which the runtime
/// enters around `clone`) in the order the child joins them: user first
/// (it grants the rights for the others), mount last (it changes the
/// root).
fn open_init_namespaces(linux: &Linux, init: Pid) -> Result<Vec<JoinedNamespace>, Error> {
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
    kinds
        .into_iter()
        .map(|kind| {
            let path = PathBuf::from(format!("/proc/{init}/ns/{}", proc_ns_name(kind)));
            JoinedNamespace::open(kind, path)
        })
        .collect()
}
