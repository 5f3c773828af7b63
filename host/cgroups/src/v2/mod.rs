//! cgroup v2: one unified hierarchy (Documentation/admin-guide/cgroup-v2.rst).
//!
//! Device rules become an eBPF program; see the `devices` submodule for
//! their semantics (a full `a *:* rwm` rule resets the default, then the
//! last matching rule decides).

mod cpu;
pub use cpu::shares_to_weight;
mod devices;
mod freezer;
mod io;
mod memory;

use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::common::{self, FreezerState};
use crate::error::{CgroupError, Result};
use crate::manager::CgroupManager;
use crate::mountinfo::Mount;
use crate::path::{CgroupsPath, OwnCgroups};
use crate::stats::Stats;

/// Controllers berth enables for its cgroups when the parent offers them.
const WANTED_CONTROLLERS: [&str; 6] = ["cpu", "cpuset", "hugetlb", "io", "memory", "pids"];

/// A cgroup in the unified hierarchy.
#[derive(Debug, Clone)]
pub struct V2Manager {
    mount_point: PathBuf,
    dir: PathBuf,
}

impl V2Manager {
    /// Resolves `path` below the cgroup2 mount.
    pub fn new(mount: &Mount, path: &CgroupsPath, own: &OwnCgroups) -> Result<V2Manager> {
        Ok(V2Manager {
            mount_point: mount.mount_point.clone(),
            dir: path.dir_in(mount, own.unified(), "the unified hierarchy")?,
        })
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Enables in `dir`'s `cgroup.subtree_control` the wanted controllers that
/// `dir` has (`cgroup.controllers`) and has not enabled yet, so that its
/// children get their interface files ("Enabling and Disabling" in
/// cgroup-v2.rst). All in one write; if the kernel refuses the batch, one
/// by one, keeping what works: a controller that cannot be enabled (e.g.
/// cpu with an RT process in the parent) only fails later if a limit needs
/// it, with an error naming the missing file.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = common::read(&dir.join("cgroup.controllers"))?;
    let enabled = common::read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<&str> = WANTED_CONTROLLERS
        .into_iter()
        .filter(|c| available.split_whitespace().any(|a| a == *c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let control = dir.join("cgroup.subtree_control");
    let batch: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    if common::write(&control, batch.join(" ")).is_ok() {
        return Ok(());
    }
    for controller in batch {
        if let Err(e) = common::write(&control, &controller) {
            tracing::warn!(error = %e, "cannot enable a cgroup v2 controller");
        }
    }
    Ok(())
}

/// Where the OCI block I/O weight (10..=1000) goes, as runc `fs2/io.go`
/// does it: BFQ's `io.bfq.weight` takes it as it is; otherwise `io.weight`
/// (1..=10000) takes it scaled with runc's `ConvertBlkIOToIOWeightValue`.
/// Without either file the weight cannot be honoured and is refused.
fn io_weight(dir: &Path, weight: u16) -> Result<(PathBuf, u64)> {
    let bfq = dir.join("io.bfq.weight");
    if bfq.exists() {
        return Ok((bfq, u64::from(weight)));
    }
    let io = dir.join("io.weight");
    if io.exists() {
        let scaled = 1 + u64::from(weight.saturating_sub(10)) * 9999 / 990;
        return Ok((io, scaled));
    }
    Err(CgroupError::Unsupported {
        what: "linux.resources.blockIO.weight (no io.bfq.weight or io.weight in the container's cgroup)",
        version: "this kernel's cgroup v2",
    })
}

/// The `linux.resources.unified` entries (OCI config-linux.md "Unified"):
/// raw `file -> value` writes into the container's cgroup. Keys must name a
/// controller interface file of this cgroup (`<controller>.<knob>`), never
/// a path or a core `cgroup.*` file, which would let a spec escape its
/// cgroup or reconfigure the hierarchy.
fn unified_writes(resources: &LinuxResources) -> Result<Vec<(String, String)>> {
    let mut writes: Vec<(String, String)> = resources
        .unified()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    writes.sort();
    for (key, _) in &writes {
        let valid = !key.contains('/')
            && !key.starts_with('.')
            && !key.starts_with("cgroup.")
            && key
                .split_once('.')
                .is_some_and(|(c, k)| !c.is_empty() && !k.is_empty());
        if !valid {
            return Err(CgroupError::InvalidResource {
                resource: "unified",
                reason: format!("{key:?} is not a controller interface file name"),
            });
        }
    }
    Ok(writes)
}

impl CgroupManager for V2Manager {
    fn create(&self) -> Result<()> {
        // Walk from the mount point down, enabling controllers in every
        // ancestor's subtree_control before creating the next level. The
        // "no internal processes" rule makes this fail for an ancestor that
        // holds processes itself (other than the root), as documented in
        // cgroup-v2.rst; the error then names that ancestor's file.
        let relative = self
            .dir
            .strip_prefix(&self.mount_point)
            .unwrap_or(&self.dir);
        let mut current = self.mount_point.clone();
        for component in relative.components() {
            enable_controllers(&current)?;
            current.push(component);
            common::create_dir_all(&current)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: Pid) -> Result<()> {
        common::write(&self.dir.join("cgroup.procs"), pid.as_raw())
    }

    fn self_join_files(&self) -> Option<Vec<PathBuf>> {
        None
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        // Compute every value first so that bad input writes nothing.
        let memory = resources
            .memory()
            .as_ref()
            .map(memory::plan)
            .transpose()?
            .unwrap_or_default();
        let cpu = resources
            .cpu()
            .as_ref()
            .map(cpu::plan)
            .transpose()?
            .unwrap_or_default();
        let pids = resources
            .pids()
            .as_ref()
            .and_then(crate::v1::pids_max_value);
        let devices = resources
            .devices()
            .as_deref()
            .map(crate::v1::device_rules)
            .transpose()?;
        let unified = unified_writes(resources)?;
        let io_weight = resources
            .block_io()
            .as_ref()
            .and_then(|b| b.weight())
            .filter(|w| *w != 0)
            .map(|weight| io_weight(&self.dir, weight))
            .transpose()?;
        common::warn_unapplied(resources);
        for (file, value) in memory.into_iter().chain(cpu) {
            let path = self.dir.join(file);
            // memory.swap.max is missing without swap accounting; "max" is
            // then already the truth, anything else cannot be honoured.
            if file == "memory.swap.max" && !path.exists() {
                if value == "max" {
                    continue;
                }
                return Err(CgroupError::SwapAccountingUnavailable { path });
            }
            common::write(&path, value)?;
        }
        if let Some(value) = pids {
            common::write(&self.dir.join("pids.max"), value)?;
        }
        if let Some(rules) = devices {
            devices::apply(&self.dir, &rules)?;
        }
        if let Some((path, value)) = io_weight {
            common::write(&path, value)?;
        }
        // Raw writes last: they are the spec's explicit override of
        // anything derived above (as in runc).
        for (file, value) in unified {
            common::write(&self.dir.join(file), value)?;
        }
        Ok(())
    }

    fn freeze(&self, state: FreezerState) -> Result<()> {
        freezer::set(&self.dir, state)
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        freezer::get(&self.dir)
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        common::pids_recursive(&self.dir)
    }

    fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        if self.dir.join("memory.current").exists() {
            stats.memory = memory::stats(&self.dir)?;
        }
        stats.cpu = cpu::stats(&self.dir)?;
        if self.dir.join("pids.current").exists() {
            // Same files as v1's pids controller.
            stats.pids = crate::v1::pids_stats(&self.dir)?;
        }
        stats.blkio = io::stats(&self.dir)?;
        Ok(stats)
    }

    fn oom_kill_count(&self) -> Result<u64> {
        memory::oom_kill_count(&self.dir)
    }

    fn remove(&self) -> Result<()> {
        common::remove_tree(
            &self.dir,
            std::time::Instant::now() + common::REMOVE_TIMEOUT,
        )
    }

    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }
}

#[cfg(test)]
mod tests;
