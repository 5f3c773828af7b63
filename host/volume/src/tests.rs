use super::*;
use crate::mount::MountCall;

fn driver() -> (tempfile::TempDir, LocalDriver) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("berth.redb")).unwrap();
    let driver = LocalDriver::new(dir.path().join("volumes"), store);
    (dir, driver)
}

fn request(name: &str) -> CreateVolume {
    CreateVolume {
        name: name.into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        ..CreateVolume::default()
    }
}

#[test]
fn names_follow_mobys_rule() {
    for good in ["ab", "a1", "data.v2", "my_vol-1", "0x"] {
        assert!(validate_name(good).is_ok(), "{good}");
    }
    for bad in [
        "a", "", "a/b", "../x", "-ab", ".ab", "_ab", "a b", "a:b", "é1",
    ] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
    assert_eq!(
        validate_name("a/b").unwrap_err().to_string(),
        "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    );
}

#[test]
fn create_makes_the_directory_and_the_record_and_is_idempotent() {
    let (_dir, d) = driver();
    let mut req = request("data");
    req.labels.insert("k".into(), "v".into());
    let (record, created) = d.create(req).unwrap();
    assert!(created);
    assert_eq!(
        (record.driver.as_str(), record.labels["k"].as_str()),
        ("local", "v")
    );
    assert!(d.mountpoint("data").is_dir());
    assert!(d.is_empty("data").unwrap());
    // Again: the existing volume, labels as first created.
    let (again, created) = d.create(request("data")).unwrap();
    assert!(!created);
    assert_eq!(again, record);
    assert_eq!(d.list().unwrap(), [record]);
}

#[test]
fn bad_requests_create_nothing() {
    let (dir, d) = driver();
    assert!(matches!(
        d.create(request("a/b")),
        Err(VolumeError::InvalidName { .. })
    ));
    let mut other = request("ab");
    other.driver = "nfs".into();
    let err = d.create(other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "create ab: error looking up volume plugin nfs: plugin \"nfs\" not found"
    );
    let mut opts = request("ab");
    opts.options.insert("type".into(), "nfs".into());
    assert_eq!(
        d.create(opts).unwrap_err().to_string(),
        "create ab: missing required option: \"device\""
    );
    assert!(d.list().unwrap().is_empty());
    assert!(!dir.path().join("volumes").join("ab").exists());
}

#[test]
fn remove_deletes_record_and_directory() {
    let (_dir, d) = driver();
    d.create(request("data")).unwrap();
    std::fs::write(d.mountpoint("data").join("f"), b"1234").unwrap();
    assert_eq!(d.size("data").unwrap(), 4);
    d.remove("data").unwrap();
    assert!(!d.mountpoint("data").exists());
    assert_eq!(
        d.remove("data").unwrap_err().to_string(),
        "get data: no such volume"
    );
    assert_eq!(
        d.get("data").unwrap_err().to_string(),
        "get data: no such volume"
    );
}

#[test]
fn reconcile_removes_directories_without_records() {
    let (dir, d) = driver();
    d.create(request("kept")).unwrap();
    // A create cut short before its commit, or a remove after its commit.
    std::fs::create_dir_all(dir.path().join("volumes/orphan/_data")).unwrap();
    std::fs::write(dir.path().join("volumes/orphan/_data/f"), b"x").unwrap();
    // A record whose directory is gone.
    std::fs::remove_dir_all(d.mountpoint("kept")).unwrap();
    assert_eq!(d.reconcile().unwrap(), ["orphan"]);
    assert!(!dir.path().join("volumes/orphan").exists());
    assert!(d.mountpoint("kept").is_dir());
}

#[test]
fn size_counts_hard_links_once_and_does_not_follow_symlinks() {
    let (_dir, d) = driver();
    d.create(request("data")).unwrap();
    let data = d.mountpoint("data");
    std::fs::create_dir(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/a"), vec![0u8; 100]).unwrap();
    std::fs::hard_link(data.join("sub/a"), data.join("b")).unwrap();
    std::os::unix::fs::symlink("/etc", data.join("l")).unwrap();
    assert_eq!(d.size("data").unwrap(), 100 + "/etc".len() as u64);
}

#[test]
fn copy_up_copies_the_images_tree_into_an_empty_volume_only() {
    let (dir, d) = driver();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("srv/data/sub")).unwrap();
    std::fs::write(rootfs.join("srv/data/sub/f"), b"image").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", rootfs.join("srv/data/link")).unwrap();
    std::fs::set_permissions(
        rootfs.join("srv/data"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    d.create(request("data")).unwrap();
    assert!(d.copy_up("data", &rootfs, "/srv/data").unwrap());
    let data = d.mountpoint("data");
    assert_eq!(std::fs::read(data.join("sub/f")).unwrap(), b"image");
    // A symlink stays a symlink: never followed on the host.
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    assert_eq!(data.metadata().unwrap().mode() & 0o7777, 0o750);
    // Not empty any more: a second copy-up leaves it alone.
    std::fs::write(rootfs.join("srv/data/new"), b"x").unwrap();
    assert!(!d.copy_up("data", &rootfs, "/srv/data").unwrap());
    assert!(!data.join("new").exists());
    // Nothing there in the image: nothing copied.
    d.create(request("other")).unwrap();
    assert!(!d.copy_up("other", &rootfs, "/missing").unwrap());
}

#[test]
fn copy_up_resolves_the_mount_point_inside_the_rootfs() {
    let (dir, d) = driver();
    let rootfs = dir.path().join("rootfs");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("secret")).unwrap();
    std::fs::write(outside.join("secret/key"), b"host").unwrap();
    std::fs::create_dir_all(rootfs.join("inside")).unwrap();
    std::fs::write(rootfs.join("inside/ok"), b"image").unwrap();
    // An image whose mount point is an absolute symlink to a host path:
    // it resolves to the rootfs's own /inside... or to nothing.
    std::os::unix::fs::symlink(&outside, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../inside", rootfs.join("climb")).unwrap();
    d.create(request("v1")).unwrap();
    assert!(!d.copy_up("v1", &rootfs, "/abs/secret").unwrap());
    assert!(d.is_empty("v1").unwrap());
    assert!(d.copy_up("v1", &rootfs, "/climb").unwrap());
    assert_eq!(
        std::fs::read(d.mountpoint("v1").join("ok")).unwrap(),
        b"image"
    );
}

#[test]
fn a_volume_with_options_is_mounted_for_its_first_holder_and_unmounted_after_its_last() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    let mut req = request("tmp");
    for (k, v) in [
        ("type", "tmpfs"),
        ("device", "tmpfs"),
        ("o", "size=10m,noexec"),
    ] {
        req.options.insert(k.into(), v.into());
    }
    d.create(req).unwrap();
    d.create(request("plain")).unwrap();
    assert!(fake.calls().is_empty(), "nothing mounted at create");
    d.mount("plain", "c1").unwrap();
    d.mount("tmp", "c1").unwrap();
    d.mount("tmp", "c2").unwrap();
    let target = d.mountpoint("tmp");
    assert_eq!(
        fake.calls(),
        [MountCall::Mount {
            device: "tmpfs".into(),
            fstype: "tmpfs".into(),
            data: "size=10m".into(),
            target: target.clone(),
        }]
    );
    d.unmount("tmp", "c1").unwrap();
    assert!(d.is_mounted("tmp"), "c2 still holds it");
    d.unmount("tmp", "c2").unwrap();
    d.unmount("tmp", "c2").unwrap();
    d.unmount("plain", "c1").unwrap();
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(fake.calls()[1], MountCall::Unmount(target));
    assert!(!d.is_mounted("tmp"));
}

#[test]
fn a_failed_mount_is_a_clear_error_and_leaves_nothing_held() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    let mut req = request("bad");
    for (k, v) in [
        ("type", "tmpfs"),
        ("device", RecordingMounter::FAIL_DEVICE),
        ("o", "size=x"),
    ] {
        req.options.insert(k.into(), v.into());
    }
    d.create(req).unwrap();
    let err = d.mount("bad", "c1").unwrap_err().to_string();
    let path = d.mountpoint("bad").display().to_string();
    assert_eq!(
        err,
        format!(
            "error while mounting volume '{path}': failed to mount local volume: mount fail:{path}, data: size=x: Invalid argument (os error 22)"
        )
    );
    assert!(!d.is_mounted("bad"));
    d.unmount("bad", "c1").unwrap();
    assert!(fake.calls().is_empty(), "no unmount of what never mounted");
}

/// `cap_net_bind_service+ep` as `setcap` writes it: a version 2
/// `vfs_cap_data` (linux/capability.h), little-endian: `magic_etc`
/// (`VFS_CAP_REVISION_2` | `VFS_CAP_FLAGS_EFFECTIVE`), then permitted and
/// inheritable for capabilities 0-31 (bit 10 permitted) and 32-63.
const NET_BIND_CAP: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

fn set_xattr(path: &std::path::Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", path.display()));
}

fn xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("getxattr {name} on {}: {e}", path.display()),
    }
}

