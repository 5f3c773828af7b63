//! The exec routes that need more than the route table's shapes:
//! `POST /containers/{id}/exec` (the body is the job's stdin, the path's
//! container its argument) and `POST /exec/{id}/start` (the body is read
//! first; without `Detach` the connection is then hijacked like an attach,
//! so the job's stdin is the client's input).

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_api::exec::ExecStartRequest;
use berth_engine::Job;

use crate::app::{AppState, body_reader};
use crate::edge;
use crate::error::ApiError;
use crate::hijack;

/// Largest `POST /exec/{id}/start` body (three small fields).
const MAX_START_BODY: usize = 64 * 1024;

/// `POST /containers/{id}/exec`: 201 `{"Id"}`.
pub async fn exec_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (job, streams) = Job::new("exec_create");
    let job = job.arg(id).stdin(body_reader(body));
    edge::respond(&state.engine, job, streams, StatusCode::CREATED).await
}

/// `POST /exec/{id}/start`: the body's `Detach` and `ConsoleSize` become
/// the job's env (`detach`, `h`, `w`); detached, a plain 200; else the
/// hijacked stream.
pub async fn exec_start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_START_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::bad_request(format!("invalid body: {e}")).into_response(),
    };
    let options: ExecStartRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        ExecStartRequest::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(options) => options,
            Err(e) => {
                return ApiError::bad_request(format!("invalid JSON: {e}")).into_response();
            }
        }
    };
    let (mut job, streams) = Job::new("exec_start");
    job = job.arg(id);
    if options.detach {
        job = job.env("detach", "1");
    }
    // moby: a console size only with a TTY.
    if options.tty
        && let Some(size) = &options.console_size
    {
        match size.as_slice() {
            [h, w] => job = job.env("h", h.to_string()).env("w", w.to_string()),
            other => {
                return ApiError::bad_request(format!(
                    "invalid ConsoleSize: {other:?}: want [height, width]"
                ))
                .into_response();
            }
        }
    }
    if options.detach {
        return edge::respond(&state.engine, job, streams, StatusCode::OK).await;
    }
    // The body is read; the upgrade handle stays in the parts' extensions.
    let req = Request::from_parts(parts, Body::empty());
    hijack::attach(&state.engine, job, streams, req).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::Method;
    use berth_engine::{Engine, Exposure, Handler, JobError, handler_fn};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// A router whose exec jobs echo their name, args, env and body.
    fn router() -> axum::Router {
        let engine = Engine::new();
        for name in ["exec_create", "exec_start", "exec_inspect", "exec_resize"] {
            let handler: Arc<dyn Handler> = Arc::new(handler_fn("", |mut job: Job| async move {
                if job.args.first().map(String::as_str) == Some("missing") {
                    return Err(JobError::not_found("No such exec instance: missing"));
                }
                let body = job.read_stdin(1 << 16).await?;
                let env: Vec<(String, String)> = job
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                job.stdout
                    .write_json(&serde_json::json!({
                        "job": job.name, "args": job.args, "env": env,
                        "body": String::from_utf8_lossy(&body),
                    }))
                    .await?;
                Ok(0)
            }));
            engine.register(name, Exposure::Route, handler);
        }
        crate::app::router(AppState {
            engine,
            authz: crate::authz::Authz::unrestricted(),
        })
    }

    async fn call(method: Method, uri: &str, body: &str) -> (StatusCode, serde_json::Value) {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_owned()))
            .expect("request");
        let response = router().oneshot(req).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    #[tokio::test]
    async fn each_exec_route_runs_its_job() {
        let (status, json) = call(
            Method::POST,
            "/v1.43/containers/c1/exec",
            r#"{"Cmd":["ls"]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(json["job"], "exec_create");
        assert_eq!(json["args"][0], "c1");
        assert_eq!(json["body"], r#"{"Cmd":["ls"]}"#);
        let (status, json) = call(Method::GET, "/exec/e1/json", "").await;
        assert_eq!(
            (status, &json["job"]),
            (StatusCode::OK, &"exec_inspect".into())
        );
        let (status, json) = call(Method::POST, "/exec/e1/resize?h=3&w=4", "").await;
        assert_eq!(
            (status, &json["job"]),
            (StatusCode::OK, &"exec_resize".into())
        );
        assert_eq!(json["env"], serde_json::json!([["h", "3"], ["w", "4"]]));
        let (status, json) = call(Method::GET, "/exec/missing/json", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json["message"], "No such exec instance: missing");
    }

    #[tokio::test]
    async fn a_detached_start_is_a_plain_request_and_unknown_fields_are_refused() {
        let body = r#"{"Detach":true,"Tty":true,"ConsoleSize":[24,80]}"#;
        let (status, json) = call(Method::POST, "/exec/e1/start", body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["job"], "exec_start");
        assert_eq!(
            json["env"],
            serde_json::json!([["detach", "1"], ["h", "24"], ["w", "80"]])
        );
        let (status, json) = call(Method::POST, "/exec/e1/start", r#"{"Detach":true,"X":1}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `X`"),
            "{json}"
        );
        // Streamed starts need the hijack headers, as attach.
        let (status, json) = call(Method::POST, "/exec/e1/start", r#"{"Detach":false}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            json["message"].as_str().unwrap().contains("Upgrade"),
            "{json}"
        );
    }
}
