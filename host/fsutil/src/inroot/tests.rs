use super::*;
use std::fs;
use std::os::unix::fs::symlink;

/// A fake container root beside a "host" directory it must never reach.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rootfs");
    let host = dir.path().join("host");
    fs::create_dir_all(root.join("etc")).expect("etc");
    fs::write(root.join("etc/shadow"), b"container shadow").expect("shadow");
    fs::create_dir_all(root.join("a/b")).expect("a/b");
    fs::write(root.join("a/b/file"), b"in b").expect("file");
    fs::create_dir_all(host.join("etc")).expect("host etc");
    fs::write(host.join("etc/shadow"), b"HOST SHADOW").expect("host shadow");
    Fixture {
        _dir: dir,
        root,
        host,
    }
}

fn read(r: &Resolved) -> Vec<u8> {
    use std::io::Read;
    let fd = r.reopen(OFlags::RDONLY).expect("reopen");
    let mut out = Vec::new();
    fs::File::from(fd).read_to_end(&mut out).expect("read");
    out
}

#[test]
fn dot_dot_stays_at_the_root() {
    let f = fixture();
    let r = InRoot::open(&f.root).expect("open");
    let got = r
        .resolve(Path::new("/../../../etc/shadow"), true)
        .expect("resolve");
    assert_eq!(got.path, Path::new("/etc/shadow"));
    assert_eq!(read(&got), b"container shadow");
    let got = r
        .resolve(Path::new("a/b/../../../../etc/shadow"), true)
        .expect("resolve relative");
    assert_eq!(read(&got), b"container shadow");
}

#[test]
fn an_absolute_symlink_restarts_at_the_root() {
    let f = fixture();
    symlink("/etc", f.root.join("link-to-etc")).expect("symlink");
    let r = InRoot::open(&f.root).expect("open");
    let got = r
        .resolve(Path::new("/link-to-etc/shadow"), true)
        .expect("resolve");
    assert_eq!(got.path, Path::new("/etc/shadow"));
    assert_eq!(read(&got), b"container shadow");
}

#[test]
fn a_relative_symlink_climbing_out_is_clamped() {
    let f = fixture();
    // Relative to a/b: enough `..` to reach the host's directory if joined.
    symlink("../../../../host/etc", f.root.join("a/b/up")).expect("symlink");
    fs::create_dir_all(f.root.join("host/etc")).ok();
    let r = InRoot::open(&f.root).expect("open");
    match r.resolve(Path::new("/a/b/up/shadow"), true) {
        // /host/etc/shadow inside the root does not exist: clamped, not escaped.
        Err(InRootError::NotFound { .. }) => {}
        other => panic!("expected NotFound inside the root, got {other:?}"),
    }
    assert!(f.host.join("etc/shadow").exists());
}

#[test]
fn a_symlink_to_the_host_root_is_the_container_root() {
    let f = fixture();
    symlink("/", f.root.join("slash")).expect("symlink");
    symlink(&f.host, f.root.join("hostdir")).expect("symlink to the host dir");
    let r = InRoot::open(&f.root).expect("open");
    let got = r
        .resolve(Path::new("/slash/etc/shadow"), true)
        .expect("resolve");
    assert_eq!(read(&got), b"container shadow");
    // A link naming the host path literally is read inside the root.
    assert!(matches!(
        r.resolve(Path::new("/hostdir/etc/shadow"), true),
        Err(InRootError::NotFound { .. })
    ));
}

#[test]
fn the_final_symlink_is_kept_unless_followed() {
    let f = fixture();
    symlink("/etc/shadow", f.root.join("sh")).expect("symlink");
    let r = InRoot::open(&f.root).expect("open");
    let kept = r.resolve(Path::new("/sh"), false).expect("resolve");
    assert_eq!(kept.file_type(), FileType::Symlink);
    assert_eq!(kept.path, Path::new("/sh"));
    let (_, name) = kept.parent.as_ref().expect("a parent");
    assert_eq!(name, "sh");
    let followed = r.resolve(Path::new("/sh"), true).expect("resolve");
    assert_eq!(followed.path, Path::new("/etc/shadow"));
    assert_eq!(read(&followed), b"container shadow");
}

#[test]
fn symlink_loops_end_with_too_many_links() {
    let f = fixture();
    symlink("/loop2", f.root.join("loop1")).expect("symlink");
    symlink("loop1", f.root.join("loop2")).expect("symlink");
    symlink("self/x", f.root.join("self")).expect("symlink");
    let r = InRoot::open(&f.root).expect("open");
    assert!(matches!(
        r.resolve(Path::new("/loop1"), true),
        Err(InRootError::TooManyLinks { .. })
    ));
    assert!(matches!(
        r.resolve(Path::new("/self"), true),
        Err(InRootError::TooManyLinks { .. })
    ));
}

#[test]
fn a_path_through_a_file_is_not_a_directory() {
    let f = fixture();
    let r = InRoot::open(&f.root).expect("open");
    assert!(matches!(
        r.resolve(Path::new("/a/b/file/x"), true),
        Err(InRootError::NotDirectory { .. })
    ));
}

#[test]
fn a_mount_destination_goes_on_in_its_source() {
    let f = fixture();
    let volume = f.host.join("volume");
    fs::create_dir_all(volume.join("sub")).expect("volume");
    fs::write(volume.join("sub/v"), b"volume file").expect("v");
    // What the rootfs has under the mount point is hidden by the mount.
    fs::create_dir_all(f.root.join("data/sub")).expect("data");
    fs::write(f.root.join("data/sub/v"), b"hidden").expect("hidden");
    symlink("/data/sub", f.root.join("to-data")).expect("symlink");
    let mut r = InRoot::open(&f.root).expect("open");
    let index = r.add_mount(Path::new("/data/"), &volume);
    let got = r.resolve(Path::new("/to-data/v"), true).expect("resolve");
    assert_eq!(got.path, Path::new("/data/sub/v"));
    assert_eq!(got.mount, Some(index));
    assert_eq!(read(&got), b"volume file");
    // `..` out of the mount goes back to the rootfs, not to the source's parent.
    let up = r
        .resolve(Path::new("/data/../etc/shadow"), true)
        .expect("resolve");
    assert_eq!(up.mount, None);
    assert_eq!(read(&up), b"container shadow");
    let mount_root = r.resolve(Path::new("/data"), false).expect("resolve");
    assert!(mount_root.parent.is_none());
    assert_eq!(r.mount_at(Path::new("/data")), Some(index));
}

#[test]
fn missing_paths_are_not_found() {
    let f = fixture();
    let r = InRoot::open(&f.root).expect("open");
    assert!(matches!(
        r.resolve(Path::new("/nope/x"), true),
        Err(InRootError::NotFound { .. })
    ));
}

#[test]
fn the_root_resolves_to_itself() {
    let f = fixture();
    let r = InRoot::open(&f.root).expect("open");
    let got = r.resolve(Path::new("/.."), true).expect("resolve");
    assert_eq!(got.path, Path::new("/"));
    assert!(got.parent.is_none());
    assert_eq!(got.file_type(), FileType::Directory);
}

#[test]
fn clean_is_go_filepath_clean_of_an_absolute_path() {
    assert_eq!(clean(Path::new("../a/./b/../c/")), Path::new("/a/c"));
    assert_eq!(clean(Path::new("/")), Path::new("/"));
}
