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
    /// credentials are reported before any upload starts.
    pub async fn authorize_push(
        &self,
        name: &ImageName,
        credentials: &Credentials,
    ) -> Result<(), RegistryError> {
        let client = self.client(name, credentials)?;
        // Both of the operations a push does, once each, before its layers
        // go at once: their blob checks (`Pull`) would otherwise each miss
        // oci-client's token cache and fetch a token of their own.
        for operation in [
            oci_client::RegistryOperation::Push,
            oci_client::RegistryOperation::Pull,
        ] {
            client
                .auth(name.oci(), &credentials.oci(), operation)
                .await
                .map_err(|e| RegistryError::from_oci(&name.familiar(), e))?;
        }
        Ok(())
    }

    /// Whether the repository of `name` has the blob `digest` (`HEAD
    /// /v2/<name>/blobs/<digest>`).
    pub async fn blob_exists(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let client = self.client(name, credentials)?;
        client
            .store_auth_if_needed(name.oci().resolve_registry(), &credentials.oci())
            .await;
        client
            .blob_exists(name.oci(), digest)
            .await
            .map_err(|e| match e {
                // oci-client passes a HEAD's status through as a bare
                // reqwest error (a HEAD has no error body to read).
                oci_client::errors::OciDistributionError::RequestError(r)
                    if r.status() == Some(reqwest::StatusCode::UNAUTHORIZED) =>
                {
                    RegistryError::Unauthorized {
                        message: "authentication required".to_owned(),
                    }
                }
                other => RegistryError::from_oci(&name.familiar(), other),
            })
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
        let repository = name.repository();
        let url = format!("{}/v2/{repository}/blobs/uploads/", session.base);
        let scopes = [
            format!("repository:{repository}:pull,push"),
            format!("repository:{from}:pull"),
        ];
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
                if let Some(location) = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| reqwest::Url::parse(&url).ok()?.join(l).ok())
                {
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
    /// streamed as the body of the closing PUT. The registry checks the
    /// digest before it commits the blob.
    pub async fn push_blob_file(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        digest: &str,
        size: u64,
        path: &Path,
        mut progress: UploadProgress,
    ) -> Result<(), RegistryError> {
        let client = self.client(name, credentials)?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(RegistryError::io("open", path))?;
        let mut sent = 0u64;
        let stream =
            tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_READ_SIZE).map(move |chunk| {
                let chunk = chunk.map_err(|e| {
                    oci_client::errors::OciDistributionError::GenericError(Some(format!(
                        "failed to read the blob file: {e}"
                    )))
                })?;
                sent += chunk.len() as u64;
                progress(sent);
                Ok(chunk)
            });
        client
            .push_blob_stream(name.oci(), stream, digest, Some(size))
            .await
            .map_err(|e| RegistryError::from_oci(&name.familiar(), e))?;
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
        let client = self.client(name, credentials)?;
        let content_type =
            HeaderValue::from_str(media_type).map_err(|_| RegistryError::BadManifest {
                reference: name.familiar(),
                reason: format!("invalid media type {media_type:?}"),
            })?;
        let ours = crate::client::sha256_digest(&body);
        let location = client
            .push_manifest_raw(name.oci(), body, content_type)
            .await
            .map_err(|e| RegistryError::from_oci(&name.familiar(), e))?;
        Ok(digest_of_location(&location).unwrap_or(ours))
    }
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
