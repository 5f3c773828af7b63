//! `berth-shim`: the per-container monitor started by berthd.
//!
//! Life of a shim (see `berth_shim::protocol` for the wire side):
//! 1. berthd runs it with `std::process::Command`, stdout a pipe.
//! 2. It forks; the first process exits at once, so berthd never has to
//!    reap the monitor and the monitor outlives berthd. The child calls
//!    setsid(2) (no controlling terminal, its own session) and becomes a
//!    child subreaper (prctl(2), PR_SET_CHILD_SUBREAPER).
//! 3. It creates the container through libcontainer, writes one startup
//!    report line to the pipe and closes it; its stdout then points at
//!    /dev/null. Its stderr (berthd gives it a log file) keeps the shim's
//!    own diagnostics.
//! 4. It runs the monitor loop until the container has exited and its exit
//!    record is written, then exits.
//!
//! Single-threaded by design: libcontainer forks from this process.

// unsafe_code is denied workspace-wide; the shim forks and reaps the container
// (clone, waitpid, fd passing) in a single-threaded process (runtime.rs,
// monitor.rs, memory.rs).
#![allow(unsafe_code)]

mod container_ops;
mod memory;
mod monitor;

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use berth_shim::args::ShimArgs;
use berth_shim::protocol::{ShimFailure, StartupReport};

use crate::container_ops::Libcontainer;
use crate::monitor::{Monitor, MonitorConfig};

fn main() {
    let args = match ShimArgs::parse(std::env::args_os().skip(1).collect::<Vec<OsString>>()) {
        Ok(args) => args,
        Err(e) => {
            report_to_stdout(&StartupReport::Failed(ShimFailure::other(format!(
                "berth-shim: {e}"
            ))));
            std::process::exit(2);
        }
    };
    // SAFETY: the shim is single-threaded here (nothing has spawned a
    // thread), so the child may run arbitrary code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // The child holds the report pipe; our exit lets berthd's
            // `wait` return at once.
            std::process::exit(0);
        }
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            report_to_stdout(&StartupReport::Failed(ShimFailure::other(format!(
                "berth-shim: fork: {e}"
            ))));
            std::process::exit(1);
        }
    }
    let report = match detach() {
        Ok(report) => report,
        Err(e) => {
            report_to_stdout(&StartupReport::Failed(ShimFailure::other(format!(
                "berth-shim: {e}"
            ))));
            std::process::exit(1);
        }
    };
    let runtime = Libcontainer::new(
        args.id.clone(),
        args.bundle.clone(),
        args.state_root.clone(),
    );
    let id = args.id.clone();
    let config = MonitorConfig {
        args,
        reap_strays: true,
        trim_memory: true,
    };
    match Monitor::create(config, runtime) {
        Ok(monitor) => {
            memory::trim();
            send_report(
                report,
                &StartupReport::Created {
                    pid: monitor.pid().as_raw(),
                    shim_pid: std::process::id() as i32,
                },
            );
            let record = monitor.run();
            eprintln!(
                "berth-shim: container {} exited with code {}{}",
                id,
                record.exit_code,
                if record.oom_killed {
                    " (OOM killed)"
                } else {
                    ""
                }
            );
        }
        Err(failure) => {
            eprintln!("berth-shim: container {id}: {}", failure.message);
            send_report(report, &StartupReport::Failed(failure));
            std::process::exit(1);
        }
    }
}

/// Leaves berthd's session and process group, becomes a subreaper, ignores
/// SIGPIPE (libcontainer resets signal dispositions in the container), and
/// moves the report pipe off fd 1 so that nothing else inherits it. Returns
/// the report pipe.
fn detach() -> std::io::Result<OwnedFd> {
    nix::unistd::setsid().map_err(std::io::Error::from)?;
    // SAFETY: prctl with an integer argument; no pointers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: installing SIG_IGN runs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor or -1.
    let report = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if report < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `report` is a new descriptor we own.
    let report = unsafe { OwnedFd::from_raw_fd(report) };
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in [0, 1] {
        // SAFETY: dup2 onto stdio; `null` stays open for the call.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(report)
}

fn send_report(pipe: OwnedFd, report: &StartupReport) {
    let mut file = std::fs::File::from(pipe);
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = file.write_all(&line);
    }
    // Dropping `file` closes the pipe: berthd's read ends.
}

fn report_to_stdout(report: &StartupReport) {
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = std::io::stdout().write_all(&line);
    }
}
