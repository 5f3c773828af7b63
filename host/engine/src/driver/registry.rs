//! The registry seam: what the engine asks of the distribution client.

use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::job::{BoxFuture, JobError};

/// Credentials for a registry, from the client's `X-Registry-Auth` header
/// (moby's `registry.AuthConfig`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// A token for the registry's token service (OAuth refresh token).
    pub identity_token: String,
    /// A bearer token to send to the registry as is.
    pub registry_token: String,
    /// The registry these are for (`serveraddress`; login only).
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What `POST /images/create?fromImage=` asks for, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequest {
    /// `[registry/]repo[:tag|@digest]`.
    pub reference: String,
    /// A tag or digest replacing the reference's (may be empty).
    pub tag: String,
    /// `os[/arch[/variant]]`, empty for linux/amd64.
    pub platform: String,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// One layer blob of a remote image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLayer {
    /// The blob's digest (`sha256:...`).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An image manifest resolved in a registry for one platform.
#[derive(Debug, Clone)]
pub struct RemoteImage {
    /// The repository as Docker shows it (`busybox`, `127.0.0.1:5000/app`).
    pub repository: String,
    /// The tag, or the digest for a pull by digest.
    pub tag: String,
    /// The full reference as Docker shows it (`busybox:latest`).
    pub familiar: String,
    /// The tag to record (`registry/repo:tag`), `None` for a pull by digest.
    pub tagged: Option<String>,
    /// The manifest (list) digest the reference resolved to.
    pub digest: String,
    /// The image config JSON, verified.
    pub config: Vec<u8>,
    /// The layer blobs, bottom first.
    pub layers: Vec<RemoteLayer>,
}

/// Called with the bytes of a blob received so far.
pub type BlobProgressFn = Box<dyn FnMut(u64) + Send>;

/// The sending half of a blob stream: a fetch sends the blob's bytes
/// into `data` as they arrive and `verified` once its size and digest are
/// checked (the reading half, in the engine, reports the end of the blob
/// only then, and an error if `verified` is dropped unsent).
#[derive(Debug)]
pub struct BlobStream {
    /// The blob's bytes, in order; a bounded channel, the stream's only
    /// buffer.
    pub data: mpsc::Sender<Bytes>,
    /// The mark that the whole blob was received and verified.
    pub verified: tokio::sync::oneshot::Sender<()>,
}

/// Called at the start of every source a fetch tries, for a fresh
/// [`BlobStream`] (the previous attempt's reader sees its failure).
pub type BlobStreamFn = Box<dyn FnMut() -> BlobStream + Send>;

/// The registry driver: the distribution client.
pub trait RegistryService: Send + Sync + 'static {
    /// Resolves the request's reference to one image manifest (choosing the
    /// platform in a manifest list) and fetches its config.
    fn resolve(&self, request: PullRequest) -> BoxFuture<Result<RemoteImage, JobError>>;

    /// Streams a layer blob into the open file `dest` (`dest_path` names it
    /// in errors), verifying its digest and size (not syncing it: it is
    /// kept and checked again before a push sends it); on error `dest` may
    /// hold a partial blob. The fetch never opens `dest_path`: the caller
    /// owns that path and removes it when it likes, even while a write of
    /// a dropped fetch is still on the blocking pool.
    /// Every attempt (source) also sends the blob into a stream from
    /// `stream`, for the caller to extract it meanwhile; only the attempt
    /// that returns `Ok` marks its stream verified.
    fn fetch_blob(
        &self,
        request: PullRequest,
        layer: RemoteLayer,
        dest: std::fs::File,
        dest_path: PathBuf,
        progress: BlobProgressFn,
        stream: BlobStreamFn,
    ) -> BoxFuture<Result<(), JobError>>;

    /// Checks `auth` against the registry `auth.server_address` (`docker
    /// login`); returns an identity token if the registry issued one.
    fn login(&self, auth: RegistryAuth) -> BoxFuture<Result<Option<String>, JobError>>;

    /// Normalizes `reference` (+ `tag`) as the registry sees it
    /// (InvalidParameter: moby's `invalid reference format`).
    fn remote_name(&self, _reference: &str, _tag: &str) -> Result<RemoteName, JobError> {
        Err(push_unsupported())
    }

    /// Authenticates for a push to `target` (refused credentials fail
    /// here, before any upload).
    fn push_authorize(&self, _target: PushTarget) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Whether `target`'s repository has the blob `digest` (`HEAD`).
    fn blob_exists(
        &self,
        _target: PushTarget,
        _digest: String,
    ) -> BoxFuture<Result<bool, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Mounts the blob `digest` from the repository `from` of the same
    /// registry into `target`'s; `false` if the registry did not.
    fn mount_blob(&self, _target: PushTarget, _digest: String, _from: String) -> BoxFuture<bool> {
        Box::pin(async { false })
    }

    /// Uploads the blob file `path` (digest and size known) to `target`'s
    /// repository, streamed.
    fn push_blob(
        &self,
        _target: PushTarget,
        _blob: RemoteLayer,
        _path: PathBuf,
        _progress: BlobProgressFn,
    ) -> BoxFuture<Result<(), JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// PUTs a manifest under `target`'s tag; returns the registry's digest
    /// of it.
    fn push_manifest(
        &self,
        _target: PushTarget,
        _body: Vec<u8>,
        _media_type: String,
    ) -> BoxFuture<Result<String, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Searches a registry's repositories (`GET /images/search`).
    fn search(&self, _request: SearchRequest) -> BoxFuture<Result<Vec<SearchHit>, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }

    /// Lists a repository's tags (`GET /images/search?listTags=true`).
    fn list_tags(&self, _request: TagsRequest) -> BoxFuture<Result<Vec<String>, JobError>> {
        Box::pin(async { Err(push_unsupported()) })
    }
}

fn push_unsupported() -> JobError {
    JobError::new(
        crate::job::ErrorKind::NotImplemented,
        "this registry driver cannot push or search",
    )
}

/// A reference as a registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    /// The registry host (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/busybox`, `test/app`).
    pub repository: String,
    /// The repository as Docker shows it (`busybox`, `127.0.0.1:5000/test/app`).
    pub familiar: String,
    /// The tag (`latest` when none was given).
    pub tag: String,
}

/// Where a push goes: a repository and tag, with the client's credentials.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The repository and tag.
    pub name: RemoteName,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// What `GET /images/search` asks a registry, validated.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The registry host (`docker.io` unless the term names one).
    pub registry: String,
    /// The term, without the registry.
    pub term: String,
    /// At most this many results (1..=100).
    pub limit: usize,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// What `GET /images/search?listTags=true` asks a registry, validated.
#[derive(Debug, Clone)]
pub struct TagsRequest {
    /// The repository (its `tag` is unused).
    pub name: RemoteName,
    /// At most this many tags (`usize::MAX`: all the driver reads).
    pub limit: usize,
    /// Credentials for the registry.
    pub auth: RegistryAuth,
}

/// One search result (moby's `registry.SearchResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHit {
    /// The repository name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its stars.
    pub star_count: u64,
    /// Whether it is an official image.
    pub is_official: bool,
    /// Whether it is an automated build.
    pub is_automated: bool,
}
