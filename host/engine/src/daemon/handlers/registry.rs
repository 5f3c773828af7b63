//! The registry jobs that are not about one image: `system_auth`.

use std::sync::Arc;

use super::Context;
use crate::job::{ErrorKind, Job, JobError, JobResult};

/// An `AuthConfig` body is a few hundred bytes.
const MAX_AUTH_BODY: usize = 64 << 10;

/// `system_auth`: checks credentials against a registry (`POST /auth`,
/// `docker login`); answers moby's `{"Status":"Login Succeeded"}`.
pub(super) async fn system_auth(cx: Arc<Context>, mut job: Job) -> JobResult {
    let body = job.read_stdin(MAX_AUTH_BODY).await?;
    let auth = crate::daemon::auth_config_from_json(&body)?;
    let registry = cx.daemon.registry().map(Arc::clone).ok_or_else(|| {
        JobError::new(
            ErrorKind::NotImplemented,
            "this daemon has no registry driver",
        )
    })?;
    let token = registry.login(auth).await?;
    job.stdout
        .write_json(&serde_json::json!({
            "Status": "Login Succeeded",
            "IdentityToken": token.unwrap_or_default(),
        }))
        .await?;
    Ok(0)
}
