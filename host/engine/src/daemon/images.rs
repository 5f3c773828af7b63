//! `GET /images/json` with Docker's filters (moby
//! `daemon/images/image_list.go` at v24, API 1.43): `dangling`, `label`,
//! `before`, `since`, `reference`, and `label!` as the prune endpoints
//! have it. Any other filter name is a 400: an image list that ignored a
//! filter would hand `docker rmi $(docker images -q --filter ...)` every
//! image.

use std::sync::Arc;

use berth_api::filters::{FilterError, Filters, path_match};
use berth_api::image::ImageSummary;
use chrono::{DateTime, Utc};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::{Daemon, parse_time};
use crate::job::JobError;

/// The filters of the image list (moby `acceptedImageFilterTags`, plus
/// `label!`).
const IMAGE_FILTERS: [&str; 6] = [
    "dangling",
    "label",
    "label!",
    "before",
    "since",
    "reference",
];

fn invalid(err: FilterError) -> JobError {
    JobError::invalid(err.to_string())
}

/// A stored reference as Docker names it in the list (`busybox:latest`,
/// `myrepo/web@sha256:...`) and its repository (`busybox`): moby's
/// `FamiliarString` and `FamiliarName`.
fn repository(reference: &str) -> &str {
    if let Some((name, _digest)) = reference.split_once('@') {
        return name;
    }
    match reference.rsplit_once(':') {
        // A colon after the last slash separates the tag; one before it
        // is a registry's port.
        Some((name, tag)) if !tag.contains('/') => name,
        _ => reference,
    }
}

/// moby's `reference.FamiliarMatch`: the pattern matches the whole
/// reference or its repository.
fn reference_matches(patterns: &[String], reference: &str) -> Result<bool, JobError> {
    for pattern in patterns {
        let whole = path_match(pattern, reference);
        let found = match whole {
            Ok(true) => true,
            Ok(false) => path_match(pattern, repository(reference)).unwrap_or(false),
            Err(e) => return Err(JobError::invalid(e.to_string())),
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The created time of the image `name` resolves to (`before`/`since`).
fn created_of(
    images: &dyn crate::driver::ImageService,
    name: &str,
) -> Result<DateTime<Utc>, JobError> {
    let image = images.inspect(name)?;
    parse_time(&image.created).ok_or_else(|| {
        JobError::new(
            crate::job::ErrorKind::Internal,
            format!("image {name} has no readable creation time"),
        )
    })
}

impl Daemon {
    /// `GET /images/json`: every image, narrowed by `filters`.
    pub async fn image_list(&self, filters: &Filters) -> Result<Vec<ImageSummary>, JobError> {
        filters.check_names(&IMAGE_FILTERS).map_err(invalid)?;
        let dangling = filters.get_bool("dangling").map_err(invalid)?;
        // Syntax errors before any work, whatever the images.
        for pattern in filters.get("reference") {
            path_match(pattern, "").map_err(|e| JobError::invalid(e.to_string()))?;
        }
        let images = Arc::clone(self.images());
        let filters = filters.clone();
        self.blocking(BlockingKind::ImageMetadata, move || {
            // Several values resolve to the oldest (before) and newest
            // (since) image: the values are ANDed.
            let before = filters
                .get("before")
                .iter()
                .map(|v| created_of(images.as_ref(), v))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .min();
            let since = filters
                .get("since")
                .iter()
                .map(|v| created_of(images.as_ref(), v))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .max();
            let mut out = Vec::new();
            for mut image in images.list()? {
                if before.is_some() || since.is_some() {
                    let created = created_of(images.as_ref(), &image.id)?;
                    if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                        continue;
                    }
                }
                if !filters.prune_labels_match(&image.labels) {
                    continue;
                }
                if keep(&mut image, &filters, dangling)? {
                    out.push(image);
                }
            }
            Ok(out)
        })
        .await
    }
}

/// The reference and dangling rules of moby's `Images`: a `reference`
/// filter keeps only the matching references of an image (and the image
/// only if one is left); `dangling=true` keeps the images without a tag,
/// `dangling=false` those with a reference.
fn keep(
    image: &mut ImageSummary,
    filters: &Filters,
    dangling: Option<bool>,
) -> Result<bool, JobError> {
    let patterns = filters.get("reference");
    if filters.contains("reference") {
        let retain = |refs: &mut Vec<String>| -> Result<(), JobError> {
            let mut kept = Vec::with_capacity(refs.len());
            for r in refs.drain(..) {
                if reference_matches(patterns, &r)? {
                    kept.push(r);
                }
            }
            *refs = kept;
            Ok(())
        };
        retain(&mut image.repo_tags)?;
        retain(&mut image.repo_digests)?;
    }
    let referenced = !image.repo_tags.is_empty() || !image.repo_digests.is_empty();
    Ok(if referenced {
        dangling != Some(true) || image.repo_tags.is_empty()
    } else {
        dangling != Some(false) && !filters.contains("reference")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_of_references() {
        assert_eq!(repository("busybox:latest"), "busybox");
        assert_eq!(
            repository("localhost:5000/tools/jq:1.7"),
            "localhost:5000/tools/jq"
        );
        assert_eq!(
            repository("localhost:5000/tools/jq"),
            "localhost:5000/tools/jq"
        );
        assert_eq!(repository("web@sha256:abcd"), "web");
    }

    #[test]
    fn references_match_whole_or_by_repository() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(reference_matches(&p(&["busybox"]), "busybox:latest").unwrap());
        assert!(reference_matches(&p(&["busybox:*"]), "busybox:1.36").unwrap());
        assert!(!reference_matches(&p(&["busy"]), "busybox:latest").unwrap());
        assert!(!reference_matches(&p(&["*"]), "myrepo/web:1.0").unwrap());
        assert!(reference_matches(&p(&["*/*"]), "myrepo/web:1.0").unwrap());
        assert!(reference_matches(&p(&["["]), "x").is_err());
    }

    #[test]
    fn dangling_and_reference_rules() {
        let image = |tags: &[&str]| ImageSummary {
            repo_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..ImageSummary::default()
        };
        let none = Filters::default();
        let by_ref = Filters::parse(r#"{"reference":["a"]}"#).unwrap();
        assert!(keep(&mut image(&[]), &none, None).unwrap());
        assert!(keep(&mut image(&[]), &none, Some(true)).unwrap());
        assert!(!keep(&mut image(&[]), &none, Some(false)).unwrap());
        assert!(!keep(&mut image(&["a:1"]), &none, Some(true)).unwrap());
        assert!(keep(&mut image(&["a:1"]), &none, Some(false)).unwrap());
        assert!(!keep(&mut image(&[]), &by_ref, None).unwrap());
        let mut two = image(&["a:1", "b:1"]);
        assert!(keep(&mut two, &by_ref, None).unwrap());
        assert_eq!(two.repo_tags, ["a:1"]);
        assert!(!keep(&mut image(&["b:1"]), &by_ref, None).unwrap());
    }
}
