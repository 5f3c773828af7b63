//! Unit tests against a real `PluginHost` running the built-in plugins
//! (embedded by build.rs): no root, no plugin directory.

use std::sync::{Arc, Mutex};

use crate::authz_types::{AuthnMethod, Body, Request};
use crate::policy::graph_types::*;
use crate::{
    AuthzVerdict, CompileOrigin, JobIo, PluginHost, PluginHostConfig, PluginSource, PluginState,
    World,
};
use berth_model::graph::{DiskUsage, GcReport, GraphAdmin, GraphAdminError, LayerUsage};

fn id(n: u32) -> String {
    format!("{n:064x}")
}

fn layers(n: u32) -> Vec<LayerInfo> {
    (0..n)
        .map(|i| LayerInfo {
            id: id(i),
            size: 10,
        })
        .collect()
}

async fn host(data_root: &std::path::Path) -> PluginHost {
    PluginHost::start(PluginHostConfig::new(data_root))
        .await
        .unwrap()
}

#[tokio::test]
async fn builtins_load_and_describe_themselves() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let list = host.list();
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "authz-default",
            "disk-usage",
            "graph-layout",
            "image-gc",
            "network-policy-default",
            "registry-policy-default"
        ]
    );
    for status in &list {
        assert_eq!(status.state, PluginState::Loaded, "{status:?}");
        assert_eq!(status.source, Some(PluginSource::Builtin));
        // The 1.0.0 plugins load unchanged beside the 1.1.0 authz world,
        // the 1.2.0 registry-policy world and the 1.3.0 network policy,
        // their imports (`host@1.0.0`) served by the linker's 1.1.0
        // definitions through wasmtime's semver matching.
        let wit = match status.name.as_str() {
            "authz-default" => "1.1.0",
            "registry-policy-default" => "1.2.0",
            "network-policy-default" => "1.3.0",
            _ => "1.0.0",
        };
        assert_eq!(status.wit.as_deref(), Some(wit), "{}", status.name);
        assert!(status.active);
    }
    assert_eq!(
        host.inspect("authz-default").unwrap().world,
        Some(World::Authz)
    );
    let graph = host.inspect("graph-layout").unwrap();
    assert_eq!(graph.world, Some(World::GraphPolicy));
    assert!(graph.capabilities.is_empty());
    let jobs: Vec<String> = host.jobs().into_iter().map(|j| j.job.name).collect();
    assert_eq!(jobs, ["disk-usage", "image-gc"]);
}

#[tokio::test]
async fn a_restart_loads_compiled_components_from_the_cache() {
    let data = tempfile::tempdir().unwrap();
    let first = host(data.path()).await;
    let origin = first.inspect("graph-layout").unwrap().compile;
    drop(first);
    // The first start may find the cache of nothing: it compiles.
    assert_eq!(origin, Some(CompileOrigin::Compiled));
    let second = host(data.path()).await;
    for status in second.list() {
        assert_eq!(
            status.compile,
            Some(CompileOrigin::Cached),
            "{}",
            status.name
        );
    }
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_recompiled() {
    let data = tempfile::tempdir().unwrap();
    drop(host(data.path()).await);
    let cache = data.path().join("plugins/cache");
    for entry in std::fs::read_dir(&cache).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let host = host(data.path()).await;
    for status in host.list() {
        assert_eq!(
            status.compile,
            Some(CompileOrigin::Compiled),
            "{}",
            status.name
        );
    }
}

#[tokio::test]
async fn builtin_graph_policy_plans_and_host_validates() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let policy = host.graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy));
    assert_eq!(
        policy.active().as_deref(),
        Some("graph-layout 1.0.0 (built-in plugin)")
    );
    let request = RootfsRequest {
        container_id: "c".repeat(64),
        image_id: format!("sha256:{}", "a".repeat(64)),
        driver: "overlay".into(),
        layers: layers(10),
        max_lower_dirs: 4,
        flattened: vec![],
    };
    // Run on a blocking thread, as the graph driver does.
    let plan = tokio::task::spawn_blocking({
        let policy = policy.clone();
        let request = request.clone();
        move || policy.plan_rootfs_wit(&request, |_| Ok(()))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(plan.lowers.len(), 4);
    assert_eq!(plan.lowers[0].layers, (0..7).map(id).collect::<Vec<_>>());
    assert_eq!(plan.lowers[3].layers, vec![id(9)]);

    // A validator rejecting the plan turns it into the plugin's failure.
    let err = policy
        .plan_rootfs_wit(&request, |_| {
            Err(berth_model::graph::policy::PlanError::EmptyLower)
        })
        .unwrap_err();
    assert_eq!(err.call_failure(), Some(crate::CallFailure::InvalidResult));
    let text = err.to_string();
    assert!(text.contains("graph-layout 1.0.0"), "{text}");
    assert!(
        text.contains("invalid plan: a lower directory lists no layers"),
        "{text}"
    );

    // A request the policy cannot satisfy is its refusal, not a failure.
    let impossible = RootfsRequest {
        max_lower_dirs: 0,
        ..request
    };
    let err = policy.plan_rootfs_wit(&impossible, |_| Ok(())).unwrap_err();
    assert_eq!(err.call_failure(), Some(crate::CallFailure::Returned));
    assert_eq!(
        host.inspect("graph-layout").unwrap().state,
        PluginState::Loaded
    );
}

#[tokio::test]
async fn disabling_the_builtin_policy_leaves_no_graph_policy() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    host.set_enabled("graph-layout", false).await.unwrap();
    assert_eq!(
        host.graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy))
            .active(),
        None
    );
    let status = host.inspect("graph-layout").unwrap();
    assert_eq!(status.state, PluginState::Disabled);
    assert!(!status.active);
    host.set_enabled("graph-layout", true).await.unwrap();
    assert!(
        host.graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy))
            .active()
            .is_some()
    );
    assert!(host.set_enabled("nope", true).await.is_err());
}

