//! `POST /images/create`: a pull (`fromImage`) or an import (`fromSrc`),
//! as moby's `postImagesCreate` decides; a pull gets the client's
//! credentials from the `X-Registry-Auth` header.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};

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

fn auth_header(headers: &HeaderMap) -> &str {
    headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `POST /images/{name}/push?tag=`: the `image_push` job, with the
/// client's credentials from `X-Registry-Auth`.
pub(super) async fn image_push(
    state: AppState,
    headers: HeaderMap,
    image: &str,
    q: Vec<(String, String)>,
) -> Response {
    let q = q.into_iter().filter(|(k, _)| k != AUTH_ENV).collect();
    let (mut job, streams) = job_with("image_push", vec![image.to_owned()], q);
    job.env.set(AUTH_ENV, auth_header(&headers));
    edge::respond(&state.engine, job, streams, StatusCode::OK).await
}

/// The `/images/search` route: the `image_search` job, with the client's
/// credentials from `X-Registry-Auth`.
pub(super) fn images_search() -> MethodRouter<AppState> {
    get(
        |State(state): State<AppState>, headers: HeaderMap, Query(q): Params| async move {
            let q = q.into_iter().filter(|(k, _)| k != AUTH_ENV).collect();
            let (mut job, streams) = job_with("image_search", Vec::new(), q);
            job.env.set(AUTH_ENV, auth_header(&headers));
            edge::respond(&state.engine, job, streams, StatusCode::OK).await
        },
    )
}
