//! The push side of the distribution client: blob-exists checks,
//! cross-repository mounts, streamed blob uploads and the manifest PUT, in
//! the order moby's `distribution/push_v2.go` uses them.
//!
//! The caller (the engine's push verb) decides what to upload; this module
//! only speaks the protocol (distribution spec, "Pushing blobs",
//! "Mounting a blob from another repository", "Pushing Manifests"). A blob
//! is read from a file as it is sent, never held whole in memory.

use std::path::Path;

use futures_util::StreamExt;
use reqwest::header::HeaderValue;

use crate::client::{Credentials, Registry};
use crate::error::RegistryError;
use crate::reference::ImageName;

/// Called with the bytes of a blob sent so far.
pub type UploadProgress = Box<dyn FnMut(u64) + Send>;

/// How much of a blob file is read (and so held) at once while it is sent.
const UPLOAD_READ_SIZE: usize = 1 << 20;

impl Registry {
    /// Authenticates for a push to `name`'s repository (a bearer token
    /// with `pull,push` scope, or the Basic credentials), so that refused
    /// credentials are reported before any upload starts. The push's
    /// requests then all carry that one token.
    pub async fn authorize_push(
        &self,
        name: &ImageName,
        credentials: &Credentials,
    ) -> Result<(), RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let url = format!("{}/v2/", session.base);
        let response = session
            .send(&[push_scope(name)], |http| http.get(&url))
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(session.error(&name.familiar(), response).await)
    }

    /// Whether the repository of `name` has the blob `digest` (`HEAD
    /// /v2/<name>/blobs/<digest>`).
    pub async fn blob_exists(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let url = session.url(name, &format!("blobs/{digest}"));
        let response = session
            .send(&[push_scope(name)], |http| http.head(&url))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(session.error(&name.familiar(), response).await),
        }
    }

    /// Asks the registry to link the blob `digest` from the repository
    /// `from` (same registry) into `name`'s (`POST
    /// /v2/<name>/blobs/uploads/?mount=<digest>&from=<from>`, distribution
    /// spec "Mounting a blob from another repository"): 201 is a mount.
    /// `false` when the registry did not mount it: it answers 202 and opens
    /// an upload instead (the source is gone, or not readable with these
    /// credentials), which is cancelled, and the caller uploads the blob.
    /// On a token registry the token carries `pull` on `from` as well as
    /// `pull,push` on `name` (moby `distribution/push_v2.go`): a token for
    /// the destination alone never mounts.
    pub async fn mount_blob(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
        from: &str,
    ) -> bool {
        match self.try_mount(name, credentials, digest, from).await {
            Ok(mounted) => mounted,
            // A mount is only a shortcut: on any failure, upload instead.
            Err(e) => {
                tracing::debug!(%digest, %from, error = %e, "cross-repository mount failed");
                false
            }
        }
    }

    async fn try_mount(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let url = session.url(name, "blobs/uploads/");
        let scopes = [push_scope(name), format!("repository:{from}:pull")];
        let response = session
            .send(&scopes, |http| {
                http.post(&url)
                    .query(&[("mount", digest), ("from", from)])
                    .header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        tracing::debug!(%digest, %from, status = %response.status(), "cross-repository mount answered");
        match response.status() {
            reqwest::StatusCode::CREATED => Ok(true),
            reqwest::StatusCode::ACCEPTED => {
                // An upload session the registry opened for nothing: ended
                // now rather than left to expire (spec "Canceling an
                // Upload").
                if let Some(location) = upload_location(&url, &response) {
                    let cancelled = session
                        .send(&scopes, |http| http.delete(location.clone()))
                        .await;
                    if let Err(e) = cancelled {
                        tracing::debug!(%digest, error = %e, "cancelling an unused upload failed");
                    }
                }
                Ok(false)
            }
            status => Err(RegistryError::Transport(format!(
                "mount of {digest} from {from} answered {status}"
            ))),
        }
    }

    /// Uploads the blob file `path` (whose digest and size the caller
    /// computed) to `name`'s repository: one upload session, the file
    /// streamed as the body of the closing PUT (the distribution API's
    /// monolithic upload: one request per layer rather than one per chunk
    /// of the file). The registry checks the digest before it commits the
    /// blob.
    pub async fn push_blob_file(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
        size: u64,
        path: &Path,
        mut progress: UploadProgress,
    ) -> Result<(), RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let familiar = name.familiar();
        let scopes = [push_scope(name)];
        let url = session.url(name, "blobs/uploads/");
        let response = session
            .send(&scopes, |http| {
                http.post(&url).header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            return Err(session.error(&familiar, response).await);
        }
        let mut location = upload_location(&url, &response).ok_or_else(|| {
            RegistryError::Transport(format!(
                "the registry opened an upload for {digest} without a usable Location"
            ))
        })?;
        location.query_pairs_mut().append_pair("digest", digest);
        let file = tokio::fs::File::open(path)
            .await
            .map_err(RegistryError::io("open", path))?;
        let mut sent = 0u64;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_READ_SIZE).inspect(
            move |chunk| {
                if let Ok(chunk) = chunk {
                    sent += chunk.len() as u64;
                    progress(sent);
                }
            },
        );
        let response = session
            .send_once(&scopes, |http| {
                http.put(location)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .header(reqwest::header::CONTENT_LENGTH, size)
                    .body(reqwest::Body::wrap_stream(stream))
            })
            .await?;
        if !response.status().is_success() {
            return Err(session.error(&familiar, response).await);
        }
        Ok(())
    }

    /// PUTs the manifest `body` of type `media_type` under `name`'s tag and
    /// returns the digest the registry stored it by (the `Location` it
    /// answers names it, as Docker's registry does); the digest of `body`
    /// when the registry does not say.
    pub async fn push_manifest(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        body: Vec<u8>,
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let familiar = name.familiar();
        let content_type =
            HeaderValue::from_str(media_type).map_err(|_| RegistryError::BadManifest {
                reference: familiar.clone(),
                reason: format!("invalid media type {media_type:?}"),
            })?;
        let session = self.session(name.registry(), credentials)?;
        let reference = name.tag().or(name.digest()).unwrap_or("latest");
        let url = session.url(name, &format!("manifests/{reference}"));
        let ours = crate::client::sha256_digest(&body);
        let body = bytes::Bytes::from(body);
        let response = session
            .send(&[push_scope(name)], |http| {
                http.put(&url)
                    .header(reqwest::header::CONTENT_TYPE, content_type.clone())
                    .body(body.clone())
            })
            .await?;
        if !response.status().is_success() {
            return Err(session.error(&familiar, response).await);
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok());
        Ok(location.and_then(digest_of_location).unwrap_or(ours))
    }
}

/// The token scope to push to `name`'s repository: every request of a
/// push asks for it, so one token serves them all.
fn push_scope(name: &ImageName) -> String {
    format!("repository:{}:pull,push", name.repository())
}

/// Where an upload the registry opened continues: its `Location`, which
/// may be relative to the request's URL.
fn upload_location(url: &str, response: &reqwest::Response) -> Option<reqwest::Url> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()?;
    reqwest::Url::parse(url).ok()?.join(location).ok()
}

/// The digest at the end of a manifest `Location`
/// (`.../v2/<name>/manifests/sha256:<hex>`), if it names one.
fn digest_of_location(location: &str) -> Option<String> {
    let last = location.rsplit('/').next()?;
    let last = last.split(['?', '#']).next()?;
    let hex = last.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_digest_is_read_from_the_location() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_of_location(&format!(
                "http://127.0.0.1:5000/v2/test/app/manifests/sha256:{hex}"
            )),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            digest_of_location("http://127.0.0.1:5000/v2/test/app/manifests/v1"),
            None
        );
        assert_eq!(digest_of_location("/v2/a/manifests/sha256:abc"), None);
    }
}
