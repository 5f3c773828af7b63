//! The distribution client: manifests, configs and blobs, over the
//! session that answers the registry's challenges ([`crate::session`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::certs;
use crate::error::{RegistryError, error_chain};
use crate::manifest::{self, Document, Layer};
use crate::platform::Platform;
use crate::reference::{ImageName, is_loopback_registry};
use crate::session::Session;

/// The write buffer of a blob being fetched.
const BLOB_WRITE_BUFFER: usize = 1 << 20;
/// The largest manifest read: distribution's client refuses more
/// (`maxManifestBodySize`, 4 MiB), and so does moby.
const MAX_MANIFEST: u64 = 4 << 20;
/// A config is small (KiBs); bound it anyway before reading it whole.
const MAX_CONFIG: u64 = 8 << 20;
/// How long a connection to a registry may take: moby's dialer's timeout
/// (`registry.NewTransport`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The daemon-wide registry settings.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// Registries (`host[:port]`) spoken to over plain HTTP besides the
    /// loopback ones (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// The `certs.d` directory (`--certs-dir`): `DIR/HOST[:PORT]/*.crt`
    /// are CA roots for that registry, and a directory for a loopback
    /// registry makes it TLS (moby `registry.ReadCertsDirectory`).
    pub certs_dir: Option<PathBuf>,
    /// Docker Hub mirrors (`--registry-mirror`), tried in order before
    /// Docker Hub itself.
    pub mirrors: Vec<Mirror>,
}

/// A validated `--registry-mirror`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// `host[:port]`.
    pub host: String,
    /// Plain HTTP (`http://`) rather than TLS.
    pub plain: bool,
}

impl Mirror {
    /// Parses a mirror URL as moby's `ValidateMirror` (`registry/config.go`)
    /// does: `http://` or `https://`, a host, no path but `/`, no query,
    /// no credentials.
    pub fn parse(url: &str) -> Result<Mirror, RegistryError> {
        let invalid = |why: &str| RegistryError::InvalidMirror {
            reason: format!("{why}: {url}"),
        };
        let (plain, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (false, rest)
        } else {
            return Err(invalid("unsupported scheme"));
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if host.contains('@') {
            return Err(invalid("unsupported user info"));
        }
        if !path.is_empty() || rest.contains(['?', '#']) {
            return Err(invalid("unsupported path/query/fragment at end of the URI"));
        }
        Ok(Mirror {
            host: host.to_owned(),
            plain,
        })
    }
}

/// Credentials for one registry, from the client's `X-Registry-Auth`.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// None.
    #[default]
    Anonymous,
    /// A user name and password (sent as Basic, or exchanged for a bearer
    /// token at the challenge's realm).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// A registry (bearer) token the client already holds.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Token(_) => f.write_str("Token(***)"),
        }
    }
}

impl Credentials {
    /// A key that tells credentials apart without holding the secret.
    pub(crate) fn key(&self) -> String {
        let secret = match self {
            Credentials::Anonymous => String::new(),
            Credentials::Basic { username, password } => format!("b{username}\0{password}"),
            Credentials::Token(t) => format!("t{t}"),
        };
        hex::encode(Sha256::digest(secret.as_bytes()))
    }
}

/// An image manifest resolved for one platform.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The reference pulled.
    pub name: ImageName,
    /// The digest the reference resolved to: that of the manifest list or
    /// index if there was one (what `docker pull` prints as `Digest:`).
    pub digest: String,
    /// The image config, verified against its digest.
    pub config: Vec<u8>,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
}

/// Called with the bytes received so far.
pub type BlobProgress<'a> = &'a mut (dyn FnMut(u64) + Send);

/// Where a blob being fetched is also sent as it arrives, so that its
/// consumer (a pull's extraction) works alongside the download instead of
/// after it.
#[derive(Debug)]
pub struct BlobTee {
    /// The blob's bytes, in order. Bounded: a slow consumer slows the
    /// download rather than filling memory.
    pub data: tokio::sync::mpsc::Sender<bytes::Bytes>,
    /// Sent once the whole blob is received, written and its size and
    /// digest checked; dropped unsent on any failure, which is how the
    /// consumer tells a verified end from a cut one.
    pub verified: tokio::sync::oneshot::Sender<()>,
}

/// Gives a fresh [`BlobTee`] at the start of every source a fetch tries: an
/// attempt that fails leaves its consumer with a partial blob, so the next
/// one starts over.
pub type BlobTeeFn<'a> = &'a mut (dyn FnMut() -> BlobTee + Send);

/// Where a fetched blob is written: an open file, never reopened by its
/// path, so its owner may remove the path at any time, even while a write
/// of a dropped fetch is still on the blocking pool, and nothing re-creates
/// it; the path only names it in errors.
#[derive(Debug, Clone, Copy)]
pub struct BlobFile<'a> {
    /// The open file.
    pub file: &'a std::fs::File,
    /// Its path, for messages.
    pub path: &'a Path,
}

