//! Which `berth:plugin` WIT versions this host implements.
//!
//! The WIT package is versioned by frozen folders (`wit/since_vX.Y.Z`); the
//! host keeps one bindings module per folder (`bindings::v1`, ...). A plugin
//! built against WIT `W` runs on a host whose bindings version `B` has the
//! same major version and `W <= B`: minor versions only add, so a plugin
//! built for 1.0 works with 1.3 bindings, while a plugin built for 1.4 may
//! call functions a 1.3 host lacks. The host supports the current and the
//! previous major version (DESIGN.md, "Plugins"); while only 1.x exists, the
//! previous major has no bindings.

use semver::Version;

/// The WIT folders this host carries bindings for, newest first, with the
/// module serving each.
pub const FOLDERS: &[(Version, BindingsVersion)] = &[
    (Version::new(1, 3, 0), BindingsVersion::V1_3),
    (Version::new(1, 2, 0), BindingsVersion::V1_2),
    (Version::new(1, 1, 0), BindingsVersion::V1_1),
    (Version::new(1, 0, 0), BindingsVersion::V1),
];

/// The newest WIT version of each major this host supports, newest first.
pub const SUPPORTED: &[Version] = &[Version::new(1, 3, 0)];

/// Which bindings module serves a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingsVersion {
    /// `wit/since_v1.0.0`, served by the `bindings::v1` module.
    V1,
    /// `wit/since_v1.1.0`, served by the `bindings::v1_1` module.
    V1_1,
    /// `wit/since_v1.2.0`: its new `registry-policy` world is served by
    /// the `bindings::v1_2` module; the worlds it carries forward unchanged
    /// by `bindings::v1_1` (see `world::WorldPre::new`).
    V1_2,
    /// `wit/since_v1.3.0`: its changed `network-policy` world is served by
    /// the `bindings::v1_3` module; the worlds it carries forward unchanged
    /// by the bindings of the version that last changed them.
    V1_3,
}

/// Human-readable list of supported versions, for errors.
pub fn describe_supported() -> String {
    SUPPORTED
        .iter()
        .map(|v| format!("{v} (plugins built for {}.0.0 to {v})", v.major))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bindings that serve a plugin built against `wanted`, or `None` when
/// this host cannot run it: the newest folder of the same major that is not
/// newer than `wanted` (its exports carry that folder's interface names, up
/// to semver), provided `wanted` is not newer than what this host supports.
pub fn bindings_for(wanted: &Version) -> Option<BindingsVersion> {
    // Pre-release WIT versions are development snapshots: never compatible.
    if !wanted.pre.is_empty() {
        return None;
    }
    let newest = SUPPORTED.iter().find(|host| host.major == wanted.major)?;
    if wanted > newest {
        return None;
    }
    FOLDERS
        .iter()
        .find(|(folder, _)| folder.major == wanted.major && folder <= wanted)
        .map(|(_, bindings)| *bindings)
}

/// The WIT version in a component's import or export name such as
/// `berth:plugin/job@1.0.0`, if it names a `berth:plugin` interface.
pub fn version_in_name(name: &str) -> Option<Result<Version, semver::Error>> {
    let rest = name.strip_prefix("berth:plugin/")?;
    let (_, version) = rest.split_once('@')?;
    Some(Version::parse(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn same_major_not_newer_is_served_by_its_minor_folder() {
        assert_eq!(bindings_for(&v("1.0.0")), Some(BindingsVersion::V1));
        assert_eq!(bindings_for(&v("1.0.1")), Some(BindingsVersion::V1));
        assert_eq!(bindings_for(&v("1.1.0")), Some(BindingsVersion::V1_1));
        assert_eq!(bindings_for(&v("1.2.0")), Some(BindingsVersion::V1_2));
        assert_eq!(bindings_for(&v("1.2.1")), Some(BindingsVersion::V1_2));
        assert_eq!(bindings_for(&v("1.3.0")), Some(BindingsVersion::V1_3));
    }

    #[test]
    fn newer_minor_other_major_and_prerelease_are_not() {
        for wanted in [
            "1.4.0",
            "1.3.1",
            "2.0.0",
            "0.9.0",
            "1.0.0-rc.1",
            "1.1.0-rc.1",
            "1.3.0-rc.1",
        ] {
            assert_eq!(bindings_for(&v(wanted)), None, "{wanted}");
        }
    }

    #[test]
    fn every_major_supported_has_its_folders() {
        for newest in SUPPORTED {
            assert!(FOLDERS.iter().any(|(f, _)| f == newest), "{newest}");
            let base = Version::new(newest.major, 0, 0);
            assert!(bindings_for(&base).is_some(), "{base}");
        }
    }

    #[test]
    fn versions_are_read_from_component_names() {
        assert_eq!(
            version_in_name("berth:plugin/job@1.0.0").unwrap().unwrap(),
            v("1.0.0")
        );
        assert!(version_in_name("berth:plugin/job@x").unwrap().is_err());
        assert!(version_in_name("wasi:cli/stdout@0.2.0").is_none());
        assert!(version_in_name("describe").is_none());
    }

    #[test]
    fn supported_versions_are_described() {
        assert_eq!(
            describe_supported(),
            "1.3.0 (plugins built for 1.0.0 to 1.3.0)"
        );
    }
}
