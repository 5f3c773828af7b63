//! `berth plugin new NAME --world W`: a buildable plugin crate from the
//! templates in `plugin-sdk/templates/`, embedded in the client.
//!
//! It writes `NAME/Cargo.toml` (the SDK as an absolute path dependency),
//! `NAME/src/lib.rs` (the world's trait implemented, registered),
//! `NAME/NAME.toml` (the manifest) and `NAME/README.md` (how to build and
//! install). It works offline and needs no daemon.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The worlds and the plugin name rule are the plugin host's, defined once
/// in the model, so `plugin new` never writes a plugin berthd would refuse.
pub use berth_model::plugin::{World, is_valid_name};

/// The WIT version the SDK's bindings of `world` target: `authz` was added
/// in 1.1.0, `registry-policy` in 1.2.0, `network-policy` changed in 1.3.0
/// (the template uses the newest), the others are 1.0.0 (the SDK's
/// `WIT_VERSION`, `authz::WIT_VERSION`, `registry_policy::WIT_VERSION` and
/// `network::v1_3::WIT_VERSION`).
fn wit(world: World) -> &'static str {
    match world {
        World::Authz => "1.1.0",
        World::RegistryPolicy => "1.2.0",
        World::NetworkPolicy => "1.3.0",
        _ => "1.0.0",
    }
}

fn template(world: World) -> &'static str {
    match world {
        World::JobHandler => include_str!("../../../plugin-sdk/templates/job-handler.rs"),
        World::GraphPolicy => include_str!("../../../plugin-sdk/templates/graph-policy.rs"),
        World::NetworkPolicy => include_str!("../../../plugin-sdk/templates/network-policy.rs"),
        World::RegistryAuth => include_str!("../../../plugin-sdk/templates/registry-auth.rs"),
        World::Authz => include_str!("../../../plugin-sdk/templates/authz.rs"),
        World::RegistryPolicy => {
            include_str!("../../../plugin-sdk/templates/registry-policy.rs")
        }
    }
}

const CARGO_TOML: &str = include_str!("../../../plugin-sdk/templates/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("../../../plugin-sdk/templates/manifest.toml.tmpl");
const README: &str = include_str!("../../../plugin-sdk/templates/README.md.tmpl");

/// The Cargo package name for plugin `name`: Cargo allows no `.` and no
/// leading digit, and no Rust keyword.
fn crate_name(name: &str) -> String {
    let name = name.replace('.', "_");
    let keyword = matches!(
        name.as_str(),
        "as" | "async"
            | "await"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "test"
            | "std"
            | "core"
            | "alloc"
    );
    if keyword || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("berth-plugin-{name}")
    } else {
        name
    }
}

/// Whether `dir` holds berth's plugin SDK.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.contains("name = \"berth-plugin-sdk\""))
}