/// The distribution client of the daemon. One HTTP client per registry
/// and TLS material, so connections are kept across requests; bearer
/// tokens are cached (per scope and credentials, until they expire) across
/// pulls and pushes.
pub struct Registry {
    config: RegistryConfig,
    /// By registry host and the digest of its `certs.d` material.
    http: Mutex<HashMap<String, reqwest::Client>>,
    /// The registries' challenges and the tokens they gave.
    pub(crate) auth: crate::session::AuthCache,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client with these settings.
    pub fn new(config: RegistryConfig) -> Self {
        Registry {
            config,
            http: Mutex::new(HashMap::new()),
            auth: crate::session::AuthCache::default(),
        }
    }

    /// Whether `registry` is spoken to over plain HTTP: listed as
    /// insecure, a mirror given as `http://`, or on the loopback without a
    /// `certs.d` directory (CA material there means the admin wants TLS).
    pub fn is_insecure(&self, registry: &str) -> bool {
        let explicit = self
            .config
            .insecure_registries
            .iter()
            .any(|r| r == registry)
            || self
                .config
                .mirrors
                .iter()
                .any(|m| m.plain && m.host == registry);
        explicit || (is_loopback_registry(registry) && !self.has_certs_dir(registry))
    }

    fn has_certs_dir(&self, registry: &str) -> bool {
        self.config
            .certs_dir
            .as_deref()
            .and_then(|dir| certs::dir_for(dir, registry))
            .is_some_and(|dir| dir.is_dir())
    }

    /// The CA roots `certs.d` holds for `registry` (none for plain HTTP).
    fn certs(&self, registry: &str) -> Result<certs::RegistryCerts, RegistryError> {
        match &self.config.certs_dir {
            Some(dir) if !self.is_insecure(registry) => {
                Ok(certs::read(dir, registry)?.unwrap_or_default())
            }
            _ => Ok(certs::RegistryCerts::default()),
        }
    }

    /// Where to look for `name`, in order: the mirrors for Docker Hub
    /// images (moby `registry/service.go`, `lookupV2Endpoints`: mirrors
    /// first, then the official index), then the registry itself.
    fn sources(&self, name: &ImageName) -> Vec<ImageName> {
        let mut sources = Vec::new();
        if name.registry() == "docker.io" {
            sources.extend(
                self.config
                    .mirrors
                    .iter()
                    .map(|m| name.on_registry(&m.host)),
            );
        }
        sources.push(name.clone());
        sources
    }

