use super::*;
use berth_api::container::{Config, CreateRequest, HostConfig};
use berth_engine::daemon::spec::ContainerSpecBuilder;
use oci_spec::runtime::{PosixRlimitBuilder, PosixRlimitType};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A rootfs with the users of the test busybox image.
fn fixture_rootfs() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("etc")).expect("etc");
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
         berth:x:1000:1000:berth:/home/berth:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(
        root.path().join("etc/group"),
        "root:x:0:\nwheel:x:10:berth\naudio:x:29:berth\nberth:x:1000:\n",
    )
    .expect("group");
    root
}

fn files() -> ContainerFiles {
    ContainerFiles {
        log: "/var/lib/berth/containers/c/c-json.log".into(),
        hostname: "/var/lib/berth/containers/c/hostname".into(),
        hosts: "/var/lib/berth/containers/c/hosts".into(),
        resolv_conf: "/var/lib/berth/containers/c/resolv.conf".into(),
    }
}

fn config(cmd: &[&str]) -> Config {
    Config {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Config::default()
    }
}

/// The model the engine makes of a create request with `config` and
/// `host` (on a host that offers everything), or its refusal.
fn create(config: &Config, host: &HostConfig) -> Result<ContainerModel, String> {
    let request = CreateRequest {
        config: Config {
            image: "busybox".into(),
            ..config.clone()
        },
        host_config: host.clone(),
        networking_config: None,
    };
    ContainerSpecBuilder::new(request, Default::default(), ID)
        .build()
        .map(|spec| spec.model)
        .map_err(|e| e.message)
}

/// What `create` refuses never reaches the exec driver: its message.
fn refused(config: &Config, host: &HostConfig) -> String {
    create(config, host).expect_err("refused at create")
}

fn build(config: &Config, host: &HostConfig) -> Result<Spec, SpecError> {
    build_with(config, host, &SpecOptions::default())
}

/// [`build`] with daemon-wide options of the test's own.
fn build_with(
    config: &Config,
    host: &HostConfig,
    options: &SpecOptions,
) -> Result<Spec, SpecError> {
    let root = fixture_rootfs();
    let container = create(config, host).unwrap_or_else(|e| panic!("refused at create: {e}"));
    build_spec(ID, &container, root.path(), &files(), options)
}

/// The spec's `linux.resources`.
fn resources_of(spec: &Spec) -> oci_spec::runtime::LinuxResources {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .expect("resources")
}

fn caps_mask(set: &oci_spec::runtime::Capabilities) -> u64 {
    let all = CapabilitySet::all().names();
    set.iter()
        .map(|cap| serde_json::to_value(cap).expect("serialize capability"))
        .map(|name| {
            let bit = all
                .iter()
                .position(|n| name == *n)
                .unwrap_or_else(|| panic!("unknown capability {name}"));
            1u64 << bit
        })
        .fold(0, |acc, bit| acc | bit)
}

