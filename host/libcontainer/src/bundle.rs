//! Loading and validating an OCI runtime bundle (`config.json` + rootfs).
//!
//! Validation happens here, once, before anything is created: a bad bundle
//! leaves nothing behind (no state directory, cgroup or process).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, LinuxNamespaceType, Spec};

use crate::error::Error;
use crate::root::{Root, RootError};

/// A parsed bundle whose spec passed validation.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory (absolute).
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
    /// The rootfs (absolute, symlinks resolved).
    pub rootfs: PathBuf,
}

impl Bundle {
    /// Reads `<dir>/config.json`, parses it and validates it against what
    /// this runtime supports.
    pub fn load(dir: &Path) -> Result<Bundle, Error> {
        let dir = std::path::absolute(dir).map_err(|e| Error::io("resolve bundle path", dir, e))?;
        let config_path = dir.join("config.json");
        let bytes = std::fs::read(&config_path).map_err(|e| Error::ReadConfig {
            path: config_path.clone(),
            source: e,
        })?;
        let spec: Spec = serde_json::from_slice(&bytes).map_err(|e| Error::ParseConfig {
            path: config_path.clone(),
            source: e,
        })?;
        Bundle::from_spec(dir, spec)
    }

    /// Validates an already parsed spec for a bundle in `dir`: the rootfs
    /// and the process first, then the `linux` section, then the mount
    /// destinations against the rootfs.
    pub fn from_spec(dir: PathBuf, spec: Spec) -> Result<Bundle, Error> {
        let config_path = dir.join("config.json");
        let invalid = |reason: String| Error::InvalidConfig {
            path: config_path.clone(),
            reason,
        };
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| invalid("`root` is missing".into()))?;
        let rootfs = dir.join(root.path());
        let rootfs = match std::fs::canonicalize(&rootfs) {
            Ok(p) if p.is_dir() => p,
            _ => return Err(Error::RootfsMissing { path: rootfs }),
        };
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| invalid("`process` is missing".into()))?;
        validate_process(process).map_err(|e| invalid(e.to_string()))?;
        let linux = spec
            .linux()
            .as_ref()
            .ok_or_else(|| invalid("`linux` is missing".into()))?;
        check_linux(linux).map_err(|e| invalid(e.to_string()))?;
        check_hooks(&spec).map_err(|e| invalid(e.to_string()))?;
        check_mount_destinations(&spec, &rootfs, &config_path)?;
        Ok(Bundle { dir, spec, rootfs })
    }
}

/// Why a spec's `linux` section or hooks are refused: the reason of an
/// [`Error::InvalidConfig`].
#[derive(Debug, thiserror::Error)]
enum SpecRefusal {
    #[error("namespace {0} is listed twice")]
    NamespaceTwice(LinuxNamespaceType),
    #[error("the time namespace is not supported")]
    TimeNamespace,
    #[error("{typ} namespace path {} does not exist", path.display())]
    NamespacePathMissing {
        typ: LinuxNamespaceType,
        path: PathBuf,
    },
    #[error("{0} is not supported by this runtime")]
    Unsupported(&'static str),
    #[error("a mount namespace is required")]
    NoMountNamespace,
    #[error("a new user namespace needs linux.uidMappings and linux.gidMappings")]
    NoIdMaps,
    #[error(
        "createContainer and startContainer hooks (run inside the container) are not supported"
    )]
    InContainerHooks,
}

