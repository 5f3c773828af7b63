//! berth-cgroups against the kernel: limits read back from the real
//! cgroupfs, membership, freezing, OOM-kill counting and removal.
//!
//! Each test owns a unique cgroup (`/berth-test-<pid>-<n>-<name>`) and a
//! guard that kills its processes and removes the cgroup, also when the
//! test fails.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_cgroups::{
    AnyCgroupManager, CgroupError, CgroupManager, CgroupMode, CgroupSetup, CgroupsPath, Controller,
    FreezerState, OwnCgroups,
};
use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

const MIB: i64 = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(20);

/// A cgroup and the processes a test put in it; dropping kills the
/// processes, thaws and removes the cgroup.
struct TestCgroup {
    manager: AnyCgroupManager,
    children: Vec<Child>,
}

impl TestCgroup {
    fn new(name: &str) -> TestCgroup {
        berth_tests::require::root();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = format!("/berth-test-{}-{n}-{name}", std::process::id());
        let manager = AnyCgroupManager::for_path(Path::new(&path))
            .unwrap_or_else(|e| panic!("cannot resolve cgroup {path}: {e}"));
        let guard = TestCgroup {
            manager,
            children: Vec::new(),
        };
        guard.manager.create().expect("create cgroup");
        guard
    }

    /// Starts `argv` stopped on a pipe, moves it into the cgroup, then lets
    /// it run, so that everything it does is accounted to the cgroup.
    fn spawn_inside(&mut self, script: &str) -> Pid {
        let mut child = Command::new("/bin/sh")
            .args(["-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /bin/sh");
        let pid = Pid::from_raw(child.id() as i32);
        self.manager.add_task(pid).expect("add task");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(b"go\n")
            .expect("release the child");
        self.children.push(child);
        pid
    }

    /// Waits (bounded) for the child with `pid` to exit.
    fn wait_exit(&mut self, pid: Pid, timeout: Duration) -> std::process::ExitStatus {
        let index = self
            .children
            .iter()
            .position(|c| c.id() as i32 == pid.as_raw())
            .expect("a child of this test");
        let deadline = Instant::now() + timeout;
        loop {
            // The reaped child stays in the list; Drop's kill and wait on it
            // are then no-ops.
            if let Some(status) = self.children[index].try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{pid} did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn dir(&self, controller: Controller) -> PathBuf {
        match &self.manager {
            AnyCgroupManager::V1(m) => m.dir(controller).expect("mounted").to_path_buf(),
            AnyCgroupManager::V2(m) => m.dir().to_path_buf(),
        }
    }

    fn read(&self, controller: Controller, file: &str) -> String {
        let path = self.dir(controller).join(file);
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.manager.freeze(FreezerState::Thawed);
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = self.manager.remove() {
            // Do not panic while unwinding; leave a loud trace instead.
            eprintln!("cleanup: cannot remove test cgroup: {e}");
        }
    }
}

fn is_v1() -> bool {
    matches!(
        CgroupSetup::detect().expect("detect cgroups").mode(),
        CgroupMode::Legacy | CgroupMode::Hybrid
    )
}

fn limits() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 * MIB)
                .reservation(32 * MIB)
                .swap(96 * MIB)
                .build()
                .expect("valid memory"),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0")
                .mems("0")
                .build()
                .expect("valid cpu"),
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(32)
                .build()
                .expect("valid pids"),
        )
        .build()
        .expect("valid resources")
}

