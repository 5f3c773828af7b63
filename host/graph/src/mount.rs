//! The kernel seam for mounts: [`Mounter`], with the real
//! [`KernelMounter`] and the [`RecordingMounter`] fake used by unit tests
//! (here and in crates that embed the graph).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Mounts and unmounts overlay filesystems.
pub trait Mounter: Send + Sync {
    /// `mount -t overlay overlay -o <options> <target>`.
    fn mount_overlay(&self, options: &str, target: &Path) -> io::Result<()>;
    /// Unmounts `target`.
    fn unmount(&self, target: &Path) -> io::Result<()>;
    /// Whether something is mounted exactly at `target`.
    fn is_mounted(&self, target: &Path) -> io::Result<bool>;
    /// Whether this process can use overlay layers at all: the kernel has
    /// overlayfs and we may create its whiteouts (device nodes: root).
    fn overlay_supported(&self) -> bool;
}

/// The real thing: `mount(2)`, `umount2(2)` and `/proc/self/mountinfo`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelMounter;

impl Mounter for KernelMounter {
    fn mount_overlay(&self, options: &str, target: &Path) -> io::Result<()> {
        let data = std::ffi::CString::new(options).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "mount options contain NUL")
        })?;
        rustix::mount::mount(
            "overlay",
            target,
            "overlay",
            rustix::mount::MountFlags::empty(),
            Some(data.as_c_str()),
        )
        .map_err(io::Error::from)
    }

    fn unmount(&self, target: &Path) -> io::Result<()> {
        use rustix::mount::{UnmountFlags, unmount};
        match unmount(target, UnmountFlags::empty()) {
            // Something (a process that outlived its container, a shell in
            // the merged dir) still holds it: detach it from the tree now,
            // the kernel frees it when the last user goes (what Docker's
            // overlay2 driver does with MNT_DETACH).
            Err(rustix::io::Errno::BUSY) => {
                unmount(target, UnmountFlags::DETACH).map_err(io::Error::from)
            }
            other => other.map_err(io::Error::from),
        }
    }

    fn is_mounted(&self, target: &Path) -> io::Result<bool> {
        is_mount_root(target)
    }

    fn overlay_supported(&self) -> bool {
        if !rustix::process::geteuid().is_root() {
            return false;
        }
        // proc(5): /proc/filesystems lists the filesystem types the kernel
        // supports; overlay may be a module that loads on first mount, so an
        // absent line is not final, but the mount probe decides anyway.
        std::fs::read_to_string("/proc/filesystems")
            .map(|s| {
                s.lines()
                    .any(|l| l.split_whitespace().last() == Some("overlay"))
            })
            .unwrap_or(false)
            || Path::new("/sys/module/overlay").exists()
    }
}

/// Whether something is mounted exactly at `target`, from statx(2)'s
/// `STATX_ATTR_MOUNT_ROOT` (Linux 5.8): one call, where reading the mount
/// table costs in proportion to the mounts (every container's rootfs and
/// more), on each start, each exit and for each container at a daemon's
/// start. A kernel that does not report the attribute gets the mount
/// table. For the graph's own overlay mount points only: resolving a
/// mount's root revalidates it, which on a network file system may wait
/// on the network.
pub fn is_mount_root(target: &Path) -> io::Result<bool> {
    use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
    use rustix::io::Errno;
    match statx(CWD, target, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::TYPE) {
        Ok(st) => {
            if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) {
                return Ok(st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT));
            }
        }
        // Nothing there, so nothing mounted there.
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mountinfo_has_mount_point(&info, target))
}

/// Every mount point of a `/proc/self/mountinfo` text (octal escapes
/// undone, as in [`mountinfo_has_mount_point`]).
pub fn mountinfo_mount_points(info: &str) -> std::collections::HashSet<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| std::ffi::OsString::from_vec(unescape_octal(field)).into())
        .collect()
}

/// Whether a `/proc/self/mountinfo` text has a mount at `target`.
///
/// Field 5 is the mount point, with space, tab, newline and backslash
/// escaped as octal (`\040`); see proc(5).
pub fn mountinfo_has_mount_point(info: &str, target: &Path) -> bool {
    let target = target.as_os_str().as_encoded_bytes();
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|field| unescape_octal(field) == target)
}

