//! Listeners: `unix://PATH`, `tcp://HOST:PORT` (TLS with client
//! certificates, or plain with an explicit `--tls=false`) and `fd://[N]`
//! (systemd socket activation), each connection served by hyper on its own
//! task.
//!
//! Start-up validates every `-H` address ([`Address::parse_all`]: scheme,
//! syntax, TLS material, activated sockets) before berthd touches its data
//! root; the sockets are bound later ([`Address::bind`]). Every connection
//! is bounded by its listener's [`ConnectionLimits`] (see [`guard`]) and
//! knows its [`Peer`], which every request carries in its extensions.

mod guard;
mod tls;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use guard::{Activity, Admission, GuardedBody, Slot, Slots, Tracked};
pub use guard::{
    ConnectionLimits, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
};

use crate::peer::Peer;

/// The socket of `unix://` without a path, and of a berthd without `-H`
/// (DESIGN.md, "API and state").
pub const DEFAULT_UNIX_SOCKET: &str = "/run/berth/berth.sock";

/// Why a listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address has no known scheme or is malformed.
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
    /// TLS material could not be loaded (dockerd's wording: "invalid TLS
    /// configuration", moby `daemon/command/daemon.go`).
    #[error("invalid TLS configuration: {0}")]
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

impl TlsOptions {
    /// Whether TLS is asked for: any of the server's own TLS flags.
    fn wanted(&self) -> bool {
        self.verify || self.cert.is_some() || self.key.is_some()
    }
}

/// A validated `-H` address, not bound yet.
pub struct Address {
    spec: String,
    kind: AddressKind,
}

enum AddressKind {
    Unix(PathBuf),
    Tcp(String, Option<tokio_rustls::TlsAcceptor>),
    Activated(Vec<ActivatedSocket>),
}

/// A socket systemd passed, checked but not yet owned.
enum ActivatedSocket {
    Unix(RawFd),
    Tcp(RawFd, Option<tokio_rustls::TlsAcceptor>),
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Address").field(&self.spec).finish()
    }
}

impl Address {
    /// Validates every `-H` address with the TLS settings: the scheme and
    /// syntax, the TLS material (read here, once), plain TCP only with the
    /// explicit opt-out, and activated sockets. Nothing is created or bound.
    pub fn parse_all(addresses: &[String], tls: &TlsOptions) -> Result<Vec<Address>, ListenError> {
        // TLS material is checked whenever TLS is asked for, even with no
        // tcp:// address: a flag berthd cannot honour is an error.
        let acceptor = if tls.wanted() {
            Some(tls::acceptor(tls)?)
        } else {
            None
        };
        let tcp = |spec: &str| tcp_transport(spec, tls, acceptor.as_ref());
        let mut fds = BTreeSet::new();
        addresses
            .iter()
            .map(|spec| Address::parse(spec, &tcp, &mut fds))
            .collect()
    }

    fn parse(
        spec: &str,
        tcp: &dyn Fn(&str) -> Result<Option<tokio_rustls::TlsAcceptor>, ListenError>,
        fds: &mut BTreeSet<RawFd>,
    ) -> Result<Address, ListenError> {
        let kind = if let Some(path) = spec.strip_prefix("unix://") {
            let path = if path.is_empty() {
                DEFAULT_UNIX_SOCKET
            } else {
                path
            };
            AddressKind::Unix(PathBuf::from(path))
        } else if let Some(addr) = spec.strip_prefix("tcp://") {
            if !valid_tcp_address(addr) {
                return Err(ListenError::Address(spec.to_owned()));
            }
            AddressKind::Tcp(addr.to_owned(), tcp(spec)?)
        } else if let Some(which) = spec.strip_prefix("fd://") {
            let mut sockets = Vec::new();
            for fd in activated_fds(which)? {
                if !fds.insert(fd) {
                    return Err(ListenError::Activation(format!("fd {fd} is named twice")));
                }
                sockets.push(activated_socket(fd, spec, tcp)?);
            }
            AddressKind::Activated(sockets)
        } else {
            return Err(ListenError::Address(spec.to_owned()));
        };
        Ok(Address {
            spec: spec.to_owned(),
            kind,
        })
    }

    /// Binds the address (an activated one: takes ownership of its
    /// sockets).
    pub async fn bind(self) -> Result<Vec<Listener>, ListenError> {
        match self.kind {
            AddressKind::Unix(path) => Ok(vec![bind_unix(&path).await?]),
            AddressKind::Tcp(addr, acceptor) => {
                let listener = TcpListener::bind(&addr)
                    .await
                    .map_err(io_err("bind", &addr))?;
                Ok(vec![Listener::Tcp(listener, acceptor)])
            }
            AddressKind::Activated(sockets) => sockets.into_iter().map(listener_from_fd).collect(),
        }
    }
}

