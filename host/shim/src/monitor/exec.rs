//! Exec processes (`docker exec`): run in the running container through the
//! runtime (its namespaces, cgroup and seccomp profile, as `runc exec`
//! does), each with stdio of its own that the shim owns like the
//! container's: output goes to the client that started the exec as stream
//! frames, that client's input to the process's stdin. The shim is the
//! process's parent: it reaps it, drains its output and sends the client
//! an exit frame with the exec's own [`ExitRecord`].
//!
//! Nothing of an exec is logged (moby's exec output goes to the exec's
//! streams only), and nothing survives the shim: exec ids are the engine's,
//! and the engine forgets them on restart as moby does.

use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use berth_shim::exit::ExitRecord;
use berth_shim::protocol::{
    self, ExecProcess as ExecProcessSpec, FrameKind, Reply, ShimFailure, StreamFrameHeader,
    StreamKind,
};
use berth_shim::time::Timestamp;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::client::ClientState;
use super::stdio::{Output, ShimStdio, Stdin, set_winsize};
use super::{
    CLIENT_BUFFER_LIMIT, DRAIN_TIMEOUT, Monitor, Phase, READ_CHUNK, STDIN_BUFFER_LIMIT, io_failure,
    pidfd_open,
};
use crate::container_ops::{ContainerOps, InitIo};

/// Poll slots per exec process: its pidfd, two outputs, its stdin.
pub(super) const EXEC_SLOTS: usize = 4;

/// One exec process under supervision.
pub(super) struct ExecProcess {
    /// The shim's own handle for it, which clients in
    /// [`ClientState::Exec`] refer to.
    pub(super) key: u64,
    /// The engine's id.
    pub(super) exec_id: String,
    pub(super) pid: Pid,
    pidfd: OwnedFd,
    pub(super) outputs: Vec<Output>,
    pub(super) stdin: Option<Stdin>,
    /// The pty master, for resize.
    console: Option<OwnedFd>,
    pub(super) tty: bool,
    /// The streams the client asked for.
    stdout: bool,
    stderr: bool,
    started_at: Timestamp,
    /// Reaped: its status, and until when its output is drained.
    exited: Option<(WaitStatus, Instant)>,
}

impl ExecProcess {
    /// Whether the process has been reaped.
    pub(super) fn reaped(&self) -> bool {
        self.exited.is_some()
    }

    /// The drain deadline, once reaped.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.exited.map(|(_, deadline)| deadline)
    }

    /// Its poll slots ([`EXEC_SLOTS`]): the pidfd until reaped, outputs
    /// unless `backpressure`, stdin while input is queued.
    pub(super) fn poll_fds(&self, backpressure: bool) -> [(i32, i16); EXEC_SLOTS] {
        let pidfd = if self.reaped() {
            -1
        } else {
            self.pidfd.as_raw_fd()
        };
        let output = |i: usize| match self.outputs.get(i) {
            Some(o) if o.open && !backpressure => o.file.as_raw_fd(),
            _ => -1,
        };
        let stdin = match &self.stdin {
            Some(s) if !s.queued.is_empty() => s.file.as_raw_fd(),
            _ => -1,
        };
        [
            (pidfd, libc::POLLIN),
            (output(0), libc::POLLIN),
            (output(1), libc::POLLIN),
            (stdin, libc::POLLOUT),
        ]
    }

    /// Whether its stdin cannot take more input for now.
    pub(super) fn stdin_full(&self) -> bool {
        self.stdin
            .as_ref()
            .is_some_and(|s| s.queued.len() >= STDIN_BUFFER_LIMIT)
    }

    /// The exec's exit record from its wait status.
    fn record(&self, status: WaitStatus) -> ExitRecord {
        let now = Timestamp::now();
        match status {
            WaitStatus::Signaled(_, signal, _) => {
                ExitRecord::signaled(signal as i32, Some(self.started_at), now)
            }
            WaitStatus::Exited(_, code) => ExitRecord::exited(code, Some(self.started_at), now),
            _ => ExitRecord::exited(128, Some(self.started_at), now),
        }
    }
}

/// What [`Request::Exec`](protocol::Request::Exec) asks besides the process.
pub(super) struct ExecAttach {
    pub(super) stdin: bool,
    pub(super) stdout: bool,
    pub(super) stderr: bool,
}

