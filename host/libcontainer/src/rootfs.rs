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
use crate::root::{Root, RootError};
use crate::syscall::{Source, Syscall, Target, io_errno};

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

impl<T> StepContext<T> for Result<T, RootError> {
    fn step(self, step: impl FnOnce() -> InitStep) -> Result<T, StepError> {
        self.map_err(|e| step_error(step(), e))
    }
}

/// A failed operation in the rootfs as a step error: its errno, and the
/// resolver's explanation as the detail.
pub(crate) fn step_error(step: InitStep, e: RootError) -> StepError {
    StepError::new(step, e.errno()).with_detail(e.to_string())
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
    let rootfs = &cfg.rootfs;
    // Keep our mounts from propagating to the host (and the host's to us,
    // unless the spec asks for shared); mount_namespaces(7).
    sys.mount(None, Path::new("/"), None, cfg.propagation, None)
        .step(|| InitStep::RootfsPropagation)?;
    // pivot_root(2) needs new_root to be a mount point.
    sys.mount(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .step(|| InitStep::BindRootfs {
        path: rootfs.clone(),
    })?;
    // Opened after the bind, so that it is the new mount (a descriptor of
    // the directory below would put every mount under the bind, out of
    // sight). From here on every path is a container path resolved in it.
    let root = Root::open(rootfs).step(|| InitStep::BindRootfs {
        path: rootfs.clone(),
    })?;
    for entry in &cfg.mounts {
        mount_entry(sys, &root, entry, cfg.cgroupns, cgroups)?;
    }
    if cfg.create_devices {
        create_devices(sys, &root, cfg)?;
    }
    sys.pivot_root(&root).step(|| InitStep::PivotRoot)?;
    Ok(())
}

fn mount_entry(
    sys: &dyn Syscall,
    root: &Root,
    entry: &MountEntry,
    cgroupns: bool,
    cgroups: &[CgroupBind],
) -> Result<(), StepError> {
    let dest = entry.destination.as_path();
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
            let target = if is_dir { Target::Dir } else { Target::File };
            bind(sys, root, Source::Host(source), dest, target, opts.flags).step(step)?;
        }
        MountKind::Cgroup => mount_cgroup(sys, root, dest, entry, cgroupns, cgroups).step(step)?,
        MountKind::Fs(fstype) => {
            let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
            let source = entry.source.as_deref().map_or(Source::None, Source::Host);
            sys.mount_in(
                root,
                source,
                dest,
                Target::Dir,
                Some(fstype),
                opts.flags,
                data,
            )
            .step(step)?;
        }
    }
    for prop in &opts.propagation {
        sys.remount_in(root, dest, *prop).step(step)?;
    }
    Ok(())
}

/// Bind mount, then a remount to apply flags a bind ignores (ro, nosuid,
/// ...): mount(2), "Creating a bind mount".
fn bind(
    sys: &dyn Syscall,
    root: &Root,
    source: Source<'_>,
    dest: &Path,
    target: Target,
    flags: MsFlags,
) -> Result<(), RootError> {
    let bind_flags = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
    sys.mount_in(root, source, dest, target, None, bind_flags, None)?;
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let remount = |flags: MsFlags| {
            sys.remount_in(root, dest, flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT)
        };
        match remount(extra) {
            // In a user namespace the kernel refuses to clear flags that
            // were locked on the source mount (mount_namespaces(7),
            // "locked" mounts); keep them, as runc does on retry.
            Err(e) if e.errno() == Errno::EPERM => {
                remount(extra | sys.locked_flags_in(root, dest)?)?
            }
            other => other?,
        }
    }
    Ok(())
}

/// runc's v1 cgroup mount: a tmpfs with one read-only bind per hierarchy
/// of the container's own cgroup directories (no cgroup namespace needed).
fn mount_cgroup(
    sys: &dyn Syscall,
    root: &Root,
    dest: &Path,
    entry: &MountEntry,
    cgroupns: bool,
    binds: &[CgroupBind],
) -> Result<(), RootError> {
    let flags = entry.options.flags;
    if binds.len() == 1 && binds[0].name.is_empty() {
        if cgroupns {
            // In its own cgroup namespace the container sees its cgroup
            // as the root of a fresh cgroup2 mount.
            return sys.mount_in(
                root,
                Source::Host(Path::new("cgroup2")),
                dest,
                Target::Dir,
                Some("cgroup2"),
                flags & !(MsFlags::MS_BIND | MsFlags::MS_REC),
                None,
            );
        }
        // cgroup v2: the container's cgroup directory itself.
        return bind(
            sys,
            root,
            Source::Host(&binds[0].source),
            dest,
            Target::Dir,
            flags | MsFlags::MS_REC,
        );
    }
    let tmpfs_flags = MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    sys.mount_in(
        root,
        Source::Host(Path::new("tmpfs")),
        dest,
        Target::Dir,
        Some("tmpfs"),
        tmpfs_flags | (flags & MsFlags::MS_RELATIME),
        Some("mode=755"),
    )?;
    for b in binds {
        let target = dest.join(&b.name);
        if cgroupns {
            let data = if b.controllers.starts_with("name=") {
                format!("none,{}", b.controllers)
            } else {
                b.controllers.clone()
            };
            sys.mount_in(
                root,
                Source::Host(Path::new("cgroup")),
                &target,
                Target::Dir,
                Some("cgroup"),
                flags & !(MsFlags::MS_BIND | MsFlags::MS_REC),
                Some(&data),
            )?;
        } else {
            bind(
                sys,
                root,
                Source::Host(&b.source),
                &target,
                Target::Dir,
                flags | MsFlags::MS_REC,
            )?;
        }
    }
    // Co-mounted controllers (`cpu,cpuacct`) are also reachable by each
    // name, as on the host.
    for b in binds {
        if b.name.contains(',') {
            for part in b.name.split(',') {
                sys.symlink_in(root, Path::new(&b.name), &dest.join(part))?;
            }
        }
    }
    Ok(())
}

