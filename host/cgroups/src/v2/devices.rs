//! v2 device control. cgroup v2 has no devices interface files; access is
//! decided by an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`
//! attached to the cgroup (cgroup-v2.rst "Device controller").

use std::path::Path;

use crate::error::Result;
use crate::v1::DeviceRule;

pub(super) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    if !rules.is_empty() {
        tracing::warn!(
            cgroup = %dir.display(),
            "cgroup v2 device rules are not enforced by berth yet"
        );
    }
    Ok(())
}
