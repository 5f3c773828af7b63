//! `image_push`: an image from the graph to a registry, as dockerd's
//! `distribution/push_v2.go` does it, with its progress stream.
//!
//! Per layer (at most [`MAX_CONCURRENT_UPLOADS`] at once, dockerd's
//! default): a blob the daemon knows the layer travels as
//! ([`super::distribution`]) is looked for in the target repository
//! (`HEAD`, "Layer already exists") and mounted from another repository of
//! the same registry ("Mounted from ..."); otherwise the layer is written
//! as a tar, gzip-compressed deterministically into a temp file under the
//! graph's scratch dir (hashed on the way; never a whole layer in memory)
//! and uploaded ("Pushing", "Pushed"). Then the config blob, then the
//! manifest (Docker v2 schema 2); the digest reported is the registry's.
//!
//! The graph writes a layer back as the tar it came in (it keeps a record
//! of the tar beside the layer), so a pushed image keeps its diff ids and
//! its id. A layer stored by an older berth has no record: written as
//! berth's own tar, its diff id in the pushed config is then that of the
//! tar pushed, so the pushed image is consistent (it gets a new id, as
//! with `save`).
//! A layer pulled from the target registry is never recompressed: its
//! original blob is found or mounted. A layer pulled from anywhere as gzip
//! is not recompressed either: the graph keeps the blob it came in, and
//! that is uploaded as it is (after its digest is checked).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

use berth_api::image::{ErrorDetail, ProgressDetail, ProgressMessage};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Daemon;
use super::blocking::BlockingKind;
use super::distribution::BlobRecord;
use super::pull::{progress, short_id};
use super::transfer::{self, unless_cancelled, unless_cancelled_now};
use crate::driver::{
    LayerHold, PushTarget, RegistryAuth, RegistryService, RemoteLayer, RemoteName,
};
use crate::job::{ErrorKind, JobError, JobOutput};

/// Layers uploaded at once by one push (dockerd's
/// `--max-concurrent-uploads` default).
pub const MAX_CONCURRENT_UPLOADS: usize = 5;

/// A "Pushing" line at most every this many bytes of a layer.
const PROGRESS_STEP: u64 = 512 * 1024;

/// Docker's image manifest, v2 schema 2.
pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_V1: &str = "application/vnd.docker.container.image.v1+json";
const LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What `POST /images/{name}/push` asks for.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// `[registry/]repo[:tag]` as the client named it.
    pub name: String,
    /// The tag; empty pushes every local tag of the repository (moby).
    pub tag: String,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// A layer as pushed: its blob and the tar that blob holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushedLayer {
    /// The blob's digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// The digest of the tar it holds.
    pub diff_id: String,
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `registry/repository`, the key the distribution records use.
fn repo_key(name: &RemoteName) -> String {
    format!("{}/{}", name.registry, name.repository)
}

/// Passes bytes to `inner` while hashing and counting them.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The digest and size of the file at `path`.
fn file_digest(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut hashing = HashingWriter::new(std::io::sink());
    let mut file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    std::io::copy(&mut file, &mut hashing)?;
    let (_, digest, size) = hashing.finish();
    Ok((digest, size))
}

/// A layer compressed into a temp file.
struct Compressed {
    file: tempfile::NamedTempFile,
    layer: PushedLayer,
}

/// Writes the tar `write` produces, gzip-compressed, into a temp file
/// under `dir`, hashing the tar and the blob as they go. The gzip stream is
/// deterministic (fixed level, no name, mtime 0 in the header), so the same
/// tar always gives the same blob digest.
fn compress(
    dir: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), JobError>,
) -> Result<Compressed, JobError> {
    let io = |what: &str, e: std::io::Error| JobError::internal(what, &e);
    let file = tempfile::Builder::new()
        .prefix("push-")
        .tempfile_in(dir)
        .map_err(|e| io("failed to create a blob file", e))?;
    let out = std::io::BufWriter::with_capacity(
        256 * 1024,
        file.reopen()
            .map_err(|e| io("failed to open a blob file", e))?,
    );
    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(HashingWriter::new(out), flate2::Compression::fast());
    let mut tar = HashingWriter::new(gzip);
    write(&mut tar)?;
    let (gzip, diff_id, _) = tar.finish();
    let compressed = gzip
        .finish()
        .map_err(|e| io("failed to compress a layer", e))?;
    let (mut out, digest, size) = compressed.finish();
    out.flush()
        .map_err(|e| io("failed to write a blob file", e))?;
    Ok(Compressed {
        file,
        layer: PushedLayer {
            digest,
            size,
            diff_id,
        },
    })
}

