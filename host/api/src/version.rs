//! API version negotiation.
//!
//! dockerd serves `/vX.Y/...` for every version between its minimum and its
//! current API version and treats unversioned paths as the current one. The
//! docker CLI pings first and downgrades to the `API-Version` header it gets
//! back, so advertising 1.43 is enough for a newer CLI to talk to us.

use std::fmt;
use std::str::FromStr;

/// The API version berthd advertises.
pub const CURRENT: ApiVersion = ApiVersion {
    major: 1,
    minor: 43,
};
/// The oldest API version berthd accepts.
pub const MINIMUM: ApiVersion = ApiVersion {
    major: 1,
    minor: 24,
};

/// A Docker Engine API version such as `1.43`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Always 1 so far.
    pub major: u16,
    /// The minor version.
    pub minor: u16,
}

/// A string that is not `MAJOR.MINOR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API version {input:?}: expected MAJOR.MINOR")]
pub struct ParseVersionError {
    /// The version string as given.
    pub input: String,
}

impl FromStr for ApiVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError {
            input: s.to_owned(),
        };
        let (major, minor) = major_minor(s).ok_or_else(err)?;
        Ok(ApiVersion {
            major: major.parse().map_err(|_| err())?,
            minor: minor.parse().map_err(|_| err())?,
        })
    }
}

/// The two digit runs of a `MAJOR.MINOR` string.
fn major_minor(s: &str) -> Option<(&str, &str)> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    s.split_once('.')
        .filter(|(major, minor)| digits(major) && digits(minor))
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a requested version cannot be served. The messages are dockerd's
/// (`api/server/middleware/version.go`), which clients match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Newer than [`CURRENT`].
    #[error("client version {requested} is too new. Maximum supported API version is {CURRENT}")]
    TooNew {
        /// What the client asked for.
        requested: ApiVersion,
    },
    /// Older than [`MINIMUM`].
    #[error(
        "client version {requested} is too old. Minimum supported API version is {MINIMUM}, please upgrade your client to a newer version"
    )]
    TooOld {
        /// What the client asked for.
        requested: ApiVersion,
    },
}

/// Checks that `requested` lies in [`MINIMUM`]..=[`CURRENT`].
pub fn check(requested: ApiVersion) -> Result<ApiVersion, VersionError> {
    if requested > CURRENT {
        Err(VersionError::TooNew { requested })
    } else if requested < MINIMUM {
        Err(VersionError::TooOld { requested })
    } else {
        Ok(requested)
    }
}

/// Splits a request path into its version prefix (if any) and the rest:
/// `/v1.41/containers/json` → `(Some("1.41"), "/containers/json")`.
///
/// Only a first segment of the shape `v<digits>.<digits>` counts as a
/// version, so `/version` stays unversioned.
pub fn split_path(path: &str) -> (Option<&str>, &str) {
    let Some(rest) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let (segment, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if major_minor(segment).is_some() {
        (Some(segment), if tail.is_empty() { "/" } else { tail })
    } else {
        (None, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_versions() {
        let v: ApiVersion = "1.41".parse().unwrap();
        assert_eq!(
            v,
            ApiVersion {
                major: 1,
                minor: 41
            }
        );
        assert!(v < CURRENT);
        assert!("1.9".parse::<ApiVersion>().unwrap() < "1.10".parse().unwrap());
        assert!("1".parse::<ApiVersion>().is_err());
        assert!("1.x".parse::<ApiVersion>().is_err());
        assert!("".parse::<ApiVersion>().is_err());
    }

    #[test]
    fn rejects_out_of_range_versions_with_dockers_messages() {
        let too_new = check("1.50".parse().unwrap()).unwrap_err();
        assert_eq!(
            too_new.to_string(),
            "client version 1.50 is too new. Maximum supported API version is 1.43"
        );
        let too_old = check("1.12".parse().unwrap()).unwrap_err();
        assert!(
            too_old
                .to_string()
                .starts_with("client version 1.12 is too old")
        );
        assert!(check(MINIMUM).is_ok() && check(CURRENT).is_ok());
    }

    #[test]
    fn splits_version_prefixes_only() {
        assert_eq!(split_path("/v1.43/_ping"), (Some("1.43"), "/_ping"));
        assert_eq!(split_path("/version"), (None, "/version"));
        assert_eq!(split_path("/v1.24"), (Some("1.24"), "/"));
        assert_eq!(split_path("/volumes"), (None, "/volumes"));
        assert_eq!(split_path("/vx.y/info"), (None, "/vx.y/info"));
    }
}
