//! Which cgroup layout the host uses, found once from the mount table.
//!
//! Three layouts exist in the wild (see the kernel's
//! Documentation/admin-guide/cgroup-v2.rst, "Mounting", and systemd's
//! "unified / hybrid / legacy" terminology):
//! - **unified**: only cgroup2, normally at `/sys/fs/cgroup`;
//! - **legacy**: only v1 hierarchies, one mount per controller or a few
//!   co-mounted ones (`cpu,cpuacct` is common);
//! - **hybrid**: v1 controller hierarchies plus an empty cgroup2 mount at
//!   `/sys/fs/cgroup/unified` used by systemd for process tracking.
//!
//! Like runc, berth treats hybrid as v1: controllers can be enabled in only
//! one version at a time and on a hybrid host they all live in v1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{Controller, DEFAULT_CGROUP_ROOT};
use crate::error::{CgroupError, Result};

/// Where one cgroup hierarchy is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount point (e.g. `/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The cgroup that is the root of this mount (mountinfo field 4): `/`
    /// on the host, a sub-cgroup when the hierarchy was bind-mounted from a
    /// sub-directory (e.g. inside a container without a cgroup namespace).
    pub root: PathBuf,
}

impl Mount {
    fn at(mount_point: PathBuf) -> Mount {
        Mount {
            mount_point,
            root: PathBuf::from("/"),
        }
    }
}

/// Which cgroup version the host uses for its controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 only.
    Unified,
    /// cgroup v1 only.
    Legacy,
    /// cgroup v1 controllers plus a controller-less cgroup2 mount; managed as v1.
    Hybrid,
}

/// The detected (or, in tests, constructed) layout of the cgroup filesystems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupSetup {
    /// One cgroup2 hierarchy holds every controller.
    Unified(Mount),
    /// v1 hierarchies; `unified` is the controller-less cgroup2 mount of a
    /// hybrid host.
    Legacy {
        /// Mount of each v1 controller; co-mounted controllers share a mount.
        controllers: BTreeMap<Controller, Mount>,
        /// The cgroup2 mount of a hybrid host, if any.
        unified: Option<Mount>,
    },
}

static DETECTED: OnceLock<CgroupSetup> = OnceLock::new();

impl CgroupSetup {
    /// The host's layout, parsed from `/proc/self/mountinfo` on first use and
    /// cached for the life of the process (mounts of cgroupfs do not change
    /// under a running engine).
    pub fn detect() -> Result<&'static CgroupSetup> {
        if let Some(setup) = DETECTED.get() {
            return Ok(setup);
        }
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let setup = CgroupSetup::from_mountinfo(&text)?;
        Ok(DETECTED.get_or_init(|| setup))
    }

    /// Parses a mount table in `/proc/<pid>/mountinfo` format (proc(5)).
    pub fn from_mountinfo(text: &str) -> Result<CgroupSetup> {
        let mut controllers: BTreeMap<Controller, Mount> = BTreeMap::new();
        let mut unified: Vec<Mount> = Vec::new();
        for cgroup in cgroup_mounts(text)? {
            if cgroup.unified {
                unified.push(cgroup.mount);
                continue;
            }
            // v1 super options name the controllers bound to the
            // hierarchy: `rw,cpu,cpuacct`, `rw,name=systemd`, ...
            for option in cgroup.super_options.split(',') {
                if let Some(controller) = Controller::from_name(option) {
                    // The first mount wins, as in runc; later ones are
                    // usually bind mounts of the same hierarchy.
                    controllers
                        .entry(controller)
                        .or_insert_with(|| cgroup.mount.clone());
                }
            }
        }
        if !controllers.is_empty() {
            return Ok(CgroupSetup::Legacy {
                controllers,
                unified: unified.into_iter().next(),
            });
        }
        // Several cgroup2 mounts: prefer the conventional location.
        let preferred = unified
            .iter()
            .position(|m| m.mount_point == Path::new(DEFAULT_CGROUP_ROOT))
            .unwrap_or(0);
        if unified.is_empty() {
            return Err(CgroupError::NoCgroupFs);
        }
        Ok(CgroupSetup::Unified(unified.swap_remove(preferred)))
    }

    /// A v1 layout with every controller mounted separately at
    /// `<root>/<controller>` (this machine's layout; fixture trees).
    pub fn legacy_at(root: &Path) -> CgroupSetup {
        CgroupSetup::Legacy {
            controllers: Controller::ALL
                .into_iter()
                .map(|c| (c, Mount::at(root.join(c.name()))))
                .collect(),
            unified: None,
        }
    }

    /// A v2 layout mounted at `root`.
    pub fn unified_at(root: &Path) -> CgroupSetup {
        CgroupSetup::Unified(Mount::at(root.to_path_buf()))
    }

    /// Which version manages the controllers.
    pub fn mode(&self) -> CgroupMode {
        match self {
            CgroupSetup::Unified(_) => CgroupMode::Unified,
            CgroupSetup::Legacy { unified: None, .. } => CgroupMode::Legacy,
            CgroupSetup::Legacy {
                unified: Some(_), ..
            } => CgroupMode::Hybrid,
        }
    }
}

