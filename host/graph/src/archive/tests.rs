use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use berth_model::files::{ContainerFs, ExtractOptions, FsMount, go_mode};

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: PathBuf,
}

/// A container root with `/etc/shadow`, `/dir/{a,sub/b}`, and a host
/// directory beside it that every test checks is never read or written.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rootfs");
    let host = dir.path().join("host");
    fs::create_dir_all(root.join("etc")).expect("etc");
    fs::write(root.join("etc/shadow"), "container shadow").expect("shadow");
    fs::create_dir_all(root.join("dir/sub")).expect("dir");
    fs::write(root.join("dir/a"), "aaa").expect("a");
    fs::write(root.join("dir/sub/b"), "bb").expect("b");
    fs::create_dir_all(host.join("etc")).expect("host");
    fs::write(host.join("etc/shadow"), "HOST SHADOW").expect("host shadow");
    Fixture {
        _dir: dir,
        root,
        host,
    }
}

fn cfs(f: &Fixture) -> ContainerFs {
    ContainerFs {
        root: f.root.clone(),
        mounts: Vec::new(),
        readonly_rootfs: false,
    }
}

/// (name, link target or content) of each entry.
fn entries(tar_bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").display().to_string();
        let value = match e.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => format!(
                "-> {}",
                e.link_name().expect("link").expect("target").display()
            ),
            _ => {
                let mut s = String::new();
                e.read_to_string(&mut s).expect("data");
                s
            }
        };
        out.push((name, value));
    }
    out
}

fn get(fs: &ContainerFs, path: &str) -> Result<(PathStat, Vec<u8>), ArchiveError> {
    let mut stat = None;
    let mut out = Vec::new();
    archive_path(
        fs,
        "c1",
        path,
        &mut |s| {
            stat = Some(s.clone());
            Ok(())
        },
        &mut out,
    )?;
    Ok((stat.expect("the stat comes first"), out))
}

use berth_model::files::PathStat;

fn put(
    fs: &ContainerFs,
    path: &str,
    build: impl FnOnce(&mut tar::Builder<Vec<u8>>),
) -> Result<(), ArchiveError> {
    put_with(fs, path, &ExtractOptions::default(), build)
}

fn put_with(
    fs: &ContainerFs,
    path: &str,
    options: &ExtractOptions,
    build: impl FnOnce(&mut tar::Builder<Vec<u8>>),
) -> Result<(), ArchiveError> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    let bytes = b.into_inner().expect("tar");
    extract_to_dir(fs, "c1", path, options, &mut bytes.as_slice())
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(u64::from(rustix::process::getuid().as_raw()));
    h.set_gid(u64::from(rustix::process::getgid().as_raw()));
    h.set_mtime(1_700_000_000);
    h
}

fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &str) {
    let mut h = header(tar::EntryType::Regular, data.len() as u64);
    b.append_data(&mut h, name, data.as_bytes())
        .expect("append");
}

fn link(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
    let mut h = header(tar::EntryType::Symlink, 0);
    b.append_link(&mut h, name, target).expect("append link");
}

fn host_untouched(f: &Fixture) {
    assert_eq!(
        fs::read_to_string(f.host.join("etc/shadow")).expect("host"),
        "HOST SHADOW"
    );
    let names: Vec<_> = fs::read_dir(f.host.join("etc")).expect("ls").collect();
    assert_eq!(names.len(), 1, "nothing new in the host directory");
}

#[test]
fn a_file_is_one_entry_named_as_asked_with_mobys_stat() {
    let f = fixture();
    let (stat, tar) = get(&cfs(&f), "/dir/a").expect("get");
    assert_eq!(entries(&tar), vec![("a".to_owned(), "aaa".to_owned())]);
    assert_eq!(stat.name, "a");
    assert_eq!(stat.size, 3);
    assert_eq!(stat.mode & go_mode::DIR, 0);
    assert_eq!(stat.link_target, "");
}

