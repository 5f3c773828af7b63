//! Support for the plugin tests: the SDK-built test plugins, plugin
//! directories and their files.
//!
//! The plugins under `plugins/` are built here with
//! `cargo build --release --target wasm32-wasip2` into
//! `target/<profile>/wasm-plugins`, the directory (and profile settings)
//! `berth-plugin-host`'s build script uses for the built-in plugins, so the
//! SDK and wit-bindgen are compiled once for both. It is not the main target
//! directory, whose lock the outer cargo may hold. The `next` variant of
//! `example-job` has a directory of its own (`wasm-plugins-next`) so that
//! concurrent test processes never see one variant's artifact under the
//! other's name. After the first build every call is a quick no-op check.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_plugin_host::{PluginEvent, PluginHost, PluginHostConfig};
use berth_tests::daemon::Daemon;

/// A built test plugin: its component and its manifest text.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: &'static str,
    pub wasm: PathBuf,
    pub manifest: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

fn profile_dir() -> PathBuf {
    // target/<profile>/deps/<test-exe> -> target/<profile>/
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(2)
        .expect("test executables live in target/<profile>/deps")
        .to_path_buf()
}

/// Builds `packages` for wasm32-wasip2 into `target/<profile>/<dir>` and
/// returns the release output directory.
fn cargo_build(dir: &str, packages: &[&str], features: &[&str]) -> PathBuf {
    let target_dir = profile_dir().join(dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    for feature in features {
        command.args(["--features", feature]);
    }
    for key in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(key);
    }
    // The same profile settings as the build script's, so that the shared
    // dependencies are not rebuilt.
    command
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    berth_tests::cmd::run_with_timeout(&mut command, Duration::from_secs(900)).ok();
    target_dir.join("wasm32-wasip2").join("release")
}

fn manifest_of(crate_dir: &str) -> String {
    let path = workspace_root()
        .join("plugins")
        .join(crate_dir)
        .join("manifest.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The test plugins, built with the SDK.
#[derive(Debug, Clone)]
pub struct TestPlugins {
    /// `example-job` 1.0.0.
    pub example: Built,
    /// `example-job` 1.1.0 (the `next` feature).
    pub example_next: Built,
    /// `misbehave`: spin, bomb, panic, ok.
    pub misbehave: Built,
    /// `misbehave-policy`: a graph policy failing on request.
    pub misbehave_policy: Built,
    /// `image-gc`, which imports graph-admin.
    pub image_gc: Built,
    /// `example-network`: a network policy.
    pub example_network: Built,
    /// `example-registry-auth`: credentials from configuration.
    pub example_registry_auth: Built,
    /// `example-authz`: denies `--privileged` and binds of `/` (WIT 1.1.0).
    pub example_authz: Built,
    /// `misbehave-authz`: an authz policy failing on request.
    pub misbehave_authz: Built,
    /// `example-registry-policy`: maps a registry to another's stored
    /// credential (WIT 1.2.0).
    pub example_registry_policy: Built,
    /// `example-graph-flatten`: two lowers whatever the image's depth.
    pub example_graph_flatten: Built,
    /// `example-network-policy`: no host port below 1024, addresses from
    /// the top of the subnet.
    pub example_network_policy: Built,
}

/// Builds (or finds up to date) every test plugin.
pub fn test_plugins() -> TestPlugins {
    let out = cargo_build(
        "wasm-plugins",
        &[
            "berth-plugin-example-job",
            "berth-plugin-misbehave",
            "berth-plugin-misbehave-policy",
            "berth-plugin-image-gc",
            "berth-plugin-example-network",
            "berth-plugin-example-registry-auth",
            "berth-plugin-example-authz",
            "berth-plugin-misbehave-authz",
            "berth-plugin-example-registry-policy",
            "berth-plugin-example-graph-flatten",
            "berth-plugin-example-network-policy",
        ],
        &[],
    );
    let next = cargo_build(
        "wasm-plugins-next",
        &["berth-plugin-example-job"],
        &["berth-plugin-example-job/next"],
    );
    let built = |name: &'static str, dir: &Path, crate_dir: &str| Built {
        name,
        wasm: dir.join(format!("berth_plugin_{}.wasm", crate_dir.replace('-', "_"))),
        manifest: manifest_of(crate_dir),
    };
    let mut example_next = built("example-job", &next, "example-job");
    example_next.manifest = example_next
        .manifest
        .replace("version = \"1.0.0\"", "version = \"1.1.0\"");
    TestPlugins {
        example: built("example-job", &out, "example-job"),
        example_next,
        misbehave: built("misbehave", &out, "misbehave"),
        misbehave_policy: built("misbehave-policy", &out, "misbehave-policy"),
        image_gc: built("image-gc", &out, "image-gc"),
        example_network: built("example-network", &out, "example-network"),
        example_registry_auth: built("example-registry-auth", &out, "example-registry-auth"),
        example_authz: built("example-authz", &out, "example-authz"),
        misbehave_authz: built("misbehave-authz", &out, "misbehave-authz"),
        example_registry_policy: built("example-registry-policy", &out, "example-registry-policy"),
        example_graph_flatten: built("example-graph-flatten", &out, "example-graph-flatten"),
        example_network_policy: built("example-network-policy", &out, "example-network-policy"),
    }
}

/// Writes `bytes` to `path` atomically (temp file + rename), as an admin's
/// deployment tool would; the temp name is one the host ignores.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("a file in a directory");
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|f| f.to_str())
            .expect("utf-8 name")
    ));
    std::fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("renaming to {}: {e}", path.display()));
}

