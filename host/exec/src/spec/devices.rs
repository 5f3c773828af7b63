//! The host's device nodes, which a `--privileged` container gets in its
//! `/dev` (moby `WithDevices` over containerd's `HostDevices`).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_model::container::{Device, DeviceCgroupRule};
use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use super::SpecError;

/// Directories under `/dev` that are not the host's devices: the
/// container mounts its own `pts`, `shm` and `mqueue`, `fd` is a link to
/// `/proc`, the rest belong to other container managers and udev.
const SKIPPED_DIRS: [&str; 7] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Every character and block device below `dev` (the host's `/dev`), as
/// the container sees it at `/dev/...`, with the node's owner and mode.
/// Symbolic links, FIFOs, sockets and `console` (the container gets its
/// own) are left out.
pub fn host_devices(dev: &Path) -> io::Result<Vec<LinuxDevice>> {
    let mut found = Vec::new();
    walk(dev, Path::new("/dev"), &mut found)?;
    found.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(found)
}

/// `Devices` (`--device`): each host node (symbolic links followed, as
/// moby resolves them) as the container's node at its path, and a device
/// cgroup rule that allows it with the permissions given (moby
/// `WithDevices`). The rules go after Docker's deny-all default, so they
/// are what the container may do with the node on cgroup v1
/// (`devices.allow`) and v2 (libcontainer's eBPF program) alike.
pub fn user_devices(
    devices: &[Device],
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), SpecError> {
    let mut nodes = Vec::with_capacity(devices.len());
    let mut rules = Vec::with_capacity(devices.len());
    for device in devices {
        let host = device.path_on_host.as_str();
        // moby's message (`devices.DeviceFromPath` through `WithDevices`).
        let gathering = |reason: String| SpecError::Device {
            path: host.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(host).map_err(|e| gathering(io_reason(&e)))?;
        let in_container = PathBuf::from(device.path_in_container.as_str());
        let mut found = Vec::new();
        if meta.is_dir() {
            // moby `DevicesFromPath` (`oci/devices_linux.go`): a directory
            // stands for every device node below it, at the same place
            // under the container path; what is not a node (files, links,
            // unreadable entries) is skipped; none at all is its error.
            walk_nodes(Path::new(host), &in_container, &mut found);
            if found.is_empty() {
                return Err(gathering("not a device node".to_owned()));
            }
        } else {
            let typ = node_type(&meta).ok_or_else(|| gathering("not a device node".to_owned()))?;
            found.push((in_container, typ, meta));
        }
        for (path, typ, meta) in found {
            let rdev = meta.rdev();
            let (major, minor) = (i64::from(libc::major(rdev)), i64::from(libc::minor(rdev)));
            nodes.push(
                LinuxDeviceBuilder::default()
                    .path(path)
                    .typ(typ)
                    .major(major)
                    .minor(minor)
                    .file_mode(meta.mode() & 0o777)
                    .uid(meta.uid())
                    .gid(meta.gid())
                    .build()?,
            );
            rules.push(
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(typ)
                    .major(major)
                    .minor(minor)
                    .access(device.permissions())
                    .build()?,
            );
        }
    }
    Ok((nodes, rules))
}

/// The OCI type of a character or block device node.
fn node_type(meta: &std::fs::Metadata) -> Option<LinuxDeviceType> {
    let kind = meta.file_type();
    if kind.is_char_device() {
        Some(LinuxDeviceType::C)
    } else if kind.is_block_device() {
        Some(LinuxDeviceType::B)
    } else {
        None
    }
}

/// The device nodes below host directory `dir` (links not followed, as
/// Go's `filepath.WalkDir` does not), each with its path under
/// `in_container`, in name order.
fn walk_nodes(
    dir: &Path,
    in_container: &Path,
    found: &mut Vec<(PathBuf, LinuxDeviceType, std::fs::Metadata)>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk_nodes(&path, &in_container.join(&name), found);
        } else if let Some(typ) = node_type(&meta) {
            found.push((in_container.join(&name), typ, meta));
        }
    }
}