    /// Resolves `name` to one image manifest for `platform` and fetches its
    /// config: from a mirror if one has it, else from its registry (the
    /// origin's error is the one reported).
    pub async fn resolve(
        &self,
        name: &ImageName,
        platform: &Platform,
        credentials: &Credentials,
    ) -> Result<ResolvedImage, RegistryError> {
        let sources = self.sources(name);
        let last = sources.len() - 1;
        for (n, source) in sources.into_iter().enumerate() {
            match self.resolve_on(&source, platform, credentials).await {
                Ok(mut image) => {
                    image.name = name.clone();
                    return Ok(image);
                }
                Err(e) if n < last => {
                    tracing::info!(mirror = %source.registry(), error = %e, "mirror failed, trying the next source");
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("sources() always ends with the origin")
    }

    async fn resolve_on(
        &self,
        name: &ImageName,
        platform: &Platform,
        credentials: &Credentials,
    ) -> Result<ResolvedImage, RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let familiar = name.familiar();
        // The reference verified below when it pins a digest.
        let reference = name.digest().or(name.tag()).unwrap_or("latest");
        let body = session.manifest(name, reference).await?;
        let digest = sha256_digest(&body);
        if let Some(pinned) = name.digest()
            && pinned != digest
        {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest {familiar}"),
                expected: pinned.to_owned(),
                actual: digest,
            });
        }
        let image = match manifest::parse(&familiar, &body, None)? {
            Document::Image(m) => m,
            Document::Index(entries) => {
                let entry = platform.select(&entries)?;
                let body = session.manifest(name, &entry.digest).await?;
                let actual = sha256_digest(&body);
                if actual != entry.digest {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("manifest {familiar}"),
                        expected: entry.digest.clone(),
                        actual,
                    });
                }
                match manifest::parse(&familiar, &body, entry.media_type.as_deref())? {
                    Document::Image(m) => m,
                    Document::Index(_) => {
                        return Err(RegistryError::BadManifest {
                            reference: familiar,
                            reason: "a manifest list entry is itself a list".into(),
                        });
                    }
                }
            }
        };
        if image.config_size > MAX_CONFIG {
            return Err(RegistryError::BadManifest {
                reference: familiar,
                reason: format!("image config of {} bytes is too large", image.config_size),
            });
        }
        let config = session.blob(name, &image.config_digest).await?;
        let config = read_bounded(config, image.config_size)
            .await
            .map_err(|e| match e {
                // The config is a blob: a transfer cut short reads as the
                // layers' do.
                Bounded::Transport(e) => RegistryError::Transport(format!(
                    "failed to read blob {}: {}",
                    image.config_digest,
                    error_chain(&e)
                )),
                Bounded::TooLong(read) => RegistryError::SizeMismatch {
                    digest: image.config_digest.clone(),
                    expected: image.config_size,
                    actual: read,
                },
            })?;
        let actual = sha256_digest(&config);
        if actual != image.config_digest {
            return Err(RegistryError::DigestMismatch {
                what: "image config".into(),
                expected: image.config_digest,
                actual,
            });
        }
        Ok(ResolvedImage {
            name: name.clone(),
            digest,
            config,
            layers: image.layers,
        })
    }

    /// Streams the blob of `layer` into `dest` (truncated at each source's
    /// attempt), hashing as it goes; its digest and size are checked before
    /// this returns `Ok` (the file is written, not synced: a temp file the
    /// graph keeps for a push and checks again before it is sent). Nothing
    /// but the read buffer and the tee's bounded channel is held in memory.
    /// A Docker Hub blob comes from the first mirror that serves it whole,
    /// else from Docker Hub (blobs are content-addressed: any source will
    /// do).
    ///
    /// Each source's attempt also sends the blob into a tee from `tee`
    /// (see [`BlobTee`]), marked verified only when that attempt returns
    /// `Ok`.
    pub async fn fetch_blob(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        layer: &Layer,
        dest: BlobFile<'_>,
        progress: BlobProgress<'_>,
        tee: BlobTeeFn<'_>,
    ) -> Result<(), RegistryError> {
        let sources = self.sources(name);
        let last = sources.len() - 1;
        for (n, source) in sources.into_iter().enumerate() {
            match self
                .fetch_blob_from(&source, credentials, layer, dest, &mut *progress, tee())
                .await
            {
                Err(e) if n < last => {
                    tracing::info!(mirror = %source.registry(), error = %e, "mirror failed, trying the next source");
                }
                done => return done,
            }
        }
        unreachable!("sources() always ends with the origin")
    }

    async fn fetch_blob_from(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        layer: &Layer,
        dest: BlobFile<'_>,
        progress: BlobProgress<'_>,
        tee: BlobTee,
    ) -> Result<(), RegistryError> {
        let BlobTee { data, verified } = tee;
        let mut data = Some(data);
        let session = self.session(name.registry(), credentials)?;
        let mut response = session.blob(name, &layer.digest).await?;
        // Buffered: every write to a tokio `File` is a trip to the blocking
        // pool, and the body arrives in chunks of a few KiB.
        // A handle of its own (the same open file): an earlier source's
        // attempt may have left bytes, so the file starts over.
        let mut file = tokio::fs::File::from_std(
            dest.file
                .try_clone()
                .map_err(RegistryError::io("open", dest.path))?,
        );
        file.set_len(0)
            .await
            .map_err(RegistryError::io("truncate", dest.path))?;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(RegistryError::io("seek", dest.path))?;
        let mut file = tokio::io::BufWriter::with_capacity(BLOB_WRITE_BUFFER, file);
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            RegistryError::Transport(format!(
                "failed to read blob {}: {}",
                layer.digest,
                error_chain(&e)
            ))
        })? {
            received += chunk.len() as u64;
            if received > layer.size {
                return Err(RegistryError::SizeMismatch {
                    digest: layer.digest.clone(),
                    expected: layer.size,
                    actual: received,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(RegistryError::io("write", dest.path))?;
            if let Some(tx) = &data
                && tx.send(chunk).await.is_err()
            {
                // The consumer stopped (its extraction failed). The blob is
                // still fetched and checked: a bad blob is the failure to
                // report, and a good one is kept for a push.
                data = None;
            }
            progress(received);
        }
        if received != layer.size {
            return Err(RegistryError::SizeMismatch {
                digest: layer.digest.clone(),
                expected: layer.size,
                actual: received,
            });
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != layer.digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {}", layer.digest),
                expected: layer.digest.clone(),
                actual,
            });
        }
        // Not synced: the layer is extracted (and synced) from the tee; the
        // file is a temp file the graph keeps unsynced, checking it before
        // it is sent again.
        file.flush()
            .await
            .map_err(RegistryError::io("write", dest.path))?;
        // Last, once nothing here can fail: the consumer may commit what
        // it made of the blob as soon as it sees this.
        let _ = verified.send(());
        drop(data);
        Ok(())
    }
}

