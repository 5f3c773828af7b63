//! Health checks (moby `daemon/health.go`, `container/health.go`): the
//! configuration merged and checked at create, and the monitor that probes a
//! running container through an exec process and keeps `State.Health`.
//!
//! The monitor is a task per running, unpaused container with a check. It
//! sleeps the interval, runs the probe under its timeout, and folds the
//! result into the health: a success makes it `healthy` and resets the
//! failing streak; a failure counts unless the container is still `starting`
//! within its start period; `Retries` failures in a row make it
//! `unhealthy`. Each change of status is a `health_status: <status>` event.
//! Stopping the monitor (exit, pause) leaves the status `unhealthy`, as moby
//! does "for compatibility reasons".

use std::sync::Arc;
use std::time::Duration;

use berth_api::container::{Config, Health, HealthConfig, HealthcheckResult, health_status};
use berth_model::exec_process::ExecProcessConfig;
use chrono::{DateTime, Utc};

use crate::daemon::container::{Container, ContainerInner};
use crate::daemon::{Daemon, parse_time};
use crate::job::JobError;

/// Longest probe output kept (moby `maxOutputLen`); more is cut and marked
/// with `...`.
pub const MAX_OUTPUT_LEN: usize = 4096;
/// Probe results kept in `State.Health.Log` (moby `maxLogEntries`).
pub const MAX_LOG_ENTRIES: usize = 5;
/// moby's defaults for what the configuration leaves at zero.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// moby `container.MinimumDuration`: the least non-zero duration accepted.
const MINIMUM_DURATION_NS: i64 = 1_000_000;

/// The image's check under the container's: each part the container leaves
/// empty or zero comes from the image (moby `daemon/commit.go` `merge`).
pub fn merge(config: &mut Option<HealthConfig>, image: Option<&HealthConfig>) {
    let Some(image) = image else { return };
    let Some(own) = config else {
        *config = Some(image.clone());
        return;
    };
    if own.test.is_empty() {
        own.test = image.test.clone();
    }
    for (mine, theirs) in [
        (&mut own.interval, image.interval),
        (&mut own.timeout, image.timeout),
        (&mut own.start_period, image.start_period),
        (&mut own.start_interval, image.start_interval),
        (&mut own.retries, image.retries),
    ] {
        if *mine == 0 {
            *mine = theirs;
        }
    }
}

