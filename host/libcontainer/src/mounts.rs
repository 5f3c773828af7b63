//! Pure mount logic: option parsing and confined path resolution.
//!
//! Nothing here touches the kernel (only `lstat`/`readlink` for resolution),
//! so it is unit-tested on fixture directories.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;

/// A spec mount's `options`, split the way `mount(2)` wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags to set (`MS_RDONLY`, `MS_NOSUID`, `MS_BIND`, ...).
    pub flags: MsFlags,
    /// Propagation changes applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Everything `mount(2)` does not know as a flag, comma-joined (`mode=755,size=65536k`).
    pub data: String,
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`, or `type: bind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Parses OCI mount options as runc does: known names become flags (their
/// negations clear them), propagation names go to `propagation`, the rest is
/// file-system data. Source: mount(8) and runc's `libcontainer/specconv`.
pub(crate) fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
    };
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        let option = option.as_str();
        if let Some((set, flag)) = flag_option(option) {
            if set {
                out.flags.insert(flag);
            } else {
                out.flags.remove(flag);
            }
        } else if let Some(prop) = propagation_option(option) {
            out.propagation.push(prop);
        } else if !option.is_empty() {
            data.push(option);
        }
    }
    out.data = data.join(",");
    out
}

fn flag_option(option: &str) -> Option<(bool, MsFlags)> {
    Some(match option {
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "atime" => (false, MsFlags::MS_NOATIME),
        "bind" => (true, MsFlags::MS_BIND),
        "defaults" => (false, MsFlags::empty()),
        "dev" => (false, MsFlags::MS_NODEV),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "nodev" => (true, MsFlags::MS_NODEV),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "suid" => (false, MsFlags::MS_NOSUID),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        _ => return None,
    })
}

/// Maps a propagation name (`rprivate`, `slave`, ...) to its flags.
pub(crate) fn propagation_option(option: &str) -> Option<MsFlags> {
    Some(match option {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Why a path could not be resolved inside the rootfs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// A symlink's target climbs above the rootfs.
    Escapes {
        /// The symlink, as a host path.
        symlink: PathBuf,
    },
    /// More than 40 symlinks (the kernel's `MAXSYMLINKS`).
    TooManyLinks,
    /// `lstat`/`readlink` failed with something other than "not found".
    Io(std::io::ErrorKind),
}

/// Resolves `path` (absolute as seen inside the container) to a host path
/// under `rootfs`, following symlinks as the container would see them:
/// absolute targets restart at `rootfs`. Unlike runc (which clamps `..` at the
/// root, as `filepath-securejoin` does), a symlink whose target climbs above
/// the rootfs is an error: such a bundle is broken or hostile, and saying so
/// is more useful than mounting somewhere the author did not mean.
///
/// Components that do not exist yet are appended verbatim (the caller
/// creates them), so the result is always inside `rootfs`.
pub(crate) fn resolve_in_root(rootfs: &Path, path: &Path) -> Result<PathBuf, ResolveError> {
    // Pending components, processed front to back; symlink targets are
    // pushed in front of what remains.
    let mut pending: Vec<OsString> = components(path).into_iter().rev().collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    let mut missing = false;
    while let Some(part) = pending.pop() {
        if part == ".." {
            if resolved.pop().is_none() {
                // `..` at the container's root stays at the root: that is
                // how the kernel treats `/..` as well.
            }
            continue;
        }
        let host = join(rootfs, &resolved).join(&part);
        if missing {
            resolved.push(part);
            continue;
        }
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(ResolveError::TooManyLinks);
                }
                let target = std::fs::read_link(&host).map_err(|e| ResolveError::Io(e.kind()))?;
                if target.is_absolute() {
                    resolved.clear();
                } else if climbs_above(&resolved, &target) {
                    return Err(ResolveError::Escapes { symlink: host });
                }
                for c in components(&target).into_iter().rev() {
                    pending.push(c);
                }
            }
            Ok(_) => resolved.push(part),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing = true;
                resolved.push(part);
            }
            Err(e) => return Err(ResolveError::Io(e.kind())),
        }
    }
    Ok(join(rootfs, &resolved))
}

/// Whether a relative symlink target, evaluated in the directory
/// `resolved`, goes above the root at some point.
fn climbs_above(resolved: &[OsString], target: &Path) -> bool {
    let mut depth = resolved.len() as isize;
    for c in target.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(rootfs: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = rootfs.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

/// `/proc/sys` path of a sysctl key (`net.ipv4.ip_forward` →
/// `/proc/sys/net/ipv4/ip_forward`). Dots become slashes and slashes become
/// dots, as sysctl(8) does for keys such as `net.ipv4.conf.eth0/1.forwarding`.
pub(crate) fn sysctl_path(key: &str) -> PathBuf {
    let mapped: Vec<u8> = key
        .as_bytes()
        .iter()
        .map(|b| match b {
            b'.' => b'/',
            b'/' => b'.',
            other => *other,
        })
        .collect();
    Path::new("/proc/sys").join(std::ffi::OsStr::from_bytes(&mapped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn docker_dev_options_split_into_flags_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(o.propagation.is_empty());
        assert!(!o.is_bind());
    }

    #[test]
    fn bind_options_with_propagation_and_negations() {
        let o = opts(&["rbind", "ro", "rw", "nosuid", "rprivate"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert!(
            !o.flags.contains(MsFlags::MS_RDONLY),
            "rw after ro clears it"
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, "");
    }

    #[test]
    fn sysctl_keys_map_to_proc_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_unprivileged_port_start"),
            Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0/1.forwarding"),
            Path::new("/proc/sys/net/ipv4/conf/eth0.1/forwarding")
        );
    }

    #[test]
    fn resolution_stays_in_root_and_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/dir")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        symlink("real/dir", root.join("rel")).unwrap();
        symlink("../../real", root.join("real/dir/up")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/abs/dir/x")).unwrap(),
            root.join("real/dir/x")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/rel/new/deeper")).unwrap(),
            root.join("real/dir/new/deeper")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/real/dir/up/dir")).unwrap(),
            root.join("real/dir")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/../../etc")).unwrap(),
            root.join("etc"),
            "a literal .. at the root stays at the root"
        );
    }

    #[test]
    fn symlink_climbing_out_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).unwrap();
        symlink("../../../../tmp", root.join("a/escape")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/a/escape/x")),
            Err(ResolveError::Escapes {
                symlink: root.join("a/escape")
            })
        );
    }

    #[test]
    fn symlink_loops_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/a")),
            Err(ResolveError::TooManyLinks)
        );
    }
}
