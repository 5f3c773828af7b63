//! The router driven with `oneshot`: no socket, fake handlers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use berth_api::job::JobExit;
use berth_api::stream::{FrameDecoder, StreamType};
use berth_engine::{Engine, Handler, Job, JobError, handler_fn};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

fn engine() -> Arc<Engine> {
    let engine = Engine::new();
    // As in berthd: the Docker operations run only through their routes,
    // `cat` stands for a plugin job the job API runs.
    let reg = |name: &str, h: Arc<dyn Handler>| {
        let exposure = if name == "cat" {
            berth_engine::Exposure::Api
        } else {
            berth_engine::Exposure::Route
        };
        engine.register(name, exposure, h);
    };
    reg(
        "system_ping",
        Arc::new(handler_fn("", |job: Job| async move {
            job.stdout.write(&b"OK"[..]).await?;
            Ok(0)
        })),
    );
    // Echoes its name, args and env as JSON so tests see the mapping.
    for name in [
        "container_inspect",
        "image_inspect",
        "image_tag",
        "image_delete",
        "container_list",
        "system_events",
    ] {
        reg(
            name,
            Arc::new(handler_fn("", |job: Job| async move {
                if job.args.first().map(String::as_str) == Some("missing") {
                    return Err(JobError::not_found("No such container: missing"));
                }
                let env: Vec<(String, String)> = job
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                job.stdout
                    .write_json(&serde_json::json!({"job": job.name, "args": job.args, "env": env}))
                    .await?;
                Ok(0)
            })),
        );
    }
    reg(
        "container_create",
        Arc::new(handler_fn("", |mut job: Job| async move {
            let body: serde_json::Value = job.read_json(1 << 20).await?;
            job.stdout
                .write_json(&serde_json::json!({"Id": body["Image"], "Warnings": []}))
                .await?;
            Ok(0)
        })),
    );
    reg(
        "container_start",
        Arc::new(handler_fn("", |job: Job| async move {
            if job.args[0] == "running" {
                return Err(JobError::not_modified());
            }
            Ok(0)
        })),
    );
    reg(
        "container_wait",
        Arc::new(handler_fn("", |job: Job| async move {
            job.stdout.begin(Some("application/json")).await?;
            tokio::task::yield_now().await;
            job.stdout.write(&b"{\"StatusCode\":3}\n"[..]).await?;
            Ok(0)
        })),
    );
    reg(
        "cat",
        Arc::new(handler_fn(
            "copies stdin to stdout",
            |mut job: Job| async move {
                let input = job.read_stdin(1024).await?;
                job.stdout.write(input).await?;
                job.stderr
                    .write(format!("args={}", job.args.join(",")))
                    .await?;
                Ok(job
                    .env
                    .get("exit")
                    .and_then(|e| e.parse().ok())
                    .unwrap_or(0))
            },
        )),
    );
    // The daemon's own: running it on a request would be a 500 (the
    // panic), not the 403 the tests expect.
    engine.register(
        "serveapi",
        berth_engine::Exposure::Internal,
        Arc::new(handler_fn("", |_job: Job| async move {
            panic!("an internal job ran for an API request")
        })),
    );
    engine
}

async fn call(
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let app = router(AppState {
        engine: engine(),
        authz: crate::authz::Authz::unrestricted(),
    });
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn ping_answers_with_negotiation_headers() {
    let (status, headers, body) = call(Method::GET, "/_ping", "").await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"OK"[..]));
    assert_eq!(headers["api-version"], "1.43");
    assert_eq!(headers["ostype"], "linux");
    assert!(headers["server"].to_str().unwrap().starts_with("berth/"));
    let (status, _, body) = call(Method::HEAD, "/v1.24/_ping", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
}

#[tokio::test]
async fn version_prefixes_are_checked_and_stripped() {
    let (status, _, body) = call(Method::GET, "/v1.41/containers/abc/json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["args"][0], "abc");
    let (status, _, body) = call(Method::GET, "/v1.50/_ping", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&body)["message"],
        "client version 1.50 is too new. Maximum supported API version is 1.43"
    );
    let (status, _, body) = call(Method::GET, "/v1.12/_ping", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json(&body)["message"].as_str().unwrap().contains("too old"));
}

#[tokio::test]
async fn errors_are_docker_shaped() {
    let (status, headers, body) = call(Method::GET, "/containers/missing/json", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        json(&body),
        serde_json::json!({"message": "No such container: missing"})
    );
    let (status, _, body) = call(Method::GET, "/no/such/route", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body)["message"], "page not found");
    let (status, _, body) = call(Method::POST, "/containers/create", "{\"Image\":").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json(&body)["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON")
    );
}

