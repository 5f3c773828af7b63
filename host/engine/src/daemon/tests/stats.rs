//! Stats: Docker's samples from the exec driver's readings, on the
//! blocking pool.

use berth_api::container::stats::StatsResponse;
use berth_model::stats::{BlkioEntry, ResourceSample, Stats};

use super::*;
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
