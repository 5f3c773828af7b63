//! The image archive jobs: `image_load` (`POST /images/load`),
//! `image_history` (`GET /images/{name}/history`).

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
