//! The image jobs: `image_list`, `image_inspect`, `image_import`,
//! `image_pull`, `image_tag`, `image_delete`.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::filters::Filters;
use berth_api::image::{ImageDeleteItem, ProgressMessage};

use super::Context;
use crate::daemon::blocking::BlockingKind;
use crate::driver::ImportOptions;
use crate::job::{ErrorKind, Job, JobError, JobResult};

/// `image_list`: lists images.
pub(super) async fn image_list(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let mut filters = Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    // API < 1.28 clients send `docker images REPO` as `filter`
    // (moby's image router turns it into a reference filter).
    if let Some(reference) = job.env.get("filter").filter(|r| !r.is_empty()) {
        filters.add("reference", reference);
    }
    let list = d.image_list(&filters).await?;
    job.stdout.write_json(&list).await?;
    Ok(0)
}

/// `image_inspect`: shows an image.
pub(super) async fn image_inspect(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let name = job.required_arg(0, "image name")?.to_owned();
    let images = Arc::clone(d.images());
    let image = d
        .blocking(BlockingKind::ImageMetadata, move || images.inspect(&name))
        .await?;
    job.stdout.write_json(&image).await?;
    Ok(0)
}

/// `image_tag`: tags an image.
pub(super) async fn image_tag(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let name = job.required_arg(0, "image name")?.to_owned();
    let repo = job.env.get("repo").unwrap_or("").to_owned();
    let tag = job.env.get("tag").unwrap_or("").to_owned();
    if repo.is_empty() {
        return Err(JobError::invalid(
            "repository name must have at least one component",
        ));
    }
    let images = Arc::clone(d.images());
    let (n, r, t) = (name.clone(), repo.clone(), tag.clone());
    d.blocking(BlockingKind::ImageMetadata, move || images.tag(&n, &r, &t))
        .await?;
    let reference = if tag.is_empty() {
        format!("{repo}:latest")
    } else {
        format!("{repo}:{tag}")
    };
    let images = Arc::clone(d.images());
    let id = d
        .blocking(BlockingKind::ImageMetadata, move || images.inspect(&name))
        .await
        .map(|i| i.id)
        .unwrap_or_default();
    d.events().publish(
        "image",
        "tag",
        &id,
        BTreeMap::from([("name".to_owned(), reference)]),
    );
    Ok(0)
}

/// `image_delete`: removes an image or one of its tags.
pub(super) async fn image_delete(cx: Arc<Context>, job: Job) -> JobResult {
    let d = &cx.daemon;
    let name = job.required_arg(0, "image name")?.to_owned();
    let force = job.env.get_bool("force")?;
    let images = Arc::clone(d.images());
    // Removing an image deletes its layers' files.
    let items = d
        .blocking(BlockingKind::ImageContent, move || {
            images.remove(&name, force)
        })
        .await?;
    for item in &items {
        let (action, id) = match item {
            ImageDeleteItem::Untagged(r) => ("untag", r),
            ImageDeleteItem::Deleted(id) => ("delete", id),
        };
        d.events().publish("image", action, id, BTreeMap::new());
    }
    job.stdout.write_json(&items).await?;
    Ok(0)
}

/// `image_prune`: removes dangling (or, with `dangling=false`, unused)
/// images.
pub(super) async fn image_prune(cx: Arc<Context>, job: Job) -> JobResult {
    let filters = Filters::parse(job.env.get("filters").unwrap_or(""))
        .map_err(|e| JobError::invalid(e.to_string()))?;
    let report = cx.daemon.image_prune(&filters).await?;
    job.stdout.write_json(&report).await?;
    Ok(0)
}

/// `image_import`: imports a rootfs tarball from stdin as an image.
pub(super) async fn image_import(cx: Arc<Context>, mut job: Job) -> JobResult {
    let daemon = &cx.daemon;
    if let Some(image) = job.env.get("fromImage").filter(|s| !s.is_empty()) {
        return Err(JobError::new(
            ErrorKind::NotImplemented,
            format!(
                "pulling {image} is not supported yet: import a rootfs tarball with `berth import`"
            ),
        ));
    }
    match job.env.get("fromSrc") {
        Some("-") => {}
        Some(src) if !src.is_empty() => {
            return Err(JobError::invalid(format!(
                "importing from {src:?} is not supported: send the tarball in the request body (fromSrc=-)"
            )));
        }
        _ => return Err(JobError::invalid("fromSrc or fromImage is required")),
    }
    let options = ImportOptions {
        repo: job.env.get("repo").unwrap_or("").to_owned(),
        tag: job.env.get("tag").unwrap_or("").to_owned(),
        changes: job.env.get_all("changes").map(str::to_owned).collect(),
        message: job.env.get("message").unwrap_or("").to_owned(),
        platform: job.env.get("platform").unwrap_or("").to_owned(),
    };
    let stdin = std::mem::replace(&mut job.stdin, Box::new(tokio::io::empty()));
    let reader = tokio_util::io::SyncIoBridge::new(stdin);
    let images = Arc::clone(daemon.images());
    let opts = options.clone();
    // Nothing was written yet: a failed import is an HTTP error (the docker
    // CLI reads later errors from the progress stream).
    let id = daemon
        .blocking(BlockingKind::ImageContent, move || {
            images.import(Box::new(reader), &opts)
        })
        .await?;
    let mut attrs = BTreeMap::new();
    if !options.repo.is_empty() {
        let reference = match (options.repo.rsplit_once(':'), options.tag.as_str()) {
            (Some((_, t)), "") if !t.contains('/') => options.repo.clone(),
            (_, "") => format!("{}:latest", options.repo),
            (_, tag) => format!("{}:{tag}", options.repo),
        };
        attrs.insert("name".to_owned(), reference);
    }
    daemon.events().publish("image", "import", &id, attrs);
    job.stdout
        .write_json(&ProgressMessage {
            status: id,
            ..ProgressMessage::default()
        })
        .await?;
    Ok(0)
}

/// `image_pull`: pulls an image from a registry (`POST
/// /images/create?fromImage=`), streaming Docker's progress lines.
pub(super) async fn image_pull(cx: Arc<Context>, job: Job) -> JobResult {
    let reference = job
        .env
        .get("fromImage")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JobError::invalid("fromImage is required"))?;
    let request = crate::driver::PullRequest {
        reference: reference.to_owned(),
        tag: job.env.get("tag").unwrap_or("").to_owned(),
        platform: job.env.get("platform").unwrap_or("").to_owned(),
        auth: crate::daemon::decode_auth_config(job.env.get("X-Registry-Auth").unwrap_or(""))?,
    };
    cx.daemon.image_pull(request, &job.stdout).await?;
    Ok(0)
}
