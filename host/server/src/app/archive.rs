//! `/containers/{id}/archive` (`docker cp`): `HEAD` answers with the stat
//! header only, `GET` with the stat header and a tar stream, `PUT`
//! extracts the request body (moby `api/server/router/container/copy.go`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_engine::job::Chunk;
use berth_engine::{Engine, Via};
use bytes::Bytes;

use super::{AppState, Params, body_reader, job_with};
use crate::edge;
use crate::error::ApiError;

/// The header moby puts the path's stat in, base64 (standard, padded) of
/// its JSON.
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Routes the three methods of the archive endpoint.
pub async fn container_archive(
    State(state): State<AppState>,
    method: Method,
    Path(id): Path<String>,
    Query(q): Params,
    body: Body,
) -> Response {
    match method {
        Method::HEAD => stat(&state.engine, id, q).await,
        Method::GET => archive(&state.engine, id, q).await,
        Method::PUT => {
            let (job, streams) = job_with("container_extract_to_dir", vec![id], q);
            let job = job.stdin(body_reader(body));
            edge::respond(&state.engine, job, streams, StatusCode::OK).await
        }
        _ => ApiError::page_not_found().into_response(),
    }
}

fn stat_value(json: &[u8]) -> Option<HeaderValue> {
    let json = json.strip_suffix(b"\n").unwrap_or(json);
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json)).ok()
}

async fn stat(engine: &Arc<Engine>, id: String, q: Vec<(String, String)>) -> Response {
    let (job, streams) = job_with("container_archive_stat", vec![id], q);
    let mut response = edge::respond(engine, job, streams, StatusCode::OK).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let body = std::mem::take(response.body_mut());
    let Ok(json) = axum::body::to_bytes(body, 64 << 10).await else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the stat of the path could not be read",
        )
        .into_response();
    };
    let mut response = StatusCode::OK.into_response();
    if let Some(value) = stat_value(&json) {
        response.headers_mut().insert(PATH_STAT_HEADER, value);
    }
    response
}

/// The job's first output is the stat line, then tar bytes: the stat
/// becomes the header, the rest the body. A failure before the stat is
/// the response's status; a later one can only cut the stream (logged).
async fn archive(engine: &Arc<Engine>, id: String, q: Vec<(String, String)>) -> Response {
    let (job, streams) = job_with("container_archive", vec![id], q);
    let berth_engine::JobStreams { mut stdout, stderr } = streams;
    let name = job.name.clone();
    edge::drain_stderr(name.clone(), stderr);
    let mut handle = engine.spawn_api(job, Via::Route);
    let first = tokio::select! {
        biased;
        first = next_data(&mut stdout) => first,
        result = &mut handle => {
            return match result {
                Ok(Err(e)) => ApiError::from(e).into_response(),
                Err(e) => ApiError::job_panicked(&e).into_response(),
                Ok(Ok(_)) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the copy ended without the stat of the path").into_response(),
            };
        }
    };
    let Some(stat) = first else {
        return match handle.await {
            Ok(Err(e)) => ApiError::from(e).into_response(),
            Err(e) => ApiError::job_panicked(&e).into_response(),
            Ok(Ok(_)) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the copy ended without the stat of the path",
            )
            .into_response(),
        };
    };
    tokio::spawn(async move {
        match handle.await {
            Ok(Err(e)) => {
                tracing::warn!(job = %name, error = %e, "copy failed after its response started")
            }
            Err(e) => tracing::error!(job = %name, error = %e, "job panicked"),
            Ok(Ok(_)) => {}
        }
    });
    let stream = futures_util::stream::unfold(stdout, |mut stdout| async move {
        let data = next_data(&mut stdout).await?;
        Some((Ok::<Bytes, std::convert::Infallible>(data), stdout))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Some(value) = stat_value(&stat) {
        response.headers_mut().insert(PATH_STAT_HEADER, value);
    }
    response
}

async fn next_data(stdout: &mut berth_engine::job::OutputStream) -> Option<Bytes> {
    loop {
        match stdout.next().await? {
            Chunk::Data(data) => return Some(data),
            Chunk::Begin { .. } => continue,
        }
    }
}
