//! OCI runtime spec generation: a container's Docker configuration becomes
//! the `config.json` of its bundle, with Docker's defaults.
//!
//! Input is the *effective* configuration the engine stores: image defaults
//! (Entrypoint, Cmd, Env, WorkingDir, User) are already merged into
//! [`Config`] by the engine (moby merges them at create time too,
//! `daemon/create.go`), so this module does not look at the image config.
//!
//! What a container gets, following moby's `oci/defaults.go` and
//! `daemon/oci_linux.go`:
//! - namespaces: mount, pid, uts, ipc, network, and cgroup unless
//!   `CgroupnsMode` is `host` (the daemon's default on cgroup v1 hosts, as
//!   dockerd's). The network namespace is new and holds only `lo`
//!   (Docker's `--network none`) until the network driver exists.
//! - capabilities: Docker's 14 defaults (`CapEff: 00000000a80425fb` for
//!   root), tweaked by `CapAdd`/`CapDrop`/`Privileged`; inheritable and
//!   ambient empty (Docker ≥ 20.10.14, CVE-2022-24769).
//! - mounts: `/proc`, `/dev` (tmpfs), `/dev/pts`, `/dev/shm` (`ShmSize`,
//!   64 MiB by default), `/dev/mqueue`, `/sys` (ro), `/sys/fs/cgroup`
//!   (ro), then the container's `/etc/resolv.conf`, `/etc/hostname`,
//!   `/etc/hosts` (bind mounts of files the exec driver writes), then
//!   `Binds` and `Tmpfs` sorted parents first.
//! - masked and read-only paths (Docker's, or `MaskedPaths`/`ReadonlyPaths`
//!   when given), device cgroup rules, `SecurityOpt` (moby
//!   `daemon/seccomp_linux.go`): Docker's default seccomp profile, none
//!   with `seccomp=unconfined`, or a profile in Docker's format resolved for
//!   the container ([`seccomp::resolve`]); `noNewPrivileges` from
//!   `no-new-privileges`; `oomScoreAdj` from `OomScoreAdj`, rlimits from
//!   `Ulimits` over the daemon's defaults.
//! - resources: memory, CPU (shares, CFS, `CpusetCpus`/`CpusetMems`), pids,
//!   the block I/O weight.
//! - `Privileged`: every capability of berthd's bounding set, no seccomp profile, no masked or
//!   read-only paths, `/sys` and `/sys/fs/cgroup` read-write, a device
//!   cgroup that allows every device, and the host's device nodes in its
//!   `/dev` ([`devices::host_devices`]).
//! - cgroups path `<cgroup parent>/<id>`.
//! - environment: `PATH` (default), `HOSTNAME`, `TERM=xterm` with a TTY,
//!   the container's `Env` over those, and `HOME` from `/etc/passwd`.

mod caps;
mod devices;
mod resources;
mod rootfs;
mod seccomp;
mod user;

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use berth_api::container::security::{Seccomp, SecurityOptError, SecurityOptions};
use berth_api::container::{Bind, BindError, Config, DEFAULT_SHM_SIZE, HostConfig};
use berth_model::exec::ContainerFiles;
use oci_spec::OciSpecError;
use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, PosixRlimit, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use resources::{resources, rlimits};

pub use caps::{CapabilitySet, DOCKER_DEFAULT, validate_names as validate_capability_names};
pub use rootfs::{MAX_IMAGE_FILE, read_in_root};
pub use seccomp::native_go_arch;
pub use user::{ExecUser, resolve_user, resolve_user_in_rootfs};

/// `PATH` when the configuration has none (moby `oci.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// CFS period Docker uses to express `NanoCpus` (100 ms, in µs).
pub const NANO_CPUS_PERIOD: u64 = 100_000;

