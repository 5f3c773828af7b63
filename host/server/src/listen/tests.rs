//! Listener tests: addresses and TLS material checked before anything is
//! bound, and the bound and deadlines over real unix sockets.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::*;

/// How long a test waits for something that must happen: a bound on
/// hangs, not a measurement.
const BOUND: Duration = Duration::from_secs(20);

fn parse(address: &str, tls: &TlsOptions) -> Result<Address, ListenError> {
    Address::parse_all(&[address.to_owned()], tls).map(|mut all| all.remove(0))
}

async fn bind(address: &str, tls: &TlsOptions) -> Result<Vec<Listener>, ListenError> {
    parse(address, tls)?.bind().await
}

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

#[test]
fn parsing_checks_every_address_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("not/yet/berth.sock");
    let plain = TlsOptions {
        insecure: true,
        ..TlsOptions::default()
    };
    parse(&format!("unix://{}", socket.display()), &plain).unwrap();
    assert!(
        !dir.path().join("not").exists(),
        "parsing created a directory"
    );
    for good in [
        "tcp://127.0.0.1:2375",
        "tcp://localhost:0",
        "tcp://[::1]:2375",
        "tcp://my-host.example:2375",
    ] {
        parse(good, &plain).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "http://x",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:port",
        "tcp://127.0.0.1:99999",
        "tcp://:2375",
        "tcp://h:1/path",
        "tcp://user@h:1",
        "tcp://[::1:2375",
        "127.0.0.1:2375",
    ] {
        assert!(
            matches!(parse(bad, &plain), Err(ListenError::Address(_))),
            "{bad} was accepted"
        );
    }
    // One bad address fails them all.
    let all = [
        format!("unix://{}", socket.display()),
        "tcp://nope".to_owned(),
    ];
    assert!(Address::parse_all(&all, &plain).is_err());
    // Activation is checked here too (this process was not activated).
    assert!(matches!(
        parse("fd://", &plain),
        Err(ListenError::Activation(_))
    ));
}

#[test]
fn tls_needs_its_files() {
    let tls = TlsOptions {
        verify: true,
        ..TlsOptions::default()
    };
    let err = parse("tcp://127.0.0.1:0", &tls).err().unwrap();
    assert!(err.to_string().contains("--tlscert"), "{err}");
    // Even with no tcp:// address: a TLS flag is never ignored.
    let err = parse("unix:///tmp/x.sock", &tls).err().unwrap();
    assert!(err.to_string().contains("--tlscert"), "{err}");
}

/// A CA, a server certificate signed by it, and a file that is not a
/// certificate, made with openssl (a prerequisite of the test suite).
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .current_dir(dir.path())
                .args(args)
                .output()
                .expect("openssl is needed to make test certificates (Debian package openssl)");
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        openssl(&[
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
            "/CN=server",
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
        ]);
        openssl(&[
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
            "/CN=other",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
        ]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn options(&self, ca: &str, cert: &str, key: &str) -> TlsOptions {
        TlsOptions {
            insecure: false,
            verify: true,
            ca: Some(self.path(ca)),
            cert: Some(self.path(cert)),
            key: Some(self.path(key)),
        }
    }
}

#[test]
fn bad_tls_material_is_an_error_naming_the_file() {
    let pki = Pki::new();
    parse(
        "tcp://127.0.0.1:0",
        &pki.options("server.pem", "server.pem", "server.key"),
    )
    .unwrap();
    let cases = [
        // A key where the certificate belongs: rustls alone would say
        // "peer sent no certificates".
        (
            pki.options("server.pem", "server.key", "server.key"),
            "--tlscert",
            "server.key",
            "no certificate found",
        ),
        (
            pki.options("server.pem", "server.pem", "server.pem"),
            "--tlskey",
            "server.pem",
            "no private key found",
        ),
        (
            pki.options("server.key", "server.pem", "server.key"),
            "--tlscacert",
            "server.key",
            "no certificate found",
        ),
        (
            pki.options("server.pem", "server.pem", "other.key"),
            "--tlscert",
            "other.key",
            "",
        ),
        (
            pki.options("server.pem", "absent.pem", "server.key"),
            "--tlscert",
            "absent.pem",
            "No such file",
        ),
    ];
    for (options, flag, file, why) in cases {
        let err = parse("tcp://127.0.0.1:0", &options)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("invalid TLS configuration: "), "{err}");
        assert!(
            err.contains(flag) && err.contains(file) && err.contains(why),
            "{flag} {file}: {err}"
        );
        assert!(!err.contains("peer sent no certificates"), "{err}");
    }
}

/// A router with a route that answers at once, one whose response streams
/// one chunk and then never ends (as `logs -f` does), and one that echoes
/// the peer it was given.
fn test_router() -> Router {
    Router::new()
        .route("/ping", get(|| async { "OK" }))
        .route(
            "/stream",
            get(|| async {
                let chunks = futures_util::stream::once(async {
                    Ok::<_, Infallible>(bytes::Bytes::from_static(b"first"))
                })
                .chain(futures_util::stream::pending());
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/peer",
            get(|req: axum::extract::Request| async move {
                format!("{:?}", req.extensions().get::<Peer>())
            }),
        )
}

use futures_util::StreamExt as _;

/// A unix listener in `dir` served with `limits`; stops with the returned
/// sender.
async fn serve(
    dir: &Path,
    limits: ConnectionLimits,
) -> (PathBuf, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let path = dir.join("api.sock");
    let listener = bind(
        &format!("unix://{}", path.display()),
        &TlsOptions::default(),
    )
    .await
    .unwrap()
    .remove(0);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, test_router(), limits, shutdown));
    (path, stop, task)
}

