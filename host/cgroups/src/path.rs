//! The OCI `linux.cgroupsPath` and the caller's own cgroups.
//!
//! OCI runtime spec, config-linux.md "Cgroups path": an absolute path is
//! relative to the cgroup mount point of each hierarchy; a relative path
//! may be interpreted relative to a runtime-chosen location, and like runc we
//! take the calling process's own cgroup (`/proc/self/cgroup`) for each
//! hierarchy. The `slice:prefix:name` form belongs to the systemd cgroup
//! driver, which berth does not implement.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::common::Controller;
use crate::error::{CgroupError, Result};
use crate::mountinfo::Mount;

/// A validated OCI `cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsPath {
    /// `/a/b`: below each hierarchy's mount point.
    Absolute(PathBuf),
    /// `a/b`: below the caller's own cgroup in each hierarchy.
    Relative(PathBuf),
}

impl CgroupsPath {
    /// Validates `path`: not empty, no `..` (a path must not climb out of
    /// the hierarchy), no systemd `slice:prefix:name` form.
    pub fn parse(path: &str) -> Result<CgroupsPath> {
        if path.contains(':') {
            return Err(CgroupError::SystemdPathUnsupported {
                path: path.to_string(),
            });
        }
        let invalid = |reason| CgroupError::InvalidPath {
            path: path.to_string(),
            reason,
        };
        let mut clean = PathBuf::new();
        for component in Path::new(path).components() {
            match component {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(part) => clean.push(part),
                Component::ParentDir => return Err(invalid("`..` is not allowed")),
                Component::Prefix(_) => return Err(invalid("not a Unix path")),
            }
        }
        if clean.as_os_str().is_empty() {
            return Err(invalid("the path names no cgroup below the root"));
        }
        if path.starts_with('/') {
            Ok(CgroupsPath::Absolute(Path::new("/").join(clean)))
        } else {
            Ok(CgroupsPath::Relative(clean))
        }
    }

    /// The directory of this cgroup in a hierarchy mounted at `mount`, given
    /// the caller's own cgroup in that hierarchy (needed for relative paths
    /// only; `None` when unknown).
    pub(crate) fn dir_in(
        &self,
        mount: &Mount,
        own: Option<&Path>,
        hierarchy: &str,
    ) -> Result<PathBuf> {
        let below_mount = match self {
            CgroupsPath::Absolute(path) => path.clone(),
            CgroupsPath::Relative(path) => {
                let own = own.ok_or_else(|| CgroupError::OwnCgroupUnknown {
                    hierarchy: hierarchy.to_string(),
                })?;
                // /proc/self/cgroup paths are relative to the hierarchy's
                // root; when only a sub-tree is mounted (mountinfo root
                // field), strip that sub-tree to get a path below the mount.
                let own = own.strip_prefix(&mount.root).unwrap_or(own);
                Path::new("/").join(own).join(path)
            }
        };
        Ok(crate::common::join_cgroup(&mount.mount_point, &below_mount))
    }
}

/// The calling process's cgroup in each hierarchy, from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    v1: BTreeMap<Controller, PathBuf>,
    unified: Option<PathBuf>,
}

impl OwnCgroups {
    /// Reads `/proc/self/cgroup`.
    pub fn from_proc_self() -> Result<OwnCgroups> {
        let path = Path::new("/proc/self/cgroup");
        let text = crate::common::read(path)?;
        OwnCgroups::parse(&text)
    }

    /// Parses cgroups(7) `/proc/<pid>/cgroup` lines
    /// `hierarchy-id:controller-list:path`; the v2 line is `0::path`.
    pub fn parse(text: &str) -> Result<OwnCgroups> {
        let mut own = OwnCgroups::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut fields = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(CgroupError::Parse {
                    path: PathBuf::from("/proc/self/cgroup"),
                    content: line.to_string(),
                    reason: "expected `id:controllers:path`".to_string(),
                });
            };
            if id == "0" && controllers.is_empty() {
                own.unified = Some(PathBuf::from(path));
                continue;
            }
            for name in controllers.split(',') {
                if let Some(controller) = Controller::from_name(name) {
                    own.v1.insert(controller, PathBuf::from(path));
                }
            }
        }
        Ok(own)
    }

    /// Own cgroup in the v1 hierarchy of `controller`.
    pub fn v1(&self, controller: Controller) -> Option<&Path> {
        self.v1.get(&controller).map(PathBuf::as_path)
    }

    /// Own cgroup in the v2 hierarchy.
    pub fn unified(&self) -> Option<&Path> {
        self.unified.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_systemd_paths() {
        assert_eq!(
            CgroupsPath::parse("/berth/abc").unwrap(),
            CgroupsPath::Absolute(PathBuf::from("/berth/abc"))
        );
        assert_eq!(
            CgroupsPath::parse("berth//./abc").unwrap(),
            CgroupsPath::Relative(PathBuf::from("berth/abc"))
        );
        let err = CgroupsPath::parse("system.slice:berth:abc").unwrap_err();
        assert!(
            err.to_string()
                .contains("systemd cgroup driver not supported")
                || err
                    .to_string()
                    .contains("systemd cgroup driver is not supported"),
            "{err}"
        );
        assert!(matches!(
            CgroupsPath::parse("/a/../../etc").unwrap_err(),
            CgroupError::InvalidPath { .. }
        ));
        assert!(CgroupsPath::parse("/").is_err());
        assert!(CgroupsPath::parse("").is_err());
    }

    #[test]
    fn own_cgroups_parse_v1_comounted_and_v2() {
        let own = OwnCgroups::parse(
            "9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/user.slice\n0::/init.scope\n",
        )
        .unwrap();
        assert_eq!(
            own.v1(Controller::Memory),
            Some(Path::new("/process_api/x"))
        );
        assert_eq!(own.v1(Controller::Cpu), Some(Path::new("/user.slice")));
        assert_eq!(own.v1(Controller::CpuAcct), Some(Path::new("/user.slice")));
        assert_eq!(own.v1(Controller::Pids), None);
        assert_eq!(own.unified(), Some(Path::new("/init.scope")));
    }

    #[test]
    fn relative_paths_resolve_below_own_cgroup_minus_mount_root() {
        let mount = Mount {
            mount_point: PathBuf::from("/sys/fs/cgroup/memory"),
            root: PathBuf::from("/docker/abc"),
        };
        let rel = CgroupsPath::parse("child").unwrap();
        let dir = rel
            .dir_in(&mount, Some(Path::new("/docker/abc/sub")), "memory")
            .unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/sub/child"));
        let abs = CgroupsPath::parse("/x").unwrap();
        assert_eq!(
            abs.dir_in(&mount, None, "memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/x")
        );
        assert!(matches!(
            rel.dir_in(&mount, None, "memory").unwrap_err(),
            CgroupError::OwnCgroupUnknown { .. }
        ));
    }
}
