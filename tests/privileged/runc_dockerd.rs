//! berth-runc as the runtime of a real dockerd (Debian's docker.io 20.10,
//! driven by the real docker CLI): `--add-runtime berth=<berth-runc>`,
//! containers run through containerd-shim-runc-v2 → berth-runc.
//!
//! The daemon is private to the test: own data root, exec root, pid file
//! and socket, no bridge, no iptables, the cgroupfs driver, and its own
//! managed containerd. It is stopped and everything it mounted is unmounted
//! and removed when the test ends, also on failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::cmd::{Output, run_with_timeout};

const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

struct Dockerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    docker: PathBuf,
}

impl Dockerd {
    fn start() -> Dockerd {
        berth_tests::require::root();
        let dockerd = berth_tests::require::program("dockerd", "docker.io");
        let docker = berth_tests::require::program("docker", "docker-ce-cli (or docker.io)");
        berth_tests::require::program("containerd", "containerd");
        berth_tests::require::program("containerd-shim-runc-v2", "containerd");
        let runtime = berth_tests::workspace_bin("berth-runc");
        // Short path: the containerd socket lives below it (108-byte limit).
        let dir = tempfile::Builder::new()
            .prefix("bd-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let path = dir.path();
        std::fs::write(path.join("daemon.json"), "{}").expect("write daemon.json");
        let log = std::fs::File::create(path.join("dockerd.log")).expect("create log");
        let child = Command::new(dockerd)
            .arg("--config-file")
            .arg(path.join("daemon.json"))
            .arg("--data-root")
            .arg(path.join("data"))
            .arg("--exec-root")
            .arg(path.join("exec"))
            .arg("--pidfile")
            .arg(path.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", path.join("docker.sock").display()))
            .args([
                "--bridge",
                "none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                // dockerd lowers its own score to -500 by default, which
                // needs CAP_SYS_RESOURCE (root lacks it on this machine).
                "--oom-score-adjust",
                "0",
            ])
            .arg("--add-runtime")
            .arg(format!("berth={}", runtime.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let daemon = Dockerd {
            dir,
            child: Some(child),
            docker,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if daemon.dir.path().join("docker.sock").exists()
                && daemon.docker(&["version"]).status.success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not come up within 60s; its log:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.docker);
        command
            .arg("-H")
            .arg(format!(
                "unix://{}",
                self.dir.path().join("docker.sock").display()
            ))
            .args(args);
        run_with_timeout(&mut command, DOCKER_TIMEOUT)
    }

    /// Runs the docker CLI and fails (with dockerd's log) unless it succeeds.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {out:#?}\n--- dockerd log ---\n{}",
            self.log()
        );
        out.stdout
    }

    fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }
}

/// Mount points below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) && pid != std::process::id() as i32 {
            out.push(pid);
        }
    }
    out
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.docker(&["rm", "-f", "berth-lc"]);
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // The managed containerd and any shim left over.
        let path = self.dir.path().to_string_lossy().into_owned();
        for pid in processes_mentioning(&path) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for mount in mounts_below(self.dir.path()) {
            let _ = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH);
        }
        // The runtime created the cgroupfs driver's parent `/docker` in
        // every hierarchy; rmdir only succeeds while it is empty, so a
        // cgroup in use by anyone else is left alone.
        for entry in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(entry.path().join("docker"));
        }
    }
}

#[test]
fn runc_dockerd_runs_containers_through_berth_runc() {
    let daemon = Dockerd::start();
    let tarball = berth_tests::busybox::shared_tarball();
    daemon.ok(&[
        "import",
        tarball.to_str().expect("utf-8 path"),
        "berth-bb:test",
    ]);
    let run = ["run", "--rm", "--runtime", "berth", "--network", "none"];

    let out = daemon.ok(&[&run[..], &["berth-bb:test", "echo", "hi"]].concat());
    assert_eq!(out, "hi\n");

    let out = daemon.ok(&[
        &run[..],
        &[
            "-m",
            "64m",
            "--pids-limit",
            "42",
            "berth-bb:test",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
        ],
    ]
    .concat());
    assert_eq!(out, "67108864\n42\n", "limits set through berth-runc");

    let out = daemon.docker(&[&run[..], &["berth-bb:test", "sh", "-c", "exit 7"]].concat());
    assert_eq!(out.code(), 7, "exit code through dockerd: {out:#?}");

    let out = daemon.docker(&[&run[..], &["berth-bb:test", "no-such-program"]].concat());
    assert!(
        !out.status.success() && out.stderr.contains("executable file not found"),
        "berth-runc's error reaches the docker CLI: {out:#?}"
    );

    // A long-running container: exec, pause/unpause, stop.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "berth-lc",
        "--runtime",
        "berth",
        "--network",
        "none",
        "berth-bb:test",
        "sleep",
        "1000",
    ]);
    let states = find_berth_states(&daemon.exec_root());
    assert_eq!(
        states.len(),
        1,
        "one container under berth-runc's state root: {states:?}"
    );
    let out = daemon.ok(&[
        "exec",
        "berth-lc",
        "sh",
        "-c",
        "echo exec-ok; cat /proc/1/cmdline",
    ]);
    assert_eq!(out, "exec-ok\nsleep\u{0}1000\u{0}");
    let out = daemon.ok(&["exec", "-t", "berth-lc", "tty"]);
    assert_eq!(out.trim_end(), "/dev/pts/0");
    // docker update → containerd → `berth-runc update --resources -`.
    daemon.ok(&[
        "update",
        "--pids-limit",
        "77",
        "--cpu-shares",
        "256",
        "-m",
        "96m",
        "--memory-swap",
        "192m",
        "berth-lc",
    ]);
    let out = daemon.ok(&[
        "exec",
        "berth-lc",
        "cat",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/cpu/cpu.shares",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(
        out, "77\n256\n100663296\n",
        "limits updated through berth-runc"
    );
    daemon.ok(&["pause", "berth-lc"]);
    assert_eq!(
        daemon
            .ok(&["inspect", "-f", "{{.State.Status}}", "berth-lc"])
            .trim(),
        "paused"
    );
    daemon.ok(&["unpause", "berth-lc"]);
    daemon.ok(&["stop", "-t", "1", "berth-lc"]);
    assert_eq!(
        daemon
            .ok(&["inspect", "-f", "{{.State.ExitCode}}", "berth-lc"])
            .trim(),
        "137"
    );
    daemon.ok(&["rm", "berth-lc"]);
    assert!(
        find_berth_states(&daemon.exec_root()).is_empty(),
        "berth-runc delete removed its state"
    );
}

/// berth-runc state files (they carry `pid_start_time`) below `dir`.
fn find_berth_states(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() && !ft.is_symlink() {
                // Do not descend into container root file systems.
                if p.file_name().is_some_and(|n| n == "rootfs") {
                    continue;
                }
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "state.json")
                && std::fs::read_to_string(&p).is_ok_and(|t| t.contains("pid_start_time"))
            {
                out.push(p);
            }
        }
    }
    out
}
