//! Issue 10, the security options people pass, end to end through the real
//! docker CLI: each option's effect as the container sees it, and bad
//! input refused at create with nothing left behind while berthd serves on.

use berth_tests::daemon::Daemon;

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `docker run --rm FLAGS busybox sh -c SCRIPT`: its output, which must be
/// a success.
#[track_caller]
fn docker_sh(d: &Daemon, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = d.docker(&args);
    assert_eq!(out.code(), 0, "docker {args:?}: {out:?}");
    out.stdout
}

/// A `/proc/self/status` field of the container's shell.
#[track_caller]
fn status_field(d: &Daemon, flags: &[&str], field: &str) -> String {
    docker_sh(
        d,
        flags,
        &format!("grep '^{field}:' /proc/self/status | cut -f2"),
    )
    .trim()
    .to_owned()
}

/// This process's own `/proc/self/status` field (the test runs as the
/// same root as berthd, so it has berthd's bounding set).
fn own_status_field(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
        .trim()
        .to_owned()
}

/// `docker create FLAGS busybox true` must fail with `message` in its
/// error, create nothing, and leave berthd serving.
#[track_caller]
fn refused_at_create(d: &Daemon, flags: &[&str], message: &str) {
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
    let version = d.docker(&["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(version.code(), 0, "berthd serves on: {version:?}");
}

#[test]
fn cap_add_all_and_cap_drop_all_reach_the_container() {
    let d = ready();
    // ALL is berthd's bounding set, which is this test's.
    let bounding = own_status_field("CapBnd");
    assert_eq!(status_field(&d, &["--cap-add", "ALL"], "CapEff"), bounding);
    assert_eq!(status_field(&d, &["--cap-add", "ALL"], "CapBnd"), bounding);
    // ALL but one: CAP_CHOWN is bit 0.
    let without_chown = u64::from_str_radix(&bounding, 16).expect("hex CapBnd") & !1;
    assert_eq!(
        status_field(&d, &["--cap-add", "ALL", "--cap-drop", "CHOWN"], "CapEff"),
        format!("{without_chown:016x}")
    );
    assert_eq!(
        status_field(&d, &["--cap-drop", "ALL"], "CapEff"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(&d, &["--cap-drop", "ALL"], "CapBnd"),
        "0000000000000000"
    );
    refused_at_create(
        &d,
        &["--cap-add", "NOT_A_CAP"],
        r#"unknown capability: "CAP_NOT_A_CAP""#,
    );
}

#[test]
fn shm_size_and_ulimits_as_df_and_ulimit_see_them() {
    let d = ready();
    // df -k: the size column in KiB.
    let size = |flags: &[&str]| {
        docker_sh(&d, flags, "df -k /dev/shm | tail -n 1")
            .split_whitespace()
            .nth(1)
            .map(str::to_owned)
            .expect("df prints a size")
    };
    assert_eq!(size(&[]), (64 * 1024).to_string());
    assert_eq!(size(&["--shm-size", "16m"]), (16 * 1024).to_string());
    // Within this machine's hard limit: root lacks CAP_SYS_RESOURCE here.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    let soft = 256.min(hard);
    let flag = format!("nofile={soft}:{soft}");
    assert_eq!(
        docker_sh(&d, &["--ulimit", &flag], "ulimit -n; ulimit -Hn"),
        format!("{soft}\n{soft}\n")
    );
}

#[test]
fn a_seccomp_profile_moby_refuses_is_refused_at_create() {
    let d = ready();
    // Well-formed JSON (the CLI compacts it and would refuse anything
    // else itself) that is no Docker profile.
    for (json, message) in [
        (
            r#"{"defaultAction":"SCMP_ACT_NOPE"}"#,
            "Decoding seccomp profile failed: unknown variant",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
            "Decoding seccomp profile failed: both 'name' and 'names'",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":"mkdir"}"#,
            "Decoding seccomp profile failed: invalid type",
        ),
    ] {
        let profile = d.dir().join("bad-profile.json");
        std::fs::write(&profile, json).expect("write the profile");
        let option = format!("seccomp={}", profile.display());
        refused_at_create(&d, &["--security-opt", &option], message);
    }
    // And a good one still runs: the filter is loaded.
    assert_eq!(
        status_field(&d, &["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    assert_eq!(
        status_field(&d, &["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
}

/// `POST /containers/create` with a raw body: the refusal's status and
/// message (what API clients other than the docker CLI see).
#[track_caller]
fn api_create_refused(d: &Daemon, body: &str) -> (u16, String) {
    let r = d.http("POST", "/containers/create", body.as_bytes());
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    (r.status, message)
}

#[test]
fn namespaced_sysctls_reach_the_container_and_the_rest_is_refused() {
    let d = ready();
    assert_eq!(
        docker_sh(
            &d,
            &[
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--sysctl",
                "kernel.shmmax=65536",
                "--sysctl",
                "fs.mqueue.msg_max=16",
            ],
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max",
        ),
        "1\n65536\n16\n"
    );
    // Docker's default stays where the container sets nothing else.
    assert_eq!(
        docker_sh(
            &d,
            &["--sysctl", "net.ipv4.ip_forward=1"],
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"
        ),
        "0\n"
    );
    // The CLI refuses what is outside its list itself; berthd refuses it
    // for every API client with runc's messages.
    refused_at_create(
        &d,
        &["--sysctl", "kernel.hostname=x"],
        "sysctl 'kernel.hostname=x' is not allowed",
    );
    for (key, message) in [
        (
            "kernel.hostname",
            r#"sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field"#,
        ),
        (
            "kernel.pid_max",
            r#"sysctl "kernel.pid_max" is not in a separate kernel namespace"#,
        ),
        (
            "vm.swappiness",
            r#"sysctl "vm.swappiness" is not in a separate kernel namespace"#,
        ),
    ] {
        let body = format!(
            r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"Sysctls":{{"{key}":"1"}}}}}}"#
        );
        assert_eq!(api_create_refused(&d, &body), (400, message.to_owned()));
    }
    assert!(d.container_ids().is_empty(), "nothing was created");
}

#[test]
fn init_runs_as_pid_1_forwards_signals_and_passes_the_status_on() {
    let d = ready();
    // PID 1 is the init, the command its child.
    let ps = docker_sh(&d, &["--init"], "ps -o pid,args");
    let pid1 = ps
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no PID 1 in {ps:?}"));
    assert!(
        pid1.contains("/sbin/docker-init -- sh -c ps -o pid,args"),
        "{ps}"
    );
    // Without --init the command is PID 1 itself.
    let ps = docker_sh(&d, &[], "ps -o pid,args");
    let pid1 = ps
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no PID 1 in {ps:?}"));
    assert!(
        pid1.contains("sh -c ps -o pid,args") && !pid1.contains("docker-init"),
        "{ps}"
    );
    // The init is read-only in the container.
    let out = d.docker(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "echo x > /sbin/docker-init",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    // Exit statuses pass through.
    let out = d.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), 3, "{out:?}");

    // `docker stop` sends SIGTERM to PID 1: the init hands it to `sleep`,
    // which dies of it (143). Had it not reached sleep, the stop would
    // have ended in SIGKILL (137) after the timeout.
    let out = d.docker(&[
        "run", "-d", "--name", "sleeper", "--init", "busybox", "sleep", "1000",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = d.docker(&["stop", "-t", "30", "sleeper"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let code = d.docker(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.HostConfig.Init}}",
        "sleeper",
    ]);
    assert_eq!(code.stdout.trim(), "143 true", "{code:?}");
    d.docker(&["rm", "sleeper"]).ok();
}

#[test]
fn init_is_refused_at_create_when_berthds_binary_is_missing() {
    let missing = "/nonexistent/berth-init";
    let d = Daemon::start_with(&["--init-path", missing]);
    d.import_busybox("busybox");
    refused_at_create(
        &d,
        &["--init"],
        &format!(
            "--init is not available: berthd's init binary {missing} is missing (berthd --init-path)"
        ),
    );
    // Containers without --init are unaffected.
    assert_eq!(docker_sh(&d, &[], "echo ok"), "ok\n");
}

#[test]
fn group_add_resolves_in_the_containers_own_group_file() {
    let d = ready();
    let groups = |flags: &[&str]| -> String {
        docker_sh(&d, flags, "grep '^Groups:' /proc/self/status | cut -f2")
            .trim()
            .to_owned()
    };
    let before = groups(&[]);
    // A name from the image's /etc/group, and numbers with and without an
    // entry there.
    let gid_of = |name: &str| -> String {
        docker_sh(
            &d,
            &[],
            &format!("grep '^{name}:' /etc/group | cut -d: -f3"),
        )
        .trim()
        .to_owned()
    };
    let name = ["audio", "wheel", "users", "nogroup", "daemon"]
        .into_iter()
        .find(|n| !gid_of(n).is_empty())
        .expect("the busybox image's /etc/group has a named group to test with");
    let gid = gid_of(name);
    let with = groups(&["--group-add", name, "--group-add", "4242"]);
    let mut wanted: Vec<u32> = before
        .split_whitespace()
        .chain([gid.as_str(), "4242"])
        .map(|g| g.parse().expect("a gid"))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut got: Vec<u32> = with
        .split_whitespace()
        .map(|g| g.parse().expect("a gid"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, wanted, "Groups: {with}");
    // An exec process gets them too (moby `getUser` for execs).
    d.docker(&[
        "run",
        "-d",
        "--name",
        "grouped",
        "--group-add",
        name,
        "--group-add",
        "4242",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let exec = d.docker(&["exec", "grouped", "id", "-G"]).ok();
    let mut got: Vec<u32> = exec
        .split_whitespace()
        .map(|g| g.parse().expect("a gid"))
        .collect();
    got.sort_unstable();
    got.dedup();
    // `id -G` lists root's primary group (0) with the supplementary ones.
    let mut wanted_exec = wanted.clone();
    wanted_exec.push(0);
    wanted_exec.sort_unstable();
    wanted_exec.dedup();
    assert_eq!(got, wanted_exec, "id -G in an exec: {exec}");
    d.docker(&["rm", "-f", "grouped"]).ok();

    // A name the image does not have: moby's (runc's) message when the
    // process starts, as with dockerd, and berthd serves on.
    let out = d.docker(&[
        "run",
        "--rm",
        "--group-add",
        "nosuchgroup",
        "busybox",
        "true",
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to find group nosuchgroup: no matching entries in group file"),
        "{out:?}"
    );
    refused_at_create(&d, &["--group-add", "a:b"], r#"invalid --group-add "a:b""#);
}

#[test]
fn devices_reach_the_container_with_the_access_they_were_given() {
    let d = ready();
    // /dev/loop-control: a node no container has by default, harmless to
    // open. With "r" it opens for reading only: the device cgroup refuses
    // the write open (EPERM) on v1 and v2 alike.
    let probe = "(exec 3</dev/lc) && echo read-ok; (exec 4>/dev/lc) 2>/dev/null && echo write-ok || echo write-refused; stat -c '%t:%T' /dev/lc";
    assert_eq!(
        docker_sh(&d, &["--device", "/dev/loop-control:/dev/lc:r"], probe),
        "read-ok\nwrite-refused\na:ed\n"
    );
    assert_eq!(
        docker_sh(&d, &["--device", "/dev/loop-control:/dev/lc"], probe),
        "read-ok\nwrite-ok\na:ed\n"
    );
    assert_eq!(
        docker_sh(&d, &[], "test -e /dev/lc && echo present || echo absent"),
        "absent\n"
    );
    refused_at_create(
        &d,
        &["--device", "/nonexistent"],
        r#"error gathering device information while adding custom device "/nonexistent": no such file or directory"#,
    );
}

/// `mknod PATH c MAJOR:MINOR` with `mode`, for a device directory.
fn make_char_node(path: &std::path::Path, major: u64, minor: u64, mode: u32) {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    mknod(
        path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(mode),
        makedev(major, minor),
    )
    .unwrap_or_else(|e| panic!("mknod {}: {e}", path.display()));
    // mknod applies the umask: set the mode the container must see.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

#[test]
fn a_device_directory_adds_every_node_below_it() {
    let d = ready();
    // moby's `DevicesFromPath`: a directory given to --device adds each
    // device node below it (recursively, links not followed) at the same
    // place under the container path, with its mode and the access given.
    let dir = tempfile::tempdir().expect("tempdir");
    let devices = dir.path().join("devs");
    std::fs::create_dir_all(devices.join("sub")).expect("mkdir devs/sub");
    make_char_node(&devices.join("lc"), 10, 237, 0o640);
    make_char_node(&devices.join("sub/null"), 1, 3, 0o666);
    std::fs::write(devices.join("file"), "not a device").expect("write file");
    std::os::unix::fs::symlink("/dev/zero", devices.join("link")).expect("symlink");
    let spec = format!("{}:/dev/mine:r", devices.display());
    let probe = "stat -c '%n %t:%T %a' /dev/mine/lc /dev/mine/sub/null; \
                 ls /dev/mine | tr '\\n' ' '; echo; \
                 (exec 3</dev/mine/lc) && echo read-ok; \
                 (exec 4>/dev/mine/lc) 2>/dev/null && echo write-ok || echo write-refused";
    assert_eq!(
        docker_sh(&d, &["--device", &spec], probe),
        "/dev/mine/lc a:ed 640\n/dev/mine/sub/null 1:3 666\nlc sub \nread-ok\nwrite-refused\n"
    );
    // A directory without a device node is moby's error.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir empty");
    refused_at_create(
        &d,
        &["--device", &empty.display().to_string()],
        &format!(
            "error gathering device information while adding custom device {:?}: not a device node",
            empty.display().to_string()
        ),
    );
}

#[test]
fn device_cgroup_rules_allow_what_they_name() {
    let d = ready();
    // A node made in the container (mknod is allowed for every device by
    // Docker's rules) opens only with a rule that allows its numbers.
    let probe = "mknod /tmp/lc c 10 237 && (exec 3</tmp/lc) 2>/dev/null && echo open-ok || echo open-refused";
    assert_eq!(docker_sh(&d, &[], probe), "open-refused\n");
    assert_eq!(
        docker_sh(&d, &["--device-cgroup-rule", "c 10:237 r"], probe),
        "open-ok\n"
    );
    // The CLI checks the format itself; berthd for every API client.
    let body =
        r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"DeviceCgroupRules":["c 10:237"]}}"#;
    assert_eq!(
        api_create_refused(&d, body),
        (
            400,
            "invalid device cgroup rule format: 'c 10:237'".to_owned()
        )
    );
    assert!(d.container_ids().is_empty(), "nothing was created");
}

#[test]
fn the_berth_cli_passes_sysctl_device_group_add_and_init() {
    let d = ready();
    let out = d
        .berth(&[
            "run",
            "--rm",
            "--init",
            "--sysctl",
            "kernel.msgmax=65536",
            "--device",
            "/dev/null:/dev/berth-null:r",
            "--group-add",
            "1234",
            "busybox",
            "sh",
            "-c",
            "cat /proc/sys/kernel/msgmax; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
             test -c /dev/berth-null && echo device; id -G",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"65536"), "{out}");
    assert!(lines[1].starts_with("/sbin/docker-init -- sh -c"), "{out}");
    assert_eq!(lines.get(2), Some(&"device"), "{out}");
    assert!(lines[3].split(' ').any(|g| g == "1234"), "{out}");
    let bad = d.berth(&["run", "--rm", "--device", "/a:/b:r:x", "busybox", "true"]);
    assert_ne!(bad.code(), 0);
    assert!(
        bad.stderr
            .contains("invalid device specification: /a:/b:r:x"),
        "{bad:?}"
    );
}
