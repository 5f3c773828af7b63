//! The shim's ends of the container's stdio: output pipes (or the pty
//! master) read into the log and to attached clients, stdin written from
//! attached clients' input.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use berth_shim::args::ShimArgs;
use berth_shim::jsonlog::{LineSplitter, encode_entry};
use berth_shim::logfile::LogFile;
use berth_shim::protocol::{FrameKind, ShimFailure, StreamFrameHeader, StreamKind};
use berth_shim::time::Timestamp;

use super::client::ClientState;
use super::{
    CLIENT_BUFFER_LIMIT, LOG_BATCH, Monitor, PIPE_SIZE, Phase, READ_CHUNK, io_failure,
    set_nonblocking,
};
use crate::container_ops::{ContainerOps, InitIo};

/// One of the container's output streams.
pub(super) struct Output {
    pub(super) file: File,
    pub(super) kind: StreamKind,
    /// Cuts the stream into log lines.
    pub(super) splitter: LineSplitter,
    /// Not at EOF yet.
    pub(super) open: bool,
}

/// The container's stdin.
pub(super) struct Stdin {
    pub(super) file: File,
    /// Input not yet written.
    pub(super) queued: Vec<u8>,
    /// Close once `queued` is written (StdinOnce).
    pub(super) closing: bool,
}

impl Stdin {
    /// Writes as much queued input as the pipe takes. `false` once the
    /// stdin is done with: the process closed it, or a requested close
    /// found nothing left to write.
    pub(super) fn flush(&mut self) -> bool {
        while !self.queued.is_empty() {
            match self.file.write(&self.queued) {
                Ok(n) => {
                    self.queued.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // The process closed its stdin.
                Err(_) => return false,
            }
        }
        !self.closing
    }
}

/// The container's output streams and stdin, as the shim holds them.
pub(super) struct ShimStdio {
    pub(super) outputs: Vec<Output>,
    pub(super) stdin: Option<Stdin>,
}

impl ShimStdio {
    /// Without a TTY: pipes, the container's ends returned as [`InitIo`]
    /// (stdin from `/dev/null` unless `open_stdin`). With a TTY: nothing
    /// yet, the pty master comes back from create (see
    /// [`ShimStdio::attach_console`]).
    pub(super) fn prepare(args: &ShimArgs) -> Result<(ShimStdio, InitIo), ShimFailure> {
        if args.tty {
            return Ok((
                ShimStdio {
                    outputs: Vec::with_capacity(2),
                    stdin: None,
                },
                InitIo::Tty,
            ));
        }
        ShimStdio::pipes(args.open_stdin)
    }

    /// Pipes for a process without a TTY: stdout, stderr, and stdin
    /// (`/dev/null` unless `open_stdin`). The process's ends come back as
    /// [`InitIo`].
    pub(super) fn pipes(open_stdin: bool) -> Result<(ShimStdio, InitIo), ShimFailure> {
        let mut stdio = ShimStdio {
            outputs: Vec::with_capacity(2),
            stdin: None,
        };
        let (out_r, out_w) = cloexec_pipe().map_err(|e| io_failure("stdout pipe", e))?;
        let (err_r, err_w) = cloexec_pipe().map_err(|e| io_failure("stderr pipe", e))?;
        for pipe in [&out_r, &err_r] {
            // Best effort: above /proc/sys/fs/pipe-max-size or the
            // user's pipe page limit the default size stays.
            let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
        }
        let container_stdin = if open_stdin {
            let (in_r, in_w) = cloexec_pipe().map_err(|e| io_failure("stdin pipe", e))?;
            stdio.stdin = Some(Stdin::new(File::from(in_w)));
            in_r
        } else {
            File::open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| io_failure("open /dev/null", e))?
        };
        for (fd, kind) in [(out_r, StreamKind::Stdout), (err_r, StreamKind::Stderr)] {
            stdio.outputs.push(Output::new(File::from(fd), kind));
        }
        let io = InitIo::Pipes {
            stdin: container_stdin,
            stdout: out_w,
            stderr: err_w,
        };
        Ok((stdio, io))
    }

    /// Takes the pty master of a TTY container as its output (and, with
    /// `open_stdin`, its stdin), at the size the command line asks for.
    pub(super) fn attach_console(
        &mut self,
        master: &OwnedFd,
        args: &ShimArgs,
    ) -> Result<(), ShimFailure> {
        self.attach_master(master, args.console_size, args.open_stdin)
    }

