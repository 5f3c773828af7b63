//! The resolver on fixture directories, once per resolver: `openat2` and
//! the walk must give the same answers.

use std::os::unix::fs::{MetadataExt, symlink};

use super::*;

const RESOLVERS: [Resolver; 2] = [Resolver::Openat2, Resolver::Walk];

/// A rootfs inside a parent directory that holds a "host" victim next to
/// it: `<tmp>/host/victim/{file,dir/}` and `<tmp>/root`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("host/victim/dir")).unwrap();
        std::fs::write(dir.path().join("host/victim/file"), "host secret").unwrap();
        std::fs::create_dir_all(dir.path().join("root/real/dir")).unwrap();
        std::fs::write(dir.path().join("root/real/file"), "inside").unwrap();
        Fixture { dir }
    }

    fn root_path(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn victim(&self) -> PathBuf {
        self.dir.path().join("host/victim")
    }

    fn root(&self, resolver: Resolver) -> Root {
        Root::open(&self.root_path())
            .unwrap()
            .with_resolver(resolver)
    }

    fn link(&self, target: impl AsRef<Path>, at: &str) {
        let at = self.root_path().join(at);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(target, at).unwrap();
    }

    /// An absolute path to the victim, as a symlink in the image would
    /// hold it, and a relative one climbing out of the rootfs to it.
    fn escapes(&self) -> [PathBuf; 2] {
        let abs = self.victim();
        let mut rel = PathBuf::from("../../../../../../../../../../../../../../..");
        rel.push(abs.strip_prefix("/").unwrap());
        [abs, rel]
    }

    fn victim_names(&self) -> Vec<String> {
        let mut names: Vec<String> = walkdir(&self.victim());
        names.sort();
        names
    }
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.file_name().to_string_lossy().into_owned());
        if e.file_type().unwrap().is_dir() {
            for sub in walkdir(&e.path()) {
                out.push(format!("{}/{sub}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// (dev, ino) of what an fd refers to.
fn id(fd: &OwnedFd) -> (u64, u64) {
    let st = nix::sys::stat::fstat(fd).unwrap();
    (st.st_dev, st.st_ino)
}

fn id_of(path: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.dev(), m.ino())
}

#[test]
fn absolute_and_relative_links_resolve_inside_the_root() {
    let f = Fixture::new();
    let root = f.root_path();
    f.link("/real", "abs");
    f.link("real/dir", "rel");
    f.link("../../real", "real/dir/up");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        let cases: [(&str, PathBuf); 5] = [
            ("/abs/dir", root.join("real/dir")),
            ("/rel", root.join("real/dir")),
            ("real/dir/up/file", root.join("real/file")),
            ("/../../../real", root.join("real")),
            ("/", root.clone()),
        ];
        for (path, want) in cases {
            let fd = r.resolve(Path::new(path)).unwrap();
            assert_eq!(id(&fd), id_of(&want), "{resolver:?}: {path}");
        }
    }
}

#[test]
fn links_out_of_the_root_are_clamped_to_it() {
    let f = Fixture::new();
    let [abs, rel] = f.escapes();
    f.link(&abs, "abs");
    f.link(&rel, "a/rel");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        for link in ["/abs/file", "/a/rel/file"] {
            let err = r.resolve(Path::new(link)).unwrap_err();
            assert_eq!(err.errno(), Errno::ENOENT, "{resolver:?}: {link}: {err}");
            assert_eq!(
                r.read_regular(Path::new(link), 1024).unwrap(),
                None,
                "{resolver:?}: {link} must not read the host's file"
            );
        }
        // The same path inside the rootfs is what they reach.
        let inside = f.root_path().join(abs.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(inside.join("file"), "in root").unwrap();
        for link in ["/abs/file", "/a/rel/file"] {
            let bytes = r.read_regular(Path::new(link), 1024).unwrap();
            assert_eq!(bytes.as_deref(), Some(&b"in root"[..]), "{resolver:?}");
        }
        std::fs::remove_dir_all(f.root_path().join("tmp")).ok();
        std::fs::remove_dir_all(
            f.root_path()
                .join(abs.strip_prefix("/").unwrap().components().next().unwrap()),
        )
        .ok();
    }
}

#[test]
fn symlink_loops_fail_with_eloop() {
    let f = Fixture::new();
    f.link("b", "a");
    f.link("a", "b");
    f.link("self/x", "self");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        for path in ["/a", "/self", "/a/b/c"] {
            let err = r.resolve(Path::new(path)).unwrap_err();
            assert_eq!(err.errno(), Errno::ELOOP, "{resolver:?}: {path}");
        }
        let err = r
            .mkdir_all(Path::new("/a/new"), Mode::from_bits_truncate(0o755))
            .unwrap_err();
        assert_eq!(err.errno(), Errno::ELOOP, "{resolver:?}");
    }
}

#[test]
fn dangling_links_are_missing_and_created_inside() {
    let f = Fixture::new();
    let [abs, _] = f.escapes();
    f.link(abs.join("newdir/hosts"), "etc/hosts");
    f.link(abs.join("made"), "made");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        assert_eq!(
            r.resolve(Path::new("/etc/hosts")).unwrap_err().errno(),
            Errno::ENOENT
        );
        let fd = r
            .create_file(Path::new("/etc/hosts"), Mode::from_bits_truncate(0o644))
            .unwrap();
        let inside = f
            .root_path()
            .join(abs.strip_prefix("/").unwrap())
            .join("newdir/hosts");
        assert_eq!(id(&fd), id_of(&inside), "{resolver:?}");
        let fd = r
            .mkdir_all(Path::new("/made/deeper"), Mode::from_bits_truncate(0o755))
            .unwrap();
        let inside = f
            .root_path()
            .join(abs.strip_prefix("/").unwrap())
            .join("made/deeper");
        assert_eq!(id(&fd), id_of(&inside), "{resolver:?}");
        assert_eq!(f.victim_names(), ["dir", "file"], "{resolver:?}");
        std::fs::remove_dir_all(
            f.root_path()
                .join(abs.strip_prefix("/").unwrap().components().next().unwrap()),
        )
        .unwrap();
    }
}

