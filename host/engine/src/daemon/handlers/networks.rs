//! The network jobs: `network_create`, `network_list`, `network_inspect`,
//! `network_delete`.

use std::sync::Arc;

use berth_api::network::NetworkCreateRequest;

use super::Context;
use crate::job::{Job, JobResult};

/// The largest create body read (a name, labels, options, subnets).
const MAX_JSON_BODY: usize = 1 << 20;

/// `network_create`: creates a bridge network from a JSON body on stdin.
pub(super) async fn network_create(cx: Arc<Context>, mut job: Job) -> JobResult {
    let request: NetworkCreateRequest = job.read_json(MAX_JSON_BODY).await?;
    let created = cx.daemon.network_create(request).await?;
    job.stdout.write_json(&created).await?;
    Ok(0)
}

/// `network_list`: lists networks.
pub(super) async fn network_list(cx: Arc<Context>, job: Job) -> JobResult {
    let list = cx
        .daemon
        .network_list(job.env.get("filters").unwrap_or(""))
        .await?;
    job.stdout.write_json(&list).await?;
    Ok(0)
}

/// `network_inspect`: shows a network.
pub(super) async fn network_inspect(cx: Arc<Context>, job: Job) -> JobResult {
    let network = cx
        .daemon
        .network_inspect(job.required_arg(0, "network id or name")?)
        .await?;
    job.stdout.write_json(&network).await?;
    Ok(0)
}

/// `network_delete`: removes a network.
pub(super) async fn network_delete(cx: Arc<Context>, job: Job) -> JobResult {
    cx.daemon
        .network_remove(job.required_arg(0, "network id or name")?)
        .await?;
    Ok(0)
}

/// `network_connect`: puts a container on a network (stdin:
/// `NetworkConnectRequest`).
pub(super) async fn network_connect(cx: Arc<Context>, mut job: Job) -> JobResult {
    let reference = job.required_arg(0, "network id or name")?.to_owned();
    let request: berth_api::network_connect::NetworkConnectRequest =
        job.read_json(MAX_JSON_BODY).await?;
    cx.daemon.network_connect(&reference, request).await?;
    Ok(0)
}

/// `network_disconnect`: takes a container off a network (stdin:
/// `NetworkDisconnectRequest`).
pub(super) async fn network_disconnect(cx: Arc<Context>, mut job: Job) -> JobResult {
    let reference = job.required_arg(0, "network id or name")?.to_owned();
    let request: berth_api::network_connect::NetworkDisconnectRequest =
        job.read_json(MAX_JSON_BODY).await?;
    cx.daemon.network_disconnect(&reference, request).await?;
    Ok(0)
}
