//! Validation of `POST /containers/create`: a [`CreateRequest`] and the
//! image it names become a trusted [`ContainerSpec`]. Nothing downstream
//! re-checks what is validated here.

use berth_api::container::{Config, CreateRequest, DEFAULT_LOG_DRIVER, HostConfig, State};
use berth_api::image::ImageInspect;
use berth_model::container::{CgroupnsMode, ContainerModel, ModelError};

use crate::daemon::sysinfo::SysInfo;
use crate::job::JobError;

mod model;
mod mounts;
mod resources;
mod volumes;

pub use model::container_model;
pub use resources::{MIN_MEMORY, ULIMIT_NAMES};
pub use volumes::{VolumeInputs, VolumeUse};

use model::HostParts;

/// A validated container configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// The executable.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Effective configuration: image defaults merged in.
    pub config: Config,
    /// Host configuration, normalised.
    pub host_config: HostConfig,
    /// Image id.
    pub image_id: String,
    /// Image name as the client gave it.
    pub image: String,
    /// Settings the host cannot honour and that were dropped (the create
    /// answer's `Warnings`, printed by the docker CLI).
    pub warnings: Vec<String>,
    /// The trusted model the exec driver runs, made from `config` and
    /// `host_config` (what [`container_model`] rebuilds for old records).
    pub model: ContainerModel,
    /// The volumes the model mounts, for the daemon to make.
    pub volumes: Vec<VolumeUse>,
}

/// Builds a [`ContainerSpec`] from a create request and its image.
#[derive(Debug, Clone)]
pub struct ContainerSpecBuilder {
    request: CreateRequest,
    image: ImageInspect,
    id: String,
    sysinfo: SysInfo,
    volumes: VolumeInputs,
    /// The host name a container without its own takes from its network
    /// mode: the host's (`host`), the joined container's (`container:`).
    network_host_name: Option<String>,
    /// What `--add-host NAME:host-gateway` stands for.
    host_gateway: Option<std::net::IpAddr>,
}

impl ContainerSpecBuilder {
    /// Starts from the client's request, the resolved image and the new
    /// container's id (the default host name is its first 12 digits).
    pub fn new(request: CreateRequest, image: ImageInspect, id: &str) -> ContainerSpecBuilder {
        ContainerSpecBuilder {
            request,
            image,
            id: id.to_owned(),
            sysinfo: SysInfo::default(),
            volumes: VolumeInputs {
                root: "/var/lib/berth/volumes".into(),
                ..VolumeInputs::default()
            },
            network_host_name: None,
            host_gateway: None,
        }
    }

    /// The host name the network mode gives a container that names none
    /// (moby: `os.Hostname()` for `host`, the other container's for
    /// `container:`); the daemon looks it up.
    pub fn network_host_name(mut self, name: Option<String>) -> ContainerSpecBuilder {
        self.network_host_name = name;
        self
    }

    /// The address `host-gateway` in `--add-host` stands for (the default
    /// bridge's gateway; the daemon looks it up).
    pub fn host_gateway(mut self, addr: Option<std::net::IpAddr>) -> ContainerSpecBuilder {
        self.host_gateway = addr;
        self
    }

    /// Where the local volume driver keeps volumes (default: under
    /// berthd's default data root).
    pub fn volumes_root(mut self, root: &std::path::Path) -> ContainerSpecBuilder {
        self.volumes.root = root.to_owned();
        self
    }

    /// The mounts of the `--volumes-from` containers, their modes applied
    /// (the daemon resolves the containers).
    pub fn volumes_from(
        mut self,
        mounts: Vec<berth_model::container::Mount>,
    ) -> ContainerSpecBuilder {
        self.volumes.inherited = mounts;
        self
    }

    /// What the host offers (default: everything, this machine's CPUs).
    pub fn sysinfo(mut self, sysinfo: &SysInfo) -> ContainerSpecBuilder {
        self.sysinfo = sysinfo.clone();
        self
    }