#[test]
fn node_link_and_unlink_act_inside_through_a_linked_parent() {
    let f = Fixture::new();
    let [abs, rel] = f.escapes();
    // As the finding: /dev a link to a host directory holding `file`.
    for (i, target) in [abs, rel].iter().enumerate() {
        for resolver in RESOLVERS {
            let r = f.root(resolver);
            let dev = format!("dev{i}");
            f.link(target, &dev);
            r.symlink(
                Path::new("pts/ptmx"),
                &Path::new("/").join(&dev).join("ptmx"),
            )
            .unwrap();
            r.unlink(&Path::new("/").join(&dev).join("file")).unwrap();
            r.mknod(
                &Path::new("/").join(&dev).join("fifo"),
                SFlag::S_IFIFO,
                Mode::from_bits_truncate(0o666),
                0,
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )
            .unwrap();
            assert_eq!(f.victim_names(), ["dir", "file"], "{resolver:?} {target:?}");
            assert_eq!(
                std::fs::read_to_string(f.victim().join("file")).unwrap(),
                "host secret"
            );
            let inside = f.root_path().join(f.victim().strip_prefix("/").unwrap());
            assert!(
                std::fs::symlink_metadata(inside.join("ptmx"))
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            std::fs::remove_file(f.root_path().join(&dev)).unwrap();
            std::fs::remove_dir_all(
                f.root_path().join(
                    f.victim()
                        .strip_prefix("/")
                        .unwrap()
                        .components()
                        .next()
                        .unwrap(),
                ),
            )
            .unwrap();
        }
    }
}

#[test]
fn unlink_never_follows_the_final_component() {
    let f = Fixture::new();
    f.link(f.victim().join("file"), "etc/shadow");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        f.link(f.victim().join("file"), "etc/x");
        r.unlink(Path::new("/etc/x")).unwrap();
        assert!(f.victim().join("file").exists(), "{resolver:?}");
        assert!(!f.root_path().join("etc/x").exists());
        r.unlink(Path::new("/etc/missing")).unwrap();
        r.unlink(Path::new("/nodir/missing")).unwrap();
    }
}