/// The SDK to depend on: `--sdk`, else the `plugin-sdk/` of the checkout
/// this client was built in (found above the binary, then where it was
/// compiled), as an absolute path.
fn find_sdk(sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(sdk) = sdk {
        if !is_sdk(sdk) {
            bail!(
                "--sdk {}: not berth's plugin SDK (no Cargo.toml of berth-plugin-sdk)",
                sdk.display()
            );
        }
        return std::fs::canonicalize(sdk).with_context(|| format!("--sdk {}", sdk.display()));
    }
    let exe = std::env::current_exe().ok();
    let near_binary = exe
        .iter()
        .flat_map(|exe| exe.ancestors())
        .map(|dir| dir.join("plugin-sdk"));
    let compiled_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk");
    near_binary
        .chain(std::iter::once(compiled_in))
        .find(|dir| is_sdk(dir))
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .context(
            "cannot find berth's plugin SDK (plugin-sdk/ of a berth checkout): pass --sdk PATH",
        )
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// Writes the crate of plugin `name` for `world` into `parent/name`.
pub fn create(parent: &Path, name: &str, world: World, sdk: Option<&Path>) -> anyhow::Result<()> {
    if !is_valid_name(name) {
        bail!(
            "invalid plugin name {name:?}: a plugin name matches [a-z0-9][a-z0-9._-]* (at most 64 characters)"
        );
    }
    let dir = parent.join(name);
    if dir.symlink_metadata().is_ok() {
        // cargo new's wording.
        bail!("destination `{}` already exists", dir.display());
    }
    let sdk = find_sdk(sdk)?;
    let sdk = sdk.to_str().context("the plugin SDK's path is not UTF-8")?;
    // A TOML basic string: JSON's string escapes are a subset of TOML's.
    let sdk = serde_json::to_string(sdk)?;
    let crate_name = crate_name(name);
    let wasm = format!("{}.wasm", crate_name.replace('-', "_"));
    let summary = format!("{name}: a new {} plugin", world.as_str());
    let values = [
        ("name", name),
        ("crate", crate_name.as_str()),
        ("sdk", sdk.as_str()),
        ("world", world.as_str()),
        ("wit", wit(world)),
        ("wasm", wasm.as_str()),
        ("summary", summary.as_str()),
    ];
    // create_dir, not create_dir_all: a directory made meanwhile is refused.
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let written = write_files(&dir, name, world, &values);
    if written.is_err() {
        // Leave nothing half-written behind.
        let _ = std::fs::remove_dir_all(&dir);
    }
    written
}

fn write_files(
    dir: &Path,
    name: &str,
    world: World,
    values: &[(&str, &str)],
) -> anyhow::Result<()> {
    let files = [
        (PathBuf::from("Cargo.toml"), CARGO_TOML),
        (PathBuf::from("src/lib.rs"), template(world)),
        (PathBuf::from(format!("{name}.toml")), MANIFEST),
        (PathBuf::from("README.md"), README),
    ];
    std::fs::create_dir(dir.join("src"))
        .with_context(|| format!("cannot create {}/src", dir.display()))?;
    for (file, template) in files {
        let path = dir.join(file);
        std::fs::write(&path, fill(template, values))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_plugin_hosts_rule() {
        for good in ["a", "hello", "my-plugin", "v2.policy_x", "0day"] {
            assert!(is_valid_name(good), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "Hello", "-x", ".x", "a/b", "a b", "ünï", long.as_str()] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn crate_names_are_valid_cargo_names() {
        assert_eq!(crate_name("hello"), "hello");
        assert_eq!(crate_name("v2.policy"), "v2_policy");
        assert_eq!(crate_name("0day"), "berth-plugin-0day");
        assert_eq!(crate_name("fn"), "berth-plugin-fn");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk");
        for world in [
            World::JobHandler,
            World::GraphPolicy,
            World::NetworkPolicy,
            World::RegistryAuth,
            World::Authz,
            World::RegistryPolicy,
        ] {
            let name = format!("p-{}", world.as_str());
            create(dir.path(), &name, world, Some(&sdk)).unwrap();
            for file in [
                "Cargo.toml",
                "src/lib.rs",
                &format!("{name}.toml"),
                "README.md",
            ] {
                let text = std::fs::read_to_string(dir.path().join(&name).join(file)).unwrap();
                assert!(!text.contains("{{"), "{file}: {text}");
            }
            let manifest =
                std::fs::read_to_string(dir.path().join(&name).join(format!("{name}.toml")))
                    .unwrap();
            assert!(manifest.contains(&format!("world = \"{}\"", world.as_str())));
        }
    }

    #[test]
    fn refuses_an_existing_directory_a_bad_name_and_a_bad_sdk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        let err = create(dir.path(), "taken", World::Authz, None).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = create(dir.path(), "Bad", World::Authz, None).unwrap_err();
        assert!(err.to_string().contains("invalid plugin name"), "{err}");
        let err = create(dir.path(), "ok", World::Authz, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("not berth's plugin SDK"), "{err}");
        assert!(!dir.path().join("ok").exists());
        assert!(!dir.path().join("Bad").exists());
    }
}
