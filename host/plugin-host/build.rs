//! Builds the built-in plugins (`plugins/graph-layout`, `plugins/image-gc`,
//! `plugins/disk-usage`, `plugins/authz-default`,
//! `plugins/registry-policy-default`, `plugins/network-policy-default`)
//! for `wasm32-wasip2` so that berthd embeds them and runs with no plugin
//! directory.
//!
//! The nested `cargo build` uses its own target directory
//! (`target/<profile>/wasm-plugins`): the outer cargo holds the lock of the
//! main one for the whole build, so sharing it would deadlock. It resolves
//! from the workspace's `Cargo.lock` and the registry cache like the outer
//! build, so it works offline once the crates are cached.
//!
//! `BERTH_PREBUILT_PLUGINS=<dir>` skips the nested build and embeds
//! `<dir>/<name>.wasm` instead (for packagers who build plugins separately).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Built-in plugins: (plugin name, package name).
const BUILTINS: &[(&str, &str)] = &[
    ("graph-layout", "berth-plugin-graph-layout"),
    ("image-gc", "berth-plugin-image-gc"),
    ("disk-usage", "berth-plugin-disk-usage"),
    ("authz-default", "berth-plugin-authz-default"),
    (
        "registry-policy-default",
        "berth-plugin-registry-policy-default",
    ),
    (
        "network-policy-default",
        "berth-plugin-network-policy-default",
    ),
];

/// Environment the outer cargo sets for build scripts that must not leak
/// into the nested build: they would change its flags, wrap rustc in
/// clippy, or point it at the outer target directory.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PKG_NAME",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "OUT_DIR",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/plugin-host sits two levels below the workspace root")
        .to_path_buf();

    println!("cargo:rerun-if-env-changed=BERTH_PREBUILT_PLUGINS");
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("plugin-sdk").display()
    );
    // The network-policy-default plugin walks moby's pools with berth-ipam.
    println!(
        "cargo:rerun-if-changed={}",
        root.join("host").join("ipam").display()
    );
    for (name, _) in BUILTINS {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("plugins").join(name).display()
        );
    }

    let wasm_dir = match env::var_os("BERTH_PREBUILT_PLUGINS") {
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&root, &out_dir),
    };

    for (name, package) in BUILTINS {
        let built = match env::var_os("BERTH_PREBUILT_PLUGINS") {
            Some(_) => wasm_dir.join(format!("{name}.wasm")),
            None => wasm_dir.join(format!("{}.wasm", package.replace('-', "_"))),
        };
        let embedded = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&built, &embedded).unwrap_or_else(|e| {
            panic!(
                "copying built-in plugin {} to {}: {e}",
                built.display(),
                embedded.display()
            )
        });
        let manifest = root.join("plugins").join(name).join("manifest.toml");
        let embedded = out_dir.join(format!("{name}.toml"));
        std::fs::copy(&manifest, &embedded).unwrap_or_else(|e| {
            panic!(
                "copying manifest {} to {}: {e}",
                manifest.display(),
                embedded.display()
            )
        });
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` for the built-in
/// plugins and returns the directory holding the `.wasm` files.
fn build_plugins(root: &Path, out_dir: &Path) -> PathBuf {
    // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out: keep the nested
    // target directory beside `build/`, stable across build-script hashes.
    let profile_dir = out_dir
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is target/<profile>/build/<pkg>/out");
    let target_dir = profile_dir.join("wasm-plugins");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package) in BUILTINS {
        command.args(["-p", package]);
    }
    for key in SCRUBBED_ENV {
        command.env_remove(key);
    }
    // Small components compile faster at load: no debug info in the wasm.
    command
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");

    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?} to build the built-in plugins: {e}"));
    if !output.status.success() {
        panic!(
            "building the built-in plugins failed ({}): {command:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    target_dir.join("wasm32-wasip2").join("release")
}
