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

mod client;
mod control;
mod exec;
mod stdio;

use std::io::{self, ErrorKind};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_shim::args::ShimArgs;
use berth_shim::exit::{ExitRecord, ExitRecordFile};
use berth_shim::jsonlog::encode_entry;
use berth_shim::logfile::LogFile;
use berth_shim::protocol::{self, FrameKind, Reply, ShimFailure};
use berth_shim::time::Timestamp;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use self::client::{Client, ClientState};
use self::stdio::{Output, ShimStdio, Stdin};
use crate::container_ops::ContainerOps;

/// Output queued for one client above which container output stops being
/// read until the client catches up.
pub(super) const CLIENT_BUFFER_LIMIT: usize = 1024 * 1024;

/// Input queued for the container's stdin above which clients' input stops
/// being read.
pub(super) const STDIN_BUFFER_LIMIT: usize = 64 * 1024;

/// Capacity asked for the container's stdout and stderr pipes (the
/// default is 64 KiB): a container that prints a lot blocks, and wakes the
/// shim, half as often.
pub(super) const PIPE_SIZE: i32 = 128 * 1024;

/// Bytes read from the container per `read(2)` at most: a whole pipe, so
/// that one wakeup empties it; each read is one attach frame.
pub(super) const READ_CHUNK: usize = 128 * 1024;

/// Encoded log lines are written once they reach this many bytes, so that
/// the encoding buffer stays small however much one read brings (a read of
/// zeros takes six times its size as JSON).
pub(super) const LOG_BATCH: usize = 64 * 1024;

/// How long to keep draining output after init has exited. Everything in
/// the container's pid namespace dies with init, so the pipes close at once;
/// the bound only protects against a runtime that shares namespaces.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Where the container is in its life, as the monitor sees it.
pub(super) enum Phase {
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

/// One round's `poll(2)` set. Slots: the listener, the pidfd, SIGCHLD,
/// then the outputs, stdin, the clients, and [`exec::EXEC_SLOTS`] per exec
/// process.
struct PollSet {
    fds: Vec<libc::pollfd>,
    stdin_slot: usize,
    clients_slot: usize,
    execs_slot: usize,
}

impl PollSet {
    const LISTENER: usize = 0;
    const PIDFD: usize = 1;
    const SIGCHLD: usize = 2;
    const OUTPUTS: usize = 3;
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
    /// Exec processes running (or draining) in the container.
    execs: Vec<exec::ExecProcess>,
    /// The last key given to an exec process.
    next_exec_key: u64,
}

/// Sets `O_NONBLOCK` on `fd`.
pub(super) fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
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

/// A pidfd of `pid` (pidfd_open(2)): readable once it has exited.
pub(super) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Milliseconds left until `deadline`, as poll(2) takes a timeout.
fn millis_until(deadline: Instant) -> i32 {
    let left = deadline.saturating_duration_since(Instant::now());
    i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
}

/// A shim failure from an I/O error while setting up: `what: error`.
pub(super) fn io_failure(what: &str, e: io::Error) -> ShimFailure {
    ShimFailure::other(format!("{what}: {e}"))
}

impl<R: ContainerOps> Monitor<R> {
    /// Opens the log, binds the control socket and creates the container.
    /// On a runtime failure the exit record is written (the container
    /// "exited" with Docker's start-failure code) before returning it.
    pub fn create(config: MonitorConfig, mut runtime: R) -> Result<Monitor<R>, ShimFailure> {
        let log = open_log(&config.args)?;
        let listener = bind_control_socket(&config.args.socket)?;
        let (mut stdio, io) = ShimStdio::prepare(&config.args)?;
        let created = match runtime.create(io) {
            Ok(created) => created,
            Err(e) => return Err(record_create_failure(&config.args, e.to_string())),
        };
        if let Some(master) = &created.console {
            stdio.attach_console(master, &config.args)?;
        }
        stdio.set_nonblocking()?;
        let pidfd = pidfd_open(created.pid).map_err(|e| io_failure("pidfd_open", e))?;
        // Blocked from here on; a SIGCHLD of an earlier exit is covered by
        // the pidfd (init) and the first reap (anything else).
        let sigchld = if config.reap_strays {
            Some(sigchld_fd()?)
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
            outputs: stdio.outputs,
            stdin: stdio.stdin,
            console: created.console,
            clients: Vec::new(),
            phase: Phase::Created,
            started_at: None,
            paused: false,
            start_failure: None,
            record: None,
            execs: Vec::new(),
            next_exec_key: 0,
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
            self.finish_execs();
            self.poll_once();
        }
    }