/// Docker's masked paths (moby `oci/defaults.go`, current list).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A configuration that cannot become a runtime spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Neither Entrypoint nor Cmd is set.
    #[error("no command specified")]
    NoCommand,
    /// `User` does not resolve.
    #[error("cannot resolve user {user:?}: {reason}")]
    User {
        /// The `User` value.
        user: String,
        /// Why.
        reason: String,
    },
    /// A file of the rootfs (passwd, group) cannot be read: it is not a
    /// regular file, too large, or unreadable. The message names the file
    /// as the container sees it.
    #[error("cannot read the container's files: {error}")]
    ReadRootfs {
        /// What failed, with the container path.
        error: berth_libcontainer::root::RootError,
    },
    /// A `Binds` entry is malformed.
    #[error("invalid bind mount {bind:?}: {reason}")]
    Bind {
        /// The entry.
        bind: String,
        /// Why.
        reason: String,
    },
    /// A `CapAdd`/`CapDrop` name is unknown (`name` as normalised, in
    /// moby's wording).
    #[error("invalid {field}: unknown capability: {name:?}")]
    UnknownCapability {
        /// `CapAdd` or `CapDrop`.
        field: &'static str,
        /// The name with its `CAP_` prefix, upper case.
        name: String,
    },
    /// A capability the container would get is not in the daemon's
    /// bounding set, so no process it starts can hold it.
    #[error("capability {0} is not available: it is not in berthd's bounding set")]
    UnavailableCapability(String),
    /// A resource value is out of range or conflicts with another.
    #[error("invalid {field}: {reason}")]
    Resource {
        /// The HostConfig field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A `SecurityOpt` entry is refused (the daemon refuses it at create).
    #[error(transparent)]
    SecurityOpt(#[from] SecurityOptError),
    /// A seccomp profile cannot be resolved for this container.
    #[error("invalid seccomp profile: {0}")]
    Seccomp(String),
    /// `--privileged`: the host's `/dev` cannot be listed.
    #[error("failed to list the host's devices for --privileged: {0}")]
    HostDevices(#[source] std::io::Error),
    /// oci-spec refused a value.
    #[error("failed to build the runtime spec: {0}")]
    Oci(#[from] OciSpecError),
}

impl From<BindError> for SpecError {
    fn from(err: BindError) -> SpecError {
        SpecError::Bind {
            bind: err.bind,
            reason: err.reason,
        }
    }
}

/// Daemon-wide settings of spec generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecOptions {
    /// Parent of every container's cgroup (`/berth`); the container's cgroups
    /// path is `<parent>/<id>`.
    pub cgroup_parent: String,
    /// Whether the kernel accounts swap (`memory.memsw.*` on cgroup v1,
    /// `memory.swap.max` on v2). Without it Docker ignores `MemorySwap`.
    pub swap_limit: bool,
    /// rlimits every container gets (dockerd's `--default-ulimit`); empty by
    /// default, so containers inherit the shim's limits like Docker's do.
    pub default_rlimits: Vec<PosixRlimit>,
    /// The capabilities berthd may hand out (its bounding set, `CapBnd`):
    /// what `--privileged` and `--cap-add ALL` grant.
    pub available_caps: CapabilitySet,
}

impl Default for SpecOptions {
    fn default() -> SpecOptions {
        SpecOptions {
            cgroup_parent: crate::host_cgroups::DEFAULT_CGROUP_PARENT.to_owned(),
            swap_limit: true,
            default_rlimits: Vec::new(),
            available_caps: CapabilitySet::all(),
        }
    }
}

/// The host name a container gets: `Config.Hostname`, or the first 12
/// characters of its id like Docker.
pub fn hostname_of(id: &str, config: &Config) -> String {
    if config.hostname.is_empty() {
        id.chars().take(12).collect()
    } else {
        config.hostname.clone()
    }
}

/// Builds the runtime spec of container `id` whose (mounted) root filesystem
/// is `rootfs`.
pub fn build_spec(
    id: &str,
    config: &Config,
    host: &HostConfig,
    rootfs: &Path,
    files: &ContainerFiles,
    options: &SpecOptions,
) -> Result<Spec, SpecError> {
    let args: Vec<String> = config
        .entrypoint
        .iter()
        .flatten()
        .chain(config.cmd.iter().flatten())
        .cloned()
        .collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let hostname = hostname_of(id, config);
    let security = SecurityOptions::parse(&host.security_opt)?;
    let user = resolve_user_in_rootfs(rootfs, &config.user)?;
    let env = environment(config, &hostname, &user);
    let caps = CapabilitySet::docker_default().tweak(
        &host.cap_add,
        &host.cap_drop,
        host.privileged,
        options.available_caps,
    )?;
    let resolved = Resolved {
        args,
        env,
        user,
        cap_set: caps.to_oci(),
        security,
    };
    let process = process(config, host, options, &resolved)?;
    let linux = linux(id, host, options, &resolved)?;
    let mut builder = SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs.to_path_buf())
                .readonly(host.readonly_rootfs)
                .build()?,
        )
        .hostname(hostname)
        .mounts(mounts(host, files)?)
        .process(process)
        .linux(linux);
    if !config.domainname.is_empty() {
        builder = builder.domainname(config.domainname.clone());
    }
    Ok(builder.build()?)
}

