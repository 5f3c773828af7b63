//! The reading half of a blob stream: a pull extracts a layer from the
//! bytes its fetch receives, while they arrive, rather than from the
//! finished temp file.
//!
//! The reader ends the blob (reads 0) only once the fetch has marked it
//! verified (size and digest); a fetch that stops without the mark makes
//! it fail. The graph reads its input to the end before it publishes a
//! layer, so a layer is never published from a blob whose digest failed.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::driver::BlobStream;

/// Chunks in flight between a fetch and its extraction: the stream's only
/// buffer (a chunk is what the HTTP body yields, some KiB), so a slow
/// extraction slows the download instead of growing memory.
pub(crate) const BLOB_STREAM_CHUNKS: usize = 16;

/// Why a blob stream failed: its fetch ended without verifying the blob.
/// The fetch's own error says why; this one only stops the extraction.
#[derive(Debug, thiserror::Error)]
#[error("the blob's download ended before it was verified")]
pub(crate) struct BlobStreamCut;

/// A new blob stream: the half a fetch sends into and the reader.
pub(crate) fn blob_stream() -> (BlobStream, BlobReader) {
    let (data, data_rx) = mpsc::channel(BLOB_STREAM_CHUNKS);
    let (verified, verified_rx) = oneshot::channel();
    (
        BlobStream { data, verified },
        BlobReader {
            data: data_rx,
            verified: Some(verified_rx),
            chunk: Bytes::new(),
            ended: false,
        },
    )
}

/// A blocking [`Read`] over a blob stream, for a blocking thread (never a
/// tokio worker: it waits on the fetch).
#[derive(Debug)]
pub(crate) struct BlobReader {
    data: mpsc::Receiver<Bytes>,
    /// Taken when the data ends: the end is reported once, by this mark.
    verified: Option<oneshot::Receiver<()>>,
    /// What is left of the chunk being read.
    chunk: Bytes,
    /// The fetch marked the blob verified and every byte has been read.
    ended: bool,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.chunk.is_empty() {
                let n = buf.len().min(self.chunk.len());
                buf[..n].copy_from_slice(&self.chunk.split_to(n));
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            match self.data.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                // The fetch dropped its sender: it is over, and it sends
                // the mark before that when the blob verified.
                None => match self.verified.take().map(|rx| rx.blocking_recv()) {
                    Some(Ok(())) => self.ended = true,
                    _ => return Err(io::Error::other(BlobStreamCut)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut reader: BlobReader) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // Small reads, so chunks are split across them.
        let mut buf = [0u8; 3];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn the_end_comes_only_after_the_verified_mark() {
        let (stream, reader) = blob_stream();
        let sender = std::thread::spawn(move || {
            for part in [&b"hello "[..], b"blob", b" stream"] {
                stream
                    .data
                    .blocking_send(Bytes::copy_from_slice(part))
                    .expect("reader alive");
            }
            stream.verified.send(()).expect("reader alive");
            drop(stream.data);
        });
        assert_eq!(read_all(reader).expect("verified"), b"hello blob stream");
        sender.join().expect("sender");
    }

    #[test]
    fn a_stream_dropped_without_the_mark_fails_after_its_data() {
        let (stream, mut reader) = blob_stream();
        stream
            .data
            .try_send(Bytes::from_static(b"partial"))
            .expect("room");
        drop(stream);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).expect_err("no mark");
        assert_eq!(out, b"partial", "the data before the cut is still read");
        assert!(
            err.get_ref().is_some_and(|e| e.is::<BlobStreamCut>()),
            "{err}"
        );
        // And again: the cut never turns into an end.
        let err = reader.read(&mut [0u8; 4]).expect_err("still cut");
        assert!(err.to_string().contains("before it was verified"), "{err}");
    }

    #[test]
    fn a_mark_sent_with_the_data_still_open_waits_for_the_data() {
        let (stream, reader) = blob_stream();
        let BlobStream { data, verified } = stream;
        verified.send(()).expect("reader alive");
        let sender = std::thread::spawn(move || {
            data.blocking_send(Bytes::from_static(b"late"))
                .expect("reader alive");
        });
        assert_eq!(read_all(reader).expect("verified"), b"late");
        sender.join().expect("sender");
    }
}
