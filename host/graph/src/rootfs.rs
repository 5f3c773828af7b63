//! Container root filesystems and flattened layer caches.

use std::fs;
use std::path::{Path, PathBuf};

use crate::compress::sha256_hex;
use crate::error::GraphError;
use crate::fsutil;
use crate::graph::{Graph, StorageDriver, now_unix};
use crate::image::resolve_in;
use crate::merge::{MergeOptions, merge_layer};
use crate::policy::{LayerInfo, RootfsPlan, RootfsRequest, is_layer_id, validate_rootfs_plan};
use crate::records::{ImageRecord, LAYERS, LayerKind, LayerRecord, ROOTFS, RootfsRecord};

/// A container's root filesystem as created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsInfo {
    /// The container (64 hex).
    pub container_id: String,
    /// The image it was made from (`sha256:<hex>`).
    pub image_id: String,
    /// The driver that made it.
    pub driver: StorageDriver,
    /// Where the root filesystem appears once mounted ([`Graph::mount_rootfs`]
    /// returns the same path): `containers/<id>/merged` (overlay) or
    /// `containers/<id>/rootfs` (vfs).
    pub path: PathBuf,
    /// How many lower directories the policy's plan produced.
    pub lower_dirs: usize,
}

pub(crate) fn check_container_id(id: &str) -> Result<(), GraphError> {
    if is_layer_id(id) {
        Ok(())
    } else {
        Err(GraphError::InvalidContainerId { id: id.to_owned() })
    }
}

/// The id of the flattened cache of a run: its own digest domain, so it can
/// never equal a diff id. A run at the base of a chain and the same run
/// higher up differ (see [`Graph::ensure_flattened`]), so the position is
/// part of the id.
pub(crate) fn flattened_id(layers: &[String], base: bool) -> String {
    let position = if base { "base" } else { "middle" };
    sha256_hex(format!("berth-flattened-v1\n{position}\n{}", layers.join("\n")).as_bytes())
}

impl Graph {
    fn rootfs_path(&self, container_id: &str) -> PathBuf {
        match self.driver {
            StorageDriver::Overlay => self.layout.merged(container_id),
            StorageDriver::Vfs => self.layout.vfs_rootfs(container_id),
        }
    }

    /// Prepares the root filesystem of a new container from `image` (any
    /// name [`Graph::resolve`] accepts), as the layout policy plans it:
    /// overlay upper/work/merged directories, or a vfs copy of the layers.
    /// Nothing is mounted yet.
    pub fn create_rootfs(&self, container_id: &str, image: &str) -> Result<RootfsInfo, GraphError> {
        check_container_id(container_id)?;
        let _guard = self.lock();
        let (image, plan) = self.plan_rootfs_locked(container_id, image)?;
        let mut lowers = Vec::with_capacity(plan.lowers.len());
        for (i, lower) in plan.lowers.iter().enumerate() {
            if let [single] = lower.layers.as_slice() {
                lowers.push((LayerKind::Layer, single.clone()));
            } else {
                lowers.push((
                    LayerKind::Flattened,
                    self.ensure_flattened_locked(&lower.layers, i == 0)?,
                ));
            }
        }

        let dir = self.layout.container(container_id);
        let build = || -> Result<(), GraphError> {
            fsutil::create_dirs(&dir)?;
            self.build_rootfs_dirs(container_id, &dir, &lowers)?;
            let now = now_unix();
            self.store.write(|txn| {
                txn.insert_new(
                    ROOTFS,
                    container_id,
                    &RootfsRecord {
                        container_id: container_id.to_owned(),
                        image_id: image.id.clone(),
                        driver: self.driver.name().into(),
                        lowers: lowers.iter().map(|(_, id)| id.clone()).collect(),
                        mounted: false,
                        created: now,
                    },
                )
            })?;
            Ok(())
        };
        if let Err(e) = build() {
            let _ = fsutil::remove_tree(&dir);
            return Err(e);
        }
        let used: Vec<String> = lowers.iter().map(|(_, id)| id.clone()).collect();
        self.touch_layers(&used);
        tracing::debug!(container = container_id, image = %image.id, lowers = lowers.len(), "rootfs created");
        Ok(RootfsInfo {
            container_id: container_id.to_owned(),
            image_id: format!("sha256:{}", image.id),
            driver: self.driver,
            path: self.rootfs_path(container_id),
            lower_dirs: lowers.len(),
        })
    }

