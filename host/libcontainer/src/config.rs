//! What container init needs, prepared by the runtime before `clone`.
//!
//! The spec is parsed and converted once in the parent (strings to
//! `CString`s, capability names to bit masks, options to mount flags), so the
//! child runs a straight sequence of system calls: container start speed is a
//! product goal and the child must do as little as possible.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{
    Capabilities, Linux, LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespaceType, LinuxResources,
    PosixRlimitType, Process, Spec,
};

use crate::bundle::Bundle;
use crate::mounts::{MountOptions, parse_options};

/// How to get into namespaces.
#[derive(Debug, Clone)]
pub(crate) struct NamespacePlan {
    /// Namespaces created by `clone` itself.
    pub clone_flags: CloneFlags,
    /// Namespaces unshared by the child after it joined `join` (the cgroup
    /// namespace always: it must be created after the parent moved the
    /// child into its cgroup, or the namespace root would be the runtime's
    /// cgroup).
    pub unshare: CloneFlags,
    /// Namespaces to join by path in the child, the user namespace first.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// A PID namespace to join: the runtime enters it (for its children)
    /// around `clone`, because `setns` on a PID namespace only affects
    /// children of the caller.
    pub join_pid: Option<PathBuf>,
    /// Whether `clone` creates a user namespace (the parent then writes the
    /// id maps before the child continues).
    pub new_user: bool,
}

/// `clone` flag of a namespace type.
pub(crate) fn clone_flag(kind: LinuxNamespaceType) -> CloneFlags {
    match kind {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Name of a namespace type under `/proc/<pid>/ns/`.
pub(crate) fn proc_ns_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

impl NamespacePlan {
    /// Whether the child joins an existing namespace of type `kind` by path
    /// (PID namespaces are entered by the runtime, see `join_pid`).
    pub fn joins(&self, kind: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(k, _)| *k == kind)
    }

    /// Whether init ends up in a user namespace, new or joined.
    pub fn enters_user(&self) -> bool {
        self.new_user || self.joins(LinuxNamespaceType::User)
    }

    /// The plan for a new container.
    pub fn for_spec(spec: &Spec) -> NamespacePlan {
        let mut plan = NamespacePlan {
            clone_flags: CloneFlags::empty(),
            unshare: CloneFlags::empty(),
            join: Vec::new(),
            join_pid: None,
            new_user: false,
        };
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let user_joined = namespaces
            .iter()
            .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_some());
        for ns in &namespaces {
            let kind = ns.typ();
            match (ns.path(), kind) {
                (Some(path), LinuxNamespaceType::Pid) => plan.join_pid = Some(path.clone()),
                (Some(path), LinuxNamespaceType::User) => plan.join.insert(0, (kind, path.clone())),
                (Some(path), _) => plan.join.push((kind, path.clone())),
                (None, LinuxNamespaceType::Cgroup) => plan.unshare |= clone_flag(kind),
                (None, LinuxNamespaceType::User) => {
                    plan.new_user = true;
                    plan.clone_flags |= clone_flag(kind);
                }
                (None, LinuxNamespaceType::Pid) => plan.clone_flags |= clone_flag(kind),
                // Joining a user namespace happens in the child; namespaces
                // created after that belong to it, so they are unshared
                // there rather than created by clone.
                (None, _) if user_joined => plan.unshare |= clone_flag(kind),
                (None, _) => plan.clone_flags |= clone_flag(kind),
            }
        }
        plan
    }
}

/// What kind of mount a spec entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountKind {
    /// `bind`/`rbind` of a host path.
    Bind,
    /// `type: cgroup`: the container's own cgroups, runc style.
    Cgroup,
    /// Any other file system (`proc`, `tmpfs`, `devpts`, ...).
    Fs(String),
}

/// One spec mount, converted.
#[derive(Debug, Clone)]
pub(crate) struct MountEntry {
    /// Destination inside the container.
    pub destination: PathBuf,
    /// Source (absolute host path for binds; the fs name otherwise).
    pub source: Option<PathBuf>,
    pub kind: MountKind,
    pub options: MountOptions,
}

impl MountEntry {
    /// The name used in errors: the fs type, or `bind`.
    pub fn fstype(&self) -> String {
        match &self.kind {
            MountKind::Bind => "bind".into(),
            MountKind::Cgroup => "cgroup".into(),
            MountKind::Fs(t) => t.clone(),
        }
    }
}