#[test]
fn a_directory_is_archived_under_its_base_name() {
    let f = fixture();
    let (stat, tar) = get(&cfs(&f), "/dir").expect("get");
    assert_ne!(stat.mode & go_mode::DIR, 0);
    let names: Vec<String> = entries(&tar).into_iter().map(|e| e.0).collect();
    assert_eq!(names, vec!["dir/", "dir/a", "dir/sub/", "dir/sub/b"]);
    let (_, tar) = get(&cfs(&f), "/dir/.").expect("get /.");
    let names: Vec<String> = entries(&tar).into_iter().map(|e| e.0).collect();
    assert_eq!(names, vec!["./", "./a", "./sub/", "./sub/b"]);
}

#[test]
fn links_are_archived_as_links_never_followed_out() {
    let f = fixture();
    symlink("/etc/shadow", f.root.join("dir/shadow")).expect("link");
    symlink(f.host.join("etc"), f.root.join("dir/hostetc")).expect("link");
    symlink("/", f.root.join("dir/slash")).expect("link");
    let (_, tar) = get(&cfs(&f), "/dir").expect("get");
    let got = entries(&tar);
    assert!(got.contains(&("dir/shadow".into(), "-> /etc/shadow".into())));
    assert!(
        got.contains(&("dir/slash".into(), "-> /".into())),
        "{got:?}"
    );
    assert!(!got.iter().any(|(_, v)| v.contains("HOST")), "{got:?}");
}

