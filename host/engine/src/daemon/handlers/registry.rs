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

/// `image_push`: pushes an image to a registry (`POST
/// /images/{name}/push?tag=`), streaming Docker's progress lines.
pub(super) async fn image_push(cx: Arc<Context>, job: Job) -> JobResult {
    let name = job
        .args
        .first()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JobError::invalid("an image name is required"))?;
    let request = crate::daemon::PushRequest {
        name: name.clone(),
        tag: job.env.get("tag").unwrap_or("").to_owned(),
        auth: crate::daemon::decode_auth_config(job.env.get("X-Registry-Auth").unwrap_or(""))?,
    };
    cx.daemon.image_push(request, &job.stdout).await?;
    Ok(0)
}

/// One search result on the wire (moby `registry.SearchResult`).
#[derive(serde::Serialize)]
struct SearchResultJson<'a> {
    star_count: u64,
    is_official: bool,
    name: &'a str,
    is_automated: bool,
    description: &'a str,
}

/// One tag of `GET /images/search?listTags=true` (berth's extension,
/// podman's `listTags`).
#[derive(serde::Serialize)]
struct TagJson<'a> {
    name: &'a str,
    tag: &'a str,
}

/// `listTags`: absent, or a bool as the API writes them.
fn list_tags(raw: &str) -> Result<bool, JobError> {
    match raw {
        "" | "0" | "false" => Ok(false),
        "1" | "true" => Ok(true),
        other => Err(JobError::invalid(format!(
            "invalid value for listTags: {other:?}"
        ))),
    }
}

/// `image_search`: searches a registry (`GET /images/search?term=`), or
/// lists one repository's tags (`listTags=true`).
pub(super) async fn image_search(cx: Arc<Context>, job: Job) -> JobResult {
    let term = job
        .env
        .get("term")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JobError::invalid("term is required"))?
        .to_owned();
    let raw_limit = job.env.get("limit").unwrap_or("");
    let limit = crate::daemon::parse_limit(raw_limit)?;
    let filters = crate::daemon::SearchFilters::parse(job.env.get("filters").unwrap_or(""))?;
    let auth = crate::daemon::decode_auth_config(job.env.get("X-Registry-Auth").unwrap_or(""))?;
    if list_tags(job.env.get("listTags").unwrap_or(""))? {
        // Without a limit, every tag (as podman lists them); the registry
        // driver bounds the pages it reads.
        let limit = if raw_limit.is_empty() {
            usize::MAX
        } else {
            limit
        };
        // The filters select repositories; a tag list has none to select.
        if filters != crate::daemon::SearchFilters::default() {
            return Err(JobError::invalid(
                "filters are not applicable when listing tags",
            ));
        }
        let (name, tags) = cx.daemon.image_tags(&term, limit, auth).await?;
        let body: Vec<TagJson<'_>> = tags
            .iter()
            .map(|tag| TagJson { name: &name, tag })
            .collect();
        job.stdout.write_json(&body).await?;
        return Ok(0);
    }
    let hits = cx.daemon.image_search(&term, limit, &filters, auth).await?;
    let body: Vec<SearchResultJson<'_>> = hits
        .iter()
        .map(|h| SearchResultJson {
            star_count: h.star_count,
            is_official: h.is_official,
            name: &h.name,
            is_automated: h.is_automated,
            description: &h.description,
        })
        .collect();
    job.stdout.write_json(&body).await?;
    Ok(0)
}
