//! v2 against fixture trees shaped like a real cgroup2 mount.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
    LinuxResourcesBuilder,
};

use super::memory::swap_max;
use crate::{
    AnyCgroupManager, CgroupError, CgroupManager, CgroupSetup, CgroupsPath, FreezerState,
    OwnCgroups, shares_to_weight,
};

const LEAF_FILES: &[(&str, &str)] = &[
    ("cgroup.procs", ""),
    ("cgroup.controllers", "cpuset cpu io memory pids\n"),
    ("cgroup.subtree_control", ""),
    ("cgroup.freeze", "0\n"),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("memory.max", "max\n"),
    ("memory.low", "0\n"),
    ("memory.swap.max", "max\n"),
    ("memory.current", "0\n"),
    ("memory.stat", "anon 0\nfile 0\n"),
    (
        "memory.events",
        "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    ),
    ("cpu.weight", "100\n"),
    ("cpu.max", "max 100000\n"),
    ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"),
    ("cpuset.cpus", "\n"),
    ("cpuset.mems", "\n"),
    ("pids.max", "max\n"),
    ("pids.current", "0\n"),
];

fn populate(dir: &Path, controllers: &str) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in LEAF_FILES {
        fs::write(dir.join(name), content).unwrap();
    }
    fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    manager: AnyCgroupManager,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        populate(&root, "cpuset cpu io memory hugetlb pids rdma misc\n");
        populate(&root.join("berth"), "cpuset cpu io memory pids\n");
        fs::write(root.join("berth/cgroup.subtree_control"), "cpu memory\n").unwrap();
        populate(&root.join("berth/ctr"), "cpuset cpu io memory pids\n");
        let setup = CgroupSetup::unified_at(&root);
        let path = CgroupsPath::parse("/berth/ctr").unwrap();
        let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
        Fixture {
            _dir: dir,
            root,
            manager,
        }
    }

    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.root.join("berth/ctr").join(name)).unwrap()
    }

    fn set(&self, name: &str, value: &str) {
        fs::write(self.root.join("berth/ctr").join(name), value).unwrap();
    }
}

#[test]
fn shares_to_weight_uses_runcs_linear_mapping() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(512), 20);
    // Out-of-range shares clamp like the v1 kernel.
    assert_eq!(shares_to_weight(0), 1);
    assert_eq!(shares_to_weight(1_000_000), 10_000);
}

#[test]
fn swap_is_converted_from_memory_plus_swap() {
    assert_eq!(swap_max(100, 300).unwrap().as_deref(), Some("200"));
    assert_eq!(swap_max(100, 100).unwrap().as_deref(), Some("0"));
    assert_eq!(swap_max(100, -1).unwrap().as_deref(), Some("max"));
    assert_eq!(swap_max(-1, 0).unwrap().as_deref(), Some("max"));
    assert_eq!(swap_max(100, 0).unwrap(), None);
    assert!(swap_max(0, 300).is_err(), "swap needs a memory limit");
    assert!(swap_max(300, 100).is_err(), "swap below memory");
}

#[test]
fn create_enables_missing_controllers_in_every_ancestor() {
    let fx = Fixture::new();
    fs::create_dir_all(fx.root.join("berth/new")).unwrap();
    let setup = CgroupSetup::unified_at(&fx.root);
    let path = CgroupsPath::parse("/berth/new/leaf").unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &OwnCgroups::default()).unwrap();
    // The kernel would populate berth/new; the fixture does it by hand.
    populate(&fx.root.join("berth/new"), "cpu memory pids\n");
    manager.create().unwrap();
    // Root offers hugetlb too and had nothing enabled: one batch write.
    assert_eq!(
        fs::read_to_string(fx.root.join("cgroup.subtree_control")).unwrap(),
        "+cpu +cpuset +hugetlb +io +memory +pids"
    );
    // berth had cpu and memory already: only the rest.
    assert_eq!(
        fs::read_to_string(fx.root.join("berth/cgroup.subtree_control")).unwrap(),
        "+cpuset +io +pids"
    );
    // berth/new offers only three.
    assert_eq!(
        fs::read_to_string(fx.root.join("berth/new/cgroup.subtree_control")).unwrap(),
        "+cpu +memory +pids"
    );
    assert!(fx.root.join("berth/new/leaf").is_dir());
}

