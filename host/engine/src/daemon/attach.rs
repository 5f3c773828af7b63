//! Connecting clients to a container's stdio.
//!
//! Every attached client has a session of its own: the runtime hands each
//! one its own [`AttachStreams`] (the exec driver opens one shim connection
//! per client, and the shim sends it only the streams it asked for), and one
//! task pulls that output and writes it into the client's connection. On a
//! hijacked connection ([`JobOutput::begin_raw`]) that is the only hop
//! between the runtime's connection and the client's: no task, channel or
//! copy of the payload in between. Without a TTY each chunk is framed with
//! the 8-byte header of the Docker API's multiplexed stream (written with
//! the payload in one vectored write); with a TTY the stream is raw.
//!
//! A client may attach before the container starts (`docker run` attaches,
//! then starts): it is parked as a [`PendingAttach`] and its session runs
//! over the streams the runtime connected before the process started.

use berth_api::escape::DetachKeys;
use berth_api::stream::{StreamType, encode_frame, frame_header};
use bytes::{Buf, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use crate::daemon::Daemon;
use crate::daemon::detach::{InputEnd, forward_input, on_detach};
use crate::driver::{AttachOptions, AttachStreams, LogRecord, stream_type};
use crate::job::{JobError, JobOutput, JobStdin, OutputClosed, RawOutput};

/// Where one attached client's output goes: straight into its connection
/// when the caller handed it over, else the job's stdout as chunks.
pub struct ClientOutput {
    raw: Option<RawOutput>,
    out: JobOutput,
    tty: bool,
}

impl std::fmt::Debug for ClientOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOutput")
            .field("raw", &self.raw.is_some())
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

impl ClientOutput {
    /// Begins the client's stream (raw with a TTY, multiplexed without) and
    /// takes its connection when the caller offers it.
    pub async fn begin(out: JobOutput, tty: bool) -> Result<ClientOutput, OutputClosed> {
        let content_type = if tty {
            berth_api::stream::RAW
        } else {
            berth_api::stream::MULTIPLEXED
        };
        let raw = out.begin_raw(Some(content_type)).await?;
        Ok(ClientOutput { raw, out, tty })
    }

    /// Writes one chunk of `stream`; fails once the client is gone.
    pub async fn write(&mut self, stream: StreamType, data: Bytes) -> Result<(), OutputClosed> {
        let Some(conn) = &mut self.raw else {
            return self.out.write(encode(stream, &data, self.tty)).await;
        };
        let written = if self.tty {
            conn.write_all(&data).await
        } else {
            // Chunks are at most the shim's frame size (1 MiB), so the
            // length fits the header's u32.
            let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
            let header = frame_header(stream, len);
            let mut frame = header.chain(data);
            conn.write_all_buf(&mut frame).await
        };
        // A TLS connection holds written bytes until it is flushed; an
        // interactive client must see each chunk as it comes.
        match written {
            Ok(()) => conn.flush().await.map_err(|_| OutputClosed),
            Err(_) => Err(OutputClosed),
        }
    }

    /// Writes the container's log records (an attach with `logs`).
    pub async fn replay(
        &mut self,
        records: Option<mpsc::Receiver<LogRecord>>,
    ) -> Result<(), OutputClosed> {
        if let Some(mut records) = records {
            while let Some(record) = records.recv().await {
                self.write(stream_type(record.stream), record.data).await?;
            }
        }
        Ok(())
    }

    /// Whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.out.is_closed()
    }

    /// Ends the client's stream: the write side of its connection is shut
    /// down (it reads EOF); chunks end when the job drops its output.
    pub async fn finish(mut self) {
        if let Some(conn) = &mut self.raw {
            let _ = conn.shutdown().await;
        }
    }
}

/// What a parked client's session runs on, once its stream has begun.
pub struct Session {
    /// Its input, when it attached stdin.
    pub stdin: Option<JobStdin>,
    /// Where its output goes.
    pub out: ClientOutput,
    /// The keys that detach it (with a TTY).
    pub detach_keys: DetachKeys,
}