/// A device node to create in `/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceEntry {
    /// Path inside the container.
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// runc's default device nodes (`libcontainer/specconv.AllowedDevices`,
/// the ones with a path): every container gets them.
fn default_devices() -> Vec<DeviceEntry> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/urandom", 1, 9),
        ("/dev/random", 1, 8),
    ]
    .into_iter()
    .map(|(path, major, minor)| DeviceEntry {
        path: PathBuf::from(path),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// The device cgroup rules of a container: the spec's, then runc's
/// always-allowed devices (`specconv.AllowedDevices`), so that `mknod` of
/// the default nodes and ptys work even under Docker's default deny-all
/// rule. A `linux.devices` node gets no rule of its own, as in runc
/// (`CreateCgroupConfig`): what the spec's rules allow of it is all it
/// gets, so `docker run --device /dev/x:/dev/x:r` stays read-only.
pub(crate) fn resources_with_default_devices(spec: &Spec) -> Option<LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut resources = linux.resources().clone().unwrap_or_default();
    let mut rules = resources.devices().clone().unwrap_or_default();
    let (b, c) = (LinuxDeviceType::B, LinuxDeviceType::C);
    for (typ, major, minor, access) in [
        (c, None, None, "m"),
        (b, None, None, "m"),
        (c, Some(1), Some(3), "rwm"),
        (c, Some(1), Some(8), "rwm"),
        (c, Some(1), Some(7), "rwm"),
        (c, Some(5), Some(0), "rwm"),
        (c, Some(1), Some(5), "rwm"),
        (c, Some(1), Some(9), "rwm"),
        (c, Some(5), Some(1), "rwm"),
        (c, Some(136), None, "rwm"),
        (c, Some(5), Some(2), "rwm"),
        (c, Some(10), Some(200), "rwm"),
    ] {
        rules.push(allow_rule(typ, major, minor, access));
    }
    resources.set_devices(Some(rules));
    Some(resources)
}

/// An allow rule of the device cgroup; `None` for major or minor is `*`.
fn allow_rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(true)
        .set_typ(Some(typ))
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_owned()));
    rule
}

/// Everything about the root file system.
#[derive(Debug, Clone)]
pub(crate) struct RootfsConfig {
    /// Host path of the rootfs.
    pub rootfs: PathBuf,
    /// Propagation of `/` in the new mount namespace (default `rslave`).
    pub propagation: MsFlags,
    pub mounts: Vec<MountEntry>,
    /// Whether to create device nodes (no when `/dev` is a bind mount).
    pub create_devices: bool,
    pub devices: Vec<DeviceEntry>,
    /// Bind device nodes from the host instead of `mknod` (user namespace:
    /// `mknod` is not allowed there).
    pub bind_devices: bool,
    pub masked_paths: Vec<PathBuf>,
    pub readonly_paths: Vec<PathBuf>,
    pub readonly_root: bool,
    /// The container has its own cgroup namespace: `cgroup` mounts are
    /// real cgroup file systems rather than binds.
    pub cgroupns: bool,
}

/// A resource limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Capability sets as bit masks (bit n = capability number n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The process to run (init's or an exec'd one).
#[derive(Debug, Clone)]
pub(crate) struct ProcessConfig {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    /// `args[0]` for messages and lookup.
    pub program: String,
    /// Directories of the process's `PATH`.
    pub path_dirs: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: u32,
    pub caps: Option<CapSets>,
    pub no_new_privs: bool,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub terminal: bool,
    /// `process.consoleSize` (rows, columns), set on the pty before the
    /// process runs (runc `setupConsole`).
    pub console_size: Option<(u16, u16)>,
}

fn cstring(s: &str) -> CString {
    // Validated in `bundle::validate_process`: no NUL bytes.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn cap_mask(set: Option<&Capabilities>) -> u64 {
    let mut mask = 0u64;
    for cap in set.into_iter().flatten() {
        // oci-spec serialises capabilities with their kernel names
        // ("CAP_CHOWN"); `caps` knows their numbers.
        let Ok(serde_json::Value::String(name)) = serde_json::to_value(cap) else {
            continue;
        };
        if let Ok(c) = name.parse::<caps::Capability>() {
            mask |= 1u64 << c.index();
        }
    }
    mask
}

