//! Stats: Docker's samples from the exec driver's readings, on the
//! blocking pool.

use berth_api::container::stats::StatsResponse;
use berth_model::stats::{BlkioEntry, ResourceSample, Stats};

use super::*;
use crate::daemon::stats::STATS_INTERVAL;
use crate::job::Chunk;

/// A reading: `cpu` ns of container CPU time against `system` ns of host
/// CPU time, 2 CPUs, 1 GiB of host memory, 10 MiB used without a limit.
fn sample(secs: i64, cpu: u64, system: u64) -> ResourceSample {
    let mut stats = Stats::default();
    stats.cpu.usage.total_usage = cpu;
    stats.cpu.usage.percpu_usage = vec![cpu / 2, cpu / 2];
    stats.memory.usage = 10 << 20;
    stats.memory.max_usage = 12 << 20;
    stats
        .memory
        .stat
        .insert("total_inactive_file".into(), 1 << 20);
    stats.pids.current = 3;
    stats.pids.limit = Some(50);
    stats.blkio.io_service_bytes = vec![BlkioEntry {
        major: 8,
        minor: 0,
        op: "Read".into(),
        value: 4096,
    }];
    ResourceSample {
        read: berth_model::Timestamp::from_unix(secs, 0),
        stats,
        system_cpu_usage: system,
        online_cpus: 2,
        host_memory: 1 << 30,
    }
}

fn stats_job(reference: &str, query: &[(&str, &str)]) -> (Job, crate::job::JobStreams) {
    let (mut job, streams) = Job::new("container_stats");
    job = job.arg(reference);
    for (k, v) in query {
        job = job.env(*k, *v);
    }
    (job, streams)
}

fn samples(out: &[u8]) -> Vec<StatsResponse> {
    serde_json::Deserializer::from_slice(out)
        .into_iter::<StatsResponse>()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_stopped_container_gives_mobys_zeroed_sample_without_reading() {
    let f = fixture();
    let id = f
        .create(Some("st"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let (job, streams) = stats_job("st", &[("stream", "false")]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    assert_eq!(samples(&out), [StatsResponse::zeroed("/st", &id)]);
    assert!(f.runtime.stats_asked.lock().unwrap().is_empty());

    let (job, streams) = stats_job("st", &[("stream", "1"), ("one-shot", "1")]);
    let err = f.run_job(job, streams).await.0.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::InvalidParameter,
            "cannot have stream=true and one-shot=true"
        )
    );
    let (job, streams) = stats_job("nope", &[("stream", "0")]);
    let err = f.run_job(job, streams).await.0.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::NotFound, "No such container: nope")
    );
}

