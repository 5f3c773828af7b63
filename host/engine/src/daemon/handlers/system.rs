//! The system jobs: `system_ping`, `system_version`, `system_info`,
//! `system_events`, and the engine's `job_list`.

use std::sync::Arc;

use berth_api::event::EventMessage;

use super::Context;
use crate::daemon::blocking::BlockingKind;
use crate::event_filter::EventFilter;
use crate::job::{ErrorKind, Job, JobError, JobResult};

/// `system_ping`: answers OK when the daemon is up.
pub(super) async fn system_ping(_: Arc<Context>, job: Job) -> JobResult {
    job.stdout.write(&b"OK"[..]).await?;
    Ok(0)
}

/// `system_version`: the daemon's version.
pub(super) async fn system_version(cx: Arc<Context>, job: Job) -> JobResult {
    job.stdout.write_json(&cx.facts.version).await?;
    Ok(0)
}

/// `system_info`: system-wide information.
pub(super) async fn system_info(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let mut info = cx.facts.info.clone();
    let counts = d.containers().count_by_status();
    let get = |s: &str| counts.get(s).copied().unwrap_or(0);
    info.containers = counts.values().sum();
    info.containers_running = get("running");
    info.containers_paused = get("paused");
    info.containers_stopped = info.containers - info.containers_running - info.containers_paused;
    let images = Arc::clone(d.images());
    info.images = d
        .blocking(BlockingKind::ImageMetadata, move || images.list())
        .await?
        .len() as u64;
    info.driver = d.images().driver_name();
    job.stdout.write_json(&info).await?;
    Ok(0)
}

/// `job_list`: lists the engine's handler table.
pub(super) async fn job_list(cx: Arc<Context>, job: Job) -> JobResult {
    let engine = cx
        .engine
        .upgrade()
        .ok_or_else(|| JobError::new(ErrorKind::Unavailable, "the engine is shutting down"))?;
    job.stdout.write_json(&engine.handlers()).await?;
    Ok(0)
}

/// `system_events`: streams events as JSON lines.
pub(super) async fn system_events(cx: Arc<Context>, job: Job) -> JobResult {
    let daemon = &cx.daemon;
    let filter = EventFilter::parse(
        job.env.get("filters").unwrap_or(""),
        job.env.get("since"),
        job.env.get("until"),
        chrono::Utc::now(),
    )
    .map_err(|e| JobError::invalid(e.to_string()))?;
    let (since, until) = (filter.since, filter.until);
    // The replay and the live stream split the events between them: an
    // event published meanwhile is sent once.
    let (past, mut rx) = match since {
        Some(since) => daemon.events().subscribe_since(since),
        None => (Vec::new(), daemon.events().subscribe()),
    };
    let matches = |m: &EventMessage| filter.include(m);
    job.stdout.begin(Some("application/json")).await?;
    for m in past {
        if until.is_some_and(|u| m.time_nano > u) {
            return Ok(0);
        }
        if matches(&m) {
            job.stdout.write_json(&m).await?;
        }
    }
    let deadline = until.map(|u| {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
    });
    let stream = async {
        loop {
            tokio::select! {
                received = rx.recv() => match received {
                    Ok(m) => {
                        if matches(&m) {
                            job.stdout.write_json(&m).await?;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "events subscriber fell behind");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok::<(), JobError>(()),
                },
                _ = job.stdout.closed() => return Ok(()),
            }
        }
    };
    match deadline {
        Some(d) => {
            let _ = tokio::time::timeout(d, stream).await;
        }
        None => stream.await?,
    }
    Ok(0)
}

/// `system_df`: the disk use of images and containers (`type` narrows it).
pub(super) async fn system_df(cx: Arc<Context>, job: Job) -> JobResult {
    let types: Vec<String> = job.env.get_all("type").map(str::to_owned).collect();
    let usage = cx.daemon.system_df(&types).await?;
    job.stdout.write_json(&usage).await?;
    Ok(0)
}

/// `network_prune`: removes unused networks.
pub(super) async fn network_prune(cx: Arc<Context>, job: Job) -> JobResult {
    let filters = berth_api::filters::Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    let report = cx.daemon.network_prune(&filters).await?;
    job.stdout.write_json(&report).await?;
    Ok(0)
}

/// `build_prune`: removes build cache (berth has none yet).
pub(super) async fn build_prune(cx: Arc<Context>, job: Job) -> JobResult {
    let filters = berth_api::filters::Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    job.env.get_bool("all")?;
    let sizes: Vec<(&str, &str)> = crate::daemon::prune_unowned::BUILD_PRUNE_SIZES
        .iter()
        .filter_map(|name| job.env.get(name).map(|v| (*name, v)))
        .collect();
    let report = cx.daemon.build_prune(&filters, &sizes)?;
    job.stdout.write_json(&report).await?;
    Ok(0)
}