    /// Takes a pty master as the output (and, with `open_stdin`, the
    /// stdin) of a process with a terminal, at `size` when given.
    pub(super) fn attach_master(
        &mut self,
        master: &OwnedFd,
        size: Option<(u16, u16)>,
        open_stdin: bool,
    ) -> Result<(), ShimFailure> {
        if let Some((h, w)) = size
            && let Err(e) = set_winsize(master, h, w)
        {
            eprintln!("berth-shim: initial console size: {e}");
        }
        let reader = master
            .try_clone()
            .map_err(|e| io_failure("dup pty master", e))?;
        self.outputs
            .push(Output::new(File::from(reader), StreamKind::Stdout));
        if open_stdin {
            let writer = master
                .try_clone()
                .map_err(|e| io_failure("dup pty master", e))?;
            self.stdin = Some(Stdin::new(File::from(writer)));
        }
        Ok(())
    }

    /// Makes every shim end non-blocking, for the poll loop.
    pub(super) fn set_nonblocking(&self) -> Result<(), ShimFailure> {
        for output in &self.outputs {
            set_nonblocking(&output.file).map_err(|e| io_failure("container output", e))?;
        }
        if let Some(stdin) = &self.stdin {
            set_nonblocking(&stdin.file).map_err(|e| io_failure("container stdin", e))?;
        }
        Ok(())
    }
}

impl Output {
    fn new(file: File, kind: StreamKind) -> Output {
        Output {
            file,
            kind,
            splitter: LineSplitter::new(),
            open: true,
        }
    }
}

impl Stdin {
    fn new(file: File) -> Stdin {
        Stdin {
            file,
            queued: Vec::new(),
            closing: false,
        }
    }
}

/// A pipe whose ends are closed on exec.
fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Sets the terminal size on a pty master (TIOCSWINSZ, tty_ioctl(4)).
pub(super) fn set_winsize(master: &OwnedFd, height: u16, width: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `winsize` from the pointer we pass.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Appends the encoded lines in `buf` to the log and empties `buf`.
fn write_log(log: &mut LogFile, buf: &mut Vec<u8>) {
    if buf.is_empty() {
        return;
    }
    if let Err(e) = log.write(buf) {
        eprintln!("berth-shim: writing log {}: {e}", log.path().display());
    }
    buf.clear();
}

impl<R: ContainerOps> Monitor<R> {
    /// Reads what output `index` has, logs it and sends it to the clients
    /// attached to that stream.
    pub(super) fn read_output(&mut self, index: usize) {
        if self.read_buf.is_empty() {
            self.read_buf = vec![0; READ_CHUNK];
        }
        let buf = &mut self.read_buf;
        let output = &mut self.outputs[index];
        let n = match output.file.read(buf) {
            Ok(0) => {
                output.open = false;
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            // EIO: every slave of the pty is closed.
            Err(_) => {
                output.open = false;
                return;
            }
        };
        let data = &buf[..n];
        let kind = output.kind;
        // With the `none` log driver nothing is encoded at all.
        if let Some(log) = &mut self.log {
            let log_buf = &mut self.log_buf;
            output
                .splitter
                .push(data, Timestamp::now(), &mut |message, time| {
                    encode_entry(log_buf, kind, message, time);
                    if log_buf.len() >= LOG_BATCH {
                        write_log(log, log_buf);
                    }
                });
            write_log(log, log_buf);
        }
        let header = StreamFrameHeader {
            kind: FrameKind::Output(kind),
            len: n,
        }
        .encode();
        let draining = matches!(self.phase, Phase::Draining { .. });
        for client in &mut self.clients {
            if let ClientState::Attached { stdout, stderr, .. } = client.state {
                let wanted = match kind {
                    StreamKind::Stdout => stdout,
                    StreamKind::Stderr => stderr,
                    StreamKind::Stdin => false,
                };
                if !wanted {
                    continue;
                }
                client.send_frame(&header, data);
                if draining && client.queued() > CLIENT_BUFFER_LIMIT {
                    // Nobody reads it and the container is gone: stop
                    // holding the shim up for this client.
                    client.dead = true;
                }
            }
        }
    }

    /// Writes the encoded lines not yet written.
    pub(super) fn flush_log(&mut self) {
        match &mut self.log {
            Some(log) => write_log(log, &mut self.log_buf),
            None => self.log_buf.clear(),
        }
    }

    /// Writes queued input to the container's stdin, as much as it takes.
    pub(super) fn write_stdin(&mut self) {
        if self.stdin.as_mut().is_some_and(|stdin| !stdin.flush()) {
            self.stdin = None;
        }
    }
}
