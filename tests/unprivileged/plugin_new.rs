//! `berth plugin new NAME --world W`: for every world the crate it writes
//! builds for wasm32-wasip2 offline and the plugin host loads the result.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_plugin_host::{JobIo, PluginState};
use berth_tests::cmd::{Output, run_with_timeout};
use tokio::io::AsyncReadExt;

use crate::plugins_support::fixture;

const WORLDS: [&str; 5] = [
    "job-handler",
    "graph-policy",
    "network-policy",
    "registry-auth",
    "authz",
];

fn berth_in(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(berth_tests::workspace_bin("berth"));
    command.current_dir(dir).args(args);
    run_with_timeout(&mut command, Duration::from_secs(30))
}

/// Builds the crate in `dir` as a plugin author would (`cargo build
/// --release --target wasm32-wasip2`, offline) into the target dir and with
/// the release settings `plugins_support` builds the in-tree plugins with,
/// so that wit-bindgen is compiled once for all of them; answers the
/// output directory.
fn cargo_build(dir: &Path) -> PathBuf {
    // target/<profile>/deps/<test-exe> -> target/<profile>/
    let exe = std::env::current_exe().expect("current_exe");
    let target_dir = exe
        .ancestors()
        .nth(2)
        .expect("target/<profile>")
        .join("wasm-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--offline",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The workspace's release profile (Cargo.toml) as plugins_support
        // overrides it: the generated crate is a workspace of its own.
        .env("CARGO_PROFILE_RELEASE_LTO", "thin")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    for key in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(key);
    }
    let out = run_with_timeout(&mut command, Duration::from_secs(900));
    assert_eq!(out.code(), 0, "cargo build in {}: {out:?}", dir.display());
    target_dir.join("wasm32-wasip2").join("release")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_new_writes_a_crate_that_builds_and_loads_for_every_world() {
    let work = tempfile::tempdir().expect("temp dir");
    let mut built = Vec::new();
    for world in WORLDS {
        let name = format!("new-{world}");
        // No --sdk: the client finds this checkout's plugin-sdk.
        let out = berth_in(work.path(), &["plugin", "new", &name, "--world", world]);
        assert_eq!(out.code(), 0, "{out:?}");
        let crate_dir = work.path().join(&name);
        let cargo_toml = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        let sdk_line = cargo_toml
            .lines()
            .find(|l| l.starts_with("berth-plugin-sdk"))
            .expect("the SDK dependency");
        assert!(
            sdk_line.contains("path = \"/"),
            "an absolute path: {sdk_line}"
        );
        let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
        assert!(
            readme.contains("cargo build --release --target wasm32-wasip2"),
            "{readme}"
        );
        let out_dir = cargo_build(&crate_dir);
        let wasm = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
        built.push((name, crate_dir, wasm));
    }
    let f = fixture(|plugins, _| {
        for (name, crate_dir, wasm) in &built {
            std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).expect("copy wasm");
            std::fs::copy(
                crate_dir.join(format!("{name}.toml")),
                plugins.join(format!("{name}.toml")),
            )
            .expect("copy manifest");
        }
    })
    .await;
    for (name, _, _) in &built {
        let status = f
            .host
            .inspect(name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(status.refused, None, "{name}");
        assert_eq!(status.state, PluginState::Loaded, "{name}");
    }
    let (stdout, mut out) = tokio::io::duplex(1 << 16);
    let (stderr, _err) = tokio::io::duplex(1 << 16);
    let io = JobIo {
        stdin: Box::new(std::io::Cursor::new(Vec::new())),
        stdout: Box::new(stdout),
        stderr: Box::new(stderr),
    };
    let status = f
        .host
        .run_job("new-job-handler", &["x".to_owned()], &[], io)
        .await
        .expect("the new job runs");
    let mut text = String::new();
    out.read_to_string(&mut text).await.unwrap();
    assert_eq!(
        (status, text.as_str()),
        (0, "hello from new-job-handler\nx\n")
    );
}

#[test]
fn plugin_new_refuses_an_existing_directory_a_bad_name_and_an_unknown_world() {
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(work.path().join("taken")).unwrap();
    for (args, message) in [
        (
            &["plugin", "new", "taken", "--world", "authz"][..],
            "already exists",
        ),
        (
            &["plugin", "new", "Bad_Name", "--world", "authz"][..],
            "invalid plugin name \"Bad_Name\"",
        ),
        (
            &["plugin", "new", "fine", "--world", "volume-driver"][..],
            "invalid value 'volume-driver' for '--world <WORLD>'",
        ),
        (
            &["plugin", "new", "fine", "--world", "authz", "--sdk", "/"][..],
            "not berth's plugin SDK",
        ),
    ] {
        let out = berth_in(work.path(), args);
        assert_ne!(out.code(), 0, "{args:?}: {out:?}");
        assert!(out.stderr.contains(message), "{args:?}: {out:?}");
    }
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only `taken`: {left:?}");
}
