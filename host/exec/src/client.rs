//! Async client side of the shim's control socket (see
//! [`berth_shim::protocol`]).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_shim::protocol::{self, MESSAGE_HEADER_LEN, ProtocolError, Reply, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::ExecError;

/// How long a short request (state, kill, resize, ...) may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest `sun_path` (including the terminating NUL) on Linux.
const SUN_PATH_MAX: usize = 108;

/// The control socket of one container.
#[derive(Debug, Clone)]
pub(crate) struct ShimSocket {
    pub id: String,
    pub path: PathBuf,
}

impl ShimSocket {
    pub fn new(id: &str, path: PathBuf) -> Result<ShimSocket, ExecError> {
        if path.as_os_str().len() >= SUN_PATH_MAX {
            return Err(ExecError::SocketPathTooLong(path));
        }
        Ok(ShimSocket {
            id: id.to_owned(),
            path,
        })
    }

    fn protocol_error(&self, source: ProtocolError) -> ExecError {
        ExecError::Protocol {
            id: self.id.clone(),
            path: self.path.clone(),
            source,
        }
    }

    /// Connects; `Ok(None)` when no shim listens (socket missing or stale).
    pub async fn connect(&self) -> Result<Option<UnixStream>, ExecError> {
        match UnixStream::connect(&self.path).await {
            Ok(stream) => Ok(Some(stream)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(self.protocol_error(e.into())),
        }
    }

    /// Sends `request` on a new connection and returns it with the first
    /// reply; `Ok(None)` when no shim listens. `timeout` bounds the wait for
    /// the reply (`None`: wait as long as it takes, for `Wait`).
    pub async fn call(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Option<(UnixStream, Reply)>, ExecError> {
        let Some(mut stream) = self.connect().await? else {
            return Ok(None);
        };
        let bytes = protocol::encode_message(request).map_err(|e| self.protocol_error(e))?;
        match stream.write_all(&bytes).await {
            Ok(()) => {}
            // The shim closed the socket between accept and our write: it
            // is exiting.
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(self.protocol_error(e.into())),
        }
        let read = read_message(&mut stream);
        let reply = match timeout {
            Some(limit) => {
                tokio::time::timeout(limit, read)
                    .await
                    .map_err(|_| ExecError::Timeout {
                        id: self.id.clone(),
                        what: request_name(request),
                        seconds: limit.as_secs(),
                    })?
            }
            None => read.await,
        };
        match reply {
            Ok(reply) => Ok(Some((stream, reply))),
            // The shim went away without answering: it exited.
            Err(ProtocolError::Eof) => Ok(None),
            Err(ProtocolError::Io(e)) if is_gone(&e) => Ok(None),
            Err(e) => Err(self.protocol_error(e)),
        }
    }

    /// A short request whose reply must be `Ok`; `Ok(false)` when no shim
    /// listens or the container is not running.
    pub async fn call_ok(&self, request: &Request) -> Result<bool, ExecError> {
        match self.call(request, Some(REQUEST_TIMEOUT)).await? {
            None | Some((_, Reply::NotRunning)) => Ok(false),
            Some((_, Reply::Ok)) => Ok(true),
            Some((_, Reply::Error(failure))) => Err(ExecError::from_failure(&self.id, failure)),
            Some((_, other)) => Err(self.unexpected(&other)),
        }
    }

    pub fn unexpected(&self, reply: &Reply) -> ExecError {
        ExecError::Shim {
            id: self.id.clone(),
            message: format!("unexpected reply from berth-shim: {reply:?}"),
        }
    }
}

fn request_name(request: &Request) -> &'static str {
    match request {
        Request::State => "state",
        Request::Start => "start",
        Request::Kill { .. } => "kill",
        Request::Pause => "pause",
        Request::Resume => "resume",
        Request::Resize { .. } => "resize",
        Request::Wait => "wait",
        Request::Attach { .. } => "attach",
        Request::Exec { .. } => "exec",
        Request::ResizeExec { .. } => "resize exec",
        Request::KillExec { .. } => "kill exec",
    }
}

/// Errors that mean "no shim is there (any more)".
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
    )
}

/// Reads one length-prefixed message.
pub(crate) async fn read_message<T, R>(r: &mut R) -> Result<T, ProtocolError>
where
    T: for<'de> serde::Deserialize<'de>,
    R: AsyncRead + Unpin,
{
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    read_exact(r, &mut header).await?;
    let mut body = vec![0u8; protocol::message_len(header)?];
    read_exact(r, &mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<(), ProtocolError> {
    match r.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(ProtocolError::Eof),
        Err(e) => Err(e.into()),
    }
}

/// Whether a path exists (for "was this container ever started here").
pub(crate) fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}
