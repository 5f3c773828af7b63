//! The plugin directory: scanning it into candidates (with their stamps),
//! and settling the table against a scan — load, replace, refuse or unload
//! each directory plugin, keeping the loaded ones when a scan fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Candidate, DirEntry, PluginHost, PluginStatus, Refusal, Table};
use crate::PluginError;
use crate::capabilities::Grants;
use crate::events::PluginEventKind;
use crate::manifest::Manifest;
use crate::plugin::{LoadRequest, LoadedPlugin, PluginSource};

fn is_ignored_file(name: &str) -> bool {
    // Editors' and atomic writers' temporaries appear and vanish around
    // every save; only finished files are plugins.
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".tmp") || name.ends_with(".swp")
}

fn stamp_of(manifest: &[u8], component: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update((manifest.len() as u64).to_le_bytes());
    hasher.update(manifest);
    hasher.update(component);
    hex::encode(hasher.finalize())
}

fn read(path: &Path) -> Result<Vec<u8>, PluginError> {
    std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads one candidate: its manifest and component.
fn read_candidate(id: String, manifest_path: PathBuf, default_component: PathBuf) -> Candidate {
    let manifest_bytes = match read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(error) => {
            return Candidate {
                id,
                manifest_path,
                component_path: default_component,
                stamp: String::new(),
                contents: Err(error),
            };
        }
    };
    let mut component_path = default_component;
    let contents = Manifest::parse(&String::from_utf8_lossy(&manifest_bytes), &manifest_path)
        .and_then(|manifest| {
            if manifest.name != id {
                return Err(PluginError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!(
                        "name {:?} does not match its file name {id:?}: the manifest of plugin \
                     NAME is NAME.toml or NAME/plugin.toml",
                        manifest.name
                    ),
                });
            }
            let dir = manifest_path.parent().unwrap_or(Path::new("."));
            component_path = dir.join(&manifest.component);
            let component = read(&component_path)?;
            Ok((manifest, component))
        });
    let component_bytes = contents.as_ref().map(|(_, c)| c.as_slice()).unwrap_or(&[]);
    Candidate {
        id,
        stamp: stamp_of(&manifest_bytes, component_bytes),
        manifest_path,
        component_path,
        contents,
    }
}

/// How the host lists its plugin directory: [`scan_dir`], or a test's
/// stand-in that fails.
pub(crate) type Scanner = fn(&Path, Option<&Path>) -> Result<Vec<Candidate>, PluginError>;

/// Lists the plugins in `dir`: `NAME.toml` (+ the component it names,
/// `NAME.wasm` by default) and `NAME/plugin.toml`. A `.wasm` file without a
/// manifest is reported, not loaded. A missing directory holds no plugins;
/// a directory that cannot be listed is an error, never an empty listing
/// (which would unload every directory plugin).
pub(crate) fn scan_dir(
    dir: &Path,
    grants_file: Option<&Path>,
) -> Result<Vec<Candidate>, PluginError> {
    let scan_error = |source| PluginError::ScanDir {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(scan_error(e)),
    };
    let mut candidates = BTreeMap::new();
    let mut orphans = Vec::new();
    for entry in entries {
        let path = entry.map_err(scan_error)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned) else {
            continue;
        };
        if is_ignored_file(&file) || Some(path.as_path()) == grants_file {
            continue;
        }
        if path.is_dir() {
            let manifest = path.join("plugin.toml");
            if manifest.is_file() {
                let component = path.join(format!("{file}.wasm"));
                candidates.insert(file.clone(), read_candidate(file, manifest, component));
            }
        } else if let Some(id) = file.strip_suffix(".toml") {
            let component = dir.join(format!("{id}.wasm"));
            candidates.insert(
                id.to_owned(),
                read_candidate(id.to_owned(), path, component),
            );
        } else if let Some(id) = file.strip_suffix(".wasm") {
            orphans.push((id.to_owned(), path));
        }
    }
    for (id, path) in orphans {
        if candidates.contains_key(&id) || candidates.values().any(|c| c.component_path == path) {
            continue;
        }
        let manifest_path = dir.join(format!("{id}.toml"));
        candidates.insert(
            id.clone(),
            Candidate {
                id: id.clone(),
                contents: Err(PluginError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!(
                        "{} has no manifest: write {id}.toml beside it (name, version, world, wit)",
                        path.display()
                    ),
                }),
                manifest_path,
                component_path: path,
                stamp: String::from("orphan"),
            },
        );
    }
    Ok(candidates.into_values().collect())
}

/// The message of a panic caught by a join handle.
fn panic_reason(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| String::from("a panic without a message")),
        Err(error) => error.to_string(),
    }
}

