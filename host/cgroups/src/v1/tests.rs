//! v1 against fixture trees shaped like a real cgroupfs: the directories
//! and interface files exist before the manager writes, as the kernel would
//! create them.

use std::fs;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use crate::{
    AnyCgroupManager, CgroupError, CgroupManager, CgroupSetup, CgroupsPath, Controller,
    FreezerState, OwnCgroups,
};

/// The interface files of each controller that the tests touch, with the
/// kernel's initial content.
fn files(controller: Controller) -> &'static [(&'static str, &'static str)] {
    match controller {
        Controller::Memory => &[
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
            ("memory.swappiness", "60\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
            ("memory.usage_in_bytes", "0\n"),
            ("memory.max_usage_in_bytes", "0\n"),
            ("memory.memsw.usage_in_bytes", "0\n"),
            ("memory.failcnt", "0\n"),
            ("memory.stat", "cache 0\nrss 0\ntotal_cache 0\n"),
            ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"),
        ],
        Controller::Cpu => &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
            (
                "cpu.stat",
                "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
            ),
        ],
        Controller::CpuAcct => &[
            ("cpuacct.usage", "0\n"),
            ("cpuacct.usage_percpu", "0 0 \n"),
            ("cpuacct.usage_user", "0\n"),
            ("cpuacct.usage_sys", "0\n"),
        ],
        Controller::Cpuset => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        Controller::Pids => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        Controller::Freezer => &[("freezer.state", "THAWED\n")],
        Controller::Devices => &[("devices.allow", ""), ("devices.deny", "")],
        // CFQ's file; BFQ's is blkio.bfq.weight; kernels with neither (like
        // this project's CI machine) have no weight at all.
        Controller::Blkio => &[("blkio.weight", "500\n")],
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    manager: AnyCgroupManager,
}

impl Fixture {
    /// Every controller mounted separately at `<root>/<name>` (this
    /// machine's hybrid layout), cgroup `/berth/ctr` pre-populated.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for controller in Controller::ALL {
            let mount = root.join(controller.name());
            populate(&mount, controller);
            if controller == Controller::Cpuset {
                fs::write(mount.join("cpuset.cpus"), "0-3\n").unwrap();
                fs::write(mount.join("cpuset.mems"), "0\n").unwrap();
                populate(&mount.join("berth"), controller);
            }
            populate(&mount.join("berth/ctr"), controller);
        }
        let setup = CgroupSetup::legacy_at(&root);
        let path = CgroupsPath::parse("/berth/ctr").unwrap();
        let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
        Fixture {
            _dir: dir,
            root,
            manager,
        }
    }

    fn file(&self, controller: Controller, name: &str) -> String {
        fs::read_to_string(
            self.root
                .join(controller.name())
                .join("berth/ctr")
                .join(name),
        )
        .unwrap()
    }

    fn set(&self, controller: Controller, name: &str, value: &str) {
        fs::write(
            self.root
                .join(controller.name())
                .join("berth/ctr")
                .join(name),
            value,
        )
        .unwrap();
    }
}

fn populate(dir: &Path, controller: Controller) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("cgroup.procs"), "").unwrap();
    for (name, content) in files(controller) {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 * 1024 * 1024)
                .reservation(32 * 1024 * 1024)
                .swap(128 * 1024 * 1024)
                .swappiness(10u64)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0-1")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(42).build().unwrap())
        .devices(vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("wr")
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap()
}

