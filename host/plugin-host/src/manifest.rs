//! Plugin manifests: `NAME.toml` beside `NAME.wasm`, or `NAME/plugin.toml`.
//!
//! ```toml
//! name = "example-job"          # must match the file (or folder) name
//! version = "1.0.0"             # the plugin's own semver version
//! world = "job-handler"         # job-handler | graph-policy | network-policy | registry-auth | authz | registry-policy
//! wit = "1.0.0"                 # the berth:plugin WIT version it was built against (authz: 1.1.0 or newer, registry-policy: 1.2.0 or newer)
//! summary = "example jobs"      # optional
//! component = "example-job.wasm"  # optional, relative to the manifest
//! capabilities = ["scratch-dir"]  # optional: scratch-dir, graph-admin (job handlers only)
//!
//! [limits]                      # optional, capped by the host's maxima
//! memory-mib = 32
//! timeout-ms = 10000
//! table-elements = 20000
//!
//! [config]                      # optional string/number/bool values, read with host.config
//! greeting = "hello"
//! ```
//!
//! Parsing validates everything that can be checked without the component;
//! the rest ([`crate::wit`] compatibility, capability grants) is checked at
//! load against the host's configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::PluginError;

/// The worlds and the name rule are the model's, shared with the client's
/// `berth plugin new`.
pub use berth_model::plugin::{UnknownName, World, is_valid_name};

/// Something a plugin may be granted beyond its world's imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// A private directory under the data root, preopened as `/scratch`.
    ScratchDir,
    /// The `graph-admin` interface: disk usage and garbage collection.
    GraphAdmin,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 2] = [Capability::ScratchDir, Capability::GraphAdmin];

    /// The capability's name in manifests and grants.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ScratchDir => "scratch-dir",
            Capability::GraphAdmin => "graph-admin",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        UnknownName::find("capability", s, Capability::ALL, Capability::as_str)
    }
}

/// Limits a manifest asks for; `None` takes the host's default for the world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedLimits {
    /// Linear memory per call, in bytes.
    pub memory: Option<u64>,
    /// Deadline per call.
    pub timeout: Option<Duration>,
    /// Elements per table.
    pub table_elements: Option<u32>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The plugin's name: `[a-z0-9][a-z0-9._-]*`, at most 64 bytes.
    pub name: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// The world it implements.
    pub world: World,
    /// The `berth:plugin` WIT version it was built against.
    pub wit: semver::Version,
    /// One line for listings.
    pub summary: String,
    /// The component file, relative to the manifest's directory.
    pub component: PathBuf,
    /// Capabilities it asks for.
    pub capabilities: BTreeSet<Capability>,
    /// Limits it asks for.
    pub limits: RequestedLimits,
    /// Its configuration values.
    pub config: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    name: String,
    version: String,
    world: String,
    wit: String,
    #[serde(default)]
    summary: String,
    component: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    memory_mib: Option<u64>,
    timeout_ms: Option<u64>,
    table_elements: Option<u32>,
}

/// A `[config]` value of a type plugins cannot read (a table, an array, a
/// datetime).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config value {key:?} is a {kind}; only strings, numbers and booleans are allowed")]
pub struct ConfigValueError {
    /// The key.
    pub key: String,
    /// The TOML type it has.
    pub kind: &'static str,
}

/// Converts a `[config]` value to the string the plugin reads.
pub(crate) fn config_value(key: &str, value: &toml::Value) -> Result<String, ConfigValueError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(ConfigValueError {
            key: key.to_owned(),
            kind: other.type_str(),
        }),
    }
}

