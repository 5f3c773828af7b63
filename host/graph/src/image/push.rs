//! What a push reads from the graph: an image's config byte for byte, and
//! a stored layer written back as a tar: the tar it came as
//! ([`crate::tarsplit`]), else berth's deterministic one
//! ([`crate::layer_tar`]); either way the same layer always compresses to
//! the same blob, and a second push finds it in the registry.

use std::fs;
use std::io::Write;

use sha2::{Digest, Sha256};

use super::resolve_in;
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::{LAYERS, LayerKind};
use crate::tarsplit::{self, ReplayError, SPLIT_FILE};

impl Graph {
    /// The id (`sha256:...`) and config JSON (as stored, so its digest is
    /// the id) of the image `name` resolves to.
    pub fn image_config_bytes(&self, name: &str) -> Result<(String, Vec<u8>), GraphError> {
        let hex = {
            let read = self.store.read()?;
            resolve_in(&read, name)?.image.id
        };
        // `read_config` checks the blob against its digest.
        self.read_config(&hex)?;
        let path = self.layout.blob(&hex);
        let bytes = fs::read(&path).map_err(GraphError::io("read image config", &path))?;
        Ok((format!("sha256:{hex}"), bytes))
    }

    /// Writes the stored layer `diff_id` (`sha256:<hex>`) to `out` as a
    /// layer tar. Its digest is `diff_id` when the layer came from a tar
    /// berth wrote; a tar another tool wrote may have differed in header
    /// details berth does not keep (see the `save` module). The caller
    /// holds the layer ([`Graph::hold_layer`]) while this runs.
    pub fn write_layer(&self, diff_id: &str, out: &mut dyn Write) -> Result<(), GraphError> {
        let hex = diff_id
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or_else(|| GraphError::InvalidImportOption {
                reason: format!("invalid diff id {diff_id:?}"),
            })?;
        if self.store.get(LAYERS, hex)?.is_none() {
            return Err(GraphError::MissingLayer { id: hex.to_owned() });
        }
        self.write_stored_layer(hex, out)
    }

    /// Writes the stored layer `hex` as a tar to `out`: the tar it came
    /// as, replayed from its record ([`crate::tarsplit`]) and checked
    /// against its diff id, or, for a layer without one (stored before
    /// records were kept, or whose tar could not be recorded), berth's
    /// deterministic tar of its directory.
    pub(crate) fn write_stored_layer(
        &self,
        hex: &str,
        out: &mut dyn Write,
    ) -> Result<(), GraphError> {
        let dir = self.layout.layer_dir(LayerKind::Layer, hex);
        let diff = dir.join("diff");
        let record = dir.join(SPLIT_FILE);
        if !record.exists() {
            return crate::layer_tar::write_layer_tar(&diff, out)
                .map_err(GraphError::io("write a tar of the layer", &diff));
        }
        let changed = |reason: String| GraphError::LayerChanged {
            id: hex.to_owned(),
            reason,
        };
        let mut hashing = DigestingWriter {
            out,
            hasher: Sha256::new(),
        };
        tarsplit::replay(&record, &diff, &mut hashing).map_err(|e| match e {
            ReplayError::Io(source) => GraphError::Io {
                op: "write the tar of the layer",
                path: diff.clone(),
                source,
            },
            other => changed(other.to_string()),
        })?;
        let actual = hex::encode(hashing.hasher.finalize());
        if actual != hex {
            return Err(changed(format!(
                "the tar written back has digest sha256:{actual}"
            )));
        }
        Ok(())
    }
}

/// Passes bytes on while hashing them.
struct DigestingWriter<'a> {
    out: &'a mut dyn Write,
    hasher: Sha256,
}

impl Write for DigestingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