#[test]
fn apply_writes_v2_files() {
    let fx = Fixture::new();
    let resources = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(16 << 20)
                .swap(96 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(2048u64)
                .quota(25_000)
                .period(50_000u64)
                .cpus("1")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(100).build().unwrap())
        .build()
        .unwrap();
    fx.manager.apply(&resources).unwrap();
    assert_eq!(fx.file("memory.max"), (64 << 20).to_string());
    assert_eq!(fx.file("memory.low"), (16 << 20).to_string());
    assert_eq!(fx.file("memory.swap.max"), (32 << 20).to_string());
    assert_eq!(fx.file("cpu.weight"), shares_to_weight(2048).to_string());
    assert_eq!(fx.file("cpu.max"), "25000 50000");
    assert_eq!(fx.file("cpuset.cpus"), "1");
    assert_eq!(fx.file("cpuset.mems"), "0");
    assert_eq!(fx.file("pids.max"), "100");

    let unlimited_quota = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().quota(-1).build().unwrap())
        .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    fx.manager.apply(&unlimited_quota).unwrap();
    assert_eq!(fx.file("cpu.max"), "max");
    assert_eq!(fx.file("memory.max"), "max");
    assert_eq!(fx.file("memory.swap.max"), "max");
}

/// `docker update` of a running container (libcontainer `update`): what
/// the update names is rewritten, the rest stays; the write-back of a
/// failed update lifts limits the container did not have.
#[test]
fn an_update_rewrites_what_it_names_and_a_write_back_lifts_what_was_unset() {
    let fx = Fixture::new();
    let created = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(128 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .quota(50_000)
                .period(100_000u64)
                .cpus("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    fx.manager.apply(&created).unwrap();
    let update = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(128 << 20)
                .swap(256 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(50).build().unwrap())
        .build()
        .unwrap();
    fx.manager.apply(&update).unwrap();
    assert_eq!(fx.file("memory.max"), (128 << 20).to_string());
    assert_eq!(fx.file("memory.swap.max"), (128 << 20).to_string());
    assert_eq!(fx.file("pids.max"), "50");
    // Not named: as created.
    assert_eq!(fx.file("cpu.max"), "50000 100000");
    assert_eq!(fx.file("cpuset.cpus"), "0");
    // The write-back of the exec driver for a container that had no pids
    // limit and this memory: -1 is the kernel's "max".
    let write_back = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(128 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    fx.manager.apply(&write_back).unwrap();
    assert_eq!(fx.file("memory.max"), (64 << 20).to_string());
    assert_eq!(fx.file("memory.swap.max"), (64 << 20).to_string());
    assert_eq!(fx.file("pids.max"), "max");
}

#[test]
fn v1_only_knobs_are_refused_before_any_write() {
    let fx = Fixture::new();
    let swappiness = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(1 << 20)
                .swappiness(10u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = fx.manager.apply(&swappiness).unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
    assert_eq!(fx.file("memory.max"), "max\n");

    let rt = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .realtime_runtime(1000)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(matches!(
        fx.manager.apply(&rt).unwrap_err(),
        CgroupError::Unsupported { .. }
    ));
}

#[test]
fn stats_and_oom_count_from_v2_files() {
    let fx = Fixture::new();
    fx.set("memory.current", "4096\n");
    fx.set("memory.max", "8192\n");
    fx.set("memory.stat", "anon 1000\nfile 2000\n");
    fx.set(
        "memory.events",
        "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n",
    );
    fx.set(
        "cpu.stat",
        "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 7\nnr_throttled 3\nthrottled_usec 4\n",
    );
    fx.set("pids.current", "3\n");
    fx.set("pids.max", "64\n");
    let stats = fx.manager.stats().unwrap();
    assert_eq!(stats.memory.usage, 4096);
    assert_eq!(stats.memory.limit, Some(8192));
    assert_eq!(stats.memory.cache, 2000);
    assert_eq!(stats.memory.failcnt, 5);
    assert_eq!(stats.memory.max_usage, 0, "no memory.peak in this fixture");
    assert_eq!(stats.cpu.usage.total_usage, 30_000);
    assert_eq!(stats.cpu.usage.usage_in_usermode, 20_000);
    assert_eq!(stats.cpu.usage.usage_in_kernelmode, 10_000);
    assert_eq!(stats.cpu.throttling.periods, 7);
    assert_eq!(stats.cpu.throttling.throttled_periods, 3);
    assert_eq!(stats.cpu.throttling.throttled_time, 4_000);
    assert_eq!(stats.pids.current, 3);
    assert_eq!(stats.pids.limit, Some(64));
    assert!(stats.blkio.io_service_bytes.is_empty(), "no io.stat yet");
    assert_eq!(fx.manager.oom_kill_count().unwrap(), 2);
}

#[test]
fn freeze_reads_cgroup_events() {
    let fx = Fixture::new();
    // The fixture's events file says frozen 1 as the kernel would once done.
    fx.set("cgroup.events", "populated 1\nfrozen 1\n");
    fx.manager.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(fx.file("cgroup.freeze"), "1");
    assert_eq!(fx.manager.freezer_state().unwrap(), FreezerState::Frozen);
    fx.set("cgroup.events", "populated 1\nfrozen 0\n");
    fx.manager.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(fx.file("cgroup.freeze"), "0");
    assert_eq!(fx.manager.freezer_state().unwrap(), FreezerState::Thawed);
}

#[test]
fn relative_path_resolves_below_own_unified_cgroup() {
    let dir = tempfile::tempdir().unwrap();
    let setup = CgroupSetup::unified_at(dir.path());
    let own = OwnCgroups::parse("0::/user.slice/session-1.scope\n").unwrap();
    let path = CgroupsPath::parse("ctr").unwrap();
    let manager = AnyCgroupManager::new(&setup, &path, &own).unwrap();
    assert_eq!(
        manager.dirs(),
        vec![dir.path().join("user.slice/session-1.scope/ctr")]
    );
}

#[test]
fn unified_entries_are_written_and_validated() {
    let fx = Fixture::new();
    let mut unified = std::collections::HashMap::new();
    unified.insert("memory.high".to_string(), "1048576".to_string());
    fx.set("memory.high", "max\n");
    let resources = LinuxResourcesBuilder::default()
        .unified(unified)
        .build()
        .unwrap();
    fx.manager.apply(&resources).unwrap();
    assert_eq!(fx.file("memory.high"), "1048576");

    for bad in ["../escape.max", "cgroup.subtree_control", "nodot"] {
        let mut unified = std::collections::HashMap::new();
        unified.insert(bad.to_string(), "1".to_string());
        let resources = LinuxResourcesBuilder::default()
            .unified(unified)
            .build()
            .unwrap();
        let err = fx.manager.apply(&resources).unwrap_err();
        assert!(
            matches!(err, CgroupError::InvalidResource { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn blkio_weight_goes_to_bfq_or_converted_to_io_weight() {
    let fx = Fixture::new();
    fx.manager.create().unwrap();
    let dir = fx.root.join("berth/ctr");
    let weight = |w: u16| {
        LinuxResourcesBuilder::default()
            .block_io(LinuxBlockIoBuilder::default().weight(w).build().unwrap())
            .build()
            .unwrap()
    };
    // runc `fs2/io.go`: BFQ's file takes the weight as it is...
    fs::write(dir.join("io.bfq.weight"), "default 100\n").unwrap();
    fs::write(dir.join("io.weight"), "default 100\n").unwrap();
    fx.manager.apply(&weight(500)).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("io.bfq.weight")).unwrap(),
        "500"
    );
    assert_eq!(
        fs::read_to_string(dir.join("io.weight")).unwrap(),
        "default 100\n"
    );
    // ...else io.weight gets it scaled from 10..=1000 to 1..=10000.
    fs::remove_file(dir.join("io.bfq.weight")).unwrap();
    for (blkio, io) in [(10, "1"), (500, "4950"), (1000, "10000")] {
        fx.manager.apply(&weight(blkio)).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("io.weight")).unwrap(),
            io,
            "{blkio}"
        );
    }
    fs::remove_file(dir.join("io.weight")).unwrap();
    let err = fx.manager.apply(&weight(500)).unwrap_err();
    assert!(err.to_string().contains("io.weight"), "{err}");
}

#[test]
fn io_stat_becomes_read_and_write_entries_per_device() {
    let fx = Fixture::new();
    fx.set(
        "io.stat",
        "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n\
         253:0 rbytes=10 wbytes=20 rios=1 wios=2\n",
    );
    let blkio = fx.manager.stats().unwrap().blkio;
    let bytes: Vec<(u64, u64, &str, u64)> = blkio
        .io_service_bytes
        .iter()
        .map(|e| (e.major, e.minor, e.op.as_str(), e.value))
        .collect();
    assert_eq!(
        bytes,
        [
            (8, 16, "read", 1_459_200),
            (8, 16, "write", 314_773_504),
            (253, 0, "read", 10),
            (253, 0, "write", 20),
        ]
    );
    let ios: Vec<u64> = blkio.io_serviced.iter().map(|e| e.value).collect();
    assert_eq!(ios, [192, 353, 1, 2]);
    fx.set("io.stat", "8:16 rbytes=x\n");
    let err = fx.manager.stats().unwrap_err();
    assert!(err.to_string().contains("io.stat"), "{err}");
}
