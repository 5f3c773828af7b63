//! The local driver's mount options (moby `volume/local/local_unix.go`):
//! `type`, `device` and `o` are checked at create, reported by inspect,
//! mounted on the volume's data directory when the first container using
//! it starts and unmounted when the last one stops; a failing mount is the
//! start's error and leaves nothing mounted.

use std::path::Path;

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// The file-system type mounted at `path` in this mount namespace (the
/// test daemon's), if any.
fn mounted_fstype(path: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let path = path.to_str().expect("utf-8 path");
    info.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-")?;
        (fields.get(4) == Some(&path)).then(|| fields[sep + 1].to_owned())
    })
}

#[test]
fn a_tmpfs_volume_is_mounted_while_a_container_uses_it() {
    let d = ready();
    d.docker(&[
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=10m",
        "tv",
    ])
    .ok();
    let options = d
        .docker(&["volume", "inspect", "-f", "{{json .Options}}", "tv"])
        .ok();
    assert_eq!(
        options.trim(),
        r#"{"device":"tmpfs","o":"size=10m","type":"tmpfs"}"#
    );
    let data = d.data_root().join("volumes/tv/_data");
    assert_eq!(mounted_fstype(&data), None, "nothing mounted at create");
    d.docker(&[
        "run", "-d", "--name", "t1", "-v", "tv:/data", "busybox", "sleep", "1000",
    ])
    .ok();
    d.docker(&[
        "run", "-d", "--name", "t2", "-v", "tv:/data", "busybox", "sleep", "1000",
    ])
    .ok();
    assert_eq!(mounted_fstype(&data).as_deref(), Some("tmpfs"));
    let df = d.docker(&["exec", "t1", "df", "-k", "/data"]).ok();
    assert!(df.contains("10240"), "a 10m tmpfs: {df}");
    d.docker(&["exec", "t1", "sh", "-c", "echo shared > /data/f"])
        .ok();
    assert_eq!(d.docker(&["exec", "t2", "cat", "/data/f"]).ok(), "shared\n");
    d.docker(&["rm", "-f", "t1"]).ok();
    assert_eq!(
        mounted_fstype(&data).as_deref(),
        Some("tmpfs"),
        "t2 holds it"
    );
    d.docker(&["rm", "-f", "t2"]).ok();
    assert_eq!(mounted_fstype(&data), None, "unmounted with its last user");
    d.docker(&["volume", "rm", "tv"]).ok();
}

#[test]
fn a_bind_volume_shows_the_host_directory() {
    let d = ready();
    let host = d.dir().join("bind-source");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("from-host"), b"hello\n").unwrap();
    let device = format!("device={}", host.display());
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        &device,
        "bv",
    ])
    .ok();
    let out = d
        .docker(&[
            "run",
            "--rm",
            "-v",
            "bv:/data",
            "busybox",
            "sh",
            "-c",
            "cat /data/from-host && echo back > /data/from-ctr",
        ])
        .ok();
    assert_eq!(out, "hello\n");
    assert_eq!(std::fs::read(host.join("from-ctr")).unwrap(), b"back\n");
    assert_eq!(
        mounted_fstype(&d.data_root().join("volumes/bv/_data")),
        None
    );
    d.docker(&["volume", "rm", "bv"]).ok();
}

#[test]
fn bad_options_are_refused_at_create_and_a_failing_mount_at_start() {
    let d = ready();
    for (opts, want) in [
        (&["--opt", "foo=bar"][..], "invalid option: \"foo\""),
        (
            &["--opt", "type=tmpfs"][..],
            "missing required option: \"device\"",
        ),
        (
            &[
                "--opt",
                "type=tmpfs",
                "--opt",
                "device=tmpfs",
                "--opt",
                "size=1m",
            ][..],
            "quota size requested but no quota support",
        ),
    ] {
        let mut args = vec!["volume", "create"];
        args.extend_from_slice(opts);
        args.push("refused");
        let out = d.docker(&args);
        assert_eq!(out.code(), 1, "{out:?}");
        assert!(out.stderr.contains(want), "{want}: {out:?}");
    }
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=bogus",
        "broken",
    ])
    .ok();
    let out = d.docker(&[
        "run",
        "--name",
        "b1",
        "-v",
        "broken:/data",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("error while mounting volume")
            && out.stderr.contains("failed to mount local volume"),
        "{out:?}"
    );
    let data = d.data_root().join("volumes/broken/_data");
    assert_eq!(mounted_fstype(&data), None, "nothing left mounted");
    d.docker(&["rm", "-f", "b1"]).ok();
    d.docker(&["volume", "rm", "broken"]).ok();
}