    /// Builds the poll set, waits, and handles what is ready.
    fn poll_once(&mut self) {
        let mut set = self.poll_set();
        let deadline = match self.phase {
            Phase::Draining { deadline, .. } => Some(deadline),
            _ => None,
        };
        let timeout = match deadline.into_iter().chain(self.exec_deadline()).min() {
            Some(deadline) => millis_until(deadline),
            None => -1,
        };
        let fds = &mut set.fds;
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
        self.handle_ready(&set);
    }

    /// What to wait for: output unless a client is too far behind (or
    /// the container is gone), stdin while input is queued, clients'
    /// requests and input unless stdin is full, their queued output.
    fn poll_set(&self) -> PollSet {
        let draining = matches!(self.phase, Phase::Draining { .. });
        let backpressure = !draining
            && self.clients.iter().any(|c| {
                matches!(c.state, ClientState::Attached { .. }) && c.queued() > CLIENT_BUFFER_LIMIT
            });
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(
            4 + self.outputs.len() + self.clients.len() + exec::EXEC_SLOTS * self.execs.len(),
        );
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
            let reading_input = match client.state {
                ClientState::Attached { .. } => !stdin_full,
                ClientState::Exec { key, .. } => {
                    !self.execs.iter().any(|e| e.key == key && e.stdin_full())
                }
                _ => false,
            };
            if !client.read_closed && (client.state == ClientState::Request || reading_input) {
                events |= libc::POLLIN;
            }
            if client.queued() > 0 {
                events |= libc::POLLOUT;
            }
            // POLLHUP (peer gone entirely) is reported whatever we ask.
            fds.push(pfd(client.stream.as_raw_fd(), events));
        }
        let execs_slot = fds.len();
        for exec in &self.execs {
            // An exec's output waits for its own client only.
            let backpressure = !exec.reaped()
                && self.clients.iter().any(|c| {
                    matches!(c.state, ClientState::Exec { key, .. } if key == exec.key)
                        && c.queued() > CLIENT_BUFFER_LIMIT
                });
            for (fd, events) in exec.poll_fds(backpressure) {
                fds.push(pfd(fd, events));
            }
        }
        PollSet {
            fds,
            stdin_slot,
            clients_slot,
            execs_slot,
        }
    }