/// moby `validateHealthCheck` with its messages, and what moby would only
/// warn about at run time refused now: a probe type it does not know, a
/// `CMD` without a command, a member of the API it does not have.
pub fn validate(config: &HealthConfig) -> Result<(), JobError> {
    if let Some(name) = config.rest.keys().next() {
        return Err(JobError::invalid(format!(
            "Config.Healthcheck.{name} is not a field of the Docker Engine API 1.43: berth cannot honour it"
        )));
    }
    let minimum = go_duration(Duration::from_nanos(MINIMUM_DURATION_NS as u64));
    for (what, ns) in [("Interval", config.interval), ("Timeout", config.timeout)] {
        if ns != 0 && ns < MINIMUM_DURATION_NS {
            return Err(JobError::invalid(format!(
                "{what} in Healthcheck cannot be less than {minimum}"
            )));
        }
    }
    if config.retries < 0 {
        return Err(JobError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    for (what, ns) in [
        ("StartPeriod", config.start_period),
        ("StartInterval", config.start_interval),
    ] {
        if ns != 0 && ns < MINIMUM_DURATION_NS {
            return Err(JobError::invalid(format!(
                "{what} in Healthcheck cannot be less than {minimum}"
            )));
        }
    }
    match config.test.first().map(String::as_str) {
        None | Some("NONE") => Ok(()),
        Some("CMD" | "CMD-SHELL") if config.test.len() < 2 => Err(JobError::invalid(format!(
            "Healthcheck {} needs a command",
            config.test[0]
        ))),
        Some("CMD" | "CMD-SHELL") => Ok(()),
        Some(other) => Err(JobError::invalid(format!(
            "unknown healthcheck type '{other}' (expected CMD, CMD-SHELL or NONE)"
        ))),
    }
}

/// A container's check, ready to run: moby `getProbe` and its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What runs in the container: the `CMD` args, or the shell and the
    /// `CMD-SHELL` command.
    pub argv: Vec<String>,
    /// Between probes once started.
    pub interval: Duration,
    /// One probe's bound.
    pub timeout: Duration,
    /// Failures in it do not count while starting.
    pub start_period: Duration,
    /// Between probes during the start period.
    pub start_interval: Duration,
    /// Failures in a row that make it unhealthy.
    pub retries: u32,
}

fn or_default(ns: i64, default: Duration) -> Duration {
    u64::try_from(ns)
        .ok()
        .filter(|ns| *ns > 0)
        .map_or(default, Duration::from_nanos)
}

impl Probe {
    /// The probe of a container's (merged) configuration; `None` without a
    /// check or with `NONE`.
    pub fn from_config(config: &Config) -> Option<Probe> {
        let check = config.healthcheck.as_ref()?;
        let (kind, command) = check.test.split_first()?;
        let argv = match kind.as_str() {
            "CMD" => command.to_vec(),
            // moby `getShell`: the image's SHELL is not kept by berth's
            // images, so /bin/sh -c as on every Linux image.
            "CMD-SHELL" => ["/bin/sh", "-c"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain(command.iter().cloned())
                .collect(),
            _ => return None,
        };
        if argv.is_empty() {
            return None;
        }
        Some(Probe {
            argv,
            interval: or_default(check.interval, DEFAULT_INTERVAL),
            timeout: or_default(check.timeout, DEFAULT_TIMEOUT),
            start_period: or_default(check.start_period, DEFAULT_START_PERIOD),
            start_interval: or_default(check.start_interval, DEFAULT_START_INTERVAL),
            retries: u32::try_from(check.retries)
                .ok()
                .filter(|r| *r > 0)
                .unwrap_or(DEFAULT_RETRIES),
        })
    }

    /// How long to wait before the next probe, `elapsed` after the start
    /// (moby's `getInterval`): the start interval while starting within the
    /// start period, never past the period's end.
    pub fn next_delay(&self, elapsed: Duration, status: &str) -> Duration {
        if elapsed >= self.start_period {
            return self.interval;
        }
        let remaining = self.start_period - elapsed;
        if remaining < self.interval {
            return remaining;
        }
        if status == health_status::STARTING {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// What one probe gave: its exit code (-1 when it could not run or timed
/// out) and its output, already cut to [`MAX_OUTPUT_LEN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// 0 healthy; anything else a failure.
    pub exit_code: i64,
    /// stdout and stderr.
    pub output: String,
}

/// Output cut to [`MAX_OUTPUT_LEN`] bytes (at a character boundary), with
/// `...` when something was cut (moby `limitedBuffer`).
pub fn limit_output(output: &[u8]) -> String {
    if output.len() <= MAX_OUTPUT_LEN {
        return String::from_utf8_lossy(output).into_owned();
    }
    // A character split by the cut is dropped whole: step back over the
    // (at most three) bytes of it before the cut.
    let mut end = MAX_OUTPUT_LEN;
    while MAX_OUTPUT_LEN - end < 3 && end > 0 && output[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    let mut kept = String::from_utf8_lossy(&output[..end]).into_owned();
    kept.push_str("...");
    kept
}

/// Folds one result into the health (moby `handleProbeResult`); returns
/// whether the status changed. `in_start_period`: the probe started within
/// the start period after the container's start.
pub fn record_result(
    health: &mut Health,
    result: HealthcheckResult,
    in_start_period: bool,
    retries: u32,
) -> bool {
    let old = health.status.clone();
    if health.log.len() >= MAX_LOG_ENTRIES {
        health.log.drain(..=health.log.len() - MAX_LOG_ENTRIES);
    }
    let healthy = result.exit_code == 0;
    health.log.push(result);
    if healthy {
        health.failing_streak = 0;
        health.status = health_status::HEALTHY.to_owned();
    } else if !(health.status == health_status::STARTING && in_start_period) {
        health.failing_streak += 1;
        if health.failing_streak >= i64::from(retries) {
            health.status = health_status::UNHEALTHY.to_owned();
        }
    }
    health.status != old
}

/// The part of `docker ps`'s status a check adds (moby `Health.String`).
pub fn status_suffix(health: &Health) -> &str {
    match health.status.as_str() {
        health_status::STARTING => "health: starting",
        // moby: an empty status reads as unhealthy (the monitor not set up).
        "" => health_status::UNHEALTHY,
        other => other,
    }
}

/// A `time.Duration` as Go's `String` writes it (`1ms`, `1.5s`, `1m30s`,
/// `1h0m0s`): moby's messages print durations that way.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < 1_000_000_000 {
        let (unit, scale) = match ns {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", decimal(ns, scale));
    }
    let secs = ns / 1_000_000_000;
    let seconds = decimal(ns % 60_000_000_000, 1_000_000_000);
    let (hours, minutes) = (secs / 3600, secs % 3600 / 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `n / scale` with the fraction's trailing zeros dropped.
fn decimal(n: u128, scale: u128) -> String {
    let (whole, fraction) = (n / scale, n % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The running monitor of a container ([`ContainerInner::health_monitor`]).
#[derive(Debug)]
pub struct Monitor {
    task: tokio::task::AbortHandle,
    /// Results of an older monitor are dropped (moby's `done` check).
    generation: u64,
}

impl Daemon {
    /// At a start (and a restore of a running container): a container with
    /// a check is `starting` again with no failures, and its monitor runs
    /// (moby `initHealthMonitor`).
    pub(super) fn init_health(self: &Arc<Self>, container: &Arc<Container>) {
        {
            let mut inner = container.lock();
            if Probe::from_config(&inner.record.config).is_none() {
                return;
            }
            stop_monitor(&mut inner);
            let health = inner
                .record
                .state
                .health
                .get_or_insert_with(Health::default);
            health.status = health_status::STARTING.to_owned();
            health.failing_streak = 0;
        }
        self.update_health_monitor(container);
    }

    /// Runs the monitor when the container runs unpaused with a check, and
    /// stops it otherwise (moby `updateHealthMonitor`): after a pause,
    /// unpause or exit.
    pub(super) fn update_health_monitor(self: &Arc<Self>, container: &Arc<Container>) {
        let mut inner = container.lock();
        if inner.record.state.health.is_none() {
            return;
        }
        let state = &inner.record.state;
        let wanted = state.running && !state.paused;
        let started = parse_time(&state.started_at).unwrap_or_else(Utc::now);
        match Probe::from_config(&inner.record.config) {
            Some(probe) if wanted => {
                if inner.health_monitor.is_some() {
                    return;
                }
                inner.health_generation += 1;
                let generation = inner.health_generation;
                let daemon = Arc::clone(self);
                let watched = Arc::clone(container);
                let task = tokio::spawn(async move {
                    daemon.monitor(watched, probe, started, generation).await;
                });
                inner.health_monitor = Some(Monitor {
                    task: task.abort_handle(),
                    generation,
                });
            }
            _ => stop_monitor(&mut inner),
        }
    }

    async fn monitor(
        self: Arc<Self>,
        container: Arc<Container>,
        probe: Probe,
        started: DateTime<Utc>,
        generation: u64,
    ) {
        let mut overdue: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            let status = health_status_of(&container.lock());
            let elapsed = (Utc::now() - started).to_std().unwrap_or_default();
            tokio::time::sleep(probe.next_delay(elapsed, &status)).await;
            // The last probe that ran past its timeout ends first.
            if let Some(overdue) = overdue.take() {
                let _ = overdue.await;
            }
            let start = Utc::now();
            let start_text = berth_model::time::now_rfc3339();
            let (outcome, still_running) = self.probe_once(&container, &probe).await;
            overdue = still_running;
            let result = HealthcheckResult {
                start: start_text,
                end: berth_model::time::now_rfc3339(),
                exit_code: outcome.exit_code,
                output: outcome.output,
            };
            let in_start_period = (start - started)
                .to_std()
                .is_ok_and(|since| since < probe.start_period);
            let changed = {
                let mut inner = container.lock();
                if inner.health_monitor.as_ref().map(|m| m.generation) != Some(generation) {
                    return;
                }
                let Some(health) = inner.record.state.health.as_mut() else {
                    return;
                };
                record_result(health, result, in_start_period, probe.retries)
                    .then(|| (inner.record.clone(), health_status_of(&inner)))
            };
            if let Some((record, status)) = changed {
                self.container_event(&format!("health_status: {status}"), &record, &[]);
            }
        }
    }

    /// One probe under its timeout; what keeps it from running is a failed
    /// probe with the reason as its output (moby: exit code -1). A probe
    /// past its timeout is recorded as failed at once and its process is
    /// killed, as moby's `ContainerExecStart` does when the probe's context
    /// ends ("Sending KILL signal to container process",
    /// `daemon/exec.go`); the returned task ends with the process, and the
    /// monitor awaits it before the next probe, so that probes never pile
    /// up (moby's `monitor` waits for `execErr` too).
    async fn probe_once(
        self: &Arc<Self>,
        container: &Arc<Container>,
        probe: &Probe,
    ) -> (ProbeOutcome, Option<tokio::task::JoinHandle<()>>) {
        let daemon = Arc::clone(self);
        let (watched, argv) = (Arc::clone(container), probe.argv.clone());
        let exec_id = crate::daemon::names::generate_id();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (launched_tx, launched) = tokio::sync::oneshot::channel();
        let probe_exec_id = exec_id.clone();
        let running = tokio::spawn(async move {
            let ran = daemon
                .run_probe(&watched, &probe_exec_id, &argv, launched_tx)
                .await;
            let _ = tx.send(ran);
        });
        let outcome = match tokio::time::timeout(probe.timeout, rx).await {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(e))) => ProbeOutcome {
                exit_code: -1,
                output: e.message,
            },
            Ok(Err(_)) => ProbeOutcome {
                exit_code: -1,
                output: "the health check's exec ended without a result".to_owned(),
            },
            Err(_) => {
                let outcome = ProbeOutcome {
                    exit_code: -1,
                    output: format!(
                        "Health check exceeded timeout ({})",
                        go_duration(probe.timeout)
                    ),
                };
                let daemon = Arc::clone(self);
                let id = container.id.clone();
                let overdue = tokio::spawn(async move {
                    // Once its process runs (a start still under way is
                    // waited for; one that failed has nothing to kill).
                    if launched.await.is_ok() {
                        match daemon
                            .runtime
                            .kill_exec(&id, &exec_id, crate::daemon::signal::SIGKILL)
                            .await
                        {
                            Ok(_) => {}
                            Err(e) => tracing::warn!(
                                container = %id,
                                error = %e.message,
                                "cannot kill an overdue health probe"
                            ),
                        }
                    }
                    let _ = running.await;
                });
                return (outcome, Some(overdue));
            }
        };
        (outcome, None)
    }

    /// Runs `argv` in the container as an exec process with the
    /// container's user, working directory and environment, no stdin, no
    /// tty, unprivileged (moby `cmdProbe.run`), collecting its output.
    async fn run_probe(
        &self,
        container: &Arc<Container>,
        exec_id: &str,
        argv: &[String],
        launched: tokio::sync::oneshot::Sender<()>,
    ) -> Result<ProbeOutcome, JobError> {
        let (user, working_dir) = {
            let inner = container.lock();
            let config = &inner.record.config;
            (
                config.user.clone(),
                Some(config.working_dir.clone()).filter(|d| !d.is_empty()),
            )
        };
        let config = ExecProcessConfig {
            command: argv.to_vec(),
            user,
            working_dir,
            ..ExecProcessConfig::default()
        };
        // One byte past the limit tells that the output was cut.
        let ran = self
            .exec_collect_as(
                &container.id,
                exec_id,
                config,
                MAX_OUTPUT_LEN + 1,
                Some(launched),
            )
            .await?;
        Ok(ProbeOutcome {
            exit_code: i64::from(ran.exit_code),
            output: limit_output(&ran.output),
        })
    }
}

fn health_status_of(inner: &ContainerInner) -> String {
    inner
        .record
        .state
        .health
        .as_ref()
        .map(|h| h.status.clone())
        .unwrap_or_default()
}

/// Stops a container's monitor, leaving its status `unhealthy` (moby
/// `CloseMonitorChannel`); nothing when none runs.
pub(super) fn stop_monitor(inner: &mut ContainerInner) {
    if let Some(monitor) = inner.health_monitor.take() {
        monitor.task.abort();
        if let Some(health) = inner.record.state.health.as_mut() {
            health.status = health_status::UNHEALTHY.to_owned();
        }
    }
}

#[cfg(test)]
mod tests;