    /// Merges image defaults and validates; errors are InvalidParameter with
    /// dockerd's messages.
    pub fn build(self) -> Result<ContainerSpec, JobError> {
        let ContainerSpecBuilder {
            request,
            image,
            id,
            sysinfo,
            mut volumes,
            network_host_name,
            host_gateway,
        } = self;
        let mut config = request.config;
        let mut host = request.host_config;
        // moby checks the network mode first (runconfig, as the request is
        // decoded).
        crate::daemon::network_mode::check_conflicts(&config, &host)?;
        // Checked by `CreateRequest::check_fields`: what is left is unused.
        config.rest.clear();
        let aliases = crate::daemon::aliases::network_aliases(
            request.networking_config.as_ref(),
            &host.network_mode,
        )?;
        let (ipv4_address, ipv6_address) = crate::daemon::network_addresses::requested_addresses(
            request.networking_config.as_ref(),
            &host.network_mode,
        )?;
        let (ports, port_warnings) =
            crate::daemon::publish::port_requests(&mut config, &host, &image.config.exposed_ports)?;
        let defaults = &image.config;
        // moby `merge`: the image's volumes join the request's.
        for (path, value) in &defaults.volumes {
            config
                .volumes
                .entry(path.clone())
                .or_insert_with(|| value.clone());
        }
        volumes.anonymous = config.volumes.keys().cloned().collect();
        // Host settings first: dockerd verifies them before looking at the
        // command (verifyContainerSettings).
        let (mut warnings, parts, volume_uses) = validate_host(&mut host, &sysinfo, &volumes)?;
        warnings.extend(port_warnings);
        let dns = crate::daemon::dns::dns_config(&host, host_gateway)?;
        // moby `verifyContainerSettings`: the request's own check before
        // the command is looked at.
        if let Some(check) = &config.healthcheck {
            crate::daemon::health::validate(check)?;
        }

        // Command: moby `daemon/create.go` merge rules. An explicit
        // entrypoint (even empty) drops the image's Cmd unless Cmd is given.
        let entrypoint_overridden = config.entrypoint.is_some();
        let entrypoint = match &config.entrypoint {
            Some(ep) => ep.clone(),
            None => defaults.entrypoint.clone().unwrap_or_default(),
        };
        let cmd = match &config.cmd {
            Some(cmd) if !cmd.is_empty() => cmd.clone(),
            _ if entrypoint_overridden => Vec::new(),
            _ => defaults.cmd.clone().unwrap_or_default(),
        };
        let mut argv = entrypoint.clone();
        argv.extend(cmd.iter().cloned());
        let Some((path, args)) = argv.split_first() else {
            return Err(invalid(ModelError::NoCommand));
        };
        config.entrypoint = (!entrypoint.is_empty()).then_some(entrypoint.clone());
        config.cmd = (!cmd.is_empty()).then_some(cmd.clone());

        // Env: the image's, overridden by key.
        let mut env = defaults.env.clone();
        for entry in &config.env {
            if entry.is_empty() || entry.starts_with('=') {
                return Err(JobError::invalid(format!(
                    "invalid environment variable: {entry}"
                )));
            }
            let key = entry.split('=').next().unwrap_or(entry);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        config.env = env;

        if config.working_dir.is_empty() {
            config.working_dir = defaults.working_dir.clone();
        }
        if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
            return Err(invalid(ModelError::WorkingDir(config.working_dir.clone())));
        }
        if config.user.is_empty() {
            config.user = defaults.user.clone();
        }
        for (k, v) in &defaults.labels {
            config.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if config.stop_signal.is_none() {
            config.stop_signal = defaults.stop_signal.clone();
        }
        if let Some(signal) = &config.stop_signal {
            crate::daemon::signal::parse(signal)?;
        }
        // The image's check under the container's, and checked again: an
        // image's check berth cannot run is refused as well.
        crate::daemon::health::merge(&mut config.healthcheck, defaults.healthcheck.as_ref());
        if let Some(check) = &config.healthcheck {
            crate::daemon::health::validate(check)?;
        }

        // Host name: the network mode's, else moby uses the short id.
        if config.hostname.is_empty()
            && let Some(name) = network_host_name
        {
            config.hostname = name;
        }
        if config.hostname.is_empty() {
            config.hostname = id[..12.min(id.len())].to_owned();
        }
        let mut model = model::assemble(&config, &host, parts)?;
        model.dns = dns;
        model.ports = ports;
        model.aliases = aliases;
        model.ipv4_address = ipv4_address;
        model.ipv6_address = ipv6_address;

        Ok(ContainerSpec {
            path: path.clone(),
            args: args.to_vec(),
            image: config.image.clone(),
            config,
            host_config: host,
            image_id: image.id,
            warnings,
            model,
            volumes: volume_uses,
        })
    }
}

/// moby `verifyPlatformContainerResources` and `verifyContainerSettings`:
/// errors for what cannot work, warnings (and the setting dropped) for
/// what the kernel lacks. What it parses on the way is kept for the model.
fn validate_host(
    host: &mut HostConfig,
    sys: &SysInfo,
    volume_inputs: &VolumeInputs,
) -> Result<(Vec<String>, HostParts, Vec<VolumeUse>), JobError> {
    // moby checks capability names before the resource settings
    // (`verifyContainerSettings`).
    let capabilities = model::capabilities(host)?;
    let warnings = resources::validate(host, sys)?;
    // moby `mergeAndVerifyLogConfig`: the daemon's driver when none is
    // named, and options the driver does not know are refused.
    let log = model::log_driver(host)?;
    if host.log_config.kind.is_empty() {
        host.log_config.kind = DEFAULT_LOG_DRIVER.to_owned();
    }
    // moby `verifyPlatformContainerSettings`, then the default filled in so
    // that inspect shows the mode in effect.
    if host.cgroupns_mode.is_empty() {
        host.cgroupns_mode = sys.default_cgroupns_mode.as_str().to_owned();
    } else if CgroupnsMode::parse(&host.cgroupns_mode).is_none() {
        return Err(JobError::invalid(format!(
            "invalid cgroup namespace mode: {}",
            host.cgroupns_mode
        )));
    }
    let tmpfs = mounts::tmpfs(host)?;
    validate_restart_policy(host)?;
    // Binds, volumes and `--mount` entries (moby `registerMountPoints`).
    let (binds, volume_uses) = volumes::plan(host, volume_inputs, &tmpfs)?;
    // moby `parseSecurityOpt` at create, in this order of checks.
    let security_options = model::security_options(host)?;
    let masked_paths = model::confined_paths("MaskedPaths", &host.masked_paths)?;
    let readonly_paths = model::confined_paths("ReadonlyPaths", &host.readonly_paths)?;
    // Checked by `CreateRequest::check_fields`: what is left is unused.
    host.rest.clear();
    if host.network_mode.is_empty() {
        host.network_mode = "default".to_owned();
    }
    let parts = HostParts {
        capabilities,
        log,
        tmpfs,
        binds,
        security_options,
        masked_paths,
        readonly_paths,
    };
    Ok((warnings, parts, volume_uses))
}

/// The resource checks of create (errors, warnings, normalisation) on
/// the `HostConfig` an update leads to (moby `verifyContainerSettings`
/// with `update`).
pub(crate) fn validate_update(
    host: &mut HostConfig,
    sys: &SysInfo,
) -> Result<Vec<String>, JobError> {
    let warnings = resources::validate(host, sys)?;
    validate_restart_policy(host)?;
    Ok(warnings)
}

/// A known restart policy, and none with `AutoRemove`, with moby's
/// messages (`verifyContainerSettings`, `container.ValidateRestartPolicy`
/// of `api/types/container/hostconfig.go`).
pub(crate) fn validate_restart_policy(host: &HostConfig) -> Result<(), JobError> {
    let policy = &host.restart_policy;
    if host.auto_remove && !matches!(policy.name.as_str(), "" | "no") {
        return Err(JobError::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let max = policy.maximum_retry_count;
    match policy.name.as_str() {
        "always" | "unless-stopped" | "no" if max != 0 => {
            let negative = if max < 0 {
                " and cannot be negative"
            } else {
                ""
            };
            Err(JobError::invalid(format!(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'{negative}"
            )))
        }
        "on-failure" if max < 0 => Err(JobError::invalid(
            "invalid restart policy: maximum retry count cannot be negative",
        )),
        // moby: "Versions before v25.0.0 created an empty restart-policy
        // name as default": any count is accepted with it.
        "" | "always" | "unless-stopped" | "no" | "on-failure" => Ok(()),
        name => Err(JobError::invalid(format!(
            "invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ))),
    }
}

/// A model error as the client sees it.
fn invalid(error: ModelError) -> JobError {
    JobError::invalid(error.to_string())
}

/// A fresh state for a new container.
pub fn created_state() -> State {
    State {
        started_at: berth_api::ZERO_TIME.to_owned(),
        finished_at: berth_api::ZERO_TIME.to_owned(),
        ..State::default()
    }
}

#[cfg(test)]
mod tests {
    use super::resources::warning;
    use super::*;
    use berth_api::container::DEFAULT_SHM_SIZE;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image() -> ImageInspect {
        ImageInspect {
            id: "sha256:feed".into(),
            config: Config {
                cmd: Some(vec!["sh".into()]),
                env: vec!["PATH=/bin".into(), "A=image".into()],
                working_dir: "/root".into(),
                ..Config::default()
            },
            ..ImageInspect::default()
        }
    }

    fn request(json: &str) -> CreateRequest {
        serde_json::from_str(json).unwrap()
    }

    fn build(json: &str) -> Result<ContainerSpec, JobError> {
        let two_cpus = SysInfo {
            ncpu: 2,
            ..SysInfo::default()
        };
        build_on(json, &two_cpus)
    }

    #[test]
    fn merges_image_defaults() {
        let spec = build(r#"{"Image":"busybox","Env":["A=mine","B=2"]}"#).unwrap();
        assert_eq!((spec.path.as_str(), spec.args.len()), ("sh", 0));
        assert_eq!(spec.config.env, ["PATH=/bin", "A=mine", "B=2"]);
        assert_eq!(spec.config.working_dir, "/root");
        assert_eq!(spec.config.hostname, "0123456789ab");
        assert_eq!(spec.image, "busybox");
        assert_eq!(spec.image_id, "sha256:feed");
        assert_eq!(spec.host_config.network_mode, "default");
    }

    #[test]
    fn cgroupns_mode_is_checked_and_defaults_to_the_daemons() {
        let v1 = SysInfo {
            default_cgroupns_mode: CgroupnsMode::Host,
            ..SysInfo::default()
        };
        let mode = |json: &str, sys: &SysInfo| {
            build_on(json, sys).map(|spec| spec.host_config.cgroupns_mode)
        };
        assert_eq!(mode(r#"{"Image":"b"}"#, &v1).unwrap(), "host");
        assert_eq!(
            mode(r#"{"Image":"b"}"#, &SysInfo::default()).unwrap(),
            "private"
        );
        let private = r#"{"Image":"b","HostConfig":{"CgroupnsMode":"private"}}"#;
        assert_eq!(mode(private, &v1).unwrap(), "private");
        let err = mode(
            r#"{"Image":"b","HostConfig":{"CgroupnsMode":"shared"}}"#,
            &v1,
        )
        .unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (
                crate::job::ErrorKind::InvalidParameter,
                "invalid cgroup namespace mode: shared"
            )
        );
    }

    #[test]
    fn entrypoint_override_drops_the_image_cmd() {
        let spec = build(r#"{"Image":"b","Entrypoint":["echo"]}"#).unwrap();
        assert_eq!((spec.path.as_str(), spec.args.len()), ("echo", 0));
        let spec = build(r#"{"Image":"b","Entrypoint":["echo"],"Cmd":["hi"]}"#).unwrap();
        assert_eq!(spec.args, ["hi"]);
        let err = build(r#"{"Image":"b","Entrypoint":[]}"#).unwrap_err();
        assert_eq!(err.message, "No command specified");
    }

    #[test]
    fn enforces_dockers_resource_ranges() {
        let err = build(r#"{"Image":"b","HostConfig":{"Memory":1024}}"#).unwrap_err();
        assert_eq!(err.message, "Minimum memory limit allowed is 6MB");
        assert!(build(r#"{"Image":"b","HostConfig":{"Memory":6291456}}"#).is_ok());
        let err = build(r#"{"Image":"b","HostConfig":{"NanoCpus":3000000000}}"#).unwrap_err();
        assert!(
            err.message
                .starts_with("Range of CPUs is from 0.01 to 2.00"),
            "{err}"
        );
        let spec = build(r#"{"Image":"b","HostConfig":{"PidsLimit":-1}}"#).unwrap();
        assert_eq!(spec.host_config.pids_limit, None);
        assert!(build(r#"{"Image":"b","HostConfig":{"NanoCpus":1,"CpuQuota":5000}}"#).is_err());
    }

    #[test]
    fn restart_policies_are_checked_with_moby_messages() {
        let message = |policy: &str, extra: &str| {
            let json =
                format!(r#"{{"Image":"b","HostConfig":{{"RestartPolicy":{policy}{extra}}}}}"#);
            build(&json).err().map(|e| e.message)
        };
        for ok in [
            r#"{"Name":"always"}"#,
            r#"{"Name":"unless-stopped"}"#,
            r#"{"Name":"no"}"#,
            r#"{"Name":"on-failure","MaximumRetryCount":3}"#,
            r#"{"Name":"","MaximumRetryCount":-3}"#,
        ] {
            assert_eq!(message(ok, ""), None, "{ok}");
        }
        assert_eq!(
            message(r#"{"Name":"always","MaximumRetryCount":2}"#, "").unwrap(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            message(r#"{"Name":"no","MaximumRetryCount":-2}"#, "").unwrap(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"
        );
        assert_eq!(
            message(r#"{"Name":"on-failure","MaximumRetryCount":-1}"#, "").unwrap(),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        assert_eq!(
            message(r#"{"Name":"sometimes"}"#, "").unwrap(),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
        assert_eq!(
            message(r#"{"Name":"unless-stopped"}"#, r#","AutoRemove":true"#).unwrap(),
            "can't create 'AutoRemove' container with restart policy"
        );
    }

    #[test]
    fn rejects_bad_names_paths_and_policies() {
        assert!(build(r#"{"Image":"b","WorkingDir":"rel"}"#).is_err());
        assert!(build(r#"{"Image":"b","Hostname":"bad_host!"}"#).is_err());
        assert!(build(r#"{"Image":"b","Env":["=x"]}"#).is_err());
        assert!(build(r#"{"Image":"b","StopSignal":"SIGNOPE"}"#).is_err());
        assert!(
            build(r#"{"Image":"b","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#)
                .is_err()
        );
        // Not absolute and no volume name (a leading `.`).
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["./rel:/x"]}}"#).is_err());
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["/tmp:/x:ro"]}}"#).is_ok());
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["/tmp:/x:ro,rslave"]}}"#).is_ok());
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["/tmp:/x:bogus"]}}"#).is_err());
        // What the exec driver would refuse at start is refused at create.
        for bad in ["/tmp:/x/../y", "/tmp:/x:ro,rw", "/tmp:/x:rslave,shared"] {
            let json = format!(r#"{{"Image":"b","HostConfig":{{"Binds":["{bad}"]}}}}"#);
            let err = build(&json).unwrap_err();
            assert_eq!(
                err.message,
                format!("invalid volume specification: '{bad}'")
            );
        }
    }

    fn build_on(json: &str, sys: &SysInfo) -> Result<ContainerSpec, JobError> {
        ContainerSpecBuilder::new(request(json), image(), ID)
            .sysinfo(sys)
            .build()
    }

    #[test]
    fn without_swap_accounting_memory_swap_is_a_warning() {
        let sys = SysInfo {
            cgroups: berth_model::host::CgroupFeatures {
                swap_limit: false,
                ..SysInfo::default().cgroups
            },
            ..SysInfo::default()
        };
        let json = r#"{"Image":"b","HostConfig":{"Memory":10485760,"MemorySwap":20971520}}"#;
        let spec = build_on(json, &sys).unwrap();
        assert_eq!(spec.warnings, [warning::SWAP]);
        assert_eq!(spec.host_config.memory_swap, -1);
        assert_eq!(spec.host_config.memory, 10485760);
        // Even an unset MemorySwap (swap = twice the memory by default).
        let spec = build_on(r#"{"Image":"b","HostConfig":{"Memory":10485760}}"#, &sys).unwrap();
        assert_eq!(spec.warnings, [warning::SWAP]);
        // With accounting: no warning, the value stands.
        let spec = build_on(json, &SysInfo::default()).unwrap();
        assert!(spec.warnings.is_empty());
        assert_eq!(spec.host_config.memory_swap, 20971520);
        // No memory limit, nothing to warn about.
        assert!(
            build_on(r#"{"Image":"b"}"#, &sys)
                .unwrap()
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn missing_controllers_drop_their_settings_with_dockers_warnings() {
        let sys = SysInfo {
            cgroups: berth_model::host::CgroupFeatures {
                memory_limit: false,
                cpu_shares: false,
                cpuset: false,
                pids_limit: false,
                ..SysInfo::default().cgroups
            },
            ..SysInfo::default()
        };
        let json = r#"{"Image":"b","HostConfig":{"Memory":10485760,"CpuShares":512,"CpusetCpus":"0","PidsLimit":10}}"#;
        let spec = build_on(json, &sys).unwrap();
        assert_eq!(
            spec.warnings,
            [
                warning::MEMORY,
                warning::CPU_SHARES,
                warning::CPUSET,
                warning::PIDS
            ]
        );
        let h = &spec.host_config;
        assert_eq!((h.memory, h.memory_swap, h.cpu_shares), (0, -1, 0));
        assert_eq!((h.cpuset_cpus.as_str(), h.pids_limit), ("", None));
    }

    #[test]
    fn cpusets_must_name_what_the_host_has() {
        let sys = SysInfo {
            cgroups: berth_model::host::CgroupFeatures {
                cpus: "0-1".into(),
                mems: "0".into(),
                ..SysInfo::default().cgroups
            },
            ..SysInfo::default()
        };
        let ok = build_on(
            r#"{"Image":"b","HostConfig":{"CpusetCpus":"0,1","CpusetMems":"0"}}"#,
            &sys,
        )
        .unwrap();
        assert_eq!(ok.host_config.cpuset_cpus, "0,1");
        let err = build_on(r#"{"Image":"b","HostConfig":{"CpusetCpus":"5"}}"#, &sys).unwrap_err();
        assert_eq!(
            err.message,
            "Requested CPUs are not available - requested 5, available: 0-1"
        );
        let err = build_on(r#"{"Image":"b","HostConfig":{"CpusetMems":"1"}}"#, &sys).unwrap_err();
        assert_eq!(
            err.message,
            "Requested memory nodes are not available - requested 1, available: 0"
        );
        let err = build_on(r#"{"Image":"b","HostConfig":{"CpusetCpus":"x-"}}"#, &sys).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value x- for cpuset cpus: invalid format: x-"
        );
    }

    #[test]
    fn shm_size_oom_score_adj_and_ulimits_are_checked() {
        let spec = build(r#"{"Image":"b"}"#).unwrap();
        assert_eq!(spec.host_config.shm_size, DEFAULT_SHM_SIZE);
        let err = build(r#"{"Image":"b","HostConfig":{"ShmSize":-1}}"#).unwrap_err();
        assert_eq!(err.message, "SHM size can not be less than 0");
        let err = build(r#"{"Image":"b","HostConfig":{"OomScoreAdj":1001}}"#).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );

        // Without CAP_SYS_RESOURCE: raising is fine, lowering is refused.
        let sys = SysInfo {
            cap_sys_resource: false,
            oom_score_adj: 0,
            hard_rlimits: [("nofile".to_owned(), 4096)].into_iter().collect(),
            ..SysInfo::default()
        };
        assert!(build_on(r#"{"Image":"b","HostConfig":{"OomScoreAdj":500}}"#, &sys).is_ok());
        let err = build_on(r#"{"Image":"b","HostConfig":{"OomScoreAdj":-500}}"#, &sys).unwrap_err();
        assert!(err.message.contains("CAP_SYS_RESOURCE"), "{err}");
        assert!(
            build_on(
                r#"{"Image":"b","HostConfig":{"OomScoreAdj":-500}}"#,
                &SysInfo::default()
            )
            .is_ok()
        );

        let ulimit = |soft: i64, hard: i64| {
            format!(
                r#"{{"Image":"b","HostConfig":{{"Ulimits":[{{"Name":"nofile","Soft":{soft},"Hard":{hard}}}]}}}}"#
            )
        };
        assert!(build_on(&ulimit(1024, 2048), &sys).is_ok());
        let err = build_on(&ulimit(1024, 8192), &sys).unwrap_err();
        assert!(
            err.message.contains("above the daemon's hard limit 4096"),
            "{err}"
        );
        let err = build_on(&ulimit(-1, -1), &sys).unwrap_err();
        assert!(err.message.contains("CAP_SYS_RESOURCE"), "{err}");
        let err = build_on(&ulimit(4096, 1024), &sys).unwrap_err();
        assert_eq!(
            err.message,
            "ulimit soft limit must be less than or equal to hard limit: 4096 > 1024"
        );
        let err =
            build(r#"{"Image":"b","HostConfig":{"Ulimits":[{"Name":"bogus","Soft":1,"Hard":1}]}}"#)
                .unwrap_err();
        assert_eq!(err.message, "invalid ulimit type: bogus");
    }

    #[test]
    fn tmpfs_entries_need_absolute_paths_and_known_options() {
        assert!(
            build(r#"{"Image":"b","HostConfig":{"Tmpfs":{"/run":"size=64m,mode=1777,exec"}}}"#)
                .is_ok()
        );
        assert!(build(r#"{"Image":"b","HostConfig":{"Tmpfs":{"/run":""}}}"#).is_ok());
        for bad in [
            r#"{"/":""}"#,
            r#"{"run":""}"#,
            r#"{"/a/../b":""}"#,
            r#"{"/run":"bogus"}"#,
            r#"{"/run":"size="}"#,
            r#"{"/run":"colour=red"}"#,
        ] {
            let json = format!(r#"{{"Image":"b","HostConfig":{{"Tmpfs":{bad}}}}}"#);
            let err = build(&json).unwrap_err();
            assert!(err.message.contains("tmpfs"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_record_without_a_model_rebuilds_the_one_create_made() {
        let json = r#"{"Image":"b","Tty":true,"HostConfig":{
            "Binds":["/tmp:/data/in:ro,rslave","/var:/data"],
            "Tmpfs":{"/data/run":"size=64m,noexec","/run":""},
            "SecurityOpt":["no-new-privileges","seccomp=unconfined"],
            "CapAdd":["NET_ADMIN"],"CapDrop":["chown"],
            "MaskedPaths":["/proc/kcore"],"ReadonlyPaths":["/proc/sys"],
            "LogConfig":{"Type":"json-file","Config":{"max-size":"1m","max-file":"2"}},
            "ConsoleSize":[24,80],"CpuShares":512,"NanoCpus":500000000}}"#;
        let spec = build(json).unwrap();
        let rebuilt = container_model(&spec.config, &spec.host_config).unwrap();
        assert_eq!(rebuilt, spec.model);
        let destinations: Vec<&str> = spec
            .model
            .mounts
            .iter()
            .map(|m| m.destination().as_str())
            .collect();
        // Parents first; at one depth binds before tmpfs mounts.
        assert_eq!(destinations, ["/data", "/run", "/data/in", "/data/run"]);
        assert!(spec.model.security.no_new_privileges);
        assert_eq!(spec.model.process.console_size, Some((24, 80)));
    }

    #[test]
    fn nano_cpus_conflicts_name_the_field() {
        let err = build(r#"{"Image":"b","HostConfig":{"NanoCpus":1000000000,"CpuPeriod":100000}}"#)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        );
        let err = build(r#"{"Image":"b","HostConfig":{"NanoCpus":1000000000,"CpuQuota":50000}}"#)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
    }
}