/// A cgroup file system in a mount table: a v1 hierarchy or a cgroup2
/// mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted, and which cgroup is the root of the mount.
    pub mount: Mount,
    /// A cgroup2 mount rather than a v1 hierarchy.
    pub unified: bool,
    /// The super options; for v1 they name the hierarchy's controllers
    /// (`rw,cpu,cpuacct`, `rw,xattr,name=systemd`).
    pub super_options: String,
}

impl CgroupMount {
    /// Whether `option` (a controller as `/proc/self/cgroup` names it:
    /// `cpu`, `name=systemd`) is among the super options.
    pub fn has_option(&self, option: &str) -> bool {
        self.super_options.split(',').any(|o| o == option)
    }
}

/// The cgroup and cgroup2 mounts of a mount table in `/proc/<pid>/mountinfo`
/// format (proc(5)), in table order; a malformed line is an error.
pub fn cgroup_mounts(text: &str) -> Result<Vec<CgroupMount>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry = MountInfoLine::parse(line)?;
        let unified = match entry.fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        out.push(CgroupMount {
            mount: entry.mount(),
            unified,
            super_options: entry.super_options.to_string(),
        });
    }
    Ok(out)
}

/// The fields of one mountinfo line that matter here.
struct MountInfoLine<'a> {
    root: PathBuf,
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountInfoLine<'a> {
    /// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`:
    /// six fixed fields, optional fields up to a lone `-`, then fstype,
    /// source and super options (proc(5)).
    fn parse(line: &'a str) -> Result<MountInfoLine<'a>> {
        let malformed = |reason| CgroupError::MountInfo {
            line: line.to_string(),
            reason,
        };
        let (before, after) = line
            .split_once(" - ")
            .ok_or_else(|| malformed("no ` - ` separator"))?;
        let fixed: Vec<&str> = before.split(' ').collect();
        if fixed.len() < 6 {
            return Err(malformed("fewer than six fields before the separator"));
        }
        let mut tail = after.split(' ');
        let fstype = tail.next().ok_or_else(|| malformed("no filesystem type"))?;
        let _source = tail.next().ok_or_else(|| malformed("no mount source"))?;
        let super_options = tail.next().ok_or_else(|| malformed("no super options"))?;
        Ok(MountInfoLine {
            root: PathBuf::from(unescape(fixed[3])),
            mount_point: PathBuf::from(unescape(fixed[4])),
            fstype,
            super_options,
        })
    }

    fn mount(&self) -> Mount {
        Mount {
            mount_point: self.mount_point.clone(),
            root: self.root.clone(),
        }
    }
}

/// Undoes the kernel's octal escaping of space, tab, newline and backslash
/// in mountinfo paths (`\040` etc.).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const UNIFIED: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const COMOUNTED_V1: &str = "\
25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,mode=755
27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,cpu,cpuacct
28 25 0:25 /docker/abc /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_is_managed_as_v1_with_separate_cpu_and_cpuacct() {
        let setup = CgroupSetup::from_mountinfo(HYBRID).unwrap();
        assert_eq!(setup.mode(), CgroupMode::Hybrid);
        let CgroupSetup::Legacy {
            controllers,
            unified,
        } = setup
        else {
            panic!("hybrid must be legacy");
        };
        // Blkio included: containers join it, as with runc.
        assert_eq!(controllers.len(), 8);
        assert_eq!(
            controllers[&Controller::Cpu].mount_point,
            Path::new("/sys/fs/cgroup/cpu")
        );
        assert_eq!(
            controllers[&Controller::CpuAcct].mount_point,
            Path::new("/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            unified.unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn unified_is_v2() {
        let setup = CgroupSetup::from_mountinfo(UNIFIED).unwrap();
        assert_eq!(setup.mode(), CgroupMode::Unified);
        assert_eq!(setup, CgroupSetup::unified_at(Path::new("/sys/fs/cgroup")));
    }

    #[test]
    fn co_mounted_cpu_cpuacct_share_a_mount_and_roots_are_kept() {
        let setup = CgroupSetup::from_mountinfo(COMOUNTED_V1).unwrap();
        assert_eq!(setup.mode(), CgroupMode::Legacy);
        let CgroupSetup::Legacy { controllers, .. } = setup else {
            panic!("v1 expected");
        };
        assert_eq!(
            controllers[&Controller::Cpu],
            controllers[&Controller::CpuAcct]
        );
        assert_eq!(
            controllers[&Controller::Cpu].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            controllers[&Controller::Memory].root,
            Path::new("/docker/abc")
        );
        assert!(!controllers.contains_key(&Controller::Freezer));
    }

    #[test]
    fn no_cgroupfs_and_malformed_lines_are_errors() {
        let err =
            CgroupSetup::from_mountinfo("22 1 0:21 / /sys rw - sysfs sysfs rw\n").unwrap_err();
        assert!(matches!(err, CgroupError::NoCgroupFs));
        let err = CgroupSetup::from_mountinfo("garbage line\n").unwrap_err();
        assert!(matches!(err, CgroupError::MountInfo { .. }), "{err}");
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let text = "30 1 0:40 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n";
        let setup = CgroupSetup::from_mountinfo(text).unwrap();
        assert_eq!(setup, CgroupSetup::unified_at(Path::new("/tmp/a b")));
    }
}
