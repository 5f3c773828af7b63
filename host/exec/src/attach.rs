//! Attach: live output of a running container and, when it was created with
//! `OpenStdin`, its stdin.
//!
//! The shim sends output as its own frames (see [`berth_shim::protocol`]);
//! Docker's 8-byte multiplexed header is the HTTP edge's business
//! (`berth_api::stream`): [`StreamKind`] carries Docker's stream numbers, so
//! `StreamType::from_byte(kind as u8)` maps it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_shim::protocol::FrameKind;
use berth_shim::{ExitRecord, StreamKind};
use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::client::read_stream_frame;
use crate::error::ExecError;

/// What to attach to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Forward input to the container's stdin (ignored unless the
    /// container was created with `OpenStdin`).
    pub stdin: bool,
    /// Receive stdout (everything, with a TTY).
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
}

/// A chunk of container output, as the container wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// Which stream (always stdout with a TTY).
    pub stream: StreamKind,
    /// The bytes.
    pub data: Bytes,
}

/// What the output side of an attach yields.
#[derive(Debug)]
pub enum AttachEvent {
    /// Output.
    Output(OutputChunk),
    /// The container exited; nothing follows.
    Exited(ExitRecord),
}

/// A live attachment to a container.
#[derive(Debug)]
pub struct Attached {
    /// The container's stdin, when requested and the container has one open.
    /// Writing sends input; `shutdown()` ends this client's input, which
    /// closes the container's stdin when it was created with `StdinOnce`.
    pub stdin: Option<AttachStdin>,
    /// Output and, last, the exit; ends (`None`) after the exit or when the
    /// shim goes away.
    pub output: AttachOutput,
}

/// The write side of an attach connection.
#[derive(Debug)]
pub struct AttachStdin(OwnedWriteHalf);

impl AsyncWrite for AttachStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    /// Half-closes the connection: the shim sees the end of this client's
    /// input.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The output side of an attach connection.
#[derive(Debug)]
pub struct AttachOutput {
    rx: mpsc::Receiver<Result<AttachEvent, ExecError>>,
}

impl AttachOutput {
    /// The next event; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<AttachEvent, ExecError>> {
        self.rx.recv().await
    }
}

impl futures_util::Stream for AttachOutput {
    type Item = Result<AttachEvent, ExecError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// Turns an attached connection (after the `Attached` reply) into the
/// public halves. A task decodes frames into a small channel, so a slow
/// consumer slows the shim's sending, which in turn slows the container —
/// Docker's attach behaves the same.
pub(crate) fn split(
    id: &str,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    options: AttachOptions,
    stdin_open: bool,
) -> Attached {
    let (tx, rx) = mpsc::channel(16);
    let id = id.to_owned();
    tokio::spawn(async move {
        let mut read = read;
        loop {
            let frame = read_stream_frame(&mut read).await;
            let event = match frame {
                Ok(Some((FrameKind::Output(stream), data))) => {
                    Ok(AttachEvent::Output(OutputChunk {
                        stream,
                        data: Bytes::from(data),
                    }))
                }
                Ok(Some((FrameKind::Exit, payload))) => match serde_json::from_slice(&payload) {
                    Ok(record) => Ok(AttachEvent::Exited(record)),
                    Err(e) => Err(ExecError::Shim {
                        id: id.clone(),
                        message: format!("malformed exit frame: {e}"),
                    }),
                },
                Ok(None) => break,
                Err(e) => Err(ExecError::Shim {
                    id: id.clone(),
                    message: format!("attach stream broke: {e}"),
                }),
            };
            let last = !matches!(event, Ok(AttachEvent::Output(_)));
            if tx.send(event).await.is_err() || last {
                break;
            }
        }
    });
    Attached {
        stdin: (options.stdin && stdin_open).then_some(AttachStdin(write)),
        output: AttachOutput { rx },
    }
}
