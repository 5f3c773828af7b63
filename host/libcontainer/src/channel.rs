//! Typed messages between the runtime and container init (or an exec'd
//! process during its setup), over a `SOCK_SEQPACKET` socketpair: one
//! message per packet, EOF when the peer exits or `execve`s (both ends are
//! close-on-exec).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use serde::{Deserialize, Serialize};

use crate::error::{InitStep, ProtocolError};

/// A protocol message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "msg")]
pub(crate) enum Message {
    /// Runtime → child: the cgroup (and id maps) are in place; go on.
    Continue,
    /// Init → runtime: set up and waiting on the exec FIFO.
    Ready,
    /// Child → runtime: a step failed; the child exits next.
    Failed {
        #[serde(flatten)]
        step: InitStep,
        errno: i32,
        detail: String,
    },
}

/// One end of the socketpair.
#[derive(Debug)]
pub(crate) struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair: (runtime end, child end).
    pub fn pair() -> nix::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Sends one message.
    pub fn send(&self, msg: &Message) -> nix::Result<()> {
        let bytes = serde_json::to_vec(msg).map_err(|_| Errno::EINVAL)?;
        loop {
            match send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Receives one message; `Ok(None)` when the peer is gone.
    pub fn recv(&self) -> Result<Option<Message>, ProtocolError> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(ProtocolError::Recv(e)),
                Ok(n) => break n,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|error| ProtocolError::Decode {
                error,
                packet: String::from_utf8_lossy(&buf[..n]).into_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (a, b) = Channel::pair().unwrap();
        let failed = Message::Failed {
            step: InitStep::Mount {
                destination: "/proc".into(),
                fstype: "proc".into(),
            },
            errno: libc::EPERM,
            detail: "because".into(),
        };
        b.send(&failed).unwrap();
        b.send(&Message::Ready).unwrap();
        assert_eq!(a.recv().unwrap(), Some(failed));
        assert_eq!(a.recv().unwrap(), Some(Message::Ready));
        drop(b);
        assert_eq!(a.recv().unwrap(), None);
    }
}
