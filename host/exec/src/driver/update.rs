//! `docker update` of a running container: its cgroup limits rewritten in
//! place (moby `daemon/update.go` → containerd `UpdateResources` → `runc
//! update`), all or nothing.

use std::sync::Arc;

use berth_model::container::ContainerModel;
use berth_shim::protocol::error_chain;
use oci_spec::runtime::{LinuxPids, LinuxResources};

use super::{ExecDriver, validate_id};
use crate::client::exists;
use crate::error::ExecError;
use crate::spec;

impl ExecDriver {
    /// Writes the limits of `container` into the running container's
    /// cgroup. A write the kernel refuses part-way leaves the limits of
    /// `previous` (what the cgroup had) written back, so that the cgroup
    /// is as it was; the error says what failed. Loading the libcontainer
    /// state and writing cgroup files do not fork, so berthd does it on
    /// the blocking pool, as `processes`.
    pub async fn update(
        &self,
        id: &str,
        container: &ContainerModel,
        previous: &ContainerModel,
    ) -> Result<(), ExecError> {
        validate_id(id)?;
        let options = &self.inner.config.spec;
        let spec_error = |source| ExecError::Spec {
            id: id.to_owned(),
            source,
        };
        let wanted = spec::linux_resources(container, options).map_err(spec_error)?;
        let before = restore_plan(
            spec::linux_resources(previous, options).map_err(spec_error)?,
            &wanted,
        );
        let state_root = self.runtime_root();
        if !exists(&state_root.join(id)) {
            return Err(ExecError::NotRunning(id.to_owned()));
        }
        let failed = |message: String| ExecError::Shim {
            id: id.to_owned(),
            message,
        };
        let permit = Arc::clone(&self.inner.cleanup_permits)
            .acquire_owned()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let owned = id.to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let loaded = berth_libcontainer::Container::load(&state_root, &owned)?;
            let applied = loaded.update(&wanted).map_err(|e| {
                let mut message = format!(
                    "cannot update the container's resources: {}",
                    error_chain(&e)
                );
                if let Err(back) = loaded.update(&before) {
                    message.push_str(&format!(
                        "; writing the previous limits back failed too: {}",
                        error_chain(&back)
                    ));
                }
                message
            });
            drop(permit);
            Ok::<_, berth_libcontainer::Error>(applied)
        })
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(error_chain(&e)))?;
        result.map_err(failed)
    }
}

/// What writes the cgroup back to `before` after a failed update towards
/// `wanted`. The cgroup writers leave a 0 or absent value as it is (runc's
/// "unset"), so a limit the update set where the container had none is
/// written back as the kernel's own default: unlimited memory, swap, pids
/// and CFS quota, the default CFS period and shares (cgroup-v1/memory.rst,
/// pids.rst; sched-bwc.rst: period 100 ms, quota -1; `cpu.shares` 1024,
/// which v2 gets as runc's weight for it). A soft limit (reservation) the
/// container did not have stays: "none" is -1 on v1 but 0 on v2
/// (`memory.low`), and the cgroup writers read both 0 and -1 as
/// something else.
fn restore_plan(mut before: LinuxResources, wanted: &LinuxResources) -> LinuxResources {
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
    let unset = |v: Option<i64>| !set(v);
    if let Some(new) = wanted.memory() {
        let mut memory = (*before.memory()).unwrap_or_default();
        if set(new.limit()) && unset(memory.limit()) {
            memory.set_limit(Some(-1));
        }
        if set(new.swap()) && unset(memory.swap()) {
            memory.set_swap(Some(-1));
        }
        before.set_memory(Some(memory));
    }
    if let Some(new) = wanted.cpu() {
        let mut cpu = before.cpu().clone().unwrap_or_default();
        if new.shares().is_some_and(|s| s != 0) && cpu.shares().is_none_or(|s| s == 0) {
            cpu.set_shares(Some(1024));
        }
        if set(new.quota()) && unset(cpu.quota()) {
            cpu.set_quota(Some(-1));
        }
        if new.period().is_some_and(|p| p != 0) && cpu.period().is_none_or(|p| p == 0) {
            cpu.set_period(Some(100_000));
        }
        before.set_cpu(Some(cpu));
    }
    if wanted.pids().is_some() && before.pids().is_none() {
        let mut pids = LinuxPids::default();
        pids.set_limit(-1);
        before.set_pids(Some(pids));
    }
    before
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};

    #[test]
    fn a_failed_update_writes_back_what_the_container_had_and_lifts_what_it_had_not() {
        let before = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(128 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let wanted = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(256 << 20)
                    .swap(512 << 20)
                    .reservation(32 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .quota(50_000)
                    .period(100_000u64)
                    .shares(512u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPids::default())
            .build()
            .unwrap();
        let plan = restore_plan(before, &wanted);
        let memory = (*plan.memory()).unwrap();
        assert_eq!(
            (memory.limit(), memory.swap(), memory.reservation()),
            (Some(64 << 20), Some(128 << 20), None)
        );
        let cpu = plan.cpu().clone().unwrap();
        assert_eq!(
            (cpu.quota(), cpu.period(), cpu.shares()),
            (Some(-1), Some(100_000), Some(1024))
        );
        assert_eq!((*plan.pids()).unwrap().limit(), -1);
    }

    #[test]
    fn nothing_asked_nothing_written_back() {
        let plan = restore_plan(LinuxResources::default(), &LinuxResources::default());
        assert!(plan.memory().is_none() && plan.cpu().is_none() && plan.pids().is_none());
    }
}
