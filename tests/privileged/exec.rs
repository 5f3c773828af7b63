//! The exec driver and `berth-shim` on real containers (libcontainer,
//! namespaces, cgroups), without berthd: a busybox bundle per test, its own
//! exec root, data dir and cgroup parent.

use std::path::PathBuf;
use std::time::Duration;

use berth_api::container::{Config, CreateRequest, HostConfig};
use berth_engine::daemon::spec::ContainerSpecBuilder;
use berth_exec::{
    AttachEvent, AttachOptions, ExecConfig, ExecDriver, ExecError, ExitRecord, LogOptions,
    RunState, StartOptions, Started, StreamKind,
};
use tokio::io::AsyncWriteExt;

/// Every wait in these tests is bounded: a hung container fails the test.
const DEADLINE: Duration = Duration::from_secs(60);

/// One test's world: directories, a busybox rootfs, a driver, a tokio
/// runtime, and a cleanup that kills and removes whatever the test started.
pub struct ExecFixture {
    pub root: tempfile::TempDir,
    pub rootfs: PathBuf,
    pub cgroup_parent: String,
    pub rt: tokio::runtime::Runtime,
    pub driver: Option<ExecDriver>,
    ids: Vec<String>,
}

impl ExecFixture {
    pub fn new(name: &str) -> ExecFixture {
        berth_tests::require::root();
        // Short paths: the control socket path must fit a sockaddr_un.
        let root = tempfile::Builder::new()
            .prefix("bx")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let rootfs = root.path().join("rootfs");
        std::fs::create_dir(&rootfs).expect("rootfs dir");
        berth_tests::busybox::build_rootfs(&rootfs);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let cgroup_parent = format!("/berth-test-{name}-{}", std::process::id());
        let mut fixture = ExecFixture {
            root,
            rootfs,
            cgroup_parent,
            rt,
            driver: None,
            ids: Vec::new(),
        };
        fixture.driver = Some(fixture.new_driver());
        fixture
    }

    /// A driver over this fixture's directories (a "restarted daemon" gets
    /// a new one).
    pub fn new_driver(&self) -> ExecDriver {
        // BERTH_TEST_SHIM picks another build (e.g. target/release) for
        // the RSS figure.
        let shim = std::env::var_os("BERTH_TEST_SHIM")
            .map(PathBuf::from)
            .unwrap_or_else(|| berth_tests::workspace_bin("berth-shim"));
        let mut config = ExecConfig::new(
            self.root.path().join("run"),
            self.root.path().join("containers"),
            shim,
        );
        config.spec.cgroup_parent = self.cgroup_parent.clone();
        ExecDriver::new(config).expect("exec driver")
    }

    pub fn driver(&self) -> &ExecDriver {
        self.driver.as_ref().expect("driver")
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(async {
            tokio::time::timeout(DEADLINE, f)
                .await
                .expect("the operation did not finish within the deadline")
        })
    }

    /// A unique container id.
    pub fn id(&mut self, name: &str) -> String {
        let id = format!("{name}-{}-{}", std::process::id(), self.ids.len());
        self.ids.push(id.clone());
        id
    }

    /// Start options of a container created from `config` and
    /// `host_config` as berthd's create makes it (the engine's builder, on
    /// a host that offers everything).
    pub fn options(&self, config: Config, host_config: HostConfig) -> StartOptions {
        let request = CreateRequest {
            config: Config {
                image: "busybox".into(),
                ..config
            },
            host_config,
            networking_config: None,
        };
        let container = ContainerSpecBuilder::new(request, Default::default(), &"ab".repeat(32))
            .build()
            .unwrap_or_else(|e| panic!("refused at create: {e}"))
            .model;
        StartOptions {
            container,
            rootfs: self.rootfs.clone(),
            attach: Vec::new(),
            network: Default::default(),
        }
    }

    pub fn start(&mut self, name: &str, config: Config, host: HostConfig) -> (String, Started) {
        let id = self.id(name);
        let options = self.options(config, host);
        let started = self
            .block_on(self.driver().start(&id, options))
            .unwrap_or_else(|e| panic!("start {id}: {e}"));
        (id, started)
    }

