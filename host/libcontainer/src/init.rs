//! The child side of `clone`: container init and exec'd processes.
//!
//! Runs in a copy of the (single-threaded) runtime right after `clone`,
//! straight-line, reporting the first failure over the channel as a
//! [`Message::Failed`] naming the step, then `_exit`ing. Order follows runc
//! (`standard_init_linux.go`, `setns_init_linux.go`) where it matters to the
//! result: seccomp without `noNewPrivileges` before capabilities are dropped
//! (it needs `CAP_SYS_ADMIN`), with it as the very last step before
//! `execve`; the executable is looked up before `Ready`, so that a missing
//! binary is a create-time error.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::channel::{Channel, Message};
use crate::config::{InitConfig, MountKind, ProcessConfig};
use crate::error::{InitStep, detail_suffix};
use crate::root::Root;
use crate::rootfs::{self, CgroupBind, StepContext, StepError};
use crate::seccomp::BpfProgram;
use crate::syscall::{LinuxSyscall, Source, Syscall, Target, io_errno};

/// File descriptors handed to the child (all opened by the runtime).
pub(crate) struct ChildFds<'a> {
    /// Replaces 0, 1, 2.
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
    /// Connected console socket (terminal processes).
    pub console: Option<BorrowedFd<'a>>,
    /// Namespaces to `setns` into, in order.
    pub namespaces: Vec<(CloneFlags, BorrowedFd<'a>, InitStep)>,
    /// `O_PATH` fd of the exec FIFO (init only).
    pub fifo: Option<BorrowedFd<'a>>,
    /// Highest capability number of the kernel.
    pub last_cap: u8,
    /// cgroup v1 `tasks` files to write `0` to (exec only; see
    /// `Spawn::cgroup_tasks`), with their paths for the error.
    pub cgroup_tasks: Vec<(BorrowedFd<'a>, &'a Path)>,
}

/// Entry point of container init. Never returns.
pub(crate) fn init_main(
    cfg: &InitConfig,
    chan: Channel,
    fds: ChildFds<'_>,
    seccomp: Option<BpfProgram>,
) -> ! {
    let Err(err) = init(cfg, &chan, &fds, seccomp);
    fail(&chan, err)
}

/// Entry point of an exec'd process. Never returns.
pub(crate) fn exec_main(
    process: &ProcessConfig,
    chan: Channel,
    fds: ChildFds<'_>,
    seccomp: Option<BpfProgram>,
) -> ! {
    let Err(err) = exec(process, &chan, &fds, seccomp);
    fail(&chan, err)
}

fn fail(chan: &Channel, err: StepError) -> ! {
    let sent = chan.send(&Message::Failed {
        step: err.step.clone(),
        errno: err.errno as i32,
        detail: err.detail.clone(),
    });
    if sent.is_err() {
        // Nobody listens any more (after `Ready`, `start` has the FIFO
        // only): stderr is all that is left, as with runc.
        eprintln!(
            "berth init: {}: {}{}",
            err.step,
            err.errno,
            detail_suffix(&err.detail)
        );
    }
    // SAFETY: _exit is always safe; no destructors or atexit handlers
    // of the runtime must run in this copy of it.
    unsafe { libc::_exit(1) }
}

/// The success type of the child's steps: they only return by failing
/// (success ends in `execve`).
enum Never {}

fn wait_for_parent(chan: &Channel) -> Result<(), StepError> {
    match chan.recv() {
        Ok(Some(Message::Continue)) => Ok(()),
        // The runtime died or gave up: nothing to report to.
        // SAFETY: _exit ends this copy of the runtime without running
        // any of its destructors.
        Ok(None) => unsafe { libc::_exit(1) },
        Ok(Some(other)) => Err(StepError::new(InitStep::SyncWithParent, Errno::EPROTO)
            .with_detail(format!("unexpected message {other:?}"))),
        Err(e) => {
            Err(StepError::new(InitStep::SyncWithParent, Errno::EPROTO).with_detail(e.to_string()))
        }
    }
}

