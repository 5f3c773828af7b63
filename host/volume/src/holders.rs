//! Who holds a volume's own mount beyond a container's start and exit:
//! the create that copies the image's content into it
//! ([`LocalDriver::populate`]), and the containers that outlived the
//! daemon that mounted it ([`LocalDriver::restore_mounts`]); and the
//! removal that must find it down.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use berth_libcontainer::root::Root;

use crate::{CopyError, LocalDriver, MountOptions, VolumeError};

/// A copy-up that failed ([`LocalDriver::populate`]).
#[derive(Debug, thiserror::Error)]
pub enum PopulateError {
    /// The volume's own mount failed (moby `populateVolume`'s wrap).
    #[error("failed to populate volume: {0}")]
    Mount(#[source] VolumeError),
    /// The copy itself failed.
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// Whether the rootfs has anything at `destination`, resolved inside it;
/// an error other than "nothing there" says yes, for the copy to report.
fn image_has(rootfs: &Path, destination: &str) -> bool {
    match Root::open(rootfs).and_then(|root| root.resolve(Path::new(destination))) {
        Ok(_) => true,
        Err(e) => e.errno() != nix::errno::Errno::ENOENT,
    }
}

impl LocalDriver {
    /// Copies the image's content at `destination` into the volume as
    /// [`LocalDriver::copy_up`] does, with the volume's own mount (its
    /// `type`/`device`/`o` options) up for `holder` meanwhile, so that the
    /// content lands on the mounted file system (the bound host directory)
    /// and not on the data directory the mount then hides. The hold is
    /// released after, whatever the copy did.
    ///
    /// moby `container.CopyImagePathContent` (`v.Mount(id)`, copy,
    /// `defer v.Unmount(id)`), called by `populateVolume` at create, which
    /// first stats the image's path: nothing there mounts nothing.
    pub fn populate(
        &self,
        name: &str,
        holder: &str,
        rootfs: &Path,
        destination: &str,
    ) -> Result<bool, PopulateError> {
        if !image_has(rootfs, destination) {
            return Ok(false);
        }
        self.mount(name, holder).map_err(PopulateError::Mount)?;
        let copied = self.copy_up(name, rootfs, destination);
        if let Err(e) = self.unmount(name, holder) {
            tracing::warn!(volume = name, error = %e, "cannot unmount a volume after its copy-up");
        }
        Ok(copied?)
    }
}

impl LocalDriver {
    /// At daemon start, before any container is reattached, started or
    /// recorded as exited: the holders of the volumes' own mounts went
    /// with the daemon that mounted them, while the mounts themselves and
    /// the containers (their shims outlive berthd) may still be there.
    ///
    /// For each volume with its own mount that is up (moby
    /// `localVolume.restoreIfMounted`, which checks mountinfo), `users`
    /// (volume name → ids of the containers whose records say they run)
    /// become its holders again, so the last one's exit unmounts it and a
    /// new user does not mount it a second time on top; a mount nobody
    /// holds is unmounted. A mount that is down is left down, with no
    /// holder: the next user mounts it. Failures are logged per volume.
    /// Returns the volumes it unmounted.
    pub fn restore_mounts(
        &self,
        users: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<String>, VolumeError> {
        let mut unmounted = Vec::new();
        let records = self.list()?;
        // The mount table, read once, and only when a volume has a mount
        // of its own.
        let mut mount_points = None;
        for record in records {
            let name = record.name;
            // Options are validated at create: one that no longer parses
            // asks for nothing this daemon would have mounted.
            if !matches!(MountOptions::parse(&record.options), Ok(Some(_))) {
                continue;
            }
            let path = self.mountpoint(&name);
            let holders: HashSet<String> =
                users.get(&name).into_iter().flatten().cloned().collect();
            let up = match mount_points.get_or_insert_with(|| self.mounter.mount_points()) {
                Ok(points) => points.contains(&path),
                Err(e) => {
                    tracing::warn!(volume = %name, error = %e, "cannot tell whether a volume is mounted");
                    continue;
                }
            };
            match up {
                true if holders.is_empty() => match self.mounter.unmount(&path) {
                    Ok(()) => unmounted.push(name),
                    Err(e) => {
                        tracing::warn!(volume = %name, error = %e, "cannot unmount a volume nobody uses");
                        // Still up: known as mounted, unheld, so that its
                        // next user shares it (as after a failed release).
                        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
                        active.insert(name, HashSet::new());
                    }
                },
                true => {
                    let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
                    active.insert(name, holders);
                }
                false if !holders.is_empty() => {
                    tracing::warn!(volume = %name, "a running container's volume is no longer mounted; its next user mounts it");
                }
                false => {}
            }
        }
        Ok(unmounted)
    }
}

impl LocalDriver {
    /// Before a volume's directory goes: its own mount must be down, or
    /// removing the directory would empty the mounted file system (a bind
    /// volume's host directory). moby `Root.Remove`: refused while held,
    /// else unmounted (here only when mountinfo says it is up), and a
    /// failed unmount refuses the removal.
    pub(crate) fn unmount_for_remove(&self, name: &str) -> Result<(), VolumeError> {
        let record = match self.get(name) {
            Ok(record) => record,
            // The removal itself says so.
            Err(VolumeError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !matches!(MountOptions::parse(&record.options), Ok(Some(_))) {
            return Ok(());
        }
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.get(name).is_some_and(|holders| !holders.is_empty()) {
            return Err(VolumeError::ActiveMounts {
                name: name.to_owned(),
            });
        }
        let path = self.mountpoint(name);
        let up = self
            .mounter
            .is_mounted(&path)
            .map_err(|source| VolumeError::Io {
                op: "read the mount table for",
                path: path.clone(),
                source,
            })?;
        if up {
            self.mounter
                .unmount(&path)
                .map_err(|source| VolumeError::Unmount { path, source })?;
        }
        active.remove(name);
        Ok(())
    }
}
