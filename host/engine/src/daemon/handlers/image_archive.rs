//! The image archive jobs: `image_load` (`POST /images/load`),
//! `image_history` (`GET /images/{name}/history`), `image_save` (`GET
//! /images/get`, `GET /images/{name}/get`), `container_export` (`GET
//! /containers/{id}/export`).

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::image_archive::{HistoryResponseItem, StreamMessage};

use super::Context;
use crate::daemon::blocking::BlockingKind;
use crate::driver::LoadReport;
use crate::job::{Job, JobResult};

/// moby's lines after a load (`image/tarexport/load.go`): `Loaded image:
/// <tag>` for each tag as it is set, then `Loaded image ID: <id>` for each
/// image loaded without one.
pub(crate) fn load_lines(report: &LoadReport) -> Vec<String> {
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    for image in &report.images {
        if image.tags.is_empty() {
            ids.push(format!("Loaded image ID: {}\n", image.id));
        }
        for tag in &image.tags {
            lines.push(format!("Loaded image: {tag}\n"));
        }
    }
    lines.extend(ids);
    lines
}

/// `image_load`: loads the image archive on stdin. `quiet` only silences
/// moby's per-layer progress, which berth does not write; the result lines
/// are always sent, as JSON stream messages.
pub(super) async fn image_load(cx: Arc<Context>, mut job: Job) -> JobResult {
    let daemon = &cx.daemon;
    // Validated even though it changes nothing here (moby `BoolValue`).
    let _quiet = job.env.get_bool("quiet")?;
    let stdin = std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty()));
    let reader = tokio_util::io::SyncIoBridge::new(stdin);
    let images = Arc::clone(daemon.images());
    // Nothing is written before the load ends: a refused archive is an
    // HTTP error (moby answers 200 and the error in-band; both make the
    // docker CLI print it and exit 1).
    let report = daemon
        .blocking(BlockingKind::ImageContent, move || {
            images.load(Box::new(reader))
        })
        .await?;
    for warning in &report.warnings {
        tracing::warn!(%warning, "image load skipped a layer entry");
    }
    for image in &report.images {
        daemon
            .events()
            .publish("image", "load", &image.id, BTreeMap::new());
    }
    for line in load_lines(&report) {
        job.stdout
            .write_json(&StreamMessage {
                stream: line,
                ..StreamMessage::default()
            })
            .await?;
    }
    Ok(0)
}

/// `image_history`: the history of an image, newest first.
pub(super) async fn image_history(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let name = job.required_arg(0, "image name")?.to_owned();
    let images = Arc::clone(d.images());
    let entries = d
        .blocking(BlockingKind::ImageMetadata, move || images.history(&name))
        .await?;
    let items: Vec<HistoryResponseItem> = entries
        .into_iter()
        .map(|e| HistoryResponseItem {
            id: e.id,
            created: e.created,
            created_by: e.created_by,
            tags: (!e.tags.is_empty()).then_some(e.tags),
            size: i64::try_from(e.size).unwrap_or(i64::MAX),
            comment: e.comment,
        })
        .collect();
    job.stdout.write_json(&items).await?;
    Ok(0)
}

/// `image_save`: the images named by the `names` parameters (or the one
/// argument, for `/images/{name}/get`) as one tar stream.
pub(super) async fn image_save(cx: Arc<Context>, job: Job) -> JobResult {
    let mut names: Vec<String> = job.args.clone();
    names.extend(job.env.get_all("names").map(str::to_owned));
    names.retain(|n| !n.is_empty());
    if names.is_empty() {
        return Err(crate::job::JobError::invalid(
            "no image named: pass one or more names",
        ));
    }
    cx.daemon.image_save(names, &job.stdout).await?;
    Ok(0)
}

/// `container_export`: a container's root filesystem as one tar stream.
pub(super) async fn container_export(cx: Arc<Context>, job: Job) -> JobResult {
    let id = job.required_arg(0, "container id")?.to_owned();
    cx.daemon.container_export(&id, &job.stdout).await?;
    Ok(0)
}

/// `container_commit`: a container's changes as a new image (`POST
/// /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`).
pub(super) async fn container_commit(cx: Arc<Context>, mut job: Job) -> JobResult {
    let container = match job.env.get("container") {
        Some(c) if !c.is_empty() => c.to_owned(),
        _ => {
            return Err(crate::job::JobError::invalid(
                "No container name or ID supplied",
            ));
        }
    };
    // The body may carry a container config to merge; berth takes the
    // container's own and `changes` only, so one is refused, not dropped.
    let body: serde_json::Value = job.read_json(1 << 20).await?;
    if !(body.is_null() || body.as_object().is_some_and(serde_json::Map::is_empty)) {
        return Err(crate::job::JobError::new(
            crate::job::ErrorKind::NotImplemented,
            "a config in the body of POST /commit is not supported: use changes",
        ));
    }
    let pause = match job.env.get("pause") {
        None | Some("") => true,
        Some(_) => job.env.get_bool("pause")?,
    };
    let params = crate::daemon::commit::CommitParams {
        repo: job.env.get("repo").unwrap_or("").to_owned(),
        tag: job.env.get("tag").unwrap_or("").to_owned(),
        comment: job.env.get("comment").unwrap_or("").to_owned(),
        author: job.env.get("author").unwrap_or("").to_owned(),
        changes: job.env.get_all("changes").map(str::to_owned).collect(),
        pause,
    };
    let id = cx.daemon.container_commit(&container, params).await?;
    job.stdout
        .write_json(&berth_api::image_archive::IdResponse { id })
        .await?;
    Ok(0)
}