#[test]
fn defaults_match_docker() {
    let spec = build(&config(&["sh", "-c", "echo hi"]), &HostConfig::default()).expect("spec");
    let process = spec.process().as_ref().expect("process");
    assert_eq!(
        process.args().as_deref(),
        Some(&["sh".to_owned(), "-c".to_owned(), "echo hi".to_owned()][..])
    );
    assert_eq!(
        process.env().as_deref().expect("env"),
        [
            format!("PATH={DEFAULT_PATH}"),
            "HOSTNAME=0123456789ab".to_owned(),
            "HOME=/root".to_owned(),
        ]
    );
    assert_eq!(process.cwd(), Path::new("/"));
    assert_eq!((process.user().uid(), process.user().gid()), (0, 0));
    assert_eq!(process.no_new_privileges(), Some(false));
    assert_eq!(process.oom_score_adj(), Some(0));
    assert_eq!(process.terminal(), Some(false));
    let caps = process.capabilities().as_ref().expect("caps");
    for set in [caps.bounding(), caps.effective(), caps.permitted()] {
        assert_eq!(caps_mask(set.as_ref().expect("set")), 0xa804_25fb);
    }
    assert!(caps.inheritable().as_ref().is_none_or(|s| s.is_empty()));
    assert!(caps.ambient().as_ref().is_none_or(|s| s.is_empty()));
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));

    let linux = spec.linux().as_ref().expect("linux");
    let mut namespaces: Vec<_> = linux
        .namespaces()
        .as_ref()
        .expect("namespaces")
        .iter()
        .map(|n| format!("{:?}", n.typ()))
        .collect();
    namespaces.sort();
    assert_eq!(
        namespaces,
        ["Cgroup", "Ipc", "Mount", "Network", "Pid", "Uts"]
    );
    let host_cgroupns = HostConfig {
        cgroupns_mode: "host".into(),
        ..HostConfig::default()
    };
    let shared = build(&config(&["true"]), &host_cgroupns).expect("spec");
    let shared = shared.linux().as_ref().expect("linux").namespaces().clone();
    assert_eq!(
        shared.iter().flatten().map(|n| n.typ()).collect::<Vec<_>>(),
        [
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
        ],
        "CgroupnsMode host shares the host's cgroup namespace"
    );
    assert!(
        linux
            .namespaces()
            .iter()
            .flatten()
            .all(|n| n.path().is_none())
    );
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(Path::new(&format!("/berth/{ID}")))
    );
    let masked = linux.masked_paths().as_ref().expect("masked");
    assert!(masked.iter().any(|p| p == "/proc/kcore"));
    assert_eq!(
        linux.readonly_paths().as_deref().expect("readonly"),
        READONLY_PATHS.map(String::from)
    );
    let seccomp = linux.seccomp().as_ref().expect("seccomp");
    assert!(!seccomp.syscalls().as_ref().expect("rules").is_empty());
    let resources = linux.resources().as_ref().expect("resources");
    let devices = resources.devices().as_ref().expect("devices");
    assert!(!devices[0].allow() && devices[0].access().as_deref() == Some("rwm"));
    assert!(resources.pids().is_none(), "no pids limit by default");
    assert!(
        resources
            .memory()
            .as_ref()
            .is_none_or(|m| m.limit().is_none())
    );
    let sysctl = linux.sysctl().as_ref().expect("sysctl");
    assert_eq!(sysctl["net.ipv4.ip_unprivileged_port_start"], "0");

    let root = spec.root().as_ref().expect("root");
    assert_eq!(root.readonly(), Some(false));
    let destinations: Vec<_> = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        destinations,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
    let shm = &spec.mounts().as_ref().expect("mounts")[6];
    assert!(shm.options().iter().flatten().any(|o| o == "size=65536k"));
    let sys = &spec.mounts().as_ref().expect("mounts")[3];
    assert!(sys.options().iter().flatten().any(|o| o == "ro"));
    let hosts = &spec.mounts().as_ref().expect("mounts")[9];
    assert_eq!(hosts.source().as_deref(), Some(files().hosts.as_path()));
    assert_eq!(
        hosts.options().as_deref(),
        Some(&["rbind".to_owned(), "rprivate".to_owned()][..])
    );
}

#[test]
fn the_spec_serialises_to_runtime_spec_json() {
    let spec = build(&config(&["true"]), &HostConfig::default()).expect("spec");
    let json = serde_json::to_value(&spec).expect("json");
    assert_eq!(json["process"]["noNewPrivileges"], false);
    assert_eq!(json["linux"]["cgroupsPath"], format!("/berth/{ID}"));
    assert_eq!(
        json["process"]["capabilities"]["effective"]
            .as_array()
            .map(Vec::len),
        Some(14)
    );
}

