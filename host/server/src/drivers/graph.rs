//! The graph driver (`berth-graph`) behind the engine's [`ImageService`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use berth_api::container::Config;
use berth_api::image::{
    GraphDriverData, ImageDeleteItem, ImageInspect, ImageMetadata, ImageSummary, RootFs,
};
use berth_engine::driver::{ImageService, ImportOptions};
use berth_engine::{ErrorKind, JobError};
use berth_graph::archive;
use berth_graph::{DeleteRecord, Graph, GraphError};
use berth_model::files::{ContainerFs, ExtractOptions, PathStat};

/// [`ImageService`] over a [`Graph`].
pub struct GraphImages {
    graph: Arc<Graph>,
}

impl GraphImages {
    /// Wraps an open graph.
    pub fn new(graph: Arc<Graph>) -> GraphImages {
        GraphImages { graph }
    }
}

/// Client errors keep the graph's message (it names the object); internal
/// ones are logged with their chain.
fn job_error(what: &str, err: GraphError) -> JobError {
    let kind = match err.kind() {
        berth_graph::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_graph::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_graph::ErrorKind::InvalidParameter => ErrorKind::InvalidParameter,
        berth_graph::ErrorKind::NotImplemented => ErrorKind::NotImplemented,
        berth_graph::ErrorKind::Internal => return JobError::internal(what, &err),
    };
    // The cause too, for client errors such as a refused tar entry.
    JobError::with_cause(kind, &err)
}

/// A failed `docker cp`: moby's messages for the client's faults.
fn archive_error(err: archive::ArchiveError) -> JobError {
    job_error_of(err.kind(), "failed to copy the container's files", &err)
}

fn job_error_of(
    kind: berth_graph::ErrorKind,
    what: &str,
    err: &(dyn std::error::Error + 'static),
) -> JobError {
    let kind = match kind {
        berth_graph::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_graph::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_graph::ErrorKind::InvalidParameter => ErrorKind::InvalidParameter,
        berth_graph::ErrorKind::NotImplemented => ErrorKind::NotImplemented,
        berth_graph::ErrorKind::Internal => return JobError::internal(what, err),
    };
    JobError::with_cause(kind, err)
}

/// The container defaults of an OCI image config, in the Docker API's shape.
fn docker_config(config: &berth_graph::ImageConfiguration) -> Config {
    let Some(c) = config.config() else {
        return Config::default();
    };
    Config {
        user: c.user().clone().unwrap_or_default(),
        env: c.env().clone().unwrap_or_default(),
        cmd: c.cmd().clone(),
        entrypoint: c.entrypoint().clone(),
        working_dir: c.working_dir().clone().unwrap_or_default(),
        labels: c
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        stop_signal: c.stop_signal().clone(),
        exposed_ports: c
            .exposed_ports()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p, serde_json::json!({})))
            .collect(),
        // `VOLUME`s: an anonymous volume each in a container of the image.
        volumes: c
            .volumes()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v, serde_json::json!({})))
            .collect(),
        ..Config::default()
    }
}

impl ImageService for GraphImages {
    fn driver_name(&self) -> String {
        self.graph.driver().docker_name().to_owned()
    }

    fn import(
        &self,
        source: Box<dyn Read + Send>,
        options: &ImportOptions,
    ) -> Result<String, JobError> {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let options = berth_graph::ImportOptions {
            repo: some(&options.repo),
            tag: some(&options.tag),
            changes: options.changes.clone(),
            message: some(&options.message),
            platform: some(&options.platform),
        };
        let report = self
            .graph
            .import(source, &options)
            .map_err(|e| job_error("failed to import the image", e))?;
        for warning in &report.warnings {
            tracing::warn!(image = %report.image_id, "{warning}");
        }
        Ok(report.image_id)
    }