/// Checks the `linux` section: namespaces listed once, supported and
/// present, a mount namespace, id maps for a new user namespace, no field
/// this runtime does not implement.
fn check_linux(linux: &Linux) -> Result<(), SpecRefusal> {
    let mut seen = HashSet::new();
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(SpecRefusal::NamespaceTwice(ns.typ()));
        }
        if ns.typ() == LinuxNamespaceType::Time {
            return Err(SpecRefusal::TimeNamespace);
        }
        if let Some(path) = ns.path()
            && !path.exists()
        {
            return Err(SpecRefusal::NamespacePathMissing {
                typ: ns.typ(),
                path: path.clone(),
            });
        }
    }
    for (field, set) in [
        ("linux.personality", linux.personality().is_some()),
        ("linux.intelRdt", linux.intel_rdt().is_some()),
        (
            "linux.mountLabel",
            linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()),
        ),
    ] {
        if set {
            return Err(SpecRefusal::Unsupported(field));
        }
    }
    if !seen.contains(&LinuxNamespaceType::Mount) {
        // pivot_root needs a private mount namespace; runc's `--no-pivot`
        // chroot mode is not offered.
        return Err(SpecRefusal::NoMountNamespace);
    }
    let user_ns = seen.contains(&LinuxNamespaceType::User);
    if user_ns && linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
        let joined = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_some());
        if !joined {
            return Err(SpecRefusal::NoIdMaps);
        }
    }
    Ok(())
}

/// Refuses the hooks that run inside the container (this runtime runs
/// only the ones that run in the runtime's namespaces).
fn check_hooks(spec: &Spec) -> Result<(), SpecRefusal> {
    let set = |hooks: &Option<Vec<oci_spec::runtime::Hook>>| {
        hooks.as_ref().is_some_and(|h| !h.is_empty())
    };
    match spec.hooks() {
        Some(hooks) if set(hooks.create_container()) || set(hooks.start_container()) => {
            Err(SpecRefusal::InContainerHooks)
        }
        _ => Ok(()),
    }
}

/// Checks that every mount destination is absolute and resolves inside
/// `rootfs`.
fn check_mount_destinations(spec: &Spec, rootfs: &Path, config_path: &Path) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidConfig {
        path: config_path.to_path_buf(),
        reason,
    };
    let root = Root::open(rootfs).map_err(|e| invalid(e.to_string()))?;
    for mount in spec.mounts().iter().flatten() {
        let destination = mount.destination();
        if !destination.is_absolute() {
            return Err(invalid(format!(
                "mount destination {} is not absolute",
                destination.display()
            )));
        }
        // Stricter than the mounts themselves (which clamp at the
        // root): a symlink climbing out of the rootfs is a broken or
        // hostile bundle, and saying so beats mounting somewhere its
        // author did not mean.
        match root.check_confined(destination) {
            Ok(()) => {}
            Err(RootError::Escapes { symlink, .. }) => {
                return Err(Error::MountEscapes {
                    destination: destination.clone(),
                    rootfs: rootfs.to_path_buf(),
                    symlink,
                });
            }
            Err(e) if e.errno() == nix::errno::Errno::ELOOP => {
                return Err(invalid(format!(
                    "mount destination {} has a symlink loop",
                    destination.display()
                )));
            }
            Err(e) => {
                return Err(invalid(format!(
                    "mount destination {} cannot be resolved: {e}",
                    destination.display()
                )));
            }
        }
    }
    Ok(())
}

/// Why a `process` object is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidProcess {
    /// A field this runtime does not implement is set.
    #[error("{field} is not supported by this runtime")]
    Unsupported {
        /// The field, as the OCI spec names it (`process.apparmorProfile`).
        field: &'static str,
    },
    /// `process.args` is empty or its first entry is.
    #[error("process.args must name a program")]
    NoProgram,
    /// `process.cwd` is relative.
    #[error("process.cwd {} is not absolute", cwd.display())]
    RelativeCwd {
        /// The cwd as given.
        cwd: PathBuf,
    },
    /// An argument cannot become a C string.
    #[error("process.args entry {arg:?} contains a NUL byte")]
    NulInArg {
        /// The argument.
        arg: String,
    },
    /// An environment entry is not `NAME=value` or cannot become a C string.
    #[error("process.env entry {var:?} is not NAME=value")]
    MalformedEnv {
        /// The entry.
        var: String,
    },
}