#[test]
fn entrypoint_and_cmd_are_joined_and_an_empty_command_is_refused() {
    let cfg = Config {
        entrypoint: Some(vec!["/bin/echo".into()]),
        cmd: Some(vec!["a".into(), "b".into()]),
        ..Config::default()
    };
    let spec = build(&cfg, &HostConfig::default()).expect("spec");
    assert_eq!(
        spec.process().as_ref().and_then(|p| p.args().clone()),
        Some(vec!["/bin/echo".into(), "a".into(), "b".into()])
    );
    assert_eq!(
        refused(&Config::default(), &HostConfig::default()),
        "No command specified"
    );
}

#[test]
fn user_resolves_against_the_rootfs_and_sets_home() {
    let cfg = Config {
        user: "berth".into(),
        ..config(&["id"])
    };
    let spec = build(&cfg, &HostConfig::default()).expect("spec");
    let process = spec.process().as_ref().expect("process");
    let user = process.user();
    assert_eq!((user.uid(), user.gid()), (1000, 1000));
    assert_eq!(user.additional_gids().as_deref(), Some(&[10, 29][..]));
    assert!(
        process
            .env()
            .iter()
            .flatten()
            .any(|e| e == "HOME=/home/berth")
    );

    let cfg = Config {
        user: "nobody:audio".into(),
        ..config(&["id"])
    };
    let spec = build(&cfg, &HostConfig::default()).expect("spec");
    let user = spec.process().as_ref().expect("process").user().clone();
    assert_eq!((user.uid(), user.gid()), (65534, 29));

    let cfg = Config {
        user: "ghost".into(),
        ..config(&["id"])
    };
    let err = build(&cfg, &HostConfig::default()).expect_err("unknown user");
    assert!(
        err.to_string().contains("unable to find user ghost"),
        "{err}"
    );
}

#[test]
fn env_overrides_defaults_in_place_and_can_unset_them() {
    let cfg = Config {
        env: vec![
            "PATH=/custom".into(),
            "FOO=bar".into(),
            "HOSTNAME".into(),
            "HOME=/data".into(),
        ],
        hostname: "web".into(),
        tty: true,
        ..config(&["env"])
    };
    let spec = build(&cfg, &HostConfig::default()).expect("spec");
    assert_eq!(
        spec.process()
            .as_ref()
            .and_then(|p| p.env().clone())
            .expect("env"),
        ["PATH=/custom", "TERM=xterm", "FOO=bar", "HOME=/data"]
    );
    assert_eq!(spec.hostname().as_deref(), Some("web"));
}

#[test]
fn tty_sets_terminal_and_console_size() {
    let cfg = Config {
        tty: true,
        ..config(&["sh"])
    };
    let host = HostConfig {
        console_size: Some([40, 120]),
        ..HostConfig::default()
    };
    let spec = build(&cfg, &host).expect("spec");
    let process = spec.process().as_ref().expect("process");
    assert_eq!(process.terminal(), Some(true));
    let size = process.console_size().expect("size");
    assert_eq!((size.height(), size.width()), (40, 120));
}

#[test]
fn memory_swap_cpu_and_pids_map_like_docker() {
    let host = HostConfig {
        memory: 64 << 20,
        cpu_shares: 512,
        nano_cpus: 1_500_000_000,
        pids_limit: Some(100),
        ..HostConfig::default()
    };
    let resources = resources_of(&build(&config(&["true"]), &host).expect("spec"));
    let memory = resources.memory().expect("memory");
    assert_eq!(memory.limit(), Some(64 << 20));
    assert_eq!(
        memory.swap(),
        Some(128 << 20),
        "unset swap means twice the limit"
    );
    let cpu = resources.cpu().clone().expect("cpu");
    assert_eq!(cpu.shares(), Some(512));
    assert_eq!((cpu.quota(), cpu.period()), (Some(150_000), Some(100_000)));
    assert_eq!(resources.pids().map(|p| p.limit()), Some(100));

    let host = HostConfig {
        memory: 64 << 20,
        memory_swap: -1,
        cpu_period: 50_000,
        cpu_quota: 25_000,
        pids_limit: Some(-1),
        ..HostConfig::default()
    };
    let resources = resources_of(&build(&config(&["true"]), &host).expect("spec"));
    assert_eq!(resources.memory().and_then(|m| m.swap()), Some(-1));
    let cpu = resources.cpu().clone().expect("cpu");
    assert_eq!((cpu.quota(), cpu.period()), (Some(25_000), Some(50_000)));
    assert!(resources.pids().is_none());
}

