//! Hostile images: for every path the runtime touches in a container's
//! rootfs, an image where that path is an absolute symlink to a host
//! directory or file, a relative symlink climbing out of the rootfs, or a
//! FIFO. Run through a real berthd with the real `docker` CLI, and through
//! `berth-runc` with a bundle: the host's files are unchanged, no mount
//! lands on them, the start works inside the rootfs or fails with a clear
//! error, and berthd keeps serving.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use berth_tests::daemon::Daemon;
use serde_json::json;

use crate::runc_support::{Bundle, CgroupGuard, Runtime, assert_nothing_left, runc_spec, unique};

/// Names of what the runtime creates or reads in `/dev` and `/etc`: a
/// victim directory holds a file of each name, so that a runtime acting
/// on the host through a link changes one of them.
const VICTIM_FILES: &[&str] = &[
    "ptmx",
    "null",
    "zero",
    "full",
    "random",
    "urandom",
    "tty",
    "console",
    "fd",
    "stdin",
    "stdout",
    "stderr",
    "core",
    "hosts",
    "hostname",
    "resolv.conf",
    "passwd",
    "group",
    "kcore",
];

/// A host directory a hostile image points at, with a snapshot of it.
struct Victim {
    dir: tempfile::TempDir,
    before: BTreeMap<String, String>,
}

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::Builder::new()
            .prefix("berth-victim-")
            .tempdir()
            .expect("victim dir");
        for name in VICTIM_FILES {
            std::fs::write(dir.path().join(name), format!("host {name}\n")).expect("victim file");
        }
        for sub in ["pts", "shm", "mqueue", "keep"] {
            std::fs::create_dir(dir.path().join(sub)).expect("victim subdir");
            std::fs::write(dir.path().join(sub).join("file"), "host\n").expect("victim file");
        }
        let before = snapshot(dir.path());
        Victim { dir, before }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A relative symlink target that climbs from any depth to the victim.
    fn climbing(&self) -> PathBuf {
        let mut rel = PathBuf::from("../".repeat(24));
        rel.push(self.path().strip_prefix("/").expect("absolute temp dir"));
        rel
    }

    /// Fails when the victim changed or a mount covers it.
    #[track_caller]
    fn assert_untouched(&self, case: &str) {
        let after = snapshot(self.path());
        assert_eq!(
            self.before,
            after,
            "{case}: the host directory {} was changed",
            self.path().display()
        );
        assert_no_mount_on(self.path(), case);
    }
}

/// Name → "type mode uid:gid content-or-target" of everything under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    snapshot_into(dir, dir, &mut out);
    out
}

fn snapshot_into(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read victim dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            format!(
                "link -> {}",
                std::fs::read_link(&path).expect("readlink").display()
            )
        } else if ft.is_file() {
            format!(
                "file {:?}",
                std::fs::read_to_string(&path).unwrap_or_default()
            )
        } else if ft.is_dir() {
            "dir".to_owned()
        } else {
            format!("special rdev {}", meta.rdev())
        };
        let rel = path
            .strip_prefix(base)
            .expect("below base")
            .display()
            .to_string();
        out.insert(
            rel,
            format!(
                "{what} mode {:o} {}:{}",
                meta.mode(),
                meta.uid(),
                meta.gid()
            ),
        );
        if ft.is_dir() {
            snapshot_into(base, &path, out);
        }
    }
}

/// Fails when a mount point of this (the host's) mount namespace lies at
/// or below `dir`.
#[track_caller]
fn assert_no_mount_on(dir: &Path, case: &str) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let dir = dir.display().to_string();
    for line in mountinfo.lines() {
        let point = line.split(' ').nth(4).unwrap_or_default();
        assert!(
            point != dir && !point.starts_with(&format!("{dir}/")),
            "{case}: a mount landed on the host at {point}: {line}"
        );
    }
}

