//! The authz layer driven through the router with `oneshot`: a recording
//! authorizer, handlers that record whether they ran and what they read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use berth_engine::{Engine, Exposure, Job, handler_fn};
use berth_plugin_host::authz_types::{AuthnMethod, Body as Shown, Request as Facts};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::app::{AppState, router};

/// Records every request it is asked about and answers `verdict`.
struct Recorder {
    seen: Mutex<Vec<Facts>>,
    verdict: AuthzVerdict,
}

impl Authorizer for Recorder {
    fn authorize(&self, request: &Facts) -> AuthzVerdict {
        self.seen
            .lock()
            .expect("recorder lock")
            .push(request.clone());
        self.verdict.clone()
    }
}

/// An engine whose handlers count their runs; `container_create` answers
/// with the length of the body it read.
struct Fixture {
    engine: Arc<Engine>,
    runs: Arc<AtomicUsize>,
}

fn fixture() -> Fixture {
    let engine = Engine::new();
    let runs = Arc::new(AtomicUsize::new(0));
    for name in ["system_ping", "container_attach", "image_import"] {
        let runs = Arc::clone(&runs);
        engine.register(
            name,
            Exposure::Api,
            Arc::new(handler_fn("", move |mut job: Job| {
                let runs = Arc::clone(&runs);
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let body = job.read_stdin(8 << 20).await?;
                    job.stdout
                        .write_json(&serde_json::json!({ "read": body.len() }))
                        .await?;
                    Ok(0)
                }
            })),
        );
    }
    let counter = Arc::clone(&runs);
    engine.register(
        "container_create",
        Exposure::Api,
        Arc::new(handler_fn("", move |mut job: Job| {
            let runs = Arc::clone(&counter);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let body = job.read_stdin(8 << 20).await?;
                // Small bodies are echoed, so a test sees the very bytes.
                let echo = (body.len() < 4096).then(|| String::from_utf8_lossy(&body).into_owned());
                job.stdout
                    .write_json(&serde_json::json!({ "read": body.len(), "body": echo }))
                    .await?;
                Ok(0)
            }
        })),
    );
    Fixture { engine, runs }
}

fn recorder(verdict: AuthzVerdict) -> Arc<Recorder> {
    Arc::new(Recorder {
        seen: Mutex::new(Vec::new()),
        verdict,
    })
}

async fn send(
    fixture: &Fixture,
    policy: &Arc<Recorder>,
    request: Request<Body>,
) -> (StatusCode, serde_json::Value) {
    let app = router(AppState {
        engine: Arc::clone(&fixture.engine),
        authz: Authz::new(Arc::clone(policy) as Arc<dyn Authorizer>),
    });
    let response = app.oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn seen(policy: &Recorder) -> Vec<Facts> {
    policy.seen.lock().expect("recorder lock").clone()
}

fn denied() -> AuthzVerdict {
    AuthzVerdict::Deny {
        plugin: "example-authz".into(),
        message: "privileged containers are not allowed".into(),
    }
}

#[tokio::test]
async fn the_policy_sees_the_requests_facts_and_the_handler_the_same_body() {
    let f = fixture();
    let policy = recorder(AuthzVerdict::Allow);
    let body = br#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#;
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/v1.43/containers/create?name=web&label=a&label=b")
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer secret")
        .header("X-Registry-Auth", "c2VjcmV0")
        .header("X-Registry-Config", "c2VjcmV0")
        .header("Proxy-Authorization", "Basic c2VjcmV0")
        .header("User-Agent", "Docker-Client/28.0.0 (linux)")
        .body(Body::from(&body[..]))
        .expect("request");
    request.extensions_mut().insert(Peer::Unix {
        uid: 1000,
        gid: 1000,
        pid: Some(42),
    });
    let (status, answer) = send(&f, &policy, request).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["read"], body.len());
    assert_eq!(answer["body"], String::from_utf8_lossy(body).as_ref());

    let seen = seen(&policy);
    assert_eq!(seen.len(), 1);
    let facts = &seen[0];
    assert_eq!(facts.method, "POST");
    assert_eq!(
        facts.uri,
        "/v1.43/containers/create?name=web&label=a&label=b"
    );
    assert_eq!(facts.path, "/containers/create");
    assert_eq!(facts.api_version.as_deref(), Some("1.43"));
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        facts.query,
        pairs(&[("name", "web"), ("label", "a"), ("label", "b")])
    );
    assert_eq!(
        facts.headers,
        pairs(&[
            ("content-type", "application/json"),
            ("user-agent", "Docker-Client/28.0.0 (linux)"),
        ])
    );
    assert_eq!(facts.body, Shown::Json(body.to_vec()));
    assert_eq!(facts.user, "uid:1000");
    assert_eq!(facts.authn_method, AuthnMethod::UnixPeer);
}