fn rlimit_resource(kind: PosixRlimitType) -> libc::__rlimit_resource_t {
    match kind {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

impl ProcessConfig {
    /// Converts an OCI `process` (validated by `bundle::validate_process`).
    pub fn from_process(process: &Process) -> ProcessConfig {
        let args: Vec<String> = process.args().clone().unwrap_or_default();
        let env: Vec<String> = process.env().clone().unwrap_or_default();
        let path_dirs = env
            .iter()
            .find_map(|v| v.strip_prefix("PATH="))
            // runc's default when the process has no PATH (Go's LookPath
            // then sees the runtime's; a container should not).
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        let user = process.user();
        let caps = process.capabilities().as_ref().map(|c| CapSets {
            bounding: cap_mask(c.bounding().as_ref()),
            effective: cap_mask(c.effective().as_ref()),
            permitted: cap_mask(c.permitted().as_ref()),
            inheritable: cap_mask(c.inheritable().as_ref()),
            ambient: cap_mask(c.ambient().as_ref()),
        });
        let rlimits = process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| Rlimit {
                resource: rlimit_resource(r.typ()),
                name: serde_json::to_value(r.typ())
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_else(|| format!("{:?}", r.typ())),
                soft: r.soft(),
                hard: r.hard(),
            })
            .collect();
        ProcessConfig {
            program: args.first().cloned().unwrap_or_default(),
            args: args.iter().map(|a| cstring(a)).collect(),
            env: env.iter().map(|e| cstring(e)).collect(),
            path_dirs,
            cwd: process.cwd().clone(),
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask().unwrap_or(0o022),
            caps,
            no_new_privs: process.no_new_privileges().unwrap_or(false),
            rlimits,
            oom_score_adj: process.oom_score_adj(),
            terminal: process.terminal().unwrap_or(false),
            console_size: process.console_size().as_ref().map(|b| {
                (
                    u16::try_from(b.height()).unwrap_or(u16::MAX),
                    u16::try_from(b.width()).unwrap_or(u16::MAX),
                )
            }),
        }
    }
}

/// Everything container init does, in data.
#[derive(Debug, Clone)]
pub(crate) struct InitConfig {
    /// Name of the container's session keyring (`_ses.<id>`).
    pub keyring: CString,
    pub namespaces: NamespacePlan,
    pub rootfs: RootfsConfig,
    pub process: ProcessConfig,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctls: Vec<(String, String)>,
}

impl InitConfig {
    /// Converts a validated bundle.
    pub fn from_bundle(bundle: &Bundle, id: &str) -> InitConfig {
        let spec = &bundle.spec;
        let no_linux = Linux::default();
        let linux = spec.linux().as_ref().unwrap_or(&no_linux);
        let namespaces = NamespacePlan::for_spec(spec);
        let rootfs = RootfsConfig::from_bundle(bundle, linux, &namespaces);
        let mut sysctls: Vec<(String, String)> = linux
            .sysctl()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        sysctls.sort();
        let process = spec
            .process()
            .as_ref()
            .map(ProcessConfig::from_process)
            .unwrap_or_else(|| ProcessConfig::from_process(&Process::default()));
        InitConfig {
            keyring: cstring(&format!("_ses.{id}")),
            namespaces,
            rootfs,
            process,
            hostname: spec.hostname().clone(),
            domainname: spec.domainname().clone(),
            sysctls,
        }
    }
}

impl RootfsConfig {
    /// The mount tree of a validated bundle: its mounts, device nodes,
    /// masked and read-only paths; `namespaces` decides how devices and
    /// cgroup mounts are made.
    fn from_bundle(bundle: &Bundle, linux: &Linux, namespaces: &NamespacePlan) -> RootfsConfig {
        let mounts: Vec<MountEntry> = bundle
            .spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| MountEntry::from_spec(m, &bundle.dir))
            .collect();
        let dev_is_bind = mounts
            .iter()
            .any(|m| m.destination == Path::new("/dev") && m.kind == MountKind::Bind);
        let propagation = linux
            .rootfs_propagation()
            .as_deref()
            .and_then(crate::mounts::propagation_option)
            .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
        let paths = |list: &Option<Vec<String>>| -> Vec<PathBuf> {
            list.clone()
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect()
        };
        RootfsConfig {
            rootfs: bundle.rootfs.clone(),
            propagation,
            mounts,
            create_devices: !dev_is_bind,
            devices: device_entries(linux),
            bind_devices: namespaces.enters_user(),
            masked_paths: paths(linux.masked_paths()),
            readonly_paths: paths(linux.readonly_paths()),
            readonly_root: bundle
                .spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            cgroupns: namespaces.unshare.contains(CloneFlags::CLONE_NEWCGROUP)
                || namespaces.joins(LinuxNamespaceType::Cgroup),
        }
    }
}