/// The image manifest, Docker v2 schema 2 (fields in the order dockerd
/// writes them, so that the same image always gives the same digest).
fn manifest(config_digest: &str, config_size: u64, layers: &[PushedLayer]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Descriptor<'a> {
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        size: u64,
        digest: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Manifest<'a> {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        config: Descriptor<'a>,
        layers: Vec<Descriptor<'a>>,
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_V2,
        config: Descriptor {
            media_type: CONFIG_V1,
            size: config_size,
            digest: config_digest,
        },
        layers: layers
            .iter()
            .map(|l| Descriptor {
                media_type: LAYER_GZIP,
                size: l.size,
                digest: &l.digest,
            })
            .collect(),
    };
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_vec_pretty(&manifest).unwrap_or_default()
}

/// The config's `rootfs.diff_ids`.
fn config_diff_ids(config: &[u8]) -> Result<Vec<String>, JobError> {
    let value: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| JobError::internal("the stored image config is not JSON", &e))?;
    value["rootfs"]["diff_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| {
            JobError::new(
                ErrorKind::Internal,
                "the stored image config has no rootfs.diff_ids",
            )
        })
}

/// The config with `rootfs.diff_ids` replaced (the tars pushed differ from
/// the ones the layers came in).
fn rewrite_diff_ids(config: &[u8], diff_ids: &[String]) -> Result<Vec<u8>, JobError> {
    let mut value: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| JobError::internal("the stored image config is not JSON", &e))?;
    value["rootfs"]["diff_ids"] = serde_json::json!(diff_ids);
    serde_json::to_vec(&value).map_err(|e| JobError::internal("failed to encode a config", &e))
}

impl Daemon {
    fn registry_driver(&self) -> Result<Arc<dyn RegistryService>, JobError> {
        self.registry.get().map(Arc::clone).ok_or_else(|| {
            JobError::new(
                ErrorKind::NotImplemented,
                "this daemon has no registry driver",
            )
        })
    }

    /// Pushes `request`'s image, writing Docker's progress lines to `out`.
    /// A reference that does not parse is an HTTP error; every later error
    /// is also written in-band (`errorDetail`) after the first line, as
    /// moby does.
    pub(crate) async fn image_push(
        &self,
        request: PushRequest,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        let registry = self.registry_driver()?;
        let remote = registry.remote_name(&request.name, &request.tag)?;
        // moby `distribution.Push`: the repository's full name.
        out.write_json(&progress(
            format!("The push refers to repository [{}]", repo_key(&remote)),
            "",
        ))
        .await?;
        let all_tags = request.tag.is_empty()
            && !request
                .name
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'));
        let result = async {
            let tags = if all_tags {
                self.local_tags(&remote).await?
            } else {
                vec![remote.tag.clone()]
            };
            for tag in tags {
                let target = PushTarget {
                    name: RemoteName {
                        tag,
                        ..remote.clone()
                    },
                    auth: request.auth.clone(),
                };
                self.push_tag(&registry, target, out).await?;
            }
            Ok::<(), JobError>(())
        }
        .await;
        if let Err(e) = &result {
            let message = e.to_string();
            // The reader may be gone; the error is returned either way.
            let _ = out
                .write_json(&ProgressMessage {
                    error: Some(message.clone()),
                    error_detail: Some(ErrorDetail { message }),
                    ..ProgressMessage::default()
                })
                .await;
        }
        result
    }