/// Sends a request and reads the response head and the first body bytes.
async fn request(stream: &mut UnixStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("no response")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Reads until the daemon closes the connection (bounded); returns what it
/// read.
async fn until_closed(stream: &mut UnixStream) -> Vec<u8> {
    let mut all = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut all))
        .await
        .expect("the daemon never closed the connection")
        .unwrap_or_default();
    all
}

/// Whether the connection is still open: nothing to read and no EOF.
async fn still_open(stream: &mut UnixStream) -> bool {
    let mut byte = [0u8; 1];
    tokio::time::timeout(Duration::from_millis(200), stream.read(&mut byte))
        .await
        .is_err()
}

fn short_limits(max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        max_connections,
        handshake_timeout: Duration::from_secs(1),
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn excess_connections_are_refused_while_all_are_busy() {
    let dir = tempfile::tempdir().unwrap();
    // Long deadlines: only the bound is under test.
    let limits = ConnectionLimits {
        max_connections: 2,
        ..ConnectionLimits::default()
    };
    let (path, _stop, _task) = serve(dir.path(), limits).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = UnixStream::connect(&path).await.unwrap();
        let head = request(&mut stream, "/stream").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        busy.push(stream);
    }
    // Both slots work: a third connection is closed without an answer.
    let mut third = UnixStream::connect(&path).await.unwrap();
    let _ = third
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(
        until_closed(&mut third).await,
        b"",
        "an excess connection was served"
    );
    for stream in &mut busy {
        assert!(still_open(stream).await, "a busy connection was closed");
    }
    // A slot comes back when a connection closes.
    drop(busy.pop());
    let mut fourth = None;
    for _ in 0..100 {
        let mut stream = UnixStream::connect(&path).await.unwrap();
        let head = request(&mut stream, "/ping").await;
        if head.starts_with("HTTP/1.1 200") {
            fourth = Some(head);
            break;
        }
        // The freed slot may not be back yet: the connection's task ends
        // after the client's close is read.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fourth.is_some(), "the freed slot was never reused");
}

#[tokio::test]
async fn a_full_table_closes_the_longest_waiting_connection_for_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ConnectionLimits {
        max_connections: 2,
        ..ConnectionLimits::default()
    };
    let (path, _stop, _task) = serve(dir.path(), limits).await;
    // One silent connection (a flood's), one at work.
    let mut silent = UnixStream::connect(&path).await.unwrap();
    let mut working = UnixStream::connect(&path).await.unwrap();
    assert!(
        request(&mut working, "/stream")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // A real client still gets in: the silent one makes room.
    let mut client = UnixStream::connect(&path).await.unwrap();
    let answer = request(&mut client, "/ping").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(until_closed(&mut silent).await, b"");
    assert!(still_open(&mut working).await);
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed_and_work_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _stop, _task) = serve(dir.path(), short_limits(16)).await;
    // Never sends anything.
    let mut silent = UnixStream::connect(&path).await.unwrap();
    // Sends its headers a byte at a time, too slowly to finish.
    let mut slow = UnixStream::connect(&path).await.unwrap();
    let loris = tokio::spawn(async move {
        for byte in b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    // A request in flight, and a connection idle after its request.
    let mut streaming = UnixStream::connect(&path).await.unwrap();
    assert!(request(&mut streaming, "/stream").await.contains("first"));
    let mut idle = UnixStream::connect(&path).await.unwrap();
    assert!(request(&mut idle, "/ping").await.contains("OK"));

    assert_eq!(until_closed(&mut silent).await, b"");
    let mut slow = tokio::time::timeout(BOUND, loris)
        .await
        .expect("the slow client was never cut off")
        .unwrap();
    assert_eq!(until_closed(&mut slow).await, b"");
    assert_eq!(until_closed(&mut idle).await, b"");
    // Every deadline has passed by now: the stream in flight goes on.
    assert!(
        still_open(&mut streaming).await,
        "a streaming response was cut"
    );
}

#[tokio::test]
async fn every_request_carries_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _stop, _task) = serve(dir.path(), ConnectionLimits::default()).await;
    let mut stream = UnixStream::connect(&path).await.unwrap();
    let answer = request(&mut stream, "/peer").await;
    let uid = nix::unistd::geteuid().as_raw();
    assert!(
        answer.contains(&format!("Some(Unix {{ uid: {uid}, gid: ")),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("pid: Some({}) }})", std::process::id())),
        "{answer}"
    );
}

#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit_and_no_further() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let low = hard.min(256);
    setrlimit(Resource::RLIMIT_NOFILE, low, hard).unwrap();
    let (before, after) = raise_open_files_limit().unwrap();
    assert_eq!((before, after), (low, hard));
    assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (hard, hard));
}
