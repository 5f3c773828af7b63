//! `berth cp` and extended attributes: `user.*` and `security.capability`
//! travel as PAX `SCHILY.xattr.<name>` records both ways, as the daemon's
//! archive endpoints and the docker CLI carry them; others stay behind.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use super::{extract_local, pack_local};

/// A revision 2 `vfs_cap_data` granting CAP_NET_BIND_SERVICE, effective
/// (linux/capability.h).
const NET_BIND_CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, // magic_etc: revision 2, effective
    0x00, 0x04, 0x00, 0x00, // permitted[0]: 1 << 10
    0x00, 0x00, 0x00, 0x00, // inheritable[0]
    0x00, 0x00, 0x00, 0x00, // permitted[1]
    0x00, 0x00, 0x00, 0x00, // inheritable[1]
];

fn set(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty()).unwrap_or_else(|e| {
        panic!(
            "setting {name} on {} (needs root and a file system with user xattrs): {e}",
            path.display()
        )
    });
}

fn get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("reading {name} of {}: {e}", path.display()),
    }
}

/// Each entry's name and its `SCHILY.xattr.*` records.
fn xattr_records(tar_bytes: &[u8]) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut records = Vec::new();
        if let Some(exts) = entry.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                if let Some(key) = ext.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    records.push((key.to_owned(), ext.value_bytes().to_vec()));
                }
            }
        }
        out.insert(name.trim_end_matches('/').to_owned(), records);
    }
    out
}

/// A tree with allowed and host-only attributes.
fn tree(root: &Path) -> std::path::PathBuf {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    std::fs::write(src.join("sub/g"), b"g").unwrap();
    set(&src.join("f"), "user.b", b"2");
    set(&src.join("f"), "user.a", b"1");
    set(&src.join("f"), "security.capability", &NET_BIND_CAP);
    set(&src.join("f"), "trusted.host", b"host only");
    set(&src.join("sub"), "user.d", b"d");
    src
}

fn pack(source: &Path, base: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pack_local(
        &mut out,
        source,
        source.parent().unwrap(),
        &OsString::from(base),
        &None,
    )
    .unwrap();
    out
}

#[test]
fn a_packed_tree_carries_the_allowed_xattrs_as_pax_records() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let records = xattr_records(&pack(&src, "src"));
    assert_eq!(
        records["src/f"],
        [
            ("security.capability".to_owned(), NET_BIND_CAP.to_vec()),
            ("user.a".to_owned(), b"1".to_vec()),
            ("user.b".to_owned(), b"2".to_vec()),
        ],
        "{records:?}"
    );
    assert_eq!(records["src/sub"], [("user.d".to_owned(), b"d".to_vec())]);
    assert_eq!(records["src/sub/g"], []);
    assert_eq!(records["src"], []);
    // A single file keeps its own too.
    let records = xattr_records(&pack(&src.join("f"), "f"));
    assert_eq!(records["f"].len(), 3, "{records:?}");
}

#[test]
fn extraction_applies_the_allowed_xattrs_and_drops_the_others() {
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([
            ("SCHILY.xattr.user.y", &b"y"[..]),
            ("SCHILY.xattr.security.capability", &NET_BIND_CAP[..]),
            ("SCHILY.xattr.trusted.evil", &b"e"[..]),
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_mode(0o755);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "f", &b"x"[..]).unwrap();
    builder
        .append_pax_extensions([("SCHILY.xattr.user.d", &b"d"[..])])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o755);
    header.set_entry_type(tar::EntryType::Directory);
    builder.append_data(&mut header, "d", &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap();

    let dir = tempfile::tempdir().unwrap();
    extract_local(&bytes[..], dir.path(), &[]).unwrap();
    let f = dir.path().join("f");
    assert_eq!(get(&f, "user.y").as_deref(), Some(&b"y"[..]));
    assert_eq!(
        get(&f, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(get(&f, "trusted.evil"), None);
    assert_eq!(get(&f, "trusted.overlay.opaque"), None);
    assert_eq!(std::fs::read(&f).unwrap(), b"x");
    assert_eq!(
        get(&dir.path().join("d"), "user.d").as_deref(),
        Some(&b"d"[..])
    );
}

#[test]
fn a_copied_tree_keeps_its_xattrs_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    extract_local(&pack(&src, "copy")[..], &out, &[]).unwrap();
    let f = out.join("copy/f");
    assert_eq!(get(&f, "user.a").as_deref(), Some(&b"1"[..]));
    assert_eq!(get(&f, "user.b").as_deref(), Some(&b"2"[..]));
    assert_eq!(
        get(&f, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(get(&f, "trusted.host"), None);
    assert_eq!(
        get(&out.join("copy/sub"), "user.d").as_deref(),
        Some(&b"d"[..])
    );
    assert_eq!(std::fs::read(out.join("copy/sub/g")).unwrap(), b"g");
}

/// Without root a file capability cannot be set: it is skipped with a
/// warning naming it, and the user's attributes are still applied.
#[test]
fn without_root_a_capability_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"f").unwrap();
    let wanted = [
        ("security.capability".to_owned(), NET_BIND_CAP.to_vec()),
        ("user.a".to_owned(), b"1".to_vec()),
    ];
    let warnings = super::xattrs::apply(&f, &wanted, false).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("security.capability") && warnings[0].contains("needs root"),
        "{warnings:?}"
    );
    assert_eq!(get(&f, "security.capability"), None);
    assert_eq!(get(&f, "user.a").as_deref(), Some(&b"1"[..]));
    // As root it is set, and nothing is said.
    assert_eq!(
        super::xattrs::apply(&f, &wanted, true).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        get(&f, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
}

/// An attribute the kernel does not permit there (EPERM: `user.*` on a
/// symlink, xattr(7)) is skipped with a warning, as moby `createTarFile`
/// does; any other failure fails the copy, naming the attribute.
#[test]
fn a_refused_attribute_warns_and_another_failure_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ln");
    std::os::unix::fs::symlink("target", &link).unwrap();
    let warnings =
        super::xattrs::apply(&link, &[("user.x".to_owned(), b"1".to_vec())], true).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("user.x"), "{warnings:?}");
    let f = dir.path().join("f");
    std::fs::write(&f, b"f").unwrap();
    // Larger than any attribute value may be (XATTR_SIZE_MAX, 64 KiB).
    let err =
        super::xattrs::apply(&f, &[("user.big".to_owned(), vec![0; 70_000])], true).unwrap_err();
    assert!(err.to_string().contains("setting user.big on"), "{err}");
}

/// A namespaced (revision 3) capability is archived in its portable
/// revision 2 form, as moby writes it.
#[test]
fn a_namespaced_capability_is_archived_as_revision_2() {
    let mut v3 = NET_BIND_CAP.to_vec();
    v3[3] = 3;
    v3.extend_from_slice(&1000u32.to_le_bytes());
    let mut builder = tar::Builder::new(Vec::new());
    super::xattrs::append_pax(&mut builder, &[("security.capability".to_owned(), v3)]).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "f", &b""[..]).unwrap();
    let records = xattr_records(&builder.into_inner().unwrap());
    assert_eq!(
        records["f"],
        [("security.capability".to_owned(), NET_BIND_CAP.to_vec())]
    );
}
