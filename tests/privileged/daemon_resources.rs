//! berthd's host-dependent settings end to end: the cgroup parent and its
//! removal, the cgroup features in `/info`, `HostConfig` fields as a
//! container sees them (through the real docker CLI where it has the
//! flag), Docker's 126/127 start failures and `docker ps` status strings.

use std::path::Path;

use berth_tests::daemon::{Daemon, cgroup_dirs};

fn ready() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `docker run --rm busybox sh -c SCRIPT` with `flags` before the image;
/// the output of a successful run.
#[track_caller]
fn docker_sh(d: &Daemon, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = d.docker(&args);
    assert_eq!(out.code(), 0, "docker {args:?}: {out:?}");
    out.stdout
}

/// A character device of the host's `/dev` that no container gets by
/// default, and its `major:minor` in hex as `stat -c %t:%T` prints it.
fn host_device_beyond_the_defaults() -> (String, String) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    const DEFAULTS: [&str; 8] = [
        "null", "zero", "full", "tty", "random", "urandom", "ptmx", "console",
    ];
    let entries = std::fs::read_dir("/dev").expect("read /dev");
    for entry in entries {
        let entry = entry.expect("/dev entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(entry.path()).expect("stat a /dev entry");
        if meta.file_type().is_char_device() && !DEFAULTS.contains(&name.as_str()) {
            let rdev = meta.rdev();
            return (
                format!("/dev/{name}"),
                format!("{:x}:{:x}", libc::major(rdev), libc::minor(rdev)),
            );
        }
    }
    panic!("this machine's /dev has no character device beyond the defaults to test with");
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

#[test]
fn containers_live_under_the_cgroup_parent_which_goes_with_the_daemon() {
    let mut d = ready();
    let parent = d.cgroup_parent().to_owned();
    assert!(parent.starts_with("/berth-test-"), "{parent}");
    let id = d
        .berth(&["run", "-d", "busybox", "sleep", "100"])
        .ok()
        .trim()
        .to_owned();
    // The container's cgroup is <parent>/<id> in every v1 hierarchy it
    // joins; the kernel's view of its init says so too.
    let dirs = cgroup_dirs(&format!("{parent}/{id}"));
    assert!(
        dirs.iter().any(|d| d.starts_with("/sys/fs/cgroup/memory")),
        "{dirs:?}"
    );
    let pid = d.docker(&["inspect", "-f", "{{.State.Pid}}", &id]).ok();
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&format!("{parent}/{id}"))),
        "{cgroups}"
    );
    assert!(!cgroup_dirs("/berth").iter().any(|p| p.join(&id).exists()));

    // A daemon stopped with a running container keeps the parent.
    d.stop();
    assert!(!d.cgroup_parent_dirs().is_empty());
    d.restart();
    let out = d.berth(&["rm", "-f", &id]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(cgroup_dirs(&format!("{parent}/{id}")).is_empty());
    // Without containers the daemon removes it at shutdown.
    d.stop();
    assert_eq!(d.cgroup_parent_dirs(), Vec::<std::path::PathBuf>::new());
    assert!(d.log().contains("shutting down"), "{}", d.log());
}

#[test]
fn the_cgroup_namespace_follows_dockers_default_and_cgroupns() {
    let d = ready();
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    // The line of /proc/self/cgroup with the memory controller (v1) or the
    // unified one (v2), as the container sees it, and the container's id.
    let cgroup_seen = |flags: &[&str]| {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "cat", "/proc/self/cgroup"]);
        let id = d.docker(&args).ok().trim().to_owned();
        assert_eq!(d.docker(&["wait", &id]).ok().trim(), "0");
        let out = d.docker(&["logs", &id]).ok();
        let mode = d
            .docker(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", &id])
            .ok();
        d.docker(&["rm", &id]).ok();
        let line = out
            .lines()
            .find(|l| {
                if unified {
                    l.starts_with("0::")
                } else {
                    l.split(':')
                        .nth(1)
                        .is_some_and(|c| c.split(',').any(|c| c == "memory"))
                }
            })
            .unwrap_or_else(|| panic!("no memory cgroup line in {out}"))
            .to_owned();
        let path = line.splitn(3, ':').nth(2).expect("cgroup path").to_owned();
        (mode.trim().to_owned(), path, id)
    };

    // dockerd's default: the host's namespace on v1, a private one on v2.
    let (mode, path, id) = cgroup_seen(&[]);
    if unified {
        assert_eq!((mode.as_str(), path.as_str()), ("private", "/"));
    } else {
        assert_eq!(mode, "host");
        assert_eq!(path, format!("{}/{id}", d.cgroup_parent()));
    }
    let (mode, path, _) = cgroup_seen(&["--cgroupns", "private"]);
    assert_eq!((mode.as_str(), path.as_str()), ("private", "/"));
    let (mode, path, id) = cgroup_seen(&["--cgroupns", "host"]);
    assert_eq!(mode, "host");
    assert!(
        path.ends_with(&format!("{}/{id}", d.cgroup_parent())),
        "{path}"
    );

    let out = d.berth(&["create", "--cgroupns", "shared", "busybox", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        "Error response from daemon: invalid cgroup namespace mode: shared"
    );
}

