//! What the daemon remembers of the blobs its layers travelled as: moby's
//! "v2 metadata" (`distribution/metadata/v2_metadata_service.go`), one
//! JSON file per stored layer under `<data-root>/image/distribution/`.
//!
//! The graph keeps a layer's files, not the compressed blob it came in.
//! So a pull records the blob's digest and the repository it came from,
//! and a push the digest of the blob it compressed (deterministically) and
//! the repositories it went to. A later push then asks the registry for a
//! known digest (`HEAD`) or mounts it from another repository of the same
//! registry before it compresses anything, and pushes the same digests as
//! the pull had.
//!
//! A record is a hint, never trusted: the registry is asked each time.
//! A lost or unreadable file only costs a recompression.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::job::JobError;

/// One blob a layer is known to travel as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlobRecord {
    /// The blob's digest (`sha256:...`): a gzip-compressed layer tar.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// The digest of the tar it decompresses to: the layer's diff id for a
    /// pulled blob; for one berth compressed, that of the tar berth wrote
    /// (which differs when the layer came from a tar another tool wrote).
    pub diff_id: String,
    /// The repositories (`registry/repository`) known to hold it.
    pub repositories: BTreeSet<String>,
}

/// The records, by stored layer.
#[derive(Debug)]
pub(crate) struct DistributionStore {
    dir: PathBuf,
    /// Serializes read-modify-write of the files.
    lock: Mutex<()>,
}

impl DistributionStore {
    /// The store under `dir` (created on first write).
    pub(crate) fn new(dir: PathBuf) -> Self {
        DistributionStore {
            dir,
            lock: Mutex::new(()),
        }
    }

    fn file(&self, diff_id: &str) -> Option<PathBuf> {
        let hex = diff_id.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(format!("{hex}.json")))
    }

    /// The blobs known for the stored layer `diff_id`, newest last.
    pub(crate) fn records(&self, diff_id: &str) -> Vec<BlobRecord> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.read(diff_id)
    }

    fn read(&self, diff_id: &str) -> Vec<BlobRecord> {
        let Some(path) = self.file(diff_id) else {
            return Vec::new();
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a corrupt distribution record");
                Vec::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read a distribution record");
                Vec::new()
            }
        }
    }

    /// Records that the stored layer `diff_id` travels as `record`,
    /// merging its repositories into a record of the same digest.
    pub(crate) fn add(&self, diff_id: &str, record: BlobRecord) -> Result<(), JobError> {
        let Some(path) = self.file(diff_id) else {
            return Err(JobError::invalid(format!("invalid diff id {diff_id:?}")));
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut records = self.read(diff_id);
        match records.iter_mut().find(|r| r.digest == record.digest) {
            Some(known) => {
                if known.repositories.is_superset(&record.repositories) {
                    return Ok(());
                }
                known.repositories.extend(record.repositories);
            }
            None => records.push(record),
        }
        let io = |what: &str, e: std::io::Error| {
            JobError::internal(&format!("failed to {what} {}", path.display()), &e)
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| io("create the directory of", e))?;
        let json = serde_json::to_vec(&records)
            .map_err(|e| JobError::internal("failed to encode a distribution record", &e))?;
        // Temp file + rename: a crash leaves the old record or the new one.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|e| io("create a temp file for", e))?;
        std::io::Write::write_all(&mut tmp, &json).map_err(|e| io("write", e))?;
        tmp.persist(&path).map_err(|e| io("rename", e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(digest: &str, repo: &str) -> BlobRecord {
        BlobRecord {
            digest: digest.to_owned(),
            size: 3,
            diff_id: format!("sha256:{}", "d".repeat(64)),
            repositories: BTreeSet::from([repo.to_owned()]),
        }
    }

    #[test]
    fn records_merge_repositories_per_digest_and_survive_a_reopen() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("distribution");
        let layer = format!("sha256:{}", "a".repeat(64));
        let store = DistributionStore::new(dir.clone());
        assert!(store.records(&layer).is_empty());
        store.add(&layer, record("sha256:1", "r/a")).expect("add");
        store.add(&layer, record("sha256:1", "r/b")).expect("merge");
        store
            .add(&layer, record("sha256:2", "r/a"))
            .expect("second digest");
        let store = DistributionStore::new(dir.clone());
        let records = store.records(&layer);
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].repositories,
            BTreeSet::from(["r/a".to_owned(), "r/b".to_owned()])
        );
        assert_eq!(records[1].digest, "sha256:2");

        // A corrupt file is ignored, not an error; a bad id is refused.
        std::fs::write(dir.join(format!("{}.json", "a".repeat(64))), b"{").expect("corrupt");
        assert!(store.records(&layer).is_empty());
        assert!(store.add("sha256:../x", record("sha256:1", "r/a")).is_err());
        assert!(store.records("../../etc/passwd").is_empty());
    }
}
