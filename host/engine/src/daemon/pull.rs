//! `image_pull`: an image from a registry into the graph, as dockerd's
//! `distribution/pull_v2.go` does it, with its progress stream.
//!
//! The registry driver resolves the reference to one manifest and the
//! image config; every layer not stored yet is streamed into a temp file
//! under the graph's scratch dir (verified there) and, at the same time,
//! extracted through the graph (`add_layer`, which checks the diff id) from
//! a bounded stream of the same bytes ([`super::blob_stream`]) — at most
//! [`MAX_CONCURRENT_DOWNLOADS`] at once, dockerd's default. The image is
//! created last, so a failed or killed pull leaves no image, and its temp
//! files are removed (on drop, or when the graph next opens).
//!
//! Two pulls that need the same layer take turns on it: the second waits
//! for the first and then finds the layer stored ("Already exists"), as
//! dockerd's download manager shares one download.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

use berth_api::image::{ErrorDetail, ProgressDetail, ProgressMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Daemon;
use super::blob_stream::{BlobReader, blob_stream};
use super::blocking::BlockingKind;
use super::transfer::{self, unless_cancelled, unless_cancelled_now};
use crate::driver::{LayerHold, PullRequest, RegistryAuth, RemoteImage, RemoteLayer};
use crate::job::{ErrorKind, JobError, JobOutput};

/// Layers downloaded at once by one pull (dockerd's
/// `--max-concurrent-downloads` default).
pub const MAX_CONCURRENT_DOWNLOADS: usize = 3;

/// A "Downloading" line at most every this many bytes of a layer.
const PROGRESS_STEP: u64 = 512 * 1024;

/// One lock per layer being pulled, so concurrent pulls fetch it once.
#[derive(Debug, Default)]
pub(crate) struct PullLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl PullLocks {
    fn lock_for(&self, diff_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(lock) = map.get(diff_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(diff_id.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

/// Decodes `X-Registry-Auth`: base64url JSON of moby's `AuthConfig`,
/// padded or not (moby `registry.DecodeAuthConfig`); empty is anonymous.
pub fn decode_auth_config(header: &str) -> Result<RegistryAuth, JobError> {
    use base64::Engine as _;
    let header = header.trim();
    if header.is_empty() {
        return Ok(RegistryAuth::default());
    }
    let invalid = |e: &dyn std::fmt::Display| {
        JobError::invalid(format!("invalid X-Registry-Auth header: {e}"))
    };
    let json = base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT
        .decode(header)
        .map_err(|e| invalid(&e))?;
    auth_config_from_json(&json).map_err(|e| invalid(&e))
}

/// Reads moby's `AuthConfig` JSON (the `/auth` body, the decoded
/// `X-Registry-Auth`).
pub fn auth_config_from_json(json: &[u8]) -> Result<RegistryAuth, JobError> {
    use base64::Engine as _;
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct AuthConfig {
        username: String,
        password: String,
        auth: String,
        identitytoken: String,
        registrytoken: String,
        serveraddress: String,
    }
    let invalid = |e: &dyn std::fmt::Display| JobError::invalid(e.to_string());
    let config: AuthConfig = serde_json::from_slice(json).map_err(|e| invalid(&e))?;
    let (mut username, mut password) = (config.username, config.password);
    // `auth` is base64("user:pass") (the config file's form); some clients
    // send only that.
    if username.is_empty() && !config.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(config.auth.as_bytes())
            .map_err(|e| invalid(&e))?;
        let text = String::from_utf8(raw).map_err(|e| invalid(&e))?;
        if let Some((u, p)) = text.split_once(':') {
            (username, password) = (u.to_owned(), p.to_owned());
        }
    }
    Ok(RegistryAuth {
        username,
        password,
        identity_token: config.identitytoken,
        registry_token: config.registrytoken,
        server_address: config.serveraddress,
    })
}

/// A progress line of the JSON stream: `status` for the layer (or image)
/// `id`.
pub(super) fn progress(status: impl Into<String>, id: &str) -> ProgressMessage {
    ProgressMessage {
        status: status.into(),
        id: id.to_owned(),
        ..ProgressMessage::default()
    }
}

/// The short id Docker shows for a layer: 12 hex digits of its digest.
pub(super) fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// The config's `rootfs.diff_ids`, one per manifest layer.
fn diff_ids(image: &RemoteImage) -> Result<Vec<String>, JobError> {
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    let config: Config = serde_json::from_slice(&image.config)
        .map_err(|e| JobError::invalid(format!("invalid image config: {e}")))?;
    if config.rootfs.diff_ids.len() != image.layers.len() {
        // moby's text (distribution/pull_v2.go, errRootFSMismatch).
        return Err(JobError::invalid(
            "layers from manifest don't match image configuration",
        ));
    }
    Ok(config.rootfs.diff_ids)
}

impl Daemon {
    /// Pulls `request`'s image, writing Docker's progress lines to `out`.
    /// An error before the first line is returned (an HTTP error); after
    /// it, it is also written in-band (`errorDetail`), as moby does.
    /// Returns the image id.
    pub(crate) async fn image_pull(
        &self,
        request: PullRequest,
        out: &JobOutput,
    ) -> Result<String, JobError> {
        let Some(registry) = self.registry.get().map(Arc::clone) else {
            return Err(JobError::new(
                ErrorKind::NotImplemented,
                "this daemon has no registry driver",
            ));
        };
        let image = registry.resolve(request.clone()).await?;
        let diff_ids = diff_ids(&image)?;
        out.write_json(&progress(
            format!("Pulling from {}", image.repository),
            &image.tag,
        ))
        .await?;
        match self.pull_resolved(&request, &image, &diff_ids, out).await {
            Ok(id) => {
                self.events().publish(
                    "image",
                    "pull",
                    &image.familiar,
                    BTreeMap::from([("name".to_owned(), image.familiar.clone())]),
                );
                Ok(id)
            }
            Err(e) => {
                let message = e.to_string();
                // The reader may be gone; the error is returned either way.
                let _ = out
                    .write_json(&ProgressMessage {
                        error: Some(message.clone()),
                        error_detail: Some(ErrorDetail { message }),
                        ..ProgressMessage::default()
                    })
                    .await;
                Err(e)
            }
        }
    }

    async fn pull_resolved(
        &self,
        request: &PullRequest,
        image: &RemoteImage,
        diff_ids: &[String],
        out: &JobOutput,
    ) -> Result<String, JobError> {
        let items: Vec<(RemoteLayer, String)> = image
            .layers
            .iter()
            .cloned()
            .zip(diff_ids.iter().cloned())
            .collect();
        let holds = transfer::run(
            items,
            MAX_CONCURRENT_DOWNLOADS,
            out,
            |(layer, diff_id), tx, cancel| async move {
                self.pull_layer(request, &layer, &diff_id, tx, &cancel)
                    .await
            },
        )
        .await?;

        let images = Arc::clone(self.images());
        let previous = match &image.tagged {
            Some(t) => {
                let (images, t) = (Arc::clone(&images), t.clone());
                self.blocking(BlockingKind::ImageMetadata, move || {
                    Ok(images.inspect(&t).ok())
                })
                .await?
                .map(|i| i.id)
            }
            None => None,
        };
        let (config, tagged) = (image.config.clone(), image.tagged.clone());
        let id = self
            .blocking(BlockingKind::ImageContent, move || {
                images.create_image(&config, tagged.as_deref())
            })
            .await?;
        drop(holds);
        out.write_json(&progress(format!("Digest: {}", image.digest), ""))
            .await?;
        let status = if previous.as_deref() == Some(id.as_str()) {
            format!("Status: Image is up to date for {}", image.familiar)
        } else {
            format!("Status: Downloaded newer image for {}", image.familiar)
        };
        out.write_json(&progress(status, "")).await?;
        Ok(id)
    }

    /// Makes one layer available: already stored, or fetched and
    /// extracted. Returns the hold that keeps it until the image exists.
    ///
    /// When `cancel` fires (another layer failed), the wait for its turn
    /// and the download stop; the blocking work already started (the temp
    /// file's creation, the extraction, which then sees its stream cut) is
    /// awaited to its end, so that this returns only once nothing of the
    /// layer runs any more and its temp files are gone. If the pull is
    /// dropped instead (the client went away), the same files are still
    /// removed by their owners: the temp blob by `scratch`, or by the
    /// blocking task that holds it, the staging directory by the
    /// extraction; the fetch writes through its own handle of the blob and
    /// never re-creates its path.
    async fn pull_layer(
        &self,
        request: &PullRequest,
        layer: &RemoteLayer,
        diff_id: &str,
        tx: mpsc::UnboundedSender<ProgressMessage>,
        cancel: &CancellationToken,
    ) -> Result<LayerHold, JobError> {
        let id = short_id(&layer.digest);
        let send = |m: ProgressMessage| {
            // The writer only stops when the whole pull does.
            let _ = tx.send(m);
        };
        let lock = self.pulls.lock_for(diff_id);
        let _turn = unless_cancelled(cancel, async { Ok(lock.lock().await) }).await?;
        let images = Arc::clone(self.images());
        let held = {
            let (images, diff_id) = (Arc::clone(&images), diff_id.to_owned());
            self.blocking(BlockingKind::ImageMetadata, move || {
                images.hold_layer(&diff_id)
            })
            .await?
        };
        if let Some(hold) = held {
            send(progress("Already exists", &id));
            return Ok(hold);
        }
        // Another layer failed meanwhile: no temp blob, no download.
        unless_cancelled_now(cancel)?;
        send(progress("Pulling fs layer", &id));
        // The temp blob and a handle of it for the fetch, which writes
        // through that handle only (see above).
        let (scratch, blob) = {
            let images = Arc::clone(&images);
            self.blocking(BlockingKind::ImageMetadata, move || {
                let dir = images.scratch_dir()?;
                let scratch = tempfile::Builder::new()
                    .prefix("blob-")
                    .tempfile_in(&dir)
                    .map_err(|e| JobError::internal("failed to create a blob file", &e))?;
                let blob = scratch
                    .as_file()
                    .try_clone()
                    .map_err(|e| JobError::internal("failed to open a blob file", &e))?;
                Ok((scratch, blob))
            })
            .await?
        };
        let registry = self.registry.get().map(Arc::clone).ok_or_else(|| {
            JobError::new(
                ErrorKind::NotImplemented,
                "this daemon has no registry driver",
            )
        })?;
        let total = layer.size;
        let progress_tx = tx.clone();
        let progress_id = id.clone();
        let mut last = 0u64;
        // Every source the fetch tries hands its reader over here.
        let (readers_tx, mut readers_rx) = mpsc::unbounded_channel::<BlobReader>();
        let fetch = registry.fetch_blob(
            request.clone(),
            layer.clone(),
            blob,
            scratch.path().to_owned(),
            Box::new(move |current| {
                if current == total || current - last >= PROGRESS_STEP {
                    last = current;
                    let _ = progress_tx.send(ProgressMessage {
                        progress_detail: Some(ProgressDetail { current, total }),
                        ..progress("Downloading", &progress_id)
                    });
                }
            }),
            Box::new(move || {
                let (stream, reader) = blob_stream();
                // Gone only with this pull, and then so is the fetch.
                let _ = readers_tx.send(reader);
                stream
            }),
        );
        // The layer is extracted while it downloads: the graph reads the
        // stream to its end (the fetch's verified mark) before it publishes
        // the layer, and add_layer checks the diff id. One extraction per
        // source: all but the last one end with their attempt's failure,
        // dropping what they staged. The readers end when the fetch does
        // (join! drops a finished future, and with it the sender). An
        // extraction waits on the network as well as the disk: it runs as
        // LayerStream, so a stalled registry holds none of ImageContent's
        // permits (imports and image removal go on). A cancelled pull drops
        // the fetch, and with it the streams' senders: the extraction fails
        // at its next read and removes what it staged, and is awaited.
        let fetch = unless_cancelled(cancel, fetch);
        let extract = async {
            let mut last = None;
            while let Some(reader) = readers_rx.recv().await {
                let (images, diff) = (Arc::clone(&images), diff_id.to_owned());
                last = Some(
                    self.blocking(BlockingKind::LayerStream, move || {
                        images.add_layer(Box::new(reader), &diff)
                    })
                    .await,
                );
            }
            last
        };
        let (fetched, extracted) = tokio::join!(fetch, extract);
        // The fetch's failure first: a bad blob also fails its extraction,
        // but the fetch says why (a digest or size mismatch, a cut transfer).
        fetched?;
        let hold = extracted.ok_or_else(|| {
            JobError::new(
                ErrorKind::Internal,
                "the layer's fetch succeeded without streaming the blob",
            )
        })??;
        let gzip = self
            .remember_pulled(&registry, request, layer, diff_id, scratch.path())
            .await;
        // Docker's order of a layer's lines, though the extraction has run
        // alongside the download.
        send(progress("Verifying Checksum", &id));
        send(progress("Download complete", &id));
        send(progress("Extracting", &id));
        let (diff, digest) = (diff_id.to_owned(), layer.digest.clone());
        self.blocking(BlockingKind::ImageContent, move || {
            // The blob (verified by the fetch, its layer by add_layer) is
            // kept for a push to send back as it came; only gzip, the one
            // compression a push sends. Not kept is only a later
            // recompression.
            if gzip && let Err(e) = images.keep_layer_blob(&diff, &digest, scratch.path()) {
                tracing::warn!(layer = %diff, error = %e, "cannot keep a pulled layer's blob");
            }
            // The temp file goes now (if it was not kept).
            drop(scratch);
            Ok(())
        })
        .await?;
        send(progress("Pull complete", &id));
        Ok(hold)
    }
}

impl Daemon {
    /// Records the gzip blob a layer was pulled as and its repository, so
    /// that a push to that registry finds or mounts it rather than
    /// recompressing the layer ([`super::distribution`]). Other blobs
    /// (zstd, plain tar) are not pushed as they came, so not recorded.
    /// Returns whether the blob is gzip.
    async fn remember_pulled(
        &self,
        registry: &Arc<dyn crate::driver::RegistryService>,
        request: &PullRequest,
        layer: &RemoteLayer,
        diff_id: &str,
        blob: &std::path::Path,
    ) -> bool {
        let blob = blob.to_owned();
        let gzip = self
            .blocking(BlockingKind::ImageMetadata, move || {
                let mut magic = [0u8; 2];
                Ok(std::fs::File::open(&blob)
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                    .is_ok()
                    && magic == [0x1f, 0x8b])
            })
            .await
            .unwrap_or(false);
        if !gzip {
            return false;
        }
        let Ok(name) = registry.remote_name(&request.reference, &request.tag) else {
            return true;
        };
        let pushed = super::push::PushedLayer {
            digest: layer.digest.clone(),
            size: layer.size,
            diff_id: diff_id.to_owned(),
        };
        let repository = format!("{}/{}", name.registry, name.repository);
        self.remember(diff_id, &pushed, &repository).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn auth_headers_decode_as_moby_does() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        let auth = decode_auth_config(&b64(
            r#"{"username":"u","password":"p>?","serveraddress":"x"}"#,
        ))
        .expect("padded");
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("u", "p>?")
        );
        assert_eq!(auth.server_address, "x");
        let unpadded =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"username":"a"}"#);
        assert_eq!(
            decode_auth_config(&unpadded).expect("unpadded").username,
            "a"
        );
        let auth_only = b64(r#"{"auth":"dXNlcjpwYXNz"}"#);
        let auth = decode_auth_config(&auth_only).expect("auth field");
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("user", "pass")
        );
        assert_eq!(
            decode_auth_config("").expect("empty"),
            RegistryAuth::default()
        );
        for bad in ["%%%", &b64("not json")] {
            let err = decode_auth_config(bad).expect_err(bad);
            assert!(
                err.message.starts_with("invalid X-Registry-Auth header"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn concurrent_pulls_of_a_layer_take_turns() {
        let locks = PullLocks::default();
        let a = locks.lock_for("sha256:a");
        let b = locks.lock_for("sha256:a");
        assert!(Arc::ptr_eq(&a, &b));
        let guard = a.lock().await;
        assert!(
            b.try_lock().is_err(),
            "the second pull must wait for the first"
        );
        drop(guard);
        assert!(b.try_lock().is_ok());
        let other = locks.lock_for("sha256:b");
        assert!(other.try_lock().is_ok());
    }
}
