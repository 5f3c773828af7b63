//! Images: import, list, resolve, inspect, tag, remove.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::PathBuf;

use berth_store::{ReadTxn, WriteTxn};
use oci_spec::image::{
    Config, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, RootFsBuilder,
};

use crate::changes::{Platform, apply_changes};
use crate::compress::{HashingReader, decompressed, sha256_hex};
use crate::error::GraphError;
use crate::extract::{ExtractOptions, extract};
use crate::fsutil;
use crate::graph::{Graph, StorageDriver, now_rfc3339, now_unix};
use crate::policy::{ImportRequest, LayerInfo, is_layer_id, validate_import_plan};
use crate::records::{IMAGES, ImageRecord, LAYERS, LayerKind, LayerRecord, ROOTFS, TAGS};
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

/// A layer extracted into `tmp/`, not yet published.
struct StagedLayer {
    staging: tempfile::TempDir,
    diff_hex: String,
    size: u64,
    warnings: Vec<String>,
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

/// The reference an import tags, from the API's `repo` and `tag`.
fn import_reference(
    repo: Option<&str>,
    tag: Option<&str>,
) -> Result<Option<Reference>, GraphError> {
    let Some(repo) = repo.filter(|r| !r.is_empty()) else {
        if tag.is_some_and(|t| !t.is_empty()) {
            return Err(GraphError::InvalidImportOption {
                reason: "a tag needs a repository name".into(),
            });
        }
        return Ok(None);
    };
    let reference = Reference::parse(repo)?;
    if reference.digest().is_some() {
        return Err(GraphError::InvalidImportOption {
            reason: format!("cannot import with a digest reference {repo:?}"),
        });
    }
    Ok(Some(match tag.filter(|t| !t.is_empty()) {
        Some(tag) => reference.with_tag(tag)?,
        None => reference.with_default_tag(),
    }))
}

impl Graph {
    /// Imports a root filesystem tarball (plain, gzip or zstd) as a
    /// single-layer image, streaming: the tar is hashed and extracted as it
    /// is read. On any error nothing is left: no layer, blob, record or temp
    /// directory.
    pub fn import(
        &self,
        source: impl Read,
        options: &ImportOptions,
    ) -> Result<ImportReport, GraphError> {
        // Validate every option before reading a byte.
        let reference = import_reference(options.repo.as_deref(), options.tag.as_deref())?;
        let platform = Platform::parse(options.platform.as_deref().unwrap_or(""))
            .map_err(|reason| GraphError::InvalidImportOption { reason })?;
        let mut container_config = Config::default();
        apply_changes(&mut container_config, &options.changes)
            .map_err(|reason| GraphError::InvalidImportOption { reason })?;

        let staged = self.stage_layer(source)?;

        let created = chrono::Utc::now();
        let created_rfc = created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let build_err = |e: oci_spec::OciSpecError| GraphError::InvalidImportOption {
            reason: format!("cannot build the image config: {e}"),
        };
        let history = HistoryBuilder::default()
            .created(created_rfc.clone())
            .created_by(String::new())
            .comment(
                options
                    .message
                    .clone()
                    .unwrap_or_else(|| "Imported from -".into()),
            )
            .build()
            .map_err(build_err)?;
        let rootfs = RootFsBuilder::default()
            .typ("layers")
            .diff_ids(vec![format!("sha256:{}", staged.diff_hex)])
            .build()
            .map_err(build_err)?;
        let mut builder = ImageConfigurationBuilder::default()
            .created(created_rfc)
            .architecture(platform.architecture)
            .os(platform.os)
            .config(container_config)
            .rootfs(rootfs)
            .history(vec![history]);
        if let Some(variant) = platform.variant {
            builder = builder.variant(variant);
        }
        let image_config = builder.build().map_err(build_err)?;
        let config_bytes =
            serde_json::to_vec(&image_config).map_err(|source| GraphError::ImageConfig {
                image_id: "(new)".into(),
                source,
            })?;
        let size = staged.size;
        let diff_hex = staged.diff_hex.clone();
        let warnings = staged.warnings.clone();
        let (image_id, tagged, layer_reused) =
            self.commit_image(&config_bytes, &image_config, reference, Some(staged))?;
        tracing::info!(image = %image_id, layer = %diff_hex, tag = ?tagged, "imported image");
        Ok(ImportReport {
            image_id,
            diff_id: format!("sha256:{diff_hex}"),
            tagged,
            size,
            layer_reused,
            warnings,
        })
    }

