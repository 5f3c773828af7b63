//! `Container::create`: a validated bundle becomes a created container
//! whose init waits on the exec FIFO (OCI runtime spec, "create").

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_cgroups::{AnyCgroupManager, CgroupManager};
use nix::fcntl::{OFlag, open};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, Spec};

use super::spawn::{
    Child, JoinedNamespace, Spawn, await_child, connect_console, ensure_single_threaded,
    seccomp_program,
};
use super::{Container, CreateOptions, cgroup_error, cgroup_manager, validate_id};
use crate::bundle::Bundle;
use crate::channel::{Channel, Message};
use crate::config::InitConfig;
use crate::error::Error;
use crate::state::{EXEC_FIFO, Record, Status, now_rfc3339, proc_stat, write_pid_file};

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

impl Container {
    /// Creates the container: validates the bundle, creates the cgroup,
    /// clones init into its namespaces and returns once init has set
    /// everything up and waits for [`Container::start`] on the exec FIFO.
    ///
    /// On failure nothing is left behind (no process, cgroup or state
    /// directory) and a failure inside init is an [`Error::Init`] naming
    /// the step. The caller becomes init's parent (see the crate docs).
    pub fn create(opts: CreateOptions) -> Result<Container, Error> {
        validate_id(&opts.id)?;
        ensure_single_threaded()?;
        // Everything that can be refused is checked before anything is
        // created.
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

        // From here on the guard undoes what is done if a step fails: state
        // directory → exec FIFO → cgroup → clone init → release it.
        let dir = create_state_dir(&opts.state_root, &opts.id)?;
        let mut guard = CreateGuard {
            dir: dir.clone(),
            cgroup: None,
            child: None,
            armed: true,
        };
        let fifo = make_exec_fifo(&dir)?;
        cgroup
            .create()
            .map_err(|source| cgroup_error(&opts.id, source))?;
        guard.cgroup = Some(&cgroup);
        apply_resources(&cgroup, spec, &opts.id)?;

        let namespaces = cfg
            .namespaces
            .join
            .iter()
            .map(|(kind, path)| JoinedNamespace::open(*kind, path.clone()))
            .collect::<Result<Vec<_>, Error>>()?;
        let (pid, chan) = Spawn {
            child: Child::Init {
                cfg: &cfg,
                fifo: fifo.as_fd(),
            },
            clone_flags: cfg.namespaces.clone_flags,
            pid_ns: cfg.namespaces.join_pid.as_deref(),
            namespaces,
            stdio: &opts.stdio,
            console,
            seccomp,
            cgroup_tasks: &[],
        }
        .clone_child()?;
        guard.child = Some(pid);
        release_init(pid, &chan, &cfg, linux, &cgroup, &opts.id)?;
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
        run_create_hooks(spec, &record)?;
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
            exec_seccomp: std::cell::OnceCell::new(),
        })
    }
}

/// Creates the state root if needed and the container's own state
/// directory, which must not exist yet.
fn create_state_dir(state_root: &Path, id: &str) -> Result<PathBuf, Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_root)
        .map_err(|e| Error::io("create state root", state_root, e))?;
    let dir = state_root.join(id);
    match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
            id: id.to_string(),
            path: dir,
        }),
        Err(e) => Err(Error::io("create state directory", dir, e)),
    }
}

/// Creates the exec FIFO init blocks on until `start`, and opens it
/// `O_PATH` for init.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd, Error> {
    // The FIFO is writable by anyone so that init can still open it
    // after switching to an unprivileged user (runc uses 0622 too).
    let fifo_path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::sys(format!("create exec fifo {}", fifo_path.display()), e))?;
    std::fs::set_permissions(&fifo_path, std::fs::Permissions::from_mode(0o622))
        .map_err(|e| Error::io("chmod", &fifo_path, e))?;
    open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys(format!("open exec fifo {}", fifo_path.display()), e))
}

/// Applies the spec's resources, with runc's default device rules, to the
/// new cgroup.
fn apply_resources(cgroup: &AnyCgroupManager, spec: &Spec, id: &str) -> Result<(), Error> {
    match crate::config::resources_with_default_devices(spec) {
        Some(resources) => cgroup
            .apply(&resources)
            .map_err(|source| cgroup_error(id, source)),
        None => Ok(()),
    }
}

/// The parent's half of init's setup, in the order init waits for it:
/// the id maps of a new user namespace, then init into the cgroup, then
/// `Continue`; returns once init reports `Ready`.
fn release_init(
    pid: Pid,
    chan: &Channel,
    cfg: &InitConfig,
    linux: &Linux,
    cgroup: &AnyCgroupManager,
    id: &str,
) -> Result<(), Error> {
    if cfg.namespaces.new_user {
        write_id_maps(pid, linux)?;
    }
    cgroup
        .add_task(pid)
        .map_err(|source| cgroup_error(id, source))?;
    if chan.send(&Message::Continue).is_err() {
        // The child is gone; its verdict (if any) is in the socket.
    }
    await_child(chan, pid, true)
}

/// Writes `uid_map` and `gid_map` of init's new user namespace.
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

/// Runs the hooks that belong to create (OCI runtime spec: prestart,
/// deprecated, and createRuntime run after the namespaces exist, before
/// `create` returns).
fn run_create_hooks(spec: &Spec, record: &Record) -> Result<(), Error> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
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
    )
}
