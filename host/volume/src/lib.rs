//! berth-volume: the `local` volume driver (moby `volume/local`).
//!
//! A volume is a directory `<data-root>/volumes/<name>/_data` and a
//! [`VolumeRecord`] in the metadata store ([`VOLUMES`]). The record is the
//! truth: a directory without a record is what a crash left between the
//! two steps of a create or a remove, and [`LocalDriver::reconcile`] removes
//! it when the daemon starts.
//!
//! - create: the directory, then the record, inside one write transaction
//!   of the store (redb serialises writers), so two creates of one name see
//!   each other and a crash before the commit leaves only a directory;
//! - remove: the record first (committed), then the directory, so a crash
//!   in between leaves only a directory.
//!
//! The driver knows nothing of containers: whether a volume is in use is
//! the engine's question (it owns the containers' mounts).

#![warn(missing_docs)]

mod copy;
mod holders;
pub mod mount;

pub use copy::CopyError;
pub use holders::PopulateError;
pub use mount::{KernelMounter, MountOptions, OptionError, RecordingMounter, VolumeMounter};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_store::{Store, StoreError, Table};
use serde::{Deserialize, Serialize};

/// The volumes' records, keyed by name.
pub const VOLUMES: Table<VolumeRecord> = Table::new("volume.volumes");

/// The only driver berth has.
pub const LOCAL: &str = "local";

/// moby's label on the volumes it creates for a container's anonymous
/// mounts (`volume/service/opts`: `AnonymousLabel`); `volume prune` without
/// `all=true` removes only those (moby 23+).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The characters moby allows in a local volume name (moby
/// `daemon/names`: `RestrictedNameChars`), as its message prints them.
pub const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// What the store keeps of one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// The name (checked by [`validate_name`]).
    pub name: String,
    /// `local`.
    pub driver: String,
    /// User labels ([`ANONYMOUS_LABEL`] for anonymous volumes).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options as given.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// RFC 3339 time of creation.
    pub created_at: String,
}

impl VolumeRecord {
    /// Whether the volume was made for a container's anonymous mount.
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// What a create asks for, validated by [`LocalDriver::create`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateVolume {
    /// The name.
    pub name: String,
    /// The driver; empty means `local`.
    pub driver: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// When (RFC 3339), recorded if the volume is new.
    pub created_at: String,
}

