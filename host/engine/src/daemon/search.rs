//! `image_search`: `GET /images/search`, as moby's `registry.Service.Search`
//! answers it: the term may name a registry (`127.0.0.1:5000/app`), the
//! limit is 1..=100 (25 by default), the filters `is-official`,
//! `is-automated` and `stars` are applied to what the registry returns.

use std::sync::Arc;

use berth_api::filters::Filters;

use super::Daemon;
use crate::driver::{RegistryAuth, SearchHit, SearchRequest, TagsRequest};
use crate::job::{ErrorKind, JobError};

/// moby `registry.DefaultSearchLimit`.
pub const DEFAULT_SEARCH_LIMIT: usize = 25;

/// What the filters ask of a result, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    is_official: Option<bool>,
    is_automated: Option<bool>,
    min_stars: u64,
}

impl SearchFilters {
    /// Parses `filters` (moby `acceptedSearchFilterTags`); an unknown
    /// filter or a value that is no bool / number is InvalidParameter with
    /// moby's text.
    pub fn parse(raw: &str) -> Result<SearchFilters, JobError> {
        let invalid = |e: berth_api::filters::FilterError| JobError::invalid(e.to_string());
        let filters = Filters::parse(raw).map_err(invalid)?;
        filters
            .check_names(&["is-automated", "is-official", "stars"])
            .map_err(invalid)?;
        let mut min_stars = 0;
        for value in filters.get("stars") {
            let stars: u64 = value
                .parse()
                .map_err(|_| JobError::invalid(format!("invalid filter 'stars={value}'")))?;
            min_stars = min_stars.max(stars);
        }
        Ok(SearchFilters {
            is_official: filters.get_bool("is-official").map_err(invalid)?,
            is_automated: filters.get_bool("is-automated").map_err(invalid)?,
            min_stars,
        })
    }

    fn keeps(&self, hit: &SearchHit) -> bool {
        self.is_official.is_none_or(|o| o == hit.is_official)
            && self.is_automated.is_none_or(|a| a == hit.is_automated)
            && hit.star_count >= self.min_stars
    }
}

/// Splits a search term into the registry it names and the term to send
/// (moby `splitReposSearchTerm`): a first component with a `.` or `:`, or
/// `localhost`, is a registry; otherwise Docker Hub.
pub fn split_term(term: &str) -> (String, String) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), term.to_owned()),
    }
}

/// Parses `limit`: empty is the default; moby's text outside 1..=100.
pub fn parse_limit(raw: &str) -> Result<usize, JobError> {
    if raw.is_empty() {
        return Ok(DEFAULT_SEARCH_LIMIT);
    }
    let limit: i64 = raw
        .parse()
        .map_err(|_| JobError::invalid(format!("invalid limit {raw:?}: not a number")))?;
    if !(1..=100).contains(&limit) {
        return Err(JobError::invalid(format!(
            "limit {limit} is outside the range of [1, 100]"
        )));
    }
    Ok(limit as usize)
}

impl Daemon {
    /// Searches the registry `term` names.
    pub(crate) async fn image_search(
        &self,
        term: &str,
        limit: usize,
        filters: &SearchFilters,
        auth: RegistryAuth,
    ) -> Result<Vec<SearchHit>, JobError> {
        let registry = self.registry.get().map(Arc::clone).ok_or_else(|| {
            JobError::new(
                ErrorKind::NotImplemented,
                "this daemon has no registry driver",
            )
        })?;
        let (index, remote_term) = split_term(term);
        let hits = registry
            .search(SearchRequest {
                registry: index,
                term: remote_term,
                limit,
                auth,
            })
            .await?;
        Ok(hits
            .into_iter()
            .filter(|h| filters.keeps(h))
            .take(limit)
            .collect())
    }

    /// The tags of the repository `term` names (podman's `search
    /// --list-tags`): its familiar name and at most `limit` tags. A term
    /// with a tag or a digest is refused, not trimmed.
    pub(crate) async fn image_tags(
        &self,
        term: &str,
        limit: usize,
        auth: RegistryAuth,
    ) -> Result<(String, Vec<String>), JobError> {
        let registry = self.registry.get().map(Arc::clone).ok_or_else(|| {
            JobError::new(
                ErrorKind::NotImplemented,
                "this daemon has no registry driver",
            )
        })?;
        let last = term.rsplit('/').next().unwrap_or(term);
        if term.contains('@') || last.contains(':') {
            return Err(JobError::invalid(format!(
                "cannot list the tags of {term}: name a repository, without a tag or digest"
            )));
        }
        let name = registry.remote_name(term, "")?;
        let familiar = name.familiar.clone();
        let tags = registry
            .list_tags(TagsRequest { name, limit, auth })
            .await?;
        Ok((familiar, tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_name_their_registry_as_moby_splits_them() {
        let s = |t: &str| split_term(t);
        assert_eq!(s("busybox"), ("docker.io".into(), "busybox".into()));
        assert_eq!(
            s("library/busybox"),
            ("docker.io".into(), "library/busybox".into())
        );
        assert_eq!(
            s("127.0.0.1:5000/app"),
            ("127.0.0.1:5000".into(), "app".into())
        );
        assert_eq!(s("localhost/a/b"), ("localhost".into(), "a/b".into()));
        assert_eq!(s("quay.io/x"), ("quay.io".into(), "x".into()));
    }

    #[test]
    fn limits_and_filters_are_checked_with_moby_s_text() {
        assert_eq!(parse_limit("").expect("default"), 25);
        assert_eq!(parse_limit("100").expect("max"), 100);
        for bad in ["0", "101", "-1"] {
            let e = parse_limit(bad).expect_err(bad);
            assert!(
                e.message.contains("is outside the range of [1, 100]"),
                "{e}"
            );
        }
        assert!(parse_limit("x").is_err());

        let e = SearchFilters::parse(r#"{"color":{"red":true}}"#).expect_err("unknown");
        assert_eq!(e.message, "invalid filter 'color'");
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        let e = SearchFilters::parse(r#"{"stars":{"many":true}}"#).expect_err("stars");
        assert_eq!(e.message, "invalid filter 'stars=many'");
        assert!(SearchFilters::parse(r#"{"is-official":{"maybe":true}}"#).is_err());

        let f =
            SearchFilters::parse(r#"{"is-official":{"true":true},"stars":{"3":true,"10":true}}"#)
                .expect("filters");
        let hit = |official, stars| SearchHit {
            name: "x".into(),
            is_official: official,
            star_count: stars,
            ..SearchHit::default()
        };
        assert!(f.keeps(&hit(true, 10)));
        assert!(!f.keeps(&hit(true, 9)));
        assert!(!f.keeps(&hit(false, 50)));
        assert!(
            SearchFilters::parse("")
                .expect("none")
                .keeps(&hit(false, 0))
        );
    }
}
