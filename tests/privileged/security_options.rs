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
