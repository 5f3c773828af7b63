//! `docker commit`: a container's writable layer as a new layer on top of
//! its image (moby `daemon/commit.go`). The layer is the overlay upper
//! directory written as a tar (whiteouts for deletions) and extracted as
//! any imported layer; the config is the image's with the container's
//! defaults, the `changes`, a history entry and the new diff id.

use std::io::Seek;
use std::path::Path;

use berth_model::graph::archive::{CommitDefaults, CommitRequest};
use oci_spec::image::{Config, ImageConfiguration};

use super::import::import_reference;
use crate::changes::apply_changes;
use crate::error::GraphError;
use crate::graph::{Graph, StorageDriver, now_rfc3339};
use crate::rootfs::check_container_id;

/// The mount points berth makes in a container's root before it starts
/// (moby keeps them in the init layer, which a commit leaves out): left
/// out of the layer when berth made them (empty).
const INIT_PATHS: [&str; 10] = [
    "dev/pts",
    "dev/shm",
    "dev/console",
    "proc",
    "sys",
    ".dockerenv",
    "etc/resolv.conf",
    "etc/hosts",
    "etc/hostname",
    "etc/mtab",
];

fn is_init_mount_point(name: &Path, meta: &std::fs::Metadata, path: &Path) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    if !INIT_PATHS.contains(&name) {
        return false;
    }
    if meta.is_file() {
        return meta.len() == 0;
    }
    if meta.is_dir() {
        return std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
    }
    false
}

fn oci_config(defaults: &CommitDefaults) -> Result<Config, GraphError> {
    let mut c = Config::default();
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    c.set_user(some(&defaults.user));
    c.set_env((!defaults.env.is_empty()).then(|| defaults.env.clone()));
    c.set_cmd(defaults.cmd.clone());
    c.set_entrypoint(defaults.entrypoint.clone());
    c.set_working_dir(some(&defaults.working_dir));
    c.set_labels(
        (!defaults.labels.is_empty()).then(|| defaults.labels.clone().into_iter().collect()),
    );
    c.set_stop_signal(defaults.stop_signal.clone());
    c.set_exposed_ports(
        (!defaults.exposed_ports.is_empty()).then(|| defaults.exposed_ports.clone()),
    );
    c.set_volumes((!defaults.volumes.is_empty()).then(|| defaults.volumes.clone()));
    Ok(c)
}

impl Graph {
    /// Commits the container's changes as a new image; returns its id.
    /// The caller keeps the container from writing meanwhile (moby pauses
    /// it). Only the overlay driver keeps a container's changes apart from
    /// its image; on vfs a commit is refused.
    pub fn commit(&self, request: &CommitRequest) -> Result<String, GraphError> {
        check_container_id(&request.container_id)?;
        let reference = import_reference(Some(&request.repo), Some(&request.tag))?;
        let mut defaults = oci_config(&request.defaults)?;
        apply_changes(&mut defaults, &request.changes)?;
        if self.driver == StorageDriver::Vfs {
            return Err(GraphError::Unsupported {
                what: "committing a container (docker commit) on the vfs storage driver".into(),
            });
        }
        let record = {
            let _guard = self.lock();
            self.rootfs_record(&request.container_id)?
        };
        let base_bytes = std::fs::read(self.layout.blob(&record.image_id)).map_err(
            GraphError::io("read image config", self.layout.blob(&record.image_id)),
        )?;
        // Checked: the blob is the image's.
        self.read_config(&record.image_id)?;

        let upper = self.layout.upper(&request.container_id);
        let mut file = tempfile::tempfile_in(self.layout.tmp())
            .map_err(GraphError::io("create a layer file in", self.layout.tmp()))?;
        crate::layer_tar::write_layer_tar_filtered(&upper, &mut file, &is_init_mount_point)
            .map_err(GraphError::io(
                "write a tar of the container's changes in",
                &upper,
            ))?;
        file.rewind()
            .map_err(GraphError::io("rewind the layer file of", &upper))?;
        let staged = self.stage_layer(file)?;

        let created = now_rfc3339();
        let build_err = |source| GraphError::ImageConfig {
            image_id: format!("sha256:{}", record.image_id),
            source,
        };
        let mut value: serde_json::Value =
            serde_json::from_slice(&base_bytes).map_err(build_err)?;
        value["config"] = serde_json::to_value(&defaults).map_err(build_err)?;
        value["created"] = serde_json::json!(created);
        value["container"] = serde_json::json!(request.container_id);
        if !request.author.is_empty() {
            value["author"] = serde_json::json!(request.author);
        }
        let mut entry = serde_json::json!({"created": created, "created_by": request.created_by});
        if !request.author.is_empty() {
            entry["author"] = serde_json::json!(request.author);
        }
        if !request.comment.is_empty() {
            entry["comment"] = serde_json::json!(request.comment);
        }
        match value["history"].as_array_mut() {
            Some(h) => h.push(entry),
            None => value["history"] = serde_json::json!([entry]),
        }
        match value["rootfs"]["diff_ids"].as_array_mut() {
            Some(d) => d.push(serde_json::json!(format!("sha256:{}", staged.diff_hex))),
            None => {
                return Err(GraphError::InvalidImportOption {
                    reason: format!("image sha256:{} has no rootfs.diff_ids", record.image_id),
                });
            }
        }
        let config_bytes = serde_json::to_vec(&value).map_err(build_err)?;
        let config: ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(build_err)?;
        let (id, _, _) = self.commit_image(
            &config_bytes,
            &config,
            reference.into_iter().collect(),
            vec![staged],
        )?;
        tracing::info!(image = %id, container = %request.container_id, "committed container");
        Ok(id)
    }
}
