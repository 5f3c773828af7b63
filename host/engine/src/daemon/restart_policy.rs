//! Restart policies (`--restart no|always|on-failure[:N]|unless-stopped`):
//! the decision after an exit, the backoff, and the cancellable wait
//! before the container is started again (moby `restartmanager` and
//! `daemon/monitor.go handleContainerExit`).
//!
//! The decision is pure ([`RestartManager::should_restart`]); the wait is a
//! tokio timer in the exit monitor's task, raced against a [`Notify`] that
//! `stop`, `kill`, `rm -f` and a user `start` fire through
//! [`RestartManager::cancel`]. Nothing blocks the daemon while a container
//! waits to be restarted.

use std::sync::Arc;
use std::time::Duration;

use berth_api::container::{RestartPolicy, Status};
use tokio::sync::Notify;

use crate::daemon::Daemon;
use crate::daemon::container::Container;
use crate::job::JobError;

/// First wait before a restart (moby `restartmanager.defaultTimeout`).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between restarts (moby `maxRestartTimeout`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A container that ran this long starts its backoff over at
/// [`FIRST_BACKOFF`] (moby: "if the container ran for more than 10s,
/// regardless of status and policy reset the timeout back to the default").
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// A container's restart policy, parsed from `HostConfig.RestartPolicy`
/// (validated at create: an unknown name never reaches a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `no` (or empty): never restarted.
    No,
    /// `always`.
    Always,
    /// `unless-stopped`: as `always`, but not after the user stopped it.
    UnlessStopped,
    /// `on-failure[:max]`: only after a non-zero exit, at most `max` times
    /// (0: no limit, as moby).
    OnFailure {
        /// `MaximumRetryCount`.
        max: i64,
    },
}

impl Policy {
    /// The policy `HostConfig.RestartPolicy` names.
    pub fn of(policy: &RestartPolicy) -> Policy {
        match policy.name.as_str() {
            "always" => Policy::Always,
            "unless-stopped" => Policy::UnlessStopped,
            "on-failure" => Policy::OnFailure {
                max: policy.maximum_retry_count,
            },
            _ => Policy::No,
        }
    }
}

/// The live restart state of one container: moby's `restartManager`.
/// Reset by a user start ([`RestartManager::new`] with a count of 0);
/// after a daemon restart it resumes from the record's `RestartCount`.
#[derive(Debug, Default)]
pub struct RestartManager {
    /// The wait before the last restart; zero before the first.
    backoff: Duration,
    /// Restarts done by this manager (counts against `on-failure:N`).
    count: i64,
    /// Set by a user stop, kill or removal: no further restart until a
    /// user start makes a new manager.
    cancelled: bool,
    /// Fired to end the wait of a pending restart.
    pending: Option<Arc<Notify>>,
}

impl RestartManager {
    /// A manager that has done `count` restarts already.
    pub fn new(count: i64) -> RestartManager {
        RestartManager {
            count,
            ..RestartManager::default()
        }
    }

    /// Whether to restart after an exit with `exit_code`, after running for
    /// `ran_for`, given whether the user stopped it; the wait before the
    /// restart when so. Follows moby `ShouldRestart`: the backoff doubles
    /// from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`] at every exit, and goes
    /// back to the first after a run of [`RESET_AFTER`] or more.
    pub fn should_restart(
        &mut self,
        policy: Policy,
        exit_code: i64,
        manually_stopped: bool,
        ran_for: Duration,
    ) -> Option<Duration> {
        if policy == Policy::No || self.cancelled {
            return None;
        }
        if ran_for >= RESET_AFTER {
            self.backoff = Duration::ZERO;
        }
        self.backoff = if self.backoff.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.backoff * 2).min(MAX_BACKOFF)
        };
        let restart = match policy {
            Policy::No => false,
            Policy::Always => true,
            Policy::UnlessStopped => !manually_stopped,
            Policy::OnFailure { max } => (max == 0 || self.count < max) && exit_code != 0,
        };
        if !restart {
            return None;
        }
        self.count += 1;
        Some(self.backoff)
    }

    /// Ends any pending restart and refuses the next ones (moby
    /// `ExitOnNext`).
    pub fn cancel(&mut self) {
        self.cancelled = true;
        if let Some(pending) = self.pending.take() {
            // A stored permit: the waiting task sees it even if it has not
            // reached its `notified()` yet.
            pending.notify_one();
        }
    }

    /// Whether [`RestartManager::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Registers the wait of a restart about to be scheduled; returns what
    /// ends it early.
    fn arm(&mut self) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.pending = Some(Arc::clone(&notify));
        notify
    }

    /// The pending wait is over (its timer fired).
    fn disarm(&mut self) {
        self.pending = None;
    }
}

