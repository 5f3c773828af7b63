//! v1 blkio controller (Documentation/admin-guide/cgroup-v1/blkio-controller.rst):
//! the proportional weight. CFQ provides `blkio.weight`, BFQ
//! `blkio.bfq.weight`; runc (`fs/blkio.go`) writes the first that exists,
//! and so does berth. A kernel whose I/O schedulers have neither cannot
//! weigh I/O: the weight is refused, not dropped.

use std::path::{Path, PathBuf};

use crate::error::{CgroupError, Result};

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
