//! `Config.User` → uid, gid and supplementary groups, resolved against the
//! container's own `/etc/passwd` and `/etc/group`, with the rules of
//! runc's `libcontainer/user.GetExecUser`, which Docker uses:
//!
//! - `""` means root (uid 0, gid 0);
//! - `name` or `uid`: the first passwd entry that matches gives uid, gid and
//!   home; a numeric uid without an entry is used as is, with gid 0;
//! - `user:group`: the group (name or gid) replaces the primary gid; a
//!   numeric gid without an entry is used as is;
//! - supplementary groups are those of `/etc/group` that list the user by
//!   name, and only when the group was not given explicitly.

use std::path::Path;

use berth_model::container::GroupAdd;

use super::SpecError;
use super::rootfs::read_in_root;

/// Largest uid/gid Docker accepts (`user.maxID`, 2³¹ − 1).
const MAX_ID: u64 = (1 << 31) - 1;

/// The identity the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub additional_gids: Vec<u32>,
    /// Home directory from passwd (`/` when unknown), for `HOME`.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Parses `/etc/passwd`, skipping comments and malformed lines as runc does.
fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(PasswdEntry {
            name: f.first().copied()?,
            uid: f.get(2)?.parse().ok()?,
            gid: f.get(3)?.parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

/// Parses `/etc/group`.
fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        Some(GroupEntry {
            name: f.first().copied()?,
            gid: f.get(2)?.parse().ok()?,
            members: f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    })
}

fn numeric_id(s: &str) -> Option<Result<u32, ()>> {
    let n: u64 = s.parse().ok()?;
    Some(if n <= MAX_ID { Ok(n as u32) } else { Err(()) })
}

/// Resolves `spec` against the text of passwd and group files (`None`:
/// the file does not exist).
pub fn resolve_user(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, SpecError> {
    let fail = |reason: String| SpecError::User {
        user: spec.to_owned(),
        reason,
    };
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let uid_arg = numeric_id(user_arg);
    let gid_arg = numeric_id(group_arg);
    if let Some(Err(())) = uid_arg {
        return Err(fail(format!("uid {user_arg} is out of range")));
    }
    if let Some(Err(())) = gid_arg {
        return Err(fail(format!("gid {group_arg} is out of range")));
    }

    let matched = passwd.and_then(|text| {
        passwd_entries(text)
            .find(|e| match (user_arg, uid_arg) {
                ("", _) => e.uid == 0,
                (_, Some(Ok(uid))) => e.uid == uid,
                (name, _) => e.name == name,
            })
            .map(|e| (e.name.to_owned(), e.uid, e.gid, e.home.to_owned()))
    });
    let mut user = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".to_owned(),
    };
    let mut user_name = None;
    match matched {
        Some((name, uid, gid, home)) => {
            user.uid = uid;
            user.gid = gid;
            if !home.is_empty() {
                user.home = home;
            }
            user_name = Some(name);
        }
        None if user_arg.is_empty() => {}
        None => match uid_arg {
            Some(Ok(uid)) => user.uid = uid,
            _ => {
                return Err(fail(format!(
                    "unable to find user {user_arg}: no matching entries in passwd file"
                )));
            }
        },
    }

    if !group_arg.is_empty() {
        let found = group.and_then(|text| {
            group_entries(text)
                .find(|g| match gid_arg {
                    Some(Ok(gid)) => g.gid == gid,
                    _ => g.name == group_arg,
                })
                .map(|g| g.gid)
        });
        user.gid = match (found, gid_arg) {
            (Some(gid), _) => gid,
            (None, Some(Ok(gid))) => gid,
            _ => {
                return Err(fail(format!(
                    "unable to find group {group_arg}: no matching entries in group file"
                )));
            }
        };
    } else if let (Some(name), Some(text)) = (&user_name, group) {
        user.additional_gids = group_entries(text)
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }
    Ok(user)
}

/// `GroupAdd` → gids, with runc's `user.GetAdditionalGroups` rules (moby
/// `getUser`): an entry is the first group of the file whose name or gid
/// it is; a number without an entry is used as is; a name without one is
/// an error (runc's message). No group file: numbers only.
pub fn add_groups(group_add: &[GroupAdd], group: Option<&str>) -> Result<Vec<u32>, SpecError> {
    let mut gids: Vec<u32> = Vec::new();
    for entry in group_add {
        let found = group.and_then(|text| {
            group_entries(text)
                .find(|g| g.name == entry.as_str() || Some(g.gid) == entry.gid())
                .map(|g| g.gid)
        });
        let gid = found.or(entry.gid()).ok_or_else(|| {
            SpecError::GroupAdd(format!(
                "Unable to find group {}: no matching entries in group file",
                entry.as_str()
            ))
        })?;
        if !gids.contains(&gid) {
            gids.push(gid);
        }
    }
    Ok(gids)
}

/// [`add_groups`] against the rootfs's `/etc/group` (read inside it, as
/// [`resolve_user_in_rootfs`] reads it).
pub fn add_groups_in_rootfs(rootfs: &Path, group_add: &[GroupAdd]) -> Result<Vec<u32>, SpecError> {
    if group_add.is_empty() {
        return Ok(Vec::new());
    }
    let group = read_in_root(rootfs, "/etc/group")
        .map_err(|error| SpecError::ReadRootfs { error })?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    add_groups(group_add, group.as_deref())
}

/// Resolves `spec` against the rootfs's `/etc/passwd` and `/etc/group`,
/// following symlinks inside the rootfs only. A passwd or group file that
/// is not a regular file (a FIFO would block the start forever) or is
/// larger than [`super::MAX_IMAGE_FILE`] is an error, with or without a
/// user to look up: the image is broken.
pub fn resolve_user_in_rootfs(rootfs: &Path, spec: &str) -> Result<ExecUser, SpecError> {
    let read = |name: &str| -> Result<Option<String>, SpecError> {
        read_in_root(rootfs, name)
            .map(|bytes| bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(|error| SpecError::ReadRootfs { error })
    };
    let passwd = read("/etc/passwd")?;
    let group = read("/etc/group")?;
    resolve_user(spec, passwd.as_deref(), group.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        broken line\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        berth:x:1000:1000:berth test user:/home/berth:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:berth,daemon\n\
        audio:x:29:berth\n\
        nogroup:x:65534:\n\
        berth:x:1000:\n";

    fn resolve(spec: &str) -> Result<ExecUser, SpecError> {
        resolve_user(spec, Some(PASSWD), Some(GROUP))
    }

    fn user(uid: u32, gid: u32, extra: &[u32], home: &str) -> ExecUser {
        ExecUser {
            uid,
            gid,
            additional_gids: extra.to_vec(),
            home: home.into(),
        }
    }

    #[test]
    fn empty_means_root() {
        assert_eq!(resolve("").expect("root"), user(0, 0, &[], "/root"));
        assert_eq!(
            resolve_user("", None, None).expect("root"),
            user(0, 0, &[], "/")
        );
    }

    #[test]
    fn names_and_uids_take_gid_home_and_supplementary_groups_from_the_files() {
        let berth = user(1000, 1000, &[10, 29], "/home/berth");
        assert_eq!(resolve("berth").expect("name"), berth);
        assert_eq!(resolve("1000").expect("uid"), berth);
        assert_eq!(
            resolve("daemon").expect("daemon"),
            user(1, 1, &[10], "/usr/sbin")
        );
    }

    #[test]
    fn an_explicit_group_replaces_the_gid_and_drops_supplementary_groups() {
        assert_eq!(
            resolve("berth:audio").expect("names"),
            user(1000, 29, &[], "/home/berth")
        );
        assert_eq!(
            resolve("1000:10").expect("ids"),
            user(1000, 10, &[], "/home/berth")
        );
        assert_eq!(
            resolve("berth:4242").expect("unknown gid"),
            user(1000, 4242, &[], "/home/berth")
        );
    }

    #[test]
    fn unknown_numeric_ids_are_used_as_they_are() {
        assert_eq!(resolve("4242").expect("uid"), user(4242, 0, &[], "/"));
        assert_eq!(
            resolve("4242:4343").expect("uid:gid"),
            user(4242, 4343, &[], "/")
        );
        assert_eq!(
            resolve_user("7:8", None, None).expect("no files"),
            user(7, 8, &[], "/")
        );
    }

    #[test]
    fn unknown_names_fail_with_runcs_message() {
        let err = resolve("ghost").expect_err("no such user");
        assert!(
            err.to_string()
                .contains("unable to find user ghost: no matching entries in passwd file"),
            "{err}"
        );
        let err = resolve("berth:ghosts").expect_err("no such group");
        assert!(
            err.to_string()
                .contains("unable to find group ghosts: no matching entries in group file"),
            "{err}"
        );
        assert!(resolve_user("berth", None, None).is_err());
        assert!(resolve("4294967296").is_err());
        assert!(resolve("2147483648").is_err());
    }

    #[test]
    fn reads_the_files_from_a_fixture_rootfs() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("etc")).expect("etc");
        std::fs::write(root.path().join("etc/passwd"), PASSWD).expect("passwd");
        std::fs::write(root.path().join("etc/group"), GROUP).expect("group");
        assert_eq!(
            resolve_user_in_rootfs(root.path(), "berth").expect("resolve"),
            user(1000, 1000, &[10, 29], "/home/berth")
        );
    }

    #[test]
    fn symlinks_cannot_reach_the_hosts_files() {
        // An image whose /etc/passwd points at an absolute path must read
        // that path inside the rootfs, never the host's file.
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("etc")).expect("etc");
        std::fs::create_dir_all(root.path().join("elsewhere")).expect("dir");
        std::fs::write(
            root.path().join("elsewhere/passwd"),
            "inside:x:77:77::/in:/bin/sh\n",
        )
        .expect("passwd");
        std::os::unix::fs::symlink("/elsewhere/passwd", root.path().join("etc/passwd"))
            .expect("symlink");
        let resolved = resolve_user_in_rootfs(root.path(), "inside").expect("resolve");
        assert_eq!(resolved.uid, 77);
        std::os::unix::fs::symlink("../../../../../../etc/group", root.path().join("etc/group"))
            .expect("symlink");
        // The group symlink climbs out, but is clamped to the rootfs, where
        // /etc/group is the symlink itself: a loop, not the host's file.
        assert!(resolve_user_in_rootfs(root.path(), "inside:root").is_err());
    }

    #[test]
    #[allow(unsafe_code)] // mkfifo(3) has no safe wrapper in this crate's dependencies
    fn a_fifo_or_an_oversized_passwd_is_a_prompt_clear_error() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("etc")).expect("etc");
        let passwd = root.path().join("etc/passwd");
        let c_path = std::ffi::CString::new(passwd.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0, "mkfifo");
        // Opening the FIFO for reading would block this test forever.
        for spec in ["", "berth"] {
            let err = resolve_user_in_rootfs(root.path(), spec).expect_err("a FIFO");
            let msg = err.to_string();
            assert!(
                msg.contains("/etc/passwd") && msg.contains("FIFO, not a regular file"),
                "{msg}"
            );
        }
        std::fs::remove_file(&passwd).expect("rm");
        let big = "x:x:1:1::/:/bin/sh\n".repeat(60_000);
        std::fs::write(&passwd, big).expect("big passwd");
        let err = resolve_user_in_rootfs(root.path(), "x").expect_err("too large");
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
    }
}