/// A client waiting for the container to start.
///
/// It is parked before its stream begins, so that a start the client sends
/// as soon as it sees the response (`docker run`) finds it; the session
/// comes through `session` once the stream has begun and any log replay is
/// written.
pub struct PendingAttach {
    /// Which streams it wants.
    pub options: AttachOptions,
    /// The client's end of the job, to tell whether it is still there.
    pub out: JobOutput,
    /// Its input and output, once they are ready.
    pub session: oneshot::Receiver<Session>,
    /// Fired when its session is over, with whether the client detached.
    pub done: oneshot::Sender<bool>,
}

impl std::fmt::Debug for PendingAttach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAttach")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PendingAttach {
    /// Runs the client's session over the streams connected at start.
    pub async fn serve(self, streams: AttachStreams) {
        // Without a session the client went away before its stream began.
        let mut detached = false;
        if let Ok(session) = self.session.await {
            detached = serve(streams, session.stdin, session.out, session.detach_keys).await;
        }
        let _ = self.done.send(detached);
    }
}

/// What to connect at start for the parked clients, one attachment each,
/// in order. Input comes from the first client that attached stdin only:
/// the container gets one input stream, as the clients were promised when
/// they attached.
pub fn start_options(pending: &[PendingAttach]) -> Vec<AttachOptions> {
    let mut stdin_taken = false;
    pending
        .iter()
        .map(|client| {
            let stdin = client.options.stdin && !stdin_taken;
            stdin_taken |= stdin;
            AttachOptions {
                stdin,
                ..client.options
            }
        })
        .collect()
}

/// Encodes one output chunk as a job stdout chunk (a copy: the path for
/// callers without a raw connection, and for `logs`).
pub fn encode(stream: StreamType, data: &[u8], tty: bool) -> bytes::Bytes {
    if tty {
        bytes::Bytes::copy_from_slice(data)
    } else {
        encode_frame(stream, data)
    }
}

/// Runs one client's session until the container's output ends, the
/// client goes away or (with a TTY) types `detach_keys`: output to the
/// client, the client's input (when it attached stdin and the container
/// has one) to the container. The end of that input (half-close) ends the
/// client's input to the runtime (which closes the container's stdin with
/// `StdinOnce`). Returns whether the client detached.
pub async fn serve(
    streams: AttachStreams,
    stdin: Option<JobStdin>,
    mut out: ClientOutput,
    detach_keys: DetachKeys,
) -> bool {
    use futures_util::StreamExt;
    let AttachStreams {
        stdin: container_stdin,
        mut output,
    } = streams;
    let (detached_tx, detached_rx) = oneshot::channel();
    let detach = on_detach(detached_rx);
    tokio::pin!(detach);
    // moby `copyEscapable`: the keys are watched for only with a TTY.
    let keys = out.tty.then_some(detach_keys);
    let stdin_task = match (container_stdin, stdin) {
        (Some(mut container_stdin), Some(client_stdin)) => Some(tokio::spawn(async move {
            match forward_input(client_stdin, &mut container_stdin, keys.as_ref()).await {
                // Half-close: the client ended its input.
                InputEnd::Eof => {
                    let _ = container_stdin.shutdown().await;
                }
                InputEnd::Detached => {
                    let _ = detached_tx.send(());
                }
            }
        })),
        _ => None,
    };
    let mut detached = false;
    loop {
        tokio::select! {
            chunk = output.next() => {
                let Some((stream, data)) = chunk else { break };
                if out.write(stream, data).await.is_err() {
                    // The client left: keep nothing running on its behalf.
                    break;
                }
            }
            () = &mut detach => {
                detached = true;
                break;
            }
        }
    }
    if let Some(task) = stdin_task {
        task.abort();
    }
    out.finish().await;
    detached
}

/// What an attach sends besides live output (`logs`, `stream` of
/// `POST /containers/{id}/attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachReplay {
    /// Replay the container's log first.
    pub logs: bool,
    /// Then stream live output (and forward input).
    pub stream: bool,
}

impl Default for AttachReplay {
    /// Live output only, what `docker attach` and `docker start -a` ask.
    fn default() -> AttachReplay {
        AttachReplay {
            logs: false,
            stream: true,
        }
    }
}

