//! v1 pids controller (Documentation/admin-guide/cgroup-v1/pids.rst).

use std::path::Path;

use oci_spec::runtime::LinuxPids;

use crate::common;
use crate::error::Result;
use crate::stats::PidsStats;

/// The value for `pids.max`: a positive limit, `max` for a negative one;
/// `None` (leave as is) for 0, as runc does.
pub(crate) fn pids_max(pids: &LinuxPids) -> Option<String> {
    match pids.limit() {
        0 => None,
        limit if limit < 0 => Some("max".to_string()),
        limit => Some(limit.to_string()),
    }
}

pub(super) fn apply(dir: &Path, pids: &LinuxPids) -> Result<()> {
    if let Some(value) = pids_max(pids) {
        common::write(&dir.join("pids.max"), value)?;
    }
    Ok(())
}

/// `pids.current` and `pids.max` (the same files in v2).
pub(crate) fn stats(dir: &Path) -> Result<PidsStats> {
    Ok(PidsStats {
        current: common::read_u64(&dir.join("pids.current"))?,
        limit: common::read_u64_or_max(&dir.join("pids.max"))?,
    })
}
