//! The exec jobs (`docker exec`), one per Docker exec operation.

use std::sync::Arc;

use berth_api::exec::{ExecCreateRequest, ExecCreateResponse};

use super::Context;
use crate::daemon::exec::{ExecStartOptions, console_size};
use crate::job::{Job, JobError, JobResult, JobStdin};

/// Largest exec create body accepted (a command line and an environment).
const MAX_EXEC_BODY: usize = 1 << 20;

/// `exec_create`: creates an exec in a running container from a JSON
/// config on stdin.
pub(super) async fn exec_create(cx: Arc<Context>, mut job: Job) -> JobResult {
    let request: ExecCreateRequest = job.read_json(MAX_EXEC_BODY).await?;
    let id = cx
        .daemon
        .exec_create(job.required_arg(0, "container id")?, request)
        .await?;
    job.stdout.write_json(&ExecCreateResponse { id }).await?;
    Ok(0)
}

/// `exec_start`: starts an exec; without `Detach`, streams it (stdin: the
/// client's input, stdout: its output).
pub(super) async fn exec_start(cx: Arc<Context>, mut job: Job) -> JobResult {
    let size = match (job.env.get_i64("h")?, job.env.get_i64("w")?) {
        (Some(h), Some(w)) => Some([
            u64::try_from(h).map_err(|_| JobError::invalid(format!("invalid height {h}")))?,
            u64::try_from(w).map_err(|_| JobError::invalid(format!("invalid width {w}")))?,
        ]),
        (None, None) => None,
        _ => return Err(JobError::invalid("ConsoleSize needs both h and w")),
    };
    let options = ExecStartOptions {
        detach: job.env.get_bool("detach")?,
        console_size: console_size(size.as_ref().map(|s| &s[..]))?,
    };
    let stdin = (!options.detach)
        .then(|| std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty())) as JobStdin);
    let id = job.required_arg(0, "exec id")?;
    cx.daemon
        .exec_start(id, options, stdin, job.stdout.clone())
        .await?;
    Ok(0)
}

/// `exec_inspect`: shows an exec.
pub(super) async fn exec_inspect(cx: Arc<Context>, job: Job) -> JobResult {
    let inspect = cx.daemon.exec_inspect(job.required_arg(0, "exec id")?)?;
    job.stdout.write_json(&inspect).await?;
    Ok(0)
}

/// `exec_resize`: resizes an exec's TTY.
pub(super) async fn exec_resize(cx: Arc<Context>, job: Job) -> JobResult {
    let dim = |k: &str| -> Result<u16, JobError> {
        let v = job.env.get_i64(k)?.unwrap_or(0);
        u16::try_from(v).map_err(|_| JobError::invalid(format!("invalid terminal {k}: {v}")))
    };
    let (h, w) = (dim("h")?, dim("w")?);
    cx.daemon
        .exec_resize(job.required_arg(0, "exec id")?, h, w)
        .await?;
    Ok(0)
}