#[test]
fn swap_is_left_alone_without_swap_accounting() {
    let host = HostConfig {
        memory: 64 << 20,
        memory_swap: 256 << 20,
        ..HostConfig::default()
    };
    let options = SpecOptions {
        swap_limit: false,
        ..SpecOptions::default()
    };
    let spec = build_with(&config(&["true"]), &host, &options).expect("spec");
    let memory = resources_of(&spec).memory().expect("memory");
    assert_eq!((memory.limit(), memory.swap()), (Some(64 << 20), None));
}

#[test]
fn conflicting_or_invalid_resources_are_refused() {
    for host in [
        HostConfig {
            nano_cpus: 1_000_000_000,
            cpu_quota: 1000,
            ..HostConfig::default()
        },
        HostConfig {
            memory: 64 << 20,
            memory_swap: 32 << 20,
            ..HostConfig::default()
        },
        HostConfig {
            memory: -5,
            ..HostConfig::default()
        },
    ] {
        refused(&config(&["true"]), &host);
    }
}

#[test]
fn readonly_rootfs_makes_root_and_network_files_read_only() {
    let host = HostConfig {
        readonly_rootfs: true,
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    assert_eq!(spec.root().as_ref().and_then(|r| r.readonly()), Some(true));
    let hostname = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| m.destination() == Path::new("/etc/hostname"))
        .expect("hostname mount");
    assert!(hostname.options().iter().flatten().any(|o| o == "ro"));
}

#[test]
fn privileged_gets_all_caps_and_no_confinement() {
    let host = HostConfig {
        privileged: true,
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().clone())
        .expect("caps");
    assert_eq!(caps.effective().as_ref().map(|c| c.len()), Some(41));
    let linux = spec.linux().as_ref().expect("linux");
    assert!(linux.seccomp().is_none());
    assert!(linux.masked_paths().as_ref().is_none_or(Vec::is_empty));
    assert!(linux.readonly_paths().as_ref().is_none_or(Vec::is_empty));
    let devices = linux.devices().clone().unwrap_or_default();
    assert!(
        devices
            .iter()
            .any(|d| d.path() == Path::new("/dev/null") && d.major() == 1 && d.minor() == 3),
        "the host's devices: {devices:?}"
    );

    let spec = build(&config(&["true"]), &HostConfig::default()).expect("spec");
    let linux = spec.linux().as_ref().expect("linux");
    assert!(
        linux.devices().as_ref().is_none_or(Vec::is_empty),
        "an unprivileged container gets the runtime's default nodes only"
    );
}

#[test]
fn cap_add_and_drop_reach_the_spec() {
    let host = HostConfig {
        cap_add: vec!["NET_ADMIN".into()],
        cap_drop: vec!["MKNOD".into()],
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let effective = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().clone())
        .and_then(|c| c.effective().clone())
        .expect("effective");
    let mask = caps_mask(&effective);
    assert_eq!(mask, (0xa804_25fb | 1 << 12) & !(1 << 27));
    let host = HostConfig {
        cap_add: vec!["FLY".into()],
        ..HostConfig::default()
    };
    assert_eq!(
        refused(&config(&["true"]), &host),
        r#"invalid CapAdd: unknown capability: "CAP_FLY""#
    );
    // One the daemon lacks is refused by name (at create through
    // `ExecDriver::validate`, and again here at start).
    let host = HostConfig {
        cap_add: vec!["SYS_RESOURCE".into()],
        ..HostConfig::default()
    };
    let without_sys_resource = SpecOptions {
        available_caps: CapabilitySet::from_mask(0x1ff_feff_ffff),
        ..SpecOptions::default()
    };
    let err = build_with(&config(&["true"]), &host, &without_sys_resource)
        .expect_err("not in the bounding set");
    assert_eq!(
        err.to_string(),
        "capability CAP_SYS_RESOURCE is not available: it is not in berthd's bounding set"
    );
}

