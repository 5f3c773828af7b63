//! The router: Docker Engine API routes, each one a job.
//!
//! `fn router(state) -> Router` is everything the listeners serve; unit
//! tests drive it with `tower::ServiceExt::oneshot`, no socket involved.
//! Requests may carry a `/v1.24` … `/v1.43` prefix or none; the prefix is
//! checked and stripped before routing, then the authz policy decides on
//! the request (`authz`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, get, on, post};
use berth_api::version;
use berth_engine::{Engine, Job, Via};
use futures_util::TryStreamExt;
use tokio_util::io::StreamReader;

use crate::authz::{self, Authz};
use crate::edge;
use crate::error::ApiError;
use crate::hijack;

mod archive;
mod registry;

/// What every route needs.
#[derive(Clone)]
pub struct AppState {
    /// The engine that runs the jobs.
    pub engine: Arc<Engine>,
    /// Who decides whether a request may run (the authz plugins).
    pub authz: Authz,
}

/// Query parameters in order (keys may repeat, e.g. `changes`).
type Params = Query<Vec<(String, String)>>;

/// The engine's version string for the `Server` header.
const SERVER: &str = concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)");

/// Shorthands for the route table.
const GET: MethodFilter = MethodFilter::GET;
const POST: MethodFilter = MethodFilter::POST;
const DELETE: MethodFilter = MethodFilter::DELETE;

/// The routes on one container (`/containers/{id}/...`): the method, the
/// job that answers, and the status of a success.
const CONTAINER_ROUTES: &[(&str, MethodFilter, &str, StatusCode)] = &[
    (
        "/containers/{id}",
        DELETE,
        "container_delete",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/json",
        GET,
        "container_inspect",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/start",
        POST,
        "container_start",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/stop",
        POST,
        "container_stop",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/restart",
        POST,
        "container_restart",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/rename",
        POST,
        "container_rename",
        StatusCode::NO_CONTENT,
    ),
    ("/containers/{id}/top", GET, "container_top", StatusCode::OK),
    (
        "/containers/{id}/pause",
        POST,
        "container_pause",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/unpause",
        POST,
        "container_unpause",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/kill",
        POST,
        "container_kill",
        StatusCode::NO_CONTENT,
    ),
    (
        "/containers/{id}/wait",
        POST,
        "container_wait",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/resize",
        POST,
        "container_resize",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/logs",
        GET,
        "container_logs",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/changes",
        GET,
        "container_changes",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/stats",
        GET,
        "container_stats",
        StatusCode::OK,
    ),
    (
        "/containers/{id}/export",
        GET,
        "container_export",
        StatusCode::OK,
    ),
];

