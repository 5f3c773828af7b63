//! The volume jobs: `volume_create`, `volume_list`, `volume_inspect`,
//! `volume_delete`, `volume_prune`.

use std::sync::Arc;

use berth_api::volume::VolumeCreateRequest;

use super::Context;
use crate::job::{Job, JobResult};

/// The largest create body read (a name, labels and options).
const MAX_JSON_BODY: usize = 1 << 20;

/// `volume_create`: creates a volume from a JSON body on stdin.
pub(super) async fn volume_create(cx: Arc<Context>, mut job: Job) -> JobResult {
    let request: VolumeCreateRequest = job.read_json(MAX_JSON_BODY).await?;
    let volume = cx.daemon.volume_create(request).await?;
    job.stdout.write_json(&volume).await?;
    Ok(0)
}

/// `volume_list`: lists volumes.
pub(super) async fn volume_list(cx: Arc<Context>, job: Job) -> JobResult {
    let list = cx
        .daemon
        .volume_list(job.env.get("filters").unwrap_or(""))
        .await?;
    job.stdout.write_json(&list).await?;
    Ok(0)
}

/// `volume_inspect`: shows a volume.
pub(super) async fn volume_inspect(cx: Arc<Context>, job: Job) -> JobResult {
    let volume = cx
        .daemon
        .volume_inspect(job.required_arg(0, "volume name")?)
        .await?;
    job.stdout.write_json(&volume).await?;
    Ok(0)
}

/// `volume_delete`: removes a volume no container uses.
pub(super) async fn volume_delete(cx: Arc<Context>, job: Job) -> JobResult {
    let force = job.env.get_bool("force")?;
    cx.daemon
        .volume_remove(job.required_arg(0, "volume name")?, force)
        .await?;
    Ok(0)
}

/// `volume_prune`: removes unused volumes.
pub(super) async fn volume_prune(cx: Arc<Context>, job: Job) -> JobResult {
    let report = cx
        .daemon
        .volume_prune(job.env.get("filters").unwrap_or(""))
        .await?;
    job.stdout.write_json(&report).await?;
    Ok(0)
}
