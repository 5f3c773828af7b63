//! Running a request as a job and turning the job into a response.
//!
//! How a streamed response picks its status: the edge waits for the job's
//! first output event or its completion, whichever comes first.
//!
//! - The job writes (or signals [`Chunk::Begin`]) before finishing: the
//!   response is a success with the route's status and streams every chunk
//!   as the job produces it (`logs -f`, `events`, `wait`). A later failure
//!   can only end the stream; it is logged.
//! - The job finishes first: its error becomes an [`ApiError`], or its
//!   (possibly empty) output becomes the body.
//!
//! A job's stderr is diagnostics: the edge logs it at debug level.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_engine::job::{Chunk, OutputStream};
use berth_engine::{Engine, Job, JobStreams, Via};
use bytes::Bytes;

use crate::error::ApiError;

/// Runs `job` and answers with `ok` on success.
pub async fn respond(
    engine: &Arc<Engine>,
    job: Job,
    streams: JobStreams,
    ok: StatusCode,
) -> Response {
    let JobStreams { mut stdout, stderr } = streams;
    let name = job.name.clone();
    drain_stderr(name.clone(), stderr);
    let mut handle = engine.spawn_api(job, Via::Route);
    tokio::select! {
        biased;
        first = stdout.next() => match first {
            Some(chunk) => {
                let (content_type, first) = match chunk {
                    Chunk::Begin { content_type } => (content_type, None),
                    Chunk::Data(data) => (None, Some(data)),
                };
                tokio::spawn(async move {
                    match handle.await {
                        Ok(Err(e)) => tracing::warn!(job = %name, error = %e, "job failed after its response started"),
                        Err(e) => tracing::error!(job = %name, error = %e, "job panicked"),
                        Ok(Ok(_)) => {}
                    }
                });
                streaming(ok, content_type, first, stdout)
            }
            None => finish(handle.await, Vec::new(), ok),
        },
        result = &mut handle => {
            let body = stdout.collect().await;
            finish(result, body, ok)
        }
    }
}

fn finish(
    result: Result<berth_engine::JobResult, tokio::task::JoinError>,
    body: Vec<u8>,
    ok: StatusCode,
) -> Response {
    match result {
        Ok(Ok(_)) => {
            if ok == StatusCode::NO_CONTENT || ok == StatusCode::NOT_MODIFIED {
                return ok.into_response();
            }
            let mut response = (ok, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::job_panicked(&e).into_response(),
    }
}

/// A chunked response carrying the job's stdout as it is written.
fn streaming(
    ok: StatusCode,
    content_type: Option<String>,
    first: Option<Bytes>,
    stdout: OutputStream,
) -> Response {
    let stream = futures_util::stream::unfold((first, stdout), |(first, mut stdout)| async move {
        if let Some(data) = first {
            return Some((Ok::<Bytes, Infallible>(data), (None, stdout)));
        }
        loop {
            match stdout.next().await? {
                Chunk::Data(data) => return Some((Ok(data), (None, stdout))),
                Chunk::Begin { .. } => continue,
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = ok;
    let content_type = content_type.unwrap_or_else(|| "application/json".to_owned());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Logs what a job writes to stderr (reading it also keeps the job's
/// stderr writes from failing).
pub fn drain_stderr(job: String, mut stderr: OutputStream) {
    tokio::spawn(async move {
        while let Some(chunk) = stderr.next().await {
            if let Chunk::Data(data) = chunk {
                tracing::debug!(job = %job, stderr = %String::from_utf8_lossy(&data), "job stderr");
            }
        }
    });
}
