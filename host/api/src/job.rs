//! berth's `/berth/jobs` wire types.
//!
//! - `GET /berth/jobs` → `[JobHandlerInfo]`: the engine's handler table.
//! - `POST /berth/jobs/{name}?arg=A&arg=B&env=K%3DV`: runs a job. The request
//!   body (or, with `Upgrade: tcp`, the hijacked connection) is the job's
//!   stdin. The response is a multiplexed stream ([`crate::stream`]): stdout
//!   on stream 1, stderr on stream 2, and exactly one last frame on stream 3
//!   holding a [`JobExit`] as JSON.

use serde::{Deserialize, Serialize};

/// Content type of a job stream.
pub const JOB_STREAM: &str = "application/vnd.berth.job-stream";

/// Who may run a job: the daemon only, API clients through the job's own
/// route, or also through `POST /berth/jobs/{name}`.
///
/// Every handler declares it when it is registered; there is no default at
/// registration. The [`Default`] here only fills in an entry from a daemon
/// that did not report it, and is the narrow one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// Callable through the job API (`POST /berth/jobs/{name}`, `berth job
    /// run`): plugin jobs, which run sandboxed with the grants the admin
    /// gave them, and jobs that have no route of their own.
    Api,
    /// A Docker API operation (`container_create`, `image_import`, ...):
    /// callable only through its own route (`POST /containers/create`), so
    /// that an authorization policy sees every such request as Docker
    /// clients send it. Through the job API the same operation would reach
    /// the daemon under another path and body shape, which a policy written
    /// for Docker's routes would not recognise (the class of moby's
    /// CVE-2024-41110, an authz bypass by an unexpected request form).
    Route,
    /// The daemon's own machinery (`serveapi`: listeners, sockets, files
    /// outside the data root): never run on a client's request.
    #[default]
    Internal,
}

impl Exposure {
    /// `api`, `route` or `internal`, as `berth job ls` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Exposure::Api => "api",
            Exposure::Route => "route",
            Exposure::Internal => "internal",
        }
    }
}

/// One entry of the handler table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobHandlerInfo {
    /// Job name (`container_create`).
    pub name: String,
    /// What the job does.
    pub description: String,
    /// Who provides it: `builtin` or a plugin's `name@version`.
    pub source: String,
    /// Where API clients may run it from.
    pub exposure: Exposure,
}

/// The exit record ending a job stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobExit {
    /// Exit status: 0 for success.
    pub status: i32,
    /// The error message when the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