/// Builds the API router.
pub fn router(state: AppState) -> Router {
    use StatusCode as S;
    let authz = state.authz.clone();
    let api = CONTAINER_ROUTES
        .iter()
        .fold(Router::new(), |api, &(path, method, job, ok)| {
            api.route(path, object_job(method, job, ok))
        })
        .route("/_ping", get(ping).head(ping))
        .route("/version", plain_job("system_version"))
        .route("/info", plain_job("system_info"))
        .route("/events", query_job("system_events"))
        .route("/images/json", query_job("image_list"))
        .route("/auth", body_job("system_auth", S::OK))
        .route("/images/create", registry::images_create())
        .route("/images/search", registry::images_search())
        .route("/images/prune", body_job("image_prune", S::OK))
        .route("/images/load", body_job("image_load", S::OK))
        .route("/images/get", query_job("image_save"))
        .route("/commit", body_job("container_commit", S::CREATED))
        .route("/images/{*rest}", any(image_dispatch))
        .route("/containers/json", query_job("container_list"))
        .route("/containers/prune", body_job("container_prune", S::OK))
        .route("/system/df", query_job("system_df"))
        .route("/networks/prune", body_job("network_prune", S::OK))
        .route("/networks", query_job("network_list"))
        .route("/networks/create", body_job("network_create", S::CREATED))
        .route(
            "/networks/{id}/connect",
            object_body_job("network_connect", S::OK),
        )
        .route(
            "/networks/{id}/disconnect",
            object_body_job("network_disconnect", S::OK),
        )
        .route(
            "/networks/{id}",
            object_job(GET, "network_inspect", S::OK).merge(object_job(
                DELETE,
                "network_delete",
                S::NO_CONTENT,
            )),
        )
        .route("/build/prune", body_job("build_prune", S::OK))
        .route("/volumes", query_job("volume_list"))
        .route("/volumes/create", body_job("volume_create", S::CREATED))
        .route("/volumes/prune", body_job("volume_prune", S::OK))
        .route(
            "/volumes/{name}",
            object_job(GET, "volume_inspect", S::OK).merge(object_job(
                DELETE,
                "volume_delete",
                S::NO_CONTENT,
            )),
        )
        .route(
            "/containers/create",
            body_job("container_create", S::CREATED),
        )
        .route("/containers/{id}/attach", post(container_attach))
        .route("/containers/{id}/exec", post(crate::exec::exec_create))
        .route("/exec/{id}/start", post(crate::exec::exec_start))
        .route("/exec/{id}/json", object_job(GET, "exec_inspect", S::OK))
        .route("/exec/{id}/resize", object_job(POST, "exec_resize", S::OK))
        .route(
            "/containers/{id}/update",
            object_body_job("container_update", S::OK),
        )
        .route(
            "/containers/{id}/archive",
            on(
                GET.or(MethodFilter::HEAD).or(MethodFilter::PUT),
                archive::container_archive,
            ),
        )
        .route("/berth/jobs", plain_job("job_list"))
        .route("/berth/jobs/{name}", post(job_run))
        .route("/berth/plugins", plain_job("plugin_list"))
        .route(
            "/berth/plugins/{name}",
            object_job(GET, "plugin_inspect", S::OK),
        )
        .route("/berth/plugins/{name}/{action}", post(plugin_action))
        .route("/plugins", query_job("plugin_list_docker"))
        .route(
            "/plugins/{name}/json",
            object_job(GET, "plugin_inspect_docker", S::OK),
        )
        .fallback(|| async { ApiError::page_not_found() })
        .with_state(state);
    // The prefix must be stripped before routing, so the middleware wraps
    // the whole API router rather than being a route layer. Authorization
    // runs after the prefix check and before routing: every request, known
    // route or not, is decided on (see `authz`).
    Router::new()
        .fallback_service(api)
        .layer(middleware::from_fn_with_state(authz, authz::authorize))
        .layer(middleware::from_fn(version_prefix))
        .layer(middleware::map_response(common_headers))
}

/// Checks and strips `/vX.Y`. dockerd answers versions outside its range
/// with 400 and a message naming both versions.
async fn version_prefix(mut req: Request, next: Next) -> Response {
    let (prefix, rest) = version::split_path(req.uri().path());
    let Some(prefix) = prefix else {
        return next.run(req).await;
    };
    let checked = prefix
        .parse::<version::ApiVersion>()
        .map_err(|e| e.to_string())
        .and_then(|v| version::check(v).map_err(|e| e.to_string()));
    if let Err(message) = checked {
        return ApiError::bad_request(message).into_response();
    }
    let mut uri = rest.to_owned();
    if let Some(query) = req.uri().query() {
        uri.push('?');
        uri.push_str(query);
    }
    match uri.parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return ApiError::bad_request("invalid request path").into_response(),
    }
    next.run(req).await
}

async fn common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("Api-Version", HeaderValue::from_static("1.43"));
    headers.insert("Server", HeaderValue::from_static(SERVER));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    response
}

/// `GET|HEAD /_ping`: `OK`, with the headers the docker CLI negotiates on.
async fn ping(State(state): State<AppState>, method: Method) -> Response {
    let (job, streams) = Job::new("system_ping");
    let mut response = edge::respond(&state.engine, job, streams, StatusCode::OK).await;
    let headers = response.headers_mut();
    headers.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert("Pragma", HeaderValue::from_static("no-cache"));
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

fn job_with(
    name: &str,
    args: Vec<String>,
    query: Vec<(String, String)>,
) -> (Job, berth_engine::JobStreams) {
    let (mut job, streams) = Job::new(name);
    job.args = args;
    for (k, v) in query {
        job.env.set(k, v);
    }
    (job, streams)
}

/// `GET` of job `name`, which takes nothing.
fn plain_job(name: &'static str) -> MethodRouter<AppState> {
    get(move |State(state): State<AppState>| async move {
        let (job, streams) = Job::new(name);
        edge::respond(&state.engine, job, streams, StatusCode::OK).await
    })
}

/// `GET` of job `name`, the query parameters as its env.
fn query_job(name: &'static str) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Query(q): Params| async move {
            let (job, streams) = job_with(name, Vec::new(), q);
            edge::respond(&state.engine, job, streams, StatusCode::OK).await
        },
    )
}

