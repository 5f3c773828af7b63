//! HTTP/1.1 to berthd over `unix://`, `tcp://` or `fd://`, with hyper.
//!
//! Every request opens its own connection (the daemon is local; this keeps
//! concurrent requests such as `run`'s attach + wait + start independent).
//! Hijacked requests (`attach`, `job run`) upgrade their connection and hand
//! back the raw stream.

use std::os::fd::{FromRawFd, RawFd};

use anyhow::{Context, anyhow, bail};
use berth_api::ErrorResponse;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

/// The default daemon address.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// An error answered by the daemon: printed as docker prints it.
#[derive(Debug)]
pub struct DaemonError {
    /// HTTP status.
    pub status: StatusCode,
    /// The daemon's message.
    pub message: String,
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for DaemonError {}

/// A stream to the daemon.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A request body: nothing, bytes, or a stream (import of a large tarball).
pub enum Body {
    /// No body.
    Empty,
    /// In-memory bytes (JSON).
    Bytes(Bytes),
    /// Streamed from a reader.
    Reader(Box<dyn AsyncRead + Send + Sync + Unpin>),
}

type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

fn box_body(body: Body) -> BoxBody {
    match body {
        Body::Empty => Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
        Body::Bytes(b) => Full::new(b).map_err(|never| match never {}).boxed_unsync(),
        Body::Reader(r) => {
            use futures_util::TryStreamExt;
            let stream = tokio_util::io::ReaderStream::new(r).map_ok(Frame::data);
            StreamBody::new(stream).boxed_unsync()
        }
    }
}

/// TLS settings for `tcp://` hosts (docker's flag names).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// CA that signed the daemon's certificate.
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate.
    pub cert: Option<std::path::PathBuf>,
    /// Client key.
    pub key: Option<std::path::PathBuf>,
}

/// Every certificate in the PEM file `path` (given as `flag`); at least one.
fn pem_certificates(
    path: &std::path::Path,
    flag: &str,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| anyhow!("{flag} {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{flag} {}: no certificate found (expected a PEM \"CERTIFICATE\" block)",
            path.display()
        );
    }
    Ok(certs)
}

/// The private key in the PEM file `path` (`--tlskey`).
fn pem_private_key(
    path: &std::path::Path,
) -> anyhow::Result<rustls::pki_types::PrivateKeyDer<'static>> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::{self, PemObject};
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow!(
            "--tlskey {}: no private key found (expected a PEM \"PRIVATE KEY\" block)",
            path.display()
        ),
        e => anyhow!("--tlskey {}: {e}", path.display()),
    })
}

