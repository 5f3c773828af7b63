//! The trusted [`ContainerModel`] from a create request's effective
//! configuration, assembled by concern: the process, the mounts, what
//! confines the container, its resources, its log driver.
//!
//! What has to be parsed (binds, tmpfs, `SecurityOpt`, capabilities,
//! masked paths, `LogConfig`) is parsed once, into [`HostParts`]: at create
//! by `validate_host`, in dockerd's order of checks, and for a record
//! written before records carried a model by [`HostParts::parse`].

use berth_api::container::security::SecurityOptions;
use berth_api::container::{Config, HostConfig};
use berth_model::container::{
    AbsolutePath, CapabilityTweak, CgroupnsMode, Command, ContainerModel, Device, DeviceCgroupRule,
    GroupAdd, Hostname, LogDriver, ModelError, Mount, Process, Security, Sysctls,
};

use super::{invalid, mounts, resources};
use crate::job::JobError;
use berth_model::network::NetworkMode;

/// The parsed values of a `HostConfig` that the model keeps.
#[derive(Debug, Clone)]
pub(super) struct HostParts {
    /// `CapAdd`/`CapDrop`, names resolved.
    pub capabilities: CapabilityTweak,
    /// `LogConfig`.
    pub log: LogDriver,
    /// `Tmpfs`.
    pub tmpfs: Vec<Mount>,
    /// `Binds`, volumes and `Mounts` at create; `Binds` alone when a
    /// record from before volumes is rebuilt.
    pub binds: Vec<Mount>,
    /// `SecurityOpt`.
    pub security_options: SecurityOptions,
    /// `MaskedPaths`.
    pub masked_paths: Option<Vec<AbsolutePath>>,
    /// `ReadonlyPaths`.
    pub readonly_paths: Option<Vec<AbsolutePath>>,
}

impl HostParts {
    /// Parses each part, in the order `validate_host` does.
    pub(super) fn parse(host: &HostConfig) -> Result<HostParts, JobError> {
        Ok(HostParts {
            capabilities: capabilities(host)?,
            log: log_driver(host)?,
            tmpfs: mounts::tmpfs(host)?,
            binds: mounts::binds(host)?,
            security_options: security_options(host)?,
            masked_paths: confined_paths("MaskedPaths", &host.masked_paths)?,
            readonly_paths: confined_paths("ReadonlyPaths", &host.readonly_paths)?,
        })
    }
}

/// `CapAdd`/`CapDrop` (moby `validateCapabilities`).
pub(super) fn capabilities(host: &HostConfig) -> Result<CapabilityTweak, JobError> {
    CapabilityTweak::new(&host.cap_add, &host.cap_drop).map_err(invalid)
}

/// `LogConfig` with moby's rules (`mergeAndVerifyLogConfig`).
pub(super) fn log_driver(host: &HostConfig) -> Result<LogDriver, JobError> {
    host.log_config
        .driver()
        .map_err(|e| JobError::invalid(e.to_string()))
}

/// `SecurityOpt` (moby `parseSecurityOpt`).
pub(super) fn security_options(host: &HostConfig) -> Result<SecurityOptions, JobError> {
    SecurityOptions::parse(&host.security_opt).map_err(|e| JobError::invalid(e.to_string()))
}

/// `MaskedPaths` or `ReadonlyPaths`: absolute entries; `None` is Docker's
/// list.
pub(super) fn confined_paths(
    field: &'static str,
    paths: &Option<Vec<String>>,
) -> Result<Option<Vec<AbsolutePath>>, JobError> {
    let path = |path: &String| {
        AbsolutePath::new(path).ok_or_else(|| {
            invalid(ModelError::Path {
                field,
                path: path.clone(),
            })
        })
    };
    paths
        .as_ref()
        .map(|paths| paths.iter().map(path).collect())
        .transpose()
}

/// The trusted model of a container from its effective, validated
/// configuration (what `ContainerSpecBuilder::build` stores in `config`
/// and `host_config`). Also rebuilds the model of a record written before
/// records carried one. Refuses what the model's own types refuse.
pub fn container_model(config: &Config, host: &HostConfig) -> Result<ContainerModel, JobError> {
    assemble(config, host, HostParts::parse(host)?)
}

/// The model from the configuration and its parsed parts.
pub(super) fn assemble(
    config: &Config,
    host: &HostConfig,
    parts: HostParts,
) -> Result<ContainerModel, JobError> {
    // `CgroupnsMode` is filled in at create; containers created before it
    // existed had their own cgroup namespace.
    let cgroupns = CgroupnsMode::parse(&host.cgroupns_mode).unwrap_or(CgroupnsMode::Private);
    Ok(ContainerModel {
        process: process(config, host)?,
        hostname: Hostname::new(&config.hostname).map_err(invalid)?,
        domainname: (!config.domainname.is_empty()).then(|| config.domainname.clone()),
        resources: resources::model(host)?,
        mounts: mounts::sorted(parts.binds, parts.tmpfs),
        log: parts.log,
        security: Security {
            privileged: host.privileged,
            capabilities: parts.capabilities,
            no_new_privileges: parts.security_options.no_new_privileges,
            seccomp: parts.security_options.seccomp,
            masked_paths: parts.masked_paths,
            readonly_paths: parts.readonly_paths,
            sysctls: Sysctls::new(host.sysctls.clone()).map_err(|e| invalid(e.into()))?,
            devices: host
                .devices
                .iter()
                .map(|d| {
                    Device::new(&d.path_on_host, &d.path_in_container, &d.cgroup_permissions)
                        .map_err(|e| invalid(e.into()))
                })
                .collect::<Result<_, _>>()?,
            device_cgroup_rules: host
                .device_cgroup_rules
                .iter()
                .map(|r| DeviceCgroupRule::new(r).map_err(|e| invalid(e.into())))
                .collect::<Result<_, _>>()?,
        },
        cgroupns,
        readonly_rootfs: host.readonly_rootfs,
        network: NetworkMode::parse(&host.network_mode)
            .map_err(|e| JobError::invalid(e.to_string()))?,
        // Set by the builder at create, where `host-gateway` resolves.
        dns: Default::default(),
        ports: Vec::new(),
        aliases: Vec::new(),
        ipv4_address: None,
        ipv6_address: None,
    })
}

/// The first process: Entrypoint then Cmd (already merged with the
/// image's), its environment, user, directory and terminal.
fn process(config: &Config, host: &HostConfig) -> Result<Process, JobError> {
    let args: Vec<String> = config
        .entrypoint
        .iter()
        .flatten()
        .chain(config.cmd.iter().flatten())
        .cloned()
        .collect();
    let working_dir = match config.working_dir.as_str() {
        "" => None,
        dir => Some(
            AbsolutePath::new(dir)
                .ok_or_else(|| invalid(ModelError::WorkingDir(dir.to_owned())))?,
        ),
    };
    // Docker applies a console size only to a TTY, and only a whole one.
    let console_size = host
        .console_size
        .filter(|[h, w]| config.tty && *h > 0 && *w > 0)
        .map(|[h, w]| {
            (
                u16::try_from(h).unwrap_or(u16::MAX),
                u16::try_from(w).unwrap_or(u16::MAX),
            )
        });
    Ok(Process {
        command: Command::new(args).map_err(invalid)?,
        env: config.env.clone(),
        user: config.user.clone(),
        working_dir,
        tty: config.tty,
        console_size,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        init: host.init.unwrap_or(false),
        group_add: host
            .group_add
            .iter()
            .map(|g| GroupAdd::new(g).map_err(|e| invalid(e.into())))
            .collect::<Result<_, _>>()?,
    })
}
