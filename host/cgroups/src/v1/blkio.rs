//! v1 blkio controller (Documentation/admin-guide/cgroup-v1/blkio-controller.rst):
//! the proportional weight. CFQ provides `blkio.weight`, BFQ
//! `blkio.bfq.weight`; runc (`fs/blkio.go`) writes the first that exists,
//! and so does berth. A kernel whose I/O schedulers have neither cannot
//! weigh I/O: the weight is refused, not dropped. And the per-device I/O
//! counters for `docker stats`.

use std::path::{Path, PathBuf};

use crate::common;
use crate::error::{CgroupError, Result};
use crate::stats::{BlkioEntry, BlkioStats};

/// The weight files in runc's order of preference.
const WEIGHT_FILES: [&str; 2] = ["blkio.weight", "blkio.bfq.weight"];

/// The file that takes the weight in `dir`.
pub(super) fn weight_file(dir: &Path) -> Result<PathBuf> {
    WEIGHT_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .ok_or(CgroupError::Unsupported {
            what: "linux.resources.blockIO.weight (no blkio.weight or blkio.bfq.weight: \
                   the kernel's I/O schedulers have no weights)",
            version: "this kernel's cgroup v1",
        })
}

/// Block I/O counters, as moby reads them through containerd's cgroups
/// library (`cgroup1/blkio.go`): the CFQ files
/// `blkio.io_service_bytes_recursive` / `blkio.io_serviced_recursive` when
/// they exist and say something, else the throttling layer's
/// `blkio.throttle.*` (the only ones on a kernel without CFQ, which counts
/// every bio whether a limit is set or not).
pub(super) fn stats(dir: &Path) -> Result<BlkioStats> {
    let cfq = read_entries(&dir.join("blkio.io_serviced_recursive"))?;
    let prefix = if cfq.is_empty() {
        "blkio.throttle."
    } else {
        "blkio."
    };
    Ok(BlkioStats {
        io_service_bytes: read_entries(&dir.join(format!("{prefix}io_service_bytes_recursive")))?,
        io_serviced: read_entries(&dir.join(format!("{prefix}io_serviced_recursive")))?,
    })
}

/// `MAJOR:MINOR Op VALUE` lines; the `Total N` summary line is skipped (it
/// names no device), as containerd does. A missing file has no entries.
fn read_entries(path: &Path) -> Result<Vec<BlkioEntry>> {
    let Some(content) = common::read_optional(path)? else {
        return Ok(Vec::new());
    };
    let bad = |line: &str, reason: &str| CgroupError::Parse {
        path: path.to_path_buf(),
        content: line.to_string(),
        reason: reason.to_string(),
    };
    let mut entries = Vec::new();
    for line in content.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, op, value] = fields[..] else {
            if fields.len() <= 2 {
                continue;
            }
            return Err(bad(line, "expected `MAJOR:MINOR Op VALUE`"));
        };
        let (major, minor) = common::parse_device(device)
            .ok_or_else(|| bad(line, "expected a MAJOR:MINOR device"))?;
        entries.push(BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value: value
                .parse()
                .map_err(|_| bad(line, "expected a counter value"))?,
        });
    }
    Ok(entries)
}
