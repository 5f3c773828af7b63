//! Images: the types of the image API, name resolution and the queries
//! (list, inspect, tag); import and removal in their own modules.

mod commit;
mod history;
mod import;
mod kept_blob;
mod load;
mod push;
mod remove;
mod save;

pub use load::{LoadReport, LoadedImage, MAX_ARCHIVE_JSON};

use std::collections::BTreeMap;
use std::fs;

use berth_store::ReadTxn;
use oci_spec::image::ImageConfiguration;

use crate::compress::sha256_hex;
use crate::error::GraphError;
use crate::graph::{Graph, StorageDriver, now_rfc3339};
use crate::policy::is_layer_id;
use crate::records::{IMAGES, ImageRecord, LayerKind, ROOTFS, TAGS};
use crate::reference::Reference;

/// Options of an import (`POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=`).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Repository, possibly with a tag (`busybox`, `busybox:1.36`); `None`
    /// imports an untagged image.
    pub repo: Option<String>,
    /// Tag; overrides a tag in `repo`. Default `latest`.
    pub tag: Option<String>,
    /// Dockerfile instructions applied to the config (`CMD ["sh"]`, ...).
    pub changes: Vec<String>,
    /// Commit message, stored as the history entry's comment.
    pub message: Option<String>,
    /// `os[/arch[/variant]]`; default the host's.
    pub platform: Option<String>,
}

/// What an import produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// `sha256:<hex>` of the uncompressed tar (the layer's diff id).
    pub diff_id: String,
    /// The tag set, in Docker's familiar form (`busybox:latest`).
    pub tagged: Option<String>,
    /// Bytes of regular file content in the layer.
    pub size: u64,
    /// Whether the layer was already in the store.
    pub layer_reused: bool,
    /// Entries skipped (device nodes, unsupported types), one line each.
    pub warnings: Vec<String>,
}

/// What [`Graph::add_layer`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerReport {
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of regular file content.
    pub size: u64,
    /// Whether the layer was already stored.
    pub reused: bool,
    /// Entries skipped, one line each.
    pub warnings: Vec<String>,
}

/// One entry of the image list (`GET /images/json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar `repo:tag` references, sorted.
    pub repo_tags: Vec<String>,
    /// Seconds since the epoch.
    pub created: i64,
    /// Bytes of all layers.
    pub size: u64,
    /// Config labels.
    pub labels: BTreeMap<String, String>,
    /// Container root filesystems made from it.
    pub containers: u32,
}

/// What `GET /images/{name}/json` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDetails {
    /// `sha256:<hex>`.
    pub id: String,
    /// Familiar `repo:tag` references, sorted.
    pub repo_tags: Vec<String>,
    /// RFC 3339.
    pub created: String,
    /// Bytes of all layers.
    pub size: u64,
    /// The last history entry's comment (the import message).
    pub comment: String,
    /// The config's author.
    pub author: String,
    /// `amd64`, ...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8`, ...
    pub variant: Option<String>,
    /// The full OCI image config (its `config` is the container defaults).
    pub config: ImageConfiguration,
    /// Diff ids (`sha256:<hex>`), bottom first.
    pub layers: Vec<String>,
    /// RFC 3339 time of the last tag, empty if never tagged.
    pub last_tag_time: String,
    /// `overlay2` or `vfs`.
    pub driver: String,
    /// Driver details as Docker shows them (`LowerDir`, `UpperDir`, ...).
    pub driver_data: BTreeMap<String, String>,
}

/// One line of an image removal (`DELETE /images/{name}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRecord {
    /// A familiar reference that was removed.
    Untagged(String),
    /// An image (`sha256:<hex>`) or layer id whose content was removed.
    Deleted(String),
}

/// How a name was resolved.
pub(crate) struct Resolved {
    pub image: ImageRecord,
    /// The tag it matched, when it matched a tag rather than an id.
    pub by_ref: Option<Reference>,
}