    /// Handles what `poll` reported ready: exits first, then output,
    /// stdin, known clients, and new connections last.
    fn handle_ready(&mut self, set: &PollSet) {
        let fds = &set.fds;
        if fds[PollSet::SIGCHLD].revents != 0 {
            if let Some(sigchld) = &self.sigchld {
                // Drain: one read per pending signal, coalesced anyway.
                while let Ok(Some(_)) = sigchld.read_signal() {}
            }
            self.reap(false);
        }
        if fds[PollSet::PIDFD].revents != 0 {
            self.reap(true);
        }
        for i in 0..self.outputs.len() {
            if fds[PollSet::OUTPUTS + i].revents != 0 {
                self.read_output(i);
            }
        }
        if fds[set.stdin_slot].revents != 0 {
            self.write_stdin();
        }
        // Clients accepted below are not in `fds`; handle the known ones
        // first, by index, before the list changes.
        let known = self.clients.len();
        for i in 0..known {
            let revents = fds[set.clients_slot + i].revents;
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
        // Execs started by the requests above are not in `fds`: only the
        // ones the set was built for (execs are removed only between
        // rounds, so their indices hold).
        let execs = (fds.len() - set.execs_slot) / exec::EXEC_SLOTS;
        for i in 0..execs {
            let slot = set.execs_slot + exec::EXEC_SLOTS * i;
            if fds[slot].revents != 0 {
                self.reap_exec(i);
            }
            for j in 0..2 {
                if fds[slot + 1 + j].revents != 0 {
                    self.read_exec_output(i, j);
                }
            }
            if fds[slot + 3].revents != 0 {
                self.write_exec_stdin(i);
            }
        }
        if fds[PollSet::LISTENER].revents != 0 {
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
                Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _))) => {
                    self.exec_reaped(pid, status);
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

    /// After init's exit (`status`) and the drain: log the rest, record,
    /// delete, tell.
    fn finish(mut self, status: WaitStatus) -> ExitRecord {
        self.log_last_lines();
        let record = self.exit_record(status);
        if let Err(e) = record.write(&self.config.args.exit_file) {
            eprintln!("berth-shim: {e}");
        }
        self.record = Some(record.clone());
        self.end_all_execs();
        // New connections now find no listener and read the record.
        let _ = std::fs::remove_file(&self.config.args.socket);
        if let Err(e) = self.runtime.delete() {
            eprintln!(
                "berth-shim: deleting container {}: {e}",
                self.config.args.id
            );
        }
        self.tell_clients(&record);
        record
    }

    /// Logs what each stream had after its last newline.
    fn log_last_lines(&mut self) {
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
    }

    /// The exit record of init's `status`; a failed `Start` overrides the
    /// exit code with its own and adds its message.
    fn exit_record(&mut self, status: WaitStatus) -> ExitRecord {
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
        record
    }

    /// Gives waiting clients the record and attached ones the exit frame,
    /// answers requests still arriving, and flushes for at most
    /// [`FLUSH_TIMEOUT`].
    fn tell_clients(&mut self, record: &ExitRecord) {
        let mut exit_frame = Vec::new();
        if let Ok(json) = serde_json::to_vec(record) {
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
                    // Exec clients got their exit frame from
                    // `end_all_execs` and are closing already.
                    ClientState::Request | ClientState::Closing | ClientState::Exec { .. } => {}
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
    }
}

/// The container's json-file log, unless the log driver is `none`.
fn open_log(args: &ShimArgs) -> Result<Option<LogFile>, ShimFailure> {
    if args.no_log {
        return Ok(None);
    }
    LogFile::open(&args.log, args.log_rotation)
        .map(Some)
        .map_err(|e| ShimFailure::other(format!("open log {}: {e}", args.log.display())))
}

/// Binds the control socket at `path` (replacing a stale one),
/// non-blocking.
fn bind_control_socket(path: &Path) -> Result<UnixListener, ShimFailure> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)
        .map_err(|e| ShimFailure::other(format!("bind control socket {}: {e}", path.display())))?;
    set_nonblocking(&listener).map_err(|e| ShimFailure::other(format!("control socket: {e}")))?;
    Ok(listener)
}

/// A create the runtime refused: the container "exited" with Docker's
/// start-failure code, written to the exit record; the control socket
/// goes.
fn record_create_failure(args: &ShimArgs, message: String) -> ShimFailure {
    let failure = ShimFailure::start_failed(message);
    let record = ExitRecord::failed(
        failure.exit_code.unwrap_or(128),
        failure.message.clone(),
        Timestamp::now(),
    );
    if let Err(e) = record.write(&args.exit_file) {
        eprintln!("berth-shim: {e}");
    }
    let _ = std::fs::remove_file(&args.socket);
    failure
}

/// Blocks SIGCHLD and returns it as a non-blocking signalfd.
fn sigchld_fd() -> Result<SignalFd, ShimFailure> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block()
        .map_err(|e| io_failure("block SIGCHLD", e.into()))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| io_failure("signalfd", e.into()))
}

#[cfg(test)]
mod tests;
