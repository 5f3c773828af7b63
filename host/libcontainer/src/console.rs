//! Container consoles and runc's console-socket protocol.
//!
//! With `process.terminal: true`, container init opens a pty in the
//! container's own devpts instance and sends the master end over a Unix
//! socket given by the caller (`--console-socket`): one `sendmsg(2)` whose
//! data is the pty's name and whose `SCM_RIGHTS` carries the master fd, as
//! runc does (`libcontainer/utils.SendFd`), so that containerd's shim, the
//! berth shim or [`ConsoleSocket`] can receive it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::sys::stat::Mode;

use crate::error::Error;

/// A listening console socket: bind it, pass its path as the console
/// socket of `create`/`exec`, then [`ConsoleSocket::accept_master`].
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Binds a Unix socket at `path` (which must not exist).
    pub fn bind(path: &Path) -> Result<ConsoleSocket, Error> {
        let listener =
            UnixListener::bind(path).map_err(|e| Error::io("bind console socket", path, e))?;
        Ok(ConsoleSocket {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the container to connect and returns the pty master.
    pub fn accept_master(&self) -> Result<OwnedFd, Error> {
        let (stream, _) = self
            .listener
            .accept()
            .map_err(|e| Error::io("accept on console socket", &self.path, e))?;
        recv_master(&stream).map_err(|source| Error::Console {
            path: self.path.clone(),
            action: "receive the pty master",
            source,
        })
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Receives one fd sent with runc's protocol on a connected stream.
pub fn recv_master(stream: &UnixStream) -> Result<OwnedFd, Errno> {
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            other => break other?,
        }
    };
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            for &extra in &fds[1..] {
                // SAFETY: received fds are ours to close.
                drop(unsafe { OwnedFd::from_raw_fd(extra) });
            }
            // SAFETY: the kernel just installed this fd for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(Errno::EBADMSG)
}

/// Sends `master` over the connected socket `socket`, named `name`.
pub(crate) fn send_master(socket: RawFd, master: RawFd, name: &str) -> Result<(), Errno> {
    let iov = [IoSlice::new(name.as_bytes())];
    let fds = [master];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

/// A new pty from the devpts instance behind `/dev/ptmx`: (master, slave
/// path, slave). Follows posix_openpt(3)/unlockpt(3)/ptsname(3) with the
/// ioctls directly, so that nothing depends on the host's `/dev/pts`.
pub(crate) fn open_pty() -> Result<(OwnedFd, PathBuf, OwnedFd), Errno> {
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } < 0 {
        return Err(Errno::last());
    }
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN stores the pty number in an unsigned int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) } < 0 {
        return Err(Errno::last());
    }
    let slave_path = PathBuf::from(format!("/dev/pts/{number}"));
    let slave = open(
        &slave_path,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok((master, slave_path, slave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_fd_travels_over_the_console_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let socket = ConsoleSocket::bind(&dir.path().join("console.sock")).unwrap();
        let sender = UnixStream::connect(socket.path()).unwrap();
        let (reader, writer) = nix::unistd::pipe().unwrap();
        send_master(sender.as_raw_fd(), writer.as_raw_fd(), "/dev/ptmx").unwrap();
        drop(writer);
        let received = socket.accept_master().unwrap();
        nix::unistd::write(&received, b"hi").unwrap();
        drop(received);
        let mut buf = [0u8; 8];
        let n = nix::unistd::read(&reader, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
    }
}