    /// The local tags of `remote`'s repository; moby's error if none.
    async fn local_tags(&self, remote: &RemoteName) -> Result<Vec<String>, JobError> {
        let images = Arc::clone(self.images());
        let list = self
            .blocking(BlockingKind::ImageMetadata, move || images.list())
            .await?;
        let prefix = format!("{}:", remote.familiar);
        let tags: BTreeSet<String> = list
            .iter()
            .flat_map(|i| i.repo_tags.iter())
            .filter_map(|t| t.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        if tags.is_empty() {
            return Err(not_local(&remote.familiar));
        }
        Ok(tags.into_iter().collect())
    }

    async fn push_tag(
        &self,
        registry: &Arc<dyn RegistryService>,
        target: PushTarget,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        let familiar = format!("{}:{}", target.name.familiar, target.name.tag);
        let images = Arc::clone(self.images());
        let (id, config) = {
            let (images, name) = (Arc::clone(&images), familiar.clone());
            self.blocking(BlockingKind::ImageMetadata, move || {
                images.image_config(&name)
            })
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => not_local(&target.name.familiar),
                _ => e,
            })?
        };
        let diff_ids = config_diff_ids(&config)?;
        let holds: Vec<LayerHold> = {
            let (images, ids) = (Arc::clone(&images), diff_ids.clone());
            self.blocking(BlockingKind::ImageMetadata, move || {
                ids.iter()
                    .map(|d| {
                        images.hold_layer(d)?.ok_or_else(|| {
                            JobError::new(ErrorKind::Internal, format!("layer {d} is not stored"))
                        })
                    })
                    .collect()
            })
            .await?
        };
        registry.push_authorize(target.clone()).await?;
        for d in &diff_ids {
            out.write_json(&progress("Preparing", &short_id(d))).await?;
        }
        let layers = self.push_layers(registry, &target, &diff_ids, out).await?;