/// What [`build_spec`] resolves once and its parts share.
struct Resolved {
    /// The command line (Entrypoint then Cmd).
    args: Vec<String>,
    /// The environment ([`environment`]).
    env: Vec<String>,
    /// The user as the image's `/etc/passwd` and `/etc/group` say.
    user: ExecUser,
    /// The capabilities: bounding, effective and permitted alike.
    cap_set: oci_spec::runtime::Capabilities,
    /// `SecurityOpt`, parsed.
    security: SecurityOptions,
}

/// The spec's `process`: command, user, environment, capabilities (all
/// three sets the same, inheritable and ambient empty), `no_new_privs`,
/// `oomScoreAdj`, rlimits and the terminal's size.
fn process(
    config: &Config,
    host: &HostConfig,
    options: &SpecOptions,
    resolved: &Resolved,
) -> Result<oci_spec::runtime::Process, SpecError> {
    let Resolved {
        args,
        env,
        user,
        cap_set,
        security,
    } = resolved;
    let mut process = ProcessBuilder::default()
        .terminal(config.tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()?,
        )
        .args(args.clone())
        .env(env.clone())
        .cwd(if config.working_dir.is_empty() {
            PathBuf::from("/")
        } else {
            PathBuf::from(&config.working_dir)
        })
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(cap_set.clone())
                .effective(cap_set.clone())
                .permitted(cap_set.clone())
                .inheritable(oci_spec::runtime::Capabilities::new())
                .ambient(oci_spec::runtime::Capabilities::new())
                .build()?,
        )
        .no_new_privileges(security.no_new_privileges)
        .oom_score_adj(
            i32::try_from(host.oom_score_adj).map_err(|_| SpecError::Resource {
                field: "OomScoreAdj",
                reason: format!("{} is out of range", host.oom_score_adj),
            })?,
        )
        .rlimits(rlimits(host, options)?);
    if config.tty
        && let Some([height, width]) = host.console_size
        && height > 0
        && width > 0
    {
        process = process.console_size(
            oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(height))
                .width(u64::from(width))
                .build()?,
        );
    }
    Ok(process.build()?)
}