fn unescape_octal(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(byte) = octal_escape(&b[i..]) {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The byte of a `\ooo` escape at the start of `b`, if there is one and it
/// fits in a byte (`\777` does not: it is kept as text, not wrapped).
fn octal_escape(b: &[u8]) -> Option<u8> {
    let [b'\\', digits @ ..] = b.get(..4)? else {
        return None;
    };
    digits.iter().try_fold(0u8, |value, &d| {
        let digit = d.checked_sub(b'0').filter(|d| *d < 8)?;
        value.checked_mul(8)?.checked_add(digit)
    })
}

/// One call seen by a [`RecordingMounter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountCall {
    /// `mount_overlay(options, target)`.
    Mount {
        /// The option string.
        options: String,
        /// The mount point.
        target: PathBuf,
    },
    /// `unmount(target)`.
    Unmount {
        /// The mount point.
        target: PathBuf,
    },
}

/// A fake [`Mounter`] that records calls, tracks what is "mounted" and can be
/// told to fail. Mounting does not touch the filesystem.
#[derive(Debug)]
pub struct RecordingMounter {
    state: Mutex<RecordingState>,
    overlay_supported: bool,
}

#[derive(Debug, Default)]
struct RecordingState {
    calls: Vec<MountCall>,
    mounted: Vec<PathBuf>,
    fail_next_mount: Option<io::ErrorKind>,
}

impl Default for RecordingMounter {
    fn default() -> Self {
        Self::new(true)
    }
}

impl RecordingMounter {
    /// A fake whose `overlay_supported` answers `overlay_supported`.
    pub fn new(overlay_supported: bool) -> Self {
        Self {
            state: Mutex::new(RecordingState::default()),
            overlay_supported,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecordingState> {
        // A panic while holding this lock can only come from a test that is
        // failing anyway; keep going with the data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<MountCall> {
        self.lock().calls.clone()
    }

    /// What is mounted now.
    pub fn mounted(&self) -> Vec<PathBuf> {
        self.lock().mounted.clone()
    }

    /// Makes the next `mount_overlay` fail with `kind`.
    pub fn fail_next_mount(&self, kind: io::ErrorKind) {
        self.lock().fail_next_mount = Some(kind);
    }
}

impl Mounter for RecordingMounter {
    fn mount_overlay(&self, options: &str, target: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.calls.push(MountCall::Mount {
            options: options.to_owned(),
            target: target.to_path_buf(),
        });
        if let Some(kind) = s.fail_next_mount.take() {
            return Err(io::Error::new(kind, "injected mount failure"));
        }
        s.mounted.push(target.to_path_buf());
        Ok(())
    }

    fn unmount(&self, target: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.calls.push(MountCall::Unmount {
            target: target.to_path_buf(),
        });
        match s.mounted.iter().position(|m| m == target) {
            Some(i) => {
                s.mounted.remove(i);
                Ok(())
            }
            None => Err(io::Error::from_raw_os_error(
                rustix::io::Errno::INVAL.raw_os_error(),
            )),
        }
    }

    fn is_mounted(&self, target: &Path) -> io::Result<bool> {
        Ok(self.lock().mounted.iter().any(|m| m == target))
    }

    fn overlay_supported(&self) -> bool {
        self.overlay_supported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_matching_unescapes_octal() {
        let info = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    99 22 0:50 / /var/lib/with\\040space/merged rw - overlay overlay rw,lowerdir=x\n";
        assert!(mountinfo_has_mount_point(info, Path::new("/proc")));
        assert!(mountinfo_has_mount_point(
            info,
            Path::new("/var/lib/with space/merged")
        ));
        assert!(!mountinfo_has_mount_point(info, Path::new("/var/lib")));
        assert!(!mountinfo_has_mount_point(info, Path::new("/pro")));
        let points = mountinfo_mount_points(info);
        assert_eq!(points.len(), 2);
        assert!(points.contains(Path::new("/var/lib/with space/merged")));
    }

    #[test]
    fn a_mount_root_is_told_from_a_directory_and_agrees_with_the_mount_table() {
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let dir = tempfile::tempdir().expect("tempdir");
        for path in [
            Path::new("/"),
            Path::new("/proc"),
            Path::new("/proc/sys"),
            dir.path(),
        ] {
            assert_eq!(
                is_mount_root(path).expect("statx"),
                mountinfo_has_mount_point(&info, path),
                "{}",
                path.display()
            );
        }
        assert!(is_mount_root(Path::new("/proc")).expect("statx"));
        assert!(!is_mount_root(dir.path()).expect("statx"));
        assert!(!is_mount_root(&dir.path().join("missing")).expect("missing"));
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        assert!(!is_mount_root(&file.join("below")).expect("under a file"));
    }

    #[test]
    fn escapes_beyond_a_byte_stay_text_instead_of_overflowing() {
        let info = "99 22 0:50 / /x\\777y\\134 rw - overlay overlay rw\n";
        assert!(mountinfo_has_mount_point(info, Path::new("/x\\777y\\")));
        assert_eq!(unescape_octal("\\400\\377"), b"\\400\xff");
    }

    #[test]
    fn recording_mounter_tracks_state_and_injects_failures() {
        let m = RecordingMounter::default();
        let t = Path::new("/x/merged");
        m.mount_overlay("lowerdir=/a", t).unwrap();
        assert!(m.is_mounted(t).unwrap());
        m.unmount(t).unwrap();
        assert!(!m.is_mounted(t).unwrap());
        assert!(m.unmount(t).is_err(), "unmounting twice fails like EINVAL");
        m.fail_next_mount(io::ErrorKind::PermissionDenied);
        assert!(m.mount_overlay("o", t).is_err());
        assert!(m.mount_overlay("o", t).is_ok());
        assert_eq!(m.calls().len(), 5);
    }
}
