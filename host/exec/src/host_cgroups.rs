//! What the host's cgroup filesystems offer the exec driver, found once at
//! daemon start, and the daemon-wide cgroup parent.
//!
//! dockerd probes the same facts at start (moby `pkg/sysinfo`,
//! `sysinfo_linux.go`): a missing knob turns the matching `HostConfig`
//! field into a warning (swap) or an error (cpuset, CFS) instead of a
//! container that fails to start. berth reads them from the layout
//! [`CgroupSetup`] found in the mount table, so unit tests run against
//! fixture trees built with [`CgroupSetup::legacy_at`] and
//! [`CgroupSetup::unified_at`].

use std::io;
use std::path::{Path, PathBuf};

use berth_cgroups::{AnyCgroupManager, CgroupManager, CgroupSetup, CgroupsPath, Controller};
use berth_cgroups::{CgroupError, OwnCgroups};

/// Docker's default `--cgroup-parent` for the cgroupfs driver is `/docker`;
/// berth's is `/berth`.
pub const DEFAULT_CGROUP_PARENT: &str = "/berth";

pub use berth_model::host::CgroupFeatures;

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// What `setup` offers. On v2 the root cgroup has no controller files,
/// so they are looked for in `probe_dir`, a cgroup below the root where
/// the controllers are enabled (berthd's own cgroup), falling back to
/// the controller list of the root.
pub fn probe(setup: &CgroupSetup, probe_dir: Option<&Path>) -> CgroupFeatures {
    match setup {
        CgroupSetup::Legacy { controllers, .. } => {
            let file = |controller: Controller, name: &str| {
                controllers
                    .get(&controller)
                    .is_some_and(|m| m.mount_point.join(name).exists())
            };
            CgroupFeatures {
                version: 1,
                memory_limit: file(Controller::Memory, "memory.limit_in_bytes"),
                swap_limit: file(Controller::Memory, "memory.memsw.limit_in_bytes"),
                cpu_cfs_period: file(Controller::Cpu, "cpu.cfs_period_us"),
                cpu_cfs_quota: file(Controller::Cpu, "cpu.cfs_quota_us"),
                cpu_shares: file(Controller::Cpu, "cpu.shares"),
                cpuset: file(Controller::Cpuset, "cpuset.cpus"),
                pids_limit: controllers.contains_key(&Controller::Pids),
                blkio_weight: file(Controller::Blkio, "blkio.weight")
                    || file(Controller::Blkio, "blkio.bfq.weight"),
                cpus: controllers
                    .get(&Controller::Cpuset)
                    .map_or_else(String::new, |m| {
                        read_trimmed(&m.mount_point.join("cpuset.cpus"))
                    }),
                mems: controllers
                    .get(&Controller::Cpuset)
                    .map_or_else(String::new, |m| {
                        read_trimmed(&m.mount_point.join("cpuset.mems"))
                    }),
            }
        }
        CgroupSetup::Unified(mount) => {
            let enabled = std::fs::read_to_string(mount.mount_point.join("cgroup.controllers"))
                .unwrap_or_default();
            let has = |c: &str| enabled.split_whitespace().any(|e| e == c);
            // The swap files exist only where memory is enabled, never
            // in the root: without a probe dir, trust the controller.
            let swap = match probe_dir {
                Some(dir) if dir.join("memory.max").exists() => {
                    dir.join("memory.swap.max").exists()
                }
                _ => has("memory"),
            };
            // Like the swap files, the weight files exist only below
            // the root, where io is enabled.
            let blkio_weight = match probe_dir {
                Some(dir) => dir.join("io.bfq.weight").exists() || dir.join("io.weight").exists(),
                None => has("io"),
            };
            CgroupFeatures {
                version: 2,
                memory_limit: has("memory"),
                swap_limit: has("memory") && swap,
                cpu_cfs_period: has("cpu"),
                cpu_cfs_quota: has("cpu"),
                cpu_shares: has("cpu"),
                cpuset: has("cpuset"),
                pids_limit: has("pids"),
                blkio_weight,
                cpus: read_trimmed(&mount.mount_point.join("cpuset.cpus.effective")),
                mems: read_trimmed(&mount.mount_point.join("cpuset.mems.effective")),
            }
        }
    }
}

/// What this host offers: the layout from the mount table, on v2 probed
/// in the caller's own cgroup. `None` when no cgroup filesystem is
/// mounted.
pub fn detect() -> Option<CgroupFeatures> {
    let setup = CgroupSetup::detect().ok()?;
    let own_dir = match setup {
        CgroupSetup::Unified(mount) => OwnCgroups::from_proc_self()
            .ok()
            .and_then(|own| own.unified().map(Path::to_path_buf))
            .map(|own| {
                mount
                    .mount_point
                    .join(own.strip_prefix("/").unwrap_or(&own))
            }),
        CgroupSetup::Legacy { .. } => None,
    };
    Some(probe(setup, own_dir.as_deref()))
}

/// Checks a `--cgroup-parent` value: a cgroup path below the root, either
/// absolute (`/berth`) or relative to berthd's own cgroup (`berth`), as
/// Docker's cgroupfs driver takes it; no `..`, no systemd `slice:` form.
pub fn validate_cgroup_parent(parent: &str) -> Result<(), CgroupError> {
    CgroupsPath::parse(parent).map(|_| ())
}

