//! Hijacked connections: `attach` and streamed `/berth/jobs/{name}` runs.
//!
//! Docker API, "Hijacking": the client sends `Connection: Upgrade` and
//! `Upgrade: tcp`; the server answers `101 UPGRADED` and from then on the
//! connection is a raw byte pipe. The read half becomes the job's stdin
//! (end of input — the client's half-close — is the job's EOF). An attach
//! job that asks for it (`JobOutput::begin_raw`) gets the write half and
//! writes container output straight into it; otherwise the job's stdout
//! is written to the write half, which is shut down when the job ends.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_api::job::{JOB_STREAM, JobExit};
use berth_api::stream::{StreamType, encode_frame};
use berth_engine::job::{Chunk, OutputStream, RawRequest};
use berth_engine::{Engine, Job, JobStreams, Via};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, DuplexStream, WriteHalf};
use tokio::sync::mpsc;

use crate::edge;
use crate::error::ApiError;

/// Size of the pipe between the connection and a job's stdin.
const STDIN_PIPE: usize = 64 * 1024;

fn wants_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, want: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(want))
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "tcp")
}

fn switching(content_type: &str) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Splits an upgraded connection: client bytes go into `stdin` (its
/// half-close is the job's EOF) on a task of their own, the write half is
/// returned.
fn split_upgraded(
    upgraded: hyper::upgrade::Upgraded,
    mut stdin: DuplexStream,
) -> (
    WriteHalf<TokioIo<hyper::upgrade::Upgraded>>,
    tokio::task::JoinHandle<()>,
) {
    let (mut read, write) = tokio::io::split(TokioIo::new(upgraded));
    let input = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut read, &mut stdin).await;
        // Client half-closed (or went away): the job sees EOF.
        let _ = stdin.shutdown().await;
    });
    (write, input)
}

/// Pumps one upgraded connection: client bytes into `stdin`, `output` to the
/// client, then closes the write half.
async fn pump(
    upgraded: hyper::upgrade::Upgraded,
    stdin: DuplexStream,
    mut output: mpsc::Receiver<Bytes>,
) {
    let (mut write, input) = split_upgraded(upgraded, stdin);
    while let Some(data) = output.recv().await {
        if write.write_all(&data).await.is_err() {
            break;
        }
        let _ = write.flush().await;
    }
    let _ = write.shutdown().await;
    input.abort();
}

