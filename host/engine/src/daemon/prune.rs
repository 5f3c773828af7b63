//! `POST /containers/prune`, `POST /images/prune` and `GET /system/df`, as
//! moby has them (`daemon/prune.go`, `daemon/images/image_prune.go`,
//! `daemon/disk_usage.go`, `router/system/system_routes.go`): the same
//! filters, the same choice of what goes, the same reports. A filter the
//! endpoint does not have is a 400, never ignored: a prune that ignored
//! `label=keep` would delete what the user meant to keep.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_api::container::{ContainerPruneResponse, ContainerSummary};
use berth_api::filters::{FilterError, Filters};
use berth_api::image::{ImageDeleteItem, ImagePruneResponse, ImageSummary};
use berth_api::system::DiskUsageResponse;
use berth_model::graph::DiskUsage;
use chrono::{DateTime, Utc};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::list::summary;
use crate::daemon::{Daemon, parse_time};
use crate::driver::ImageService;
use crate::job::{ErrorKind, JobError};

/// moby's `containersAcceptedFilters`.
const CONTAINER_PRUNE_FILTERS: [&str; 3] = ["label", "label!", "until"];

/// moby's `imagesAcceptedFilters`.
const IMAGE_PRUNE_FILTERS: [&str; 4] = ["dangling", "label", "label!", "until"];

/// The `type` values of `GET /system/df` (moby `system.DiskUsageObject`).
const DF_TYPES: [&str; 4] = ["container", "image", "volume", "build-cache"];

/// One prune of a kind at a time (moby's `pruneRunning`): a second one
/// while the first runs is refused rather than racing it for the same
/// objects.
#[derive(Debug, Default)]
pub struct PruneGuards {
    containers: AtomicBool,
    images: AtomicBool,
}

/// Holds a kind's prune slot until dropped.
struct Claim<'a>(&'a AtomicBool);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn claim(slot: &AtomicBool) -> Result<Claim<'_>, JobError> {
    if slot
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(JobError::conflict("a prune operation is already running"));
    }
    Ok(Claim(slot))
}

fn invalid(err: FilterError) -> JobError {
    JobError::invalid(err.to_string())
}

/// Whether something created at `created` (Unix seconds) is older than
/// `until` (moby skips what was created after it).
fn before_until(created: i64, until: Option<DateTime<Utc>>) -> bool {
    until.is_none_or(|until| created <= until.timestamp())
}

