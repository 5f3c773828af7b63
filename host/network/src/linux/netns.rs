//! Named network namespaces: an nsfs file bind-mounted onto a file, the
//! way `ip netns add` (iproute2 `ip/ipnetns.c`) and netavark keep one
//! alive without a process in it.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::statfs::{NSFS_MAGIC, statfs};

use super::links;
use super::thread::{block_on_netlink, in_netns};
use crate::NetworkError;

/// Whether `path` is already a mounted namespace (a create that finished).
fn is_mounted_netns(path: &Path) -> bool {
    statfs(path).is_ok_and(|fs| fs.filesystem_type() == NSFS_MAGIC)
}

pub(crate) fn create(path: &Path) -> Result<(), NetworkError> {
    if is_mounted_netns(path) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NetworkError::Io {
            op: "create the netns directory",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // The mount point; a file left by a create that crashed before its
    // mount is reused.
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o444)
        .open(path)
        .map_err(|source| NetworkError::Io {
            op: "create the netns file",
            path: path.to_path_buf(),
            source,
        })?;
    let made = in_netns(None, || {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|source| NetworkError::Sys {
            op: "unshare a network namespace for",
            object: path.display().to_string(),
            source,
        })?;
        // /proc/thread-self: this thread's namespace, not the process's
        // (proc(5)); the thread is discarded after, the mount keeps it.
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|source| NetworkError::Sys {
            op: "bind-mount the network namespace onto",
            object: path.display().to_string(),
            source,
        })?;
        block_on_netlink(|handle| async move { links::set_up_by_name(&handle, "lo").await })
    });
    if made.is_err() {
        let _ = remove(path);
    }
    made
}

pub(crate) fn remove(path: &Path) -> Result<(), NetworkError> {
    // MNT_DETACH: a process still holding the namespace open (a container
    // being torn down) must not make the removal fail; the namespace goes
    // when its last user does.
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(source) => {
            return Err(NetworkError::Sys {
                op: "unmount the network namespace",
                object: path.display().to_string(),
                source,
            });
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetworkError::Io {
            op: "remove the netns file",
            path: path.to_path_buf(),
            source,
        }),
    }
}
