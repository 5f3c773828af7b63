//! The container jobs, one per Docker container operation.

use std::sync::Arc;

use berth_api::container::{CreateRequest, WaitCondition, WaitResponse};
use berth_api::filters::Filters;

use super::Context;
use crate::daemon::AttachReplay;
use crate::driver::{AttachOptions, LogOptions};
use crate::job::{Job, JobError, JobResult, JobStdin};
use berth_api::escape::DetachKeys;

/// Largest JSON request body accepted (create requests are a few KiB).
const MAX_JSON_BODY: usize = 4 << 20;

/// `container_create`: creates a container from a JSON config on stdin.
pub(super) async fn container_create(cx: Arc<Context>, mut job: Job) -> JobResult {
    let d = &cx.daemon;
    let request: CreateRequest = job.read_json(MAX_JSON_BODY).await?;
    let created = d.create(job.env.get("name"), request).await?;
    job.stdout.write_json(&created).await?;
    Ok(0)
}

/// `container_list`: lists containers.
pub(super) async fn container_list(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let filters = Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    let limit = job.env.get_i64("limit")?.filter(|l| *l > 0);
    let all = job.env.get_bool("all")? || limit.is_some();
    let mut list = d.list(all, &filters)?;
    if let Some(limit) = limit {
        list.truncate(limit as usize);
    }
    if job.env.get_bool("size")? {
        d.add_sizes(&mut list).await?;
    }
    job.stdout.write_json(&list).await?;
    Ok(0)
}

/// `container_inspect`: shows a container.
pub(super) async fn container_inspect(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let inspect = d.inspect(job.required_arg(0, "container id")?)?;
    job.stdout.write_json(&inspect).await?;
    Ok(0)
}

/// `container_start`: starts a container.
pub(super) async fn container_start(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    d.start(job.required_arg(0, "container id")?).await?;
    Ok(0)
}

/// `container_stop`: stops a container: its stop signal, then SIGKILL after t seconds.
pub(super) async fn container_stop(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let t = job.env.get_i64("t")?;
    d.stop(
        job.required_arg(0, "container id")?,
        t,
        job.env.get("signal"),
    )
    .await?;
    Ok(0)
}

/// `container_restart`: stops a container as `container_stop` does, then starts it.
pub(super) async fn container_restart(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let t = job.env.get_i64("t")?;
    d.restart(
        job.required_arg(0, "container id")?,
        t,
        job.env.get("signal"),
    )
    .await?;
    Ok(0)
}

/// `container_rename`: gives a container a new name.
pub(super) async fn container_rename(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    d.rename(
        job.required_arg(0, "container id")?,
        job.env.get("name").unwrap_or(""),
    )
    .await?;
    Ok(0)
}

/// `container_top`: the `ps` rows of a container's processes.
pub(super) async fn container_top(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let list = d
        .top(
            job.required_arg(0, "container id")?,
            job.env.get("ps_args").unwrap_or(""),
        )
        .await?;
    job.stdout.write_json(&list).await?;
    Ok(0)
}

/// `container_pause`: freezes every process of a container.
pub(super) async fn container_pause(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    d.pause(job.required_arg(0, "container id")?).await?;
    Ok(0)
}

/// `container_unpause`: thaws a paused container.
pub(super) async fn container_unpause(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    d.unpause(job.required_arg(0, "container id")?).await?;
    Ok(0)
}

/// `container_kill`: sends a signal to a container.
pub(super) async fn container_kill(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    d.kill(job.required_arg(0, "container id")?, job.env.get("signal"))
        .await?;
    Ok(0)
}

/// `container_wait`: waits for a container to stop, exit or be removed.
pub(super) async fn container_wait(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let raw = job.env.get("condition").unwrap_or("");
    let condition = WaitCondition::parse(raw)
        .ok_or_else(|| JobError::invalid(format!("invalid condition: \"{raw}\"")))?;
    let id = job.required_arg(0, "container id")?;
    let out = job.stdout.clone();
    let registered = async move {
        // Headers go out once the waiter is in place: a client
        // that starts the container after this cannot miss the exit.
        let _ = out.begin(Some("application/json")).await;
    };
    let code = tokio::select! {
        code = d.wait(id, condition, registered) => code?,
        _ = job.stdout.closed() => return Ok(0),
    };
    job.stdout
        .write_json(&WaitResponse {
            status_code: code,
            error: None,
        })
        .await?;
    Ok(0)
}

/// `container_delete`: removes a container.
pub(super) async fn container_delete(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let force = job.env.get_bool("force")?;
    let reference = job.required_arg(0, "container id")?;
    if job.env.get_bool("v")? {
        d.remove_with_volumes(reference, force).await?;
    } else {
        d.remove(reference, force).await?;
    }
    Ok(0)
}

