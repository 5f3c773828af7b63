//! OCI runtime spec generation: a container's Docker configuration becomes
//! the `config.json` of its bundle, with Docker's defaults.
//!
//! Input is the container model the engine made and validated at create
//! ([`ContainerModel`]): image defaults (Entrypoint, Cmd, Env, WorkingDir,
//! User) are merged in (moby merges them at create time too,
//! `daemon/create.go`), and every value is one the kernel takes, so this
//! module neither looks at the image config nor checks the request again.
//! What it still checks is what only this host can say at start: the user
//! in the image, the daemon's bounding set, the kernel for a seccomp
//! profile's conditions.
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
//! - `Sysctls` over Docker's two network defaults; `GroupAdd` resolved in
//!   the container's `/etc/group` after the user's own groups; `Init`:
//!   berth's init bind-mounted read-only at `/sbin/docker-init` in front
//!   of the command ([`init`]).
//! - cgroups path `<cgroup parent>/<id>`.
//! - environment: `PATH` (default), `HOSTNAME`, `TERM=xterm` with a TTY,
//!   the container's `Env` over those, and `HOME` from `/etc/passwd`.

mod caps;
mod devices;
mod exec;
mod init;
mod resources;
mod rootfs;
mod seccomp;
mod user;

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use berth_model::container::{CgroupnsMode, ContainerModel, Mount as UserMount, Seccomp};
use berth_model::exec::ContainerFiles;
use berth_model::network::NetworkNamespace;
use oci_spec::OciSpecError;
use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, PosixRlimit, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use resources::{resources, rlimits};

pub use berth_model::container::CapabilitySet;
pub use berth_model::container::caps::DOCKER_DEFAULT;
pub use caps::to_oci as capabilities_to_oci;
pub use exec::exec_process;
/// The OCI process an exec runs.
pub use oci_spec::runtime::Process as ExecProcessSpec;
pub use rootfs::{MAX_IMAGE_FILE, read_in_root};
pub use seccomp::native_go_arch;
pub use user::{ExecUser, resolve_user, resolve_user_in_rootfs};