#[test]
fn copy_up_keeps_allowed_xattrs_and_fifos_and_leaves_devices_out() {
    use std::os::unix::fs::FileTypeExt;
    let (dir, d) = driver();
    let rootfs = dir.path().join("rootfs");
    let src = rootfs.join("srv/data");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("ping"), b"#!/bin/sh\n").unwrap();
    set_xattr(&src.join("ping"), "user.x", b"1");
    set_xattr(&src.join("ping"), "security.capability", &NET_BIND_CAP);
    set_xattr(&src.join("ping"), "trusted.foo", b"host only");
    set_xattr(&src.join("sub"), "user.d", b"d");
    set_xattr(&src, "user.root", b"r");
    let mknod = |name: &str, kind, mode, dev| {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join(name),
            kind,
            rustix::fs::Mode::from_raw_mode(mode),
            dev,
        )
        .unwrap();
    };
    mknod("pipe", rustix::fs::FileType::Fifo, 0o640, 0);
    mknod(
        "null",
        rustix::fs::FileType::CharacterDevice,
        0o666,
        rustix::fs::makedev(1, 3),
    );
    std::fs::set_permissions(
        src.join("pipe"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    d.create(request("data")).unwrap();
    assert!(d.copy_up("data", &rootfs, "/srv/data").unwrap());
    let data = d.mountpoint("data");
    let ping = data.join("ping");
    assert_eq!(xattr(&ping, "user.x").as_deref(), Some(&b"1"[..]));
    assert_eq!(
        xattr(&ping, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(xattr(&ping, "trusted.foo"), None);
    assert_eq!(
        xattr(&data.join("sub"), "user.d").as_deref(),
        Some(&b"d"[..])
    );
    assert_eq!(xattr(&data, "user.root").as_deref(), Some(&b"r"[..]));
    let pipe = std::fs::symlink_metadata(data.join("pipe")).unwrap();
    assert!(pipe.file_type().is_fifo());
    assert_eq!(pipe.mode() & 0o7777, 0o640);
    assert!(!data.join("null").exists(), "device nodes are not copied");
}

/// A volume `name` with a tmpfs of its own.
fn tmpfs_volume(d: &LocalDriver, name: &str) {
    let mut req = request(name);
    for (k, v) in [("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")] {
        req.options.insert(k.into(), v.into());
    }
    d.create(req).unwrap();
}

#[test]
fn restore_mounts_gives_mounts_back_to_running_users_and_unmounts_the_rest() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    for name in ["held", "orphan", "down"] {
        tmpfs_volume(&d, name);
    }
    tmpfs_volume(&d, "stuck");
    fake.left_mounted(
        &d.mountpoint("stuck"),
        RecordingMounter::FAIL_UNMOUNT_DEVICE,
    );
    d.create(request("plain")).unwrap();
    // What the daemon before this one left mounted.
    fake.left_mounted(&d.mountpoint("held"), "tmpfs");
    fake.left_mounted(&d.mountpoint("orphan"), "tmpfs");
    let users = std::collections::HashMap::from([
        ("held".to_owned(), vec!["c1".to_owned(), "c2".to_owned()]),
        ("down".to_owned(), vec!["c3".to_owned()]),
        ("plain".to_owned(), vec!["c1".to_owned()]),
    ]);
    assert_eq!(d.restore_mounts(&users).unwrap(), ["orphan"]);
    assert_eq!(
        fake.calls(),
        [
            MountCall::Unmount(d.mountpoint("orphan")),
            MountCall::Unmount(d.mountpoint("stuck")),
        ],
        "only the mounts nobody holds go"
    );
    // One that would not go stays known as up: its next user shares it.
    assert!(d.is_mounted("stuck") && d.holders("stuck").is_empty());
    let before = fake.calls().len();
    d.mount("stuck", "c6").unwrap();
    assert_eq!(fake.calls().len(), before);
    let _ = d.unmount("stuck", "c6");
    assert!(d.is_mounted("held"));
    assert!(!d.is_mounted("down"), "a mount that is down is not held");
    // The holders are back: a new user shares the mount, the last
    // holder's release unmounts it.
    let before = fake.calls().len();
    d.mount("held", "c4").unwrap();
    for holder in ["c1", "c2", "c4"] {
        d.unmount("held", holder).unwrap();
    }
    assert_eq!(
        fake.calls()[before..],
        [MountCall::Unmount(d.mountpoint("held"))]
    );
    // The volume that was down is mounted by its next user.
    d.mount("down", "c5").unwrap();
    assert!(
        matches!(fake.calls().last(), Some(MountCall::Mount { target, .. }) if *target == d.mountpoint("down"))
    );
}

#[test]
fn an_unmount_that_fails_releases_the_hold_but_keeps_the_mount_for_the_next_user() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    let mut req = request("stuck");
    for (k, v) in [
        ("type", "tmpfs"),
        ("device", RecordingMounter::FAIL_UNMOUNT_DEVICE),
    ] {
        req.options.insert(k.into(), v.into());
    }
    d.create(req).unwrap();
    d.mount("stuck", "c1").unwrap();
    let path = d.mountpoint("stuck");
    // moby `localVolume.Unmount`: the count goes down whatever happens,
    // and a mount still up stays known as mounted.
    assert_eq!(
        d.unmount("stuck", "c1").unwrap_err().to_string(),
        format!(
            "error while unmounting volume path '{}': Device or resource busy (os error 16)",
            path.display()
        )
    );
    assert!(d.holders("stuck").is_empty());
    assert!(d.is_mounted("stuck"));
    // The next user shares it rather than mounting another on top.
    d.mount("stuck", "c2").unwrap();
    assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
    assert_eq!(d.holders("stuck"), ["c2".to_owned()].into());
}

#[test]
fn releasing_a_mount_that_is_gone_anyway_is_no_error() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    tmpfs_volume(&d, "tv");
    d.mount("tv", "c1").unwrap();
    fake.unmounted_outside(&d.mountpoint("tv"));
    d.unmount("tv", "c1").unwrap();
    assert!(!d.is_mounted("tv"));
    // Its next user mounts it again.
    d.mount("tv", "c2").unwrap();
    assert!(matches!(fake.calls().last(), Some(MountCall::Mount { .. })));
}

