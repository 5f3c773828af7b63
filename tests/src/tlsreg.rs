//! A TLS registry for the `certs.d` tests: Debian's `docker-registry` on a
//! free 127.0.0.1 port serving a certificate for `IP:127.0.0.1` signed by
//! a throwaway CA that `openssl` makes in the registry's temp dir; on
//! demand it also requires a client certificate signed by that CA
//! (`http.tls.clientcas`), and one is made for the tests to present.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{Output, run_with_timeout};
use crate::pki::{self, Pki};
use crate::registry::TestImage;

/// A running TLS `docker-registry serve`; stopped and removed on drop.
pub struct TlsRegistry {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl TlsRegistry {
    /// Makes the CA and the server certificate, starts the registry.
    pub fn start() -> TlsRegistry {
        TlsRegistry::start_with(false)
    }

    /// As [`TlsRegistry::start`], and the registry refuses a client
    /// without a certificate the CA signed. One is made
    /// ([`TlsRegistry::client_cert`], [`TlsRegistry::client_key`]), and
    /// [`TlsRegistry::push_layout`] presents it.
    pub fn start_requiring_client_certs() -> TlsRegistry {
        TlsRegistry::start_with(true)
    }

    fn start_with(client_certs: bool) -> TlsRegistry {
        let binary = "/usr/bin/docker-registry";
        assert!(
            Path::new(binary).is_file(),
            "{binary} is missing: install the Debian package `docker-registry`"
        );
        let dir = tempfile::Builder::new()
            .prefix("berth-tlsreg-")
            .tempdir()
            .expect("registry temp dir");
        let d = dir.path();
        // `ca/` is the directory skopeo reads as its certs.d (the same
        // `*.crt` and `NAME.cert` + `NAME.key` convention as dockerd's).
        let pki = Pki::new();
        pki.issue("server", "/CN=127.0.0.1", pki::SERVER_127);
        fs::create_dir_all(d.join("ca")).expect("ca dir");
        let mut files = vec![
            ("ca.pem", "ca/ca.crt"),
            ("server.pem", "server.crt"),
            ("server.key", "server.key"),
        ];
        if client_certs {
            pki.issue("client", "/CN=berth test client", pki::CLIENT);
            files.extend([
                ("client.pem", "ca/client.cert"),
                ("client.key", "ca/client.key"),
            ]);
        }
        for (from, to) in files {
            fs::copy(pki.path(from), d.join(to)).expect("copy a certificate");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        fs::create_dir_all(d.join("storage")).expect("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {addr}\n  tls:\n    certificate: {}\n    key: {}\n",
            d.join("storage").display(),
            d.join("server.crt").display(),
            d.join("server.key").display(),
        );
        if client_certs {
            // distribution then requires and verifies a client
            // certificate (`tls.RequireAndVerifyClientCert`).
            config.push_str(&format!(
                "    clientcas:\n      - {}\n",
                d.join("ca/ca.crt").display()
            ));
        }
        fs::write(d.join("config.yml"), config).expect("registry config");
        let log = fs::File::create(d.join("registry.log")).expect("registry log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let mut registry = TlsRegistry { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&registry.addr).is_err() {
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!("docker-registry exited ({status}): {}", registry.log());
            }
            assert!(
                Instant::now() < deadline,
                "registry never listened: {}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The CA certificate (PEM).
    pub fn ca_crt(&self) -> PathBuf {
        self.dir.path().join("ca/ca.crt")
    }

    /// The client certificate the CA signed (PEM), made by
    /// [`TlsRegistry::start_requiring_client_certs`].
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("ca/client.cert")
    }

    /// The client certificate's key (PEM).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("ca/client.key")
    }

    /// `127.0.0.1:PORT/repo:tag`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr)
    }

    /// Pushes [`crate::registry::five_layer_layout`] with `salt` here as
    /// `repo_tag` (`repo:tag`).
    #[track_caller]
    pub fn push_five_layer(&self, repo_tag: &str, salt: &str) -> TestImage {
        let (image, tmp) = crate::registry::five_layer_image(repo_tag, salt);
        let tag = crate::registry::tag_of(repo_tag);
        self.push_layout(&tmp.path().join("layout"), tag, repo_tag);
        image
    }

    /// `skopeo copy oci:LAYOUT:TAG docker://HERE/REPO_TAG`, trusting the CA.
    #[track_caller]
    pub fn push_layout(&self, layout: &Path, tag: &str, repo_tag: &str) {
        crate::require::program("skopeo", "skopeo");
        let out: Output = run_with_timeout(
            Command::new("skopeo")
                .args(["--insecure-policy", "copy"])
                .arg(format!(
                    "--dest-cert-dir={}",
                    self.dir.path().join("ca").display()
                ))
                .arg(format!("oci:{}:{tag}", layout.display()))
                .arg(format!("docker://{}", self.reference(repo_tag))),
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "skopeo copy: {out:#?}\n{}",
            self.log()
        );
    }
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