/// Removes the cgroup `parent` from every hierarchy where it is empty (no
/// child cgroups: the kernel refuses to remove a cgroup with children or
/// tasks with `EBUSY`, which is what keeps it while containers run). Best
/// effort: returns the directories that remain, each with the reason.
pub fn remove_cgroup_parent(
    setup: &CgroupSetup,
    own: &OwnCgroups,
    parent: &str,
) -> Result<Vec<(PathBuf, io::Error)>, CgroupError> {
    let path = CgroupsPath::parse(parent)?;
    let manager = AnyCgroupManager::new(setup, &path, own)?;
    let mut dirs = manager.dirs();
    dirs.sort();
    dirs.dedup();
    let mut kept = Vec::new();
    for dir in dirs {
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => kept.push((dir, e)),
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy_fixture(files: &[(&str, &str)]) -> (tempfile::TempDir, CgroupSetup) {
        let dir = tempfile::tempdir().unwrap();
        for c in Controller::ALL {
            std::fs::create_dir_all(dir.path().join(c.name())).unwrap();
        }
        for (controller, file) in files {
            std::fs::write(dir.path().join(controller).join(file), "").unwrap();
        }
        let setup = CgroupSetup::legacy_at(dir.path());
        (dir, setup)
    }

    #[test]
    fn v1_features_follow_the_files() {
        let (dir, setup) = legacy_fixture(&[
            ("memory", "memory.limit_in_bytes"),
            ("memory", "memory.memsw.limit_in_bytes"),
            ("cpu", "cpu.cfs_period_us"),
            ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.shares"),
            ("cpuset", "cpuset.cpus"),
        ]);
        std::fs::write(dir.path().join("cpuset/cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(dir.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        let f = probe(&setup, None);
        assert_eq!((f.cpus.as_str(), f.mems.as_str()), ("0-3", "0"));
        assert_eq!(f.version, 1);
        assert!(f.memory_limit && f.swap_limit && f.cpu_cfs_quota && f.cpuset && f.pids_limit);
    }

    #[test]
    fn blkio_weight_needs_cfqs_or_bfqs_file() {
        let (dir, setup) = legacy_fixture(&[]);
        assert!(!probe(&setup, None).blkio_weight);
        std::fs::write(dir.path().join("blkio/blkio.bfq.weight"), "100\n").unwrap();
        assert!(probe(&setup, None).blkio_weight);
        let (_dir, setup) = legacy_fixture(&[("blkio", "blkio.weight")]);
        assert!(probe(&setup, None).blkio_weight);

        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("berthd.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
        let setup = CgroupSetup::unified_at(dir.path());
        assert!(!probe(&setup, Some(&own)).blkio_weight);
        std::fs::write(own.join("io.weight"), "default 100\n").unwrap();
        assert!(probe(&setup, Some(&own)).blkio_weight);
    }

    #[test]
    fn v1_without_memsw_has_no_swap_limit() {
        let (_dir, setup) = legacy_fixture(&[("memory", "memory.limit_in_bytes")]);
        let f = probe(&setup, None);
        assert!(f.memory_limit);
        assert!(!f.swap_limit);
        assert!(!f.cpu_cfs_quota && !f.cpuset);
    }

    #[test]
    fn v2_swap_needs_memory_swap_max_where_memory_is_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("berthd.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        std::fs::write(own.join("memory.max"), "max\n").unwrap();
        let setup = CgroupSetup::unified_at(dir.path());
        let f = probe(&setup, Some(&own));
        assert_eq!(f.version, 2);
        assert!(f.memory_limit && f.cpu_cfs_period && f.pids_limit && f.cpuset);
        assert!(!f.swap_limit, "no memory.swap.max beside memory.max");
        std::fs::write(own.join("memory.swap.max"), "max\n").unwrap();
        assert!(probe(&setup, Some(&own)).swap_limit);
    }

    #[test]
    fn parent_is_removed_when_empty_and_kept_with_children() {
        let (dir, setup) = legacy_fixture(&[]);
        let own = OwnCgroups::default();
        for c in Controller::ALL {
            std::fs::create_dir_all(dir.path().join(c.name()).join("berth-x/ctr")).unwrap();
        }
        let kept = remove_cgroup_parent(&setup, &own, "/berth-x").unwrap();
        assert_eq!(kept.len(), Controller::ALL.len(), "{kept:?}");
        for c in Controller::ALL {
            std::fs::remove_dir(dir.path().join(c.name()).join("berth-x/ctr")).unwrap();
        }
        assert!(
            remove_cgroup_parent(&setup, &own, "/berth-x")
                .unwrap()
                .is_empty()
        );
        for c in Controller::ALL {
            assert!(!dir.path().join(c.name()).join("berth-x").exists());
        }
        // Already gone: nothing to report.
        assert!(
            remove_cgroup_parent(&setup, &own, "/berth-x")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn parent_must_stay_below_the_root() {
        assert!(validate_cgroup_parent("/berth").is_ok());
        assert!(validate_cgroup_parent("berth/nested").is_ok());
        assert!(validate_cgroup_parent("/").is_err());
        assert!(validate_cgroup_parent("/a/../..").is_err());
        assert!(validate_cgroup_parent("system.slice:berth:x").is_err());
    }
}
