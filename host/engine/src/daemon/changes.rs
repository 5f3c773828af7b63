//! `GET /containers/{id}/changes` (`docker diff`): what a container
//! changed in its image's files, as the graph driver reads its writable
//! layer.

use std::sync::Arc;

use berth_api::container::FilesystemChange;

use crate::daemon::Daemon;
use crate::daemon::blocking::BlockingKind;
use crate::job::JobError;

impl Daemon {
    /// The changes of the container `reference` names, in any state.
    pub async fn changes(&self, reference: &str) -> Result<Vec<FilesystemChange>, JobError> {
        let id = self.containers.get(reference)?.id.clone();
        let images = Arc::clone(self.images());
        // A walk of the container's files: blocking, and bounded with the
        // other work on image content.
        self.blocking(BlockingKind::ImageContent, move || images.changes(&id))
            .await
    }
}