/// The spec's `linux`: resources, namespaces, cgroups path, sysctls, and
/// what confines the container (masked and read-only paths, seccomp) or,
/// privileged, what it gets of the host (its devices).
fn linux(
    id: &str,
    host: &HostConfig,
    options: &SpecOptions,
    resolved: &Resolved,
) -> Result<oci_spec::runtime::Linux, SpecError> {
    // `CgroupnsMode` is filled in at create; containers created before it
    // existed had their own cgroup namespace.
    let cgroupns = (host.cgroupns_mode != "host").then_some(LinuxNamespaceType::Cgroup);
    let mut linux = LinuxBuilder::default()
        .namespaces(
            [
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Ipc,
            ]
            .into_iter()
            .chain(cgroupns)
            .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
            .collect::<Result<Vec<_>, _>>()?,
        )
        .cgroups_path(PathBuf::from(format!(
            "{}/{id}",
            options.cgroup_parent.trim_end_matches('/')
        )))
        .resources(resources(host, options)?)
        // A new network namespace: Docker relaxes these two so that an
        // unprivileged user can bind low ports and ping (moby
        // `daemon/oci_linux.go`, `WithSysctls`, since 20.10).
        .sysctl(HashMap::from([
            (
                "net.ipv4.ip_unprivileged_port_start".to_owned(),
                "0".to_owned(),
            ),
            (
                "net.ipv4.ping_group_range".to_owned(),
                "0 2147483647".to_owned(),
            ),
        ]));
    if host.privileged {
        // Explicitly empty: oci-spec's builder would fill in its defaults.
        linux = linux
            .masked_paths(Vec::new())
            .readonly_paths(Vec::new())
            .devices(devices::host_devices(Path::new("/dev")).map_err(SpecError::HostDevices)?);
        return Ok(linux.build()?);
    }
    // moby `WithMaskedPaths`/`WithReadonlyPaths`: the container's list
    // replaces Docker's when it has one, even an empty one.
    linux = linux
        .masked_paths(
            host.masked_paths
                .clone()
                .unwrap_or_else(|| MASKED_PATHS.map(String::from).to_vec()),
        )
        .readonly_paths(
            host.readonly_paths
                .clone()
                .unwrap_or_else(|| READONLY_PATHS.map(String::from).to_vec()),
        );
    let bounding: Vec<_> = resolved.cap_set.iter().copied().collect();
    // moby `WithSeccomp`; a privileged container gets none at all.
    match &resolved.security.seccomp {
        Seccomp::Default => {
            linux = linux.seccomp(berth_libcontainer::seccomp::docker_default_profile_for(
                &bounding,
            ));
        }
        Seccomp::Unconfined => {}
        Seccomp::Profile(profile) => {
            linux =
                linux.seccomp(seccomp::resolve(profile, &bounding).map_err(SpecError::Seccomp)?);
        }
    }
    Ok(linux.build()?)
}

/// moby's `Container.CreateDaemonEnvironment`: defaults first, the
/// container's `Env` replaces or extends them (an entry without `=` removes
/// the variable), then `HOME` when still unset (runc sets it from passwd).
fn environment(config: &Config, hostname: &str, user: &ExecUser) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if config.tty {
        env.push("TERM=xterm".to_owned());
    }
    let key = |entry: &str| entry.split_once('=').map_or(entry, |(k, _)| k).to_owned();
    for entry in &config.env {
        let k = key(entry);
        if !entry.contains('=') {
            env.retain(|e| key(e) != k);
            continue;
        }
        match env.iter_mut().find(|e| key(e) == k) {
            Some(existing) => existing.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    if !env.iter().any(|e| key(e) == "HOME") {
        env.push(format!("HOME={}", user.home));
    }
    env
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
        .build()?)
}

/// tmpfs options as moby merges them (`mount.MergeTmpfsOptions`): Docker's
/// defaults `noexec,nosuid,nodev,rprivate` first, the user's after; a
/// later flag replaces its opposite (`exec` replaces `noexec`) and a later
/// `key=value` replaces the same key.
pub fn merge_tmpfs_options(user: &str) -> Vec<String> {
    let opposite = |flag: &str| -> Option<String> {
        match flag {
            "rw" => Some("ro".to_owned()),
            "ro" => Some("rw".to_owned()),
            "async" => Some("sync".to_owned()),
            "sync" => Some("async".to_owned()),
            "private" | "rprivate" => None,
            f => f
                .strip_prefix("no")
                .map(str::to_owned)
                .or_else(|| Some(format!("no{f}"))),
        }
    };
    let mut merged: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
        .map(String::from)
        .to_vec();
    for option in user.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some((key, _)) => merged.retain(|m| m.split_once('=').is_none_or(|(k, _)| k != key)),
            None => {
                let opposite = opposite(option);
                merged.retain(|m| m != option && Some(m) != opposite.as_ref());
                if option == "private" {
                    merged.retain(|m| m != "rprivate");
                }
            }
        }
        merged.push(option.to_owned());
    }
    merged
}

