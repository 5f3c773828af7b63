//! `POST /containers/{id}/update`: new limits and restart policy for a
//! container, live on a running one (moby `daemon/update.go`,
//! `container.UpdateContainer` in `container/container_unix.go`).
//!
//! All or nothing: the request is checked as create checks it, merged into
//! the container's `HostConfig` with moby's conflicts, the merged
//! configuration rebuilt into the model (so every check of create holds),
//! then written to the running container's cgroup (which the exec driver
//! writes back as it was if the kernel refuses part of it), and only then
//! recorded. A failure at any step leaves the record and the cgroup as
//! they were.

use berth_api::container::{HostConfig, Status, UpdateRequest, UpdateResponse};
use berth_model::container::{Memory, Swap};

use crate::daemon::Daemon;
use crate::daemon::spec;
use crate::job::{ErrorKind, JobError};

impl Daemon {
    /// `POST /containers/{id}/update`.
    pub async fn update(
        &self,
        reference: &str,
        request: UpdateRequest,
    ) -> Result<UpdateResponse, JobError> {
        request
            .check_fields()
            .map_err(|e| JobError::invalid(e.to_string()))?;
        // moby checks the request alone first (`verifyContainerSettings`):
        // a limit the kernel could never take is a 400 whatever the
        // container has.
        Memory::new(request.memory, 0, 0).map_err(|e| JobError::invalid(e.to_string()))?;
        Memory::new(0, 0, request.memory_reservation)
            .map_err(|e| JobError::invalid(e.to_string()))?;
        if !request.restart_policy.name.is_empty() {
            spec::validate_restart_policy(&HostConfig {
                restart_policy: request.restart_policy.clone(),
                ..HostConfig::default()
            })?;
        }
        let container = self.containers.get(reference)?;
        let cannot = |kind: ErrorKind, message: &str| {
            JobError::new(
                kind,
                format!("Cannot update container {}: {message}", container.id),
            )
        };
        let (previous, host, model, warnings, live) = {
            let mut inner = container.lock();
            let state = &inner.record.state;
            if matches!(state.status, Status::Removing | Status::Dead) {
                return Err(cannot(
                    ErrorKind::Conflict,
                    "container is marked for removal and cannot be \"update\"",
                ));
            }
            if inner.busy {
                return Err(cannot(
                    ErrorKind::Conflict,
                    "the container is starting; update it once it runs",
                ));
            }
            let live = state.running && state.status != Status::Restarting;
            let previous = inner.record.ensure_model()?;
            let mut host = inner.record.host_config.clone();
            merge(&mut host, &request, previous.resources.memory.swap())
                .map_err(|m| cannot(ErrorKind::Conflict, m))?;
            let warnings = spec::validate_update(&mut host, &self.config.sysinfo)?;
            let model = spec::container_model(&inner.record.config, &host)?;
            (previous, host, model, warnings, live)
        };
        if live && model.resources != previous.resources {
            self.runtime
                .update(&container.id, model.clone(), previous.clone())
                .await
                .map_err(|e| cannot(e.kind, &e.message))?;
        }
        let (record, old_host) = {
            let mut inner = container.lock();
            let old_host = std::mem::replace(&mut inner.record.host_config, host);
            inner.record.model = Some(model.clone());
            (inner.record.clone(), old_host)
        };
        if let Err(e) = self.persist(&record).await {
            // Not recorded: the container goes back to what it had.
            {
                let mut inner = container.lock();
                inner.record.host_config = old_host;
                inner.record.model = Some(previous.clone());
            }
            if live
                && model.resources != previous.resources
                && let Err(back) = self.runtime.update(&container.id, previous, model).await
            {
                tracing::warn!(id = %container.id, error = %back, "cannot write back the limits of an update that was not recorded");
            }
            return Err(e);
        }
        self.container_event("update", &record, &[]);
        Ok(UpdateResponse { warnings })
    }
}

/// moby `Container.UpdateContainer`: the request's non-zero settings over
/// the container's, with its conflicts (verbatim). `swap` is the
/// memory+swap limit in effect (Docker records twice the memory limit when
/// none was given: moby `adaptContainerSettings`).
fn merge(
    host: &mut HostConfig,
    update: &UpdateRequest,
    swap: Option<Swap>,
) -> Result<(), &'static str> {
    // "Because NanoCPU effectively updates CPUPeriod/CPUQuota, once
    // NanoCPU is already set, updating CPUPeriod/CPUQuota will be blocked,
    // and vice versa."
    if update.nano_cpus > 0 && host.cpu_period > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
        );
    }
    if update.nano_cpus > 0 && host.cpu_quota > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        );
    }
    if update.cpu_period > 0 && host.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        );
    }
    if update.cpu_quota > 0 && host.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        );
    }
    // The swap limit in effect, as moby's record holds it.
    let current_swap = match swap {
        None => 0,
        Some(Swap::Unlimited) => -1,
        Some(Swap::Bytes(b)) => i64::try_from(b).unwrap_or(i64::MAX),
    };
    if host.memory_swap == 0 {
        host.memory_swap = current_swap;
    }
    if update.blkio_weight != 0 {
        host.blkio_weight = update.blkio_weight;
    }
    if update.cpu_shares != 0 {
        host.cpu_shares = update.cpu_shares;
    }
    if update.nano_cpus != 0 {
        host.nano_cpus = update.nano_cpus;
    }
    if update.cpu_period != 0 {
        host.cpu_period = update.cpu_period;
    }
    if update.cpu_quota != 0 {
        host.cpu_quota = update.cpu_quota;
    }
    if !update.cpuset_cpus.is_empty() {
        host.cpuset_cpus = update.cpuset_cpus.clone();
    }
    if !update.cpuset_mems.is_empty() {
        host.cpuset_mems = update.cpuset_mems.clone();
    }
    if update.memory != 0 {
        // "if memory limit smaller than already set memoryswap limit and
        // doesn't update the memoryswap limit, then error out."
        if update.memory > current_swap && update.memory_swap == 0 {
            return Err(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            );
        }
        host.memory = update.memory;
    }
    if update.memory_swap != 0 {
        host.memory_swap = update.memory_swap;
    }
    if update.memory_reservation != 0 {
        host.memory_reservation = update.memory_reservation;
    }
    if update.pids_limit.is_some() {
        host.pids_limit = update.pids_limit;
    }
    if !update.restart_policy.name.is_empty() {
        let none = matches!(update.restart_policy.name.as_str(), "no");
        if host.auto_remove && !none {
            return Err(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            );
        }
        host.restart_policy = update.restart_policy.clone();
    }
    Ok(())
}
