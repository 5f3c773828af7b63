//! Plugin platform figures (a harness, not a test; prints, asserts nothing):
//!
//! 1. per-call cost of a trivial policy call (the built-in graph-layout's
//!    `plan-rootfs` for a 3-layer chain), including instantiation from the
//!    `InstancePre` and the host-side plan validation: p50, p99;
//! 2. cold compile vs cached load of the built-in plugins (host start);
//! 3. reload latency: plugin file written → new version serving, with the
//!    directory watcher;
//! 4. the graph driver's container-create time (`create_rootfs`, overlay
//!    with a recording mounter, so no root needed) with the plugin policy
//!    vs the native policy;
//! 5. the authz call berthd makes for every API request: the built-in
//!    `authz-default` deciding on a `docker run`-sized create request,
//!    inline and through `spawn_blocking` as berthd's middleware calls it.
//!
//! Run: `cargo bench -p berth-plugin-host --bench plugins` (release build).
//! `BERTH_BENCH_CALLS=N` changes the number of policy calls (default 20000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_graph::{
    DriverChoice, Graph, GraphConfig, ImportOptions, LayerInfo, LayoutPolicy, NativeLayoutPolicy,
    RecordingMounter, RootfsRequest,
};
use berth_plugin_host::authz_types::{AuthnMethod, Body, Request};
use berth_plugin_host::{AuthzVerdict, PluginHost, PluginHostConfig, builtin_plugin};
use sha2::{Digest, Sha256};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label:<52} n={:<6} p50={:>10.1?} p99={:>10.1?} max={:>10.1?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

fn request(layers: u32) -> RootfsRequest {
    RootfsRequest {
        container_id: "c".repeat(64),
        image_id: format!("sha256:{}", "a".repeat(64)),
        driver: "overlay".into(),
        layers: (0..layers)
            .map(|i| LayerInfo {
                id: format!("{i:064x}"),
                size: 1000,
            })
            .collect(),
        max_lower_dirs: 128,
        flattened: vec![],
    }
}

/// What `docker run --rm busybox true` sends to create its container, as
/// the authz policy sees it.
fn authz_request() -> Request {
    let body = br#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"NetworkMode":"default","AutoRemove":true,"Privileged":false}}"#;
    Request {
        method: "POST".into(),
        uri: "/v1.43/containers/create".into(),
        path: "/containers/create".into(),
        api_version: Some("1.43".into()),
        query: vec![],
        headers: vec![
            ("host".into(), "api.moby.localhost".into()),
            ("user-agent".into(), "Docker-Client/28.0.0 (linux)".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), body.len().to_string()),
        ],
        body: Body::Json(body.to_vec()),
        user: "uid:0".into(),
        authn_method: AuthnMethod::UnixPeer,
    }
}

/// The component with a custom section appended: same code, new digest
/// (component binaries may carry custom sections at the top level).
fn variant(component: &[u8], tag: u32) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"berth-bench";
    let payload = tag.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = component.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|f| f.to_str()).unwrap_or("x")
    ));
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn busybox_like_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for dir in ["bin", "etc", "tmp"] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{dir}/"), std::io::empty())
            .expect("dir");
    }
    for i in 0..20 {
        let data = vec![b'x'; 4096];
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, format!("etc/file{i}"), data.as_slice())
            .expect("file");
    }
    builder.into_inner().expect("tar")
}

fn graph_with(root: &std::path::Path, policy: Arc<dyn LayoutPolicy>) -> Graph {
    let store = berth_store::Store::open_in(root).expect("store");
    let graph = Graph::open(
        store,
        GraphConfig::new(root)
            .driver(DriverChoice::Overlay)
            .mounter(Arc::new(RecordingMounter::new(true)))
            .policy(policy),
    )
    .expect("graph");
    graph
        .import(
            busybox_like_tar().as_slice(),
            &ImportOptions {
                repo: Some("bench".into()),
                ..ImportOptions::default()
            },
        )
        .expect("import");
    graph
}

