//! `berth run -it` and `berth attach` on a real terminal (a pty): the
//! container's terminal takes the size of the local one at start and after
//! every SIGWINCH, read back with `stty size` in the container.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_tests::daemon::Daemon;
use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Bound on each wait for the container's answer (a hang, not a timing).
const BOUND: Duration = Duration::from_secs(30);

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// `berth` running on the slave side of a pty; the test holds the master.
pub(crate) struct OnPty {
    master: std::fs::File,
    child: Child,
    output: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl OnPty {
    pub(crate) fn spawn(d: &Daemon, args: &[&str], rows: u16, cols: u16) -> OnPty {
        let mut command = Command::new(berth_tests::workspace_bin("berth"));
        command
            .arg("-H")
            .arg(d.host())
            .args(args)
            .env_remove("BERTH_HOST");
        OnPty::spawn_command(command, rows, cols)
    }

    /// `command` (a client of the daemon) on the slave side of a pty.
    pub(crate) fn spawn_command(mut command: Command, rows: u16, cols: u16) -> OnPty {
        let pty = openpty(Some(&winsize(rows, cols)), None).expect("openpty");
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        let child = command
            .stdin(stdio(&pty.slave))
            .stdout(stdio(&pty.slave))
            .stderr(stdio(&pty.slave))
            .spawn()
            .expect("spawn berth");
        // Only the child holds the slave now: reads of the master end
        // (EIO) when it exits.
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().expect("dup the pty master");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        OnPty {
            master,
            child,
            output,
            seen: String::new(),
        }
    }

    /// Sets the pty's size and tells `berth`, as a terminal emulator does
    /// (the kernel signals only a foreground process group of a
    /// controlling terminal, which this pty is not).
    pub(crate) fn resize(&mut self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads the winsize we pass; the fd is our open master.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        kill(pid, Signal::SIGWINCH).expect("SIGWINCH to berth");
    }

    /// Sends a line to the container (each makes it print `stty size`)
    /// until a line of output is `want`.
    #[track_caller]
    pub(crate) fn expect_size(&mut self, want: &str) {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            self.master.write_all(b"\n").expect("write to the pty");
            while let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(300)) {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
            if self.seen.lines().any(|l| l.trim_end_matches('\r') == want) {
                return;
            }
        }
        panic!("no {want:?} from the container; it printed {:?}", self.seen);
    }

    /// Types `bytes` on the terminal.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to the pty");
    }

    /// Waits until the output so far contains `want`.
    #[track_caller]
    pub(crate) fn expect_output(&mut self, want: &str) {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline && !self.seen.contains(want) {
            if let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(100)) {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        assert!(self.seen.contains(want), "no {want:?} in {:?}", self.seen);
    }

    /// Waits for the client to exit on its own; its exit code and all it
    /// printed.
    #[track_caller]
    pub(crate) fn wait_exit(mut self) -> (i32, String) {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for the client") {
                while let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(100)) {
                    self.seen.push_str(&String::from_utf8_lossy(&chunk));
                }
                return (status.code().unwrap_or(-1), std::mem::take(&mut self.seen));
            }
            if let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(100)) {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        panic!("the client did not exit: {:?}", self.seen);
    }

    /// Ends the container's input (Ctrl-D) and returns berth's exit code.
    #[track_caller]
    pub(crate) fn finish(mut self) -> i32 {
        self.master.write_all(b"\x04").expect("write to the pty");
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for berth") {
                return status.code().unwrap_or(-1);
            }
            let _ = self.output.recv_timeout(Duration::from_millis(100));
        }
        panic!("berth did not exit after end of input: {:?}", self.seen);
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const PRINT_SIZE_PER_LINE: &str = "while read x; do stty size; done";

#[test]
fn berth_run_it_follows_the_terminal_size() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let mut t = OnPty::spawn(
        &d,
        &[
            "run",
            "-it",
            "--rm",
            "busybox",
            "sh",
            "-c",
            PRINT_SIZE_PER_LINE,
        ],
        24,
        80,
    );
    t.expect_size("24 80");
    t.resize(50, 120);
    t.expect_size("50 120");
    t.resize(33, 99);
    t.expect_size("33 99");
    assert_eq!(t.finish(), 0);
    assert!(d.container_ids().is_empty(), "--rm removed it");
}

#[test]
fn berth_attach_sends_the_size_and_follows_it() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.berth(&[
        "run",
        "-d",
        "-it",
        "--name",
        "shell",
        "busybox",
        "sh",
        "-c",
        PRINT_SIZE_PER_LINE,
    ])
    .ok();
    let mut t = OnPty::spawn(&d, &["attach", "shell"], 30, 100);
    t.expect_size("30 100");
    t.resize(40, 132);
    t.expect_size("40 132");
    // End of input ends the container; attach exits with its status.
    assert_eq!(t.finish(), 0);
    let out = d.berth(&["attach", "shell"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("You cannot attach to a stopped container, start it first"),
        "{out:?}"
    );
    d.berth(&["rm", "shell"]).ok();
}
