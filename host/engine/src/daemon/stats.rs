//! `GET /containers/{id}/stats?stream=&one-shot=` (moby `daemon/stats.go`):
//! samples of a container's resource usage in Docker's JSON, one per
//! [`STATS_INTERVAL`] while streaming, so that `docker stats` renders CPU %,
//! MEM USAGE / LIMIT, MEM %, BLOCK I/O and PIDS from them.
//!
//! The exec driver reads the container's cgroup and the host's CPU clock
//! ([`ExecService::stats`](crate::driver::ExecService::stats)); those reads
//! are blocking file I/O, so each sample runs on the daemon's blocking pool
//! under [`BlockingKind::Stats`]. Its semaphore hands permits out in the
//! order they were asked for (tokio's `Semaphore` is fair), so many
//! containers' streams at once take turns sample by sample, and however
//! many there are they hold at most that kind's threads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_api::container::stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, StatsResponse,
    StorageStats, ThrottlingData, ZERO_TIME,
};
use berth_model::stats::{BlkioEntry, ResourceSample};
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::Container;
use crate::job::{JobError, JobOutput};

/// Time between two samples of a stream: moby's stats collector ticks
/// once a second (`daemon/stats/collector.go`).
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// `stream=false` sends one sample whose `precpu_stats` come from a first
/// one, as moby primes it, so that the CLI's CPU % (a delta) is not 0.
/// moby's first sample is its collector's previous tick (up to a second
/// before). berth keeps the last sample it read of each container
/// ([`LastSamples`]) and uses it when it is between this window and
/// [`STATS_INTERVAL`] old; otherwise it takes its own first sample this
/// long before the one it sends. The CPU % is the average over the window:
/// shorter is a noisier figure (`/proc/stat` counts in 10 ms ticks),
/// longer a slower `docker stats --no-stream`.
pub const NO_STREAM_WINDOW: Duration = Duration::from_millis(200);

/// The last sample berthd read of each running container, the way moby's
/// stats collector (`daemon/stats/collector.go`) keeps its previous tick:
/// the `precpu_stats` of a `stream=false` answer within a tick of it, so
/// that a `docker stats --no-stream` repeated (or run for many containers
/// one after the other) reads each container once instead of twice with
/// [`NO_STREAM_WINDOW`] between. Entries older than a tick are useless
/// and dropped as others are kept.
#[derive(Debug, Default)]
pub struct LastSamples {
    map: std::sync::Mutex<HashMap<String, Kept>>,
}

#[derive(Debug)]
struct Kept {
    /// Monotonic (tokio's clock, so that tests can pause it).
    taken: Instant,
    /// The run it belongs to (`State.StartedAt`): a restart starts the
    /// cgroup's counters over.
    run: String,
    sample: ResourceSample,
}

impl LastSamples {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept sample of run `run` of container `id` when it is old
    /// enough for a steady CPU % and no older than a collector tick.
    fn precpu(&self, id: &str, run: &str) -> Option<ResourceSample> {
        let map = self.map();
        let kept = map.get(id)?;
        let age = kept.taken.elapsed();
        (kept.run == run && (NO_STREAM_WINDOW..=STATS_INTERVAL).contains(&age))
            .then(|| kept.sample.clone())
    }

    /// Keeps `sample`, just read, as the last of container `id`.
    fn keep(&self, id: &str, run: &str, sample: &ResourceSample) {
        let mut map = self.map();
        map.retain(|_, kept| kept.taken.elapsed() <= STATS_INTERVAL);
        map.insert(
            id.to_owned(),
            Kept {
                taken: Instant::now(),
                run: run.to_owned(),
                sample: sample.clone(),
            },
        );
    }
}

/// What the client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsOptions {
    /// A sample every [`STATS_INTERVAL`] until the client goes away or the
    /// container is removed (moby's default), or a single one.
    pub stream: bool,
    /// With `stream=false`: the single sample without the priming one
    /// (`precpu_stats` empty), at once.
    pub one_shot: bool,
}

