//! The push and search side of the registry driver: what the
//! [`RegistryService`](berth_engine::driver::RegistryService) methods of
//! [`super::registry::RegistryAdapter`] for `image_push` and
//! `image_search` do. Credentials are chosen as for a pull, by the
//! registry policy ([`CredentialChooser`]), for the `push` origin.

use std::path::PathBuf;

use berth_engine::driver::{
    BlobProgressFn, PushTarget, RemoteLayer, RemoteName, SearchHit, SearchRequest, TagsRequest,
};
use berth_engine::{ErrorKind, JobError};
use berth_registry::{Credentials, ImageName, Registry, RegistryError};

use super::registry::job_error;
use super::registry_auth::CredentialChooser;

/// A push's error: as a pull's, refused credentials are a 500 with the
/// registry's text, never a 401 — the docker CLI answers a 401 by
/// prompting for a login, and dockerd reports a push's refusal in-band.
fn push_error(err: RegistryError) -> JobError {
    match err {
        RegistryError::Unauthorized { .. } => JobError::new(ErrorKind::Internal, err.to_string()),
        other => job_error(other),
    }
}

/// `target`'s reference and the credentials the registry policy chooses
/// for pushing to it (a push needs `pull` too: blob mounts and the
/// manifest's existence checks read the repository).
async fn resolve(
    chooser: &CredentialChooser,
    target: &PushTarget,
) -> Result<(ImageName, Credentials), JobError> {
    let reference = format!(
        "{}/{}:{}",
        target.name.registry, target.name.repository, target.name.tag
    );
    let name = ImageName::parse(&reference, None).map_err(job_error)?;
    let credentials = chooser
        .choose(
            name.registry(),
            name.repository(),
            &["push", "pull"],
            "push",
            &target.auth,
        )
        .await?;
    Ok((name, credentials))
}

pub(super) fn remote_name(reference: &str, tag: &str) -> Result<RemoteName, JobError> {
    let name = ImageName::parse(reference, Some(tag)).map_err(job_error)?;
    if name.digest().is_some() {
        // moby pushes tags only (distribution/push_v2.go).
        return Err(JobError::invalid(format!(
            "cannot push a digest reference: {reference}"
        )));
    }
    Ok(RemoteName {
        registry: name.registry().to_owned(),
        repository: name.repository().to_owned(),
        familiar: name.familiar_repository(),
        tag: name.tag().unwrap_or("latest").to_owned(),
    })
}

pub(super) async fn authorize(
    registry: &Registry,
    chooser: &CredentialChooser,
    target: PushTarget,
) -> Result<(), JobError> {
    let (name, creds) = resolve(chooser, &target).await?;
    registry
        .authorize_push(&name, &creds)
        .await
        .map_err(push_error)
}

pub(super) async fn blob_exists(
    registry: &Registry,
    chooser: &CredentialChooser,
    target: PushTarget,
    digest: String,
) -> Result<bool, JobError> {
    let (name, creds) = resolve(chooser, &target).await?;
    registry
        .blob_exists(&name, &creds, &digest)
        .await
        .map_err(push_error)
}

pub(super) async fn mount_blob(
    registry: &Registry,
    chooser: &CredentialChooser,
    target: PushTarget,
    digest: String,
    from: String,
) -> bool {
    match resolve(chooser, &target).await {
        Ok((name, creds)) => registry.mount_blob(&name, &creds, &digest, &from).await,
        Err(_) => false,
    }
}

pub(super) async fn push_blob(
    registry: &Registry,
    chooser: &CredentialChooser,
    target: PushTarget,
    blob: RemoteLayer,
    path: PathBuf,
    progress: BlobProgressFn,
) -> Result<(), JobError> {
    let (name, creds) = resolve(chooser, &target).await?;
    registry
        .push_blob_file(&name, &creds, &blob.digest, blob.size, &path, progress)
        .await
        .map_err(push_error)
}

pub(super) async fn push_manifest(
    registry: &Registry,
    chooser: &CredentialChooser,
    target: PushTarget,
    body: Vec<u8>,
    media_type: String,
) -> Result<String, JobError> {
    let (name, creds) = resolve(chooser, &target).await?;
    registry
        .push_manifest(&name, &creds, body, &media_type)
        .await
        .map_err(push_error)
}

pub(super) async fn search(
    registry: &Registry,
    chooser: &CredentialChooser,
    request: SearchRequest,
) -> Result<Vec<SearchHit>, JobError> {
    // A search reads the registry's catalog, no one repository's.
    let creds = chooser
        .choose(&request.registry, "", &["pull"], "search", &request.auth)
        .await?;
    let hits = registry
        .search(&request.registry, &request.term, request.limit, &creds)
        .await
        .map_err(job_error)?;
    Ok(hits
        .into_iter()
        .map(|h| SearchHit {
            name: h.name,
            description: h.description,
            star_count: h.star_count,
            is_official: h.is_official,
            is_automated: h.is_automated,
        })
        .collect())
}

pub(super) async fn list_tags(
    registry: &Registry,
    chooser: &CredentialChooser,
    request: TagsRequest,
) -> Result<Vec<String>, JobError> {
    let reference = format!("{}/{}", request.name.registry, request.name.repository);
    let name = ImageName::parse(&reference, None).map_err(job_error)?;
    // Listing tags reads the repository, as a pull does.
    let creds = chooser
        .choose(
            name.registry(),
            name.repository(),
            &["pull"],
            "pull",
            &request.auth,
        )
        .await?;
    registry
        .list_tags(&name, &creds, request.limit)
        .await
        .map_err(job_error)
}
