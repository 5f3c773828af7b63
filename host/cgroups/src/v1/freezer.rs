//! v1 freezer (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst):
//! writing `FROZEN` starts freezing, `freezer.state` reads `FREEZING` until
//! every task is stopped and then `FROZEN`.

use std::path::Path;

use crate::common::{self, FreezerState};
use crate::error::Result;

const STATE: &str = "freezer.state";

pub(super) fn set(dir: &Path, state: FreezerState) -> Result<()> {
    let path = dir.join(STATE);
    let wanted = match state {
        FreezerState::Frozen => "FROZEN",
        FreezerState::Thawed => "THAWED",
    };
    common::write(&path, wanted)?;
    common::poll_until(
        &path,
        wanted,
        || {
            let now = common::read(&path)?;
            Ok((now.trim() == wanted, now.trim().to_string()))
        },
        // Re-requesting FROZEN makes the kernel retry tasks that could not
        // be frozen yet (e.g. in the middle of vfork); THAWED is immediate.
        || match state {
            FreezerState::Frozen => common::write(&path, wanted),
            FreezerState::Thawed => Ok(()),
        },
    )
}

pub(super) fn get(dir: &Path) -> Result<FreezerState> {
    let state = common::read(&dir.join(STATE))?;
    // FREEZING is not frozen yet: tasks may still run.
    Ok(if state.trim() == "FROZEN" {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    })
}
