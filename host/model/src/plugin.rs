//! The plugin vocabulary shared by the plugin host (which loads plugins)
//! and the client (whose `berth plugin new` writes them): the worlds of the
//! `berth:plugin` WIT package and the plugin name rule, defined once so the
//! client never writes a plugin that berthd refuses.

use std::fmt;
use std::str::FromStr;

/// The world a plugin implements (a world of the `berth:plugin` WIT
/// package, see `wit/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Adds jobs to the Engine's handler table.
    JobHandler,
    /// The graph driver's layout policy.
    GraphPolicy,
    /// The network driver's policy.
    NetworkPolicy,
    /// Registry credentials.
    RegistryAuth,
    /// Authorization of every API request (WIT 1.1.0 and newer).
    Authz,
    /// Which held credential goes to which registry, without seeing
    /// secrets (WIT 1.2.0 and newer).
    RegistryPolicy,
}

impl World {
    /// Every world, in declaration order.
    pub const ALL: [World; 6] = [
        World::JobHandler,
        World::GraphPolicy,
        World::NetworkPolicy,
        World::RegistryAuth,
        World::Authz,
        World::RegistryPolicy,
    ];

    /// The WIT name of the world, as manifests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            World::JobHandler => "job-handler",
            World::GraphPolicy => "graph-policy",
            World::NetworkPolicy => "network-policy",
            World::RegistryAuth => "registry-auth",
            World::Authz => "authz",
            World::RegistryPolicy => "registry-policy",
        }
    }

    /// The first `berth:plugin` WIT version that has the world: a plugin
    /// built against an older one cannot implement it.
    pub fn since(self) -> semver::Version {
        match self {
            World::Authz => semver::Version::new(1, 1, 0),
            World::RegistryPolicy => semver::Version::new(1, 2, 0),
            _ => semver::Version::new(1, 0, 0),
        }
    }

    /// Policies are pure decisions: no capabilities, short deadlines.
    pub fn is_policy(self) -> bool {
        self != World::JobHandler
    }

    /// The interface the world exports besides `describe`.
    pub fn export_interface(self) -> &'static str {
        match self {
            World::JobHandler => "job",
            World::GraphPolicy => "graph-layout",
            World::NetworkPolicy => "network",
            World::RegistryAuth => "credentials",
            World::Authz => "authorization",
            World::RegistryPolicy => "credential-choice",
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of a closed set (a world, a capability), with the
/// names that would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?} (expected one of: {})", expected.join(", "))]
pub struct UnknownName {
    /// What was being named (`"world"`, `"capability"`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names accepted.
    pub expected: Vec<&'static str>,
}

impl UnknownName {
    /// The member of `all` whose `name` is `s`; otherwise an error listing
    /// the names of `all`.
    pub fn find<T: Copy, const N: usize>(
        what: &'static str,
        s: &str,
        all: [T; N],
        name: fn(T) -> &'static str,
    ) -> Result<T, UnknownName> {
        all.into_iter()
            .find(|v| name(*v) == s)
            .ok_or_else(|| UnknownName {
                what,
                name: s.to_owned(),
                expected: all.map(name).to_vec(),
            })
    }
}

impl FromStr for World {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, UnknownName> {
        UnknownName::find("world", s, World::ALL, World::as_str)
    }
}

/// Whether `name` is a valid plugin or job name: `[a-z0-9][a-z0-9._-]*`,
/// at most 64 bytes. Names become file names (scratch directories, cache
/// entries) and CLI words, so they never contain `/` or start with `.`.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worlds_parse_their_own_names_and_refuse_others_listing_them() {
        for world in World::ALL {
            assert_eq!(world.as_str().parse::<World>(), Ok(world));
            assert_eq!(world.to_string(), world.as_str());
        }
        let err = "job".parse::<World>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown world \"job\" (expected one of: job-handler, graph-policy, \
             network-policy, registry-auth, authz, registry-policy)"
        );
    }

    #[test]
    fn names_are_file_and_cli_safe() {
        for ok in ["a", "graph-layout", "x1.2_b", &"a".repeat(64)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", ".a", "A", "a/b", "a b", &"a".repeat(65), "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