        let pushed_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let (config, config_digest) = if pushed_ids == diff_ids {
            (config, id)
        } else {
            let config = rewrite_diff_ids(&config, &pushed_ids)?;
            let digest = sha256_digest(&config);
            (config, digest)
        };
        if !registry
            .blob_exists(target.clone(), config_digest.clone())
            .await?
        {
            let scratch = {
                let (images, config) = (Arc::clone(&images), config.clone());
                self.blocking(BlockingKind::ImageMetadata, move || {
                    let dir = images.scratch_dir()?;
                    let mut file = tempfile::Builder::new()
                        .prefix("push-config-")
                        .tempfile_in(&dir)
                        .map_err(|e| JobError::internal("failed to create a blob file", &e))?;
                    file.write_all(&config)
                        .map_err(|e| JobError::internal("failed to write a blob file", &e))?;
                    Ok(file)
                })
                .await?
            };
            let blob = RemoteLayer {
                digest: config_digest.clone(),
                size: config.len() as u64,
            };
            registry
                .push_blob(
                    target.clone(),
                    blob,
                    scratch.path().to_owned(),
                    Box::new(|_| {}),
                )
                .await?;
            drop(scratch);
        }
        let body = manifest(&config_digest, config.len() as u64, &layers);
        let size = body.len();
        let digest = registry
            .push_manifest(target.clone(), body, MANIFEST_V2.to_owned())
            .await?;
        drop(holds);
        // moby's line (distribution/push_v2.go, `pushTag`).
        out.write_json(&progress(
            format!("{}: digest: {digest} size: {size}", target.name.tag),
            "",
        ))
        .await?;
        self.events().publish(
            "image",
            "push",
            &familiar,
            BTreeMap::from([("name".to_owned(), familiar.clone())]),
        );
        Ok(())
    }

    async fn push_layers(
        &self,
        registry: &Arc<dyn RegistryService>,
        target: &PushTarget,
        diff_ids: &[String],
        out: &JobOutput,
    ) -> Result<Vec<PushedLayer>, JobError> {
        transfer::run(
            diff_ids.to_vec(),
            MAX_CONCURRENT_UPLOADS,
            out,
            |diff_id, tx, cancel| async move {
                self.push_layer(registry, target, &diff_id, tx, &cancel)
                    .await
            },
        )
        .await
    }

    /// Makes one layer's blob present in the target repository. When
    /// `cancel` fires (another layer failed), its registry round trips stop;
    /// a compression already started is awaited, so its temp file is gone
    /// when this returns.
    async fn push_layer(
        &self,
        registry: &Arc<dyn RegistryService>,
        target: &PushTarget,
        diff_id: &str,
        tx: mpsc::UnboundedSender<ProgressMessage>,
        cancel: &CancellationToken,
    ) -> Result<PushedLayer, JobError> {
        let id = short_id(diff_id);
        let send = |m: ProgressMessage| {
            // The writer only stops when the whole push does.
            let _ = tx.send(m);
        };
        let here = repo_key(&target.name);
        let records = {
            let (store, d) = (Arc::clone(&self.distribution), diff_id.to_owned());
            self.blocking(BlockingKind::ImageMetadata, move || Ok(store.records(&d)))
                .await?
        };
        for record in &records {
            let layer = PushedLayer {
                digest: record.digest.clone(),
                size: record.size,
                diff_id: record.diff_id.clone(),
            };
            if unless_cancelled(
                cancel,
                registry.blob_exists(target.clone(), record.digest.clone()),
            )
            .await?
            {
                send(progress("Layer already exists", &id));
                self.remember(diff_id, &layer, &here).await;
                return Ok(layer);
            }
            let prefix = format!("{}/", target.name.registry);
            for from in &record.repositories {
                let Some(repository) = from.strip_prefix(&prefix) else {
                    continue;
                };
                if *from == here {
                    continue;
                }
                let mounted = cancel
                    .run_until_cancelled(registry.mount_blob(
                        target.clone(),
                        record.digest.clone(),
                        repository.to_owned(),
                    ))
                    .await;
                if mounted == Some(true) {
                    send(progress(format!("Mounted from {repository}"), &id));
                    self.remember(diff_id, &layer, &here).await;
                    return Ok(layer);
                }
            }
        }
        // Another layer failed while the registry was asked: no reading or
        // compressing of this one.
        unless_cancelled_now(cancel)?;
        // A blob the layer was pulled as, kept by the graph: sent as it
        // came, byte for byte, without writing or compressing the layer.
        if let Some((layer, blob)) = self.kept_blob(diff_id, &records).await {
            unless_cancelled(
                cancel,
                self.upload(registry, target, &layer, &blob, &id, &tx),
            )
            .await?;
            send(progress("Pushed", &id));
            self.remember(diff_id, &layer, &here).await;
            return Ok(layer);
        }
        // No known blob in reach: write the layer and compress it.
        let compressed = {
            let (images, d) = (Arc::clone(self.images()), diff_id.to_owned());
            self.blocking(BlockingKind::ImageContent, move || {
                let dir = images.scratch_dir()?;
                compress(&dir, |out| images.write_layer(&d, out))
            })
            .await?
        };
        let layer = compressed.layer.clone();
        // Our own compression is worth remembering before the upload.
        self.remember(diff_id, &layer, "").await;
        if unless_cancelled(
            cancel,
            registry.blob_exists(target.clone(), layer.digest.clone()),
        )
        .await?
        {
            send(progress("Layer already exists", &id));
            self.remember(diff_id, &layer, &here).await;
            return Ok(layer);
        }
        unless_cancelled(
            cancel,
            self.upload(registry, target, &layer, compressed.file.path(), &id, &tx),
        )
        .await?;
        drop(compressed);
        send(progress("Pushed", &id));
        self.remember(diff_id, &layer, &here).await;
        Ok(layer)
    }

    /// Uploads the file `blob` as `layer`'s blob, with "Pushing" lines.
    async fn upload(
        &self,
        registry: &Arc<dyn RegistryService>,
        target: &PushTarget,
        layer: &PushedLayer,
        blob: &std::path::Path,
        id: &str,
        tx: &mpsc::UnboundedSender<ProgressMessage>,
    ) -> Result<(), JobError> {
        let total = layer.size;
        let (progress_tx, progress_id) = (tx.clone(), id.to_owned());
        let mut last = 0u64;
        registry
            .push_blob(
                target.clone(),
                RemoteLayer {
                    digest: layer.digest.clone(),
                    size: layer.size,
                },
                blob.to_owned(),
                Box::new(move |current| {
                    if current == total || current - last >= PROGRESS_STEP {
                        last = current;
                        let _ = progress_tx.send(ProgressMessage {
                            progress_detail: Some(ProgressDetail { current, total }),
                            ..progress("Pushing", &progress_id)
                        });
                    }
                }),
            )
            .await
    }

    /// The first of `records` whose blob the graph kept for the layer
    /// `diff_id` and whose file still hashes to its digest (a kept blob is
    /// not synced; after a crash it may be cut short). A blob that does not
    /// check out is logged and skipped: the layer is then recompressed.
    async fn kept_blob(
        &self,
        diff_id: &str,
        records: &[BlobRecord],
    ) -> Option<(PushedLayer, std::path::PathBuf)> {
        let (images, d, records) = (
            Arc::clone(self.images()),
            diff_id.to_owned(),
            records.to_vec(),
        );
        let found = self
            .blocking(BlockingKind::ImageContent, move || {
                for record in records {
                    // A record berth compressed itself may name a tar other
                    // than the stored layer's; only the pulled ones are kept.
                    if record.diff_id != d {
                        continue;
                    }
                    let Some(path) = images.layer_blob(&d, &record.digest)? else {
                        continue;
                    };
                    match file_digest(&path) {
                        Ok((digest, size)) if digest == record.digest && size == record.size => {
                            let layer = PushedLayer {
                                digest: record.digest,
                                size: record.size,
                                diff_id: record.diff_id,
                            };
                            return Ok(Some((layer, path)));
                        }
                        Ok((digest, size)) => tracing::warn!(
                            layer = %d, blob = %path.display(), %digest, size,
                            expected = %record.digest, "a kept layer blob does not match its digest"
                        ),
                        Err(e) => tracing::warn!(
                            layer = %d, blob = %path.display(), error = %e,
                            "cannot read a kept layer blob"
                        ),
                    }
                }
                Ok(None)
            })
            .await;
        found.unwrap_or_else(|e| {
            tracing::warn!(layer = %diff_id, error = %e, "cannot look up a kept layer blob");
            None
        })
    }

    /// Records that the stored layer `diff_id` travels as `layer`, held by
    /// `repository` (if not empty). A failure only costs a later
    /// recompression, so it is logged, not returned.
    pub(crate) async fn remember(&self, diff_id: &str, layer: &PushedLayer, repository: &str) {
        let record = BlobRecord {
            digest: layer.digest.clone(),
            size: layer.size,
            diff_id: layer.diff_id.clone(),
            repositories: if repository.is_empty() {
                BTreeSet::new()
            } else {
                BTreeSet::from([repository.to_owned()])
            },
        };
        let (store, d) = (Arc::clone(&self.distribution), diff_id.to_owned());
        if let Err(e) = self
            .blocking(BlockingKind::ImageMetadata, move || store.add(&d, record))
            .await
        {
            tracing::warn!(layer = %diff_id, error = %e, "cannot record a layer's blob");
        }
    }
}