#[test]
fn fifos_and_devices_are_never_opened_for_reading() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.root_path().join("etc")).unwrap();
    nix::unistd::mkfifo(
        &f.root_path().join("etc/passwd"),
        Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    f.link("/etc/passwd", "etc/group");
    f.link("/dev/null", "etc/null");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        // Returns at once: an open(O_RDONLY) of the FIFO would block here.
        for path in ["/etc/passwd", "/etc/group"] {
            let err = r.read_regular(Path::new(path), 1024).unwrap_err();
            assert!(
                matches!(err, RootError::NotRegular { kind: "FIFO", .. }),
                "{resolver:?}: {err}"
            );
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let err = r.read_regular(Path::new("/real"), 1024).unwrap_err();
        assert!(matches!(
            err,
            RootError::NotRegular {
                kind: "directory",
                ..
            }
        ));
        // /dev/null inside the rootfs does not exist: the link does not
        // reach the host's device.
        assert_eq!(r.read_regular(Path::new("/etc/null"), 1024).unwrap(), None);
    }
}

#[test]
fn reads_are_bounded_in_size() {
    let f = Fixture::new();
    std::fs::write(f.root_path().join("big"), vec![b'x'; 2048]).unwrap();
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        let err = r.read_regular(Path::new("/big"), 1024).unwrap_err();
        assert!(
            matches!(err, RootError::TooLarge { max: 1024, .. }),
            "{err}"
        );
        assert_eq!(
            r.read_regular(Path::new("/big"), 2048)
                .unwrap()
                .map(|b| b.len()),
            Some(2048)
        );
    }
}

#[test]
fn a_file_where_a_directory_is_expected_is_enotdir() {
    let f = Fixture::new();
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        let err = r.resolve(Path::new("/real/file/x")).unwrap_err();
        assert_eq!(err.errno(), Errno::ENOTDIR, "{resolver:?}");
        let err = r
            .mkdir_all(Path::new("/real/file"), Mode::from_bits_truncate(0o755))
            .unwrap_err();
        assert_eq!(err.errno(), Errno::ENOTDIR, "{resolver:?}");
        let err = r
            .mkdir_all(Path::new("/real/file/sub"), Mode::from_bits_truncate(0o755))
            .unwrap_err();
        assert_eq!(err.errno(), Errno::ENOTDIR, "{resolver:?}");
    }
}

#[test]
fn links_into_proc_do_not_reach_the_hosts_proc() {
    let f = Fixture::new();
    // Followed on the host, this would be the host's root directory
    // (a magic link); inside the rootfs there is no /proc.
    f.link("/proc/self/root", "escape");
    for resolver in RESOLVERS {
        let r = f.root(resolver);
        assert!(r.resolve(Path::new("/escape/etc")).is_err(), "{resolver:?}");
    }
}

#[test]
fn strict_check_names_the_symlink_that_climbs_out() {
    let f = Fixture::new();
    let [abs, rel] = f.escapes();
    f.link(&rel, "data/escape");
    f.link(&abs, "data/abs");
    let r = f.root(Resolver::Auto);
    let err = r.check_confined(Path::new("/data/escape/x")).unwrap_err();
    match &err {
        RootError::Escapes { symlink, .. } => assert_eq!(symlink, Path::new("/data/escape")),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("escapes the rootfs"), "{err}");
    r.check_confined(Path::new("/data/abs/x")).unwrap();
    r.check_confined(Path::new("/../../etc")).unwrap();
    r.check_confined(Path::new("/missing/../x")).unwrap();
}