/// Moves this (single-threaded) process into the container's cgroup by
/// writing `0` to each hierarchy's `tasks`: the kernel then moves the
/// calling thread without taking its global threadgroup lock, which a
/// move by pid waits an RCU grace period for (see
/// `berth_cgroups::CgroupManager::self_join_files`). Done first, while
/// still root in the host's namespaces, so that everything the process
/// does afterwards is charged to the container.
fn join_cgroup_self(fds: &ChildFds<'_>) -> Result<(), StepError> {
    for (fd, path) in &fds.cgroup_tasks {
        // SAFETY: write(2) of a 1-byte buffer to a valid fd.
        let written = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if written != 1 {
            return Err(StepError::new(
                InitStep::JoinCgroup {
                    path: path.to_path_buf(),
                },
                Errno::last(),
            ));
        }
    }
    Ok(())
}

fn join_namespaces(fds: &ChildFds<'_>) -> Result<(), StepError> {
    for (flag, fd, step) in &fds.namespaces {
        nix::sched::setns(fd, *flag).step(|| step.clone())?;
    }
    Ok(())
}

fn wire_stdio(fds: &ChildFds<'_>) -> Result<(), StepError> {
    let Some(stdio) = &fds.stdio else {
        return Ok(());
    };
    // Move the sources above 2 first: a source that is itself 0, 1 or 2
    // would otherwise be overwritten before it is copied.
    let mut high = [0 as RawFd; 3];
    for (slot, fd) in high.iter_mut().zip(stdio.iter()) {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a valid fd.
        let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            return Err(StepError::new(InitStep::Stdio, Errno::last()));
        }
        *slot = dup;
    }
    for (target, fd) in high.iter().enumerate() {
        // SAFETY: dup2 of a valid fd onto 0..=2 (the copy is not
        // close-on-exec); the temporary copies are closed at exec.
        if unsafe { libc::dup2(*fd, target as RawFd) } < 0 {
            return Err(StepError::new(InitStep::Stdio, Errno::last()));
        }
    }
    Ok(())
}

fn init(
    cfg: &InitConfig,
    chan: &Channel,
    fds: &ChildFds<'_>,
    mut seccomp: Option<BpfProgram>,
) -> Result<Never, StepError> {
    wait_for_parent(chan)?;
    join_namespaces(fds)?;
    if cfg.namespaces.enters_user() {
        become_root_in_userns()?;
    }
    join_session_keyring(&cfg.keyring)?;
    // The container's cgroups as seen from the host, read before a cgroup
    // namespace would hide the path.
    let needs_cgroups = cfg
        .rootfs
        .mounts
        .iter()
        .any(|m| m.kind == MountKind::Cgroup);
    let cgroup_binds = if needs_cgroups {
        read_cgroup_binds()
    } else {
        Vec::new()
    };
    if !cfg.namespaces.unshare.is_empty() {
        nix::sched::unshare(cfg.namespaces.unshare).step(|| InitStep::Unshare {
            kind: namespace_names(cfg.namespaces.unshare),
        })?;
    }
    nix::unistd::setsid().step(|| InitStep::Setsid)?;
    wire_stdio(fds)?;
    if let Some(value) = cfg.process.oom_score_adj {
        set_oom_score_adj(value)?;
    }
    // Device nodes and directories get exactly the modes asked for.
    nix::sys::stat::umask(Mode::empty());
    let sys = LinuxSyscall;
    rootfs::prepare(&sys, &cfg.rootfs, &cgroup_binds)?;
    // The container's root, now `/`: what follows is confined by the
    // kernel already, and still goes through the root handle (no magic
    // links, one resolver).
    let root = Root::open(Path::new("/")).step(|| InitStep::PivotRoot)?;
    // runc creates a missing cwd (rootfs_linux.go, createCwd) while the
    // root is still writable.
    if cfg.process.cwd != Path::new("/") {
        sys.mkdir_in(&root, &cfg.process.cwd)
            .step(|| InitStep::Chdir {
                path: cfg.process.cwd.clone(),
            })?;
    }
    if cfg.process.terminal {
        setup_console(fds, Some(&root), cfg.process.console_size)?;
    }
    if let Some(hostname) = &cfg.hostname {
        nix::unistd::sethostname(hostname).step(|| InitStep::Hostname)?;
    }
    if let Some(domainname) = &cfg.domainname {
        // SAFETY: pointer and length of a live buffer.
        let rc = unsafe { libc::setdomainname(domainname.as_ptr().cast(), domainname.len()) };
        if rc < 0 {
            return Err(StepError::new(InitStep::Domainname, Errno::last()));
        }
    }
    for (key, value) in &cfg.sysctls {
        std::fs::write(crate::mounts::sysctl_path(key), value)
            .map_err(|e| StepError::new(InitStep::Sysctl { key: key.clone() }, io_errno(e)))?;
    }
    rootfs::finalize(&sys, &root, &cfg.rootfs)?;
    let fifo = fds.fifo;
    finish(&cfg.process, fds, &mut seccomp, &mut || {
        chan.send(&Message::Ready)
            .step(|| InitStep::SyncWithParent)?;
        if let Some(fifo) = fifo {
            wait_for_start(fifo)?;
        }
        Ok(())
    })
}