#[test]
fn cgroups_limits_read_back_from_the_kernel() {
    let cg = TestCgroup::new("limits");
    cg.manager.apply(&limits()).expect("apply limits");
    if is_v1() {
        assert_eq!(
            cg.read(Controller::Memory, "memory.limit_in_bytes"),
            (64 * MIB).to_string()
        );
        assert_eq!(
            cg.read(Controller::Memory, "memory.soft_limit_in_bytes"),
            (32 * MIB).to_string()
        );
        assert_eq!(
            cg.read(Controller::Memory, "memory.memsw.limit_in_bytes"),
            (96 * MIB).to_string()
        );
        assert_eq!(cg.read(Controller::Cpu, "cpu.shares"), "512");
        assert_eq!(cg.read(Controller::Cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(cg.read(Controller::Cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(cg.read(Controller::Cpuset, "cpuset.cpus"), "0");
        assert_eq!(cg.read(Controller::Cpuset, "cpuset.mems"), "0");
    } else {
        assert_eq!(
            cg.read(Controller::Memory, "memory.max"),
            (64 * MIB).to_string()
        );
        assert_eq!(
            cg.read(Controller::Memory, "memory.low"),
            (32 * MIB).to_string()
        );
        assert_eq!(
            cg.read(Controller::Memory, "memory.swap.max"),
            (32 * MIB).to_string()
        );
        assert_eq!(
            cg.read(Controller::Cpu, "cpu.weight"),
            berth_cgroups::shares_to_weight(512).to_string()
        );
        assert_eq!(cg.read(Controller::Cpu, "cpu.max"), "50000 100000");
    }
    assert_eq!(cg.read(Controller::Pids, "pids.max"), "32");

    // Shrinking memory below the current memsw must work too (order of
    // the two writes), and lifting both again.
    let shrink = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(16 * MIB)
                .swap(16 * MIB)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.manager.apply(&shrink).expect("shrink memory");
    let lift = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    cg.manager.apply(&lift).expect("lift memory");
    let stats = cg.manager.stats().expect("stats");
    assert_eq!(stats.memory.limit, None, "unlimited after -1");
}

#[test]
fn cgroups_clamped_cpu_shares_are_an_error_on_v1() {
    assert!(
        is_v1(),
        "this machine is expected to manage cgroups as v1 (hybrid)"
    );
    let cg = TestCgroup::new("shares");
    let too_small = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().shares(1u64).build().unwrap())
        .build()
        .unwrap();
    let err = cg.manager.apply(&too_small).unwrap_err();
    assert!(matches!(err, CgroupError::NotApplied { .. }), "{err}");
    assert_eq!(cg.read(Controller::Cpu, "cpu.shares"), "2");
}

#[test]
fn cgroups_v1_containers_join_blkio_and_its_weight_is_applied_or_refused() {
    assert!(
        is_v1(),
        "this machine is expected to manage cgroups as v1 (hybrid)"
    );
    let mut cg = TestCgroup::new("blkio");
    let dir = cg.dir(Controller::Blkio);
    assert!(
        dir.starts_with("/sys/fs/cgroup/blkio/"),
        "{}",
        dir.display()
    );
    let pid = cg.spawn_inside("exec sleep 30");
    // The kernel's view: the process is in the test's blkio cgroup.
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read its cgroups");
    let relative = Path::new("/").join(
        dir.strip_prefix("/sys/fs/cgroup/blkio")
            .expect("below the mount"),
    );
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":blkio:")
                && Path::new(l.rsplit(':').next().unwrap_or("")) == relative),
        "{cgroups}"
    );
    let weight = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(300u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    // CFQ's or BFQ's weight file where the kernel has one; else a refusal
    // naming them (this project's CI kernel has neither).
    let file = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| dir.join(f).exists());
    match (file, cg.manager.apply(&weight)) {
        (Some(file), Ok(())) => assert_eq!(cg.read(Controller::Blkio, file), "300"),
        (None, Err(err)) => {
            assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
            assert!(err.to_string().contains("blkio.bfq.weight"), "{err}");
        }
        (file, result) => panic!("weight file {file:?}, apply gave {result:?}"),
    }
}

