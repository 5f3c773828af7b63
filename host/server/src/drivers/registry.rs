//! The registry driver behind the engine's [`RegistryService`] seam:
//! `berth-registry`'s distribution client, presenting the credentials the
//! registry policy chooses (`registry_auth`). Registry failures become job
//! errors with moby's status codes (`distribution/errors.go`): an unknown
//! manifest or repository is 404, refused credentials 401, a reference or
//! platform the client got wrong 400, the rest 500 with the registry's
//! code and message.

use std::path::PathBuf;
use std::sync::Arc;

use berth_engine::driver::{
    BlobProgressFn, BlobStream, BlobStreamFn, PullRequest, PushTarget, RegistryService,
    RemoteImage, RemoteLayer, RemoteName, SearchHit, SearchRequest, TagsRequest,
};
use berth_engine::job::BoxFuture;
use berth_engine::{ErrorKind, JobError};
use berth_registry::{Credentials, ImageName, Layer, Platform, Registry, RegistryError};

use super::registry_auth::{AdminCredentials, CredentialChooser};

/// The distribution client as the engine's registry driver.
#[derive(Debug, Clone)]
pub struct RegistryAdapter {
    registry: Arc<Registry>,
    chooser: CredentialChooser,
}

impl RegistryAdapter {
    /// Wraps the daemon's distribution client; the client's own
    /// credentials go to its registry (the default policy's rule, without
    /// a plugin host) until [`RegistryAdapter::with_chooser`].
    pub fn new(registry: Registry) -> Self {
        RegistryAdapter {
            registry: Arc::new(registry),
            chooser: CredentialChooser::new(None, AdminCredentials::default()),
        }
    }

    /// Chooses each access's credentials through `chooser` (the
    /// registry-policy plugin, with the admin's credentials held).
    pub fn with_chooser(mut self, chooser: CredentialChooser) -> Self {
        self.chooser = chooser;
        self
    }

    /// The credentials a pull of `name` presents.
    async fn pull_credentials(
        &self,
        name: &ImageName,
        request: &PullRequest,
    ) -> Result<Credentials, JobError> {
        self.chooser
            .choose(
                name.registry(),
                name.repository(),
                &["pull"],
                "pull",
                &request.auth,
            )
            .await
    }
}

pub(super) fn job_error(err: RegistryError) -> JobError {
    let kind = match &err {
        RegistryError::InvalidReference { .. } | RegistryError::InvalidPlatform { .. } => {
            ErrorKind::InvalidParameter
        }
        RegistryError::ManifestUnknown { .. }
        | RegistryError::RepositoryUnknown { .. }
        | RegistryError::NoMatchingPlatform { .. } => ErrorKind::NotFound,
        RegistryError::Unauthorized { .. } => ErrorKind::Unauthorized,
        RegistryError::Io { .. } => return JobError::internal("failed to pull", &err),
        _ => ErrorKind::Internal,
    };
    JobError::new(kind, err.to_string())
}

/// A pull's error: as [`job_error`], but refused credentials are a 500 as
/// with dockerd (`no basic auth credentials`), never a 401 — the docker
/// CLI answers a 401 to a pull by prompting for a login.
fn pull_error(err: RegistryError) -> JobError {
    match err {
        RegistryError::Unauthorized { .. } => JobError::new(ErrorKind::Internal, err.to_string()),
        other => job_error(other),
    }
}

fn name_of(request: &PullRequest) -> Result<ImageName, JobError> {
    ImageName::parse(&request.reference, Some(&request.tag)).map_err(job_error)
}

impl RegistryService for RegistryAdapter {
    fn login(
        &self,
        auth: berth_engine::driver::RegistryAuth,
    ) -> BoxFuture<Result<Option<String>, JobError>> {
        let registry = Arc::clone(&self.registry);
        Box::pin(async move {
            let server = if auth.server_address.is_empty() {
                "docker.io".to_owned()
            } else {
                auth.server_address.clone()
            };
            let credentials = Credentials::Basic {
                username: auth.username,
                password: auth.password,
            };
            registry
                .login(&server, &credentials)
                .await
                .map_err(job_error)
        })
    }

