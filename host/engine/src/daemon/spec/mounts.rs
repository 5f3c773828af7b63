//! `Binds` and `Tmpfs` of a create request, parsed once into the model's
//! mounts: what the exec driver would refuse at start is refused here, with
//! dockerd's message where dockerd has one.

use std::path::{Component, Path};

use berth_api::container::{Bind, HostConfig};
use berth_model::container::{AbsolutePath, ModelError, Mount, Propagation};

use super::invalid;
use crate::job::JobError;

/// tmpfs options mount(8) and tmpfs(5) know; the rest would fail the
/// mount at start.
const TMPFS_FLAGS: [&str; 22] = [
    "rw",
    "ro",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "sync",
    "async",
    "dirsync",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "private",
    "rprivate",
    "tmpcopyup",
];
const TMPFS_DATA: [&str; 8] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
    "huge",
];

/// The `Binds` entries, each one the exec driver can mount
/// ([`Bind::parse`]), with dockerd's message.
pub(super) fn binds(host: &HostConfig) -> Result<Vec<Mount>, JobError> {
    host.binds.iter().map(|entry| bind(entry)).collect()
}

fn bind(entry: &str) -> Result<Mount, JobError> {
    let refused = || invalid(ModelError::Bind(entry.to_owned()));
    let bind = Bind::parse(entry).map_err(|e| {
        tracing::debug!(error = %e, "refused bind");
        refused()
    })?;
    Ok(Mount::Bind {
        destination: AbsolutePath::new(&bind.destination).ok_or_else(refused)?,
        source: bind.source.into(),
        read_only: bind.read_only,
        propagation: propagation(bind.propagation),
    })
}

/// The `Tmpfs` entries: an absolute container path other than `/`, options
/// from [`TMPFS_FLAGS`] and `key=value` data of [`TMPFS_DATA`].
pub(super) fn tmpfs(host: &HostConfig) -> Result<Vec<Mount>, JobError> {
    host.tmpfs
        .iter()
        .map(|(destination, options)| tmpfs_mount(destination, options))
        .collect()
}

fn tmpfs_mount(destination: &str, options: &str) -> Result<Mount, JobError> {
    let path = Path::new(destination);
    let refused = || {
        JobError::invalid(format!(
            "invalid tmpfs mount point {destination:?}: it must be an absolute path other than / without .."
        ))
    };
    if destination == "/" || path.components().any(|c| c == Component::ParentDir) {
        return Err(refused());
    }
    let destination = AbsolutePath::new(destination).ok_or_else(refused)?;
    let options: Vec<String> = options
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    for option in &options {
        let known = match option.split_once('=') {
            Some((key, value)) => TMPFS_DATA.contains(&key) && !value.is_empty(),
            None => TMPFS_FLAGS.contains(&option.as_str()),
        };
        if !known {
            return Err(JobError::invalid(format!(
                "invalid tmpfs option {option:?} for {}",
                destination.as_str()
            )));
        }
    }
    Ok(Mount::Tmpfs {
        destination,
        options,
    })
}

/// Binds then tmpfs mounts, parents before children, as moby sorts mounts
/// (`sortMounts`); stable, so binds keep their order before tmpfs mounts
/// of the same depth.
pub(super) fn sorted(binds: Vec<Mount>, tmpfs: Vec<Mount>) -> Vec<Mount> {
    let mut mounts = binds;
    mounts.extend(tmpfs);
    mounts.sort_by_key(|m| m.destination().depth());
    mounts
}

fn propagation(mode: &str) -> Propagation {
    match mode {
        "private" => Propagation::Private,
        "shared" => Propagation::Shared,
        "rshared" => Propagation::Rshared,
        "slave" => Propagation::Slave,
        "rslave" => Propagation::Rslave,
        _ => Propagation::Rprivate,
    }
}
