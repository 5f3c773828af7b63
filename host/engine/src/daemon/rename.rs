//! `POST /containers/{id}/rename?name=`: a new name, validated as create
//! validates it, moved in the store in one transaction (moby
//! `daemon/rename.go`).

use crate::daemon::blocking::BlockingKind;
use crate::daemon::container::{CONTAINERS, ContainerRecord, NAMES};
use crate::daemon::{Daemon, names, store_error};
use crate::job::JobError;

impl Daemon {
    /// `POST /containers/{id}/rename?name=`: gives the container `new_name`
    /// and frees its old one. The name table and the record change in one
    /// store transaction, so a rename survives a daemon restart whole or
    /// not at all. Emits `rename` with the `oldName` attribute, as moby
    /// does.
    pub async fn rename(&self, reference: &str, new_name: &str) -> Result<(), JobError> {
        if reference.is_empty() || new_name.is_empty() {
            return Err(JobError::invalid("Neither old nor new names may be empty"));
        }
        let container = self.containers.get(reference)?;
        let new_name = names::validate_name(new_name)?;
        // The record in memory changes first: any save of it from now on
        // (an exit, a pause) carries the new name. A failed transaction puts
        // the old one back.
        let (old_name, record) = {
            let mut inner = container.lock();
            if inner.record.name == new_name {
                return Err(JobError::invalid(
                    "Renaming a container with the same name as its current name",
                ));
            }
            let old_name = std::mem::replace(&mut inner.record.name, new_name.clone());
            (old_name, inner.record.clone())
        };
        if let Err(e) = self.move_name(&old_name, &record).await {
            let mut inner = container.lock();
            if inner.record.name == new_name {
                inner.record.name = old_name;
            }
            return Err(e);
        }
        self.rename_dns_names(&record.id, &old_name, &record.name)
            .await;
        self.container_event("rename", &record, &[("oldName", format!("/{old_name}"))]);
        Ok(())
    }

    /// Reserves `record.name` for the record's id, frees `old_name` (when
    /// it is still this container's) and saves the record, in one
    /// transaction. A name taken by another container is moby's 409,
    /// wrapped as moby wraps it ("Error when allocating new name: ...").
    async fn move_name(&self, old_name: &str, record: &ContainerRecord) -> Result<(), JobError> {
        let (store, record, old_name) = (self.store.clone(), record.clone(), old_name.to_owned());
        self.blocking(BlockingKind::StoreCommit, move || {
            store.write(|txn| {
                let read = |e| store_error("failed to read the container names", e);
                if let Some(owner) = txn.get(NAMES, &record.name).map_err(read)? {
                    let conflict = Self::name_conflict(&record.name, &owner);
                    return Err(JobError::conflict(format!(
                        "Error when allocating new name: {}",
                        conflict.message
                    )));
                }
                if txn.get(NAMES, &old_name).map_err(read)?.as_deref() == Some(record.id.as_str()) {
                    txn.delete(NAMES, &old_name)
                        .map_err(|e| store_error("failed to free the old name", e))?;
                }
                txn.put(NAMES, &record.name, &record.id)
                    .and_then(|()| txn.put(CONTAINERS, &record.id, &record))
                    .map_err(|e| store_error("failed to save the container record", e))
            })
        })
        .await
    }
}