/// moby's text (distribution/push_v2.go), with the familiar name.
fn not_local(familiar: &str) -> JobError {
    JobError::not_found(format!(
        "An image does not exist locally with the tag: {familiar}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tar_of(content: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "f", content).expect("append");
        b.into_inner().expect("tar")
    }

    #[test]
    fn a_layer_compresses_to_the_same_blob_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tar = tar_of(&b"berth ".repeat(100_000));
        let run = || {
            compress(dir.path(), |out| {
                out.write_all(&tar)
                    .map_err(|e| JobError::internal("write", &e))
            })
            .expect("compress")
        };
        let (a, b) = (run(), run());
        assert_eq!(a.layer, b.layer);
        assert_eq!(a.layer.diff_id, sha256_digest(&tar));
        let blob = std::fs::read(a.file.path()).expect("blob");
        assert_eq!(blob.len() as u64, a.layer.size);
        assert_eq!(sha256_digest(&blob), a.layer.digest);
        assert!(blob.len() < tar.len() / 10, "compressed: {}", blob.len());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
        assert_eq!(plain, tar);
        // A failing writer fails the compression.
        let err = compress(dir.path(), |_| Err(JobError::invalid("gone"))).err();
        assert_eq!(err.map(|e| e.message), Some("gone".to_owned()));
    }

    #[test]
    fn the_manifest_is_docker_schema_2_and_stable() {
        let layers = vec![PushedLayer {
            digest: format!("sha256:{}", "b".repeat(64)),
            size: 7,
            diff_id: String::new(),
        }];
        let config = format!("sha256:{}", "c".repeat(64));
        let body = manifest(&config, 3, &layers);
        assert_eq!(body, manifest(&config, 3, &layers));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], MANIFEST_V2);
        assert_eq!(v["config"]["mediaType"], CONFIG_V1);
        assert_eq!(v["config"]["digest"], config.as_str());
        assert_eq!(v["config"]["size"], 3);
        assert_eq!(v["layers"][0]["mediaType"], LAYER_GZIP);
        assert_eq!(v["layers"][0]["size"], 7);
    }

    #[test]
    fn a_config_s_diff_ids_are_read_and_replaced() {
        let config =
            br#"{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:a"]}}"#;
        assert_eq!(config_diff_ids(config).expect("ids"), vec!["sha256:a"]);
        let rewritten = rewrite_diff_ids(config, &["sha256:b".to_owned()]).expect("rewrite");
        assert_eq!(config_diff_ids(&rewritten).expect("ids"), vec!["sha256:b"]);
        assert!(config_diff_ids(b"{}").is_err());
        assert!(config_diff_ids(b"nope").is_err());
    }
}