    /// Stores one layer from a tar stream (plain, gzip or zstd) without
    /// making an image of it — the first half of a registry pull; then
    /// [`Graph::create_image`] with a config whose `rootfs.diff_ids` name it.
    /// An unreferenced layer is fair game for [`Graph::gc`], so the two calls
    /// should follow each other.
    ///
    /// With `expected_diff_id` (`sha256:<hex>`, e.g. from the image config
    /// being pulled), content that hashes to anything else is refused before
    /// it is published.
    pub fn add_layer(
        &self,
        source: impl Read,
        expected_diff_id: Option<&str>,
    ) -> Result<LayerReport, GraphError> {
        let staged = self.stage_layer(source)?;
        if let Some(expected) = expected_diff_id
            && expected.strip_prefix("sha256:") != Some(staged.diff_hex.as_str())
        {
            return Err(GraphError::DiffIdMismatch {
                expected: expected.to_owned(),
                actual: staged.diff_hex.clone(),
            });
        }
        let guard = self.lock();
        let diff_hex = staged.diff_hex.clone();
        let (size, warnings) = (staged.size, staged.warnings.clone());
        let published = self.publish_layer_locked(staged)?;
        if published {
            let record = LayerRecord::imported(&diff_hex, size, now_unix());
            if let Err(e) = self.store.put(LAYERS, &diff_hex, &record) {
                let _ = self.remove_layer_files(LayerKind::Layer, &diff_hex);
                return Err(e.into());
            }
        }
        drop(guard);
        Ok(LayerReport {
            diff_id: format!("sha256:{diff_hex}"),
            size,
            reused: !published,
            warnings,
        })
    }

    /// Registers an image from its OCI config JSON (kept byte for byte: the
    /// image id is its SHA-256), whose `rootfs.diff_ids` must all be stored
    /// layers, and tags it with `reference` (`repo[:tag]`) if given.
    /// Returns the image id.
    pub fn create_image(
        &self,
        config_json: &[u8],
        reference: Option<&str>,
    ) -> Result<String, GraphError> {
        let reference = reference
            .map(|r| import_reference(Some(r), None))
            .transpose()?
            .flatten();
        let config: ImageConfiguration =
            serde_json::from_slice(config_json).map_err(|source| GraphError::ImageConfig {
                image_id: format!("sha256:{}", sha256_hex(config_json)),
                source,
            })?;
        if config.os() != &oci_spec::image::Os::Linux {
            return Err(GraphError::InvalidImportOption {
                reason: format!(
                    "image operating system {:?} is not supported",
                    config.os().to_string()
                ),
            });
        }
        let (id, _, _) = self.commit_image(config_json, &config, reference, None)?;
        Ok(id)
    }

    /// Extracts a tar stream into a staging directory under `tmp/` and
    /// makes it durable. Dropping the result removes it.
    fn stage_layer(&self, source: impl Read) -> Result<StagedLayer, GraphError> {
        let (staging, diff) = self.staging_dir("layer-")?;
        fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(GraphError::io("set mode of", &diff))?;
        let hashing = HashingReader::new(decompressed(source)?);
        let mut archive = tar::Archive::new(hashing);
        let report = extract(
            &mut archive,
            &diff,
            ExtractOptions {
                format: self.whiteouts(),
                chown: self.chown,
            },
        )?;
        let (diff_hex, tar_len) =
            archive
                .into_inner()
                .finish()
                .map_err(|e| GraphError::InvalidArchive {
                    reason: "cannot read the end of the input".into(),
                    source: Some(e),
                })?;
        if report.entries == 0 && tar_len < 1024 {
            return Err(GraphError::InvalidArchive {
                reason: "the input holds no tar entries".into(),
                source: None,
            });
        }
        // Durability of the extracted files before they are published.
        fsutil::sync_filesystem(&diff)?;
        Ok(StagedLayer {
            staging,
            diff_hex,
            size: report.size,
            warnings: report.warnings,
        })
    }

    /// Moves a staged layer into `layers/` unless that layer is already
    /// stored (then the staging copy is dropped). Returns whether it was
    /// published; its record is the caller's to write.
    fn publish_layer_locked(&self, staged: StagedLayer) -> Result<bool, GraphError> {
        if self.store.get(LAYERS, &staged.diff_hex)?.is_some() {
            return Ok(false);
        }
        let layer_dir = self.layout.layer_dir(LayerKind::Layer, &staged.diff_hex);
        fsutil::remove_tree(&layer_dir)?;
        let staging = staged.staging.keep();
        if let Err(source) = fs::rename(&staging, &layer_dir) {
            let _ = fsutil::remove_tree(&staging);
            return Err(GraphError::Io {
                op: "publish layer at",
                path: layer_dir,
                source,
            });
        }
        let linked = fsutil::sync_dir(&self.layout.layers())
            .and_then(|()| self.create_link(LayerKind::Layer, &staged.diff_hex));
        if let Err(e) = linked {
            let _ = self.remove_layer_files(LayerKind::Layer, &staged.diff_hex);
            return Err(e);
        }
        Ok(true)
    }

