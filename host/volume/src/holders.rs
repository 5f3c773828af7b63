//! Who holds a volume's own mount beyond a container's run: the create
//! that copies the image's content into it ([`LocalDriver::populate`]).

use std::path::Path;

use berth_libcontainer::root::Root;

use crate::{CopyError, LocalDriver, VolumeError};

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