#[tokio::test]
async fn a_denial_is_403_in_mobys_words_and_nothing_runs() {
    let f = fixture();
    let policy = recorder(denied());
    let request = Request::post("/containers/create")
        .header("Content-Type", "application/json")
        .body(Body::from(r#"{"HostConfig":{"Privileged":true}}"#))
        .expect("request");
    let (status, answer) = send(&f, &policy, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer["message"],
        "authorization denied by plugin example-authz: privileged containers are not allowed"
    );
    assert_eq!(f.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failed_policy_denies_with_500_and_nothing_runs() {
    let f = fixture();
    let policy = recorder(AuthzVerdict::Fail {
        plugin: "misbehave-authz 1.0.0".into(),
        reason: "authorize: killed at its deadline of 100 ms".into(),
    });
    let request = Request::get("/_ping").body(Body::empty()).expect("request");
    let (status, answer) = send(&f, &policy, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer["message"],
        "plugin misbehave-authz 1.0.0 failed with error: authorize: killed at its deadline of 100 ms"
    );
    assert_eq!(f.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn ping_unknown_paths_and_hijacked_attach_are_asked_before_anything_runs() {
    let f = fixture();
    let policy = recorder(denied());
    for (method, uri) in [
        (Method::GET, "/_ping"),
        (Method::HEAD, "/v1.24/_ping"),
        (Method::GET, "/no/such/route"),
        (Method::POST, "/containers/c1/attach?stream=1&stdin=1"),
    ] {
        let request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("Connection", "Upgrade")
            .header("Upgrade", "tcp")
            .body(Body::empty())
            .expect("request");
        let (status, _) = send(&f, &policy, request).await;
        // A denied attach answers 403, never 101: the handler that would
        // upgrade the connection did not run.
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    let paths: Vec<String> = seen(&policy).into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/_ping",
            "/_ping",
            "/no/such/route",
            "/containers/c1/attach"
        ]
    );
    assert_eq!(f.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn json_bodies_over_1_mib_are_refused_before_the_policy_is_asked() {
    let f = fixture();
    let policy = recorder(AuthzVerdict::Allow);
    let large = vec![b' '; MAX_BODY + 1];
    let declared = Request::post("/containers/create")
        .header("Content-Type", "application/json")
        .body(Body::from(large.clone()))
        .expect("request");
    // The same without a length: streamed in chunks, no Content-Type.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        large.chunks(64 << 10).map(|c| Ok(c.to_vec())).collect();
    let streamed = Request::post("/containers/create")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("request");
    for request in [declared, streamed] {
        let (status, answer) = send(&f, &policy, request).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
        assert_eq!(
            answer["message"],
            "request body too large for authorization plugin: size exceeds 1048576 bytes"
        );
    }
    assert!(seen(&policy).is_empty());
    assert_eq!(f.runs.load(Ordering::SeqCst), 0);

    // At the bound the body is shown, and handed on whole.
    let request = Request::post("/containers/create")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(Body::from(vec![b' '; MAX_BODY]))
        .expect("request");
    let (status, answer) = send(&f, &policy, request).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["read"], MAX_BODY);
    assert!(matches!(&seen(&policy)[0].body, Shown::Json(b) if b.len() == MAX_BODY));
}

#[tokio::test]
async fn other_bodies_are_withheld_and_reach_the_handler_untouched() {
    let f = fixture();
    let policy = recorder(AuthzVerdict::Allow);
    let tarball = vec![7u8; 3 << 20];
    let request = Request::post("/images/create?fromSrc=-&repo=x")
        .header("Content-Type", "application/x-tar")
        .body(Body::from(tarball.clone()))
        .expect("request");
    let (status, answer) = send(&f, &policy, request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["read"], tarball.len());

    let request = Request::post("/v1.43/auth")
        .header("Content-Type", "application/json")
        .body(Body::from(r#"{"username":"u","password":"p"}"#))
        .expect("request");
    send(&f, &policy, request).await;

    let seen = seen(&policy);
    assert_eq!(
        seen[0].body,
        Shown::Withheld("Content-Type application/x-tar is not JSON".into())
    );
    assert!(
        matches!(&seen[1].body, Shown::Withheld(why) if why.contains("credentials")),
        "{:?}",
        seen[1].body
    );
}

#[tokio::test]
async fn who_asked_comes_from_the_connections_peer() {
    let f = fixture();
    let policy = recorder(AuthzVerdict::Allow);
    let address: std::net::SocketAddr = "127.0.0.1:2376".parse().expect("address");
    for peer in [
        None,
        Some(Peer::Tls {
            common_name: Some("alice".into()),
            address,
        }),
        Some(Peer::Tls {
            common_name: None,
            address,
        }),
        Some(Peer::Tcp { address }),
    ] {
        let mut request = Request::get("/_ping").body(Body::empty()).expect("request");
        if let Some(peer) = peer {
            request.extensions_mut().insert(peer);
        }
        let (status, _) = send(&f, &policy, request).await;
        assert_eq!(status, StatusCode::OK);
    }
    let who: Vec<(String, AuthnMethod)> = seen(&policy)
        .into_iter()
        .map(|r| (r.user, r.authn_method))
        .collect();
    assert_eq!(
        who,
        [
            (String::new(), AuthnMethod::None),
            ("alice".into(), AuthnMethod::TlsCertificate),
            (String::new(), AuthnMethod::None),
            (String::new(), AuthnMethod::None),
        ]
    );
    let unversioned = &seen(&policy)[0];
    assert_eq!(
        (unversioned.uri.as_str(), unversioned.api_version.as_deref()),
        ("/_ping", None)
    );
    assert_eq!(unversioned.body, Shown::Empty);
}
