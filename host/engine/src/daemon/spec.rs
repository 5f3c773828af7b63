//! Validation of `POST /containers/create`: a [`CreateRequest`] and the
//! image it names become a trusted [`ContainerSpec`]. Nothing downstream
//! re-checks what is validated here.

use berth_api::container::{Config, CreateRequest, HostConfig, State};
use berth_api::image::ImageInspect;

use crate::job::JobError;

/// Docker's minimum memory limit (moby `daemon/daemon_unix.go`,
/// `linuxMinMemory`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Longest host name the kernel accepts (`HOST_NAME_MAX`).
const HOST_NAME_MAX: usize = 64;

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
}

/// Builds a [`ContainerSpec`] from a create request and its image.
#[derive(Debug, Clone)]
pub struct ContainerSpecBuilder {
    request: CreateRequest,
    image: ImageInspect,
    id: String,
    ncpu: u64,
}

impl ContainerSpecBuilder {
    /// Starts from the client's request, the resolved image and the new
    /// container's id (the default host name is its first 12 digits).
    pub fn new(request: CreateRequest, image: ImageInspect, id: &str) -> ContainerSpecBuilder {
        ContainerSpecBuilder {
            request,
            image,
            id: id.to_owned(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
        }
    }

    /// Overrides the CPU count used to validate `NanoCpus`.
    pub fn ncpu(mut self, ncpu: u64) -> ContainerSpecBuilder {
        self.ncpu = ncpu;
        self
    }

    /// Merges image defaults and validates; errors are InvalidParameter with
    /// dockerd's messages.
    pub fn build(self) -> Result<ContainerSpec, JobError> {
        let ContainerSpecBuilder {
            request,
            image,
            id,
            ncpu,
        } = self;
        let mut config = request.config;
        let mut host = request.host_config;
        let defaults = &image.config;
        // Host settings first: dockerd verifies them before looking at the
        // command (verifyContainerSettings).
        validate_host(&mut host, ncpu)?;

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
            return Err(JobError::invalid("No command specified"));
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
            return Err(JobError::invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                config.working_dir
            )));
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

        // Host name: moby uses the short id when none is given.
        if config.hostname.is_empty() {
            config.hostname = id[..12.min(id.len())].to_owned();
        }
        validate_hostname(&config.hostname)?;

        Ok(ContainerSpec {
            path: path.clone(),
            args: args.to_vec(),
            config,
            host_config: host,
            image_id: image.id,
            image: String::new(),
        })
        .map(|mut spec| {
            spec.image = spec.config.image.clone();
            spec
        })
    }
}

fn validate_host(host: &mut HostConfig, ncpu: u64) -> Result<(), JobError> {
    // Resources (moby `daemon/daemon_unix.go` verifyPlatformContainerResources).
    if host.memory < 0 {
        return Err(JobError::invalid(
            "invalid memory limit: must not be negative",
        ));
    }
    if host.memory > 0 && host.memory < MIN_MEMORY {
        return Err(JobError::invalid("Minimum memory limit allowed is 6MB"));
    }
    if host.memory > 0 && host.memory_swap > 0 && host.memory_swap < host.memory {
        return Err(JobError::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if host.memory == 0 && host.memory_swap > 0 {
        return Err(JobError::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if host.nano_cpus != 0 && (host.cpu_quota != 0 || host.cpu_period != 0) {
        return Err(JobError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if host.nano_cpus < 0 || host.nano_cpus as u128 > u128::from(ncpu) * 1_000_000_000 {
        return Err(JobError::invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if host.cpu_shares < 0 {
        return Err(JobError::invalid(
            "invalid CPU shares: must not be negative",
        ));
    }
    if host.cpu_period != 0 && !(1000..=1_000_000).contains(&host.cpu_period) {
        return Err(JobError::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if host.cpu_quota > 0 && host.cpu_quota < 1000 {
        return Err(JobError::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    // Docker treats 0 and negative pids limits as unlimited.
    if host.pids_limit.is_some_and(|p| p <= 0) {
        host.pids_limit = None;
    }

    let policy = host.restart_policy.name.as_str();
    if !matches!(
        policy,
        "" | "no" | "always" | "unless-stopped" | "on-failure"
    ) {
        return Err(JobError::invalid(format!(
            "invalid restart policy '{policy}'"
        )));
    }
    if host.auto_remove && !matches!(policy, "" | "no") {
        return Err(JobError::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    for bind in &host.binds {
        validate_bind(bind)?;
    }
    if host.network_mode.is_empty() {
        host.network_mode = "default".to_owned();
    }

    Ok(())
}

fn validate_hostname(hostname: &str) -> Result<(), JobError> {
    let valid = hostname.len() <= HOST_NAME_MAX
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(JobError::invalid(format!(
            "invalid hostname format: {hostname}"
        )))
    }
}

/// `host-path:container-path[:ro|rw]` with both paths absolute (moby's
/// `volume/mounts` parser, simple form only).
fn validate_bind(bind: &str) -> Result<(), JobError> {
    let parts: Vec<&str> = bind.split(':').collect();
    let ok = match parts.as_slice() {
        [src, dst] => src.starts_with('/') && dst.starts_with('/'),
        [src, dst, mode] => {
            src.starts_with('/') && dst.starts_with('/') && matches!(*mode, "ro" | "rw")
        }
        _ => false,
    };
    if ok && parts[1] != "/" {
        Ok(())
    } else {
        Err(JobError::invalid(format!(
            "invalid volume specification: '{bind}'"
        )))
    }
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
    use super::*;

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
        ContainerSpecBuilder::new(request(json), image(), ID)
            .ncpu(2)
            .build()
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
    fn rejects_bad_names_paths_and_policies() {
        assert!(build(r#"{"Image":"b","WorkingDir":"rel"}"#).is_err());
        assert!(build(r#"{"Image":"b","Hostname":"bad_host!"}"#).is_err());
        assert!(build(r#"{"Image":"b","Env":["=x"]}"#).is_err());
        assert!(build(r#"{"Image":"b","StopSignal":"SIGNOPE"}"#).is_err());
        assert!(
            build(r#"{"Image":"b","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#)
                .is_err()
        );
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["rel:/x"]}}"#).is_err());
        assert!(build(r#"{"Image":"b","HostConfig":{"Binds":["/tmp:/x:ro"]}}"#).is_ok());
    }
}
