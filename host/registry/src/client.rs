//! The distribution client: manifests, configs and blobs over
//! `oci-client`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::RegistryError;
use crate::manifest::{self, Document, Layer};
use crate::platform::Platform;
use crate::reference::{ImageName, is_loopback_registry};

/// The daemon-wide registry settings.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// Registries (`host[:port]`) spoken to over plain HTTP besides the
    /// loopback ones (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
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
    pub(crate) fn oci(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Token(t) => RegistryAuth::Bearer(t.clone()),
        }
    }

    /// A key that tells credentials apart without holding the secret.
    fn key(&self) -> String {
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

/// The distribution client of the daemon. One `oci-client` client per
/// registry and credentials, so bearer tokens are cached (per scope, until
/// they expire) across pulls.
pub struct Registry {
    config: RegistryConfig,
    clients: Mutex<HashMap<String, Arc<oci_client::Client>>>,
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
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `registry` is spoken to over plain HTTP.
    pub fn is_insecure(&self, registry: &str) -> bool {
        is_loopback_registry(registry)
            || self
                .config
                .insecure_registries
                .iter()
                .any(|r| r == registry)
    }

    pub(crate) fn client(
        &self,
        name: &ImageName,
        credentials: &Credentials,
    ) -> Arc<oci_client::Client> {
        let registry = name.oci().resolve_registry().to_owned();
        let key = format!("{registry}\n{}", credentials.key());
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let protocol = if self.is_insecure(name.registry()) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        Arc::clone(clients.entry(key).or_insert_with(|| {
            Arc::new(oci_client::Client::new(ClientConfig {
                protocol,
                // We choose the platform ourselves (`Platform::select`).
                platform_resolver: None,
                user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
                // A push streams each blob file in one PUT (the
                // distribution API's monolithic upload): one request per
                // layer rather than one per chunk of the file.
                use_monolithic_push: true,
                ..ClientConfig::default()
            }))
        }))
    }

    /// Resolves `name` to one image manifest for `platform` and fetches its
    /// config.
    pub async fn resolve(
        &self,
        name: &ImageName,
        platform: &Platform,
        credentials: &Credentials,
    ) -> Result<ResolvedImage, RegistryError> {
        let client = self.client(name, credentials);
        let auth = credentials.oci();
        let familiar = name.familiar();
        let oci_err = |e| RegistryError::from_oci(&familiar, e);
        // Authenticate first, so that bad credentials are reported as such
        // rather than as an unknown manifest.
        client
            .auth(name.oci(), &auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(oci_err)?;
        let (body, _) = client
            .pull_manifest_raw(name.oci(), &auth, &manifest::ACCEPTED)
            .await
            .map_err(oci_err)?;
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
                let by_digest = name.oci().clone_with_digest(entry.digest.clone());
                let (body, _) = client
                    .pull_manifest_raw(&by_digest, &auth, &manifest::ACCEPTED)
                    .await
                    .map_err(oci_err)?;
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
        // A config is small (KiBs); bound it anyway before reading it whole.
        const MAX_CONFIG: u64 = 8 << 20;
        if image.config_size > MAX_CONFIG {
            return Err(RegistryError::BadManifest {
                reference: familiar,
                reason: format!("image config of {} bytes is too large", image.config_size),
            });
        }
        let mut config = Vec::new();
        client
            .pull_blob(name.oci(), image.config_digest.as_str(), &mut config)
            .await
            .map_err(oci_err)?;
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

    /// Streams the blob of `layer` into `dest` (created, or truncated),
    /// hashing as it goes; its digest and size are checked and the file
    /// is `fsync`ed before this returns `Ok`. On error the caller removes
    /// `dest`. Nothing but the read buffer is held in memory.
    pub async fn fetch_blob(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        layer: &Layer,
        dest: &Path,
        progress: BlobProgress<'_>,
    ) -> Result<(), RegistryError> {
        let client = self.client(name, credentials);
        let familiar = name.familiar();
        client
            .store_auth_if_needed(name.oci().resolve_registry(), &credentials.oci())
            .await;
        let mut stream = client
            .pull_blob_stream(name.oci(), layer.digest.as_str())
            .await
            .map_err(|e| RegistryError::from_oci(&familiar, e))?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(RegistryError::io("create", dest))?;
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                // oci-client's own digest check fails the stream's end.
                RegistryError::Transport(format!("failed to read blob {}: {e}", layer.digest))
            })?;
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
                .map_err(RegistryError::io("write", dest))?;
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
        file.sync_all()
            .await
            .map_err(RegistryError::io("sync", dest))?;
        Ok(())
    }
}

impl Registry {
    /// Checks `credentials` against `registry`'s `/v2/` with the challenge
    /// flow, as `docker login` asks the daemon to (moby
    /// `registry.loginV2`): a `Basic` challenge is answered with the
    /// credentials, a `Bearer` one at its realm's token endpoint. Returns
    /// the identity (refresh) token the token service gave, if any.
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<Option<String>, RegistryError> {
        let Credentials::Basic { username, password } = credentials else {
            return Err(RegistryError::Unauthorized {
                message: "a user name and password are needed to log in".into(),
            });
        };
        let host = match registry {
            "docker.io" | "index.docker.io" | "https://index.docker.io/v1/" => {
                "registry-1.docker.io"
            }
            other => other
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/'),
        };
        let scheme = if self.is_insecure(host) {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{host}/v2/");
        let transport = |e: reqwest::Error| RegistryError::Transport(format!("Get {url:?}: {e}"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        let first = http.get(&url).send().await.map_err(transport)?;
        if first.status().is_success() {
            return Ok(None);
        }
        let failed = |status: reqwest::StatusCode| RegistryError::Unauthorized {
            // moby's text (registry/auth.go, loginV2).
            message: format!("login attempt to {url} failed with status: {status}"),
        };
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Err(failed(first.status()));
        }
        let challenges = first
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(crate::challenge::parse)
            .flatten()
            .collect::<Vec<_>>();
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = bearer.realm().ok_or_else(|| {
                RegistryError::Transport(format!("{url}: bearer challenge without a realm"))
            })?;
            let mut query = vec![("account", username.as_str()), ("client_id", "berth")];
            if let Some(service) = bearer.service() {
                query.push(("service", service));
            }
            let response = http
                .get(realm)
                .query(&query)
                .basic_auth(username, Some(password))
                .send()
                .await
                .map_err(transport)?;
            if !response.status().is_success() {
                return Err(RegistryError::Unauthorized {
                    message: "incorrect username or password".into(),
                });
            }
            let body: serde_json::Value = response.json().await.map_err(transport)?;
            return Ok(body["refresh_token"].as_str().map(str::to_owned));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let response = http
                .get(&url)
                .basic_auth(username, Some(password))
                .send()
                .await
                .map_err(transport)?;
            if response.status().is_success() {
                return Ok(None);
            }
            return Err(failed(response.status()));
        }
        Err(failed(first.status()))
    }
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