fn exec(
    process: &ProcessConfig,
    chan: &Channel,
    fds: &ChildFds<'_>,
    mut seccomp: Option<BpfProgram>,
) -> Result<Never, StepError> {
    join_cgroup_self(fds)?;
    wait_for_parent(chan)?;
    join_namespaces(fds)?;
    if fds
        .namespaces
        .iter()
        .any(|(flag, _, _)| *flag == CloneFlags::CLONE_NEWUSER)
    {
        become_root_in_userns()?;
    }
    nix::unistd::setsid().step(|| InitStep::Setsid)?;
    wire_stdio(fds)?;
    if process.terminal {
        setup_console(fds, None, process.console_size)?;
    }
    finish(process, fds, &mut seccomp, &mut || Ok(()))
}

/// Gives the container its own session keyring, as runc does
/// (`_ses.<id>`), so that it does not share the runtime's (keyrings(7)).
/// The keyring is made usable by the container's user after the uid
/// switch: user view/read/write/search and possessor setattr, runc's
/// 0x080f0000.
fn join_session_keyring(name: &std::ffi::CStr) -> Result<(), StepError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    const KEYCTL_SETPERM: libc::c_int = 5;
    const KEYCTL_DESCRIBE: libc::c_int = 6;
    // SAFETY: keyctl with a NUL-terminated name.
    let id = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if id < 0 {
        return match Errno::last() {
            // No keyring support in this kernel: nothing to isolate.
            Errno::ENOSYS => Ok(()),
            e => Err(StepError::new(InitStep::SessionKeyring, e)),
        };
    }
    let mut desc = [0u8; 256];
    // SAFETY: keyctl writes at most desc.len() bytes into desc.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            id,
            desc.as_mut_ptr(),
            desc.len(),
        )
    };
    if n < 0 {
        return Err(StepError::new(InitStep::SessionKeyring, Errno::last()));
    }
    // "type;uid;gid;perm;description", perm in hex.
    let text = String::from_utf8_lossy(&desc[..(n as usize).min(desc.len())]);
    let perm = text
        .split(';')
        .nth(3)
        .and_then(|p| u32::from_str_radix(p, 16).ok())
        .ok_or_else(|| {
            StepError::new(InitStep::SessionKeyring, Errno::EINVAL)
                .with_detail(format!("keyring description {text:?}"))
        })?;
    // SAFETY: keyctl with integer arguments.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, perm | 0x080f_0000) } < 0 {
        return Err(StepError::new(InitStep::SessionKeyring, Errno::last()));
    }
    Ok(())
}

/// In a user namespace whose maps are written, act as its root
/// (user_namespaces(7): the ids of the creator are not mapped otherwise).
fn become_root_in_userns() -> Result<(), StepError> {
    let root_gid = Gid::from_raw(0);
    let root_uid = Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).step(|| InitStep::Setgid { gid: 0 })?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).step(|| InitStep::Setuid { uid: 0 })?;
    Ok(())
}