/// `HOST:PORT` with a port number and a host name, IPv4 or bracketed IPv6
/// address; nothing else (no path, no user).
fn valid_tcp_address(addr: &str) -> bool {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().is_err() {
        return false;
    }
    match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }
    }
}

/// How a TCP listener speaks: TLS, or plain with the explicit opt-out.
fn tcp_transport(
    spec: &str,
    tls: &TlsOptions,
    acceptor: Option<&tokio_rustls::TlsAcceptor>,
) -> Result<Option<tokio_rustls::TlsAcceptor>, ListenError> {
    let transport = match acceptor {
        Some(acceptor) => Some(acceptor.clone()),
        None if tls.insecure => None,
        None => return Err(ListenError::InsecureTcp(spec.to_owned())),
    };
    if !tls.verify {
        warn_unauthenticated(spec);
    }
    Ok(transport)
}

/// Anyone who reaches a TCP listener that does not verify client
/// certificates controls the host: dockerd's warnings, verbatim (moby
/// `daemon/command/daemon.go`, `loadListeners`).
fn warn_unauthenticated(host: &str) {
    tracing::warn!(
        %host,
        "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
    );
    tracing::warn!(
        %host,
        "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!"
    );
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
fn activated_fds(which: &str) -> Result<Vec<RawFd>, ListenError> {
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
    let passed = SD_LISTEN_FDS_START..SD_LISTEN_FDS_START.saturating_add(count);
    if which.is_empty() {
        return Ok(passed.collect());
    }
    let fd: RawFd = which.parse().map_err(|_| {
        ListenError::Activation(format!("{which:?} is not a file descriptor number"))
    })?;
    if !passed.contains(&fd) {
        return Err(ListenError::Activation(format!("fd {fd} was not passed")));
    }
    Ok(vec![fd])
}

/// Checks what kind of socket `fd` is; a TCP one speaks TLS as `tcp://`
/// listeners do (plain only with `--tls=false`).
fn activated_socket(
    fd: RawFd,
    spec: &str,
    tcp: &dyn Fn(&str) -> Result<Option<tokio_rustls::TlsAcceptor>, ListenError>,
) -> Result<ActivatedSocket, ListenError> {
    use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname};
    let addr: SockaddrStorage = getsockname(fd).map_err(|e| ListenError::Io {
        what: "inspect",
        target: format!("fd {fd}"),
        source: e.into(),
    })?;
    match addr.family() {
        Some(AddressFamily::Unix) => Ok(ActivatedSocket::Unix(fd)),
        Some(AddressFamily::Inet | AddressFamily::Inet6) => {
            Ok(ActivatedSocket::Tcp(fd, tcp(&format!("{spec} (fd {fd})"))?))
        }
        other => Err(ListenError::Activation(format!(
            "fd {fd} is a {other:?} socket"
        ))),
    }
}

fn listener_from_fd(socket: ActivatedSocket) -> Result<Listener, ListenError> {
    match socket {
        ActivatedSocket::Unix(fd) => {
            // SAFETY: systemd passed this fd to us for our exclusive use
            // (LISTEN_PID matched), it is a unix socket (getsockname said
            // so), and parse_all refused any fd named twice, so nothing else
            // in the process owns it.
            let std = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
            std.set_nonblocking(true)
                .map_err(io_err("configure", format!("fd {fd}")))?;
            let listener =
                UnixListener::from_std(std).map_err(io_err("register", format!("fd {fd}")))?;
            Ok(Listener::Unix(listener, None))
        }
        ActivatedSocket::Tcp(fd, acceptor) => {
            // SAFETY: as above, for a TCP socket.
            let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
            std.set_nonblocking(true)
                .map_err(io_err("configure", format!("fd {fd}")))?;
            let listener =
                TcpListener::from_std(std).map_err(io_err("register", format!("fd {fd}")))?;
            Ok(Listener::Tcp(listener, acceptor))
        }
    }
}

/// Serves one connection until it closes, a wait on it runs past its
/// deadline, or shutdown is requested (then in-flight requests finish;
/// hijacked streams are cut when the process exits). Every request carries
/// `peer` in its extensions.
pub(crate) async fn serve_connection<I>(
    io: I,
    peer: Peer,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tracing::debug!(?peer, user = %peer.user(), "API connection");
    let watchdog = Arc::clone(&activity);
    let logged_peer = peer.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let request = activity.request_started();
        req.extensions_mut().insert(peer.clone());
        let activity = Arc::clone(&activity);
        let response = router.clone().oneshot(req.map(Body::new));
        async move {
            let response = response.await?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                activity.upgraded();
            }
            Ok::<_, Infallible>(response.map(|body| GuardedBody::new(body, request)))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(peer = ?logged_peer, error = %e, "connection ended with an error");
            }
        }
        closed = watchdog.closed(&limits) => {
            // Dropping the connection closes the socket.
            tracing::debug!(peer = ?logged_peer, %closed, "connection closed by the daemon");
        }
        () = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Accepts connections on `listener` until shutdown; each connection gets