/// Errors of the volume driver. Messages are moby's where moby has one.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// moby `local.validateName` through the volume service.
    #[error(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"{NAME_CHARS}\" are allowed. If you intended to pass a host directory, use absolute path"
    )]
    InvalidName {
        /// The name.
        name: String,
    },
    /// moby's volume service for a driver it has no plugin for.
    #[error(
        "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    )]
    UnknownDriver {
        /// The volume.
        name: String,
        /// The driver asked for.
        driver: String,
    },
    /// Driver options moby's `validateOpts` refuses.
    #[error("create {name}: {source}")]
    Option {
        /// The volume.
        name: String,
        /// What is wrong with them.
        #[source]
        source: OptionError,
    },
    /// The volume's own mount failed at a container's start (moby
    /// `localVolume.mount` through `MountPoint.Setup`); nothing is left
    /// mounted.
    #[error(
        "error while mounting volume '{}': failed to mount local volume: mount {device}:{}, data: {data}: {source}",
        path.display(),
        path.display()
    )]
    Mount {
        /// The volume's data directory.
        path: PathBuf,
        /// `device`.
        device: String,
        /// The data part of `o`.
        data: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The last holder's unmount failed and the mount is still up (moby
    /// `localVolume.unmount`); it stays known as mounted, for the next
    /// user to share.
    #[error("error while unmounting volume path '{}': {source}", path.display())]
    Unmount {
        /// The volume's data directory.
        path: PathBuf,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A removal of a volume whose own mount has holders (moby
    /// `Root.Remove` through the volume service's `OpErr`).
    #[error("remove {name}: volume has active mounts")]
    ActiveMounts {
        /// The volume.
        name: String,
    },
    /// A volume that exists with another driver (moby `errNameConflict`).
    #[error("create {name}: volume name must be unique")]
    Conflict {
        /// The name.
        name: String,
    },
    /// moby `errNoSuchVolume` through `GetVolume`.
    #[error("get {name}: no such volume")]
    NotFound {
        /// The name.
        name: String,
    },
    /// The metadata store failed.
    #[error("volume metadata: {0}")]
    Store(#[from] StoreError),
    /// A file-system step failed.
    #[error("failed to {op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Checks a volume name against moby's rule (`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`:
/// at least two characters, no `/`, so a name never leaves the volumes
/// directory).
pub fn validate_name(name: &str) -> Result<(), VolumeError> {
    let bytes = name.as_bytes();
    let ok = bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// The `local` driver over `<data-root>/volumes` and the store.
#[derive(Debug, Clone)]
pub struct LocalDriver {
    root: PathBuf,
    store: Store,
    mounter: Arc<dyn VolumeMounter>,
    /// Who holds each mounted volume (moby `localVolume.active`): its
    /// mount goes with the last holder.
    active: Arc<Mutex<HashMap<String, HashSet<String>>>>,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + use<> {
    let path = path.to_owned();
    move |source| VolumeError::Io { op, path, source }
}

impl LocalDriver {
    /// The driver over `root` (`<data-root>/volumes`); nothing is touched
    /// until the first create or [`LocalDriver::reconcile`].
    pub fn new(root: PathBuf, store: Store) -> LocalDriver {
        LocalDriver {
            root,
            store,
            mounter: Arc::new(KernelMounter),
            active: Arc::default(),
        }
    }

    /// The driver with `mounter` doing volumes' own mounts (a
    /// [`RecordingMounter`] in tests).
    pub fn with_mounter(self, mounter: Arc<dyn VolumeMounter>) -> LocalDriver {
        LocalDriver { mounter, ..self }
    }

    /// Mounts the volume's own mount (its `type`/`device`/`o` options) on
    /// its data directory for `holder` (a container id), unless another
    /// holder has it mounted already; a volume without options needs
    /// nothing. moby `localVolume.Mount`.
    pub fn mount(&self, name: &str, holder: &str) -> Result<(), VolumeError> {
        let record = self.get(name)?;
        let Some(options) =
            MountOptions::parse(&record.options).map_err(|source| VolumeError::Option {
                name: name.to_owned(),
                source,
            })?
        else {
            return Ok(());
        };
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        // An entry is a mount that is up, held or not (one whose unmount
        // failed): a new holder shares it (moby `active.mounted`).
        if !active.contains_key(name) {
            let path = self.mountpoint(name);
            if let Err(source) = self.mounter.mount(&options, &path) {
                return Err(VolumeError::Mount {
                    path,
                    device: options.device,
                    data: options.data,
                    source,
                });
            }
        }
        active
            .entry(name.to_owned())
            .or_default()
            .insert(holder.to_owned());
        Ok(())
    }

    /// Lets `holder` go of the volume; the last holder's release unmounts
    /// it. moby `localVolume.Unmount`: the hold goes whatever happens, and
    /// an unmount that fails with the mount still up leaves it known as
    /// mounted (no holder), so the next user shares it instead of stacking
    /// another mount on it; one that is gone anyway is no error.
    pub fn unmount(&self, name: &str, holder: &str) -> Result<(), VolumeError> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let Some(holders) = active.get_mut(name) else {
            return Ok(());
        };
        if !holders.remove(holder) || !holders.is_empty() {
            return Ok(());
        }
        let path = self.mountpoint(name);
        // A mount that is gone anyway (unmounted by hand: EINVAL) is no
        // error, as in moby's `unmount` (`mount.Mounted` after a failure).
        if let Err(source) = self.mounter.unmount(&path)
            && self.mounter.is_mounted(&path).unwrap_or(true)
        {
            return Err(VolumeError::Unmount { path, source });
        }
        active.remove(name);
        Ok(())
    }

    /// Whether the volume's own mount is up.
    pub fn is_mounted(&self, name: &str) -> bool {
        self.active
            .lock()
            .map(|a| a.contains_key(name))
            .unwrap_or(false)
    }

    /// Who holds the volume's own mount (none when it is down).
    pub fn holders(&self, name: &str) -> HashSet<String> {
        self.active
            .lock()
            .map(|a| a.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// `<root>/<name>/_data`: what containers mount (moby's layout, so
    /// tools that know Docker's find the files).
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// Creates the volume, or returns the existing one of that name (moby:
    /// a create of an existing local volume is not an error, and keeps its
    /// labels and options). The `bool` is whether it was created now.
    pub fn create(&self, request: CreateVolume) -> Result<(VolumeRecord, bool), VolumeError> {
        let CreateVolume {
            name,
            driver,
            labels,
            options,
            created_at,
        } = request;
        validate_name(&name)?;
        let driver = if driver.is_empty() {
            LOCAL.to_owned()
        } else {
            driver
        };
        if driver != LOCAL {
            return Err(VolumeError::UnknownDriver { name, driver });
        }
        // moby `validateOpts`: refused at create, mounted at first use.
        if let Err(source) = MountOptions::parse(&options) {
            return Err(VolumeError::Option { name, source });
        }
        let record = VolumeRecord {
            name: name.clone(),
            driver,
            labels,
            options,
            created_at,
        };
        // Directory and record in one write transaction: the transaction
        // serialises creates, and a crash before the commit leaves a
        // directory without a record, which `reconcile` removes.
        let mut made = false;
        let result = self.store.write(|txn| {
            if let Some(existing) = txn.get(VOLUMES, &name)? {
                return Ok((existing, false));
            }
            made = true;
            self.make_dirs(&name)?;
            txn.put(VOLUMES, &name, &record)?;
            Ok((record, true))
        });
        if result.is_err() && made {
            // Not committed: the directory is this create's alone.
            let _ = std::fs::remove_dir_all(self.root.join(&name));
        }
        result
    }

    fn make_dirs(&self, name: &str) -> Result<(), VolumeError> {
        // 0701 on the volumes root as moby does: containers' users reach
        // their own volume's files, nobody lists the volumes.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&self.root)
            .map_err(io("create", &self.root))?;
        let dir = self.root.join(name);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(io("create", &dir))?;
        let data = dir.join("_data");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&data)
            .map_err(io("create", &data))
    }

    /// The volume's record.
    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        self.store
            .get(VOLUMES, name)?
            .ok_or_else(|| VolumeError::NotFound {
                name: name.to_owned(),
            })
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        Ok(self
            .store
            .list(VOLUMES)?
            .into_iter()
            .map(|(_, record)| record)
            .collect())
    }

    /// Removes the volume: its record first, then its directory (see the
    /// crate's notes). Whether it is in use is the caller's to check.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        self.unmount_for_remove(name)?;
        let removed = self.store.write(|txn| txn.delete(VOLUMES, name))?;
        if !removed {
            return Err(VolumeError::NotFound {
                name: name.to_owned(),
            });
        }
        let dir = self.root.join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &dir)(e)),
        }
    }

    /// At daemon start: removes the directories no record names (a create
    /// or remove cut short), and makes again the data directory of a
    /// record whose directory is gone. Returns the names it removed.
    pub fn reconcile(&self) -> Result<Vec<String>, VolumeError> {
        let records: HashSet<String> = self.list()?.into_iter().map(|r| r.name).collect();
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("read", &self.root)(e)),
        };
        for entry in entries.into_iter().flatten() {
            let entry = entry.map_err(io("read", &self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if records.contains(&name) {
                continue;
            }
            let path = entry.path();
            let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            gone.map_err(io("remove", &path))?;
            removed.push(name);
        }
        for name in &records {
            if !self.mountpoint(name).is_dir() {
                self.make_dirs(name)?;
            }
        }
        Ok(removed)
    }

    /// Bytes of the volume's files: every entry but directories, a file
    /// with several links once, symbolic links never followed (moby
    /// `pkg/directory.Size`).
    pub fn size(&self, name: &str) -> Result<u64, VolumeError> {
        let mut seen = HashSet::new();
        let mut total = 0u64;
        let mut stack = vec![self.mountpoint(name)];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // Removed meanwhile by a container: not an error for a size.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io("read", &dir))?;
                let Ok(meta) = entry.path().symlink_metadata() else {
                    continue;
                };
                if meta.is_dir() {
                    stack.push(entry.path());
                } else if meta.nlink() < 2 || seen.insert((meta.dev(), meta.ino())) {
                    total = total.saturating_add(meta.len());
                }
            }
        }
        Ok(total)
    }

    /// Copies the image's content at `destination` from the container's
    /// root filesystem `rootfs` into the volume, if the volume is empty
    /// (moby `CopyImagePathContent`). Returns whether anything was copied.
    pub fn copy_up(&self, name: &str, rootfs: &Path, destination: &str) -> Result<bool, CopyError> {
        let data = self.mountpoint(name);
        match self.is_empty(name) {
            Ok(true) => copy::copy_up(rootfs, destination, &data),
            Ok(false) => Ok(false),
            Err(_) => Err(CopyError::Io {
                op: "read",
                path: data,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
        }
    }

    /// Whether the volume's data directory has no entry (moby copies an
    /// image's content only into an empty volume).
    pub fn is_empty(&self, name: &str) -> Result<bool, VolumeError> {
        let data = self.mountpoint(name);
        let mut entries = std::fs::read_dir(&data).map_err(io("read", &data))?;
        Ok(entries.next().is_none())
    }
}

#[cfg(test)]
mod tests;
