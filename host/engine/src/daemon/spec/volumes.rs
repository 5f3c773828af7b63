//! The mounts of a create request that involve volumes or `--mount`, in
//! moby's order (`daemon/volumes.go` `registerMountPoints`, then the
//! anonymous volumes of `createContainerOSSpecificSettings`):
//!
//! 1. the mounts of `--volumes-from` containers (resolved by the daemon,
//!    given here), which the container's own mounts override;
//! 2. `Binds`: `/host:/ctr` binds, `name:/ctr` named volumes;
//! 3. `Mounts` (`--mount type=bind|volume|tmpfs`), validated as moby's
//!    `validateMountConfig` with its messages;
//! 4. `Config.Volumes` (`-v /ctr` and the image's `VOLUME`s): an anonymous
//!    volume for each destination nothing else mounts.
//!
//! Each destination is cleaned, absolute, not `/`, without `..`; the exec
//! driver resolves it inside the container's root like any mount.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use berth_api::container::{Bind, HostConfig, MountSpec};
use berth_model::container::{AbsolutePath, ModelError, Mount, Propagation};

use super::invalid;
use crate::daemon::names::generate_id;
use crate::job::JobError;

/// A volume a create mounts: made by the volume driver if missing, and
/// given the image's content at its destination when it is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUse {
    /// The volume's name (generated for an anonymous one).
    pub name: String,
    /// Labels for a new volume (`volume-label`; moby's anonymous label).
    pub labels: BTreeMap<String, String>,
    /// Driver options for a new volume (`volume-opt`).
    pub options: BTreeMap<String, String>,
    /// Copy the image's content at `destination` into an empty volume
    /// (not `nocopy` / `volume-nocopy`).
    pub copy_up: bool,
    /// Where it is mounted.
    pub destination: AbsolutePath,
}

/// What [`plan`] needs beside the host configuration.
#[derive(Debug, Clone, Default)]
pub struct VolumeInputs {
    /// `<data-root>/volumes`: where the local driver keeps volumes.
    pub root: PathBuf,
    /// The mounts of the `--volumes-from` containers, modes applied.
    pub inherited: Vec<Mount>,
    /// `Config.Volumes` merged with the image's.
    pub anonymous: BTreeSet<String>,
}

/// The container's binds, volumes and `--mount` tmpfs mounts, and the
/// volumes to make. `tmpfs` (the `Tmpfs` entries) only takes part in the
/// duplicate check.
pub(super) fn plan(
    host: &HostConfig,
    inputs: &VolumeInputs,
    tmpfs: &[Mount],
) -> Result<(Vec<Mount>, Vec<VolumeUse>), JobError> {
    let mut own: Vec<(Mount, Option<VolumeUse>)> = Vec::new();
    for entry in &host.binds {
        own.push(bind_entry(entry, &inputs.root)?);
    }
    for spec in &host.mounts {
        own.push(mount_entry(spec, &inputs.root)?);
    }
    // moby `registerMountPoints`: "Duplicate mount point" among the
    // container's own mounts, `Tmpfs` included.
    let mut seen: BTreeSet<String> = tmpfs
        .iter()
        .map(|m| m.destination().as_str().to_owned())
        .collect();
    for (mount, _) in &own {
        let destination = mount.destination().as_str();
        if !seen.insert(destination.to_owned()) {
            return Err(JobError::invalid(format!(
                "Duplicate mount point: {destination}"
            )));
        }
    }
    let mut mounts: Vec<Mount> = Vec::new();
    let mut volumes: Vec<VolumeUse> = Vec::new();
    for mount in &inputs.inherited {
        if seen.insert(mount.destination().as_str().to_owned()) {
            mounts.push(mount.clone());
        }
    }
    for (mount, volume) in own {
        mounts.push(mount);
        volumes.extend(volume);
    }
    for destination in &inputs.anonymous {
        let destination = clean_destination(destination)
            .ok_or_else(|| JobError::invalid(format!("invalid mount path: '{destination}'")))?;
        if seen.insert(destination.as_str().to_owned()) {
            let (mount, volume) = volume_mount(&inputs.root, None, destination, false, true);
            mounts.push(mount);
            volumes.push(volume);
        }
    }
    Ok((mounts, volumes))
}