#[test]
fn long_names_and_targets_round_trip() {
    let f = fixture();
    let long = "n".repeat(150);
    let target = format!("/{}", "t".repeat(200));
    fs::write(f.root.join("dir").join(&long), "long").expect("long");
    symlink(&target, f.root.join("dir/longlink")).expect("link");
    let (_, tar) = get(&cfs(&f), "/dir").expect("get");
    let got = entries(&tar);
    assert!(
        got.contains(&(format!("dir/{long}"), "long".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("dir/longlink".into(), format!("-> {target}"))),
        "{got:?}"
    );
}

#[test]
fn a_symlink_is_stated_as_a_link_with_its_target_in_the_containers_scope() {
    let f = fixture();
    symlink("../etc/shadow", f.root.join("dir/rel")).expect("link");
    symlink(f.host.join("etc/shadow"), f.root.join("hostshadow")).expect("link");
    let (stat, tar) = get(&cfs(&f), "/dir/rel").expect("get");
    assert_ne!(stat.mode & go_mode::SYMLINK, 0);
    assert_eq!(stat.link_target, "/etc/shadow");
    assert_eq!(
        entries(&tar),
        vec![("rel".into(), "-> ../etc/shadow".into())]
    );
    // A link naming the host's file literally: followed (`-L`, or a
    // trailing `/.`), it is read inside the root, where it does not exist.
    let stat = stat_path(&cfs(&f), "c1", "/hostshadow").expect("stat");
    assert!(stat.link_target.ends_with("host/etc/shadow"));
    match get(&cfs(&f), &stat.link_target) {
        Err(ArchiveError::NotFound { path, container }) => {
            assert_eq!(container, "c1");
            assert!(path.ends_with("etc/shadow"));
        }
        other => panic!("expected not found, got {:?}", other.map(|r| r.0)),
    }
}

#[test]
fn a_path_through_a_link_to_slash_or_dot_dot_stays_in_the_root() {
    let f = fixture();
    symlink("/", f.root.join("slash")).expect("link");
    let (_, tar) = get(&cfs(&f), "/slash/etc/shadow").expect("get");
    assert_eq!(
        entries(&tar),
        vec![("shadow".into(), "container shadow".into())]
    );
    let (_, tar) = get(&cfs(&f), "/../../../../etc/shadow").expect("get ..");
    assert_eq!(
        entries(&tar),
        vec![("shadow".into(), "container shadow".into())]
    );
}

#[test]
fn a_missing_path_is_mobys_not_found() {
    let f = fixture();
    let e = get(&cfs(&f), "/nope").expect_err("missing");
    assert_eq!(
        e.to_string(),
        "Could not find the file /nope in container c1"
    );
    assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    let e = put(&cfs(&f), "/nope", |b| file(b, "x", "x")).expect_err("missing");
    assert_eq!(e.kind(), crate::ErrorKind::NotFound);
}

#[test]
fn a_tar_is_extracted_under_the_directory() {
    let f = fixture();
    put(&cfs(&f), "/dir", |b| {
        file(b, "new", "hello");
        file(b, "deep/er/x", "made parents");
        link(b, "l", "/etc/shadow");
    })
    .expect("put");
    assert_eq!(
        fs::read_to_string(f.root.join("dir/new")).expect("new"),
        "hello"
    );
    assert_eq!(
        fs::read_to_string(f.root.join("dir/deep/er/x")).expect("x"),
        "made parents"
    );
    assert_eq!(
        fs::read_link(f.root.join("dir/l")).expect("l"),
        Path::new("/etc/shadow")
    );
    assert_eq!(
        fs::metadata(f.root.join("dir/new")).expect("m").mtime(),
        1_700_000_000
    );
}

#[test]
fn an_extraction_through_a_containers_symlink_stays_in_the_root() {
    let f = fixture();
    // The container made /dir/evil point at the host's directory by name,
    // and /dir/up at / : both are read inside the root.
    symlink(f.host.join("etc"), f.root.join("dir/evil")).expect("link");
    symlink("/", f.root.join("up")).expect("link");
    let e =
        put(&cfs(&f), "/dir/evil", |b| file(b, "shadow", "pwned")).expect_err("dangling inside");
    assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    put(&cfs(&f), "/up/etc", |b| {
        file(b, "shadow", "replaced in the container")
    })
    .expect("put");
    assert_eq!(
        fs::read_to_string(f.root.join("etc/shadow")).expect("shadow"),
        "replaced in the container"
    );
    host_untouched(&f);
}

#[test]
fn an_entry_through_a_symlink_of_the_same_tar_stays_in_the_root() {
    let f = fixture();
    put(&cfs(&f), "/dir", |b| {
        link(b, "s", "/");
        file(b, "s/etc/shadow", "through the link");
    })
    .expect("put");
    assert_eq!(
        fs::read_to_string(f.root.join("etc/shadow")).expect("shadow"),
        "through the link"
    );
    host_untouched(&f);
}

#[test]
fn hostile_entries_are_refused() {
    let f = fixture();
    let e = put(&cfs(&f), "/dir", |b| {
        let mut h = header(tar::EntryType::Regular, 1);
        // tar::Builder refuses `..` names; write the name raw.
        h.as_gnu_mut().expect("gnu").name[..9].copy_from_slice(b"../../x\0\0");
        h.set_cksum();
        b.append(&h, &b"x"[..]).expect("append");
    })
    .expect_err("..");
    assert!(matches!(e, ArchiveError::UnsafeEntry { .. }), "{e}");
    let e = put(&cfs(&f), "/dir", |b| link(b, "out", "../../../../etc")).expect_err("symlink out");
    assert!(matches!(e, ArchiveError::UnsafeEntry { .. }), "{e}");
    let e = put(&cfs(&f), "/dir", |b| {
        let mut h = header(tar::EntryType::Char, 0);
        h.set_device_major(1).expect("major");
        h.set_device_minor(3).expect("minor");
        b.append_data(&mut h, "null", std::io::empty())
            .expect("append");
    })
    .expect_err("device");
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    assert!(!f.root.join("dir/null").exists());
    let e = put(&cfs(&f), "/dir", |b| {
        let mut h = header(tar::EntryType::Link, 0);
        b.append_link(&mut h, "hard", "../etc/shadow")
            .expect("append");
    })
    .expect_err("hard link out");
    assert!(matches!(e, ArchiveError::UnsafeEntry { .. }), "{e}");
    host_untouched(&f);
}

#[test]
fn the_extraction_point_must_be_a_directory() {
    let f = fixture();
    let e = put(&cfs(&f), "/dir/a", |b| file(b, "x", "x")).expect_err("file");
    assert_eq!(e.to_string(), "extraction point is not a directory");
}

#[test]
fn no_overwrite_dir_non_dir_refuses_as_moby() {
    let f = fixture();
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        copy_uid_gid: None,
    };
    let e = put_with(&cfs(&f), "/dir", &options, |b| file(b, "sub", "x")).expect_err("dir");
    assert!(
        e.to_string().starts_with("cannot overwrite directory"),
        "{e}"
    );
    // Without the option the directory is replaced, as moby does.
    put(&cfs(&f), "/dir", |b| file(b, "sub", "x")).expect("replace");
    assert_eq!(
        fs::read_to_string(f.root.join("dir/sub")).expect("sub"),
        "x"
    );
}