/// Resolves `name` to an image: `sha256:<hex>` (or a prefix of it), a full
/// id, a `repo[:tag]` reference, or a unique id prefix — Docker's lookup
/// order.
pub(crate) fn resolve_in(read: &ReadTxn, name: &str) -> Result<Resolved, GraphError> {
    let not_found = || GraphError::ImageNotFound {
        name: name.to_owned(),
    };
    let by_id = |image| Resolved {
        image,
        by_ref: None,
    };
    let hexish =
        |s: &str| !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(hex) = name.strip_prefix("sha256:") {
        if !hexish(hex) {
            return Err(not_found());
        }
        return by_prefix(read, hex, name).map(by_id);
    }
    if is_layer_id(name) {
        return read.get(IMAGES, name)?.map(by_id).ok_or_else(not_found);
    }
    let parsed = Reference::parse(name);
    if let Ok(reference) = &parsed {
        let reference = reference.clone().with_default_tag();
        if reference.digest().is_none()
            && let Some(id) = read.get(TAGS, &reference.to_string())?
        {
            let image = read.get(IMAGES, &id)?.ok_or_else(not_found)?;
            return Ok(Resolved {
                image,
                by_ref: Some(reference),
            });
        }
    }
    if hexish(name) {
        return by_prefix(read, name, name).map(by_id);
    }
    match parsed {
        Ok(_) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

fn by_prefix(read: &ReadTxn, prefix: &str, name: &str) -> Result<ImageRecord, GraphError> {
    let mut matches = read.scan_prefix(IMAGES, prefix)?;
    match matches.len() {
        0 => Err(GraphError::ImageNotFound {
            name: name.to_owned(),
        }),
        1 => Ok(matches.remove(0).1),
        count => Err(GraphError::AmbiguousImage {
            prefix: name.to_owned(),
            count,
        }),
    }
}

/// `docker.io/library/busybox:latest` keys of an image, as references.
pub(crate) fn tags_of(read_tags: &[(String, String)], image_hex: &str) -> Vec<Reference> {
    read_tags
        .iter()
        .filter(|(_, id)| id == image_hex)
        .filter_map(|(r, _)| Reference::parse(r).ok())
        .collect()
}

/// Familiar forms (`busybox:latest`) of `refs`, sorted, as Docker lists
/// `RepoTags`.
pub(crate) fn familiar_sorted(refs: &[Reference]) -> Vec<String> {
    let mut v: Vec<String> = refs.iter().map(Reference::familiar).collect();
    v.sort();
    v
}

impl Graph {
    /// Resolves a name, tag, full id or unique id prefix to `sha256:<hex>`.
    pub fn resolve(&self, name: &str) -> Result<String, GraphError> {
        Ok(format!(
            "sha256:{}",
            resolve_in(&self.store.read()?, name)?.image.id
        ))
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<ImageSummary>, GraphError> {
        let read = self.store.read()?;
        let tags = read.list(TAGS)?;
        let rootfs = read.list(ROOTFS)?;
        let mut out = Vec::new();
        for (hex, image) in read.list(IMAGES)? {
            let config = self.read_config(&hex)?;
            let labels = config
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone())
                .unwrap_or_default()
                .into_iter()
                .collect();
            out.push(ImageSummary {
                id: format!("sha256:{hex}"),
                repo_tags: familiar_sorted(&tags_of(&tags, &hex)),
                created: image.created_unix,
                size: image.size,
                labels,
                containers: rootfs.iter().filter(|(_, r)| r.image_id == hex).count() as u32,
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Everything `docker image inspect` shows.
    pub fn inspect(&self, name: &str) -> Result<ImageDetails, GraphError> {
        let read = self.store.read()?;
        let image = resolve_in(&read, name)?.image;
        let config = self.read_config(&image.id)?;
        let tags = read.list(TAGS)?;
        let comment = config
            .history()
            .as_ref()
            .and_then(|h| h.last())
            .and_then(|h| h.comment().clone())
            .unwrap_or_default();
        let mut driver_data = BTreeMap::new();
        if self.driver == StorageDriver::Overlay {
            let diffs: Vec<String> = image
                .layers
                .iter()
                .rev()
                .map(|l| {
                    self.layout
                        .layer_diff(LayerKind::Layer, l)
                        .display()
                        .to_string()
                })
                .collect();
            if let Some((top, rest)) = diffs.split_first() {
                driver_data.insert("UpperDir".into(), top.clone());
                if !rest.is_empty() {
                    driver_data.insert("LowerDir".into(), rest.join(":"));
                }
            }
        }
        Ok(ImageDetails {
            id: format!("sha256:{}", image.id),
            repo_tags: familiar_sorted(&tags_of(&tags, &image.id)),
            created: image.created.clone(),
            size: image.size,
            comment,
            author: config.author().clone().unwrap_or_default(),
            architecture: config.architecture().to_string(),
            os: config.os().to_string(),
            variant: config.variant().clone(),
            layers: config.rootfs().diff_ids().clone(),
            config,
            last_tag_time: image.last_tag_time,
            driver: self.driver.docker_name().into(),
            driver_data,
        })
    }

    /// The image config of `name` (for the exec driver's defaults).
    pub fn image_config(&self, name: &str) -> Result<ImageConfiguration, GraphError> {
        let image = resolve_in(&self.store.read()?, name)?.image;
        self.read_config(&image.id)
    }

    /// Reads and verifies a config blob.
    pub(crate) fn read_config(&self, hex: &str) -> Result<ImageConfiguration, GraphError> {
        let path = self.layout.blob(hex);
        let bytes = fs::read(&path).map_err(GraphError::io("read image config", &path))?;
        let actual = sha256_hex(&bytes);
        if actual != hex {
            return Err(GraphError::DigestMismatch {
                path,
                expected: format!("sha256:{hex}"),
                actual: format!("sha256:{actual}"),
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| GraphError::ImageConfig {
            image_id: format!("sha256:{hex}"),
            source,
        })
    }

    /// Tags the image `source` as `repo[:tag]` (`POST /images/{name}/tag`);
    /// a tag already on another image moves. Returns the familiar reference.
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<String, GraphError> {
        let reference = Reference::parse(repo)?;
        if reference.digest().is_some() {
            return Err(GraphError::Reference(crate::reference::ReferenceError {
                input: repo.to_owned(),
                reason: crate::reference::InvalidReference::TagWithDigest,
            }));
        }
        let reference = match tag.filter(|t| !t.is_empty()) {
            Some(t) => reference.with_tag(t)?,
            None => reference.with_default_tag(),
        };
        // Every mutation holds the graph lock, so the image cannot go away
        // between this lookup and the write.
        let _guard = self.lock();
        let mut image = resolve_in(&self.store.read()?, source)?.image;
        image.last_tag_time = now_rfc3339();
        self.store.write(|txn| {
            txn.put(TAGS, &reference.to_string(), &image.id)?;
            txn.put(IMAGES, &image.id, &image)
        })?;
        Ok(reference.familiar())
    }
}