/// The spec's mounts: Docker's system mounts, the container's files, then
/// the user's binds and tmpfs mounts.
fn mounts(host: &HostConfig, files: &ContainerFiles) -> Result<Vec<Mount>, SpecError> {
    let mut mounts = system_mounts(host)?;
    // moby `Container.NetworkMounts`: writable unless the rootfs is
    // read-only; private propagation.
    let file_opts: &[&str] = if host.readonly_rootfs {
        &["rbind", "rprivate", "ro"]
    } else {
        &["rbind", "rprivate"]
    };
    for (destination, source) in [
        ("/etc/resolv.conf", &files.resolv_conf),
        ("/etc/hostname", &files.hostname),
        ("/etc/hosts", &files.hosts),
    ] {
        mounts.push(mount(
            destination,
            "bind",
            &source.to_string_lossy(),
            file_opts,
        )?);
    }
    mounts.extend(user_mounts(host)?);
    Ok(mounts)
}

/// `/proc`, `/dev` and below, `/sys` and `/sys/fs/cgroup` as Docker mounts
/// them (moby `oci/defaults.go`), `/dev/shm` sized by `ShmSize`.
fn system_mounts(host: &HostConfig) -> Result<Vec<Mount>, SpecError> {
    let shm_bytes = if host.shm_size > 0 {
        host.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    // tmpfs rounds up to pages anyway; kibibytes, rounded up without
    // overflow: i64::MAX bytes is 2^53 KiB, which the kernel's memparse
    // reads back into its u64 as 2^63 bytes.
    let shm_size = format!("size={}k", shm_bytes.unsigned_abs().div_ceil(1024));
    let sys_mode = if host.privileged { "rw" } else { "ro" };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        )?,
    ])
}

/// `Binds` and `Tmpfs`, parents before children.
fn user_mounts(host: &HostConfig) -> Result<Vec<Mount>, SpecError> {
    let binds = host
        .binds
        .iter()
        .map(|b| Bind::parse(b))
        .collect::<Result<Vec<_>, _>>()?;
    // Parents before children, as moby sorts mounts (`sortMounts`); a
    // tmpfs is a user mount like a bind.
    let mut user: Vec<(String, Mount)> = Vec::new();
    for bind in binds {
        let mut options = vec!["rbind", bind.propagation];
        if bind.read_only {
            options.push("ro");
        }
        user.push((
            bind.destination.clone(),
            mount(&bind.destination, "bind", &bind.source, &options)?,
        ));
    }
    for (destination, options) in &host.tmpfs {
        let options = merge_tmpfs_options(options);
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        user.push((
            destination.clone(),
            mount(destination, "tmpfs", "tmpfs", &options)?,
        ));
    }
    user.sort_by_key(|(destination, _)| Path::new(destination).components().count());
    Ok(user.into_iter().map(|(_, m)| m).collect())
}

/// Creates the host directories of `Binds` that do not exist yet, like
/// Docker's `-v` (moby `volume/mounts`, `MountPoint.Setup` with
/// `createIfNotExists`: `mkdir -p`, mode 0755). `--mount type=bind` would
/// refuse instead; berth has only the `-v` form.
pub fn create_bind_sources(host: &HostConfig) -> Result<(), SpecError> {
    for entry in &host.binds {
        let bind = Bind::parse(entry)?;
        let source = Path::new(&bind.source);
        if source.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(source)
            .map_err(|e| SpecError::Bind {
                bind: entry.clone(),
                reason: format!("cannot create the host directory {}: {e}", bind.source),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
