//! `docker history`: an image's history entries with the size of the layer
//! each made (moby `daemon/images/image_history.go`).

use berth_model::graph::archive::HistoryEntry;

use super::{familiar_sorted, resolve_in, tags_of};
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::TAGS;

/// moby's ID of the entries below the top one, which have no image of
/// their own.
const MISSING: &str = "<missing>";

impl Graph {
    /// The history of the image `name`, newest first. Each entry that is
    /// not an `empty_layer` made the next layer of `rootfs.diff_ids`, whose
    /// size it shows; the top entry carries the image id and its tags.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, GraphError> {
        let read = self.store.read()?;
        let image = resolve_in(&read, name)?.image;
        let config = self.read_config(&image.id)?;
        let diff_ids = config.rootfs().diff_ids();
        let mut layer = 0usize;
        let mut entries = Vec::new();
        for h in config.history().as_deref().unwrap_or_default() {
            let mut size = 0;
            if !h.empty_layer().unwrap_or(false) {
                // moby: "too many non-empty layers in History section".
                let Some(diff_id) = diff_ids.get(layer) else {
                    return Err(GraphError::InvalidImportOption {
                        reason: "too many non-empty layers in History section".into(),
                    });
                };
                let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
                size = Graph::layer_record(&read, hex)?.size;
                layer += 1;
            }
            let created = h
                .created()
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            entries.push(HistoryEntry {
                id: MISSING.to_owned(),
                created,
                created_by: h.created_by().clone().unwrap_or_default(),
                tags: Vec::new(),
                size,
                comment: h.comment().clone().unwrap_or_default(),
            });
        }
        entries.reverse();
        if let Some(top) = entries.first_mut() {
            top.id = format!("sha256:{}", image.id);
            top.tags = familiar_sorted(&tags_of(&read.list(TAGS)?, &image.id));
        }
        Ok(entries)
    }
}
