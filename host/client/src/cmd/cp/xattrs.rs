//! Extended attributes of `berth cp`, carried as the daemon's archive
//! endpoints carry them (host/graph `fsutil::pax_xattrs` and
//! `append_pax_xattrs`): PAX `SCHILY.xattr.<name>` records, sorted by
//! name, limited to `user.*` and `security.capability`. The docker CLI
//! writes and applies them too (moby `pkg/archive` `FileInfoHeader`,
//! `ReadSecurityXattrToTarHeader`, `createTarFile`).
//!
//! The rule and the PAX records are the workspace's one
//! (`berth_fsutil::xattr`, at the bottom of the crate graph); what is the
//! client's own is how it applies them ([`apply`]).

use std::io;
use std::path::Path;

pub(super) use berth_fsutil::xattr::{CAPABILITY, append_pax, from_pax, read_nofollow as read};

/// Sets `xattrs` on what is at `path`, not following a symlink there.
/// Setting `security.capability` needs CAP_SETFCAP: without it
/// (`may_set_capability` false, the client not run as root) the attribute
/// is skipped and named in the returned warnings, as GNU tar skips what it
/// may not set. An attribute the kernel does not permit there (EPERM, e.g.
/// `user.*` on a symlink) is skipped with a warning too, as moby
/// `createTarFile` does; any other failure fails the copy, naming the
/// attribute.
pub(super) fn apply(
    path: &Path,
    xattrs: &[(String, Vec<u8>)],
    may_set_capability: bool,
) -> io::Result<Vec<String>> {
    let mut warnings = Vec::new();
    for (name, value) in xattrs {
        if name == CAPABILITY && !may_set_capability {
            warnings.push(format!(
                "{}: {name} not set: setting file capabilities needs root",
                path.display()
            ));
            continue;
        }
        match rustix::fs::lsetxattr(path, name.as_str(), value, rustix::fs::XattrFlags::empty()) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => warnings.push(format!(
                "{}: {name} not set: {}",
                path.display(),
                rustix::io::Errno::PERM
            )),
            Err(e) => {
                return Err(io::Error::new(
                    io::Error::from(e).kind(),
                    format!("setting {name} on {}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(warnings)
}