#[tokio::test]
async fn success_statuses_follow_the_api() {
    let (status, _, body) = call(
        Method::POST,
        "/containers/create?name=web",
        "{\"Image\":\"busybox\"}",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(json(&body)["Id"], "busybox");
    let (status, _, body) = call(Method::POST, "/containers/x/start", "").await;
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    let (status, _, body) = call(Method::POST, "/containers/running/start", "").await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (status, headers, body) =
        call(Method::POST, "/containers/x/wait?condition=next-exit", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(json(&body)["StatusCode"], 3);
}

#[tokio::test]
async fn query_parameters_become_env_in_order() {
    let (_, _, body) = call(
        Method::GET,
        "/containers/json?all=1&filters=%7B%22name%22%3A%5B%22x%22%5D%7D",
        "",
    )
    .await;
    assert_eq!(
        json(&body)["env"],
        serde_json::json!([["all", "1"], ["filters", "{\"name\":[\"x\"]}"]])
    );
}

#[tokio::test]
async fn image_names_may_contain_slashes() {
    let (status, _, body) = call(
        Method::GET,
        "/v1.43/images/docker.io/library/busybox:1/json",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["job"], "image_inspect");
    assert_eq!(json(&body)["args"][0], "docker.io/library/busybox:1");
    let (status, _, body) = call(Method::POST, "/images/busybox/tag?repo=mine&tag=v1", "").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body.is_empty() || json(&body)["job"] == "image_tag");
    let (status, _, body) = call(Method::DELETE, "/images/reg:5000/a/b", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["args"][0], "reg:5000/a/b");
}

fn frames(body: &[u8]) -> Vec<(StreamType, Vec<u8>)> {
    let mut decoder = FrameDecoder::new();
    decoder.push(body);
    let mut out = Vec::new();
    while let Some((stream, data)) = decoder.next_frame().unwrap() {
        out.push((stream, data.to_vec()));
    }
    assert_eq!(decoder.pending(), 0);
    out
}

#[tokio::test]
async fn jobs_run_with_framed_output_and_an_exit_record() {
    let (status, headers, body) = call(
        Method::POST,
        "/berth/jobs/cat?arg=a&arg=b&env=exit%3D4",
        "payload",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], berth_api::job::JOB_STREAM);
    let frames = frames(&body);
    assert!(
        frames.contains(&(StreamType::Stdout, b"payload".to_vec())),
        "{frames:?}"
    );
    assert!(
        frames.contains(&(StreamType::Stderr, b"args=a,b".to_vec())),
        "{frames:?}"
    );
    let (last_stream, last) = frames.last().unwrap();
    assert_eq!(*last_stream, StreamType::Systemerr);
    let exit: JobExit = serde_json::from_slice(last).unwrap();
    assert_eq!(
        exit,
        JobExit {
            status: 4,
            error: None
        }
    );

    let (status, _, body) = call(Method::POST, "/berth/jobs/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body)["message"], "no such job: nope");
    let (status, _, _) = call(Method::POST, "/berth/jobs/cat?colour=red", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn internal_jobs_are_refused_to_the_job_api() {
    for uri in [
        "/berth/jobs/serveapi",
        "/berth/jobs/serveapi?arg=unix%3A%2F%2F%2Ftmp%2Fx%2Fpwned.sock",
        "/v1.43/berth/jobs/serveapi?arg=a&env=K%3DV",
    ] {
        let (status, _, body) = call(Method::POST, uri, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(
            json(&body)["message"],
            "job serveapi is internal to the daemon and cannot be run through the API"
        );
    }
    // A Docker operation runs through its route only: through the job API
    // it would reach the daemon in a shape authorization policies do not
    // expect.
    for uri in [
        "/berth/jobs/container_inspect?arg=x",
        "/v1.43/berth/jobs/image_delete?arg=x",
    ] {
        let (status, _, body) = call(Method::POST, uri, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert!(
            json(&body)["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("is a Docker API operation: it runs only through its own API route, where authorization policies see it")),
            "{uri}: {body:?}"
        );
    }
    let (status, _, _) = call(Method::GET, "/containers/x/json", "").await;
    assert_eq!(status, StatusCode::OK, "the same job through its route");
    // Hijacked runs are refused before the upgrade.
    let app = router(AppState {
        engine: engine(),
        authz: crate::authz::Authz::unrestricted(),
    });
    let request = Request::builder()
        .method(Method::POST)
        .uri("/berth/jobs/serveapi")
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn routes_run_only_api_jobs() {
    // A route whose job is internal (a mistake in the route table) is
    // refused too: the edge runs every job as the API's.
    let engine = Engine::new();
    engine.register(
        "system_version",
        berth_engine::Exposure::Internal,
        Arc::new(handler_fn("", |_job: Job| async move {
            panic!("an internal job ran for an API request")
        })),
    );
    let app = router(AppState {
        engine,
        authz: crate::authz::Authz::unrestricted(),
    });
    let request = Request::builder()
        .uri("/version")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn attach_without_upgrade_is_refused() {
    let (status, _, body) = call(Method::POST, "/containers/x/attach?stream=1", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json(&body)["message"].as_str().unwrap().contains("Upgrade"));
}

#[tokio::test]
async fn every_route_runs_its_job_with_the_path_object_as_argument() {
    // Every job answers 0 and records its name and arguments.
    type Calls = std::sync::Mutex<Vec<(String, Vec<String>)>>;
    let calls: Arc<Calls> = Arc::default();
    let engine = Engine::new();
    let routes = [
        (
            Method::GET,
            "/version",
            "system_version",
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/info", "system_info", None, StatusCode::OK),
        (
            Method::GET,
            "/events",
            "system_events",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/json",
            "image_list",
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/images/create",
            "image_import",
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/images/create?fromImage=busybox",
            "image_pull",
            None,
            StatusCode::OK,
        ),
        (Method::POST, "/auth", "system_auth", None, StatusCode::OK),
        (
            Method::POST,
            "/images/127.0.0.1:5000/a/b/push?tag=v1",
            "image_push",
            Some("127.0.0.1:5000/a/b"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/search?term=a",
            "image_search",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/a/b/json",
            "image_inspect",
            Some("a/b"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/images/a/tag",
            "image_tag",
            Some("a"),
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            "/images/a",
            "image_delete",
            Some("a"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/images/load",
            "image_load",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/reg:5000/a/history",
            "image_history",
            Some("reg:5000/a"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/get?names=a&names=b",
            "image_save",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/images/a/b:1/get",
            "image_save",
            Some("a/b:1"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/commit?container=c",
            "container_commit",
            None,
            StatusCode::CREATED,
        ),
        (
            Method::GET,
            "/containers/c/export",
            "container_export",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/containers/json",
            "container_list",
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/containers/create",
            "container_create",
            None,
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            "/containers/c",
            "container_delete",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::GET,
            "/containers/c/json",
            "container_inspect",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/containers/c/start",
            "container_start",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/stop",
            "container_stop",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/restart",
            "container_restart",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/rename",
            "container_rename",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/update",
            "container_update",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/containers/c/top",
            "container_top",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/containers/c/pause",
            "container_pause",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/unpause",
            "container_unpause",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/kill",
            "container_kill",
            Some("c"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/containers/c/wait",
            "container_wait",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/containers/c/resize",
            "container_resize",
            Some("c"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/containers/c/logs",
            "container_logs",
            Some("c"),
            StatusCode::OK,
        ),
        (Method::GET, "/berth/jobs", "job_list", None, StatusCode::OK),
        (
            Method::GET,
            "/berth/plugins",
            "plugin_list",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/berth/plugins/p",
            "plugin_inspect",
            Some("p"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/berth/plugins/p/enable",
            "plugin_enable",
            Some("p"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/berth/plugins/p/disable",
            "plugin_disable",
            Some("p"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/berth/plugins/p/reload",
            "plugin_reload",
            Some("p"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/plugins",
            "plugin_list_docker",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/plugins/p/json",
            "plugin_inspect_docker",
            Some("p"),
            StatusCode::OK,
        ),
        (Method::GET, "/volumes", "volume_list", None, StatusCode::OK),
        (
            Method::POST,
            "/volumes/create",
            "volume_create",
            None,
            StatusCode::CREATED,
        ),
        (
            Method::POST,
            "/volumes/prune",
            "volume_prune",
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/volumes/v1",
            "volume_inspect",
            Some("v1"),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            "/volumes/v1",
            "volume_delete",
            Some("v1"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::GET,
            "/networks",
            "network_list",
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/networks/create",
            "network_create",
            None,
            StatusCode::CREATED,
        ),
        (
            Method::GET,
            "/networks/n1",
            "network_inspect",
            Some("n1"),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            "/networks/n1",
            "network_delete",
            Some("n1"),
            StatusCode::NO_CONTENT,
        ),
    ];
    for (_, _, job, _, _) in &routes {
        let handler =
            berth_engine::handler_with("", Arc::clone(&calls), |calls, job: Job| async move {
                calls
                    .lock()
                    .unwrap()
                    .push((job.name.clone(), job.args.clone()));
                Ok(0)
            });
        engine.register(job, berth_engine::Exposure::Api, Arc::new(handler));
    }
    let app = router(AppState {
        engine,
        authz: crate::authz::Authz::unrestricted(),
    });
    for (method, uri, job, object, status) in routes {
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("/v1.43{uri}"))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{method} {uri}");
        let (name, args) = calls.lock().unwrap().pop().expect("a job ran");
        assert_eq!(name, job, "{method} {uri}");
        let expected: Vec<String> = object.into_iter().map(str::to_owned).collect();
        assert_eq!(args, expected, "{method} {uri}");
    }
}