/// Records graph-admin calls and answers with fixed data.
#[derive(Default)]
struct FakeGraph {
    gc_calls: Mutex<Vec<bool>>,
}

impl GraphAdmin for FakeGraph {
    fn disk_usage(&self) -> Result<DiskUsage, GraphAdminError> {
        let layer = |n, size, images| LayerUsage {
            id: id(n),
            kind: "layer".into(),
            size,
            images,
            containers: 0,
            last_used: 0,
        };
        Ok(DiskUsage {
            driver: "vfs".into(),
            layers: vec![layer(1, 2_000_000, 1), layer(2, 500, 0)],
            images: vec![],
            layers_size: 2_000_500,
            containers: vec![],
        })
    }

    fn gc(&self, dry_run: bool) -> Result<GcReport, GraphAdminError> {
        self.gc_calls.lock().unwrap().push(dry_run);
        Ok(GcReport {
            policy: "fake".into(),
            removed: vec![id(2)],
            reclaimed: 500,
            dry_run,
        })
    }
}

async fn run(host: &PluginHost, job: &str, args: &[&str]) -> (i32, String, String) {
    let (stdout, mut out_reader) = tokio::io::duplex(1 << 20);
    let (stderr, mut err_reader) = tokio::io::duplex(1 << 20);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let io = JobIo {
        stdin: Box::new(tokio::io::empty()),
        stdout: Box::new(stdout),
        stderr: Box::new(stderr),
    };
    let status = host.run_job(job, &args, &[], io).await.unwrap();
    let mut out = String::new();
    let mut err = String::new();
    use tokio::io::AsyncReadExt;
    out_reader.read_to_string(&mut out).await.unwrap();
    err_reader.read_to_string(&mut err).await.unwrap();
    (status, out, err)
}

#[tokio::test]
async fn builtin_jobs_use_graph_admin() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;

    // Before the daemon installs graph-admin, the jobs fail cleanly.
    let (status, _, err) = run(&host, "disk-usage", &[]).await;
    assert_eq!(status, 1);
    assert!(err.contains("graph-admin is not available"), "{err}");

    let graph = Arc::new(FakeGraph::default());
    host.set_graph_admin(graph.clone());
    let (status, out, _) = run(&host, "image-gc", &["--dry-run"]).await;
    assert_eq!(status, 0);
    assert!(out.contains(&format!("would remove {}", id(2))), "{out}");
    assert!(out.contains("would remove 1 layers, 500 bytes"), "{out}");
    let (status, out, _) = run(&host, "image-gc", &[]).await;
    assert_eq!(status, 0);
    assert!(out.contains(&format!("removed {}", id(2))), "{out}");
    assert_eq!(*graph.gc_calls.lock().unwrap(), [true, false]);

    let (status, out, _) = run(&host, "disk-usage", &[]).await;
    assert_eq!(status, 0);
    assert!(out.contains("Layers"), "{out}");
    assert!(out.contains("2.0MB"), "{out}");
    let (status, out, _) = run(&host, "disk-usage", &["--json"]).await;
    assert_eq!(status, 0);
    assert!(out.contains("\"LayersSize\":2000500"), "{out}");

    let (status, _, err) = run(&host, "image-gc", &["--bogus"]).await;
    assert_eq!(status, 2);
    assert!(err.contains("unknown argument"), "{err}");

    let err = host
        .run_job("no-such-job", &[], &[], JobIo::null())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no job named"), "{err}");
    assert_eq!(host.inspect("image-gc").unwrap().calls, 3);
}

