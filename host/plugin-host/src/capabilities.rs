//! Capability grants: the admin's configuration, deny by default.
//!
//! A manifest lists the capabilities a plugin wants; the admin grants them in
//! a grants file (berthd's `--plugin-grants`, default
//! `/etc/berth/plugin-grants.toml`, deliberately outside the plugin
//! directory so that whoever can drop a plugin cannot also grant it
//! anything). A plugin is loaded only if every capability it asks for is
//! granted; it receives exactly what it asked for. Policies can ask for none.
//! Built-in plugins ship with berthd and get what their manifest asks for.
//!
//! ```toml
//! [plugin.cleanup]
//! capabilities = ["graph-admin", "scratch-dir"]
//!
//! [plugin.cleanup.config]       # overrides the manifest's [config]
//! keep-days = 7
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::PluginError;
use crate::manifest::{Capability, Manifest, config_value, is_valid_name};

/// What the admin grants one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// Capabilities the plugin may have.
    pub capabilities: BTreeSet<Capability>,
    /// Configuration values overriding the manifest's.
    pub config: BTreeMap<String, String>,
}

/// The admin's grants, by plugin name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The file they were read from, for error messages.
    pub source: Option<PathBuf>,
    /// Grants by plugin name.
    pub plugins: BTreeMap<String, Grant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    plugin: BTreeMap<String, RawGrant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

impl Grants {
    /// No grants at all: what a host without a grants file has.
    pub fn none() -> Grants {
        Grants::default()
    }

    /// Parses grants `text` read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Grants, PluginError> {
        let invalid = |reason: String| PluginError::Grants {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawGrants = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut plugins = BTreeMap::new();
        for (name, grant) in raw.plugin {
            if !is_valid_name(&name) {
                return Err(invalid(format!("{name:?} is not a valid plugin name")));
            }
            let mut capabilities = BTreeSet::new();
            for capability in &grant.capabilities {
                capabilities.insert(
                    capability
                        .parse::<Capability>()
                        .map_err(|e| invalid(format!("plugin {name}: {e}")))?,
                );
            }
            let mut config = BTreeMap::new();
            for (key, value) in &grant.config {
                config.insert(
                    key.clone(),
                    config_value(key, value).map_err(|e| invalid(format!("plugin {name}: {e}")))?,
                );
            }
            plugins.insert(
                name,
                Grant {
                    capabilities,
                    config,
                },
            );
        }
        Ok(Grants {
            source: Some(path.to_path_buf()),
            plugins,
        })
    }