/// Forwards data chunks of `stream` into a channel of bytes.
fn forward(mut stream: OutputStream, first: Option<Bytes>) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        if let Some(first) = first
            && tx.send(first).await.is_err()
        {
            return;
        }
        while let Some(chunk) = stream.next().await {
            if let Chunk::Data(data) = chunk
                && tx.send(data).await.is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Hands the write half of an upgraded connection to the job that asked
/// for it ([`RawRequest`]): the job writes its output there itself and
/// shuts it down at its end. Returns when the job has dropped its output.
async fn hand_over(
    upgraded: hyper::upgrade::Upgraded,
    stdin: DuplexStream,
    request: RawRequest,
    mut stdout: OutputStream,
) {
    let (write, input) = split_upgraded(upgraded, stdin);
    if let Err(mut write) = request.grant(Box::new(write)) {
        // The job ended before it took the connection.
        let _ = write.shutdown().await;
    }
    // Held until the job ends, so that the job sees its client as present
    // while the session runs; it writes nothing more here.
    while let Some(chunk) = stdout.next().await {
        if let Chunk::Data(data) = chunk {
            tracing::warn!(
                bytes = data.len(),
                "attach output after the hand-over dropped"
            );
        }
    }
    input.abort();
}

/// `POST /containers/{id}/attach`: runs the attach job and, once it has set
/// up the session (its first output event), upgrades the connection; when
/// the job asks for the connection ([`JobOutput::begin_raw`]) it gets the
/// write half and writes its output straight into it.
/// Errors before that (no such container) are ordinary error responses.
///
/// [`JobOutput::begin_raw`]: berth_engine::job::JobOutput::begin_raw
pub async fn attach(
    engine: &Arc<Engine>,
    job: Job,
    streams: JobStreams,
    mut req: Request,
) -> Response {
    if !wants_upgrade(req.headers()) {
        return ApiError::bad_request(
            "attach needs a hijacked connection: send 'Connection: Upgrade' and 'Upgrade: tcp'",
        )
        .into_response();
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (stdin_job, stdin_conn) = tokio::io::duplex(STDIN_PIPE);
    let job = job.stdin(stdin_job);
    let JobStreams { mut stdout, stderr } = streams;
    stdout.accept_raw();
    edge::drain_stderr(job.name.clone(), stderr);
    let mut handle = engine.spawn_api(job, Via::Route);
    let (content_type, first) = tokio::select! {
        biased;
        first = stdout.next() => match first {
            Some(Chunk::Begin { content_type }) => (content_type, None),
            Some(Chunk::Data(data)) => (None, Some(data)),
            None => return finished(handle.await),
        },
        result = &mut handle => return finished(result),
    };
    let raw = stdout.take_raw_request();
    tokio::spawn(async move {
        match (on_upgrade.await, raw) {
            (Ok(upgraded), Some(raw)) => hand_over(upgraded, stdin_conn, raw, stdout).await,
            (Ok(upgraded), None) => pump(upgraded, stdin_conn, forward(stdout, first)).await,
            (Err(e), _) => tracing::warn!(error = %e, "attach upgrade failed"),
        }
        if let Ok(Err(e)) = handle.await {
            tracing::warn!(error = %e, "attach ended with an error");
        }
    });
    switching(content_type.as_deref().unwrap_or(berth_api::stream::RAW))
}

fn finished(result: Result<berth_engine::JobResult, tokio::task::JoinError>) -> Response {
    match result {
        Ok(Ok(_)) => StatusCode::OK.into_response(),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::job_panicked(&e).into_response(),
    }
}

/// Multiplexes a running job's stdout and stderr into frames and ends with
/// the [`JobExit`] frame on stream 3.
fn job_frames(engine: &Arc<Engine>, job: Job, streams: JobStreams) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(16);
    let handle = engine.spawn_api(job, Via::JobApi);
    let JobStreams {
        mut stdout,
        mut stderr,
    } = streams;
    tokio::spawn(async move {
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            let (stream, chunk) = tokio::select! {
                c = stdout.next(), if out_open => (StreamType::Stdout, c),
                c = stderr.next(), if err_open => (StreamType::Stderr, c),
            };
            match chunk {
                None if stream == StreamType::Stdout => out_open = false,
                None => err_open = false,
                Some(Chunk::Begin { .. }) => {}
                Some(Chunk::Data(data)) => {
                    // A reader that went away is fine: keep draining so the
                    // job can finish.
                    let _ = tx.send(encode_frame(stream, &data)).await;
                }
            }
        }
        let exit = match handle.await {
            Ok(Ok(status)) => JobExit {
                status,
                error: None,
            },
            Ok(Err(e)) => JobExit {
                status: 1,
                error: Some(e.message),
            },
            Err(e) => JobExit {
                status: 1,
                error: Some(format!("job panicked: {e}")),
            },
        };
        let json = serde_json::to_vec(&exit).unwrap_or_default();
        let _ = tx.send(encode_frame(StreamType::Systemerr, &json)).await;
    });
    rx
}

/// `POST /berth/jobs/{name}`: with `Upgrade: tcp` the connection is
/// hijacked (stdin streams in while output streams out); otherwise the
/// request body is stdin and the response body carries the frames.
pub async fn job_stream(
    engine: &Arc<Engine>,
    job: Job,
    streams: JobStreams,
    mut req: Request,
) -> Response {
    if wants_upgrade(req.headers()) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        let (stdin_job, stdin_conn) = tokio::io::duplex(STDIN_PIPE);
        let frames = job_frames(engine, job.stdin(stdin_job), streams);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => pump(upgraded, stdin_conn, frames).await,
                Err(e) => tracing::warn!(error = %e, "job upgrade failed"),
            }
        });
        return switching(JOB_STREAM);
    }
    let body = req.into_body();
    let job = job.stdin(crate::app::body_reader(body));
    let frames = job_frames(engine, job, streams);
    let stream = futures_util::stream::unfold(frames, |mut frames| async move {
        let item = frames.recv().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(item), frames))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JOB_STREAM));
    response
}

#[cfg(test)]
mod tests {
    use berth_api::stream::FrameDecoder;
    use berth_engine::handler_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::app::{AppState, router};