#[test]
fn a_mount_is_reached_in_its_source_and_read_only_ones_refused() {
    let f = fixture();
    let volume = f._dir.path().join("volume");
    fs::create_dir_all(&volume).expect("volume");
    fs::create_dir_all(f.root.join("data")).expect("data");
    let mut fs_ = cfs(&f);
    fs_.mounts.push(FsMount {
        destination: "/data".into(),
        source: Some(volume.clone()),
        read_only: false,
    });
    fs_.mounts.push(FsMount {
        destination: "/ro".into(),
        source: Some(volume.clone()),
        read_only: true,
    });
    fs_.mounts.push(FsMount {
        destination: "/tmp".into(),
        source: None,
        read_only: false,
    });
    put(&fs_, "/data", |b| file(b, "v", "in the volume")).expect("put");
    // Through the mount point's own entry, as `docker cp dir c:/` sends it.
    put(&fs_, "/", |b| {
        let mut h = header(tar::EntryType::Directory, 0);
        b.append_data(&mut h, "data/", std::io::empty())
            .expect("dir");
        file(b, "data/w", "below the mount point");
    })
    .expect("put through the mount point");
    assert_eq!(
        fs::read_to_string(volume.join("w")).expect("w"),
        "below the mount point"
    );
    let e = put(&fs_, "/", |b| file(b, "data", "over the mount point")).expect_err("mount point");
    assert!(matches!(e, ArchiveError::UnsafeEntry { .. }), "{e}");
    assert_eq!(
        fs::read_to_string(volume.join("v")).expect("v"),
        "in the volume"
    );
    assert!(!f.root.join("data/v").exists());
    let (_, tar) = get(&fs_, "/data/v").expect("get");
    assert_eq!(entries(&tar), vec![("v".into(), "in the volume".into())]);
    let e = put(&fs_, "/ro", |b| file(b, "w", "x")).expect_err("ro");
    assert_eq!(e.to_string(), "mounted volume is marked read-only");
    fs::create_dir_all(f.root.join("tmp")).expect("tmp");
    let e = get(&fs_, "/tmp").expect_err("tmpfs");
    assert_eq!(e.kind(), crate::ErrorKind::NotImplemented);
    let mut ro = cfs(&f);
    ro.readonly_rootfs = true;
    let e = put(&ro, "/dir", |b| file(b, "w", "x")).expect_err("ro rootfs");
    assert_eq!(e.to_string(), "container rootfs is marked read-only");
}

#[test]
fn copy_uid_gid_takes_the_containers_user_from_its_passwd() {
    let f = fixture();
    fs::write(
        f.root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1234:5678::/:/bin/sh\n",
    )
    .expect("passwd");
    let fs_ = cfs(&f);
    let opened = Opened::open(&fs_, "c1").expect("open");
    assert_eq!(
        write::lookup_owner(&opened, "app").expect("app"),
        (1234, 5678)
    );
    assert_eq!(
        write::lookup_owner(&opened, "42:43").expect("ids"),
        (42, 43)
    );
    assert_eq!(write::lookup_owner(&opened, "").expect("root"), (0, 0));
    assert!(write::lookup_owner(&opened, "nobody-here").is_err());
}

#[test]
fn an_empty_path_is_refused() {
    let f = fixture();
    let e = get(&cfs(&f), "").expect_err("empty");
    assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
}

