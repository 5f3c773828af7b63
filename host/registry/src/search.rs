//! Repository search (`docker search`): Docker Hub's `/v1/search` where
//! the registry has it, else the distribution API's `/v2/_catalog`
//! filtered by name, as registries without a search index (the
//! distribution registry, Debian's `docker-registry`) only offer that.

use serde::Deserialize;

use crate::client::{Credentials, Registry};
use crate::error::RegistryError;
use crate::session::Session;

/// One search result, with moby's fields (`registry.SearchResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SearchResult {
    /// The repository name (`busybox`, `127.0.0.1:5000/test/app`).
    pub name: String,
    /// Its description (empty from a catalog).
    pub description: String,
    /// Its stars (0 from a catalog).
    pub star_count: u64,
    /// Whether it is an official image (false from a catalog).
    pub is_official: bool,
    /// Whether it is an automated build (false from a catalog).
    pub is_automated: bool,
}

#[derive(Deserialize)]
struct V1Results {
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

/// Catalog pages read at most (of [`CATALOG_PAGE`] names each): a bound
/// on the work one search makes the registry and the daemon do.
const MAX_CATALOG_PAGES: usize = 100;
const CATALOG_PAGE: usize = 1000;

impl Registry {
    /// Searches `registry` (`docker.io`, `127.0.0.1:5000`) for
    /// repositories matching `term`, at most `limit` of them.
    pub async fn search(
        &self,
        registry: &str,
        term: &str,
        limit: usize,
        credentials: &Credentials,
    ) -> Result<Vec<SearchResult>, RegistryError> {
        // moby `registry.newIndexInfo`: Docker Hub's index answers search.
        let hub = matches!(registry, "docker.io" | "index.docker.io");
        let host = if hub { "index.docker.io" } else { registry };
        let session = self.session_with(host, credentials)?;
        let url = format!("{}/v1/search", session.base);
        let response = session
            .send(&[], |http| {
                http.get(&url)
                    .query(&[("q", term), ("n", &limit.to_string())])
            })
            .await?;
        if response.status().is_success() {
            let body: V1Results = response
                .json()
                .await
                .map_err(|e| RegistryError::Transport(format!("Get {url:?}: {e}")))?;
            return Ok(body.results.into_iter().take(limit).collect());
        }
        if hub || !matches!(response.status().as_u16(), 404 | 405) {
            return Err(status_error(response.status()));
        }
        search_catalog(&session, host, term, limit).await
    }
}

/// The catalog's repositories whose name holds `term` (a registry without
/// Docker Hub's search: `GET /v2/_catalog`, page after page).
async fn search_catalog(
    session: &Session<'_>,
    host: &str,
    term: &str,
    limit: usize,
) -> Result<Vec<SearchResult>, RegistryError> {
    let needle = term.to_ascii_lowercase();
    let mut results = Vec::new();
    let mut last: Option<String> = None;
    // distribution's scope for the catalog.
    let scopes = ["registry:catalog:*".to_owned()];
    for _ in 0..MAX_CATALOG_PAGES {
        let url = format!("{}/v2/_catalog", session.base);
        let mut query = vec![("n", CATALOG_PAGE.to_string())];
        if let Some(l) = &last {
            query.push(("last", l.clone()));
        }
        let response = session
            .send(&scopes, |http| http.get(&url).query(&query))
            .await?;
        if !response.status().is_success() {
            return Err(status_error(response.status()));
        }
        let has_next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("rel=\"next\""));
        let page: Catalog = response
            .json()
            .await
            .map_err(|e| RegistryError::Transport(format!("Get {url:?}: {e}")))?;
        last = page.repositories.last().cloned();
        for repo in page.repositories {
            if results.len() == limit {
                return Ok(results);
            }
            if repo.to_ascii_lowercase().contains(&needle) {
                results.push(SearchResult {
                    name: format!("{host}/{repo}"),
                    ..SearchResult::default()
                });
            }
        }
        if !has_next || last.is_none() {
            break;
        }
    }
    Ok(results)
}

pub(crate) fn status_error(status: reqwest::StatusCode) -> RegistryError {
    if status == reqwest::StatusCode::UNAUTHORIZED {
        RegistryError::Unauthorized {
            message: "authentication required".into(),
        }
    } else {
        // moby's text for an unexpected search answer
        // (registry/session.go, `searchRepositories`).
        RegistryError::Transport(format!("Unexpected status code {}", status.as_u16()))
    }
}