#[tokio::test(start_paused = true)]
async fn no_stream_primes_precpu_from_a_first_sample_read_on_the_pool() {
    let f = fixture();
    let id = f
        .create(Some("run"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("run").await.unwrap();
    *f.runtime.samples.lock().unwrap() = vec![
        Some(sample(100, 1_000, 10_000)),
        Some(sample(101, 1_500, 12_000)),
    ];
    let before = f.daemon.pool.ran(BlockingKind::Stats);
    let (job, streams) = stats_job("run", &[("stream", "false")]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    let got = samples(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    let s = &got[0];
    assert_eq!((s.name.as_str(), s.id.as_str()), ("/run", id.as_str()));
    assert_eq!(s.read, "1970-01-01T00:01:41Z");
    assert_eq!(s.preread, "1970-01-01T00:01:40Z");
    assert_eq!(s.cpu_stats.cpu_usage.total_usage, 1_500);
    assert_eq!(s.cpu_stats.system_cpu_usage, 12_000);
    assert_eq!(s.cpu_stats.online_cpus, 2);
    assert_eq!(s.cpu_stats.cpu_usage.percpu_usage, [750, 750]);
    assert_eq!(s.precpu_stats.cpu_usage.total_usage, 1_000);
    assert_eq!(s.precpu_stats.system_cpu_usage, 10_000);
    // No limit: moby reports the host's memory.
    assert_eq!(
        (s.memory_stats.usage, s.memory_stats.limit),
        (10 << 20, 1 << 30)
    );
    assert_eq!(s.memory_stats.max_usage, 12 << 20);
    assert_eq!(s.memory_stats.stats["total_inactive_file"], 1 << 20);
    assert_eq!((s.pids_stats.current, s.pids_stats.limit), (3, 50));
    let read = s.blkio_stats.io_service_bytes_recursive.as_ref().unwrap();
    assert_eq!((read[0].op.as_str(), read[0].value), ("Read", 4096));
    // Both readings went through the bounded pool, for this container.
    assert_eq!(f.daemon.pool.ran(BlockingKind::Stats) - before, 2);
    assert_eq!(*f.runtime.stats_asked.lock().unwrap(), [id.clone(), id]);
}

#[tokio::test]
async fn one_shot_sends_the_first_sample_without_precpu() {
    let f = fixture();
    f.create(Some("os"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("os").await.unwrap();
    let mut limited = sample(7, 5, 50);
    limited.stats.memory.limit = Some(64 << 20);
    *f.runtime.samples.lock().unwrap() = vec![Some(limited)];
    let (job, streams) = stats_job("os", &[("stream", "0"), ("one-shot", "true")]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    let got = samples(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].preread, "0001-01-01T00:00:00Z");
    assert_eq!(got[0].precpu_stats, Default::default());
    assert_eq!(got[0].memory_stats.limit, 64 << 20, "the cgroup's limit");
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_sends_a_sample_a_second_until_the_client_goes_away() {
    let f = fixture();
    f.create(Some("sm"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("sm").await.unwrap();
    *f.runtime.samples.lock().unwrap() = vec![
        Some(sample(1, 10, 100)),
        Some(sample(2, 20, 200)),
        // The container exited between two samples.
        None,
        Some(sample(4, 40, 400)),
    ];
    // No `stream` parameter: moby streams by default.
    let (job, mut streams) = stats_job("sm", &[]);
    let handle = f.engine.spawn(job);
    let mut got = Vec::new();
    while got.len() < 4 {
        match streams.stdout.next().await.expect("a sample") {
            Chunk::Data(data) => got.extend(samples(&data)),
            Chunk::Begin { content_type } => {
                assert_eq!(content_type.as_deref(), Some("application/json"));
            }
        }
    }
    assert_eq!(
        got[0].preread, "0001-01-01T00:00:00Z",
        "the first has no precpu"
    );
    assert_eq!(got[1].precpu_stats.cpu_usage.total_usage, 10);
    assert_eq!(got[1].cpu_stats.cpu_usage.total_usage, 20);
    assert_eq!(got[2], StatsResponse::zeroed("/sm", &got[0].id));
    assert_eq!(
        got[3].precpu_stats,
        Default::default(),
        "no precpu across a gap"
    );
    // The client goes away: the job ends.
    drop(streams);
    handle.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stream_ends_when_the_container_is_removed() {
    let f = fixture();
    f.create(Some("gone"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    let (job, mut streams) = stats_job("gone", &[("stream", "1")]);
    let handle = f.engine.spawn(job);
    // A stopped container streams zeroed samples...
    let mut seen = 0;
    while seen < 2 {
        if let Chunk::Data(data) = streams.stdout.next().await.expect("a sample") {
            seen += samples(&data).len();
        }
    }
    // ...until it is removed.
    f.daemon.remove("gone", false).await.unwrap();
    while streams.stdout.next().await.is_some() {}
    handle.await.unwrap().unwrap();
}

/// Runs `stream=false` stats of `reference` and returns its one sample.
async fn no_stream(f: &Fixture, reference: &str) -> StatsResponse {
    let (job, streams) = stats_job(reference, &[("stream", "false")]);
    let (result, out) = f.run_job(job, streams).await;
    result.unwrap();
    let mut got = samples(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    got.remove(0)
}

#[tokio::test(start_paused = true)]
async fn no_stream_takes_precpu_from_the_sample_kept_less_than_a_tick_ago() {
    let f = fixture();
    f.create(Some("kept"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("kept").await.unwrap();
    *f.runtime.samples.lock().unwrap() = vec![
        Some(sample(100, 1_000, 10_000)),
        Some(sample(101, 1_500, 12_000)),
        Some(sample(102, 1_800, 14_000)),
        Some(sample(110, 2_000, 30_000)),
        Some(sample(111, 2_100, 32_000)),
    ];
    // Nothing kept yet: primed, two readings.
    let first = no_stream(&f, "kept").await;
    assert_eq!(first.precpu_stats.cpu_usage.total_usage, 1_000);
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 2);
    // Half a second later (a `docker stats --no-stream` loop): the last
    // sample is the precpu, as moby's collector's previous tick is, and
    // one reading is enough.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = no_stream(&f, "kept").await;
    assert_eq!(second.preread, first.read);
    assert_eq!(second.precpu_stats, first.cpu_stats);
    assert_eq!(second.cpu_stats.cpu_usage.total_usage, 1_800);
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 3);
    // More than a tick later, the kept sample is too old: primed again.
    tokio::time::sleep(STATS_INTERVAL + Duration::from_millis(1)).await;
    let third = no_stream(&f, "kept").await;
    assert_eq!(third.precpu_stats.cpu_usage.total_usage, 2_000);
    assert_eq!(third.cpu_stats.cpu_usage.total_usage, 2_100);
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn no_stream_primes_when_the_kept_sample_is_too_recent_or_of_an_earlier_run() {
    let f = fixture();
    f.create(Some("fresh"), r#"{"Image":"busybox","Cmd":["sleep"]}"#)
        .await
        .unwrap();
    f.daemon.start("fresh").await.unwrap();
    *f.runtime.samples.lock().unwrap() = vec![
        Some(sample(100, 1_000, 10_000)),
        Some(sample(101, 1_500, 12_000)),
        Some(sample(102, 1_600, 13_000)),
        Some(sample(103, 1_700, 14_000)),
        Some(sample(200, 10, 50_000)),
        Some(sample(201, 20, 52_000)),
    ];
    no_stream(&f, "fresh").await;
    // Right after: a window shorter than the priming one would make a
    // noisy CPU %; primed instead.
    let again = no_stream(&f, "fresh").await;
    assert_eq!(again.precpu_stats.cpu_usage.total_usage, 1_600);
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 4);
    // A restart in between: its counters started over, the sample kept
    // before it is not a precpu of this run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.daemon.stop("fresh", None, None).await.unwrap();
    f.daemon.start("fresh").await.unwrap();
    let restarted = no_stream(&f, "fresh").await;
    assert_eq!(restarted.precpu_stats.cpu_usage.total_usage, 10);
    assert_eq!(restarted.cpu_stats.cpu_usage.total_usage, 20);
    assert_eq!(f.runtime.stats_asked.lock().unwrap().len(), 6);
}