/// A container path made canonical as moby's `filepath.Clean`: absolute,
/// not `/`, no `..`, `.` and repeated `/` dropped.
fn clean_destination(path: &str) -> Option<AbsolutePath> {
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    AbsolutePath::new(&format!("/{}", parts.join("/")))
}

/// A volume mount and the volume it needs; `name` `None` is anonymous.
fn volume_mount(
    root: &Path,
    name: Option<String>,
    destination: AbsolutePath,
    read_only: bool,
    copy_up: bool,
) -> (Mount, VolumeUse) {
    let anonymous = name.is_none();
    let name = name.unwrap_or_else(generate_id);
    let mut labels = BTreeMap::new();
    if anonymous {
        labels.insert(berth_volume::ANONYMOUS_LABEL.to_owned(), String::new());
    }
    let mount = Mount::Volume {
        name: name.clone(),
        driver: berth_volume::LOCAL.to_owned(),
        source: root.join(&name).join("_data"),
        destination: destination.clone(),
        read_only,
        anonymous,
    };
    let volume = VolumeUse {
        name,
        labels,
        options: BTreeMap::new(),
        copy_up,
        destination,
    };
    (mount, volume)
}

/// One `Binds` entry: `/host:/ctr[:opts]` a bind ([`Bind::parse`]),
/// `name:/ctr[:opts]` a named volume with `ro`/`rw`, `nocopy`, `z`/`Z`
/// (moby `linuxParser.ParseMountRaw`).
fn bind_entry(entry: &str, root: &Path) -> Result<(Mount, Option<VolumeUse>), JobError> {
    let refused = || invalid(ModelError::Bind(entry.to_owned()));
    let parts: Vec<&str> = entry.split(':').collect();
    let (source, destination, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(refused()),
    };
    if source.starts_with('/') {
        let bind = Bind::parse(entry).map_err(|e| {
            tracing::debug!(error = %e, "refused bind");
            refused()
        })?;
        let destination = clean_destination(&bind.destination).ok_or_else(refused)?;
        let mount = Mount::Bind {
            destination,
            source: bind.source.into(),
            read_only: bind.read_only,
            propagation: propagation(bind.propagation).ok_or_else(refused)?,
        };
        return Ok((mount, None));
    }
    berth_volume::validate_name(source).map_err(|e| JobError::invalid(e.to_string()))?;
    let destination = clean_destination(destination).ok_or_else(refused)?;
    let (mut read_only, mut copy_up) = (false, true);
    let mut mode_seen = false;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" | "rw" if !mode_seen => {
                read_only = opt == "ro";
                mode_seen = true;
            }
            "nocopy" => copy_up = false,
            "z" | "Z" => {}
            _ => return Err(refused()),
        }
    }
    let (mount, volume) = volume_mount(
        root,
        Some(source.to_owned()),
        destination,
        read_only,
        copy_up,
    );
    Ok((mount, Some(volume)))
}

fn propagation(mode: &str) -> Option<Propagation> {
    Some(match mode {
        "private" => Propagation::Private,
        "rprivate" | "" => Propagation::Rprivate,
        "shared" => Propagation::Shared,
        "rshared" => Propagation::Rshared,
        "slave" => Propagation::Slave,
        "rslave" => Propagation::Rslave,
        _ => return None,
    })
}

/// moby's `errMountConfig`: `invalid mount config for type "T": why`.
fn mount_config(spec: &MountSpec, why: impl std::fmt::Display) -> JobError {
    JobError::invalid(format!(
        "invalid mount config for type {:?}: {why}",
        spec.kind
    ))
}

fn extra(spec: &MountSpec, field: &str) -> JobError {
    mount_config(spec, format!("field {field} must not be specified"))
}

