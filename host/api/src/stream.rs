//! Multiplexed streams: the 8-byte frame header of attach and logs output
//! when the container has no TTY.
//!
//! Docker API, "Attach to a container / Stream format": each frame is
//! `[STREAM_TYPE, 0, 0, 0, SIZE1, SIZE2, SIZE3, SIZE4]` followed by `SIZE`
//! bytes of payload, `SIZE` a big-endian `u32`. With a TTY the stream is raw.

use bytes::{Buf, Bytes, BytesMut};

/// Content type of a multiplexed stream (API ≥ 1.42).
pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
/// Content type of a raw (TTY) stream.
pub const RAW: &str = "application/vnd.docker.raw-stream";

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StreamType {
    /// Written by the client (never framed by the server).
    Stdin = 0,
    /// The process's standard output.
    Stdout = 1,
    /// The process's standard error.
    Stderr = 2,
    /// Errors of the stream itself (Docker's `Systemerr`); berth's job
    /// stream also carries its exit record here, see [`crate::job`].
    Systemerr = 3,
}

impl StreamType {
    /// Maps the header's first byte.
    pub fn from_byte(b: u8) -> Option<StreamType> {
        Some(match b {
            0 => StreamType::Stdin,
            1 => StreamType::Stdout,
            2 => StreamType::Stderr,
            3 => StreamType::Systemerr,
            _ => return None,
        })
    }
}

/// The header of a frame carrying `len` bytes of `stream`.
pub fn frame_header(stream: StreamType, len: u32) -> [u8; 8] {
    let size = len.to_be_bytes();
    [stream as u8, 0, 0, 0, size[0], size[1], size[2], size[3]]
}

/// One frame: header and payload. Payloads above 4 GiB are split by the
/// caller; attach and log chunks are far smaller.
pub fn encode_frame(stream: StreamType, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + payload.len());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&frame_header(stream, len));
    buf.extend_from_slice(&payload[..len as usize]);
    buf.freeze()
}

/// A frame header with an unknown stream type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized stream type {0} in a multiplexed stream")]
pub struct FrameError(pub u8);

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<(StreamType, Bytes)>, FrameError> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let stream = StreamType::from_byte(self.buf[0]).ok_or(FrameError(self.buf[0]))?;
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return Ok(None);
        }
        self.buf.advance(8);
        Ok(Some((stream, self.buf.split_to(len).freeze())))
    }

    /// Bytes received but not yet forming a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_the_api_reference() {
        assert_eq!(
            frame_header(StreamType::Stderr, 0x0102_0304),
            [2, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn decodes_frames_split_anywhere() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&encode_frame(StreamType::Stdout, b"hello\n"));
        wire.extend_from_slice(&encode_frame(StreamType::Stderr, b""));
        wire.extend_from_slice(&encode_frame(StreamType::Stderr, b"oops"));
        let mut dec = FrameDecoder::new();
        let mut frames = Vec::new();
        for byte in wire {
            dec.push(&[byte]);
            while let Some(frame) = dec.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(
            frames,
            vec![
                (StreamType::Stdout, Bytes::from_static(b"hello\n")),
                (StreamType::Stderr, Bytes::new()),
                (StreamType::Stderr, Bytes::from_static(b"oops")),
            ]
        );
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn rejects_unknown_stream_types() {
        let mut dec = FrameDecoder::new();
        dec.push(&[9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(dec.next_frame(), Err(FrameError(9)));
    }
}
