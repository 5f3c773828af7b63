//! Support for the berth-runc tests: OCI bundles on the busybox rootfs,
//! the two runtimes behind one interface, and guards that clean up
//! containers and cgroups even when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use berth_tests::cmd::{Output, run_with_timeout};
use serde_json::{Value, json};

/// Every runtime command gets this long.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A name unique to this test process and call (container ids, cgroups).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An OCI bundle in a temp dir: `config.json` + busybox `rootfs/`.
pub struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    /// A bundle with `config`.
    pub fn new(config: &Value) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("berth-runc-bundle-")
            .tempdir()
            .expect("tempdir");
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs).expect("mkdir rootfs");
        berth_tests::busybox::build_rootfs(&rootfs);
        let bundle = Bundle { dir };
        bundle.write_config(config);
        bundle
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Replaces `config.json`.
    pub fn write_config(&self, config: &Value) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(config).expect("serialise config"),
        )
        .expect("write config.json");
    }
}

/// A config like `runc spec` generates (runc 1.1), running `args`, without
/// a terminal and with the cgroup at `cgroups_path`.
pub fn runc_spec(args: &[&str], cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Docker's defaults on top of [`runc_spec`]: its 14 capabilities (no
/// inheritable or ambient set, as Docker ≥ 20.10.14), its seccomp
/// profile, a writable root, `noNewPrivileges: false`, and resource
/// limits.
pub fn docker_like_spec(args: &[&str], cgroups_path: &str) -> Value {
    let mut spec = runc_spec(args, cgroups_path);
    let caps: Vec<Value> = berth_libcontainer::seccomp::DOCKER_DEFAULT_CAPABILITIES
        .iter()
        .map(|c| serde_json::to_value(c).expect("capability name"))
        .collect();
    spec["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    spec["process"]["noNewPrivileges"] = json!(false);
    spec["root"]["readonly"] = json!(false);
    spec["linux"]["seccomp"] =
        serde_json::to_value(berth_libcontainer::seccomp::docker_default_profile())
            .expect("seccomp profile");
    spec["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 64 * 1024 * 1024},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 100}
    });
    spec
}

/// One of the two runtimes under test, with its own state root.
pub struct Runtime {
    /// `berth-runc` or `runc`.
    pub name: &'static str,
    binary: PathBuf,
    root: tempfile::TempDir,
}

impl Runtime {
    /// The workspace's berth-runc.
    pub fn berth() -> Runtime {
        Runtime {
            name: "berth-runc",
            binary: berth_tests::workspace_bin("berth-runc"),
            root: tempfile::Builder::new()
                .prefix("berth-runc-root-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// Debian's runc, the oracle.
    pub fn runc() -> Runtime {
        Runtime {
            name: "runc",
            binary: berth_tests::require::program("runc", "runc"),
            root: tempfile::Builder::new()
                .prefix("runc-root-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// The binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The state root (`--root`).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `<binary> --root <root> <args...>` under the timeout.
    pub fn cmd<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(self.root.path()).args(args);
        run_with_timeout(&mut command, TIMEOUT)
    }

    /// Like [`Runtime::cmd`], but the command's stdout and stderr go to
    /// files, so that a container inheriting them (detached `create`,
    /// `run -d`, `exec -d`) does not keep a pipe open after the runtime
    /// exits.
    pub fn cmd_detached<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let out_path = dir.path().join("stdout");
        let err_path = dir.path().join("stderr");
        let mut child = Command::new(&self.binary)
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"))
            .spawn()
            .expect("spawn runtime");
        let deadline = std::time::Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait runtime") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not finish within {TIMEOUT:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Output {
            status,
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    /// `state <id>` parsed.
    pub fn state(&self, id: &str) -> Value {
        let out = self.cmd(["state", id]);
        assert!(
            out.status.success(),
            "{} state {id} failed: {out:#?}",
            self.name
        );
        serde_json::from_str(&out.stdout).expect("state is JSON")
    }

    /// Polls `state <id>` until its status is `want` (bounded).
    pub fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            let state = self.state(id);
            if state["status"] == want {
                return state;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: {id} never became {want}: {state}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `run --bundle <bundle> <id>` in the foreground, with a guard that
    /// deletes the container should it survive.
    pub fn run(&self, bundle: &Bundle, id: &str) -> Output {
        let _guard = ContainerGuard::new(self, id);
        let bundle = bundle.path().to_string_lossy().into_owned();
        self.cmd(["run", "--bundle", &bundle, id])
    }
}

/// Force-deletes a container when dropped (test failed half-way).
pub struct ContainerGuard<'a> {
    runtime: &'a Runtime,
    id: String,
}

impl<'a> ContainerGuard<'a> {
    /// Guards `id` of `runtime`.
    pub fn new(runtime: &'a Runtime, id: &str) -> Self {
        ContainerGuard {
            runtime,
            id: id.to_string(),
        }
    }
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        let mut command = Command::new(self.runtime.binary());
        command
            .arg("--root")
            .arg(self.runtime.root())
            .args(["delete", "--force", &self.id]);
        let _ = run_with_timeout(&mut command, TIMEOUT);
    }
}

/// The v1 hierarchies (and the v2 mount) of this host.
pub fn cgroup_dirs(cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .expect("list /sys/fs/cgroup")
        .flatten()
    {
        let dir = entry.path().join(rel);
        dirs.push(dir);
    }
    dirs.push(Path::new("/sys/fs/cgroup").join(rel));
    dirs
}

/// Removes `cgroups_path` from every hierarchy when dropped (after a
/// failed test); asserts nothing at all.
pub struct CgroupGuard(pub String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for dir in cgroup_dirs(&self.0) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Asserts that nothing of a container is left: no state directory, no
/// cgroup directory in any hierarchy, no mount below `bundle`, no process
/// running from the bundle's rootfs.
pub fn assert_nothing_left(runtime: &Runtime, id: &str, cgroups_path: &str, bundle: &Path) {
    let state = runtime.root().join(id);
    assert!(
        !state.exists(),
        "{}: state directory {} is left",
        runtime.name,
        state.display()
    );
    for dir in cgroup_dirs(cgroups_path) {
        assert!(
            !dir.exists(),
            "{}: cgroup {} is left",
            runtime.name,
            dir.display()
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let bundle = bundle.to_string_lossy();
    for line in mounts.lines() {
        assert!(
            !line.contains(bundle.as_ref()),
            "{}: mount left: {line}",
            runtime.name
        );
    }
    for entry in std::fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(root) = std::fs::read_link(entry.path().join("root")) else {
            continue;
        };
        assert!(
            !root.to_string_lossy().starts_with(bundle.as_ref()),
            "{}: process {} still runs in the bundle",
            runtime.name,
            entry.file_name().to_string_lossy()
        );
    }
}
