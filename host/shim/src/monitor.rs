//! The monitor loop: one thread, one `poll(2)`, no allocation per byte.
//!
//! It owns the container's stdio (pipes, or a pty master), copies output to
//! the json-file log and to attached clients, forwards attached input to
//! the container's stdin, serves the control socket, and when init exits:
//! drains the output, writes the exit record durably, deletes the
//! container, tells waiting and attached clients, and returns.
//!
//! Backpressure: while an attached client has more than
//! [`CLIENT_BUFFER_LIMIT`] bytes queued, container output is not read (the
//! container blocks on its pipe, as with Docker's attach); while stdin has
//! input queued, clients' input is not read.

use std::fs::File;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use berth_shim::args::ShimArgs;
use berth_shim::exit::{ExitRecord, ExitRecordFile};
use berth_shim::jsonlog::{LineSplitter, encode_entry};
use berth_shim::logfile::LogFile;
use berth_shim::protocol::{
    self, ContainerStatus, FrameKind, MAX_MESSAGE_LEN, MESSAGE_HEADER_LEN, Reply, Request,
    ShimFailure, ShimState, StreamFrameHeader, StreamKind,
};
use berth_shim::time::Timestamp;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::container_ops::{ContainerOps, InitIo};

/// Output queued for one client above which container output stops being
/// read until the client catches up.
const CLIENT_BUFFER_LIMIT: usize = 1024 * 1024;

/// Input queued for the container's stdin above which clients' input stops
/// being read.
const STDIN_BUFFER_LIMIT: usize = 64 * 1024;

/// Capacity asked for the container's stdout and stderr pipes (the
/// default is 64 KiB): a container that prints a lot blocks, and wakes the
/// shim, half as often.
const PIPE_SIZE: i32 = 128 * 1024;

/// Bytes read from the container per `read(2)` at most: a whole pipe, so
/// that one wakeup empties it; each read is one attach frame.
const READ_CHUNK: usize = 128 * 1024;

/// Encoded log lines are written once they reach this many bytes, so that
/// the encoding buffer stays small however much one read brings (a read of
/// zeros takes six times its size as JSON).
const LOG_BATCH: usize = 64 * 1024;

/// How long to keep draining output after init has exited. Everything in
/// the container's pid namespace dies with init, so the pipes close at once;
/// the bound only protects against a runtime that shares namespaces.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long clients get to read the final replies before the shim exits.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the monitor is told at startup.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// The shim's command line: container id, control socket, log, exit
    /// record and how to set up the container's stdio.
    pub args: ShimArgs,
    /// Reap every child (the shim is a subreaper), not only init. Blocks
    /// SIGCHLD and reads it from a signalfd, so the process must be
    /// single-threaded (the shim is; unit tests are not and leave it off).
    pub reap_strays: bool,
    /// Give setup-only memory back after start (see `crate::memory`).
    pub trim_memory: bool,
}

/// One of the container's output streams.
struct Output {
    file: File,
    kind: StreamKind,
    splitter: LineSplitter,
    open: bool,
}

/// The container's stdin.
struct Stdin {
    file: File,
    queued: Vec<u8>,
    /// Close once `queued` is written (StdinOnce).
    closing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    /// Reading its request.
    Request,
    /// Waiting for the exit.
    Waiting,
    /// Streaming.
    Attached {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Close once the output queue is flushed.
    Closing,
}

struct Client {
    stream: UnixStream,
    state: ClientState,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// The client will send nothing more (EOF seen).
    read_closed: bool,
    /// Drop it at the next opportunity.
    dead: bool,
}

impl Client {
    fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn queue(&mut self, bytes: &[u8]) {
        if self.out_pos > 0 && self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        self.out.extend_from_slice(bytes);
    }

    /// Sends a stream frame: with nothing queued, header and payload go to
    /// the socket in one `writev(2)` straight from the read buffer, and
    /// only what the socket did not take is queued (copied).
    fn send_frame(&mut self, header: &[u8], payload: &[u8]) {
        if self.queued() > 0 {
            self.queue(header);
            self.queue(payload);
            self.flush();
            return;
        }
        let written = loop {
            let slices = [IoSlice::new(header), IoSlice::new(payload)];
            match (&self.stream).write_vectored(&slices) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break 0,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        };
        if let Some(rest) = header.get(written..) {
            self.queue(rest);
            self.queue(payload);
        } else {
            self.queue(&payload[written - header.len()..]);
        }
    }