    /// Under the graph lock: checks that the container has no rootfs yet,
    /// resolves `image` and asks the layout policy for the rootfs's lower
    /// directories. Returns the image and the validated plan.
    fn plan_rootfs_locked(
        &self,
        container_id: &str,
        image: &str,
    ) -> Result<(ImageRecord, RootfsPlan), GraphError> {
        let read = self.store.read()?;
        if read.get(ROOTFS, container_id)?.is_some() {
            return Err(GraphError::RootfsExists {
                container_id: container_id.to_owned(),
            });
        }
        let image = resolve_in(&read, image)?.image;
        let mut layers = Vec::with_capacity(image.layers.len());
        for id in &image.layers {
            let record = Self::layer_record(&read, id)?;
            layers.push(LayerInfo {
                id: id.clone(),
                size: record.size,
            });
        }
        let request = RootfsRequest {
            container_id: container_id.to_owned(),
            image_id: format!("sha256:{}", image.id),
            driver: self.driver.name().into(),
            layers,
            max_lower_dirs: self.max_lower_dirs(container_id),
            flattened: self.flattened_infos(&read)?,
        };
        drop(read);
        let (_, plan) = self.plan(
            "rootfs",
            &request,
            |policy, request| policy.plan_rootfs(request),
            validate_rootfs_plan,
        )?;
        Ok((image, plan))
    }

    /// Creates the driver's directories of a new rootfs under `dir`:
    /// overlay's upper/work/merged, or vfs's copy of the `lowers` (merged
    /// in a staging directory, then renamed into place).
    fn build_rootfs_dirs(
        &self,
        container_id: &str,
        dir: &Path,
        lowers: &[(LayerKind, String)],
    ) -> Result<(), GraphError> {
        match self.driver {
            StorageDriver::Overlay => {
                for d in [
                    self.layout.upper(container_id),
                    self.layout.work(container_id),
                    self.layout.merged(container_id),
                ] {
                    fs::create_dir(&d).map_err(GraphError::io("create directory", &d))?;
                }
            }
            StorageDriver::Vfs => {
                let staging = dir.join("rootfs.partial");
                fs::create_dir(&staging).map_err(GraphError::io("create directory", &staging))?;
                for (kind, id) in lowers {
                    merge_layer(
                        &self.layout.layer_diff(*kind, id),
                        &staging,
                        MergeOptions {
                            format: self.whiteouts(),
                            keep_whiteouts: false,
                            chown: self.chown,
                        },
                    )?;
                }
                let rootfs = self.layout.vfs_rootfs(container_id);
                fs::rename(&staging, &rootfs)
                    .map_err(GraphError::io("publish rootfs at", &rootfs))?;
            }
        }
        Ok(())
    }

    /// Mounts the container's rootfs (overlay) and returns its path;
    /// mounting a mounted rootfs returns the path again. For vfs the copy
    /// is the rootfs and only its state changes.
    pub fn mount_rootfs(&self, container_id: &str) -> Result<PathBuf, GraphError> {
        check_container_id(container_id)?;
        let _guard = self.lock();
        let mut record = self.rootfs_record(container_id)?;
        let path = self.rootfs_path(container_id);
        if self.driver == StorageDriver::Overlay
            && !self
                .mounter
                .is_mounted(&path)
                .map_err(GraphError::io("read the mount table for", &path))?
        {
            // overlayfs lists lower dirs top first; records are bottom first.
            let lowers: Vec<String> = record
                .lowers
                .iter()
                .rev()
                .map(|id| self.layout.link(id).display().to_string())
                .collect();
            let options = format!(
                "lowerdir={},upperdir={},workdir={}{}",
                lowers.join(":"),
                self.layout.upper(container_id).display(),
                self.layout.work(container_id).display(),
                self.overlay_options
            );
            if options.len() >= rustix::param::page_size() {
                return Err(GraphError::Mount {
                    target: path,
                    options,
                    source: std::io::Error::other("the option string exceeds a page"),
                });
            }
            self.mounter
                .mount_overlay(&options, &path)
                .map_err(|source| GraphError::Mount {
                    target: path.clone(),
                    options,
                    source,
                })?;
        }
        if !record.mounted {
            record.mounted = true;
            self.store.put(ROOTFS, container_id, &record)?;
        }
        Ok(path)
    }