impl<R: ContainerOps> Monitor<R> {
    /// `Exec`: starts the process and turns client `index` into its stream.
    /// Returns the reply when the request ends here (a refusal).
    pub(super) fn start_exec(
        &mut self,
        index: usize,
        exec_id: String,
        process: &ExecProcessSpec,
        attach: ExecAttach,
    ) -> Option<Reply> {
        if !matches!(self.phase, Phase::Running) {
            return Some(Reply::NotRunning);
        }
        // A frozen cgroup would freeze the new process while it joins, and
        // the shim with it.
        if self.paused {
            return Some(Reply::Error(ShimFailure::other("the container is paused")));
        }
        if self.execs.iter().any(|e| e.exec_id == exec_id) {
            return Some(Reply::Error(ShimFailure::other(format!(
                "exec {exec_id} is already running"
            ))));
        }
        let tty = process.terminal().unwrap_or(false);
        let started = self.spawn_exec(process, tty, attach.stdin);
        let (pid, pidfd, stdio, console) = match started {
            Ok(started) => started,
            Err(failure) => return Some(Reply::Error(failure)),
        };
        self.next_exec_key += 1;
        let key = self.next_exec_key;
        let stdin_open = stdio.stdin.is_some();
        self.execs.push(ExecProcess {
            key,
            exec_id,
            pid,
            pidfd,
            outputs: stdio.outputs,
            stdin: stdio.stdin,
            console,
            tty,
            stdout: attach.stdout,
            stderr: attach.stderr,
            started_at: Timestamp::now(),
            exited: None,
        });
        let client = &mut self.clients[index];
        client.state = ClientState::Exec {
            key,
            stdin: stdin_open,
        };
        client.queue_reply(&Reply::ExecStarted { pid: pid.as_raw() });
        client.flush();
        None
    }

    /// Sets up the process's stdio and runs it.
    fn spawn_exec(
        &mut self,
        process: &ExecProcessSpec,
        tty: bool,
        open_stdin: bool,
    ) -> Result<(Pid, OwnedFd, ShimStdio, Option<OwnedFd>), ShimFailure> {
        let (mut stdio, io) = if tty {
            (
                ShimStdio {
                    outputs: Vec::with_capacity(1),
                    stdin: None,
                },
                InitIo::Tty,
            )
        } else {
            ShimStdio::pipes(open_stdin)?
        };
        let created = self
            .runtime
            .exec(process, io)
            .map_err(|e| ShimFailure::start_failed(e.to_string()))?;
        let kill_it = |failure: ShimFailure| {
            let _ = kill(created.pid, Signal::SIGKILL);
            let _ = waitpid(created.pid, None);
            failure
        };
        if let Some(master) = &created.console {
            // runc's `exec -t` sets the size on the master it receives too:
            // the process may read the size before, and then gets SIGWINCH.
            let size = process
                .console_size()
                .as_ref()
                .map(|b| (clamp(b.height()), clamp(b.width())));
            stdio
                .attach_master(master, size, open_stdin)
                .map_err(kill_it)?;
        }
        stdio.set_nonblocking().map_err(kill_it)?;
        let pidfd = pidfd_open(created.pid)
            .map_err(|e| io_failure("pidfd_open", e))
            .map_err(kill_it)?;
        Ok((created.pid, pidfd, stdio, created.console))
    }

    /// `ResizeExec`.
    pub(super) fn resize_exec(&mut self, exec_id: &str, height: u16, width: u16) -> Reply {
        let Some(exec) = self
            .execs
            .iter()
            .find(|e| e.exec_id == exec_id && !e.reaped())
        else {
            return Reply::NotRunning;
        };
        match &exec.console {
            None => Reply::Error(ShimFailure::other("the exec process has no TTY")),
            Some(master) => match set_winsize(master, height, width) {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Error(ShimFailure::other(format!("resize: {e}"))),
            },
        }
    }

    /// `KillExec`. The process is our child and is reaped only by this
    /// loop, so until then its pid cannot be reused: `kill` reaches it.
    pub(super) fn kill_exec(&mut self, exec_id: &str, signal: i32) -> Reply {
        let Some(exec) = self
            .execs
            .iter()
            .find(|e| e.exec_id == exec_id && !e.reaped())
        else {
            return Reply::NotRunning;
        };
        let signal = match Signal::try_from(signal) {
            Ok(signal) => signal,
            Err(_) => return Reply::Error(ShimFailure::other(format!("invalid signal {signal}"))),
        };
        match kill(exec.pid, signal) {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::Error(ShimFailure::other(format!("kill exec process: {e}"))),
        }
    }

    /// A reaped child: init or an exec process. Returns whether it was
    /// one of them.
    pub(super) fn exec_reaped(&mut self, pid: Pid, status: WaitStatus) -> bool {
        let Some(exec) = self.execs.iter_mut().find(|e| e.pid == pid) else {
            return false;
        };
        if exec.exited.is_none() {
            exec.exited = Some((status, Instant::now() + DRAIN_TIMEOUT));
        }
        // Input has nowhere to go; a pty master stays open for the output.
        if !exec.tty {
            exec.stdin = None;
        }
        true
    }