impl Daemon {
    /// Streams stats samples of container `reference` to `out` as JSON
    /// lines. moby's answers: 400 for `stream` with `one-shot`; for a
    /// container that is not running, a sample with only its name and id.
    pub async fn stats(
        &self,
        reference: &str,
        options: StatsOptions,
        out: &JobOutput,
    ) -> Result<(), JobError> {
        if options.stream && options.one_shot {
            return Err(JobError::invalid(
                "cannot have stream=true and one-shot=true",
            ));
        }
        let container = self.containers.get(reference)?;
        let name = format!("/{}", container.lock().record.name);
        out.begin(Some("application/json")).await?;
        if !options.stream {
            let run = container.lock().record.state.started_at.clone();
            let kept = self.last_samples.precpu(&container.id, &run);
            let response = match self.sample(&container).await? {
                None => StatsResponse::zeroed(&name, &container.id),
                Some(first) if options.one_shot => response(&name, &container.id, &first, None),
                Some(now) if kept.is_some() => response(&name, &container.id, &now, kept.as_ref()),
                Some(first) => {
                    tokio::time::sleep(NO_STREAM_WINDOW).await;
                    match self.sample(&container).await? {
                        Some(second) => response(&name, &container.id, &second, Some(&first)),
                        None => StatsResponse::zeroed(&name, &container.id),
                    }
                }
            };
            return out.write_json(&response).await;
        }
        let removed = container.watch();
        let mut previous: Option<ResourceSample> = None;
        loop {
            if removed.borrow().removed {
                // moby closes the stream when the container goes away.
                return Ok(());
            }
            // The name may have changed (rename) since the last sample.
            let name = format!("/{}", container.lock().record.name);
            let sample = self.sample(&container).await?;
            let response = match &sample {
                Some(now) => response(&name, &container.id, now, previous.as_ref()),
                // moby's collector publishes name and id alone for a
                // container that is not running, and goes on.
                None => StatsResponse::zeroed(&name, &container.id),
            };
            previous = sample;
            out.write_json(&response).await?;
            tokio::select! {
                () = tokio::time::sleep(STATS_INTERVAL) => {}
                () = out.closed() => return Ok(()),
            }
        }
    }

    /// One sample of a running container, read on the blocking pool and
    /// kept as its last ([`LastSamples`]); `None` when it is not running.
    async fn sample(&self, container: &Container) -> Result<Option<ResourceSample>, JobError> {
        let run = {
            let inner = container.lock();
            if !inner.record.state.running {
                return Ok(None);
            }
            inner.record.state.started_at.clone()
        };
        let runtime = Arc::clone(&self.runtime);
        let id = container.id.clone();
        let sample = self
            .blocking(BlockingKind::Stats, move || runtime.stats(&id))
            .await?;
        if let Some(sample) = &sample {
            self.last_samples.keep(&container.id, &run, sample);
        }
        Ok(sample)
    }
}

/// Docker's sample from `now`, with `before` as its `precpu_stats`. A
/// container without a memory limit reports the host's memory as its
/// limit, as moby does.
fn response(
    name: &str,
    id: &str,
    now: &ResourceSample,
    before: Option<&ResourceSample>,
) -> StatsResponse {
    let stats = &now.stats;
    let blkio = |entries: &[BlkioEntry]| {
        Some(
            entries
                .iter()
                .map(|e| BlkioStatEntry {
                    major: e.major,
                    minor: e.minor,
                    op: e.op.clone(),
                    value: e.value,
                })
                .collect(),
        )
    };
    StatsResponse {
        name: name.to_owned(),
        id: id.to_owned(),
        read: now.read.to_rfc3339_nano(),
        preread: before.map_or_else(|| ZERO_TIME.to_owned(), |b| b.read.to_rfc3339_nano()),
        pids_stats: PidsStats {
            current: stats.pids.current,
            limit: stats.pids.limit.unwrap_or(0),
        },
        blkio_stats: BlkioStats {
            io_service_bytes_recursive: blkio(&stats.blkio.io_service_bytes),
            io_serviced_recursive: blkio(&stats.blkio.io_serviced),
            ..BlkioStats::default()
        },
        num_procs: 0,
        storage_stats: StorageStats::default(),
        cpu_stats: cpu_stats(now),
        precpu_stats: before.map(cpu_stats).unwrap_or_default(),
        memory_stats: MemoryStats {
            usage: stats.memory.usage,
            max_usage: stats.memory.max_usage,
            stats: stats.memory.stat.clone(),
            failcnt: stats.memory.failcnt,
            // moby: a limit above the host's memory (or none) is the host's.
            limit: stats
                .memory
                .limit
                .filter(|l| *l <= now.host_memory || now.host_memory == 0)
                .unwrap_or(now.host_memory),
        },
    }
}

fn cpu_stats(sample: &ResourceSample) -> CpuStats {
    let cpu = &sample.stats.cpu;
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: cpu.usage.total_usage,
            percpu_usage: cpu.usage.percpu_usage.clone(),
            usage_in_kernelmode: cpu.usage.usage_in_kernelmode,
            usage_in_usermode: cpu.usage.usage_in_usermode,
        },
        system_cpu_usage: sample.system_cpu_usage,
        online_cpus: sample.online_cpus,
        throttling_data: ThrottlingData {
            periods: cpu.throttling.periods,
            throttled_periods: cpu.throttling.throttled_periods,
            throttled_time: cpu.throttling.throttled_time,
        },
    }
}