/// The daemon's address and how to reach it.
#[derive(Clone)]
pub struct Client {
    host: String,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Client {
    /// A client for `host` (`unix://`, `tcp://`, `fd://`).
    pub fn new(host: &str) -> anyhow::Result<Client> {
        if !(host.starts_with("unix://") || host.starts_with("tcp://") || host.starts_with("fd://"))
        {
            bail!("invalid host {host:?}: expected unix://PATH, tcp://HOST:PORT or fd://N");
        }
        Ok(Client {
            host: host.to_owned(),
            tls: None,
        })
    }

    /// Speaks TLS to `tcp://` hosts, verifying the daemon against the CA and
    /// presenting the client certificate.
    ///
    /// Each file must hold what its flag names: a PEM file without it is an
    /// error naming the file, never an empty chain (which rustls would send,
    /// and the daemon would refuse with "peer sent no certificates").
    pub fn with_tls(mut self, tls: &TlsOptions) -> anyhow::Result<Client> {
        let ca = tls
            .ca
            .as_deref()
            .ok_or_else(|| anyhow!("--tlscacert is required with --tlsverify"))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certificates(ca, "--tlscacert")? {
            roots
                .add(cert)
                .with_context(|| format!("--tlscacert {}", ca.display()))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                let chain = pem_certificates(cert, "--tlscert")?;
                builder
                    .with_client_auth_cert(chain, pem_private_key(key)?)
                    .with_context(|| {
                        format!(
                            "--tlscert {} with --tlskey {}",
                            cert.display(),
                            key.display()
                        )
                    })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => bail!("--tlscert and --tlskey go together"),
        };
        self.tls = Some(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
            config,
        )));
        Ok(self)
    }

    async fn connect(&self) -> anyhow::Result<Box<dyn Io>> {
        let unreachable = || {
            format!(
                "Cannot connect to the berth daemon at {}. Is the berth daemon running?",
                self.host
            )
        };
        if let Some(path) = self.host.strip_prefix("unix://") {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .with_context(unreachable)?;
            return Ok(Box::new(stream));
        }
        if let Some(addr) = self.host.strip_prefix("tcp://") {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .with_context(unreachable)?;
            if let Some(tls) = &self.tls {
                let host = addr
                    .rsplit_once(':')
                    .map_or(addr, |(h, _)| h)
                    .trim_matches(['[', ']']);
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| anyhow!("invalid TLS server name {host:?}: {e}"))?;
                let stream = tls
                    .connect(name, stream)
                    .await
                    .context("TLS handshake with the daemon failed")?;
                return Ok(Box::new(stream));
            }
            return Ok(Box::new(stream));
        }
        if let Some(fd) = self.host.strip_prefix("fd://") {
            // fd://N: a connected stream socket inherited from the parent.
            // Each request uses a duplicate, so requests must not overlap.
            let fd: RawFd = fd
                .parse()
                .map_err(|_| anyhow!("invalid fd:// host {:?}", self.host))?;
            // SAFETY: the user named this inherited descriptor; it stays open
            // for the whole process (we only ever use duplicates of it).
            let dup = nix::unistd::dup(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
                .with_context(|| format!("cannot use inherited fd {fd}"))?;
            // SAFETY: `dup` returned a fresh descriptor that we own.
            let std = unsafe {
                std::os::unix::net::UnixStream::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(
                    dup,
                ))
            };
            std.set_nonblocking(true)?;
            return Ok(Box::new(tokio::net::UnixStream::from_std(std)?));
        }
        bail!("invalid host {:?}", self.host)
    }

    /// Sends one request and returns the response (any status).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: Option<&str>,
        upgrade: bool,
    ) -> anyhow::Result<Response<Incoming>> {
        self.send_with_headers(method, path, body, content_type, upgrade, &[])
            .await
    }

    /// [`Client::send`] with extra request headers (`X-Registry-Auth`).
    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: Option<&str>,
        upgrade: bool,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Response<Incoming>> {
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .context("HTTP handshake with the daemon failed")?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/v{}{path}", berth_api::version::CURRENT))
            .header("Host", "berth")
            .header(
                "User-Agent",
                concat!("berth-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if upgrade {
            req = req.header("Connection", "Upgrade").header("Upgrade", "tcp");
        }
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req.body(box_body(body))?;
        sender
            .send_request(req)
            .await
            .context("request to the daemon failed")
    }

    /// Sends a request and fails with a [`DaemonError`] on error statuses.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: Option<&str>,
    ) -> anyhow::Result<Response<Incoming>> {
        let response = self.send(method, path, body, content_type, false).await?;
        check(response).await
    }

    /// GET a JSON document.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.call(Method::GET, path, Body::Empty, None).await?;
        read_json(response).await
    }

    /// POST a JSON document, expecting JSON back (or nothing).
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<T> {
        let body = Body::Bytes(Bytes::from(serde_json::to_vec(body)?));
        let response = self
            .call(Method::POST, path, body, Some("application/json"))
            .await?;
        read_json(response).await
    }

    /// A request whose answer is ignored beyond its status.
    pub async fn simple(&self, method: Method, path: &str) -> anyhow::Result<()> {
        let response = self.call(method, path, Body::Empty, None).await?;
        let _ = response.into_body().collect().await;
        Ok(())
    }

    /// Upgrades a request into a raw stream (`101 Switching Protocols`).
    pub async fn hijack(
        &self,
        path: &str,
        body: Body,
    ) -> anyhow::Result<TokioIo<hyper::upgrade::Upgraded>> {
        let response = self
            .send(Method::POST, path, body, Some("text/plain"), true)
            .await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            check(response).await?;
            bail!("the daemon did not upgrade the connection");
        }
        let upgraded = hyper::upgrade::on(response)
            .await
            .context("upgrading the connection failed")?;
        Ok(TokioIo::new(upgraded))
    }
}

