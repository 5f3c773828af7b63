//! The authz world end to end, without root: SDK-built authz plugins
//! (WIT 1.1.0) loaded by a real `PluginHost` beside the 1.0.0 ones — the
//! example policy's decisions, fail-closed on every kind of failure,
//! replacement and removal, and the `--authorization-plugin` choice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_plugin_host::authz_types::{AuthnMethod, Body, Request};
use berth_plugin_host::{AuthzVerdict, PluginEventKind, PluginHost, PluginState};

use crate::plugins_support::{drain, fixture, fixture_with, install, test_plugins};

fn request(method: &str, path: &str, body: Body) -> Request {
    Request {
        method: method.into(),
        uri: format!("/v1.43{path}"),
        path: path.into(),
        api_version: Some("1.43".into()),
        query: vec![],
        headers: vec![("content-type".into(), "application/json".into())],
        body,
        user: "uid:1000".into(),
        authn_method: AuthnMethod::UnixPeer,
    }
}

fn create(json: &str) -> Request {
    request(
        "POST",
        "/containers/create",
        Body::Json(json.as_bytes().to_vec()),
    )
}

/// Asks the host on a blocking thread, as berthd does.
async fn ask(host: &PluginHost, request: Request) -> AuthzVerdict {
    let host = host.clone();
    tokio::task::spawn_blocking(move || host.authorize(&request))
        .await
        .expect("authorize does not panic")
}