fn namespace_names(flags: CloneFlags) -> String {
    let names = [
        (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (CloneFlags::CLONE_NEWNS, "mnt"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWNET, "net"),
        (CloneFlags::CLONE_NEWUSER, "user"),
    ];
    names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn read_cgroup_binds() -> Vec<CgroupBind> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = berth_cgroups::cgroup_mounts(&mountinfo).unwrap_or_default();
    rootfs::cgroup_binds(&mounts, &own)
}

fn set_oom_score_adj(value: i32) -> Result<(), StepError> {
    let path = "/proc/self/oom_score_adj";
    let current = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if current == Some(value) {
        return Ok(());
    }
    std::fs::write(path, value.to_string()).map_err(|e| {
        let errno = io_errno(e);
        let mut err = StepError::new(InitStep::OomScoreAdj { value }, errno);
        if errno == Errno::EACCES || errno == Errno::EPERM {
            err = err.with_detail(format!(
                "lowering oom_score_adj below {} needs CAP_SYS_RESOURCE, which this runtime does not have",
                current.map_or_else(|| "its current value".to_string(), |c| c.to_string())
            ));
        }
        err
    })
}

/// Opens a pty in the container's devpts, sends the master to the
/// console socket and makes the slave the controlling terminal and stdio.
/// With `root` (container init), the pty is also bound onto `/dev/console`.
/// With `size`, the terminal has it before the process runs (runc's
/// `setupConsole` resizes the pty here too), so that a process that reads
/// its size at once does not see 0x0.
fn setup_console(
    fds: &ChildFds<'_>,
    root: Option<&Root>,
    size: Option<(u16, u16)>,
) -> Result<(), StepError> {
    let console = fds.console.ok_or_else(|| {
        StepError::new(InitStep::Console, Errno::EINVAL)
            .with_detail("process.terminal is set but no console socket was given")
    })?;
    let (master, slave_path, slave) = crate::console::open_pty().step(|| InitStep::Console)?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the winsize we pass; the fd is the
        // master just opened.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
            return Err(StepError::new(InitStep::Console, Errno::last()));
        }
    }
    if let Some(root) = root {
        // runc bind-mounts the pty onto /dev/console (rootfs_linux.go,
        // mountConsole) so that programs writing there reach the terminal;
        // both ends resolved in the root, the source being the pty just
        // opened in the container's devpts.
        LinuxSyscall
            .mount_in(
                root,
                Source::InRoot(&slave_path),
                Path::new("/dev/console"),
                Target::File,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .step(|| InitStep::Console)?;
    }
    crate::console::send_master(console.as_raw_fd(), master.as_raw_fd(), "/dev/ptmx")
        .step(|| InitStep::Console)?;
    drop(master);
    for target in 0..3 {
        // SAFETY: dup2 of a valid fd onto 0..=2.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(StepError::new(InitStep::Console, Errno::last()));
        }
    }
    // SAFETY: TIOCSCTTY with argument 0 on our own stdin.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(StepError::new(InitStep::Console, Errno::last()));
    }
    Ok(())
}

/// Blocks until `start` opens the FIFO for reading, then tells it we go.
/// The FIFO is reopened through `/proc/self/fd` because its path is not
/// reachable from inside the rootfs (runc does the same).
fn wait_for_start(fifo: BorrowedFd<'_>) -> Result<(), StepError> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = loop {
        match open(
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Err(Errno::EINTR) => continue,
            other => break other.step(|| InitStep::ExecFifo)?,
        }
    };
    nix::unistd::write(&fd, b"0").step(|| InitStep::ExecFifo)?;
    Ok(())
}

/// Common tail: rlimits, cwd, lookup, seccomp, user, capabilities,
/// no_new_privs, `before_exec` (init: `Ready` and the FIFO), execve.
fn finish(
    p: &ProcessConfig,
    fds: &ChildFds<'_>,
    seccomp: &mut Option<BpfProgram>,
    before_exec: &mut dyn FnMut() -> Result<(), StepError>,
) -> Result<Never, StepError> {
    nix::sys::stat::umask(Mode::from_bits_truncate(p.umask as libc::mode_t));
    for r in &p.rlimits {
        set_rlimit(r)?;
    }
    nix::unistd::chdir(&p.cwd).step(|| InitStep::Chdir {
        path: p.cwd.clone(),
    })?;
    let program = lookup(p)?;
    if !p.no_new_privs
        && let Some(filter) = seccomp.take()
    {
        filter.load().step(|| InitStep::Seccomp)?;
    }
    switch_user(p, fds.last_cap)?;
    if p.no_new_privs {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return Err(StepError::new(InitStep::NoNewPrivileges, Errno::last()));
        }
    }
    before_exec()?;
    if let Some(filter) = seccomp.take() {
        filter.load().step(|| InitStep::Seccomp)?;
    }
    // Nothing of the runtime leaks into the container: every fd above
    // stdio becomes close-on-exec (close_range(2), Linux 5.11).
    // SAFETY: close_range only flags fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    reset_signals();
    let Err(err) = nix::unistd::execve(&program, &p.args, &p.env);
    Err(StepError::new(
        InitStep::Exec {
            program: p.program.clone(),
        },
        err,
    ))
}

