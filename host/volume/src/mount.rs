//! The `local` driver's mount options (moby `volume/local/local_unix.go`):
//! `type`, `device` and `o` make a volume a mount of its own (a tmpfs, a
//! bind of a host directory, a block device), mounted on its `_data`
//! directory when the first container using it starts and unmounted when
//! the last one stops.
//!
//! The options are validated at create ([`MountOptions::parse`], moby's
//! `validateOpts` messages verbatim); the `o` string is split as moby's
//! `github.com/moby/sys/mount` `parseOptions` does (flag words become
//! mount(2) flags, the rest the data string). The kernel work is behind
//! [`VolumeMounter`], with [`RecordingMounter`] for tests.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::mount::{MntFlags, MsFlags};

/// The options moby's local driver knows (`validOpts`).
const VALID: [&str; 4] = ["type", "o", "device", "size"];

/// moby `mandatoryOpts`, in a fixed order (Go's map order is random, so
/// moby names any missing one; berth names the first in this order).
const MANDATORY: [(&str, &[&str]); 3] = [
    ("device", &["type"]),
    ("type", &["device"]),
    ("o", &["device", "type"]),
];

/// An option set the local driver refuses (messages: moby's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// A key moby's driver does not know.
    #[error("invalid option: {0:?}")]
    Unknown(String),
    /// A key that needs another.
    #[error("missing required option: {0:?}")]
    Missing(String),
    /// `size`: moby's XFS project quota, which berth has no support for.
    #[error("quota size requested but no quota support")]
    Quota,
}

/// The mount(2) flag words of `o` (moby/sys/mount `flags`): the flag, and
/// whether the word clears it instead of setting it.
fn flag_word(word: &str) -> Option<(MsFlags, bool)> {
    Some(match word {
        "defaults" => (MsFlags::empty(), false),
        "ro" => (MsFlags::MS_RDONLY, false),
        "rw" => (MsFlags::MS_RDONLY, true),
        "suid" => (MsFlags::MS_NOSUID, true),
        "nosuid" => (MsFlags::MS_NOSUID, false),
        "dev" => (MsFlags::MS_NODEV, true),
        "nodev" => (MsFlags::MS_NODEV, false),
        "exec" => (MsFlags::MS_NOEXEC, true),
        "noexec" => (MsFlags::MS_NOEXEC, false),
        "sync" => (MsFlags::MS_SYNCHRONOUS, false),
        "async" => (MsFlags::MS_SYNCHRONOUS, true),
        "dirsync" => (MsFlags::MS_DIRSYNC, false),
        "remount" => (MsFlags::MS_REMOUNT, false),
        "mand" => (MsFlags::MS_MANDLOCK, false),
        "nomand" => (MsFlags::MS_MANDLOCK, true),
        "atime" => (MsFlags::MS_NOATIME, true),
        "noatime" => (MsFlags::MS_NOATIME, false),
        "diratime" => (MsFlags::MS_NODIRATIME, true),
        "nodiratime" => (MsFlags::MS_NODIRATIME, false),
        "bind" => (MsFlags::MS_BIND, false),
        "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, false),
        "relatime" => (MsFlags::MS_RELATIME, false),
        "norelatime" => (MsFlags::MS_RELATIME, true),
        "strictatime" => (MsFlags::MS_STRICTATIME, false),
        "nostrictatime" => (MsFlags::MS_STRICTATIME, true),
        _ => return None,
    })
}

/// A volume's own mount, from its validated options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `device`: what is mounted (a path for a bind, any name for tmpfs).
    pub device: String,
    /// `type`: the file-system type (`none` with `o=bind`).
    pub fstype: String,
    /// The flag words of `o`.
    pub flags: MsFlags,
    /// The rest of `o`, for the file system (`size=10m`).
    pub data: String,
}

impl MountOptions {
    /// Validates a create's options as moby's `validateOpts`; `None` when
    /// they ask for no mount (no options at all).
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Option<MountOptions>, OptionError> {
        if options.is_empty() {
            return Ok(None);
        }
        if let Some(key) = options.keys().find(|k| !VALID.contains(&k.as_str())) {
            return Err(OptionError::Unknown(key.clone()));
        }
        if options.contains_key("size") {
            return Err(OptionError::Quota);
        }
        for (key, needs) in MANDATORY {
            if options.contains_key(key)
                && let Some(missing) = needs.iter().find(|n| !options.contains_key(**n))
            {
                return Err(OptionError::Missing((*missing).to_owned()));
            }
        }
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for word in options
            .get("o")
            .map(String::as_str)
            .unwrap_or("")
            .split(',')
        {
            match flag_word(word) {
                Some((flag, false)) => flags |= flag,
                Some((flag, true)) => flags &= !flag,
                None if word.is_empty() => {}
                None => data.push(word),
            }
        }
        Ok(Some(MountOptions {
            device: options.get("device").cloned().unwrap_or_default(),
            fstype: options.get("type").cloned().unwrap_or_default(),
            flags,
            data: data.join(","),
        }))
    }
}

/// The kernel side of a volume's own mount.
pub trait VolumeMounter: Send + Sync + std::fmt::Debug {
    /// Mounts `options` on `target`.
    fn mount(&self, options: &MountOptions, target: &Path) -> std::io::Result<()>;
    /// Unmounts `target`.
    fn unmount(&self, target: &Path) -> std::io::Result<()>;
    /// Whether something is mounted exactly at `target` (a mount an
    /// earlier daemon left, at this one's start).
    fn is_mounted(&self, target: &Path) -> std::io::Result<bool> {
        Ok(self.mount_points()?.contains(target))
    }
    /// Every mount point, read once (a daemon's start checks each volume
    /// against one reading rather than reading the table per volume).
    fn mount_points(&self) -> std::io::Result<HashSet<PathBuf>>;
}

