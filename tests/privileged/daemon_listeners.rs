//! berthd's listeners: a second `-H tcp://` (plain only with `--tls=false`),
//! `fd://` socket activation, a live daemon's socket refused, the pidfile,
//! `-H` and TLS material checked before the data root is touched, TLS
//! clients identified by their certificate, a restart right after
//! `kill -9`, and connections with deadlines and a bound (floods and slow
//! clients on `unix://` and `tcp://`+TLS).

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_tests::cmd::run_with_timeout;
use berth_tests::daemon::Daemon;

/// A `berthd` started outside [`Daemon`], with every directory of its own
/// under `dir` (data and exec roots, plugin directory, grants) and a cgroup
/// parent of its own; the caller adds `-H` and `--pidfile`.
fn berthd_in(dir: &Path) -> Command {
    let mut command = Command::new(berth_tests::workspace_bin("berthd"));
    command.args(berthd_roots(dir));
    command
}

/// The directory flags of [`berthd_in`].
fn berthd_roots(dir: &Path) -> Vec<OsString> {
    let mut args = Vec::new();
    for (flag, name) in [
        ("--data-root", "data"),
        ("--exec-root", "exec"),
        ("--plugin-dir", "plugins"),
        ("--plugin-grants", "plugin-grants.toml"),
    ] {
        args.push(flag.into());
        args.push(dir.join(name).into());
    }
    args.push("--cgroup-parent".into());
    args.push(format!("/berth-test-listeners-{}", std::process::id()).into());
    // No default bridge network: these daemons test listeners, and a
    // bridge of their own would outlive the kill that ends each test.
    args.push("--bridge".into());
    args.push("none".into());
    args
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port()
}

#[test]
fn plain_tcp_needs_the_explicit_flag() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let out = run_with_timeout(
        berthd_in(dir.path())
            .arg("-H")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--pidfile")
            .arg(dir.path().join("pid")),
        Duration::from_secs(30),
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.contains("refusing to listen on tcp://127.0.0.1"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("pid").exists(), "pidfile left behind");

    let port = free_tcp_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let d = Daemon::start_with(&["-H", &tcp, "--tls=false"]);
    let out = run_with_timeout(
        Command::new(berth_tests::workspace_bin("berth"))
            .args(["-H", &tcp, "version"])
            .env_remove("BERTH_HOST"),
        Duration::from_secs(30),
    );
    assert!(out.stdout.contains("API version:      1.43"), "{out:?}");
    // BERTH_HOST selects the daemon too.
    let out = run_with_timeout(
        Command::new(berth_tests::workspace_bin("berth"))
            .arg("info")
            .env("BERTH_HOST", d.host()),
        Duration::from_secs(30),
    );
    assert!(out.stdout.contains("OSType: linux"), "{out:?}");
}