impl Registry {
    /// The HTTP client for `host` (`host[:port]`): it trusts the host's
    /// `certs.d` roots besides the system's and presents its client
    /// certificate. `certs.d` is read on every call, as dockerd does: a CA
    /// or certificate dropped in takes effect without a restart, and gets
    /// a client of its own.
    pub(crate) fn http_client(&self, host: &str) -> Result<reqwest::Client, RegistryError> {
        let certs = self.certs(host)?;
        let key = format!("{host}\n{}", certs.key);
        let mut clients = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let tls = |reason: String| RegistryError::Tls {
            registry: host.to_owned(),
            reason,
        };
        let roots = certs
            .roots
            .iter()
            .map(|pem| reqwest::Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls(error_chain(&e)))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_certs_merge(roots);
        if let Some((pem, path)) = &certs.identity {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| tls(format!("{}: {}", path.display(), error_chain(&e))))?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| {
            let mut reason = error_chain(&e);
            if let Some((_, path)) = &certs.identity {
                reason = format!("{reason} (with the client certificate {})", path.display());
            }
            tls(reason)
        })?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

impl Session<'_> {
    /// The manifest `reference` (a tag or a digest) of `name`'s
    /// repository, of one of the types berth reads.
    async fn manifest(&self, name: &ImageName, reference: &str) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(name, &format!("manifests/{reference}"));
        let accept = manifest::ACCEPTED.join(", ");
        let response = self
            .send(&[pull_scope(name)], |http| {
                http.get(&url).header(reqwest::header::ACCEPT, &accept)
            })
            .await?;
        let familiar = name.familiar();
        if !response.status().is_success() {
            return Err(self.error(&familiar, response).await);
        }
        read_bounded(response, MAX_MANIFEST)
            .await
            .map_err(|e| match e {
                Bounded::TooLong(_) => RegistryError::BadManifest {
                    reference: familiar,
                    reason: format!("the manifest is larger than {MAX_MANIFEST} bytes"),
                },
                Bounded::Transport(e) => self.transport(&e),
            })
    }

    /// The answer to `GET` of the blob `digest` of `name`'s repository,
    /// its body unread.
    async fn blob(
        &self,
        name: &ImageName,
        digest: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = self.url(name, &format!("blobs/{digest}"));
        let response = self
            .send(&[pull_scope(name)], |http| http.get(&url))
            .await?;
        if !response.status().is_success() {
            return Err(self.error(&name.familiar(), response).await);
        }
        Ok(response)
    }
}

/// The token scope to read `name`'s repository.
fn pull_scope(name: &ImageName) -> String {
    format!("repository:{}:pull", name.repository())
}

/// Why [`read_bounded`] failed.
pub(crate) enum Bounded {
    /// The body was longer than allowed: this many bytes had come.
    TooLong(u64),
    /// The transfer failed.
    Transport(reqwest::Error),
}

/// The body of `response`, refused once it passes `limit` bytes: never
/// more than that is held, whatever the registry sends.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, Bounded> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Bounded::Transport)? {
        let read = body.len() as u64 + chunk.len() as u64;
        if read > limit {
            return Err(Bounded::TooLong(read));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_validated_as_moby_does() {
        assert_eq!(
            Mirror::parse("http://127.0.0.1:5000/").unwrap(),
            Mirror {
                host: "127.0.0.1:5000".into(),
                plain: true
            }
        );
        assert!(!Mirror::parse("https://mirror.example").unwrap().plain);
        for bad in [
            "mirror.example",
            "ftp://m",
            "https://",
            "https://m/v2/",
            "https://m?x",
            "https://u:p@m",
        ] {
            assert!(Mirror::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_certs_dir_makes_a_loopback_registry_tls_and_mirrors_come_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("127.0.0.1:5443")).unwrap();
        let registry = Registry::new(RegistryConfig {
            certs_dir: Some(dir.path().to_owned()),
            mirrors: vec![Mirror::parse("http://127.0.0.1:6000").unwrap()],
            ..RegistryConfig::default()
        });
        assert!(!registry.is_insecure("127.0.0.1:5443"));
        assert!(registry.is_insecure("127.0.0.1:5000"));
        assert!(registry.is_insecure("127.0.0.1:6000"));
        assert!(!registry.is_insecure("reg.example"));
        let hub = ImageName::parse("busybox:1", None).unwrap();
        let sources: Vec<String> = registry
            .sources(&hub)
            .iter()
            .map(|s| format!("{}/{}:{}", s.registry(), s.repository(), s.tag().unwrap()))
            .collect();
        assert_eq!(
            sources,
            [
                "127.0.0.1:6000/library/busybox:1",
                "docker.io/library/busybox:1"
            ]
        );
        let other = ImageName::parse("127.0.0.1:5443/a:1", None).unwrap();
        assert_eq!(registry.sources(&other), [other]);
    }
}