    fn resolve(&self, request: PullRequest) -> BoxFuture<Result<RemoteImage, JobError>> {
        let this = self.clone();
        Box::pin(async move {
            let registry = &this.registry;
            let name = name_of(&request)?;
            let platform = Platform::parse(&request.platform).map_err(job_error)?;
            let credentials = this.pull_credentials(&name, &request).await?;
            let resolved = registry
                .resolve(&name, &platform, &credentials)
                .await
                .map_err(pull_error)?;
            let tag = match (name.digest(), name.tag()) {
                (Some(d), _) => d.to_owned(),
                (None, t) => t.unwrap_or("latest").to_owned(),
            };
            Ok(RemoteImage {
                repository: name.repository().to_owned(),
                tag,
                familiar: name.familiar(),
                tagged: name.tagged(),
                digest: resolved.digest,
                config: resolved.config,
                layers: resolved
                    .layers
                    .into_iter()
                    .map(|l| RemoteLayer {
                        digest: l.digest,
                        size: l.size,
                    })
                    .collect(),
            })
        })
    }

    fn fetch_blob(
        &self,
        request: PullRequest,
        layer: RemoteLayer,
        dest: std::fs::File,
        dest_path: PathBuf,
        mut progress: BlobProgressFn,
        mut stream: BlobStreamFn,
    ) -> BoxFuture<Result<(), JobError>> {
        let this = self.clone();
        Box::pin(async move {
            let registry = &this.registry;
            let name = name_of(&request)?;
            let credentials = this.pull_credentials(&name, &request).await?;
            let layer = Layer {
                digest: layer.digest,
                size: layer.size,
                // The graph detects the compression itself.
                media_type: String::new(),
                kind: berth_registry::MediaKind::Gzip,
            };
            registry
                .fetch_blob(
                    &name,
                    &credentials,
                    &layer,
                    berth_registry::BlobFile {
                        file: &dest,
                        path: &dest_path,
                    },
                    &mut *progress,
                    &mut || {
                        let BlobStream { data, verified } = stream();
                        berth_registry::BlobTee { data, verified }
                    },
                )
                .await
                .map_err(pull_error)
        })
    }

    fn remote_name(&self, reference: &str, tag: &str) -> Result<RemoteName, JobError> {
        super::registry_push::remote_name(reference, tag)
    }

    fn push_authorize(&self, target: PushTarget) -> BoxFuture<Result<(), JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move { super::registry_push::authorize(&registry, &chooser, target).await })
    }

    fn blob_exists(&self, target: PushTarget, digest: String) -> BoxFuture<Result<bool, JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move {
            super::registry_push::blob_exists(&registry, &chooser, target, digest).await
        })
    }

    fn mount_blob(&self, target: PushTarget, digest: String, from: String) -> BoxFuture<bool> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move {
            super::registry_push::mount_blob(&registry, &chooser, target, digest, from).await
        })
    }

    fn push_blob(
        &self,
        target: PushTarget,
        blob: RemoteLayer,
        path: PathBuf,
        progress: BlobProgressFn,
    ) -> BoxFuture<Result<(), JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move {
            super::registry_push::push_blob(&registry, &chooser, target, blob, path, progress).await
        })
    }

    fn push_manifest(
        &self,
        target: PushTarget,
        body: Vec<u8>,
        media_type: String,
    ) -> BoxFuture<Result<String, JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move {
            super::registry_push::push_manifest(&registry, &chooser, target, body, media_type).await
        })
    }

    fn search(&self, request: SearchRequest) -> BoxFuture<Result<Vec<SearchHit>, JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move { super::registry_push::search(&registry, &chooser, request).await })
    }

    fn list_tags(&self, request: TagsRequest) -> BoxFuture<Result<Vec<String>, JobError>> {
        let (registry, chooser) = (Arc::clone(&self.registry), self.chooser.clone());
        Box::pin(async move { super::registry_push::list_tags(&registry, &chooser, request).await })
    }
}