/// Installs `plugin` as `NAME.wasm` + `NAME.toml` in `dir`, optionally with
/// a different manifest.
pub fn install(dir: &Path, plugin: &Built, manifest: Option<&str>) {
    let wasm = std::fs::read(&plugin.wasm)
        .unwrap_or_else(|e| panic!("reading {}: {e}", plugin.wasm.display()));
    write_atomically(&dir.join(format!("{}.wasm", plugin.name)), &wasm);
    write_atomically(
        &dir.join(format!("{}.toml", plugin.name)),
        manifest.unwrap_or(&plugin.manifest).as_bytes(),
    );
}

/// Installs `plugin` as a folder `NAME/` with `plugin.toml` and `NAME.wasm`.
pub fn install_folder(dir: &Path, plugin: &Built) {
    let folder = dir.join(plugin.name);
    std::fs::create_dir_all(&folder).expect("plugin folder");
    let wasm = std::fs::read(&plugin.wasm).expect("built plugin");
    write_atomically(&folder.join(format!("{}.wasm", plugin.name)), &wasm);
    write_atomically(&folder.join("plugin.toml"), plugin.manifest.as_bytes());
}

/// A host with the built-in plugins, a plugin directory and a grants file
/// under one temp dir.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub host: PluginHost,
}

impl Fixture {
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    pub fn grants(&self) -> PathBuf {
        self.dir.path().join("plugin-grants.toml")
    }
}

pub async fn fixture_with(
    prepare: impl FnOnce(&Path, &Path),
    tweak: impl FnOnce(&mut PluginHostConfig),
) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    let grants = dir.path().join("plugin-grants.toml");
    prepare(&plugins, &grants);
    let mut config = PluginHostConfig::new(dir.path().join("data"));
    config.plugin_dir = Some(plugins);
    config.grants_file = Some(grants);
    tweak(&mut config);
    let host = PluginHost::start(config).await.expect("plugin host starts");
    Fixture { dir, host }
}

pub async fn fixture(prepare: impl FnOnce(&Path, &Path)) -> Fixture {
    fixture_with(prepare, |_| {}).await
}

/// Events received so far.
pub fn drain(events: &mut tokio::sync::broadcast::Receiver<PluginEvent>) -> Vec<PluginEvent> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

/// A plugin directory and grants file for one daemon, outside its roots so
/// that they can be filled before it starts.
pub struct PluginDir {
    dir: tempfile::TempDir,
}

impl Default for PluginDir {
    fn default() -> Self {
        PluginDir::new()
    }
}

impl PluginDir {
    pub fn new() -> PluginDir {
        let dir = tempfile::Builder::new()
            .prefix("berth-plugins-")
            .tempdir()
            .expect("plugin temp dir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugin dir");
        PluginDir { dir }
    }

    pub fn plugins(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    pub fn grants(&self) -> PathBuf {
        self.dir.path().join("plugin-grants.toml")
    }

    pub fn start(&self) -> Daemon {
        self.start_with(&[])
    }

    /// Starts a daemon on this directory with `extra` berthd flags.
    pub fn start_with(&self, extra: &[&str]) -> Daemon {
        let plugins = self.plugins();
        let grants = self.grants();
        let mut args = vec![
            "--plugin-dir",
            plugins.to_str().expect("utf-8"),
            "--plugin-grants",
            grants.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        Daemon::start_with(&args)
    }
}
