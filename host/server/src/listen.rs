//! Listeners: `unix://PATH`, `tcp://HOST:PORT` (TLS with client
//! certificates, or plain with an explicit `--tls=false`) and `fd://[N]`
//! (systemd socket activation), each connection served by hyper on its own
//! task.

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// The socket of `unix://` without a path, and of a berthd without `-H`
/// (DESIGN.md, "API and state").
pub const DEFAULT_UNIX_SOCKET: &str = "/run/berth/berth.sock";

/// Why a listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address has no known scheme.
    #[error("invalid listen address {0:?}: expected unix://PATH, tcp://HOST:PORT or fd://[N]")]
    Address(String),
    /// Another daemon answers on the socket.
    #[error("another daemon is already listening on {}", .0.display())]
    InUse(PathBuf),
    /// A socket operation failed.
    #[error("failed to {what} {target}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// On what.
        target: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// TCP without TLS and without the explicit opt-out.
    #[error(
        "refusing to listen on {0} without TLS: pass --tlsverify with --tlscacert, --tlscert and --tlskey, or --tls=false to accept unauthenticated clients"
    )]
    InsecureTcp(String),
    /// Socket activation was asked for but no sockets were passed.
    #[error("fd:// needs sockets passed by systemd (LISTEN_PID/LISTEN_FDS): {0}")]
    Activation(String),
    /// TLS material could not be loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

fn io_err(
    what: &'static str,
    target: impl std::fmt::Display,
) -> impl FnOnce(io::Error) -> ListenError {
    let target = target.to_string();
    move |source| ListenError::Io {
        what,
        target,
        source,
    }
}

/// TLS settings (`--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--tls=false` given: plain TCP allowed.
    pub insecure: bool,
    /// Require and verify client certificates.
    pub verify: bool,
    /// CA that signs client certificates.
    pub ca: Option<PathBuf>,
    /// Server certificate chain.
    pub cert: Option<PathBuf>,
    /// Server private key.
    pub key: Option<PathBuf>,
}

/// A bound listener.
pub enum Listener {
    /// A unix socket; the path is removed on shutdown.
    Unix(UnixListener, Option<PathBuf>),
    /// A TCP socket, TLS when the acceptor is set.
    Tcp(TcpListener, Option<tokio_rustls::TlsAcceptor>),
}

impl Listener {
    /// Where it listens, for logs.
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(l, path) => path
                .clone()
                .or_else(|| {
                    l.local_addr()
                        .ok()
                        .and_then(|a| a.as_pathname().map(Path::to_owned))
                })
                .map_or_else(
                    || "unix socket".to_owned(),
                    |p| format!("unix://{}", p.display()),
                ),
            Listener::Tcp(l, tls) => format!(
                "{}://{}",
                if tls.is_some() { "tcp+tls" } else { "tcp" },
                l.local_addr().map(|a| a.to_string()).unwrap_or_default()
            ),
        }
    }
}

/// Binds one `-H` address.
pub async fn bind(address: &str, tls: &TlsOptions) -> Result<Vec<Listener>, ListenError> {
    if let Some(path) = address.strip_prefix("unix://") {
        let path = if path.is_empty() {
            DEFAULT_UNIX_SOCKET
        } else {
            path
        };
        return Ok(vec![bind_unix(Path::new(path)).await?]);
    }
    if let Some(addr) = address.strip_prefix("tcp://") {
        let acceptor = if tls.verify || tls.cert.is_some() {
            Some(tls_acceptor(tls)?)
        } else if tls.insecure {
            tracing::warn!(%addr, "listening on TCP without TLS: anyone who can reach it controls the host");
            None
        } else {
            return Err(ListenError::InsecureTcp(address.to_owned()));
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(io_err("bind", addr))?;
        return Ok(vec![Listener::Tcp(listener, acceptor)]);
    }
    if let Some(which) = address.strip_prefix("fd://") {
        return activated(which);
    }
    Err(ListenError::Address(address.to_owned()))
}

async fn bind_unix(path: &Path) -> Result<Listener, ListenError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err("create", parent.display()))?;
    }
    if path.exists() {
        // A live daemon answers; a stale socket from a crash does not.
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ListenError::InUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(io_err("remove stale socket", path.display()))?;
    }
    let listener = UnixListener::bind(path).map_err(io_err("bind", path.display()))?;
    // Docker API, "Daemon socket option": root and the socket's group only.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(io_err("chmod", path.display()))?;
    Ok(Listener::Unix(listener, Some(path.to_owned())))
}

/// sd_listen_fds(3): sockets start at fd 3, `LISTEN_FDS` of them, meant for
/// us if `LISTEN_PID` is our pid.
fn activated(which: &str) -> Result<Vec<Listener>, ListenError> {
    const SD_LISTEN_FDS_START: RawFd = 3;
    let pid = std::env::var("LISTEN_PID").unwrap_or_default();
    if pid.parse::<u32>().ok() != Some(std::process::id()) {
        return Err(ListenError::Activation(format!(
            "LISTEN_PID is {pid:?}, not this process"
        )));
    }
    let count: RawFd = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| ListenError::Activation("LISTEN_FDS is missing or 0".to_owned()))?;
    let fds: Vec<RawFd> = if which.is_empty() {
        (SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count).collect()
    } else {
        let fd: RawFd = which.parse().map_err(|_| {
            ListenError::Activation(format!("{which:?} is not a file descriptor number"))
        })?;
        if !(SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count).contains(&fd) {
            return Err(ListenError::Activation(format!("fd {fd} was not passed")));
        }
        vec![fd]
    };
    fds.into_iter().map(listener_from_fd).collect()
}

