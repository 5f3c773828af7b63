//! Extended attributes through every tar berthd writes or reads (issue 10):
//! a file with capabilities (`setcap cap_net_bind_service+ep`) and a
//! `user.*` attribute keeps both through `docker load`, a running
//! container, `docker cp` out and in, `docker export`, a volume's
//! copy-up, `docker commit`, `docker save` and a `docker load` into
//! another daemon — as with dockerd, whose
//! `pkg/archive` writes and applies PAX `SCHILY.xattr.*` records. A
//! `trusted.*` record copied in never lands.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use berth_tests::daemon::Daemon;

/// `cap_net_bind_service+ep` as `setcap` writes it into
/// `security.capability`: a version 2 `struct vfs_cap_data`
/// (linux/capability.h), 20 bytes of little-endian u32s:
///
/// - `magic_etc`: `VFS_CAP_REVISION_2` (0x0200_0000) |
///   `VFS_CAP_FLAGS_EFFECTIVE` (0x1), so the permitted set is also made
///   effective at exec;
/// - `data[0]` (capabilities 0-31): permitted = 1 << 10
///   (`CAP_NET_BIND_SERVICE`), inheritable = 0;
/// - `data[1]` (capabilities 32-63): permitted = 0, inheritable = 0.
const NET_BIND_CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, // magic_etc
    0x00, 0x04, 0x00, 0x00, // data[0].permitted
    0x00, 0x00, 0x00, 0x00, // data[0].inheritable
    0x00, 0x00, 0x00, 0x00, // data[1].permitted
    0x00, 0x00, 0x00, 0x00, // data[1].inheritable
];

const CAP_KEY: &str = "SCHILY.xattr.security.capability";

/// An extended attribute of `path`, not following a symlink there.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let n = std::ffi::CString::new(name).expect("name without NUL");
    let mut buf = [0u8; 256];
    // SAFETY: two NUL-terminated strings and a buffer of the length given.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(r).ok().map(|len| buf[..len].to_vec())
}

/// One regular file entry of a layer tar, with PAX records before it.
fn add_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], pax: &[(&str, &[u8])]) {
    b.append_pax_extensions(pax.iter().copied())
        .expect("pax records");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_mtime(1_700_000_000);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, name, data).expect("append");
}

/// The image's own layer: `srv/capfile` (a text file) with the capability
/// and `user.berth`, and `srv/busybox`, a copy of the static busybox with
/// the capability alone, to see the kernel grant it in a container.
fn cap_layer() -> Vec<u8> {
    let busybox = fs::read(berth_tests::busybox::BUSYBOX)
        .expect("/bin/busybox is missing: install the Debian package `busybox-static`");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    b.append_data(&mut h, "srv/", std::io::empty())
        .expect("dir");
    add_file(
        &mut b,
        "srv/capfile",
        b"caps\n",
        &[
            (CAP_KEY, &NET_BIND_CAP),
            ("SCHILY.xattr.user.berth", b"yes"),
        ],
    );
    add_file(&mut b, "srv/busybox", &busybox, &[(CAP_KEY, &NET_BIND_CAP)]);
    b.into_inner().expect("layer tar")
}

/// Each entry's name and its `SCHILY.xattr.*` records.
fn xattr_records(tar_bytes: &[u8]) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for e in archive.entries().expect("tar") {
        let mut e = e.expect("entry");
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut records = BTreeMap::new();
        if let Some(exts) = e.pax_extensions().expect("pax") {
            for ext in exts {
                let ext = ext.expect("pax record");
                let key = ext.key().expect("utf-8 key");
                if let Some(xattr) = key.strip_prefix("SCHILY.xattr.") {
                    records.insert(xattr.to_owned(), ext.value_bytes().to_vec());
                }
            }
        }
        out.insert(name, records);
    }
    out
}

fn both(user_value: &[u8]) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("security.capability".to_owned(), NET_BIND_CAP.to_vec()),
        ("user.berth".to_owned(), user_value.to_vec()),
    ])
}

/// The root of a running container as the host sees it.
fn container_root(d: &Daemon, name: &str) -> PathBuf {
    let pid = d
        .docker(&["inspect", "-f", "{{.State.Pid}}", name])
        .ok()
        .trim()
        .to_owned();
    assert_ne!(pid, "0", "{name} is not running");
    PathBuf::from(format!("/proc/{pid}/root"))
}

#[track_caller]
fn assert_has_both(path: &Path, user_value: &[u8]) {
    assert_eq!(
        xattr(path, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..]),
        "security.capability of {}",
        path.display()
    );
    assert_eq!(
        xattr(path, "user.berth").as_deref(),
        Some(user_value),
        "user.berth of {}",
        path.display()
    );
}