    /// Unmounts the container's rootfs (no-op when not mounted).
    pub fn unmount_rootfs(&self, container_id: &str) -> Result<(), GraphError> {
        check_container_id(container_id)?;
        let _guard = self.lock();
        let mut record = self.rootfs_record(container_id)?;
        self.unmount_locked(container_id)?;
        if record.mounted {
            record.mounted = false;
            self.store.put(ROOTFS, container_id, &record)?;
        }
        Ok(())
    }

    /// Unmounts the container's overlay when it is mounted (vfs has no
    /// mount); the caller holds the graph lock.
    pub(crate) fn unmount_locked(&self, container_id: &str) -> Result<(), GraphError> {
        let merged = self.layout.merged(container_id);
        if self.driver == StorageDriver::Overlay
            && self
                .mounter
                .is_mounted(&merged)
                .map_err(GraphError::io("read the mount table for", &merged))?
        {
            self.mounter
                .unmount(&merged)
                .map_err(|source| GraphError::Unmount {
                    target: merged.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Unmounts and deletes the container's rootfs and its record. Removing
    /// a rootfs that does not exist is not an error (container removal is
    /// retried after crashes).
    pub fn remove_rootfs(&self, container_id: &str) -> Result<(), GraphError> {
        check_container_id(container_id)?;
        let _guard = self.lock();
        self.unmount_locked(container_id)?;
        // Record first: a crash after it leaves a directory the next open
        // sweeps; the other order could leave a record without files.
        self.store.delete(ROOTFS, container_id)?;
        fsutil::remove_tree(&self.layout.container(container_id))?;
        tracing::debug!(container = container_id, "rootfs removed");
        Ok(())
    }

    pub(crate) fn rootfs_record(&self, container_id: &str) -> Result<RootfsRecord, GraphError> {
        self.store
            .get(ROOTFS, container_id)?
            .ok_or_else(|| GraphError::RootfsNotFound {
                container_id: container_id.to_owned(),
            })
    }

    /// Builds the flattened cache of a run unless it exists; returns its id.
    ///
    /// A run that sits at the base of the chain (`base`) has nothing below
    /// it, so its whiteouts and opaque marks are dropped: overlayfs shows a
    /// whiteout in the lowest layer as the device node it is. A run higher
    /// up keeps them, to hide what lies below it.
    pub(crate) fn ensure_flattened(
        &self,
        layers: &[String],
        base: bool,
    ) -> Result<String, GraphError> {
        let _guard = self.lock();
        self.ensure_flattened_locked(layers, base)
    }

    fn ensure_flattened_locked(&self, layers: &[String], base: bool) -> Result<String, GraphError> {
        let id = flattened_id(layers, base);
        if self.store.get(LAYERS, &id)?.is_some() {
            return Ok(id);
        }
        let read = self.store.read()?;
        for l in layers {
            Self::layer_record(&read, l)?;
        }
        drop(read);
        let (staging, diff) = self.staging_dir("flatten-")?;
        for l in layers {
            merge_layer(
                &self.layout.layer_diff(LayerKind::Layer, l),
                &diff,
                MergeOptions {
                    format: self.whiteouts(),
                    keep_whiteouts: !base,
                    chown: self.chown,
                },
            )?;
        }
        let size = fsutil::tree_size(&diff);
        fsutil::sync_filesystem(&diff)?;
        let dir = self.layout.layer_dir(LayerKind::Flattened, &id);
        fsutil::remove_tree(&dir)?;
        // From here the directory is removed by hand, as in
        // `publish_layer_locked`: once renamed it is no longer the staging
        // path.
        let staging = staging.keep();
        if let Err(source) = fs::rename(&staging, &dir) {
            let _ = fsutil::remove_tree(&staging);
            return Err(GraphError::Io {
                op: "publish flattened layer at",
                path: dir,
                source,
            });
        }
        let publish = || -> Result<(), GraphError> {
            fsutil::sync_dir(&self.layout.flat())?;
            self.create_link(LayerKind::Flattened, &id)?;
            let now = now_unix();
            self.store.put(
                LAYERS,
                &id,
                &LayerRecord {
                    id: id.clone(),
                    kind: LayerKind::Flattened,
                    size,
                    source_layers: layers.to_vec(),
                    base,
                    created: now,
                    last_used: now,
                },
            )?;
            Ok(())
        };
        if let Err(e) = publish() {
            let _ = self.remove_layer_files(LayerKind::Flattened, &id);
            return Err(e);
        }
        tracing::info!(flattened = %id, layers = layers.len(), "flattened layer run");
        Ok(id)
    }
}
