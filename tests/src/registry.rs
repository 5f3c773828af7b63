//! A real registry for the distribution tests: Debian's `docker-registry`
//! (the CNCF distribution registry) on a free 127.0.0.1 port with its own
//! storage dir, plain or with htpasswd basic auth, and test images put into
//! it with `skopeo copy` from an OCI layout these helpers write.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::cmd::{Output, run_with_timeout};

const SKOPEO_TIMEOUT: Duration = Duration::from_secs(120);

/// How a test registry authenticates.
enum Auth {
    None,
    /// htpasswd with the registry's credentials (Basic).
    Htpasswd,
    /// This `auth:` section of its config.
    Config(String),
}

/// A running `docker-registry serve`; stopped and removed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `(user, password)` when the registry wants basic auth.
    pub credentials: Option<(String, String)>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Registry {
    /// A registry without auth.
    pub fn start() -> Registry {
        Registry::spawn(None)
    }

    /// A registry that wants `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::spawn(Some((user.to_owned(), password.to_owned())))
    }

    /// A registry with bearer-token auth whose tokens `tokens` issues
    /// (`auth: token`); its own pushes ([`Registry::push_layout`]) go as
    /// the service's `admin`.
    pub fn start_with_tokens(tokens: &crate::tokenauth::TokenServer) -> Registry {
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            tokens.realm(),
            crate::tokenauth::SERVICE,
            crate::tokenauth::ISSUER,
            tokens.cert.display()
        );
        let (user, password) = crate::tokenauth::USERS[0];
        Registry::spawn_with(
            Some((user.to_owned(), password.to_owned())),
            Auth::Config(auth),
        )
    }

    fn spawn(credentials: Option<(String, String)>) -> Registry {
        let auth = if credentials.is_some() {
            Auth::Htpasswd
        } else {
            Auth::None
        };
        Registry::spawn_with(credentials, auth)
    }

    fn spawn_with(credentials: Option<(String, String)>, auth: Auth) -> Registry {
        let binary = "/usr/bin/docker-registry";
        assert!(
            Path::new(binary).is_file(),
            "{binary} is missing: install the Debian package `docker-registry`"
        );
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .expect("registry temp dir");
        let addr = format!("127.0.0.1:{}", free_port());
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).expect("registry storage dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            storage.display()
        );
        if let Auth::Config(auth) = &auth {
            config.push_str(auth);
        }
        if let (Auth::Htpasswd, Some((user, password))) = (&auth, &credentials) {
            crate::require::program("htpasswd", "apache2-utils");
            let out = run_with_timeout(
                Command::new("htpasswd").args(["-Bbn", user, password]),
                Duration::from_secs(30),
            )
            .ok();
            let file = dir.path().join("htpasswd");
            fs::write(&file, out.trim()).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config).expect("write registry config");
        let log = fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let mut registry = Registry {
            child,
            dir,
            addr,
            credentials,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited ({status}): {}", self.log());
            }
            if let Some(status) = http_status(&self.addr, "/v2/")
                && (status == 200 || status == 401)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT/repo:tag`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr)
    }

    /// Pushes [`five_layer_layout`] with `salt` here as `repo_tag`
    /// (`repo:tag`), through a layout of its own that is gone after.
    #[track_caller]
    pub fn push_five_layer(&self, repo_tag: &str, salt: &str) -> TestImage {
        let (image, tmp) = five_layer_image(repo_tag, salt);
        self.push_layout(&tmp.path().join("layout"), tag_of(repo_tag), repo_tag);
        image
    }

    /// Copies the OCI layout `layout` (its ref `tag`) to `repo_tag` here.
    #[track_caller]
    pub fn push_layout(&self, layout: &Path, tag: &str, repo_tag: &str) {
        let out = self.skopeo_copy(layout, tag, repo_tag, &[]);
        assert!(
            out.status.success(),
            "skopeo copy failed: {out:#?}\nregistry: {}",
            self.log()
        );
    }

    /// Runs `skopeo copy oci:LAYOUT:TAG docker://REGISTRY/REPO_TAG` with
    /// `extra` arguments.
    pub fn skopeo_copy(&self, layout: &Path, tag: &str, repo_tag: &str, extra: &[&str]) -> Output {
        crate::require::program("skopeo", "skopeo");
        let mut command = Command::new("skopeo");
        command.args(["--insecure-policy", "copy", "--dest-tls-verify=false"]);
        if let Some((u, p)) = &self.credentials {
            command.arg(format!("--dest-creds={u}:{p}"));
        }
        command
            .args(extra)
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}", self.reference(repo_tag)));
        run_with_timeout(&mut command, SKOPEO_TIMEOUT)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path` on `addr`, or `None` if it cannot connect.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a test layer is compressed in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `tar+gzip`.
    Gzip,
    /// `tar+zstd`.
    Zstd,
}

/// What [`write_layout`] wrote.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// The image id berthd will report: the config's digest.
    pub image_id: String,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The layer blobs' digests, bottom first.
    pub layer_digests: Vec<String>,
}

/// A tar holding one file `name` with `content`.
pub fn file_layer(name: &str, content: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content.as_bytes())
        .expect("append layer file");
    builder.into_inner().expect("finish layer tar")
}

fn blob(layout: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let hex = digest.trim_start_matches("sha256:");
    let dir = layout.join("blobs/sha256");
    fs::create_dir_all(&dir).expect("blobs dir");
    fs::write(dir.join(hex), bytes).expect("write blob");
    digest
}

/// Writes an OCI image layout at `layout` with one image tagged `tag`:
/// the busybox rootfs as the first layer, then `layers` (uncompressed
/// tars), each compressed as asked; `arch` is the config's architecture.
pub fn write_layout(
    layout: &Path,
    tag: &str,
    arch: &str,
    layers: &[(Vec<u8>, Compression)],
) -> TestImage {
    fs::create_dir_all(layout).expect("layout dir");
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let rootfs = fs::read(crate::busybox::shared_tarball()).expect("read busybox tarball");
    let mut all = vec![(rootfs, Compression::Gzip)];
    all.extend(layers.iter().cloned());
    let mut diff_ids = Vec::new();
    let mut descriptors = Vec::new();
    let mut layer_digests = Vec::new();
    for (tar, compression) in &all {
        diff_ids.push(sha256(tar));
        let (compressed, media_type) = match compression {
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(tar).expect("gzip");
                (
                    enc.finish().expect("gzip"),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                )
            }
            Compression::Zstd => (
                zstd::encode_all(&tar[..], 3).expect("zstd"),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
        };
        let digest = blob(layout, &compressed);
        descriptors.push(serde_json::json!({
            "mediaType": media_type, "digest": digest, "size": compressed.len(),
        }));
        layer_digests.push(digest);
    }
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).expect("config json");
    let config_digest = blob(layout, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    });
    let manifest = serde_json::to_vec(&manifest).expect("manifest json");
    let manifest_digest = blob(layout, &manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).expect("index"),
    )
    .expect("index.json");
    TestImage {
        image_id: config_digest,
        manifest_digest,
        layer_digests,
    }
}

/// A five-layer image at `layout` (tag `v1`), every layer gzip, as docker
/// and skopeo push them: a push mounts or sends each as it came.
pub fn gzip_five_layer_layout(layout: &Path, salt: &str) -> TestImage {
    let layers: Vec<(Vec<u8>, Compression)> = (1..=4)
        .map(|n| {
            (
                file_layer(&format!("layer{n}.txt"), &format!("{n} {salt}\n")),
                Compression::Gzip,
            )
        })
        .collect();
    write_layout(layout, "v1", "amd64", &layers)
}

/// [`five_layer_layout`] with `salt` in a new temp dir, its layout's ref
/// the tag of `repo_tag`.
pub(crate) fn five_layer_image(repo_tag: &str, salt: &str) -> (TestImage, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = five_layer_layout(&tmp.path().join("layout"), tag_of(repo_tag), salt);
    (image, tmp)
}

/// The tag of `repo:tag`.
pub(crate) fn tag_of(repo_tag: &str) -> &str {
    repo_tag
        .rsplit_once(':')
        .map(|(_, tag)| tag)
        .expect("a repo:tag reference")
}

/// A five-layer test image: busybox, then `/layer1.txt`..`/layer4.txt`
/// holding `"<n> <salt>"`, the last one zstd-compressed.
pub fn five_layer_layout(layout: &Path, tag: &str, salt: &str) -> TestImage {
    let layers: Vec<(Vec<u8>, Compression)> = (1..=4)
        .map(|n| {
            let compression = if n == 4 {
                Compression::Zstd
            } else {
                Compression::Gzip
            };
            (
                file_layer(&format!("layer{n}.txt"), &format!("{n} {salt}\n")),
                compression,
            )
        })
        .collect();
    write_layout(layout, tag, "amd64", &layers)
}

/// The path of a scratch layout dir under `dir`.
pub fn layout_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

impl Registry {
    /// The file the registry serves blob `digest` from (its filesystem
    /// storage driver's layout), to damage it behind the registry's back.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// One raw HTTP/1.1 request to `addr` (`Connection: close`): the status
/// and the body.
fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect to the registry");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("send request head");
    stream.write_all(body).expect("send request body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status = std::str::from_utf8(&response[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, response[split + 4..].to_vec())
}

impl Registry {
    /// The manifest `repo@reference` as JSON (Docker's or OCI's type).
    #[track_caller]
    pub fn manifest(&self, repo: &str, reference: &str) -> serde_json::Value {
        let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
        let (status, body) = http_request(
            &self.addr,
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", accept)],
            b"",
        );
        assert_eq!(status, 200, "GET {repo}@{reference}: {}", self.log());
        serde_json::from_slice(&body).expect("a JSON manifest")
    }

    /// The head (status line and headers) of the answer to `GET path`.
    #[track_caller]
    pub fn response_head(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the registry");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read response");
        let text = String::from_utf8_lossy(&response).into_owned();
        text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
    }

    /// Tags the OCI manifest `repo:from` as each of `tags` too (a manifest
    /// `PUT` per tag, as a client retagging in the registry does).
    #[track_caller]
    pub fn retag(&self, repo: &str, from: &str, tags: &[String]) {
        const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
        let (status, manifest) = http_request(
            &self.addr,
            "GET",
            &format!("/v2/{repo}/manifests/{from}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        );
        assert_eq!(status, 200, "GET {repo}:{from}: {}", self.log());
        for tag in tags {
            let (status, body) = http_request(
                &self.addr,
                "PUT",
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("Content-Type", OCI_MANIFEST)],
                &manifest,
            );
            assert_eq!(
                status,
                201,
                "PUT {repo}:{tag}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}