/// What an image puts at a path.
#[derive(Debug, Clone, Copy)]
enum Plant {
    /// An absolute symlink to the victim directory (or `file` in it).
    Absolute(Option<&'static str>),
    /// A relative symlink climbing out to the victim (or `file` in it).
    Climbing(Option<&'static str>),
    /// A FIFO.
    Fifo,
}

impl Plant {
    fn all(file: Option<&'static str>) -> [Plant; 3] {
        [Plant::Absolute(file), Plant::Climbing(file), Plant::Fifo]
    }

    /// Puts it at `path` (inside `rootfs`), replacing what is there.
    fn apply(self, rootfs: &Path, path: &str, victim: &Victim) {
        let at = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir parent");
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&at).expect("remove dir"),
            Ok(_) => std::fs::remove_file(&at).expect("remove file"),
            Err(_) => {}
        }
        let with = |base: PathBuf, file: Option<&str>| match file {
            Some(f) => base.join(f),
            None => base,
        };
        match self {
            Plant::Absolute(file) => {
                symlink(with(victim.path().to_path_buf(), file), &at).expect("symlink")
            }
            Plant::Climbing(file) => symlink(with(victim.climbing(), file), &at).expect("symlink"),
            Plant::Fifo => {
                nix::unistd::mkfifo(&at, nix::sys::stat::Mode::from_bits_truncate(0o644))
                    .expect("mkfifo")
            }
        }
    }
}

/// One hostile image and how to run it.
struct Case {
    path: &'static str,
    plant: Plant,
    /// Extra `docker run` flags before the image.
    flags: Vec<String>,
}

impl Case {
    fn name(&self) -> String {
        format!("{} as {:?} {}", self.path, self.plant, self.flags.join(" "))
    }
}

fn cases(path: &'static str, file: Option<&'static str>, flags: &[&str]) -> Vec<Case> {
    Plant::all(file)
        .into_iter()
        .map(|plant| Case {
            path,
            plant,
            flags: flags.iter().map(|s| (*s).to_owned()).collect(),
        })
        .collect()
}

/// Asserts that a start either worked or failed with a clear error.
#[track_caller]
fn assert_worked_or_clear_error(out: &berth_tests::cmd::Output, case: &str) {
    if out.status.success() {
        return;
    }
    assert!(
        out.stderr.contains("Error response from daemon:") && out.stderr.trim().len() > 40,
        "{case}: the start failed without a clear error: {out:?}"
    );
}

