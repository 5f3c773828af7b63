//! `HostConfig.GroupAdd` (`--group-add`): supplementary groups of the
//! container's processes, by name or number. Only the syntax is checked at
//! create; the names are resolved against the container's own
//! `/etc/group` when its process starts (moby `daemon/oci_linux.go`,
//! `getUser`, with runc's `user.GetAdditionalGroups`), since the file is
//! the image's.

use serde::{Deserialize, Serialize};

/// Largest gid Docker accepts (runc `user.maxID`, 2³¹ − 1).
pub const MAX_GID: u64 = (1 << 31) - 1;

/// A `GroupAdd` entry berth refuses at create.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// Empty, or with a character no `/etc/group` name has (`:` separates
    /// its fields, `,` its members, a line ends at a newline).
    #[error("invalid --group-add {0:?}: a group name or number, without ':', ',' or whitespace")]
    Malformed(String),
    /// A number above runc's range (runc's `ErrRange` message).
    #[error("invalid --group-add {0:?}: uids and gids must be in range 0-{MAX_GID}")]
    Range(String),
}

/// A checked `GroupAdd` entry: a name or a gid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupAdd(String);

impl GroupAdd {
    /// Checks one entry.
    pub fn new(entry: &str) -> Result<GroupAdd, GroupError> {
        if entry.is_empty()
            || entry
                .chars()
                .any(|c| c == ':' || c == ',' || c.is_whitespace() || c.is_control())
        {
            return Err(GroupError::Malformed(entry.to_owned()));
        }
        let numeric = entry.bytes().all(|b| b.is_ascii_digit());
        if numeric && entry.parse::<u64>().map_or(true, |n| n > MAX_GID) {
            return Err(GroupError::Range(entry.to_owned()));
        }
        Ok(GroupAdd(entry.to_owned()))
    }

    /// The name or number as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The gid when the entry is a number.
    pub fn gid(&self) -> Option<u32> {
        self.0.parse::<u32>().ok()
    }
}

impl TryFrom<String> for GroupAdd {
    type Error = GroupError;
    fn try_from(entry: String) -> Result<GroupAdd, GroupError> {
        GroupAdd::new(&entry)
    }
}

impl From<GroupAdd> for String {
    fn from(group: GroupAdd) -> String {
        group.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_in_range() {
        for ok in ["audio", "10", "0", "2147483647", "video-users", "_ssh"] {
            assert_eq!(GroupAdd::new(ok).map(|g| g.0), Ok(ok.to_owned()));
        }
        assert_eq!(GroupAdd::new("29").ok().and_then(|g| g.gid()), Some(29));
        assert_eq!(GroupAdd::new("audio").ok().and_then(|g| g.gid()), None);
        for bad in ["", "a:b", "a,b", "a b", "a\nb"] {
            assert_eq!(
                GroupAdd::new(bad),
                Err(GroupError::Malformed(bad.to_owned()))
            );
        }
        for big in ["2147483648", "99999999999999999999999"] {
            assert_eq!(GroupAdd::new(big), Err(GroupError::Range(big.to_owned())));
        }
        assert!(serde_json::from_str::<GroupAdd>(r#""a:b""#).is_err());
    }
}
