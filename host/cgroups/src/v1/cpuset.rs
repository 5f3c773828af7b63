//! v1 cpuset controller (Documentation/admin-guide/cgroup-v1/cpusets.rst).
//!
//! The classic pitfall: a freshly created cpuset cgroup has empty
//! `cpuset.cpus` and `cpuset.mems`, and the kernel refuses to attach tasks
//! to it (`ENOSPC`) until both are set. Unless `cgroup.clone_children` is on
//! in the parent, nothing copies them, so every level we create gets its
//! parent's values.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::common;
use crate::error::Result;

const CPUS: &str = "cpuset.cpus";
const MEMS: &str = "cpuset.mems";

/// Creates `dir` and any missing ancestor below `mount`, filling each
/// level's empty cpus/mems from its parent.
pub(super) fn create_with_parents(mount: &Path, dir: &Path) -> Result<()> {
    let relative = dir.strip_prefix(mount).unwrap_or(dir);
    let mut current = mount.to_path_buf();
    for component in relative.components() {
        let parent = current.clone();
        current.push(component);
        common::create_dir_all(&current)?;
        inherit(&parent, &current, CPUS)?;
        inherit(&parent, &current, MEMS)?;
    }
    Ok(())
}

fn inherit(parent: &Path, child: &Path, file: &str) -> Result<()> {
    let own = common::read(&child.join(file))?;
    if own.trim().is_empty() {
        let inherited = common::read(&parent.join(file))?;
        common::write(&child.join(file), inherited.trim())?;
    }
    Ok(())
}

/// Writes the spec's cpus and mems.
pub(super) fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
        common::write(&dir.join(CPUS), cpus)?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
        common::write(&dir.join(MEMS), mems)?;
    }
    Ok(())
}