impl Manifest {
    /// Parses and validates manifest `text`, read from `path` (used in errors
    /// only).
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, PluginError> {
        let invalid = |reason: String| PluginError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;

        if !is_valid_name(&raw.name) {
            return Err(invalid(format!(
                "name {:?} must match [a-z0-9][a-z0-9._-]* and be at most 64 bytes",
                raw.name
            )));
        }
        let version = semver::Version::parse(&raw.version)
            .map_err(|e| invalid(format!("version {:?} is not semver: {e}", raw.version)))?;
        let world: World = raw
            .world
            .parse()
            .map_err(|e: UnknownName| invalid(e.to_string()))?;
        let wit = semver::Version::parse(&raw.wit)
            .map_err(|e| invalid(format!("wit {:?} is not a semver version: {e}", raw.wit)))?;
        if wit < world.since() {
            return Err(invalid(format!(
                "world {world} was added in berth:plugin WIT {}; a plugin built against \
                 wit = \"{wit}\" cannot implement it",
                world.since()
            )));
        }

        let component = match raw.component {
            None => PathBuf::from(format!("{}.wasm", raw.name)),
            Some(file) => {
                let file = PathBuf::from(file);
                // The component must sit beside the manifest or below it:
                // a manifest may not point the host at arbitrary files.
                let confined = file.components().all(|c| matches!(c, Component::Normal(_)));
                if !confined || file.as_os_str().is_empty() {
                    return Err(invalid(format!(
                        "component {} must be a relative path without `..`",
                        file.display()
                    )));
                }
                file
            }
        };

        let mut capabilities = BTreeSet::new();
        for name in &raw.capabilities {
            let capability: Capability = name
                .parse()
                .map_err(|e: UnknownName| invalid(e.to_string()))?;
            if world.is_policy() {
                return Err(invalid(format!(
                    "a {world} plugin cannot have capability {capability}: \
                     policies get no filesystem, network or host access"
                )));
            }
            capabilities.insert(capability);
        }

        for (key, value) in [
            ("memory-mib", raw.limits.memory_mib),
            ("timeout-ms", raw.limits.timeout_ms),
        ] {
            if value == Some(0) {
                return Err(invalid(format!("limits.{key} must be greater than zero")));
            }
        }
        let limits = RequestedLimits {
            memory: raw.limits.memory_mib.map(|mib| mib.saturating_mul(1 << 20)),
            timeout: raw.limits.timeout_ms.map(Duration::from_millis),
            table_elements: raw.limits.table_elements,
        };

        let mut config = BTreeMap::new();
        for (key, value) in &raw.config {
            config.insert(
                key.clone(),
                config_value(key, value).map_err(|e| invalid(e.to_string()))?,
            );
        }

        Ok(Manifest {
            name: raw.name,
            version,
            world,
            wit,
            summary: raw.summary,
            component,
            capabilities,
            limits,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, PluginError> {
        Manifest::parse(text, Path::new("/plugins/x.toml"))
    }

    const MINIMAL: &str = r#"
        name = "x"
        version = "1.2.3"
        world = "job-handler"
        wit = "1.0.0"
    "#;

    #[test]
    fn minimal_manifest_takes_defaults() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.version, semver::Version::new(1, 2, 3));
        assert_eq!(m.world, World::JobHandler);
        assert_eq!(m.wit, semver::Version::new(1, 0, 0));
        assert_eq!(m.component, PathBuf::from("x.wasm"));
        assert!(m.capabilities.is_empty());
        assert_eq!(m.limits, RequestedLimits::default());
        assert!(m.config.is_empty());
    }

    #[test]
    fn full_manifest_parses() {
        let m = parse(
            r#"
            name = "x"
            version = "2.0.0-rc.1"
            world = "job-handler"
            wit = "1.0.0"
            summary = "does x"
            component = "build/x.wasm"
            capabilities = ["scratch-dir", "graph-admin"]
            [limits]
            memory-mib = 8
            timeout-ms = 250
            table-elements = 100
            [config]
            s = "v"
            n = 3
            b = true
            "#,
        )
        .unwrap();
        assert_eq!(m.component, PathBuf::from("build/x.wasm"));
        assert_eq!(
            m.capabilities,
            BTreeSet::from([Capability::ScratchDir, Capability::GraphAdmin])
        );
        assert_eq!(m.limits.memory, Some(8 << 20));
        assert_eq!(m.limits.timeout, Some(Duration::from_millis(250)));
        assert_eq!(m.limits.table_elements, Some(100));
        assert_eq!(m.config["n"], "3");
        assert_eq!(m.config["b"], "true");
    }

    #[test]
    fn bad_manifests_name_the_problem() {
        let cases = [
            (
                "name = \"X\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"",
                "name",
            ),
            (
                "name = \"../x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"",
                "name",
            ),
            (
                "name = \"x\"\nversion=\"one\"\nworld=\"job-handler\"\nwit=\"1.0.0\"",
                "semver",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"daemon\"\nwit=\"1.0.0\"",
                "unknown world",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1\"",
                "wit",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"",
                "wit",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\nflavour=1",
                "unknown field",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\ncapabilities=[\"root\"]",
                "unknown capability",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"graph-policy\"\nwit=\"1.0.0\"\ncapabilities=[\"scratch-dir\"]",
                "policies get no",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"authz\"\nwit=\"1.0.0\"",
                "added in berth:plugin WIT 1.1.0",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"authz\"\nwit=\"1.1.0\"\ncapabilities=[\"scratch-dir\"]",
                "policies get no",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\ncomponent=\"../../bin/sh\"",
                "relative path",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\ncomponent=\"/bin/sh\"",
                "relative path",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\n[limits]\nmemory-mib=0",
                "limits.memory-mib must be greater than zero",
            ),
            (
                "name = \"x\"\nversion=\"1.0.0\"\nworld=\"job-handler\"\nwit=\"1.0.0\"\n[config]\nt={a=1}",
                "only strings",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
            assert!(
                err.contains("/plugins/x.toml"),
                "{err:?} should name the file"
            );
        }
    }

    #[test]
    fn authz_manifests_target_wit_1_1_or_newer() {
        let m =
            parse("name = \"x\"\nversion = \"1.0.0\"\nworld = \"authz\"\nwit = \"1.1.0\"").unwrap();
        assert_eq!(m.world, World::Authz);
        assert!(m.world.is_policy());
        assert_eq!(m.world.export_interface(), "authorization");
        for world in World::ALL {
            assert_eq!(world.as_str().parse::<World>(), Ok(world));
        }
    }
}