    pub fn wait(&self, id: &str) -> ExitRecord {
        self.block_on(self.driver().wait(id))
            .unwrap_or_else(|e| panic!("wait {id}: {e}"))
    }

    /// All log records' data, per stream.
    pub fn logs(&self, id: &str) -> (String, String) {
        let options = LogOptions {
            stdout: true,
            stderr: true,
            ..LogOptions::default()
        };
        let _runtime = self.rt.enter();
        let mut stream = self.driver().logs(id, options).expect("logs");
        let (mut out, mut err) = (String::new(), String::new());
        self.block_on(async {
            while let Some(message) = stream.next().await {
                let message = message.expect("log record");
                let text = String::from_utf8_lossy(&message.data).into_owned();
                match message.stream {
                    StreamKind::Stderr => err.push_str(&text),
                    _ => out.push_str(&text),
                }
            }
        });
        (out, err)
    }

    /// The pid of the shim monitoring `id`.
    pub fn shim_pid(&self, id: &str) -> Option<i32> {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let is_shim = args.first().is_some_and(|a| a.ends_with(b"berth-shim"));
            if is_shim && args.contains(&id.as_bytes()) {
                return Some(pid);
            }
        }
        None
    }
}

impl Drop for ExecFixture {
    fn drop(&mut self) {
        let driver = self.new_driver();
        let ids = std::mem::take(&mut self.ids);
        self.rt.block_on(async {
            for id in &ids {
                let _ = driver.kill(id, libc::SIGKILL).await;
                let _ = tokio::time::timeout(Duration::from_secs(20), driver.wait(id)).await;
                let _ = driver.remove(id).await;
            }
        });
        for id in &ids {
            if let Some(pid) = self.shim_pid(id) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // libcontainer removes each container's cgroup; the parent is ours.
        remove_cgroup_parent(&self.cgroup_parent);
    }
}

fn remove_cgroup_parent(parent: &str) {
    for dir in berth_tests::daemon::cgroup_dirs(parent) {
        let _ = std::fs::remove_dir(&dir);
    }
}

pub fn cmd(args: &[&str]) -> Config {
    Config {
        cmd: Some(args.iter().map(|s| s.to_string()).collect()),
        ..Config::default()
    }
}

#[test]
fn exec_runs_a_command_and_logs_both_streams() {
    let mut f = ExecFixture::new("echo");
    let (id, started) = f.start(
        "echo",
        cmd(&["sh", "-c", "echo hi; echo oops >&2; exit 7"]),
        HostConfig::default(),
    );
    assert!(started.pid > 0);
    let record = f.wait(&id);
    assert_eq!((record.exit_code, record.oom_killed), (7, false));
    assert_eq!(record.started_at, Some(started.started_at));
    assert_eq!(f.logs(&id), ("hi\n".to_owned(), "oops\n".to_owned()));
    // The record is durable: a second wait, with the shim gone, reads it.
    assert_eq!(f.wait(&id), record);
    let raw = std::fs::read_to_string(f.driver().paths(&id).files.log).expect("raw log");
    assert!(
        raw.starts_with("{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\""),
        "{raw}"
    );
}

#[test]
fn exec_a_missing_executable_fails_with_127() {
    let mut f = ExecFixture::new("missing");
    let id = f.id("missing");
    let options = f.options(cmd(&["no-such-command"]), HostConfig::default());
    let err = f
        .block_on(f.driver().start(&id, options))
        .expect_err("start must fail");
    match &err {
        ExecError::StartFailed {
            exit_code, message, ..
        } => {
            assert_eq!(*exit_code, 127, "{message}");
            assert!(message.contains("executable file not found"), "{message}");
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    let record = f.wait(&id);
    assert_eq!(record.exit_code, 127);
    assert!(record.error.is_some());
}

#[test]
fn exec_container_sees_dockers_defaults() {
    let mut f = ExecFixture::new("defaults");
    // Masked files read as empty, masked directories list as empty. Only
    // paths the host kernel has can be observed (this one may lack
    // /proc/kcore; the spec lists it, see the unit tests).
    let masked_files: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/interrupts",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect();
    assert!(
        !masked_files.is_empty(),
        "the host has none of the masked /proc files"
    );
    let script = "grep CapEff /proc/self/status; hostname; id -u; id -G; \
                  for p in $MASKED; do wc -c < $p; done; ls -A /sys/firmware | wc -l; \
                  cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                  cat /sys/fs/cgroup/pids/pids.max; echo \"$HOME\"; \
                  cat /etc/hostname; grep -c localhost /etc/hosts; ip -o link | wc -l";
    // Root first: the capability set applies to uid 0.
    let (root_id, _) = f.start(
        "defaults",
        Config {
            hostname: "web".into(),
            env: vec![format!("MASKED={}", masked_files.join(" "))],
            ..cmd(&["sh", "-c", script])
        },
        HostConfig {
            memory: 64 << 20,
            pids_limit: Some(50),
            ..HostConfig::default()
        },
    );
    assert_eq!(f.wait(&root_id).exit_code, 0, "{:?}", f.logs(&root_id));
    let (out, err) = f.logs(&root_id);
    let mut expected = vec![
        "CapEff:\t00000000a80425fb".to_owned(),
        "web".into(),
        "0".into(),
        "0".into(),
    ];
    expected.extend(masked_files.iter().map(|_| "0".to_owned()));
    expected.push("0".into());
    expected.extend([
        (64u64 << 20).to_string(),
        "50".into(),
        "/root".into(),
        "web".into(),
        "2".into(),
        "1".into(),
    ]);
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "stderr: {err}");

    let (user_id, _) = f.start(
        "defaults-user",
        Config {
            user: "berth".into(),
            ..cmd(&[
                "sh",
                "-c",
                "id -u; id -g; id -G; echo $HOME; grep CapEff /proc/self/status",
            ])
        },
        HostConfig::default(),
    );
    assert_eq!(f.wait(&user_id).exit_code, 0, "{:?}", f.logs(&user_id));
    let (out, _) = f.logs(&user_id);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "1000",
            "1000",
            "1000 10 29",
            "/home/berth",
            "CapEff:\t0000000000000000"
        ]
    );
}