impl MountEntry {
    /// Converts one spec mount; a relative bind source is taken relative
    /// to `bundle_dir`.
    fn from_spec(m: &oci_spec::runtime::Mount, bundle_dir: &Path) -> MountEntry {
        let mut options = parse_options(m.options().as_deref().unwrap_or_default());
        let typ = m.typ().clone().unwrap_or_default();
        let kind = if typ == "bind" || options.is_bind() {
            options.flags.insert(MsFlags::MS_BIND);
            MountKind::Bind
        } else if typ == "cgroup" || typ == "cgroup2" {
            MountKind::Cgroup
        } else {
            MountKind::Fs(typ)
        };
        let source = m.source().as_ref().map(|s| {
            if kind == MountKind::Bind && s.is_relative() {
                // OCI: a relative bind source is relative to the bundle.
                bundle_dir.join(s)
            } else {
                s.clone()
            }
        });
        MountEntry {
            destination: m.destination().clone(),
            source,
            kind,
            options,
        }
    }
}

/// The device nodes to create: runc's defaults, then the spec's
/// `linux.devices` (an entry replaces a default of the same path).
fn device_entries(linux: &Linux) -> Vec<DeviceEntry> {
    let mut devices = default_devices();
    for d in linux.devices().iter().flatten() {
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let entry = DeviceEntry {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        devices.retain(|existing| existing.path != entry.path);
        devices.push(entry);
    }
    devices
}

/// `path` as a C string (paths never contain NUL).
pub(crate) fn path_cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn namespaces_split_between_clone_unshare_and_join() {
        let s = spec(
            r#"{"linux": {"namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"},
                {"type": "network", "path": "/proc/1/ns/net"},
                {"type": "pid", "path": "/x"}
            ]}}"#,
        );
        let plan = NamespacePlan::for_spec(&s);
        assert_eq!(
            plan.clone_flags,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(plan.unshare, CloneFlags::CLONE_NEWCGROUP);
        assert_eq!(
            plan.join,
            vec![(LinuxNamespaceType::Network, PathBuf::from("/proc/1/ns/net"))]
        );
        assert_eq!(plan.join_pid, Some(PathBuf::from("/x")));
        assert!(!plan.new_user);
    }

    #[test]
    fn joined_user_namespace_comes_first_and_owns_new_namespaces() {
        let s = spec(
            r#"{"linux": {"namespaces": [
                {"type": "uts"}, {"type": "ipc", "path": "/i"}, {"type": "user", "path": "/u"}
            ]}}"#,
        );
        let plan = NamespacePlan::for_spec(&s);
        assert_eq!(
            plan.join[0],
            (LinuxNamespaceType::User, PathBuf::from("/u"))
        );
        assert_eq!(plan.unshare, CloneFlags::CLONE_NEWUTS);
        assert!(plan.clone_flags.is_empty());
    }

    #[test]
    fn process_converts_caps_rlimits_and_path() {
        let s = spec(
            r#"{"process": {
                "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]},
                "args": ["id", "-a"], "cwd": "/tmp",
                "env": ["PATH=/bin:/usr/bin", "HOME=/"],
                "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
                "noNewPrivileges": true
            }}"#,
        );
        let p = ProcessConfig::from_process(s.process().as_ref().unwrap());
        let caps = p.caps.unwrap();
        assert_eq!(caps.bounding, (1 << 0) | (1 << 5));
        assert_eq!(caps.effective, 1 << 5);
        assert_eq!(caps.ambient, 0);
        assert_eq!(p.rlimits[0].resource, libc::RLIMIT_NOFILE);
        assert_eq!(p.rlimits[0].name, "RLIMIT_NOFILE");
        assert_eq!((p.rlimits[0].soft, p.rlimits[0].hard), (512, 1024));
        assert_eq!(
            p.path_dirs,
            vec![PathBuf::from("/bin"), PathBuf::from("/usr/bin")]
        );
        assert_eq!(p.additional_gids, vec![10, 29]);
        assert!(p.no_new_privs);
        assert_eq!(p.umask, 0o022);
    }
}