/// `DeviceCgroupRules` as allow rules (moby `WithDevices`).
pub fn cgroup_rules(rules: &[DeviceCgroupRule]) -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    rules
        .iter()
        .map(|rule| {
            let mut b = LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(match rule.kind() {
                    'b' => LinuxDeviceType::B,
                    'c' => LinuxDeviceType::C,
                    _ => LinuxDeviceType::A,
                })
                .access(rule.access());
            if let Some(major) = rule.major() {
                b = b.major(major);
            }
            if let Some(minor) = rule.minor() {
                b = b.minor(minor);
            }
            Ok(b.build()?)
        })
        .collect()
}

/// An I/O error as Go prints it (`no such file or directory`).
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    // std: "No such file or directory (os error 2)".
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn walk(dir: &Path, in_container: &Path, found: &mut Vec<LinuxDevice>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        // The entry may be gone by now (a hot-unplugged device).
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            if !SKIPPED_DIRS.iter().any(|skipped| name == *skipped) {
                walk(&entry.path(), &in_container.join(&name), found)?;
            }
            continue;
        }
        let typ = if kind.is_char_device() {
            LinuxDeviceType::C
        } else if kind.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        if name == "console" && in_container == Path::new("/dev") {
            continue;
        }
        let rdev = meta.rdev();
        let device = LinuxDeviceBuilder::default()
            .path(PathBuf::from(in_container).join(&name))
            .typ(typ)
            .major(i64::from(libc::major(rdev)))
            .minor(i64::from(libc::minor(rdev)))
            .file_mode(meta.mode() & 0o777)
            .uid(meta.uid())
            .gid(meta.gid())
            .build()
            .map_err(io::Error::other)?;
        found.push(device);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(devices: &'a [LinuxDevice], path: &str) -> Option<&'a LinuxDevice> {
        devices.iter().find(|d| d.path() == Path::new(path))
    }

    #[test]
    fn the_hosts_devices_are_found_with_their_numbers() {
        let devices = host_devices(Path::new("/dev")).expect("walk /dev");
        let null = find(&devices, "/dev/null").expect("/dev/null is a host device");
        assert_eq!(
            (null.typ(), null.major(), null.minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(null.file_mode(), Some(0o666));
        assert!(
            find(&devices, "/dev/console").is_none(),
            "console is skipped"
        );
        assert!(find(&devices, "/dev/stdin").is_none(), "links are skipped");
        // Every entry, nested ones too, is the host node at the same path.
        for d in &devices {
            let path = d.path().to_string_lossy();
            assert!(
                !path.starts_with("/dev/pts/") && !path.starts_with("/dev/shm/"),
                "{path} is the container's own"
            );
            let meta = std::fs::symlink_metadata(d.path()).expect("host node");
            let rdev = meta.rdev();
            assert_eq!(
                (i64::from(libc::major(rdev)), i64::from(libc::minor(rdev))),
                (d.major(), d.minor()),
                "{path}"
            );
            let kind = meta.file_type();
            assert_eq!(
                d.typ(),
                if kind.is_block_device() {
                    LinuxDeviceType::B
                } else {
                    LinuxDeviceType::C
                },
                "{path}"
            );
        }
    }

    #[test]
    #[allow(unsafe_code)] // mkfifo(3) has no safe wrapper in this crate's dependencies
    fn files_links_fifos_and_skipped_dirs_are_not_devices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("input");
        std::fs::create_dir(&nested).expect("mkdir input");
        std::fs::write(nested.join("regular"), "x").expect("write file");
        std::os::unix::fs::symlink("/dev/null", nested.join("link")).expect("symlink");
        let fifo =
            std::ffi::CString::new(nested.join("fifo").into_os_string().into_encoded_bytes())
                .expect("path without NUL");
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
        std::fs::create_dir(dir.path().join("pts")).expect("mkdir pts");
        std::os::unix::fs::symlink("/dev/null", dir.path().join("pts/0")).expect("symlink");
        assert!(
            host_devices(dir.path()).expect("walk").is_empty(),
            "no device nodes in the fixture"
        );
        assert!(
            host_devices(&dir.path().join("missing")).is_err(),
            "a missing directory is an error"
        );
    }
}