/// One `Mounts` entry, checked as moby's `validateMountConfigImpl`
/// (`volume/mounts/linux_parser.go`), in its order and with its messages.
fn mount_entry(spec: &MountSpec, root: &Path) -> Result<(Mount, Option<VolumeUse>), JobError> {
    if spec.target.is_empty() {
        return Err(mount_config(spec, "field Target must not be empty"));
    }
    if spec.target.starts_with('/') && spec.target.trim_matches(['/', '.']).is_empty() {
        return Err(mount_config(
            spec,
            "invalid specification: destination can't be '/'",
        ));
    }
    let destination = clean_destination(&spec.target).ok_or_else(|| {
        mount_config(
            spec,
            format!(
                "invalid mount path: '{}' mount path must be absolute",
                spec.target
            ),
        )
    })?;
    if let Some(field) = spec.unsupported() {
        return Err(JobError::invalid(format!(
            "HostConfig.Mounts: {field} is not supported by berth"
        )));
    }
    match spec.kind.as_str() {
        "bind" => {
            if spec.source.is_empty() {
                return Err(mount_config(spec, "field Source must not be empty"));
            }
            let propagation_mode = spec
                .bind_options
                .as_ref()
                .map_or("", |b| b.propagation.as_str());
            let propagation = propagation(propagation_mode).ok_or_else(|| {
                mount_config(
                    spec,
                    format!("invalid propagation mode: {propagation_mode}"),
                )
            })?;
            if spec.volume_options.is_some() {
                return Err(extra(spec, "VolumeOptions"));
            }
            if spec.tmpfs_options.is_some() {
                return Err(extra(spec, "TmpfsOptions"));
            }
            if !spec.source.starts_with('/') {
                return Err(mount_config(
                    spec,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        spec.source
                    ),
                ));
            }
            // Unlike `-v`, `--mount` never creates the host path.
            if std::fs::symlink_metadata(&spec.source).is_err() {
                return Err(mount_config(
                    spec,
                    format!("bind source path does not exist: {}", spec.source),
                ));
            }
            let mount = Mount::Bind {
                destination,
                source: PathBuf::from(&spec.source),
                read_only: spec.read_only,
                propagation,
            };
            Ok((mount, None))
        }
        "volume" => {
            if spec.bind_options.is_some() {
                return Err(extra(spec, "BindOptions"));
            }
            if spec.tmpfs_options.is_some() {
                return Err(extra(spec, "TmpfsOptions"));
            }
            let anonymous = spec.source.is_empty();
            if spec.read_only && anonymous {
                return Err(mount_config(
                    spec,
                    "must not set ReadOnly mode when using anonymous volumes",
                ));
            }
            if !anonymous {
                berth_volume::validate_name(&spec.source)
                    .map_err(|e| JobError::invalid(e.to_string()))?;
            }
            let options = spec.volume_options.clone().unwrap_or_default();
            let (driver, driver_options) = options
                .driver_config
                .map(|d| (d.name, d.options))
                .unwrap_or_default();
            if !matches!(driver.as_str(), "" | "local") {
                return Err(JobError::invalid(format!(
                    "create {}: error looking up volume plugin {driver}: plugin \"{driver}\" not found",
                    spec.source
                )));
            }
            let name = (!anonymous).then(|| spec.source.clone());
            let (mount, mut volume) =
                volume_mount(root, name, destination, spec.read_only, !options.no_copy);
            volume.labels.extend(options.labels);
            volume.options = driver_options;
            Ok((mount, Some(volume)))
        }
        "tmpfs" => {
            if spec.bind_options.is_some() {
                return Err(extra(spec, "BindOptions"));
            }
            if spec.volume_options.is_some() {
                return Err(extra(spec, "VolumeOptions"));
            }
            if !spec.source.is_empty() {
                return Err(extra(spec, "Source"));
            }
            // moby `linuxParser.ConvertTmpfsOptions`: `size=` in bytes
            // (rounded as its `mount.Mount` docs), `mode=` in octal.
            let mut options = Vec::new();
            if spec.read_only {
                options.push("ro".to_owned());
            }
            if let Some(tmpfs) = &spec.tmpfs_options {
                if tmpfs.size_bytes < 0 {
                    return Err(mount_config(spec, "invalid tmpfs size"));
                }
                if tmpfs.size_bytes > 0 {
                    // The largest unit that divides the size, as moby.
                    let size = tmpfs.size_bytes;
                    let option = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
                        .iter()
                        .find(|(_, unit)| size % unit == 0)
                        .map_or(format!("size={size}"), |(suffix, unit)| {
                            format!("size={}{suffix}", size / unit)
                        });
                    options.push(option);
                }
                if tmpfs.mode != 0 {
                    options.push(format!("mode={:o}", tmpfs.mode & 0o7777));
                }
            }
            Ok((
                Mount::Tmpfs {
                    destination,
                    options,
                },
                None,
            ))
        }
        _ => Err(mount_config(spec, "mount type unknown")),
    }
}

#[cfg(test)]
mod tests;
