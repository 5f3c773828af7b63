//! Image removal (`docker rmi`): which references go and whether the image
//! goes with them are decided first, against Docker's conflict rules; then
//! one transaction writes the decision and a gc drops unused layers.

use std::collections::BTreeSet;
use std::fs;

use super::{DeleteRecord, Resolved, resolve_in, tags_of};
use crate::error::GraphError;
use crate::graph::Graph;
use crate::records::{IMAGES, ROOTFS, TAGS};
use crate::reference::Reference;

/// What a removal does, once every conflict has been checked.
struct Removal {
    /// References to delete.
    untag: Vec<Reference>,
    /// Whether the image itself goes.
    delete_image: bool,
}

impl Graph {
    /// Docker's `rmi`: removes a tag, and the image when its last tag goes
    /// and no container uses it; see the crate docs for the exact rules.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<DeleteRecord>, GraphError> {
        let guard = self.lock();
        let read = self.store.read()?;
        let resolved = resolve_in(&read, name)?;
        let hex = resolved.image.id.clone();
        let refs = tags_of(&read.list(TAGS)?, &hex);
        let users: Vec<(String, bool)> = read
            .list(ROOTFS)?
            .into_iter()
            .filter(|(_, r)| r.image_id == hex)
            .map(|(id, r)| (id, r.mounted))
            .collect();
        let removal = plan_removal(name, resolved, &refs, &users, force)?;

        let mut records = Vec::new();
        self.store.write(|txn| {
            for r in &removal.untag {
                if txn.delete(TAGS, &r.to_string())? {
                    records.push(DeleteRecord::Untagged(r.familiar()));
                }
            }
            if removal.delete_image {
                txn.delete(IMAGES, &hex)?;
                records.push(DeleteRecord::Deleted(format!("sha256:{hex}")));
            }
            Ok::<_, GraphError>(())
        })?;
        if removal.delete_image {
            let _ = fs::remove_file(self.layout.blob(&hex));
        }
        drop(guard);
        if removal.delete_image {
            // Layers that no image or container needs any more go now, as
            // the policy decides. The image is gone whatever happens here; a
            // failing policy only delays the layers to the next gc.
            match self.gc() {
                Ok(report) => records.extend(
                    report
                        .removed
                        .into_iter()
                        .map(|id| DeleteRecord::Deleted(format!("sha256:{id}"))),
                ),
                Err(e) => tracing::warn!(error = %e, "layer gc after image removal failed"),
            }
        }
        Ok(records)
    }
}

/// Decides a removal of the image `resolved` (named `name`), tagged `refs`
/// and used by the containers `users` (id, mounted), with moby's conflict
/// messages (`daemon/images/image_delete.go`).
fn plan_removal(
    name: &str,
    resolved: Resolved,
    refs: &[Reference],
    users: &[(String, bool)],
    force: bool,
) -> Result<Removal, GraphError> {
    let short = &resolved.image.id[..12];
    let cid = |id: &str| id[..12.min(id.len())].to_owned();
    let mut untag: Vec<Reference> = Vec::new();
    let mut removed_named_ref = false;
    let by_id = resolved.by_ref.is_none();
    if let Some(named) = resolved.by_ref {
        if refs.len() <= 1
            && !force
            && let Some((id, _)) = users.first()
        {
            return Err(GraphError::Conflict {
                message: format!(
                    "unable to remove repository reference {name:?} (must force) - container \
                     {} is using its referenced image {short}",
                    cid(id)
                ),
            });
        }
        untag.push(named);
        removed_named_ref = true;
    } else {
        // By id: all references go when they are all in one repository
        // or when forced; otherwise Docker refuses.
        let repos: BTreeSet<String> = refs.iter().map(Reference::name).collect();
        if repos.len() > 1 && !force {
            return Err(GraphError::Conflict {
                message: format!(
                    "unable to delete {short} (must be forced) - image is referenced in \
                     multiple repositories"
                ),
            });
        }
    }
    let remaining = refs.len() - untag.len();
    // Conflicts for deleting the image itself: a mounted rootfs (a
    // running container) always blocks; an unmounted one blocks unless
    // forced.
    let delete_image = remaining == 0 || by_id;
    let conflict = if !delete_image {
        None
    } else if let Some((id, _)) = users.iter().find(|(_, mounted)| *mounted) {
        Some(format!(
            "unable to delete {short} (cannot be forced) - image is being used by running \
             container {}",
            cid(id)
        ))
    } else if let (false, Some((id, _))) = (force, users.first()) {
        Some(format!(
            "unable to delete {short} (must be forced) - image is being used by stopped \
             container {}",
            cid(id)
        ))
    } else {
        None
    };
    if let Some(message) = conflict {
        if !removed_named_ref {
            return Err(GraphError::Conflict { message });
        }
        // Removing a tag succeeds; the image stays for its users.
        return Ok(Removal {
            untag,
            delete_image: false,
        });
    }
    if delete_image && by_id {
        untag = refs.to_vec();
    }
    Ok(Removal {
        untag,
        delete_image,
    })
}