#[test]
fn binds_are_parsed_validated_and_sorted() {
    let host_dir = tempfile::tempdir().expect("tempdir");
    let src = host_dir.path().to_string_lossy().into_owned();
    let host = HostConfig {
        binds: vec![format!("{src}:/data/sub:ro,rslave"), format!("{src}:/data")],
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let mounts = spec.mounts().clone().expect("mounts");
    let n = mounts.len();
    assert_eq!(mounts[n - 2].destination(), Path::new("/data"));
    assert_eq!(
        mounts[n - 2].options().as_deref(),
        Some(&["rbind".to_owned(), "rprivate".to_owned()][..])
    );
    assert_eq!(mounts[n - 1].destination(), Path::new("/data/sub"));
    assert_eq!(
        mounts[n - 1].options().as_deref(),
        Some(&["rbind".to_owned(), "rslave".to_owned(), "ro".to_owned()][..])
    );

    // The entry syntax is berth_api's `Bind::parse` (tested there); a
    // refused entry fails the create naming it.
    let bad = format!("{src}:/x/../y");
    let host = HostConfig {
        binds: vec![bad.clone()],
        ..HostConfig::default()
    };
    let err = refused(&config(&["true"]), &host);
    assert_eq!(err, format!("invalid volume specification: '{bad}'"));
}

#[test]
fn cgroup_parent_is_configurable() {
    let root = fixture_rootfs();
    let options = SpecOptions {
        cgroup_parent: "/tests/run-1/".into(),
        ..SpecOptions::default()
    };
    let container = create(&config(&["true"]), &HostConfig::default()).expect("model");
    let spec = build_spec("c1", &container, root.path(), &files(), &options).expect("spec");
    assert_eq!(
        spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()),
        Some(PathBuf::from("/tests/run-1/c1"))
    );
    // The host name is the model's: the id's first 12 digits by default.
    assert_eq!(spec.hostname().as_deref(), Some(&ID[..12]));
}

#[test]
fn missing_bind_sources_are_created_like_docker_v() {
    let host_dir = tempfile::tempdir().expect("tempdir");
    let missing = host_dir.path().join("a/b");
    let host = HostConfig {
        binds: vec![format!("{}:/data", missing.display())],
        ..HostConfig::default()
    };
    // Parsing and spec building do not touch the host.
    assert!(build(&config(&["true"]), &host).is_ok());
    assert!(!missing.exists());
    create_bind_sources(&create(&config(&["true"]), &host).expect("model")).expect("create");
    assert!(missing.is_dir());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&missing)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // An existing file is left alone (a file bind).
    let file = host_dir.path().join("f");
    std::fs::write(&file, "x").expect("write");
    let host = HostConfig {
        binds: vec![format!("{}:/f", file.display())],
        ..HostConfig::default()
    };
    create_bind_sources(&create(&config(&["true"]), &host).expect("model")).expect("file");
    assert!(file.is_file());
}

#[test]
fn shm_size_oom_score_and_ulimits_reach_the_spec() {
    let host = HostConfig {
        shm_size: 128 * 1024 * 1024,
        oom_score_adj: 500,
        ulimits: vec![
            berth_api::container::Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048,
            },
            berth_api::container::Ulimit {
                name: "core".into(),
                soft: -1,
                hard: -1,
            },
        ],
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let json = serde_json::to_value(&spec).expect("json");
    let shm = json["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["destination"] == "/dev/shm")
        .expect("/dev/shm");
    assert!(
        shm["options"]
            .as_array()
            .expect("options")
            .contains(&serde_json::json!("size=131072k")),
        "{shm}"
    );
    assert_eq!(json["process"]["oomScoreAdj"], 500);
    assert_eq!(
        json["process"]["rlimits"],
        serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
            {"type": "RLIMIT_CORE", "soft": u64::MAX, "hard": u64::MAX},
        ])
    );
    let bad = HostConfig {
        ulimits: vec![berth_api::container::Ulimit {
            name: "bogus".into(),
            soft: 1,
            hard: 1,
        }],
        ..HostConfig::default()
    };
    assert_eq!(
        refused(&config(&["true"]), &bad),
        "invalid ulimit type: bogus"
    );
}