/// its own task and a slot in the listener's table (see [`guard`]).
pub async fn accept_loop(
    listener: Listener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: watch::Receiver<bool>,
) {
    let described = listener.describe();
    let slots = Slots::new(limits.max_connections);
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            _ = connections.join_next(), if !connections.is_empty() => {}
            accepted = accept(&listener) => match accepted {
                Ok(accepted) => {
                    let activity = Activity::new(accepted.is_tls());
                    let Admission::Admitted(slot) = slots.admit(&activity, &described) else {
                        // Refused: dropping the socket closes it at once.
                        continue;
                    };
                    connections.spawn(connection(
                        accepted,
                        activity,
                        slot,
                        router.clone(),
                        limits,
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(listener = %described, error = %e, "accept failed");
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

/// One accepted connection: works out its peer (after the TLS handshake,
/// which is bounded like every wait) and serves it.
async fn connection(
    accepted: Accepted,
    activity: Arc<Activity>,
    slot: Slot,
    router: Router,
    limits: ConnectionLimits,
    shutdown: watch::Receiver<bool>,
) {
    match accepted {
        Accepted::Unix(stream) => {
            let peer = match Peer::of_unix(&stream) {
                Ok(peer) => peer,
                Err(e) => {
                    // Without credentials nobody can tell who this is: an
                    // authorization policy must not guess.
                    tracing::warn!(error = %e, "cannot read a unix client's credentials; closing");
                    return;
                }
            };
            let io = Tracked::new(stream, Arc::clone(&activity), slot);
            serve_connection(io, peer, activity, limits, router, shutdown).await;
        }
        Accepted::Tcp(stream, address, None) => {
            let io = Tracked::new(stream, Arc::clone(&activity), slot);
            let peer = Peer::Tcp { address };
            serve_connection(io, peer, activity, limits, router, shutdown).await;
        }
        Accepted::Tcp(stream, address, Some(acceptor)) => {
            let io = Tracked::new(stream, Arc::clone(&activity), slot);
            let handshake = tokio::select! {
                result = acceptor.accept(io) => result,
                closed = activity.closed(&limits) => {
                    tracing::debug!(%address, %closed, "TLS connection closed by the daemon");
                    return;
                }
            };
            match handshake {
                Ok(stream) => {
                    activity.handshake_done();
                    let peer = Peer::of_tls(stream.get_ref().1.peer_certificates(), address);
                    serve_connection(stream, peer, activity, limits, router, shutdown).await;
                }
                Err(e) => tracing::info!(%address, error = %e, "TLS handshake failed"),
            }
        }
    }
}

/// Resolves once shutdown is requested (without holding the watch's lock
/// across an await).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(
        tokio::net::TcpStream,
        SocketAddr,
        Option<tokio_rustls::TlsAcceptor>,
    ),
}

impl Accepted {
    fn is_tls(&self) -> bool {
        matches!(self, Accepted::Tcp(_, _, Some(_)))
    }
}

async fn accept(listener: &Listener) -> io::Result<Accepted> {
    match listener {
        Listener::Unix(l, _) => Ok(Accepted::Unix(l.accept().await?.0)),
        Listener::Tcp(l, tls) => {
            let (stream, address) = l.accept().await?;
            Ok(Accepted::Tcp(stream, address, tls.clone()))
        }
    }
}

/// Raises the soft limit on open files to the hard limit, as every Go
/// program does at start since Go 1.19 (golang/go#46279) and dockerd
/// therefore does: each connection costs a file descriptor, and a low soft
/// limit (1024 is common) would cap berthd far below
/// `--api-max-connections`. Never above the hard limit, which only
/// CAP_SYS_RESOURCE may raise. Returns the soft limit before and after.
pub fn raise_open_files_limit() -> nix::Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (now, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok((soft, now))
}

/// Serves one already connected unix stream with default limits (tests of
/// the router over a real connection).
#[cfg(test)]
pub(crate) async fn serve_unix_stream(
    stream: tokio::net::UnixStream,
    router: Router,
    shutdown: watch::Receiver<bool>,
) {
    let peer = Peer::of_unix(&stream).expect("peer credentials");
    let activity = Activity::new(false);
    serve_connection(
        stream,
        peer,
        activity,
        ConnectionLimits::default(),
        router,
        shutdown,
    )
    .await;
}

#[cfg(test)]
mod tests;
