//! A repository's tags (`berth search --list-tags`, podman's
//! `search --list-tags`): the distribution API's `GET /v2/<name>/tags/list`
//! (distribution spec, "Listing Tags"), page after page as the registry's
//! `Link: <...>; rel="next"` header leads (RFC 8288), spoken as the
//! catalog search speaks to the registry.

use serde::Deserialize;

use crate::client::{Credentials, Registry};
use crate::error::RegistryError;
use crate::reference::ImageName;
use crate::search::status_error;

/// Tags asked for per page (`n`); the registry may answer fewer.
const TAGS_PAGE: usize = 50;
/// Pages read at most: a bound on the work one listing makes the
/// registry and the daemon do.
const MAX_TAG_PAGES: usize = 100;

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The target of a `Link` header's `rel="next"` entry, if any.
fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        next.then_some(target)
    })
}

impl Registry {
    /// The tags of `name`'s repository, in the registry's order, at most
    /// `limit` of them.
    pub async fn list_tags(
        &self,
        name: &ImageName,
        credentials: &Credentials,
        limit: usize,
    ) -> Result<Vec<String>, RegistryError> {
        let session = self.session(name.registry(), credentials)?;
        let scopes = [format!("repository:{}:pull", name.repository())];
        let base = reqwest::Url::parse(&format!("{}/", session.base))
            .map_err(|e| RegistryError::Transport(e.to_string()))?;
        let mut url = base
            .join(&format!("v2/{}/tags/list", name.repository()))
            .map_err(|e| RegistryError::Transport(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("n", &TAGS_PAGE.min(limit).to_string());
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let response = session.send(&scopes, |http| http.get(url.clone())).await?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                // The registry's message from its error envelope.
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let message = body["errors"][0]["message"]
                    .as_str()
                    .unwrap_or("repository name not known to registry")
                    .to_owned();
                return Err(RegistryError::RepositoryUnknown {
                    reference: name.familiar_repository(),
                    message,
                });
            }
            if !response.status().is_success() {
                return Err(status_error(response.status()));
            }
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(|target| url.join(target))
                .transpose()
                .map_err(|e| RegistryError::Transport(format!("bad Link header: {e}")))?;
            let page: TagList = response
                .json()
                .await
                .map_err(|e| RegistryError::Transport(format!("Get {:?}: {e}", url.as_str())))?;
            for tag in page.tags.unwrap_or_default() {
                if tags.len() == limit {
                    return Ok(tags);
                }
                tags.push(tag);
            }
            // A next page on another host would send the credentials
            // elsewhere: only the registry's own links are followed.
            match next {
                Some(next) if next.origin() == base.origin() => url = next,
                _ => break,
            }
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        assert_eq!(
            next_link(r#"</v2/test/app/tags/list?last=b&n=2>; rel="next""#),
            Some("/v2/test/app/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/a>; rel="prev", <https://r/b>; rel="next""#),
            Some("https://r/b")
        );
        assert_eq!(next_link(r#"<https://r/a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
