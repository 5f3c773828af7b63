//! `POST /commit` (moby `daemon/commit.go`): a container's changes as a
//! new image, the container frozen meanwhile unless `pause=false`, so its
//! writable layer is read in one consistent state.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::container::Status;
use berth_model::graph::archive::{CommitDefaults, CommitRequest};

use crate::daemon::Daemon;
use crate::daemon::blocking::BlockingKind;
use crate::job::JobError;

/// The query parameters of `POST /commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitParams {
    /// `repo` (may carry a tag).
    pub repo: String,
    /// `tag`.
    pub tag: String,
    /// `comment`.
    pub comment: String,
    /// `author`.
    pub author: String,
    /// `changes`, Dockerfile-like.
    pub changes: Vec<String>,
    /// `pause` (moby's default: true).
    pub pause: bool,
}

impl Daemon {
    /// Commits the container `reference` names; returns the image id.
    pub async fn container_commit(
        &self,
        reference: &str,
        params: CommitParams,
    ) -> Result<String, JobError> {
        let container = self.containers.get(reference)?;
        let (config, freeze) = {
            let inner = container.lock();
            let state = &inner.record.state;
            let running = matches!(state.status, Status::Running) && !state.paused;
            (inner.record.config.clone(), params.pause && running)
        };
        let mut created_by = config.entrypoint.clone().unwrap_or_default();
        created_by.extend(config.cmd.clone().unwrap_or_default());
        let request = CommitRequest {
            container_id: container.id.clone(),
            repo: params.repo,
            tag: params.tag,
            comment: params.comment,
            author: params.author,
            changes: params.changes,
            defaults: CommitDefaults {
                user: config.user.clone(),
                env: config.env.clone(),
                cmd: config.cmd.clone(),
                entrypoint: config.entrypoint.clone(),
                working_dir: config.working_dir.clone(),
                labels: config.labels.clone(),
                stop_signal: config.stop_signal.clone(),
                exposed_ports: config.exposed_ports.keys().cloned().collect(),
                volumes: config.volumes.keys().cloned().collect(),
            },
            created_by: created_by.join(" "),
        };
        // moby: the container is paused (the freezer) while its layer is
        // read, and thawed whatever the outcome.
        if freeze {
            self.runtime.pause(&container.id).await?;
        }
        let images = Arc::clone(self.images());
        let result = self
            .blocking(BlockingKind::ImageContent, move || images.commit(&request))
            .await;
        if freeze && let Err(e) = self.runtime.resume(&container.id).await {
            tracing::error!(id = %container.id, error = %e, "cannot thaw a container after its commit");
        }
        let id = result?;
        let record = container.record();
        self.container_event("commit", &record, &[("imageID", id.clone())]);
        self.events()
            .publish("image", "commit", &id, BTreeMap::new());
        Ok(id)
    }
}
