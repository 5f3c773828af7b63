//! berth's wire types against an independent reading of the Docker Engine
//! API: bollard's generated models. What berthd writes must parse as what
//! the Docker SDKs expect, and what they send must parse as berth's types.

use std::collections::BTreeMap;

use berth_api::container::{
    Config, ContainerInspect, ContainerSummary, CreateRequest, HostConfig, State, Status,
    WaitResponse,
};
use berth_api::event::{Actor, EventMessage};
use berth_api::image::{ImageInspect, ImageSummary, RootFs};
use berth_api::system::{InfoResponse, VersionResponse};
use bollard::models;

fn through<T: serde::Serialize, U: serde::de::DeserializeOwned>(value: &T) -> U {
    let json = serde_json::to_string(value).expect("serialize");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn container_inspect_parses_as_bollard_reads_it() {
    let ours = ContainerInspect {
        id: "ab".repeat(32),
        name: "/web".into(),
        path: "sh".into(),
        args: vec!["-c".into(), "exit 3".into()],
        state: State {
            status: Status::Exited,
            exit_code: 3,
            oom_killed: true,
            started_at: "2024-01-01T00:00:00.5Z".into(),
            finished_at: "2024-01-01T00:00:01Z".into(),
            ..State::default()
        },
        config: Config {
            hostname: "box".into(),
            tty: true,
            cmd: Some(vec!["sh".into()]),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            ..Config::default()
        },
        host_config: HostConfig {
            memory: 64 << 20,
            pids_limit: Some(50),
            auto_remove: true,
            ..HostConfig::default()
        },
        ..ContainerInspect::default()
    };
    let theirs: models::ContainerInspectResponse = through(&ours);
    let state = theirs.state.unwrap();
    assert_eq!(state.status, Some(models::ContainerStateStatusEnum::EXITED));
    assert_eq!((state.exit_code, state.oom_killed), (Some(3), Some(true)));
    assert_eq!(theirs.name.as_deref(), Some("/web"));
    let config = theirs.config.unwrap();
    assert_eq!(
        (config.hostname.as_deref(), config.tty),
        (Some("box"), Some(true))
    );
    let host = theirs.host_config.unwrap();
    assert_eq!(
        (host.memory, host.pids_limit, host.auto_remove),
        (Some(64 << 20), Some(50), Some(true))
    );
}

#[test]
fn lists_and_images_parse_as_bollard_reads_them() {
    let summary = ContainerSummary {
        id: "cd".repeat(32),
        names: vec!["/x".into()],
        state: "running".into(),
        status: "Up 3 seconds".into(),
        created: 1_700_000_000,
        ..ContainerSummary::default()
    };
    let theirs: models::ContainerSummary = through(&summary);
    assert_eq!(theirs.names, Some(vec!["/x".to_owned()]));
    assert_eq!(theirs.status.as_deref(), Some("Up 3 seconds"));

    let image = ImageSummary {
        id: "sha256:ee".into(),
        repo_tags: vec!["busybox:latest".into()],
        created: 1_700_000_000,
        size: 2_000_000,
        shared_size: -1,
        containers: -1,
        ..ImageSummary::default()
    };
    let theirs: models::ImageSummary = through(&image);
    assert_eq!((theirs.id.as_str(), theirs.size), ("sha256:ee", 2_000_000));
    assert_eq!(theirs.repo_tags, ["busybox:latest"]);

    let inspect = ImageInspect {
        id: "sha256:ee".into(),
        created: "2024-01-01T00:00:00Z".into(),
        os: "linux".into(),
        root_fs: RootFs {
            kind: "layers".into(),
            layers: vec!["sha256:ff".into()],
        },
        ..ImageInspect::default()
    };
    let theirs: models::ImageInspect = through(&inspect);
    assert_eq!(
        theirs.root_fs.unwrap().layers,
        Some(vec!["sha256:ff".to_owned()])
    );
}

#[test]
fn system_wait_and_event_bodies_parse_as_bollard_reads_them() {
    let version = VersionResponse {
        api_version: "1.43".into(),
        min_api_version: "1.24".into(),
        os: "linux".into(),
        ..VersionResponse::default()
    };
    let theirs: models::SystemVersion = through(&version);
    assert_eq!(theirs.api_version.as_deref(), Some("1.43"));
    assert_eq!(theirs.min_api_version.as_deref(), Some("1.24"));

    let info = InfoResponse {
        os_type: "linux".into(),
        ncpu: 2,
        containers_running: 1,
        ..InfoResponse::default()
    };
    let theirs: models::SystemInfo = through(&info);
    assert_eq!(
        (
            theirs.os_type.as_deref(),
            theirs.ncpu,
            theirs.containers_running
        ),
        (Some("linux"), Some(2), Some(1))
    );

    let theirs: models::ContainerWaitResponse = through(&WaitResponse {
        status_code: 137,
        error: None,
    });
    assert_eq!(theirs.status_code, 137);

    let event = EventMessage {
        kind: "container".into(),
        action: "die".into(),
        actor: Actor {
            id: "ab".into(),
            attributes: BTreeMap::from([("exitCode".into(), "3".into())]),
        },
        scope: "local".into(),
        time: 1,
        time_nano: 1_000_000_000,
        ..EventMessage::default()
    };
    let theirs: models::EventMessage = through(&event);
    assert_eq!(theirs.typ, Some(models::EventMessageTypeEnum::CONTAINER));
    assert_eq!(theirs.action.as_deref(), Some("die"));
    assert_eq!(theirs.actor.unwrap().attributes.unwrap()["exitCode"], "3");
}

#[test]
fn create_bodies_from_the_sdk_parse_as_berths_request() {
    let body = models::ContainerCreateBody {
        image: Some("busybox".into()),
        cmd: Some(vec!["echo".into(), "hi".into()]),
        env: Some(vec!["A=b".into()]),
        tty: Some(false),
        open_stdin: Some(true),
        host_config: Some(models::HostConfig {
            memory: Some(6 << 20),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(10),
            auto_remove: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ours: CreateRequest = through(&body);
    ours.check_fields()
        .expect("bollard's body sets nothing berth refuses");
    assert_eq!(ours.config.image, "busybox");
    assert_eq!(
        ours.config.cmd,
        Some(vec!["echo".to_owned(), "hi".to_owned()])
    );
    assert!(ours.config.open_stdin);
    assert_eq!(ours.host_config.memory, 6 << 20);
    assert_eq!(ours.host_config.nano_cpus, 500_000_000);
    assert_eq!(ours.host_config.pids_limit, Some(10));
    assert!(ours.host_config.auto_remove);
}

/// Issue 8, finding 7: no create that passes the daemon's validation may
/// fail at start for a resource reason. Every combination of boundary
/// values below goes through the create validation (`ContainerSpecBuilder`,
/// on a host that offers every controller) and, when accepted, through the
/// runtime spec the exec driver builds at start; the spec's values must be
/// within what the kernel accepts (cgroup-v1 and cgroup-v2 docs, and the
/// limits of `kernel/sched/core.c` and `kernel/cgroup/pids.c`).
#[test]
fn resource_values_accepted_at_create_are_values_the_kernel_accepts() {
    use berth_engine::daemon::spec::ContainerSpecBuilder;
    use berth_engine::daemon::sysinfo::SysInfo;

    const EDGES: [i64; 24] = [
        i64::MIN,
        i64::MIN + 1,
        -2,
        -1,
        0,
        1,
        2,
        9,
        10,
        999,
        1000,
        1001,
        262_144,
        262_145,
        1_000_000,
        1_000_001,
        4_194_304,
        4_194_305,
        6 * 1024 * 1024,
        (1 << 44) - 1,
        1 << 44,
        u32::MAX as i64,
        i64::MAX - 1,
        i64::MAX,
    ];
    let rootfs = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(rootfs.path().join("etc")).expect("etc");
    std::fs::write(
        rootfs.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .expect("passwd");
    let image = ImageInspect {
        id: "sha256:feed".into(),
        config: Config {
            cmd: Some(vec!["true".into()]),
            ..Config::default()
        },
        ..ImageInspect::default()
    };
    let files = berth_exec::ContainerFiles {
        log: "/c/c-json.log".into(),
        hostname: "/c/hostname".into(),
        hosts: "/c/hosts".into(),
        resolv_conf: "/c/resolv.conf".into(),
    };
    let sys = SysInfo {
        cgroups: berth_engine::daemon::sysinfo::CgroupFeatures {
            cpus: "0-1".into(),
            ..SysInfo::default().cgroups
        },
        ncpu: 2,
        ..SysInfo::default()
    };
    let mut accepted = 0;
    let mut check = |host: serde_json::Value| {
        let request: CreateRequest =
            serde_json::from_value(serde_json::json!({"Image": "b", "HostConfig": host}))
                .expect("a request");
        let Ok(spec) = ContainerSpecBuilder::new(request, image.clone(), &"ab".repeat(32))
            .sysinfo(&sys)
            .build()
        else {
            return;
        };
        accepted += 1;
        let oci = berth_exec::spec::build_spec(
            &"ab".repeat(32),
            &spec.model,
            rootfs.path(),
            &files,
            &berth_exec::spec::SpecOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{host}: accepted at create, but no spec: {e}"));
        if let Err(why) = kernel_accepts(&oci) {
            panic!("{host}: accepted at create, refused at start: {why}");
        }
    };
    for a in EDGES {
        for field in [
            "CpuShares",
            "PidsLimit",
            "ShmSize",
            "MemoryReservation",
            "OomScoreAdj",
        ] {
            check(serde_json::json!({ field: a }));
        }
        for b in EDGES {
            check(serde_json::json!({"Memory": a, "MemorySwap": b}));
            check(serde_json::json!({"Memory": a, "MemoryReservation": b}));
            check(serde_json::json!({"CpuPeriod": a, "CpuQuota": b}));
            check(serde_json::json!({"NanoCpus": a, "CpuQuota": b}));
        }
        if let Ok(weight) = u16::try_from(a) {
            check(serde_json::json!({ "BlkioWeight": weight }));
        }
    }
    // The grid must exercise acceptance, not only refusals.
    assert!(accepted > 200, "only {accepted} combinations were accepted");
}

/// What the kernel refuses when the runtime writes the container's cgroup
/// files and mounts its `/dev/shm`, as an error naming the value.
fn kernel_accepts(spec: &oci_spec::runtime::Spec) -> Result<(), String> {
    let linux = spec.linux().as_ref().ok_or("no linux section")?;
    let resources = linux.resources().as_ref().ok_or("no resources")?;
    if let Some(memory) = resources.memory() {
        let limit = memory.limit().unwrap_or(-1);
        if limit < -1 {
            return Err(format!("memory limit {limit}"));
        }
        if let Some(swap) = memory.swap()
            && swap != -1
            && (swap < 0 || (limit >= 0 && swap < limit))
        {
            return Err(format!("memsw limit {swap} below the memory limit {limit}"));
        }
        if memory.reservation().is_some_and(|r| r < 0) {
            return Err("negative soft limit".into());
        }
    }
    if let Some(cpu) = resources.cpu() {
        if let Some(shares) = cpu.shares()
            && !(2..=262_144).contains(&shares)
        {
            return Err(format!(
                "cpu.shares {shares} (the kernel clamps to 2..=262144)"
            ));
        }
        if let Some(period) = cpu.period()
            && !(1000..=1_000_000).contains(&period)
        {
            return Err(format!("cpu.cfs_period_us {period}"));
        }
        if let Some(quota) = cpu.quota()
            && quota > 0
            && !(1000..=(1 << 44) - 1).contains(&quota)
        {
            return Err(format!("cpu.cfs_quota_us {quota}"));
        }
    }
    if let Some(pids) = resources.pids()
        && pids.limit() > 4_194_304
    {
        return Err(format!("pids.max {}", pids.limit()));
    }
    if let Some(weight) = resources.block_io().as_ref().and_then(|b| b.weight())
        && !(10..=1000).contains(&weight)
    {
        return Err(format!("blkio.weight {weight}"));
    }
    let score = spec
        .process()
        .as_ref()
        .and_then(|p| p.oom_score_adj())
        .unwrap_or(0);
    if !(-1000..=1000).contains(&score) {
        return Err(format!("oom_score_adj {score}"));
    }
    // tmpfs `size=<n>k`: memparse shifts by 10 in a u64.
    for mount in spec.mounts().iter().flatten() {
        for option in mount.options().iter().flatten() {
            if let Some(kib) = option
                .strip_prefix("size=")
                .and_then(|s| s.strip_suffix('k'))
            {
                let kib: u64 = kib
                    .parse()
                    .map_err(|_| format!("{option} on {}", mount.destination().display()))?;
                if kib.checked_mul(1024).is_none() {
                    return Err(format!("{option} overflows"));
                }
            }
        }
    }
    Ok(())
}

/// `GET /plugins/{name}/json` (`docker plugin inspect`): Docker's `Plugin`
/// shape as bollard reads it, by name or `NAME:VERSION`, and moby's 404 for
/// a name no plugin has; then the real docker CLI against the same daemon.
#[test]
fn plugin_inspect_answers_in_dockers_shape_for_the_api_and_the_docker_cli() {
    let d = berth_tests::daemon::Daemon::start();
    let response = d.http("GET", "/v1.43/plugins/graph-layout/json", b"");
    assert_eq!(response.status, 200, "{}", response.text());
    let plugin: models::Plugin = serde_json::from_str(&response.text())
        .unwrap_or_else(|e| panic!("{e}: {}", response.text()));
    assert_eq!(plugin.name, "graph-layout:1.0.0");
    assert!(plugin.enabled);
    assert_eq!(plugin.id.as_deref().map(str::len), Some(64));
    assert_eq!(plugin.config.interface.types, ["berth.graph-policy/1.0.0"]);
    let by_reference = d.http("GET", "/plugins/graph-layout:1.0.0/json", b"");
    assert_eq!(by_reference.json(), response.json());

    let missing = d.http("GET", "/plugins/nope/json", b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "plugin \"nope\" not found");

    let docker = d.docker(&["plugin", "inspect", "graph-layout"]);
    assert_eq!(docker.code(), 0, "{docker:?}");
    let inspected: serde_json::Value = serde_json::from_str(&docker.stdout).expect("JSON");
    assert_eq!(inspected[0]["Name"], "graph-layout:1.0.0", "{inspected}");
    let docker = d.docker(&["plugin", "inspect", "nope"]);
    assert_ne!(docker.code(), 0, "{docker:?}");
    assert!(
        docker.stderr.contains("plugin \"nope\" not found"),
        "{docker:?}"
    );
}
