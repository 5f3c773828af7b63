//! `POST /containers/create`: a validated spec, a root filesystem, then
//! the record and its name in one store transaction.

use std::sync::Arc;

use berth_api::container::{CreateRequest, CreateResponse};

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{CONTAINERS, Container, ContainerRecord, NAMES};
use crate::daemon::spec::{self, ContainerSpecBuilder};
use crate::daemon::{Daemon, names, now_rfc3339, store_error};
use crate::job::{ErrorKind, JobError};

impl Daemon {
    /// `POST /containers/create`.
    pub async fn create(
        &self,
        name: Option<&str>,
        mut request: CreateRequest,
    ) -> Result<CreateResponse, JobError> {
        if request.config.image.is_empty() {
            return Err(JobError::invalid("config.Image must not be empty"));
        }
        let name = name
            .filter(|n| !n.is_empty())
            .map(names::validate_name)
            .transpose()?;
        if let Some(name) = &name {
            self.check_name_free(name).await?;
        }
        // Before anything else: a field berth would drop must not get as far
        // as a stored container.
        request
            .check_fields()
            .map_err(|e| JobError::invalid(e.to_string()))?;
        let image_name = request.config.image.clone();
        let images = Arc::clone(&self.images);
        let image = self
            .blocking(BlockingKind::ImageMetadata, move || {
                images.inspect(&image_name)
            })
            .await?;
        let id = names::generate_id();
        let inherited = self.volumes_from(&request.host_config.volumes_from)?;
        let network_host_name = self.resolve_network_mode(&mut request).await?;
        let host_gateway = self.host_gateway(&request.host_config).await?;
        let spec = ContainerSpecBuilder::new(request, image, &id)
            .network_host_name(network_host_name)
            .host_gateway(host_gateway)
            .sysinfo(&self.config.sysinfo)
            .volumes_root(&self.config.volumes_root())
            .volumes_from(inherited)
            .build()?;
        // `--ip`/`--ip6` against the network, as connect checks them.
        self.check_requested_addresses(&spec.model).await?;
        // What only the exec driver knows of the host (its bounding set):
        // refused now rather than at the first start.
        self.runtime.validate(&spec.model)?;
        let warnings = spec.warnings.clone();

        let container_dir = self.config.container_dir(&id);
        self.blocking(BlockingKind::ContainerDir, move || {
            std::fs::create_dir_all(&container_dir).map_err(|e| {
                JobError::internal(&format!("failed to create {}", container_dir.display()), &e)
            })
        })
        .await?;
        let images = Arc::clone(&self.images);
        let (rootfs_id, image_id) = (id.clone(), spec.image_id.clone());
        // A writable layer may be a copy of the image's content (vfs).
        let created = self.blocking(BlockingKind::ImageContent, move || {
            images.create_rootfs(&rootfs_id, &image_id)
        });
        if let Err(e) = created.await {
            self.discard_after_failed_create(&id).await;
            return Err(e);
        }
        // From making its volumes until the container is in the set, no
        // volume removal may decide they are unused.
        let volumes_held = self.volume_lock.lock().await;
        let new_volumes = match self.provide_volumes(&id, &spec.volumes).await {
            Ok(names) => names,
            Err(e) => {
                self.discard_after_failed_create(&id).await;
                return Err(e);
            }
        };

        let mut record = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: now_rfc3339(),
            image_id: spec.image_id,
            image: spec.image,
            path: spec.path,
            args: spec.args,
            config: spec.config,
            host_config: spec.host_config,
            model: Some(spec.model),
            state: spec::created_state(),
            restart_count: 0,
            manually_stopped: false,
            connections: None,
        };
        // Name and record in one transaction: the name is reserved
        // atomically, and a failure leaves neither behind.
        let mut attempt = 0;
        let result = loop {
            record.name = match &name {
                Some(n) => n.clone(),
                None => names::random_name(attempt),
            };
            match self.insert_record(&record).await {
                Err(e) if name.is_none() && e.kind == ErrorKind::Conflict && attempt < 10 => {
                    attempt += 1
                }
                other => break other,
            }
        };
        if let Err(e) = result {
            self.drop_new_volumes(new_volumes).await;
            self.discard_after_failed_create(&id).await;
            return Err(e);
        }
        self.containers.insert(Container::new(record.clone()));
        drop(volumes_held);
        self.volumes_created(&new_volumes);
        self.container_event("create", &record, &[]);
        for warning in &warnings {
            tracing::warn!(container = %id, "{warning}");
        }
        Ok(CreateResponse { id, warnings })
    }

    async fn discard_after_failed_create(&self, id: &str) {
        if let Err(e) = self.discard_unrecorded(id).await {
            tracing::warn!(id, error = %e, "cleanup after a failed create failed; the next start of berthd retries");
        }
    }

    pub(super) fn name_conflict(name: &str, id: &str) -> JobError {
        JobError::conflict(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    async fn check_name_free(&self, name: &str) -> Result<(), JobError> {
        let (store, name) = (self.store.clone(), name.to_owned());
        self.blocking(BlockingKind::StoreCommit, move || {
            match store.get(NAMES, &name) {
                Ok(Some(id)) => Err(Self::name_conflict(&name, &id)),
                Ok(None) => Ok(()),
                Err(e) => Err(store_error("failed to read the container names", e)),
            }
        })
        .await
    }

    async fn insert_record(&self, record: &ContainerRecord) -> Result<(), JobError> {
        let (store, record) = (self.store.clone(), record.clone());
        self.blocking(BlockingKind::StoreCommit, move || {
            store.write(|txn| {
                if let Some(owner) = txn
                    .get(NAMES, &record.name)
                    .map_err(|e| store_error("failed to read the container names", e))?
                {
                    return Err(Self::name_conflict(&record.name, &owner));
                }
                txn.put(NAMES, &record.name, &record.id)
                    .and_then(|()| txn.put(CONTAINERS, &record.id, &record))
                    .map_err(|e| store_error("failed to save the container record", e))
            })
        })
        .await
    }
}
