//! The extended attributes a container may own, and how they travel in
//! tar archives — one rule for the graph (layers, `docker cp`, export),
//! volume copy-up and the `berth cp` client.
//!
//! Only `user.*` and `security.capability` cross: `trusted.*` (overlayfs'
//! `trusted.overlay.*` among them) would let an archive steer the host's
//! overlayfs, and `security.selinux` belongs to the host's policy. In
//! archives they are PAX `SCHILY.xattr.<name>` records (from star; what
//! GNU tar, Go's `archive/tar` and moby `pkg/archive` read and write),
//! sorted by name so that the same tree gives the same bytes.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

/// The PAX record prefix of an extended attribute.
const PAX_PREFIX: &str = "SCHILY.xattr.";

/// The file capability attribute.
pub const CAPABILITY: &str = "security.capability";

/// Whether the attribute `name` crosses a copy or an archive.
pub fn allowed(name: &str) -> bool {
    name.starts_with("user.") || name == CAPABILITY
}

/// The allowed attributes of an open file or directory, sorted by name.
pub fn read_fd(fd: impl AsFd) -> io::Result<Vec<(String, Vec<u8>)>> {
    let fd = fd.as_fd();
    collect(
        |buf| rustix::fs::flistxattr(fd, buf),
        |name, buf| rustix::fs::fgetxattr(fd, name, buf),
    )
}

/// The allowed attributes of what is at `path`, sorted by name, without
/// following a symlink there (`llistxattr`/`lgetxattr`: a symlink's own,
/// which the `f*` calls cannot reach through an `O_PATH` handle). A file
/// system without extended attributes has none.
pub fn read_nofollow(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    collect(
        |buf| rustix::fs::llistxattr(path, buf),
        |name, buf| rustix::fs::lgetxattr(path, name, buf),
    )
}

/// Lists the names with `list`, keeps the allowed ones and reads each with
/// `get`; sorted by name.
fn collect(
    list: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
    get: impl Fn(&str, &mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 1024];
    let len = loop {
        match list(&mut names) {
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
            match get(name, &mut value) {
                Ok(n) => break Some(n),
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                // Removed since the listing: there is nothing to copy.
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

/// The allowed attributes of a tar entry's PAX records; the others are
/// dropped (moby `createTarFile` applies every `SCHILY.xattr.*` record;
/// we keep to the ones a container may own).
pub fn from_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
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

/// Writes `xattrs` as one PAX extended header, which applies to the entry
/// appended next; nothing when there are none (moby
/// `ReadSecurityXattrToTarHeader` and `FileInfoHeader`). A namespaced
/// capability is written in its portable form ([`portable_capability`]).
pub fn append_pax<W: Write>(
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

/// A `security.capability` value as moby writes it into archives
/// (`ReadSecurityXattrToTarHeader`): a revision 3 `vfs_ns_cap_data`
/// (linux/capability.h: the revision 2 layout plus the `rootid` of the
/// user namespace it belongs to, 24 bytes) becomes revision 2 by setting
/// the revision byte (the most significant byte of the little-endian
/// `magic_etc`) and dropping `rootid`, "as root UID makes no sense outside
/// the user namespace the archive is built in". Anything else is kept.
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