/// `container_logs`: streams a container's logs.
pub(super) async fn container_logs(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let tail = match job.env.get("tail").unwrap_or("all") {
        "" | "all" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| JobError::invalid(format!("invalid value for \"tail\": {n:?}")))?,
        ),
    };
    let options = LogOptions {
        follow: job.env.get_bool("follow")?,
        // Negative tail means all, as in moby.
        tail: tail.filter(|t| *t >= 0).map(|t| t as usize),
        since: unix_time(job.env.get_i64("since")?),
        until: unix_time(job.env.get_i64("until")?),
        stdout: job.env.get_bool("stdout")?,
        stderr: job.env.get_bool("stderr")?,
        // `Daemon::logs` prefixes the records itself.
        timestamps: false,
    };
    let timestamps = job.env.get_bool("timestamps")?;
    let id = job.required_arg(0, "container id")?;
    tokio::select! {
        r = d.logs(id, options, timestamps, &job.stdout) => r?,
        _ = job.stdout.closed() => {}
    }
    Ok(0)
}

/// `since`/`until` of `GET /containers/{id}/logs`: Unix seconds, 0 (or
/// less) for none.
fn unix_time(secs: Option<i64>) -> Option<berth_model::Timestamp> {
    secs.filter(|s| *s > 0)
        .map(|s| berth_model::Timestamp::from_unix(s, 0))
}

/// `container_attach`: attaches stdin (job stdin) and output (job stdout) to a container.
pub(super) async fn container_attach(cx: Arc<Context>, mut job: Job) -> JobResult {
    let d = &cx.daemon;
    let options = AttachOptions {
        stdin: job.env.get_bool("stdin")?,
        stdout: job.env.get_bool("stdout")?,
        stderr: job.env.get_bool("stderr")?,
    };
    let replay = AttachReplay {
        logs: job.env.get_bool("logs")?,
        stream: job.env.get_bool("stream")?,
    };
    if !replay.stream && !replay.logs {
        return Err(JobError::invalid(
            "Bad parameters: stream or logs must be set",
        ));
    }
    // moby `daemon/attach.go`: checked before the container is looked up.
    let keys = job.env.get("detachKeys").unwrap_or_default();
    let detach_keys = DetachKeys::parse(keys)
        .map_err(|_| JobError::invalid(format!("Invalid detach keys ({keys}) provided")))?;
    let stdin = options
        .stdin
        .then(|| std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty())) as JobStdin);
    let id = job.required_arg(0, "container id")?;
    d.attach(id, options, replay, detach_keys, stdin, job.stdout.clone())
        .await?;
    Ok(0)
}

/// `container_resize`: resizes a container's TTY.
pub(super) async fn container_resize(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let dim = |k: &str| -> Result<u16, JobError> {
        let v = job.env.get_i64(k)?.unwrap_or(0);
        u16::try_from(v).map_err(|_| JobError::invalid(format!("invalid terminal {k}: {v}")))
    };
    let (h, w) = (dim("h")?, dim("w")?);
    d.resize(job.required_arg(0, "container id")?, h, w).await?;
    Ok(0)
}

/// `container_prune`: removes the containers that are not running.
pub(super) async fn container_prune(cx: Arc<Context>, job: Job) -> JobResult {
    let filters = Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    let report = cx.daemon.container_prune(&filters).await?;
    job.stdout.write_json(&report).await?;
    Ok(0)
}

/// `container_changes`: what a container changed in its image's files.
pub(super) async fn container_changes(cx: Arc<Context>, job: Job) -> JobResult {
    let changes = cx
        .daemon
        .changes(job.required_arg(0, "container id")?)
        .await?;
    job.stdout.write_json(&changes).await?;
    Ok(0)
}

/// `container_update`: new limits and restart policy for a container, from
/// a JSON `UpdateConfig` on stdin.
pub(super) async fn container_update(cx: Arc<Context>, mut job: Job) -> JobResult {
    let d = &cx.daemon;
    let request: berth_api::container::UpdateRequest = job.read_json(MAX_JSON_BODY).await?;
    let id = job.required_arg(0, "container id")?.to_owned();
    let answer = d.update(&id, request).await?;
    job.stdout.write_json(&answer).await?;
    Ok(0)
}

/// `container_stats`: streams a container's resource usage samples.
/// `stream` defaults to true (moby `BoolValueOrDefault(r, "stream", true)`).
pub(super) async fn container_stats(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let stream = match job.env.get("stream") {
        None | Some("") => true,
        Some(_) => job.env.get_bool("stream")?,
    };
    let options = crate::daemon::stats::StatsOptions {
        stream,
        one_shot: job.env.get_bool("one-shot")?,
    };
    d.stats(job.required_arg(0, "container id")?, options, &job.stdout)
        .await?;
    Ok(0)
}
