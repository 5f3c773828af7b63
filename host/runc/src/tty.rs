//! The terminal of a foreground `run`/`exec`: relays the container's pty
//! to our stdio, as runc does when no console socket is given.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Relays a container's terminal (the pty master) to our stdio while
/// waiting for `pid`, like `runc run` with `terminal: true` and no console
/// socket: stdin in raw mode, window size kept in sync (SIGWINCH), other
/// signals forwarded.
pub fn relay_console(
    forwarder: crate::signals::Forwarder,
    pid: Pid,
    master: std::os::fd::OwnedFd,
) -> Result<u8> {
    use std::os::fd::{AsFd, AsRawFd};

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

    let sfd = SignalFd::with_flags(&forwarder.set, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    // Raw mode only when stdin is a terminal; restored on every way out.
    struct Restore(Option<nix::sys::termios::Termios>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(t) = &self.0 {
                let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
            }
        }
    }
    let _restore = Restore(tcgetattr(&stdin).ok().inspect(|original| {
        let mut raw = original.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
    }));
    let resize = || {
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
    };
    resize();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(
                master.as_fd(),
                if master_open {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                },
            ),
            PollFd::new(
                stdin.as_fd(),
                if stdin_open {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                },
            ),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("poll: {e}"),
            Ok(_) => {}
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let (sig_ready, master_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        if master_open && !master_ready.is_empty() {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(_) => master_open = false,
                Ok(n) => write_all(&stdout, &buf[..n]),
            }
        }
        if stdin_open && !stdin_ready.is_empty() {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => write_all(&master, &buf[..n]),
            }
        }
        if !sig_ready.is_empty()
            && let Ok(Some(info)) = sfd.read_signal()
        {
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            match sig {
                Some(Signal::SIGCHLD) => {
                    if let Some(status) = crate::signals::reap(pid)? {
                        drain(&master, &stdout);
                        return Ok(status);
                    }
                }
                Some(Signal::SIGWINCH) => resize(),
                Some(other) => {
                    let _ = kill(pid, other);
                }
                None => {}
            }
        }
    }
}

fn write_all<Fd: std::os::fd::AsFd>(fd: Fd, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(_) => return,
        }
    }
}

/// Copies what is still buffered in the pty after the process exited.
fn drain(master: &std::os::fd::OwnedFd, stdout: &std::io::Stdout) {
    use std::os::fd::AsFd;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
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