#[test]
fn a_bad_cgroup_parent_is_refused_at_start() {
    berth_tests::require::root();
    let dir = tempfile::tempdir().unwrap();
    let out = berth_tests::cmd::run_with_timeout(
        std::process::Command::new(berth_tests::workspace_bin("berthd"))
            .arg("-H")
            .arg(format!("unix://{}", dir.path().join("s.sock").display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("pid"))
            .arg("--plugin-dir")
            .arg(dir.path().join("plugins"))
            .arg("--plugin-grants")
            .arg(dir.path().join("grants.toml"))
            .arg("--cgroup-parent")
            .arg("/a/../../escape"),
        berth_tests::daemon::CLI_TIMEOUT,
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("--cgroup-parent"), "{}", out.stderr);
    assert!(out.stderr.contains(".."), "{}", out.stderr);
}

#[test]
fn info_reports_the_kernels_cgroup_features() {
    let d = Daemon::start();
    let info = d.http("GET", "/info", b"").json();
    let memsw = Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists();
    assert_eq!(info["SwapLimit"], memsw, "{info}");
    assert_eq!(info["MemoryLimit"], true);
    assert_eq!(info["CpuCfsQuota"], true);
    assert_eq!(info["CpuCfsPeriod"], true);
    assert_eq!(info["CPUShares"], true);
    assert_eq!(info["CPUSet"], true);
    assert_eq!(info["PidsLimit"], true);
    assert_eq!(info["CgroupDriver"], "cgroupfs");
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(info["CgroupVersion"], if v2 { "2" } else { "1" });
    // docker info reads the same fields.
    let out = d.docker(&["info", "--format", "{{.SwapLimit}} {{.CgroupDriver}}"]);
    assert_eq!(out.ok().trim(), format!("{memsw} cgroupfs"));
}

#[test]
fn memory_swap_reaches_the_cgroup_with_swap_accounting() {
    let d = ready();
    let memsw = "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes";
    if !Path::new(memsw).exists() {
        panic!(
            "this kernel has no swap accounting ({memsw} missing): the unit tests cover that case, this test needs a kernel with it"
        );
    }
    let out = d.docker(&[
        "run",
        "--rm",
        "-m",
        "32m",
        "--memory-swap",
        "64m",
        "busybox",
        "cat",
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, format!("{}\n{}\n", 64 << 20, 32 << 20));
    // No warning where the kernel accounts swap.
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
}

#[test]
fn cpuset_shm_size_oom_score_adj_and_ulimits_reach_the_container() {
    let d = ready();
    let ncpu = std::thread::available_parallelism().unwrap().get();
    let last = (ncpu - 1).to_string();
    assert_eq!(
        status_field(&d, &["--cpuset-cpus", &last], "Cpus_allowed_list"),
        last
    );
    assert_eq!(
        status_field(&d, &["--cpuset-mems", "0"], "Mems_allowed_list"),
        "0"
    );
    let out = d.docker(&["run", "--rm", "--cpuset-cpus", "64", "busybox", "true"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr.contains("Requested CPUs are not available"),
        "{}",
        out.stderr
    );

    let shm = docker_sh(
        &d,
        &["--shm-size", "128m"],
        "grep ' /dev/shm ' /proc/mounts",
    );
    assert!(shm.contains("size=131072k"), "{shm}");
    let shm = docker_sh(&d, &[], "grep ' /dev/shm ' /proc/mounts");
    assert!(shm.contains("size=65536k"), "{shm}");

    // Raising the OOM score needs nothing; lowering it below berthd's own
    // needs CAP_SYS_RESOURCE, which root lacks on this machine.
    assert_eq!(
        docker_sh(
            &d,
            &["--oom-score-adj", "500"],
            "cat /proc/self/oom_score_adj"
        )
        .trim(),
        "500"
    );
    let has_sys_resource = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << 24) != 0);
    let out = d.docker(&["run", "--rm", "--oom-score-adj", "-500", "busybox", "true"]);
    if has_sys_resource {
        assert_eq!(out.code(), 0, "{out:?}");
    } else {
        assert_eq!(out.code(), 125, "{out:?}");
        assert!(out.stderr.contains("CAP_SYS_RESOURCE"), "{}", out.stderr);
    }

    let limits = docker_sh(
        &d,
        &["--ulimit", "nofile=1024:2048"],
        "ulimit -n; ulimit -Hn",
    );
    assert_eq!(limits, "1024\n2048\n");
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if hard != nix::sys::resource::RLIM_INFINITY && !has_sys_resource {
        let above = format!("nofile=1024:{}", hard + 1);
        let out = d.docker(&["run", "--rm", "--ulimit", &above, "busybox", "true"]);
        assert_eq!(out.code(), 125, "{out:?}");
        assert!(
            out.stderr.contains("above the daemon's hard limit"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn capabilities_read_only_privileged_tmpfs_and_binds_reach_the_container() {
    let d = ready();
    // Docker's default set, then tweaks.
    assert_eq!(
        status_field(&d, &[], "CapEff"),
        "00000000a80425fb",
        "Docker's defaults"
    );
    assert_eq!(
        status_field(&d, &["--cap-add", "SYS_ADMIN"], "CapEff"),
        "00000000a82425fb"
    );
    assert_eq!(
        status_field(&d, &["--cap-drop", "CHOWN"], "CapEff"),
        "00000000a80425fa"
    );
    assert_eq!(
        status_field(&d, &["--cap-drop", "ALL", "--cap-add", "CHOWN"], "CapEff"),
        "0000000000000001"
    );

    // --read-only: the root and the network files cannot be written.
    let out = d.docker(&[
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "touch /x || echo refused",
    ]);
    assert!(out.stdout.contains("refused"), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");

    // --privileged: every capability the daemon holds, no seccomp filter,
    // nothing masked, /sys writable.
    let bounding = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(status_field(&d, &["--privileged"], "CapEff"), bounding);
    assert_eq!(status_field(&d, &["--privileged"], "Seccomp"), "0");
    assert_eq!(status_field(&d, &[], "Seccomp"), "2");
    let mounts = docker_sh(
        &d,
        &["--privileged"],
        "grep -E ' /sys | /proc/kcore ' /proc/mounts || true",
    );
    assert!(mounts.contains(" /sys sysfs rw"), "{mounts}");
    assert!(!mounts.contains("/proc/kcore"), "{mounts}");

    // --privileged also gets the host's device nodes, with their numbers;
    // an unprivileged container only the runtime's few.
    let (device, numbers) = host_device_beyond_the_defaults();
    let probe = format!("stat -c '%t:%T' {device} 2>/dev/null || echo absent");
    assert_eq!(docker_sh(&d, &["--privileged"], &probe).trim(), numbers);
    assert_eq!(docker_sh(&d, &[], &probe).trim(), "absent");

    // --tmpfs with Docker's defaults (noexec) plus the options given.
    let run = docker_sh(
        &d,
        &["--tmpfs", "/run:size=1m,mode=1777"],
        "grep ' /run ' /proc/mounts; stat -c %a /run",
    );
    assert!(run.contains("tmpfs /run tmpfs"), "{run}");
    assert!(run.contains("noexec"), "{run}");
    assert!(run.contains("size=1024k"), "{run}");
    assert!(run.ends_with("1777\n"), "{run}");

    // -v creates a missing host directory and binds it read-write.
    let host = tempfile::tempdir().unwrap();
    let missing = host.path().join("made/by/berthd");
    let volume = format!("{}:/data", missing.display());
    docker_sh(&d, &["-v", &volume], "echo hello > /data/file");
    assert_eq!(
        std::fs::read_to_string(missing.join("file")).unwrap(),
        "hello\n"
    );
    let ro = format!("{}:/data:ro", missing.display());
    let out = d.docker(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/x"]);
    assert_ne!(out.code(), 0, "{out:?}");
}

#[test]
fn start_failures_exit_126_and_127_like_docker() {
    let d = ready();
    // A file that exists but may not be executed: 126, permission denied.
    let out = d.docker(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(out.code(), 126, "{out:?}");
    assert!(out.stderr.contains("permission denied"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("executable file not found"),
        "{}",
        out.stderr
    );
    let out = d.berth(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(out.code(), 126, "{out:?}");
    // A directory cannot be executed either.
    let out = d.docker(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(out.code(), 126, "{out:?}");
    // Missing: 127.
    let out = d.docker(&["run", "--rm", "busybox", "/no/such/binary"]);
    assert_eq!(out.code(), 127, "{out:?}");
    let out = d.docker(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(out.code(), 127, "{out:?}");
    assert!(
        out.stderr.contains("executable file not found"),
        "{}",
        out.stderr
    );
    // The container that failed records Docker's code.
    let out = d.docker(&["run", "--name", "noexec", "busybox", "/etc/passwd"]);
    assert_eq!(out.code(), 126, "{out:?}");
    let code = d.docker(&["inspect", "-f", "{{.State.ExitCode}}", "noexec"]);
    assert_eq!(code.ok().trim(), "126");
}

/// `docker ps --format {{.Status}}` of one container.
#[track_caller]
fn ps_status(d: &Daemon, name: &str) -> String {
    d.docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
    .ok()
    .trim()
    .to_owned()
}

/// go-units' wording of a short duration.
fn is_short_duration(text: &str) -> bool {
    text == "Less than a second"
        || text == "1 second"
        || text
            .strip_suffix(" seconds")
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| (2..60).contains(&n)))
}

#[test]
fn ps_status_strings_read_like_dockers() {
    let d = ready();
    d.docker(&["create", "--name", "fresh", "busybox", "true"])
        .ok();
    assert_eq!(ps_status(&d, "fresh"), "Created");

    d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "100"])
        .ok();
    let up = ps_status(&d, "up");
    assert!(
        up.strip_prefix("Up ").is_some_and(is_short_duration),
        "{up:?}"
    );
    d.docker(&["pause", "up"]).ok();
    let paused = ps_status(&d, "up");
    assert!(
        paused
            .strip_prefix("Up ")
            .and_then(|s| s.strip_suffix(" (Paused)"))
            .is_some_and(is_short_duration),
        "{paused:?}"
    );
    let state = d.docker(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "up"]);
    assert_eq!(state.ok().trim(), "paused true");
    // The kernel froze it: its init sits in the freezer's FROZEN cgroup.
    let id = d.docker(&["inspect", "-f", "{{.Id}}", "up"]).ok();
    let freezer = cgroup_dirs(&format!("{}/{}", d.cgroup_parent(), id.trim()))
        .into_iter()
        .find(|p| p.starts_with("/sys/fs/cgroup/freezer"));
    if let Some(freezer) = freezer {
        let state = std::fs::read_to_string(freezer.join("freezer.state")).unwrap();
        assert_eq!(state.trim(), "FROZEN");
    }
    d.docker(&["unpause", "up"]).ok();
    assert!(
        ps_status(&d, "up").starts_with("Up "),
        "{}",
        ps_status(&d, "up")
    );
    // Stopping a paused container thaws it so that it can end.
    d.berth(&["pause", "up"]).ok();
    let out = d.docker(&["stop", "-t", "1", "up"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let exited = ps_status(&d, "up");
    assert!(exited.starts_with("Exited (137) "), "{exited:?}");

    let out = d.docker(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), 3, "{out:?}");
    let done = ps_status(&d, "done");
    assert!(
        done.strip_prefix("Exited (3) ")
            .and_then(|s| s.strip_suffix(" ago"))
            .is_some_and(is_short_duration),
        "{done:?}"
    );

    // A start that failed never ran: Docker lists it as Created.
    let out = d.docker(&["run", "--name", "broken", "busybox", "/no/such"]);
    assert_eq!(out.code(), 127, "{out:?}");
    assert_eq!(ps_status(&d, "broken"), "Created");

    // berth ps shows the same column.
    let out = d.berth(&["ps", "-a"]).ok();
    let line = out
        .lines()
        .find(|l| l.ends_with("done"))
        .unwrap_or_default();
    assert!(line.contains("Exited (3) "), "{out}");
}

#[test]
fn a_fresh_daemon_loads_its_plugins_from_a_cache_a_child_compiled() {
    // berthd compiles plugins in a short-lived child process so that its
    // own memory never holds the compiler: even on the first start (empty
    // cache) the daemon itself only loads compiled code.
    let d = Daemon::start();
    let cache = d.data_root().join("plugins/cache");
    let compiled = std::fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{}: {e}", cache.display()))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .count();
    assert!(compiled >= 1, "no compiled plugin in {}", cache.display());
    let events = d.past_events(Some("plugin"));
    let loads: Vec<String> = events
        .iter()
        .filter(|e| e["Action"] == "load")
        .map(|e| {
            e["Actor"]["Attributes"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(!loads.is_empty(), "no plugin load events: {events:?}");
    for load in &loads {
        assert!(
            load.ends_with("(Cached)"),
            "compiled in the daemon: {loads:?}"
        );
    }
    // The compiler process is gone.
    let data_root = d.data_root().display().to_string();
    let out = berth_tests::cmd::run_with_timeout(
        std::process::Command::new("pgrep").args(["-f", "--", "--precompile-plugins"]),
        berth_tests::daemon::CLI_TIMEOUT,
    );
    assert!(!out.stdout.is_empty() || out.code() == 1, "{out:?}");
    for pid in out.stdout.lines() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&data_root),
            "the plugin compiler of this daemon still runs: {pid}"
        );
    }
}