/// Requests covering short and deep chains, every limit around the chain
/// length, an impossible limit, existing flattened caches and new layers.
fn graph_inputs() -> (
    Vec<berth_graph::RootfsRequest>,
    Vec<berth_graph::ImportRequest>,
    Vec<berth_graph::GcRequest>,
) {
    let chain = |n: u32| -> Vec<berth_graph::LayerInfo> {
        (0..n)
            .map(|i| berth_graph::LayerInfo {
                id: id(i),
                size: u64::from(i) * 100,
            })
            .collect()
    };
    let flattened = vec![berth_graph::FlattenedInfo {
        id: id(900),
        layers: vec![id(0), id(1)],
        size: 100,
    }];
    let mut rootfs = Vec::new();
    let mut import = Vec::new();
    for n in [0, 1, 2, 3, 7, 40] {
        for max in [0, 1, 2, 3, 6, 40, 128] {
            for driver in ["overlay", "vfs"] {
                rootfs.push(berth_graph::RootfsRequest {
                    container_id: "c".repeat(64),
                    image_id: format!("sha256:{}", "a".repeat(64)),
                    driver: driver.into(),
                    layers: chain(n),
                    max_lower_dirs: max,
                    flattened: if n > 2 { flattened.clone() } else { vec![] },
                });
                import.push(berth_graph::ImportRequest {
                    image_id: format!("sha256:{}", "b".repeat(64)),
                    driver: driver.into(),
                    layers: chain(n),
                    new_layers: (0..n).filter(|i| i % 2 == 0).map(id).collect(),
                    max_lower_dirs: max,
                    flattened: vec![],
                });
            }
        }
    }
    let gc_layer =
        |i: u32, kind: &str, images: u32, containers: u32, last_used: i64| berth_graph::GcLayer {
            id: id(i),
            kind: kind.into(),
            size: u64::from(i),
            images,
            containers,
            last_used,
        };
    let gc = vec![
        berth_graph::GcRequest {
            now: 1_000,
            layers: vec![],
        },
        berth_graph::GcRequest {
            now: 1_000,
            layers: vec![
                gc_layer(5, "layer", 0, 0, 990),
                gc_layer(1, "layer", 1, 0, 10),
                gc_layer(2, "flattened", 0, 0, 2_000),
                gc_layer(3, "layer", 0, 2, 0),
                gc_layer(4, "flattened", 0, 0, 0),
                gc_layer(0, "layer", 0, 0, 500),
            ],
        },
    ];
    (rootfs, import, gc)
}