#[test]
fn socket_activation_with_fd() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fd = listener.as_raw_fd();
    let mut command = Command::new("sh");
    // `exec` keeps the shell's pid, so LISTEN_PID=$$ names berthd.
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(berth_tests::workspace_bin("berthd"))
        .args(["-H", "fd://"])
        .args(berthd_roots(dir.path()))
        .arg("--pidfile")
        .arg(dir.path().join("pid"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("berthd.log")).unwrap());
    // SAFETY: only async-signal-safe dup2 between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // dup2 onto itself keeps FD_CLOEXEC: clear it explicitly.
            let ok = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) >= 0
            } else {
                libc::dup2(fd, 3) >= 0
            };
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(command.spawn().unwrap());
    drop(listener);
    let host = format!("unix://{}", socket.display());
    let mut answered = None;
    for _ in 0..300 {
        let out = run_with_timeout(
            Command::new(berth_tests::workspace_bin("berth"))
                .args(["-H", &host, "version"])
                .env_remove("BERTH_HOST"),
            Duration::from_secs(30),
        );
        if out.status.success() {
            answered = Some(out.stdout);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let answered = answered.unwrap_or_else(|| {
        panic!(
            "berthd never answered on the activated socket: {}",
            std::fs::read_to_string(dir.path().join("berthd.log")).unwrap_or_default()
        )
    });
    assert!(answered.contains("Server: berth"), "{answered}");
    drop(guard);
}

#[test]
fn a_live_daemons_socket_and_pidfile_are_refused() {
    let d = Daemon::start();
    let other = tempfile::tempdir().unwrap();
    let out = run_with_timeout(
        berthd_in(other.path())
            .arg("-H")
            .arg(d.host())
            .arg("--pidfile")
            .arg(other.path().join("pid")),
        Duration::from_secs(30),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        out.stderr.contains("another daemon is already listening"),
        "{}",
        out.stderr
    );
    let out = run_with_timeout(
        berthd_in(other.path())
            .arg("-H")
            .arg(format!("unix://{}", other.path().join("s.sock").display()))
            .arg("--pidfile")
            .arg(d.dir().join("berthd.pid")),
        Duration::from_secs(30),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stderr.contains("pid file found"), "{}", out.stderr);
    // The first daemon is unaffected.
    assert_eq!(d.http("GET", "/_ping", b"").status, 200);
}

/// A throwaway PKI: a CA, a server certificate for 127.0.0.1 and a client
/// certificate with CN `client`, all signed by the CA.
struct Pki {
    pki: berth_tests::pki::Pki,
}

impl Pki {
    fn new() -> Pki {
        let pki = berth_tests::pki::Pki::new();
        pki.issue("server", "/CN=127.0.0.1", berth_tests::pki::SERVER_127);
        pki.issue("client", "/CN=client", berth_tests::pki::CLIENT);
        Pki { pki }
    }

    fn path(&self, file: &str) -> String {
        self.pki.path(file).display().to_string()
    }

    /// berthd's flags for a TLS listener on `tcp` that verifies clients.
    fn server_flags(&self, tcp: &str) -> Vec<String> {
        vec![
            "-H".into(),
            tcp.into(),
            "--tlsverify".into(),
            "--tlscacert".into(),
            self.path("ca.pem"),
            "--tlscert".into(),
            self.path("server.pem"),
            "--tlskey".into(),
            self.path("server.key"),
        ]
    }

    /// `berth ARGS` against `tcp` with the client certificate (or without).
    fn berth(&self, tcp: &str, with_cert: bool, args: &[&str]) -> berth_tests::cmd::Output {
        let mut command = Command::new(berth_tests::workspace_bin("berth"));
        command
            .args([
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                &self.path("ca.pem"),
            ])
            .env_remove("BERTH_HOST");
        if with_cert {
            command.args([
                "--tlscert",
                &self.path("client.pem"),
                "--tlskey",
                &self.path("client.key"),
            ]);
        }
        command.args(args);
        run_with_timeout(&mut command, Duration::from_secs(30))
    }

    /// The real `docker` CLI against `tcp` with the client certificate.
    fn docker(&self, tcp: &str, args: &[&str]) -> berth_tests::cmd::Output {
        let docker = berth_tests::require::program("docker", "docker-ce-cli (or docker.io)");
        let mut command = Command::new(docker);
        command
            .args([
                "-H",
                tcp,
                "--tlsverify",
                "--tlscacert",
                &self.path("ca.pem"),
                "--tlscert",
                &self.path("client.pem"),
                "--tlskey",
                &self.path("client.key"),
            ])
            .args(args)
            .env("DOCKER_CONFIG", self.pki.dir().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env("DOCKER_CLI_HINTS", "false");
        run_with_timeout(&mut command, Duration::from_secs(30))
    }
}

fn start_with(flags: &[String]) -> Daemon {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Daemon::start_with(&flags)
}

#[test]
fn tls_listener_requires_client_certificates_and_knows_their_name() {
    let pki = Pki::new();
    let tcp = format!("tcp://127.0.0.1:{}", free_tcp_port());
    let d = start_with(&pki.server_flags(&tcp));
    // The berth CLI speaks TLS with docker's flags.
    let served = pki.berth(&tcp, true, &["info"]);
    assert!(
        served.stdout.contains("OSType: linux"),
        "{served:?}\n{}",
        d.log()
    );
    let refused = pki.berth(&tcp, false, &["info"]);
    assert!(
        !refused.status.success(),
        "a client without a certificate was served: {refused:?}"
    );
    assert!(!refused.stdout.contains("OSType"), "{refused:?}");
    // The connection's peer is the certificate's common name (berthd logs
    // it at debug level for every connection).
    let log = d.log();
    assert!(
        log.contains("common_name: Some(\"client\")"),
        "the client certificate's CN is not the peer: {log}"
    );
    // A verified listener does not warn.
    assert!(!log.contains("without --tlsverify"), "{log}");
}

#[test]
fn tls_without_verification_warns_as_dockerd_does() {
    let pki = Pki::new();
    let tcp = format!("tcp://127.0.0.1:{}", free_tcp_port());
    let d = Daemon::start_with(&[
        "-H",
        &tcp,
        "--tlscert",
        &pki.path("server.pem"),
        "--tlskey",
        &pki.path("server.key"),
    ]);
    // moby daemon/command/daemon.go, loadListeners: verbatim.
    let log = d.log();
    assert!(
        log.contains(
            "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
        ),
        "{log}"
    );
    // Any client is served: that is what the warning is about.
    let served = pki.berth(&tcp, false, &["info"]);
    assert!(served.stdout.contains("OSType: linux"), "{served:?}");
}

#[test]
fn bad_listen_addresses_and_tls_material_leave_no_data_root() {
    berth_tests::require::root();
    let pki = Pki::new();
    let port = free_tcp_port();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["-H".into(), "tcp://127.0.0.1".into()],
            "invalid listen address \"tcp://127.0.0.1\"",
        ),
        (
            vec!["-H".into(), "udp://127.0.0.1:1".into()],
            "invalid listen address",
        ),
        (
            vec!["-H".into(), "fd://".into()],
            "fd:// needs sockets passed by systemd",
        ),
        (
            vec!["-H".into(), format!("tcp://127.0.0.1:{port}")],
            "refusing to listen on",
        ),
        (
            // A key where the certificate belongs: named, and not rustls's
            // "peer sent no certificates".
            vec![
                "-H".into(),
                format!("tcp://127.0.0.1:{port}"),
                "--tlsverify".into(),
                "--tlscacert".into(),
                pki.path("ca.pem"),
                "--tlscert".into(),
                pki.path("server.key"),
                "--tlskey".into(),
                pki.path("server.key"),
            ],
            "--tlscert",
        ),
        (
            vec![
                "-H".into(),
                format!("tcp://127.0.0.1:{port}"),
                "--tlsverify".into(),
                "--tlscacert".into(),
                pki.path("ca.pem"),
                "--tlscert".into(),
                pki.path("server.pem"),
                "--tlskey".into(),
                pki.path("server.pem"),
            ],
            "no private key found",
        ),
    ];
    for (flags, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = run_with_timeout(
            berthd_in(dir.path())
                .args(&flags)
                .arg("--pidfile")
                .arg(dir.path().join("pid")),
            Duration::from_secs(30),
        );
        assert_ne!(out.status.code(), Some(0), "{flags:?}: {out:?}");
        assert!(out.stderr.contains(message), "{flags:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("peer sent no certificates"),
            "{}",
            out.stderr
        );
        for created in ["data", "exec", "pid"] {
            assert!(
                !dir.path().join(created).exists(),
                "{flags:?} left {created} behind"
            );
        }
    }
    // The bad certificate is named in the message.
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_timeout(
        berthd_in(dir.path())
            .args([
                "-H",
                &format!("tcp://127.0.0.1:{port}"),
                "--tlscert",
                &pki.path("server.key"),
                "--tlskey",
                &pki.path("server.key"),
                "--pidfile",
            ])
            .arg(dir.path().join("pid")),
        Duration::from_secs(30),
    );
    assert!(
        out.stderr.contains(&format!(
            "invalid TLS configuration: --tlscert {}: no certificate found",
            pki.path("server.key")
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_restart_right_after_kill_9_waits_for_the_database() {
    let mut d = Daemon::start();
    d.import_busybox("kept");
    // As at once after a SIGKILL, while the killed daemon still holds the
    // database: the new one must wait for it, not fail with "Database
    // already open".
    d.kill9();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let data_root = d.data_root();
    let holder = std::thread::spawn(move || {
        let store = berth_store::Store::open_in(&data_root).expect("open the daemon's store");
        held_tx.send(()).expect("signal the hold");
        std::thread::sleep(Duration::from_millis(1500));
        drop(store);
    });
    held_rx.recv().expect("the store was held");
    d.restart();
    holder.join().expect("holder thread");
    assert!(d.berth(&["images"]).ok().contains("kept"));
    // And plainly, twice in a row.
    for _ in 0..2 {
        d.kill9();
        d.restart();
    }
    assert!(d.berth(&["images"]).ok().contains("kept"));
}

/// A raw connection to `addr` (`unix:PATH` or `tcp:HOST:PORT`) that sends
/// nothing.
enum Raw {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        if let Some(path) = addr.strip_prefix("unix:") {
            Raw::Unix(std::os::unix::net::UnixStream::connect(path).expect("connect unix"))
        } else {
            let addr = addr.strip_prefix("tcp:").expect("tcp: or unix:");
            Raw::Tcp(std::net::TcpStream::connect(addr).expect("connect tcp"))
        }
    }

    fn try_clone(&self) -> Raw {
        match self {
            Raw::Unix(s) => Raw::Unix(s.try_clone().expect("clone unix stream")),
            Raw::Tcp(s) => Raw::Tcp(s.try_clone().expect("clone tcp stream")),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Read;
        match self {
            Raw::Unix(s) => s.read(buf),
            Raw::Tcp(s) => s.read(buf),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> bool {
        use std::io::Write;
        match self {
            Raw::Unix(s) => s.write_all(bytes).is_ok(),
            Raw::Tcp(s) => s.write_all(bytes).is_ok(),
        }
    }

    fn set_read_timeout(&self, timeout: Duration) {
        match self {
            Raw::Unix(s) => s.set_read_timeout(Some(timeout)),
            Raw::Tcp(s) => s.set_read_timeout(Some(timeout)),
        }
        .expect("read timeout");
    }

    /// Whether the daemon closed the connection: EOF (or a reset) within
    /// `wait`, as opposed to nothing to read.
    fn closed_within(&mut self, wait: Duration) -> bool {
        self.set_read_timeout(wait);
        let mut buf = [0u8; 256];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }
}

/// A bound on waits that must end (not a measurement).
const BOUND: Duration = Duration::from_secs(20);

/// Sends `bytes` one at a time, `pause` apart, on a thread, until the
/// daemon closes the connection; returns a handle to observe it with.
fn slow_writer(raw: &Raw, bytes: &'static [u8], pause: Duration) -> Raw {
    let mut writer = raw.try_clone();
    std::thread::spawn(move || {
        for byte in bytes.iter().cycle().take(200) {
            if !writer.send(&[*byte]) {
                return;
            }
            std::thread::sleep(pause);
        }
    });
    raw.try_clone()
}

#[test]
fn a_connection_flood_costs_berthd_no_more_than_its_bound() {
    berth_tests::daemon::raise_open_files_limit();
    let pki = Pki::new();
    let port = free_tcp_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let mut flags = pki.server_flags(&tcp);
    // Long deadlines: only the bound may close the flood here.
    for flag in [
        "--api-max-connections=16",
        "--api-tls-handshake-timeout=600",
        "--api-header-timeout=600",
    ] {
        flags.push(flag.into());
    }
    let d = start_with(&flags);
    let baseline = berth_tests::daemon::socket_inodes(d.pid()).len();
    let unix = format!("unix:{}", d.socket().display());
    let tls = format!("tcp:127.0.0.1:{port}");
    // Connections that never send a ClientHello, or a request: many times
    // the bound on each listener.
    let flood: Vec<Raw> = (0..200)
        .flat_map(|_| [Raw::connect(&tls), Raw::connect(&unix)])
        .collect();
    // Valid clients are served meanwhile, over TLS and the unix socket.
    for _ in 0..3 {
        let out = pki.docker(&tcp, &["version", "--format", "{{.Server.Version}}"]);
        assert!(out.status.success(), "{out:?}\n{}", d.log());
        assert_eq!(d.http("GET", "/_ping", b"").status, 200);
    }
    let out = d.docker(&["version", "--format", "{{.Server.Os}}"]);
    assert_eq!(out.ok().trim(), "linux");
    // berthd holds at most the bound per listener (the flood's excess was
    // closed at accept): the kernel may still be handing it over, so wait
    // for that (bounded).
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        let open = berth_tests::daemon::socket_inodes(d.pid()).len();
        if open <= baseline + 2 * 16 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "berthd holds {open} sockets with 400 flood connections open (baseline {baseline}, bound 2x16)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(flood);
    assert_eq!(d.http("GET", "/_ping", b"").status, 200);
}

#[test]
fn slow_and_silent_clients_are_cut_while_work_goes_on() {
    berth_tests::daemon::raise_open_files_limit();
    let pki = Pki::new();
    let port = free_tcp_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let mut flags = pki.server_flags(&tcp);
    for flag in [
        "--api-tls-handshake-timeout=1",
        "--api-header-timeout=1",
        "--api-idle-timeout=2",
    ] {
        flags.push(flag.into());
    }
    let d = start_with(&flags);
    let unix = format!("unix:{}", d.socket().display());
    let tls = format!("tcp:127.0.0.1:{port}");

    // Work that waits for a long time and must not be cut: a long poll of
    // /events, and a hijacked attach waiting for its container to start.
    let mut events = Raw::connect(&unix);
    assert!(events.send(b"GET /events HTTP/1.1\r\nHost: berth\r\n\r\n"));
    let mut head = [0u8; 12];
    events.set_read_timeout(BOUND);
    let n = events.read(&mut head).expect("the events response starts");
    assert_eq!(&head[..n.min(12)], b"HTTP/1.1 200", "events answered");
    d.import_busybox("busybox:latest");
    let created = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox:latest","Cmd":["cat"],"OpenStdin":true}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["Id"]
        .as_str()
        .expect("created container id")
        .to_owned();
    let (switched, mut hijacked) = d.http_hijack(&format!(
        "/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1"
    ));
    assert!(switched.starts_with("HTTP/1.1 101"), "{switched}");

    // Silent clients, and slow ones: a TLS ClientHello and HTTP headers a
    // byte at a time.
    let mut cut: Vec<(&str, Raw)> = Vec::new();
    for _ in 0..5 {
        cut.push(("silent tls", Raw::connect(&tls)));
        cut.push(("silent unix", Raw::connect(&unix)));
    }
    for _ in 0..3 {
        let raw = Raw::connect(&tls);
        cut.push((
            "slow tls",
            slow_writer(
                &raw,
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                Duration::from_millis(300),
            ),
        ));
        let raw = Raw::connect(&unix);
        cut.push((
            "slow headers",
            slow_writer(
                &raw,
                b"GET /_ping HTTP/1.1\r\nHost: berth\r\nX-Slow: 1\r\n",
                Duration::from_millis(300),
            ),
        ));
    }
    // A valid client is served meanwhile.
    let out = pki.docker(&tcp, &["version", "--format", "{{.Server.Version}}"]);
    assert!(out.status.success(), "{out:?}\n{}", d.log());

    // Every one of them is closed by berthd once its deadline passes.
    for (what, raw) in &mut cut {
        assert!(
            raw.closed_within(BOUND),
            "a {what} connection was never closed"
        );
    }
    // By now the header and handshake deadlines have passed; let the idle
    // one pass too, then the work in flight is still there.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !events.closed_within(Duration::from_millis(200)),
        "the /events long poll was cut"
    );
    hijacked
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let mut byte = [0u8; 1];
    match std::io::Read::read(&mut hijacked, &mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the hijacked attach stream was cut: {other:?}"),
    }
    drop(hijacked);
    drop(events);
    let out = pki.docker(&tcp, &["version", "--format", "{{.Server.Version}}"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(d.http("GET", "/_ping", b"").status, 200);
}