    /// Consults the policy, then (under the lock) publishes the staged
    /// layer if any, writes the config blob and commits the records in one
    /// transaction; undoes the files on failure. Returns the image id, the
    /// familiar tag and whether the staged layer was already stored.
    fn commit_image(
        &self,
        config_bytes: &[u8],
        config: &ImageConfiguration,
        reference: Option<Reference>,
        staged: Option<StagedLayer>,
    ) -> Result<(String, Option<String>, bool), GraphError> {
        let image_hex = sha256_hex(config_bytes);
        let image_id = format!("sha256:{image_hex}");
        let mut chain = Vec::new();
        for diff_id in config.rootfs().diff_ids() {
            match diff_id.strip_prefix("sha256:") {
                Some(hex) if is_layer_id(hex) => chain.push(hex.to_owned()),
                _ => {
                    return Err(GraphError::InvalidImportOption {
                        reason: format!("diff id {diff_id:?} is not sha256:<64 hex>"),
                    });
                }
            }
        }
        if chain.is_empty() {
            return Err(GraphError::InvalidImportOption {
                reason: "the image config lists no layers".into(),
            });
        }

        // Ask the policy before anything becomes visible.
        let read = self.store.read()?;
        let mut layers = Vec::with_capacity(chain.len());
        let mut new_layers = Vec::new();
        for hex in &chain {
            match read.get(LAYERS, hex)? {
                Some(l) => layers.push(LayerInfo {
                    id: hex.clone(),
                    size: l.size,
                }),
                None => match &staged {
                    Some(s) if &s.diff_hex == hex => {
                        layers.push(LayerInfo {
                            id: hex.clone(),
                            size: s.size,
                        });
                        new_layers.push(hex.clone());
                    }
                    _ => {
                        return Err(GraphError::InvalidImportOption {
                            reason: format!("layer sha256:{hex} of the image is not stored"),
                        });
                    }
                },
            }
        }
        let request = ImportRequest {
            image_id: image_id.clone(),
            driver: self.driver.name().into(),
            layers: layers.clone(),
            new_layers,
            max_lower_dirs: self.max_lower_dirs(&"0".repeat(64)),
            flattened: self.flattened_infos(&read)?,
        };
        drop(read);
        let (_, plan) = self.plan(
            "import",
            &request,
            |policy, request| policy.plan_import(request),
            validate_import_plan,
        )?;

        let guard = self.lock();
        let staged_meta = staged.as_ref().map(|s| (s.diff_hex.clone(), s.size));
        let published = match staged {
            Some(s) => self.publish_layer_locked(s)?,
            None => false,
        };
        let blob = self.layout.blob(&image_hex);
        let blob_existed = blob.exists();
        let created = config.created().clone().unwrap_or_default();
        let created_unix = chrono::DateTime::parse_from_rfc3339(&created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let commit = || -> Result<(), GraphError> {
            if !blob_existed {
                write_blob(&blob, config_bytes, &image_hex)?;
            }
            let now = now_unix();
            let tag_time = reference
                .as_ref()
                .map(|_| now_rfc3339())
                .unwrap_or_default();
            self.store.write(|txn: &mut WriteTxn| {
                for hex in &chain {
                    // Between the lookup above and this lock, a gc may have
                    // removed a layer nothing referenced yet.
                    let stored = txn.contains(LAYERS, hex)?;
                    let ours = published && staged_meta.as_ref().is_some_and(|(h, _)| h == hex);
                    if ours {
                        let size = staged_meta.as_ref().map_or(0, |(_, s)| *s);
                        txn.put(LAYERS, hex, &LayerRecord::imported(hex, size, now))?;
                    } else if !stored {
                        return Err(GraphError::InvalidImportOption {
                            reason: format!("layer sha256:{hex} of the image is not stored"),
                        });
                    }
                }
                let mut record = txn.get(IMAGES, &image_hex)?.unwrap_or(ImageRecord {
                    id: image_hex.clone(),
                    layers: chain.clone(),
                    size: layers.iter().map(|l| l.size).sum(),
                    created: created.clone(),
                    created_unix,
                    last_tag_time: String::new(),
                });
                if reference.is_some() {
                    record.last_tag_time = tag_time.clone();
                }
                txn.put(IMAGES, &image_hex, &record)?;
                if let Some(r) = &reference {
                    txn.put(TAGS, &r.to_string(), &image_hex)?;
                }
                Ok::<_, GraphError>(())
            })
        };
        if let Err(e) = commit() {
            // Undo what became visible; the records were not written.
            if published && let Some((hex, _)) = &staged_meta {
                let _ = self.remove_layer_files(LayerKind::Layer, hex);
            }
            if !blob_existed {
                let _ = fs::remove_file(&blob);
            }
            return Err(e);
        }
        drop(guard);
        for run in &plan.flatten {
            let base = chain.starts_with(&run.layers);
            if let Err(e) = self.ensure_flattened(&run.layers, base) {
                tracing::warn!(error = %e, "cannot pre-build a flattened layer");
            }
        }
        let reused = staged_meta.is_some() && !published;
        Ok((
            image_id,
            reference.as_ref().map(Reference::familiar),
            reused,
        ))
    }

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
                reason: "refusing to create a tag with a digest reference".into(),
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

    /// Docker's `rmi`: removes a tag, and the image when its last tag goes
    /// and no container uses it; see the crate docs for the exact rules.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteRecord>, GraphError> {
        let guard = self.lock();
        let read = self.store.read()?;
        let resolved = resolve_in(&read, name)?;
        let hex = resolved.image.id.clone();
        let short = &hex[..12];
        let tags = read.list(TAGS)?;
        let refs = tags_of(&tags, &hex);
        let users: Vec<(String, bool)> = read
            .list(ROOTFS)?
            .into_iter()
            .filter(|(_, r)| r.image_id == hex)
            .map(|(id, r)| (id, r.mounted))
            .collect();

        let mut records = Vec::new();
        let mut untag: Vec<Reference> = Vec::new();
        let mut removed_named_ref = false;
        let by_id = resolved.by_ref.is_none();
        if let Some(named) = resolved.by_ref {
            if refs.len() <= 1
                && !force
                && let Some((cid, _)) = users.first()
            {
                return Err(GraphError::Conflict {
                    message: format!(
                        "unable to remove repository reference {name:?} (must force) - container \
                         {} is using its referenced image {short}",
                        &cid[..12.min(cid.len())]
                    ),
                });
            }
            untag.push(named);
            removed_named_ref = true;
        } else {
            // By id: all references go when they are all in one repository
            // or when forced; otherwise Docker refuses.
            let repos: std::collections::BTreeSet<String> =
                refs.iter().map(Reference::name).collect();
            if repos.len() > 1 && !force {
                return Err(GraphError::Conflict {
                    message: format!(
                        "unable to delete {short} (must be forced) - image is referenced in \
                         multiple repositories"
                    ),
                });
            }
        }
        let remaining = refs.len() - untag.len();
        // Conflicts for deleting the image itself: a mounted rootfs (a
        // running container) always blocks; an unmounted one blocks unless
        // forced.
        let delete_image = remaining == 0 || by_id;
        let conflict = if !delete_image {
            None
        } else if let Some((cid, _)) = users.iter().find(|(_, mounted)| *mounted) {
            Some(format!(
                "unable to delete {short} (cannot be forced) - image is being used by running \
                 container {}",
                &cid[..12.min(cid.len())]
            ))
        } else if let (false, Some((cid, _))) = (force, users.first()) {
            Some(format!(
                "unable to delete {short} (must be forced) - image is being used by stopped \
                 container {}",
                &cid[..12.min(cid.len())]
            ))
        } else {
            None
        };
        if let Some(message) = &conflict
            && !removed_named_ref
        {
            return Err(GraphError::Conflict {
                message: message.clone(),
            });
        }
        let delete_image = delete_image && conflict.is_none();
        if delete_image && by_id {
            untag = refs.clone();
        }
        self.store.write(|txn| {
            for r in &untag {
                if txn.delete(TAGS, &r.to_string())? {
                    records.push(DeleteRecord::Untagged(r.familiar()));
                }
            }
            if delete_image {
                txn.delete(IMAGES, &hex)?;
                records.push(DeleteRecord::Deleted(format!("sha256:{hex}")));
            }
            Ok::<_, GraphError>(())
        })?;
        if delete_image {
            let _ = fs::remove_file(self.layout.blob(&hex));
        }
        drop(guard);
        if delete_image {
            // Layers that no image or container needs any more go now, as
            // the policy decides. The image is gone whatever happens here; a
            // failing policy only delays the layers to the next gc.
            match self.gc() {
                Ok(report) => records.extend(
                    report
                        .removed
                        .into_iter()
                        .map(|id| DeleteRecord::Deleted(format!("sha256:{id}"))),
                ),
                Err(e) => tracing::warn!(error = %e, "layer gc after image removal failed"),
            }
        }
        Ok(records)
    }
}

fn write_blob(path: &std::path::Path, bytes: &[u8], expected_hex: &str) -> Result<(), GraphError> {
    let actual = sha256_hex(bytes);
    if actual != expected_hex {
        return Err(GraphError::DigestMismatch {
            path: PathBuf::from(path),
            expected: format!("sha256:{expected_hex}"),
            actual: format!("sha256:{actual}"),
        });
    }
    berth_fsutil::write_atomic(path, bytes, 0o600).map_err(|e| GraphError::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}