impl Daemon {
    /// `POST /containers/prune`: removes every container that is not
    /// running (created, exited, dead; a paused one is running), narrowed
    /// by `until` (created before) and the labels.
    pub async fn container_prune(
        &self,
        filters: &Filters,
    ) -> Result<ContainerPruneResponse, JobError> {
        let _claim = claim(&self.pruning.containers)?;
        filters
            .check_names(&CONTAINER_PRUNE_FILTERS)
            .map_err(invalid)?;
        let until = filters.until(Utc::now()).map_err(invalid)?;
        let candidates: Vec<_> = self
            .containers
            .all()
            .into_iter()
            .filter(|c| {
                let record = c.record();
                let created = parse_time(&record.created).map_or(0, |t| t.timestamp());
                !record.state.running
                    && before_until(created, until)
                    && filters.prune_labels_match(&record.config.labels)
            })
            .collect();
        let mut report = ContainerPruneResponse::default();
        if candidates.is_empty() {
            self.publish_prune("container", 0);
            return Ok(report);
        }
        // The reclaimed bytes are informational (moby logs a failure to
        // measure at debug level and counts 0).
        let sizes: HashMap<String, u64> = match self.disk_usage().await {
            Ok(usage) => usage
                .containers
                .into_iter()
                .map(|c| (c.container_id, c.size_rw))
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "prune: could not measure the containers' sizes");
                HashMap::new()
            }
        };
        let mut deleted = Vec::new();
        for container in candidates {
            // A container started since the list was made is refused by
            // `rm` without force, and skipped like moby skips a failure.
            match self.remove_container(&container, false).await {
                Ok(()) => {
                    report.space_reclaimed += sizes.get(&container.id).copied().unwrap_or(0);
                    deleted.push(container.id.clone());
                }
                Err(e) => {
                    tracing::warn!(container = %container.id, error = %e, "prune: could not remove the container")
                }
            }
        }
        report.containers_deleted = (!deleted.is_empty()).then_some(deleted);
        self.publish_prune("container", report.space_reclaimed);
        Ok(report)
    }

    /// `POST /images/prune`: with `dangling=true` (the default) removes the
    /// images without a tag, with `dangling=false` every image no container
    /// uses; narrowed by `until` and the labels.
    pub async fn image_prune(&self, filters: &Filters) -> Result<ImagePruneResponse, JobError> {
        let _claim = claim(&self.pruning.images)?;
        filters.check_names(&IMAGE_PRUNE_FILTERS).map_err(invalid)?;
        let dangling_only = filters
            .get_bool("dangling")
            .map_err(invalid)?
            .unwrap_or(true);
        let until = match filters.until(Utc::now()) {
            Ok(until) => until,
            Err(FilterError::Until(e)) => {
                return Err(JobError::invalid(format!(
                    "invalid value for 'until' filter: {e}"
                )));
            }
            Err(e) => return Err(invalid(e)),
        };
        let images = Arc::clone(self.images());
        let filters = filters.clone();
        let report = self
            .blocking(BlockingKind::ImageContent, move || {
                prune_images(images.as_ref(), &filters, dangling_only, until)
            })
            .await?;
        for item in report.images_deleted.iter().flatten() {
            let (action, id) = match item {
                ImageDeleteItem::Untagged(r) => ("untag", r),
                ImageDeleteItem::Deleted(id) => ("delete", id),
            };
            self.events.publish("image", action, id, BTreeMap::new());
        }
        self.publish_prune("image", report.space_reclaimed);
        Ok(report)
    }

    /// `GET /system/df`: the store's disk use by image and container;
    /// `types` narrows it to some of `container`, `image`, `volume`,
    /// `build-cache` (all when empty).
    pub async fn system_df(&self, types: &[String]) -> Result<DiskUsageResponse, JobError> {
        if let Some(unknown) = types.iter().find(|t| !DF_TYPES.contains(&t.as_str())) {
            return Err(JobError::invalid(format!("unknown object type: {unknown}")));
        }
        let wants = |t: &str| types.is_empty() || types.iter().any(|x| x == t);
        let images = Arc::clone(self.images());
        let (usage, list) = self
            .blocking(BlockingKind::ImageContent, move || {
                Ok((images.disk_usage()?, images.list()?))
            })
            .await?;
        let mut response = DiskUsageResponse {
            layers_size: to_i64(usage.layers_size),
            ..DiskUsageResponse::default()
        };
        if wants("image") {
            response.images = Some(image_rows(list, &usage));
        }
        if wants("container") {
            let now = Utc::now();
            let sizes = RowSizes::new(&usage);
            let rows = self
                .containers
                .all()
                .iter()
                .map(|c| {
                    let mut row = summary(&c.record(), now);
                    sizes.apply(&mut row);
                    row
                })
                .collect();
            response.containers = Some(rows);
        }
        if wants("volume") {
            response.volumes = Some(self.volume_usage().await?);
        }
        // berth builds no images: no build cache to count.
        if wants("build-cache") {
            response.build_cache = Some(Vec::new());
        }
        Ok(response)
    }

    /// `GET /containers/json?size=1`: the list's rows with `SizeRw` and
    /// `SizeRootFs`, measured in one walk of the store.
    pub async fn add_sizes(&self, rows: &mut [ContainerSummary]) -> Result<(), JobError> {
        if rows.is_empty() {
            return Ok(());
        }
        let usage = self.disk_usage().await?;
        let sizes = RowSizes::new(&usage);
        for row in rows {
            sizes.apply(row);
        }
        Ok(())
    }

    /// The image store's disk use, measured on the blocking pool.
    async fn disk_usage(&self) -> Result<DiskUsage, JobError> {
        let images = Arc::clone(self.images());
        self.blocking(BlockingKind::ImageContent, move || images.disk_usage())
            .await
    }

    /// moby's `prune` event: no actor id, the bytes reclaimed.
    fn publish_prune(&self, kind: &str, reclaimed: u64) {
        let attributes = BTreeMap::from([("reclaimed".to_owned(), reclaimed.to_string())]);
        self.events.publish(kind, "prune", "", attributes);
    }
}