fn denial(verdict: &AuthzVerdict) -> (&str, &str) {
    match verdict {
        AuthzVerdict::Deny { plugin, message } => (plugin, message),
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn failure(verdict: &AuthzVerdict) -> (&str, &str) {
    match verdict {
        AuthzVerdict::Fail { plugin, reason } => (plugin, reason),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_authz_denies_privileged_and_root_binds_and_allows_the_rest() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.example_authz, None)).await;
    let mut events = f.host.subscribe();

    // A 1.1.0 authz plugin from the directory replaces the built-in default.
    let status = f.host.inspect("example-authz").expect("listed");
    assert_eq!(status.state, PluginState::Loaded, "{status:#?}");
    assert_eq!(status.wit.as_deref(), Some("1.1.0"));
    assert!(status.active);
    assert!(!f.host.inspect("authz-default").expect("listed").active);
    assert_eq!(f.host.authz_policies(), ["example-authz 1.0.0 (plugin)"]);

    for (json, needle) in [
        (
            r#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#,
            "privileged",
        ),
        (r#"{"HostConfig":{"Privileged":"yes"}}"#, "privileged"),
        (r#"{"HostConfig":{"Binds":["/:/host"]}}"#, "\"/:/host\""),
        (
            r#"{"HostConfig":{"Binds":["/tmp:/t","//:/host:ro"]}}"#,
            "root",
        ),
        (r#"{"HostConfig":{"Binds":["/tmp/..:/host"]}}"#, "root"),
        (
            r#"{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}}"#,
            "Mounts",
        ),
        (r#"{"HostConfig":{"Binds":"/:/host"}}"#, "not a list"),
        (r#"{"HostConfig":"#, "invalid JSON"),
    ] {
        let verdict = ask(&f.host, create(json)).await;
        let (plugin, message) = denial(&verdict);
        assert_eq!(plugin, "example-authz");
        assert!(message.contains(needle), "{json}: {message}");
        assert!(
            verdict
                .message()
                .expect("a denial has a message")
                .starts_with("authorization denied by plugin example-authz: "),
            "{verdict:?}"
        );
    }
    // A body it is not shown is a body it cannot allow.
    let withheld = request(
        "POST",
        "/containers/create",
        Body::Withheld("Content-Type text/plain is not JSON".into()),
    );
    let verdict = ask(&f.host, withheld).await;
    assert!(denial(&verdict).1.contains("cannot inspect"), "{verdict:?}");
    let exec = request(
        "POST",
        "/containers/c1/exec",
        Body::Json(br#"{"Cmd":["sh"],"Privileged":true}"#.to_vec()),
    );
    assert!(denial(&ask(&f.host, exec).await).1.contains("exec"));

    for allowed in [
        create(r#"{"Image":"busybox","HostConfig":{"Binds":["/tmp:/t"],"Privileged":false}}"#),
        create(r#"{"Image":"busybox"}"#),
        request("POST", "/containers/create", Body::Empty),
        request("GET", "/containers/json", Body::Empty),
        request("DELETE", "/containers/c1", Body::Empty),
        request("GET", "/_ping", Body::Empty),
    ] {
        let path = allowed.path.clone();
        assert_eq!(ask(&f.host, allowed).await, AuthzVerdict::Allow, "{path}");
    }

    // Every denial is an event naming the request and who sent it.
    let denials: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| e.kind == PluginEventKind::Deny)
        .collect();
    assert_eq!(denials.len(), 10, "{denials:#?}");
    assert_eq!(denials[0].plugin, "example-authz");
    assert_eq!(denials[0].version.as_deref(), Some("1.0.0"));
    assert!(
        denials[0]
            .message
            .starts_with("denied POST /containers/create by uid:1000: privileged"),
        "{}",
        denials[0].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_authz_policy_denies_and_never_rests() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.misbehave_authz, None)).await;
    let mut events = f.host.subscribe();
    let ok = || request("GET", "/containers/json", Body::Empty);
    assert_eq!(ask(&f.host, ok()).await, AuthzVerdict::Allow);

    for (mode, needle) in [
        ("spin", "killed at its deadline of 100 ms"),
        ("bomb", "memory limit of 16 MiB"),
        ("panic", "trapped"),
        (
            "mute",
            "returned an invalid decision: a denial without a message",
        ),
        (
            "verbose",
            "returned an invalid decision: a denial message of 2048 bytes",
        ),
        // Twice more: past the backoff threshold of 5 consecutive failures.
        ("panic", "asked to panic"),
        ("spin", "deadline"),
    ] {
        let path = format!("/misbehave/{mode}");
        let verdict = ask(&f.host, request("GET", &path, Body::Empty)).await;
        let (plugin, reason) = failure(&verdict);
        assert_eq!(plugin, "misbehave-authz 1.0.0");
        assert!(reason.starts_with("authorize: "), "{reason}");
        assert!(reason.contains(needle), "{mode}: {reason}");
        let message = verdict.message().expect("a failure has a message");
        assert!(
            message.starts_with("plugin misbehave-authz 1.0.0 failed with error: "),
            "{message}"
        );
    }
    let status = f.host.inspect("misbehave-authz").expect("listed");
    assert_eq!(status.consecutive_failures, 7);
    // An authz policy never rests (the default would then allow, or every
    // request would be refused for minutes): the next request is decided.
    assert_eq!(status.state, PluginState::Loaded, "{status:#?}");
    assert_eq!(status.backoff_until, None);
    assert!(status.active);
    assert_eq!(ask(&f.host, ok()).await, AuthzVerdict::Allow);
    let verdict = ask(&f.host, request("GET", "/misbehave/deny", Body::Empty)).await;
    assert_eq!(denial(&verdict).1, "told to deny /v1.43/misbehave/deny");

    let fails = drain(&mut events)
        .into_iter()
        .filter(|e| e.kind == PluginEventKind::Fail)
        .count();
    assert_eq!(fails, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_authz_plugin_swaps_atomically_and_removing_it_restores_the_default() {
    let built = test_plugins();
    let panicking = format!(
        "{}\n[config]\nalways = \"panic\"\n",
        built.misbehave_authz.manifest
    );
    let f = fixture(|dir, _| install(dir, &built.misbehave_authz, Some(&panicking))).await;
    let dir = f.plugin_dir();
    let probe = || request("GET", "/containers/json", Body::Empty);
    failure(&ask(&f.host, probe()).await);

    // Replacements while a client keeps asking: every answer comes from a
    // complete version (allow, or its denial), never from a half-swapped
    // one, never from the default, never a failure.
    let denying = format!(
        "{}\n[config]\nalways = \"deny\"\n",
        built.misbehave_authz.manifest
    );
    install(&dir, &built.misbehave_authz, Some(&denying));
    assert!(f.host.rescan().await.is_empty());
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (host, stop) = (f.host.clone(), Arc::clone(&stop));
        tokio::task::spawn_blocking(move || {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(host.authorize(&probe()));
            }
            answers
        })
    };
    for round in 0..6 {
        let manifest = if round % 2 == 0 {
            built.misbehave_authz.manifest.clone()
        } else {
            denying.clone()
        };
        install(&dir, &built.misbehave_authz, Some(&manifest));
        assert!(f.host.rescan().await.is_empty());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let answers = client.await.expect("client");
    assert!(answers.len() > 6, "only {} answers", answers.len());
    for answer in &answers {
        match answer {
            AuthzVerdict::Allow => {}
            AuthzVerdict::Deny { plugin, message } => {
                assert_eq!(
                    (plugin.as_str(), message.as_str()),
                    ("misbehave-authz", "told to deny /v1.43/containers/json")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // The last install (round 5) denies.
    denial(&ask(&f.host, probe()).await);

    std::fs::remove_file(dir.join("misbehave-authz.wasm")).expect("remove wasm");
    std::fs::remove_file(dir.join("misbehave-authz.toml")).expect("remove manifest");
    f.host.rescan().await;
    assert_eq!(
        f.host.authz_policies(),
        ["authz-default 1.0.0 (built-in plugin)"]
    );
    assert_eq!(ask(&f.host, probe()).await, AuthzVerdict::Allow);
    assert!(f.host.inspect("authz-default").expect("listed").active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authz_plugin_that_cannot_load_denies_every_request() {
    let built = test_plugins();
    let f = fixture(|dir, _| {
        install(dir, &built.example_authz, None);
        std::fs::write(dir.join("example-authz.wasm"), b"\0asm broken").expect("break it");
    })
    .await;
    let status = f.host.inspect("example-authz").expect("listed");
    assert_eq!(status.state, PluginState::Refused);
    let verdict = ask(&f.host, request("GET", "/_ping", Body::Empty)).await;
    let (plugin, reason) = failure(&verdict);
    assert_eq!(plugin, "example-authz");
    assert!(reason.contains("could not be loaded"), "{reason}");
    assert!(reason.contains("not a usable component"), "{reason}");

    // The working file arrives: it decides from then on.
    install(&f.plugin_dir(), &built.example_authz, None);
    assert!(f.host.rescan().await.is_empty());
    assert_eq!(
        ask(&f.host, request("GET", "/_ping", Body::Empty)).await,
        AuthzVerdict::Allow
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_authz_plugins_decide_in_order_and_a_disabled_one_denies() {
    let built = test_plugins();
    let f = fixture_with(
        |dir, _| {
            install(dir, &built.example_authz, None);
            install(dir, &built.misbehave_authz, None);
        },
        |config| {
            config.authorization_plugins = vec!["misbehave-authz".into(), "example-authz".into()];
        },
    )
    .await;
    assert_eq!(
        f.host.authz_policies(),
        [
            "misbehave-authz 1.0.0 (plugin)",
            "example-authz 1.0.0 (plugin)"
        ]
    );
    // Both must allow: the first allows, the second denies.
    let verdict = ask(&f.host, create(r#"{"HostConfig":{"Privileged":true}}"#)).await;
    assert_eq!(denial(&verdict).0, "example-authz");
    // The first denies: the second is not asked.
    let calls = f.host.inspect("example-authz").expect("listed").calls;
    let verdict = ask(&f.host, request("GET", "/misbehave/deny", Body::Empty)).await;
    assert_eq!(denial(&verdict).0, "misbehave-authz");
    assert_eq!(
        f.host.inspect("example-authz").expect("listed").calls,
        calls
    );

    f.host
        .set_enabled("example-authz", false)
        .await
        .expect("disable");
    let verdict = ask(&f.host, request("GET", "/_ping", Body::Empty)).await;
    assert_eq!(
        failure(&verdict),
        (
            "example-authz",
            "authorization plugin example-authz is disabled"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_flag_every_directory_authz_plugin_must_allow() {
    let built = test_plugins();
    let f = fixture(|dir, _| {
        install(dir, &built.example_authz, None);
        install(dir, &built.misbehave_authz, None);
    })
    .await;
    assert_eq!(
        f.host.authz_policies(),
        [
            "example-authz 1.0.0 (plugin)",
            "misbehave-authz 1.0.0 (plugin)"
        ]
    );
    let verdict = ask(&f.host, request("GET", "/misbehave/deny", Body::Empty)).await;
    assert_eq!(denial(&verdict).0, "misbehave-authz");
    // Disabling one leaves the other; disabling both restores the default.
    f.host
        .set_enabled("misbehave-authz", false)
        .await
        .expect("disable");
    assert_eq!(f.host.authz_policies(), ["example-authz 1.0.0 (plugin)"]);
    f.host
        .set_enabled("example-authz", false)
        .await
        .expect("disable");
    assert_eq!(
        f.host.authz_policies(),
        ["authz-default 1.0.0 (built-in plugin)"]
    );
}