/// Runs every case through `d`: `docker run --rm IMAGE true`, then a
/// detached `sleep` checked while it runs; after each, the victim is
/// untouched and berthd answers.
fn run_cases(d: &Daemon, cases: Vec<Case>) {
    for (i, case) in cases.into_iter().enumerate() {
        let name = case.name();
        let victim = Victim::new();
        let tarball = tempfile::NamedTempFile::new().expect("tarball");
        berth_tests::busybox::build_tarball_with(tarball.path(), |rootfs| {
            case.plant.apply(rootfs, case.path, &victim)
        });
        let image = format!("hostile{i}");
        d.berth(&["import", tarball.path().to_str().expect("utf-8"), &image])
            .ok();

        let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
        args.extend(case.flags.iter().cloned());
        args.extend([image.clone(), "true".into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = d.docker(&argv);
        assert_worked_or_clear_error(&out, &name);
        victim.assert_untouched(&format!("{name} (run --rm true)"));

        let container = format!("hostile-running-{i}");
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            container.clone(),
        ];
        args.extend(case.flags.iter().cloned());
        args.extend([image.clone(), "sleep".into(), "1000".into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = d.docker(&argv);
        assert_worked_or_clear_error(&out, &name);
        // While it runs (or after its start failed).
        victim.assert_untouched(&format!("{name} (while running)"));
        let rm = d.docker(&["rm", "-f", &container]);
        assert!(rm.status.success(), "{name}: rm -f failed: {rm:?}");
        victim.assert_untouched(&format!("{name} (after rm)"));
        let ping = d.http("GET", "/_ping", b"");
        assert_eq!(ping.status, 200, "{name}: berthd stopped answering");
    }
    // And a normal container still runs.
    d.import_busybox("busybox");
    let out = d.docker(&["run", "--rm", "busybox", "echo", "still fine"]);
    assert_eq!(out.stdout, "still fine\n", "{out:?}");
}

#[test]
fn hostile_images_dev_and_its_nodes_and_mounts() {
    let d = Daemon::start();
    let mut all = cases("/dev", None, &[]);
    for (path, file) in [
        ("/dev/pts", None),
        ("/dev/shm", None),
        ("/dev/mqueue", None),
        ("/dev/ptmx", Some("ptmx")),
        ("/dev/null", Some("null")),
        ("/dev/console", Some("console")),
        ("/dev/fd", None),
    ] {
        all.extend(cases(path, file, &[]));
    }
    // With a terminal: /dev/console is bound from the pty.
    all.extend(cases("/dev", None, &["-t"]));
    run_cases(&d, all);
}

#[test]
fn hostile_images_proc_sys_and_cgroup() {
    let d = Daemon::start();
    let mut all = Vec::new();
    for path in ["/proc", "/sys", "/sys/fs/cgroup", "/sys/fs"] {
        all.extend(cases(path, None, &[]));
    }
    run_cases(&d, all);
}

#[test]
fn hostile_images_etc_files_the_runtime_writes_and_reads() {
    let d = Daemon::start();
    let mut all = cases("/etc", None, &[]);
    all.extend(cases("/etc", None, &["-u", "berth"]));
    for (path, file) in [
        ("/etc/hosts", Some("hosts")),
        ("/etc/resolv.conf", Some("resolv.conf")),
        ("/etc/hostname", Some("hostname")),
    ] {
        all.extend(cases(path, file, &[]));
    }
    for (path, file) in [
        ("/etc/passwd", Some("passwd")),
        ("/etc/group", Some("group")),
    ] {
        all.extend(cases(path, file, &[]));
        all.extend(cases(path, file, &["-u", "berth"]));
        all.extend(cases(path, file, &["-u", "berth:wheel"]));
    }
    run_cases(&d, all);
}

#[test]
fn hostile_images_working_dir_and_bind_destination() {
    let d = Daemon::start();
    let source = tempfile::tempdir().expect("bind source");
    std::fs::write(source.path().join("data"), "bound\n").expect("bind file");
    let bind = format!("{}:/data", source.path().display());
    let bind_below = format!("{}:/data/below", source.path().display());
    let mut all = cases("/work", None, &["-w", "/work"]);
    all.extend(cases("/work", None, &["-w", "/work/deeper"]));
    all.extend(cases("/data", None, &["-v", &bind]));
    all.extend(cases("/data", None, &["-v", &bind_below]));
    all.extend(cases("/data", None, &["--tmpfs", "/data/t"]));
    run_cases(&d, all);
}

/// Starts `image` as a new container over the API, bounded by the client's
/// read timeout: (container id, start status, start body). Without a
/// network: 40 starts at once would need more addresses than the test
/// daemon's /28 default bridge has (berthd answers 409 `No available
/// addresses on this pool` then, as dockerd on a full pool).
fn create_and_start(d: &Daemon, image: &str, user: &str) -> (String, u16, String) {
    let body = json!({
        "Image": image,
        "Cmd": ["true"],
        "User": user,
        "HostConfig": {"NetworkMode": "none"},
    })
    .to_string();
    let created = d.http("POST", "/containers/create", body.as_bytes());
    assert_eq!(created.status, 201, "create: {}", created.text());
    let id = created.json()["Id"].as_str().expect("Id").to_owned();
    let started = d.http("POST", &format!("/containers/{id}/start"), b"");
    (id, started.status, started.text())
}

#[test]
fn hostile_image_fifo_passwd_fails_fast_and_does_not_wedge_berthd() {
    let d = Daemon::start();
    let tarball = tempfile::NamedTempFile::new().expect("tarball");
    berth_tests::busybox::build_tarball_with(tarball.path(), |rootfs| {
        std::fs::remove_file(rootfs.join("etc/passwd")).expect("rm passwd");
        nix::unistd::mkfifo(
            &rootfs.join("etc/passwd"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .expect("mkfifo");
    });
    d.berth(&["import", tarball.path().to_str().expect("utf-8"), "fifo"])
        .ok();
    // Each start answers (within the client's timeout) with a clear error.
    for user in ["", "berth"] {
        let (id, status, body) = create_and_start(&d, "fifo", user);
        // An image that cannot be run as it is: a configuration error.
        assert_eq!(status, 400, "start with user {user:?}: {body}");
        assert!(
            body.contains("/etc/passwd") && body.contains("not a regular file"),
            "start with user {user:?}: {body}"
        );
        let rm = d.http("DELETE", &format!("/containers/{id}?force=1"), b"");
        assert_eq!(rm.status, 204, "rm -f: {}", rm.text());
    }
    let out = d.docker(&["run", "--rm", "-u", "berth", "fifo", "true"]);
    assert!(
        !out.status.success() && out.stderr.contains("not a regular file"),
        "{out:?}"
    );
    // 40 at once: more than tokio's blocking pool has threads by default
    // (berthd used to hang one per start).
    let results: Vec<(String, u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|_| s.spawn(|| create_and_start(&d, "fifo", "berth")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start thread"))
            .collect()
    });
    for (_, status, body) in &results {
        assert_eq!(*status, 400, "{body}");
        assert!(body.contains("not a regular file"), "{body}");
    }
    // Everything else still answers.
    d.import_busybox("busybox");
    let out = d.docker(&["create", "--name", "other", "busybox", "true"]);
    assert!(out.status.success(), "create: {out:?}");
    let out = d.docker(&["run", "--rm", "busybox", "echo", "alive"]);
    assert_eq!(out.stdout, "alive\n", "{out:?}");
    let out = d.docker(&["images"]);
    assert!(
        out.status.success() && out.stdout.contains("busybox"),
        "{out:?}"
    );
    let out = d.docker(&["inspect", "other"]);
    assert!(out.status.success(), "inspect: {out:?}");
    for (id, _, _) in &results {
        let rm = d.http("DELETE", &format!("/containers/{id}?force=1"), b"");
        assert_eq!(rm.status, 204, "rm -f {id}: {}", rm.text());
    }
}

/// One hostile bundle for berth-runc: `plant` at `path` in the rootfs,
/// with or without the usual `/dev` tmpfs.
fn run_hostile_bundle(path: &str, plant: Plant, dev_tmpfs: bool) {
    berth_tests::require::root();
    let case = format!("berth-runc: {path} as {plant:?} (dev tmpfs: {dev_tmpfs})");
    let victim = Victim::new();
    let cg = unique("/hostile");
    let _c = CgroupGuard(cg.clone());
    let mut config = runc_spec(&["true"], &cg);
    if !dev_tmpfs {
        config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .retain(|m| m["destination"] != "/dev");
    }
    let bundle = Bundle::new(&config);
    plant.apply(&bundle.rootfs(), path, &victim);
    let berth = Runtime::berth();
    let id = unique("hostile");
    let out = berth.run(&bundle, &id);
    if !out.status.success() {
        // berth-runc's one-line errors name what failed; the planted path
        // (or a mount below it) is in it.
        let family = path.split('/').nth(1).unwrap_or_default();
        assert!(
            out.stderr.starts_with("berth-runc: ") && out.stderr.contains(&format!("/{family}")),
            "{case}: failed without a clear error: {out:?}"
        );
    }
    victim.assert_untouched(&case);
    assert_nothing_left(&berth, &id, &cg, bundle.path());
}

#[test]
fn hostile_bundles_berth_runc_dev_links() {
    for plant in Plant::all(None) {
        run_hostile_bundle("/dev", plant, true);
        run_hostile_bundle("/dev", plant, false);
    }
    for (path, file) in [
        ("/dev/null", Some("null")),
        ("/dev/ptmx", Some("ptmx")),
        ("/dev/tty", Some("tty")),
        ("/dev/fd", None),
        ("/dev/stdin", Some("stdin")),
        ("/dev/core", Some("core")),
        ("/dev/pts", None),
        ("/dev/shm", None),
        ("/dev/mqueue", None),
    ] {
        for plant in Plant::all(file) {
            run_hostile_bundle(path, plant, false);
        }
    }
    for path in ["/proc", "/sys", "/sys/fs/cgroup"] {
        for plant in Plant::all(None) {
            run_hostile_bundle(path, plant, true);
        }
    }
}