#[test]
fn container_ulimits_replace_daemon_defaults_of_the_same_type() {
    let default = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(10u64)
        .hard(20u64)
        .build()
        .expect("rlimit");
    let options = SpecOptions {
        default_rlimits: vec![default],
        ..SpecOptions::default()
    };
    let host = HostConfig {
        ulimits: vec![berth_api::container::Ulimit {
            name: "nofile".into(),
            soft: 30,
            hard: 40,
        }],
        ..HostConfig::default()
    };
    let spec = build_with(&config(&["true"]), &host, &options).expect("spec");
    let rlimits = spec.process().as_ref().and_then(|p| p.rlimits().clone());
    let rlimits = rlimits.expect("rlimits");
    assert_eq!(rlimits.len(), 1);
    assert_eq!((rlimits[0].soft(), rlimits[0].hard()), (30, 40));
}

#[test]
fn cpusets_reach_the_cpu_resources() {
    let host = HostConfig {
        cpuset_cpus: "1".into(),
        cpuset_mems: "0".into(),
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let json = serde_json::to_value(&spec).expect("json");
    assert_eq!(json["linux"]["resources"]["cpu"]["cpus"], "1");
    assert_eq!(json["linux"]["resources"]["cpu"]["mems"], "0");
    let spec = build(&config(&["true"]), &HostConfig::default()).expect("spec");
    let json = serde_json::to_value(&spec).expect("json");
    assert!(json["linux"]["resources"]["cpu"].get("cpus").is_none());
}

#[test]
fn tmpfs_mounts_merge_dockers_defaults() {
    assert_eq!(
        merge_tmpfs_options(""),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    assert_eq!(
        merge_tmpfs_options("exec,size=1m,size=2m,mode=1777"),
        [
            "nosuid",
            "nodev",
            "rprivate",
            "exec",
            "size=2m",
            "mode=1777"
        ]
    );
    assert_eq!(
        merge_tmpfs_options("ro,private"),
        ["noexec", "nosuid", "nodev", "ro", "private"]
    );
    let host = HostConfig {
        tmpfs: [
            ("/run/sub".to_owned(), "size=1m".to_owned()),
            ("/run".to_owned(), "size=64m".to_owned()),
        ]
        .into_iter()
        .collect(),
        binds: vec!["/tmp:/run/sub/deeper".to_owned()],
        ..HostConfig::default()
    };
    let spec = build(&config(&["true"]), &host).expect("spec");
    let mounts = spec.mounts().clone().expect("mounts");
    let n = mounts.len();
    let tail: Vec<(&Path, Option<&str>)> = mounts[n - 3..]
        .iter()
        .map(|m| (m.destination().as_path(), m.typ().as_deref()))
        .collect();
    assert_eq!(
        tail,
        [
            (Path::new("/run"), Some("tmpfs")),
            (Path::new("/run/sub"), Some("tmpfs")),
            (Path::new("/run/sub/deeper"), Some("bind")),
        ]
    );
    assert_eq!(
        mounts[n - 3].options().as_deref(),
        Some(
            &[
                "noexec".to_owned(),
                "nosuid".to_owned(),
                "nodev".to_owned(),
                "rprivate".to_owned(),
                "size=64m".to_owned()
            ][..]
        )
    );
}

mod exec;
mod host_options;
mod limits;
mod network;
mod security;
