//! Issue 8, findings 5 to 7, end to end through the real docker CLI: an
//! option berthd honours takes effect in the container, one it does not is
//! refused at create and leaves nothing behind; image list filters narrow
//! the list and unknown ones are refused; resource limits the kernel would
//! refuse at start are refused at create.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// A `/proc/self/status` field as the container's shell sees it.
#[track_caller]
fn status_field(d: &Daemon, flags: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    let script = format!("grep '^{field}:' /proc/self/status | cut -f2");
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    let out = d.docker(&args);
    assert_eq!(out.code(), 0, "docker {args:?}: {out:?}");
    out.stdout.trim().to_owned()
}

#[test]
fn security_options_take_effect_in_the_container() {
    let d = ready();
    assert_eq!(status_field(&d, &[], "NoNewPrivs"), "0");
    assert_eq!(
        status_field(&d, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
    assert_eq!(
        status_field(
            &d,
            &["--security-opt", "no-new-privileges=true"],
            "NoNewPrivs"
        ),
        "1"
    );
    // 2: a filter is loaded (Docker's default profile).
    assert_eq!(status_field(&d, &[], "Seccomp"), "2");
    assert_eq!(
        status_field(&d, &["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    // A profile file: the CLI reads it and sends its JSON. This one allows
    // everything but mkdir, which fails with EPERM (1).
    let profile = d.dir().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .expect("write the profile");
    let seccomp = format!("seccomp={}", profile.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &seccomp,
        "busybox",
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status | cut -f2; mkdir /x 2>&1; echo rc=$?",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"2"), "{out:?}");
    assert!(out.stdout.contains("Operation not permitted"), "{out:?}");
    assert_eq!(lines.last(), Some(&"rc=1"), "{out:?}");
    // systempaths=unconfined: nothing masked, /proc/sys writable by root.
    let out = d.docker(&[
        "run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c",
        "grep -c ' /proc/kcore ' /proc/self/mountinfo; grep ' /proc/sys ' /proc/self/mountinfo | grep -c ' ro,'",
    ]);
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "0"],
        "{out:?}"
    );
    assert!(d.container_ids().is_empty(), "--rm removed them all");
}

#[test]
fn options_berthd_does_not_honour_are_refused_and_leave_nothing() {
    let d = ready();
    for (flags, message) in [
        (
            &["--security-opt", "bogus=1"][..],
            r#"invalid --security-opt 2: "bogus=1""#,
        ),
        (
            &["--security-opt", "apparmor=docker-default"],
            "is not supported by berth",
        ),
        (
            &["--mount", "type=bogus,dst=/x"],
            r#"invalid mount config for type "bogus": mount type unknown"#,
        ),
        (
            &["--volume-driver", "nfs", "-v", "data:/data"],
            "HostConfig.VolumeDriver (--volume-driver) is not supported by berth",
        ),
        (
            &["--gpus", "all"],
            "HostConfig.DeviceRequests (--gpus) is not supported by berth",
        ),
        (
            &["--restart", "always:3"],
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
    ] {
        let mut args = vec!["create", "--name", "refused"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = d.docker(&args);
        assert_ne!(out.code(), 0, "docker {args:?} was accepted: {out:?}");
        assert!(out.stderr.contains(message), "docker {args:?}: {out:?}");
        assert!(
            d.container_ids().is_empty(),
            "docker {args:?} left a container"
        );
    }
    // The name was never taken.
    d.docker(&["create", "--name", "refused", "busybox", "true"])
        .ok();
}

#[test]
fn limits_the_kernel_would_refuse_at_start_are_refused_at_create() {
    let d = ready();
    let max = i64::MAX;
    for (host, message) in [
        (
            format!(r#"{{"PidsLimit":{max}}}"#),
            "the kernel allows at most 4194304 processes",
        ),
        (
            format!(r#"{{"CpuShares":{max}}}"#),
            "the maximum allowed cpu-shares is 262144",
        ),
        (
            format!(r#"{{"Memory":10485760,"MemorySwap":{}}}"#, i64::MIN),
            "invalid memory swap limit",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{host}}}"#);
        let r = d.http("POST", "/containers/create", body.as_bytes());
        assert_eq!(r.status, 400, "{host}: {}", r.text());
        assert!(r.text().contains(message), "{host}: {}", r.text());
    }
    assert!(d.container_ids().is_empty());

    // The largest /dev/shm the API can ask for starts: tmpfs takes it.
    let body = format!(
        r#"{{"Image":"busybox","Cmd":["sh","-c","grep ' /dev/shm ' /proc/mounts"],"HostConfig":{{"ShmSize":{max}}}}}"#
    );
    let r = d.http("POST", "/containers/create", body.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().expect("an id").to_owned();
    d.docker(&["start", &id]).ok();
    assert_eq!(d.docker(&["wait", &id]).ok().trim(), "0");
    let mounts = d.docker(&["logs", &id]).ok();
    assert!(mounts.contains("size=9007199254740992k"), "{mounts}");
    d.docker(&["rm", &id]).ok();

    // BlkioWeight: applied where the kernel has a weight file, refused
    // where it has none (this project's CI kernel), never dropped.
    let weight_file = ["blkio.weight", "blkio.bfq.weight"].into_iter().find(|f| {
        std::path::Path::new("/sys/fs/cgroup/blkio")
            .join(f)
            .exists()
    });
    let out = d.docker(&[
        "run",
        "--rm",
        "--blkio-weight",
        "300",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null",
    ]);
    match weight_file {
        Some(_) => {
            assert_eq!(out.code(), 0, "{out:?}");
            assert!(out.stdout.contains("300"), "{out:?}");
        }
        None => {
            assert_ne!(out.code(), 0, "{out:?}");
            assert!(
                out.stderr
                    .contains("Your kernel does not support Block I/O weight"),
                "{out:?}"
            );
        }
    }
    assert!(d.container_ids().is_empty());
}

#[test]
fn image_filters_narrow_docker_images_and_unknown_ones_are_refused() {
    let d = ready();
    let tarball = berth_tests::busybox::shared_tarball();
    let tarball = tarball.to_str().expect("utf-8 path");
    let labelled = d
        .docker(&["import", "--change", "LABEL app=x", tarball, "labelled:1"])
        .ok()
        .trim()
        .to_owned();
    // An image without a tag.
    let dangling = d.docker(&["import", tarball]).ok().trim().to_owned();
    let busybox = d.docker(&["images", "-q", "--no-trunc", "busybox"]).ok();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut argv = vec!["images", "-q", "--no-trunc"];
        argv.extend_from_slice(args);
        let mut ids: Vec<String> = d.docker(&argv).ok().lines().map(str::to_owned).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    assert_eq!(
        ids(&["--filter", "label=app=x"]),
        std::slice::from_ref(&labelled)
    );
    assert_eq!(
        ids(&["--filter", "label=app"]),
        std::slice::from_ref(&labelled)
    );
    assert!(ids(&["--filter", "label=app=y"]).is_empty());
    assert_eq!(
        ids(&["--filter", "reference=labelled"]),
        std::slice::from_ref(&labelled)
    );
    assert_eq!(
        ids(&["--filter", "reference=label*:1"]),
        std::slice::from_ref(&labelled)
    );
    assert_eq!(ids(&["busybox"]), [busybox.trim().to_owned()]);
    assert!(ids(&["nosuchrepo"]).is_empty(), "docker images REPO");
    assert_eq!(
        ids(&["--filter", "dangling=true"]),
        std::slice::from_ref(&dangling)
    );
    assert!(!ids(&["--filter", "dangling=false"]).contains(&dangling));
    assert_eq!(ids(&[]).len(), 3);
    // The clean-up line removes only the labelled image.
    d.docker(&["rmi", &labelled]).ok();
    assert_eq!(ids(&[]).len(), 2);
    let out = d.docker(&["images", "--filter", "bogus=1"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'bogus'"), "{out:?}");
    let out = d.docker(&["ps", "-a", "--filter", "volume=x"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'volume'"), "{out:?}");
    let out = d.docker(&["plugin", "ls", "--filter", "bogus=1"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("invalid filter 'bogus'"), "{out:?}");
}

/// The busybox rootfs with a FIFO at `/etc/passwd`: a start that reads
/// it without care blocks for as long as nobody writes to it.
fn fifo_passwd_tarball(path: &std::path::Path) {
    let staging = tempfile::tempdir().expect("tempdir");
    berth_tests::busybox::build_rootfs(staging.path());
    std::fs::remove_file(staging.path().join("etc/passwd")).expect("remove passwd");
    let file = std::fs::File::create(path).expect("create tarball");
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", staging.path())
        .expect("pack rootfs");
    let mut fifo = tar::Header::new_gnu();
    fifo.set_entry_type(tar::EntryType::Fifo);
    fifo.set_path("etc/passwd").expect("fifo path");
    fifo.set_mode(0o644);
    fifo.set_size(0);
    fifo.set_cksum();
    builder
        .append(&fifo, std::io::empty())
        .expect("append the fifo");
    builder.finish().expect("finish tarball");
}

/// The class "no request can block the daemon": `rm -f` of a container
/// whose start is in progress does not answer "busy" (before: for as long
/// as the start hung); it ends the start and removes the container, and
/// the daemon serves on. The start may hang on the FIFO or fail at once
/// (once the user lookup refuses non-regular files): `rm -f` must work
/// either way.
#[test]
fn rm_f_ends_a_start_in_progress_and_the_daemon_serves_on() {
    let d = ready();
    let tarball = d.dir().join("fifo-passwd.tar");
    fifo_passwd_tarball(&tarball);
    d.docker(&["import", tarball.to_str().expect("utf-8"), "fifo-passwd"])
        .ok();
    let id = d
        .docker(&["create", "--name", "stuck", "fifo-passwd", "true"])
        .ok()
        .trim()
        .to_owned();
    let socket_daemon = d.socket();
    let start = std::thread::spawn(move || {
        // A raw client: it waits for the answer, whatever it is.
        let mut stream = std::os::unix::net::UnixStream::connect(&socket_daemon).expect("connect");
        stream
            .set_read_timeout(Some(berth_tests::daemon::CLI_TIMEOUT))
            .expect("timeout");
        use std::io::{Read, Write};
        stream
            .write_all(b"POST /containers/stuck/start HTTP/1.1\r\nHost: b\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .expect("send");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });
    // Wait (bounded) until the daemon runs the start job.
    let deadline = std::time::Instant::now() + berth_tests::daemon::CLI_TIMEOUT;
    while !d
        .past_events(Some("job"))
        .iter()
        .any(|e| e["Action"] == "start" && e["Actor"]["ID"] == "container_start")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the start never began"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = d.docker(&["rm", "-f", "stuck"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let answer = start.join().expect("the start's client");
    assert!(!answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(d.container_ids().is_empty(), "{id} is gone");
    // The daemon serves on: a container runs to completion.
    assert_eq!(
        d.docker(&["run", "--rm", "busybox", "echo", "ok"])
            .ok()
            .trim(),
        "ok"
    );
}