/// Copy-up at create lands on the volume's own mount (moby
/// `CopyImagePathContent` mounts the volume, copies, unmounts): a bind
/// volume's host directory gets the image's content, and nothing stays
/// mounted after the create.
#[test]
fn copy_up_lands_in_the_host_directory_of_a_bind_volume() {
    let d = ready();
    let host = d.dir().join("copy-target");
    std::fs::create_dir_all(&host).unwrap();
    let device = format!("device={}", host.display());
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        &device,
        "cv",
    ])
    .ok();
    let data = d.data_root().join("volumes/cv/_data");
    d.docker(&["run", "--name", "c1", "-v", "cv:/etc", "busybox", "true"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("hostname")).unwrap(),
        "busybox\n",
        "the image's /etc is in the bound host directory"
    );
    assert!(host.join("passwd").is_file());
    assert_eq!(
        mounted_fstype(&data),
        None,
        "the create's mount is released"
    );
    assert!(
        std::fs::read_dir(&data).unwrap().next().is_none(),
        "nothing was copied beneath the mount"
    );
    // A tmpfs volume: the copy goes to a tmpfs that is released after
    // (moby's behaviour); the create does not fail.
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=10m",
        "tv2",
    ])
    .ok();
    d.docker(&[
        "create", "--name", "c2", "-v", "tv2:/etc", "busybox", "true",
    ])
    .ok();
    let tmp_data = d.data_root().join("volumes/tv2/_data");
    assert_eq!(mounted_fstype(&tmp_data), None);
    let out = d.docker(&["start", "-a", "c2"]);
    assert_eq!(out.code(), 0, "{out:?}");
    d.docker(&["rm", "-f", "c1", "c2"]).ok();
    d.docker(&["volume", "rm", "cv", "tv2"]).ok();
}

/// How many mounts this mount namespace has exactly at `path`.
fn mount_count(path: &Path) -> usize {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let path = path.to_str().expect("utf-8 path");
    info.lines()
        .filter(|line| line.split(' ').nth(4) == Some(path))
        .count()
}

fn tmpfs_volume(d: &Daemon, name: &str) {
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=10m",
        name,
    ])
    .ok();
}

/// After `kill -9` of berthd its containers run on (their shims outlive
/// it), and so do their volumes' mounts: the new berthd gives the holds
/// back to the running containers (moby `restoreIfMounted`), so a second
/// user shares the mount instead of mounting another on top, and the last
/// user's stop unmounts it.
#[test]
fn a_volume_mount_outlives_a_kill_9_of_berthd_and_goes_with_its_last_user() {
    let mut d = ready();
    tmpfs_volume(&d, "rv");
    let data = d.data_root().join("volumes/rv/_data");
    d.docker(&[
        "run", "-d", "--name", "r1", "-v", "rv:/data", "busybox", "sleep", "1000",
    ])
    .ok();
    d.docker(&["exec", "r1", "sh", "-c", "echo kept > /data/f"])
        .ok();
    d.kill9();
    d.restart();
    assert_eq!(mount_count(&data), 1);
    d.docker(&[
        "run", "-d", "--name", "r2", "-v", "rv:/data", "busybox", "sleep", "1000",
    ])
    .ok();
    assert_eq!(mount_count(&data), 1, "the second user shares the mount");
    assert_eq!(d.docker(&["exec", "r2", "cat", "/data/f"]).ok(), "kept\n");
    d.docker(&["stop", "-t", "1", "r1"]).ok();
    assert_eq!(mount_count(&data), 1, "r2 still holds it");
    d.docker(&["stop", "-t", "1", "r2"]).ok();
    assert_eq!(mount_count(&data), 0, "unmounted with its last user");
    d.docker(&["rm", "r1", "r2"]).ok();
    d.docker(&["volume", "rm", "rv"]).ok();
}

/// A container that exits while berthd is down leaves its volume mounted
/// with no holder: the new berthd unmounts it at its start.
#[test]
fn a_volume_mount_whose_user_exited_while_berthd_was_down_goes_at_daemon_start() {
    let mut d = ready();
    tmpfs_volume(&d, "ev");
    let data = d.data_root().join("volumes/ev/_data");
    d.docker(&[
        "run", "-d", "--name", "e1", "-v", "ev:/data", "busybox", "sleep", "1000",
    ])
    .ok();
    let pid: i32 = d
        .docker(&["inspect", "-f", "{{.State.Pid}}", "e1"])
        .ok()
        .trim()
        .parse()
        .expect("a pid");
    d.kill9();
    assert_eq!(mount_count(&data), 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the container's process");
    // Its shim records the exit; wait for the process to be gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "pid {pid} did not die"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    d.restart();
    assert_eq!(
        d.docker(&["inspect", "-f", "{{.State.Status}}", "e1"])
            .ok()
            .trim(),
        "exited"
    );
    assert_eq!(mount_count(&data), 0, "unmounted at daemon start");
    d.docker(&["rm", "e1"]).ok();
    d.docker(&["volume", "rm", "ev"]).ok();
}

/// A bind volume whose mount is up with no user (left by a crash, or an
/// unmount that failed): `volume rm` unmounts it before the volume's
/// directory goes (moby `Root.Remove`), and never empties the host
/// directory through the mount.
#[test]
fn removing_a_volume_left_mounted_never_empties_its_host_directory() {
    use berth_tests::cmd::run_with_timeout;
    let d = ready();
    let host = d.dir().join("precious");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("keep"), b"mine\n").unwrap();
    let device = format!("device={}", host.display());
    d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "o=bind",
        "--opt",
        &device,
        "lv",
    ])
    .ok();
    let data = d.data_root().join("volumes/lv/_data");
    run_with_timeout(
        std::process::Command::new("mount")
            .arg("--bind")
            .arg(&host)
            .arg(&data),
        std::time::Duration::from_secs(10),
    )
    .ok();
    d.docker(&["volume", "rm", "lv"]).ok();
    assert_eq!(std::fs::read(host.join("keep")).unwrap(), b"mine\n");
    assert_eq!(mount_count(&data), 0);
    assert!(!data.exists(), "the volume's directory is gone");
}