/// A restart decided at an exit: when, and what cancels the wait.
#[derive(Debug)]
pub struct ScheduledRestart {
    /// The backoff.
    pub delay: Duration,
    cancel: Arc<Notify>,
}

impl ScheduledRestart {
    /// Arms `manager`'s pending wait for `delay`.
    pub fn arm(manager: &mut RestartManager, delay: Duration) -> ScheduledRestart {
        ScheduledRestart {
            delay,
            cancel: manager.arm(),
        }
    }
}

impl Daemon {
    /// Waits out a scheduled restart's backoff, then starts the container
    /// again; a cancellation (user stop, kill, removal) ends the wait and
    /// leaves the container exited. Runs in the exit monitor's task.
    pub(super) async fn run_restart(
        self: &Arc<Self>,
        container: Arc<Container>,
        restart: ScheduledRestart,
    ) {
        let cancelled = tokio::select! {
            () = tokio::time::sleep(restart.delay) => false,
            () = restart.cancel.notified() => true,
        };
        if !cancelled {
            container.lock().restart.disarm();
            // A start that fails leaves the container exited
            // (`start_failed`); moby logs it and does the same.
            match self.start_by_policy(&container).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::info!(id = %container.id, error = %e, "restart by policy failed");
                    return;
                }
            }
        }
        self.end_restarting(&container).await;
    }

    /// A restarting container that will not be restarted: exited, with the
    /// exit it had (moby `SetStopped` after `ErrRestartCanceled`). A
    /// removal that cancelled it keeps its own status.
    pub(super) async fn end_restarting(&self, container: &Arc<Container>) {
        let record = {
            let mut inner = container.lock();
            if inner.record.state.status != Status::Restarting {
                return;
            }
            let state = &mut inner.record.state;
            state.status = Status::Exited;
            state.running = false;
            state.restarting = false;
            inner.record.clone()
        };
        if let Err(e) = self.persist(&record).await {
            tracing::warn!(id = %record.id, error = %e, "failed to persist the end of a restart");
        }
        container.notify(false);
    }

    /// Goes on with the restart of a container that waited out its backoff
    /// when the previous daemon went away: after [`FIRST_BACKOFF`] (the
    /// backoff lived in that daemon's memory), without a second `die`.
    pub(super) fn resume_restart(self: &Arc<Self>, container: Arc<Container>) {
        let restart = ScheduledRestart::arm(&mut container.lock().restart, FIRST_BACKOFF);
        let daemon = Arc::clone(self);
        tokio::spawn(async move { daemon.run_restart(container, restart).await });
    }

    /// moby `daemon.restore`: a container that had run and is stopped is
    /// started at daemon start when its policy says so for its last exit
    /// (`always` even after a user stop, `unless-stopped` unless the user
    /// stopped it, `on-failure` after a failure with retries left), as a
    /// user start would start it (`containerStart(..., true)`).
    pub(super) fn restart_at_daemon_start(self: &Arc<Self>, container: &Arc<Container>) {
        let wanted = {
            let mut inner = container.lock();
            let state = &inner.record.state;
            let ran = state.started_at != berth_api::ZERO_TIME && !state.started_at.is_empty();
            if !ran || state.status != Status::Exited {
                return;
            }
            let policy = Policy::of(&inner.record.host_config.restart_policy);
            let (exit_code, manually_stopped) = (state.exit_code, inner.record.manually_stopped);
            inner
                .restart
                .should_restart(policy, exit_code, manually_stopped, Duration::ZERO)
                .is_some()
        };
        if !wanted {
            return;
        }
        let daemon = Arc::clone(self);
        let id = container.id.clone();
        tokio::spawn(async move {
            if let Err(e) = daemon.start(&id).await {
                tracing::warn!(id, error = %e, "restart policy: start at daemon start failed");
            }
        });
    }

    /// The container `reference` names, running and not waiting to be
    /// restarted: what `pause` and `top` need (moby
    /// `errContainerIsRestarting`, verbatim).
    pub(super) fn running_not_restarting(
        &self,
        reference: &str,
    ) -> Result<Arc<Container>, JobError> {
        let container = self.running_container(reference)?;
        if container.lock().record.state.status == Status::Restarting {
            return Err(JobError::conflict(format!(
                "Container {} is restarting, wait until the container is running",
                container.id
            )));
        }
        Ok(container)
    }

    /// What a user `stop` or `kill` does to the restart policy before it
    /// signals (moby `killWithSignal`): the container counts as stopped by
    /// the user, and when the signal is meant to end it (`cancel`) the exit
    /// to come is not restarted and a pending restart ends. Returns whether
    /// a process runs now that the signal should reach: a container that
    /// waited to be restarted has none (moby: "if the container is
    /// currently restarting we do not need to send the signal"), unless
    /// its restart had begun when it was cancelled.
    pub(super) async fn stop_by_user(&self, container: &Arc<Container>, cancel: bool) -> bool {
        // Saved with the exit that follows (`record_exit`, or
        // `end_restarting` for a restarting container): no store commit on
        // the signal's path.
        let restarting = {
            let mut inner = container.lock();
            if cancel {
                inner.restart.cancel();
            }
            inner.record.manually_stopped = true;
            inner.record.state.status == Status::Restarting
        };
        if !restarting {
            return true;
        }
        if !cancel {
            return false;
        }
        let mut rx = container.watch();
        let _ = rx
            .wait_for(|s| s.removed || (!s.busy && s.status != Status::Restarting))
            .await;
        let inner = container.lock();
        inner.record.state.running && inner.record.state.status != Status::Restarting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_backoff_doubles_from_100ms_to_a_minute() {
        let mut m = RestartManager::new(0);
        let delays: Vec<u64> = (0..12)
            .map(|_| {
                let d = m.should_restart(Policy::Always, 0, false, MS(1)).unwrap();
                u64::try_from(d.as_millis()).unwrap()
            })
            .collect();
        assert_eq!(
            delays,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000
            ]
        );
        assert_eq!(m.count, 12);
    }

    #[test]
    fn a_run_of_ten_seconds_starts_the_backoff_over() {
        let mut m = RestartManager::new(0);
        for _ in 0..3 {
            m.should_restart(Policy::Always, 1, false, MS(5));
        }
        assert_eq!(
            m.should_restart(Policy::Always, 1, false, MS(9_999)),
            Some(MS(800))
        );
        assert_eq!(
            m.should_restart(Policy::Always, 1, false, RESET_AFTER),
            Some(FIRST_BACKOFF)
        );
    }

    #[test]
    fn on_failure_restarts_only_non_zero_exits_at_most_n_times() {
        let mut m = RestartManager::new(0);
        let policy = Policy::OnFailure { max: 2 };
        assert_eq!(m.should_restart(policy, 0, false, MS(1)), None);
        assert!(m.should_restart(policy, 1, false, MS(1)).is_some());
        assert!(m.should_restart(policy, 137, false, MS(1)).is_some());
        assert_eq!(m.should_restart(policy, 1, false, MS(1)), None);
        // No maximum: 0.
        let mut m = RestartManager::new(50);
        assert!(
            m.should_restart(Policy::OnFailure { max: 0 }, 1, false, MS(1))
                .is_some()
        );
        // A count carried over from the record counts.
        let mut m = RestartManager::new(2);
        assert_eq!(m.should_restart(policy, 1, false, MS(1)), None);
    }

    #[test]
    fn unless_stopped_respects_a_user_stop_and_always_does_not() {
        let mut m = RestartManager::new(0);
        assert_eq!(
            m.should_restart(Policy::UnlessStopped, 0, true, MS(1)),
            None
        );
        assert!(
            m.should_restart(Policy::UnlessStopped, 0, false, MS(1))
                .is_some()
        );
        assert!(m.should_restart(Policy::Always, 0, true, MS(1)).is_some());
        assert_eq!(m.should_restart(Policy::No, 1, false, MS(1)), None);
    }

    #[test]
    fn a_cancelled_manager_never_restarts_and_fires_its_pending_wait() {
        let mut m = RestartManager::new(0);
        let delay = m.should_restart(Policy::Always, 1, false, MS(1)).unwrap();
        let restart = ScheduledRestart::arm(&mut m, delay);
        m.cancel();
        assert!(m.is_cancelled());
        assert_eq!(m.should_restart(Policy::Always, 1, false, MS(1)), None);
        // The permit is stored: the waiter sees it however late it comes.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(restart.cancel.notified());
    }

    #[test]
    fn policies_parse_from_the_host_config() {
        let p = |name: &str, max: i64| {
            Policy::of(&RestartPolicy {
                name: name.into(),
                maximum_retry_count: max,
            })
        };
        assert_eq!(p("", 0), Policy::No);
        assert_eq!(p("no", 0), Policy::No);
        assert_eq!(p("always", 0), Policy::Always);
        assert_eq!(p("unless-stopped", 0), Policy::UnlessStopped);
        assert_eq!(p("on-failure", 3), Policy::OnFailure { max: 3 });
    }
}