impl Daemon {
    /// `POST /containers/{id}/attach`: the stream begins when the session
    /// is set up (the HTTP edge then answers 101 and hands over the
    /// connection); returns when the session ends.
    pub async fn attach(
        &self,
        reference: &str,
        options: AttachOptions,
        replay: AttachReplay,
        detach_keys: DetachKeys,
        stdin: Option<JobStdin>,
        out: JobOutput,
    ) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let (running, tty, open_stdin, ever_started) = {
            let inner = container.lock();
            (
                inner.record.state.running,
                inner.record.config.tty,
                inner.record.config.open_stdin,
                inner.record.state.started_at != berth_api::ZERO_TIME,
            )
        };
        let options = AttachOptions {
            stdin: options.stdin && open_stdin,
            ..options
        };
        // moby `daemon/attach.go`: the whole json-file log first, then (with
        // `stream`) the live output. Output written between the two may be
        // missed, as with dockerd. Read before the stream begins, so that a
        // failure is an ordinary error response.
        let records = if replay.logs && ever_started && (options.stdout || options.stderr) {
            let log_options = crate::driver::LogOptions {
                stdout: options.stdout,
                stderr: options.stderr,
                ..Default::default()
            };
            Some(self.runtime.logs(&container.id, log_options).await?)
        } else {
            None
        };
        if !replay.stream {
            let mut client = ClientOutput::begin(out, tty).await?;
            client.replay(records).await?;
            client.finish().await;
            return Ok(());
        }
        if running {
            let (client, streams) = if replay.logs {
                let mut client = ClientOutput::begin(out, tty).await?;
                client.replay(records).await?;
                (client, self.runtime.attach(&container.id, options).await?)
            } else {
                let streams = self.runtime.attach(&container.id, options).await?;
                (ClientOutput::begin(out, tty).await?, streams)
            };
            if serve(streams, stdin, client, detach_keys).await {
                self.log_detach(&container);
            }
            return Ok(());
        }
        // Parked before the stream begins: a client that starts the
        // container as soon as it has the response finds itself attached.
        let (session_tx, session_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        {
            let mut inner = container.lock();
            // Sessions whose client left stay parked until the next start;
            // drop them here so that they cannot pile up meanwhile.
            inner
                .pending_attach
                .retain(|client| !client.out.is_closed());
            inner.pending_attach.push(PendingAttach {
                options,
                out: out.clone(),
                session: session_rx,
                done,
            });
        }
        let mut client = ClientOutput::begin(out.clone(), tty).await?;
        client.replay(records).await?;
        let session = Session {
            stdin,
            out: client,
            detach_keys,
        };
        if let Err(session) = session_tx.send(session) {
            // Unparked meanwhile (removed): the session is over.
            session.out.finish().await;
            return Ok(());
        }
        tokio::select! {
            detached = done_rx => {
                if detached == Ok(true) {
                    self.log_detach(&container);
                }
            }
            _ = out.closed() => {}
        }
        Ok(())
    }

