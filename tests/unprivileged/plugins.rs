//! The plugin platform end to end, without root: SDK-built plugins loaded
//! by a real `PluginHost` from a temp plugin directory — good ones, bad
//! ones, replacements and removals, and a hot reload under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_plugin_host::{
    CallFailure, HealthPolicy, JobIo, PluginError, PluginEventKind, PluginHost, PluginSource,
    PluginState,
};
use tokio::io::AsyncReadExt;

use crate::plugins_support::{
    Built, drain, fixture, fixture_with, install, install_folder, test_plugins, write_atomically,
};

/// What a job printed and returned.
#[derive(Debug)]
struct Ran {
    status: i32,
    stdout: String,
    stderr: String,
}

async fn run_job(
    host: &PluginHost,
    job: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> Result<Ran, PluginError> {
    let (stdout, mut out) = tokio::io::duplex(1 << 20);
    let (stderr, mut err) = tokio::io::duplex(1 << 20);
    let io = JobIo {
        stdin: Box::new(std::io::Cursor::new(stdin.to_vec())),
        stdout: Box::new(stdout),
        stderr: Box::new(stderr),
    };
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let result = host.run_job(job, &args, &env, io).await;
    let mut stdout = String::new();
    let mut stderr = String::new();
    out.read_to_string(&mut stdout).await.expect("stdout");
    err.read_to_string(&mut stderr).await.expect("stderr");
    result.map(|status| Ran {
        status,
        stdout,
        stderr,
    })
}

fn assert_refused(host: &PluginHost, name: &str, needles: &[&str]) -> String {
    let status = host
        .inspect(name)
        .unwrap_or_else(|| panic!("{name} is not listed"));
    assert_eq!(status.state, PluginState::Refused, "{status:#?}");
    let reason = status.refused.clone().expect("a refusal reason");
    for needle in needles {
        assert!(
            reason.contains(needle),
            "{reason:?} should mention {needle:?}"
        );
    }
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_built_plugins_load_from_the_plugin_directory() {
    let built = test_plugins();
    let f = fixture(|dir, _| {
        install(dir, &built.example, None);
        install_folder(dir, &built.misbehave);
        install(dir, &built.misbehave_policy, None);
    })
    .await;
    let names: Vec<String> = f.host.list().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "authz-default",
            "disk-usage",
            "example-job",
            "graph-layout",
            "image-gc",
            "misbehave",
            "misbehave-policy",
            "network-policy-default",
            "registry-policy-default"
        ]
    );
    let example = f.host.inspect("example-job").unwrap();
    assert_eq!(example.state, PluginState::Loaded);
    assert_eq!(example.version.as_deref(), Some("1.0.0"));
    assert_eq!(example.wit.as_deref(), Some("1.0.0"));
    assert!(matches!(
        example.source,
        Some(PluginSource::Directory { .. })
    ));
    assert_eq!(example.jobs.len(), 6);
    let folder = f.host.inspect("misbehave").unwrap();
    assert_eq!(folder.state, PluginState::Loaded, "{folder:#?}");

    // The directory's graph policy overrides the built-in default.
    assert_eq!(
        f.host
            .graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy))
            .active()
            .as_deref(),
        Some("misbehave-policy 1.0.0 (plugin)")
    );
    assert!(f.host.inspect("misbehave-policy").unwrap().active);
    assert!(!f.host.inspect("graph-layout").unwrap().active);

    let jobs: Vec<String> = f.host.jobs().into_iter().map(|j| j.job.name).collect();
    for job in ["example-echo", "misbehave-ok", "image-gc", "disk-usage"] {
        assert!(jobs.iter().any(|j| j == job), "{job} missing from {jobs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_job_gets_args_env_stdin_and_returns_stdout_stderr_and_status() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.example, None)).await;
    let host = &f.host;

    let ran = run_job(host, "example-echo", &["a b", "c"], &[], b"")
        .await
        .unwrap();
    assert_eq!((ran.status, ran.stdout.as_str()), (0, "a b\nc\n"));

    let ran = run_job(
        host,
        "example-env",
        &["FOO", "MISSING"],
        &[("FOO", "bar"), ("X", "y")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(ran.status, 1);
    assert_eq!(ran.stdout, "FOO=bar\n");
    assert_eq!(ran.stderr, "MISSING is not set\n");

    let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (stdout, mut out) = tokio::io::duplex(1 << 16);
    let (stderr, mut err) = tokio::io::duplex(1 << 16);
    let io = JobIo {
        stdin: Box::new(std::io::Cursor::new(input.clone())),
        stdout: Box::new(stdout),
        stderr: Box::new(stderr),
    };
    // Read concurrently: the output is larger than the pipe.
    let reader = tokio::spawn(async move {
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).await.map(|_| bytes)
    });
    let status = host.run_job("example-cat", &[], &[], io).await.unwrap();
    assert_eq!(status, 0);
    assert_eq!(reader.await.unwrap().unwrap(), input);
    let mut diag = String::new();
    err.read_to_string(&mut diag).await.unwrap();
    assert_eq!(diag, "200000 bytes\n");

    let ran = run_job(host, "example-exit", &["42", "bye"], &[], b"")
        .await
        .unwrap();
    assert_eq!((ran.status, ran.stderr.as_str()), (42, "bye\n"));

    let ran = run_job(host, "example-version", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ran.stdout, "1.0.0\n");

    // No scratch-dir capability: the plugin sees no filesystem at all.
    let ran = run_job(host, "example-scratch", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ran.status, 1, "{ran:?}");
    assert!(ran.stderr.starts_with("example-scratch: "), "{ran:?}");
    assert_eq!(host.inspect("example-job").unwrap().calls, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_job_is_killed_at_its_deadline_and_the_plugin_keeps_serving() {
    let built = test_plugins();
    let f = fixture(|dir, _| {
        install(dir, &built.misbehave, None);
        install(dir, &built.example, None);
    })
    .await;
    let mut events = f.host.subscribe();
    let err = run_job(&f.host, "misbehave-spin", &[], &[], b"")
        .await
        .unwrap_err();
    assert_eq!(err.call_failure(), Some(CallFailure::Timeout), "{err}");
    let text = err.to_string();
    assert!(text.contains("misbehave 1.0.0"), "{text}");
    assert!(text.contains("deadline of 300 ms"), "{text}");

    let ok = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ok.stdout, "alive\n");
    let other = run_job(&f.host, "example-echo", &["x"], &[], b"")
        .await
        .unwrap();
    assert_eq!(other.stdout, "x\n");

    let status = f.host.inspect("misbehave").unwrap();
    assert_eq!((status.calls, status.failures), (2, 1));
    assert_eq!(status.state, PluginState::Loaded);
    assert!(status.last_error.unwrap().contains("deadline"));
    let fails: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| e.kind == PluginEventKind::Fail)
        .collect();
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert_eq!(fails[0].plugin, "misbehave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_blocked_in_a_host_call_is_cut_at_its_deadline() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.misbehave, None)).await;
    // A stdin that never ends: the plugin waits in the host, not in wasm.
    let (_keep_open, stdin) = tokio::io::duplex(16);
    let io = JobIo {
        stdin: Box::new(stdin),
        stdout: Box::new(tokio::io::sink()),
        stderr: Box::new(tokio::io::sink()),
    };
    let err = f
        .host
        .run_job("misbehave-read", &[], &[], io)
        .await
        .unwrap_err();
    assert_eq!(err.call_failure(), Some(CallFailure::Timeout), "{err}");
    assert!(err.to_string().contains("waiting in a host call"), "{err}");
    let ok = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ok.stdout, "alive\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_stopped_at_its_limit() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.misbehave, None)).await;
    let err = run_job(&f.host, "misbehave-bomb", &[], &[], b"")
        .await
        .unwrap_err();
    assert_eq!(err.call_failure(), Some(CallFailure::MemoryLimit), "{err}");
    assert!(err.to_string().contains("memory limit of 16 MiB"), "{err}");
    let ok = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ok.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_that_call_only() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.misbehave, None)).await;
    let err = run_job(&f.host, "misbehave-panic", &[], &[], b"")
        .await
        .unwrap_err();
    assert_eq!(err.call_failure(), Some(CallFailure::Trap), "{err}");
    assert!(err.to_string().contains("misbehave 1.0.0"), "{err}");
    let ok = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ok.stdout, "alive\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_policies_fail_their_call_and_the_default_takes_over_in_backoff() {
    let built = test_plugins();
    let f = fixture_with(
        |dir, _| install(dir, &built.misbehave_policy, None),
        |config| {
            config.health = HealthPolicy {
                failure_threshold: 4,
                backoff_base: Duration::from_secs(600),
                backoff_max: Duration::from_secs(600),
            }
        },
    )
    .await;
    let policy = f
        .host
        .graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy));
    let request = |container: &str| berth_graph::RootfsRequest {
        container_id: container.into(),
        image_id: format!("sha256:{}", "a".repeat(64)),
        driver: "overlay".into(),
        layers: (0..3u32)
            .map(|i| berth_graph::LayerInfo {
                id: format!("{i:064x}"),
                size: 1,
            })
            .collect(),
        max_lower_dirs: 8,
        flattened: vec![],
    };
    let host = f.host.clone();
    tokio::task::spawn_blocking(move || {
        use berth_graph::LayoutPolicy;
        let ok = policy.plan_rootfs(&request("fine")).unwrap();
        assert_eq!(ok.lowers.len(), 3);
        for (container, needle) in [
            ("spin", "deadline of 100 ms"),
            ("bomb", "memory limit"),
            ("panic", "trapped"),
            ("outside", "invalid plan"),
        ] {
            let err = policy.plan_rootfs(&request(container)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("misbehave-policy 1.0.0"), "{text}");
            assert!(text.contains(needle), "{container}: {text}");
        }
        // Four failures in a row: the plugin rests and the built-in default
        // serves, so the graph keeps working.
        let status = host.inspect("misbehave-policy").unwrap();
        assert_eq!(status.state, PluginState::Failing, "{status:#?}");
        assert!(status.backoff_until.is_some());
        assert_eq!(status.consecutive_failures, 4);
        assert!(!status.active);
        assert_eq!(
            policy.active().as_deref(),
            Some("graph-layout 1.0.0 (built-in plugin)")
        );
        let plan = policy.plan_rootfs(&request("spin")).unwrap();
        assert_eq!(plan.lowers.len(), 3);
    })
    .await
    .unwrap();

    // Re-enabling clears the backoff.
    let status = f.host.set_enabled("misbehave-policy", true).await.unwrap();
    assert_eq!(status.state, PluginState::Loaded);
    assert!(status.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handler_failing_repeatedly_is_in_backoff_until_enabled() {
    let built = test_plugins();
    let f = fixture_with(
        |dir, _| install(dir, &built.misbehave, None),
        |config| {
            config.health = HealthPolicy {
                failure_threshold: 2,
                backoff_base: Duration::from_secs(600),
                backoff_max: Duration::from_secs(600),
            }
        },
    )
    .await;
    for _ in 0..2 {
        let err = run_job(&f.host, "misbehave-panic", &[], &[], b"")
            .await
            .unwrap_err();
        assert_eq!(err.call_failure(), Some(CallFailure::Trap));
    }
    let err = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::Backoff { .. }), "{err}");
    assert!(
        err.to_string().contains("misbehave 1.0.0 is failing"),
        "{err}"
    );
    let status = f.host.inspect("misbehave").unwrap();
    assert_eq!(status.state, PluginState::Failing);
    f.host.set_enabled("misbehave", true).await.unwrap();
    let ok = run_job(&f.host, "misbehave-ok", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ok.stdout, "alive\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_components_are_refused_and_others_unaffected() {
    let built = test_plugins();
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let f = fixture(|dir, _| {
        install(dir, &built.example, None);
        std::fs::write(dir.join("garbage.wasm"), b"this is not wasm").unwrap();
        std::fs::write(
            dir.join("garbage.toml"),
            "name = \"garbage\"\nversion = \"1.0.0\"\nworld = \"job-handler\"\nwit = \"1.0.0\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("core.wasm"), &core_module).unwrap();
        std::fs::write(
            dir.join("core.toml"),
            "name = \"core\"\nversion = \"1.0.0\"\nworld = \"job-handler\"\nwit = \"1.0.0\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("lonely.wasm"), b"x").unwrap();
        std::fs::write(dir.join("broken.toml"), "name = ").unwrap();
    })
    .await;
    assert_refused(
        &f.host,
        "garbage",
        &["garbage 1.0.0", "garbage.wasm", "not a usable component"],
    );
    assert_refused(
        &f.host,
        "core",
        &["core WebAssembly module, not a component"],
    );
    assert_refused(&f.host, "lonely", &["has no manifest"]);
    assert_refused(&f.host, "broken", &["invalid manifest", "broken.toml"]);
    let ran = run_job(&f.host, "example-echo", &["still here"], &[], b"")
        .await
        .unwrap();
    assert_eq!(ran.stdout, "still here\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_wit_version_is_refused_naming_both_versions() {
    let built = test_plugins();
    let f = fixture(|dir, _| {
        let manifest = built
            .example
            .manifest
            .replace("wit = \"1.0.0\"", "wit = \"2.0.0\"");
        install(dir, &built.example, Some(&manifest));
        let mut newer = built.misbehave.clone();
        newer.manifest = newer.manifest.replace("wit = \"1.0.0\"", "wit = \"1.4.0\"");
        install(dir, &newer, None);
    })
    .await;
    assert_refused(
        &f.host,
        "example-job",
        &["example-job 1.0.0", "WIT 2.0.0", "supports 1.3.0"],
    );
    assert_refused(&f.host, "misbehave", &["WIT 1.4.0", "supports 1.3.0"]);
    assert!(!f.host.has_job("example-echo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_capabilities_are_refused_and_granted_ones_loaded() {
    let built = test_plugins();
    let with_scratch = built
        .example
        .manifest
        .replace("[limits]", "capabilities = [\"scratch-dir\"]\n\n[limits]");
    let gc_without = built
        .image_gc
        .manifest
        .replace("capabilities = [\"graph-admin\"]", "");
    let mut gc = built.image_gc.clone();
    gc.name = "image-gc";
    let f = fixture(|dir, _| {
        install(dir, &built.example, Some(&with_scratch));
        install(dir, &gc, Some(&gc_without));
    })
    .await;
    assert_refused(
        &f.host,
        "example-job",
        &[
            "capability scratch-dir",
            "not granted",
            "[plugin.example-job]",
        ],
    );
    // A component importing graph-admin needs the capability in its
    // manifest (and then a grant).
    let status = f.host.inspect("image-gc").unwrap();
    let reason = status.refused.expect("refused");
    assert!(reason.contains("graph-admin"), "{reason}");
    // The built-in image-gc keeps serving its job meanwhile.
    assert_eq!(status.state, PluginState::Loaded);
    assert_eq!(status.source, Some(PluginSource::Builtin));

    std::fs::write(
        f.grants(),
        "[plugin.example-job]\ncapabilities = [\"scratch-dir\"]\n",
    )
    .unwrap();
    let status = f.host.reload("example-job").await.unwrap();
    assert_eq!(status.state, PluginState::Loaded, "{status:#?}");
    assert_eq!(status.capabilities.len(), 1);
    let scratch = f.dir.path().join("data/plugins/scratch/example-job");
    assert!(scratch.is_dir());
    for expected in ["1\n", "2\n"] {
        let ran = run_job(&f.host, "example-scratch", &[], &[], b"")
            .await
            .unwrap();
        assert_eq!((ran.status, ran.stdout.as_str()), (0, expected), "{ran:?}");
    }
    assert_eq!(
        std::fs::read_to_string(scratch.join("counter")).unwrap(),
        "2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_refused_at_describe_leaves_no_scratch_dir() {
    let built = test_plugins();
    // Granted scratch-dir, but the component calls itself 1.0.0 while its
    // manifest says 9.9.9: refused after compiling and linking.
    let manifest = built
        .example
        .manifest
        .replace("version = \"1.0.0\"", "version = \"9.9.9\"")
        .replace("[limits]", "capabilities = [\"scratch-dir\"]\n\n[limits]");
    let f = fixture(|dir, grants| {
        install(dir, &built.example, Some(&manifest));
        std::fs::write(
            grants,
            "[plugin.example-job]\ncapabilities = [\"scratch-dir\"]\n",
        )
        .expect("write grants");
    })
    .await;
    assert_refused(&f.host, "example-job", &["describe", "9.9.9"]);
    let scratch = f.dir.path().join("data/plugins/scratch/example-job");
    assert!(!scratch.exists(), "{} was created", scratch.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_replacement_never_replaces_a_working_plugin() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.example, None)).await;
    let mut events = f.host.subscribe();
    let dir = f.plugin_dir();

    write_atomically(&dir.join("example-job.wasm"), b"\0asm broken");
    let errors = f.host.rescan().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let status = f.host.inspect("example-job").unwrap();
    assert_eq!(status.state, PluginState::Loaded);
    assert_eq!(status.version.as_deref(), Some("1.0.0"));
    assert!(
        status
            .refused
            .as_deref()
            .unwrap()
            .contains("version 1.0.0 keeps serving"),
        "{status:#?}"
    );
    let ran = run_job(&f.host, "example-version", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ran.stdout, "1.0.0\n");

    // The new component with the old manifest disagrees on the version:
    // refused too.
    let next = std::fs::read(&built.example_next.wasm).unwrap();
    write_atomically(&dir.join("example-job.wasm"), &next);
    f.host.rescan().await;
    let status = f.host.inspect("example-job").unwrap();
    assert!(status.refused.unwrap().contains("says version 1.1.0"));

    install(&dir, &built.example_next, None);
    assert!(f.host.rescan().await.is_empty());
    let status = f.host.inspect("example-job").unwrap();
    assert_eq!(status.version.as_deref(), Some("1.1.0"));
    assert_eq!(status.refused, None);
    let ran = run_job(&f.host, "example-version", &[], &[], b"")
        .await
        .unwrap();
    assert_eq!(ran.stdout, "1.1.0\n");

    std::fs::remove_file(dir.join("example-job.wasm")).unwrap();
    std::fs::remove_file(dir.join("example-job.toml")).unwrap();
    f.host.rescan().await;
    assert!(f.host.inspect("example-job").is_none());
    assert!(!f.host.has_job("example-echo"));

    let kinds: Vec<PluginEventKind> = drain(&mut events).into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            PluginEventKind::Refuse,
            PluginEventKind::Refuse,
            PluginEventKind::Swap,
            PluginEventKind::Unload
        ]
    );
}

/// Hot reload under load: a client calls a plugin job continuously while
/// the plugin's files are replaced 20 times with alternating versions.
/// Zero calls may fail and every answer comes from one of the two versions;
/// the final version must serve after the last write (the time it took is
/// printed; the benchmark measures reload latency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_load_loses_no_call() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.example, None)).await;
    let _watch = f.host.watch().expect("watching the plugin directory");
    let dir = f.plugin_dir();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let client = {
        let (host, stop, calls) = (f.host.clone(), stop.clone(), calls.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let ran = run_job(&host, "example-version", &[], &[], b"").await;
                calls.fetch_add(1, Ordering::Relaxed);
                match ran {
                    Ok(ran) if ran.status == 0 => seen.push(ran.stdout),
                    Ok(ran) => return Err(format!("job failed: {ran:?}")),
                    Err(e) => return Err(format!("call failed: {e}")),
                }
            }
            Ok(seen)
        })
    };

    let versions: [&Built; 2] = [&built.example_next, &built.example];
    for round in 0..20 {
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        install(&dir, versions[round % 2], None);
    }
    let last_write = Instant::now();
    // Round 19 installed versions[1], i.e. 1.0.0.
    let deadline = last_write + Duration::from_secs(30);
    loop {
        let ran = run_job(&f.host, "example-version", &[], &[], b"")
            .await
            .unwrap();
        if ran.stdout == "1.0.0\n"
            && f.host.inspect("example-job").unwrap().refused.is_none()
            && f.host.inspect("example-job").unwrap().version.as_deref() == Some("1.0.0")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the final version never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "hot reload: final version serving {:?} after the last write",
        last_write.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    let seen = client.await.unwrap().expect("no call failed");
    assert!(seen.len() > 20, "only {} calls completed", seen.len());
    for answer in &seen {
        assert!(answer == "1.0.0\n" || answer == "1.1.0\n", "{answer:?}");
    }
    assert!(
        seen.iter().any(|a| a == "1.1.0\n"),
        "the new version never answered"
    );
    println!(
        "hot reload: {} calls during 20 replacements, none failed",
        calls.load(Ordering::Relaxed)
    );
}

/// What `plugin-sdk/README.md` tells plugin authors about removal: the
/// manifest makes the plugin, so deleting only the `.wasm` is a refused
/// update and a `.wasm` left without its manifest is refused too, the
/// loaded version serving in both cases; the plugin unloads once both
/// files are gone, and a folder plugin as soon as its `plugin.toml` is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_unloads_when_its_files_go_and_half_a_removal_is_refused() {
    let built = test_plugins();
    let f = fixture(|dir, _| install(dir, &built.example, None)).await;
    let dir = f.plugin_dir();
    let serving = |reason: &str| {
        let status = f.host.inspect("example-job").expect("still listed");
        assert_eq!(status.state, PluginState::Loaded, "{status:#?}");
        let refused = status.refused.expect("refused");
        assert!(refused.contains(reason), "{refused}");
        assert!(refused.contains("version 1.0.0 keeps serving"), "{refused}");
    };

    std::fs::remove_file(dir.join("example-job.wasm")).unwrap();
    assert_eq!(f.host.rescan().await.len(), 1);
    serving("example-job.wasm");
    assert!(f.host.has_job("example-echo"));

    install(&dir, &built.example, None);
    assert!(f.host.rescan().await.is_empty());
    std::fs::remove_file(dir.join("example-job.toml")).unwrap();
    assert_eq!(f.host.rescan().await.len(), 1);
    serving("has no manifest");
    assert!(f.host.has_job("example-echo"));

    std::fs::remove_file(dir.join("example-job.wasm")).unwrap();
    f.host.rescan().await;
    assert!(f.host.inspect("example-job").is_none());
    assert!(!f.host.has_job("example-echo"));

    install_folder(&dir, &built.example);
    assert!(f.host.rescan().await.is_empty());
    assert!(f.host.has_job("example-echo"));
    std::fs::remove_file(dir.join("example-job").join("plugin.toml")).unwrap();
    f.host.rescan().await;
    assert!(f.host.inspect("example-job").is_none());
}
