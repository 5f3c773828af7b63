//! The archive jobs of `docker cp`: `container_archive_stat` (`HEAD`),
//! `container_archive` (`GET`), `container_extract_to_dir` (`PUT
//! /containers/{id}/archive`).

use std::sync::Arc;

use super::Context;
use crate::job::{Job, JobError, JobResult};

/// moby `archiveFormValues`: the `path` query parameter is required.
fn path(job: &Job) -> Result<String, JobError> {
    match job.env.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_owned()),
        _ => Err(JobError::invalid("Path cannot be empty")),
    }
}

/// `container_archive_stat`: the stat of a path in a container, as JSON.
pub(super) async fn container_archive_stat(cx: Arc<Context>, job: Job) -> JobResult {
    let path = path(&job)?;
    let stat = cx
        .daemon
        .archive_stat(job.required_arg(0, "container id")?, &path)
        .await?;
    job.stdout.write_json(&stat).await?;
    Ok(0)
}

/// `container_archive`: the stat of a path as one JSON line, then a tar
/// stream of it.
pub(super) async fn container_archive(cx: Arc<Context>, job: Job) -> JobResult {
    let path = path(&job)?;
    cx.daemon
        .archive_get(job.required_arg(0, "container id")?, &path, &job.stdout)
        .await?;
    Ok(0)
}

/// `container_extract_to_dir`: extracts the tar stream on stdin under a
/// directory of a container.
pub(super) async fn container_extract_to_dir(cx: Arc<Context>, mut job: Job) -> JobResult {
    let path = path(&job)?;
    let no_overwrite = job.env.get_bool("noOverwriteDirNonDir")?;
    let copy_uid_gid = job.env.get_bool("copyUIDGID")?;
    let stdin = std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty()));
    cx.daemon
        .archive_put(
            job.required_arg(0, "container id")?,
            &path,
            no_overwrite,
            copy_uid_gid,
            stdin,
        )
        .await?;
    Ok(0)
}
