//! The compressed blob a pulled layer came in, kept beside the layer so a
//! push can send it back as it came.
//!
//! The graph stores a layer's files, not its blob, and writing the layer
//! back as a tar and gzipping it again is what made a push slow (and gives
//! other digests than the registry had whenever the original compressor
//! differs from ours). containerd keeps every blob in its content store
//! for the same reason; here the blob is kept inside the layer's own
//! directory (`layers/<diff hex>/gzip/<digest hex>`), so it goes when the
//! layer does (gc, rmi) and needs no record of its own. At most one blob is
//! kept per layer.
//!
//! What is kept was verified against its digest by the pull, and the layer
//! against its diff id; it is not synced, so after a crash a kept blob may
//! be short or empty: a push checks its digest before sending it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::GraphError;
use crate::graph::Graph;
use crate::hold::diff_hex;
use crate::records::{LAYERS, LayerKind};

/// The directory of a layer's kept blob.
const KEPT: &str = "gzip";

impl Graph {
    fn kept_dir(&self, diff_hex: &str) -> PathBuf {
        self.layout.layer_dir(LayerKind::Layer, diff_hex).join(KEPT)
    }

    /// Keeps the file `blob` (on the graph's filesystem: a pull's blob under
    /// [`Graph::scratch_dir`]), the gzip blob `digest` (`sha256:<hex>`) the
    /// stored layer `diff_id` was pulled as, by moving it into the layer's
    /// directory. The caller has verified the blob against `digest` and the
    /// layer against `diff_id`. Returns `false` (and leaves `blob` alone)
    /// if the layer is not stored or already keeps a blob.
    pub fn keep_layer_blob(
        &self,
        diff_id: &str,
        digest: &str,
        blob: &Path,
    ) -> Result<bool, GraphError> {
        let layer = diff_hex(diff_id)?;
        let digest = diff_hex(digest)?;
        // Under the lock: gc removes layer directories under it.
        let _guard = self.lock();
        if self.store.get(LAYERS, layer)?.is_none() {
            return Ok(false);
        }
        let dir = self.kept_dir(layer);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut entries = fs::read_dir(&dir).map_err(GraphError::io("read", &dir))?;
                if entries.next().is_some() {
                    return Ok(false);
                }
            }
            Err(e) => return Err(GraphError::io("create directory", &dir)(e)),
        }
        let path = dir.join(digest);
        fs::rename(blob, &path).map_err(GraphError::io("keep a layer blob at", &path))?;
        Ok(true)
    }

    /// The kept blob `digest` of the stored layer `diff_id`, if there is
    /// one ([`Graph::keep_layer_blob`]). The caller holds the layer while it
    /// reads the file, and checks its digest first.
    pub fn layer_blob(&self, diff_id: &str, digest: &str) -> Result<Option<PathBuf>, GraphError> {
        let layer = diff_hex(diff_id)?;
        let digest = diff_hex(digest)?;
        let path = self.kept_dir(layer).join(digest);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(path)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(GraphError::io("inspect", &path)(e)),
        }
    }
}