/// Waits (bounded) until the process `pid` runs the program `comm`.
fn wait_for_comm(pid: Pid, comm: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let current = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if current.trim_end() == comm {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} still runs {current:?}, not {comm:?}, after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cgroups_membership_freeze_thaw_and_stats() {
    let mut cg = TestCgroup::new("freeze");
    cg.manager.apply(&limits()).expect("apply limits");
    let pid = cg.spawn_inside("exec sleep 120");
    let pids = cg.manager.pids().expect("pids");
    assert!(pids.contains(&pid), "{pid} not in {pids:?}");
    // Memory is charged to the cgroup only for what the task allocates after
    // joining it: wait until it has run its script and exec'd `sleep`, so the
    // usage read below is not racing the child's first instructions.
    wait_for_comm(pid, "sleep", Duration::from_secs(10));

    cg.manager.freeze(FreezerState::Frozen).expect("freeze");
    assert_eq!(cg.manager.freezer_state().unwrap(), FreezerState::Frozen);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let state = status.lines().find(|l| l.starts_with("State:")).unwrap();
    // A frozen task sleeps uninterruptibly in the freezer.
    assert!(state.contains("D"), "frozen task state: {state}");

    cg.manager.freeze(FreezerState::Thawed).expect("thaw");
    assert_eq!(cg.manager.freezer_state().unwrap(), FreezerState::Thawed);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let state = status.lines().find(|l| l.starts_with("State:")).unwrap();
    assert!(!state.contains("D"), "thawed task state: {state}");

    let stats = cg.manager.stats().expect("stats");
    assert_eq!(stats.pids.current, 1, "{stats:?}");
    assert_eq!(stats.pids.limit, Some(32));
    assert_eq!(stats.memory.limit, Some(64 * MIB as u64));
    assert!(stats.memory.usage > 0, "{stats:?}");
    assert!(stats.cpu.usage.total_usage > 0, "{stats:?}");
    assert_eq!(cg.manager.oom_kill_count().unwrap(), 0);
}

#[test]
fn cgroups_oom_kill_is_counted() {
    let mut cg = TestCgroup::new("oom");
    let limit = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(16 * MIB)
                // memory+swap = memory: no escape into swap.
                .swap(16 * MIB)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.manager.apply(&limit).expect("apply memory limit");
    assert_eq!(cg.manager.oom_kill_count().unwrap(), 0);
    // tail keeps the whole newline-free stream in memory to find its last
    // line: it grows past 16 MiB and the OOM killer takes it.
    let pid = cg.spawn_inside("head -c 200M /dev/zero | tail -n 1 > /dev/null");
    let status = cg.wait_exit(pid, Duration::from_secs(60));
    assert!(
        !status.success(),
        "the pipeline must have been killed: {status:?}"
    );
    let kills = cg.manager.oom_kill_count().expect("oom count");
    assert!(kills >= 1, "expected an OOM kill, counter is {kills}");
}

#[test]
fn cgroups_remove_leaves_nothing_behind() {
    let mut cg = TestCgroup::new("remove");
    let dirs = cg.manager.dirs();
    assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    // A nested child cgroup, as a container could create in its own cgroup.
    for dir in &dirs {
        fs::create_dir(dir.join("nested")).expect("nested cgroup");
    }
    let pid = cg.spawn_inside("exec sleep 120");
    // Remove refuses while a task lives (EBUSY after retrying) ...
    let busy = cg.manager.remove();
    assert!(busy.is_err(), "remove must fail while {pid} is inside");
    // ... and succeeds once it is gone.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    cg.wait_exit(pid, Duration::from_secs(10));
    cg.manager.remove().expect("remove");
    for dir in &dirs {
        assert!(!dir.exists(), "{} still exists", dir.display());
    }
    // Removing again is fine.
    cg.manager.remove().expect("second remove");
}

#[test]
fn cgroups_relative_path_lands_below_own_cgroup() {
    berth_tests::require::root();
    let name = format!("berth-test-{}-relative", std::process::id());
    let manager = AnyCgroupManager::for_path(Path::new(&name)).expect("relative path");
    let guard = TestCgroup {
        manager,
        children: Vec::new(),
    };
    guard.manager.create().expect("create");
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    for dir in guard.manager.dirs() {
        assert!(dir.ends_with(&name), "{}", dir.display());
        assert!(dir.is_dir());
    }
    // In v1 each hierarchy resolves against its own line of /proc/self/cgroup.
    if is_v1() {
        let memory_line = own
            .lines()
            .find(|l| l.split(':').nth(1) == Some("memory"))
            .expect("memory line");
        let own_memory = memory_line.splitn(3, ':').nth(2).unwrap();
        let expected = Path::new("/sys/fs/cgroup/memory")
            .join(own_memory.trim_start_matches('/'))
            .join(&name);
        assert!(guard.manager.dirs().contains(&expected), "{expected:?}");
    }
}

/// The cgroup2 mount of this host: the only hierarchy on a unified host,
/// the controller-less one at .../unified on a hybrid host.
fn cgroup2_mount() -> PathBuf {
    match CgroupSetup::detect().expect("detect cgroups") {
        CgroupSetup::Unified(mount) => mount.mount_point.clone(),
        CgroupSetup::Legacy {
            unified: Some(mount),
            ..
        } => mount.mount_point.clone(),
        CgroupSetup::Legacy { unified: None, .. } => {
            panic!("no cgroup2 mount on this host: the v2 device filter cannot be tested")
        }
    }
}

fn device(
    allow: bool,
    kind: LinuxDeviceType,
    major: i64,
    minor: i64,
    access: &str,
) -> oci_spec::runtime::LinuxDeviceCgroup {
    LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(kind)
        .major(major)
        .minor(minor)
        .access(access)
        .build()
        .expect("valid device rule")
}

#[test]
fn cgroups_v2_device_filter_denies_unlisted_devices() {
    berth_tests::require::root();
    let mount = cgroup2_mount();
    let name = format!("/berth-test-{}-devices", std::process::id());
    // Created by hand: on a hybrid host the manager would otherwise enable
    // controllers in the host's cgroup2 root, which the test must not touch.
    fs::create_dir(mount.join(name.trim_start_matches('/'))).expect("create cgroup2 dir");
    let manager = AnyCgroupManager::new(
        &CgroupSetup::unified_at(&mount),
        &CgroupsPath::parse(&name).unwrap(),
        &OwnCgroups::default(),
    )
    .expect("v2 manager");
    let mut cg = TestCgroup {
        manager,
        children: Vec::new(),
    };
    let rules = LinuxResourcesBuilder::default()
        .devices(vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            device(true, LinuxDeviceType::C, 1, 3, "rwm"), // /dev/null
            device(true, LinuxDeviceType::C, 1, 5, "r"),   // /dev/zero, read only
        ])
        .build()
        .unwrap();
    cg.manager.apply(&rules).expect("attach device filter");

    let allowed = cg.spawn_inside("exec /bin/busybox head -c 1 /dev/zero");
    assert!(
        cg.wait_exit(allowed, TIMEOUT).success(),
        "reading /dev/zero is allowed"
    );
    let null = cg.spawn_inside("exec /bin/busybox cat /dev/null");
    assert!(
        cg.wait_exit(null, TIMEOUT).success(),
        "/dev/null is allowed"
    );
    // /dev/full (1:7) is not listed; /dev/zero is read-only.
    let full = cg.spawn_inside("exec /bin/busybox head -c 1 /dev/full");
    assert!(
        !cg.wait_exit(full, TIMEOUT).success(),
        "/dev/full must be denied"
    );
    let write_zero = cg.spawn_inside("exec /bin/busybox dd if=/dev/null of=/dev/zero");
    assert!(
        !cg.wait_exit(write_zero, TIMEOUT).success(),
        "writing /dev/zero must be denied"
    );
    // Control: outside the cgroup the same command works.
    let out = berth_tests::cmd::run(["/bin/busybox", "head", "-c", "1", "/dev/full"], TIMEOUT);
    assert!(out.status.success(), "{out:?}");
}