/// `POST` of job `name` with the request body as its stdin and the query
/// as its env; `ok` on success.
fn body_job(name: &'static str, ok: StatusCode) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>, Query(q): Params, body: Body| async move {
            let (job, streams) = job_with(name, Vec::new(), q);
            let job = job.stdin(body_reader(body));
            edge::respond(&state.engine, job, streams, ok).await
        },
    )
}

/// `method` of job `name` on the object the path names (`{id}`, `{name}`):
/// the object is the job's first argument, the query its env; `ok` on
/// success.
fn object_job(method: MethodFilter, name: &'static str, ok: StatusCode) -> MethodRouter<AppState> {
    on(
        method,
        move |State(state): State<AppState>, Path(id): Path<String>, Query(q): Params| async move {
            let (job, streams) = job_with(name, vec![id], q);
            edge::respond(&state.engine, job, streams, ok).await
        },
    )
}

/// `POST` of job `name` on the object the path names, with the request
/// body as the job's stdin (a JSON document, e.g. `UpdateConfig`); `ok` on
/// success.
fn object_body_job(name: &'static str, ok: StatusCode) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Path(id): Path<String>,
              Query(q): Params,
              body: Body| async move {
            let (job, streams) = job_with(name, vec![id], q);
            let job = job.stdin(body_reader(body));
            edge::respond(&state.engine, job, streams, ok).await
        },
    )
}

/// The request body as a job's stdin.
pub fn body_reader(body: Body) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    StreamReader::new(body.into_data_stream().map_err(std::io::Error::other))
}

/// Image names contain slashes (`docker.io/library/busybox`), so image
/// routes match the whole rest of the path and split off the operation.
async fn image_dispatch(
    State(state): State<AppState>,
    method: Method,
    headers: axum::http::HeaderMap,
    Path(rest): Path<String>,
    Query(q): Params,
) -> Response {
    let (name, ok) = match method {
        Method::GET => match rest.strip_suffix("/json") {
            Some(image) => (("image_inspect", image.to_owned()), StatusCode::OK),
            None => match rest.strip_suffix("/history") {
                Some(image) => (("image_history", image.to_owned()), StatusCode::OK),
                None => match rest.strip_suffix("/get") {
                    Some(image) => (("image_save", image.to_owned()), StatusCode::OK),
                    None => return ApiError::page_not_found().into_response(),
                },
            },
        },
        Method::POST => match rest.strip_suffix("/tag") {
            Some(image) => (("image_tag", image.to_owned()), StatusCode::CREATED),
            None => match rest.strip_suffix("/push") {
                Some(image) => return registry::image_push(state, headers, image, q).await,
                None => return ApiError::page_not_found().into_response(),
            },
        },
        Method::DELETE => (("image_delete", rest), StatusCode::OK),
        _ => return ApiError::page_not_found().into_response(),
    };
    let (job, streams) = job_with(name.0, vec![name.1], q);
    edge::respond(&state.engine, job, streams, ok).await
}

async fn container_attach(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Params,
    req: Request,
) -> Response {
    let (job, streams) = job_with("container_attach", vec![id], q);
    hijack::attach(&state.engine, job, streams, req).await
}

async fn job_run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Params,
    req: Request,
) -> Response {
    // Checked before the response starts, so that an unknown or internal
    // job is an HTTP error rather than a job stream (`run_api` checks
    // again when it runs).
    if let Err(e) = state.engine.check_api(&name, Via::JobApi) {
        return ApiError::from(e).into_response();
    }
    let (mut job, streams) = Job::new(name);
    for (k, v) in q {
        match k.as_str() {
            "arg" => job.args.push(v),
            "env" => match v.split_once('=') {
                Some((key, value)) => job.env.set(key, value),
                None => job.env.set(v, ""),
            },
            other => {
                return ApiError::bad_request(format!(
                    "unknown parameter {other:?}: use arg= and env=KEY=VALUE"
                ))
                .into_response();
            }
        }
    }
    hijack::job_stream(&state.engine, job, streams, req).await
}

/// `POST /berth/plugins/{name}/{enable|disable|reload}`.
async fn plugin_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let job = match action.as_str() {
        "enable" => "plugin_enable",
        "disable" => "plugin_disable",
        "reload" => "plugin_reload",
        _ => return ApiError::page_not_found().into_response(),
    };
    let (job, streams) = job_with(job, vec![name], Vec::new());
    edge::respond(&state.engine, job, streams, StatusCode::OK).await
}

#[cfg(test)]
mod tests;
