//! The terminal of a foreground `run`/`exec`: relays the container's pty
//! to our stdio, as runc does when no console socket is given.

use std::io::{Stdin, Stdout};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use nix::unistd::Pid;

/// Relays a container's terminal (the pty master) to our stdio while
/// waiting for `pid`, like `runc run` with `terminal: true` and no console
/// socket: stdin in raw mode, window size kept in sync (SIGWINCH), other
/// signals forwarded.
pub fn relay_console(
    forwarder: crate::signals::Forwarder,
    pid: Pid,
    master: OwnedFd,
) -> Result<u8> {
    let sfd = SignalFd::with_flags(&forwarder.set, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = RawStdin::enter(&stdin);
    copy_winsize(&stdout, &master);
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let wanted = |open: bool| {
            if open {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            }
        };
        let mut fds = [
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(master.as_fd(), wanted(master_open)),
            PollFd::new(stdin.as_fd(), wanted(stdin_open)),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("poll: {e}"),
            Ok(_) => {}
        }
        let ready = |i: usize| !fds[i].revents().unwrap_or(PollFlags::empty()).is_empty();
        let (sig_ready, master_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        if master_open && master_ready {
            master_open = copy_once(&master, &stdout, &mut buf);
        }
        if stdin_open && stdin_ready {
            stdin_open = copy_once(&stdin, &master, &mut buf);
        }
        if sig_ready
            && let Ok(Some(info)) = sfd.read_signal()
            && let Some(status) = on_signal(info.ssi_signo as i32, pid, &master, &stdout)?
        {
            return Ok(status);
        }
    }
}

/// Our stdin in raw mode while this lives, when it is a terminal;
/// restored on every way out.
struct RawStdin(Option<Termios>);

impl RawStdin {
    fn enter(stdin: &Stdin) -> RawStdin {
        RawStdin(tcgetattr(stdin).ok().inspect(|original| {
            let mut raw = original.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin, SetArg::TCSANOW, &raw);
        }))
    }
}

impl Drop for RawStdin {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
    }
}

/// Gives the container's terminal the size of ours (tty_ioctl(4)).
fn copy_winsize(stdout: &Stdout, master: &OwnedFd) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize struct.
    unsafe {
        if libc::ioctl(stdout.as_raw_fd(), libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
        }
    }
}

/// One read from `from` written to `to`; false once `from` is at its end.
fn copy_once(from: impl AsFd, to: impl AsFd, buf: &mut [u8]) -> bool {
    match nix::unistd::read(&from, buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            write_all(to, &buf[..n]);
            true
        }
    }
}

/// Handles one signal from the signalfd: SIGCHLD reaps (and returns the
/// exit status once `pid` is gone, after the pty's last output), SIGWINCH
/// resizes, anything else goes to the container.
fn on_signal(signo: i32, pid: Pid, master: &OwnedFd, stdout: &Stdout) -> Result<Option<u8>> {
    match Signal::try_from(signo).ok() {
        Some(Signal::SIGCHLD) => {
            let status = crate::signals::reap(pid)?;
            if status.is_some() {
                drain(master, stdout);
            }
            Ok(status)
        }
        Some(Signal::SIGWINCH) => {
            copy_winsize(stdout, master);
            Ok(None)
        }
        Some(other) => {
            let _ = kill(pid, other);
            Ok(None)
        }
        None => Ok(None),
    }
}

fn write_all<Fd: AsFd>(fd: Fd, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(_) => return,
        }
    }
}

/// Copies what is still buffered in the pty after the process exited.
fn drain(master: &OwnedFd, stdout: &Stdout) {
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            return;
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => write_all(stdout, &buf[..n]),
        }
    }
}
