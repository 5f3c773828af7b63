//! cgroup v1: one hierarchy per controller (or per group of co-mounted
//! controllers), see the kernel's Documentation/admin-guide/cgroup-v1/.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
mod freezer;
mod memory;
mod pids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::common::{self, Controller, FreezerState};
use crate::error::{CgroupError, Result};
use crate::manager::CgroupManager;
use crate::mountinfo::Mount;
use crate::path::{CgroupsPath, OwnCgroups};
use crate::stats::Stats;

/// A cgroup in the v1 hierarchies.
#[derive(Debug, Clone)]
pub struct V1Manager {
    /// The cgroup's directory in each mounted controller's hierarchy;
    /// co-mounted controllers map to the same directory.
    dirs: BTreeMap<Controller, PathBuf>,
    /// The cpuset hierarchy's mount point: creating a cpuset cgroup walks
    /// from there to the leaf (see `cpuset::create_with_parents`).
    cpuset_mount: Option<PathBuf>,
}

impl V1Manager {
    /// Resolves `path` in every mounted hierarchy. Controllers that are not
    /// mounted are left out; using them later is an error naming them.
    pub fn new(
        controllers: &BTreeMap<Controller, Mount>,
        path: &CgroupsPath,
        own: &OwnCgroups,
    ) -> Result<V1Manager> {
        let mut dirs = BTreeMap::new();
        for (&controller, mount) in controllers {
            let dir = path.dir_in(mount, own.v1(controller), controller.name())?;
            dirs.insert(controller, dir);
        }
        if dirs.is_empty() {
            return Err(CgroupError::NoCgroupFs);
        }
        let cpuset_mount = controllers
            .get(&Controller::Cpuset)
            .map(|mount| mount.mount_point.clone());
        Ok(V1Manager { dirs, cpuset_mount })
    }

    /// The cgroup's directory in `controller`'s hierarchy.
    pub fn dir(&self, controller: Controller) -> Result<&Path> {
        self.dirs
            .get(&controller)
            .map(PathBuf::as_path)
            .ok_or(CgroupError::ControllerNotMounted { controller })
    }

    /// Every distinct directory (co-mounted controllers share one).
    fn unique_dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = self.dirs.values().map(PathBuf::as_path).collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

impl CgroupManager for V1Manager {
    fn create(&self) -> Result<()> {
        for (controller, dir) in &self.dirs {
            match (controller, &self.cpuset_mount) {
                // A new cpuset cgroup starts with empty cpus/mems and
                // refuses tasks until both are set: copy them down from the
                // parent at every level we create.
                (Controller::Cpuset, Some(mount)) => cpuset::create_with_parents(mount, dir)?,
                _ => common::create_dir_all(dir)?,
            }
        }
        Ok(())
    }

    fn add_task(&self, pid: Pid) -> Result<()> {
        for dir in self.unique_dirs() {
            common::write(&dir.join("cgroup.procs"), pid.as_raw())?;
        }
        Ok(())
    }

    fn self_join_files(&self) -> Option<Vec<PathBuf>> {
        Some(
            self.unique_dirs()
                .into_iter()
                .map(|dir| dir.join("tasks"))
                .collect(),
        )
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        // Validate everything that can be validated before the first write,
        // so that bad input changes nothing.
        if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            // `unified` holds raw cgroup v2 file writes (OCI config-linux.md
            // "Unified"); runc refuses them on v1 too.
            return Err(CgroupError::Unsupported {
                what: "linux.resources.unified",
                version: "cgroup v1",
            });
        }
        common::warn_unapplied(resources);
        let device_rules = match resources.devices() {
            Some(rules) => Some(devices::rules(rules)?),
            None => None,
        };
        let blkio_weight = match resources
            .block_io()
            .as_ref()
            .and_then(|b| b.weight())
            .filter(|w| *w != 0)
        {
            Some(weight) => Some((blkio::weight_file(self.dir(Controller::Blkio)?)?, weight)),
            None => None,
        };
        if let Some(memory) = resources.memory() {
            memory::validate(memory)?;
            if memory::wants_changes(memory) {
                memory::apply(self.dir(Controller::Memory)?, memory)?;
            }
        }
        if let Some(cpu) = resources.cpu() {
            if cpu::wants_changes(cpu) {
                cpu::apply(self.dir(Controller::Cpu)?, cpu)?;
            }
            if cpu.cpus().is_some() || cpu.mems().is_some() {
                cpuset::apply(self.dir(Controller::Cpuset)?, cpu)?;
            }
        }
        if let Some(pids) = resources.pids() {
            pids::apply(self.dir(Controller::Pids)?, pids)?;
        }
        if let Some(rules) = device_rules {
            devices::apply(self.dir(Controller::Devices)?, &rules)?;
        }
        if let Some((path, weight)) = blkio_weight {
            common::write(&path, weight)?;
        }
        Ok(())
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        freezer::set(self.dir(Controller::Freezer)?, state)
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        freezer::get(self.dir(Controller::Freezer)?)
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        // Every hierarchy holds every task; prefer one that is always there.
        let dir = [Controller::Pids, Controller::Memory, Controller::Freezer]
            .into_iter()
            .find_map(|c| self.dirs.get(&c))
            .or_else(|| self.dirs.values().next())
            .ok_or(CgroupError::NoCgroupFs)?;
        common::pids_recursive(dir)
    }

    fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        if let Some(dir) = self.dirs.get(&Controller::Memory) {
            stats.memory = memory::stats(dir)?;
        }
        if let Some(dir) = self.dirs.get(&Controller::CpuAcct) {
            stats.cpu.usage = cpuacct::usage(dir)?;
        }
        if let Some(dir) = self.dirs.get(&Controller::Cpu) {
            stats.cpu.throttling = cpu::throttling(dir)?;
        }
        if let Some(dir) = self.dirs.get(&Controller::Pids) {
            stats.pids = pids::stats(dir)?;
        }
        if let Some(dir) = self.dirs.get(&Controller::Blkio) {
            stats.blkio = blkio::stats(dir)?;
        }
        Ok(stats)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        memory::oom_kill_count(self.dir(Controller::Memory)?)
    }

    fn remove(&self) -> Result<()> {
        // Try every hierarchy even if one fails, then report the first error.
        let deadline = std::time::Instant::now() + common::REMOVE_TIMEOUT;
        let mut first_error = None;
        for dir in self.unique_dirs() {
            if let Err(e) = common::remove_tree(dir, deadline) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        self.unique_dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect()
    }
}

#[cfg(test)]
mod tests;

pub(crate) use devices::{DeviceRule, rules as device_rules};
pub(crate) use pids::{pids_max as pids_max_value, stats as pids_stats};
