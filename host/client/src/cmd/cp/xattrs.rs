//! Extended attributes of `berth cp`, carried as the daemon's archive
//! endpoints carry them (host/graph `fsutil::pax_xattrs` and
//! `append_pax_xattrs`): PAX `SCHILY.xattr.<name>` records, sorted by
//! name, limited to `user.*` and `security.capability`. The docker CLI
//! writes and applies them too (moby `pkg/archive` `FileInfoHeader`,
//! `ReadSecurityXattrToTarHeader`, `createTarFile`).
//!
//! A small copy of the graph's helpers rather than a dependency on
//! berth-graph: the client would otherwise link the whole graph driver,
//! whose helpers are crate-private.

use std::borrow::Cow;
use std::io;
use std::path::Path;

/// The PAX record prefix of an extended attribute (star's, which GNU tar,
/// Go's `archive/tar` and moby read and write).
const PAX_PREFIX: &str = "SCHILY.xattr.";

/// The file capability attribute.
const CAPABILITY: &str = "security.capability";

/// The attributes that cross a copy: the user's own and file capabilities,
/// as the daemon's rule (host/graph `fsutil::xattr_allowed`). `trusted.*`
/// (overlayfs' among them) and `security.selinux` belong to the host.
pub(super) fn allowed(name: &str) -> bool {
    name.starts_with("user.") || name == CAPABILITY
}

/// The allowed attributes of what is at `path`, not following a symlink
/// there, sorted by name so that the same tree gives the same archive.
/// A file system without extended attributes has none.
pub(super) fn read(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 1024];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Some(name) = std::str::from_utf8(name).ok().filter(|n| allowed(n)) else {
            continue;
        };
        let mut value = vec![0u8; 256];
        let n = loop {
            match rustix::fs::lgetxattr(path, name, &mut value) {
                Ok(n) => break Some(n),
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                // Removed since the listing: nothing to copy.
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(n) = n {
            value.truncate(n);
            out.push((name.to_owned(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `xattrs` as one PAX extended header, which applies to the entry
/// appended next; nothing when there are none. A namespaced capability
/// goes in its portable form ([`portable_capability`]).
pub(super) fn append_pax<W: io::Write>(
    builder: &mut tar::Builder<W>,
    xattrs: &[(String, Vec<u8>)],
) -> io::Result<()> {
    if xattrs.is_empty() {
        return Ok(());
    }
    let records: Vec<(String, Cow<'_, [u8]>)> = xattrs
        .iter()
        .map(|(name, value)| {
            let value = if name == CAPABILITY {
                portable_capability(value)
            } else {
                Cow::Borrowed(value.as_slice())
            };
            (format!("{PAX_PREFIX}{name}"), value)
        })
        .collect();
    builder.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_ref())))
}

/// moby `ReadSecurityXattrToTarHeader`: a revision 3 `vfs_ns_cap_data`
/// (linux/capability.h: revision 2 plus the `rootid` of its user
/// namespace, 24 bytes) is written as revision 2 (the revision byte set,
/// `rootid` dropped), since that root id means nothing outside the
/// namespace the archive is made in. Anything else is kept.
fn portable_capability(value: &[u8]) -> Cow<'_, [u8]> {
    const V2_SIZE: usize = 20;
    const V3_SIZE: usize = 24;
    const REVISION_BYTE: usize = 3;
    match value.get(REVISION_BYTE) {
        Some(3) if value.len() == V3_SIZE => {
            let mut v2 = value[..V2_SIZE].to_vec();
            v2[REVISION_BYTE] = 2;
            Cow::Owned(v2)
        }
        _ => Cow::Borrowed(value),
    }
}

/// The allowed attributes of a tar entry's PAX records; the others are
/// dropped.
pub(super) fn from_pax<R: io::Read>(
    entry: &mut tar::Entry<'_, R>,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let Some(exts) = entry.pax_extensions()? else {
        return Ok(out);
    };
    for ext in exts {
        let ext = ext?;
        let Ok(key) = ext.key() else { continue };
        if let Some(name) = key.strip_prefix(PAX_PREFIX).filter(|n| allowed(n)) {
            out.push((name.to_owned(), ext.value_bytes().to_vec()));
        }
    }
    Ok(out)
}

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