#[tokio::test]
async fn graph_layout_plugin_reproduces_the_native_policy() {
    use berth_graph::LayoutPolicy;
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let plugin = host.graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy));
    let native = berth_graph::NativeLayoutPolicy;
    let (rootfs, import, gc) = graph_inputs();
    tokio::task::spawn_blocking(move || {
        for request in &rootfs {
            let ours = plugin.plan_rootfs(request).map_err(|_| ());
            let theirs = native.plan_rootfs(request).map_err(|_| ());
            assert_eq!(ours, theirs, "plan_rootfs for {request:?}");
        }
        for request in &import {
            let ours = plugin.plan_import(request).map_err(|_| ());
            let theirs = native.plan_import(request).map_err(|_| ());
            assert_eq!(ours, theirs, "plan_import for {request:?}");
        }
        for request in &gc {
            assert_eq!(
                plugin.plan_gc(request).unwrap(),
                native.plan_gc(request).unwrap(),
                "plan_gc for {request:?}"
            );
        }
        assert_eq!(
            plugin.name(),
            "graph-layout 1.0.0 (built-in plugin)".to_string()
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn without_an_enabled_graph_policy_the_native_one_decides() {
    use berth_graph::LayoutPolicy;
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    host.set_enabled("graph-layout", false).await.unwrap();
    let handle = host.graph_policy(std::sync::Arc::new(berth_graph::NativeLayoutPolicy));
    assert_eq!(handle.name(), "native");
    let (rootfs, _, _) = graph_inputs();
    let plan = tokio::task::spawn_blocking(move || handle.plan_rootfs(&rootfs[30]))
        .await
        .unwrap();
    assert!(plan.is_ok(), "{plan:?}");
}

#[tokio::test]
async fn disabled_plugins_stay_disabled_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let first = host(data.path()).await;
    first.set_enabled("disk-usage", false).await.unwrap();
    drop(first);
    let second = host(data.path()).await;
    assert_eq!(
        second.inspect("disk-usage").unwrap().state,
        PluginState::Disabled
    );
    assert!(!second.has_job("disk-usage"));
    second.set_enabled("disk-usage", true).await.unwrap();
    drop(second);
    let third = host(data.path()).await;
    assert_eq!(
        third.inspect("disk-usage").unwrap().state,
        PluginState::Loaded
    );
}

#[tokio::test]
async fn unused_cache_entries_are_pruned_at_start() {
    let data = tempfile::tempdir().unwrap();
    drop(host(data.path()).await);
    let cache = data.path().join("plugins/cache");
    let stale = cache.join(format!("{}-0000000000000000.cwasm", "f".repeat(64)));
    std::fs::write(&stale, b"old").unwrap();
    let unrelated = cache.join("README");
    std::fs::write(&unrelated, b"keep").unwrap();
    let host = host(data.path()).await;
    assert!(!stale.exists());
    assert!(unrelated.exists());
    // One entry per built-in plugin, and the unrelated file.
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        crate::builtin_names().count() + 1
    );
    drop(host);
}

fn request(method: &str, path: &str) -> Request {
    Request {
        method: method.into(),
        uri: format!("/v1.43{path}"),
        path: path.into(),
        api_version: Some("1.43".into()),
        query: vec![],
        headers: vec![("host".into(), "berth".into())],
        body: Body::Empty,
        user: "uid:0".into(),
        authn_method: AuthnMethod::UnixPeer,
    }
}

#[tokio::test]
async fn the_builtin_authz_default_allows_every_request() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    assert_eq!(
        host.authz_policies(),
        ["authz-default 1.0.0 (built-in plugin)"]
    );
    let host2 = host.clone();
    let verdicts = tokio::task::spawn_blocking(move || {
        let mut create = request("POST", "/containers/create");
        create.body = Body::Json(br#"{"HostConfig":{"Privileged":true}}"#.to_vec());
        [
            host2.authorize(&request("GET", "/_ping")),
            host2.authorize(&create),
        ]
    })
    .await
    .unwrap();
    assert_eq!(verdicts, [AuthzVerdict::Allow, AuthzVerdict::Allow]);
    assert_eq!(host.inspect("authz-default").unwrap().calls, 2);
}

#[tokio::test]
async fn the_builtin_authz_default_cannot_be_disabled() {
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    let err = host.set_enabled("authz-default", false).await.unwrap_err();
    assert!(err.to_string().contains("cannot be disabled"), "{err}");
    assert_eq!(
        host.inspect("authz-default").unwrap().state,
        PluginState::Loaded
    );
}

#[tokio::test]
async fn named_authz_plugins_that_cannot_decide_deny_every_request() {
    let data = tempfile::tempdir().unwrap();
    let mut config = PluginHostConfig::new(data.path());
    config.authorization_plugins = vec!["authz-default".into(), "nope".into()];
    let host = PluginHost::start(config).await.unwrap();
    let verdict = host.authorize(&request("GET", "/_ping"));
    let AuthzVerdict::Fail { plugin, reason } = &verdict else {
        panic!("{verdict:?}");
    };
    assert_eq!(plugin, "nope");
    assert!(
        reason.contains("authorization plugin nope is not loaded"),
        "{reason}"
    );
    assert_eq!(
        verdict.message().unwrap(),
        format!("plugin nope failed with error: {reason}")
    );
    // The allowing plugin before it was asked, and still it denied.
    assert_eq!(host.inspect("authz-default").unwrap().calls, 1);

    let data = tempfile::tempdir().unwrap();
    let mut config = PluginHostConfig::new(data.path());
    config.authorization_plugins = vec!["graph-layout".into()];
    let host = PluginHost::start(config).await.unwrap();
    let verdict = host.authorize(&request("GET", "/_ping"));
    assert!(
        verdict
            .message()
            .unwrap()
            .contains("graph-policy plugin, not an authz plugin"),
        "{verdict:?}"
    );
    assert_eq!(
        host.authz_policies(),
        [
            "graph-layout (unavailable: plugin graph-layout is a graph-policy plugin, not an authz plugin)"
        ]
    );
    // Not the chain: the built-in default is loaded but not active.
    assert!(!host.inspect("authz-default").unwrap().active);
}

/// A host without built-ins whose plugin directory holds a copy of the
/// built-in `authz-default` plugin (no capabilities to grant).
async fn host_with_a_directory_plugin(data: &std::path::Path) -> (PluginHost, std::path::PathBuf) {
    let dir = data.join("plugins.d");
    std::fs::create_dir(&dir).unwrap();
    let (manifest, component) = crate::builtin_plugin("authz-default").unwrap();
    std::fs::write(dir.join("authz-default.toml"), manifest).unwrap();
    std::fs::write(dir.join("authz-default.wasm"), component).unwrap();
    let mut config = PluginHostConfig::new(data);
    config.builtins = false;
    config.plugin_dir = Some(dir.clone());
    let host = PluginHost::start(config).await.unwrap();
    assert_eq!(
        host.inspect("authz-default").unwrap().state,
        PluginState::Loaded
    );
    (host, dir)
}

#[tokio::test]
async fn a_plugin_directory_that_cannot_be_read_keeps_the_loaded_plugins() {
    let data = tempfile::tempdir().unwrap();
    let (host, dir) = host_with_a_directory_plugin(data.path()).await;
    let (_, mut events) = host.subscribe_with_history();
    // readdir(2) of a regular file fails (ENOTDIR): an I/O error that root
    // cannot bypass, unlike a chmod 000.
    std::fs::rename(&dir, data.path().join("moved")).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let errors = host.rescan().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].to_string().contains("plugins.d"), "{}", errors[0]);
    assert_eq!(
        host.inspect("authz-default").unwrap().state,
        PluginState::Loaded
    );
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind, crate::PluginEventKind::Refuse);
    assert!(event.message.contains("keep serving"), "{}", event.message);
}

