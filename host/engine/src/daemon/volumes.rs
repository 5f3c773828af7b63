//! `/volumes` (moby `daemon/volumes.go`, `volume/service`): create, list,
//! inspect, remove and prune through the `local` driver
//! ([`berth_volume::LocalDriver`]), and what containers need of volumes:
//! which ones use a volume, the volumes a create mounts, the anonymous
//! ones `rm -v` removes.
//!
//! Who uses a volume is read from the containers' models, the one list of
//! a container's mounts; [`Daemon::volume_lock`] orders a create that
//! mounts volumes against a removal, so a volume never goes while a
//! container is being given it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_api::filters::Filters;
use berth_api::volume::{
    UsageData, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use berth_model::container::Mount;
use berth_volume::{CreateVolume, LocalDriver, PopulateError, VolumeError, VolumeRecord};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::ContainerRecord;
use crate::daemon::{Daemon, now_rfc3339};
use crate::job::{ErrorKind, JobError};

/// moby's `acceptedListFilters` (`volume/service/convert.go`).
const LIST_FILTERS: [&str; 4] = ["dangling", "driver", "label", "name"];

/// moby's `acceptedPruneFilters` (`volume/service/service.go`).
const PRUNE_FILTERS: [&str; 3] = ["all", "label", "label!"];

/// A driver error as the client sees it: moby's status for each kind.
pub(super) fn volume_error(error: VolumeError) -> JobError {
    let kind = match &error {
        VolumeError::InvalidName { .. }
        | VolumeError::UnknownDriver { .. }
        | VolumeError::Option { .. } => ErrorKind::InvalidParameter,
        VolumeError::Conflict { .. } => ErrorKind::Conflict,
        VolumeError::NotFound { .. } => ErrorKind::NotFound,
        // The message says what failed to mount where: the client's to see.
        VolumeError::Mount { .. }
        | VolumeError::Unmount { .. }
        | VolumeError::ActiveMounts { .. } => ErrorKind::Internal,
        VolumeError::Store(_) | VolumeError::Io { .. } => {
            return JobError::internal("volume driver", &error);
        }
    };
    JobError::new(kind, error.to_string())
}

/// A copy-up's error: a mount that failed is the client's to read (moby
/// `populateVolume`), a copy that failed is logged.
fn populate_error(error: PopulateError) -> JobError {
    match error {
        PopulateError::Mount(VolumeError::Mount { .. }) => {
            JobError::new(ErrorKind::Internal, error.to_string())
        }
        PopulateError::Mount(other) => volume_error(other),
        PopulateError::Copy(e) => JobError::internal("copy-up into a volume failed", &e),
    }
}

/// A record as the API shows it; `UsageData` only where asked for.
fn wire(driver: &LocalDriver, record: VolumeRecord) -> Volume {
    Volume {
        mountpoint: driver.mountpoint(&record.name).display().to_string(),
        created_at: record.created_at,
        driver: record.driver,
        labels: record.labels,
        name: record.name,
        options: record.options,
        scope: "local".to_owned(),
        usage_data: None,
    }
}

fn parse_filters(raw: &str, known: &[&str]) -> Result<Filters, JobError> {
    let filters = Filters::parse(raw).map_err(|e| JobError::invalid(e.to_string()))?;
    filters
        .check_names(known)
        .map_err(|e| JobError::invalid(e.to_string()))?;
    Ok(filters)
}

/// The volumes a container's model mounts.
fn volumes_of(record: &ContainerRecord) -> impl Iterator<Item = (&str, bool)> {
    record
        .model
        .iter()
        .flat_map(|m| m.mounts.iter())
        .filter_map(|m| match m {
            Mount::Volume {
                name, anonymous, ..
            } => Some((name.as_str(), *anonymous)),
            _ => None,
        })
}

/// The names of the volumes a model mounts, each once, in name order.
pub(super) fn model_volumes(model: &berth_model::container::ContainerModel) -> Vec<String> {
    let mut names: Vec<String> = model
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Volume { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The names of the volumes a container's record mounts ([`model_volumes`]).
pub(super) fn record_volumes(record: &ContainerRecord) -> Vec<String> {
    record.model.as_ref().map(model_volumes).unwrap_or_default()
}

impl Daemon {
    /// Runs volume driver work off the async workers.
    async fn on_volumes<T, F>(&self, f: F) -> Result<T, JobError>
    where
        F: FnOnce(&LocalDriver) -> Result<T, VolumeError> + Send + 'static,
        T: Send + 'static,
    {
        let driver = self.volumes.clone();
        self.blocking(BlockingKind::ContainerDir, move || {
            f(&driver).map_err(volume_error)
        })
        .await
    }

    /// Container ids that mount the volume, in creation order.
    pub(super) fn volume_users(&self, name: &str) -> Vec<String> {
        self.containers
            .all()
            .iter()
            .map(|c| c.record())
            .filter(|r| volumes_of(r).any(|(n, _)| n == name))
            .map(|r| r.id)
            .collect()
    }

    fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([("driver".to_owned(), berth_volume::LOCAL.to_owned())]);
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), v.clone());
        }
        self.events.publish("volume", action, name, attrs);
    }

    /// `POST /volumes/create`.
    pub async fn volume_create(&self, request: VolumeCreateRequest) -> Result<Volume, JobError> {
        if request.cluster_volume_spec.is_some() {
            return Err(JobError::invalid(
                "ClusterVolumeSpec: cluster volumes need a swarm, which berth does not have",
            ));
        }
        // moby generates a name when none is given (an unnamed, but not
        // anonymous, volume).
        let name = if request.name.is_empty() {
            crate::daemon::names::generate_id()
        } else {
            request.name
        };
        let create = CreateVolume {
            name,
            driver: request.driver,
            labels: request.labels,
            options: request.driver_opts,
            created_at: now_rfc3339(),
        };
        let (record, created) = self.on_volumes(move |d| d.create(create)).await?;
        if created {
            self.volume_event("create", &record.name, &[]);
        }
        Ok(wire(&self.volumes, record))
    }

    /// `GET /volumes/{name}`.
    pub async fn volume_inspect(&self, name: &str) -> Result<Volume, JobError> {
        let name = name.to_owned();
        let record = self.on_volumes(move |d| d.get(&name)).await?;
        Ok(wire(&self.volumes, record))
    }

    /// `GET /volumes` with moby's filters: `dangling` (no container uses
    /// it), `driver` (exactly), `label` (`key` or `key=value`), `name`
    /// (moby `Args.Match`).
    pub async fn volume_list(&self, raw_filters: &str) -> Result<VolumeListResponse, JobError> {
        let filters = parse_filters(raw_filters, &LIST_FILTERS)?;
        let dangling = filters
            .get_bool("dangling")
            .map_err(|e| JobError::invalid(e.to_string()))?;
        let records = self.on_volumes(|d| d.list()).await?;
        let volumes = records
            .into_iter()
            .filter(|r| {
                filters.exact("driver", &r.driver)
                    && filters.matches("name", &r.name)
                    && filters.match_labels("label", &r.labels)
                    && dangling.is_none_or(|want| self.volume_users(&r.name).is_empty() == want)
            })
            .map(|r| wire(&self.volumes, r))
            .collect();
        Ok(VolumeListResponse {
            volumes,
            warnings: Vec::new(),
        })
    }

    /// `DELETE /volumes/{name}`: refused while a container uses it (moby's
    /// 409); `force` makes a missing volume no error, as in moby.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<(), JobError> {
        let _held = self.volume_lock.lock().await;
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(JobError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let owned = name.to_owned();
        match self.on_volumes(move |d| d.remove(&owned)).await {
            Ok(()) => {
                self.volume_event("destroy", name, &[]);
                Ok(())
            }
            Err(e) if force && e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /volumes/prune`: the unused volumes that match `label` and
    /// `label!`, only anonymous ones unless `all=true` (moby 23+).
    pub async fn volume_prune(&self, raw_filters: &str) -> Result<VolumePruneResponse, JobError> {
        let filters = parse_filters(raw_filters, &PRUNE_FILTERS)?;
        let all = filters
            .get_bool("all")
            .map_err(|e| JobError::invalid(e.to_string()))?
            .unwrap_or(false);
        let _held = self.volume_lock.lock().await;
        let records = self.on_volumes(|d| d.list()).await?;
        let mut report = VolumePruneResponse::default();
        for record in records {
            if !(all || record.is_anonymous())
                || !filters.prune_labels_match(&record.labels)
                || !self.volume_users(&record.name).is_empty()
            {
                continue;
            }
            let name = record.name.clone();
            let removed = self
                .on_volumes(move |d| {
                    let size = d.size(&name).unwrap_or(0);
                    d.remove(&name).map(|()| size)
                })
                .await;
            match removed {
                Ok(size) => {
                    report.space_reclaimed += size;
                    self.volume_event("destroy", &record.name, &[]);
                    report.volumes_deleted.push(record.name);
                }
                Err(e) => {
                    tracing::warn!(volume = %record.name, error = %e.message, "prune could not remove a volume")
                }
            }
        }
        self.events.publish(
            "volume",
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_owned(), report.space_reclaimed.to_string())]),
        );
        Ok(report)
    }

    /// Every volume with its `UsageData` (for `/system/df`).
    pub(super) async fn volume_usage(&self) -> Result<Vec<Volume>, JobError> {
        let records = self.on_volumes(|d| d.list()).await?;
        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            let name = record.name.clone();
            let size = self.on_volumes(move |d| d.size(&name)).await?;
            let refs = self.volume_users(&record.name).len();
            let mut row = wire(&self.volumes, record);
            row.usage_data = Some(UsageData {
                size: i64::try_from(size).unwrap_or(i64::MAX),
                ref_count: i64::try_from(refs).unwrap_or(i64::MAX),
            });
            rows.push(row);
        }
        Ok(rows)
    }

    /// moby's `volume mount` (at start, before the container's `start`,
    /// with the mount's destination, mode and propagation) and `volume
    /// unmount` (after its `die`) events, one per volume the container
    /// mounts (`daemon/volumes.go`, `container.UnmountVolumes`).
    pub(super) fn volume_mount_events(&self, action: &str, record: &ContainerRecord) {
        for mount in record.model.iter().flat_map(|m| m.mounts.iter()) {
            let Mount::Volume {
                name,
                destination,
                read_only,
                ..
            } = mount
            else {
                continue;
            };
            let mut extra = vec![("container", record.id.clone())];
            if action == "mount" {
                extra.push(("destination", destination.as_str().to_owned()));
                extra.push(("propagation", String::new()));
                extra.push(("read/write", (!read_only).to_string()));
            }
            self.volume_event(action, name, &extra);
        }
    }

    /// Mounts the own mounts (`type`/`device`/`o` options) of the volumes
    /// container `id` mounts, before its process starts (moby
    /// `MountPoint.Setup` → `localVolume.Mount`). A failure unmounts what
    /// this call mounted: nothing stays mounted for a start that failed.
    pub(super) async fn mount_volumes(&self, id: &str, names: &[String]) -> Result<(), JobError> {
        if names.is_empty() {
            return Ok(());
        }
        let (id, names) = (id.to_owned(), names.to_vec());
        self.on_volumes(move |d| {
            for (i, name) in names.iter().enumerate() {
                if let Err(e) = d.mount(name, &id) {
                    for done in &names[..i] {
                        let _ = d.unmount(done, &id);
                    }
                    return Err(e);
                }
            }
            Ok(())
        })
        .await
    }

    /// Releases container `id`'s hold on the volumes `names` (its
    /// [`model_volumes`]) after its exit or a start that failed; the last
    /// holder unmounts. Every hold is released: one unmount that fails is
    /// logged and does not keep the volumes after it held forever.
    pub(super) async fn unmount_volumes(&self, id: &str, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let id = id.to_owned();
        let result = self
            .on_volumes(move |d| {
                for name in &names {
                    if let Err(e) = d.unmount(name, &id) {
                        let cause = std::error::Error::source(&e).map(ToString::to_string);
                        tracing::warn!(id, volume = %name, error = %e, cause, "failed to unmount a volume");
                    }
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e.message, "failed to release the volumes of a container");
        }
    }

    /// At daemon start, before any container is reattached: the holds on
    /// the volumes' own mounts are those of the containers whose records
    /// say they run (their shims outlive berthd), and a mount nobody holds
    /// goes ([`LocalDriver::restore_mounts`]). Taken from the records
    /// rather than after the reattach, so that no exit seen meanwhile can
    /// release a hold before it is made: a container that exited while
    /// berthd was down is recorded as exited next, which releases it.
    pub(super) async fn restore_volume_mounts(&self, records: &[(String, ContainerRecord)]) {
        let mut users: HashMap<String, Vec<String>> = HashMap::new();
        for (id, record) in records.iter().filter(|(_, r)| r.state.running) {
            for name in record_volumes(record) {
                users.entry(name).or_default().push(id.clone());
            }
        }
        match self.on_volumes(move |d| d.restore_mounts(&users)).await {
            Ok(unmounted) => {
                for name in unmounted {
                    tracing::info!(volume = %name, "unmounted a volume no running container uses");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot restore the volumes' mounts")
            }
        }
    }

    /// At daemon start: directories a crash left without a record go.
    pub(super) async fn reconcile_volumes(&self) -> Result<(), JobError> {
        let removed = self.on_volumes(|d| d.reconcile()).await?;
        for name in removed {
            tracing::info!(volume = %name, "removed a volume directory without a record");
        }
        Ok(())
    }
}

impl Daemon {
    /// `--volumes-from container[:ro|rw]` (moby `parseVolumesFrom`): the
    /// container's binds and volumes, read-only or writable as asked
    /// (else as they are there). Volumes come as named ones: `rm -v` of
    /// this container leaves them to their owner.
    pub(super) fn volumes_from(&self, entries: &[String]) -> Result<Vec<Mount>, JobError> {
        let mut mounts = Vec::new();
        for entry in entries {
            let (reference, mode) = match entry.split_once(':') {
                Some((reference, mode)) => (reference, Some(mode)),
                None => (entry.as_str(), None),
            };
            let read_only = match mode {
                None => None,
                Some("ro") => Some(true),
                Some("rw") => Some(false),
                Some(mode) => {
                    return Err(JobError::invalid(format!(
                        "invalid mode for volumes-from: {mode}"
                    )));
                }
            };
            let record = self.containers.get(reference)?.record();
            for mount in record.model.iter().flat_map(|m| m.mounts.iter()) {
                match mount.clone() {
                    Mount::Bind {
                        source,
                        destination,
                        read_only: ro,
                        propagation,
                    } => mounts.push(Mount::Bind {
                        source,
                        destination,
                        read_only: read_only.unwrap_or(ro),
                        propagation,
                    }),
                    Mount::Volume {
                        name,
                        driver,
                        source,
                        destination,
                        read_only: ro,
                        ..
                    } => mounts.push(Mount::Volume {
                        name,
                        driver,
                        source,
                        destination,
                        read_only: read_only.unwrap_or(ro),
                        anonymous: false,
                    }),
                    // A tmpfs is the container's own memory, not shared.
                    Mount::Tmpfs { .. } => {}
                }
            }
        }
        Ok(mounts)
    }

    /// Makes the volumes a new container mounts (existing ones are used as
    /// they are) and copies the image's content into each empty one that
    /// asks for it, from the container's root filesystem. Returns the
    /// names it created, for [`Daemon::drop_new_volumes`] if the create
    /// fails later. Called with [`Daemon::volume_lock`] held.
    pub(super) async fn provide_volumes(
        &self,
        container_id: &str,
        uses: &[super::spec::VolumeUse],
    ) -> Result<Vec<String>, JobError> {
        let mut created = Vec::new();
        for volume in uses {
            let create = CreateVolume {
                name: volume.name.clone(),
                driver: String::new(),
                labels: volume.labels.clone(),
                options: volume.options.clone(),
                created_at: now_rfc3339(),
            };
            match self.on_volumes(move |d| d.create(create)).await {
                Ok((record, true)) => created.push(record.name),
                Ok((_, false)) => {}
                Err(e) => {
                    self.drop_new_volumes(created).await;
                    return Err(e);
                }
            }
        }
        let copies: Vec<(String, String)> = uses
            .iter()
            .filter(|v| v.copy_up)
            .map(|v| (v.name.clone(), v.destination.as_str().to_owned()))
            .collect();
        if !copies.is_empty() {
            let (images, driver, id) = (
                Arc::clone(&self.images),
                self.volumes.clone(),
                container_id.to_owned(),
            );
            let copied = self
                .blocking(BlockingKind::ImageContent, move || {
                    let rootfs = images.mount_rootfs(&id)?;
                    // The create's own hold on each volume's own mount
                    // while its content is copied (moby mounts with an id
                    // of its own for `CopyImagePathContent`).
                    let holder = format!("create:{id}");
                    let result = copies.iter().try_for_each(|(name, destination)| {
                        driver
                            .populate(name, &holder, &rootfs, destination)
                            .map(drop)
                            .map_err(populate_error)
                    });
                    let unmounted = images.unmount_rootfs(&id);
                    result.and(unmounted)
                })
                .await;
            if let Err(e) = copied {
                self.drop_new_volumes(created).await;
                return Err(e);
            }
        }
        Ok(created)
    }

    /// Removes volumes a failed create made.
    pub(super) async fn drop_new_volumes(&self, names: Vec<String>) {
        for name in names {
            let owned = name.clone();
            if let Err(e) = self.on_volumes(move |d| d.remove(&owned)).await {
                tracing::warn!(volume = %name, error = %e.message, "cannot remove a volume of a failed create");
            }
        }
    }

    /// Events for the volumes a create made, once it succeeded.
    pub(super) fn volumes_created(&self, names: &[String]) {
        for name in names {
            self.volume_event("create", name, &[]);
        }
    }

    /// `rm -v`: the container's anonymous volumes that no other container
    /// uses (moby `removeMountPoints`: named volumes stay, and one still in
    /// use is left with a warning).
    pub(super) async fn remove_anonymous_volumes(&self, record: &ContainerRecord) {
        let _held = self.volume_lock.lock().await;
        let names: Vec<String> = volumes_of(record)
            .filter(|(_, anonymous)| *anonymous)
            .map(|(name, _)| name.to_owned())
            .collect();
        for name in names {
            if !self.volume_users(&name).is_empty() {
                tracing::warn!(volume = %name, "anonymous volume still in use; kept");
                continue;
            }
            let owned = name.clone();
            match self.on_volumes(move |d| d.remove(&owned)).await {
                Ok(()) => self.volume_event("destroy", &name, &[]),
                Err(e) => {
                    tracing::warn!(volume = %name, error = %e.message, "cannot remove an anonymous volume")
                }
            }
        }
    }
}

/// The `Mounts` of inspect (moby `container.MountPoint` as the API shows
/// it): binds and volumes, and `--mount` tmpfs mounts (not `--tmpfs`
/// ones, which moby shows only in `HostConfig.Tmpfs`).
pub fn mount_points(
    mounts: &[Mount],
    tmpfs_flags: &BTreeMap<String, String>,
) -> Vec<berth_api::container::MountPoint> {
    use berth_api::container::MountPoint;
    mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                destination,
                read_only,
                propagation,
            } => Some(MountPoint {
                kind: "bind".to_owned(),
                source: source.display().to_string(),
                destination: destination.as_str().to_owned(),
                mode: if *read_only { "ro" } else { "" }.to_owned(),
                rw: !read_only,
                propagation: propagation.as_str().to_owned(),
                ..MountPoint::default()
            }),
            Mount::Volume {
                name,
                driver,
                source,
                destination,
                read_only,
                ..
            } => Some(MountPoint {
                kind: "volume".to_owned(),
                name: name.clone(),
                source: source.display().to_string(),
                destination: destination.as_str().to_owned(),
                driver: driver.clone(),
                mode: if *read_only { "ro" } else { "z" }.to_owned(),
                rw: !read_only,
                propagation: String::new(),
            }),
            Mount::Tmpfs { destination, .. } if !tmpfs_flags.contains_key(destination.as_str()) => {
                Some(MountPoint {
                    kind: "tmpfs".to_owned(),
                    destination: destination.as_str().to_owned(),
                    rw: true,
                    ..MountPoint::default()
                })
            }
            Mount::Tmpfs { .. } => None,
        })
        .collect()
}
