//! The rootfs order logic through the recording fake, on fixture dirs.

use super::*;
use crate::config::DeviceEntry;
use crate::mounts::parse_options;
use crate::syscall::{Op, RecordingSyscall};

fn entry(dest: &str, kind: MountKind, source: &str, options: &[&str]) -> MountEntry {
    MountEntry {
        destination: PathBuf::from(dest),
        source: Some(PathBuf::from(source)),
        kind,
        options: parse_options(&options.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
    }
}

fn config(root: &Path, mounts: Vec<MountEntry>) -> RootfsConfig {
    RootfsConfig {
        rootfs: root.to_path_buf(),
        propagation: MsFlags::MS_SLAVE | MsFlags::MS_REC,
        mounts,
        create_devices: true,
        devices: vec![DeviceEntry {
            path: PathBuf::from("/dev/null"),
            kind: nix::sys::stat::SFlag::S_IFCHR,
            major: 1,
            minor: 3,
            mode: 0o666,
            uid: 0,
            gid: 0,
        }],
        bind_devices: false,
        masked_paths: vec![PathBuf::from("/proc/kcore")],
        readonly_paths: vec![PathBuf::from("/proc/sys")],
        readonly_root: true,
        cgroupns: false,
    }
}

fn root_of(dir: &Path) -> Root {
    Root::open(dir).unwrap()
}

#[test]
fn prepare_mounts_in_runc_order_and_pivots_last() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let host_file = root.join("hostfile");
    std::fs::write(&host_file, "x").unwrap();
    let cfg = config(
        root,
        vec![
            entry("/proc", MountKind::Fs("proc".into()), "proc", &[]),
            entry(
                "/dev",
                MountKind::Fs("tmpfs".into()),
                "tmpfs",
                &["nosuid", "mode=755"],
            ),
            entry(
                "/etc/hosts",
                MountKind::Bind,
                host_file.to_str().unwrap(),
                &["rbind", "ro", "rprivate"],
            ),
        ],
    );
    let sys = RecordingSyscall::default();
    prepare(&sys, &cfg, &[]).unwrap();
    let mounts = sys.mounts();
    // Host paths only for / and the rootfs itself.
    assert_eq!(
        mounts[0],
        Op::Mount {
            source: None,
            target: PathBuf::from("/"),
            fstype: None,
            flags: MsFlags::MS_SLAVE | MsFlags::MS_REC,
            data: None
        }
    );
    assert!(matches!(&mounts[1], Op::Mount { target, flags, .. }
            if target == root && *flags == MsFlags::MS_BIND | MsFlags::MS_REC));
    // Everything else by container path, resolved in the root.
    let in_root: Vec<(String, PathBuf, MsFlags)> = mounts[2..]
        .iter()
        .map(|op| match op {
            Op::MountIn {
                source,
                dest,
                flags,
                ..
            } => (source.clone(), dest.clone(), *flags),
            Op::Remount { dest, flags } => ("remount".into(), dest.clone(), *flags),
            other => panic!("{other:?}"),
        })
        .collect();
    let hosts = PathBuf::from("/etc/hosts");
    assert_eq!(
        in_root,
        vec![
            ("host:proc".into(), PathBuf::from("/proc"), MsFlags::empty()),
            (
                "host:tmpfs".into(),
                PathBuf::from("/dev"),
                MsFlags::MS_NOSUID
            ),
            (
                format!("host:{}", host_file.display()),
                hosts.clone(),
                MsFlags::MS_BIND | MsFlags::MS_REC
            ),
            (
                "remount".into(),
                hosts.clone(),
                MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT
            ),
            (
                "remount".into(),
                hosts.clone(),
                MsFlags::MS_PRIVATE | MsFlags::MS_REC
            ),
        ]
    );
    let ops = sys.ops.borrow();
    assert!(
        ops.iter().any(
            |op| matches!(op, Op::MountIn { dest, target: Target::File, .. } if *dest == hosts)
        ),
        "file bind target created as a file"
    );
    assert!(ops.contains(&Op::Mknod {
        path: PathBuf::from("/dev/null"),
        dev: nix::sys::stat::makedev(1, 3)
    }));
    let unlink = ops
        .iter()
        .position(|op| *op == Op::Unlink(PathBuf::from("/dev/ptmx")))
        .expect("/dev/ptmx unlinked");
    let link = ops
        .iter()
        .position(|op| {
            *op == Op::Symlink {
                target: PathBuf::from("pts/ptmx"),
                link: PathBuf::from("/dev/ptmx"),
            }
        })
        .expect("/dev/ptmx linked to the devpts multiplexer");
    assert!(unlink < link);
    assert_eq!(ops.last(), Some(&Op::PivotRoot));
}

#[test]
fn devices_are_bound_from_the_host_in_a_user_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), vec![]);
    cfg.bind_devices = true;
    let sys = RecordingSyscall::default();
    prepare(&sys, &cfg, &[]).unwrap();
    assert!(sys.ops.borrow().contains(&Op::MountIn {
        source: "host:/dev/null".into(),
        dest: PathBuf::from("/dev/null"),
        target: Target::File,
        fstype: None,
        flags: MsFlags::MS_BIND,
        data: None,
    }));
}