/// The store's figures a container row needs, indexed once per request
/// (a row is then two lookups, not two scans of the store's lists).
struct RowSizes<'a> {
    written: HashMap<&'a str, u64>,
    image: HashMap<&'a str, u64>,
}

impl<'a> RowSizes<'a> {
    fn new(usage: &'a DiskUsage) -> Self {
        RowSizes {
            written: usage
                .containers
                .iter()
                .map(|c| (c.container_id.as_str(), c.size_rw))
                .collect(),
            image: usage
                .images
                .iter()
                .map(|i| (i.id.as_str(), i.size))
                .collect(),
        }
    }

    /// A container row's `SizeRw` (what it wrote) and `SizeRootFs` (that
    /// and its image).
    fn apply(&self, row: &mut ContainerSummary) {
        let size_rw = self.written.get(row.id.as_str()).copied().unwrap_or(0);
        let image = self.image.get(row.image_id.as_str()).copied().unwrap_or(0);
        row.size_rw = Some(to_i64(size_rw));
        row.size_root_fs = Some(to_i64(size_rw.saturating_add(image)));
    }
}

/// The image rows of `system df`: the list's summaries with the store's
/// `Size`, `SharedSize` and `Containers`.
fn image_rows(list: Vec<ImageSummary>, usage: &DiskUsage) -> Vec<ImageSummary> {
    let by_id: HashMap<&str, _> = usage.images.iter().map(|i| (i.id.as_str(), i)).collect();
    list.into_iter()
        .map(|mut image| {
            if let Some(u) = by_id.get(image.id.as_str()) {
                image.size = to_i64(u.size);
                image.virtual_size = image.size;
                image.shared_size = to_i64(u.shared_size);
                image.containers = i64::from(u.containers);
            }
            image
        })
        .collect()
}

fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// The image half of the prune, on a blocking thread: chooses like moby's
/// `ImagePrune`, removes through the store's `rmi` (which refuses an image
/// a container uses: such an image is skipped), and measures what the
/// layers held before and after.
fn prune_images(
    images: &dyn ImageService,
    filters: &Filters,
    dangling_only: bool,
    until: Option<DateTime<Utc>>,
) -> Result<ImagePruneResponse, JobError> {
    let before = images.disk_usage()?.layers_size;
    let mut deleted = Vec::new();
    for image in images.list()? {
        if dangling_only && !image.repo_tags.is_empty() {
            continue;
        }
        if !before_until(image.created, until) || !filters.prune_labels_match(&image.labels) {
            continue;
        }
        let references: Vec<&String> = image.repo_tags.iter().chain(&image.repo_digests).collect();
        let names: Vec<&str> = if references.is_empty() {
            vec![image.id.as_str()]
        } else {
            references.iter().map(|r| r.as_str()).collect()
        };
        for name in names {
            match images.remove(name, false) {
                Ok(items) => deleted.extend(items),
                // In use by a container, or gone meanwhile: not prunable.
                Err(e) if matches!(e.kind, ErrorKind::Conflict | ErrorKind::NotFound) => break,
                Err(e) => {
                    tracing::warn!(image = %name, error = %e, "prune: could not remove the image");
                    break;
                }
            }
        }
    }
    let after = images.disk_usage()?.layers_size;
    Ok(ImagePruneResponse {
        images_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: before.saturating_sub(after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_prune_of_a_kind_is_refused_while_the_first_runs() {
        let guards = PruneGuards::default();
        let first = claim(&guards.images).unwrap();
        let err = claim(&guards.images).err().unwrap();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert_eq!(err.message, "a prune operation is already running");
        // Another kind is free; the slot frees when the first ends.
        drop(claim(&guards.containers).unwrap());
        drop(first);
        assert!(claim(&guards.images).is_ok());
    }

    #[test]
    fn until_keeps_what_was_created_after_it() {
        let until = DateTime::from_timestamp(1000, 0);
        assert!(before_until(1000, until));
        assert!(!before_until(1001, until));
        assert!(before_until(i64::MAX, None));
    }
}