#[test]
fn apply_writes_every_limit_to_its_file() {
    let fx = Fixture::new();
    fx.manager.apply(&resources()).unwrap();
    assert_eq!(
        fx.file(Controller::Memory, "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(
        fx.file(Controller::Memory, "memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(
        fx.file(Controller::Memory, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(fx.file(Controller::Memory, "memory.swappiness"), "10");
    assert_eq!(fx.file(Controller::Cpu, "cpu.shares"), "512");
    assert_eq!(fx.file(Controller::Cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(fx.file(Controller::Cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(fx.file(Controller::Cpuset, "cpuset.cpus"), "0-1");
    assert_eq!(fx.file(Controller::Cpuset, "cpuset.mems"), "0");
    assert_eq!(fx.file(Controller::Pids, "pids.max"), "42");
    // Files keep the last write: the deny-all went first, then the allow.
    assert_eq!(fx.file(Controller::Devices, "devices.deny"), "a *:* rwm");
    assert_eq!(fx.file(Controller::Devices, "devices.allow"), "c 1:3 rw");
}

#[test]
fn zero_means_unchanged_and_minus_one_unlimited() {
    let fx = Fixture::new();
    let resources = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
        .pids(LinuxPidsBuilder::default().limit(0).build().unwrap())
        .build()
        .unwrap();
    fx.set(Controller::Pids, "pids.max", "7");
    fx.manager.apply(&resources).unwrap();
    assert_eq!(fx.file(Controller::Memory, "memory.limit_in_bytes"), "-1");
    // Lifting memory lifts memory+swap too.
    assert_eq!(
        fx.file(Controller::Memory, "memory.memsw.limit_in_bytes"),
        "-1"
    );
    assert_eq!(fx.file(Controller::Pids, "pids.max"), "7");
    let unlimited = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    fx.manager.apply(&unlimited).unwrap();
    assert_eq!(fx.file(Controller::Pids, "pids.max"), "max");
}

#[test]
fn swap_without_swap_accounting_is_a_clear_error() {
    let fx = Fixture::new();
    fs::remove_file(fx.root.join("memory/berth/ctr/memory.memsw.limit_in_bytes")).unwrap();
    let err = fx.manager.apply(&resources()).unwrap_err();
    assert!(
        matches!(err, CgroupError::SwapAccountingUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("swap accounting"), "{err}");
}

#[test]
fn bad_input_writes_nothing() {
    let fx = Fixture::new();
    let mut bad = resources();
    bad.set_devices(Some(vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .access("rwx")
            .build()
            .unwrap(),
    ]));
    let err = fx.manager.apply(&bad).unwrap_err();
    assert!(err.to_string().contains("rwx"), "{err}");
    assert_eq!(
        fx.file(Controller::Memory, "memory.limit_in_bytes"),
        "9223372036854771712\n"
    );

    let swap_below_memory = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(100)
                .swap(50)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = fx.manager.apply(&swap_below_memory).unwrap_err();
    assert!(matches!(err, CgroupError::InvalidResource { .. }), "{err}");
}

#[test]
fn create_copies_cpuset_from_parents() {
    let fx = Fixture::new();
    // A deeper cgroup whose levels the "kernel" left empty.
    let cpuset = fx.root.join("cpuset");
    populate(&cpuset.join("berth/deep"), Controller::Cpuset);
    fs::write(cpuset.join("berth/cpuset.cpus"), "\n").unwrap();
    let setup = CgroupSetup::legacy_at(&fx.root);
    let path = CgroupsPath::parse("/berth/deep").unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
    manager.create().unwrap();
    assert_eq!(
        fs::read_to_string(cpuset.join("berth/cpuset.cpus")).unwrap(),
        "0-3"
    );
    assert_eq!(
        fs::read_to_string(cpuset.join("berth/deep/cpuset.cpus")).unwrap(),
        "0-3"
    );
    assert_eq!(
        fs::read_to_string(cpuset.join("berth/deep/cpuset.mems")).unwrap(),
        "0"
    );
    // The other hierarchies got their directory.
    assert!(fx.root.join("memory/berth/deep").is_dir());
    assert!(fx.root.join("freezer/berth/deep").is_dir());
}

#[test]
fn add_task_writes_each_distinct_directory_once() {
    let fx = Fixture::new();
    fx.manager.add_task(Pid::from_raw(4242)).unwrap();
    for controller in Controller::ALL {
        assert_eq!(fx.file(controller, "cgroup.procs"), "4242", "{controller}");
    }
    assert_eq!(fx.manager.dirs().len(), Controller::ALL.len());
}

#[test]
fn a_process_joins_itself_through_the_tasks_file_of_each_distinct_directory() {
    let fx = Fixture::new();
    let files = fx.manager.self_join_files().expect("v1 has `tasks`");
    let mut expected: Vec<PathBuf> = fx
        .manager
        .dirs()
        .iter()
        .map(|dir| dir.join("tasks"))
        .collect();
    expected.sort();
    let mut got = files.clone();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(files.len(), Controller::ALL.len());
}

#[test]
fn co_mounted_cpu_and_cpuacct_share_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("cpu,cpuacct");
    populate(&mount.join("x"), Controller::Cpu);
    let mountinfo = format!(
        "27 25 0:24 / {} rw - cgroup cgroup rw,cpu,cpuacct\n",
        mount.display()
    );
    let setup = CgroupSetup::from_mountinfo(&mountinfo).unwrap();
    let path = CgroupsPath::parse("/x").unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
    assert_eq!(manager.dirs(), vec![mount.join("x")]);
    manager.add_task(Pid::from_raw(7)).unwrap();
    assert_eq!(
        fs::read_to_string(mount.join("x/cgroup.procs")).unwrap(),
        "7"
    );
    // Memory is not mounted: asking for it names the controller.
    let memory = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(1 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = manager.apply(&memory).unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::ControllerNotMounted {
                controller: Controller::Memory
            }
        ),
        "{err}"
    );
}

#[test]
fn stats_are_parsed_from_the_controller_files() {
    let fx = Fixture::new();
    fx.set(Controller::Memory, "memory.usage_in_bytes", "1000\n");
    fx.set(Controller::Memory, "memory.memsw.usage_in_bytes", "1500\n");
    fx.set(Controller::Memory, "memory.max_usage_in_bytes", "2000\n");
    fx.set(Controller::Memory, "memory.limit_in_bytes", "4096\n");
    fx.set(Controller::Memory, "memory.failcnt", "3\n");
    fx.set(
        Controller::Memory,
        "memory.stat",
        "cache 5\nrss 6\ntotal_cache 50\ntotal_rss 60\n",
    );
    fx.set(Controller::CpuAcct, "cpuacct.usage", "900\n");
    fx.set(Controller::CpuAcct, "cpuacct.usage_percpu", "400 500 \n");
    fx.set(Controller::CpuAcct, "cpuacct.usage_user", "600\n");
    fx.set(Controller::CpuAcct, "cpuacct.usage_sys", "300\n");
    fx.set(
        Controller::Cpu,
        "cpu.stat",
        "nr_periods 10\nnr_throttled 4\nthrottled_time 12345\nnr_bursts 0\n",
    );
    fx.set(Controller::Pids, "pids.current", "5\n");
    fx.set(Controller::Pids, "pids.max", "max\n");
    let stats = fx.manager.stats().unwrap();
    assert_eq!(stats.memory.usage, 1000);
    assert_eq!(stats.memory.max_usage, 2000);
    assert_eq!(stats.memory.limit, Some(4096));
    assert_eq!(stats.memory.cache, 50);
    assert_eq!(stats.memory.failcnt, 3);
    assert_eq!(stats.memory.swap_usage, Some(500));
    assert_eq!(stats.memory.stat["total_rss"], 60);
    assert_eq!(stats.cpu.usage.total_usage, 900);
    assert_eq!(stats.cpu.usage.percpu_usage, vec![400, 500]);
    assert_eq!(stats.cpu.usage.usage_in_usermode, 600);
    assert_eq!(stats.cpu.usage.usage_in_kernelmode, 300);
    assert_eq!(stats.cpu.throttling.periods, 10);
    assert_eq!(stats.cpu.throttling.throttled_periods, 4);
    assert_eq!(stats.cpu.throttling.throttled_time, 12345);
    assert_eq!(stats.pids.current, 5);
    assert_eq!(stats.pids.limit, None);

    // Unlimited memory reads as the page-counter maximum.
    fx.set(
        Controller::Memory,
        "memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    assert_eq!(fx.manager.stats().unwrap().memory.limit, None);
}

#[test]
fn cpu_user_and_system_fall_back_to_cpuacct_stat_ticks() {
    let fx = Fixture::new();
    let acct = fx.root.join("cpuacct/berth/ctr");
    fs::remove_file(acct.join("cpuacct.usage_user")).unwrap();
    fs::remove_file(acct.join("cpuacct.usage_sys")).unwrap();
    fs::write(acct.join("cpuacct.stat"), "user 3\nsystem 2\n").unwrap();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap() as u64;
    let usage = fx.manager.stats().unwrap().cpu.usage;
    assert_eq!(usage.usage_in_usermode, 3 * 1_000_000_000 / hz);
    assert_eq!(usage.usage_in_kernelmode, 2 * 1_000_000_000 / hz);
}

#[test]
fn oom_kill_count_comes_from_oom_control() {
    let fx = Fixture::new();
    assert_eq!(fx.manager.oom_kill_count().unwrap(), 0);
    fx.set(
        Controller::Memory,
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    );
    assert_eq!(fx.manager.oom_kill_count().unwrap(), 3);
    // Kernels before 4.13 have no counter: say so.
    fx.set(
        Controller::Memory,
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\n",
    );
    let err = fx.manager.oom_kill_count().unwrap_err();
    assert!(err.to_string().contains("4.13"), "{err}");
}

#[test]
fn freeze_and_thaw_write_the_state() {
    // A fixture file reads back what was written, as a freezer that
    // settled at once would.
    let fx = Fixture::new();
    fx.manager.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(fx.file(Controller::Freezer, "freezer.state"), "FROZEN");
    assert_eq!(fx.manager.freezer_state().unwrap(), FreezerState::Frozen);
    fx.manager.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(fx.file(Controller::Freezer, "freezer.state"), "THAWED");
    assert_eq!(fx.manager.freezer_state().unwrap(), FreezerState::Thawed);
}

#[test]
fn pids_lists_the_hierarchy_recursively() {
    let fx = Fixture::new();
    fx.set(Controller::Pids, "cgroup.procs", "10\n11\n");
    populate(&fx.root.join("pids/berth/ctr/sub"), Controller::Pids);
    fs::write(fx.root.join("pids/berth/ctr/sub/cgroup.procs"), "12\n").unwrap();
    let pids: Vec<i32> = fx
        .manager
        .pids()
        .unwrap()
        .iter()
        .map(|p| p.as_raw())
        .collect();
    assert_eq!(pids, vec![10, 11, 12]);
}

#[test]
fn remove_deletes_every_hierarchy_and_tolerates_absence() {
    let dir = tempfile::tempdir().unwrap();
    let setup = CgroupSetup::legacy_at(dir.path());
    for controller in Controller::ALL {
        fs::create_dir_all(dir.path().join(controller.name())).unwrap();
    }
    let path = CgroupsPath::parse("/berth/gone").unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
    // Empty directories stand in for cgroups (rmdir on cgroupfs ignores the
    // interface files; on a plain fs they would block it).
    for controller in Controller::ALL {
        fs::create_dir_all(dir.path().join(controller.name()).join("berth/gone/child")).unwrap();
    }
    manager.remove().unwrap();
    for controller in Controller::ALL {
        let base = dir.path().join(controller.name());
        assert!(!base.join("berth/gone").exists(), "{controller}");
        // The parent is not ours to remove.
        assert!(base.join("berth").is_dir());
    }
    manager.remove().unwrap();
}

#[test]
fn relative_paths_resolve_per_hierarchy() {
    let dir = tempfile::tempdir().unwrap();
    let setup = CgroupSetup::legacy_at(dir.path());
    let own = OwnCgroups::parse("4:memory:/process_api/x\n1:cpu:/\n").unwrap();
    let path = CgroupsPath::parse("ctr").unwrap();
    // pids is mounted but the own cgroup is unknown for it: clear error.
    let err = AnyCgroupManager::new(&setup, &path, &own).unwrap_err();
    assert!(matches!(err, CgroupError::OwnCgroupUnknown { .. }), "{err}");
    let own = OwnCgroups::parse(
        "1:cpu:/\n2:cpuacct:/\n3:cpuset:/\n4:memory:/process_api/x\n5:devices:/\n6:freezer:/\n8:pids:/\n9:blkio:/\n",
    )
    .unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &own).unwrap();
    let dirs = manager.dirs();
    assert!(dirs.contains(&dir.path().join("memory/process_api/x/ctr")));
    assert!(dirs.contains(&dir.path().join("cpu/ctr")));
}

#[test]
fn unified_entries_are_refused_on_v1() {
    let fx = Fixture::new();
    let mut unified = std::collections::HashMap::new();
    unified.insert("memory.high".to_string(), "1".to_string());
    let resources = LinuxResourcesBuilder::default()
        .unified(unified)
        .build()
        .unwrap();
    let err = fx.manager.apply(&resources).unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
}

fn blkio_weight(weight: u16) -> LinuxResources {
    LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(weight)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn containers_join_blkio_like_runc() {
    let fx = Fixture::new();
    fx.manager.create().unwrap();
    assert!(
        fx.manager.dirs().contains(&fx.root.join("blkio/berth/ctr")),
        "{:?}",
        fx.manager.dirs()
    );
    fx.manager.add_task(Pid::from_raw(4242)).unwrap();
    assert_eq!(fx.file(Controller::Blkio, "cgroup.procs"), "4242");
}

#[test]
fn blkio_weight_goes_to_cfqs_file_else_to_bfqs() {
    let fx = Fixture::new();
    fx.manager.apply(&blkio_weight(300)).unwrap();
    assert_eq!(fx.file(Controller::Blkio, "blkio.weight"), "300");

    // runc `fs/blkio.go`: blkio.weight when it exists, else BFQ's file.
    let dir = fx.root.join("blkio/berth/ctr");
    fs::remove_file(dir.join("blkio.weight")).unwrap();
    fs::write(dir.join("blkio.bfq.weight"), "100\n").unwrap();
    fx.manager.apply(&blkio_weight(700)).unwrap();
    assert_eq!(fx.file(Controller::Blkio, "blkio.bfq.weight"), "700");

    // Neither: an error naming both, not a silently unweighted container.
    fs::remove_file(dir.join("blkio.bfq.weight")).unwrap();
    let err = fx.manager.apply(&blkio_weight(700)).unwrap_err();
    assert!(
        matches!(err, CgroupError::Unsupported { .. }) || err.to_string().contains("blkio.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("blkio.bfq.weight"), "{err}");
    // No weight asked, nothing written and nothing refused.
    fx.manager
        .apply(&LinuxResourcesBuilder::default().build().unwrap())
        .unwrap();
}

#[test]
fn blkio_counters_come_from_the_throttle_files_without_cfq() {
    let fx = Fixture::new();
    // This machine's kernel: no CFQ, so only the throttling layer counts.
    fx.set(
        Controller::Blkio,
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n\
         8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n",
    );
    fx.set(
        Controller::Blkio,
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
    );
    let blkio = fx.manager.stats().unwrap().blkio;
    let ops: Vec<(u64, u64, &str, u64)> = blkio
        .io_service_bytes
        .iter()
        .map(|e| (e.major, e.minor, e.op.as_str(), e.value))
        .collect();
    assert_eq!(
        ops,
        [
            (8, 0, "Read", 4096),
            (8, 0, "Write", 8192),
            (8, 0, "Sync", 8192),
            (8, 0, "Async", 4096),
            (8, 0, "Discard", 0),
            (8, 0, "Total", 12288),
        ]
    );
    assert_eq!(blkio.io_serviced.len(), 2);
    assert_eq!(blkio.io_serviced[1].value, 2);

    // With CFQ's counters present and non-empty, those win (containerd).
    fx.set(
        Controller::Blkio,
        "blkio.io_serviced_recursive",
        "8:16 Read 7\nTotal 7\n",
    );
    fx.set(
        Controller::Blkio,
        "blkio.io_service_bytes_recursive",
        "8:16 Read 70\nTotal 70\n",
    );
    let blkio = fx.manager.stats().unwrap().blkio;
    assert_eq!(blkio.io_service_bytes[0].minor, 16);
    assert_eq!(blkio.io_service_bytes[0].value, 70);
    assert_eq!(blkio.io_serviced[0].value, 7);

    // A line that is not a counter is an error naming the file.
    fx.set(
        Controller::Blkio,
        "blkio.io_serviced_recursive",
        "sda Read 7\n",
    );
    let err = fx.manager.stats().unwrap_err();
    assert!(
        err.to_string().contains("blkio.io_serviced_recursive"),
        "{err}"
    );
}

#[test]
fn blkio_without_counter_files_has_no_entries() {
    let fx = Fixture::new();
    let blkio = fx.manager.stats().unwrap().blkio;
    assert!(blkio.io_service_bytes.is_empty() && blkio.io_serviced.is_empty());
}