    /// Exec `i`'s pidfd is readable: reap it (without `reap_strays` only
    /// the pidfd tells).
    pub(super) fn reap_exec(&mut self, i: usize) {
        let pid = self.execs[i].pid;
        if self.execs[i].reaped() {
            return;
        }
        if let Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) =
            waitpid(pid, Some(WaitPidFlag::WNOHANG))
        {
            self.exec_reaped(pid, status);
        }
    }

    /// Reads exec `i`'s output `j` and sends it to its client.
    pub(super) fn read_exec_output(&mut self, i: usize, j: usize) {
        if self.read_buf.is_empty() {
            self.read_buf = vec![0; READ_CHUNK];
        }
        let exec = &mut self.execs[i];
        let Some(output) = exec.outputs.get_mut(j) else {
            return;
        };
        let n = match output.file.read(&mut self.read_buf) {
            Ok(0) => {
                output.open = false;
                return;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            // EIO: the pty's every slave is closed.
            Err(_) => {
                output.open = false;
                return;
            }
        };
        let kind = output.kind;
        let wanted = match kind {
            StreamKind::Stdout => exec.stdout,
            StreamKind::Stderr => exec.stderr,
            StreamKind::Stdin => false,
        };
        if !wanted {
            return;
        }
        let (key, reaped) = (exec.key, exec.reaped());
        let data = &self.read_buf[..n];
        let header = StreamFrameHeader {
            kind: FrameKind::Output(kind),
            len: n,
        }
        .encode();
        for client in &mut self.clients {
            if matches!(client.state, ClientState::Exec { key: k, .. } if k == key) {
                client.send_frame(&header, data);
                if reaped && client.queued() > CLIENT_BUFFER_LIMIT {
                    // Nobody reads it and the process is gone.
                    client.dead = true;
                }
            }
        }
    }

    /// Writes queued input to exec `i`'s stdin.
    pub(super) fn write_exec_stdin(&mut self, i: usize) {
        let exec = &mut self.execs[i];
        if exec.stdin.as_mut().is_some_and(|stdin| !stdin.flush()) {
            exec.stdin = None;
        }
    }

    /// Input from the client of exec `key`.
    pub(super) fn exec_input(&mut self, key: u64, data: &[u8]) {
        let Some(i) = self.execs.iter().position(|e| e.key == key) else {
            return;
        };
        if let Some(stdin) = &mut self.execs[i].stdin
            && !stdin.closing
        {
            stdin.queued.extend_from_slice(data);
            self.write_exec_stdin(i);
        }
    }

    /// The client of exec `key` ended its input (half-close or gone):
    /// without a TTY the process's stdin closes, as moby's exec does
    /// (`CloseStdin` in `daemon/exec.go`); a TTY's stays open.
    pub(super) fn exec_stdin_detached(&mut self, key: u64) {
        let Some(i) = self.execs.iter().position(|e| e.key == key) else {
            return;
        };
        if self.execs[i].tty {
            return;
        }
        if let Some(stdin) = &mut self.execs[i].stdin {
            stdin.closing = true;
        }
        self.write_exec_stdin(i);
    }

    /// Finishes the execs that were reaped and whose output is drained (or
    /// whose drain deadline passed): their clients get the exit frame.
    pub(super) fn finish_execs(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.execs.len() {
            let done = match self.execs[i].exited {
                Some((_, deadline)) => {
                    self.execs[i].outputs.iter().all(|o| !o.open) || now >= deadline
                }
                None => false,
            };
            if done {
                let exec = self.execs.swap_remove(i);
                self.exec_finished(exec);
            } else {
                i += 1;
            }
        }
        // Clients that got everything close now, not at the next event.
        self.clients.retain(|c| !c.dead);
    }

    /// Ends every exec at once (init has exited: the kernel has killed
    /// them with the container's pid namespace), so that their clients get
    /// an exit frame before the shim exits.
    pub(super) fn end_all_execs(&mut self) {
        for mut exec in std::mem::take(&mut self.execs) {
            if exec.exited.is_none() {
                let _ = kill(exec.pid, Signal::SIGKILL);
                let status = waitpid(exec.pid, None).unwrap_or(WaitStatus::Signaled(
                    exec.pid,
                    Signal::SIGKILL,
                    false,
                ));
                exec.exited = Some((status, Instant::now()));
            }
            self.exec_finished(exec);
        }
    }

    fn exec_finished(&mut self, exec: ExecProcess) {
        let Some((status, _)) = exec.exited else {
            return;
        };
        let record = exec.record(status);
        let mut frame = Vec::new();
        if let Ok(json) = serde_json::to_vec(&record) {
            protocol::encode_stream_frame(&mut frame, FrameKind::Exit, &json);
        }
        for client in &mut self.clients {
            if matches!(client.state, ClientState::Exec { key, .. } if key == exec.key) {
                client.queue(&frame);
                client.state = ClientState::Closing;
                client.flush();
            }
        }
    }

    /// The soonest drain deadline of the reaped execs.
    pub(super) fn exec_deadline(&self) -> Option<Instant> {
        self.execs.iter().filter_map(ExecProcess::deadline).min()
    }
}

/// A console size from the spec (`u64`) as the terminal takes it.
fn clamp(v: u64) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}