    fn queue_reply(&mut self, reply: &Reply) {
        match protocol::encode_message(reply) {
            Ok(bytes) => self.queue(&bytes),
            Err(e) => {
                eprintln!("berth-shim: cannot encode reply: {e}");
                self.dead = true;
            }
        }
    }

    /// Writes as much queued output as the socket takes.
    fn flush(&mut self) {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.state == ClientState::Closing {
                self.dead = true;
            }
        } else if self.out_pos > self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }
}

enum Phase {
    /// Init waits for `Start`.
    Created,
    /// The user process runs.
    Running,
    /// Init has exited; output is being drained until `deadline`.
    Draining {
        status: WaitStatus,
        deadline: Instant,
    },
}

/// A container under supervision.
pub struct Monitor<R: ContainerOps> {
    config: MonitorConfig,
    runtime: R,
    pid: Pid,
    pidfd: OwnedFd,
    /// SIGCHLD as a descriptor, with `reap_strays`.
    sigchld: Option<SignalFd>,
    listener: UnixListener,
    /// `None` with the `none` log driver.
    log: Option<LogFile>,
    log_buf: Vec<u8>,
    /// Container output is read into this ([`READ_CHUNK`] bytes once the
    /// container first prints; a quiet container never touches it).
    read_buf: Vec<u8>,
    outputs: Vec<Output>,
    stdin: Option<Stdin>,
    /// The pty master, for resize.
    console: Option<OwnedFd>,
    clients: Vec<Client>,
    phase: Phase,
    started_at: Option<Timestamp>,
    paused: bool,
    /// A failed `Start`: the record gets its exit code and message.
    start_failure: Option<ShimFailure>,
    /// The exit record, once written.
    record: Option<ExitRecord>,
}

fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with valid flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sets the terminal size on a pty master (TIOCSWINSZ, tty_ioctl(4)).
fn set_winsize(master: &OwnedFd, height: u16, width: u16) -> io::Result<()> {
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

/// Milliseconds left until `deadline`, as poll(2) takes a timeout.
fn millis_until(deadline: Instant) -> i32 {
    let left = deadline.saturating_duration_since(Instant::now());
    i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
}

impl<R: ContainerOps> Monitor<R> {
    /// Opens the log, binds the control socket and creates the container.
    /// On a runtime failure the exit record is written (the container
    /// "exited" with Docker's start-failure code) before returning it.
    pub fn create(config: MonitorConfig, mut runtime: R) -> Result<Monitor<R>, ShimFailure> {
        let log = if config.args.no_log {
            None
        } else {
            let log = LogFile::open(&config.args.log, config.args.log_rotation).map_err(|e| {
                ShimFailure::other(format!("open log {}: {e}", config.args.log.display()))
            })?;
            Some(log)
        };
        let _ = std::fs::remove_file(&config.args.socket);
        let listener = UnixListener::bind(&config.args.socket).map_err(|e| {
            ShimFailure::other(format!(
                "bind control socket {}: {e}",
                config.args.socket.display()
            ))
        })?;
        set_nonblocking(&listener)
            .map_err(|e| ShimFailure::other(format!("control socket: {e}")))?;

        let io_err = |what: &str, e: io::Error| ShimFailure::other(format!("{what}: {e}"));
        let mut outputs = Vec::with_capacity(2);
        let mut stdin = None;
        let io = if config.args.tty {
            InitIo::Tty
        } else {
            let (out_r, out_w) = cloexec_pipe().map_err(|e| io_err("stdout pipe", e))?;
            let (err_r, err_w) = cloexec_pipe().map_err(|e| io_err("stderr pipe", e))?;
            for pipe in [&out_r, &err_r] {
                // Best effort: above /proc/sys/fs/pipe-max-size or the
                // user's pipe page limit the default size stays.
                let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
            }
            let container_stdin = if config.args.open_stdin {
                let (in_r, in_w) = cloexec_pipe().map_err(|e| io_err("stdin pipe", e))?;
                stdin = Some(Stdin {
                    file: File::from(in_w),
                    queued: Vec::new(),
                    closing: false,
                });
                in_r
            } else {
                File::open("/dev/null")
                    .map(OwnedFd::from)
                    .map_err(|e| io_err("open /dev/null", e))?
            };
            for (fd, kind) in [(out_r, StreamKind::Stdout), (err_r, StreamKind::Stderr)] {
                outputs.push(Output {
                    file: File::from(fd),
                    kind,
                    splitter: LineSplitter::new(),
                    open: true,
                });
            }
            InitIo::Pipes {
                stdin: container_stdin,
                stdout: out_w,
                stderr: err_w,
            }
        };
        let created = match runtime.create(io) {
            Ok(created) => created,
            Err(e) => {
                let failure = ShimFailure::start_failed(e.to_string());
                let record = ExitRecord::failed(
                    failure.exit_code.unwrap_or(128),
                    failure.message.clone(),
                    Timestamp::now(),
                );
                if let Err(e) = record.write(&config.args.exit_file) {
                    eprintln!("berth-shim: {e}");
                }
                let _ = std::fs::remove_file(&config.args.socket);
                return Err(failure);
            }
        };
        let console = match created.console {
            Some(master) => {
                if let Some((h, w)) = config.args.console_size
                    && let Err(e) = set_winsize(&master, h, w)
                {
                    eprintln!("berth-shim: initial console size: {e}");
                }
                let reader = master
                    .try_clone()
                    .map_err(|e| io_err("dup pty master", e))?;
                outputs.push(Output {
                    file: File::from(reader),
                    kind: StreamKind::Stdout,
                    splitter: LineSplitter::new(),
                    open: true,
                });
                if config.args.open_stdin {
                    let writer = master
                        .try_clone()
                        .map_err(|e| io_err("dup pty master", e))?;
                    stdin = Some(Stdin {
                        file: File::from(writer),
                        queued: Vec::new(),
                        closing: false,
                    });
                }
                Some(master)
            }
            None => None,
        };
        for output in &outputs {
            set_nonblocking(&output.file).map_err(|e| io_err("container output", e))?;
        }
        if let Some(stdin) = &stdin {
            set_nonblocking(&stdin.file).map_err(|e| io_err("container stdin", e))?;
        }
        let pidfd = pidfd_open(created.pid).map_err(|e| io_err("pidfd_open", e))?;
        // Blocked from here on; a SIGCHLD of an earlier exit is covered by
        // the pidfd (init) and the first reap (anything else).
        let sigchld = if config.reap_strays {
            let mut mask = SigSet::empty();
            mask.add(Signal::SIGCHLD);
            mask.thread_block()
                .map_err(|e| io_err("block SIGCHLD", e.into()))?;
            Some(
                SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
                    .map_err(|e| io_err("signalfd", e.into()))?,
            )
        } else {
            None
        };
        Ok(Monitor {
            config,
            runtime,
            pid: created.pid,
            pidfd,
            sigchld,
            listener,
            log,
            log_buf: Vec::with_capacity(4096),
            read_buf: Vec::new(),
            outputs,
            stdin,
            console,
            clients: Vec::new(),
            phase: Phase::Created,
            started_at: None,
            paused: false,
            start_failure: None,
            record: None,
        })
    }

    /// Host pid of the container's init.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Runs until the container has exited and everything is recorded;
    /// returns the exit record.
    pub fn run(mut self) -> ExitRecord {
        if self.config.reap_strays {
            self.reap(false);
        }
        loop {
            if let Phase::Draining { status, deadline } = self.phase
                && (self.outputs.iter().all(|o| !o.open) || Instant::now() >= deadline)
            {
                return self.finish(status);
            }
            self.poll_once();
        }
    }

    /// Builds the poll set, waits, and handles what is ready.
    fn poll_once(&mut self) {
        // Slots: 0 listener, 1 pidfd, 2 SIGCHLD, then outputs, stdin,
        // clients.
        let draining = matches!(self.phase, Phase::Draining { .. });
        let backpressure = !draining
            && self.clients.iter().any(|c| {
                matches!(c.state, ClientState::Attached { .. }) && c.queued() > CLIENT_BUFFER_LIMIT
            });
        let mut fds: Vec<libc::pollfd> =
            Vec::with_capacity(4 + self.outputs.len() + self.clients.len());
        let pfd = |fd: RawFd, events: i16| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        fds.push(pfd(self.listener.as_raw_fd(), libc::POLLIN));
        fds.push(pfd(
            if draining { -1 } else { self.pidfd.as_raw_fd() },
            libc::POLLIN,
        ));
        fds.push(pfd(
            self.sigchld.as_ref().map_or(-1, |s| s.as_fd().as_raw_fd()),
            libc::POLLIN,
        ));
        for output in &self.outputs {
            let wanted = output.open && !backpressure;
            fds.push(pfd(
                if wanted { output.file.as_raw_fd() } else { -1 },
                libc::POLLIN,
            ));
        }
        let stdin_slot = fds.len();
        match &self.stdin {
            Some(stdin) if !stdin.queued.is_empty() => {
                fds.push(pfd(stdin.file.as_raw_fd(), libc::POLLOUT))
            }
            _ => fds.push(pfd(-1, 0)),
        }
        let stdin_full = self
            .stdin
            .as_ref()
            .is_some_and(|s| s.queued.len() >= STDIN_BUFFER_LIMIT);
        let clients_slot = fds.len();
        for client in &self.clients {
            let mut events = 0;
            let reading_input = matches!(client.state, ClientState::Attached { .. }) && !stdin_full;
            if !client.read_closed && (client.state == ClientState::Request || reading_input) {
                events |= libc::POLLIN;
            }
            if client.queued() > 0 {
                events |= libc::POLLOUT;
            }
            // POLLHUP (peer gone entirely) is reported whatever we ask.
            fds.push(pfd(client.stream.as_raw_fd(), events));
        }
        let timeout = match self.phase {
            Phase::Draining { deadline, .. } => millis_until(deadline),
            _ => -1,
        };
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != ErrorKind::Interrupted {
                eprintln!("berth-shim: poll: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        if fds[2].revents != 0 {
            if let Some(sigchld) = &self.sigchld {
                // Drain: one read per pending signal, coalesced anyway.
                while let Ok(Some(_)) = sigchld.read_signal() {}
            }
            self.reap(false);
        }
        if fds[1].revents != 0 {
            self.reap(true);
        }
        for i in 0..self.outputs.len() {
            if fds[3 + i].revents != 0 {
                self.read_output(i);
            }
        }
        if fds[stdin_slot].revents != 0 {
            self.write_stdin();
        }
        // Clients accepted below are not in `fds`; handle the known ones
        // first, by index, before the list changes.
        let known = self.clients.len();
        for i in 0..known {
            let revents = fds[clients_slot + i].revents;
            if revents == 0 {
                continue;
            }
            if revents & libc::POLLIN != 0 {
                self.read_client(i);
            }
            if revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                // Gone entirely (a half-close only shows as EOF on read).
                self.clients[i].dead = true;
            }
            if revents & libc::POLLOUT != 0 {
                self.clients[i].flush();
            }
        }
        if fds[0].revents != 0 {
            self.accept();
        }
        self.clients.retain(|c| !c.dead);
    }

    /// Reaps init (`init_ready`: its pidfd said it exited) and, as a
    /// subreaper, any other child.
    fn reap(&mut self, init_ready: bool) {
        let target = if self.config.reap_strays {
            None
        } else if init_ready {
            Some(self.pid)
        } else {
            return;
        };
        loop {
            match waitpid(target, Some(WaitPidFlag::WNOHANG)) {
                Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)))
                    if pid == self.pid =>
                {
                    self.init_exited(status);
                    if target.is_some() {
                        return;
                    }
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn init_exited(&mut self, status: WaitStatus) {
        self.phase = Phase::Draining {
            status,
            deadline: Instant::now() + DRAIN_TIMEOUT,
        };
        // A pty's master is the stdin too: writing to it is pointless now.
        self.stdin = None;
    }

    fn read_output(&mut self, index: usize) {
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

    fn flush_log(&mut self) {
        match &mut self.log {
            Some(log) => write_log(log, &mut self.log_buf),
            None => self.log_buf.clear(),
        }
    }

    fn write_stdin(&mut self) {
        let Some(stdin) = &mut self.stdin else { return };
        while !stdin.queued.is_empty() {
            match stdin.file.write(&stdin.queued) {
                Ok(n) => {
                    stdin.queued.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    // The container closed its stdin.
                    self.stdin = None;
                    return;
                }
            }
        }
        if stdin.closing {
            self.stdin = None;
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if set_nonblocking(&stream).is_err() {
                        continue;
                    }
                    self.clients.push(Client {
                        stream,
                        state: ClientState::Request,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        out_pos: 0,
                        read_closed: false,
                        dead: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn read_client(&mut self, index: usize) {
        let mut buf = [0u8; 4096];
        let client = &mut self.clients[index];
        let n = match client.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(_) => {
                client.dead = true;
                return;
            }
        };
        if n == 0 {
            client.read_closed = true;
            match client.state {
                ClientState::Request => client.dead = true,
                ClientState::Attached { stdin: true, .. } => self.stdin_detached(),
                _ => {}
            }
            return;
        }
        match client.state {
            ClientState::Request => {
                client.inbuf.extend_from_slice(&buf[..n]);
                match protocol::decode_message::<Request>(&client.inbuf) {
                    Ok(Some((request, used))) => {
                        let rest = client.inbuf.split_off(used);
                        client.inbuf = Vec::new();
                        self.handle(index, request);
                        // Bytes after the request are the first stdin bytes
                        // of an attach.
                        if !rest.is_empty() {
                            self.client_input(index, &rest);
                        }
                    }
                    Ok(None) if client.inbuf.len() <= MAX_MESSAGE_LEN + MESSAGE_HEADER_LEN => {}
                    Ok(None) | Err(_) => {
                        client.queue_reply(&Reply::Error(ShimFailure::other("malformed request")));
                        client.state = ClientState::Closing;
                        client.flush();
                    }
                }
            }
            _ => self.client_input(index, &buf[..n]),
        }
    }

    /// Input from an attached client.
    fn client_input(&mut self, index: usize, data: &[u8]) {
        if let ClientState::Attached { stdin: true, .. } = self.clients[index].state
            && let Some(stdin) = &mut self.stdin
            && !stdin.closing
        {
            stdin.queued.extend_from_slice(data);
            self.write_stdin();
        }
        // Otherwise: input nobody asked for is dropped.
    }

    /// A stdin-attached client ended its input (half-close or gone).
    fn stdin_detached(&mut self) {
        // moby `container/stream/attach.go`: with StdinOnce the container's
        // stdin is closed when the attached client's input ends; a TTY's
        // stdin is never closed that way.
        if self.config.args.stdin_once && !self.config.args.tty {
            if let Some(stdin) = &mut self.stdin {
                stdin.closing = true;
            }
            self.write_stdin();
        }
    }

    fn exited(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. })
    }

    fn state(&self) -> ShimState {
        ShimState {
            id: self.config.args.id.clone(),
            pid: self.pid.as_raw(),
            shim_pid: std::process::id() as i32,
            status: match self.phase {
                Phase::Created => ContainerStatus::Created,
                Phase::Running if self.paused => ContainerStatus::Paused,
                Phase::Running => ContainerStatus::Running,
                Phase::Draining { .. } => ContainerStatus::Exited,
            },
            started_at: self.started_at,
            tty: self.config.args.tty,
            open_stdin: self.config.args.open_stdin,
            exit: self.record.clone(),
        }
    }

    fn handle(&mut self, index: usize, request: Request) {
        let reply = match request {
            Request::State => Some(Reply::State(self.state())),
            Request::Start => Some(self.start()),
            Request::Kill { signal, all } => Some(self.kill(signal, all)),
            Request::Pause => Some(self.freeze(true)),
            Request::Resume => Some(self.freeze(false)),
            Request::Resize { height, width } => Some(match &self.console {
                _ if self.exited() => Reply::NotRunning,
                None => Reply::Error(ShimFailure::other("the container has no TTY")),
                Some(master) => match set_winsize(master, height, width) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(ShimFailure::other(format!("resize: {e}"))),
                },
            }),
            Request::Wait => {
                self.clients[index].state = ClientState::Waiting;
                None
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                if self.exited() {
                    Some(Reply::NotRunning)
                } else {
                    let stdin = stdin && self.stdin.as_ref().is_some_and(|s| !s.closing);
                    let client = &mut self.clients[index];
                    client.state = ClientState::Attached {
                        stdin,
                        stdout,
                        stderr,
                    };
                    client.queue_reply(&Reply::Attached { stdin });
                    client.flush();
                    None
                }
            }
        };
        if let Some(reply) = reply {
            let client = &mut self.clients[index];
            client.queue_reply(&reply);
            client.state = ClientState::Closing;
            client.flush();
        }
    }

    fn start(&mut self) -> Reply {
        match self.phase {
            Phase::Created => {}
            Phase::Running | Phase::Draining { .. } => return Reply::NotRunning,
        }
        match self.runtime.start() {
            Ok(()) => {
                let now = Timestamp::now();
                self.started_at = Some(now);
                self.phase = Phase::Running;
                if self.config.trim_memory {
                    crate::memory::trim();
                }
                Reply::Started {
                    pid: self.pid.as_raw(),
                    started_at: now,
                }
            }
            Err(e) => {
                let failure = ShimFailure::start_failed(e.to_string());
                self.start_failure = Some(failure.clone());
                // Init may still wait on its fifo: end it, the loop then
                // records the failure like any exit.
                let _ = self.runtime.kill(Signal::SIGKILL, true);
                Reply::Error(failure)
            }
        }
    }

    fn kill(&mut self, signal: i32, all: bool) -> Reply {
        if self.exited() {
            return Reply::NotRunning;
        }
        let signal = match Signal::try_from(signal) {
            Ok(signal) => signal,
            Err(_) => return Reply::Error(ShimFailure::other(format!("invalid signal {signal}"))),
        };
        match self.runtime.kill(signal, all) {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::Error(ShimFailure::other(e.to_string())),
        }
    }

    fn freeze(&mut self, pause: bool) -> Reply {
        if !matches!(self.phase, Phase::Running) {
            return Reply::NotRunning;
        }
        let result = if pause {
            self.runtime.pause()
        } else {
            self.runtime.resume()
        };
        match result {
            Ok(()) => {
                self.paused = pause;
                Reply::Ok
            }
            Err(e) => Reply::Error(ShimFailure::other(e.to_string())),
        }
    }

    /// After init's exit (`status`) and the drain: log the rest, record,
    /// delete, tell.
    fn finish(mut self, status: WaitStatus) -> ExitRecord {
        let now = Timestamp::now();
        for i in 0..self.outputs.len() {
            let output = &mut self.outputs[i];
            let kind = output.kind;
            let log_buf = &mut self.log_buf;
            output.splitter.finish(now, &mut |message, time| {
                encode_entry(log_buf, kind, message, time);
            });
        }
        self.flush_log();
        let oom_killed = match self.runtime.oom_kill_count() {
            Ok(count) => count > 0,
            Err(e) => {
                eprintln!("berth-shim: reading the OOM kill count: {e}");
                false
            }
        };
        let finished_at = Timestamp::now();
        let mut record = match status {
            WaitStatus::Signaled(_, signal, _) => {
                ExitRecord::signaled(signal as i32, self.started_at, finished_at)
            }
            WaitStatus::Exited(_, code) => ExitRecord::exited(code, self.started_at, finished_at),
            _ => ExitRecord::exited(128, self.started_at, finished_at),
        };
        record.oom_killed = oom_killed;
        if let Some(failure) = self.start_failure.take() {
            record.exit_code = failure.exit_code.unwrap_or(128);
            record.signal = None;
            record.error = Some(failure.message);
        }
        if let Err(e) = record.write(&self.config.args.exit_file) {
            eprintln!("berth-shim: {e}");
        }
        self.record = Some(record.clone());
        // New connections now find no listener and read the record.
        let _ = std::fs::remove_file(&self.config.args.socket);
        if let Err(e) = self.runtime.delete() {
            eprintln!(
                "berth-shim: deleting container {}: {e}",
                self.config.args.id
            );
        }
        let mut exit_frame = Vec::new();
        if let Ok(json) = serde_json::to_vec(&record) {
            protocol::encode_stream_frame(&mut exit_frame, FrameKind::Exit, &json);
        }
        // Requests that arrived meanwhile (in the backlog) get answers too.
        self.accept();
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        loop {
            // Finish reading requests from clients that connected late.
            for i in 0..self.clients.len() {
                if self.clients[i].state == ClientState::Request {
                    self.read_client(i);
                }
            }
            for client in &mut self.clients {
                match client.state {
                    ClientState::Waiting => {
                        client.queue_reply(&Reply::Exited(record.clone()));
                        client.state = ClientState::Closing;
                    }
                    ClientState::Attached { .. } => {
                        client.queue(&exit_frame);
                        client.state = ClientState::Closing;
                    }
                    ClientState::Request | ClientState::Closing => {}
                }
                client.flush();
            }
            self.clients.retain(|c| !c.dead);
            if self.clients.is_empty() || Instant::now() >= deadline {
                break;
            }
            let mut fds: Vec<libc::pollfd> = self
                .clients
                .iter()
                .map(|c| libc::pollfd {
                    fd: c.stream.as_raw_fd(),
                    events: if c.queued() > 0 {
                        libc::POLLOUT
                    } else {
                        libc::POLLIN
                    },
                    revents: 0,
                })
                .collect();
            // SAFETY: valid pollfd array of the given length.
            unsafe {
                libc::poll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    millis_until(deadline).min(100),
                )
            };
        }
        record
    }
}

#[cfg(test)]
mod tests;
