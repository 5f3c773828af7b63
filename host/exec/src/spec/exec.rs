//! The OCI process of a `docker exec`: the container's own process
//! (capabilities, `noNewPrivileges`, rlimits, OOM score: what its bundle
//! says it runs with) with the exec's command, environment, working
//! directory, user and terminal, as moby's `ContainerExecStart` builds it
//! from the container's spec (`daemon/exec.go`, `daemon/exec_linux.go`).

use std::path::{Path, PathBuf};

use berth_model::container::ContainerModel;
use berth_model::exec_process::ExecProcessConfig;
use oci_spec::runtime::{BoxBuilder, Capabilities, LinuxCapabilitiesBuilder, Process, UserBuilder};

use super::user::add_groups_in_rootfs;
use super::{
    CapabilitySet, SpecError, capabilities_to_oci, environment_with, resolve_user_in_rootfs,
};

/// The exec's process: `base` (the container's process from its bundle)
/// with `config` applied. The user resolves in `rootfs` (the container's
/// mounted root, so its own `/etc/passwd`, links followed inside it only);
/// `privileged` gets every capability of `available` (berthd's bounding
/// set), moby's `caps.GetAllCapabilities()`.
pub fn exec_process(
    base: &Process,
    container: &ContainerModel,
    config: &ExecProcessConfig,
    rootfs: &Path,
    available: CapabilitySet,
) -> Result<Process, SpecError> {
    let mut user = resolve_user_in_rootfs(rootfs, &config.user)?;
    // moby `execSetPlatformOpt` takes the exec's user from `getUser`, as a
    // container's: the user's own groups, then the container's `GroupAdd`.
    for gid in add_groups_in_rootfs(rootfs, &container.process.group_add)? {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    let mut process = base.clone();
    process.set_args(Some(config.command.clone()));
    process.set_env(Some(environment_with(
        container,
        config.tty,
        &config.env,
        &user,
    )));
    process.set_cwd(PathBuf::from(config.working_dir.as_deref().unwrap_or("/")));
    process.set_user(
        UserBuilder::default()
            .uid(user.uid)
            .gid(user.gid)
            .additional_gids(user.additional_gids.clone())
            .build()?,
    );
    process.set_terminal(Some(config.tty));
    process.set_console_size(match (config.tty, config.console_size) {
        (true, Some((height, width))) => Some(
            BoxBuilder::default()
                .height(u64::from(height))
                .width(u64::from(width))
                .build()?,
        ),
        _ => None,
    });
    if config.privileged {
        // Inheritable and ambient stay empty, as for a container
        // (CVE-2022-24769).
        let all = capabilities_to_oci(available);
        process.set_capabilities(Some(
            LinuxCapabilitiesBuilder::default()
                .bounding(all.clone())
                .effective(all.clone())
                .permitted(all)
                .inheritable(Capabilities::new())
                .ambient(Capabilities::new())
                .build()?,
        ));
    }
    Ok(process)
}