fn listener_from_fd(fd: RawFd) -> Result<Listener, ListenError> {
    use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname};
    let addr: SockaddrStorage = getsockname(fd).map_err(|e| ListenError::Io {
        what: "inspect",
        target: format!("fd {fd}"),
        source: e.into(),
    })?;
    // SAFETY: systemd passed this fd to us for our exclusive use (LISTEN_PID
    // matched), it is a socket (getsockname succeeded), and nothing else in
    // the process owns it.
    match addr.family() {
        Some(AddressFamily::Unix) => {
            let std = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
            std.set_nonblocking(true)
                .map_err(io_err("configure", format!("fd {fd}")))?;
            let listener =
                UnixListener::from_std(std).map_err(io_err("register", format!("fd {fd}")))?;
            Ok(Listener::Unix(listener, None))
        }
        Some(AddressFamily::Inet | AddressFamily::Inet6) => {
            let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
            std.set_nonblocking(true)
                .map_err(io_err("configure", format!("fd {fd}")))?;
            let listener =
                TcpListener::from_std(std).map_err(io_err("register", format!("fd {fd}")))?;
            Ok(Listener::Tcp(listener, None))
        }
        other => Err(ListenError::Activation(format!(
            "fd {fd} is a {other:?} socket"
        ))),
    }
}

fn tls_acceptor(tls: &TlsOptions) -> Result<tokio_rustls::TlsAcceptor, ListenError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let need = |p: &Option<PathBuf>, flag: &str| {
        p.clone()
            .ok_or_else(|| ListenError::Tls(format!("{flag} is required with TLS")))
    };
    let cert_path = need(&tls.cert, "--tlscert")?;
    let key_path = need(&tls.key, "--tlskey")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| ListenError::Tls(format!("reading {}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| ListenError::Tls(format!("reading {}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    let builder = if tls.verify {
        let ca_path = need(&tls.ca, "--tlscacert")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&ca_path)
            .map_err(|e| ListenError::Tls(format!("reading {}: {e}", ca_path.display())))?
        {
            let cert =
                cert.map_err(|e| ListenError::Tls(format!("reading {}: {e}", ca_path.display())))?;
            roots.add(cert).map_err(|e| {
                ListenError::Tls(format!("CA certificate in {}: {e}", ca_path.display()))
            })?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ListenError::Tls(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves one connection until it closes or shutdown is requested (then
/// in-flight requests finish; hijacked streams are cut when the process
/// exits).
pub(crate) async fn serve_connection<I>(io: I, router: Router, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        router.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Accepts connections on `listener` until shutdown; each connection gets
/// its own task.
pub async fn accept_loop(listener: Listener, router: Router, shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            _ = connections.join_next(), if !connections.is_empty() => {}
            accepted = accept(&listener) => match accepted {
                Ok(Accepted::Unix(stream)) => {
                    connections.spawn(serve_connection(stream, router.clone(), shutdown.clone()));
                }
                Ok(Accepted::Tcp(stream, tls)) => {
                    let (router, shutdown) = (router.clone(), shutdown.clone());
                    connections.spawn(async move {
                        match tls {
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => serve_connection(stream, router, shutdown).await,
                                Err(e) => tracing::info!(error = %e, "TLS handshake failed"),
                            },
                            None => serve_connection(stream, router, shutdown).await,
                        }
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    if let Listener::Unix(_, Some(path)) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    // Let in-flight requests finish, but do not wait on endless streams.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// Resolves once shutdown is requested (without holding the watch's lock
/// across an await).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream, Option<tokio_rustls::TlsAcceptor>),
}

async fn accept(listener: &Listener) -> io::Result<Accepted> {
    match listener {
        Listener::Unix(l, _) => Ok(Accepted::Unix(l.accept().await?.0)),
        Listener::Tcp(l, tls) => Ok(Accepted::Tcp(l.accept().await?.0, tls.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_plain_tcp_without_the_explicit_flag() {
        let err = bind("tcp://127.0.0.1:0", &TlsOptions::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ListenError::InsecureTcp(_)), "{err}");
        let ok = bind(
            "tcp://127.0.0.1:0",
            &TlsOptions {
                insecure: true,
                ..TlsOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(ok[0].describe().starts_with("tcp://127.0.0.1:"));
    }

    #[tokio::test]
    async fn unix_sockets_are_0660_stale_ones_replaced_live_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/berth.sock");
        let address = format!("unix://{}", path.display());
        let first = bind(&address, &TlsOptions::default()).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let err = bind(&address, &TlsOptions::default()).await.err().unwrap();
        assert!(matches!(err, ListenError::InUse(_)), "{err}");
        drop(first);
        // The file is left behind, as after a crash: it is replaced.
        assert!(path.exists());
        bind(&address, &TlsOptions::default()).await.unwrap();
    }

    #[tokio::test]
    async fn rejects_unknown_schemes_and_missing_activation() {
        assert!(matches!(
            bind("http://x", &TlsOptions::default()).await,
            Err(ListenError::Address(_))
        ));
        assert!(matches!(
            bind("fd://", &TlsOptions::default()).await,
            Err(ListenError::Activation(_))
        ));
    }

    #[tokio::test]
    async fn tls_needs_its_files() {
        let tls = TlsOptions {
            verify: true,
            ..TlsOptions::default()
        };
        let err = bind("tcp://127.0.0.1:0", &tls).await.err().unwrap();
        assert!(err.to_string().contains("--tlscert"), "{err}");
    }
}