/// mount(2) and umount2(2).
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelMounter;

impl VolumeMounter for KernelMounter {
    fn mount(&self, options: &MountOptions, target: &Path) -> std::io::Result<()> {
        let data = (!options.data.is_empty()).then_some(options.data.as_str());
        let fstype = (!options.fstype.is_empty()).then_some(options.fstype.as_str());
        nix::mount::mount(
            Some(options.device.as_str()),
            target,
            fstype,
            options.flags,
            data,
        )?;
        // moby/sys/mount: a bind ignores MS_RDONLY on the first call;
        // read-only takes a remount of the bind.
        let bind_ro = MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        if options.flags.contains(bind_ro) {
            let remount = nix::mount::mount(
                None::<&str>,
                target,
                None::<&str>,
                options.flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            );
            if let Err(e) = remount {
                // Nothing stays mounted after a failure.
                let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn unmount(&self, target: &Path) -> std::io::Result<()> {
        // MNT_DETACH: a process that still has a file open there (a `cp`
        // in flight) does not keep the mount on the data directory.
        nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(Into::into)
    }

    fn mount_points(&self) -> std::io::Result<HashSet<PathBuf>> {
        // proc(5): field 5 of each line is a mount point; the graph
        // driver's reader undoes the kernel's octal escapes. Not statx's
        // mount-root attribute (the graph's check): resolving a network
        // file system's root may wait on its server.
        let info = std::fs::read_to_string("/proc/self/mountinfo")?;
        Ok(berth_graph::mount::mountinfo_mount_points(&info))
    }
}

/// What a [`RecordingMounter`] was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountCall {
    /// A mount of `device` (type `fstype`, data `data`) on `target`.
    Mount {
        /// `device`.
        device: String,
        /// `type`.
        fstype: String,
        /// The data part of `o`.
        data: String,
        /// Where.
        target: PathBuf,
    },
    /// An unmount of `target`.
    Unmount(PathBuf),
}

/// A fake [`VolumeMounter`]: records the calls and keeps a mount table
/// (target → device) as the kernel would; fails mounts of the device named
/// [`RecordingMounter::FAIL_DEVICE`], unmounts of one mounted from
/// [`RecordingMounter::FAIL_UNMOUNT_DEVICE`], and unmounts of what is not
/// mounted (EINVAL, as umount2(2)).
#[derive(Debug, Clone, Default)]
pub struct RecordingMounter {
    calls: Arc<Mutex<Vec<MountCall>>>,
    mounted: Arc<Mutex<BTreeMap<PathBuf, String>>>,
}

impl RecordingMounter {
    /// A device whose mount fails (EINVAL).
    pub const FAIL_DEVICE: &str = "fail";
    /// A device that mounts, but whose unmount fails (EBUSY).
    pub const FAIL_UNMOUNT_DEVICE: &str = "busy";

    /// The calls so far.
    pub fn calls(&self) -> Vec<MountCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Puts a mount of `device` at `target` in the table without a call:
    /// what an earlier daemon left mounted.
    pub fn left_mounted(&self, target: &Path, device: &str) {
        if let Ok(mut mounted) = self.mounted.lock() {
            mounted.insert(target.to_owned(), device.to_owned());
        }
    }

    /// Takes the mount at `target` out of the table without a call: an
    /// admin's `umount` behind the driver's back.
    pub fn unmounted_outside(&self, target: &Path) {
        if let Ok(mut mounted) = self.mounted.lock() {
            mounted.remove(target);
        }
    }

    fn record(&self, call: MountCall) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

impl VolumeMounter for RecordingMounter {
    fn mount(&self, options: &MountOptions, target: &Path) -> std::io::Result<()> {
        if options.device == Self::FAIL_DEVICE {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.record(MountCall::Mount {
            device: options.device.clone(),
            fstype: options.fstype.clone(),
            data: options.data.clone(),
            target: target.to_owned(),
        });
        self.left_mounted(target, &options.device);
        Ok(())
    }

    fn unmount(&self, target: &Path) -> std::io::Result<()> {
        self.record(MountCall::Unmount(target.to_owned()));
        let mut mounted = self
            .mounted
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        match mounted.get(target).map(String::as_str) {
            None => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
            Some(Self::FAIL_UNMOUNT_DEVICE) => Err(std::io::Error::from_raw_os_error(libc::EBUSY)),
            Some(_) => {
                mounted.remove(target);
                Ok(())
            }
        }
    }

    fn mount_points(&self) -> std::io::Result<HashSet<PathBuf>> {
        let mounted = self
            .mounted
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        Ok(mounted.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn validates_as_moby() {
        let err =
            |pairs: &[(&str, &str)]| MountOptions::parse(&opts(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("foo", "bar")]), "invalid option: \"foo\"");
        assert_eq!(
            err(&[("type", "tmpfs")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("device", "tmpfs")]),
            "missing required option: \"type\""
        );
        assert_eq!(
            err(&[("o", "size=1m")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("type", "tmpfs"), ("device", "tmpfs"), ("size", "1m")]),
            "quota size requested but no quota support"
        );
        assert_eq!(MountOptions::parse(&BTreeMap::new()).unwrap(), None);
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        let parsed = MountOptions::parse(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=10m,noexec,uid=1000,rw"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(parsed.flags, MsFlags::MS_NOEXEC);
        assert_eq!(parsed.data, "size=10m,uid=1000");
        let bind = MountOptions::parse(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "bind,ro"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(bind.flags, MsFlags::MS_BIND | MsFlags::MS_RDONLY);
        assert_eq!((bind.fstype.as_str(), bind.data.as_str()), ("none", ""));
    }
}