/// `PATH` when the configuration has none (moby `oci.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub use berth_model::container::resources::NANO_CPUS_PERIOD;

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
    /// A capability the container would get is not in the daemon's
    /// bounding set, so no process it starts can hold it.
    #[error("capability {0} is not available: it is not in berthd's bounding set")]
    UnavailableCapability(String),
    /// A seccomp profile cannot be resolved for this container.
    #[error("invalid seccomp profile: {0}")]
    Seccomp(#[from] seccomp::SeccompError),
    /// A bind's missing host directory cannot be created (Docker's `-v`
    /// creates it).
    #[error(
        "cannot create the host directory {source_path} of the bind mount on {destination}: {error}"
    )]
    BindSource {
        /// The bind's host path.
        source_path: String,
        /// Where it is mounted in the container.
        destination: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// A `GroupAdd` name the container's `/etc/group` does not have
    /// (runc's message, which moby returns at start).
    #[error("{0}")]
    GroupAdd(String),
    /// A `Devices` entry whose host node cannot be used (moby's message).
    #[error("error gathering device information while adding custom device {path:?}: {reason}")]
    Device {
        /// The host path.
        path: String,
        /// Why.
        reason: String,
    },
    /// `--init` on a daemon without an init binary.
    #[error("--init is not available: berthd has no init binary (berthd --init-path)")]
    NoInit,
    /// `--init`, and berthd's init binary is missing.
    #[error("--init is not available: berthd's init binary {0} is missing (berthd --init-path)")]
    InitMissing(String),
    /// `--privileged`: the host's `/dev` cannot be listed.
    #[error("failed to list the host's devices for --privileged: {0}")]
    HostDevices(#[source] std::io::Error),
    /// oci-spec refused a value.
    #[error("failed to build the runtime spec: {0}")]
    Oci(#[from] OciSpecError),
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
    /// The init binary a container with `--init` runs as PID 1
    /// (dockerd's `--init-path`; berthd writes its own to
    /// `<exec-root>/berth-init`); `None`: `--init` is refused.
    pub init_path: Option<PathBuf>,
}

impl Default for SpecOptions {
    fn default() -> SpecOptions {
        SpecOptions {
            cgroup_parent: crate::host_cgroups::DEFAULT_CGROUP_PARENT.to_owned(),
            swap_limit: true,
            default_rlimits: Vec::new(),
            available_caps: CapabilitySet::all(),
            init_path: None,
        }
    }
}

/// The cgroup limits (`linux.resources`) of `container` on this host: what
/// `build_spec` puts in the spec, and what a live update writes.
pub fn linux_resources(
    container: &ContainerModel,
    options: &SpecOptions,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    resources(container, options)
}

/// Builds the runtime spec of container `id` whose (mounted) root filesystem
/// is `rootfs`, in a new network namespace of its own.
pub fn build_spec(
    id: &str,
    container: &ContainerModel,
    rootfs: &Path,
    files: &ContainerFiles,
    options: &SpecOptions,
) -> Result<Spec, SpecError> {
    build_spec_in(
        id,
        container,
        rootfs,
        files,
        &NetworkNamespace::New,
        options,
    )
}

/// [`build_spec`] with the network namespace the engine decided: a new
/// one, none (the host's), or one joined by path (a sandbox's bind mount,
/// another container's `/proc/<pid>/ns/net`), which the runtime `setns`es
/// into before the process starts (OCI runtime spec, `namespaces.path`).
pub fn build_spec_in(
    id: &str,
    container: &ContainerModel,
    rootfs: &Path,
    files: &ContainerFiles,
    network: &NetworkNamespace,
    options: &SpecOptions,
) -> Result<Spec, SpecError> {
    let mut user = resolve_user_in_rootfs(rootfs, &container.process.user)?;
    // moby `getUser`: the user's groups, then `GroupAdd`'s.
    for gid in user::add_groups_in_rootfs(rootfs, &container.process.group_add)? {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    let env = environment(container, &user);
    let resolved = Resolved {
        env,
        user,
        cap_set: capabilities_to_oci(capabilities(container, options)?),
    };
    let process = process(container, options, &resolved)?;
    let linux = linux(id, container, network, options, &resolved)?;
    let mut builder = SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs.to_path_buf())
                .readonly(container.readonly_rootfs)
                .build()?,
        )
        .hostname(container.hostname.as_str())
        .mounts(
            mounts(container, files)?
                .into_iter()
                .chain(init::mounts(container, options)?)
                .collect::<Vec<_>>(),
        )
        .process(process)
        .linux(linux);
    if let Some(domainname) = &container.domainname {
        builder = builder.domainname(domainname.clone());
    }
    Ok(builder.build()?)
}

/// What only this host can refuse of a container, asked at create (through
/// `ExecService::validate`) rather than at the first start: its
/// capabilities within berthd's bounding set, an init binary for `--init`.
pub fn validate(container: &ContainerModel, options: &SpecOptions) -> Result<(), SpecError> {
    capabilities(container, options)?;
    devices::user_devices(&container.security.devices)?;
    init::check(container, options)
}

/// The container's capabilities on this host: `CapAdd`/`CapDrop` applied
/// to Docker's defaults, "all" being berthd's bounding set. Also what
/// the engine's create asks through `ExecService::validate`, so that a
/// container that cannot get its capabilities here is refused at create.
pub fn capabilities(
    container: &ContainerModel,
    options: &SpecOptions,
) -> Result<CapabilitySet, SpecError> {
    let security = &container.security;
    security
        .capabilities
        .apply(security.privileged, options.available_caps)
        .map_err(|missing| SpecError::UnavailableCapability(missing.to_owned()))
}

/// What [`build_spec`] resolves once and its parts share.
struct Resolved {
    /// The environment ([`environment`]).
    env: Vec<String>,
    /// The user as the image's `/etc/passwd` and `/etc/group` say.
    user: ExecUser,
    /// The capabilities: bounding, effective and permitted alike.
    cap_set: oci_spec::runtime::Capabilities,
}

/// The spec's `process`: command, user, environment, capabilities (all
/// three sets the same, inheritable and ambient empty), `no_new_privs`,
/// `oomScoreAdj`, rlimits and the terminal's size.
fn process(
    container: &ContainerModel,
    options: &SpecOptions,
    resolved: &Resolved,
) -> Result<oci_spec::runtime::Process, SpecError> {
    let Resolved { env, user, cap_set } = resolved;
    let model = &container.process;
    let mut process = ProcessBuilder::default()
        .terminal(model.tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()?,
        )
        .args(init::args(container))
        .env(env.clone())
        .cwd(PathBuf::from(
            model.working_dir.as_ref().map_or("/", |dir| dir.as_str()),
        ))
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(cap_set.clone())
                .effective(cap_set.clone())
                .permitted(cap_set.clone())
                .inheritable(oci_spec::runtime::Capabilities::new())
                .ambient(oci_spec::runtime::Capabilities::new())
                .build()?,
        )
        .no_new_privileges(container.security.no_new_privileges)
        .oom_score_adj(i32::from(container.resources.oom_score_adj))
        .rlimits(rlimits(&container.resources, options)?);
    if model.tty
        && let Some((height, width)) = model.console_size
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
    container: &ContainerModel,
    network: &NetworkNamespace,
    options: &SpecOptions,
    resolved: &Resolved,
) -> Result<oci_spec::runtime::Linux, SpecError> {
    let cgroupns =
        (container.cgroupns == CgroupnsMode::Private).then_some(LinuxNamespaceType::Cgroup);
    let security = &container.security;
    // moby `WithNamespaces`: no network entry for the host's namespace,
    // an entry with a path to join an existing one.
    let network_entry = match network {
        NetworkNamespace::New => Some(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()?,
        ),
        NetworkNamespace::Host => None,
        NetworkNamespace::Sandbox(path) | NetworkNamespace::Join(path) => Some(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path.clone())
                .build()?,
        ),
    };
    let mut namespaces = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
    ]
    .into_iter()
    .chain(cgroupns)
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<Result<Vec<_>, _>>()?;
    // In the order the spec had before: mount, network, then the others.
    if let Some(entry) = network_entry {
        namespaces.insert(1, entry);
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .cgroups_path(PathBuf::from(format!(
            "{}/{id}",
            options.cgroup_parent.trim_end_matches('/')
        )))
        .sysctl(sysctls(container, network));
    let (user_devices, mut user_rules) = devices::user_devices(&security.devices)?;
    user_rules.extend(devices::cgroup_rules(&security.device_cgroup_rules)?);
    let mut resources = resources(container, options)?;
    if !user_rules.is_empty() {
        let mut rules = resources.devices().clone().unwrap_or_default();
        rules.extend(user_rules);
        resources.set_devices(Some(rules));
    }
    linux = linux.resources(resources);
    if security.privileged {
        // The host's nodes, then the user's (which may rename one).
        let mut all = devices::host_devices(Path::new("/dev")).map_err(SpecError::HostDevices)?;
        all.retain(|d| !user_devices.iter().any(|u| u.path() == d.path()));
        all.extend(user_devices);
        // Explicitly empty: oci-spec's builder would fill in its defaults.
        linux = linux
            .masked_paths(Vec::new())
            .readonly_paths(Vec::new())
            .devices(all);
        return Ok(linux.build()?);
    }
    if !user_devices.is_empty() {
        linux = linux.devices(user_devices);
    }
    // moby `WithMaskedPaths`/`WithReadonlyPaths`: the container's list
    // replaces Docker's when it has one, even an empty one.
    let paths = |given: &Option<Vec<_>>, docker: &[&str]| match given {
        Some(paths) => paths
            .iter()
            .map(|p: &berth_model::container::AbsolutePath| p.as_str().to_owned())
            .collect(),
        None => docker.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>(),
    };
    linux = linux
        .masked_paths(paths(&security.masked_paths, &MASKED_PATHS))
        .readonly_paths(paths(&security.readonly_paths, &READONLY_PATHS));
    let bounding: Vec<_> = resolved.cap_set.iter().copied().collect();
    // moby `WithSeccomp`; a privileged container gets none at all.
    match &security.seccomp {
        Seccomp::Default => {
            linux = linux.seccomp(berth_libcontainer::seccomp::docker_default_profile_for(
                &bounding,
            ));
        }
        Seccomp::Unconfined => {}
        Seccomp::Profile(profile) => {
            linux = linux.seccomp(seccomp::resolve(profile, &bounding)?);
        }
    }
    Ok(linux.build()?)
}

