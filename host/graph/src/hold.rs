//! Layer holds: what keeps a stored layer from [`Graph::gc`] between the
//! two halves of a pull ([`Graph::add_layer`], then
//! [`Graph::create_image`]), when no image references it yet.
//!
//! A hold is registered before the layer is looked up or stored, and
//! collection checks the holds under the graph lock, so either the
//! collection finished before the hold (and the lookup, taken under the
//! same lock, sees the layer gone) or it sees the hold and skips the layer.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::GraphError;
use crate::graph::Graph;
use crate::image::LayerReport;
use crate::records::LAYERS;

/// The diff ids held, with how many holds each.
pub(crate) type Holds = Arc<Mutex<HashMap<String, usize>>>;

/// Keeps one layer from collection until dropped.
#[derive(Debug)]
pub struct LayerHold {
    holds: Holds,
    diff_hex: String,
}

impl Drop for LayerHold {
    fn drop(&mut self) {
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = holds.get_mut(&self.diff_hex) {
            *n -= 1;
            if *n == 0 {
                holds.remove(&self.diff_hex);
            }
        }
    }
}

pub(crate) fn is_held(holds: &Holds, diff_hex: &str) -> bool {
    holds
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains_key(diff_hex)
}

pub(crate) fn diff_hex(diff_id: &str) -> Result<&str, GraphError> {
    diff_id
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| GraphError::InvalidImportOption {
            reason: format!("invalid diff id {diff_id:?}"),
        })
}

impl Graph {
    fn hold(&self, diff_hex: &str) -> LayerHold {
        *self
            .holds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(diff_hex.to_owned())
            .or_default() += 1;
        LayerHold {
            holds: Arc::clone(&self.holds),
            diff_hex: diff_hex.to_owned(),
        }
    }

    /// Holds the stored layer `diff_id` (`sha256:<hex>`) from collection;
    /// `None` if no such layer is stored.
    pub fn hold_layer(&self, diff_id: &str) -> Result<Option<LayerHold>, GraphError> {
        let hex = diff_hex(diff_id)?;
        let hold = self.hold(hex);
        let _guard = self.lock();
        Ok(self.store.get(LAYERS, hex)?.is_some().then_some(hold))
    }

    /// [`Graph::add_layer`] with `diff_id` required, returning a hold on the
    /// layer taken before it was stored.
    pub fn add_layer_held(
        &self,
        source: impl Read,
        diff_id: &str,
    ) -> Result<(LayerReport, LayerHold), GraphError> {
        let hold = self.hold(diff_hex(diff_id)?);
        let report = self.add_layer(source, Some(diff_id))?;
        Ok((report, hold))
    }

    /// The graph's staging directory (`graph/tmp`, emptied at open), for
    /// files that become layers, such as a pull's blobs.
    pub fn scratch_dir(&self) -> std::path::PathBuf {
        self.layout.tmp()
    }
}
