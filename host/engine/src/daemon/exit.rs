//! A container's exit: the task that waits for it and the record of it,
//! shared by a start and by the restore of a running container.

use std::sync::Arc;

use berth_api::container::Status;

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{self, Container};
use berth_model::Timestamp;

use crate::daemon::restart_policy::{Policy, ScheduledRestart};
use crate::daemon::{Daemon, parse_time};
use crate::driver::ExitRecord;

/// What follows an exit ([`Daemon::record_exit`]).
#[derive(Debug)]
pub(super) enum AfterExit {
    /// It stays exited.
    Stay,
    /// It is an AutoRemove container: it goes.
    AutoRemove,
    /// Its restart policy starts it again after a backoff.
    Restart(ScheduledRestart),
}

impl Daemon {
    pub(super) fn spawn_monitor(self: &Arc<Self>, container: Arc<Container>) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let exit = match daemon.runtime.wait(&container.id).await {
                Ok(exit) => exit,
                Err(e) => ExitRecord::failed(
                    255,
                    format!("lost track of the container: {}", e.message),
                    Timestamp::now(),
                ),
            };
            let after = daemon.record_exit(&container, exit).await;
            daemon.after_exit(container, after).await;
        });
    }

    /// Does what [`Daemon::record_exit`] decided: removes an AutoRemove
    /// container, or waits out the backoff of a restart and restarts it.
    pub(super) async fn after_exit(self: &Arc<Self>, container: Arc<Container>, after: AfterExit) {
        match after {
            AfterExit::Stay => {}
            AfterExit::AutoRemove => {
                if let Err(e) = self.auto_remove(&container, false).await {
                    tracing::warn!(id = %container.id, error = %e, "auto-remove failed");
                }
            }
            AfterExit::Restart(restart) => self.run_restart(container, restart).await,
        }
    }

    /// Records an exit and decides what follows: the restart policy (moby
    /// `handleContainerExit`: a restarting container is `Restarting`, still
    /// `Running` in its state, with its `RestartCount` counted), else
    /// AutoRemove.
    pub(super) async fn record_exit(
        self: &Arc<Self>,
        container: &Arc<Container>,
        exit: ExitRecord,
    ) -> AfterExit {
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        let unmount = self.blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id));
        // Its networks (moby `releaseNetwork`), beside the rootfs unmount,
        // which shares nothing with them: the container is taken off them
        // now, and the kernel teardown (a veth's deletion waits out an RCU
        // grace period) with the release of its leases and ports goes on
        // in a task of its own that whatever needs them gone waits for
        // (`teardown.rs`).
        let network = self.leave_networks_in_background(&container.id);
        let (unmounted, ()) = tokio::join!(unmount, network);
        if let Err(e) = unmounted {
            tracing::warn!(id = %container.id, error = %e, "unmounting the rootfs after exit failed");
        }
        let finished_at = exit.finished_at.to_rfc3339_nano();
        let (record, after) = {
            let mut inner = container.lock();
            let removing = inner.record.state.status == Status::Removing;
            // A restart's stop is followed by its start ([`Daemon::restart`]).
            let restarting = inner.restarting;
            crate::daemon::health::stop_monitor(&mut inner);
            let ran_for = match inner.started.take() {
                Some(started) => started.elapsed(),
                // Started by an earlier daemon: the record's clock.
                None => parse_time(&inner.record.state.started_at)
                    .zip(parse_time(&finished_at))
                    .and_then(|(s, f)| (f - s).to_std().ok())
                    .unwrap_or_default(),
            };
            container::set_exited(
                &mut inner.record.state,
                i64::from(exit.exit_code),
                exit.oom_killed,
                exit.error.as_deref().unwrap_or_default(),
                &finished_at,
            );
            if removing {
                inner.record.state.status = Status::Removing;
            }
            let policy = Policy::of(&inner.record.host_config.restart_policy);
            let manually_stopped = inner.record.manually_stopped;
            let delay = if removing || restarting {
                None
            } else {
                inner.restart.should_restart(
                    policy,
                    i64::from(exit.exit_code),
                    manually_stopped,
                    ran_for,
                )
            };
            let after = if let Some(delay) = delay {
                inner.record.restart_count += 1;
                let state = &mut inner.record.state;
                // moby `SetRestarting`: "we should consider the container
                // running when it is restarting because of all the checks
                // in docker around rm/stop/etc".
                state.status = Status::Restarting;
                state.running = true;
                state.restarting = true;
                AfterExit::Restart(ScheduledRestart::arm(&mut inner.restart, delay))
            } else if inner.record.host_config.auto_remove && !removing && !restarting {
                AfterExit::AutoRemove
            } else {
                AfterExit::Stay
            };
            (inner.record.clone(), after)
        };
        if let Err(e) = self.persist(&record).await {
            tracing::warn!(id = %record.id, error = %e, "failed to persist the exit");
        }
        container.notify(true);
        let mut extra = vec![("exitCode", exit.exit_code.to_string())];
        if exit.oom_killed {
            self.container_event("oom", &record, &[]);
            extra.push(("oomKilled", "true".to_owned()));
        }
        self.container_event("die", &record, &extra);
        self.volume_mount_events("unmount", &record);
        let volumes = crate::daemon::volumes::record_volumes(&record);
        self.unmount_volumes(&record.id, volumes).await;
        after
    }
}