/// Turns error statuses into [`DaemonError`]s.
pub async fn check(response: Response<Incoming>) -> anyhow::Result<Response<Incoming>> {
    let status = response.status();
    if status.is_success()
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::SWITCHING_PROTOCOLS
    {
        return Ok(response);
    }
    let body = response.into_body().collect().await?.to_bytes();
    let message = serde_json::from_slice::<ErrorResponse>(&body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_owned());
    Err(DaemonError { status, message }.into())
}

/// Reads a whole JSON body (an empty body reads as `null`).
pub async fn read_json<T: DeserializeOwned>(response: Response<Incoming>) -> anyhow::Result<T> {
    let body = response.into_body().collect().await?.to_bytes();
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body).with_context(|| {
        format!(
            "unexpected answer from the daemon: {}",
            String::from_utf8_lossy(body)
        )
    })
}

/// URL-encodes a query from pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes one path segment (container names, image references).
pub fn segment(s: &str) -> String {
    // Image references keep their slashes: the daemon's image routes take
    // the rest of the path.
    s.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            query(&[("a", "1"), ("f", "{\"x\":[1]}")]),
            "?a=1&f=%7B%22x%22%3A%5B1%5D%7D"
        );
        assert_eq!(query(&[]), "");
        assert_eq!(
            segment("docker.io/library/busybox:1"),
            "docker.io/library/busybox%3A1"
        );
    }

    #[test]
    fn bad_tls_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=client",
                "-keyout",
                "client.key",
                "-out",
                "client.pem",
            ])
            .output()
            .expect("openssl is needed to make test certificates (Debian package openssl)");
        assert!(out.status.success(), "openssl: {out:?}");
        let path = |name: &str| Some(dir.path().join(name));
        let options = |ca: &str, cert: &str, key: &str| TlsOptions {
            ca: path(ca),
            cert: path(cert),
            key: path(key),
        };
        let client = || Client::new("tcp://127.0.0.1:2376").expect("client");
        client()
            .with_tls(&options("client.pem", "client.pem", "client.key"))
            .expect("good material");
        for (options, flag, file, why) in [
            // rustls alone takes the empty chain and fails with "peer sent
            // no certificates", naming neither the file nor the side.
            (
                options("client.pem", "client.key", "client.key"),
                "--tlscert",
                "client.key",
                "no certificate found",
            ),
            (
                options("client.pem", "client.pem", "client.pem"),
                "--tlskey",
                "client.pem",
                "no private key found",
            ),
            (
                options("client.key", "client.pem", "client.key"),
                "--tlscacert",
                "client.key",
                "no certificate found",
            ),
            (
                options("client.pem", "absent.pem", "client.key"),
                "--tlscert",
                "absent.pem",
                "No such file",
            ),
        ] {
            let err = format!(
                "{:#}",
                client().with_tls(&options).expect_err("bad material")
            );
            assert!(
                err.contains(flag) && err.contains(file) && err.contains(why),
                "{flag} {file}: {err}"
            );
            assert!(!err.contains("peer sent no certificates"), "{err}");
        }
    }

    #[test]
    fn hosts_are_checked() {
        assert!(Client::new("unix:///run/berth/berth.sock").is_ok());
        assert!(Client::new("tcp://127.0.0.1:2375").is_ok());
        assert!(Client::new("http://x").is_err());
    }
}
