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

use berth_model::exec::AttachOptions;
use berth_shim::protocol::{FrameKind, ProtocolError, STREAM_FRAME_HEADER_LEN, StreamFrameHeader};
use berth_shim::{ExitRecord, StreamKind};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::ExecError;

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

/// Room made in the buffer before each `read(2)` from the shim: a few of
/// its frames, so that one read usually brings several.
const READ_AHEAD: usize = 256 * 1024;

/// The output side of an attach connection.
///
/// Pulled, not pushed: [`AttachOutput::next`] reads the shim's socket
/// itself and cuts frames out of its buffer without copying their
/// payload, so whoever writes the output to a client is the only task
/// between the shim and that client. A consumer that does not pull holds
/// the shim back (it stops reading the container once a client has 1 MiB
/// queued), which slows the container — Docker's attach behaves the same.
#[derive(Debug)]
pub struct AttachOutput {
    id: String,
    read: OwnedReadHalf,
    buf: BytesMut,
    /// The exit frame, an error or the end of the connection was seen.
    ended: bool,
}

impl AttachOutput {
    /// The next event; `None` once the stream has ended (after the exit,
    /// an error, or the shim going away).
    pub async fn next(&mut self) -> Option<Result<AttachEvent, ExecError>> {
        if self.ended {
            return None;
        }
        let event = self.read_event().await;
        self.ended = !matches!(event, Some(Ok(AttachEvent::Output(_))));
        event
    }

    async fn read_event(&mut self) -> Option<Result<AttachEvent, ExecError>> {
        loop {
            let wanted = match self.take_frame() {
                Ok(Frame::Event(event)) => return Some(Ok(event)),
                Ok(Frame::Needs(wanted)) => wanted,
                Err(e) => return Some(Err(e)),
            };
            self.buf.reserve(wanted.max(READ_AHEAD));
            match self.read.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return None,
                Ok(0) => return Some(Err(self.broken(&ProtocolError::Eof))),
                Ok(_) => {}
                Err(e) => return Some(Err(self.broken(&ProtocolError::Io(e)))),
            }
        }
    }

    /// Cuts the next whole frame off the buffer, or says how many bytes it
    /// still needs.
    fn take_frame(&mut self) -> Result<Frame, ExecError> {
        let Some(header) = self.buf.first_chunk::<STREAM_FRAME_HEADER_LEN>() else {
            return Ok(Frame::Needs(STREAM_FRAME_HEADER_LEN - self.buf.len()));
        };
        let header = StreamFrameHeader::decode(*header).map_err(|e| self.broken(&e))?;
        let end = STREAM_FRAME_HEADER_LEN + header.len;
        if self.buf.len() < end {
            return Ok(Frame::Needs(end - self.buf.len()));
        }
        self.buf.advance(STREAM_FRAME_HEADER_LEN);
        let payload = self.buf.split_to(header.len).freeze();
        Ok(Frame::Event(match header.kind {
            FrameKind::Output(stream) => AttachEvent::Output(OutputChunk {
                stream,
                data: payload,
            }),
            FrameKind::Exit => match serde_json::from_slice(&payload) {
                Ok(record) => AttachEvent::Exited(record),
                Err(e) => {
                    return Err(ExecError::Shim {
                        id: self.id.clone(),
                        message: format!("malformed exit frame: {e}"),
                    });
                }
            },
        }))
    }

    fn broken(&self, e: &ProtocolError) -> ExecError {
        ExecError::Shim {
            id: self.id.clone(),
            message: format!("attach stream broke: {e}"),
        }
    }
}

/// What [`AttachOutput::take_frame`] found.
enum Frame {
    Event(AttachEvent),
    /// At least this many more bytes are needed.
    Needs(usize),
}

/// Turns an attached connection (after the `Attached` reply) into the
/// public halves.
pub(crate) fn split(
    id: &str,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    options: AttachOptions,
    stdin_open: bool,
) -> Attached {
    Attached {
        stdin: (options.stdin && stdin_open).then_some(AttachStdin(write)),
        output: AttachOutput {
            id: id.to_owned(),
            read,
            buf: BytesMut::new(),
            ended: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shim::protocol::encode_stream_frame;
    use berth_shim::time::Timestamp;
    use tokio::io::AsyncWriteExt;

    /// An attach output over a socket pair; returns the shim's end.
    fn attach_output() -> (AttachOutput, tokio::net::UnixStream) {
        let (ours, shim) = tokio::net::UnixStream::pair().unwrap();
        let (read, write) = ours.into_split();
        let attached = split("c1", read, write, AttachOptions::default(), false);
        (attached.output, shim)
    }

    #[tokio::test]
    async fn frames_split_anywhere_come_out_whole_and_the_exit_ends_them() {
        let (mut output, mut shim) = attach_output();
        let record = ExitRecord::exited(3, None, Timestamp::from_unix(1, 0));
        let mut wire = Vec::new();
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stdout), b"hello\n");
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stderr), b"");
        let big = vec![7u8; READ_AHEAD + 3];
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stdout), &big);
        let json = serde_json::to_vec(&record).unwrap();
        encode_stream_frame(&mut wire, FrameKind::Exit, &json);
        encode_stream_frame(&mut wire, FrameKind::Output(StreamKind::Stdout), b"after");
        let writer = tokio::spawn(async move {
            for piece in wire.chunks(4093) {
                shim.write_all(piece).await.unwrap();
            }
            shim
        });
        let mut events = Vec::new();
        while let Some(event) = output.next().await {
            events.push(event.unwrap());
        }
        let _shim = writer.await.unwrap();
        let chunk = |stream, data: &[u8]| {
            AttachEvent::Output(OutputChunk {
                stream,
                data: Bytes::copy_from_slice(data),
            })
        };
        assert_eq!(
            events.len(),
            4,
            "nothing after the exit: {:?}",
            events.len()
        );
        assert_eq!(
            format!("{:?}", &events[..2]),
            format!(
                "{:?}",
                [
                    chunk(StreamKind::Stdout, b"hello\n"),
                    chunk(StreamKind::Stderr, b"")
                ]
            )
        );
        match &events[2] {
            AttachEvent::Output(c) => assert_eq!(c.data, big),
            other => panic!("{other:?}"),
        }
        match &events[3] {
            AttachEvent::Exited(r) => assert_eq!(r, &record),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_connection_that_breaks_inside_a_frame_is_an_error() {
        let (mut output, mut shim) = attach_output();
        let mut wire = Vec::new();
        encode_stream_frame(
            &mut wire,
            FrameKind::Output(StreamKind::Stdout),
            b"cut short",
        );
        shim.write_all(&wire[..wire.len() - 2]).await.unwrap();
        drop(shim);
        assert!(matches!(
            output.next().await,
            Some(Err(ExecError::Shim { .. }))
        ));
        assert!(output.next().await.is_none());
        // A clean end between frames is just the end.
        let (mut output, shim) = attach_output();
        drop(shim);
        assert!(output.next().await.is_none());
    }
}