/// Checks a `process` object (also used for `exec --process`).
pub(crate) fn validate_process(process: &oci_spec::runtime::Process) -> Result<(), InvalidProcess> {
    // Fields this runtime does not implement are refused rather than
    // silently ignored: a container must not run with less isolation or
    // other scheduling than its spec asks for.
    let unsupported = [
        (
            "process.apparmorProfile",
            process
                .apparmor_profile()
                .as_ref()
                .is_some_and(|p| !p.is_empty()),
        ),
        (
            "process.selinuxLabel",
            process
                .selinux_label()
                .as_ref()
                .is_some_and(|p| !p.is_empty()),
        ),
        ("process.scheduler", process.scheduler().is_some()),
        ("process.ioPriority", process.io_priority().is_some()),
        (
            "process.execCPUAffinity",
            process.exec_cpu_affinity().is_some(),
        ),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(InvalidProcess::Unsupported { field });
    }
    let args = process
        .args()
        .as_ref()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(InvalidProcess::NoProgram);
    }
    if !process.cwd().is_absolute() {
        return Err(InvalidProcess::RelativeCwd {
            cwd: process.cwd().clone(),
        });
    }
    if let Some(arg) = args.iter().find(|arg| arg.contains('\0')) {
        return Err(InvalidProcess::NulInArg { arg: arg.clone() });
    }
    if let Some(var) = process
        .env()
        .iter()
        .flatten()
        .find(|var| var.contains('\0') || !var.contains('='))
    {
        return Err(InvalidProcess::MalformedEnv { var: var.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> (tempfile::TempDir, Result<Bundle, Error>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let result = Bundle::load(dir.path());
        (dir, result)
    }

    const MINIMAL: &str = r#"{
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]
    }"#;

    #[test]
    fn minimal_bundle_loads() {
        let (dir, bundle) = bundle_with(MINIMAL);
        let bundle = bundle.unwrap();
        assert_eq!(
            bundle.rootfs,
            dir.path().canonicalize().unwrap().join("rootfs")
        );
    }

    #[test]
    fn malformed_json_names_the_file_and_position() {
        let (_dir, err) = bundle_with("{\"ociVersion\": ");
        let err = err.unwrap_err();
        let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            msg.contains("malformed bundle config") && msg.contains("config.json"),
            "{msg}"
        );
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn unknown_namespace_type_is_rejected() {
        let (_dir, err) = bundle_with(&MINIMAL.replace("\"pid\"", "\"bogus\""));
        let err = err.unwrap_err();
        let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn missing_rootfs_is_named() {
        let (dir, _) = bundle_with(MINIMAL);
        std::fs::remove_dir(dir.path().join("rootfs")).unwrap();
        let err = Bundle::load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::RootfsMissing { .. }), "{err}");
        assert!(err.to_string().contains("rootfs"), "{err}");
    }

    #[test]
    fn escaping_mount_destination_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::os::unix::fs::symlink("../../../..", dir.path().join("rootfs/evil")).unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            MINIMAL.replace("\"/proc\"", "\"/evil/tmp\""),
        )
        .unwrap();
        let err = Bundle::load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::MountEscapes { .. }), "{err}");
        assert!(err.to_string().contains("evil"), "{err}");
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let (_d, err) = bundle_with(&MINIMAL.replace(
            "\"cwd\": \"/\"",
            "\"cwd\": \"/\", \"apparmorProfile\": \"docker-default\"",
        ));
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("process.apparmorProfile")
        );
        let (_d, err) = bundle_with(&MINIMAL.replace(
            "\"linux\": {",
            "\"linux\": {\"personality\": {\"domain\": \"LINUX32\"}, ",
        ));
        assert!(err.unwrap_err().to_string().contains("linux.personality"));
    }

    #[test]
    fn empty_args_and_missing_mount_namespace_are_rejected() {
        let (_d, err) = bundle_with(&MINIMAL.replace("[\"sh\"]", "[]"));
        assert!(err.unwrap_err().to_string().contains("process.args"));
        let (_d, err) = bundle_with(&MINIMAL.replace("{\"type\": \"mount\"}, ", ""));
        assert!(err.unwrap_err().to_string().contains("mount namespace"));
    }
}