#[test]
fn remove_unmounts_a_volume_mount_first_and_refuses_when_it_cannot() {
    let (_dir, d) = driver();
    let fake = RecordingMounter::default();
    let d = d.with_mounter(std::sync::Arc::new(fake.clone()));
    // A bind volume left mounted: its directory must not be emptied
    // through the mount (that would be the host directory's content).
    tmpfs_volume(&d, "up");
    let up = d.mountpoint("up");
    fake.left_mounted(&up, "tmpfs");
    d.remove("up").unwrap();
    assert_eq!(fake.calls(), [MountCall::Unmount(up)]);
    tmpfs_volume(&d, "stuck");
    let stuck = d.mountpoint("stuck");
    fake.left_mounted(&stuck, RecordingMounter::FAIL_UNMOUNT_DEVICE);
    assert_eq!(
        d.remove("stuck").unwrap_err().to_string(),
        format!(
            "error while unmounting volume path '{}': Device or resource busy (os error 16)",
            stuck.display()
        )
    );
    assert!(d.get("stuck").is_ok() && stuck.is_dir(), "nothing removed");
    // Held (a create copying into it): moby's refusal.
    tmpfs_volume(&d, "held");
    d.mount("held", "create:c1").unwrap();
    assert_eq!(
        d.remove("held").unwrap_err().to_string(),
        "remove held: volume has active mounts"
    );
    assert!(d.get("held").is_ok());
}