#[test]
fn copying_out_writes_allowed_xattrs_as_pax_records() {
    use crate::tests::xattrs::{NET_BIND_CAP, decorate, expected, pax_records, set};
    let f = fixture();
    decorate(&f.root.join("dir/a"));
    set(&f.root.join("dir/sub"), "user.d", b"d");
    // A symlink's and a fifo's own (only `security.*` ones can be there),
    // read without following or opening them.
    symlink("/etc/shadow", f.root.join("dir/ln")).expect("link");
    set(&f.root.join("dir/ln"), "security.capability", &NET_BIND_CAP);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        f.root.join("dir/pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("fifo");
    set(
        &f.root.join("dir/pipe"),
        "security.capability",
        &NET_BIND_CAP,
    );
    let cap_only = vec![(
        "SCHILY.xattr.security.capability".to_owned(),
        NET_BIND_CAP.to_vec(),
    )];
    let (_, tar) = get(&cfs(&f), "/dir").expect("get");
    let records = pax_records(&tar);
    assert_eq!(records["dir/a"], expected(), "{records:?}");
    assert_eq!(
        records["dir/sub/"],
        [("SCHILY.xattr.user.d".to_owned(), b"d".to_vec())]
    );
    assert!(records["dir/sub/b"].is_empty());
    assert_eq!(records["dir/ln"], cap_only);
    assert_eq!(records["dir/pipe"], cap_only);
    let keys: Vec<&String> = records.values().flatten().map(|(k, _)| k).collect();
    assert!(!keys.iter().any(|k| k.contains("trusted")), "{keys:?}");
    // A single file, and through `docker export`'s "/".
    let (_, tar) = get(&cfs(&f), "/dir/a").expect("get a");
    assert_eq!(pax_records(&tar)["a"], expected());
    let (_, tar) = get(&cfs(&f), "/").expect("get /");
    assert_eq!(pax_records(&tar)["dir/a"], expected());
}

#[test]
fn copying_in_applies_allowed_xattrs_and_drops_the_others() {
    use crate::tests::xattrs::{NET_BIND_CAP, get as xattr};
    let f = fixture();
    put(&cfs(&f), "/dir", |b| {
        b.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &NET_BIND_CAP[..]),
            ("SCHILY.xattr.trusted.evil", b"e"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ("SCHILY.xattr.user.y", b"y"),
        ])
        .expect("pax");
        file(b, "new", "hello");
        b.append_pax_extensions([("SCHILY.xattr.user.d", &b"d"[..])])
            .expect("pax");
        let mut h = header(tar::EntryType::Directory, 0);
        h.set_mode(0o755);
        b.append_data(&mut h, "made/", io::empty()).expect("dir");
        b.append_pax_extensions([("SCHILY.xattr.security.capability", &NET_BIND_CAP[..])])
            .expect("pax");
        link(b, "ln", "new");
    })
    .expect("put");
    let new = f.root.join("dir/new");
    assert_eq!(xattr(&new, "user.y").as_deref(), Some(&b"y"[..]));
    assert_eq!(
        xattr(&new, "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..])
    );
    assert_eq!(xattr(&new, "trusted.evil"), None);
    assert_eq!(xattr(&new, "trusted.overlay.opaque"), None);
    assert_eq!(
        xattr(&f.root.join("dir/made"), "user.d").as_deref(),
        Some(&b"d"[..])
    );
    assert_eq!(
        xattr(&f.root.join("dir/ln"), "security.capability").as_deref(),
        Some(&NET_BIND_CAP[..]),
        "set on the symlink itself"
    );
    assert_eq!(xattr(&new, "user.y").as_deref(), Some(&b"y"[..]));
    host_untouched(&f);
}

#[test]
fn an_xattr_the_file_system_refuses_fails_the_copy_by_name() {
    // Linux keeps `user.*` to regular files and directories (xattr(7)):
    // on a symlink it is refused, and the copy says so rather than drop it.
    let f = fixture();
    let err = put(&cfs(&f), "/dir", |b| {
        b.append_pax_extensions([("SCHILY.xattr.user.x", &b"1"[..])])
            .expect("pax");
        link(b, "ln", "a");
    })
    .expect_err("refused");
    assert!(
        matches!(
            &err,
            ArchiveError::Xattr { name, path, refused: true, .. }
                if name == "user.x" && path == Path::new("/dir/ln")
        ),
        "{err:?}"
    );
    // The client's archive is at fault: a 400 naming the attribute, not a
    // daemon error.
    assert_eq!(err.kind(), ErrorKind::InvalidParameter);
    assert!(err.to_string().contains("user.x"), "{err}");

    // A file capability the kernel cannot parse (too short for any
    // `vfs_cap_data` revision).
    let err = put(&cfs(&f), "/dir", |b| {
        b.append_pax_extensions([("SCHILY.xattr.security.capability", &b"xx"[..])])
            .expect("pax");
        file(b, "capped", "x");
    })
    .expect_err("refused");
    assert!(
        matches!(&err, ArchiveError::Xattr { name, refused: true, .. } if name == "security.capability"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidParameter);
    host_untouched(&f);
}
