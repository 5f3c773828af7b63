//! A client of the control socket and its output queue.

use std::io::{ErrorKind, IoSlice, Write};
use std::os::unix::net::UnixStream;

use berth_shim::protocol::{self, Reply};

/// Where a client is in its conversation with the shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientState {
    /// Reading its request.
    Request,
    /// Waiting for the exit.
    Waiting,
    /// Streaming.
    Attached {
        /// Its input goes to the container's stdin.
        stdin: bool,
        /// It gets the container's stdout.
        stdout: bool,
        /// It gets the container's stderr.
        stderr: bool,
    },
    /// Streaming an exec process (`Request::Exec`).
    Exec {
        /// The shim's key of the exec process.
        key: u64,
        /// Its input goes to the process's stdin.
        stdin: bool,
    },
    /// Close once the output queue is flushed.
    Closing,
}

/// A connection to the control socket: a request, then a reply, the exit
/// (wait) or a stream (attach).
pub(super) struct Client {
    pub(super) stream: UnixStream,
    pub(super) state: ClientState,
    /// The request read so far.
    pub(super) inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// The client will send nothing more (EOF seen).
    pub(super) read_closed: bool,
    /// Drop it at the next opportunity.
    pub(super) dead: bool,
}

impl Client {
    /// A new connection, reading its request.
    pub(super) fn new(stream: UnixStream) -> Client {
        Client {
            stream,
            state: ClientState::Request,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            read_closed: false,
            dead: false,
        }
    }

    /// Bytes queued for the client and not yet written.
    pub(super) fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Queues `bytes` after what is already queued.
    pub(super) fn queue(&mut self, bytes: &[u8]) {
        if self.out_pos > 0 && self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        self.out.extend_from_slice(bytes);
    }

    /// Sends a stream frame: with nothing queued, header and payload go to
    /// the socket in one `writev(2)` straight from the read buffer, and
    /// only what the socket did not take is queued (copied).
    pub(super) fn send_frame(&mut self, header: &[u8], payload: &[u8]) {
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

    /// Queues an encoded reply (a reply that cannot be encoded drops the
    /// client).
    pub(super) fn queue_reply(&mut self, reply: &Reply) {
        match protocol::encode_message(reply) {
            Ok(bytes) => self.queue(&bytes),
            Err(e) => {
                eprintln!("berth-shim: cannot encode reply: {e}");
                self.dead = true;
            }
        }
    }

    /// Writes as much queued output as the socket takes.
    pub(super) fn flush(&mut self) {
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
