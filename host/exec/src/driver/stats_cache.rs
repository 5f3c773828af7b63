//! What a `docker stats` sample keeps of each container between samples:
//! its cgroup manager, built from the container's `state.json`.
//!
//! Building it means reading and parsing that record (which holds the
//! whole OCI spec, seccomp profile included) and resolving the cgroup
//! paths; the cgroup counters themselves are a handful of small reads.
//! With 50 containers `docker stats --no-stream` asks for 50 samples at
//! once, so the parse was most of a sample's cost. moby keeps the same
//! thing: its stats collector holds each container's `libcontainerd`
//! handle between ticks instead of loading it per sample
//! (`daemon/stats/collector.go`).
//!
//! An entry is valid while the state file is the one it was built from.
//! libcontainer replaces the file (written aside, then renamed) whenever
//! the record changes, and a restarted container gets a new one, so the
//! file's identity (device, inode, size, modification time) tells a kept
//! entry from a stale one with one `stat`, which the sample needed anyway
//! to know whether the container runs.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Which version of a state file an entry was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileIdentity {
    /// The identity of `path`; `None` when it does not exist.
    fn of(path: &Path) -> io::Result<Option<FileIdentity>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(FileIdentity {
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime: m.mtime(),
                mtime_nsec: m.mtime_nsec(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug)]
struct Entry<T> {
    state_file: PathBuf,
    identity: FileIdentity,
    value: Arc<T>,
}

/// A value derived from each container's state file, kept while that
/// file stays the same.
#[derive(Debug)]
pub(super) struct StateCache<T> {
    map: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Default for StateCache<T> {
    fn default() -> Self {
        StateCache {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// What [`StateCache::get`] found.
#[derive(Debug)]
pub(super) enum Lookup<T, E> {
    /// The state file does not exist: the container is not running.
    Gone,
    /// Reading the state file's identity failed.
    Stat(io::Error),
    /// `load` failed.
    Load(E),
    /// The kept value, or the one just loaded.
    Found(Arc<T>),
}

impl<T> StateCache<T> {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of container `id`, whose state file is `state_file`:
    /// the kept one while the file is unchanged, else `load()`'s (then
    /// kept). Blocking (a `stat`, and whatever `load` does).
    pub(super) fn get<E>(
        &self,
        id: &str,
        state_file: &Path,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Lookup<T, E> {
        let identity = match FileIdentity::of(state_file) {
            Ok(Some(identity)) => identity,
            Ok(None) => {
                self.map().remove(id);
                return Lookup::Gone;
            }
            Err(e) => return Lookup::Stat(e),
        };
        if let Some(entry) = self.map().get(id)
            && entry.identity == identity
            && entry.state_file == state_file
        {
            return Lookup::Found(Arc::clone(&entry.value));
        }
        // Loaded without the lock: other containers' samples need not
        // wait for this parse.
        let value = match load() {
            Ok(value) => Arc::new(value),
            Err(e) => return Lookup::Load(e),
        };
        let mut map = self.map();
        // Entries of containers that went away without a sample noticing
        // are dropped here, when the set changes anyway, so the map holds
        // no more than the containers whose state files still exist.
        map.retain(|_, entry| entry.state_file.exists());
        map.insert(
            id.to_owned(),
            Entry {
                state_file: state_file.to_path_buf(),
                identity,
                value: Arc::clone(&value),
            },
        );
        Lookup::Found(value)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn get(cache: &StateCache<String>, id: &str, file: &Path, loads: &Cell<u32>) -> Option<String> {
        let lookup = cache.get(id, file, || {
            loads.set(loads.get() + 1);
            std::fs::read_to_string(file)
        });
        match lookup {
            Lookup::Found(value) => Some((*value).clone()),
            Lookup::Gone => None,
            Lookup::Stat(e) => panic!("stat: {e}"),
            Lookup::Load(e) => panic!("load: {e}"),
        }
    }

    /// Replaces `path` as libcontainer does: written aside, renamed over.
    fn replace(path: &Path, content: &str) {
        let aside = path.with_extension("tmp");
        std::fs::write(&aside, content).unwrap();
        std::fs::rename(&aside, path).unwrap();
    }

    #[test]
    fn a_value_is_loaded_once_while_its_state_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        std::fs::write(&file, "run 1").unwrap();
        let (cache, loads) = (StateCache::default(), Cell::new(0));
        for _ in 0..3 {
            assert_eq!(get(&cache, "c", &file, &loads).as_deref(), Some("run 1"));
        }
        assert_eq!(loads.get(), 1, "the state file was parsed on every sample");
    }

    #[test]
    fn a_replaced_state_file_is_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        std::fs::write(&file, "run 1").unwrap();
        let (cache, loads) = (StateCache::default(), Cell::new(0));
        assert_eq!(get(&cache, "c", &file, &loads).as_deref(), Some("run 1"));
        // Same size, and possibly the same mtime: the new inode tells.
        replace(&file, "run 2");
        assert_eq!(get(&cache, "c", &file, &loads).as_deref(), Some("run 2"));
        assert_eq!(loads.get(), 2);
    }

    #[test]
    fn a_gone_state_file_is_not_running_and_its_entry_goes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let (cache, loads) = (StateCache::default(), Cell::new(0));
        get(&cache, "a", &a, &loads);
        get(&cache, "b", &b, &loads);
        std::fs::remove_file(&a).unwrap();
        assert_eq!(get(&cache, "a", &a, &loads), None);
        assert!(!cache.map().contains_key("a"));
        // b went away unsampled: the next load (of c) drops its entry.
        std::fs::remove_file(&b).unwrap();
        let c = dir.path().join("c.json");
        std::fs::write(&c, "c").unwrap();
        get(&cache, "c", &c, &loads);
        let kept: Vec<String> = cache.map().keys().cloned().collect();
        assert_eq!(kept, ["c"]);
    }

    #[test]
    fn a_failed_load_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        std::fs::write(&file, "x").unwrap();
        let cache: StateCache<String> = StateCache::default();
        let failed = cache.get("c", &file, || Err::<String, _>("corrupt"));
        assert!(matches!(failed, Lookup::Load("corrupt")), "{failed:?}");
        assert!(cache.map().is_empty());
    }
}
