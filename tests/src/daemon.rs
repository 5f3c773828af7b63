//! A real `berthd` for a test: its own data root, exec root, socket and
//! pidfile under one temp dir. It is started by [`Daemon::start`], answers
//! `_ping` before the constructor returns, and on drop removes every
//! container it still has, stops (SIGTERM, then SIGKILL), and unmounts
//! whatever is left under its directories.
//!
//! Helpers run `berth` and the real `docker` CLI against it (each under a
//! timeout, `DOCKER_CONFIG` pointing into the temp dir so `~/.docker` is
//! never touched) and speak raw HTTP/1.1 over its socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cmd::{Output, run_with_input, run_with_timeout};

/// How long one CLI invocation may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Numbers the daemons of one test process (their cgroup parents).
static DAEMONS: AtomicUsize = AtomicUsize::new(0);

/// A running berthd owned by a test.
pub struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
    cgroup_parent: String,
    nft_table: String,
    bridge: String,
    bip: String,
    /// The network namespace berthd runs in (`None`: the test's own).
    netns: Option<PathBuf>,
}

/// A raw HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Daemon {
    /// Starts a daemon with default flags.
    pub fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// Starts a daemon with extra `berthd` flags.
    pub fn start_with(extra_args: &[&str]) -> Daemon {
        Daemon::launch(extra_args, None)
    }

    /// Starts a daemon with extra `berthd` flags inside the network
    /// namespace bind-mounted at `netns` (a [`crate::hostlink::HostLink`]'s
    /// host): its bridges, table, sysctls and held ports are that
    /// namespace's, so it may be given `--ip-forward=true`. The namespace
    /// must outlive the daemon.
    pub fn start_in(netns: &Path, extra_args: &[&str]) -> Daemon {
        crate::require::program("nsenter", "util-linux");
        Daemon::launch(extra_args, Some(netns.to_path_buf()))
    }

    fn launch(extra_args: &[&str], netns: Option<PathBuf>) -> Daemon {
        crate::require::root();
        let dir = tempfile::Builder::new()
            .prefix("berth-daemon-")
            .tempdir()
            .expect("daemon temp dir");
        std::fs::create_dir_all(dir.path().join("docker-config")).expect("docker config dir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugin dir");
        // A cgroup parent of its own, so that no two daemons (nor a test
        // and the machine's berthd) share one, and Drop can remove it.
        let cgroup_parent = match extra_args.iter().position(|a| *a == "--cgroup-parent") {
            Some(i) => extra_args
                .get(i + 1)
                .expect("--cgroup-parent needs a value")
                .to_string(),
            None => format!(
                "/berth-test-{}-{}",
                std::process::id(),
                DAEMONS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        // An nftables table of its own too (berthd's default is `berth`),
        // so that no two daemons rebuild each other's rules; Drop deletes it.
        let nft_table = match extra_args.iter().position(|a| *a == "--nft-table") {
            Some(i) => extra_args
                .get(i + 1)
                .expect("--nft-table needs a value")
                .to_string(),
            None => format!(
                "berth_t{}_{}",
                std::process::id(),
                DAEMONS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        // A default bridge and subnet of its own (berthd's default is
        // `berth0` with a subnet from the pools, which parallel daemons
        // would share): a /28 of 10.128.0.0/9 from the pid and a counter.
        let n = DAEMONS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let bridge = format!("bt{pid}x{}", n % 1000);
        let bip = format!(
            "10.{}.{}.{}/28",
            128 + ((pid >> 8) & 0x7f),
            pid & 0xff,
            (n % 16) * 16 + 1
        );
        let mut daemon = Daemon {
            dir,
            child: None,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            cgroup_parent,
            nft_table,
            bridge,
            bip,
            netns,
        };
        daemon.spawn();
        daemon
    }

    /// The daemon's nftables table (`--nft-table`).
    pub fn nft_table(&self) -> &str {
        &self.nft_table
    }

    /// The rules of the daemon's nftables table (`nft list table`); the
    /// table must exist.
    pub fn nft_rules(&self) -> String {
        let argv = ["nft", "list", "table", "inet", self.nft_table.as_str()];
        let out = match &self.netns {
            Some(netns) => crate::netlab::run_in(netns, &argv),
            None => crate::cmd::run(argv, Duration::from_secs(30)),
        };
        assert_eq!(out.code(), 0, "nft list table: {out:?}");
        out.stdout
    }

    /// The temp dir holding everything of this daemon.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `--data-root`.
    pub fn data_root(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// The (first) gateway of network `name`, as `docker network inspect`
    /// shows it.
    pub fn network_gateway(&self, name: &str) -> String {
        self.docker(&[
            "network",
            "inspect",
            name,
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ])
        .ok()
        .trim()
        .to_owned()
    }

    /// The bridge interface of user network `name` (`br-` and 12 hex
    /// digits of its id, as dockerd names them).
    pub fn network_bridge(&self, name: &str) -> String {
        let id = self
            .docker(&["network", "inspect", name, "--format", "{{.Id}}"])
            .ok();
        format!("br-{}", &id.trim()[..12])
    }

    /// The id `docker image inspect` gives `reference`.
    #[track_caller]
    pub fn image_id(&self, reference: &str) -> String {
        self.docker(&["image", "inspect", "--format", "{{.Id}}", reference])
            .ok()
            .trim()
            .to_owned()
    }

    /// `docker images` as `REPOSITORY:TAG ID` lines, full ids: what a
    /// failed pull or push must leave as it was.
    #[track_caller]
    pub fn images(&self) -> String {
        self.docker(&[
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ])
        .ok()
    }

    /// Asserts that the graph's scratch directory holds nothing: no temp
    /// blob or half-staged layer outlived the operation that made it.
    #[track_caller]
    pub fn assert_graph_scratch_empty(&self) {
        let leftovers: Vec<_> = std::fs::read_dir(self.data_root().join("graph/tmp"))
            .expect("graph tmp")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// `--exec-root`.
    pub fn exec_root(&self) -> PathBuf {
        self.dir().join("exec")
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("berth.sock")
    }

    /// `unix://<socket>`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `--cgroup-parent`: unique to this daemon unless the test named one.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// The directories of the cgroup parent under each v1 hierarchy (or
    /// the v2 mount) that exist now.
    pub fn cgroup_parent_dirs(&self) -> Vec<PathBuf> {
        cgroup_dirs(&self.cgroup_parent)
    }

    /// berthd's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon is running").id()
    }

    /// What berthd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("berthd.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("berthd.log"))
            .expect("daemon log file");
        let berthd = crate::workspace_bin("berthd");
        // nsenter execs berthd once in the namespace: the child is berthd.
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net={}", netns.display()))
                    .arg("--")
                    .arg(berthd);
                command
            }
            None => Command::new(berthd),
        };
        command
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--pidfile")
            .arg(self.dir().join("berthd.pid"))
            .arg("--log-level")
            .arg("debug")
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        // Plugins: a directory of this daemon's own unless the test names
        // one, so that no test loads (or creates) the machine's
        // /etc/berth/plugins or reads its grants.
        if !self.extra_args.iter().any(|a| a == "--plugin-dir") {
            command.arg("--plugin-dir").arg(self.dir().join("plugins"));
        }
        if !self.extra_args.iter().any(|a| a == "--cgroup-parent") {
            command.arg("--cgroup-parent").arg(&self.cgroup_parent);
        }
        if !self.extra_args.iter().any(|a| a == "--nft-table") {
            command.arg("--nft-table").arg(&self.nft_table);
        }
        if !self.extra_args.iter().any(|a| a == "--bridge") {
            command.arg("--bridge").arg(&self.bridge);
        }
        if !self.extra_args.iter().any(|a| a == "--bip") {
            command.arg("--bip").arg(&self.bip);
        }
        // The host's forwarding setting is not a test's to change (that of
        // a daemon's own namespace is: such a test asks for it).
        if !self
            .extra_args
            .iter()
            .any(|a| a.starts_with("--ip-forward"))
        {
            command.arg("--ip-forward=false");
        }
        if !self.extra_args.iter().any(|a| a == "--plugin-grants") {
            command
                .arg("--plugin-grants")
                .arg(self.dir().join("plugin-grants.toml"));
        }
        self.child = Some(command.spawn().expect("spawn berthd"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.try_http("GET", "/_ping", b"")
                && r.status == 200
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "berthd exited with {status} before answering: {}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not answer _ping within 30s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills berthd with SIGKILL (its containers keep running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts berthd again over the same directories.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stops berthd: SIGTERM, SIGKILL after 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Runs `berth -H <socket> ARGS...`.
    #[track_caller]
    pub fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_input(args, None)
    }

    /// Runs `berth` feeding `input` on stdin.
    #[track_caller]
    pub fn berth_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let mut command = Command::new(crate::workspace_bin("berth"));
        command.arg("-H").arg(self.host()).args(args);
        command.env_remove("BERTH_HOST");
        // Registry credentials (berth login) stay in this daemon's dir.
        command.env("DOCKER_CONFIG", self.dir().join("docker-config"));
        run_with_input(&mut command, input, CLI_TIMEOUT)
    }

    /// Runs the real `docker` CLI against this daemon.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_with_input(args, None)
    }

    /// Runs `docker` feeding `input` on stdin.
    #[track_caller]
    pub fn docker_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let docker = crate::require::program("docker", "docker-ce-cli (or docker.io)");
        let mut command = Command::new(docker);
        command
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.dir().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CLI_HINTS", "false");
        run_with_input(&mut command, input, CLI_TIMEOUT)
    }

    /// Imports the shared busybox tarball as `reference` with `berth import`.
    #[track_caller]
    pub fn import_busybox(&self, reference: &str) -> String {
        let tarball = crate::busybox::shared_tarball();
        let tarball = tarball.to_str().expect("utf-8 path");
        self.berth(&["import", tarball, reference])
            .ok()
            .trim()
            .to_owned()
    }

    /// One raw HTTP/1.1 request over the socket (`Connection: close`).
    #[track_caller]
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> HttpResponse {
        self.try_http(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn try_http(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<HttpResponse> {
        let mut stream = UnixStream::connect(self.socket())?;
        stream.set_read_timeout(Some(CLI_TIMEOUT))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw)
    }

    /// Sends a raw request and returns the stream after the response head
    /// (for hijacked endpoints): the head and the connected socket.
    pub fn http_hijack(&self, path: &str) -> (String, UnixStream) {
        let mut stream = UnixStream::connect(self.socket()).expect("connect");
        stream
            .set_read_timeout(Some(CLI_TIMEOUT))
            .expect("read timeout");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).expect("read head");
            assert!(
                n == 1,
                "connection closed inside the response head: {head:?}"
            );
            head.push(byte[0]);
        }
        (String::from_utf8_lossy(&head).into_owned(), stream)
    }

    /// The events the daemon kept until now (`GET /events?since=0&until=`
    /// the current time, so the answer ends at once), only those of type
    /// `kind` when given.
    #[track_caller]
    pub fn past_events(&self, kind: Option<&str>) -> Vec<serde_json::Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs_f64();
        let mut path = format!("/events?since=0&until={now}");
        if let Some(kind) = kind {
            // filters={"type":["<kind>"]}, percent-encoded.
            path.push_str(&format!("&filters=%7B%22type%22%3A%5B%22{kind}%22%5D%7D"));
        }
        let r = self.http("GET", &path, b"");
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("event {l:?}: {e}")))
            .collect()
    }

    /// Waits until every network namespace berthd holds belongs to a
    /// running container. An exit's network teardown (the veth pairs, then
    /// the namespace, then the address leases) goes on after the exit is
    /// recorded (issue 12), so a test that checks the kernel after a stop
    /// or a removal waits for it first. Bounded: after 30 s the test fails
    /// naming what is left.
    pub fn wait_for_network_teardowns(&self) {
        let dir = self.exec_root().join("netns");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let running = self.running_ids();
            let left: Vec<String> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|name| !running.contains(name))
                        .collect()
                })
                .unwrap_or_default();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "network teardowns unfinished after 30 s: namespaces {left:?} in {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running_ids(&self) -> Vec<String> {
        let r = self.http("GET", "/containers/json", b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["Id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of every container the daemon knows.
    pub fn container_ids(&self) -> Vec<String> {
        let r = self.try_http("GET", "/containers/json?all=1", b"");
        match r {
            Ok(r) if r.status == 200 => r
                .json()
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["Id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Remove what the test left: containers first (their shims, mounts
        // and cgroups go with them), then the daemon.
        if self.child.is_some() {
            for id in self.container_ids() {
                let _ = self.try_http("DELETE", &format!("/containers/{id}?force=1"), b"");
            }
        }
        self.stop();
        // Every container this daemon ever had has a directory here; its
        // cgroups (`berth/<id>` under each v1 controller) must go too.
        let ids: Vec<String> = std::fs::read_dir(self.data_root().join("containers"))
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Shims of containers that could not be removed: they are this
        // test's processes (their command line names our exec root).
        let exec_root = self.exec_root().display().to_string();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for entry in procs.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if cmdline.contains("berth-shim") && cmdline.contains(&exec_root) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        // Their cgroups (`<parent>/<id>` in every hierarchy), then the
        // parent itself, which berthd removes at shutdown when it can.
        let parent = self.cgroup_parent.trim_end_matches('/').to_owned();
        let cgroups: Vec<PathBuf> = ids
            .iter()
            .flat_map(|id| cgroup_dirs(&format!("{parent}/{id}")))
            .collect();
        for cgroup in &cgroups {
            let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for cgroup in cgroups.iter().chain(&cgroup_dirs(&parent)) {
            for _ in 0..50 {
                if std::fs::remove_dir(cgroup).is_ok() || !cgroup.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // The daemon's nftables table and the bridges it marked as its own
        // (a daemon killed by the test cannot remove them itself).
        if let Ok(table) = berth_network::TableName::new(&self.nft_table) {
            use berth_network::{Firewall, Kernel, LinuxKernel, NftFirewall};
            let (firewall, kernel) = match &self.netns {
                Some(netns) => (
                    NftFirewall::in_namespace(netns.clone()),
                    LinuxKernel::in_namespace(netns.clone()),
                ),
                None => (NftFirewall::new(), LinuxKernel::new()),
            };
            let _ = firewall.delete(&table);
            let alias = berth_network::bridge_alias(&table);
            for bridge in kernel.bridges_with_alias(&alias).unwrap_or_default() {
                let _ = kernel.delete_link(&bridge);
            }
        }
        // Mounts left under our directories, deepest first.
        let prefix = self.dir().display().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = run_with_timeout(
                Command::new("umount").arg("-l").arg(&m),
                Duration::from_secs(10),
            );
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit (tests
/// that open many connections), returning the new limit.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(RLIMIT_NOFILE)");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit(RLIMIT_NOFILE)");
    hard
}

/// The inodes of the sockets process `pid` has open.
pub fn socket_inodes(pid: u32) -> std::collections::BTreeSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|target| {
                    let target = target.to_string_lossy().into_owned();
                    target
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The listening sockets of process `pid`: unix ones by path, TCP ones by
/// local address (hex, as in `/proc/net/tcp`).
pub fn listening_sockets(pid: u32) -> std::collections::BTreeSet<String> {
    let mine = socket_inodes(pid);
    let mut listening = std::collections::BTreeSet::new();
    // unix(7) /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path;
    // Flags 00010000 is __SO_ACCEPTCON, a listening socket.
    let unix = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    for line in unix.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(flags), Some(inode)) = (fields.get(3), fields.get(6)) else {
            continue;
        };
        if *flags == "00010000" && inode.parse().is_ok_and(|i: u64| mine.contains(&i)) {
            listening.insert(format!("unix:{}", fields.get(7).unwrap_or(&"")));
        }
    }
    // tcp(7) /proc/net/tcp{,6}: st 0A is LISTEN; the inode is field 9.
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == "0A" && inode.parse().is_ok_and(|i: u64| mine.contains(&i)) {
                listening.insert(format!("{table}:{local}"));
            }
        }
    }
    listening
}

/// The directories of cgroup `path` (absolute) that exist now: one per
/// mounted v1 hierarchy under `/sys/fs/cgroup`, or the v2 one.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let relative = path.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return [root.join(relative)]
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                // Co-mounted hierarchies appear as symlinks (cpu -> cpu,cpuacct).
                .filter(|c| c.file_type().is_ok_and(|t| t.is_dir()))
                .map(|c| c.path().join(relative))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}