fn bench_create(label: &str, policy: Arc<dyn LayoutPolicy>, creates: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = graph_with(dir.path(), policy);
    let mut samples = Vec::with_capacity(creates);
    for i in 0..creates {
        let id = format!("{i:064x}");
        let start = Instant::now();
        graph.create_rootfs(&id, "bench").expect("create_rootfs");
        samples.push(start.elapsed());
        graph.remove_rootfs(&id).expect("remove_rootfs");
    }
    summary(label, samples);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let calls: usize = std::env::var("BERTH_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);

    // 2. Cold compile vs cached load (every built-in plugin per start).
    let data = tempfile::tempdir().expect("temp dir");
    let start = Instant::now();
    let host = runtime
        .block_on(PluginHost::start(PluginHostConfig::new(data.path())))
        .expect("host");
    let cold = start.elapsed();
    drop(host);
    let mut cached = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let host = runtime
            .block_on(PluginHost::start(PluginHostConfig::new(data.path())))
            .expect("host");
        cached.push(start.elapsed());
        drop(host);
    }
    let builtins = berth_plugin_host::builtin_names().count() as u32;
    println!("== load ({builtins} built-in plugins per host start, includes describe calls)");
    println!(
        "{:<52} {cold:>10.1?} ({:.1?} per plugin)",
        "cold start (compile + cache write)",
        cold / builtins
    );
    cached.sort();
    let cached_p50 = percentile(&cached, 0.5);
    println!(
        "{:<52} {cached_p50:>10.1?} ({:.1?} per plugin, p50 of 10)",
        "cached start (deserialize from cache)",
        cached_p50 / builtins
    );

    // 1. Trivial policy call.
    let host = runtime
        .block_on(PluginHost::start(PluginHostConfig::new(data.path())))
        .expect("host");
    let policy = host.graph_policy(Arc::new(NativeLayoutPolicy));
    let req = request(3);
    for _ in 0..500 {
        policy.plan_rootfs(&req).expect("warm-up call");
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let plan = policy.plan_rootfs(&req).expect("call");
        samples.push(start.elapsed());
        std::hint::black_box(plan);
    }
    println!("== policy calls (sync Store per call, same thread)");
    summary("graph-layout plan-rootfs, 3 layers (plugin)", samples);
    let mut native = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let plan = NativeLayoutPolicy.plan_rootfs(&req).expect("call");
        native.push(start.elapsed());
        std::hint::black_box(plan);
    }
    summary("NativeLayoutPolicy plan_rootfs, 3 layers", native);
    let deep = request(200);
    let mut samples = Vec::with_capacity(calls / 10);
    for _ in 0..calls / 10 {
        let start = Instant::now();
        std::hint::black_box(policy.plan_rootfs(&deep).expect("call"));
        samples.push(start.elapsed());
    }
    summary("graph-layout plan-rootfs, 200 layers (flattens)", samples);
    // The same from two threads at once (the graph calls concurrently).
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let policy = policy.clone();
            let req = req.clone();
            std::thread::spawn(move || {
                let mut samples = Vec::with_capacity(calls / 2);
                for _ in 0..calls / 2 {
                    let start = Instant::now();
                    std::hint::black_box(policy.plan_rootfs(&req).expect("call"));
                    samples.push(start.elapsed());
                }
                samples
            })
        })
        .collect();
    let concurrent: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    summary(
        "graph-layout plan-rootfs, 2 threads concurrently",
        concurrent,
    );

    // 5. The authz call of every API request.
    let create = authz_request();
    for _ in 0..500 {
        assert_eq!(host.authorize(&create), AuthzVerdict::Allow);
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let verdict = host.authorize(&create);
        samples.push(start.elapsed());
        std::hint::black_box(verdict);
    }
    println!("== authz (every API request)");
    summary("authz-default authorize, create request (inline)", samples);
    let samples = runtime.block_on(async {
        let mut samples = Vec::with_capacity(calls / 4);
        for _ in 0..calls / 4 {
            let (host, create) = (host.clone(), create.clone());
            let start = Instant::now();
            let verdict = tokio::task::spawn_blocking(move || host.authorize(&create))
                .await
                .expect("authorize");
            samples.push(start.elapsed());
            std::hint::black_box(verdict);
        }
        samples
    });
    summary(
        "authz-default authorize via spawn_blocking (berthd)",
        samples,
    );
    drop(host);

    // 3. Reload latency through the watcher.
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    let (manifest, component) = builtin_plugin("graph-layout").expect("built-in graph-layout");
    std::fs::write(plugins.join("graph-layout.toml"), manifest).expect("manifest");
    write_atomically(&plugins.join("graph-layout.wasm"), &variant(component, 0));
    let mut config = PluginHostConfig::new(dir.path().join("data"));
    config.plugin_dir = Some(plugins.clone());
    let host = runtime.block_on(PluginHost::start(config)).expect("host");
    let _watch = runtime.block_on(async { host.watch() }).expect("watch");
    let mut reloads = Vec::new();
    for round in 1..=20u32 {
        let bytes = variant(component, round);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let start = Instant::now();
        write_atomically(&plugins.join("graph-layout.wasm"), &bytes);
        loop {
            if host.inspect("graph-layout").and_then(|s| s.digest) == Some(digest.clone()) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "reload never happened"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        reloads.push(start.elapsed());
        // Let the watcher settle so that rounds do not merge.
        std::thread::sleep(Duration::from_millis(150));
    }
    println!(
        "== reload (file written -> new version serving; debounce {:?})",
        berth_plugin_host::DEBOUNCE
    );
    summary("graph-layout replaced (compile, validate, swap)", reloads);
    drop(host);

    // 4. Container create with the plugin policy vs the native one.
    let host = runtime
        .block_on(PluginHost::start(PluginHostConfig::new(data.path())))
        .expect("host");
    println!("== graph create_rootfs (overlay, recording mounter, includes the redb commit)");
    let creates = 300;
    bench_create(
        "create_rootfs with NativeLayoutPolicy",
        Arc::new(NativeLayoutPolicy),
        creates,
    );
    bench_create(
        "create_rootfs with the graph-layout plugin",
        Arc::new(host.graph_policy(Arc::new(NativeLayoutPolicy))),
        creates,
    );
}
