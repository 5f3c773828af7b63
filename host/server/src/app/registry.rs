//! `POST /images/create`: a pull (`fromImage`) or an import (`fromSrc`),
//! as moby's `postImagesCreate` decides; a pull gets the client's
//! credentials from the `X-Registry-Auth` header.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, post};

use super::{AppState, Params, body_reader, job_with};
use crate::edge;

/// The job env key the `X-Registry-Auth` header travels in.
const AUTH_ENV: &str = "X-Registry-Auth";

/// The `/images/create` route.
pub(super) fn images_create() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, headers: HeaderMap, Query(q): Params, body: Body| async move {
            create(state, headers, q, body).await
        },
    )
}

async fn create(
    state: AppState,
    headers: HeaderMap,
    q: Vec<(String, String)>,
    body: Body,
) -> Response {
    let pull = q.iter().any(|(k, v)| k == "fromImage" && !v.is_empty());
    let name = if pull { "image_pull" } else { "image_import" };
    // Only the header carries credentials, never the query.
    let q = q.into_iter().filter(|(k, _)| k != AUTH_ENV).collect();
    let (mut job, streams) = job_with(name, Vec::new(), q);
    if pull {
        let auth = headers
            .get("x-registry-auth")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        job.env.set(AUTH_ENV, auth);
    } else {
        job = job.stdin(body_reader(body));
    }
    edge::respond(&state.engine, job, streams, StatusCode::OK).await
}