    /// Reads the grants file at `path`; a missing file means no grants.
    pub fn load(path: &Path) -> Result<Grants, PluginError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Grants::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Grants {
                source: Some(path.to_path_buf()),
                plugins: BTreeMap::new(),
            }),
            Err(source) => Err(PluginError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The capabilities `manifest` gets, or an error naming the first
    /// capability it asks for that is not granted. `builtin` plugins ship
    /// with berthd and get what they ask for.
    pub fn authorize(
        &self,
        manifest: &Manifest,
        builtin: bool,
    ) -> Result<BTreeSet<Capability>, PluginError> {
        let granted = self.plugins.get(&manifest.name);
        for &capability in &manifest.capabilities {
            if manifest.world.is_policy() {
                // Manifest parsing already refuses this; kept so that a
                // hand-built Manifest cannot slip through.
                return Err(PluginError::Capability {
                    plugin: manifest.name.clone(),
                    version: manifest.version.to_string(),
                    capability: capability.to_string(),
                    reason: "policies get no capabilities".into(),
                });
            }
            let allowed = builtin || granted.is_some_and(|g| g.capabilities.contains(&capability));
            if !allowed {
                let file = match &self.source {
                    Some(path) => format!("the grants file {}", path.display()),
                    None => "a grants file (none is configured)".into(),
                };
                return Err(PluginError::Capability {
                    plugin: manifest.name.clone(),
                    version: manifest.version.to_string(),
                    capability: capability.to_string(),
                    reason: format!(
                        "not granted by the admin; add it under [plugin.{}] in {file}",
                        manifest.name
                    ),
                });
            }
        }
        Ok(manifest.capabilities.clone())
    }

    /// The plugin's configuration: the manifest's values overridden by the
    /// admin's.
    pub fn config_for(&self, manifest: &Manifest) -> BTreeMap<String, String> {
        let mut config = manifest.config.clone();
        if let Some(grant) = self.plugins.get(&manifest.name) {
            config.extend(grant.config.clone());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(world: &str, capabilities: &str) -> Manifest {
        Manifest::parse(
            &format!(
                "name = \"p\"\nversion = \"1.0.0\"\nworld = \"{world}\"\nwit = \"1.0.0\"\n\
                 capabilities = [{capabilities}]\n[config]\na = \"manifest\"\nb = \"manifest\""
            ),
            Path::new("p.toml"),
        )
        .unwrap()
    }

    fn grants(text: &str) -> Grants {
        Grants::parse(text, Path::new("/etc/berth/plugin-grants.toml")).unwrap()
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let m = manifest("job-handler", "\"scratch-dir\"");
        let err = Grants::none().authorize(&m, false).unwrap_err().to_string();
        assert!(err.contains("scratch-dir"), "{err}");
        assert!(err.contains("not granted"), "{err}");
        assert!(err.contains("none is configured"), "{err}");
    }

    #[test]
    fn granted_capabilities_are_given_exactly_as_asked() {
        let g = grants("[plugin.p]\ncapabilities = [\"scratch-dir\", \"graph-admin\"]\n");
        let m = manifest("job-handler", "\"scratch-dir\"");
        assert_eq!(
            g.authorize(&m, false).unwrap(),
            BTreeSet::from([Capability::ScratchDir])
        );
    }

    #[test]
    fn a_grant_for_another_plugin_does_not_count() {
        let g = grants("[plugin.q]\ncapabilities = [\"graph-admin\"]\n");
        let m = manifest("job-handler", "\"graph-admin\"");
        let err = g.authorize(&m, false).unwrap_err().to_string();
        assert!(err.contains("[plugin.p]"), "{err}");
        assert!(err.contains("/etc/berth/plugin-grants.toml"), "{err}");
    }

    #[test]
    fn builtins_get_what_they_ask_for() {
        let m = manifest("job-handler", "\"graph-admin\"");
        assert_eq!(
            Grants::none().authorize(&m, true).unwrap(),
            BTreeSet::from([Capability::GraphAdmin])
        );
    }

    #[test]
    fn policies_without_capabilities_pass() {
        let m = manifest("graph-policy", "");
        assert!(Grants::none().authorize(&m, false).unwrap().is_empty());
    }

    #[test]
    fn admin_config_overrides_manifest_config() {
        let g = grants("[plugin.p.config]\nb = \"admin\"\nc = 7\n");
        let config = g.config_for(&manifest("job-handler", ""));
        assert_eq!(config["a"], "manifest");
        assert_eq!(config["b"], "admin");
        assert_eq!(config["c"], "7");
    }

    #[test]
    fn bad_grants_files_are_refused_with_their_path() {
        for text in [
            "[plugin.p]\ncapabilities = [\"root\"]",
            "[plugin.P]\n",
            "[plugins.p]\n",
            "[plugin.p]\nconfig = { t = [1] }",
        ] {
            let err = Grants::parse(text, Path::new("/g.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("/g.toml"), "{err}");
        }
    }

    #[test]
    fn a_missing_grants_file_grants_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let g = Grants::load(&dir.path().join("absent.toml")).unwrap();
        assert!(g.plugins.is_empty());
        let m = manifest("job-handler", "\"graph-admin\"");
        assert!(g.authorize(&m, false).is_err());
    }
}
