//! What a push reads from the graph: an image's config byte for byte, and
//! a stored layer written back as a tar ([`crate::layer_tar`],
//! deterministic, so that the same layer always compresses to the same
//! blob and a second push finds it in the registry).

use std::fs;
use std::io::Write;

use super::resolve_in;
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::{LAYERS, LayerKind};

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
        let dir = self.layout.layer_diff(LayerKind::Layer, hex);
        crate::layer_tar::write_layer_tar(&dir, out)
            .map_err(GraphError::io("write a tar of the layer", &dir))
    }
}