impl PluginHost {
    /// Brings the table in line with the plugin directory: loads new
    /// plugins, swaps changed ones (after validating them off to the side),
    /// unloads removed ones. Returns the errors of plugins refused in this
    /// pass; a refused replacement leaves the previous version serving.
    pub async fn rescan(&self) -> Vec<PluginError> {
        let Some(dir) = self.inner.config.plugin_dir.clone() else {
            return Vec::new();
        };
        let _writer = self.inner.writer.lock().await;
        let candidates = match self.scan(dir.clone()).await {
            Ok(candidates) => candidates,
            Err(error) => {
                // Refused, not read as an empty directory: an empty listing
                // would unload every directory plugin.
                let serving = self.inner.table.load().dir.len();
                self.emit(
                    PluginEventKind::Refuse,
                    &dir.display().to_string(),
                    None,
                    format!("{error}; the {serving} plugins loaded from it keep serving"),
                );
                return vec![error];
            }
        };
        let grants = self.inner.grants.load_full();
        let mut errors = Vec::new();
        let mut table = (**self.inner.table.load()).clone();
        self.unload_removed(&mut table, &candidates);
        for candidate in candidates {
            let previous = table.dir.get(&candidate.id).cloned();
            if previous
                .as_ref()
                .is_some_and(|p| p.stamp == candidate.stamp)
            {
                continue;
            }
            let old = previous.and_then(|p| p.active);
            let id = candidate.id.clone();
            let (entry, error) = self.settle(&table, candidate, old, &grants).await;
            errors.extend(error);
            table.dir.insert(id, entry);
            // Publish each change as soon as it is ready: calls that already
            // hold the previous Arc finish on it.
            self.inner.table.store(Arc::new(table.clone()));
        }
        errors
    }

    /// Unloads the directory plugins whose files are gone, publishing each
    /// removal.
    fn unload_removed(&self, table: &mut Table, candidates: &[Candidate]) {
        let present: BTreeSet<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        let removed: Vec<String> = table
            .dir
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        for id in removed {
            if let Some(entry) = table.dir.remove(&id)
                && let Some(active) = entry.active
            {
                self.emit(
                    PluginEventKind::Unload,
                    active.name(),
                    Some(active.version()),
                    format!("plugin {} unloaded: its files were removed", active.label()),
                );
            }
            self.inner.table.store(Arc::new(table.clone()));
        }
    }

    /// Loads a new or changed candidate and decides its table entry: the
    /// new version serving (a load or a swap), or a refusal that keeps
    /// `old` serving. Returns the entry and the refusal's error.
    async fn settle(
        &self,
        table: &Table,
        candidate: Candidate,
        old: Option<Arc<LoadedPlugin>>,
        grants: &Grants,
    ) -> (DirEntry, Option<PluginError>) {
        let Candidate {
            id,
            manifest_path,
            component_path,
            stamp,
            contents,
        } = candidate;
        let world = contents.as_ref().ok().map(|(manifest, _)| manifest.world);
        let result = match contents {
            Err(e) => Err(e),
            Ok((manifest, component)) => {
                LoadedPlugin::load(
                    &self.inner.runtime,
                    LoadRequest {
                        manifest,
                        component,
                        source: PluginSource::Directory {
                            manifest: manifest_path,
                            component: component_path,
                        },
                        builtin: false,
                        grants,
                        host_config: &self.inner.config.host_config,
                        scratch_root: &self.scratch_root(),
                    },
                )
                .await
            }
        }
        .and_then(|loaded| check_job_conflicts(table, &loaded).map(|()| loaded));
        match result {
            Ok(loaded) => {
                let loaded = Arc::new(loaded);
                match &old {
                    Some(old) => self.emit(
                        PluginEventKind::Swap,
                        loaded.name(),
                        Some(loaded.version()),
                        format!(
                            "plugin {} replaced version {} ({:?})",
                            loaded.label(),
                            old.version(),
                            loaded.origin
                        ),
                    ),
                    None => self.emit(
                        PluginEventKind::Load,
                        loaded.name(),
                        Some(loaded.version()),
                        format!("plugin {} loaded ({:?})", loaded.label(), loaded.origin),
                    ),
                }
                let entry = DirEntry {
                    active: Some(loaded),
                    refused: None,
                    stamp,
                };
                (entry, None)
            }
            Err(error) => {
                let message = match &old {
                    Some(old) => format!("{error}; version {} keeps serving", old.version()),
                    None => error.to_string(),
                };
                self.emit(
                    PluginEventKind::Refuse,
                    &id,
                    old.as_ref().map(|o| o.version()),
                    message.clone(),
                );
                let entry = DirEntry {
                    active: old,
                    refused: Some(Refusal { message, world }),
                    stamp,
                };
                (entry, Some(error))
            }
        }
    }