/// What the kernel granted a non-root process that ran the image's
/// capability-marked busybox: its `CapEff` line.
fn effective_caps_of_marked_busybox(d: &Daemon, image: &str) -> String {
    let out = d
        .docker(&[
            "run",
            "--rm",
            "--user",
            "1000",
            image,
            "/srv/busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ])
        .ok();
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The layer tars of a `docker save` archive, in the image's order (its
/// `manifest.json`).
fn saved_layers(archive: &Path) -> Vec<Vec<u8>> {
    let mut members = BTreeMap::new();
    let file = fs::File::open(archive).expect("saved archive");
    let mut a = tar::Archive::new(file);
    for e in a.entries().expect("archive") {
        let mut e = e.expect("member");
        let name = e.path().expect("name").display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("member data");
        members.insert(name, data);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&members["manifest.json"]).expect("manifest.json");
    manifest[0]["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| members[l.as_str().expect("layer path")].clone())
        .collect()
}

#[test]
fn capabilities_and_user_xattrs_survive_run_cp_commit_save_and_load() {
    let d = Daemon::start();
    let work = tempfile::tempdir().expect("work");
    let w = work.path();

    // An image whose top layer's files carry the records.
    let archive = w.join("capimg.tar");
    berth_tests::image_archive::multi_layer_archive(&archive, &[cap_layer()], &["capimg:1"]);
    d.docker(&["load", "-i", archive.to_str().expect("utf-8")])
        .ok();

    // In a running container the files have them...
    d.docker(&["run", "-d", "--name", "c", "capimg:1", "sleep", "1000"])
        .ok();
    let root = container_root(&d, "c");
    assert_has_both(&root.join("srv/capfile"), b"yes");
    // ... and the kernel grants the capability to a non-root user.
    assert_eq!(
        effective_caps_of_marked_busybox(&d, "capimg:1"),
        "CapEff: 0000000000000400"
    );

    // docker cp out: the tar has both records.
    let out = d.docker(&["cp", "c:/srv/capfile", "-"]).ok();
    let records = xattr_records(out.as_bytes());
    assert_eq!(records["capfile"], both(b"yes"), "{records:?}");

    // docker export: the same records in the container's whole tree.
    let exported = w.join("exported.tar");
    d.docker(&["export", "-o", exported.to_str().expect("utf-8"), "c"])
        .ok();
    let records = xattr_records(&fs::read(&exported).expect("exported tar"));
    assert_eq!(records["srv/capfile"], both(b"yes"));

    // A new volume on /srv is filled from the image with them (copy-up).
    d.docker(&["run", "--rm", "-v", "capvol:/srv", "capimg:1", "true"])
        .ok();
    let mountpoint = d
        .docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", "capvol"])
        .ok();
    assert_has_both(&Path::new(mountpoint.trim()).join("capfile"), b"yes");

    // docker cp in: the allowed records land, trusted.* does not.
    let mut b = tar::Builder::new(Vec::new());
    add_file(
        &mut b,
        "incoming",
        b"in\n",
        &[
            (CAP_KEY, &NET_BIND_CAP),
            ("SCHILY.xattr.trusted.evil", b"x"),
            ("SCHILY.xattr.user.berth", b"in"),
        ],
    );
    let tar_in = b.into_inner().expect("tar");
    d.docker_with_input(&["cp", "-", "c:/srv"], Some(&tar_in))
        .ok();
    let incoming = root.join("srv/incoming");
    assert_has_both(&incoming, b"in");
    assert_eq!(xattr(&incoming, "trusted.evil"), None);

    // docker commit + save: the committed layer has the copied-in file's
    // records, the loaded layer the image's.
    d.docker(&["commit", "c", "capimg:2"]).ok();
    let saved = w.join("saved.tar");
    d.docker(&["save", "-o", saved.to_str().expect("utf-8"), "capimg:2"])
        .ok();
    let layers = saved_layers(&saved);
    assert!(layers.len() >= 3, "{} layers", layers.len());
    let committed = xattr_records(&layers[layers.len() - 1]);
    assert_eq!(committed["srv/incoming"], both(b"in"), "{committed:?}");
    assert!(
        !committed
            .values()
            .any(|r| r.keys().any(|k| k.starts_with("trusted."))),
        "{committed:?}"
    );
    let loaded = xattr_records(&layers[layers.len() - 2]);
    assert_eq!(loaded["srv/capfile"], both(b"yes"), "{loaded:?}");

    // docker load into another daemon, and run: the files still have them.
    let d2 = Daemon::start();
    d2.docker(&["load", "-i", saved.to_str().expect("utf-8")])
        .ok();
    d2.docker(&["run", "-d", "--name", "c2", "capimg:2", "sleep", "1000"])
        .ok();
    let root2 = container_root(&d2, "c2");
    assert_has_both(&root2.join("srv/capfile"), b"yes");
    assert_has_both(&root2.join("srv/incoming"), b"in");
    assert_eq!(
        effective_caps_of_marked_busybox(&d2, "capimg:2"),
        "CapEff: 0000000000000400"
    );
}
