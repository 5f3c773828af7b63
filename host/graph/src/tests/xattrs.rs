//! Extended attributes through the layer tars the graph writes (commit,
//! save, push): the allowed ones (`user.*`, `security.capability`) go out
//! as PAX `SCHILY.xattr.*` records and come back on extraction, as moby
//! `pkg/archive` keeps them; `trusted.*` never leaves the host.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use berth_model::graph::archive::CommitRequest;

use super::{Fixture, Tar};
use crate::extract::{ExtractOptions, extract};
use crate::fsutil::WhiteoutFormat;

const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/// A `security.capability` value granting `cap_net_bind_service+ep`: a
/// version 2 `struct vfs_cap_data` (linux/capability.h), 20 bytes, all
/// little-endian u32: `magic_etc` = `VFS_CAP_REVISION_2` (0x0200_0000) |
/// `VFS_CAP_FLAGS_EFFECTIVE` (1), then `{permitted, inheritable}` for
/// capabilities 0-31 (permitted: bit 10, `CAP_NET_BIND_SERVICE`) and for
/// 32-63 (none). What `setcap cap_net_bind_service+ep` writes.
pub(crate) const NET_BIND_CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, // magic_etc
    0x00, 0x04, 0x00, 0x00, // permitted[0]: 1 << 10
    0x00, 0x00, 0x00, 0x00, // inheritable[0]
    0x00, 0x00, 0x00, 0x00, // permitted[1]
    0x00, 0x00, 0x00, 0x00, // inheritable[1]
];

pub(crate) fn set(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", path.display()));
}

pub(crate) fn get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("getxattr {name} on {}: {e}", path.display()),
    }
}

/// Gives `path` the allowed `user.x` and `security.capability`, and a
/// `trusted.foo` that must not be written.
pub(crate) fn decorate(path: &Path) {
    set(path, "user.x", b"1");
    set(path, "security.capability", &NET_BIND_CAP);
    set(path, "trusted.foo", b"host only");
}

/// Each entry's name and its PAX records (key, value).
pub(crate) fn pax_records(tar_bytes: &[u8]) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut records = Vec::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                records.push((ext.key().unwrap().to_owned(), ext.value_bytes().to_vec()));
            }
        }
        out.insert(name, records);
    }
    out
}

/// The records [`decorate`] gives a file, as they must be written.
pub(crate) fn expected() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "SCHILY.xattr.security.capability".to_owned(),
            NET_BIND_CAP.to_vec(),
        ),
        ("SCHILY.xattr.user.x".to_owned(), b"1".to_vec()),
    ]
}

#[test]
fn a_layer_tar_carries_allowed_xattrs_as_sorted_pax_records_and_extracts_back() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    std::fs::create_dir_all(layer.join("bin")).unwrap();
    std::fs::write(layer.join("bin/ping"), "#!/bin/sh\n").unwrap();
    decorate(&layer.join("bin/ping"));
    std::fs::create_dir(layer.join("d")).unwrap();
    set(&layer.join("d"), "user.dir", b"d");
    std::fs::write(layer.join("plain"), "p").unwrap();
    std::os::unix::fs::symlink("bin/ping", layer.join("ln")).unwrap();

    let mut bytes = Vec::new();
    crate::layer_tar::write_layer_tar(&layer, &mut bytes).unwrap();
    let records = pax_records(&bytes);
    assert_eq!(records["bin/ping"], expected(), "{records:?}");
    assert_eq!(
        records["d"],
        [("SCHILY.xattr.user.dir".to_owned(), b"d".to_vec())]
    );
    assert!(records["plain"].is_empty());
    assert!(records["ln"].is_empty());
    let all: Vec<&String> = records.values().flatten().map(|(k, _)| k).collect();
    assert!(!all.iter().any(|k| k.contains("trusted")), "{all:?}");

    // The same tree gives the same bytes (the diff id).
    let mut again = Vec::new();
    crate::layer_tar::write_layer_tar(&layer, &mut again).unwrap();
    assert_eq!(bytes, again);

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    extract(
        &mut tar::Archive::new(bytes.as_slice()),
        &out,
        ExtractOptions {
            format: WhiteoutFormat::Overlay,
            chown: true,
        },
        None,
    )
    .unwrap();
    let ping = out.join("bin/ping");
    assert_eq!(get(&ping, "user.x").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        get(&ping, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(get(&ping, "trusted.foo"), None);
    assert_eq!(get(&out.join("d"), "user.dir").as_deref(), Some(&b"d"[..]));
}

#[test]
fn commit_and_save_keep_a_files_capabilities_and_load_restores_them() {
    let f = Fixture::overlay();
    f.import(&Tar::new().dir("bin/").build(), Some("base"))
        .unwrap();
    f.graph.create_rootfs(C, "base").unwrap();
    let upper = f.graph.root().join("containers").join(C).join("upper");
    std::fs::create_dir(upper.join("bin")).unwrap();
    std::fs::write(upper.join("bin/ping"), "#!/bin/sh\n").unwrap();
    decorate(&upper.join("bin/ping"));

    f.graph
        .commit(&CommitRequest {
            container_id: C.into(),
            repo: "snap".into(),
            tag: "1".into(),
            ..Default::default()
        })
        .unwrap();
    let details = f.graph.inspect("snap:1").unwrap();
    let diff_id = &details.layers[1];
    let ping = f.layer_diff(diff_id).join("bin/ping");
    assert_eq!(get(&ping, "user.x").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        get(&ping, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(get(&ping, "trusted.foo"), None);

    // docker save: the committed layer's tar has the records.
    let mut saved = Vec::new();
    f.graph.save(&["snap:1".into()], &mut saved).unwrap();
    let hex = diff_id.strip_prefix("sha256:").unwrap();
    let mut layer_tar = None;
    let mut archive = tar::Archive::new(Cursor::new(&saved));
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("blobs/sha256").join(hex) {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            layer_tar = Some(data);
        }
    }
    let layer_tar = layer_tar.expect("the committed layer is in the saved archive");
    assert_eq!(pax_records(&layer_tar)["bin/ping"], expected());

    // docker load into another graph: the file has them again.
    let g = Fixture::vfs();
    g.graph.load(Cursor::new(saved)).unwrap();
    let loaded = g.layer_diff(diff_id).join("bin/ping");
    assert_eq!(get(&loaded, "user.x").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        get(&loaded, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
}

#[test]
fn a_namespaced_v3_capability_is_written_as_v2_as_moby_does() {
    // `vfs_ns_cap_data`: the v2 layout with revision 3 and a trailing
    // `rootid` (here 100000, a user namespace's root the host does not
    // map to 0, so the kernel keeps it as v3).
    let mut v3 = NET_BIND_CAP.to_vec();
    v3[3] = 0x03;
    v3.extend_from_slice(&100_000u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "f").unwrap();
    set(&dir.path().join("f"), "security.capability", &v3);
    assert_eq!(
        get(&dir.path().join("f"), "security.capability").as_deref(),
        Some(&v3[..]),
        "the kernel kept the v3 form"
    );
    let mut bytes = Vec::new();
    crate::layer_tar::write_layer_tar(dir.path(), &mut bytes).unwrap();
    assert_eq!(
        pax_records(&bytes)["f"],
        [(
            "SCHILY.xattr.security.capability".to_owned(),
            NET_BIND_CAP.to_vec()
        )]
    );
}