/// The spec's `linux.sysctl`: the container's `Sysctls` over Docker's two
/// defaults of a new network namespace, which relax what an unprivileged
/// user may do so that it can bind low ports and ping (moby
/// `daemon/oci_linux.go`, `WithSysctls`, since 20.10: a default is set
/// only where the container does not set the key).
fn sysctls(container: &ContainerModel, network: &NetworkNamespace) -> HashMap<String, String> {
    // moby `WithCommonOptions`: the defaults only in a namespace made for
    // the container (`NetworkMode.IsPrivate`), never in the host's or
    // another container's.
    let private = matches!(
        network,
        NetworkNamespace::New | NetworkNamespace::Sandbox(_)
    );
    let defaults = if !private {
        Vec::new()
    } else {
        vec![
            (
                "net.ipv4.ip_unprivileged_port_start".to_owned(),
                "0".to_owned(),
            ),
            (
                "net.ipv4.ping_group_range".to_owned(),
                "0 2147483647".to_owned(),
            ),
        ]
    };
    let mut sysctls: HashMap<String, String> = defaults.into_iter().collect();
    for (key, value) in container.security.sysctls.iter() {
        sysctls.insert(key.to_owned(), value.to_owned());
    }
    sysctls
}

/// moby's `Container.CreateDaemonEnvironment`: defaults first, the
/// container's `Env` replaces or extends them (an entry without `=` removes
/// the variable), then `HOME` when still unset (runc sets it from passwd).
fn environment(container: &ContainerModel, user: &ExecUser) -> Vec<String> {
    environment_with(container, container.process.tty, &[], user)
}