    /// Lists the plugin directory off the async workers; a panic in the
    /// scan is an error like an I/O failure.
    async fn scan(&self, dir: PathBuf) -> Result<Vec<Candidate>, PluginError> {
        let grants_file = self.inner.config.grants_file.clone();
        let scanner = *self.inner.scanner.lock().unwrap_or_else(|p| p.into_inner());
        let scan_dir = dir.clone();
        tokio::task::spawn_blocking(move || scanner(&scan_dir, grants_file.as_deref()))
            .await
            .unwrap_or_else(|join| {
                Err(PluginError::ScanPanicked {
                    dir,
                    reason: panic_reason(join),
                })
            })
    }

    /// Replaces how the plugin directory is listed (tests inject failures).
    #[cfg(test)]
    pub(crate) fn set_scanner(&self, scanner: Scanner) {
        *self.inner.scanner.lock().unwrap_or_else(|p| p.into_inner()) = scanner;
    }

    /// Re-reads the grants file and reloads plugin `name` from the
    /// directory (or re-validates the whole directory when `name` is a
    /// built-in), returning its status.
    pub async fn reload(&self, name: &str) -> Result<PluginStatus, PluginError> {
        if let Some(path) = &self.inner.config.grants_file {
            self.inner.grants.store(Arc::new(Grants::load(path)?));
        }
        {
            let _writer = self.inner.writer.lock().await;
            let mut table = (**self.inner.table.load()).clone();
            if let Some(entry) = table.dir.get_mut(name) {
                entry.stamp.clear();
            } else if !table.builtins.contains_key(name) {
                return Err(PluginError::NotFound {
                    what: "plugin",
                    name: name.to_owned(),
                });
            }
            self.inner.table.store(Arc::new(table));
        }
        self.rescan().await;
        self.inspect(name).ok_or_else(|| PluginError::NotFound {
            what: "plugin",
            name: name.to_owned(),
        })
    }
}

/// Refuses a directory plugin offering a job another directory plugin
/// already offers (overriding a built-in's job is allowed: that is how a
/// plugin replaces a default).
fn check_job_conflicts(table: &Table, loaded: &LoadedPlugin) -> Result<(), PluginError> {
    for (name, entry) in &table.dir {
        if name == loaded.name() {
            continue;
        }
        let Some(other) = &entry.active else { continue };
        for job in &loaded.jobs {
            if other.jobs.iter().any(|j| j.name == job.name) {
                return Err(PluginError::JobConflict {
                    job: job.name.clone(),
                    plugin: loaded.name().to_owned(),
                    owner: other.name().to_owned(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_ignored() {
        for name in [".x.wasm", "x.wasm~", "x.wasm.tmp", ".x.toml.swp"] {
            assert!(is_ignored_file(name), "{name}");
        }
        assert!(!is_ignored_file("x.wasm"));
    }

    #[test]
    fn scan_finds_flat_and_folder_plugins_and_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |name: &str| {
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\nworld = \"job-handler\"\nwit = \"1.0.0\"\n"
            )
        };
        std::fs::write(dir.path().join("a.toml"), manifest("a")).unwrap();
        std::fs::write(dir.path().join("a.wasm"), b"a").unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/plugin.toml"), manifest("b")).unwrap();
        std::fs::write(dir.path().join("b/b.wasm"), b"b").unwrap();
        std::fs::write(dir.path().join("c.wasm"), b"c").unwrap();
        std::fs::write(dir.path().join("d.toml"), manifest("not-d")).unwrap();
        std::fs::write(dir.path().join(".e.wasm.tmp"), b"e").unwrap();
        std::fs::write(dir.path().join("grants.toml"), "").unwrap();

        let grants = dir.path().join("grants.toml");
        let found = scan_dir(dir.path(), Some(&grants)).unwrap();
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let (m, bytes) = found[0].contents.as_ref().unwrap();
        assert_eq!((m.name.as_str(), bytes.as_slice()), ("a", &b"a"[..]));
        assert!(found[1].contents.is_ok());
        let orphan = found[2].contents.as_ref().err().unwrap().to_string();
        assert!(orphan.contains("has no manifest"), "{orphan}");
        let mismatch = found[3].contents.as_ref().err().unwrap().to_string();
        assert!(
            mismatch.contains("does not match its file name"),
            "{mismatch}"
        );
    }

    #[test]
    fn stamps_change_with_either_file() {
        assert_ne!(stamp_of(b"m", b"c"), stamp_of(b"m", b"d"));
        assert_ne!(stamp_of(b"m", b"c"), stamp_of(b"n", b"c"));
        // The manifest length is hashed, so bytes cannot move between files.
        assert_ne!(stamp_of(b"mc", b""), stamp_of(b"m", b"c"));
    }
}
