//! A container's exit: the task that waits for it and the record of it,
//! shared by a start and by the restore of a running container.

use std::sync::Arc;

use berth_api::container::Status;

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{self, Container};
use berth_model::Timestamp;

use crate::daemon::Daemon;
use crate::driver::ExitRecord;

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
            let auto_remove = daemon.record_exit(&container, exit).await;
            if auto_remove && let Err(e) = daemon.auto_remove(&container, false).await {
                tracing::warn!(id = %container.id, error = %e, "auto-remove failed");
            }
        });
    }

    /// Records an exit; returns whether the container should now be
    /// auto-removed.
    pub(super) async fn record_exit(&self, container: &Arc<Container>, exit: ExitRecord) -> bool {
        let images = Arc::clone(&self.images);
        let id = container.id.clone();
        if let Err(e) = self
            .blocking(BlockingKind::Rootfs, move || images.unmount_rootfs(&id))
            .await
        {
            tracing::warn!(id = %container.id, error = %e, "unmounting the rootfs after exit failed");
        }
        let finished_at = exit.finished_at.to_rfc3339_nano();
        let (record, auto_remove) = {
            let mut inner = container.lock();
            let removing = inner.record.state.status == Status::Removing;
            // A restart's stop is followed by its start ([`Daemon::restart`]).
            let restarting = inner.restarting;
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
            (
                inner.record.clone(),
                inner.record.host_config.auto_remove && !removing && !restarting,
            )
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
        auto_remove
    }
}
