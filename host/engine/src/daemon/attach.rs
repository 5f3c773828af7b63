//! Connecting clients to a container's stdio.
//!
//! A client may attach before the container starts (`docker run` attaches,
//! then starts): it is parked as a [`PendingAttach`] and connected when the
//! exec driver hands out the streams at start. Without a TTY every chunk is
//! framed with the 8-byte header of the Docker API's multiplexed stream;
//! with a TTY the stream is raw.

use berth_api::stream::{StreamType, encode_frame};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use crate::driver::{AttachOptions, AttachStreams};
use crate::job::{JobOutput, JobStdin};

/// A client waiting for the container to start.
pub struct PendingAttach {
    /// Which streams it wants.
    pub options: AttachOptions,
    /// Its input, when it attached stdin.
    pub stdin: Option<JobStdin>,
    /// Where its output goes.
    pub out: JobOutput,
    /// Fired when its session is over.
    pub done: oneshot::Sender<()>,
}

impl std::fmt::Debug for PendingAttach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAttach")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Encodes one output chunk for the wire.
pub fn encode(stream: StreamType, data: &[u8], tty: bool) -> bytes::Bytes {
    if tty {
        bytes::Bytes::copy_from_slice(data)
    } else {
        encode_frame(stream, data)
    }
}

/// Runs attach sessions over `streams` until the container's output ends:
/// output fans out to every client (filtered by what each asked for), input
/// comes from the first client that attached stdin. End of that client's
/// input (half-close) closes the container's stdin.
pub async fn serve(streams: AttachStreams, clients: Vec<PendingAttach>, tty: bool) {
    let AttachStreams { stdin, mut output } = streams;
    let mut input = None;
    let mut sinks = Vec::with_capacity(clients.len());
    for mut client in clients {
        if input.is_none() && client.options.stdin {
            input = client.stdin.take();
        }
        sinks.push((client.options, client.out, client.done));
    }
    let stdin_task = match (stdin, input) {
        (Some(mut container_stdin), Some(mut client_stdin)) => Some(tokio::spawn(async move {
            if let Err(e) = tokio::io::copy(&mut client_stdin, &mut container_stdin).await {
                tracing::debug!(error = %e, "attach stdin copy ended");
            }
            // Half-close: the client ended its input, so the process sees EOF.
            let _ = container_stdin.shutdown().await;
        })),
        _ => None,
    };
    while let Some((stream, data)) = output.recv().await {
        for (options, out, _) in &sinks {
            let wanted = match stream {
                StreamType::Stdout => options.stdout,
                StreamType::Stderr => options.stderr,
                _ => false,
            };
            if wanted && !out.is_closed() {
                // A client that went away just stops getting output.
                let _ = out.write(encode(stream, &data, tty)).await;
            }
        }
        if sinks.iter().all(|(_, out, _)| out.is_closed()) {
            // Everyone left; keep nothing running on their behalf.
            break;
        }
    }
    if let Some(task) = stdin_task {
        task.abort();
    }
    for (_, _, done) in sinks {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;
    use bytes::Bytes;
    use tokio::io::AsyncReadExt;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn frames_output_and_forwards_stdin_with_half_close() {
        let (container_in, mut container_side) = tokio::io::duplex(64);
        let (tx, rx) = mpsc::channel(4);
        let streams = AttachStreams {
            stdin: Some(Box::new(container_in)),
            output: rx,
        };
        let (job, job_streams) = Job::new("container_attach");
        let (done_tx, done_rx) = oneshot::channel();
        let client = PendingAttach {
            options: AttachOptions {
                stdin: true,
                stdout: true,
                stderr: false,
            },
            stdin: Some(Box::new(&b"input"[..])),
            out: job.stdout.clone(),
            done: done_tx,
        };
        drop(job);
        let session = tokio::spawn(serve(streams, vec![client], false));
        let mut got = Vec::new();
        container_side.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"input", "stdin reached the container and was closed");
        tx.send((StreamType::Stdout, Bytes::from_static(b"hi\n")))
            .await
            .unwrap();
        tx.send((StreamType::Stderr, Bytes::from_static(b"filtered")))
            .await
            .unwrap();
        drop(tx);
        session.await.unwrap();
        done_rx.await.unwrap();
        assert_eq!(
            job_streams.stdout.collect().await,
            encode_frame(StreamType::Stdout, b"hi\n")
        );
    }

    #[test]
    fn tty_output_is_raw() {
        assert_eq!(&encode(StreamType::Stdout, b"x", true)[..], b"x");
        assert_eq!(encode(StreamType::Stdout, b"x", false).len(), 9);
    }
}
