//! Image import: a tarball or a pulled layer staged, checked and
//! published, and an image config committed with its records.

use std::fs;
use std::io::Read;
use std::path::PathBuf;

use berth_store::WriteTxn;
use oci_spec::image::{
    Config, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, RootFsBuilder,
};

use super::{ImportOptions, ImportReport, LayerReport};
use crate::changes::{Platform, apply_changes};
use crate::compress::{HashingReader, decompressed, sha256_hex};
use crate::error::GraphError;
use crate::extract::{ExtractOptions, extract};
use crate::fsutil;
use crate::graph::{Graph, now_rfc3339, now_unix};
use crate::policy::{ImportPlan, ImportRequest, LayerInfo, is_layer_id, validate_import_plan};
use crate::records::{IMAGES, ImageRecord, LAYERS, LayerKind, LayerRecord, TAGS};
use crate::reference::Reference;
use crate::tarsplit::{SPLIT_FILE, SplitHandle, SplitReader};

/// A layer extracted into `tmp/`, not yet published.
pub(super) struct StagedLayer {
    staging: tempfile::TempDir,
    pub(super) diff_hex: String,
    pub(super) size: u64,
    pub(super) warnings: Vec<String>,
}

/// The reference an import tags, from the API's `repo` and `tag`.
pub(super) fn import_reference(
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
        let platform = Platform::parse(options.platform.as_deref().unwrap_or(""))?;
        let mut container_config = Config::default();
        apply_changes(&mut container_config, &options.changes)?;

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
        let (image_id, tagged, published) = self.commit_image(
            &config_bytes,
            &image_config,
            reference.into_iter().collect(),
            vec![staged],
        )?;
        let tagged = tagged.into_iter().next();
        let layer_reused = published == 0;
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
        let (id, _, _) = self.commit_image(
            config_json,
            &config,
            reference.into_iter().collect(),
            Vec::new(),
        )?;
        Ok(id)
    }

    /// Extracts a tar stream into a staging directory under `tmp/` and
    /// makes it durable. Dropping the result removes it.
    ///
    /// The input is read to its very end, even past the end of the
    /// compressed stream: a streamed source (a pull's blob being fetched)
    /// reports its failure only there (a digest mismatch), and nothing may
    /// be staged, so published, before it has.
    pub(super) fn stage_layer(&self, mut source: impl Read) -> Result<StagedLayer, GraphError> {
        let (staging, diff) = self.staging_dir("layer-")?;
        fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(GraphError::io("set mode of", &diff))?;
        let hashing = HashingReader::new(decompressed(&mut source)?);
        // The tar as it came, to write the layer back byte for byte.
        let record = staging.path().join(SPLIT_FILE);
        let split = SplitHandle::create(&record).map_err(GraphError::io("create", &record))?;
        let mut archive = tar::Archive::new(SplitReader::new(hashing, Some(split.clone())));
        let report = extract(
            &mut archive,
            &diff,
            ExtractOptions {
                format: self.whiteouts(),
                chown: self.chown,
            },
            Some(split.clone()),
        )?;
        let end_err = |e| GraphError::InvalidArchive {
            reason: "cannot read the end of the input".into(),
            source: Some(e),
        };
        let hashing = archive.into_inner().finish().map_err(end_err)?;
        let (diff_hex, tar_len) = hashing.finish().map_err(end_err)?;
        // Usually nothing is left (the decompressors and the hashing reader
        // read to the end); what is left is not part of the layer.
        std::io::copy(&mut source, &mut std::io::sink()).map_err(end_err)?;
        if !split.finish().map_err(GraphError::io("write", &record))? {
            fs::remove_file(&record).map_err(GraphError::io("remove", &record))?;
        }
        if report.entries == 0 && tar_len < 1024 {
            return Err(GraphError::InvalidArchive {
                reason: "the input holds no tar entries".into(),
                source: None,
            });
        }
        // Durability of the extracted files before they are published (the
        // staging root too: its entry `diff`; publishing renames the root
        // and syncs `layers/`). Records are the truth: a layer is recorded
        // only once this has returned.
        let how = fsutil::sync_tree(staging.path(), fsutil::sync_each_max(report.size))?;
        tracing::debug!(layer = %diff_hex, ?how, "staged layer made durable");
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

    /// Consults the policy, then (under the lock, so that no gc runs
    /// between a layer's publication and the image record that references
    /// it) publishes the staged layers, writes the config blob and commits
    /// the records in one transaction; undoes the files on failure. Returns
    /// the image id, the familiar tags and how many staged layers were
    /// published (the others were stored already).
    pub(super) fn commit_image(
        &self,
        config_bytes: &[u8],
        config: &ImageConfiguration,
        references: Vec<Reference>,
        staged: Vec<StagedLayer>,
    ) -> Result<(String, Vec<String>, usize), GraphError> {
        let image_hex = sha256_hex(config_bytes);
        let image_id = format!("sha256:{image_hex}");
        let chain = layer_chain(config)?;
        // Ask the policy before anything becomes visible.
        let (layers, plan) = self.plan_image_import(&image_id, &chain, &staged)?;
        let created = config.created().clone().unwrap_or_default();
        let created_unix = chrono::DateTime::parse_from_rfc3339(&created)
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let pending = PendingImage {
            image_hex,
            config_bytes,
            chain,
            size: layers.iter().map(|l| l.size).sum(),
            created,
            created_unix,
            references,
        };

        let guard = self.lock();
        let mut ours: Vec<(String, u64)> = Vec::new();
        for s in staged {
            let meta = (s.diff_hex.clone(), s.size);
            match self.publish_layer_locked(s) {
                Ok(true) => ours.push(meta),
                Ok(false) => {}
                Err(e) => {
                    // Nothing references the layers published so far.
                    for (hex, _) in &ours {
                        let _ = self.remove_layer_files(LayerKind::Layer, hex);
                    }
                    return Err(e);
                }
            }
        }
        self.write_image_locked(&pending, &ours)?;
        drop(guard);
        for run in &plan.flatten {
            let base = pending.chain.starts_with(&run.layers);
            if let Err(e) = self.ensure_flattened(&run.layers, base) {
                tracing::warn!(error = %e, "cannot pre-build a flattened layer");
            }
        }
        Ok((
            image_id,
            pending.references.iter().map(Reference::familiar).collect(),
            ours.len(),
        ))
    }

    /// Asks the layout policy about an import of the layers `chain`, each
    /// stored already or the `staged` one. Returns the layers with their
    /// sizes and the validated plan.
    fn plan_image_import(
        &self,
        image_id: &str,
        chain: &[String],
        staged: &[StagedLayer],
    ) -> Result<(Vec<LayerInfo>, ImportPlan), GraphError> {
        let read = self.store.read()?;
        let mut layers = Vec::with_capacity(chain.len());
        let mut new_layers = Vec::new();
        for hex in chain {
            let size = match (
                read.get(LAYERS, hex)?,
                staged.iter().find(|s| &s.diff_hex == hex),
            ) {
                (Some(l), _) => l.size,
                (None, Some(s)) => {
                    if !new_layers.contains(hex) {
                        new_layers.push(hex.clone());
                    }
                    s.size
                }
                (None, None) => {
                    return Err(GraphError::InvalidImportOption {
                        reason: format!("layer sha256:{hex} of the image is not stored"),
                    });
                }
            };
            layers.push(LayerInfo {
                id: hex.clone(),
                size,
            });
        }
        let request = ImportRequest {
            image_id: image_id.to_owned(),
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
        Ok((layers, plan))
    }

    /// Under the graph lock: writes the config blob and the image's records
    /// in one transaction. `ours` are the layers this import just published
    /// (their records are written here); on failure they and a new blob are
    /// removed again.
    fn write_image_locked(
        &self,
        pending: &PendingImage<'_>,
        ours: &[(String, u64)],
    ) -> Result<(), GraphError> {
        let blob = self.layout.blob(&pending.image_hex);
        let blob_existed = blob.exists();
        let commit = || -> Result<(), GraphError> {
            if !blob_existed {
                write_blob(&blob, pending.config_bytes, &pending.image_hex)?;
            }
            let now = now_unix();
            let tag_time = if pending.references.is_empty() {
                String::new()
            } else {
                now_rfc3339()
            };
            self.store
                .write(|txn: &mut WriteTxn| put_image_records(txn, pending, ours, now, &tag_time))
        };
        if let Err(e) = commit() {
            // Undo what became visible; the records were not written.
            for (hex, _) in ours {
                let _ = self.remove_layer_files(LayerKind::Layer, hex);
            }
            if !blob_existed {
                let _ = fs::remove_file(&blob);
            }
            return Err(e);
        }
        Ok(())
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

/// An image about to be committed, its layers approved by the policy.
struct PendingImage<'a> {
    image_hex: String,
    /// The config JSON, stored byte for byte (the id is its SHA-256).
    config_bytes: &'a [u8],
    /// Diff ids (hex), lowest layer first.
    chain: Vec<String>,
    size: u64,
    created: String,
    created_unix: i64,
    references: Vec<Reference>,
}

/// The image's layers (hex diff ids, lowest first) from its config.
fn layer_chain(config: &ImageConfiguration) -> Result<Vec<String>, GraphError> {
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
    Ok(chain)
}

/// The records of an import, in the caller's transaction: the layers this
/// import published (`ours`), the image and its tags.
fn put_image_records(
    txn: &mut WriteTxn,
    pending: &PendingImage<'_>,
    ours: &[(String, u64)],
    now: i64,
    tag_time: &str,
) -> Result<(), GraphError> {
    for hex in &pending.chain {
        match ours.iter().find(|(h, _)| h == hex) {
            Some((h, size)) => {
                txn.put(LAYERS, h, &LayerRecord::imported(h, *size, now))?;
            }
            // Between the policy's lookup and the lock, a gc may have
            // removed a layer nothing referenced yet.
            _ if !txn.contains(LAYERS, hex)? => {
                return Err(GraphError::InvalidImportOption {
                    reason: format!("layer sha256:{hex} of the image is not stored"),
                });
            }
            _ => {}
        }
    }
    let mut record = txn
        .get(IMAGES, &pending.image_hex)?
        .unwrap_or_else(|| ImageRecord {
            id: pending.image_hex.clone(),
            layers: pending.chain.clone(),
            size: pending.size,
            created: pending.created.clone(),
            created_unix: pending.created_unix,
            last_tag_time: String::new(),
        });
    if !pending.references.is_empty() {
        record.last_tag_time = tag_time.to_owned();
    }
    txn.put(IMAGES, &pending.image_hex, &record)?;
    for r in &pending.references {
        txn.put(TAGS, &r.to_string(), &pending.image_hex)?;
    }
    Ok(())
}
