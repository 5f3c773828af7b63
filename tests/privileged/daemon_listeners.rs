//! berthd's listeners: a second `-H tcp://` (plain only with `--tls=false`),
//! `fd://` socket activation, a live daemon's socket refused, and the
//! pidfile.

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

/// Runs openssl under a timeout in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new("openssl").current_dir(dir).args(args),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

#[test]
fn tls_listener_requires_client_certificates() {
    berth_tests::require::program("openssl", "openssl");
    let pki = tempfile::tempdir().unwrap();
    let p = pki.path();
    openssl(
        p,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=berth test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    std::fs::write(
        p.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    std::fs::write(
        p.join("client.ext"),
        "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    for who in ["server", "client"] {
        let (key, csr, cert, ext) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.pem"),
            format!("{who}.ext"),
        );
        openssl(
            p,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={who}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        );
    }
    let port = free_tcp_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let path = |f: &str| p.join(f).display().to_string();
    let d = Daemon::start_with(&[
        "-H",
        &tcp,
        "--tlsverify",
        "--tlscacert",
        &path("ca.pem"),
        "--tlscert",
        &path("server.pem"),
        "--tlskey",
        &path("server.key"),
    ]);
    // The berth CLI speaks TLS with docker's flags.
    let berth = |with_cert: bool| {
        let mut command = Command::new(berth_tests::workspace_bin("berth"));
        command
            .args(["-H", &tcp, "--tlsverify", "--tlscacert", &path("ca.pem")])
            .env_remove("BERTH_HOST");
        if with_cert {
            command.args([
                "--tlscert",
                &path("client.pem"),
                "--tlskey",
                &path("client.key"),
            ]);
        }
        command.arg("info");
        run_with_timeout(&mut command, Duration::from_secs(30))
    };
    let served = berth(true);
    assert!(
        served.stdout.contains("OSType: linux"),
        "{served:?}\n{}",
        d.log()
    );
    let refused = berth(false);
    assert!(
        !refused.status.success(),
        "a client without a certificate was served: {refused:?}"
    );
    assert!(!refused.stdout.contains("OSType"), "{refused:?}");
}