/// [`environment`] for a process with or without a `tty` (an exec's own),
/// with `extra` applied over the container's `Env` the same way (moby's
/// exec: `ReplaceOrAppendEnvValues(CreateDaemonEnvironment(tty), Env)`).
fn environment_with(
    container: &ContainerModel,
    tty: bool,
    extra: &[String],
    user: &ExecUser,
) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", container.hostname.as_str()),
    ];
    if tty {
        env.push("TERM=xterm".to_owned());
    }
    let key = |entry: &str| entry.split_once('=').map_or(entry, |(k, _)| k).to_owned();
    for entry in container.process.env.iter().chain(extra) {
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
fn mounts(container: &ContainerModel, files: &ContainerFiles) -> Result<Vec<Mount>, SpecError> {
    let mut mounts = system_mounts(container)?;
    // moby `Container.NetworkMounts`: writable unless the rootfs is
    // read-only; private propagation.
    let file_opts: &[&str] = if container.readonly_rootfs {
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
    mounts.extend(user_mounts(container)?);
    Ok(mounts)
}

/// `/proc`, `/dev` and below, `/sys` and `/sys/fs/cgroup` as Docker mounts
/// them (moby `oci/defaults.go`), `/dev/shm` sized by `ShmSize`.
fn system_mounts(container: &ContainerModel) -> Result<Vec<Mount>, SpecError> {
    // tmpfs rounds up to pages anyway; kibibytes, rounded up without
    // overflow: i64::MAX bytes is 2^53 KiB, which the kernel's memparse
    // reads back into its u64 as 2^63 bytes.
    let shm_size = format!("size={}k", container.resources.shm_size.div_ceil(1024));
    let sys_mode = if container.security.privileged {
        "rw"
    } else {
        "ro"
    };
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

/// `Binds`, volumes and `Tmpfs`, in the model's order (parents before
/// children).
fn user_mounts(container: &ContainerModel) -> Result<Vec<Mount>, SpecError> {
    container
        .mounts
        .iter()
        .map(|user| match user {
            UserMount::Bind {
                source,
                destination,
                read_only,
                propagation,
            } => {
                let mut options = vec!["rbind", propagation.as_str()];
                if *read_only {
                    options.push("ro");
                }
                mount(
                    destination.as_str(),
                    "bind",
                    &source.to_string_lossy(),
                    &options,
                )
            }
            // A volume is a bind of its data directory (moby mounts local
            // volumes the same way: `volume/local`, `Mount` returns the path).
            UserMount::Volume {
                source,
                destination,
                read_only,
                ..
            } => {
                let mut options = vec!["rbind", "rprivate"];
                if *read_only {
                    options.push("ro");
                }
                mount(
                    destination.as_str(),
                    "bind",
                    &source.to_string_lossy(),
                    &options,
                )
            }
            UserMount::Tmpfs {
                destination,
                options,
            } => {
                let options = merge_tmpfs_options(&options.join(","));
                let options: Vec<&str> = options.iter().map(String::as_str).collect();
                mount(destination.as_str(), "tmpfs", "tmpfs", &options)
            }
        })
        .collect()
}

/// Creates the host directories of `Binds` that do not exist yet, like
/// Docker's `-v` (moby `volume/mounts`, `MountPoint.Setup` with
/// `createIfNotExists`: `mkdir -p`, mode 0755). `--mount type=bind` would
/// refuse instead; berth has only the `-v` form.
pub fn create_bind_sources(container: &ContainerModel) -> Result<(), SpecError> {
    for user in &container.mounts {
        let UserMount::Bind {
            source,
            destination,
            ..
        } = user
        else {
            continue;
        };
        if source.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(source)
            .map_err(|error| SpecError::BindSource {
                source_path: source.display().to_string(),
                destination: destination.as_str().to_owned(),
                error,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
