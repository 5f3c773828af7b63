//! v2 freezer: `cgroup.freeze` requests, `cgroup.events` `frozen` reports
//! ("Core Interface Files" in cgroup-v2.rst; kernel ≥ 5.2).

use std::path::Path;

use crate::common::{self, FreezerState};
use crate::error::{CgroupError, Result};

pub(super) fn set(dir: &Path, state: FreezerState) -> Result<()> {
    let freeze = dir.join("cgroup.freeze");
    if !freeze.exists() && dir.exists() {
        return Err(CgroupError::Unsupported {
            what: "cgroup.freeze (kernel older than 5.2)",
            version: "cgroup v2",
        });
    }
    let (request, wanted, label) = match state {
        FreezerState::Frozen => ("1", 1, "frozen"),
        FreezerState::Thawed => ("0", 0, "thawed"),
    };
    common::write(&freeze, request)?;
    let events = dir.join("cgroup.events");
    common::poll_until(
        &events,
        label,
        || {
            let map = common::read_flat_keyed(&events)?;
            let frozen = map.get("frozen").copied().unwrap_or(0);
            Ok((frozen == wanted, format!("frozen {frozen}")))
        },
        || Ok(()),
    )
}

pub(super) fn get(dir: &Path) -> Result<FreezerState> {
    let map = common::read_flat_keyed(&dir.join("cgroup.events"))?;
    Ok(if map.get("frozen") == Some(&1) {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}