/// Device nodes and `/dev` links, every one through the root handle: an
/// image whose `/dev` (or `/dev/ptmx`) is a link to a host path gets them
/// inside its rootfs, never on the host.
fn create_devices(sys: &dyn Syscall, root: &Root, cfg: &RootfsConfig) -> Result<(), StepError> {
    for dev in &cfg.devices {
        let step = || InitStep::Device {
            path: dev.path.clone(),
        };
        if cfg.bind_devices {
            // mknod is refused in a user namespace: bind the host's node.
            sys.mount_in(
                root,
                Source::Host(&dev.path),
                &dev.path,
                Target::File,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .step(step)?;
        } else {
            let devno = nix::sys::stat::makedev(dev.major, dev.minor);
            sys.mknod_in(
                root,
                &dev.path,
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
    // unlinkat never follows the final component.
    sys.unlink_in(root, Path::new("/dev/ptmx"))
        .step(|| InitStep::Symlink {
            path: PathBuf::from("/dev/ptmx"),
        })?;
    let mut links = vec![
        ("pts/ptmx", "/dev/ptmx"),
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    // The host's /proc decides whether the kernel has kcore (runc does the
    // same); this is a host path on purpose.
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        sys.symlink_in(root, Path::new(target), Path::new(link))
            .step(|| InitStep::Symlink {
                path: PathBuf::from(link),
            })?;
    }
    Ok(())
}

/// After `pivot_root`: read-only root, read-only paths, masked paths. Order
/// as runc: root first, so that masks stay on top.
///
/// `root` is the container's `/` now. The kernel already confines path
/// resolution to it (the old root is detached: `..` at `/` stays there and
/// absolute links restart at it), and these paths still go through the
/// root handle, so that a masked or read-only path that is a link is
/// followed inside the root, never through a magic link, and what is bound
/// is exactly what was checked (runc `maskPaths`, `WithProcfd`).
pub(crate) fn finalize(
    sys: &dyn Syscall,
    root: &Root,
    cfg: &RootfsConfig,
) -> Result<(), StepError> {
    if cfg.readonly_root {
        let slash = Path::new("/");
        let locked = sys
            .locked_flags_in(root, slash)
            .step(|| InitStep::ReadonlyRoot)?;
        sys.remount_in(
            root,
            slash,
            locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        )
        .step(|| InitStep::ReadonlyRoot)?;
    }
    for path in &cfg.readonly_paths {
        readonly_path(sys, root, path)?;
    }
    for path in &cfg.masked_paths {
        mask_path(sys, root, path)?;
    }
    Ok(())
}

fn readonly_path(sys: &dyn Syscall, root: &Root, path: &Path) -> Result<(), StepError> {
    let step = || InitStep::ReadonlyPath {
        path: path.to_path_buf(),
    };
    match sys.mount_in(
        root,
        Source::InRoot(path),
        path,
        Target::Existing,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    ) {
        Ok(()) => {}
        // The spec lists paths that may not exist on this kernel.
        Err(e) if e.errno() == Errno::ENOENT => return Ok(()),
        Err(e) => return Err(step_error(step(), e)),
    }
    let locked = sys.locked_flags_in(root, path).step(step)?;
    sys.remount_in(
        root,
        path,
        locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
    )
    .step(step)
}

fn mask_path(sys: &dyn Syscall, root: &Root, path: &Path) -> Result<(), StepError> {
    let step = || InitStep::MaskPath {
        path: path.to_path_buf(),
    };
    match sys.mount_in(
        root,
        Source::DevNull,
        path,
        Target::Existing,
        None,
        MsFlags::MS_BIND,
        None,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e.errno() == Errno::ENOENT => Ok(()),
        // A directory: hide it under an empty read-only tmpfs.
        Err(e) if e.errno() == Errno::ENOTDIR => sys
            .mount_in(
                root,
                Source::Host(Path::new("tmpfs")),
                path,
                Target::Existing,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
            .step(step),
        Err(e) => Err(step_error(step(), e)),
    }
}

#[cfg(test)]
mod tests;