    fn list(&self) -> Result<Vec<ImageSummary>, JobError> {
        let images = self
            .graph
            .images()
            .map_err(|e| job_error("failed to list images", e))?;
        Ok(images
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                parent_id: String::new(),
                repo_tags: i.repo_tags,
                repo_digests: Vec::new(),
                created: i.created,
                size: i.size as i64,
                shared_size: -1,
                virtual_size: i.size as i64,
                labels: i.labels,
                containers: i64::from(i.containers),
            })
            .collect())
    }

    fn inspect(&self, name: &str) -> Result<ImageInspect, JobError> {
        let d = self
            .graph
            .inspect(name)
            .map_err(|e| job_error("failed to inspect the image", e))?;
        Ok(ImageInspect {
            id: d.id,
            repo_tags: d.repo_tags,
            repo_digests: Vec::new(),
            parent: String::new(),
            comment: d.comment,
            created: d.created,
            docker_version: String::new(),
            author: d.author,
            config: docker_config(&d.config),
            architecture: d.architecture,
            os: d.os,
            size: d.size as i64,
            virtual_size: d.size as i64,
            graph_driver: GraphDriverData {
                name: d.driver,
                data: d.driver_data,
            },
            root_fs: RootFs {
                kind: "layers".to_owned(),
                layers: d.layers,
            },
            metadata: ImageMetadata {
                last_tag_time: d.last_tag_time,
            },
        })
    }

    fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), JobError> {
        let tag = (!tag.is_empty()).then_some(tag);
        self.graph
            .tag(name, repo, tag)
            .map(|_| ())
            .map_err(|e| job_error("failed to tag the image", e))
    }

    fn remove(&self, name: &str, force: bool) -> Result<Vec<ImageDeleteItem>, JobError> {
        let records = self
            .graph
            .remove_image(name, force)
            .map_err(|e| job_error("failed to remove the image", e))?;
        Ok(records
            .into_iter()
            .map(|r| match r {
                DeleteRecord::Untagged(r) => ImageDeleteItem::Untagged(r),
                DeleteRecord::Deleted(id) => ImageDeleteItem::Deleted(id),
            })
            .collect())
    }

    fn create_rootfs(&self, container_id: &str, image_id: &str) -> Result<(), JobError> {
        self.graph
            .create_rootfs(container_id, image_id)
            .map(|_| ())
            .map_err(|e| job_error("failed to create the container's root filesystem", e))
    }

    fn mount_rootfs(&self, container_id: &str) -> Result<PathBuf, JobError> {
        self.graph
            .mount_rootfs(container_id)
            .map_err(|e| job_error("failed to mount the container's root filesystem", e))
    }

    fn unmount_rootfs(&self, container_id: &str) -> Result<(), JobError> {
        self.graph
            .unmount_rootfs(container_id)
            .map_err(|e| job_error("failed to unmount the container's root filesystem", e))
    }

    fn remove_rootfs(&self, container_id: &str) -> Result<(), JobError> {
        match self.graph.remove_rootfs(container_id) {
            Ok(()) => Ok(()),
            // Removal is idempotent for the engine.
            Err(e) if e.kind() == berth_graph::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(job_error(
                "failed to remove the container's root filesystem",
                e,
            )),
        }
    }

    fn changes(
        &self,
        container_id: &str,
    ) -> Result<Vec<berth_api::container::FilesystemChange>, JobError> {
        let changes = self
            .graph
            .changes(container_id)
            .map_err(|e| job_error("failed to list the container's changes", e))?;
        Ok(changes
            .into_iter()
            .map(|c| berth_api::container::FilesystemChange {
                path: c.path.to_string_lossy().into_owned(),
                kind: c.kind.code(),
            })
            .collect())
    }

    fn path_stat(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
    ) -> Result<PathStat, JobError> {
        archive::stat_path(fs, container, path).map_err(archive_error)
    }

    fn archive_path(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
        on_stat: &mut dyn FnMut(&PathStat) -> std::io::Result<()>,
        out: &mut dyn std::io::Write,
    ) -> Result<(), JobError> {
        archive::archive_path(fs, container, path, on_stat, out).map_err(archive_error)
    }

    fn extract_to_dir(
        &self,
        fs: &ContainerFs,
        container: &str,
        path: &str,
        options: &ExtractOptions,
        input: &mut dyn Read,
    ) -> Result<(), JobError> {
        archive::extract_to_dir(fs, container, path, options, input).map_err(archive_error)
    }

    fn disk_usage(&self) -> Result<berth_model::graph::DiskUsage, JobError> {
        self.graph
            .disk_usage()
            .map_err(|e| job_error("failed to measure the image store's disk use", e))
    }

    fn hold_layer(
        &self,
        diff_id: &str,
    ) -> Result<Option<berth_engine::driver::LayerHold>, JobError> {
        let hold = self
            .graph
            .hold_layer(diff_id)
            .map_err(|e| job_error("failed to look up a layer", e))?;
        Ok(hold.map(|h| berth_engine::driver::LayerHold(Box::new(h))))
    }

    fn scratch_dir(&self) -> Result<PathBuf, JobError> {
        Ok(self.graph.scratch_dir())
    }

    fn add_layer(
        &self,
        source: Box<dyn Read + Send>,
        diff_id: &str,
    ) -> Result<berth_engine::driver::LayerHold, JobError> {
        let (_, hold) = self
            .graph
            .add_layer_held(source, diff_id)
            .map_err(|e| job_error("failed to store a pulled layer", e))?;
        Ok(berth_engine::driver::LayerHold(Box::new(hold)))
    }

    fn create_image(&self, config: &[u8], reference: Option<&str>) -> Result<String, JobError> {
        self.graph
            .create_image(config, reference)
            .map_err(|e| job_error("failed to create the pulled image", e))
    }

    fn load(
        &self,
        source: Box<dyn Read + Send>,
    ) -> Result<berth_engine::driver::LoadReport, JobError> {
        self.graph
            .load(source)
            .map_err(|e| job_error("failed to load the image archive", e))
    }

    fn history(&self, name: &str) -> Result<Vec<berth_engine::driver::HistoryEntry>, JobError> {
        self.graph
            .history(name)
            .map_err(|e| job_error("failed to read the image history", e))
    }

    fn save(&self, names: &[String], out: &mut dyn std::io::Write) -> Result<(), JobError> {
        self.graph
            .save(names, out)
            .map_err(|e| job_error("failed to save the images", e))
    }

    fn commit(&self, request: &berth_engine::driver::CommitRequest) -> Result<String, JobError> {
        self.graph
            .commit(request)
            .map_err(|e| job_error("failed to commit the container", e))
    }

    fn image_config(&self, name: &str) -> Result<(String, Vec<u8>), JobError> {
        self.graph
            .image_config_bytes(name)
            .map_err(|e| job_error("failed to read the image config", e))
    }

    fn write_layer(&self, diff_id: &str, out: &mut dyn std::io::Write) -> Result<(), JobError> {
        self.graph
            .write_layer(diff_id, out)
            .map_err(|e| job_error("failed to write a layer", e))
    }

    fn keep_layer_blob(
        &self,
        diff_id: &str,
        digest: &str,
        blob: &std::path::Path,
    ) -> Result<bool, JobError> {
        self.graph
            .keep_layer_blob(diff_id, digest, blob)
            .map_err(|e| job_error("failed to keep a pulled layer's blob", e))
    }

    fn layer_blob(&self, diff_id: &str, digest: &str) -> Result<Option<PathBuf>, JobError> {
        self.graph
            .layer_blob(diff_id, digest)
            .map_err(|e| job_error("failed to look up a layer's blob", e))
    }
}
