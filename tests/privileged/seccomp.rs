//! berth_libcontainer::seccomp against the kernel: filters compiled from OCI
//! profiles are loaded into real processes and must deny what they say.
//!
//! Children are spawned with `std::process::Command` and load the filter in
//! a `pre_exec` hook through `BpfProgram::load`, a single seccomp(2) call on
//! a program compiled before the fork (libseccomp itself allocates and must
//! not run between fork and exec in a multi-threaded test process).
//! `Filter::load` (libseccomp's loader) is exercised on a dedicated thread:
//! seccomp filters without TSYNC apply to the calling thread only.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_libcontainer::seccomp::{self, BpfProgram};
use berth_tests::cmd::{Output, run_with_timeout};
use oci_spec::runtime::Capability;

const TIMEOUT: Duration = Duration::from_secs(20);

/// A profile that allows everything except mkdir/mkdirat, which fail with
/// EPERM.
const DENY_MKDIR: &[u8] = br#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    ]
}"#;

fn program(profile: &oci_spec::runtime::LinuxSeccomp) -> BpfProgram {
    seccomp::compile(profile)
        .expect("compile profile")
        .program()
        .expect("export program")
}

/// Runs `/bin/busybox args...` with `program` loaded right before exec.
fn run_filtered(program: &BpfProgram, args: &[&str]) -> Output {
    let program = program.clone();
    let mut command = Command::new("/bin/busybox");
    command.args(args);
    // SAFETY: the hook only performs one seccomp(2) system call on memory
    // allocated before the fork and builds an io::Error from a raw errno,
    // both async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            program
                .load()
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
        });
    }
    run_with_timeout(&mut command, TIMEOUT)
}

fn seccomp_mode_line(status: &str) -> &str {
    status
        .lines()
        .find(|l| l.starts_with("Seccomp:"))
        .expect("Seccomp line in /proc/.../status")
}

#[test]
fn seccomp_custom_profile_denies_mkdir_in_a_child() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let denied = dir.path().join("denied");
    let allowed = dir.path().join("allowed");
    let deny_mkdir = program(&seccomp::parse_profile(DENY_MKDIR).unwrap());

    let out = run_filtered(&deny_mkdir, &["mkdir", denied.to_str().unwrap()]);
    assert!(!out.status.success(), "mkdir must be denied: {out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    assert!(!denied.exists());

    // Control: the same command without the filter works, so the failure
    // above came from the filter.
    let out = run_with_timeout(
        Command::new("/bin/busybox").args(["mkdir", allowed.to_str().unwrap()]),
        TIMEOUT,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(allowed.is_dir());

    // The kernel reports filter mode for the filtered process.
    let out = run_filtered(&deny_mkdir, &["cat", "/proc/self/status"]);
    assert_eq!(
        seccomp_mode_line(&out.ok()).split_whitespace().nth(1),
        Some("2")
    );
}

#[test]
fn seccomp_default_profile_blocks_unshare_and_mount_but_not_echo() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_str().unwrap();
    let default = program(&seccomp::docker_default_profile());

    let out = run_filtered(&default, &["echo", "hello from the default profile"]);
    assert_eq!(out.ok().trim(), "hello from the default profile");

    let out = run_filtered(&default, &["unshare", "-m", "true"]);
    assert!(!out.status.success(), "unshare must be denied: {out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");

    let out = run_filtered(&default, &["mount", "-t", "tmpfs", "none", target]);
    if out.status.success() {
        // Undo before failing so that nothing stays mounted.
        let _ = nix::mount::umount(dir.path());
        panic!("mount must be denied by the default profile: {out:?}");
    }
    // busybox words EPERM from mount(2) as "permission denied (are you root?)".
    assert!(
        out.stderr.to_lowercase().contains("permission denied"),
        "{out:?}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(target), "{target} got mounted");

    let out = run_filtered(&default, &["cat", "/proc/self/status"]);
    assert_eq!(
        seccomp_mode_line(&out.ok()).split_whitespace().nth(1),
        Some("2")
    );
}

#[test]
fn seccomp_default_profile_with_sys_admin_allows_unshare() {
    berth_tests::require::root();
    let mut caps = seccomp::DOCKER_DEFAULT_CAPABILITIES.to_vec();
    caps.push(Capability::SysAdmin);
    let admin = program(&seccomp::docker_default_profile_for(&caps));
    // The child unshares its own mount namespace and exits: nothing leaks.
    let out = run_filtered(&admin, &["unshare", "-m", "true"]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn seccomp_filter_load_applies_to_the_calling_thread() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let in_thread = dir.path().join("from-filtered-thread");
    let in_main = dir.path().join("from-main-thread");
    let target = in_thread.clone();
    let (result, status) = std::thread::spawn(move || {
        let profile = seccomp::parse_profile(DENY_MKDIR).expect("parse");
        seccomp::compile(&profile)
            .expect("compile")
            .load()
            .expect("load filter into this thread");
        let result = std::fs::create_dir(&target);
        let status = std::fs::read_to_string("/proc/thread-self/status").expect("status");
        (result, status)
    })
    .join()
    .expect("filtered thread");
    let err = result.expect_err("mkdir in the filtered thread must fail");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    assert!(!Path::new(&in_thread).exists());
    assert_eq!(
        seccomp_mode_line(&status).split_whitespace().nth(1),
        Some("2")
    );
    // The filter stayed with that thread.
    std::fs::create_dir(&in_main).expect("mkdir in the unfiltered main thread");
}

/// A static probe that calls io_uring_setup(2) and says how it ended:
/// exit 0 "ok", 1 EPERM, 2 anything else (busybox has no applet for it).
const IO_URING_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    unsigned char params[120]; /* struct io_uring_params, zeroed */
    memset(params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, 1, params);
    if (fd >= 0) { puts("io_uring_setup: ok"); return 0; }
    printf("io_uring_setup: %s\n", strerror(errno));
    return errno == EPERM ? 1 : 2;
}
"#;

#[test]
fn seccomp_default_container_cannot_set_up_io_uring() {
    berth_tests::require::root();
    let cc = berth_tests::require::program("cc", "gcc and libc6-dev");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probe.c"), IO_URING_PROBE).unwrap();
    let probe = dir.path().join("io_uring_probe");
    let out = run_with_timeout(
        Command::new(cc)
            .args(["-static", "-O2", "-o"])
            .arg(&probe)
            .arg(dir.path().join("probe.c")),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "building the static probe failed (needs libc6-dev's libc.a): {out:?}"
    );
    let tarball = dir.path().join("image.tar");
    berth_tests::busybox::build_tarball_with(&tarball, |rootfs| {
        std::fs::copy(&probe, rootfs.join("bin/io_uring_probe")).expect("copy probe");
    });
    let d = berth_tests::daemon::Daemon::start();
    d.berth(&["import", tarball.to_str().unwrap(), "probe"])
        .ok();
    // Control: without a filter the kernel lets the call through, so an
    // EPERM below comes from the profile, not from the host.
    let out = d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "probe",
        "/bin/io_uring_probe",
    ]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (0, "io_uring_setup: ok\n"),
        "io_uring must work on this host without seccomp (kernel.io_uring_disabled?): {out:?}"
    );
    let out = d.docker(&["run", "--rm", "probe", "/bin/io_uring_probe"]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (1, "io_uring_setup: Operation not permitted\n"),
        "{out:?}"
    );
}