/// A scan that panics (installed after the first scan loaded the directory).
fn panicking_scan(
    _: &std::path::Path,
    _: Option<&std::path::Path>,
) -> Result<Vec<crate::host::Candidate>, crate::PluginError> {
    panic!("injected scan panic")
}

#[tokio::test]
async fn a_scan_that_panics_keeps_the_loaded_plugins() {
    let data = tempfile::tempdir().unwrap();
    let (host, _dir) = host_with_a_directory_plugin(data.path()).await;
    host.set_scanner(panicking_scan);
    let (_, mut events) = host.subscribe_with_history();
    let errors = host.rescan().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().contains("injected scan panic"),
        "{}",
        errors[0]
    );
    assert_eq!(
        host.inspect("authz-default").unwrap().state,
        PluginState::Loaded
    );
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind, crate::PluginEventKind::Refuse);
}

#[tokio::test]
async fn the_builtin_registry_policy_chooses_without_seeing_secrets() {
    use crate::registry_policy_types::{AccessRequest, Choice, CredentialRef, CredentialSource};
    let data = tempfile::tempdir().unwrap();
    let host = host(data.path()).await;
    assert_eq!(
        host.inspect("registry-policy-default").unwrap().world,
        Some(World::RegistryPolicy)
    );
    let request = AccessRequest {
        registry: "reg.example:5000".into(),
        repository: "team/app".into(),
        actions: vec!["pull".into()],
        origin: "pull".into(),
    };
    let held = |source, registry: &str| CredentialRef {
        source,
        registry: registry.into(),
        username: "u".into(),
    };
    let choose = |refs: Vec<CredentialRef>| {
        let host = host.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            host.choose_registry_credential(&request, &refs)
                .expect("the built-in serves")
                .expect("it answers")
        })
    };
    // Nothing held: anonymous.
    assert_eq!(choose(vec![]).await.unwrap(), Choice::Anonymous);
    // The admin's credential for another registry is not presented.
    let other = held(CredentialSource::AdminConfig, "other.example");
    assert_eq!(
        choose(vec![other.clone()]).await.unwrap(),
        Choice::Anonymous
    );
    // The admin's for this registry is.
    let mine = held(CredentialSource::AdminConfig, "reg.example:5000");
    assert_eq!(
        choose(vec![other.clone(), mine.clone()]).await.unwrap(),
        Choice::UseHeld(1)
    );
    // The client's own goes first.
    let client = held(CredentialSource::XRegistryAuth, "reg.example:5000");
    assert_eq!(
        choose(vec![other, mine, client]).await.unwrap(),
        Choice::UseHeld(2)
    );
}

mod network;
