//! The verbs that signal or watch a running container: `stop`, `kill`,
//! `pause`, `unpause` and `wait`.

use std::sync::Arc;
use std::time::Duration;

use berth_api::container::{Status, WaitCondition};

use crate::daemon::container::{self, Container, ContainerRecord};
use crate::daemon::{Daemon, signal};
use crate::job::{ErrorKind, JobError};

impl Daemon {
    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, reference: &str, signal: Option<&str>) -> Result<(), JobError> {
        let signal = signal::parse(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        let container = self.running_container(reference)?;
        // moby `killWithSignal`: SIGKILL and the stop signal end the
        // restart policy's run; other signals do not.
        let stop_signal = container.lock().record.config.stop_signal.clone();
        let stop_signal = signal::parse(stop_signal.as_deref().unwrap_or("SIGTERM"))?;
        let ends = signal == signal::SIGKILL || signal == stop_signal;
        if !self.stop_by_user(&container, ends).await {
            return Ok(());
        }
        self.signal_logged(&container, signal).await
    }

    /// [`Daemon::signal`], then moby's `kill` event naming the signal
    /// (`daemon/kill.go` logs it for every signal it delivers: `kill`, and
    /// each signal of a `stop`).
    async fn signal_logged(&self, container: &Arc<Container>, signal: i32) -> Result<(), JobError> {
        self.signal(container, signal).await?;
        self.container_event(
            "kill",
            &container.record(),
            &[("signal", signal.to_string())],
        );
        Ok(())
    }

    /// Sends `signal` to the container's init. A frozen process cannot act
    /// on a signal, so a paused container is thawed after SIGKILL or its
    /// stop signal, which are meant to end it (moby `daemon/kill.go`).
    pub(super) async fn signal(
        &self,
        container: &Arc<Container>,
        signal: i32,
    ) -> Result<(), JobError> {
        self.runtime.kill(&container.id, signal).await?;
        let (paused, stop_signal) = {
            let inner = container.lock();
            (
                inner.record.state.paused,
                inner.record.config.stop_signal.clone(),
            )
        };
        let stop_signal = signal::parse(stop_signal.as_deref().unwrap_or("SIGTERM"))?;
        if paused && (signal == signal::SIGKILL || signal == stop_signal) {
            if let Err(e) = self.runtime.resume(&container.id).await {
                tracing::warn!(id = %container.id, error = %e, "cannot unpause the signalled container");
                return Ok(());
            }
            self.set_paused(container, false).await;
        }
        Ok(())
    }

    /// Records the freezer state; a container that exited meanwhile keeps
    /// its exit.
    async fn set_paused(
        &self,
        container: &Arc<Container>,
        paused: bool,
    ) -> Option<ContainerRecord> {
        let record = {
            let mut inner = container.lock();
            let state = &mut inner.record.state;
            if !state.running {
                return None;
            }
            state.paused = paused;
            // A frozen container cannot answer a probe (moby
            // `updateHealthMonitor`); unpause starts the monitor again.
            if paused {
                crate::daemon::health::stop_monitor(&mut inner);
            }
            let state = &mut inner.record.state;
            match (paused, state.status) {
                (true, Status::Running) => state.status = Status::Paused,
                (false, Status::Paused) => state.status = Status::Running,
                _ => {}
            }
            inner.record.clone()
        };
        if let Err(e) = self.persist(&record).await {
            tracing::warn!(id = %record.id, error = %e, "cannot persist the paused state");
        }
        container.notify(false);
        Some(record)
    }

    /// `POST /containers/{id}/pause`: freezes every process of the
    /// container (cgroup freezer).
    pub async fn pause(&self, reference: &str) -> Result<(), JobError> {
        let container = self.running_not_restarting(reference)?;
        if container.lock().record.state.paused {
            return Err(JobError::conflict(format!(
                "Container {} is already paused",
                container.id
            )));
        }
        self.runtime.pause(&container.id).await?;
        if let Some(record) = self.set_paused(&container, true).await {
            self.container_event("pause", &record, &[]);
        }
        Ok(())
    }

    /// `POST /containers/{id}/unpause`: thaws a paused container.
    pub async fn unpause(self: &Arc<Self>, reference: &str) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        if !container.lock().record.state.paused {
            return Err(JobError::conflict(format!(
                "Container {} is not paused",
                container.id
            )));
        }
        self.runtime.resume(&container.id).await?;
        if let Some(record) = self.set_paused(&container, false).await {
            self.container_event("unpause", &record, &[]);
            self.update_health_monitor(&container);
        }
        Ok(())
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after
    /// `timeout` seconds (`None`: the container's StopTimeout or 10; -1:
    /// wait forever). NotModified when it is not running.
    pub async fn stop(
        &self,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), JobError> {
        let container = self.containers.get(reference)?;
        let (running, stop_signal, stop_timeout) = {
            let inner = container.lock();
            (
                inner.record.state.running,
                inner.record.config.stop_signal.clone(),
                inner.record.config.stop_timeout,
            )
        };
        if !running {
            return Err(JobError::not_modified());
        }
        let signal = signal
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or(stop_signal)
            .unwrap_or_else(|| "SIGTERM".to_owned());
        let signal = signal::parse(&signal)?;
        let timeout = timeout.or(stop_timeout).unwrap_or(10);
        // A container waiting to be restarted is stopped by cancelling the
        // restart (moby `containerStop` of a restarting container).
        if !self.stop_by_user(&container, true).await {
            self.container_event("stop", &container.record(), &[]);
            return Ok(());
        }
        if let Err(e) = self.signal_logged(&container, signal).await {
            // It may have exited on its own since we looked: then it is
            // stopped, which is what was asked. The driver says so (a
            // conflict: not running) before the exit monitor has recorded
            // it, which the wait below sees.
            if container.lock().record.state.running && e.kind != ErrorKind::Conflict {
                return Err(e);
            }
        }
        if timeout < 0 {
            container.stopped().await;
        } else if tokio::time::timeout(Duration::from_secs(timeout as u64), container.stopped())
            .await
            .is_err()
        {
            tracing::info!(id = %container.id, timeout, "container did not stop in time, killing it");
            if let Err(e) = self.signal_logged(&container, signal::SIGKILL).await
                && container.lock().record.state.running
            {
                return Err(e);
            }
            container.stopped().await;
        }
        self.container_event("stop", &container.record(), &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: calls `registered` once the waiter is in
    /// place (so the caller can send its headers), then resolves with the
    /// exit code.
    pub async fn wait(
        &self,
        reference: &str,
        condition: WaitCondition,
        registered: impl std::future::Future<Output = ()>,
    ) -> Result<i64, JobError> {
        let container = self.containers.get(reference)?;
        let mut rx = container.watch();
        let start = *rx.borrow_and_update();
        registered.await;
        let done = |s: &container::Snapshot| match condition {
            // moby `State.Wait`: an exit wakes not-running waiters also when
            // the restart policy restarts the container.
            WaitCondition::NotRunning => {
                s.removed
                    || s.exits > start.exits
                    || !matches!(
                        s.status,
                        Status::Running | Status::Restarting | Status::Paused
                    )
            }
            WaitCondition::NextExit => s.removed || s.exits > start.exits,
            WaitCondition::Removed => s.removed,
        };
        let result = rx.wait_for(done).await.map(|s| *s);
        // The sender lives in the container: dropped means removed.
        let snapshot = result.unwrap_or_else(|_| *rx.borrow());
        Ok(snapshot.exit_code)
    }
}
