//! A throwaway network "host" for the network driver's privileged tests.
//!
//! A [`Lab`] is a network namespace standing in for the machine's own
//! (netavark's tests do the same): the driver under test creates its bridge,
//! veths, sysctls and nftables table inside it, so a test never touches the
//! real host's network, two tests never share a bridge or a table, and
//! everything goes when the lab's namespace does. Container namespaces are
//! bind-mounted under the lab's temporary directory. Dropping the lab (also
//! on a panic) kills the servers it started and unmounts every namespace.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_network::{
    Kernel, LinuxKernel, NetworkDriver, NetworkDriverConfig, NftFirewall, TableName,
};

use crate::busybox::BUSYBOX;
use crate::cmd::{Output, run_with_timeout};
use crate::require;

/// A bound on each command a lab runs (hangs fail the test, not the suite).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The throwaway host namespace, its driver, and what it started.
pub struct Lab {
    /// The lab's temporary directory.
    pub dir: tempfile::TempDir,
    /// The namespace standing in for the host.
    pub host: PathBuf,
    /// The driver, working in `host`.
    pub driver: NetworkDriver,
    /// The real firewall, working in `host` (for `nft list`).
    pub firewall: Arc<NftFirewall>,
    /// The driver's table.
    pub table: TableName,
    kernel: Arc<LinuxKernel>,
    extra_netns: Mutex<Vec<PathBuf>>,
    servers: Mutex<Vec<Child>>,
}

impl Lab {
    /// A new lab whose driver uses the nftables table `table`.
    pub fn new(table: &str) -> Lab {
        require::root();
        require::program("nsenter", "util-linux");
        require::program("ip", "iproute2");
        require::program("nft", "nftables");
        assert!(
            Path::new(BUSYBOX).is_file(),
            "{BUSYBOX} is missing: install `busybox-static`"
        );
        let dir = tempfile::Builder::new()
            .prefix("netlab-")
            .tempdir_in(crate::target_tmp())
            .or_else(|_| tempfile::tempdir())
            .expect("lab dir");
        let host = dir.path().join("host");
        LinuxKernel::new()
            .create_netns(&host)
            .expect("create the lab's host namespace");
        let kernel = Arc::new(LinuxKernel::in_namespace(host.clone()));
        let firewall = Arc::new(NftFirewall::in_namespace(host.clone()));
        let table = TableName::new(table).expect("table name");
        let driver = NetworkDriver::new(
            kernel.clone(),
            firewall.clone(),
            NetworkDriverConfig {
                netns_dir: dir.path().join("netns"),
                table: table.clone(),
                ip_forward: true,
            },
        );
        Lab {
            dir,
            host,
            driver,
            firewall,
            table,
            kernel,
            extra_netns: Mutex::new(Vec::new()),
            servers: Mutex::new(Vec::new()),
        }
    }

    /// A namespace that is no container's (e.g. "the outside world"),
    /// removed with the lab.
    pub fn extra_netns(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(format!("extra-{name}"));
        self.kernel
            .create_netns(&path)
            .expect("create an extra namespace");
        self.extra_netns.lock().expect("lock").push(path.clone());
        path
    }

    /// Runs `argv` inside the namespace at `netns`, under a timeout.
    pub fn run_in(&self, netns: &Path, argv: &[&str]) -> Output {
        run_in(netns, argv)
    }

    /// Fetches `url` with busybox wget from inside `netns` (see [`fetch`]).
    pub fn fetch(&self, netns: &Path, url: &str) -> Output {
        fetch(netns, url)
    }

    /// Starts `busybox httpd` serving `body` at `/` on `port` inside
    /// `netns` and waits until it answers there (bounded).
    pub fn serve_http(&self, netns: &Path, port: u16, body: &str) {
        let root = self.dir.path().join(format!(
            "www-{port}-{}",
            self.servers.lock().expect("lock").len()
        ));
        std::fs::create_dir_all(&root).expect("docroot");
        std::fs::write(root.join("index.html"), body).expect("index.html");
        let child = Command::new("nsenter")
            .arg(format!("--net={}", netns.display()))
            .args(["--", BUSYBOX, "httpd", "-f", "-p"])
            .arg(format!("0.0.0.0:{port}"))
            .arg("-h")
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn httpd");
        self.servers.lock().expect("lock").push(child);
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..200 {
            if self.fetch(netns, &url).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("httpd in {} never answered on {url}", netns.display());
    }

    /// `ip -br link` inside `netns`.
    pub fn links(&self, netns: &Path) -> String {
        self.run_in(netns, &["ip", "-br", "link"]).ok()
    }

    /// A sysctl of the lab's host namespace.
    pub fn sysctl(&self, key: &str) -> String {
        self.kernel.read_sysctl(key).expect("read sysctl")
    }

    /// The driver's table as `nft list` shows it, `None` when it is gone.
    pub fn table(&self) -> Option<String> {
        self.firewall.list(&self.table).expect("nft list")
    }

    /// `nft list tables` in the lab's host namespace.
    pub fn tables(&self) -> String {
        self.run_in(&self.host, &["nft", "list", "tables"]).ok()
    }
}

/// The interfaces enslaved to `bridge` in the test's namespace (`ip -o
/// link show master`), without their `@peer` suffix.
pub fn bridge_ports(bridge: &str) -> Vec<String> {
    let out = crate::cmd::run(
        ["ip", "-o", "link", "show", "master", bridge],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "ip link show master {bridge}: {out:?}"
    );
    out.stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect()
}

/// Runs `argv` inside the network namespace bind-mounted at `netns`,
/// under [`COMMAND_TIMEOUT`].
pub fn run_in(netns: &Path, argv: &[&str]) -> Output {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net={}", netns.display()))
        .arg("--")
        .args(argv);
    run_with_timeout(&mut command, COMMAND_TIMEOUT)
}

/// Fetches `url` with busybox wget from inside `netns`, giving up after
/// 10 s (busybox 1.35's own `wget -T` crashes, so `timeout` bounds it).
pub fn fetch(netns: &Path, url: &str) -> Output {
    run_in(
        netns,
        &[
            BUSYBOX, "timeout", "10", BUSYBOX, "wget", "-q", "-O", "-", url,
        ],
    )
}

/// Runs `work` on a thread of its own inside the network namespace at
/// `netns` and returns what it returns (a panic in it is this caller's):
/// sockets belong to the namespace of the thread that opens them, and no
/// other thread of the test changes namespace.
pub fn in_netns<T: Send>(netns: &Path, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let file = std::fs::File::open(netns)
                .unwrap_or_else(|e| panic!("open {}: {e}", netns.display()));
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("enter {}: {e}", netns.display()));
            work()
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Whether `path` is a mount point of this process's mount namespace.
pub fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let wanted = path.to_string_lossy();
    mounts.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|mount_point| mount_point == wanted)
    })
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(mut servers) = self.servers.lock() {
            for child in servers.iter_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("netns")) {
            for entry in entries.flatten() {
                let _ = self.kernel.remove_netns(&entry.path());
            }
        }
        if let Ok(extra) = self.extra_netns.lock() {
            for path in extra.iter() {
                let _ = self.kernel.remove_netns(path);
            }
        }
        // The lab's host namespace holds the bridges, the host ends of the
        // veths and the table: they go with it.
        let _ = self.kernel.remove_netns(&self.host);
    }
}
