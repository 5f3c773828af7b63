//! The control socket: accepting clients, reading their requests and
//! answering them (`berth_shim::protocol`).

use std::io::{ErrorKind, Read};

use berth_shim::protocol::{
    self, ContainerStatus, MAX_MESSAGE_LEN, MESSAGE_HEADER_LEN, Reply, Request, ShimFailure,
    ShimState,
};
use berth_shim::time::Timestamp;
use nix::sys::signal::Signal;

use super::client::{Client, ClientState};
use super::stdio::set_winsize;
use super::{Monitor, Phase, set_nonblocking};
use crate::container_ops::ContainerOps;

impl<R: ContainerOps> Monitor<R> {
    /// Accepts every pending connection.
    pub(super) fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if set_nonblocking(&stream).is_err() {
                        continue;
                    }
                    self.clients.push(Client::new(stream));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Reads from client `index`: its request, or input once attached.
    pub(super) fn read_client(&mut self, index: usize) {
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
                ClientState::Exec { key, stdin: true } => self.exec_stdin_detached(key),
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
        if let ClientState::Exec { key, stdin: true } = self.clients[index].state {
            self.exec_input(key, data);
            return;
        }
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

    /// Whether init has exited.
    pub(super) fn exited(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. })
    }

    /// The container's state as `State` answers it.
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

    /// Answers client `index`'s request.
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
            Request::Exec {
                exec_id,
                process,
                stdin,
                stdout,
                stderr,
            } => self.start_exec(
                index,
                exec_id,
                &process,
                super::exec::ExecAttach {
                    stdin,
                    stdout,
                    stderr,
                },
            ),
            Request::ResizeExec {
                exec_id,
                height,
                width,
            } => Some(self.resize_exec(&exec_id, height, width)),
            Request::KillExec { exec_id, signal } => Some(self.kill_exec(&exec_id, signal)),
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

    /// `Start`: lets init exec the user process.
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

    /// `Kill`: signals init, or with `all` every process of the container.
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

    /// `Pause` (`pause`) or `Resume`.
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
}