    /// moby `daemon/attach.go`: a client that detached with the keys is a
    /// `detach` event.
    fn log_detach(&self, container: &crate::daemon::container::Container) {
        self.container_event("detach", &container.record(), &[]);
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, reference: &str, height: u16, width: u16) -> Result<(), JobError> {
        let container = self.running_container(reference)?;
        self.runtime.resize(&container.id, height, width).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;
    use futures_util::stream;
    use tokio::io::AsyncReadExt;

    /// Streams whose output is `chunks`, then the end.
    fn streams_of(chunks: Vec<(StreamType, &'static [u8])>) -> AttachStreams {
        let chunks: Vec<_> = chunks
            .into_iter()
            .map(|(stream, data)| (stream, Bytes::from_static(data)))
            .collect();
        AttachStreams {
            stdin: None,
            output: Box::pin(stream::iter(chunks)),
        }
    }

    #[tokio::test]
    async fn frames_output_and_forwards_stdin_with_half_close() {
        let (container_in, mut container_side) = tokio::io::duplex(64);
        let (tx, rx) = mpsc::channel(4);
        let streams = AttachStreams {
            stdin: Some(Box::new(container_in)),
            output: Box::pin(stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            })),
        };
        let (job, job_streams) = Job::new("container_attach");
        // No raw connection here: the request is refused, chunks flow.
        let collect = tokio::spawn(job_streams.stdout.collect());
        let out = ClientOutput::begin(job.stdout.clone(), false)
            .await
            .unwrap();
        drop(job);
        let session = tokio::spawn(serve(
            streams,
            Some(Box::new(&b"input"[..])),
            out,
            DetachKeys::default(),
        ));
        let mut got = Vec::new();
        container_side.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"input", "stdin reached the container and was closed");
        for (stream, data) in [(StreamType::Stdout, "hi\n"), (StreamType::Stderr, "err\n")] {
            tx.send((stream, Bytes::from(data))).await.unwrap();
        }
        drop(tx);
        session.await.unwrap();
        let mut want = encode_frame(StreamType::Stdout, b"hi\n").to_vec();
        want.extend_from_slice(&encode_frame(StreamType::Stderr, b"err\n"));
        assert_eq!(collect.await.unwrap(), want);
    }

    /// Takes the job's raw-connection request and grants it a pipe; returns
    /// the far end of the pipe.
    async fn grant_raw(stdout: &mut crate::job::OutputStream) -> tokio::io::DuplexStream {
        stdout.accept_raw();
        assert!(matches!(
            stdout.next().await,
            Some(crate::job::Chunk::Begin { .. })
        ));
        let request = stdout.take_raw_request().expect("raw requested");
        let (conn, client) = tokio::io::duplex(1024);
        request.grant(Box::new(conn)).ok().expect("granted");
        client
    }

    #[tokio::test]
    async fn a_raw_connection_gets_frames_written_straight_into_it() {
        let (job, mut job_streams) = Job::new("container_attach");
        let out = job.stdout.clone();
        let begin = tokio::spawn(async move { ClientOutput::begin(out, false).await });
        let mut client = grant_raw(&mut job_streams.stdout).await;
        let out = begin.await.unwrap().unwrap();
        let streams = streams_of(vec![
            (StreamType::Stdout, b"one\n"),
            (StreamType::Stderr, b"two\n"),
        ]);
        serve(streams, None, out, DetachKeys::default()).await;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        let mut want = encode_frame(StreamType::Stdout, b"one\n").to_vec();
        want.extend_from_slice(&encode_frame(StreamType::Stderr, b"two\n"));
        assert_eq!(got, want, "framed, then EOF (the session shut it down)");
        drop(job);
        assert!(
            job_streams.stdout.next().await.is_none(),
            "nothing went through the job's chunks"
        );
    }

    #[tokio::test]
    async fn tty_output_is_raw() {
        assert_eq!(&encode(StreamType::Stdout, b"x", true)[..], b"x");
        assert_eq!(encode(StreamType::Stdout, b"x", false).len(), 9);
        let (job, mut job_streams) = Job::new("container_attach");
        let out = job.stdout.clone();
        let begin = tokio::spawn(async move { ClientOutput::begin(out, true).await });
        let mut client = grant_raw(&mut job_streams.stdout).await;
        let out = begin.await.unwrap().unwrap();
        serve(
            streams_of(vec![(StreamType::Stdout, b"a\r\n")]),
            None,
            out,
            DetachKeys::default(),
        )
        .await;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"a\r\n");
    }

    #[tokio::test]
    async fn a_client_that_left_ends_its_session() {
        let (job, mut job_streams) = Job::new("container_attach");
        let out = job.stdout.clone();
        let begin = tokio::spawn(async move { ClientOutput::begin(out, false).await });
        let client = grant_raw(&mut job_streams.stdout).await;
        let out = begin.await.unwrap().unwrap();
        drop(client);
        // Endless output: only the client's departure ends the session.
        let endless = stream::repeat((StreamType::Stdout, Bytes::from_static(b"y\n")));
        let streams = AttachStreams {
            stdin: None,
            output: Box::pin(endless),
        };
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            serve(streams, None, out, DetachKeys::default()),
        )
        .await
        .expect("the session ended");
    }
}