#[test]
fn exec_oom_kill_sets_the_flag() {
    let mut f = ExecFixture::new("oom");
    let (id, _) = f.start(
        "oom",
        // dd allocates its block: 256 MiB against a 16 MiB limit.
        cmd(&["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]),
        HostConfig {
            memory: 16 << 20,
            memory_swap: 16 << 20,
            ..HostConfig::default()
        },
    );
    let record = f.wait(&id);
    assert!(record.oom_killed, "{record:?} {:?}", f.logs(&id));
    assert_eq!(record.exit_code, 137);
}

#[test]
fn exec_attach_streams_stdin_through_cat_and_half_close_ends_it() {
    let mut f = ExecFixture::new("attach");
    let id = f.id("attach");
    let mut options = f.options(
        Config {
            open_stdin: true,
            stdin_once: true,
            ..cmd(&["cat"])
        },
        HostConfig::default(),
    );
    options.attach = vec![AttachOptions {
        stdin: true,
        stdout: true,
        stderr: true,
    }];
    let started = f.block_on(f.driver().start(&id, options)).expect("start");
    let mut attached = started.attach.into_iter().next().expect("attached");
    let mut stdin = attached.stdin.take().expect("stdin");
    let (out, exit) = f.block_on(async {
        stdin.write_all(b"hello\nworld\n").await.expect("write");
        stdin.shutdown().await.expect("half-close");
        let mut out = Vec::new();
        let mut exit = None;
        while let Some(event) = attached.output.next().await {
            match event.expect("event") {
                AttachEvent::Output(chunk) => {
                    assert_eq!(chunk.stream, StreamKind::Stdout);
                    out.extend_from_slice(&chunk.data);
                }
                AttachEvent::Exited(record) => exit = Some(record),
            }
        }
        (out, exit)
    });
    assert_eq!(out, b"hello\nworld\n");
    assert_eq!(exit.expect("exit event").exit_code, 0);
    assert_eq!(f.logs(&id).0, "hello\nworld\n");
}

#[test]
fn exec_tty_mode_uses_a_pty_with_the_requested_size() {
    let mut f = ExecFixture::new("tty");
    let id = f.id("tty");
    let mut options = f.options(
        Config {
            tty: true,
            ..cmd(&["sh", "-c", "tty; stty size; echo done"])
        },
        HostConfig {
            console_size: Some([30, 100]),
            ..HostConfig::default()
        },
    );
    options.attach = vec![AttachOptions {
        stdin: false,
        stdout: true,
        stderr: true,
    }];
    let started = f.block_on(f.driver().start(&id, options)).expect("start");
    let mut attached = started.attach.into_iter().next().expect("attached");
    let out = f.block_on(async {
        let mut out = Vec::new();
        while let Some(event) = attached.output.next().await {
            if let AttachEvent::Output(chunk) = event.expect("event") {
                assert_eq!(chunk.stream, StreamKind::Stdout, "a TTY has one stream");
                out.extend_from_slice(&chunk.data);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    assert!(out.contains("/dev/"), "{out:?}");
    assert!(out.contains("30 100\r\n"), "{out:?}");
    assert!(out.contains("done\r\n"), "{out:?}");
    assert_eq!(f.wait(&id).exit_code, 0);
    let (logged, err) = f.logs(&id);
    assert!(
        logged.contains("done\r\n") && err.is_empty(),
        "{logged:?} {err:?}"
    );
}

#[test]
fn exec_stop_escalates_to_sigkill_and_kill_delivers_signals() {
    let mut f = ExecFixture::new("stop");
    // sleep as pid 1 of its namespace ignores SIGTERM (no handler): stop
    // has to escalate.
    let (id, _) = f.start("stop", cmd(&["sleep", "1000"]), HostConfig::default());
    let record = f
        .block_on(f.driver().stop(&id, libc::SIGTERM, Duration::from_secs(1)))
        .expect("stop");
    assert_eq!((record.exit_code, record.signal), (137, Some(9)));

    // A shell that traps SIGUSR1 exits with its own code.
    let (id, _) = f.start(
        "kill",
        cmd(&[
            "sh",
            "-c",
            "trap 'exit 42' USR1; while true; do sleep 0.1; done",
        ]),
        HostConfig::default(),
    );
    // Wait until the trap is installed: the shell runs once it is started,
    // and a signal before `trap` would kill it; poll its state instead.
    f.block_on(async {
        loop {
            let status = std::fs::read_to_string(format!(
                "/proc/{}/status",
                match f.driver().state(&id).await.expect("state") {
                    RunState::Running { pid, .. } => pid,
                    other => panic!("{other:?}"),
                }
            ))
            .unwrap_or_default();
            let caught = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0);
            if caught & (1 << (libc::SIGUSR1 - 1)) != 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    f.block_on(f.driver().kill(&id, libc::SIGUSR1))
        .expect("kill");
    assert_eq!(f.wait(&id).exit_code, 42);
    assert!(matches!(
        f.block_on(f.driver().kill(&id, libc::SIGKILL)),
        Err(ExecError::NotRunning(_))
    ));
}

#[test]
fn exec_pause_and_resume() {
    let mut f = ExecFixture::new("pause");
    let (id, started) = f.start("pause", cmd(&["sleep", "1000"]), HostConfig::default());
    f.block_on(f.driver().pause(&id)).expect("pause");
    assert_eq!(
        f.block_on(f.driver().state(&id)).expect("state"),
        RunState::Paused {
            pid: started.pid,
            started_at: started.started_at
        }
    );
    f.block_on(f.driver().resume(&id)).expect("resume");
    assert_eq!(
        f.block_on(f.driver().state(&id)).expect("state"),
        RunState::Running {
            pid: started.pid,
            started_at: started.started_at
        }
    );
}

#[test]
fn exec_logs_follow_until_exit() {
    let mut f = ExecFixture::new("follow");
    let (id, _) = f.start(
        "follow",
        cmd(&[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line-$i; sleep 0.2; done",
        ]),
        HostConfig::default(),
    );
    let options = LogOptions {
        stdout: true,
        stderr: true,
        follow: true,
        timestamps: true,
        ..LogOptions::default()
    };
    let _runtime = f.rt.enter();
    let mut stream = f.driver().logs(&id, options).expect("logs");
    let lines = f.block_on(async {
        let mut lines = Vec::new();
        while let Some(message) = stream.next().await {
            lines.push(String::from_utf8_lossy(&message.expect("record").data).into_owned());
        }
        lines
    });
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        let (time, text) = line.split_once(' ').expect("timestamp prefix");
        assert_eq!(time.len(), "2024-05-01T12:00:00.000000000Z".len(), "{line}");
        assert_eq!(text, format!("line-{}\n", i + 1));
    }
}

#[test]
fn exec_containers_survive_a_driver_restart() {
    let mut f = ExecFixture::new("restart");
    let (id, started) = f.start(
        "restart",
        cmd(&[
            "sh",
            "-c",
            "echo before; trap 'echo bye; exit 3' TERM; while true; do sleep 0.1; done",
        ]),
        HostConfig::default(),
    );
    // Wait for the output, then "kill -9 berthd": drop the driver.
    let runtime = f.rt.enter();
    let mut follow = f
        .driver()
        .logs(
            &id,
            LogOptions {
                stdout: true,
                follow: true,
                ..LogOptions::default()
            },
        )
        .expect("logs");
    let first = f.block_on(follow.next()).expect("first line").expect("ok");
    assert_eq!(first.data, "before\n");
    drop(follow);
    drop(runtime);
    f.driver = None;

    let driver = f.new_driver();
    let state = f.block_on(driver.reconcile(std::slice::from_ref(&id)));
    assert_eq!(
        state[0].1.as_ref().expect("state"),
        &RunState::Running {
            pid: started.pid,
            started_at: started.started_at
        }
    );
    assert_eq!(driver.known_ids().expect("ids"), std::slice::from_ref(&id));
    let record = f
        .block_on(driver.stop(&id, libc::SIGTERM, Duration::from_secs(30)))
        .expect("stop");
    assert_eq!(record.exit_code, 3);
    f.driver = Some(driver);
    assert_eq!(f.logs(&id).0, "before\nbye\n");
    assert!(matches!(
        f.block_on(f.driver().state(&id)).expect("state"),
        RunState::Exited(_)
    ));
    f.block_on(f.driver().remove(&id)).expect("remove");
    assert_eq!(
        f.block_on(f.driver().state(&id))
            .expect("state after remove"),
        RunState::Exited(record),
        "the persistent record stays until the engine removes the container dir"
    );
}

#[test]
fn exec_a_killed_shim_is_reported_lost() {
    let mut f = ExecFixture::new("lost");
    let (id, _) = f.start("lost", cmd(&["sleep", "1000"]), HostConfig::default());
    let shim = f.shim_pid(&id).expect("shim process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill shim");
    // The shim is gone; wait must not hang and must report the loss.
    let record = f.wait(&id);
    assert_eq!(record.exit_code, berth_exec::LOST_EXIT_CODE);
    assert!(record.error.is_some());
    // A new start of the same container replaces the orphaned runtime
    // state (the shim deletes it before creating).
    f.block_on(f.driver().remove(&id)).expect("remove");
    let options = f.options(cmd(&["true"]), HostConfig::default());
    f.block_on(f.driver().start(&id, options))
        .expect("restart after loss");
    assert_eq!(f.wait(&id).exit_code, 0);
}

#[test]
fn exec_the_process_waits_for_its_setup_and_a_failed_setup_runs_nothing() {
    let mut f = ExecFixture::new("ready");
    // Held: the container is created, its process has printed nothing
    // while the setup goes on, and it runs once the setup is done.
    let id = f.id("held");
    let log = f.driver().paths(&id).files.log;
    let options = f.options(cmd(&["sh", "-c", "echo ran"]), HostConfig::default());
    let ready = async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        match std::fs::read_to_string(&log).unwrap_or_default() {
            logged if logged.is_empty() => Ok(()),
            logged => Err(format!("the process ran before its setup ended: {logged}").into()),
        }
    };
    let started = f
        .block_on(f.driver().start_when_ready(&id, options, ready))
        .unwrap_or_else(|e| panic!("start {id}: {e}"));
    assert!(started.pid > 0);
    assert_eq!(f.wait(&id).exit_code, 0);
    assert_eq!(f.logs(&id).0, "ran\n");

    // Failed: the start fails with the setup's error and the created
    // container is killed before its process ever ran.
    let id = f.id("unready");
    let options = f.options(cmd(&["sh", "-c", "echo ran"]), HostConfig::default());
    let failed = async { Err("the network is not there".into()) };
    let err = f
        .block_on(f.driver().start_when_ready(&id, options, failed))
        .expect_err("the start must fail");
    assert!(
        matches!(&err, ExecError::NotReady { source, .. } if source.to_string() == "the network is not there"),
        "{err:?}"
    );
    assert_ne!(f.wait(&id).exit_code, 0, "killed, not run");
    assert_eq!(f.logs(&id).0, "", "its process never ran");
}

/// A benchmark figure, not an assertion: the shim's resident set while it
/// monitors an idle container (target < 2 MiB).
#[test]
fn exec_shim_rss_is_reported() {
    let mut f = ExecFixture::new("rss");
    let (id, _) = f.start("rss", cmd(&["sleep", "1000"]), HostConfig::default());
    let shim = f.shim_pid(&id).expect("shim process");
    // The value of a `Name:   value` line of a /proc file.
    let value_of = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let status = std::fs::read_to_string(format!("/proc/{shim}/status")).expect("status");
    let field = |name: &str| value_of(&status, name);
    println!(
        "berth-shim RSS: VmRSS {} (RssAnon {}, RssFile {}), VmHWM {}",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:")
    );
    let rollup = std::fs::read_to_string(format!("/proc/{shim}/smaps_rollup")).unwrap_or_default();
    let kb = |name: &str| value_of(&rollup, name);
    println!(
        "berth-shim smaps_rollup: Pss {}, Private_Clean {}, Private_Dirty {}, Shared_Clean {}",
        kb("Pss:"),
        kb("Private_Clean:"),
        kb("Private_Dirty:"),
        kb("Shared_Clean:")
    );
    // Where the resident pages are, largest first.
    let smaps = std::fs::read_to_string(format!("/proc/{shim}/smaps")).unwrap_or_default();
    let mut by_mapping: Vec<(u64, String)> = Vec::new();
    let mut current = String::new();
    for line in smaps.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            let value: u64 = rss.trim().trim_end_matches(" kB").parse().unwrap_or(0);
            match by_mapping.iter_mut().find(|(_, name)| *name == current) {
                Some(entry) => entry.0 += value,
                None => by_mapping.push((value, current.clone())),
            }
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('-') && !w.ends_with(':'))
        {
            current = line
                .split_whitespace()
                .nth(5)
                .unwrap_or("[anon]")
                .to_owned();
        }
    }
    by_mapping.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (rss, name) in by_mapping.iter().take(6) {
        println!("  {rss:>6} kB  {name}");
    }
    assert!(!field("VmRSS:").is_empty());
}

#[test]
fn exec_working_dir_binds_and_a_read_only_rootfs() {
    let mut f = ExecFixture::new("binds");
    let data = f.root.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::write(data.join("in.txt"), "from the host\n").expect("fixture");
    let script = "pwd; cat /data/in.txt; echo written > /data/out.txt; \
                  if touch /ro/x 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; \
                  if touch /rootfs-file 2>/dev/null; then echo root-writable; else echo root-refused; fi";
    let (id, _) = f.start(
        "binds",
        Config {
            working_dir: "/srv/app".into(),
            ..cmd(&["sh", "-c", script])
        },
        HostConfig {
            readonly_rootfs: true,
            binds: vec![
                format!("{}:/data", data.display()),
                format!("{}:/ro:ro", data.display()),
            ],
            ..HostConfig::default()
        },
    );
    assert_eq!(f.wait(&id).exit_code, 0, "{:?}", f.logs(&id));
    let (out, err) = f.logs(&id);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/srv/app", "from the host", "ro-refused", "root-refused"],
        "stderr: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("out.txt")).expect("written through the bind"),
        "written\n"
    );
}