#[test]
fn bind_remount_retries_with_locked_flags_on_eperm() {
    let dir = tempfile::tempdir().unwrap();
    let sys = RecordingSyscall {
        refuse_unlocked_remounts: true,
        ..Default::default()
    };
    bind(
        &sys,
        &root_of(dir.path()),
        Source::Host(Path::new("/src")),
        Path::new("/dest"),
        Target::Dir,
        MsFlags::MS_BIND | MsFlags::MS_RDONLY,
    )
    .unwrap();
    let mounts = sys.mounts();
    let Op::Remount { flags, .. } = &mounts[1] else {
        unreachable!()
    };
    assert!(flags.contains(
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
    ));
}

#[test]
fn failing_mount_names_destination_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cfg = config(
        root,
        vec![entry(
            "/sys",
            MountKind::Fs("sysfs".into()),
            "sysfs",
            &["ro"],
        )],
    );
    let sys = RecordingSyscall {
        fail_mounts: vec![PathBuf::from("/sys")],
        ..Default::default()
    };
    let err = prepare(&sys, &cfg, &[]).unwrap_err();
    assert_eq!(err.errno, Errno::EPERM);
    assert_eq!(err.step.to_string(), "mount /sys (sysfs)");
    assert!(
        !sys.ops.borrow().contains(&Op::PivotRoot),
        "no pivot after a failed mount"
    );
}

#[test]
fn finalize_keeps_locked_flags_and_masks_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), vec![]);
    cfg.masked_paths.push(PathBuf::from("/proc/acpi"));
    cfg.masked_paths.push(PathBuf::from("/proc/missing"));
    let sys = RecordingSyscall {
        dirs: vec![PathBuf::from("/proc/acpi")],
        missing: vec![PathBuf::from("/proc/missing")],
        ..Default::default()
    };
    finalize(&sys, &root_of(dir.path()), &cfg).unwrap();
    let mounts = sys.mounts();
    let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    assert_eq!(
        mounts[0],
        Op::Remount {
            dest: PathBuf::from("/"),
            flags: locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY
        }
    );
    // /proc/sys bound onto itself (resolved in the root), then read-only.
    let Op::MountIn { source, dest, .. } = &mounts[1] else {
        unreachable!()
    };
    assert_eq!(
        (source.as_str(), dest.as_path()),
        ("root:/proc/sys", Path::new("/proc/sys"))
    );
    let Op::Remount { dest, flags } = &mounts[2] else {
        unreachable!()
    };
    assert_eq!(dest, Path::new("/proc/sys"));
    assert!(flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
    // Files masked by the checked /dev/null, directories by a tmpfs,
    // missing ones skipped.
    assert_eq!(
        mounts[3..].to_vec(),
        vec![
            Op::MountIn {
                source: "devnull".into(),
                dest: PathBuf::from("/proc/kcore"),
                target: Target::Existing,
                fstype: None,
                flags: MsFlags::MS_BIND,
                data: None,
            },
            Op::MountIn {
                source: "host:tmpfs".into(),
                dest: PathBuf::from("/proc/acpi"),
                target: Target::Existing,
                fstype: Some("tmpfs".into()),
                flags: MsFlags::MS_RDONLY,
                data: None,
            },
        ]
    );
}

#[test]
fn cgroup_binds_follow_v1_hierarchies_and_skip_unified_on_hybrid() {
    let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    let mounts = berth_cgroups::cgroup_mounts(mountinfo).unwrap();
    assert_eq!(mounts.len(), 5);
    let binds = cgroup_binds(
        &mounts,
        "9:name=systemd:/c1\n4:memory:/c1\n2:cpu,cpuacct:/c1\n0::/\n",
    );
    assert_eq!(
        binds,
        vec![
            CgroupBind {
                source: PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c1"),
                name: "cpu,cpuacct".into(),
                controllers: "cpu,cpuacct".into(),
            },
            CgroupBind {
                source: PathBuf::from("/sys/fs/cgroup/memory/c1"),
                name: "memory".into(),
                controllers: "memory".into(),
            },
            CgroupBind {
                source: PathBuf::from("/sys/fs/cgroup/systemd/c1"),
                name: "systemd".into(),
                controllers: "name=systemd".into(),
            },
        ]
    );
}

#[test]
fn cgroup_binds_on_pure_v2_bind_the_container_dir() {
    let mounts = berth_cgroups::cgroup_mounts(
        "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
    )
    .unwrap();
    let binds = cgroup_binds(&mounts, "0::/system.slice/c1\n");
    assert_eq!(
        binds,
        vec![CgroupBind {
            source: PathBuf::from("/sys/fs/cgroup/system.slice/c1"),
            name: String::new(),
            controllers: String::new(),
        }]
    );
}
