//! Building the container's root file system (runs in container init).
//!
//! Order follows runc (`libcontainer/rootfs_linux.go`) because engines and
//! users depend on the result looking the same: propagation of `/`, bind of
//! the rootfs onto itself, the spec's mounts in order, device nodes, `/dev`
//! symlinks, `pivot_root`; after the console is set up, [`finalize`] makes
//! the root read-only and applies read-only and masked paths.

use std::path::{Path, PathBuf};

use berth_cgroups::CgroupMount;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;

use crate::config::{MountEntry, MountKind, RootfsConfig};
use crate::error::InitStep;
use crate::mounts::{ResolveError, resolve_in_root};
use crate::syscall::{Syscall, io_errno};

/// A failed step with its errno and an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepError {
    pub step: InitStep,
    pub errno: Errno,
    pub detail: String,
}

impl StepError {
    pub fn new(step: InitStep, errno: Errno) -> Self {
        StepError {
            step,
            errno,
            detail: String::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// Maps a failing syscall to the step it belongs to.
pub(crate) trait StepContext<T> {
    fn step(self, step: impl FnOnce() -> InitStep) -> Result<T, StepError>;
}

impl<T> StepContext<T> for nix::Result<T> {
    fn step(self, step: impl FnOnce() -> InitStep) -> Result<T, StepError> {
        self.map_err(|errno| StepError::new(step(), errno))
    }
}

/// A v1 hierarchy (or the v2 tree) to expose under a `cgroup` mount: the
/// container's own cgroup directory on the host and the name it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupBind {
    pub source: PathBuf,
    pub name: String,
    /// The hierarchy's controllers as in `/proc/self/cgroup` (`cpu,cpuacct`,
    /// `name=systemd`; empty for v2): mount data when the container has
    /// its own cgroup namespace and mounts the file system itself.
    pub controllers: String,
}

/// Which host directories to bind for a `cgroup` mount, given the host's
/// cgroup mounts and the container's `/proc/self/cgroup`. On v1 (and on
/// hybrid hosts, where runc ignores the `unified` mount) every v1 hierarchy
/// is bound under the base name of its mount point; on pure v2 the
/// container's cgroup directory itself is bound.
pub(crate) fn cgroup_binds(mounts: &[CgroupMount], proc_self_cgroup: &str) -> Vec<CgroupBind> {
    let v1: Vec<&CgroupMount> = mounts.iter().filter(|m| !m.unified).collect();
    let mut out: Vec<CgroupBind> = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let candidates: Vec<&CgroupMount> = if controllers.is_empty() {
            if !v1.is_empty() {
                continue;
            }
            mounts.iter().filter(|m| m.unified).collect()
        } else {
            v1.iter()
                .copied()
                .filter(|m| controllers.split(',').all(|w| m.has_option(w)))
                .collect()
        };
        let Some(mount) = candidates
            .into_iter()
            .map(|m| &m.mount)
            .find(|m| Path::new(path).starts_with(&m.root))
        else {
            continue;
        };
        let below = Path::new(path)
            .strip_prefix(&mount.root)
            .unwrap_or(Path::new(""));
        let name = if controllers.is_empty() {
            String::new()
        } else {
            mount
                .mount_point
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if out.iter().any(|b| b.name == name) {
            continue;
        }
        out.push(CgroupBind {
            source: mount.mount_point.join(below),
            name,
            controllers: controllers.to_string(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Mounts everything below the rootfs and pivots into it.
///
/// `cgroups` is only consulted for `cgroup` mounts.
pub(crate) fn prepare(
    sys: &dyn Syscall,
    cfg: &RootfsConfig,
    cgroups: &[CgroupBind],
) -> Result<(), StepError> {
    let root = &cfg.rootfs;
    // Keep our mounts from propagating to the host (and the host's to us,
    // unless the spec asks for shared); mount_namespaces(7).
    sys.mount(None, Path::new("/"), None, cfg.propagation, None)
        .step(|| InitStep::RootfsPropagation)?;
    // pivot_root(2) needs new_root to be a mount point.
    sys.mount(
        Some(root),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .step(|| InitStep::BindRootfs { path: root.clone() })?;
    for entry in &cfg.mounts {
        mount_entry(sys, root, entry, cfg.cgroupns, cgroups)?;
    }
    if cfg.create_devices {
        create_devices(sys, cfg)?;
    }
    sys.pivot_root(root).step(|| InitStep::PivotRoot)?;
    Ok(())
}

fn resolve(root: &Path, entry: &MountEntry) -> Result<PathBuf, StepError> {
    resolve_in_root(root, &entry.destination).map_err(|e| {
        let step = InitStep::Mount {
            destination: entry.destination.clone(),
            fstype: entry.fstype(),
        };
        match e {
            ResolveError::Escapes { symlink } => StepError::new(step, Errno::EXDEV).with_detail(
                format!("symlink {} leads outside the rootfs", symlink.display()),
            ),
            ResolveError::TooManyLinks => StepError::new(step, Errno::ELOOP),
            ResolveError::Io(kind) => {
                StepError::new(step, Errno::EIO).with_detail(kind.to_string())
            }
        }
    })
}

fn mount_entry(
    sys: &dyn Syscall,
    root: &Path,
    entry: &MountEntry,
    cgroupns: bool,
    cgroups: &[CgroupBind],
) -> Result<(), StepError> {
    let dest = resolve(root, entry)?;
    let step = || InitStep::Mount {
        destination: entry.destination.clone(),
        fstype: entry.fstype(),
    };
    let opts = &entry.options;
    match &entry.kind {
        MountKind::Bind => {
            let source = entry.source.as_deref().unwrap_or(Path::new(""));
            let is_dir = std::fs::metadata(source).map(|m| m.is_dir()).map_err(|e| {
                StepError::new(step(), io_errno(e))
                    .with_detail(format!("bind source {}", source.display()))
            })?;
            if is_dir {
                sys.mkdir_all(&dest).step(step)?;
            } else {
                sys.create_file(&dest).step(step)?;
            }
            bind(sys, source, &dest, opts.flags).step(step)?;
        }
        MountKind::Cgroup => mount_cgroup(sys, &dest, entry, cgroupns, cgroups).step(step)?,
        MountKind::Fs(fstype) => {
            sys.mkdir_all(&dest).step(step)?;
            let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
            sys.mount(
                entry.source.as_deref(),
                &dest,
                Some(fstype),
                opts.flags,
                data,
            )
            .step(step)?;
        }
    }
    for prop in &opts.propagation {
        sys.mount(None, &dest, None, *prop, None).step(step)?;
    }
    Ok(())
}

/// Bind mount, then a remount to apply flags a bind ignores (ro, nosuid,
/// ...): mount(2), "Creating a bind mount".
fn bind(sys: &dyn Syscall, source: &Path, dest: &Path, flags: MsFlags) -> nix::Result<()> {
    let bind_flags = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
    sys.mount(Some(source), dest, None, bind_flags, None)?;
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let remount = |flags: MsFlags| {
            sys.mount(
                Some(dest),
                dest,
                None,
                flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None,
            )
        };
        match remount(extra) {
            // In a user namespace the kernel refuses to clear flags that
            // were locked on the source mount (mount_namespaces(7),
            // "locked" mounts); keep them, as runc does on retry.
            Err(nix::errno::Errno::EPERM) => remount(extra | sys.locked_flags(dest)?)?,
            other => other?,
        }
    }
    Ok(())
}

/// runc's v1 cgroup mount: a tmpfs with one read-only bind per hierarchy
/// of the container's own cgroup directories (no cgroup namespace needed).
fn mount_cgroup(
    sys: &dyn Syscall,
    dest: &Path,
    entry: &MountEntry,
    cgroupns: bool,
    binds: &[CgroupBind],
) -> nix::Result<()> {
    sys.mkdir_all(dest)?;
    let flags = entry.options.flags;
    if binds.len() == 1 && binds[0].name.is_empty() {
        if cgroupns {
            // In its own cgroup namespace the container sees its cgroup
            // as the root of a fresh cgroup2 mount.
            return sys.mount(
                Some(Path::new("cgroup2")),
                dest,
                Some("cgroup2"),
                flags & !(MsFlags::MS_BIND | MsFlags::MS_REC),
                None,
            );
        }
        // cgroup v2: the container's cgroup directory itself.
        return bind(sys, &binds[0].source, dest, flags | MsFlags::MS_REC);
    }
    let tmpfs_flags = MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    sys.mount(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        tmpfs_flags | (flags & MsFlags::MS_RELATIME),
        Some("mode=755"),
    )?;
    for b in binds {
        let target = dest.join(&b.name);
        sys.mkdir_all(&target)?;
        if cgroupns {
            let data = if b.controllers.starts_with("name=") {
                format!("none,{}", b.controllers)
            } else {
                b.controllers.clone()
            };
            sys.mount(
                Some(Path::new("cgroup")),
                &target,
                Some("cgroup"),
                flags & !(MsFlags::MS_BIND | MsFlags::MS_REC),
                Some(&data),
            )?;
        } else {
            bind(sys, &b.source, &target, flags | MsFlags::MS_REC)?;
        }
    }
    // Co-mounted controllers (`cpu,cpuacct`) are also reachable by each
    // name, as on the host.
    for b in binds {
        if b.name.contains(',') {
            for part in b.name.split(',') {
                sys.symlink(Path::new(&b.name), &dest.join(part))?;
            }
        }
    }
    Ok(())
}

fn create_devices(sys: &dyn Syscall, cfg: &RootfsConfig) -> Result<(), StepError> {
    let root = &cfg.rootfs;
    for dev in &cfg.devices {
        let rel = dev.path.strip_prefix("/").unwrap_or(&dev.path);
        let path = root.join(rel);
        let step = || InitStep::Device {
            path: dev.path.clone(),
        };
        if let Some(parent) = path.parent() {
            sys.mkdir_all(parent).step(step)?;
        }
        if cfg.bind_devices {
            // mknod is refused in a user namespace: bind the host's node.
            sys.create_file(&path).step(step)?;
            sys.mount(Some(&dev.path), &path, None, MsFlags::MS_BIND, None)
                .step(step)?;
        } else {
            let devno = nix::sys::stat::makedev(dev.major, dev.minor);
            sys.mknod(
                &path,
                dev.kind,
                Mode::from_bits_truncate(dev.mode),
                devno,
                dev.uid,
                dev.gid,
            )
            .step(step)?;
        }
    }
    // /dev/ptmx must be the container's devpts multiplexer: devpts
    // "newinstance" semantics (Documentation/filesystems/devpts.rst).
    let ptmx = root.join("dev/ptmx");
    sys.remove_file(&ptmx).step(|| InitStep::Symlink {
        path: PathBuf::from("/dev/ptmx"),
    })?;
    let mut links = vec![
        ("pts/ptmx", "/dev/ptmx"),
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let rel = link.trim_start_matches('/');
        sys.symlink(Path::new(target), &root.join(rel))
            .step(|| InitStep::Symlink {
                path: PathBuf::from(link),
            })?;
    }
    Ok(())
}

/// After `pivot_root` (paths are container paths now): read-only root,
/// read-only paths, masked paths. Order as runc: root first, so that masks
/// stay on top.
pub(crate) fn finalize(sys: &dyn Syscall, cfg: &RootfsConfig) -> Result<(), StepError> {
    if cfg.readonly_root {
        let root = Path::new("/");
        let locked = sys.locked_flags(root).step(|| InitStep::ReadonlyRoot)?;
        sys.mount(
            Some(root),
            root,
            None,
            locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )
        .step(|| InitStep::ReadonlyRoot)?;
    }
    for path in &cfg.readonly_paths {
        readonly_path(sys, path)?;
    }
    for path in &cfg.masked_paths {
        mask_path(sys, path)?;
    }
    Ok(())
}

fn readonly_path(sys: &dyn Syscall, path: &Path) -> Result<(), StepError> {
    let step = || InitStep::ReadonlyPath {
        path: path.to_path_buf(),
    };
    match sys.mount(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    ) {
        Ok(()) => {}
        // The spec lists paths that may not exist on this kernel.
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(StepError::new(step(), e)),
    }
    let locked = sys.locked_flags(path).step(step)?;
    sys.mount(
        Some(path),
        path,
        None,
        locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
        None,
    )
    .step(step)
}

fn mask_path(sys: &dyn Syscall, path: &Path) -> Result<(), StepError> {
    let step = || InitStep::MaskPath {
        path: path.to_path_buf(),
    };
    match sys.mount(
        Some(Path::new("/dev/null")),
        path,
        None,
        MsFlags::MS_BIND,
        None,
    ) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        // A directory: hide it under an empty read-only tmpfs.
        Err(Errno::ENOTDIR) => sys
            .mount(
                Some(Path::new("tmpfs")),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
            .step(step),
        Err(e) => Err(StepError::new(step(), e)),
    }
}

#[cfg(test)]
mod tests {
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
        let targets: Vec<(PathBuf, MsFlags)> = mounts
            .iter()
            .map(|op| match op {
                Op::Mount { target, flags, .. } => (target.clone(), *flags),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            targets[0],
            (PathBuf::from("/"), MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(
            targets[1],
            (root.to_path_buf(), MsFlags::MS_BIND | MsFlags::MS_REC)
        );
        assert_eq!(targets[2].0, root.join("proc"));
        assert_eq!(targets[3], (root.join("dev"), MsFlags::MS_NOSUID));
        assert_eq!(
            targets[4],
            (root.join("etc/hosts"), MsFlags::MS_BIND | MsFlags::MS_REC)
        );
        assert_eq!(
            targets[5],
            (
                root.join("etc/hosts"),
                MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT
            )
        );
        assert_eq!(
            targets[6],
            (
                root.join("etc/hosts"),
                MsFlags::MS_PRIVATE | MsFlags::MS_REC
            )
        );
        let ops = sys.ops.borrow();
        assert!(
            ops.contains(&Op::CreateFile(root.join("etc/hosts"))),
            "file bind target created"
        );
        assert!(ops.contains(&Op::Mknod {
            path: root.join("dev/null"),
            dev: nix::sys::stat::makedev(1, 3)
        }));
        assert!(ops.contains(&Op::Symlink {
            target: PathBuf::from("pts/ptmx"),
            link: root.join("dev/ptmx")
        }));
        assert_eq!(ops.last(), Some(&Op::PivotRoot(root.to_path_buf())));
    }

    #[test]
    fn bind_remount_retries_with_locked_flags_on_eperm() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        let sys = RecordingSyscall {
            refuse_unlocked_remounts: true,
            ..Default::default()
        };
        bind(
            &sys,
            Path::new("/src"),
            &dest,
            MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        )
        .unwrap();
        let mounts = sys.mounts();
        let Op::Mount { flags, .. } = &mounts[1] else {
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
            fail_mounts: vec![root.join("sys")],
            ..Default::default()
        };
        let err = prepare(&sys, &cfg, &[]).unwrap_err();
        assert_eq!(err.errno, Errno::EPERM);
        assert_eq!(err.step.to_string(), "mount /sys (sysfs)");
        assert!(
            !sys.ops
                .borrow()
                .iter()
                .any(|op| matches!(op, Op::PivotRoot(_))),
            "no pivot after a failed mount"
        );
    }

    #[test]
    fn finalize_keeps_locked_flags_and_masks_last() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), vec![]);
        let sys = RecordingSyscall::default();
        finalize(&sys, &cfg).unwrap();
        let mounts = sys.mounts();
        let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let Op::Mount { target, flags, .. } = &mounts[0] else {
            unreachable!()
        };
        assert_eq!(target, Path::new("/"));
        assert_eq!(
            *flags,
            locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY
        );
        let Op::Mount { target, flags, .. } = &mounts[2] else {
            unreachable!()
        };
        assert_eq!(target, Path::new("/proc/sys"));
        assert!(flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
        let Op::Mount { source, target, .. } = &mounts[3] else {
            unreachable!()
        };
        assert_eq!(
            (source.as_deref(), target.as_path()),
            (Some(Path::new("/dev/null")), Path::new("/proc/kcore"))
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
}