fn set_rlimit(r: &crate::config::Rlimit) -> Result<(), StepError> {
    let new = libc::rlimit {
        rlim_cur: r.soft,
        rlim_max: r.hard,
    };
    // SAFETY: setrlimit with a valid struct.
    if unsafe { libc::setrlimit(r.resource, &new) } == 0 {
        return Ok(());
    }
    let errno = Errno::last();
    let mut err = StepError::new(
        InitStep::Rlimit {
            resource: r.name.clone(),
        },
        errno,
    );
    if errno == Errno::EPERM {
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit into a valid struct.
        unsafe { libc::getrlimit(r.resource, &mut cur) };
        err = err.with_detail(format!(
            "raising the hard limit from {} to {} needs CAP_SYS_RESOURCE, which this runtime does not have",
            cur.rlim_max, r.hard
        ));
    } else if errno == Errno::EINVAL && r.soft > r.hard {
        err = err.with_detail(format!(
            "soft limit {} is above hard limit {}",
            r.soft, r.hard
        ));
    }
    Err(err)
}

/// Finds the executable the way runc does (Go's `exec.LookPath` on the
/// process's `PATH`): names with a slash are taken as they are.
fn lookup(p: &ProcessConfig) -> Result<CString, StepError> {
    let not_found = |errno| {
        let program = p.program.clone();
        // A file that exists but may not be executed is "permission
        // denied", never "not found": the docker CLI and moby read these
        // words to choose 126 over 127 (cli `runStartContainerErr`).
        if errno == Errno::EACCES {
            return StepError::new(InitStep::Exec { program }, errno)
                .with_detail("permission denied");
        }
        StepError::new(InitStep::LookupExecutable { program }, errno)
    };
    let candidates: Vec<PathBuf> = if p.program.contains('/') {
        vec![PathBuf::from(&p.program)]
    } else {
        p.path_dirs.iter().map(|d| d.join(&p.program)).collect()
    };
    let mut last = Errno::ENOENT;
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() => {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o111 != 0 {
                    return Ok(crate::config::path_cstring(&candidate));
                }
                last = Errno::EACCES;
            }
            Ok(_) => last = Errno::EACCES,
            Err(_) => {}
        }
    }
    Err(not_found(last))
}

fn switch_user(p: &ProcessConfig, last_cap: u8) -> Result<(), StepError> {
    if let Some(caps) = &p.caps {
        crate::capabilities::drop_bounding(caps.bounding, last_cap)
            .step(|| InitStep::DropBoundingSet)?;
        // Keep the permitted set across setuid so capset can pick from it.
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } < 0 {
            return Err(StepError::new(InitStep::Capset, Errno::last()));
        }
    }
    let groups: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // A user namespace with setgroups denied: nothing to change.
        Err(Errno::EPERM) if groups.is_empty() => {}
        Err(e) => return Err(StepError::new(InitStep::Setgroups, e)),
    }
    let gid = Gid::from_raw(p.gid);
    nix::unistd::setresgid(gid, gid, gid).step(|| InitStep::Setgid { gid: p.gid })?;
    let uid = Uid::from_raw(p.uid);
    nix::unistd::setresuid(uid, uid, uid).step(|| InitStep::Setuid { uid: p.uid })?;
    if let Some(caps) = &p.caps {
        // SAFETY: plain prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
        crate::capabilities::set(caps).step(|| InitStep::Capset)?;
        // The kernel only allows ambient capabilities that are permitted
        // and inheritable (capabilities(7)); runc silently leaves out the
        // others (`runc spec` lists ambient but no inheritable set), so do
        // we.
        let ambient = caps.ambient & caps.permitted & caps.inheritable;
        crate::capabilities::raise_ambient(ambient, last_cap)
            .step(|| InitStep::AmbientCapabilities)?;
    }
    Ok(())
}

/// Unblocks every signal and restores default dispositions: the runtime
/// may ignore some (Rust ignores `SIGPIPE`) and ignored signals stay
/// ignored across execve(2).
fn reset_signals() {
    // SAFETY: sigprocmask and signal with valid arguments; no handlers run.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}
