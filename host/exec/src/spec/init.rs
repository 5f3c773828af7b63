//! `HostConfig.Init` (`--init`): berth's init (crate `berth-init`) runs as
//! PID 1 in front of the container's command. As moby does it
//! (`daemon/oci_linux.go`, `WithCommonOptions`): the host file is
//! bind-mounted read-only at `/sbin/docker-init` and the process's
//! arguments become `/sbin/docker-init -- COMMAND...`.

use std::path::Path;

use berth_model::container::ContainerModel;
use oci_spec::runtime::Mount;

use super::{SpecError, SpecOptions, mount};

pub use berth_init::{CONTAINER_PATH, SEPARATOR};

/// The host's init binary for a container that asks for one: refused when
/// berthd has none or its file is missing, so that `--init` is never
/// dropped silently.
fn binary(options: &SpecOptions) -> Result<&Path, SpecError> {
    let path = options.init_path.as_deref().ok_or(SpecError::NoInit)?;
    if !path.is_file() {
        return Err(SpecError::InitMissing(path.display().to_string()));
    }
    Ok(path)
}

/// What [`super::ExecDriver`]'s create-time check asks: an init for a
/// container with `--init`.
pub(super) fn check(container: &ContainerModel, options: &SpecOptions) -> Result<(), SpecError> {
    if container.process.init {
        binary(options)?;
    }
    Ok(())
}

/// The process's arguments: the command, behind the init when it has one.
pub(super) fn args(container: &ContainerModel) -> Vec<String> {
    let command = container.process.command.args().iter().cloned();
    if container.process.init {
        [CONTAINER_PATH.to_owned(), SEPARATOR.to_owned()]
            .into_iter()
            .chain(command)
            .collect()
    } else {
        command.collect()
    }
}

/// The read-only bind of the init binary, for a container with `--init`.
pub(super) fn mounts(
    container: &ContainerModel,
    options: &SpecOptions,
) -> Result<Vec<Mount>, SpecError> {
    if !container.process.init {
        return Ok(Vec::new());
    }
    let source = binary(options)?;
    Ok(vec![mount(
        CONTAINER_PATH,
        "bind",
        &source.to_string_lossy(),
        &["bind", "ro"],
    )?])
}
