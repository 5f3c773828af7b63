//! berth-init: the process `docker run --init` puts at PID 1 of a
//! container (bind-mounted at `/sbin/docker-init`, as moby mounts tini's
//! `docker-init`), in front of the container's command:
//!
//! `docker-init -- COMMAND [ARG...]`
//!
//! It runs COMMAND as its child, forwards every signal it receives to the
//! child (PID 1 of a PID namespace gets no default action for signals, so
//! without an init a `docker stop` of a process that installs no SIGTERM
//! handler waits out the timeout), reaps every process that is reparented
//! to it (zombies of orphaned grandchildren), and exits with the child's
//! status (128 + signal when a signal killed it) — tini's behaviour
//! without its options.
//!
//! Built by `build.rs` with std alone, statically; the few libc calls std
//! has no wrapper for are declared here (glibc's x86_64/aarch64 ABI).

use std::ffi::{OsString, c_int, c_long};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

mod exit;

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!("berth-init declares the Linux x86_64/aarch64 signal ABI");

/// glibc's `sigset_t`: 1024 bits.
#[repr(C)]
struct SigSet([u64; 16]);

/// `siginfo_t` is 128 bytes; only its first field (`si_signo`) is read,
/// through the return value of `sigtimedwait`.
#[repr(C)]
struct SigInfo([u64; 16]);

#[repr(C)]
struct Timespec {
    tv_sec: c_long,
    tv_nsec: c_long,
}

unsafe extern "C" {
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigdelset(set: *mut SigSet, signal: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigtimedwait(set: *const SigSet, info: *mut SigInfo, timeout: *const Timespec) -> c_int;
    fn kill(pid: c_int, signal: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}

const SIG_SETMASK: c_int = 2;
const WNOHANG: c_int = 1;
const SIGCHLD: c_int = 17;

/// Signals the kernel raises for a fault of the process itself: never
/// blocked, so that a fault of the init is not swallowed (tini's list).
const SYNCHRONOUS: [c_int; 9] = [
    4,  // SIGILL
    5,  // SIGTRAP
    6,  // SIGABRT
    7,  // SIGBUS
    8,  // SIGFPE
    11, // SIGSEGV
    21, // SIGTTIN
    22, // SIGTTOU
    31, // SIGSYS
];

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("berth-init: usage: docker-init [--] COMMAND [ARG...]");
        return ExitCode::from(1);
    };

    // Block the asynchronous signals before the child exists, so that
    // none arrives between its start and the first wait: a blocked signal
    // stays pending (a PID 1 would otherwise drop one it has no handler
    // for) and `sigtimedwait` collects it.
    let mut set = SigSet([0; 16]);
    // SAFETY: `set` is a valid, writable sigset_t of glibc's size; the
    // calls only write to it and the thread's mask.
    let blocked = unsafe {
        sigfillset(&mut set);
        for signal in SYNCHRONOUS {
            sigdelset(&mut set, signal);
        }
        sigprocmask(SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if blocked != 0 {
        eprintln!(
            "berth-init: cannot block signals: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::from(1);
    }

    // A signal mask is inherited across fork and exec (signal(7)), and std
    // leaves it as it is: the child gets an empty one, or it would never
    // see the signals forwarded to it.
    let mut command = Command::new(program);
    command.args(rest);
    // SAFETY: the closure runs in the child between fork and exec and
    // makes one async-signal-safe call (sigprocmask, signal-safety(7)) on
    // a set of its own stack; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            let empty = SigSet([0; 16]);
            if sigprocmask(SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "berth-init: cannot run {}: {e}",
                program.to_string_lossy()
            );
            // The shell's codes, as Docker reports a start failure.
            return ExitCode::from(match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => 1,
            });
        }
    };
    let Ok(child) = c_int::try_from(child.id()) else {
        eprintln!("berth-init: the child's pid is out of range");
        return ExitCode::from(1);
    };

    loop {
        let mut info = SigInfo([0; 16]);
        // A bound on the wait only: every SIGCHLD also ends it.
        let timeout = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: `set`, `info` and `timeout` are valid for the call.
        let signal = unsafe { sigtimedwait(&set, &mut info, &timeout) };
        if signal > 0 && signal != SIGCHLD {
            // SAFETY: kill(2) with plain integers. The child may be gone
            // already (ESRCH): its status is collected below.
            unsafe { kill(child, signal) };
        }
        // Reap everything that has ended: the child and any orphan.
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid c_int to write to.
            let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                return ExitCode::from(exit::exit_code(status));
            }
        }
    }
}