    /// An engine whose `container_attach` echoes its input back, raw.
    fn engine() -> Arc<Engine> {
        let engine = Engine::new();
        engine.register(
            "container_attach",
            berth_engine::Exposure::Api,
            Arc::new(handler_fn("", |mut job: Job| async move {
                if job.args[0] == "missing" {
                    return Err(berth_engine::JobError::not_found(
                        "No such container: missing",
                    ));
                }
                if job.args[0] == "raw" {
                    // Like the daemon's attach: the connection itself.
                    let mut conn = job
                        .stdout
                        .begin_raw(Some(berth_api::stream::RAW))
                        .await?
                        .expect("the edge hands over the connection");
                    tokio::io::copy(&mut job.stdin, &mut conn).await.unwrap();
                    conn.write_all(b"<eof>").await.unwrap();
                    conn.shutdown().await.unwrap();
                    return Ok(0);
                }
                job.stdout.begin(Some(berth_api::stream::RAW)).await?;
                let mut buf = [0u8; 1024];
                loop {
                    let n = job.stdin.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    job.stdout.write(buf[..n].to_vec()).await?;
                }
                job.stdout.write(&b"<eof>"[..]).await?;
                Ok(0)
            })),
        );
        engine.register(
            "upper",
            berth_engine::Exposure::Api,
            Arc::new(handler_fn("", |mut job: Job| async move {
                let input = job.read_stdin(1024).await?;
                job.stdout.write(input.to_ascii_uppercase()).await?;
                Ok(5)
            })),
        );
        engine
    }

    /// Serves one in-memory connection; returns the client end.
    fn connect() -> tokio::net::UnixStream {
        let (client, server) = tokio::net::UnixStream::pair().unwrap();
        let app = router(AppState {
            engine: engine(),
            authz: crate::authz::Authz::unrestricted(),
        });
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _keep = _stop;
            crate::listen::serve_unix_stream(server, app, shutdown).await;
        });
        client
    }

    async fn head(stream: &mut tokio::net::UnixStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "closed inside the head"
            );
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    const UPGRADE: &str =
        "Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n";

    #[tokio::test]
    async fn attach_upgrades_and_half_close_ends_the_input() {
        let mut conn = connect();
        let request =
            format!("POST /v1.43/containers/c1/attach?stream=1&stdin=1 HTTP/1.1\r\n{UPGRADE}");
        conn.write_all(request.as_bytes()).await.unwrap();
        let head = head(&mut conn).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.to_ascii_lowercase().contains("upgrade: tcp"), "{head}");
        conn.write_all(b"hello").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"hello<eof>");
    }

    #[tokio::test]
    async fn attach_hands_the_connection_to_a_job_that_asks_for_it() {
        let mut conn = connect();
        let request =
            format!("POST /v1.43/containers/raw/attach?stream=1&stdin=1 HTTP/1.1\r\n{UPGRADE}");
        conn.write_all(request.as_bytes()).await.unwrap();
        let head = head(&mut conn).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        conn.write_all(b"direct").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"direct<eof>");
    }

    #[tokio::test]
    async fn attach_errors_before_the_upgrade_are_plain_responses() {
        let mut conn = connect();
        let request = format!("POST /containers/missing/attach?stream=1 HTTP/1.1\r\n{UPGRADE}");
        conn.write_all(request.as_bytes()).await.unwrap();
        let head = head(&mut conn).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    }

    #[tokio::test]
    async fn hijacked_jobs_stream_stdin_and_end_with_their_status() {
        let mut conn = connect();
        let request = format!("POST /berth/jobs/upper HTTP/1.1\r\n{UPGRADE}");
        conn.write_all(request.as_bytes()).await.unwrap();
        let head = head(&mut conn).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        conn.write_all(b"shout").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        let mut decoder = FrameDecoder::new();
        decoder.push(&rest);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame);
        }
        assert_eq!(
            frames[0],
            (StreamType::Stdout, Bytes::from_static(b"SHOUT"))
        );
        let (stream, exit) = frames.last().unwrap();
        assert_eq!(*stream, StreamType::Systemerr);
        let exit: JobExit = serde_json::from_slice(exit).unwrap();
        assert_eq!(exit.status, 5);
    }
}
